"""``lantai growth …``: students' growth records from the command line.

Imports only :mod:`repo.cli_support` (like every command module) and this package. Every
command acts as ``--user`` (``LANTAI_USER``, else admin) and shows what that account may
see: staff anyone's record, a student account only its own.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click

from repo.cli_support import Context, command, echo_json, out
from repo.durable import write_atomically


@click.group("growth")
def growth_group() -> None:
    """Students' growth records (成长档案): show, export as PDF, consent."""


@growth_group.command("show")
@click.argument("person")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="The language of place names.")
@click.option("--json", "as_json", is_flag=True, help="The record as JSON.")
@command
def show(ctx: Context, person: str, lang: str, as_json: bool) -> None:
    """The growth record of PERSON (a path, an IRI or the person's key), by date."""
    from services.growth import records

    repo, user = ctx.repo, ctx.user
    entries = records.growth_record(repo, user, person, lang=lang)
    iri = records.record_person(repo, user, person)
    if as_json:
        echo_json({"person": iri, "entries": [asdict(e) for e in entries]})
        return
    for e in entries:
        when = e.begin + (f"/{e.end}" if e.end and e.end != e.begin else "")
        places = f" @ {', '.join(e.places)}" if e.places else ""
        out.print(f"{when or '-':<17} [{e.strand or '-'}] {records.in_lang(e.title, lang)}"
                  f"{places}  {e.path}", markup=False)
        for ev in e.evidence:
            out.print(f"{'':<17}   {ev.refcode or '-'}  {records.in_lang(ev.title, lang)}"
                      f"  ({ev.access}, {ev.state})  {ev.path}", markup=False)
    out.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}", markup=False)


@growth_group.command("pdf")
@click.argument("person")
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Where to write the signed PDF ('-': standard output).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@command
def pdf(ctx: Context, person: str, output: Path, lang: str) -> None:
    """The growth record of PERSON as a PDF signed with the archive's seal."""
    from services.growth.pdf import growth_pdf

    data = growth_pdf(ctx.repo, ctx.user, person, lang)
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        return
    write_atomically(output, data)
    out.print(f"growth record ({len(data):,} bytes, signed) → {output}", markup=False)
