"""``lantai repair --repo REPO [FILES…]``: damaged files of the OCFL root back from backups.

The damaged files are those ``lantai fixity`` finds (:func:`preservation.fixity.check`:
content of an OCFL object missing, cut short or changed), or those of the paths given. For each, the
snapshots of this site are tried newest first: the file's bytes (``restic dump``) go to a
temporary file beside it, and only bytes whose digest is the one the inventory records are
renamed over it (fsynced, then the folder): a damaged backup copy is never put back, and a
file no snapshot holds good stays as it is and is named in the error. Each repair is
recorded as a PREMIS event (recovery, ``rec``) on its object (:mod:`preservation.events`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from preservation import proof
from preservation.backup import site_tags
from preservation.restic import Restic, ResticError
from repo.durable import fsync_dir
from repo.errors import LantaiError, NotFound


@dataclass(frozen=True)
class Damaged:
    """One content file of an OCFL object that does not check."""

    object_path: str  # the object's folder, relative to the storage root
    content_path: str  # relative to the object's folder (``v2/content/…``)
    digest: str  # what the inventory records
    algorithm: str = "sha256"
    problem: str = ""

    @property
    def rel(self) -> str:
        return f"{self.object_path}/{self.content_path}"


@dataclass
class RepairReport:
    repaired: list[tuple[Damaged, str]] = field(default_factory=list)  # (file, snapshot)
    unrepaired: list[Damaged] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unrepaired


def _inventory(folder: Path) -> dict:
    return json.loads((folder / "inventory.json").read_bytes())


def find_damaged(home: Path, only: Iterable[str] = ()) -> list[Damaged]:
    """The content files of the storage root ``lantai fixity`` finds missing or changed
    (:func:`preservation.fixity.check`, which records its events), or, with ``only``,
    those of these files (``files/…`` paths) that do."""
    from preservation.fixity import check

    home = Path(home)
    root = home / "files"
    wanted = {p.strip("/").removeprefix("files/") for p in only}
    out: list[Damaged] = []
    for problem in check(home).problems:
        stored = problem.stored or ""
        if problem.object_id is None or not problem.digest or not stored.startswith("files/"):
            continue  # staging, an inventory, a file no inventory names: not a content repair
        rel = stored.removeprefix("files/")
        if wanted and rel not in wanted:
            continue
        folder = _object_folder(root, root / rel)
        if folder is None:
            continue
        algorithm, _, digest = problem.digest.partition(":")
        out.append(Damaged(folder.relative_to(root).as_posix(),
                           (root / rel).relative_to(folder).as_posix(), digest, algorithm,
                           problem.problem))
    return sorted(set(out), key=lambda d: d.rel)


def _object_folder(root: Path, path: Path) -> Path | None:
    """The OCFL object folder holding ``path`` (the nearest one with its declaration)."""
    for folder in path.parents:
        if folder == root or root not in folder.parents:
            return None
        if any(folder.glob("0=ocfl_object_*")):
            return folder
    return None


def _put_back(restic: Restic, snapshot_id: str, target: Path, damaged: Damaged) -> bool:
    """Dump the file from the snapshot beside ``target``; rename it over only if good."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".repair")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            try:
                restic.dump(snapshot_id, f"/files/{damaged.rel}", fh)
            except (NotFound, ResticError):
                return False
            fh.flush()
            os.fsync(fh.fileno())
        h = hashlib.new(damaged.algorithm)
        with open(tmp, "rb") as fh:
            for chunk in iter(lambda: fh.read(proof.CHUNK), b""):
                h.update(chunk)
        if h.hexdigest() != damaged.digest:
            return False
        os.chmod(tmp, 0o444)
        os.replace(tmp, target)
        fsync_dir(target.parent)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _object_id(folder: Path) -> str:
    try:
        return str(_inventory(folder).get("id", folder.name))
    except (OSError, ValueError):
        return folder.name


def _logical_path(folder: Path, damaged: Damaged) -> str:
    """The head version's logical path of the repaired content (else its content path)."""
    try:
        inventory = _inventory(folder)
        state = inventory["versions"][inventory["head"]]["state"]
        return str(sorted(state[damaged.digest])[0])
    except (OSError, ValueError, KeyError, IndexError):
        return damaged.content_path


def _record_event(home: Path, damaged: Damaged, object_id: str, snapshot: str) -> None:
    """A PREMIS recovery event on the object (part fixity's events store)."""
    from preservation import events

    events.record(home, event_type="repair", object_id=object_id,
                  file=_logical_path(home / "files" / damaged.object_path, damaged),
                  digest=f"{damaged.algorithm}:{damaged.digest}", outcome="success",
                  detail=f"restored from restic snapshot {snapshot} ({damaged.problem})")


def repair(home: Path, restic: Restic, *, only: Iterable[str] = (),
           say: Callable[[str], None] = lambda _m: None) -> RepairReport:
    """Put back every damaged file (or those of ``only``) from the newest good copy."""
    home = Path(home)
    damaged = find_damaged(home, only)
    report = RepairReport()
    if not damaged:
        return report
    snapshots = list(reversed(restic.snapshots(tags=site_tags(home))))
    if not snapshots:
        raise NotFound(f"no snapshot of this site in {restic.repository}")
    root = home / "files"
    for item in damaged:
        for snap in snapshots:
            if _put_back(restic, snap.id, root / item.rel, item):
                report.repaired.append((item, snap.short_id))
                _record_event(home, item, _object_id(root / item.object_path), snap.id)
                say(f"repaired files/{item.rel} ({item.problem}) from snapshot {snap.short_id}")
                break
        else:
            report.unrepaired.append(item)
    return report


class RepairFailed(LantaiError):
    """Some damaged files had no good copy in any snapshot."""


__all__ = ["Damaged", "RepairFailed", "RepairReport", "find_damaged", "repair"]
