"""The publisher's SPARQL endpoint against the Oxigraph server, side by side, and record pages.

    python -m bench.publisher [--scale 0.02] [--clients 4] [--duration 10] [--rounds 2]

One run builds a site (the demo archive, or with ``--scale`` a synthetic one through
``Repository.ingest``), then serves the same publication dataset twice:

- ours: ``create_app(home)`` on waitress (8 threads) in its own process, ``/sparql``;
- the anchor: ``oxigraph serve-read-only --union-default-graph`` (PyPI ``oxigraph``, the same
  Oxigraph version as pyoxigraph) on a copy of the very same publication store directory.

The same client (``http.client``, one keep-alive connection per client thread, ``--clients``
threads, GET with ``Accept: application/sparql-results+json``) runs a fixed query mix against
each for ``--duration`` seconds, alternating ``--rounds`` times so drift on a shared machine
hits both. The mix, with its parameters drawn once from the data (seeded):

- ``lookup``    every statement about one record
- ``two_hop``   the records of a series with their creators' names (record → agent → name)
- ``children``  the children of a series with their reference codes, ordered
- ``filter``    records whose date falls in one year (string filter over all dated records)
- ``aggregate`` records per category (门类), counted over the whole hierarchy

Then record pages: ``GET /id/record/…`` (HTML) one client at a time, p50/p99.
Goals (issue 4, item 9, at scale 1.0): throughput ≥ 0.8× Oxigraph's; record lookup p99 ≤ 50 ms;
record page p50 ≤ 20 ms. Results: printed, and ``bench/out/publisher-<time>.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "out"
BASE = "https://archive.example.edu"
RICO = "https://www.ica.org/standards/RiC/ontology#"
PREFIX = f"PREFIX rico: <{RICO}>\n"
GOAL_RATIO, GOAL_LOOKUP_P99_MS, GOAL_PAGE_P50_MS = 0.8, 50.0, 20.0


# --------------------------------------------------------------------------- the data
def build_site(home: Path, scale: float | None) -> None:
    from repo.repository import Repository

    repo, _ = Repository.init(home, BASE)
    try:
        admin = repo.user("admin")
        if scale is None:
            from repo.demo import load_demo

            load_demo(repo, admin)
        else:
            from bench.synthetic import SyntheticArchive

            repo.ingest(admin, iter(SyntheticArchive(scale)), message="bench.publisher")
    finally:
        repo.close()


def parameters(home: Path, rng: random.Random, n: int = 50) -> dict[str, list[str]]:
    """Records, series with children and years to query, drawn from the publication store."""
    from pyoxigraph import Store

    store = Store.read_only(str(home / "publication"))

    def column(query: str) -> list[str]:
        return [row[0].value for row in store.query(PREFIX + query,
                                                    use_default_graph_as_union=True)]

    records = column("SELECT ?r { ?r a rico:Record ; rico:title ?t } ")
    parents = column("SELECT DISTINCT ?s { ?c rico:isDirectlyIncludedIn ?s . "
                     "?s a rico:RecordSet }")
    years = sorted({d[:4] for d in column("SELECT ?d { ?r a rico:Record ; "
                                          "rico:beginningDate ?d }") if d[:4].isdigit()})
    if not (records and parents and years):
        raise SystemExit("lantai: error: the publication has no dated records in series")

    def pick(xs: list[str]) -> list[str]:
        return [rng.choice(sorted(xs)) for _ in range(n)]

    return {"record": pick(records), "series": pick(parents), "year": pick(years)}


def query_mix(params: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    """(name, queries) for each kind: the client cycles through each list."""
    def each(key: str, template: str) -> list[str]:
        return [PREFIX + template.replace("$X", v) for v in params[key]]

    return [
        ("lookup", each("record", "SELECT ?p ?o WHERE { <$X> ?p ?o }")),
        ("two_hop", each("series", "SELECT ?r ?title ?name WHERE { "
                         "?r rico:isDirectlyIncludedIn <$X> ; rico:title ?title ; "
                         "rico:hasCreator ?agent . ?agent rico:name ?name . "
                         'FILTER(LANG(?title) = "zh" && LANG(?name) = "zh") } LIMIT 100')),
        ("children", each("series", "SELECT ?child ?code WHERE { "
                          "?child rico:isDirectlyIncludedIn <$X> . "
                          "OPTIONAL { ?child rico:identifier ?code } } "
                          "ORDER BY ?code LIMIT 50")),
        ("filter", each("year", "SELECT ?r ?d WHERE { ?r a rico:Record ; "
                        'rico:beginningDate ?d . FILTER(STRSTARTS(STR(?d), "$X")) } '
                        "LIMIT 100")),
        ("aggregate", [PREFIX + "SELECT ?category (COUNT(?r) AS ?n) WHERE { "
                       "?series rico:hasOrHadType ?category . "
                       "?r rico:isDirectlyIncludedIn+ ?series } GROUP BY ?category"]),
    ]


# --------------------------------------------------------------------------- the servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"lantai: error: server on port {port} exited ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"lantai: error: server on port {port} did not come up")


OURS = """
import sys
from waitress import serve
from publisher.app import create_app
app = create_app(sys.argv[1])
app.extensions["lantai.sparql_pool"].start()
serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=8, _quiet=True,
      asyncore_use_poll=True)
"""


def start_ours(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", OURS, str(home), str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def start_oxigraph(store_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or "oxigraph"
    proc = subprocess.Popen([exe, "serve-read-only", "--location", str(store_dir), "--bind",
                             f"127.0.0.1:{port}", "--union-default-graph"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------- the client
def get(conn: http.client.HTTPConnection, path: str, accept: str) -> tuple[int, bytes]:
    conn.request("GET", path, headers={"Accept": accept})
    resp = conn.getresponse()
    return resp.status, resp.read()


def load(url: str, mix, clients: int, duration: float) -> dict:
    """``clients`` threads, each cycling through the mix for ``duration`` seconds."""
    host = urlsplit(url)
    latencies: dict[str, list[float]] = {name: [] for name, _ in mix}
    errors: list[str] = []
    stop_at = time.perf_counter() + duration
    lock = threading.Lock()

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        mine: dict[str, list[float]] = {name: [] for name, _ in mix}
        i = k
        while time.perf_counter() < stop_at:
            name, queries = mix[i % len(mix)]
            query = queries[(i // len(mix)) % len(queries)]
            i += 1
            t0 = time.perf_counter()
            status, body = get(conn, "/sparql?" + urlencode({"query": query}),
                               "application/sparql-results+json")
            took = time.perf_counter() - t0
            if status != 200:
                errors.append(f"{name}: {status} {body[:200]!r}")
                continue
            mine[name].append(took)
        conn.close()
        with lock:
            for name, xs in mine.items():
                latencies[name].extend(xs)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"latencies": latencies, "wall": wall, "errors": errors}


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))] * 1000


def summary(runs: list[dict]) -> dict:
    names = list(runs[0]["latencies"])
    allx = [x for r in runs for n in names for x in r["latencies"][n]]
    wall = sum(r["wall"] for r in runs)
    out = {"requests": len(allx), "seconds": wall, "throughput": len(allx) / wall,
           "p50_ms": pct(allx, 50), "p99_ms": pct(allx, 99),
           "errors": [e for r in runs for e in r["errors"]][:10], "by_query": {}}
    for n in names:
        xs = [x for r in runs for x in r["latencies"][n]]
        out["by_query"][n] = {"requests": len(xs), "p50_ms": pct(xs, 50), "p99_ms": pct(xs, 99)}
    return out


def record_pages(url: str, records: list[str], n: int) -> dict:
    host = urlsplit(url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
    paths = [urlsplit(r).path for r in records]
    for p in paths[:5]:  # warm up
        get(conn, p, "text/html")
    xs, bad = [], 0
    for i in range(n):
        t0 = time.perf_counter()
        status, _ = get(conn, paths[i % len(paths)], "text/html")
        xs.append(time.perf_counter() - t0)
        bad += status != 200
    conn.close()
    return {"requests": n, "p50_ms": pct(xs, 50), "p99_ms": pct(xs, 99), "non_200": bad}


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.publisher",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=None,
                    help="a synthetic archive at this scale (1.0 = the real archive); "
                         "default: the demo archive")
    ap.add_argument("--clients", type=int, default=4, help="concurrent client threads (4)")
    ap.add_argument("--duration", type=float, default=10.0,
                    help="seconds of load per endpoint and round (10)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternating rounds ours/Oxigraph (2)")
    ap.add_argument("--pages", type=int, default=300, help="record page requests (300)")
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--workdir", type=Path, default=DEFAULT_OUT / "work-publisher")
    ap.add_argument("--keep", action="store_true", help="keep the site in --workdir")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args(argv)

    work = a.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    home = work / "home"
    t0 = time.perf_counter()
    build_site(home, a.scale)
    build_s = time.perf_counter() - t0
    shutil.copytree(home / "publication", work / "oxigraph")
    rng = random.Random(a.seed)
    params = parameters(home, rng)
    mix = query_mix(params)
    print(f"data: {'demo' if a.scale is None else f'synthetic scale {a.scale:g}'} "
          f"(built in {build_s:.1f} s); {a.clients} clients, {a.duration:g} s × "
          f"{a.rounds} rounds per endpoint", file=sys.stderr)

    ours, ours_url = start_ours(home)
    oxi, oxi_url = start_oxigraph(work / "oxigraph")
    try:
        for url in (ours_url, oxi_url):  # warm up: every worker and cache sees the mix
            load(url, mix, a.clients, min(3.0, a.duration))
        runs = {"ours": [], "oxigraph": []}
        for _ in range(a.rounds):
            runs["ours"].append(load(ours_url, mix, a.clients, a.duration))
            runs["oxigraph"].append(load(oxi_url, mix, a.clients, a.duration))
        pages = record_pages(ours_url, params["record"], a.pages)
    finally:
        stop(ours)
        stop(oxi)
    res = {name: summary(r) for name, r in runs.items()}
    ratio = res["ours"]["throughput"] / res["oxigraph"]["throughput"]
    result = {"data": "demo" if a.scale is None else a.scale, "clients": a.clients,
              "duration": a.duration, "rounds": a.rounds, "load_avg": os.getloadavg(),
              "sparql": res, "ratio": ratio, "record_pages": pages,
              "quads": _count(home), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    a.out.mkdir(parents=True, exist_ok=True)
    out_file = a.out / f"publisher-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out_file.write_text(json.dumps(result, indent=1))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    report(result)
    print(f"\nwritten to {out_file}")
    return 0


def _count(home: Path) -> int:
    from pyoxigraph import Store

    return len(Store.read_only(str(home / "publication")))


def report(r: dict) -> None:
    ours, oxi = r["sparql"]["ours"], r["sparql"]["oxigraph"]
    print(f"\nSPARQL query mix, {r['clients']} clients ({r['quads']:,} quads published)")
    print(f"{'':12} {'ours /sparql':>24} {'oxigraph serve':>24}")
    print(f"{'throughput':12} {ours['throughput']:>20.1f} q/s {oxi['throughput']:>20.1f} q/s"
          f"   ratio {r['ratio']:.2f}× (goal ≥ {GOAL_RATIO}×)")
    print(f"{'p50 / p99':12} {ours['p50_ms']:>12.1f} /{ours['p99_ms']:>7.1f} ms"
          f" {oxi['p50_ms']:>12.1f} /{oxi['p99_ms']:>7.1f} ms")
    for name in ours["by_query"]:
        a, b = ours["by_query"][name], oxi["by_query"][name]
        print(f"  {name:10} {a['p50_ms']:>12.1f} /{a['p99_ms']:>7.1f} ms"
              f" {b['p50_ms']:>12.1f} /{b['p99_ms']:>7.1f} ms   ({a['requests']} / "
              f"{b['requests']} requests)")
    lookup = ours["by_query"]["lookup"]["p99_ms"]
    print(f"record lookup p99 {lookup:.1f} ms (goal ≤ {GOAL_LOOKUP_P99_MS:g} ms)")
    p = r["record_pages"]
    print(f"record page (GET /id/record/…, HTML, 1 client): p50 {p['p50_ms']:.1f} ms, "
          f"p99 {p['p99_ms']:.1f} ms (goal p50 ≤ {GOAL_PAGE_P50_MS:g} ms); "
          f"non-200: {p['non_200']}")
    for side, s in (("ours", ours), ("oxigraph", oxi)):
        if s["errors"]:
            print(f"errors ({side}): {s['errors'][:3]}")
    print(f"load average {r['load_avg'][0]:.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
