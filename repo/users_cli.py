"""``lantai users``: accounts, roles and tokens, given and taken back.

Every change is a changeset in the history (``lantai users history NAME``) and counts at the
next request of a running ``lantai serve`` (the API reads accounts on every request).
``users token NAME`` issues a new token and revokes the previous ones unless ``--keep``;
tokens are named by an id (``users tokens NAME``) so that one can be revoked alone.
"""

from __future__ import annotations

import sys

import click

from repo.accounts import account_changes
from repo.cli_support import Context, command, echo_json, out

MESSAGE = click.option("-m", "--message", default="", help="Why (kept in the history).")


@click.group()
def users() -> None:
    """Manage user accounts, roles and tokens."""


@users.command(name="add")
@click.argument("name")
@click.option("--role", "roles", multiple=True,
              help="Reader, Contributor, Editor, Reviewer or Manager (repeatable).")
@click.option("--fullname", default="")
@click.option("--agent", default=None, help="The Person this user is (sees own personal records).")
@click.option("--password-stdin", is_flag=True, help="Read a password from stdin.")
@click.option("--token", is_flag=True, help="Create and print an API token.")
@command
def users_add(ctx: Context, name: str, roles: tuple[str, ...], fullname: str, agent: str | None,
              password_stdin: bool, token: bool) -> None:
    """Create a user (Managers only)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    new_token = ctx.repo.add_user(ctx.user, name, roles=roles, password=password,
                                  fullname=fullname, agent=agent, token=token)
    out.print(f"user {name} created" + (f"; API token (shown once): {new_token}"
                                        if new_token else ""), markup=False)


@users.command(name="grant")
@click.argument("name")
@click.argument("role")
@click.option("--on", "on", default=None, help="A container: a local role there and inside.")
@MESSAGE
@command
def users_grant(ctx: Context, name: str, role: str, on: str | None, message: str) -> None:
    """Give NAME a ROLE, site-wide or (with --on) as a local role."""
    ctx.repo.grant(ctx.user, name, role, on=on, message=message)
    out.print(f"{name} is {role}" + (f" on {on}" if on else ""), markup=False)


@users.command(name="revoke")
@click.argument("name")
@click.argument("what", metavar="ROLE|--token ID")
@click.option("--on", "on", default=None, help="The container of a local role.")
@click.option("--token", "is_token", is_flag=True,
              help="WHAT is a token id (`users tokens NAME`), or `all`.")
@MESSAGE
@command
def users_revoke(ctx: Context, name: str, what: str, on: str | None, is_token: bool,
                 message: str) -> None:
    """Take back NAME's site-wide ROLE, a local ROLE (--on), or a token (--token ID)."""
    if is_token:
        if on:
            raise click.UsageError("--on is for roles, not tokens")
        ctx.repo.revoke_token(ctx.user, name, what, message=message)
        out.print(f"token {what} of {name} revoked", markup=False)
        return
    ctx.repo.revoke(ctx.user, name, what, on=on, message=message)
    out.print(f"{name} is no longer {what}" + (f" on {on}" if on else ""), markup=False)


@users.command(name="disable")
@click.argument("name")
@MESSAGE
@command
def users_disable(ctx: Context, name: str, message: str) -> None:
    """NAME can no longer sign in or act (Managers; `users enable` undoes it)."""
    ctx.repo.disable(ctx.user, name, message=message)
    out.print(f"{name} is disabled", markup=False)


@users.command(name="enable")
@click.argument("name")
@MESSAGE
@command
def users_enable(ctx: Context, name: str, message: str) -> None:
    """NAME may sign in and act again, with the roles and tokens it had."""
    ctx.repo.enable(ctx.user, name, message=message)
    out.print(f"{name} is enabled", markup=False)


@users.command(name="remove")
@click.argument("name")
@MESSAGE
@command
def users_remove(ctx: Context, name: str, message: str) -> None:
    """Remove NAME for good: roles, local roles, tokens and password go; the name stays in
    the history and is never given again."""
    ctx.repo.remove(ctx.user, name, message=message)
    out.print(f"{name} is removed", markup=False)


@users.command(name="passwd")
@click.argument("name")
@command
def users_passwd(ctx: Context, name: str) -> None:
    """Set NAME's password, read from stdin (Managers, or the user themself)."""
    ctx.repo.set_password(ctx.user, name, sys.stdin.readline().rstrip("\n"))
    out.print(f"password of {name} set", markup=False)


@users.command(name="token")
@click.argument("name")
@click.option("--keep", is_flag=True, help="Keep NAME's other tokens valid.")
@command
def users_token(ctx: Context, name: str, keep: bool) -> None:
    """Issue a new API token for NAME and print it (shown once); NAME's previous tokens are
    revoked unless --keep."""
    click.echo(ctx.repo.new_token(ctx.user, name, keep=keep))


@users.command(name="tokens")
@click.argument("name")
@command
def users_tokens(ctx: Context, name: str) -> None:
    """The ids of NAME's tokens (for `users revoke NAME --token ID`)."""
    for token_id in ctx.repo.tokens(ctx.user, name):
        click.echo(token_id)


@users.command(name="totp")
@click.argument("name")
@click.option("--reset", is_flag=True, required=True,
              help="Take NAME's second factor away (a lost phone): the next sign-in to the "
                   "staff workspace asks to set up a new one where the site requires it.")
@MESSAGE
@command
def users_totp(ctx: Context, name: str, reset: bool, message: str) -> None:
    """Reset NAME's two-factor sign-in (Managers, or the user themself)."""
    ctx.repo.set_totp(ctx.user, name, None, message=message)
    out.print(f"two-factor sign-in of {name} reset", markup=False)


@users.command(name="roles")
@click.argument("name")
@command
def users_roles(ctx: Context, name: str) -> None:
    """NAME's site-wide roles, then each local role as ROLE on PATH (what `users revoke NAME
    ROLE --on PATH` takes back)."""
    local = ctx.repo.local_roles(ctx.user, name)  # Managers, or NAME themself
    for role in sorted(ctx.repo.user(name).roles):
        click.echo(role)
    for path, role in local:
        click.echo(f"{role} on {path}")


@users.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@command
def users_list(ctx: Context, as_json: bool) -> None:
    """List the accounts, their status and site-wide roles."""
    rows = [{"name": u.name, "status": ctx.repo.account_status(u.name),
             "roles": sorted(u.roles), "fullname": u.fullname} for u in ctx.repo.users()]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        status = "" if r["status"] == "active" else f"  ({r['status']})"
        out.print(f"{r['name']}  {', '.join(r['roles']) or '-'}  {r['fullname']}{status}",
                  markup=False)


@users.command(name="history")
@click.argument("name")
@command
def users_history(ctx: Context, name: str) -> None:
    """The changes of NAME's account: when, by whom, what, why; under each, the facts it
    added (+) and removed (-)."""
    for cs in ctx.repo.account_history(ctx.user, name):
        out.print(f"{cs.time}  {cs.author}  {cs.action}  {cs.message}", markup=False)
        for sign, key, value in account_changes(cs):
            out.print(f"    {sign} {key}: {value}", markup=False)
