"""`lantai backup`, `lantai restore`, `lantai repair` (issue 14, items 3 and 4).

``lantai backup [--repo REPO] [--password-file F] [--json]`` prints the snapshot id on
stdout (the Contract; what it did goes to stderr); ``backup init|snapshots|forget`` manage
the restic repository; ``lantai restore SNAPSHOT --repo REPO --home NEW`` restores into an
empty folder and proves it; ``lantai repair --repo REPO [FILES…]`` puts damaged files back.
The repository may also come from ``RESTIC_REPOSITORY``, the password from
``RESTIC_PASSWORD`` / ``RESTIC_PASSWORD_FILE``.
"""

from __future__ import annotations

from pathlib import Path

import click

from preservation.cli import key_file_option
from repo.cli_support import Context, command, echo_json, err, out


def repo_options(fn):
    fn = click.option("--password-file", type=click.Path(path_type=Path, dir_okay=False),
                      default=None, help="File holding the restic repository's password "
                      "(else RESTIC_PASSWORD).")(fn)
    return click.option("--repo", "repository", default=None, metavar="REPO",
                        help="The restic repository: a path, rest:URL or sftp:… "
                        "(else RESTIC_REPOSITORY).")(fn)


def _restic(repository: str | None, password_file: Path | None, *, need_repo: bool = True):
    from preservation.restic import Restic

    return Restic(repository, password_file=password_file)


@click.group(name="backup", invoke_without_command=True)
@repo_options
@click.option("--json", "as_json", is_flag=True, help="The result as JSON on stdout.")
@click.option("--wait", default=60.0, show_default=True, type=float,
              help="Seconds to wait for the repository's write lock.")
@click.pass_context
def backup_cmd(click_ctx: click.Context, repository: str | None, password_file: Path | None,
               as_json: bool, wait: float) -> None:
    """Send a consistent snapshot of the site to a restic repository (prints its id).

    The site keeps running: writers wait only while the snapshot folder is made. Not in the
    backup: derivatives (regenerable) and the master key (keep it apart, off the machine)."""
    if click_ctx.invoked_subcommand is not None:
        return
    click_ctx.invoke(_make_backup, repository=repository, password_file=password_file,
                     as_json=as_json, wait=wait)


@click.command(name="make", hidden=True)
@command
def _make_backup(ctx: Context, repository: str | None, password_file: Path | None,
                 as_json: bool, wait: float) -> None:
    from preservation.backup import backup

    result = backup(ctx.home, _restic(repository, password_file), wait=wait)
    if as_json:
        echo_json(result.to_json())
        return
    err.print(f"snapshot of {ctx.home} (site {result.site_id}"
              + (f", key id {result.key_id}" if result.key_id else "")
              + f"): {result.files_new} new, {result.files_changed} changed, "
              f"{result.files_unmodified} unchanged files, "
              f"{result.bytes_added / 2**20:.1f} MiB added in {result.seconds:.1f} s "
              f"(writers waited {result.locked_seconds:.2f} s)",
              markup=False)
    err.print("the master key is NOT in the backup: a restore needs it from where you keep "
              "it (--key-file)", markup=False)
    out.print(result.snapshot_id, markup=False)


@backup_cmd.command(name="init")
@repo_options
@command
def backup_init(ctx: Context, repository: str | None, password_file: Path | None) -> None:
    """Make a new restic repository to back up to."""
    restic = _restic(repository, password_file)
    restic.init()
    out.print(f"restic repository made at {restic.repository}", markup=False)


@backup_cmd.command(name="snapshots")
@repo_options
@click.option("--all", "show_all", is_flag=True, help="Every site's snapshots, not this one's.")
@click.option("--json", "as_json", is_flag=True)
@command
def backup_snapshots(ctx: Context, repository: str | None, password_file: Path | None,
                     show_all: bool, as_json: bool) -> None:
    """This site's snapshots, oldest first."""
    from preservation.backup import TAG, site_tags

    tags = [TAG] if show_all else site_tags(ctx.home)
    found = _restic(repository, password_file).snapshots(tags=tags)
    if as_json:
        echo_json([{"id": s.id, "short_id": s.short_id, "time": s.time,
                    "site": s.tag("site"), "key": s.tag("key")} for s in found])
        return
    for s in found:
        out.print(f"{s.short_id}  {s.time[:19].replace('T', ' ')}  site {s.tag('site')}"
                  + (f"  key {s.tag('key')}" if s.tag("key") else ""), markup=False)


@backup_cmd.command(name="forget")
@repo_options
@click.option("--prune", is_flag=True, help="Also remove the data no snapshot needs.")
@click.option("--keep", default=None, metavar="OPTIONS",
              help="restic --keep-… options (default: the setting backup_keep).")
@click.option("--json", "as_json", is_flag=True)
@command
def backup_forget(ctx: Context, repository: str | None, password_file: Path | None,
                  prune: bool, keep: str | None, as_json: bool) -> None:
    """Forget this site's snapshots the retention does not keep (settings.backup_keep)."""
    from preservation.backup import keep_options, site_tags
    from repo.config import read_settings

    options = keep_options(keep if keep is not None else read_settings(ctx.home).backup_keep)
    groups = _restic(repository, password_file).forget(options, tags=site_tags(ctx.home),
                                                       prune=prune) or []
    kept = sum(len(g.get("keep") or []) for g in groups)
    removed = sum(len(g.get("remove") or []) for g in groups)
    if as_json:
        echo_json({"kept": kept, "removed": removed, "keep": options, "pruned": prune})
        return
    out.print(f"{kept} snapshot(s) kept, {removed} forgotten ({' '.join(options)})"
              + ("; unused data pruned" if prune else ""), markup=False)


@click.command(name="restore")
@click.argument("snapshot")
@repo_options
@click.option("--home", "target", required=True, type=click.Path(path_type=Path),
              help="The new site's folder (missing or empty).")
@click.option("--no-serve", is_flag=True, help="Skip starting the server in the proof.")
@click.option("--json", "as_json", is_flag=True)
@key_file_option
@command
def restore_cmd(ctx: Context, snapshot: str, repository: str | None, password_file: Path | None,
                target: Path, no_serve: bool, as_json: bool) -> None:
    """Restore a snapshot into an empty folder and prove it (exit non-zero at the first
    check that fails)."""
    from preservation.proof import prove
    from preservation.restore import restore

    restic = _restic(repository, password_file)
    snap, manifest = restore(restic, snapshot, target)
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if not as_json:
            out.print(f"✓ {line}", markup=False)

    if not as_json:
        out.print(f"restored snapshot {snap.short_id} of site {manifest['site_id']} "
                  f"({manifest['created']}) into {target}", markup=False)
    prove(target, manifest, say=say, serve=not no_serve)
    if as_json:
        echo_json({"snapshot": snap.id, "home": str(target), "proved": lines})
    else:
        out.print("restore proved", markup=False)


@click.command(name="repair")
@click.argument("files", nargs=-1)
@repo_options
@click.option("--json", "as_json", is_flag=True)
@command
def repair_cmd(ctx: Context, files: tuple[str, ...], repository: str | None,
               password_file: Path | None, as_json: bool) -> None:
    """Restore damaged files of the file store from the newest good backup copy."""
    from preservation.repair import RepairFailed, repair

    report = repair(ctx.home, _restic(repository, password_file), only=files,
                    say=lambda m: None if as_json else out.print(m, markup=False))
    if as_json:
        echo_json({"repaired": [{"file": f"files/{d.rel}", "snapshot": s}
                                for d, s in report.repaired],
                   "unrepaired": [f"files/{d.rel}" for d in report.unrepaired]})
    elif not report.repaired and report.ok:
        out.print("nothing to repair: every file checks", markup=False)
    if not report.ok:
        names = ", ".join(f"files/{d.rel}" for d in report.unrepaired)
        raise RepairFailed(f"no good copy in any snapshot of: {names}")
