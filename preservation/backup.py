"""``lantai backup``: a consistent snapshot of a running site, sent to restic.

The site keeps serving and writing while it is backed up. Consistency comes from the
repository's write lock (the stores' lock every writer takes: :class:`repo.site.Site`),
held only while the snapshot folder is built (about half a second for the demo; the
writers of the REST API wait for it as they wait for one another):

1. both Oxigraph stores with ``Store.backup`` (RocksDB checkpoints: hard links to the
   immutable table files, so it is fast and takes no room);
2. the file index (when there is one), then the file store — an OCFL root is immutable
   content plus inventories replaced by rename, so hard links of its files *are* a
   consistent copy while no deposit runs, and deposits run only under the lock we hold —
   and the staged files (files arrive before the changeset that names them, so every file
   the checkpointed descriptions name is there);
3. every SQLite database (requests, filing, consents, keyring, events, …) with SQLite's
   online backup API, the keyring after the files (its keys are a superset);
4. the catalogs (tantivy segments are immutable: hard links), the journal, the settings,
   the signing folder, ``publication.generation`` and the rest of the home: copied.

Not in the snapshot: the image pyramids, thumbnails and A/V copies of ``derivatives/``
(regenerable; their texts — OCR lines, transcripts — are kept, see :data:`TEXT_DERIVATIVES`),
``tmp/``, SQLite's ``-wal``/``-shm``
side files, lock files, staff sign-in sessions, and the master key, which is never in the
site and so never in its backup (restore needs it from wherever it is kept).

Then, with the lock released, :mod:`preservation.proof` records what a restore must give
back (written into the snapshot as ``lantai-backup.json``), and ``restic backup`` sends the
folder. The folder is always at the same path (``{home}/tmp/backup``), so restic finds the
previous snapshot as parent and reads only what changed: an unchanged site is backed up
without reading its files again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from preservation import proof
from preservation.restic import Restic
from repo.durable import write_atomically
from repo.errors import Busy, LantaiError

SNAPSHOT = Path("tmp") / "backup"
LOCK = Path("tmp") / "backup.lock"
SITE_ID = Path("preservation") / "site-id"
KEY_ID = Path("preservation") / "key-id"
TAG = "lantai"

# Never in a backup: regenerable, temporary, or the stores (checkpointed separately)
SKIP_TOP = {"tmp", "derivatives", "working", "publication", ".lock"}
# Derivatives kept all the same: the texts (OCR lines, transcripts, A/V facts) are small and
# costly to make again (OCR: about 4 s a page, 16 CPU-days for the archive's 355,800 images);
# pyramids, thumbnails and A/V copies are large and quick to make (the image API makes a
# missing pyramid on first request)
TEXT_DERIVATIVES = (".json", ".vtt", ".txt")
# Folders of immutable files (content-addressed, or replaced only by rename): hard-linked
LINKED = {Path("files"), Path("preservation") / "staging", Path("catalog") / "public",
          Path("catalog") / "staff"}
SKIP_NAMES = {"sessions.sqlite3", ".lock"}  # sign-in sessions are not worth restoring
SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".lock", ".part", ".tmp")
# The old file store's working folders (before OCFL)
SKIP_IN_FILES = {"tmp", "ingesting"}


class BackupError(LantaiError):
    """The snapshot could not be made (a full disk, an unreadable file)."""


@dataclass
class BackupResult:
    snapshot_id: str
    site_id: str
    key_id: str | None
    files_new: int
    files_changed: int
    files_unmodified: int
    bytes_added: int
    seconds: float
    locked_seconds: float  # how long writers waited for the snapshot folder
    manifest: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot_id, "site_id": self.site_id, "key_id": self.key_id,
                "files_new": self.files_new, "files_changed": self.files_changed,
                "files_unmodified": self.files_unmodified, "bytes_added": self.bytes_added,
                "seconds": round(self.seconds, 3),
                "locked_seconds": round(self.locked_seconds, 3), "master_key_included": False}


# ---------------------------------------------------------------------- site identity
def site_id(home: Path, *, create: bool = True) -> str:
    """The site's random id (``{home}/preservation/site-id``), made on first use: every
    snapshot is tagged with it, so a snapshot of another site is told apart."""
    path = Path(home) / SITE_ID
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not create:
            raise
    value = secrets.token_hex(8)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, (value + "\n").encode("ascii"))
    return value


def recorded_key_id(home: Path) -> str | None:
    """The id of the master key the site was keyed with (no key needed to read it)."""
    try:
        return (Path(home) / KEY_ID).read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        return None


def lantai_version() -> str:
    try:
        return version("lantai")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


# ---------------------------------------------------------------------- the snapshot folder
@contextlib.contextmanager
def backup_lock(home: Path) -> Iterator[None]:
    """One backup of a site at a time (they share the snapshot folder)."""
    path = Path(home) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another backup of {home} is running") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _skipped(rel: Path, is_dir: bool) -> bool:
    name = rel.name
    if len(rel.parts) == 1 and name in SKIP_TOP:
        return True
    if rel.parts[0] == "files" and len(rel.parts) == 2 and name in SKIP_IN_FILES:
        return True
    if is_dir:
        return False
    return name in SKIP_NAMES or name.endswith(SKIP_SUFFIXES) or name.startswith(".tantivy")


def _link_tree(src: Path, dst: Path, home: Path,
               keep: Callable[[str], bool] = lambda _name: True) -> None:
    """Hard links of every file under ``src`` (a folder of immutable files) ``keep`` keeps."""
    for folder, dirs, names in os.walk(src):
        here = Path(folder)
        rel_here = here.relative_to(home)
        dirs[:] = sorted(d for d in dirs if not _skipped(rel_here / d, True))
        target = dst / here.relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            if not keep(name) or _skipped(rel_here / name, False):
                continue
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                os.link(path, target / name)
            except FileNotFoundError:
                continue  # a staged file deposited meanwhile (not named by the snapshot)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                shutil.copy2(path, target / name)


def sqlite_copy(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(src, timeout=30)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _copy_tree(src: Path, dst: Path, home: Path) -> None:
    """Everything under ``src`` the backup keeps: linked, online-backed-up or copied.
    In a folder, the linked sub-folders come before the files (``preservation/staging``
    before ``keyring.sqlite3``: a key is made before its file is sealed)."""
    for folder, dirs, names in os.walk(src):
        here = Path(folder)
        rel_here = here.relative_to(home)
        keep = []
        for d in sorted(dirs):
            rel = rel_here / d
            if _skipped(rel, True):
                continue
            if rel in LINKED:
                _link_tree(here / d, dst / rel, home)
            else:
                keep.append(d)
        dirs[:] = keep
        target = dst / rel_here
        target.mkdir(parents=True, exist_ok=True)
        for name in sorted(names):
            rel = rel_here / name
            path = here / name
            if (_skipped(rel, False) or path.is_symlink() or not path.is_file()
                    or (dst / rel).exists()):  # the file index, copied first
                continue
            if name.endswith((".sqlite3", ".sqlite", ".db")):
                sqlite_copy(path, dst / rel)
            else:
                try:
                    shutil.copy2(path, dst / rel)
                except FileNotFoundError:
                    continue  # replaced by rename between the listing and the copy


def build_snapshot(home: Path, folder: Path, *, wait: float = 60.0) -> float:
    """Fill ``folder`` (which must not exist) with a consistent copy of the site, holding
    the repository's write lock while it is made; how long it was held, counted from the
    moment we asked for it (so it includes any wait for another writer: an upper bound)."""
    import time

    from repo.config import read_settings
    from repo.site import Site

    home = Path(home)
    folder.mkdir(parents=True)
    locked = time.monotonic()
    # The site's lock, not Repository.open: the same lock every writer takes, without what
    # an open does besides (the catalog, recovery, migrations: 1.5 s of the 2 s measured on
    # the demo). A journal entry left by a crashed writer is copied and finished by the
    # restored site's first open, as it would be here.
    site = Site.for_writing(home, read_settings(home), wait=wait)
    try:
        site.working.flush()
        site.public.flush()
        site.working.backup(str(folder / "working"))
        site.public.backup(str(folder / "publication"))
        index = home / "preservation" / "index.sqlite3"
        if index.exists():
            sqlite_copy(index, folder / "preservation" / "index.sqlite3")
        if (home / "files").is_dir():
            _link_tree(home / "files", folder / "files", home)
        if (home / "derivatives").is_dir():  # their texts only: see TEXT_DERIVATIVES
            _link_tree(home / "derivatives", folder / "derivatives", home,
                       keep=lambda name: name.endswith(TEXT_DERIVATIVES))
        for entry in sorted(home.iterdir()):
            rel = Path(entry.name)
            if entry.name == "files" or _skipped(rel, entry.is_dir()):
                continue
            if entry.is_dir() and not entry.is_symlink():
                _copy_tree(entry, folder, home)
            elif entry.is_file() and not entry.is_symlink():
                shutil.copy2(entry, folder / rel)
    finally:
        site.close()
    return time.monotonic() - locked


# ---------------------------------------------------------------------- the backup
def backup(home: Path, restic: Restic, *, wait: float = 60.0) -> BackupResult:
    """Snapshot the site and send it to ``restic``; the result names the snapshot."""
    import time

    from repo.config import read_settings

    home = Path(home).resolve()
    settings = read_settings(home)
    started = time.monotonic()
    with backup_lock(home):
        ident = site_id(home)
        key = recorded_key_id(home)
        folder = home / SNAPSHOT
        if folder.exists():
            shutil.rmtree(folder)  # what a killed backup left
        try:
            try:
                locked = build_snapshot(home, folder, wait=wait)
                manifest = {
                    "format": 1,
                    "site_id": ident,
                    "key_id": key,
                    "base": settings.base,
                    "files_encrypted": settings.files_encrypted,
                    "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "lantai": lantai_version(),
                    "master_key_included": False,
                    "proof": proof.record(folder, base=settings.base),
                }
                write_atomically(folder / proof.MANIFEST,
                                 json.dumps(manifest, indent=1, ensure_ascii=False).encode())
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise BackupError(f"no space left in {folder.parent} for the backup's "
                                      "snapshot folder; nothing was sent, the site is "
                                      "unchanged") from None
                raise BackupError(f"the snapshot could not be made: {exc}") from None
            tags = [TAG, f"site:{ident}"] + ([f"key:{key}"] if key else [])
            summary = restic.backup(folder, tags=tags, host=f"lantai-{ident}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return BackupResult(
        snapshot_id=summary["snapshot_id"], site_id=ident, key_id=key,
        files_new=int(summary.get("files_new", 0)),
        files_changed=int(summary.get("files_changed", 0)),
        files_unmodified=int(summary.get("files_unmodified", 0)),
        bytes_added=int(summary.get("data_added", 0)),
        seconds=time.monotonic() - started, locked_seconds=locked, manifest=manifest)


def site_tags(home: Path) -> list[str]:
    """The tags that select this site's snapshots in a shared repository."""
    return [TAG, f"site:{site_id(home)}"]


def keep_options(text: str) -> list[str]:
    """``settings.backup_keep`` as restic options; only ``--keep-*`` ones are accepted."""
    import shlex

    from repo.errors import Invalid

    words = shlex.split(text)
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("--keep-"):
            raise Invalid(f"backup_keep: {word!r} is not a --keep-… option")
        if "=" in word or word == "--keep-tag":
            out.append(word)
            if word == "--keep-tag":
                out.append(words[i + 1])
                i += 1
        else:
            if i + 1 >= len(words):
                raise Invalid(f"backup_keep: {word} needs a value")
            out += [word, words[i + 1]]
            i += 1
        i += 1
    if not out:
        raise Invalid("backup_keep: no --keep-… option (forget would remove every snapshot)")
    return out


__all__ = ["BackupError", "BackupResult", "backup", "build_snapshot", "keep_options",
           "site_id", "site_tags"]
