"""The originals of a site (scans, recordings, transcripts), named by the SHA-256 of their bytes.

The descriptions name a file by the digest of its plaintext (``sha256:<hex>``, an
instantiation's ``digest``), and nothing else: where the bytes sit is this module's business.
Why content addressing (DESIGN.md, decision 5): the name *is* the checksum, so fixity needs no
table that can drift; storing the same scan twice stores it once.

Where the bytes sit (issue 14):

- ``{home}/files/`` is an OCFL 1.1 storage root and nothing else (:mod:`preservation.ocfl`):
  one object per record that holds files. Only the deposit (:mod:`preservation.deposit`)
  writes there, after the changeset that names a file has committed.
- Until then a file waits in **staging**, ``{home}/preservation/staging/ab/<hex>``.
- The **index**, ``{home}/preservation/index.sqlite3``, says for every digest its plaintext
  size, whether it is sealed, and (once deposited) its OCFL object and content path. Readers
  never build paths: they ask :meth:`FileStore.open`, :meth:`~FileStore.local_path`,
  :meth:`~FileStore.size`; fixity, backup and repair ask :meth:`~FileStore.stored_path`.
- Sites made before the OCFL store keep ``files/sha256/ab/cd/<hex>`` until they are migrated
  (``lantai files migrate``); those files are read in place meanwhile.

With ``files_encrypted`` on, a file is **sealed** before it touches the disk
(:mod:`preservation.crypt`: AES-256-GCM in 64 KiB chunks, under a data key of its own kept
wrapped in :mod:`preservation.keyring` as ``sha256:<hex>``), and readers decrypt on the fly:
:meth:`FileStore.open` is a seekable reader of the plaintext, so a Range request or a IIIF
tile costs a chunk or two, never the whole file.

Writes: temporary file in the target's folder, flush, fsync, rename, fsync the folder; a
crash leaves no file or the whole one, never half of one under a valid name. Inputs are
hostile (an importer may be handed a directory, a device, a symlink to ``/etc/shadow`` or a
50 GB file): only regular files are read, symlinks must stay inside their folder (or an
allowed root), and size is capped.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import sqlite3
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from repo.durable import fsync_dir
from repo.errors import Invalid, NotFound

if TYPE_CHECKING:
    from preservation.keyring import Keyring
    from repo.config import Settings

ALGORITHM = "sha256"
DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
CHUNK = 1 << 20  # 1 MiB: large files are hashed and copied without being held in memory
DEFAULT_MAX_BYTES = 8 << 30  # 8 GiB: above the longest oral-history video we expect
_STALE_TMP_SECONDS = 3600  # temporary files older than this were left by a crash

FILES = Path("files")  # the OCFL storage root
LEGACY = FILES / ALGORITHM  # the layout before issue 14: files/sha256/ab/cd/<hex>
STAGING = Path("preservation") / "staging"
INDEX = Path("preservation") / "index.sqlite3"
TMP = Path("tmp")  # working copies (decrypted for a tool that needs a path), mode 0600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    digest       TEXT PRIMARY KEY,  -- sha256:<hex> of the plaintext
    size         INTEGER NOT NULL,  -- plaintext bytes
    sealed       INTEGER NOT NULL,  -- 1: stored in the preservation.crypt format
    object_id    TEXT,              -- the OCFL object, once deposited
    content_path TEXT,              -- the stored bytes, relative to {home}/files
    added        REAL NOT NULL
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class StoredFile:
    """What the index knows of one file."""

    digest: str
    size: int  # plaintext bytes
    sealed: bool
    object_id: str | None = None  # None while staged
    content_path: str | None = None  # relative to {home}/files

    @property
    def keyring_name(self) -> str | None:
        """The name of its data key in the keyring (None when not sealed)."""
        return self.digest if self.sealed else None


@dataclass
class FixityReport:
    """The outcome of :meth:`FileStore.verify_all`: what was checked and what failed."""

    checked: int = 0
    failed: list[str] = field(default_factory=list)  # digests that failed

    @property
    def ok(self) -> bool:
        return not self.failed


def parse_digest(digest: str) -> str:
    """The hex part of ``sha256:<hex>``; anything else is refused.

    The digest becomes part of a path, so it is checked strictly: no ``..``, no slashes, no
    upper case, exactly 64 hex digits. This is what keeps :meth:`FileStore.open` from being
    a path-traversal door when a digest comes from a URL.
    """
    m = DIGEST.match(digest) if isinstance(digest, str) else None
    if m is None:
        raise Invalid(f"{digest!r} is not a file digest (expected sha256:<64 hex digits>)")
    return m.group(1)


def _sealed_header(path: Path) -> int | None:
    """The plaintext size a sealed file's header claims, or None when it is not sealed."""
    from preservation import crypt

    try:
        with path.open("rb") as fh:
            head = fh.read(crypt.HEADER_BYTES)
    except OSError:
        return None
    if len(head) != crypt.HEADER_BYTES or head[:4] != crypt.MAGIC:
        return None
    return int(struct.unpack(">Q", head[8:16])[0])


def _site_encrypted(home: Path) -> bool | None:
    """The ``files_encrypted`` setting of the site at ``home``; None when it is no site."""
    if not (home / "lantai.toml").is_file():
        return None
    from repo.config import read_settings

    return bool(read_settings(home).files_encrypted)


class FileStore:
    """The originals of the site at ``home`` (see the module docstring for the layout).

    ``encrypted``: new files are sealed; by default what the site's ``files_encrypted``
    says (:meth:`for_site` reads it from given settings), False for a scratch folder that is
    no site. Asking for unsealed files on a site whose files are encrypted is refused: no
    code can store a file in the clear there. ``master``: the master key, when the caller
    has it already (else it is looked up, as :func:`preservation.keys.site_master_key` does,
    the first time a sealed file is written or read). ``max_bytes`` caps what :meth:`put`
    accepts; ``allowed_roots`` are folders that symlinked inputs may point into, besides the
    link's own folder.

    One store holds one SQLite connection (WAL: other processes read while one writes);
    :meth:`close` it, or use it as a context manager, when done.
    """

    def __init__(self, home: Path | str, *, encrypted: bool | None = None,
                 master: bytes | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                 allowed_roots: Iterable[Path | str] = ()) -> None:
        home = Path(home).absolute()  # paths kept in the index must not depend on the cwd
        if home.name == "files" and (home.parent / "lantai.toml").is_file():
            # the call before issue 14, FileStore(home / "files"), stored unsealed inside
            # what is now the OCFL root: refused, so no forgotten caller does either
            raise Invalid(f"{home}: the file store is opened at the site's home "
                          f"(FileStore.for_site({home.parent}))")
        site_sealed = _site_encrypted(home)
        if encrypted is None:
            encrypted = bool(site_sealed)
        elif not encrypted and site_sealed:
            raise Invalid(f"{home}: the site's files are encrypted; its file store seals "
                          "(open it with FileStore.for_site)")
        self.home = home
        self.encrypted = encrypted
        self.max_bytes = max_bytes
        self.allowed_roots = [Path(r).resolve() for r in allowed_roots]
        self.root = home / FILES
        self.staging = home / STAGING
        self.tmp = home / TMP
        self.legacy = home / LEGACY
        self._master = master
        self._keyring: Keyring | None = None
        self._lock = threading.RLock()
        self._swept = False
        self.staging.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(home / INDEX, timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a row lost is a file not found
        self._db.executescript(_SCHEMA)

    @classmethod
    def for_site(cls, home: Path | str, settings: Settings | None = None, *,
                 master: bytes | None = None, **kw) -> FileStore:
        """The file store of the site at ``home``, sealing new files when its settings say
        ``files_encrypted``. The keyring opens on the first sealed file written or read."""
        if settings is None:
            from repo.config import read_settings

            settings = read_settings(Path(home))
        return cls(home, encrypted=settings.files_encrypted, master=master, **kw)

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._keyring is not None:
                self._keyring.close()
                self._keyring = None

    def __enter__(self) -> FileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ keys
    def keyring(self, *, create: bool = False) -> Keyring:
        """The site's keyring (opened once). ``create``: make the master key beside the site
        when there is none yet and nothing is sealed under another (a new site)."""
        from preservation import keys
        from preservation.keyring import Keyring

        with self._lock:
            if self._keyring is None:
                master = self._master
                if master is None:
                    fresh = create and not (self.home / keys.KEY_ID_FILE).exists()
                    master = keys.site_master_key(self.home, create=fresh)
                self._keyring = Keyring.open(self.home, master)
            return self._keyring

    def _data_key(self, digest: str, *, create: bool = False) -> bytes:
        return self.keyring(create=create).data_key(digest, create=create)

    # ------------------------------------------------------------------ index
    def info(self, digest: str) -> StoredFile:
        """What the index knows of ``digest`` (a file of an old site not yet migrated is
        described from its place in ``files/sha256``); NotFound when it is not stored."""
        hexd = parse_digest(digest)
        with self._lock:
            row = self._db.execute(
                "SELECT size, sealed, object_id, content_path FROM files WHERE digest = ?",
                (digest,)).fetchone()
        if row is not None:
            return StoredFile(digest, int(row[0]), bool(row[1]), row[2], row[3])
        old = self.legacy / hexd[:2] / hexd[2:4] / hexd
        try:
            size = old.stat().st_size
        except OSError:
            raise NotFound(f"no stored file {digest}") from None
        claimed = _sealed_header(old)
        if claimed is not None:
            return StoredFile(digest, claimed, True, None, str(old.relative_to(self.root)))
        return StoredFile(digest, size, False, None, str(old.relative_to(self.root)))

    def _staged_path(self, hexd: str) -> Path:
        return self.staging / hexd[:2] / hexd

    def stored_path(self, digest: str) -> Path:
        """Where the stored bytes of ``digest`` are (sealed or not; staged or in OCFL): for
        fixity, backup, repair and the deposit. The path where they should be, even when the
        file is missing (fixity reports it); NotFound when the digest is not stored at all."""
        found = self.info(digest)
        if found.content_path is not None:
            return self.root / found.content_path
        return self._staged_path(parse_digest(digest))

    def __contains__(self, digest: object) -> bool:
        try:
            return isinstance(digest, str) and self.stored_path(digest).is_file()
        except (Invalid, NotFound):
            return False

    def digests(self) -> Iterator[str]:
        """Every stored digest (in no particular order)."""
        with self._lock:
            known = [r[0] for r in self._db.execute("SELECT digest FROM files")]
        yield from known
        seen = set(known)
        for path in self.legacy.glob("*/*/*"):
            name = f"{ALGORITHM}:{path.name}"
            if DIGEST.match(name) and name not in seen:
                yield name

    def staged(self) -> list[str]:
        """The digests waiting in staging (not yet in an OCFL object)."""
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT digest FROM files WHERE object_id IS NULL ORDER BY digest")]

    def deposited(self, digest: str, object_id: str, content_path: Path | str) -> None:
        """Record that the bytes of ``digest`` are now in OCFL object ``object_id`` at
        ``content_path`` (absolute, or relative to ``{home}/files``), and remove the staged
        copy. Called by the deposit after the object's new version is in place."""
        hexd = parse_digest(digest)
        path = Path(content_path)
        if path.is_absolute():
            try:
                path = path.relative_to(self.root)
            except ValueError:
                raise Invalid(f"{content_path}: not inside the storage root {self.root}") from None
        if ".." in path.parts or not path.parts:
            raise Invalid(f"{content_path}: not a content path")
        with self._lock:
            row = self._db.execute("SELECT 1 FROM files WHERE digest = ?", (digest,)).fetchone()
            if row is None:  # a file of an old site, moved by the migration
                stored = self.root / path
                claimed = _sealed_header(stored)
                size = claimed if claimed is not None else stored.stat().st_size
                self._db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
                                 (digest, size, int(claimed is not None), object_id,
                                  str(path), time.time()))
            else:
                self._db.execute("UPDATE files SET object_id = ?, content_path = ? "
                                 "WHERE digest = ?", (object_id, str(path), digest))
        staged = self._staged_path(hexd)
        if staged.exists():
            staged.unlink()
            fsync_dir(staged.parent)

    def discard(self, digest: str) -> bool:
        """Remove a staged file that nothing will name (an ingest that failed). A deposited
        file is never removed (preservation keeps every version). True when removed."""
        hexd = parse_digest(digest)
        with self._lock:
            row = self._db.execute("SELECT object_id FROM files WHERE digest = ?",
                                   (digest,)).fetchone()
            if row is None or row[0] is not None:
                return False
            staged = self._staged_path(hexd)
            staged.unlink(missing_ok=True)
            fsync_dir(staged.parent)
            self._db.execute("DELETE FROM files WHERE digest = ?", (digest,))
            return True

    # ------------------------------------------------------------------ writing
    def put(self, source: Path | str | bytes | bytearray | memoryview) -> str:
        """Store a file (given by path) or bytes; return its digest ``sha256:<hex>``.

        Sealed when the site's files are encrypted (a new data key in the keyring), into
        staging; streamed (read twice, never held whole in memory: once to learn the digest
        that names the data key, once to seal, hashed again to catch a file changed between).
        Idempotent: content stored already (and, while staged, intact) writes nothing.
        Refuses (:class:`~repo.errors.Invalid`) anything that is not a regular file, a
        symlink leading outside its folder or the allowed roots, anything above ``max_bytes``.
        """
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            self._check_size(len(data), "the data")
            return self._store(lambda: iter([data]), len(data), "the data")
        path = Path(source)
        real = self._checked_source(path)
        with self._open_source(real, path) as fh:
            size = os.fstat(fh.fileno()).st_size

            def pieces() -> Iterator[bytes]:
                fh.seek(0)
                return iter(lambda: fh.read(CHUNK), b"")

            return self._store(pieces, size, str(path))

    @contextlib.contextmanager
    def _open_source(self, real: Path, path: Path) -> Iterator[BinaryIO]:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(real, flags)
        except OSError as exc:
            raise Invalid(f"{path}: cannot be read ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as fh:
            # check what was opened, not what the name pointed to a moment ago (a swap
            # between the check and the open must not let a FIFO or device through)
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise Invalid(f"{path}: not a regular file")
            self._check_size(st.st_size, str(path))
            yield fh

    def _checked_source(self, path: Path) -> Path:
        """The real path to read, after refusing what must not be read."""
        try:
            st = path.lstat()
        except FileNotFoundError:
            raise NotFound(f"{path}: no such file") from None
        except OSError as exc:
            raise Invalid(f"{path}: cannot be read ({exc.strerror})") from None
        real = path.resolve()
        if stat.S_ISLNK(st.st_mode):
            allowed = [path.absolute().parent.resolve(), *self.allowed_roots]
            if not any(real.is_relative_to(root) for root in allowed):
                raise Invalid(f"{path}: a symbolic link to {real}, outside its folder")
            try:
                st = real.stat()
            except OSError:
                raise NotFound(f"{path}: a symbolic link to nothing") from None
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise Invalid(f"{path}: {kind}")
        self._check_size(st.st_size, str(path))
        return real

    def _check_size(self, size: int, what: str) -> None:
        if size > self.max_bytes:
            raise Invalid(f"{what}: {size} bytes, above the limit of {self.max_bytes}")

    def _hash(self, pieces: Iterable[bytes], what: str) -> tuple[str, int]:
        h = hashlib.sha256()
        size = 0
        for piece in pieces:
            size += len(piece)
            self._check_size(size, what)  # the file may grow while we read it
            h.update(piece)
        return f"{ALGORITHM}:{h.hexdigest()}", size

    def _store(self, pieces: Callable[[], Iterator[bytes]], size: int, what: str) -> str:
        digest, seen = self._hash(pieces(), what)
        if seen != size:
            raise Invalid(f"{what}: changed size while it was stored")
        hexd = parse_digest(digest)
        with self._lock:
            row = self._db.execute("SELECT object_id, content_path FROM files WHERE digest = ?",
                                   (digest,)).fetchone()
            if row is not None and (row[0] is not None or self.verify(digest)):
                return digest  # stored already: content addressing makes this a no-op
            if row is None and self._legacy_intact(digest):
                return digest  # an old site's file, read in place until migrated
            self._sweep_tmp()
            sealed = self.encrypted
            key = self._data_key(digest, create=True) if sealed else None
            target = self._staged_path(hexd)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{hexd}.",
                                            suffix=".part")
            tmp = Path(tmp_name)
            try:
                h = hashlib.sha256()

                def hashed() -> Iterator[bytes]:
                    for piece in pieces():
                        h.update(piece)
                        yield piece

                with os.fdopen(fd, "wb") as out:
                    if key is not None:
                        from preservation.crypt import seal_chunks

                        try:
                            for sealed_piece in seal_chunks(hashed(), size, key):
                                out.write(sealed_piece)
                        except ValueError:
                            raise Invalid(f"{what}: changed size while it was stored") from None
                    else:
                        for piece in hashed():
                            out.write(piece)
                    out.flush()
                    os.fsync(out.fileno())
                if f"{ALGORITHM}:{h.hexdigest()}" != digest:
                    raise Invalid(f"{what}: changed while it was stored")
                os.chmod(tmp, 0o444)  # originals are never modified in place
                os.replace(tmp, target)
                fsync_dir(target.parent)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, NULL, NULL, ?)",
                             (digest, size, int(sealed), time.time()))
            return digest

    def _legacy_intact(self, digest: str) -> bool:
        hexd = parse_digest(digest)
        old = self.legacy / hexd[:2] / hexd[2:4] / hexd
        return old.is_file() and self.verify(digest)

    # ------------------------------------------------------------------ reading
    def open(self, digest: str) -> BinaryIO:
        """The plaintext of ``digest``, opened for reading (binary, seekable): the stored file
        itself, or a reader that decrypts the chunks it is asked for."""
        found = self.info(digest)
        path = self.stored_path(digest)
        try:
            raw = path.open("rb", buffering=0)
        except FileNotFoundError:
            raise NotFound(f"no stored file {digest} (missing: {path})") from None
        if not found.sealed:
            return io.BufferedReader(raw, CHUNK)
        from preservation.crypt import CHUNK as SEALED_CHUNK
        from preservation.crypt import SealedReader

        try:
            reader = SealedReader(raw, self._data_key(digest), name=digest)
        except BaseException:
            raw.close()
            raise
        return io.BufferedReader(reader, SEALED_CHUNK)

    def size(self, digest: str) -> int:
        """The plaintext size in bytes."""
        return self.info(digest).size

    @contextlib.contextmanager
    def local_path(self, digest: str, *, suffix: str = "") -> Iterator[Path]:
        """A path to the plaintext, for tools that want one (pyvips, ffmpeg, OCR): the stored
        file when it is not sealed, else a decrypted copy in ``{home}/tmp`` (mode 0600),
        removed on leaving. Never write to it."""
        found = self.info(digest)
        path = self.stored_path(digest)
        if not found.sealed:
            if not path.is_file():
                raise NotFound(f"no stored file {digest} (missing: {path})")
            yield path
            return
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="plain-", suffix=suffix)
        copy = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, self.open(digest) as src:
                while piece := src.read(CHUNK):
                    out.write(piece)
            yield copy
        finally:
            copy.unlink(missing_ok=True)

    # ------------------------------------------------------------------ fixity
    def verify(self, digest: str) -> bool:
        """Fixity: the SHA-256 of the plaintext equals the name (for a sealed file every GCM
        tag opens on the way). False when the file is missing, unreadable or changed."""
        from preservation.crypt import DecryptionError

        h = hashlib.sha256()
        try:
            with self.open(digest) as fh:
                while piece := fh.read(CHUNK):
                    h.update(piece)
        except (OSError, NotFound, DecryptionError):
            return False
        return f"{ALGORITHM}:{h.hexdigest()}" == digest

    def verify_all(self) -> FixityReport:
        """Check every stored file (``lantai fixity`` does this with the OCFL inventories)."""
        report = FixityReport()
        for digest in sorted(self.digests()):
            report.checked += 1
            if not self.verify(digest):
                report.failed.append(digest)
        return report

    # ------------------------------------------------------------------ housekeeping
    def _sweep_tmp(self) -> None:
        """Remove temporary files a crash left behind (old enough not to be in use)."""
        if self._swept:
            return
        self._swept = True
        cutoff = time.time() - _STALE_TMP_SECONDS
        for folder in (self.staging, self.tmp):
            for tmp in [*folder.glob("*/.*.part"), *folder.glob("plain-*")]:
                with contextlib.suppress(OSError):
                    if tmp.stat().st_mtime < cutoff:
                        tmp.unlink()


__all__ = ["DEFAULT_MAX_BYTES", "FileStore", "FixityReport", "StoredFile", "parse_digest"]
