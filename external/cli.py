"""``lantai engine status|sync|check`` (owned by the `mirror` part of issue 15).

The engine's modules (and ``requests``) are imported by the commands, not by every
``lantai`` command that loads this group. ``status`` and ``check`` only read (the local
publication store opened read-only, beside a running server or a writer); ``sync`` opens
the site for writing, as any change does.
Exit codes: 0 all is well; 9 something is pending, the generations differ, or the engine
does not hold exactly the local publication; 10 the engine cannot be reached (EngineError);
the repository's own codes otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from repo.cli_support import Context, command, echo_json, out, progress_bar

if TYPE_CHECKING:
    from external.protocol import Engine
    from repo.handles import ReadHandle

DIFFERS = 9  # exit code: the engine is behind (pending, generation) or differs


def _engine(home: Path) -> tuple[Engine, object]:
    from external.protocol import Engine, EngineError
    from repo.config import read_settings

    settings = read_settings(home)
    engine = Engine.from_settings(settings, timeout=30.0)
    if engine is None:
        raise EngineError(f"{home}: no publication_endpoint in lantai.toml: the publication "
                          "is served from the embedded store")
    return engine, settings


def _local_public(home: Path) -> ReadHandle:
    from repo.handles import ReadHandle

    return ReadHandle(home / "publication", follow=False)


@click.group("engine")
def engine_group() -> None:
    """The publication dataset in an external SPARQL 1.1 engine (settings
    publication_endpoint …; see docs/deploy.md)."""


@engine_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@command
def status_cmd(ctx: Context, as_json: bool) -> None:
    """The engine, its generation and graphs against the local publication, what is
    pending (exit 9 when anything is pending or the generations differ)."""
    from external.mirror import EVERYTHING, last_error, local_graphs, pending, prefix_of, quiet
    from external.protocol import EngineError
    from repo.store import read_generation

    engine, settings = _engine(ctx.home)
    waiting = pending(ctx.home)
    local_gen = read_generation(ctx.home)
    prefix = prefix_of(settings)
    with _local_public(ctx.home) as handle:
        local = len(local_graphs(handle.store, prefix))
    info: dict[str, object] = {"endpoint": engine.name, "local_generation": local_gen,
                               "pending": len(waiting), "local_graphs": local,
                               "rebuild_pending": EVERYTHING in waiting,
                               "last_error": last_error(ctx.home),
                               "paused": quiet(ctx.home)}
    try:
        info["engine_generation"] = engine.generation()
        info["engine_graphs"] = len(engine.graphs(prefix))
        info["reachable"] = True
    except EngineError as exc:
        info.update(engine_generation=None, engine_graphs=None, reachable=False,
                    error=exc.message)
    behind = bool(waiting) or info["engine_generation"] != local_gen
    info["in_step"] = not behind
    if as_json:
        echo_json(info, indent=2)
    else:
        out.print(f"engine      {engine.name}")
        out.print(f"generation  local {local_gen or '-'}  engine "
                  f"{info['engine_generation'] if info['reachable'] else 'unreachable'}")
        out.print(f"graphs      local {local}  engine "
                  f"{info['engine_graphs'] if info['reachable'] else '?'}")
        shown = [i for i in waiting if i != EVERYTHING][:5]
        extra = " (a rebuild not yet sent)" if EVERYTHING in waiting else ""
        out.print(f"pending     {len([i for i in waiting if i != EVERYTHING])}{extra}"
                  + (f": {', '.join(shown)}" + (" …" if len(waiting) > 5 else "")
                     if shown else ""))
        if info.get("error"):
            out.print(f"error       {info['error']}")
        elif info["last_error"] and waiting:
            out.print(f"last error  {info['last_error']}")
        if info["paused"]:
            out.print("automatic tries paused for a minute after a timeout (sync still tries)")
        if behind:
            out.print("the engine is behind the local publication: run `lantai engine sync`")
    engine.close()
    if not info["reachable"]:
        raise EngineError(str(info["error"]))
    if behind:
        sys.exit(DIFFERS)


@engine_group.command("sync")
@click.option("--full", is_flag=True,
              help="Write every graph again, and drop what the engine has that the local "
                   "publication has not.")
@command
def sync_cmd(ctx: Context, full: bool) -> None:
    """Write what is pending to the engine (every graph with --full), then its generation."""
    from external.mirror import sync
    from external.protocol import EngineError

    _engine(ctx.home)  # a site without an engine: one clear line
    with progress_bar("Writing the publication to the engine") as bar:
        task = bar.add_task("sync", total=None)
        report = sync(ctx.repo, full=full,
                      progress=lambda i, total: bar.update(task, completed=i, total=total))
    if report.error:
        raise EngineError(f"{report.error} ({report.pending} graph(s) still pending)")
    out.print(f"engine in step: {report.written} graph(s) written, {report.dropped} dropped, "
              f"generation {report.generation or '-'}")


@engine_group.command("check")
@command
def check_cmd(ctx: Context) -> None:
    """Does the engine hold exactly the local publication? Graph by graph (exit 9 naming the
    first graphs that differ)."""
    from external.mirror import check, prefix_of

    engine, settings = _engine(ctx.home)
    with _local_public(ctx.home) as handle, \
            progress_bar("Comparing the engine with the local publication") as bar:
        task = bar.add_task("check", total=None)
        report = check(engine, ctx.home, handle.store, prefix_of(settings),
                       progress=lambda i, total: bar.update(task, completed=i, total=total))
    engine.close()
    out.print(f"graphs: local {report.local}, engine {report.engine}; generation: local "
              f"{report.local_generation or '-'}, engine {report.engine_generation or '-'}")
    problems = []
    for label, iris in (("missing from the engine", report.missing),
                        ("in the engine but not published", report.extra),
                        ("different in the engine", report.differing)):
        if iris:
            problems.append(f"{len(iris)} {label}: {', '.join(iris[:3])}"
                            + (" …" if len(iris) > 3 else ""))
    if report.local_generation != report.engine_generation:
        problems.append("the generations differ")
    if problems:
        for line in problems:
            out.print(line)
        sys.exit(DIFFERS)
    out.print("the engine holds exactly the local publication")
