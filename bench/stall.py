"""Do slow requests stall the site? Record pages measured idle (the anchor) and while 20
clients send heavy SPARQL queries, side by side.

    python -m bench.stall [--clients 20] [--pages 300] [--timeout 3]

Builds the demo archive in a temporary home, serves it with ``lantai serve`` (its own
process, loopback only), then measures ``GET /id/recordset/xjtu`` (HTML, one keep-alive
connection) ``--pages`` times: first with nothing else going on, then while ``--clients``
threads each send a query that runs until ``sparql_timeout`` (a triple cross product), and
on a 503/429 wait ``Retry-After`` (at most 1 s) and send it again. The goal (issue 10,
item 7): record pages p99 ≤ 100 ms under that load. ``tests/test_load.py`` measures the same.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

HEAVY = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
PAGE = "/id/recordset/xjtu"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def page_latencies(base: str, count: int, path: str = PAGE) -> list[float]:
    """Milliseconds per record page, ``count`` times over one keep-alive connection."""
    out = []
    with requests.Session() as session:
        session.headers["Accept"] = "text/html"
        for _ in range(count):
            started = time.perf_counter()
            resp = session.get(base + path, timeout=60)
            out.append((time.perf_counter() - started) * 1000)
            if resp.status_code != 200:
                raise RuntimeError(f"{path}: {resp.status_code} {resp.text[:200]}")
    return out


def heavy_clients(base: str, clients: int, stop: threading.Event) -> tuple[Counter, list]:
    """Start ``clients`` threads sending :data:`HEAVY` until ``stop``; their status counts
    and the threads (join them after setting ``stop``)."""
    statuses: Counter = Counter()
    lock = threading.Lock()

    def client() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                resp = session.post(base + "/sparql", data={"query": HEAVY}, timeout=120)
                with lock:
                    statuses[resp.status_code] += 1
                    if resp.status_code in (429, 503) and "Retry-After" in resp.headers:
                        statuses["retry-after"] += 1
                if resp.status_code in (429, 503):  # as told, but back within a second
                    stop.wait(min(1.0, float(resp.headers.get("Retry-After", 1))))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    return statuses, threads


@dataclasses.dataclass
class Result:
    idle: list[float]
    loaded: list[float]
    statuses: Counter
    healthz_ms: float

    def lines(self) -> list[str]:
        def row(name: str, values: list[float]) -> str:
            return (f"{name:<24} p50 {statistics.median(values):7.1f} ms   "
                    f"p99 {percentile(values, 99):7.1f} ms   max {max(values):7.1f} ms")

        return [row("record page, idle", self.idle),
                row("record page, loaded", self.loaded),
                f"/healthz under load      {self.healthz_ms:7.1f} ms",
                f"heavy queries answered   {dict(self.statuses)}"]


def measure(base: str, clients: int = 20, pages: int = 300, warmup: float = 2.0) -> Result:
    page_latencies(base, 20)  # warm caches and connections
    idle = page_latencies(base, pages)
    stop = threading.Event()
    statuses, threads = heavy_clients(base, clients, stop)
    try:
        time.sleep(warmup)  # every worker busy, the queue full
        started = time.perf_counter()
        requests.get(base + "/healthz", timeout=60)
        healthz = (time.perf_counter() - started) * 1000
        loaded = page_latencies(base, pages)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    return Result(idle, loaded, statuses, healthz)


def build_demo(home: Path, base: str, timeout: float) -> None:
    """The demo archive at ``home`` (``lantai init`` + ``lantai demo``), heavy queries
    stopped after ``timeout`` seconds."""
    from repo.config import read_settings, write_settings

    lantai = str(Path(sys.executable).with_name("lantai"))
    subprocess.run([lantai, "--home", str(home), "init", "--base", base], check=True,
                   capture_output=True)
    subprocess.run([lantai, "--home", str(home), "demo"], check=True, capture_output=True)
    write_settings(home, dataclasses.replace(read_settings(home), sparql_timeout=timeout))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--timeout", type=float, default=3.0, help="sparql_timeout of the site")
    args = ap.parse_args()
    import socket

    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        home = Path(tmp) / "home"
        build_demo(home, base, args.timeout)
        lantai = str(Path(sys.executable).with_name("lantai"))
        with open(Path(tmp) / "serve.log", "w") as log:
            server = subprocess.Popen([lantai, "--home", str(home), "serve", "--port",
                                       str(port), "--quiet"], stdout=log, stderr=log)
            try:
                for _ in range(300):
                    try:
                        requests.get(base + "/healthz", timeout=2)
                        break
                    except requests.ConnectionError:
                        time.sleep(0.1)
                result = measure(base, args.clients, args.pages)
            finally:
                server.terminate()
                server.wait(30)
    print(f"stall: {args.clients} clients sending heavy SPARQL queries "
          f"(sparql_timeout {args.timeout:g} s); anchor: the same pages idle")
    for line in result.lines():
        print("  " + line)
    goal = percentile(result.loaded, 99) <= 100
    print(f"  goal p99 loaded <= 100 ms: {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()
