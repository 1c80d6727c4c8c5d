"""The content-addressed file store of a site: originals of scans, recordings and transcripts.

Every file is stored under the SHA-256 of its bytes (``files/sha256/ab/cd/abcd…``), and the
descriptions refer to it by that digest (``sha256:<hex>``, an instantiation's ``digest``).
Why content addressing (DESIGN.md, decision 5):

- **fixity for free**: the name *is* the checksum, so :meth:`FileStore.verify` recomputes
  it and any bit rot, truncation or tampering shows up; no separate checksum table can drift;
- **idempotence**: storing the same scan twice (a re-run import, the demo loaded twice)
  stores it once, and the description that names it stays valid;
- **safe to copy off-site**: files never change once written, so a backup is a plain
  one-way sync of new names.

Writes go to a temporary file in the same file system, are flushed to disk and then
renamed into place: a crash leaves either no file or the complete one, never a half file
under a valid name. Inputs are treated as hostile (an importer may be handed a directory, a
device, a symlink to ``/etc/shadow`` or a 50 GB file): only regular files are read, symlinks
must stay inside the folder they are in (or inside an allowed root), and size is capped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from repo.durable import fsync_dir
from repo.errors import Invalid, NotFound

ALGORITHM = "sha256"
DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
CHUNK = 1 << 20  # 1 MiB: large files are hashed and copied without being held in memory
DEFAULT_MAX_BYTES = 8 << 30  # 8 GiB: above the longest oral-history video we expect
_STALE_TMP_SECONDS = 3600  # temporary files older than this were left by a crash


@dataclass
class FixityReport:
    """The outcome of :meth:`FileStore.verify_all`: what was checked and what failed."""

    checked: int = 0
    failed: list[str] = field(default_factory=list)  # digests (or stray names) that failed

    @property
    def ok(self) -> bool:
        return not self.failed


def parse_digest(digest: str) -> str:
    """The hex part of ``sha256:<hex>``; anything else is refused.

    The digest becomes a file path, so it is checked strictly: no ``..``, no slashes, no
    upper case, exactly 64 hex digits. This is what keeps :meth:`FileStore.open` from being
    a path-traversal door when a digest comes from a URL.
    """
    m = DIGEST.match(digest) if isinstance(digest, str) else None
    if m is None:
        raise Invalid(f"{digest!r} is not a file digest (expected sha256:<64 hex digits>)")
    return m.group(1)


class FileStore:
    """Originals and derivatives of one site, named by their SHA-256.

    ``root`` is normally ``home / "files"``. ``max_bytes`` caps what :meth:`put` accepts;
    ``allowed_roots`` (optional) are folders that symlinked inputs may point into, in
    addition to the folder the link itself is in.
    """

    def __init__(self, root: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 allowed_roots: Iterable[Path | str] = ()) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.allowed_roots = [Path(r).resolve() for r in allowed_roots]
        self.objects = self.root / ALGORITHM
        self.tmp = self.root / "tmp"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._sweep_tmp()

    # ------------------------------------------------------------------ names
    def path_for(self, digest: str) -> Path:
        """Where the file with ``digest`` lives (whether or not it is there yet).

        Two levels of two hex digits spread files over 65,536 folders, so that no folder
        holds more than a few thousand entries even at the archive's full 400,000 files.
        """
        hexd = parse_digest(digest)
        return self.objects / hexd[:2] / hexd[2:4] / hexd

    def __contains__(self, digest: object) -> bool:
        try:
            return isinstance(digest, str) and self.path_for(digest).is_file()
        except Invalid:
            return False

    def digests(self) -> Iterator[str]:
        """Every stored digest (in no particular order)."""
        for path in self.objects.glob("*/*/*"):
            if DIGEST.match(f"{ALGORITHM}:{path.name}"):
                yield f"{ALGORITHM}:{path.name}"

    # ------------------------------------------------------------------ writing
    def put(self, source: Path | str | bytes | bytearray | memoryview) -> str:
        """Store a file (given by path) or bytes; return its digest ``sha256:<hex>``.

        Idempotent: if the content is there already (and passes fixity), nothing is
        written; a damaged copy is replaced by the good bytes, so re-importing repairs.
        Refuses (with :class:`~repo.errors.Invalid`) anything that is not a regular file,
        a symlink that leads outside its folder or the allowed roots, and anything above
        ``max_bytes``.
        """
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            self._check_size(len(data), "the data")
            return self._store_chunks([data])
        path = Path(source)
        real = self._checked_source(path)
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
            return self._store_chunks(iter(lambda: fh.read(CHUNK), b""), what=str(path))

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

    def _store_chunks(self, chunks: Iterable[bytes], *, what: str = "the data") -> str:
        """Hash while copying to a temporary file, then rename it to its digest."""
        h = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="put-", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    self._check_size(size, what)  # the file may grow while we read it
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = f"{ALGORITHM}:{h.hexdigest()}"
            target = self.path_for(digest)
            if target.is_file() and self.verify(digest):
                tmp.unlink()
                return digest  # already stored: content addressing makes this a no-op
            # missing, or a damaged copy: the fresh bytes (just hashed) replace it
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)  # originals are never modified in place
            os.replace(tmp, target)
            fsync_dir(target.parent)
            return digest
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------ reading
    def open(self, digest: str) -> BinaryIO:
        """The stored file, opened for reading in binary mode."""
        path = self.path_for(digest)
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise NotFound(f"no stored file {digest}") from None

    def size(self, digest: str) -> int:
        try:
            return self.path_for(digest).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"no stored file {digest}") from None

    # ------------------------------------------------------------------ fixity
    def verify(self, digest: str) -> bool:
        """Fixity check: recompute the SHA-256 of the stored file and compare with its name.

        False when the file is missing, unreadable or its content no longer matches.
        """
        path = self.path_for(digest)
        h = hashlib.sha256()
        try:
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    h.update(chunk)
        except OSError:
            return False
        return f"{ALGORITHM}:{h.hexdigest()}" == digest

    def verify_all(self) -> FixityReport:
        """Check every stored file; stray names under ``sha256/`` count as failures."""
        report = FixityReport()
        for path in sorted(self.objects.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                continue
            report.checked += 1
            name = f"{ALGORITHM}:{path.name}"
            rel = path.relative_to(self.objects)
            well_placed = (DIGEST.match(name) is not None and len(rel.parts) == 3
                           and rel.parts[0] == path.name[:2] and rel.parts[1] == path.name[2:4])
            if not well_placed or path.is_symlink():
                report.failed.append(str(rel))
            elif not self.verify(name):
                report.failed.append(name)
        return report

    # ------------------------------------------------------------------ housekeeping
    def _sweep_tmp(self) -> None:
        """Remove temporary files a crash left behind (old enough not to be in use)."""
        cutoff = time.time() - _STALE_TMP_SECONDS
        for tmp in self.tmp.glob("put-*.part"):
            with contextlib.suppress(OSError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()


__all__ = ["DEFAULT_MAX_BYTES", "FileStore", "FixityReport", "parse_digest"]
