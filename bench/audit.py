"""Benchmark of the history's hash chain (issue 14, item 6).

    python -m bench.audit [--changesets 100000] [--repeat 3] [--out DIR]

The issue asks that ``lantai audit verify`` check 100,000 changesets "in reasonable time";
it sets no figure. Rows, each with its anchor beside it:

- ``verify``: :func:`preservation.audit.verify_chain` over ``--changesets`` chained
  changesets (small RDF Patches, one a second) in an on-disk store, median of ``--repeat``;
  the anchor is reading the same facts the way the brief warns against, one
  ``quads_for_pattern`` lookup per changeset (the walk and hashing left out: the anchor is
  only the reading), so the ratio says what reading the chain in one pass per fact buys.
- ``link``: what chaining adds to one commit (read the head, hash the changeset, the facts
  to write), median over 1,000 commits; the anchor is hashing the changeset's canonical
  serialisation alone.

The rows go to ``bench/out/audit-<time>.json`` with the machine, commit and load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pyoxigraph import DefaultGraph, Quad, Store

from bench import commit
from preservation import audit
from repo.revisions import Changeset, changeset_iri

DEFAULT_OUT = Path(__file__).parent / "out"
MGMT = DefaultGraph()


def synthetic_changeset(i: int) -> Changeset:
    t = (dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i))
    return Changeset(f"{i:012d}-00000001-{i:08x}", "admin", t.isoformat(timespec="microseconds"),
                     f"edit {i}", "edit",
                     f'A <urn:x:{i}> <urn:p> "v{i}" .\nD <urn:x:{i}> <urn:p> "u{i}" .')


def synthetic_chain(store: Store, n: int) -> None:
    """``n`` chained changesets, loaded at once, and the head."""
    chainer = audit.Chainer(store, MGMT)
    quads: list[Quad] = []
    for i in range(n):
        cs = synthetic_changeset(i)
        quads += cs.quads(MGMT) + chainer.append(cs)
    store.bulk_extend(quads)
    audit.set_head(store, MGMT, chainer.head)


def _median(fn, repeat: int, cpu: list[float] | None = None) -> float:
    """Median wall-clock seconds of ``fn``; its CPU seconds go to ``cpu`` (on a shared
    machine the CPU time says more than the wall clock)."""
    times = []
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - began)
        if cpu is not None:
            cpu.append(time.process_time() - began_cpu)
    return statistics.median(times)


def _run(folder: Path, args: argparse.Namespace) -> list[dict]:
    rows = []
    store = Store(str(folder))
    began = time.perf_counter()
    synthetic_chain(store, args.changesets)
    store.flush()
    print(f"audit: {args.changesets} changesets written in "
          f"{time.perf_counter() - began:.1f} s", file=sys.stderr)
    report = audit.verify_chain(store, MGMT)
    assert report.intact and report.length == args.changesets, report.findings[:3]
    cpu: list[float] = []
    verify = _median(lambda: audit.verify_chain(store, MGMT), args.repeat, cpu)
    verify_cpu = statistics.median(cpu)
    ids = list(audit.read_chain(store, MGMT))

    def per_changeset() -> None:
        for cs_id in ids:
            list(store.quads_for_pattern(changeset_iri(cs_id), None, None, MGMT))

    cpu = []
    anchor = _median(per_changeset, args.repeat, cpu)
    rows.append({"bench": "verify", "what": f"{args.changesets} changesets",
                 "seconds": verify, "cpu_seconds": verify_cpu,
                 "anchor": "one lookup per changeset (reading only)",
                 "anchor_seconds": anchor, "anchor_cpu_seconds": statistics.median(cpu),
                 "ratio": verify / anchor})
    nxt = [synthetic_changeset(args.changesets + i) for i in range(1000)]
    link = statistics.median(
        _median(lambda cs=cs: audit.link(store, MGMT, cs), 1) for cs in nxt)
    fields = audit.changeset_fields(nxt[0])
    hashing = _median(lambda: audit.chain_hash(*fields, audit.GENESIS), 1000)
    rows.append({"bench": "link", "what": "chaining one commit", "seconds": link,
                 "anchor": "hashing the changeset alone", "anchor_seconds": hashing,
                 "ratio": link / hashing})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--changesets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rows = _run(Path(folder), args)
    print(f"{'benchmark':<8} {'what':<22} {'median':>11} {'anchor':>11} {'ratio':>7}  anchor is")
    for r in rows:
        cpu = (f" (CPU {r['cpu_seconds']:.1f} s against {r['anchor_cpu_seconds']:.1f} s)"
               if "cpu_seconds" in r else "")
        print(f"{r['bench']:<8} {r['what']:<22} {r['seconds'] * 1000:>8.2f} ms "
              f"{r['anchor_seconds'] * 1000:>8.2f} ms {r['ratio']:>7.2f}  {r['anchor']}{cpu}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"audit-{stamp}.json").write_text(json.dumps({
        "machine": platform.platform(), "cpus": os.cpu_count(), "python": sys.version,
        "commit": commit(), "load": os.getloadavg(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
