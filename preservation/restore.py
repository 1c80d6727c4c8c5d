"""``lantai restore SNAPSHOT --repo REPO --home NEW``: a site back from its backup, proved.

Nothing existing is ever overwritten: the target must be missing or an empty folder (a
live site, or any folder with something in it, is refused before restic is asked anything).
The snapshot must be a Lantai snapshot (its tags and ``lantai-backup.json``), and must fit
on the target's disk (restic's restore size against the free space; a disk that fills all
the same is a clean error). restic restores into a fresh folder beside the target
(``.NEW.restoring-…``), removed on any failure; only a complete restore is renamed to NEW.
Then :func:`preservation.proof.prove` checks the new home against what the backup
recorded, and the first difference is the command's error.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from preservation import proof
from preservation.backup import TAG
from preservation.restic import DiskFull, Restic, Snapshot
from repo.durable import fsync_dir, write_atomically
from repo.errors import Conflict, Invalid, LantaiError, NotFound

SPARE = 16 << 20  # room left free beyond the restore size (the proof's server, logs)


def check_target(target: Path) -> None:
    """Refuse a target that is not missing or empty (nothing is touched)."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise Conflict(f"{target} exists and is not a folder; restore into an empty or new "
                       "folder (nothing was touched)")
    if target.is_dir():
        if (target / "lantai.toml").exists():
            raise Conflict(f"{target} is a live Lantai site; restore into an empty or new "
                           "folder (nothing was touched)")
        if any(target.iterdir()):
            raise Conflict(f"{target} is not empty; restore into an empty or new folder "
                           "(nothing was touched)")
    parent = target.parent
    if not parent.is_dir():
        raise NotFound(f"{parent}: no such folder")


def lantai_snapshot(restic: Restic, snapshot_id: str) -> Snapshot:
    snap = restic.snapshot(snapshot_id)
    if TAG not in snap.tags or snap.tag("site") is None:
        raise Invalid(f"snapshot {snap.short_id} is not a Lantai backup (no lantai and "
                      "site:… tags)")
    return snap


def restore(restic: Restic, snapshot_id: str, target: Path) -> tuple[Snapshot, dict[str, Any]]:
    """Restore the snapshot into ``target`` (missing or empty); its manifest."""
    target = Path(target).absolute()
    check_target(target)
    snap = lantai_snapshot(restic, snapshot_id)
    try:
        need = restic.restore_size(snap.id)
    except LantaiError:
        need = 0
    free = shutil.disk_usage(target.parent).free
    if need and need + SPARE > free:
        raise DiskFull(f"the snapshot needs {need / 2**20:.1f} MiB and {target.parent} has "
                       f"{free / 2**20:.1f} MiB free; nothing was restored")
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.restoring-"))
    try:
        try:
            restic.restore(snap.id, work)
        except DiskFull:
            raise DiskFull(f"the disk of {target.parent} filled up during the restore; "
                           "nothing was restored (the partial copy was removed)") from None
        manifest_path = work / proof.MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise Invalid(f"snapshot {snap.short_id} has no readable {proof.MANIFEST}: not a "
                          "Lantai backup") from None
        if manifest.get("site_id") != snap.tag("site"):
            raise Invalid(f"snapshot {snap.short_id}: its tags name site {snap.tag('site')}, "
                          f"its manifest site {manifest.get('site_id')}")
        for name in ("derivatives", "tmp"):  # not (or not all) backed up: made again
            (work / name).mkdir(exist_ok=True)
        manifest_path.unlink()
        if target.is_dir():
            target.rmdir()  # empty (checked); a file appearing meanwhile makes this fail
        os.rename(work, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    (target / "preservation").mkdir(exist_ok=True)
    write_atomically(target / "preservation" / "restored-from.json", (json.dumps({
        "snapshot": snap.id, "repository": restic.repository, "time": snap.time,
        "site_id": manifest.get("site_id")}, indent=1) + "\n").encode())
    return snap, manifest


__all__ = ["check_target", "lantai_snapshot", "restore"]
