"""``lantai requests …`` and ``lantai signing …``: the request service from the command line.

Imports only :mod:`repo.cli_support` (like every command module) and this package.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from repo.cli_support import Context, command, out
from repo.durable import write_atomically
from repo.errors import NotFound
from services.requests import signing
from services.requests.store import RequestStore, normalise_number


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
    (requests_retention_days in lantai.toml), and drop requests whose e-mail address was
    never confirmed (after two days)."""
    store = _store(ctx)
    for request_id in store.abandoned():  # e-mail never confirmed: withdrawn, then purged
        if not dry_run:
            store.transition(request_id, "withdrawn", ctx.user_name, "e-mail never confirmed")
            store.purge(request_id, actor=ctx.user_name)
        out.print(("would purge " if dry_run else "purged ") + request_id
                  + " (e-mail never confirmed)", markup=False)
    due = store.purgeable()
    for request_id in due:
        if not dry_run:
            store.purge(request_id, actor=ctx.user_name)
        out.print(("would purge " if dry_run else "purged ") + request_id, markup=False)
    out.print(f"{len(due)} request(s) {'to purge' if dry_run else 'purged'}", markup=False)


@click.group("signing")
def signing_group() -> None:
    """The site's signing key and certificates (certified copies)."""


@requests_group.command("copy")
@click.argument("request_id")
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Where to write the signed PDF.")
@click.option("--code", default=None, help="The copy with this verification code "
              "(default: the request's latest copy).")
@command
def write_copy(ctx: Context, request_id: str, output: Path, code: str | None) -> None:
    """Write the certified PDF issued for a request, exactly as it was signed."""
    store = _store(ctx)
    number = normalise_number(request_id)
    store.get(number)  # NotFound (exit 3) for an unknown request
    copies = store.copies_of(number)
    if code is not None:
        chosen = next((c for c in copies if c.code == normalise_number(code)), None)
        if chosen is None:
            raise NotFound(f"request {number} has no certified copy {normalise_number(code)}")
    elif copies:
        chosen = copies[-1]
    else:
        raise NotFound(f"request {number} has no certified copy yet")
    data = store.copy_pdf(chosen.code)
    write_atomically(output, data)
    state = f" (revoked {chosen.revoked})" if chosen.revoked else ""
    out.print(f"{chosen.code} {chosen.language} {chosen.pages} pages, {len(data):,} bytes "
              f"→ {output}{state}", markup=False)


@signing_group.command("show")
@command
def signing_show(ctx: Context) -> None:
    """The signing certificate: subject, issuer, validity, SHA-256 fingerprint."""
    for name, value in signing.describe(ctx.home).items():
        out.print(f"{name:<11} {value}", markup=False)


@signing_group.command("ca")
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Where to write the PEM certificate(s) ('-': standard output).")
@command
def signing_ca(ctx: Context, output: Path) -> None:
    """Write the certificate(s) a relying party must trust to validate the site's
    signatures (PEM)."""
    pem = b"".join(signing.trust_roots(ctx.home))
    if str(output) == "-":
        sys.stdout.buffer.write(pem)
        return
    write_atomically(output, pem)
    out.print(f"{pem.count(b'BEGIN CERTIFICATE')} certificate(s) → {output}", markup=False)


@signing_group.command("import")
@click.argument("p12", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--passphrase-stdin", is_flag=True,
              help="Read the PKCS#12 passphrase from the first line of standard input.")
@command
def signing_import(ctx: Context, p12: Path, passphrase_stdin: bool) -> None:
    """Sign certified copies with the key, certificate and chain of a PKCS#12 file."""
    passphrase = sys.stdin.readline().rstrip("\r\n") if passphrase_stdin else None
    subject = signing.import_pkcs12(ctx.home, p12, passphrase)
    out.print(f"signing as {subject}", markup=False)
