"""The data keys of the site's sealed files, each wrapped by the site key.

Every sealed file (an original, a derivative of a closed record) has its own 32-byte data key
(:mod:`preservation.crypt`). The key is stored here wrapped — AES-256-GCM under a key derived
from the master key (``subkey(master, "files/kek")``), bound to the file's name — and never
beside the file: so ``lantai keys rotate`` re-wraps these rows under a new master key without
touching a byte of content (the OCFL inventories' digests stay valid), and a copy of the disk
without the master key opens nothing.

``{home}/preservation/keyring.sqlite3``: one row per sealed file, named by the SHA-256 of its
plaintext (``sha256:<hex>``: the name the descriptions use) or, for derivatives, by the name
their store gives (``derivative:<hex>/pyramid.tif``). ``kek`` is the id of the master key that
wraps the row (:func:`preservation.keys.key_id`), so a rotation cut short by a crash knows
which rows are done and is simply run again.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from preservation import keys
from preservation.crypt import new_data_key

FOLDER = "preservation"
FILE = "keyring.sqlite3"
KEK_LABEL = "files/kek"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    name    TEXT PRIMARY KEY,
    wrapped BLOB NOT NULL,
    kek     TEXT NOT NULL
) WITHOUT ROWID;
"""


class Keyring:
    """The wrapped data keys of one site (thread-safe; one connection per keyring)."""

    def __init__(self, path: Path, master: bytes) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a key lost is a file lost
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._master = master
        self._kek = keys.subkey(master, KEK_LABEL)
        self.kek_id = keys.key_id(master)

    @classmethod
    def open(cls, home: Path, master: bytes | None = None) -> Keyring:
        """The keyring of the site at ``home``, with the site's master key (looked up as
        :func:`preservation.keys.master_key` does, and checked against the site's key id)."""
        master = master if master is not None else keys.site_master_key(Path(home))
        return cls(Path(home) / FOLDER / FILE, master)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def data_key(self, name: str, *, create: bool = False) -> bytes:
        """The data key of the sealed file ``name``; a new one with ``create`` when there is
        none (committed before it is returned: a file is never sealed under a key not kept)."""
        with self._lock:
            row = self._db.execute("SELECT wrapped, kek FROM data_keys WHERE name = ?",
                                   (name,)).fetchone()
            if row is not None:
                return self._unwrap(name, row[0], row[1])
            if not create:
                raise keys.MasterKeyError(f"no data key for {name} in the keyring")
            key = new_data_key()
            self._db.execute("INSERT INTO data_keys VALUES (?, ?, ?)",
                             (name, keys.seal(self._kek, key, name), self.kek_id))
            return key

    def has(self, name: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM data_keys WHERE name = ?",
                                    (name,)).fetchone() is not None

    def names(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM data_keys ORDER BY name")]

    def wrapped_by(self) -> Counter[str]:
        """How many rows each master key (by id) wraps: one id, except mid-rotation."""
        with self._lock:
            return Counter(dict(self._db.execute(
                "SELECT kek, count(*) FROM data_keys GROUP BY kek").fetchall()))

    def rewrap(self, new_master: bytes, batch: int = 256) -> Iterator[int]:
        """Re-wrap every data key under ``new_master`` (this keyring's master is the old
        key); no content is touched. Rows already under the new key are left alone and each
        batch is one transaction, so a rotation cut short anywhere is finished by running it
        again. Yields how many rows each batch changed."""
        new_kek = keys.subkey(new_master, KEK_LABEL)
        new_id = keys.key_id(new_master)
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT name, wrapped, kek FROM data_keys WHERE kek != ? ORDER BY name "
                    "LIMIT ?", (new_id, batch)).fetchall()
                if not rows:
                    return
                updates = [(keys.seal(new_kek, self._unwrap(name, wrapped, kek), name), new_id,
                            name) for name, wrapped, kek in rows]
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "UPDATE data_keys SET wrapped = ?, kek = ? WHERE name = ?", updates)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            yield len(rows)

    def _unwrap(self, name: str, wrapped: bytes, kek_id: str) -> bytes:
        if kek_id != self.kek_id:
            raise keys.MasterKeyError(
                f"the data key of {name} is wrapped by key {kek_id}, not by the key given "
                f"({self.kek_id}): finish `lantai keys rotate` with both keys")
        return keys.unseal(self._kek, wrapped, name)


__all__ = ["Keyring"]
