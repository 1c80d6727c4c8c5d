"""``lantai repair --repo REPO [FILES…]``: damaged files of the OCFL root back from backups.

The damaged files are those ``lantai fixity`` finds (:func:`preservation.fixity.check` once
it is there; until then each object's content checked against its own inventory, as
:func:`preservation.proof.check_object` does), or the content paths given. For each, the
snapshots of this site are tried newest first: the file's bytes (``restic dump``) go to a
temporary file beside it, and only bytes whose digest is the one the inventory records are
renamed over it (fsynced, then the folder): a damaged backup copy is never put back, and a
file no snapshot holds good stays as it is and is named in the error. Each repair is
recorded as a PREMIS event when the events store is there (:mod:`preservation.events`).
"""

from __future__ import annotations

import contextlib
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
    """Every content file of the storage root that is missing or does not match its
    inventory (or, with ``only``, those of these files that do not check)."""
    root = Path(home) / "files"
    wanted = {p.strip("/") for p in only}
    for prefix in ("files/",):
        wanted = {p[len(prefix):] if p.startswith(prefix) else p for p in wanted}
    out: list[Damaged] = []
    for folder in proof.ocfl_objects(root):
        obj = folder.relative_to(root).as_posix()
        try:
            inventory = _inventory(folder)
        except (OSError, ValueError):
            continue  # an inventory itself damaged: fixity reports it; not a content repair
        algorithm = inventory.get("digestAlgorithm", "sha256")
        for digest, paths in inventory.get("manifest", {}).items():
            for rel in paths:
                if wanted and f"{obj}/{rel}" not in wanted:
                    continue
                path = folder / rel
                if not path.is_file():
                    out.append(Damaged(obj, rel, digest, algorithm, "missing"))
                elif proof.file_sha(path, algorithm) != digest:
                    out.append(Damaged(obj, rel, digest, algorithm, "changed"))
    return sorted(out, key=lambda d: d.rel)


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


def _record_event(home: Path, damaged: Damaged, object_id: str, snapshot: str) -> None:
    """A PREMIS repair event, when part fixity's events store is there."""
    try:
        from preservation import events
    except ImportError:
        return
    record = getattr(events, "record", None)
    if record is None:
        return
    # another signature (TypeError): the repair stands, the event is not recorded
    with contextlib.suppress(TypeError):
        record(home, event_type="repair", object_id=object_id, file=damaged.content_path,
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
