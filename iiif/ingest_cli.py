"""``lantai ingest media PATH FILE... [--json]`` and ``lantai ocr [PATH]`` (registered in
``repo/cli.py``; imports only ``repo.cli_support``)."""

from __future__ import annotations

from pathlib import Path

import click

from repo.cli_support import Context, command, echo_json, err, out, progress_bar
from repo.errors import Invalid


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
        echo_json(result.as_json())
        return
    for a in result.attached:
        line = f"{a.path}  {a.mime}"
        if a.image_service:
            line += f"  {a.image_service}"
        elif a.duration:
            line += f"  {a.duration:g} s"
        out.print(line, markup=False)
    out.print(f"manifest: {result.manifest}", markup=False)


@click.command(name="ocr")
@click.argument("path", required=False)
@click.option("--all", "whole_site", is_flag=True,
              help="Every page scan of the site (instead of a PATH).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="OCR processes (one per core).")
@click.option("--force", is_flag=True, help="Recognise pages again that have OCR already.")
@command
def ocr_cmd(ctx: Context, path: str | None, whole_site: bool, workers: int,
            force: bool) -> None:
    """OCR the page scans of the record at PATH and inside it (or of the whole site with
    --all) that have no OCR yet, then re-index them in the staff and public catalogs.

    Also how OCR made on demand by the public server (for a page's annotations) reaches
    the catalog. Needs the Editor or Manager role on the records.
    """
    from iiif.texts import page_scans, recognise_scans

    if bool(path) == whole_site:
        raise click.UsageError("give a PATH, or --all for the whole site")
    repo = ctx.repo
    scans = page_scans(repo, ctx.user, None if whole_site else path)  # may not: no bar
    with progress_bar("OCR") as bar:
        task = bar.add_task("ocr", total=None)
        run = recognise_scans(repo, scans, workers=workers, force=force,
                              progress=lambda n, total: bar.update(task, completed=n,
                                                                   total=total))
    for scan_path, message in run.failed.items():
        err.print(f"lantai: warning: {scan_path}: {message}", markup=False)
    out.print(f"{run.recognised} page(s) recognised, {run.pages} page scan(s) in all; "
              f"catalog: {run.staff} staff and {run.public} public document(s) updated",
              markup=False)
    if run.failed:
        raise Invalid(f"{len(run.failed)} page scan(s) could not be recognised")
