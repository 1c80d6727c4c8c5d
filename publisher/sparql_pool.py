"""SPARQL queries run in a pool of worker processes, so a runaway query can be killed.

Why processes and not threads: pyoxigraph cannot cancel a query. Worse, much of the work
happens inside ``Store.query()`` itself, before Python sees a single solution: on the
911-triple demo, ``SELECT (COUNT(*) AS ?n) WHERE {?a ?b ?c . ?d ?e ?f . ?g ?h ?i}`` spent
95 s in that one call. A deadline checked between solutions in a thread would never fire, and
a thread cannot be stopped, so the query would keep a core busy to the end. (The result
iterators are also bound to the thread that made them.) A process can be killed: each worker
opens the publication store read-only, runs one query at a time and writes the answer; the web
process waits at most ``sparql_timeout`` seconds for it, then kills the worker (SIGKILL; a
read-only RocksDB handle has nothing to lose) and starts a fresh one in the background.

A worker takes at most ``max_rows + 1`` solutions or triples, so the answer's size is bounded
too, and runs under ``RLIMIT_DATA`` (``sparql_memory_mb``): an ORDER BY over a cross product
grows by about 200 MB/s, and past the limit only that worker aborts. Workers reopen the
store when ``publication.generation`` moves, like :class:`publisher.dataset.PublicDataset`,
and die with the web process (PR_SET_PDEATHSIG, and EOF on their pipe).

A worker first leaves the host's network (a network namespace of its own): the engine would
otherwise fetch whatever ``SERVICE`` names. It then lowers its priority (nice 19) so that
heavy queries take the cores only when the web process does not need them, and checks each
query's parse tree before running it (:mod:`publisher.sparql_check`).
"""

from __future__ import annotations

import itertools
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path

_PROJECT = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class Job:
    query: str
    results_format: str | None
    graph_format: str | None
    default_graphs: tuple[str, ...] | None  # None: the union of all graphs
    named_graphs: tuple[str, ...] | None  # None: every graph
    max_rows: int
    prefixes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    kind: str = ""  # "results", "graph" or "" for an error


class QueryRefused(Exception):
    """The pool could not answer: ``status`` and a one-line ``message`` for the client."""

    def __init__(self, status: int, message: str, *, busy: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.busy = busy  # the server was busy: worth retrying later


# ------------------------------------------------------------------ inside a worker

def _die_with_parent(parent: int) -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent:
        os._exit(0)


def _execute(store, job: Job, isolated: bool = True) -> Answer:
    """Check ``job``'s query (:mod:`publisher.sparql_check`), run it, write the answer."""
    from publisher import sparql_check

    query = sparql_check.normalise(job.query)
    try:
        sparql_check.check(query, isolated)
    except sparql_check.Refusal as exc:
        return Answer(exc.status, "text/plain", exc.message.encode())
    try:
        return _evaluate(store, job, query)
    except SyntaxError as exc:
        return Answer(400, "text/plain", sparql_check.malformed(query, str(exc)).encode())
    except OSError as exc:
        if _NETWORK.search(str(exc)):  # a SERVICE the check missed, failing off the network
            return Answer(400, "text/plain", sparql_check.SERVICE_REFUSED.encode())
        raise


# what the engine says when a SERVICE call cannot leave the worker's network namespace
_NETWORK = re.compile(r"(?i)lookup address|unreachable|connect|not allowed for HTTP|"
                      r"error sending request|dns|timed out")


def _evaluate(store, job: Job, query: str) -> Answer:
    from pyoxigraph import NamedNode

    options: dict = {}
    if job.default_graphs is None:
        options["use_default_graph_as_union"] = True
    else:
        options["default_graph"] = [NamedNode(g) for g in job.default_graphs]
    if job.named_graphs is not None:
        options["named_graphs"] = [NamedNode(g) for g in job.named_graphs]
    return write_answer(store.query(query, **options), job)


def write_answer(result, job: Job) -> Answer:
    """The answer to ``job`` from an engine's result — pyoxigraph's ``QueryBoolean``,
    ``QuerySolutions``, or an iterable of triples (or quads: their graph is dropped) — in the
    format the job asks for, taking at most ``max_rows + 1`` solutions or triples from it
    (the query process's answers and :mod:`publisher.sparql_engine`'s are written alike)."""
    from pyoxigraph import Quad, QueryBoolean, QuerySolutions

    from publisher import sparql_formats as fmt

    limit = job.max_rows
    if isinstance(result, QueryBoolean):
        if job.results_format is None:
            return Answer(406, "text/plain", b"results")
        chosen = fmt.BY_NAME[job.results_format]
        return Answer(200, chosen.media_type, fmt.write_boolean(chosen.name, bool(result)),
                      "results")
    if isinstance(result, QuerySolutions):
        if job.results_format is None:
            return Answer(406, "text/plain", b"results")
        variables = [v.value for v in result.variables]
        width = range(len(variables))
        rows = [[s[i] for i in width] for s in itertools.islice(result, limit + 1)]
        if len(rows) > limit:
            return _too_many(limit, "solutions")
        chosen = fmt.BY_NAME[job.results_format]
        return Answer(200, chosen.media_type, fmt.write_solutions(chosen.name, variables, rows),
                      "results")
    if job.graph_format is None:
        return Answer(406, "text/plain", b"graph")
    triples = [t.triple if isinstance(t, Quad) else t for t in itertools.islice(result, limit + 1)]
    if len(triples) > limit:
        return _too_many(limit, "triples")
    chosen = fmt.BY_NAME[job.graph_format]
    return Answer(200, chosen.media_type,
                  fmt.write_graph(chosen.name, triples, dict(job.prefixes)), "graph")


def _too_many(limit: int, what: str) -> Answer:
    return Answer(413, "text/plain",
                  (f"result-size limit: the answer has more than {limit} {what} "
                   f"(sparql_max_rows = {limit}); add LIMIT and OFFSET to page through it")
                  .encode())


def _data_size() -> int:
    """This process's data segment now (``VmData``, what ``RLIMIT_DATA`` counts), in bytes."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _worker_main(home: str, conn, parent: int, memory_mb: int = 0) -> None:
    """A worker's loop: one job in, one :class:`Answer` out, until the pipe closes."""
    _die_with_parent(parent)
    from publisher.sparql_check import isolate

    isolated = isolate()  # first, while this process has one thread
    os.nice(19)  # queries yield the cores to the web process: pages stay fast under load
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the server is the parent's job
    import rdflib.plugins.sparql.parser  # noqa: F401 - imported before the first query

    from repo.handles import ReadHandle

    if memory_mb > 0:  # heap and anonymous maps: a query past it aborts this process only
        import resource

        limit = _data_size() + memory_mb * 2**20  # on top of what the imports took
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    # a snapshot reopened when the publication's generation moves (the writer flushes before
    # it announces: no scan of the store's files per query), a read retried on a fresh one
    # when it met a table the writer compacted away (repo.handles says why, with figures)
    dataset = ReadHandle(Path(home) / "publication", generation=Path(home), follow=False)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:  # the pool's ping after start: say whether the network is gone
            conn.send(isolated)
            continue
        try:
            answer = dataset.read(partial(_execute, job=job, isolated=isolated), attempts=3)
        except Exception:  # the worker must answer whatever happens; details to the log
            traceback.print_exc()
            answer = Answer(500, "text/plain", b"query failed: internal error (logged)")
        try:
            conn.send(answer)
        except (EOFError, OSError):
            return


# ------------------------------------------------------------------ in the web process

class _Worker:
    """A worker is ``python -m publisher.sparql_pool HOME FD``: a fresh interpreter (never a
    fork of the threaded web server, and not multiprocessing's spawn either, which would
    re-run the server's ``__main__`` script), talking over a socket pair."""

    def __init__(self, home: Path, memory_mb: int) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PROJECT, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "publisher.sparql_pool", str(home), str(theirs.fileno()),
             str(os.getpid()), str(memory_mb)],
            pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL, close_fds=True)
        theirs.close()
        self.conn = Connection(ours.detach())

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(5)
        finally:
            self.conn.close()


class QueryPool:
    """Up to ``size`` worker processes over the publication store of the site at ``home``.

    One worker starts with the first query (or a visit to the query page); more start only when
    every worker is busy, so a quiet site — or a test suite making many apps — keeps one
    process per app. Workers are started by one long-lived thread of the pool: Linux sends
    PR_SET_PDEATHSIG when the *thread* that made a child ends, so a short-lived thread would
    take its worker with it.
    """

    STARTUP_SECONDS = 60.0  # a worker that takes longer to import and open the store is broken

    def __init__(self, home: Path, size: int, memory_mb: int = 0) -> None:
        self.home = home
        self.size = max(1, size)
        self.memory_mb = memory_mb
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._wanted: queue.Queue[bool] = queue.Queue()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._count = 0  # workers alive or being started
        self.killed: list[int] = []  # pids of workers killed at the deadline (for tests, logs)
        self.isolated: bool | None = None  # workers are off the network (None: none started)

    def _spawner(self) -> None:
        while self._wanted.get() and not self._closed:
            try:
                worker = _Worker(self.home, self.memory_mb)
                worker.conn.send(None)  # a ping: answered once the worker has imported
                if worker.conn.poll(self.STARTUP_SECONDS):
                    self.isolated = bool(worker.conn.recv()) and self.isolated is not False
                self._idle.put(worker)
            except OSError:
                time.sleep(1)
                self._wanted.put(True)

    def start(self) -> None:
        """Start the workers and wait until they can take queries (the first query calls it)."""
        with self._lock:
            if self._started or self._closed:
                return
            threading.Thread(target=self._spawner, name="lantai-sparql-spawner",
                             daemon=True).start()
            self._count = 1
            self._wanted.put(True)
            deadline = time.monotonic() + self.STARTUP_SECONDS
            while self._idle.qsize() < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            self._started = True

    @property
    def started(self) -> bool:
        return self._started

    @property
    def workers(self) -> int:
        """How many workers are alive or starting (at most ``size``)."""
        return self._count

    def _grow(self) -> None:
        with self._lock:
            if self._count >= self.size or self._closed:
                return
            self._count += 1
        self._wanted.put(True)

    def _replace(self) -> None:
        self._wanted.put(True)

    def run(self, job: Job, timeout: float) -> Answer:
        """Run ``job`` within ``timeout`` seconds (waiting for a free worker included)."""
        if self._closed:
            raise QueryRefused(503, "the SPARQL service is shutting down")
        self.start()
        deadline = time.monotonic() + timeout
        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            self._grow()  # every worker is busy: start one more, if the pool may grow
            worker = None
        try:
            worker = worker or self._idle.get(timeout=timeout)
        except queue.Empty:
            raise QueryRefused(503, f"time limit: every query worker stayed busy for "
                               f"{timeout:g} s (sparql_timeout); try again later",
                               busy=True) from None
        try:
            worker.conn.send(job)
            if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                self.killed.append(worker.process.pid)
                worker.kill()
                self._replace()
                raise QueryRefused(503, f"time limit: the query ran longer than {timeout:g} s "
                                   f"(sparql_timeout) and was stopped")
            answer = worker.conn.recv()
        except (EOFError, OSError):
            worker.kill()
            self._replace()
            if self.memory_mb:
                raise QueryRefused(503, f"memory limit: the query needed more than "
                                   f"{self.memory_mb} MiB (sparql_memory_mb) and was "
                                   "stopped") from None
            raise QueryRefused(500, "the query process died") from None
        self._idle.put(worker)
        return answer

    def close(self) -> None:
        """Stop every worker (idle ones at once; busy ones end with their pipe)."""
        self._closed = True
        self._wanted.put(False)
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return

    def pids(self) -> list[int]:
        """Process ids of the idle workers (for tests and monitoring)."""
        return [w.process.pid for w in list(self._idle.queue)]


if __name__ == "__main__":  # a worker: python -m publisher.sparql_pool HOME FD PARENT_PID
    from publisher.sparql_pool import _worker_main as _main

    _main(sys.argv[1], Connection(int(sys.argv[2])), int(sys.argv[3]),
          int(sys.argv[4]) if len(sys.argv) > 4 else 0)
