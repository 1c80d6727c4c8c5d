"""``lantai export ead PATH [--output FILE]``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from repo.cli_support import Context, command, err, progress_bar
from repo.durable import atomic_output


@click.command(name="ead")
@click.argument("path")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Write to FILE (default: standard output).")
@click.option("--validate", is_flag=True,
              help="Check the result against the EAD 2002 schema (needs the neuxml package).")
@command
def ead_export(ctx: Context, path: str, output: Path | None, validate: bool) -> None:
    """Export PATH and everything inside as an EAD 2002 finding aid (namespaced)."""
    from repo.exporters.ead import export_ead

    if output is None:
        data = _export_bytes(ctx, path)
        _check(validate, data)
        sys.stdout.buffer.write(data)
        return
    with atomic_output(output) as fh, progress_bar(f"Exporting {path}") as bar:
        task = bar.add_task("components", total=None)  # written to a regular file only
        n = export_ead(ctx.repo, ctx.user, path, fh, progress=lambda: bar.advance(task))
    if validate:
        _check(True, output)
    err.print(f"wrote {n} component(s) to {output}", markup=False)


def _export_bytes(ctx: Context, path: str) -> bytes:
    import io

    from repo.exporters.ead import export_ead

    buf = io.BytesIO()
    export_ead(ctx.repo, ctx.user, path, buf)
    return buf.getvalue()


def _check(validate: bool, data: bytes | Path) -> None:
    if not validate:
        return
    from repo.errors import Invalid
    from repo.exporters.schema import validate as check

    problems = check(data)
    if problems:
        raise Invalid(f"the export does not validate against EAD 2002: {problems[0]}")
