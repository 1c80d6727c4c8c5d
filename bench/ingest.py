"""Repository ingest against raw Oxigraph bulk load, side by side.

    python -m bench.ingest --scale 0.05 --scale 0.2 [--repeat N] [--out DIR] [--profile]

For each scale (1.0 = the real archive, see ``bench/synthetic.py``) and each repeat, two
measurements run one after the other, each in a fresh process so that its peak RSS is its
own:

(a) ingest: a fresh on-disk site (``Repository.init``), the synthetic archive streamed
    through ``Repository.ingest`` (permission checks, validation against the profile,
    reference codes, revisions, management graph, publication dataset, journal, and the
    catalog, which a big ingest indexes in a second process that it waits for), then
    ``close()``. Time spent inside the generator is measured and subtracted. Peak memory
    is the sum of both processes' peaks; CPU seconds are both processes'.
(b) raw: a fresh on-disk ``pyoxigraph.Store`` and ``bulk_load(path=…)`` of the very
    description triples (a) stored — every named graph of the working store except the
    management graph, exported after (a) — the anchor.

The goal (issue 2, item 13): (a) takes at most 2× (b), with peak memory under 4 GB.
Results go to ``bench/out/ingest-<time>.json``; a table with the medians is printed.
``--profile`` adds one cProfile run of the ingest at scale 0.05 (not timed) and prints the
25 functions with the most cumulative time (and the 25 with the most own time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "out"
BASE = "https://archive.example.edu"
GOAL_RATIO = 2.0
GOAL_RSS = 4 * 1024**3


# --------------------------------------------------------------------------- helpers
def peak_rss() -> int:
    """This process's peak resident set size, in bytes (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * (1 if sys.platform == "darwin" else 1024)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def gb(n: float) -> str:
    return f"{n / 1024**3:.2f} GiB"


PACKAGES = ("repo", "ontology", "bench", "iiif", "publisher")


def snapshot(dest: Path) -> str:
    """Copy the code under test to ``dest`` and return a hash of repo/ and ontology/.

    Others edit repo/ while a long benchmark runs; every measurement of one invocation
    imports this frozen copy, so all of them measure the same code.
    """

    shutil.rmtree(dest, ignore_errors=True)
    for name in PACKAGES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, dest / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "out"))
    return code_hash(dest)


def code_hash(dest: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for pkg in ("repo", "ontology"):
        for f in sorted((dest / pkg).rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(dest)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def machine() -> dict:
    import pyoxigraph

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=False).stdout.strip()
        except OSError:
            return ""

    return {
        "nproc": os.cpu_count(), "cpu": cpu, "memory_bytes": mem,
        "python": platform.python_version(), "pyoxigraph": pyoxigraph.__version__,
        "platform": platform.platform(),
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "repo_dirty": bool(git("status", "--porcelain", "repo", "ontology")),
    }


def progress_bar(transient: bool = False):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=transient)


# --------------------------------------------------------------------------- (a) ingest
def child_ingest(a: argparse.Namespace) -> dict:
    """Run in a fresh process: generate and ingest, then export what the anchors load."""
    from bench.synthetic import SyntheticArchive, export_descriptions
    from repo.repository import Repository

    site, work = Path(a.site), Path(a.work)
    t = time.perf_counter()
    archive = SyntheticArchive(a.scale, seed=a.seed, codes=a.codes)
    plan_s = time.perf_counter() - t
    repo, _ = Repository.init(site, BASE)
    admin = repo.user("admin")
    if a.without_catalog:  # measure the catalog's share: detach every listener
        for listener in repo.listeners:
            getattr(listener, "close", lambda: None)()
        repo.listeners.clear()
    if a.no_gc:
        import gc

        gc.disable()
    gen_s = 0.0
    with progress_bar(transient=bool(a.profile)) as bar:
        gen_task = bar.add_task(f"generate  scale {a.scale:g}", total=len(archive))
        ing_task = bar.add_task(f"ingest    scale {a.scale:g}", total=len(archive))

        def timed():
            nonlocal gen_s
            it = iter(archive)
            n = 0
            while True:
                t0 = time.perf_counter()
                try:
                    obj = next(it)
                except StopIteration:
                    gen_s += time.perf_counter() - t0
                    bar.update(gen_task, completed=n)
                    return
                gen_s += time.perf_counter() - t0
                n += 1
                if n % 1000 == 0:
                    bar.update(gen_task, completed=n)
                yield obj

        def step(k: int) -> None:
            bar.advance(ing_task, k)

        profiler = None
        if a.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        load0 = os.getloadavg()[0]
        c0 = time.process_time()
        t0 = time.perf_counter()
        created = repo.ingest(admin, timed(), message="synthetic archive (bench)",
                              batch_size=a.batch_size, progress=step)
        repo.close()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        if profiler is not None:
            profiler.disable()
    rss = peak_rss()
    # the catalog's second process (repo/catalog/ingestion.py), reaped by the ingest
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_rss = children.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    result = {
        "phase": "ingest", "scale": a.scale, "objects": len(created), "plan_s": plan_s,
        "wall_s": wall, "generator_s": gen_s, "ingest_s": wall - gen_s,
        "peak_rss": rss + worker_rss,  # both processes at their peaks: an upper bound
        "main_peak_rss": rss, "worker_peak_rss": worker_rss,
        "worker_cpu_s": children.ru_utime + children.ru_stime,
        "cpu_s": cpu - gen_s,  # all threads; the generator's (wall) time taken off
        "loadavg_before": load0, "loadavg_after": os.getloadavg()[0],
        "batch_size": a.batch_size, "codes": a.codes, "listeners": len(repo.listeners),
        "without_catalog": a.without_catalog, "no_gc": a.no_gc,
    }
    if profiler is not None:
        profiler.dump_stats(a.profile)
        result["profile"] = a.profile
    # Not timed: what the store holds, and the files the anchors load (the closed
    # repository let its stores go: open them again, read-only)
    from pyoxigraph import Store

    del repo
    working, public = Store.read_only(str(site / "working")), Store.read_only(
        str(site / "publication"))
    with progress_bar(transient=True) as bar:
        bar.add_task("export description triples for the anchor", total=None)
        desc = export_descriptions(working, work / "descriptions.nq")
        working_quads, public_quads = len(working), len(public)
        if a.raw_all:
            working.dump(output=str(work / "working.nq"), format=_nq())
            public.dump(output=str(work / "publication.nq"), format=_nq())
    result.update({
        "description_quads": desc, "management_quads": working_quads - desc,
        "publication_quads": public_quads, "working_quads": working_quads,
        "site_bytes": du(site), "descriptions_nq_bytes": (work / "descriptions.nq").stat().st_size,
    })
    return result


def _nq():
    from pyoxigraph import RdfFormat

    return RdfFormat.N_QUADS


# --------------------------------------------------------------------------- (b) raw anchor
def child_raw(a: argparse.Namespace) -> dict:
    """Run in a fresh process: bulk_load N-Quads files into fresh on-disk stores."""
    from pyoxigraph import Store

    files = [Path(f) for f in a.files]
    stores = []
    load0 = os.getloadavg()[0]
    c0 = time.process_time()
    t0 = time.perf_counter()
    for i, f in enumerate(files):
        (Path(a.store) / str(i)).mkdir(parents=True, exist_ok=True)
        store = Store(str(Path(a.store) / str(i)))
        store.bulk_load(path=str(f), format=_nq())
        store.flush()
        stores.append(store)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rss = peak_rss()
    quads = sum(len(s) for s in stores)
    return {"phase": a.child, "wall_s": wall, "cpu_s": cpu, "peak_rss": rss, "quads": quads,
            "loadavg_before": load0, "loadavg_after": os.getloadavg()[0],
            "store_bytes": du(Path(a.store)), "input_bytes": sum(f.stat().st_size for f in files)}


# --------------------------------------------------------------------------- orchestration
CODE = ROOT  # where children import the code under test from (a snapshot, see main)


def run_child(args: list[str], result: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(CODE) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "bench.ingest", *args, "--result", str(result)],
                          cwd=CODE, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed ({' '.join(args[:2])}): exit {proc.returncode}")
    return json.loads(result.read_text())


def one_repeat(scale: float, k: int, a: argparse.Namespace, work: Path) -> dict:
    run = work / f"scale-{scale:g}-run-{k}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    common = child_options(a)
    ing = run_child(["--child", "ingest", "--scale", str(scale), "--site", str(run / "site"),
                     "--work", str(run), *common, *(["--raw-all"] if a.raw_all else [])],
                    run / "ingest.json")
    shutil.rmtree(run / "site", ignore_errors=True)  # free the disk before the anchor
    raw = run_child(["--child", "raw", "--store", str(run / "raw"), "--files",
                     str(run / "descriptions.nq")], run / "raw.json")
    if raw["quads"] != ing["description_quads"]:
        raise SystemExit(f"anchor loaded {raw['quads']} quads, ingest stored "
                         f"{ing['description_quads']} description quads")
    shutil.rmtree(run / "raw", ignore_errors=True)
    out = {"ingest": ing, "raw": raw}
    if a.raw_all:
        out["raw_all"] = run_child(["--child", "raw-all", "--store", str(run / "raw-all"),
                                    "--files", str(run / "working.nq"),
                                    str(run / "publication.nq")], run / "raw-all.json")
    if not a.keep:
        shutil.rmtree(run, ignore_errors=True)
    return out


def child_options(a: argparse.Namespace) -> list[str]:
    return ["--seed", str(a.seed), "--codes", a.codes, "--batch-size", str(a.batch_size),
            *(["--without-catalog"] if a.without_catalog else []),
            *(["--no-gc"] if a.no_gc else [])]


def summarise(scale: float, runs: list[dict]) -> dict:
    med = statistics.median
    ing = [r["ingest"] for r in runs]
    raw = [r["raw"] for r in runs]
    desc = ing[0]["description_quads"]
    ingest_s = med(r["ingest_s"] for r in ing)
    raw_s = med(r["wall_s"] for r in raw)
    s = {
        "scale": scale, "repeats": len(runs), "objects": ing[0]["objects"],
        "description_quads": desc, "management_quads": ing[0]["management_quads"],
        "publication_quads": ing[0]["publication_quads"],
        "ingest_s": ingest_s, "ingest_wall_s": med(r["wall_s"] for r in ing),
        "generator_s": med(r["generator_s"] for r in ing),
        "ingest_objects_per_s": ing[0]["objects"] / ingest_s,
        "ingest_triples_per_s": desc / ingest_s,
        "ingest_all_quads_per_s": (ing[0]["working_quads"] + ing[0]["publication_quads"])
        / ingest_s,
        "ingest_peak_rss": max(r["peak_rss"] for r in ing),
        "raw_s": raw_s, "raw_triples_per_s": desc / raw_s,
        "raw_peak_rss": max(r["peak_rss"] for r in raw),
        "ratio": ingest_s / raw_s,
        "ingest_cpu_s": med(r.get("cpu_s", float("nan")) + r.get("worker_cpu_s", 0.0)
                            for r in ing),  # both processes
        "worker_cpu_s": med(r.get("worker_cpu_s", 0.0) for r in ing),
        "raw_cpu_s": med(r.get("cpu_s", float("nan")) for r in raw),
        "loadavg": max(max(r["loadavg_before"], r["loadavg_after"]) for r in ing + raw),
        "ratios": [i["ingest_s"] / r["wall_s"] for i, r in zip(ing, raw, strict=True)],
        "site_bytes": ing[0]["site_bytes"], "raw_store_bytes": raw[0]["store_bytes"],
    }
    s["cpu_ratio"] = s["ingest_cpu_s"] / s["raw_cpu_s"]
    if "raw_all" in runs[0]:
        s["raw_all_s"] = med(r["raw_all"]["wall_s"] for r in runs)
        s["raw_all_quads"] = runs[0]["raw_all"]["quads"]
        s["ratio_all"] = ingest_s / s["raw_all_s"]
    s["meets_ratio"] = s["ratio"] <= GOAL_RATIO
    s["meets_memory"] = s["ingest_peak_rss"] < GOAL_RSS
    return s


def print_table(summaries: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Lantai ingest vs raw pyoxigraph bulk_load (medians)")
    for col in ("scale", "objects", "desc. triples", "ingest s", "objects/s", "triples/s",
                "peak RSS", "raw s", "raw triples/s", "raw RSS", "ratio", "goal ≤2×, <4 GB",
                "CPU s ingest/raw", "load"):
        t.add_column(col, justify="right")
    for s in summaries:
        ok = ("✓" if s["meets_ratio"] else "✗") + " " + ("✓" if s["meets_memory"] else "✗")
        t.add_row(f"{s['scale']:g}" + (f" (×{s['repeats']})" if s["repeats"] > 1 else ""),
                  f"{s['objects']:,}", f"{s['description_quads']:,}", f"{s['ingest_s']:.1f}",
                  f"{s['ingest_objects_per_s']:,.0f}", f"{s['ingest_triples_per_s']:,.0f}",
                  gb(s["ingest_peak_rss"]), f"{s['raw_s']:.1f}",
                  f"{s['raw_triples_per_s']:,.0f}", gb(s["raw_peak_rss"]),
                  f"{s['ratio']:.1f}×", ok,
                  f"{s['ingest_cpu_s']:.1f}/{s['raw_cpu_s']:.1f} = {s['cpu_ratio']:.1f}×",
                  f"{s['loadavg']:.1f}")
    Console(width=max(shutil.get_terminal_size().columns, 160)).print(t)
    for s in summaries:
        extra = ""
        if "raw_all_s" in s:
            extra = (f"; raw bulk_load of everything the repository wrote "
                     f"({s['raw_all_quads']:,} quads): {s['raw_all_s']:.1f} s, "
                     f"{s['raw_all_s'] / s['raw_s']:.1f}× the anchor; the ingest took "
                     f"{s['ratio_all']:.1f}× that")
        print(f"scale {s['scale']:g}: working store {s['description_quads']:,} description + "
              f"{s['management_quads']:,} management quads, publication "
              f"{s['publication_quads']:,}; generator {s['generator_s']:.1f} s (excluded); "
              f"ratios per repeat {', '.join(f'{r:.2f}' for r in s['ratios'])}{extra}")


def print_profile(path: Path, scale: float, top: int = 25) -> None:
    import pstats

    print(f"\ncProfile of Repository.ingest at scale {scale:g} — top {top} by cumulative time "
          f"({path})")
    st = pstats.Stats(str(path))
    st.strip_dirs().sort_stats("cumulative").print_stats(top)
    print(f"— top {top} by own (total) time")
    st.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description="Measure Lantai's Repository.ingest of a synthetic archive against raw "
                    "pyoxigraph bulk_load of the same description triples (goal: ≤ 2×, peak "
                    "memory < 4 GB). Scale 1.0 is the real archive: 315,000 files and items, "
                    "355,800 page images, 37,300 documents, 1,394 audio/video.",
        epilog="Example: python -m bench.ingest --scale 0.05 --scale 0.2 --profile")
    p.add_argument("--scale", type=float, action="append",
                   help="archive scale; repeat for several (default: 0.05)")
    p.add_argument("--repeat", type=int, default=None,
                   help="repeats per scale, medians reported (default: 3 below scale 0.2, "
                        "1 from 0.2)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="where the JSON results go (default: bench/out)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="scratch space for sites, stores and N-Quads (default: OUT/work)")
    p.add_argument("--seed", type=int, default=20261125,
                   help="generator seed (default: %(default)s)")
    p.add_argument("--codes", choices=("explicit", "generated"), default="explicit",
                   help="reference codes given by the archive, or numbered by the repository "
                        "(default: explicit)")
    p.add_argument("--batch-size", type=int, default=5000,
                   help="Repository.ingest batch size (default: %(default)s)")
    p.add_argument("--raw-all", action="store_true",
                   help="also bulk_load everything the repository wrote (working store with "
                        "management graph, and publication dataset) as a second anchor")
    p.add_argument("--profile", action="store_true",
                   help="also profile one ingest at scale 0.05 with cProfile (not timed), print "
                        "the top 25 functions by cumulative time, save the .prof in OUT")
    p.add_argument("--profile-scale", type=float, default=0.05, help=argparse.SUPPRESS)
    p.add_argument("--without-catalog", action="store_true",
                   help="detach the repository's listeners (the search catalog) before the "
                        "ingest, to measure their share")
    p.add_argument("--no-gc", action="store_true",
                   help="disable Python's cyclic garbage collector during the ingest")
    p.add_argument("--no-snapshot", action="store_true",
                   help="import the code from the project itself, not from a frozen copy")
    p.add_argument("--code", type=Path, default=None,
                   help="import the code under test from this copy (e.g. the snapshot an "
                        "earlier run left in WORKDIR/code) instead of taking a new one")
    p.add_argument("--keep", action="store_true", help="keep the sites and files afterwards")
    # internal: one measurement in a child process
    p.add_argument("--child", choices=("ingest", "raw", "raw-all"), help=argparse.SUPPRESS)
    p.add_argument("--site", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)
    p.add_argument("--files", nargs="+", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--profile-out", dest="profile_out", help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.child:
        if a.child == "ingest":
            a.profile = a.profile_out
            a.scale = a.scale[0]
            result = child_ingest(a)
        else:
            result = child_raw(a)
        Path(a.result).write_text(json.dumps(result, indent=1))
        return 0

    scales = a.scale or [0.05]
    out: Path = a.out.resolve()  # children run elsewhere (in the code snapshot)
    work = (a.workdir or out / "work").resolve()
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    report = {"started": stamp, "machine": machine(), "args": {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()
        if k in ("scale", "repeat", "seed", "codes", "batch_size", "raw_all", "profile",
                 "without_catalog", "no_gc")},
        "runs": {}, "summary": []}
    m = report["machine"]
    global CODE
    if a.code is not None:
        CODE = a.code.resolve()
        m["code_hash"] = code_hash(CODE)
        m["code_snapshot"] = str(CODE)
    elif not a.no_snapshot:
        CODE = work / "code"
        m["code_hash"] = snapshot(CODE)
        m["code_snapshot"] = str(CODE)
    print(f"{m['nproc']} cores ({m['cpu']}), {gb(m['memory_bytes'])} RAM, Python {m['python']}, "
          f"pyoxigraph {m['pyoxigraph']}, commit {m['git_commit']}"
          f"{' + uncommitted changes in repo/' if m['repo_dirty'] else ''}"
          f"{', code frozen as ' + m['code_hash'] if 'code_hash' in m else ''}"
          f"{', without catalog' if a.without_catalog else ''}{', no gc' if a.no_gc else ''}")
    result_file = out / f"ingest-{stamp}.json"
    for scale in scales:
        n = a.repeat or (3 if scale < 0.2 else 1)
        runs = []
        for k in range(1, n + 1):
            print(f"scale {scale:g}, run {k}/{n}", file=sys.stderr)
            runs.append(one_repeat(scale, k, a, work))
            r = runs[-1]
            print(f"  ingest {r['ingest']['ingest_s']:.1f} s ({r['ingest']['objects']:,} objects, "
                  f"peak RSS {gb(r['ingest']['peak_rss'])}); raw bulk_load "
                  f"{r['raw']['wall_s']:.1f} s ({r['raw']['quads']:,} quads); ratio "
                  f"{r['ingest']['ingest_s'] / r['raw']['wall_s']:.2f}×", file=sys.stderr)
        report["runs"][f"{scale:g}"] = runs
        report["summary"].append(summarise(scale, runs))
        result_file.write_text(json.dumps(report, indent=1))
    print_table(report["summary"])
    if a.profile:
        prof = out / f"ingest-profile-{stamp}.prof"
        run = work / "profile"
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
        print(f"profiling an ingest at scale {a.profile_scale:g} …", file=sys.stderr)
        res = run_child(["--child", "ingest", "--scale", str(a.profile_scale),
                         "--site", str(run / "site"), "--work", str(run),
                         *child_options(a), "--profile-out", str(prof)],
                        run / "ingest.json")
        report["profile"] = {"file": str(prof), "scale": a.profile_scale,
                             "ingest_s_under_profiler": res["ingest_s"]}
        result_file.write_text(json.dumps(report, indent=1))
        shutil.rmtree(run, ignore_errors=True)
        print_profile(prof, a.profile_scale)
    print(f"results: {result_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
