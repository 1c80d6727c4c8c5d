"""``lantai keys new|check|rotate``: the site master key from a terminal (issue 14, item 2).

``new`` makes a key file (32 random bytes, base64, mode 0600, never over an existing file);
``check`` says whether the key given opens this site (its id, how many data keys it wraps);
``rotate`` moves every wrapped key and sealed secret of the site to a new key
(:mod:`preservation.rotation`). The old key is given as every command gives it (``--key-file``
on ``lantai``, ``LANTAI_KEY_FILE``, the usual places), the new one with ``--new-key-file``;
neither file is ever deleted by us.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from preservation import keys
from preservation.cli import key_file_option
from repo.cli_support import Context, command, out, progress_bar


@click.group(name="keys")
def keys_group() -> None:
    """The site master key: make a new one, check one, rotate to another."""


@keys_group.command(name="new")
@click.option("-o", "--output", "output", required=True,
              help="Key file to write (mode 0600; never overwritten), or - to print the key.")
@command
def new_cmd(ctx: Context, output: str) -> None:
    """Make a new master key: 32 random bytes, base64 (keep two copies off the machine)."""
    if output == "-":
        click.echo(keys.encode_key(keys.new_key()))
        return
    path = Path(output)
    keys.check_outside(path, ctx.home)
    key = keys.write_key_file(path)
    out.print(f"New master key (id {keys.key_id(key)}) in {path}; keep a copy off this "
              "machine: without it nothing sealed opens", markup=False)


def _wrapped_summary(home: Path, master: bytes) -> tuple[int, dict[str, int]]:
    from preservation.keyring import Keyring

    path = Path(home) / "preservation" / "keyring.sqlite3"
    if not path.exists():
        return 0, {}
    ring = Keyring(path, master)
    try:
        counts = ring.wrapped_by()
    finally:
        ring.close()
    return counts.get(keys.key_id(master), 0), {k: v for k, v in counts.items()
                                                  if k != keys.key_id(master)}


@keys_group.command(name="check")
@key_file_option
@command
def check_cmd(ctx: Context) -> None:
    """Check that the key given opens this site: its id and how many data keys it wraps."""
    master = keys.master_key(ctx.home)
    given = keys.key_id(master)
    recorded = keys.recorded_key_id(ctx.home)
    rotating = keys.rotation_ids(ctx.home)
    if recorded is None:
        raise keys.MasterKeyError(f"{ctx.home} is not keyed to any key yet (no "
                                  f"{keys.KEY_ID_FILE}); the key given is {given}")
    if given != recorded and not (rotating and given in rotating):
        raise keys.MasterKeyError(f"the key given (id {given}) is not this site's key "
                                  f"(id {recorded})")
    mine, others = _wrapped_summary(ctx.home, master)
    out.print(f"key {given} opens {ctx.home}: it wraps {mine} data key(s)", markup=False)
    if rotating:
        out.print(f"a rotation from key {rotating[0]} to key {rotating[1]} is unfinished: "
                  "run `lantai keys rotate` again with both keys", markup=False)
        sys.exit(1)
    if others:
        listed = ", ".join(f"{n} by key {k}" for k, n in sorted(others.items()))
        raise keys.MasterKeyError(f"some data keys are wrapped by another key ({listed}): "
                                  "run `lantai keys rotate` again with that key and this one")


@keys_group.command(name="rotate")
@click.option("--new-key-file", type=click.Path(path_type=Path, dir_okay=False),
              required=True, help="File holding the new master key (`lantai keys new -o`).")
@key_file_option
@command
def rotate_cmd(ctx: Context, new_key_file: Path) -> None:
    """Move the site to a new master key: re-wrap every data key (no content is
    re-encrypted) and re-seal the site's small secrets. Resumable: after a crash, run the
    same command again. Stop the server first; keep the old key until this says done."""
    from preservation.rotation import rotate

    old = keys.master_key(ctx.home)
    keys.check_outside(new_key_file, ctx.home)
    new = keys.read_key_file(new_key_file)
    with progress_bar("Rotating the master key") as bar:
        tasks: dict[str, object] = {}

        def tell(step: str, done: int, total: int | None) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)  # type: ignore[arg-type]

        report = rotate(ctx.home, old, new, progress=tell)
    if report.already:
        out.print(f"{ctx.home} is keyed to key {report.new_id} already: nothing to do",
                  markup=False)
        return
    out.print(f"{ctx.home} now opens with key {report.new_id} (was {report.old_id})"
              f"{' — finished an interrupted rotation' if report.resumed else ''}: "
              f"{report.data_keys} data key(s) re-wrapped, {report.requests} request(s), "
              f"{report.files} request file(s), {report.signing} signing file(s) re-sealed",
              markup=False)
    if report.dropped_links or report.dropped_codes:
        out.print(f"{report.dropped_links} download link(s) and {report.dropped_codes} e-mail "
                  "code(s) given before the rotation no longer work: send new ones",
                  markup=False)
    out.print("Keep the new key file in two places off this machine; keep the old one as long "
              "as backups made before now are kept (they open only with it)", markup=False)
