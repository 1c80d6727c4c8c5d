"""How long ``lantai demo`` takes on a fresh site (the set-up contract's first command).

    python -m bench.demo [--repeat 3]

Goal: under 10 s on this kind of machine (2 cores), so that a newcomer's first ``make demo``
and the tests that load the demo stay quick. The demo grew with each service (the archive,
record requests with a signed copy, the filing loop, the pilot graduates' growth records and
consents); this bench says what each run costs, with its CPU time beside the wall time (a
shared machine's wall time is its load's).

Each run: ``lantai init`` in a new folder (not timed), then ``lantai demo`` as a user runs it
(the real executable, its own process), then ``lantai demo`` again (idempotent: nothing new,
also timed). Prints the median wall and CPU seconds of each, and the ratio to the goal.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 10.0


def lantai() -> str:
    found = Path(sys.executable).with_name("lantai")
    return str(found) if found.exists() else "lantai"


def timed(args: list[str]) -> tuple[float, float]:
    """Run a command; its wall time and the CPU time (user + system) of its process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(args, check=True, capture_output=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh sites to time (3)")
    args = parser.parse_args(argv)
    first: list[tuple[float, float]] = []
    again: list[tuple[float, float]] = []
    for n in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="lantai-bench-demo-") as tmp:
            home = str(Path(tmp) / "site")
            subprocess.run([lantai(), "--home", home, "init", "--base",
                            "http://127.0.0.1:5000"], check=True, capture_output=True)
            first.append(timed([lantai(), "--home", home, "demo"]))
            again.append(timed([lantai(), "--home", home, "demo"]))
            print(f"run {n + 1}: demo {first[-1][0]:.1f} s (CPU {first[-1][1]:.1f} s), "
                  f"again {again[-1][0]:.1f} s", flush=True)
    load = os.getloadavg()[0]
    print(f"\n{'':<22}{'wall (median)':>14}{'CPU (median)':>14}{'goal':>8}{'ratio':>8}")
    for name, runs in (("lantai demo", first), ("lantai demo (again)", again)):
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"{name:<22}{wall:>12.1f} s{cpu:>12.1f} s{GOAL_S:>6.0f} s{wall / GOAL_S:>8.2f}")
    print(f"load average at the end: {load:.1f} (2 cores: above 2, wall time is the load's)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
