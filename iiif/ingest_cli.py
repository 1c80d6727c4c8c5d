"""``lantai ingest media PATH FILE... [--json]`` (registered at the end of ``repo/cli.py``)."""

from __future__ import annotations

from pathlib import Path

import click

from repo.cli import Context, _echo_json, command, out, progress_bar


@click.group(name="ingest")
def ingest_group() -> None:
    """Attach digitised files to records."""


@ingest_group.command(name="media")
@click.argument("path")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--private", is_flag=True,
              help="Keep the new instantiations private (default: they follow the record's "
                   "workflow state, so a published record's scans are published; that needs "
                   "the Reviewer role).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
@command
def ingest_media_cmd(ctx: Context, path: str, files: tuple[Path, ...], private: bool,
                     as_json: bool) -> None:
    """Attach scans (TIFF, JPEG, PNG, PDF pages), audio and video to the record at PATH.

    Transcripts NAME.LANG.vtt and a table of contents NAME.json go with the recording NAME.*
    of the same batch. Every file is checked first; the batch is stored all or nothing.
    Prints each image's IIIF Image API base URL and the record's manifest URL.
    """
    from iiif.media import ingest_media

    repo = ctx.repo
    if as_json or len(files) == 1:
        result = ingest_media(repo, ctx.user, path, list(files), private=private)
    else:
        with progress_bar("Ingesting media") as bar:
            task = bar.add_task("media", total=None)
            result = ingest_media(repo, ctx.user, path, list(files), private=private,
                                  progress=lambda n, total: bar.update(task, completed=n,
                                                                       total=total))
    if as_json:
        _echo_json(result.as_json())
        return
    for a in result.attached:
        line = f"{a.path}  {a.mime}"
        if a.image_service:
            line += f"  {a.image_service}"
        elif a.duration:
            line += f"  {a.duration:g} s"
        out.print(line, markup=False)
    out.print(f"manifest: {result.manifest}", markup=False)
