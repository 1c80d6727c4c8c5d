"""``lantai files``: the file store, an OCFL 1.1 storage root (issue 14, item 1).

``migrate [--encrypt]`` moves a site made before OCFL into it; ``deposit`` retries the files
a failed deposit left in staging; ``objects``, ``show OBJECT`` and ``versions OBJECT`` list
what is there, as any OCFL tool would see it (they read the inventories, nothing else).
Managers only: object ids are record IRIs, some of records that are closed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click

from repo.cli_support import Context, command, echo_json, out, progress_bar, warn
from repo.errors import Forbidden, NotFound


def _manager(ctx: Context) -> None:
    if "Manager" not in ctx.user.roles:
        raise Forbidden(f"{ctx.user.name} may not manage the file store (needs Manager)")


@contextlib.contextmanager
def _no_auto_migration() -> Iterator[None]:
    """Open the repository without the migration on open (the command runs it itself)."""
    from preservation import deposit

    before, deposit.AUTO_MIGRATE = deposit.AUTO_MIGRATE, False
    try:
        yield
    finally:
        deposit.AUTO_MIGRATE = before


@click.group(name="files")
def files_group() -> None:
    """The file store (an OCFL 1.1 storage root): migrate, list objects and versions."""


@files_group.command("migrate")
@click.option("--encrypt", is_flag=True,
              help="Seal every file (AES-256-GCM) on the way; turns files_encrypted on.")
@command
def migrate_cmd(ctx: Context, encrypt: bool) -> None:
    """Move the files of a site made before OCFL (files/sha256) into OCFL objects."""
    from preservation.migrate import MigrationIncomplete, legacy_files, migrate

    with _no_auto_migration():
        repo = ctx.repo
    _manager(ctx)
    total = len(legacy_files(ctx.home))
    with progress_bar("Migrating files into OCFL") as bar:
        task = bar.add_task("migrate", total=total or None)
        report = migrate(repo, encrypt=encrypt,
                         progress=lambda i, n: bar.update(task, completed=i, total=n))
    out.print(f"{report.staged} file(s) staged, {report.deposited} deposited in "
              f"{report.versions} new version(s), {report.checked} checked", markup=False)
    problems = ([f"damaged (bytes differ from the name): {d}" for d in report.damaged]
                + [f"named by a record but stored nowhere: {d}" for d in report.missing]
                + [f"{r}: {why}" for r, why in report.failed.items()])
    for line in problems:
        warn(line)
    if problems:
        raise MigrationIncomplete(f"{len(problems)} problem(s); the old folders were kept "
                                  "(fix them and run lantai files migrate again)")


@files_group.command("deposit")
@command
def deposit_cmd(ctx: Context) -> None:
    """Deposit the staged files that records name (after a deposit failed)."""
    from preservation.deposit import Depositor

    repo = ctx.repo
    _manager(ctx)
    depositor = Depositor(ctx.home, repo.settings)
    try:
        report = depositor.retry(repo)
    finally:
        depositor.close()
    out.print(f"{report.deposited} file(s) deposited in {report.versions} new version(s)",
              markup=False)
    for record, why in report.failed.items():
        warn(f"{record}: {why}")
    if report.failed:
        raise NotFound(f"{len(report.failed)} record(s) could not be deposited")


def _root(ctx: Context):
    from preservation.deposit import storage_root

    _manager(ctx)
    return storage_root(ctx.home)


@files_group.command("objects")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@command
def objects_cmd(ctx: Context, as_json: bool) -> None:
    """List the OCFL objects: id, head version, number of files, folder."""
    root = _root(ctx)
    for object_id in sorted(root.objects()):
        state = root.logical_state(object_id)
        row = {"id": object_id, "head": root.head(object_id), "files": len(state),
               "path": str(root.object_path(object_id).relative_to(root.root))}
        if as_json:
            echo_json(row)
        else:
            out.print(f"{object_id}  v{row['head']}  {row['files']} file(s)  {row['path']}",
                      markup=False)


@files_group.command("show")
@click.argument("object_id", metavar="OBJECT")
@click.option("--version", "version", type=int, default=None, help="A version (default head).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
@command
def show_cmd(ctx: Context, object_id: str, version: int | None, as_json: bool) -> None:
    """The files of an object (logical path, SHA-256 of the stored bytes, content path)."""
    root = _root(ctx)
    if not root.has_object(object_id):
        raise NotFound(f"no OCFL object {object_id}")
    state = root.logical_state(object_id, version)
    base = root.object_path(object_id)
    rows = [{"path": p, "sha256": d,
             "content": str(root.content_path(object_id, p, version).relative_to(base))}
            for p, d in sorted(state.items())]
    if as_json:
        echo_json({"id": object_id, "version": version or root.head(object_id), "files": rows},
                  indent=1)
        return
    out.print(f"{object_id} (v{version or root.head(object_id)}) in {base}", markup=False)
    for row in rows:
        out.print(f"  {row['path']}  {row['sha256'][:16]}…  {row['content']}", markup=False)


@files_group.command("versions")
@click.argument("object_id", metavar="OBJECT")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
@command
def versions_cmd(ctx: Context, object_id: str, as_json: bool) -> None:
    """The versions of an object: number, time, files, message."""
    root = _root(ctx)
    if not root.has_object(object_id):
        raise NotFound(f"no OCFL object {object_id}")
    versions = root.versions(object_id)
    if as_json:
        echo_json(versions, indent=1)
        return
    for v in versions:
        out.print(f"v{v['version']}  {v['created']}  {v['files']} file(s)  {v['message']}",
                  markup=False)
