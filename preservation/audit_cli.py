"""`lantai audit`: verify the history's hash chain and its signed checkpoints; sign one now.

``verify`` reads a read-only snapshot of the working store (it can run beside the server and
beside other commands); a site made before the chain is chained first (opened once for
writing). Exit 0 on an intact history; 5 naming the first broken changeset otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from pyoxigraph import DefaultGraph

from preservation import audit, checkpoints
from repo.cli_support import Context, command, echo_json, err, out
from repo.config import read_settings
from repo.errors import LantaiError, NotFound
from repo.handles import ReadHandle

BROKEN = 5  # the exit code of a broken history ("invalid")


class HistoryBroken(LantaiError):
    exit_code = BROKEN


@click.group(name="audit")
def audit_group() -> None:
    """The history's hash chain: verify that no past change was edited or removed."""


def _unchained(home: Path) -> bool:
    with ReadHandle(home / "working", follow=False) as handle:
        store = handle.store
        if audit.read_pointer(store, DefaultGraph()) is not None:
            return False
        return next(store.quads_for_pattern(None, audit.RDF_TYPE, audit.CHANGESET, None),
                    None) is not None


def verify_site(home: Path, trust: Path | None = None) -> audit.Report:
    """The chain and the checkpoints of the site at ``home``, checked."""
    if not (home / "working").is_dir():
        raise NotFound(f"{home} is not a Lantai site (no working store)")
    base = read_settings(home).base
    if _unchained(home):  # a site made before the chain: chained on open, once
        from repo.repository import Repository

        Repository.open(home).close()
    with ReadHandle(home / "working", follow=False) as handle:
        report = audit.verify_chain(handle.store, DefaultGraph())
    report.checkpoints, found = checkpoints.verify(home, base, report.order, trust)
    report.findings += found
    return report


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON on stdout.")
@click.option("--trust", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              default=None, help="PEM roots the checkpoints' signatures must chain to "
              "(default: the site's signing/trust.pem; an auditor brings their own copy).")
@command
def verify_cmd(ctx: Context, as_json: bool, trust: Path | None) -> None:
    """Walk the history from the first changeset; exit 0 if intact, else 5 naming the first
    broken changeset (edited, removed, reordered, inserted, or a checkpoint that fails)."""
    report = verify_site(Path(ctx.home), trust)
    first = report.first
    if as_json:
        echo_json(report.as_dict())
        if first is not None:
            sys.exit(BROKEN)
        return
    if first is None:
        out.print(f"history intact: {report.length} changesets, head {report.head}, "
                  f"{report.checkpoints} signed checkpoints", markup=False)
        return
    for finding in sorted(report.findings, key=lambda f: f.position):
        err.print(f"#{finding.position} {finding.kind}: {finding.detail}", markup=False)
    raise HistoryBroken(f"history broken at changeset #{first.position} {first.changeset}: "
                        f"{first.kind} ({first.detail})")


@audit_group.command("checkpoint")
@command
def checkpoint_cmd(ctx: Context) -> None:
    """Sign a checkpoint of the chain's head now (also done every audit_checkpoint_every
    changesets); prints its file."""
    repo = ctx.repo
    head = audit.read_head(repo.working, repo.mgmt)
    if head.length == 0:
        raise NotFound("the site has no changeset yet: nothing to sign")
    path = checkpoints.write(repo.home, repo.base, head)
    if path is None:
        out.print(f"a checkpoint of {head.length} changesets exists already", markup=False)
        return
    out.print(str(path), markup=False)
