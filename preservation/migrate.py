"""Move a site made before OCFL (``files/sha256/ab/cd/<hex>``) into its storage root.

Run by ``lantai files migrate [--encrypt]``, and on the first writable open of such a site
(:func:`preservation.deposit.attach`). Three steps, each safe to interrupt and run again:

1. **stage**: each old file is renamed into ``{home}/preservation/migrating/<hex>`` (one
   rename: the file is in one place or the other, never lost), stored by ``FileStore.put``
   (sealed when the site's files are encrypted, or with ``--encrypt``), checked against its
   name, and only then unlinked. A file whose bytes no longer match its name stays in
   ``migrating/`` and is reported: it is evidence, not something to store under a name it
   does not have.
2. **deposit**: every record that holds files gets its OCFL object
   (:class:`preservation.deposit.Depositor`); files no record names stay in staging.
3. **check, then clean**: every deposited file's stored bytes are hashed against the object's
   inventory; only when all check, nothing is missing and nothing is left in ``migrating/``
   are the old folders (``files/sha256``, ``files/tmp``, ``files/ingesting``) removed.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preservation.deposit import (
    LEGACY_NAMES,
    Depositor,
    records_holding_files,
    storage_root,
)
from preservation.ocfl import sha256_file
from repo.durable import fsync_dir
from repo.errors import LantaiError, NotFound

MIGRATING = Path("preservation") / "migrating"
DIGEST_CHARS = frozenset("0123456789abcdef")


@dataclass
class MigrationReport:
    """What :func:`migrate` did."""

    staged: int = 0  # old files stored again (sealed or not) in staging
    versions: int = 0
    deposited: int = 0
    checked: int = 0  # deposited files whose bytes were hashed against their inventory
    damaged: list[str] = field(default_factory=list)  # old files whose bytes fail their name
    missing: list[str] = field(default_factory=list)  # digests named by records, stored nowhere
    failed: dict[str, str] = field(default_factory=dict)  # record → reason
    cleaned: bool = False  # the old folders are gone

    @property
    def ok(self) -> bool:
        return self.cleaned and not (self.damaged or self.missing or self.failed)


class MigrationIncomplete(LantaiError):
    """The old layout was kept: some file did not make it (named in the message)."""

    exit_code = 5


def legacy_files(home: Path) -> list[Path]:
    """The files of the old layout still in place, and those a crash left half-way."""
    found = []
    for folder in (home / MIGRATING, home / "files" / "sha256"):
        if folder.is_dir():
            found += [p for p in folder.rglob("*") if p.is_file()]
    return found


def _stage(store: Any, home: Path, path: Path, report: MigrationReport) -> None:
    name = path.name
    if len(name) != 64 or not set(name) <= DIGEST_CHARS:
        report.damaged.append(str(path.relative_to(home)))
        return
    migrating = home / MIGRATING
    migrating.mkdir(parents=True, exist_ok=True)
    held = migrating / name
    if path != held:
        os.replace(path, held)
        fsync_dir(migrating)
    if sha256_file(held) != name:  # not stored under a name its bytes do not have
        report.damaged.append(f"sha256:{name}")
        return
    store.put(held)
    held.unlink()
    report.staged += 1


def _check(depositor: Depositor, records: set[str], report: MigrationReport) -> None:
    """Hash each record's current files against its inventory."""
    root = depositor.root
    for record in sorted(records):
        if not root.has_object(record):
            continue
        for logical, digest in root.logical_state(record).items():
            report.checked += 1
            if sha256_file(root.content_path(record, logical)) != digest:
                report.failed[record] = f"{logical} does not match its inventory"


def migrate(repository: Any, *, encrypt: bool = False,
            progress: Callable[[int, int], None] | None = None) -> MigrationReport:
    """Migrate the site of ``repository`` (writable) into its OCFL storage root."""
    from repo.config import write_settings
    from repo.files import FileStore

    home = Path(repository.home)
    settings = repository.settings
    if encrypt and not settings.files_encrypted:
        settings = dataclasses.replace(settings, files_encrypted=True)
        write_settings(home, settings)
        repository.settings = repository.site.settings = settings
    storage_root(home)  # beside the old folders until they go
    report = MigrationReport()
    todo = legacy_files(home)
    total = len(todo)
    with FileStore.for_site(home, settings) as store:
        for i, path in enumerate(todo, 1):
            _stage(store, home, path, report)
            if progress:
                progress(i, total)
        depositor = Depositor(home, settings, store=store)
        records = records_holding_files(repository)
        done = depositor.deposit(repository, records)
        report.versions, report.deposited = done.versions, done.deposited
        report.failed.update(done.failed)
        for digest in done.missing:
            try:
                store.info(digest)
            except NotFound:
                report.missing.append(digest)
        _check(depositor, records, report)
    if not (report.damaged or report.missing or report.failed) and not legacy_files(home):
        for name in LEGACY_NAMES:
            shutil.rmtree(home / "files" / name, ignore_errors=True)
        shutil.rmtree(home / MIGRATING, ignore_errors=True)
        fsync_dir(home / "files")
        report.cleaned = True
    return report


__all__ = ["MigrationIncomplete", "MigrationReport", "legacy_files", "migrate"]
