"""Benchmarks of backup and restore (issue 14, items 3–4), each beside its goal and a plain
restic run of the same data as the anchor.

    python -m bench.backup [--size-gb 2] [--edits 1000] [--repeat 3] [--dir DIR]

Goals (issue 14, "Performance"): ``lantai backup`` of an unchanged 2 GB site ≤ 20 s, of a
site after 1,000 edits ≤ 60 s; restore of the demo site ≤ 60 s.

- ``unchanged``: a fresh site with ``--size-gb`` of originals (incompressible 8 MiB files,
  put through the site's ``FileStore`` as ingest does: sealed when the site seals) and the
  small test tree; a first full backup to a local restic repository (reported, no goal),
  then ``--repeat`` backups of the unchanged site: the median beside the goal. Anchor:
  ``restic backup`` of the whole home folder, unchanged, with restic's own parent
  detection (what an administrator without Lantai would run; not consistent while the site
  writes, which is the point of ours).
- ``edits``: ``--edits`` edits of records (one changeset each), then one backup: beside
  the goal.
- ``restore``: the demo site backed up, then ``lantai restore`` with its whole proof (both
  stores, every file, the catalog, ``lantai serve`` started) in a subprocess: wall time
  beside the goal; anchor: ``restic restore`` of the same snapshot alone.

Times are wall seconds of ``preservation.backup.backup`` in this process (the CLI adds
its start-up, about 1–3 s on this machine) except the restore (the real command).
The rows go to ``bench/out/backup-<time>.json`` with the machine and commit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import commit

GOALS = {"unchanged": 20.0, "edits": 60.0, "restore": 60.0}
PASSWORD = "bench password"
FILE_MB = 8


def _restic(repo: Path, password: Path):
    from preservation.restic import Restic

    return Restic(str(repo), password_file=password)


def _plain_restic(repo: Path, password: Path, *args: str, cwd: Path | None = None) -> float:
    started = time.monotonic()
    subprocess.run(["restic", "-r", str(repo), "--password-file", str(password), *args,
                    "-q"], check=True, cwd=cwd, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def make_site(home: Path, size_gb: float) -> int:
    """A site with the test tree and ``size_gb`` of originals; how many files."""
    from repo.files import FileStore
    from repo.repository import Repository

    repo, _ = Repository.init(home, "https://archive.example.edu")
    repo.close()
    store = FileStore.for_site(home)
    count = max(1, int(size_gb * 1024 / FILE_MB))
    for _ in range(count):
        store.put(os.urandom(FILE_MB << 20))
    return count


def edit_records(home: Path, edits: int) -> float:
    from repo.repository import Repository

    started = time.monotonic()
    with Repository.open(home) as repo:
        admin = repo.user("admin")
        made = repo.create(admin, "/", "fonds", {"title": {"zh": "基准全宗", "en": "Bench"}},
                           slug="bench", key="bench")
        for i in range(edits):
            repo.edit(admin, made.path, set={"title": {"zh": f"基准全宗 {i}",
                                                        "en": f"Bench fonds {i}"}})
    return time.monotonic() - started


def row(name: str, seconds: float, anchor: float | None, note: str) -> dict:
    goal = GOALS.get(name)
    return {"bench": name, "seconds": round(seconds, 2), "goal": goal,
            "ratio": round(seconds / goal, 2) if goal else None,
            "anchor_plain_restic": round(anchor, 2) if anchor is not None else None,
            "note": note}


def bench_backup(work: Path, args: argparse.Namespace) -> list[dict]:
    from preservation.backup import backup

    home, repo, password = work / "site", work / "repo", work / "password"
    password.write_text(PASSWORD + "\n")
    started = time.monotonic()
    files = make_site(home, args.size_gb)
    made = time.monotonic() - started
    size = sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
    restic = _restic(repo, password)
    restic.init()
    first = backup(home, restic)
    rows = [row("first", first.seconds, None,
                f"{files} files, {size / 2**30:.2f} GiB site (made in {made:.0f} s)")]
    results = [backup(home, restic) for _ in range(args.repeat)]
    times = [r.seconds for r in results]
    anchor_repo = work / "anchor-repo"
    _plain_restic(anchor_repo, password, "init")
    _plain_restic(anchor_repo, password, "backup", ".", cwd=home)  # the full first run
    anchors = [_plain_restic(anchor_repo, password, "backup", ".", cwd=home)
               for _ in range(args.repeat)]
    locks = [r.locked_seconds for r in results]
    rows.append(row("unchanged", statistics.median(times), statistics.median(anchors),
                    f"median of {args.repeat}: {', '.join(f'{t:.1f}' for t in times)}; "
                    f"writers waited {statistics.median(locks):.2f} s"))
    took = edit_records(home, args.edits)
    after = backup(home, restic)
    anchor = _plain_restic(anchor_repo, password, "backup", ".", cwd=home)
    rows.append(row("edits", after.seconds, anchor,
                    f"{args.edits} edits made in {took:.0f} s; "
                    f"{after.bytes_added / 2**20:.1f} MiB added; writers waited "
                    f"{after.locked_seconds:.2f} s"))
    return rows


def bench_restore(work: Path) -> list[dict]:
    from preservation.backup import backup
    from repo.demo import load_demo
    from repo.repository import Repository

    home, repo, password = work / "demo", work / "demo-repo", work / "password"
    password.write_text(PASSWORD + "\n")
    made, _ = Repository.init(home, "http://127.0.0.1:5000")
    try:
        load_demo(made, made.user("admin"))
    finally:
        made.close()
    restic = _restic(repo, password)
    restic.init()
    snap = backup(home, restic).snapshot_id
    lantai = Path(sys.executable).with_name("lantai")
    key = home.with_name(home.name + ".key")
    started = time.monotonic()
    proc = subprocess.run([str(lantai), "restore", snap, "--repo", str(repo), "--password-file",
                           str(password), "--home", str(work / "restored"),
                           *(["--key-file", str(key)] if key.exists() else [])],
                          capture_output=True, text=True)
    took = time.monotonic() - started
    if proc.returncode != 0 or "restore proved" not in proc.stdout:
        raise SystemExit(f"restore failed: {proc.stderr.strip()}")
    anchor = _plain_restic(repo, password, "restore", snap, "--target", str(work / "plain"))
    return [row("restore", took, anchor, "lantai restore with its proof (server included)")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="Work folder (default: a temp one).")
    parser.add_argument("--only", action="append", choices=["backup", "restore"])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-backup-", dir=args.dir))
    rows: list[dict] = []
    try:
        if not args.only or "backup" in args.only:
            rows += bench_backup(work, args)
        if not args.only or "restore" in args.only:
            rows += bench_restore(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'bench':<10} {'seconds':>8} {'goal':>6} {'ratio':>6} {'plain restic':>13}  note")
    for r in rows:
        print(f"{r['bench']:<10} {r['seconds']:>8.2f} {r['goal'] or '':>6} "
              f"{r['ratio'] or '':>6} {r['anchor_plain_restic'] or '':>13}  {r['note']}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"backup-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"commit": commit(), "machine": platform.node(),
                               "cpus": os.cpu_count(), "load": os.getloadavg(),
                               "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
