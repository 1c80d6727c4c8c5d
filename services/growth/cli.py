"""``lantai growth …``: students' growth records from the command line.

Imports only :mod:`repo.cli_support` (like every command module) and this package. Every
command acts as ``--user`` (``LANTAI_USER``, else admin) and shows what that account may
see: staff anyone's record, a student account only its own.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from repo.cli_support import Context, command, echo_json, out
from repo.durable import write_atomically
from repo.repository import Repository
from repo.security import User
from services.growth import consent as consents
from services.growth.model import Consent


@click.group("growth")
def growth_group() -> None:
    """Students' growth records (成长档案): show, export as PDF, consent."""


def _ref(repo: Repository, user: User, person: str) -> str:
    """``me``: the acting account's own person (NotFound if it is tied to none)."""
    from repo.errors import NotFound
    from services.growth import records

    if person != "me":
        return person
    own = records.person_of(repo, user)
    if own is None:
        raise NotFound(records.NO_RECORD)
    return own


@growth_group.command("show")
@click.argument("person")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="The language of place names.")
@click.option("--json", "as_json", is_flag=True, help="The record as JSON.")
@command
def show(ctx: Context, person: str, lang: str, as_json: bool) -> None:
    """The growth record of PERSON (a path, an IRI, the person's key, or ``me``: the
    person the acting account is), by date."""
    from services.growth import records

    repo, user = ctx.repo, ctx.user
    person = _ref(repo, user, person)
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
    """The growth record of PERSON (as for show) as a PDF signed with the archive's seal."""
    from services.growth.pdf import growth_pdf

    user = ctx.user
    data = growth_pdf(ctx.repo, user, _ref(ctx.repo, user, person), lang)
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        return
    write_atomically(output, data)
    out.print(f"growth record ({len(data):,} bytes, signed) → {output}", markup=False)


# ---------------------------------------------------------------------- consent
@growth_group.group("consent")
def consent_group() -> None:
    """A student's consents to show records on the public student exhibit."""


def _line(c: Consent) -> str:
    state = f"revoked {c.revoked_at} by {c.revoked_by}" if c.revoked_at else "in force"
    basis = f"  (on request: {c.on_request})" if c.on_request else ""
    return (f"#{c.id:<5} {c.scope:<8} {c.record}  given {c.given_at} by {c.given_by}; "
            f"{state}{basis}")


@consent_group.command("list")
@click.argument("person")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@command
def consent_list(ctx: Context, person: str, as_json: bool) -> None:
    """The consents of PERSON (a path or IRI), newest first, revoked ones included."""
    store = consents.ConsentStore.open(ctx.home)
    for c in consents.consents_of(store, ctx.repo, ctx.user, person):
        if as_json:
            sys.stdout.write(json.dumps({**asdict(c), "active": c.active},
                                        ensure_ascii=False) + "\n")
        else:
            out.print(_line(c), markup=False)


@consent_group.command("give")
@click.argument("record")
@click.option("--person", default=None,
              help="Whose consent (a Manager acting on a student's written request).")
@click.option("--on-request", "on_request", default="",
              help="The student's written request a Manager acts on (date, how it came).")
@command
def consent_give(ctx: Context, record: str, person: str | None, on_request: str) -> None:
    """Show RECORD (a path or IRI) of a growth record on the public student exhibit."""
    store = consents.ConsentStore.open(ctx.home)
    c = consents.give(store, ctx.repo, ctx.user, record, person=person,
                      on_request=on_request)
    out.print(f"consent #{c.id}: {c.record} is shown on the student exhibit", markup=False)


@consent_group.command("revoke")
@click.argument("consent_id", type=click.IntRange(min=1))
@command
def consent_revoke(ctx: Context, consent_id: int) -> None:
    """Withdraw the consent ID: the record leaves the exhibit and every public surface."""
    store = consents.ConsentStore.open(ctx.home)
    c = consents.revoke(store, ctx.repo, ctx.user, consent_id)
    out.print(f"consent #{c.id} revoked: {c.record} has left the student exhibit (its access "
              "and state are as before the consent)", markup=False)
