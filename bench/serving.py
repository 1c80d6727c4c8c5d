"""What ``bench.publisher`` and ``bench.mixed`` share: the site, the servers, what a server
costs (read from ``/proc``), and a client that runs in processes.

Why each piece is as it is:

- **The site** is built once and kept in ``bench/out/serving-site-<tag>/`` (``--rebuild`` to
  make it again): the synthetic archive at ``--scale`` through ``Repository.ingest``, then
  ``lantai demo`` on top (the demo skips the folders the synthetic archive made), so that the
  figures are of the issue's dataset (scale 0.05 plus the demo: ~168,000 published quads) and
  the client measures requests, never the building of the site.
- **The servers** are real processes: ``lantai serve`` (this checkout, or the code of another
  commit exported with ``git archive`` and put first on ``PYTHONPATH``), and ``oxigraph
  serve-read-only --union-default-graph`` (PyPI ``oxigraph``, the version of pyoxigraph) on a
  copy of the same publication store.
- **The cost of a server** is the CPU time of its whole process tree (worker processes, query
  processes, an engine it started: everything under the pid we started), from
  ``/proc/PID/stat``; memory is the RSS of the tree, and its PSS (``smaps_rollup``), which
  does not count the pages forked workers share several times.
- **The client** is processes, not threads (a Python client in threads is GIL-bound and
  would measure itself), one keep-alive ``http.client`` connection each, the request paths
  encoded before the clock starts; each reads the whole answer and checks its status.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import commit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "out"
BASE = "https://archive.example.edu"
RICO = "https://www.ica.org/standards/RiC/ontology#"
PREFIX = f"PREFIX rico: <{RICO}>\n"
TICK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the site
def lantai_exe() -> str:
    return str(Path(sys.executable).with_name("lantai"))


def site(out: Path, scale: float | None, *, demo: bool = True, rebuild: bool = False) -> dict:
    """The benchmark site (built if missing): ``{"home", "tag", "build_s", "quads", ...}``."""
    if scale is None and not demo:
        raise SystemExit("lantai: error: nothing to serve (no --scale and --no-demo)")
    tag = "-".join(([f"s{scale:g}"] if scale else []) + (["demo"] if demo else []))
    folder = out / f"serving-site-{tag}"
    info_file = folder / "built.json"
    if info_file.exists() and not rebuild:
        info = json.loads(info_file.read_text())
        info["home"] = str(folder / "home")
        return info
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    home = folder / "home"
    started = time.perf_counter()
    subprocess.run([lantai_exe(), "--home", str(home), "init", "--base", BASE], check=True,
                   capture_output=True)
    if demo:
        subprocess.run([lantai_exe(), "--home", str(home), "demo"], check=True,
                       capture_output=True)
    if scale:
        ingest_synthetic(home, scale)
    info = {"tag": tag, "scale": scale, "demo": demo,
            "build_s": round(time.perf_counter() - started, 1), "commit": commit(),
            "quads": count_quads(home), "built": time.strftime("%Y-%m-%dT%H:%M:%S")}
    info_file.write_text(json.dumps(info, indent=1))
    info["home"] = str(home)
    return info


def ingest_synthetic(home: Path, scale: float) -> None:
    """The synthetic archive at ``scale`` into the site at ``home``, after the demo: the
    folders the demo made already are left out (their children go into the demo's), and files
    and items get their reference codes from the repository (the synthetic archive's own would
    meet the demo's)."""
    from bench.synthetic import SyntheticArchive
    from repo.errors import NotFound
    from repo.repository import Repository

    repo = Repository.open(home)
    try:
        def exists(path: str) -> bool:
            try:
                repo.resolve(path)
            except NotFound:
                return False
            return True

        def fresh() -> Iterator[Any]:
            for obj in SyntheticArchive(scale, codes="generated"):
                if obj.parent.count("/") > 1 or not exists(f"{obj.parent.rstrip('/')}/{obj.slug}"):
                    yield obj

        repo.ingest(repo.user("admin"), fresh(), message="bench: synthetic archive")
    finally:
        repo.close()


def count_quads(home: Path) -> int:
    from pyoxigraph import Store

    return len(Store.read_only(str(home / "publication")))


def column(home: Path, query: str) -> list[str]:
    """One column of a SELECT over the publication store (union default graph)."""
    from pyoxigraph import QuerySolutions, Store

    store = Store.read_only(str(Path(home) / "publication"))
    rows = store.query(PREFIX + query, use_default_graph_as_union=True)
    assert isinstance(rows, QuerySolutions)
    return [row[0].value for row in rows]


# --------------------------------------------------------------------------- /proc
def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            kids[int(stat[stat.rindex(")") + 2:].split()[1])].append(int(entry))
    return kids


def tree(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    kids, out, todo = _children_map(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the tree under ``pid``, reaped children included."""
    total = 0
    for p in tree(pid):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / TICK


def memory_mb(pid: int) -> dict[str, float]:
    """RSS and PSS (MiB) of the tree under ``pid``, and how many processes it has."""
    rss = pss = 0
    pids = tree(pid)
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return {"rss_mb": round(rss / 1024, 1), "pss_mb": round(pss / 1024, 1),
            "processes": len(pids)}


# --------------------------------------------------------------------------- the servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server process we started, its URL, and how long it took to give a first answer."""

    name: str
    proc: subprocess.Popen
    port: int
    first_answer_s: float = 0.0
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def memory(self) -> dict[str, float]:
        return memory_mb(self.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                for p in reversed(tree(self.pid)):
                    with contextlib.suppress(OSError):
                        os.kill(p, 9)
                self.proc.wait()


def _first_answer(server: Server, probe: str, accept: str, started: float,
                  seconds: float = 180) -> None:
    """Wait for a 200 to ``probe``; file the time since ``started`` on the server."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            tail = server.log.read_text()[-2000:] if server.log else ""
            raise SystemExit(f"lantai: error: {server.name} exited "
                             f"({server.proc.returncode}): {tail}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("GET", probe, headers={"Accept": accept})
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status == 200:
                server.first_answer_s = time.monotonic() - started
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.02)
    server.stop()
    raise SystemExit(f"lantai: error: {server.name} gave no answer to {probe} "
                     f"in {seconds:g} s")


def serve_help(code: Path | None = None) -> str:
    env = _env(code)
    return subprocess.run([*_lantai_cmd(code), "serve", "--help"], capture_output=True,
                          text=True, env=env, timeout=120).stdout


def _env(code: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if code is not None:  # another commit's code first on the path (before the editable one)
        env["PYTHONPATH"] = str(code)
    return env


def _lantai_cmd(code: Path | None) -> list[str]:
    if code is None:
        return [lantai_exe()]
    return [sys.executable, "-c", "import sys; from repo.cli import run; sys.argv[0] = "
            "'lantai'; run()"]


def start_lantai(home: Path, work: Path, probe: str, *, workers: int | None = None,
                 code: Path | None = None, name: str = "lantai serve") -> Server:
    """``lantai --home HOME serve --quiet`` on a free port (``--workers`` when given and the
    command has it), once ``probe`` answers 200."""
    port = free_port()
    cmd = [*_lantai_cmd(code), "--home", str(home), "serve", "--port", str(port), "--quiet"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"{name.replace(' ', '-')}-{port}.log"
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=_env(code), stdout=out, stderr=out,
                                start_new_session=True)
    server = Server(name, proc, port, log=log)
    _first_answer(server, probe, "text/html", started)
    return server


def oxigraph_exe() -> str:
    return shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or "oxigraph"


ANCHOR_PATH = "/query"  # oxigraph serve's SPARQL endpoint


def start_oxigraph(store_dir: Path, work: Path) -> Server:
    """``oxigraph serve-read-only --union-default-graph`` over ``store_dir``, once a query
    answers."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"oxigraph-{port}.log"
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen([oxigraph_exe(), "serve-read-only", "--location",
                                 str(store_dir), "--bind", f"127.0.0.1:{port}",
                                 "--union-default-graph"], stdout=out, stderr=out,
                                start_new_session=True)
    server = Server("oxigraph serve-read-only", proc, port, log=log)
    _first_answer(server, ANCHOR_PATH + "?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D",
                  "application/sparql-results+json", started)
    return server


# --------------------------------------------------------------------------- the client
@dataclass(frozen=True)
class Request:
    kind: str
    path: str
    accept: str


@dataclass
class Load:
    """What the clients of one run measured, and what the server spent meanwhile."""

    latencies: dict[str, list[float]]
    statuses: Counter
    errors: list[str]
    wall: float
    cpu: float
    late_starts: int = 0
    ok: int = field(init=False)

    def __post_init__(self) -> None:
        self.ok = sum(len(xs) for xs in self.latencies.values())

    @property
    def rate(self) -> float:
        return self.ok / self.wall if self.wall else 0.0


def _client(host: str, port: int, source: str | None, requests: Sequence[Request],
            offset: int, start_at: float, stop_at: float) -> dict[str, Any]:
    """One client process: ``requests`` in turn from ``offset``, one keep-alive connection,
    from ``start_at`` until ``stop_at`` (``time.monotonic`` is one clock for every process)."""
    def connect() -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(host, port, timeout=120,
                                          source_address=(source, 0) if source else None)
        conn.connect()
        return conn

    conn = connect()
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: Counter = Counter()
    errors: list[str] = []
    late = time.monotonic() > start_at
    while time.monotonic() < start_at:
        time.sleep(min(0.005, max(0.0, start_at - time.monotonic())))
    clock = time.perf_counter
    i = offset
    n = len(requests)
    while time.monotonic() < stop_at:
        req = requests[i % n]
        i += 1
        t0 = clock()
        try:
            conn.request("GET", req.path, headers={"Accept": req.accept})
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            statuses[f"{req.kind} {type(exc).__name__}"] += 1
            conn.close()
            conn = connect()
            continue
        took = clock() - t0
        statuses[f"{req.kind} {resp.status}"] += 1
        if resp.status == 200:
            latencies[req.kind].append(took)
        elif len(errors) < 5:
            errors.append(f"{req.kind} {resp.status}: {req.path[:120]} {body[:160]!r}")
        if resp.will_close:
            conn.close()
            conn = connect()
    end = time.monotonic()
    conn.close()
    return {"latencies": dict(latencies), "statuses": statuses, "errors": errors,
            "end": end, "late": late}


def _run_client(args: tuple) -> dict[str, Any]:
    return _client(*args)


class Clients:
    """A pool of ``size`` client processes (spawned once: starting them is not measured)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pool = multiprocessing.get_context("spawn").Pool(size)

    def run(self, server: Server, lists: Sequence[Sequence[Request]], duration: float, *,
            sources: Sequence[str | None] | None = None) -> Load:
        """``len(lists)`` clients at once, client ``k`` cycling through ``lists[k]``, for
        ``duration`` seconds; the server's CPU time over the same span."""
        if len(lists) > self.size:
            raise ValueError("more clients than client processes")
        sources = sources or [None] * len(lists)
        start_at = time.monotonic() + 0.5  # time for every process to connect
        stop_at = start_at + duration
        jobs = [self.pool.apply_async(_run_client, ((
            "127.0.0.1", server.port, sources[k], list(lists[k]), k * 7, start_at, stop_at),))
            for k in range(len(lists))]
        while time.monotonic() < start_at:
            time.sleep(0.001)
        cpu0 = server.cpu()
        results = [j.get(timeout=duration + 300) for j in jobs]
        cpu = server.cpu() - cpu0
        latencies: dict[str, list[float]] = defaultdict(list)
        statuses: Counter = Counter()
        errors: list[str] = []
        for r in results:
            for kind, xs in r["latencies"].items():
                latencies[kind].extend(xs)
            statuses.update(r["statuses"])
            errors += r["errors"]
        wall = max(r["end"] for r in results) - start_at
        return Load(dict(latencies), statuses, errors[:10], wall, cpu,
                    sum(1 for r in results if r["late"]))

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()


# --------------------------------------------------------------------------- figures
def pct(xs: Sequence[float], p: float) -> float:
    """The ``p``-th percentile of ``xs`` (seconds) in milliseconds (nearest rank)."""
    if not xs:
        return float("nan")
    ordered = sorted(xs)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000, 2)


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def machine() -> dict[str, Any]:
    return {"machine": platform.platform(), "cpus": os.cpu_count(),
            "python": sys.version.split()[0], "commit": commit(), "load": os.getloadavg()}


def write_json(out: Path, name: str, result: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))
    return path


def alternate(names: Sequence[str], round_no: int) -> Iterator[str]:
    """``names`` in order on even rounds, reversed on odd ones (drift hits both sides)."""
    yield from (names if round_no % 2 == 0 else list(reversed(names)))
