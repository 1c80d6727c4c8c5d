"""SPARQL at the engine's speed (issue 15, item 2): a Rust engine beside the web workers.

``engine_for_serving(home, settings)`` (entered once per machine by ``publisher.server.serve``,
around its worker processes) runs ``oxigraph serve-read-only --union-default-graph
--timeout-s T`` over ``{home}/publication`` on a free loopback port, jailed
(:mod:`publisher.sparql_jail`: no connection can leave it, so ``SERVICE`` reaches nothing;
``sparql_memory_mb`` of data segment; it dies with the server). A supervisor thread:

- **freshness**: a read-only engine sees the store as it was when it opened. When
  ``publication.generation`` moves, a new engine is started on another port (green) while the
  old one (blue) keeps answering; once the new one answers, the state file
  ``{home}/tmp/sparql-engine.json`` names it, and the old one is stopped after the longest a
  query may run. A worker uses the engine only when the file's generation is the one its
  request sees; otherwise (starting, swapping, crashed, no engine at all) the query takes the
  old path, the killable query processes of :mod:`publisher.sparql_pool`, which read the
  current store. So no answer ever comes from a publication older than the request's.
- **crashes**: an engine that exits (memory limit, a kill) is noticed within 0.1 s and
  replaced.

Workers talk to the engine with :class:`EngineClient` (a keep-alive connection per thread).
What the engine's own ``--timeout-s`` does not stop — measured: it cancels a ``COUNT`` over a
cross product at the limit, but a streaming ``SELECT *`` over one ran on for 96 s and an
``ORDER BY`` over one for 261 s with a 1 s limit — the client stops: past ``sparql_timeout``
it kills that engine (SIGKILL; read-only, nothing to lose), answers 503, and the supervisor
starts another; queries caught in the kill are answered by the query processes. Rows are
counted as they stream (the engine is asked for TSV or N-Triples, one row a line, parsed by
pyoxigraph) and the client stops reading past ``sparql_max_rows``; the answer is then written
in the format the client asked for by :mod:`publisher.sparql_formats`, the same writers as
before, so formats do not change. SPARQL JSON, what most clients ask for, is the exception:
an answer up to 4 MiB is read whole, checked and counted by ``json.loads`` and passed on as
the engine wrote it (no Python object per term: that is most of the cost of a cheap query).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from publisher.sparql_pool import Answer, Job, write_answer
from repo.store import read_generation

log = logging.getLogger("lantai.sparql")
STATE = "sparql-engine.json"  # in {home}/tmp: which engine answers for which generation
POLL_SECONDS = 0.1
START_SECONDS = 60.0
ACCEPT = "text/tab-separated-values, application/n-triples"  # one row, one triple a line
JSON = "application/sparql-results+json"
PASS_BYTES = 4 * 2**20  # a JSON answer up to this size is checked whole and passed on as is


def _state_path(home: Path) -> Path:
    return home / "tmp" / STATE


def oxigraph_program() -> str | None:
    """The ``oxigraph`` CLI (PyPI ``oxigraph``, installed beside this Python, or on PATH)."""
    beside = Path(sys.executable).parent / "oxigraph"
    return str(beside) if beside.exists() else shutil.which("oxigraph")


# ------------------------------------------------------------------ the supervisor

class _Engine:
    """One jailed ``oxigraph serve-read-only`` process over the store as of ``generation``."""

    def __init__(self, home: Path, settings: Any, program: str, generation: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.generation = generation
        memory = int(getattr(settings, "sparql_memory_mb", 0) or 0)
        command = [sys.executable, "-m", "publisher.sparql_jail", "--parent", str(os.getpid()),
                   "--memory-mb", str(memory + 128 if memory else 0), "--",
                   program, "serve-read-only", "--location", str(home / "publication"),
                   "--bind", f"127.0.0.1:{self.port}", "--union-default-graph",
                   "--timeout-s", str(max(1, round(float(settings.sparql_timeout))))]
        root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        # Started with posix_spawn (close_fds=False, no new session, no pipes: what lets
        # subprocess use it), not fork + exec: the server forks its workers from another
        # thread at any time, and a fork between ours and our exec would hand the workers the
        # write end of subprocess's exec-error pipe, leaving this thread waiting on it for ever
        # (seen under granian). Python's own descriptors are not inherited anyway (PEP 446).
        # What the engine says (why it stopped) goes to {home}/tmp/sparql-engine.log.
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        with open(home / "tmp" / "sparql-engine.log", "ab") as errors:
            self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=errors,
                                            close_fds=False)

    def ready(self, seconds: float) -> bool:
        """Whether it answers a query within ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/query?" + urlencode({"query": "ASK {}"}),
                             headers={"Accept": "application/sparql-results+json"})
                ok = conn.getresponse().status == 200
                conn.close()
                if ok:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


class Supervisor:
    """Keeps one engine current for the site at ``home`` (see the module's docstring)."""

    def __init__(self, home: Path, settings: Any, program: str) -> None:
        self.home, self.settings, self.program = home, settings, program
        self.current: _Engine | None = None
        self.started: list[int] = []  # pids of every engine started (tests, logs)
        self._stop = threading.Event()
        self._retired: list[tuple[float, _Engine]] = []
        self._thread = threading.Thread(target=self._run, name="lantai-sparql-engine",
                                        daemon=True)

    def start(self) -> None:
        _state_path(self.home).unlink(missing_ok=True)
        self._thread.start()

    def _publish(self, engine: _Engine | None) -> None:
        path = _state_path(self.home)
        if engine is None:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"port": engine.port, "pid": engine.process.pid,
                                   "generation": engine.generation}))
        os.replace(tmp, path)

    def _run(self) -> None:
        grace = float(self.settings.sparql_timeout) + 2.0
        while not self._stop.is_set():
            try:
                self._step(grace)
            except Exception:  # the supervisor must outlive whatever one step met
                log.exception("sparql engine supervisor")
                self._stop.wait(1.0)
            self._stop.wait(POLL_SECONDS)

    def _step(self, grace: float) -> None:
        now = time.monotonic()
        for item in [r for r in self._retired if r[0] <= now]:
            self._retired.remove(item)
            item[1].stop()
        current = self.current
        if current is not None and current.process.poll() is not None:
            log.warning("sparql engine %s exited (%s): starting another",
                        current.process.pid, current.process.returncode)
            self._publish(None)
            self.current = current = None
        generation = read_generation(self.home)
        if current is not None and current.generation == generation:
            return
        # green: read the generation first, then open: the engine sees at least that much
        engine = _Engine(self.home, self.settings, self.program, generation)
        self.started.append(engine.process.pid)
        if not engine.ready(START_SECONDS) or self._stop.is_set():
            log.warning("sparql engine %s did not start", engine.process.pid)
            engine.stop()
            self._stop.wait(1.0)
            return
        self.current = engine
        self._publish(engine)
        if current is not None:  # blue: queries already sent to it may finish
            self._retired.append((time.monotonic() + grace, current))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(START_SECONDS + 5)
        self._publish(None)
        for _, engine in self._retired:
            engine.stop()
        if self.current is not None:
            self.current.stop()


@contextlib.contextmanager
def engine_for_serving(home: Path, settings: Any) -> Iterator[Supervisor | None]:
    """Run the engine (once per machine) while the server serves; nothing when the setting
    ``sparql_engine`` is off, the publication lives in an external engine, or the ``oxigraph``
    CLI is missing (queries then all take the query processes)."""
    program = oxigraph_program()
    wanted = bool(getattr(settings, "sparql_engine", True))
    external = bool(getattr(settings, "publication_endpoint", ""))
    if not wanted or external or program is None:
        yield None
        return
    supervisor = Supervisor(Path(home), settings, program)
    supervisor.start()
    try:
        yield supervisor
    finally:
        supervisor.close()


# ------------------------------------------------------------------ in a web worker

@dataclass(frozen=True)
class _Where:
    port: int
    pid: int
    generation: str


class EngineGone(Exception):
    """The engine could not answer (starting, swapped, killed): use the query processes."""


class EngineClient:
    """A web worker's way to the engine: which one is current (the state file, re-read when it
    changes), and a keep-alive connection to it per thread."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._stamp: tuple[int, int] | None = None
        self._where: _Where | None = None
        self._local = threading.local()
        self.killed: list[int] = []  # engines killed at a query's deadline (tests, logs)
        self.answered = 0  # queries the engine answered (tests, logs)

    def where(self, generation: str) -> _Where | None:
        """The engine that answers for ``generation``, or None."""
        try:
            st = os.stat(_state_path(self.home))
        except OSError:
            self._stamp = self._where = None
            return None
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self._stamp:
            try:
                data = json.loads(_state_path(self.home).read_text())
                self._where = _Where(int(data["port"]), int(data["pid"]),
                                     str(data["generation"]))
            except (OSError, ValueError, KeyError, TypeError):
                self._where = None
            self._stamp = stamp
        where = self._where
        return where if where is not None and where.generation == generation else None

    def _connection(self, where: _Where) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "port", None) != where.port:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", where.port)
            self._local.conn, self._local.port = conn, where.port
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def run(self, where: _Where, job: Job, query: str, timeout: float) -> Answer:
        """``job`` answered by the engine at ``where`` within ``timeout`` seconds. Raises
        :class:`EngineGone` when it could not answer, :class:`TimeoutError` past the limit
        (the engine has then been killed)."""
        from pyoxigraph import QueryResultsFormat, RdfFormat, parse, parse_query_results

        deadline = time.monotonic() + timeout
        params = [("default-graph-uri", g) for g in job.default_graphs or ()]
        params += [("named-graph-uri", g) for g in job.named_graphs or ()]
        path = "/query" + ("?" + urlencode(params) if params else "")
        for attempt in (0, 1):  # a kept-alive connection the engine closed: once more
            conn = self._connection(where)
            conn.timeout = timeout
            try:
                conn.request("POST", path, body=query.encode(), headers={
                    "Content-Type": "application/sparql-query; charset=utf-8",
                    "Accept": (JSON + ", application/n-triples"
                               if job.results_format == "json" else ACCEPT)})
                if conn.sock is not None:
                    conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
                resp = conn.getresponse()
                break
            except TimeoutError:
                self._overrun(where)
            except (OSError, http.client.HTTPException):
                self._drop()
                if attempt or not _alive(where.pid):
                    raise EngineGone from None
        body: Any = _Deadline(resp, deadline, conn)
        try:
            if resp.status != 200:
                return Answer(resp.status, "text/plain", body.read()[:2000], "")
            kind = resp.getheader("Content-Type", "").split(";")[0].strip()
            if kind == JSON:
                passed, body = _json_answer(body, job)
                if passed is not None:
                    if passed.status != 200:
                        self._drop()  # too many rows: the rest is not wanted
                    self.answered += 1
                    return passed
                result: Any = parse_query_results(body, format=QueryResultsFormat.JSON)
            elif kind == "application/n-triples":
                result = parse(body, format=RdfFormat.N_TRIPLES)
            else:
                result = parse_query_results(body, format=QueryResultsFormat.TSV)
            answer = write_answer(result, job)
        except TimeoutError:
            self._overrun(where)
        except SyntaxError as exc:  # the engine broke its answer off: it says why in it
            self._drop()
            if "cancelled" in str(exc) or "cancelled" in body.tail():
                raise TimeoutError from None
            raise EngineGone from None
        except (OSError, http.client.HTTPException):
            self._drop()
            if not _alive(where.pid):
                raise EngineGone from None
            raise
        if answer.status != 200 or not resp.isclosed():
            self._drop()  # stopped reading early (too many rows): the rest is not wanted
        self.answered += 1
        return answer

    def _overrun(self, where: _Where) -> None:
        """The deadline passed: stop the query the only sure way, and say so."""
        self._drop()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(where.pid, signal.SIGKILL)
            self.killed.append(where.pid)
        raise TimeoutError


def _json_answer(body: Any, job: Job) -> tuple[Answer | None, Any]:
    """A SPARQL JSON answer (what most clients ask for) passed on as the engine wrote it, when
    it is whole and within the row limit: read up to :data:`PASS_BYTES`, parsed to check and
    count (C speed), no Python object per term. A larger one is handed back, replayed from
    its start, for the streaming parser and our writer (which stops past the row limit)."""
    chunks, size = [], 0
    while size <= PASS_BYTES:
        data = body.read(65536)
        if not data:
            break
        chunks.append(data)
        size += len(data)
    else:
        return None, _Replay(b"".join(chunks), body)
    whole = b"".join(chunks)
    try:
        parsed = json.loads(whole)
    except ValueError:  # broken off: the engine says why at the end
        raise SyntaxError(whole[-200:].decode(errors="replace")) from None
    rows = parsed.get("results", {}).get("bindings", ()) if isinstance(parsed, dict) else ()
    if len(rows) > job.max_rows:
        from publisher.sparql_pool import _too_many

        return _too_many(job.max_rows, "solutions"), body
    return Answer(200, JSON, whole, "results"), body


class _Replay:
    """Bytes already read, then the rest of the stream."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self.head, self.rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            size = len(self.head) if n is None or n < 0 else n
            data, self.head = self.head[:size], self.head[size:]
            return data
        return bytes(self.rest.read(n))

    def tail(self) -> str:
        return str(self.rest.tail())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped by the supervisor) is not alive
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return True


class _Deadline:
    """The engine's answer as a file for pyoxigraph's parsers, each read bounded by the
    query's deadline (a slow trickle cannot outlast it either)."""

    def __init__(self, resp: http.client.HTTPResponse, deadline: float,
                 conn: http.client.HTTPConnection) -> None:
        self.resp, self.deadline, self.conn = resp, deadline, conn
        self._last = b""

    def read(self, n: int = -1) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        if self.conn.sock is not None:
            self.conn.sock.settimeout(left)
        data = self.resp.read1(n if n and n > 0 else 65536)
        if data:
            self._last = (self._last + data)[-200:]
        return data

    def tail(self) -> str:
        return self._last.decode(errors="replace")
