"""What a killed media ingest left on disk is removed on the next open (issue 10, item 13).

Media ingest stores the originals and makes their derivatives *before* it writes the
descriptions that name them (one changeset at the end, all or nothing). Its own ``except``
removes them when something fails, but ``kill -9`` (or a power cut) runs no ``except``: the
files stayed on disk, named by nothing, for ever.

So an ingest first opens an :class:`IngestMarker` in ``{home}/tmp/ingesting/`` (``files/`` is
the OCFL storage root and holds nothing else since issue 14), holds an
exclusive ``flock`` on it for as long as it runs, and appends to it every path it is about to
create (before creating it), with the digest that will name it. After its commit, or after
its own clean-up, it removes the marker. On every open of the repository, :func:`sweep`
looks at the markers; one whose lock it can take belongs to a process that is gone (the
kernel lets a dead process's locks go), so a live ingest's files, in this process or
another, are never touched. For a dead marker, each listed path is removed unless a
description names its digest (the ingest committed and died just before removing the
marker) — the journal has been replayed by then, so a committed changeset is in the store;
a staged original removed so is also struck from the file store's index.
The paths removed are reported on stderr (the ``lantai.sweep`` log), then the marker goes.
Normally the folder is empty and the sweep costs one directory listing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import uuid
from pathlib import Path

from pyoxigraph import Literal, Store

from repo.durable import fsync_dir

log = logging.getLogger("lantai.sweep")
MARKERS = Path("tmp") / "ingesting"
_OLD_MARKERS = Path("files") / "ingesting"  # before issue 14: swept once, then removed


class IngestMarker:
    """The paths a running ingest may leave behind, locked while it runs.

    Use as a context manager: leaving it (normally or by an exception) removes the marker;
    a killed process leaves it for :func:`sweep`."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        folder = self.home / MARKERS
        folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        hidden = folder / f".{name}.part"
        # locked before it has a name the sweep reads: no moment when it is visible unlocked
        self._fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.path = folder / f"{name}.jsonl"
        os.replace(hidden, self.path)
        fsync_dir(folder)

    def will_create(self, digest: str, *paths: Path) -> None:
        """Record (durably, before they exist) paths that will hold ``digest`` or derive
        from it."""
        rel = [str(Path(p).relative_to(self.home)) for p in paths]
        os.write(self._fd, (json.dumps({"digest": digest, "paths": rel}) + "\n").encode())
        os.fsync(self._fd)  # on disk before the files it names are made (a power cut too)
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # the lock goes with it
            self._fd = -1

    def __enter__(self) -> IngestMarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _named(store: Store, digest: str) -> bool:
    """Does any description (any graph, any property) name ``digest``?"""
    return next(store.quads_for_pattern(None, None, Literal(digest), None), None) is not None


def _entries(fd: int) -> list[dict]:
    with os.fdopen(os.dup(fd), "r", encoding="utf-8", errors="replace") as fh:
        fh.seek(0)
        out = []
        for line in fh:
            with contextlib.suppress(ValueError):  # a line cut by the crash was never acted on
                entry = json.loads(line)
                if isinstance(entry, dict) and isinstance(entry.get("digest"), str):
                    out.append(entry)
        return out


def _remove(home: Path, rel: str) -> bool:
    """Remove ``home/rel`` (a file or a folder), never anything outside ``home``."""
    path = (home / rel).resolve()
    if not path.is_relative_to(home.resolve()) or path == home.resolve():
        return False
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
        return True
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _discard_staged(home: Path, digests: list[str]) -> None:
    """Strike from the file store's index the staged originals no description names."""
    from repo.errors import Invalid
    from repo.files import FileStore

    with FileStore(home) as files:
        for digest in digests:
            with contextlib.suppress(Invalid):
                files.discard(digest)


def sweep(home: Path, store: Store) -> list[str]:
    """Remove what dead ingests left and no description names; the paths removed."""
    markers: list[Path] = []
    for folder in (Path(home) / MARKERS, Path(home) / _OLD_MARKERS):
        with contextlib.suppress(OSError):
            markers += sorted(folder.glob("*.jsonl"))
    removed: list[str] = []
    dropped: list[str] = []
    for marker in markers:
        try:
            fd = os.open(marker, os.O_RDONLY)
        except FileNotFoundError:
            continue  # its ingest finished meanwhile
        except OSError as exc:  # never a reason not to open the site: say so and go on
            log.warning("lantai: cannot read %s (%s)", marker, exc.strerror)
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live ingest: its files are being written
            for entry in _entries(fd):
                if _named(store, entry["digest"]):
                    continue
                removed.extend(rel for rel in entry.get("paths", [])
                               if isinstance(rel, str) and _remove(Path(home), rel))
                dropped.append(entry["digest"])
            marker.unlink(missing_ok=True)
        finally:
            os.close(fd)
    if dropped:
        _discard_staged(Path(home), dropped)
    with contextlib.suppress(OSError):
        (Path(home) / _OLD_MARKERS).rmdir()  # empty now: files/ is the OCFL root only
    if removed:
        log.warning("lantai: removed %d file(s) an interrupted media ingest left: %s",
                    len(removed), ", ".join(removed))
    return removed


__all__ = ["IngestMarker", "sweep"]
