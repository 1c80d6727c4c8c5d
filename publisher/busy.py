"""Bounded pools for expensive work, so that cheap pages stay fast while it queues.

Ten heavy SPARQL queries or ten large IIIF renders used to hold every server thread, and
``/healthz`` and record pages then took 9–17 s. Expensive work now passes a :class:`Gate`
per kind (``sparql``: ``sparql_workers`` at once; ``render``: ``render_threads`` at once),
each with a short queue (``expensive_queue``) and a cap per client address
(``expensive_per_client``). Past the queue the answer is an immediate ``503`` with
``Retry-After``; past the client's cap, ``429``. A request waits in the queue at most
1.5 × ``sparql_timeout`` + 1 s (a running query ends by its time limit).

SPARQL passes its gate before Flask (:class:`SparqlAdmission`: refusing a flood costs next to
nothing); renders pass theirs around the rendering itself (:func:`enter`), after the cheap
paths (stored tiles, cached renderings). ``lantai serve`` runs enough threads for every
gate's running and queued requests *plus* the threads asked for (:func:`server_threads`),
so those always remain for cheap pages; the SPARQL worker processes run at nice 19.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

from flask import Flask, Response, current_app, request

from publisher.ratelimit import client_address

if TYPE_CHECKING:  # current_app is typed Flask, but is the proxy to it
    from werkzeug.local import LocalProxy

KINDS = ("sparql", "render")
_lock = threading.Lock()


class Busy(Exception):
    """Refused for now: ``status`` 503 (the pool is full) or 429 (this client's share)."""

    def __init__(self, status: int, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


class Gate:
    """At most ``size`` requests run and ``queue`` wait; at most ``per_client`` per client."""

    def __init__(self, kind: str, size: int, queue: int, per_client: int, wait: float) -> None:
        self.kind, self.size, self.queue = kind, size, queue
        self.per_client, self.wait = per_client, wait
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._inside = 0  # running and waiting
        self._by_client: Counter[str] = Counter()
        self.refused = 0  # for tests and benchmarks

    @property
    def capacity(self) -> int:
        return self.size + self.queue

    @contextmanager
    def enter(self, client: str) -> Iterator[None]:
        """Run the body in a slot, or raise :class:`Busy` at once (or after ``wait`` s)."""
        retry = max(1, round(self.wait))
        with self._lock:
            if self._by_client[client] >= self.per_client:
                self.refused += 1
                raise Busy(429, f"too many {self.kind} requests at once from one client "
                                f"(expensive_per_client = {self.per_client}); retry after "
                                f"{retry} s", retry)
            if self._inside >= self.capacity:
                self.refused += 1
                raise Busy(503, f"the server is busy: {self.size} {self.kind} requests run and "
                                f"{self.queue} wait; retry after {retry} s", retry)
            self._inside += 1
            self._by_client[client] += 1
        try:
            if not self._slots.acquire(timeout=self.wait):
                raise Busy(503, f"the server is busy: waited {self.wait:g} s for a free "
                                f"{self.kind} slot; retry after {retry} s", retry)
            try:
                yield
            finally:
                self._slots.release()
        finally:
            with self._lock:
                self._inside -= 1
                self._by_client[client] -= 1
                if not self._by_client[client]:
                    del self._by_client[client]


def gates(app: Flask) -> dict[str, Gate]:
    """The app's gates, made on first use from its settings."""
    found = app.extensions.get("lantai.gates")
    if found is None:
        with _lock:
            found = app.extensions.get("lantai.gates")
            if found is None:
                s = app.config["SETTINGS"]
                # long enough for a running query to end at its time limit and hand over
                wait = float(s.sparql_timeout) * 1.5 + 1
                found = {"sparql": Gate("sparql", s.sparql_workers, s.expensive_queue,
                                        s.expensive_per_client, wait),
                         "render": Gate("render", s.render_threads, s.expensive_queue,
                                        s.expensive_per_client, wait)}
                app.extensions["lantai.gates"] = found
    return found


@contextmanager
def enter(kind: str, environ: dict | None = None, app: Flask | None = None) -> Iterator[None]:
    """Pass the gate of ``kind`` for this request (Flask's, or a WSGI ``environ``)."""
    app = app or cast("LocalProxy[Flask]", current_app)._get_current_object()
    environ = environ if environ is not None else request.environ
    client = client_address(environ, app.config["SETTINGS"].trusted_proxies.split())
    with gates(app)[kind].enter(client):
        yield


def _busy_response(exc: Busy) -> Response:
    resp = Response(exc.message + "\n", exc.status, content_type="text/plain; charset=utf-8")
    resp.headers["Retry-After"] = str(exc.retry_after)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


def init_app(app: Flask) -> None:
    """Make the gates, answer :class:`Busy` (at setup: Flask allows handlers only then), and
    put SPARQL queries through theirs before Flask (:class:`SparqlAdmission`)."""
    gates(app)
    app.register_error_handler(Busy, _busy_response)
    wrapped = SparqlAdmission(app, app.wsgi_app)
    app.wsgi_app = wrapped  # type: ignore[method-assign]  # Flask's documented middleware


class SparqlAdmission:
    """WSGI middleware: a request that runs a query (``/sparql`` with ``query=`` or a POST)
    passes the ``sparql`` gate for its whole length, and is refused before Flask when the
    gate is full, so a flood of refused queries costs the web process next to nothing."""

    def __init__(self, app: Flask, wsgi_app) -> None:
        self.wsgi_app = wsgi_app
        self.gate = gates(app)["sparql"]
        self.trusted = app.config["SETTINGS"].trusted_proxies.split()

    def __call__(self, environ: dict, start_response):
        if environ.get("PATH_INFO") != "/sparql" or not (
                environ.get("REQUEST_METHOD") == "POST"
                or "query=" in environ.get("QUERY_STRING", "")):
            return self.wsgi_app(environ, start_response)
        try:
            with self.gate.enter(client_address(environ, self.trusted)):
                result = self.wsgi_app(environ, start_response)
                try:
                    return [b"".join(result)]  # the query's work is done inside the gate
                finally:
                    if hasattr(result, "close"):
                        result.close()
        except Busy as exc:
            body = (exc.message + "\n").encode()
            reason = "Too Many Requests" if exc.status == 429 else "Service Unavailable"
            start_response(f"{exc.status} {reason}", [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))), ("Retry-After", str(exc.retry_after)),
                ("Access-Control-Allow-Origin", "*")])
            return [body]


def threads_for(settings, cheap: int) -> int:
    """Threads for one server process of a site with ``settings``: every gate's running and
    queued requests, and ``cheap`` more that expensive work can never take."""
    return cheap + (settings.sparql_workers + settings.expensive_queue) + (
        settings.render_threads + settings.expensive_queue)


def server_threads(app: Flask, cheap: int) -> int:
    """:func:`threads_for` the app's own gates (a server serving ``app`` in this process)."""
    return cheap + sum(gate.capacity for gate in gates(app).values())
