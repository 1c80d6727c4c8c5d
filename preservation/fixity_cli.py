"""`lantai fixity [--share K/N] [--deep] [--json]` (issue 14, item 5).

Exit 0 when every file checks; 1 when any is damaged, each named on stdout as
``OBJECT LOGICAL-PATH: PROBLEM (detail)``. The progress bar goes to stderr. The repository is
not opened: fixity reads the file store beside a running server and needs no write lock.
"""

from __future__ import annotations

import sys

import click

from repo.cli_support import Context, command, echo_json, out, progress_bar


def _share(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    from preservation.fixity import parse_share

    try:
        return parse_share(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(name="fixity")
@click.option("--share", callback=_share, default=None, metavar="K/N",
              help="Check only the K-th of N stable shares of the objects (1/7 … 7/7: a week).")
@click.option("--deep", is_flag=True,
              help="Also open every chunk of sealed files and check their plaintext digest "
                   "(needs the master key; about three times the CPU of a plain check).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@command
def fixity_cmd(ctx: Context, share: tuple[int, int] | None, deep: bool,
               as_json: bool) -> None:
    """Read stored files and compare them with their digests (OCFL inventories)."""
    from preservation.fixity import check
    from preservation.keyring import Keyring

    # without --deep no key is needed: the inventories' digests are of the stored (sealed)
    # bytes, so the off-site copy's keeper can check it too
    keyring = Keyring.open(ctx.home) if deep else None
    try:
        with progress_bar("Checking fixity") as bar:
            task = bar.add_task("fixity", total=None)
            report = check(ctx.home, share=share, deep=keyring is not None, keyring=keyring,
                           user=ctx.user_name,
                           progress=lambda n, total: bar.update(task, completed=n, total=total))
    finally:
        if keyring is not None:
            keyring.close()
    if as_json:
        echo_json(report.as_dict())
    else:
        for problem in report.problems:
            out.print(problem.line(), markup=False)
        mb = report.bytes / 1e6
        rate = mb / report.seconds if report.seconds else 0.0
        summary = (f"{report.objects} object(s), {report.files} file(s), {mb:.1f} MB checked "
                   f"in {report.seconds:.1f} s ({rate:.0f} MB/s)"
                   + (", sealed chunks opened" if report.deep else ""))
        out.print(summary + (f": {len(report.problems)} damaged" if report.problems
                             else ": every file checks"), markup=False)
    if report.problems:
        sys.exit(1)
