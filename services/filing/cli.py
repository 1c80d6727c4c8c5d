"""``lantai filing …``: the filing loop from the command line.

Imports only :mod:`repo.cli_support` (like every command module) and this package.
"""

from __future__ import annotations

import json
import sys

import click

from repo.cli_support import Context, command, out
from services.filing import units
from services.filing.store import FilingStore


@click.group("filing")
def filing_group() -> None:
    """The yearly filing loop (归档): units, plans, submissions, review, rates, report."""


def store_of(ctx: Context) -> FilingStore:
    return FilingStore.open(ctx.home)


@filing_group.group("units")
def units_group() -> None:
    """Filing units (departments: corporate bodies of the repository) and their officers."""


@units_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@command
def units_list(ctx: Context, as_json: bool) -> None:
    """List the filing units: code, name, corporate body, notice address."""
    for u in store_of(ctx).units():
        if as_json:
            sys.stdout.write(json.dumps(u.__dict__, ensure_ascii=False) + "\n")
        else:
            out.print(f"{u.code:<16} {u.name_zh}  {u.name_en}  {u.agent}  {u.email}",
                      markup=False)


@units_group.command("add")
@click.argument("agent")
@click.argument("code")
@click.option("--email", default="", help="Where the unit's notices are e-mailed.")
@command
def units_add(ctx: Context, agent: str, code: str, email: str) -> None:
    """Mark the corporate body AGENT (a path or IRI) as the filing unit CODE."""
    unit = units.add_unit(ctx.repo, store_of(ctx), ctx.user, agent, code, email=email)
    out.print(f"{unit.code}: {unit.name_zh} ({unit.agent}) files into the archive",
              markup=False)


@units_group.command("appoint")
@click.argument("user")
@click.argument("code")
@command
def units_appoint(ctx: Context, user: str, code: str) -> None:
    """Make the account USER a filing officer of the unit CODE (Managers)."""
    units.appoint(ctx.repo, store_of(ctx), ctx.user, user, code)
    out.print(f"{user} files for {code}", markup=False)
