"""``lantai requests …`` and ``lantai signing …``: the request service from the command line.

Imports only :mod:`repo.cli_support` (like every command module) and this package.
"""

from __future__ import annotations

import json
import sys

import click

from repo.cli_support import Context, command, out
from services.requests.store import RequestStore


@click.group("requests")
def requests_group() -> None:
    """Record requests (查档): list, purge personal data, write issued copies."""


def _store(ctx: Context) -> RequestStore:
    return RequestStore(ctx.home, ctx.repo.settings)


@requests_group.command("list")
@click.option("--status", default=None, help="Only requests in this state.")
@click.option("--workroom", default=None, help="Only this workroom's requests.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@command
def list_requests(ctx: Context, status: str | None, workroom: str | None, limit: int,
                  as_json: bool) -> None:
    """List requests: number, state, kind, workroom (never personal data)."""
    rows, total = _store(ctx).query(status=status, workroom=workroom, sort="created",
                                    limit=limit)
    for r in rows:
        facts = {"id": r.id, "status": r.status, "type": r.kind, "workroom": r.workroom,
                 "channel": r.channel, "urgent": r.urgent, "created": r.created, "due": r.due,
                 "assignee": r.assignee}
        if as_json:
            sys.stdout.write(json.dumps(facts, ensure_ascii=False) + "\n")
        else:
            out.print(f"{r.id}  {r.status:<11} {r.kind:<10} {r.workroom}  {r.created}",
                      markup=False)
    if not as_json:
        out.print(f"{len(rows)} of {total} request(s)", markup=False)


@requests_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Only say which requests would be purged.")
@command
def purge(ctx: Context, dry_run: bool) -> None:
    """Purge the personal data of closed requests past the retention period
    (requests_retention_days in lantai.toml)."""
    store = _store(ctx)
    due = store.purgeable()
    for request_id in due:
        if not dry_run:
            store.purge(request_id, actor=ctx.user_name)
        out.print(("would purge " if dry_run else "purged ") + request_id, markup=False)
    out.print(f"{len(due)} request(s) {'to purge' if dry_run else 'purged'}", markup=False)


@click.group("signing")
def signing_group() -> None:
    """The site's signing key and certificates (certified copies)."""
