"""SPARQL through ``lantai serve`` against ``oxigraph serve-read-only`` on the same data, one
query class at a time, with 1 and 4 client processes; and the cold start and memory of both.

    python -m bench.publisher [--scale 0.05] [--no-demo] [--clients 1 --clients 4]
                              [--duration 5] [--rounds 3] [--only lookup ...] [--workers N]

The site (``bench.serving.site``: the synthetic archive at ``--scale`` plus the demo, built
once and kept under ``bench/out/``) is served twice:

- ours: ``lantai serve --quiet`` as the project ships it (``--workers N`` if given and the
  command has it), ``GET /sparql?query=…``;
- the anchor: ``oxigraph serve-read-only --union-default-graph`` on a copy of the very same
  publication store directory, ``GET /query?query=…``.

Each query class runs on its own for ``--duration`` seconds, with each ``--clients`` count
(client *processes*, one keep-alive connection each), against each server in turn, the order
alternating every round, ``--rounds`` times. A class's queries are drawn once from the data
(seeded) and the same for both servers; before any timing, the first of each class runs on
both and the sizes of their answers are compared (printed when they differ). Classes:

- ``lookup``    (cheap) every statement about one record: ``SELECT ?p ?o { <r> ?p ?o }``
- ``describe``  (cheap) ``DESCRIBE <r>`` as N-Triples
- ``children``  (cheap) the children of a series with their reference codes, ordered
- ``two_hop``   (cheap) a series' records with their creators' names (record → agent → name)
- ``construct`` (cheap) ``CONSTRUCT`` the titles of a series' records, as N-Triples
- ``scan``      (heavy) every record dated in one year: a string filter over all dated records
- ``aggregate`` (heavy) records per category (门类) over the whole hierarchy (``GROUP BY``)

Figures per class and client count: queries/s (the median of the rounds), p50/p99 latency (all
rounds), the CPU seconds per query of each server (its whole process tree, from
``/proc/PID/stat``), and ours ÷ the anchor beside the goal (issue 15: cheap ≥ 0.8×, heavy ≥
0.95×). Then the cold start (``--cold`` times each: from exec to the first 200, a record page
for ours, a query for the anchor) and memory (RSS and PSS of every process of each server)
idle after start and after the load. Results: printed, and ``bench/out/publisher-<time>.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.serving import (
    ANCHOR_PATH,
    DEFAULT_OUT,
    PREFIX,
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
    start_oxigraph,
    write_json,
)

GOALS = {"cheap": 0.8, "heavy": 0.95}
SELECT_JSON = "application/sparql-results+json"
NTRIPLES = "application/n-triples"


# --------------------------------------------------------------------------- the queries
def parameters(home: Path, rng: random.Random, n: int = 50) -> dict[str, list[str]]:
    """Records, series with children and years to query, drawn from the publication store."""
    records = column(home, "SELECT ?r { ?r a rico:Record ; rico:title ?t }")
    series = column(home, "SELECT DISTINCT ?s { ?c rico:isDirectlyIncludedIn ?s . "
                          "?s a rico:RecordSet }")
    years = sorted({d[:4] for d in column(home, "SELECT ?d { ?r a rico:Record ; "
                                                "rico:beginningDate ?d }") if d[:4].isdigit()})
    if not (records and series and years):
        raise SystemExit("lantai: error: the publication has no dated records in series")

    def pick(xs: list[str]) -> list[str]:
        ordered = sorted(set(xs))
        return [rng.choice(ordered) for _ in range(n)]

    return {"record": pick(records), "series": pick(series), "year": pick(years)}


# name, cost class, accept, parameter, template ($X is the parameter)
CLASSES: list[tuple[str, str, str, str, str]] = [
    ("lookup", "cheap", SELECT_JSON, "record", "SELECT ?p ?o WHERE { <$X> ?p ?o }"),
    ("describe", "cheap", NTRIPLES, "record", "DESCRIBE <$X>"),
    ("children", "cheap", SELECT_JSON, "series",
     "SELECT ?child ?code WHERE { ?child rico:isDirectlyIncludedIn <$X> . "
     "OPTIONAL { ?child rico:identifier ?code } } ORDER BY ?code LIMIT 50"),
    ("two_hop", "cheap", SELECT_JSON, "series",
     "SELECT ?r ?title ?name WHERE { ?r rico:isDirectlyIncludedIn <$X> ; rico:title ?title ; "
     "rico:hasCreator ?agent . ?agent rico:name ?name . "
     'FILTER(LANG(?title) = "zh" && LANG(?name) = "zh") } LIMIT 100'),
    ("construct", "cheap", NTRIPLES, "series",
     "CONSTRUCT { ?r rico:title ?t ; rico:isDirectlyIncludedIn <$X> } "
     "WHERE { ?r rico:isDirectlyIncludedIn <$X> ; rico:title ?t }"),
    ("scan", "heavy", SELECT_JSON, "year",
     "SELECT ?r ?d WHERE { ?r a rico:Record ; rico:beginningDate ?d . "
     'FILTER(STRSTARTS(STR(?d), "$X")) }'),
    ("aggregate", "heavy", SELECT_JSON, "",
     "SELECT ?category (COUNT(?r) AS ?n) WHERE { ?series rico:hasOrHadType ?category . "
     "?r rico:isDirectlyIncludedIn+ ?series } GROUP BY ?category"),
]


def queries(params: dict[str, list[str]], only: list[str] | None = None
            ) -> dict[str, tuple[str, str, list[str]]]:
    """{class: (cost, accept, [query, …])}"""
    out = {}
    for name, cost, accept, key, template in CLASSES:
        if only and name not in only:
            continue
        texts = ([PREFIX + template.replace("$X", v) for v in params[key]] if key
                 else [PREFIX + template])
        out[name] = (cost, accept, texts)
    return out


def requests_for(path: str, name: str, accept: str, texts: list[str]) -> list[Request]:
    return [Request(name, path + "?" + urlencode({"query": q}), accept) for q in texts]


def answer_size(server: Server, req: Request) -> tuple[int, int | str]:
    """(status, rows or triples) of one answer: what the servers are compared by."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    try:
        conn.request("GET", req.path, headers={"Accept": req.accept})
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        return resp.status, body[:200].decode("utf-8", "replace")
    if req.accept == SELECT_JSON:
        return 200, len(json.loads(body)["results"]["bindings"])
    return 200, sum(1 for line in body.splitlines() if line.strip())


# --------------------------------------------------------------------------- measuring
def idle_memory(server: Server, settle: float = 2.0) -> dict[str, float]:
    time.sleep(settle)
    return server.memory()


def cold_starts(home: Path, anchor_store: Path, work: Path, probe: str, times: int,
                workers: int | None) -> dict:
    """Start each server ``times`` times (alternating): seconds to a first answer, and the
    memory of its processes idle 2 s later. The store's files are in the page cache (the
    benchmark has just read them): a warm-disk start."""
    runs: dict[str, list[dict]] = {"ours": [], "anchor": []}
    for i in range(times):
        for side in alternate(["ours", "anchor"], i):
            server = (start_lantai(home, work, probe, workers=workers) if side == "ours"
                      else start_oxigraph(anchor_store, work))
            try:
                runs[side].append({"first_answer_s": round(server.first_answer_s, 3),
                                   **idle_memory(server)})
            finally:
                server.stop()
    return {side: {"first_answer_s": median([r["first_answer_s"] for r in rs]),
                   "rss_mb": median([r["rss_mb"] for r in rs]),
                   "pss_mb": median([r["pss_mb"] for r in rs]),
                   "processes": rs[-1]["processes"], "runs": rs}
            for side, rs in runs.items()}


def summarise(loads: list[Load]) -> dict:
    every = [x for ld in loads for xs in ld.latencies.values() for x in xs]
    rates = [ld.rate for ld in loads]
    cpu = [ld.cpu / ld.ok for ld in loads if ld.ok]
    statuses: dict[str, int] = {}
    for ld in loads:
        for k, v in ld.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    return {"qps": round(median(rates), 1), "qps_rounds": [round(r, 1) for r in rates],
            "p50_ms": pct(every, 50), "p99_ms": pct(every, 99), "requests": len(every),
            "cpu_ms_per_query": round(median(cpu) * 1000, 3) if cpu else None,
            "statuses": statuses, "errors": [e for ld in loads for e in ld.errors][:5],
            "late_starts": sum(ld.late_starts for ld in loads)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.publisher",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.05,
                    help="synthetic archive at this scale (0.05; 0 for none)")
    ap.add_argument("--no-demo", action="store_true", help="leave the demo archive out")
    ap.add_argument("--rebuild", action="store_true", help="build the site again")
    ap.add_argument("--clients", type=int, action="append",
                    help="client processes (repeatable; default 1 and 4)")
    ap.add_argument("--duration", type=float, default=5.0,
                    help="seconds per class, client count, server and round (5)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    ap.add_argument("--only", action="append", choices=[c[0] for c in CLASSES],
                    help="only this query class (repeatable)")
    ap.add_argument("--workers", type=int, default=None,
                    help="lantai serve --workers N (default: the command's own default)")
    ap.add_argument("--cold", type=int, default=3, help="cold starts of each server (3; 0: none)")
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    clients = sorted(set(a.clients or [1, 4]))

    built = site(a.out, a.scale or None, demo=not a.no_demo, rebuild=a.rebuild)
    home = Path(built["home"])
    work = a.out / "work-publisher"
    shutil.rmtree(work, ignore_errors=True)
    anchor_store = work / "anchor-store"
    shutil.copytree(home / "publication", anchor_store)
    params = parameters(home, random.Random(a.seed))
    probe = urlsplit(params["record"][0]).path
    workers = a.workers
    if workers is not None and "--workers" not in serve_help():
        print("lantai serve has no --workers here: serving with its default", file=sys.stderr)
        workers = None
    classes = queries(params, a.only)
    print(f"data: {built['tag']} ({built['quads']:,} quads published; the site was built in "
          f"{built['build_s']:g} s at commit {built['commit']}); clients {clients}, "
          f"{a.duration:g} s × {a.rounds} rounds per class and server", file=sys.stderr)

    cold = cold_starts(home, anchor_store, work, probe, a.cold, workers) if a.cold else {}
    pool = Clients(max(clients))
    servers: dict[str, Server] = {}
    try:
        servers["ours"] = start_lantai(home, work, probe, workers=workers)
        servers["anchor"] = start_oxigraph(anchor_store, work)
        memory = {side: {"idle": idle_memory(s)} for side, s in servers.items()}
        reqs = {side: {name: requests_for("/sparql" if side == "ours" else ANCHOR_PATH,
                                          name, accept, texts)
                       for name, (_cost, accept, texts) in classes.items()}
                for side in servers}
        answers = {name: {side: answer_size(servers[side], reqs[side][name][0])
                          for side in servers} for name in classes}
        for name, got in answers.items():
            if got["ours"] != got["anchor"]:
                print(f"  {name}: the answers differ: ours {got['ours']}, "
                      f"anchor {got['anchor']}", file=sys.stderr)
        for side, s in servers.items():  # warm-up: every class once through every client
            for name in classes:
                pool.run(s, [reqs[side][name]] * max(clients), min(1.0, a.duration))
        loads: dict[tuple[str, int, str], list[Load]] = {}
        for r in range(a.rounds):
            for name in classes:
                for n in clients:
                    for side in alternate(["ours", "anchor"], r):
                        load = pool.run(servers[side], [reqs[side][name]] * n, a.duration)
                        loads.setdefault((name, n, side), []).append(load)
                        print(f"  round {r + 1} {name:9} {n} client(s) {side:6} "
                              f"{load.rate:8.1f} q/s", file=sys.stderr)
        for side, s in servers.items():
            memory[side]["after_load"] = s.memory()
    finally:
        for s in servers.values():
            s.stop()
        pool.close()

    rows = []
    for name, (cost, _accept, texts) in classes.items():
        for n in clients:
            ours, anchor = summarise(loads[(name, n, "ours")]), summarise(loads[(name, n,
                                                                                 "anchor")])
            ratio = ours["qps"] / anchor["qps"] if anchor["qps"] else None
            cpu_ratio = (ours["cpu_ms_per_query"] / anchor["cpu_ms_per_query"]
                         if ours["cpu_ms_per_query"] and anchor["cpu_ms_per_query"] else None)
            rows.append({"class": name, "cost": cost, "clients": n, "queries": len(texts),
                         "ours": ours, "anchor": anchor,
                         "ratio": round(ratio, 3) if ratio is not None else None,
                         "cpu_ratio": round(cpu_ratio, 2) if cpu_ratio is not None else None,
                         "goal": GOALS[cost],
                         "met": ratio is not None and ratio >= GOALS[cost],
                         "answers": answers[name]})
    result = {"bench": "publisher", **machine(), "site": {k: v for k, v in built.items()
                                                          if k != "home"},
              "workers": workers, "clients": clients, "duration": a.duration,
              "rounds": a.rounds, "rows": rows, "cold_start": cold, "memory": memory,
              "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    path = write_json(a.out, "publisher", result)
    shutil.rmtree(work, ignore_errors=True)
    report(result)
    print(f"\nwritten to {path}")
    return 0


def report(r: dict) -> None:
    print(f"\nSPARQL per query class: lantai serve /sparql against oxigraph serve-read-only "
          f"({r['site']['quads']:,} quads; commit {r['commit']}; load average "
          f"{r['load'][0]:.1f} at the end)")
    print(f"{'class':10} {'cost':5} {'cl':>2} {'ours q/s':>9} {'anchor':>9} {'ratio':>6} "
          f"{'goal':>5}  {'ours p50/p99 ms':>16} {'anchor p50/p99':>16}  "
          f"{'CPU ms/q ours':>13} {'anchor':>7}")
    for row in r["rows"]:
        o, x = row["ours"], row["anchor"]
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "—"
        mark = "" if row["met"] else " ✗"
        print(f"{row['class']:10} {row['cost']:5} {row['clients']:>2} {o['qps']:>9.1f} "
              f"{x['qps']:>9.1f} {ratio:>6} {row['goal']:>5.2f}{mark:2} "
              f"{o['p50_ms']:>7.1f} /{o['p99_ms']:>7.1f} {x['p50_ms']:>7.1f} /{x['p99_ms']:>7.1f}"
              f"  {o['cpu_ms_per_query'] or 0:>13.2f} {x['cpu_ms_per_query'] or 0:>7.2f}")
        for side in ("ours", "anchor"):
            bad = {k: v for k, v in row[side]["statuses"].items() if not k.endswith(" 200")}
            if bad:
                print(f"    {side}: not 200: {bad} {row[side]['errors'][:1]}")
    if r["cold_start"]:
        print("\ncold start (exec to first 200, warm disk) and memory idle 2 s later "
              "(every process of the server)")
        for side, c in r["cold_start"].items():
            print(f"  {side:7} {c['first_answer_s']:6.2f} s   RSS {c['rss_mb']:7.1f} MiB   "
                  f"PSS {c['pss_mb']:7.1f} MiB   ({c['processes']} processes)")
    for side, m in r["memory"].items():
        i, after = m["idle"], m.get("after_load", {})
        print(f"  {side:7} memory idle RSS {i['rss_mb']:.1f} / PSS {i['pss_mb']:.1f} MiB; "
              f"after the load RSS {after.get('rss_mb', 0):.1f} / PSS "
              f"{after.get('pss_mb', 0):.1f} MiB ({after.get('processes', 0)} processes)")


if __name__ == "__main__":
    raise SystemExit(main())
