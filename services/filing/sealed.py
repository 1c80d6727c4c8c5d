"""The receiving area's files at rest: sealed like the originals when the site's files are.

What units send (documents, spreadsheets, bags) waits in ``{home}/filing/receiving`` until an
archivist accepts or returns it; it is the same kind of content as the originals, so on a site
with ``files_encrypted`` it is sealed the same way (:mod:`preservation.crypt`, a data key per
file in the site's keyring under ``filing:<sha256>``; a key rotation re-wraps it with the
rest). Files written before encryption stay readable: a file is sealed when it starts with
:data:`preservation.crypt.MAGIC` and its key is in the keyring, else it is read as it is.

Readers never open the stored path: :func:`open_plain` gives a seekable plaintext stream,
:func:`plain_copy` a temporary 0600 copy in ``{home}/tmp`` for code that wants a path.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from repo.durable import fsync_dir

READ = 1 << 20


def keyring_name(sha256: str) -> str:
    return f"filing:{sha256}"


def sealing(home: Path) -> bool:
    """True when the site at ``home`` seals its files (a folder that is no site does not)."""
    from repo.config import read_settings

    if not (home / "lantai.toml").is_file():
        return False
    return read_settings(home).files_encrypted


def _data_key(home: Path, sha256: str, *, create: bool) -> bytes:
    from preservation import keys
    from preservation.keyring import Keyring

    fresh = create and not (home / keys.KEY_ID_FILE).exists()
    ring = Keyring.open(home, keys.site_master_key(home, create=fresh))
    try:
        return ring.data_key(keyring_name(sha256), create=create)
    finally:
        ring.close()


def store(home: Path, source: Path, target: Path, sha256: str, size: int) -> None:
    """Write ``source`` to ``target`` durably (temp file, fsync, rename, fsync the folder),
    sealed when the site seals its files. The caller has hashed ``source`` already; the bytes
    are hashed again as they are written, so a file changed in between is refused."""
    import hashlib

    from repo.errors import Invalid

    key = _data_key(home, sha256, create=True) if sealing(home) else None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(name)
    h = hashlib.sha256()
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
            def pieces() -> Iterator[bytes]:
                while piece := src.read(READ):
                    h.update(piece)
                    yield piece

            if key is not None:
                from preservation.crypt import seal_chunks

                try:
                    for sealed_piece in seal_chunks(pieces(), size, key):
                        out.write(sealed_piece)
                except ValueError:
                    raise Invalid(f"{source.name}: changed while it was received") from None
            else:
                for piece in pieces():
                    out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != sha256:
            raise Invalid(f"{source.name}: changed while it was received")
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def is_sealed(path: Path) -> bool:
    from preservation.crypt import MAGIC

    with path.open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def open_plain(home: Path, path: Path, sha256: str) -> BinaryIO:
    """The plaintext of a received file (seekable): decrypted chunk by chunk when sealed."""
    raw = path.open("rb", buffering=0)
    try:
        from preservation.crypt import MAGIC, SealedReader

        sealed = raw.read(len(MAGIC)) == MAGIC
        raw.seek(0)
        if not sealed:
            return io.BufferedReader(raw, READ)
        from preservation.crypt import CHUNK

        reader = SealedReader(raw, _data_key(home, sha256, create=False),
                              name=path.name)
    except BaseException:
        raw.close()
        raise
    return io.BufferedReader(reader, CHUNK)


@contextlib.contextmanager
def plain_copy(home: Path, path: Path, sha256: str, *, suffix: str = "") -> Iterator[Path]:
    """A path to the plaintext: the stored file when it is not sealed, else a decrypted copy
    in ``{home}/tmp`` (mode 0600), removed on leaving. Never write to it."""
    if not is_sealed(path):
        yield path
        return
    folder = home / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix="plain-filing-", suffix=suffix)
    copy = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, open_plain(home, path, sha256) as src:
            while piece := src.read(READ):
                out.write(piece)
        yield copy
    finally:
        copy.unlink(missing_ok=True)


__all__ = ["is_sealed", "keyring_name", "open_plain", "plain_copy", "sealing", "store"]
