"""Server time of the staff workspace's pages on a site of 100,000 objects.

    python -m bench.staff [--objects 100000] [--big 10000] [--requests 200] [--rounds 3]
                          [--rebuild] [--out DIR]

1. Site (built once, cached in ``bench/out/staff-site-<objects>/``; ``--rebuild`` makes it
   again): the synthetic archive (``bench/synthetic.py``) at the scale that gives
   ``--objects`` objects with the extra series, ingested through ``Repository.ingest``; a
   series ``/xjtu/big`` of ``--big`` items and a series ``/xjtu/small`` of 10 (the folder
   that must open as fast as one of ten); 40 records edited 12 times each (a history worth
   reading); the ``admin`` Manager and an ``editor`` (site role Editor) with passwords.
2. Server time: the site's WSGI app (``publisher.app.create_app``) called in-process through
   Flask's test client, signed in as ``editor`` the way a browser is (session cookie, CSRF
   token): no network, no browser, only what the server does for a request. Each kind of page
   is asked ``--requests`` times per round, each time for another object of a fixed sample
   (no answer cache to hit), after a warm-up; p50 and p99 per round, the median of
   ``--rounds`` rounds printed beside the goal of issue 11 and the ratio (figure ÷ goal;
   ≤ 1 meets it). A page a part does not serve yet (404 on every sample) is reported as such.

Goals (issue 11, "Performance"): folder view, edit form and history p50 ≤ 50 ms and
p99 ≤ 200 ms; type-ahead for agents p50 ≤ 20 ms; a 10,000-child folder's first page ≤ 50 ms.
Results go to ``bench/out/staff-<time>.json``; figures in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "out"
BASE = "https://archive.example.edu"
PASSWORD = "bench-password-1"
SAMPLE = 400  # objects per kind of page (requests cycle through them)


@dataclass(frozen=True)
class Page:
    """One kind of page: a URL made from a sample entry, and the goals it is held to."""

    name: str
    url: str  # format string with {path} (no leading slash) or {q}
    sample: str  # which list of meta.json it draws from
    goal_p50: float | None
    goal_p99: float | None


PAGES = (
    Page("folder view", "/staff/browse/{path}", "containers", 50, 200),
    Page("edit form", "/staff/edit/{path}", "records", 50, 200),
    Page("history", "/staff/history/{path}", "edited", 50, 200),
    Page("type-ahead (agents)", "/staff/lookup/objects?field=creator&type=file&creator={q}",
         "names", 20, None),
    Page("{big:,}-child folder, first page", "/staff/browse/xjtu/big", "one", 50, None),
    Page("10-child folder, first page", "/staff/browse/xjtu/small", "one", 50, None),
    Page("dashboard", "/staff/", "one", None, None),
)


# --------------------------------------------------------------------------- the site
def scale_for(objects: int, extra: int) -> float:
    """The synthetic archive's scale whose object count plus ``extra`` is ``objects``."""
    from bench.synthetic import Counts

    lo, hi = 1e-4, 4.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if Counts.at(mid).objects + extra < objects:
            lo = mid
        else:
            hi = mid
    return hi


def build(home: Path, objects: int, big: int) -> dict:
    """Make the site and return what the measurements sample (also in meta.json)."""
    from bench.synthetic import SyntheticArchive
    from repo.repository import NewObject, Repository

    extra = big + 10 + 2
    scale = scale_for(objects, extra)
    archive = SyntheticArchive(scale)
    rng = random.Random(11)
    containers: list[str] = []
    records: list[str] = []
    names: list[str] = []

    def stream() -> Iterator[NewObject]:
        for obj in archive:
            path = obj.parent.rstrip("/") + "/" + (obj.slug or "")
            if obj.type in ("series", "file"):
                containers.append(path)
            if obj.type in ("file", "item"):
                records.append(path)
            if obj.type in ("person", "corporatebody") and isinstance(obj.fields, dict):
                name = obj.fields.get("name", {})
                if isinstance(name, dict) and name.get("zh"):
                    names.append(name["zh"][:2])
            yield obj
        for slug, n in (("big", big), ("small", 10)):
            yield NewObject("/xjtu", "series", {
                "title": {"zh": f"基准{n}件", "en": f"Benchmark, {n} items"},
                "category": "JX", "retention": "Y"},
                slug=slug, state="published", access="open")
            for i in range(n):
                yield NewObject(f"/xjtu/{slug}", "item", {
                    "title": {"zh": f"基准件{i + 1}", "en": f"Benchmark item {i + 1}"},
                    "category": "JX", "retention": "Y",
                    "begin": f"{1950 + i % 70}-0{1 + i % 9}"},
                    slug=f"i{i + 1:05d}", state="published")

    if home.exists():
        shutil.rmtree(home)
    t0 = time.perf_counter()
    repo, _ = Repository.init(home, BASE)
    try:
        admin = repo.user("admin")
        repo.ingest(admin, stream(), message="bench.staff")
        ingest_s = time.perf_counter() - t0
        edited = rng.sample(records, 40)
        for path in edited:
            for n in range(12):
                repo.edit(admin, path, set={"title": {"zh": f"第{n}次修改", "en": f"edit {n}"}},
                          message=f"bench edit {n}")
        repo.add_user(admin, "editor", roles=["Editor"], fullname="Bench editor")
        for name in ("admin", "editor"):
            repo.set_password(admin, name, PASSWORD)
        total = len(archive) + extra
    finally:
        repo.close()
    meta = {"objects": total, "scale": scale, "big": big, "ingest_s": round(ingest_s, 1),
            "build_s": round(time.perf_counter() - t0, 1),
            "containers": rng.sample(containers, min(SAMPLE, len(containers))),
            "records": rng.sample(records, min(SAMPLE, len(records))), "edited": edited,
            "names": rng.sample(sorted(set(names)), min(SAMPLE, len(set(names)))),
            "one": [""]}
    (home / "bench-meta.json").write_text(json.dumps(meta, ensure_ascii=False))
    return meta


def site(out: Path, objects: int, big: int, rebuild: bool) -> tuple[Path, dict]:
    home = out / f"staff-site-{objects}"
    meta_file = home / "bench-meta.json"
    if rebuild or not meta_file.exists():
        print(f"building a site of {objects:,} objects in {home} (once) …", flush=True)
        meta = build(home, objects, big)
        print(f"  built in {meta['build_s']} s (ingest {meta['ingest_s']} s)", flush=True)
        return home, meta
    fresh_catalogs(home)
    return home, json.loads(meta_file.read_text())


def fresh_catalogs(home: Path) -> None:
    """Rebuild the cached site's catalogs if their schema changed since it was built (the
    type-ahead and search pages would find no catalog)."""
    from repo.catalog import maintainer
    from repo.catalog.index import CatalogIndex
    from repo.catalog.maintenance import catalog_path
    from repo.repository import Repository

    if all(CatalogIndex.usable(catalog_path(home, public)) for public in (False, True)):
        return
    print("the catalog's schema changed since the site was built: reindexing …", flush=True)
    repo = Repository.open(home)
    try:
        maintainer(repo).rebuild(staff=True, public=True)
    finally:
        repo.close()


# --------------------------------------------------------------------------- measuring
def signed_in(app):
    """A test client of ``app`` signed in as the bench's editor (cookie + CSRF, as a browser)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from staff_support import StaffClient  # the tests' browser-like client: one copy of it

    staff = StaffClient(app)
    resp = staff.sign_in("editor", PASSWORD)
    if resp.status_code != 302:
        raise SystemExit(f"bench.staff: sign-in failed ({resp.status_code})")
    return staff


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(get: Callable[[str], int], urls: list[str], requests: int) -> dict:
    """Time ``requests`` GETs cycling through ``urls``; statuses counted."""
    times: list[float] = []
    statuses: dict[int, int] = {}
    for i in range(requests):
        url = urls[i % len(urls)]
        t0 = time.perf_counter()
        status = get(url)
        times.append((time.perf_counter() - t0) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
    return {"p50": percentile(times, 0.5), "p99": percentile(times, 0.99),
            "statuses": statuses}


def run(home: Path, meta: dict, requests: int, rounds: int) -> list[dict]:
    from urllib.parse import quote

    from publisher.app import create_app

    app = create_app(home)
    staff = signed_in(app)

    def get(url: str) -> int:
        return staff.client.get(url).status_code

    results = []
    for page in PAGES:
        urls = [page.url.format(path=quote(p.strip("/")), q=quote(p))
                for p in meta[page.sample]]
        measure(get, urls, min(20, requests))  # warm-up
        runs = [measure(get, urls, requests) for _ in range(rounds)]
        ok = sum(r["statuses"].get(200, 0) for r in runs)
        statuses: dict[str, int] = {}
        for r in runs:
            for s, n in r["statuses"].items():
                statuses[str(s)] = statuses.get(str(s), 0) + n
        p50 = statistics.median(r["p50"] for r in runs)
        p99 = statistics.median(r["p99"] for r in runs)
        results.append({"page": page.name.format(big=meta["big"]), "url": page.url,
                        "served": ok > 0,
                        "statuses": statuses, "p50_ms": round(p50, 2), "p99_ms": round(p99, 2),
                        "goal_p50_ms": page.goal_p50, "goal_p99_ms": page.goal_p99,
                        "rounds": [{"p50": round(r["p50"], 2), "p99": round(r["p99"], 2)}
                                   for r in runs]})
    results += anchors(app, meta, rounds)
    return results


def anchors(app, meta: dict, rounds: int) -> list[dict]:
    """What the naive page would cost: every child of the big folder loaded
    (``Repository.children``) and an edited record's whole history, on the read-only view
    the pages use. Not goals: the figures the paged views are compared with."""
    from flask import g

    site = app.extensions["lantai.api"]
    jobs = {f"anchor: Repository.children of the {meta['big']:,}-child folder":
            (1, lambda repo, user: repo.children(user, "/xjtu/big")),  # ~40 s: once
            "anchor: Repository.history of an edited record":
            (max(5, rounds), lambda repo, user: repo.history(user, meta["edited"][0]))}
    out = []
    for name, (repeat, job) in jobs.items():
        times = []
        for _ in range(repeat):
            with app.test_request_context():
                reader = site.reader()
                user = reader.active_user("editor")
                t0 = time.perf_counter()
                job(reader, user)
                times.append((time.perf_counter() - t0) * 1000)
                g.pop("lantai_api_reader", None)
        p50 = statistics.median(times)
        out.append({"page": name, "url": "", "served": True, "statuses": {},
                    "p50_ms": round(p50, 2), "p99_ms": round(max(times), 2),
                    "goal_p50_ms": None, "goal_p99_ms": None,
                    "rounds": [{"p50": round(t, 2), "p99": round(t, 2)} for t in times]})
    return out


def table(results: list[dict]) -> str:
    def ratio(value: float, goal: float | None) -> str:
        return f"{value / goal:.2f}×" if goal else "—"

    lines = [f"{'page':50} {'p50 ms':>8} {'goal':>5} {'ratio':>6} {'p99 ms':>8} {'goal':>5} "
             f"{'ratio':>6}  statuses"]
    for r in results:
        if not r["served"]:
            lines.append(f"{r['page']:50} {'not served yet':>44}  {r['statuses']}")
            continue
        lines.append(
            f"{r['page']:50} {r['p50_ms']:8.1f} {r['goal_p50_ms'] or '—':>5} "
            f"{ratio(r['p50_ms'], r['goal_p50_ms']):>6} {r['p99_ms']:8.1f} "
            f"{r['goal_p99_ms'] or '—':>5} {ratio(r['p99_ms'], r['goal_p99_ms']):>6}  "
            f"{r['statuses']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=10_000, help="children of the big folder")
    ap.add_argument("--requests", type=int, default=200, help="per page kind and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rebuild", action="store_true", help="make the cached site again")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    home, meta = site(a.out, a.objects, a.big, a.rebuild)
    load0 = os.getloadavg()
    results = run(home, meta, a.requests, a.rounds)
    print(f"\nstaff workspace, {meta['objects']:,} objects, server time (median of "
          f"{a.rounds} rounds of {a.requests} requests):\n")
    print(table(results))
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    record = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_before": load0, "load_after": os.getloadavg()},
              "site": {k: meta[k] for k in ("objects", "scale", "big", "ingest_s", "build_s")},
              "requests": a.requests, "rounds": a.rounds, "results": results}
    path = a.out / f"staff-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False))
    print(f"\n(load average {load0[0]:.1f} → {os.getloadavg()[0]:.1f}; results in {path})")


if __name__ == "__main__":
    main()
