"""``lantai import ead|eac FILE...``: finding aids and authority records into the repository.

Each file is one all-or-nothing ingest; the first file that fails stops the command with
one line, ``lantai: error: FILE:LINE: reason``, and a non-zero exit (5 for a file that is
not acceptable), leaving the repository as that file found it. Files before it stay
imported (each was complete), and the command says which.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click
from rich.progress import Progress, TaskID

from repo.cli_support import Context, command, err, out, progress_bar
from repo.importers.agents import AgentIndex


@click.group(name="import")
def import_group() -> None:
    """Import finding aids (EAD 2002) and authority records (EAC-CPF)."""


def _warnings(warnings: list[str], limit: int = 10) -> None:
    for w in warnings[:limit]:
        err.print(f"lantai: warning: {w}", markup=False)
    if len(warnings) > limit:
        err.print(f"lantai: warning: … and {len(warnings) - limit} more", markup=False)


def _set_total(bar: Progress, task: TaskID, total: int) -> None:
    bar.update(task, total=total)


@import_group.command(name="ead")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--into", default="/", show_default=True,
              help="The container (path or IRI) the finding aids go into.")
@click.option("-m", "--message", default=None, help="Revision message.")
@command
def import_ead_cmd(ctx: Context, files: tuple[Path, ...], into: str,
                   message: str | None) -> None:
    """Import EAD 2002 finding aids (namespaced or not), each completely or not at all."""
    from repo.importers.run import import_ead

    repo, user = ctx.repo, ctx.user
    index = AgentIndex(repo)
    for path in files:
        with progress_bar(f"Importing {path.name}") as bar:
            task = bar.add_task("components", total=None)
            report = import_ead(repo, user, path, into=into, index=index, message=message,
                                on_total=partial(_set_total, bar, task),
                                tick=partial(bar.advance, task))
        _warnings(report.warnings)
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.created.items()))
        out.print(f"imported {path} → {report.top}: {report.components} component(s) "
                  f"({kinds}); {report.objects} object(s) created", markup=False)
        if report.internal:
            err.print(f"lantai: {path}: {report.internal}", markup=False)


@import_group.command(name="eac")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-m", "--message", default=None, help="Revision message.")
@command
def import_eac_cmd(ctx: Context, files: tuple[Path, ...], message: str | None) -> None:
    """Import EAC-CPF authority records (persons, corporate bodies, families) into /agents."""
    from repo.importers.eac import import_eac

    repo, user = ctx.repo, ctx.user
    index = AgentIndex(repo)
    with progress_bar("Importing authority records") as bar:
        task = bar.add_task("records", total=len(files))
        for path in files:
            report = import_eac(repo, user, path, index=index, message=message)
            bar.advance(task)
            _warnings(report.warnings)
            out.print(f"imported {path} → {report.path} ({report.type}); "
                      f"{report.objects} object(s) {report.action}", markup=False)
