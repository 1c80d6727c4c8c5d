"""The mixed public load: 16 client processes doing record pages, tiles, search, manifests and
SPARQL in fixed proportions, against ``lantai serve`` as it is and as it was ("today").

    python -m bench.mixed [--scale 0.05] [--no-demo] [--clients 16] [--duration 20]
                          [--rounds 2] [--workers N] [--today efd2477 | --today workers1]

The site is ``bench.serving.site`` (the synthetic archive at ``--scale`` plus the demo, built
once under ``bench/out/``; the demo brings the scans and recordings that have manifests and
tiles). Two servers take the same load, one after the other, the order alternating each round:

- ours: ``lantai serve --quiet`` of this checkout (``--workers N`` when given);
- today (the anchor): ``lantai serve`` of commit ``--today`` (default ``efd2477``, the issue's
  skeleton: one waitress process, 8 threads), its code exported with ``git archive`` into
  ``bench/out/today-<commit>/`` and put first on ``PYTHONPATH`` (same interpreter, same
  packages, same site); ``--today workers1`` takes ``lantai serve --workers 1`` of this
  checkout instead. The output says which.

Every client process has its own source address (127.0.0.2 …), as 16 visitors would (the
per-client limits apply as to them), one keep-alive connection, and cycles through its own
shuffled list of requests in these proportions (weights out of 100):

- ``page`` 35: a record's HTML page ``GET /id/record/…`` (synthetic and demo records);
- ``tile`` 30: 256 px tiles of the demo's scans, every zoom level (``/iiif/3/…/default.jpg``);
- ``search`` 15: the public search page ``GET /search?q=…`` (words of record titles);
- ``manifest`` 10: IIIF Presentation manifests of the demo's records with images or sound;
- ``sparql`` 10: cheap SPARQL through ``/sparql`` (a record's statements; a series' children).

Figures: requests/s answered 200 (the median of the rounds), per-kind p50/p95/p99, the CPU
seconds the server used (every process of it) per second of load and per request, and its
memory after the load; goals (issue 15): ≥ 1.8× today's requests/s, record pages p99 ≤ 100
ms. Results: printed, and ``bench/out/mixed-<time>.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import random
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.publisher import PREFIX, SELECT_JSON
from bench.serving import (
    DEFAULT_OUT,
    ROOT,
    Clients,
    Load,
    Request,
    Server,
    alternate,
    column,
    machine,
    median,
    pct,
    serve_help,
    site,
    start_lantai,
    write_json,
)

WEIGHTS = {"page": 35, "tile": 30, "search": 15, "manifest": 10, "sparql": 10}
GOAL_RATE, GOAL_PAGE_P99_MS = 1.8, 100.0
TODAY = "efd2477"


# --------------------------------------------------------------------------- the requests
def _get(server: Server, path: str, accept: str = "*/*") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request("GET", path, headers={"Accept": accept})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _services(node: Any) -> list[str]:
    """The ids of the IIIF Image API services anywhere in a manifest."""
    found: list[str] = []
    if isinstance(node, dict):
        if str(node.get("type", node.get("@type", ""))).startswith("ImageService"):
            found.append(str(node.get("id", node.get("@id"))))
        for value in node.values():
            found += _services(value)
    elif isinstance(node, list):
        for value in node:
            found += _services(value)
    return found


def tiles(info: dict, base: str, size: int = 256) -> list[str]:
    """Every ``size``-px tile path of one image at every scale factor it offers."""
    width, height = int(info["width"]), int(info["height"])
    spec: dict[str, Any] = next((t for t in info.get("tiles", []) if int(t["width"]) == size),
                                {"width": size, "scaleFactors": [1, 2, 4, 8]})
    out = []
    for sf in spec["scaleFactors"]:
        span = size * sf
        for y in range(0, height, span):
            for x in range(0, width, span):
                w, h = min(span, width - x), min(span, height - y)
                out.append(f"{base}/{x},{y},{w},{h}/{math.ceil(w / sf)},/0/default.jpg")
    return out


def requests_for(server: Server, home: Path, rng: random.Random) -> dict[str, list[Request]]:
    """Each kind's requests, found on ``server`` (every one answered 200 once, untimed)."""
    records = sorted(set(column(home, "SELECT ?r { ?r a rico:Record ; rico:title ?t }")))
    series = sorted(set(column(home, "SELECT DISTINCT ?s { ?c rico:isDirectlyIncludedIn ?s "
                                     ". ?s a rico:RecordSet }")))
    titles = column(home, 'SELECT ?t { ?r a rico:Record ; rico:title ?t . '
                          'FILTER(LANG(?t) = "en") }')
    kinds: dict[str, list[Request]] = {}
    paths = [urlsplit(r).path for r in rng.sample(records, min(200, len(records)))]
    kinds["page"] = [Request("page", p, "text/html") for p in paths]

    # manifests: the demo's records (their scans and recordings are real files, so their
    # tiles exist) and a sample of the synthetic records with digital instantiations (their
    # manifests are real, their files are not); probing every record took minutes
    from repo.demo import read_archive

    demo_keys = {o.key for o in read_archive().objects}
    digital = sorted(set(column(home, "SELECT DISTINCT ?r { ?i "
                                      "rico:isOrWasDigitalInstantiationOf ?r }")))
    candidates = [r for r in digital if r.rsplit("/", 1)[-1] in demo_keys]
    candidates += rng.sample(digital, min(40, len(digital)))
    manifests, services = [], []
    for r in sorted(set(candidates)):
        key = urlsplit(r).path.removeprefix("/id/")
        status, body = _get(server, f"/iiif/manifest/{key}", "application/json")
        if status == 200:
            manifests.append(f"/iiif/manifest/{key}")
            services += _services(json.loads(body))
    kinds["manifest"] = [Request("manifest", p, "application/ld+json") for p in manifests]
    tile_paths: list[str] = []
    for sid in sorted(set(services)):
        base = urlsplit(sid).path
        status, body = _get(server, f"{base}/info.json", "application/json")
        if status == 200:
            tile_paths += tiles(json.loads(body), base)
    kinds["tile"] = [Request("tile", p, "image/jpeg")
                     for p in rng.sample(tile_paths, min(400, len(tile_paths)))]

    words = sorted({w.lower() for t in titles for w in re.findall(r"[A-Za-z]{5,}", t)})
    kinds["search"] = [Request("search", "/search?" + urlencode({"q": w}), "text/html")
                       for w in rng.sample(words, min(40, len(words)))]
    sparql = [f"SELECT ?p ?o WHERE {{ <{r}> ?p ?o }}"
              for r in rng.sample(records, min(25, len(records)))]
    sparql += [f"SELECT ?child ?code WHERE {{ ?child rico:isDirectlyIncludedIn <{s}> . "
               "OPTIONAL { ?child rico:identifier ?code } } ORDER BY ?code LIMIT 50"
               for s in rng.sample(series, min(25, len(series)))]
    kinds["sparql"] = [Request("sparql", "/sparql?" + urlencode({"query": PREFIX + q}),
                               SELECT_JSON) for q in sparql]
    for kind, reqs in kinds.items():
        if not reqs:
            raise SystemExit(f"lantai: error: the site has nothing for '{kind}' requests")
        for req in reqs[:3]:
            status, body = _get(server, req.path, req.accept)
            if status != 200:
                raise SystemExit(f"lantai: error: {req.path}: {status} {body[:200]!r}")
    return kinds


def pattern() -> list[str]:
    """The kinds in :data:`WEIGHTS`' proportions, spread evenly (smooth weighted round robin):
    any 20 requests in a row hold each kind its weight ÷ 5 times."""
    unit = math.gcd(*WEIGHTS.values())
    weights = {kind: w // unit for kind, w in WEIGHTS.items()}
    current = dict.fromkeys(weights, 0)
    out = []
    for _ in range(sum(weights.values())):
        for kind, w in weights.items():
            current[kind] += w
        pick = max(current, key=lambda k: current[k])
        current[pick] -= sum(weights.values())
        out.append(pick)
    return out


def schedule(kinds: dict[str, list[Request]], seed: int, length: int = 1000) -> list[Request]:
    """``length`` requests in the proportions of :data:`WEIGHTS` (:func:`pattern`), each kind's
    request drawn at random (``seed``)."""
    rng = random.Random(seed)
    kinds_in_turn = pattern()
    return [rng.choice(kinds[kinds_in_turn[i % len(kinds_in_turn)]]) for i in range(length)]


# --------------------------------------------------------------------------- today's code
def export_commit(commit: str, out: Path) -> Path:
    """The tree of ``commit`` in ``out/today-<commit>/`` (``git archive``; kept)."""
    folder = out / f"today-{commit}"
    if (folder / "repo" / "cli.py").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    tar = folder.with_suffix(".tar")
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(tar), commit],
                   check=True)
    with tarfile.open(tar) as archive:
        archive.extractall(folder, filter="data")
    tar.unlink()
    return folder


def summarise(loads: list[Load]) -> dict:
    kinds = sorted({k for ld in loads for k in ld.latencies})
    statuses: dict[str, int] = {}
    for ld in loads:
        for k, v in ld.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    by_kind = {}
    for kind in kinds:
        xs = [x for ld in loads for x in ld.latencies.get(kind, [])]
        by_kind[kind] = {"requests": len(xs), "p50_ms": pct(xs, 50), "p95_ms": pct(xs, 95),
                         "p99_ms": pct(xs, 99)}
    sent = {kind: sum(v for k, v in statuses.items() if k.split()[0] == kind)
            for kind in WEIGHTS}
    return {"rps": round(median([ld.rate for ld in loads]), 1),
            "sent": sent,
            "rps_rounds": [round(ld.rate, 1) for ld in loads],
            "cores": round(median([ld.cpu / ld.wall for ld in loads]), 2),
            "cpu_ms_per_request": round(median([ld.cpu / ld.ok * 1000 for ld in loads
                                                if ld.ok]), 2),
            "by_kind": by_kind,
            "not_200": {k: v for k, v in statuses.items() if not k.endswith(" 200")},
            "errors": [e for ld in loads for e in ld.errors][:5],
            "late_starts": sum(ld.late_starts for ld in loads)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.mixed",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.05,
                    help="synthetic archive at this scale (0.05; 0 for none)")
    ap.add_argument("--no-demo", action="store_true", help="leave the demo archive out")
    ap.add_argument("--rebuild", action="store_true", help="build the site again")
    ap.add_argument("--clients", type=int, default=16, help="client processes (16)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per round (20)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (2)")
    ap.add_argument("--workers", type=int, default=None,
                    help="lantai serve --workers N for ours (default: the command's default)")
    ap.add_argument("--today", default=TODAY,
                    help=f"the anchor: a commit whose lantai serve is 'today' ({TODAY}), "
                         "or 'workers1' for this checkout's lantai serve --workers 1")
    ap.add_argument("--seed", type=int, default=20261208)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    if a.clients > 250:
        raise SystemExit("lantai: error: --clients: at most 250 (one loopback address each)")

    built = site(a.out, a.scale or None, demo=not a.no_demo, rebuild=a.rebuild)
    home = Path(built["home"])
    work = a.out / "work-mixed"
    has_workers = "--workers" in serve_help()
    if a.workers is not None and not has_workers:
        print("lantai serve has no --workers here: ours serves with its default",
              file=sys.stderr)
    workers = a.workers if has_workers else None
    if a.today == "workers1":
        if not has_workers:
            raise SystemExit("lantai: error: --today workers1: lantai serve has no --workers")
        today_code, today_workers, today_name = None, 1, "lantai serve --workers 1 (this code)"
    else:
        today_code, today_workers = export_commit(a.today, a.out), None
        today_name = f"lantai serve of commit {a.today} (code exported with git archive)"
    rng = random.Random(a.seed)
    pages = sorted(set(column(home, "SELECT ?r { ?r a rico:Record ; rico:title ?t }")))
    probe = urlsplit(pages[0]).path
    print(f"data: {built['tag']} ({built['quads']:,} quads; built in {built['build_s']:g} s); "
          f"{a.clients} clients × {a.duration:g} s × {a.rounds} rounds; today = {today_name}",
          file=sys.stderr)

    pool = Clients(a.clients)
    servers: dict[str, Server] = {}
    try:
        servers["ours"] = start_lantai(home, work, probe, workers=workers, name="ours")
        servers["today"] = start_lantai(home, work, probe, workers=today_workers,
                                        code=today_code, name="today")
        kinds = requests_for(servers["ours"], home, rng)
        lists = [schedule(kinds, a.seed + k) for k in range(a.clients)]
        sources = [f"127.0.0.{2 + k}" for k in range(a.clients)]
        for s in servers.values():  # warm-up: caches, connections, worker and query processes
            pool.run(s, lists, min(3.0, a.duration), sources=sources)
        loads: dict[str, list[Load]] = {"ours": [], "today": []}
        for r in range(a.rounds):
            for side in alternate(["today", "ours"], r):
                load = pool.run(servers[side], lists, a.duration, sources=sources)
                loads[side].append(load)
                print(f"  round {r + 1} {side:6} {load.rate:8.1f} requests/s, "
                      f"{load.cpu / load.wall:.2f} cores", file=sys.stderr)
        memory = {"ours": servers["ours"].memory(), "anchor": servers["today"].memory()}
    finally:
        for s in servers.values():
            s.stop()
        pool.close()

    res = {side: summarise(ld) for side, ld in loads.items()}
    ratio = res["ours"]["rps"] / res["today"]["rps"] if res["today"]["rps"] else None
    page_p99 = res["ours"]["by_kind"].get("page", {}).get("p99_ms", float("nan"))
    result = {"bench": "mixed", **machine(), "site": {k: v for k, v in built.items()
                                                      if k != "home"},
              "clients": a.clients, "duration": a.duration, "rounds": a.rounds,
              "weights": WEIGHTS, "workers": workers, "today": today_name,
              "counts": {k: len(v) for k, v in kinds.items()},
              "ours": res["ours"], "anchor": res["today"], "memory_after_load": memory,
              "ratio": round(ratio, 2) if ratio is not None else None,
              "goals": {"ratio": GOAL_RATE, "page_p99_ms": GOAL_PAGE_P99_MS},
              "met": {"ratio": ratio is not None and ratio >= GOAL_RATE,
                      "page_p99": page_p99 <= GOAL_PAGE_P99_MS},
              "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    path = write_json(a.out, "mixed", result)
    report(result)
    print(f"\nwritten to {path}")
    return 0


def report(r: dict) -> None:
    print(f"\nmixed load, {r['clients']} client processes, weights {r['weights']} "
          f"({r['site']['quads']:,} quads; commit {r['commit']}; load average "
          f"{r['load'][0]:.1f} at the end)\nanchor (today): {r['today']}")
    ours, today = r["ours"], r["anchor"]
    ratio = f"{r['ratio']:.2f}×" if r["ratio"] is not None else "—"
    print(f"{'':10} {'ours':>24} {'today':>24}")
    print(f"{'requests/s':10} {ours['rps']:>24.1f} {today['rps']:>24.1f}   ratio {ratio} "
          f"(goal ≥ {r['goals']['ratio']}×){'' if r['met']['ratio'] else ' ✗'}")
    print(f"{'cores used':10} {ours['cores']:>24.2f} {today['cores']:>24.2f}")
    print(f"{'CPU ms/req':10} {ours['cpu_ms_per_request']:>24.2f} "
          f"{today['cpu_ms_per_request']:>24.2f}")
    print(f"{'p50/p95/p99 ms':14}")
    for kind in r["weights"]:
        o, t = ours["by_kind"].get(kind), today["by_kind"].get(kind)
        if not (o and t):
            continue
        goal = ""
        if kind == "page":
            goal = (f"   (goal p99 ≤ {r['goals']['page_p99_ms']:g} ms)"
                    f"{'' if r['met']['page_p99'] else ' ✗'}")
        print(f"  {kind:8} {o['p50_ms']:>7.1f}/{o['p95_ms']:>7.1f}/{o['p99_ms']:>7.1f}  "
              f"{t['p50_ms']:>7.1f}/{t['p95_ms']:>7.1f}/{t['p99_ms']:>7.1f}{goal}")
    for side, key, s in (("ours", "ours", ours), ("today", "anchor", today)):
        if s["not_200"]:
            print(f"  {side}: not 200: {s['not_200']} {s['errors'][:1]}")
        m = r["memory_after_load"][key]
        print(f"  {side}: memory after the load RSS {m['rss_mb']:.1f} MiB, PSS "
              f"{m['pss_mb']:.1f} MiB ({m['processes']} processes)")


if __name__ == "__main__":
    raise SystemExit(main())
