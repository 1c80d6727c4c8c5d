"""``lantai keys rotate``: move every secret of the site from one master key to another.

Why a rotation and not a re-encryption: each sealed file has its own data key, kept wrapped by
the master key in the keyring (:mod:`preservation.keyring`); rotating re-wraps those keys
(a few hundred bytes a file) and leaves every byte of content, and so every OCFL digest and
every backup's deduplication, as it was. The small secrets sealed directly under sub-keys of
the master key are opened and sealed again:

- the keyring's data keys (``files/kek``): re-wrapped, rows carry the id of the key that wraps
  them;
- the request store (``requests/personal``, ``requests/lookup``): each request's sealed
  personal part and its keyed lookup hashes (e-mail, identity number) in one transaction per
  request; the sealed identity images and certified copies (``requests/files/``) one file at a
  time (temporary file, fsync, rename). Download links and e-mail codes are kept only as
  hashes keyed by the old key and cannot be re-keyed without the tokens: they are dropped (the
  count is reported; staff send a new link, a requester asks a new code);
- the signing keys (``signing/*.sealed``, ``signing/seal``).

The form and API tokens (``requests/forms``, ``requests/api``) are short-lived signatures: those
issued before the rotation no longer verify, and nothing is stored to re-key.

Crash safety: before anything changes, a journal (``{home}/preservation/rotation.json``) names
both key ids, and while it is there the site opens with either key
(:func:`preservation.keys.site_master_key`). Every step is idempotent — a value that already
opens with the new key is left alone, one that opens with neither is an error — so running the
same command again after a kill finishes the work; the site's key id is switched to the new one
and the journal removed only when every value is under the new key.

Run it with the server stopped: a request made during the rotation by a server still holding
the old key would be sealed under it. The rotation's last pass re-checks the keyring, ``lantai
keys check`` reports data keys still under another key, and the same command run again (the
site already keyed to the new key) re-keys whatever is still under the old one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from preservation import keys
from preservation.keyring import FILE as KEYRING_FILE
from preservation.keyring import FOLDER as KEYRING_FOLDER
from preservation.keyring import Keyring
from repo.durable import fsync_dir, write_atomically

Progress = Callable[[str, int, int | None], None]  # (step, done, total)

# what the request store seals, and under which label and context (services/requests/store.py)
_PERSONAL = "requests/personal"
_LOOKUP = "requests/lookup"
_SIGNING = "signing/seal"  # services/requests/signing.py
_REQUEST_FILES = {".idimage": "idimage", ".pdf": "copy"}


class RotationError(keys.MasterKeyError):
    """A rotation that cannot start or go on (wrong key, another rotation under way)."""


@dataclass
class RotationReport:
    old_id: str
    new_id: str
    data_keys: int = 0  # keyring rows re-wrapped by this run
    requests: int = 0  # sealed personal parts re-sealed
    files: int = 0  # sealed request files re-sealed
    signing: int = 0  # sealed signing files re-sealed
    dropped_links: int = 0
    dropped_codes: int = 0
    resumed: bool = False
    already: bool = False  # the site was keyed to the new key already: nothing to do
    steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _journal(home: Path) -> Path:
    return Path(home) / keys.ROTATION_JOURNAL


def begin(home: Path, old: bytes, new: bytes) -> RotationReport:
    """Check both keys against the site and write the journal (durably) unless it is there."""
    old_id, new_id = keys.key_id(old), keys.key_id(new)
    report = RotationReport(old_id, new_id)
    if old_id == new_id:
        raise RotationError(f"the new key is the old key (id {old_id}): make a new one with "
                            "`lantai keys new -o FILE`")
    under_way = keys.rotation_ids(home)
    recorded = keys.recorded_key_id(home)
    if under_way is not None:
        if under_way != (old_id, new_id):
            raise RotationError(
                f"a rotation from key {under_way[0]} to key {under_way[1]} is under way: "
                f"finish it with those keys (given: old {old_id}, new {new_id})")
        report.resumed = True
        return report
    if recorded == new_id:  # done before; a pass again re-keys what a server still
        report.already = True  # holding the old key sealed meanwhile (else nothing changes)
        return report
    if recorded is not None and recorded != old_id:
        raise RotationError(f"the old key given (id {old_id}) is not this site's key "
                            f"(id {recorded})")
    if recorded is None:
        keys.record_key_id(home, old_id)
    journal = _journal(home)
    journal.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(journal, json.dumps({"old": old_id, "new": new_id}).encode("ascii"))
    return report


def _open_either(key_new: bytes, key_old: bytes, sealed: bytes,
                 context: str) -> tuple[bytes, bool]:
    """(plaintext, already under the new key)."""
    try:
        return keys.unseal(key_new, sealed, context), True
    except keys.MasterKeyError:
        pass
    try:
        return keys.unseal(key_old, sealed, context), False
    except keys.MasterKeyError:
        raise RotationError(f"a sealed value ({context}) opens with neither key "
                            "(damaged, or sealed under a third key)") from None


# ---------------------------------------------------------------------- the steps
def rewrap_keyring(home: Path, old: bytes, new: bytes) -> Iterator[int]:
    path = Path(home) / KEYRING_FOLDER / KEYRING_FILE
    if not path.exists():
        return
    ring = Keyring(path, old)
    try:
        yield from ring.rewrap(new)
    finally:
        ring.close()


def keyring_pending(home: Path, new: bytes) -> int:
    path = Path(home) / KEYRING_FOLDER / KEYRING_FILE
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=30) as db:
        return int(db.execute("SELECT count(*) FROM data_keys WHERE kek != ?",
                              (keys.key_id(new),)).fetchone()[0])


def _requests_db(home: Path) -> Path:
    return Path(home) / "requests" / "requests.sqlite3"


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA synchronous = FULL")
    return db


def requests_total(home: Path) -> int:
    path = _requests_db(home)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    db = _connect(path)
    try:
        return int(db.execute("SELECT count(*) FROM request WHERE personal IS NOT NULL")
                   .fetchone()[0])
    finally:
        db.close()


def reseal_requests(home: Path, old: bytes, new: bytes,
                    report: RotationReport) -> Iterator[int]:
    """Each request's sealed personal part and its lookup hashes, one transaction each."""
    path = _requests_db(home)
    if not path.exists() or path.stat().st_size == 0:
        return
    old_p, new_p = keys.subkey(old, _PERSONAL), keys.subkey(new, _PERSONAL)
    new_l = keys.subkey(new, _LOOKUP)
    db = _connect(path)
    try:
        ids = [r[0] for r in db.execute(
            "SELECT id FROM request WHERE personal IS NOT NULL ORDER BY id")]
        for request_id in ids:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT personal, email_hash, id_hash FROM request "
                                 "WHERE id = ?", (request_id,)).fetchone()
                changed = False
                if row is not None and row[0] is not None:
                    context = f"request/{request_id}"
                    plain, done = _open_either(new_p, old_p, bytes(row[0]), context)
                    if not done:
                        personal = json.loads(plain)
                        email = str(personal.get("email", "")).strip().lower()
                        idn = str(personal.get("id_number", "")).strip().upper()
                        db.execute(
                            "UPDATE request SET personal = ?, email_hash = ?, id_hash = ? "
                            "WHERE id = ?",
                            (keys.seal(new_p, plain, context),
                             keys.lookup_hash(new_l, email) if row[1] and email else row[1],
                             keys.lookup_hash(new_l, idn) if row[2] and idn else row[2],
                             request_id))
                        changed = True
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            report.requests += changed
            yield 1
        if report.already:  # links and codes made since the switch are under the new key
            return
        # hashes of random tokens and codes keyed by the old key: nothing to re-key them from
        db.execute("BEGIN IMMEDIATE")
        report.dropped_links += db.execute("DELETE FROM link").rowcount
        report.dropped_codes += db.execute("DELETE FROM email_code").rowcount
        db.execute("COMMIT")
    finally:
        db.close()


def _request_files(home: Path) -> list[tuple[Path, str]]:
    folder = Path(home) / "requests" / "files"
    if not folder.is_dir():
        return []
    return [(p, f"{_REQUEST_FILES[p.suffix]}/{p.stem}") for p in sorted(folder.iterdir())
            if p.suffix in _REQUEST_FILES and p.is_file()]


def _signing_files(home: Path) -> list[tuple[Path, str]]:
    folder = Path(home) / "signing"
    if not folder.is_dir():
        return []
    return [(p, f"signing/{p.name}") for p in sorted(folder.glob("*.sealed")) if p.is_file()]


def reseal_files(files: list[tuple[Path, str]], old: bytes, new: bytes) -> Iterator[bool]:
    """Each sealed file opened and sealed again, replaced atomically and durably."""
    for path, context in files:
        plain, done = _open_either(new, old, path.read_bytes(), context)
        if not done:
            write_atomically(path, keys.seal(new, plain, context))
        yield not done


def finish(home: Path, new_id: str) -> None:
    """Key the site to the new key, then drop the journal (the order matters: a kill
    between the two leaves a journal that the next run removes)."""
    keys.record_key_id(home, new_id)
    journal = _journal(home)
    journal.unlink(missing_ok=True)
    fsync_dir(journal.parent)


def rotate(home: Path, old: bytes, new: bytes,
           progress: Progress | None = None) -> RotationReport:
    """Move the site at ``home`` from ``old`` to ``new`` (resumable; see the module)."""
    home = Path(home)
    report = begin(home, old, new)
    tell = progress or (lambda step, done, total: None)

    total = keyring_pending(home, new)
    done = 0
    tell("data keys", 0, total)
    for n in rewrap_keyring(home, old, new):
        done += n
        report.data_keys += n
        tell("data keys", done, total)

    total = requests_total(home)
    done = 0
    tell("requests", 0, total)
    for n in reseal_requests(home, old, new, report):
        done += n
        tell("requests", done, total)

    personal = (keys.subkey(old, _PERSONAL), keys.subkey(new, _PERSONAL))
    files = _request_files(home)
    tell("request files", 0, len(files))
    for i, changed in enumerate(reseal_files(files, *personal), 1):
        report.files += changed
        tell("request files", i, len(files))

    signing = (keys.subkey(old, _SIGNING), keys.subkey(new, _SIGNING))
    sealed = _signing_files(home)
    tell("signing keys", 0, len(sealed))
    for i, changed in enumerate(reseal_files(sealed, *signing), 1):
        report.signing += changed
        tell("signing keys", i, len(sealed))

    # a last look: anything wrapped under the old key since the pass began is re-wrapped
    for n in rewrap_keyring(home, old, new):
        report.data_keys += n
    finish(home, report.new_id)
    if report.already and (report.data_keys or report.requests or report.files
                           or report.signing):
        report.already = False  # values sealed under the old key after the switch: re-keyed
    return report


__all__ = ["RotationError", "RotationReport", "rotate"]
