"""What the public surfaces read when the publication lives in an external engine.

Owned by the `reader` part of issue 15. :class:`RemoteDataset` has the face of
:class:`publisher.dataset.PublicDataset`: ``.store`` (a :class:`RemoteStore`, with the calls
the pages make on a pyoxigraph ``Store``, answering pyoxigraph terms, quads and query
results so the pages run unchanged), ``.generation()``, ``.forget()``, ``.close()``.

**Round trips.** A page asks the store dozens of small questions (a record page about 40:
its graph's titles, dates, types one predicate at a time, its children, its links). One HTTP
request each would cost more than the page. So the store answers ``quads_for_pattern`` from
the smallest *superset* it fetches once and keeps for the request: the whole named graph
when the pattern names one (a record's description is its graph), every quad with that
subject, or every quad with that object (children, links in), else the pattern itself. A
record page then makes a handful of requests (figures in docs/deploy.md).

**Freshness.** The engine holds the publication's generation (graph
:data:`external.protocol.STATE_GRAPH`, written by the mirror after the graphs). In a request,
``generation()`` is read once and the fetched graphs live as long as the request (a snapshot
per request, on ``flask.g``): a record closed is gone from the next request, on every
machine. Nothing is kept across requests, on purpose: the mirror writes graphs *then* the
generation, and a generation write that failed (engine down half-way: the mirror keeps it
pending) must not leave a closed record in a cache keyed on the old generation.

**Scope.** Only graphs under ``{base}/id/`` are the publication: an engine's own graphs
(Virtuoso's ``virtrdf#`` and friends) and the state graph never reach a page.

**SPARQL** (``/sparql``): :class:`RemotePool` stands in for the query pool
(:mod:`publisher.sparql_pool`): the same parse checks (no SERVICE, no Update), formats, row
limit and result writers run here, the query runs in the engine with the union of the graphs
as its default graph (``union-default-graph`` for ``oxigraph serve``; Virtuoso's default graph
is the union already), within ``sparql_timeout`` and a bounded answer size.
"""

from __future__ import annotations

import http.client
import os
import re
import threading
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    RdfFormat,
    Triple,
    Variable,
    parse,
    parse_query_results,
    serialize,
)

from external.protocol import GENERATION, STATE_GRAPH, Engine, EngineError, sparql_term

__all__ = ["EngineReadError", "RemoteDataset", "RemotePool", "RemoteStore"]

MAX_ANSWER_BYTES = 256 * 2**20  # one answer of the engine, read at most (a page or a query)
BATCH = 64  # graphs fetched in one round trip: the one asked for and those likely next
TIMEOUT = 30.0  # seconds for the store's own questions (SPARQL uses sparql_timeout)
_RESULTS = "application/sparql-results+json"
_GRAPH_ACCEPT = "application/n-triples, text/turtle;q=0.9"

Term = NamedNode | BlankNode | Literal


EngineReadError = EngineError  # the engine could not be read: one line naming it and what


# ---------------------------------------------------------------------- the wire
class _Wire:
    """The few SPARQL 1.1 Protocol calls the public side makes (query only), over one
    keep-alive ``http.client`` connection per thread. Part `mirror`'s
    :class:`external.protocol.Engine` writes; reading stays on the standard library's client
    because a page's cost is its round trips: 4.2 ms each against 9.9 ms through
    ``requests`` (oxigraph serve on this machine, loaded, a record's graph per request).
    A read endpoint is usually open (Virtuoso's ``/sparql`` is); one that answers 401 is
    read through :class:`~external.protocol.Engine` from then on (Basic or Digest as the
    engine asks, ``publication_engine_user`` and ``LANTAI_ENGINE_PASSWORD``)."""

    def __init__(self, query_url: str, user: str = "", password: str = "") -> None:
        parts = urllib.parse.urlsplit(query_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineReadError(f"publication_endpoint {query_url!r} is not an http(s) URL")
        self.query_url = query_url
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self._user, self._password = user, password
        self._authenticated = False  # the engine asked for credentials (401): see post()
        self._local = threading.local()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = self._local.conn = cls(self._host, self._port, timeout=timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def post(self, query: str, accept: str, *, params: dict | None = None,
             timeout: float = TIMEOUT, limit: int = MAX_ANSWER_BYTES) -> tuple[str, bytes]:
        """The engine's answer to ``query``: (media type, body). A failure is an
        :class:`EngineReadError` (:class:`SyntaxError` when the engine refused the query's
        text, :class:`TimeoutError` past ``timeout``, :class:`OverflowError` past ``limit``)."""
        path = self._path
        if params:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params, doseq=True)
        if self._authenticated:
            return self._through_engine(path, query, accept, timeout, limit)
        body = urllib.parse.urlencode({"query": query}).encode()
        headers = {**self._headers, "Accept": accept}
        for attempt in (0, 1):  # a kept-alive connection the engine closed: once more, anew
            conn = self._connection(timeout)
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                data = _read_bounded(resp, limit)
                break
            except TimeoutError:
                self._drop()
                raise TimeoutError(f"the engine {self.query_url} did not answer within "
                                   f"{timeout:g} s") from None
            except OverflowError:
                self._drop()
                raise
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                if attempt or not isinstance(exc, http.client.RemoteDisconnected | BrokenPipeError
                                             | ConnectionResetError):
                    raise EngineReadError(f"the engine {self.query_url} cannot be read: "
                                          f"{type(exc).__name__}: {exc}") from None
        if resp.will_close:
            self._drop()
        if resp.status == 401 and self._user:
            self._authenticated = True
            return self._through_engine(path, query, accept, timeout, limit)
        if resp.status == 400:
            raise SyntaxError(_first_line(data) or "the engine refused the query")
        if resp.status != 200:
            raise EngineReadError(f"the engine {self.query_url} answered {resp.status}: "
                                  f"{_first_line(data)}")
        kind = (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()
        return kind, data


    def _through_engine(self, path: str, query: str, accept: str, timeout: float,
                        limit: int) -> tuple[str, bytes]:
        """The query through :class:`~external.protocol.Engine` (authenticated reads)."""
        scheme = "https" if self._https else "http"
        port = f":{self._port}" if self._port else ""
        engine = Engine(f"{scheme}://{self._host}{port}{path}", user=self._user,
                        password=self._password, timeout=timeout, max_answer=limit)
        try:
            return engine.query_answer(query, accept=accept)
        except EngineError as exc:
            if "HTTP 400" in exc.message:
                raise SyntaxError(exc.message.split("HTTP 400", 1)[1].lstrip(": ")
                                  or "the engine refused the query") from None
            if "no answer within" in exc.message:
                raise TimeoutError(exc.message) from None
            if "larger than" in exc.message or "more than" in exc.message:
                raise OverflowError(exc.message) from None
            raise
        finally:
            engine.close()


def _read_bounded(resp: http.client.HTTPResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = resp.read(1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise OverflowError(f"the engine's answer is over {limit} bytes")
        chunks.append(chunk)


def _first_line(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text.splitlines()[0][:200] if text else ""


def _sparql(term: Term | Triple) -> str:
    """A term as SPARQL text, exactly (:func:`external.protocol.sparql_term`)."""
    if isinstance(term, BlankNode):
        raise ValueError("a blank node cannot be asked about across requests")
    return sparql_term(term)


def _solutions(kind: str, body: bytes) -> QuerySolutions | QueryBoolean:
    fmt = QueryResultsFormat.from_media_type(kind) if kind else None
    return parse_query_results(body, format=fmt or QueryResultsFormat.JSON)


def _triples(kind: str, body: bytes) -> list[Triple]:
    fmt = RdfFormat.from_media_type(kind) if kind else None
    if kind == "text/plain" or fmt is None:  # N-Triples by its old name
        fmt = RdfFormat.N_TRIPLES
    return [q.triple for q in parse(body, format=fmt)]


# ---------------------------------------------------------------------- the store
_Pattern = tuple[Any, Any, Any, Any]


class RemoteStore:
    """The publication in the engine, as one request sees it: the read calls of a pyoxigraph
    ``Store`` (``quads_for_pattern``, ``query``, ``contains``, ``named_graphs``,
    ``contains_named_graph``, iteration, ``len``, ``dump``). Answers fetched are kept for
    the life of this object (a request)."""

    def __init__(self, wire: _Wire, prefix: str) -> None:
        self._wire = wire
        self.prefix = prefix  # the publication's graphs: {base}/id/…
        self._lock = threading.Lock()
        self._graphs: dict[str, list[Quad]] = {}
        self._subjects: dict[str, list[Quad]] = {}
        self._objects: dict[str, list[Quad]] = {}
        self._patterns: dict[_Pattern, list[Quad]] = {}
        self._named: list[NamedNode] | None = None
        self._candidates: dict[str, None] = {}  # IRIs to fetch with the next graph (in order)
        self.requests = 0  # round trips made (for tests and the figures in docs/deploy.md)

    # -- fetching
    def _select(self, query: str) -> QuerySolutions | QueryBoolean:
        self.requests += 1
        kind, body = _for_pages(self._wire.post, query, _RESULTS)
        result: QuerySolutions | QueryBoolean = _for_pages(_solutions, kind, body)
        return result

    def _ours(self, graph: Any) -> bool:
        return isinstance(graph, NamedNode) and graph.value.startswith(self.prefix)

    def _graph(self, graph: NamedNode) -> list[Quad]:
        with self._lock:
            found = self._graphs.get(graph.value)
            if found is not None:
                return found
            more = [iri for iri in self._candidates
                    if iri not in self._graphs and iri != graph.value][:BATCH - 1]
            batch = [graph.value, *more]
        values = " ".join(f"<{iri}>" for iri in batch)
        rows = self._select(f"SELECT ?s ?p ?o ?g WHERE {{ VALUES ?g {{ {values} }} "
                            "GRAPH ?g { ?s ?p ?o } }")
        fetched: dict[str, list[Quad]] = {iri: [] for iri in batch}
        for r in _rows(rows):
            fetched[r[3].value].append(Quad(r[0], r[1], r[2], r[3]))
        with self._lock:
            for iri, quads in fetched.items():
                self._graphs[iri] = quads
                self._candidates.pop(iri, None)
                self._note(q.object for q in quads)
        return fetched[graph.value]

    def _note(self, terms: Iterable[Any]) -> None:
        """Remember IRIs of ours a page is likely to ask about next (the children and links
        it lists), to fetch their graphs with the next graph it asks for (:data:`BATCH`)."""
        for term in terms:
            if (isinstance(term, NamedNode) and term.value.startswith(self.prefix)
                    and term.value not in self._graphs):
                self._candidates[term.value] = None

    def _with_subject(self, subject: NamedNode | BlankNode) -> list[Quad]:
        key = str(subject)
        with self._lock:
            found = self._subjects.get(key)
        if found is None:
            rows = self._select(f"SELECT ?p ?o ?g WHERE {{ GRAPH ?g {{ {_sparql(subject)} "
                                "?p ?o } }")
            found = [Quad(subject, r[0], r[1], r[2]) for r in _rows(rows) if self._ours(r[2])]
            with self._lock:
                self._subjects[key] = found
                self._note(q.object for q in found)
        return found

    def _with_object(self, obj: Term) -> list[Quad]:
        key = str(obj)
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            rows = self._select(f"SELECT ?s ?p ?g WHERE {{ GRAPH ?g {{ ?s ?p {_sparql(obj)} "
                                "} }")
            found = [Quad(r[0], r[1], obj, r[2]) for r in _rows(rows) if self._ours(r[2])]
            with self._lock:
                self._objects[key] = found
                self._note(q.subject for q in found)
        return found

    def _pattern(self, predicate: NamedNode | None) -> list[Quad]:
        key: _Pattern = (None, predicate, None, None)
        with self._lock:
            found = self._patterns.get(key)
        if found is None:
            p = _sparql(predicate) if predicate is not None else "?p"
            rows = self._select(f"SELECT ?s ?p ?o ?g WHERE {{ GRAPH ?g {{ ?s {p} ?o }} }}"
                                if predicate is None else
                                f"SELECT ?s ?o ?g WHERE {{ GRAPH ?g {{ ?s {p} ?o }} }}")
            if predicate is None:
                found = [Quad(r[0], r[1], r[2], r[3]) for r in _rows(rows) if self._ours(r[3])]
            else:
                found = [Quad(r[0], predicate, r[1], r[2]) for r in _rows(rows)
                         if self._ours(r[2])]
            with self._lock:
                self._patterns[key] = found
        return found

    # -- the Store face
    def quads_for_pattern(self, subject: Any = None, predicate: Any = None, obj: Any = None,
                          graph_name: Any = None) -> Iterator[Quad]:
        """The quads matching the pattern (``None`` matches anything), as pyoxigraph's."""
        if isinstance(graph_name, DefaultGraph) or isinstance(subject, Literal):
            return iter(())  # the publication has named graphs only; no literal subjects
        if graph_name is not None:
            if not self._ours(graph_name):
                return iter(())
            pool = self._graph(graph_name)
        elif subject is not None:
            pool = self._with_subject(subject)
        elif obj is not None:
            pool = self._with_object(obj)
        else:
            pool = self._pattern(predicate)
        return iter([q for q in pool
                     if (subject is None or q.subject == subject)
                     and (predicate is None or q.predicate == predicate)
                     and (obj is None or q.object == obj)])

    def contains_named_graph(self, graph_name: Any) -> bool:
        """Is this graph in the publication (a non-empty graph of ours)? Fetches the graph:
        the page that asks reads it next."""
        return self._ours(graph_name) and bool(self._graph(graph_name))

    def published(self, iris: Iterable[str]) -> set[str]:
        """Which of ``iris`` are published objects (their graphs fetched, :data:`BATCH` to a
        round trip). IRIs outside the publication's graphs (``{base}/id/…``) pass as they are:
        only objects have graphs."""
        iris = list(iris)
        ours = [i for i in iris if i.startswith(self.prefix)]
        with self._lock:
            for iri in ours:
                self._candidates[iri] = None
        out = {i for i in iris if not i.startswith(self.prefix)}
        out.update(i for i in ours if self._graph(NamedNode(i)))
        return out

    def named_graphs(self) -> Iterator[NamedNode]:
        if self._named is None:
            rows = self._select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
            self._named = [r[0] for r in _rows(rows) if self._ours(r[0])]
        return iter(self._named)

    def contains(self, quad: Quad) -> bool:
        return next(self.quads_for_pattern(quad.subject, quad.predicate, quad.object,
                                           quad.graph_name), None) is not None

    __contains__ = contains

    def __iter__(self) -> Iterator[Quad]:
        return self.quads_for_pattern()

    def __len__(self) -> int:
        return len(self._pattern(None))

    def dump(self, output: Any, format: RdfFormat = RdfFormat.N_QUADS,
             **kwargs: Any) -> Any:
        """Write every quad of the publication (``Store.dump``'s calls the dumps make)."""
        return serialize(iter(self), output, format=format, **kwargs)

    def query(self, query: str, **options: Any) -> Any:
        """Run ``query`` in the engine (``Store.query``'s options: ``substitutions``,
        ``use_default_graph_as_union``, ``default_graph``, ``named_graphs``): any failure is
        one :class:`EngineError` (the page answers 503)."""
        return _for_pages(self.run_query, query, **options)

    def run_query(self, query: str, *, use_default_graph_as_union: bool = False,
              default_graph: Any = None, named_graphs: Any = None,
              substitutions: dict[Variable, Any] | None = None,
              timeout: float = TIMEOUT, limit: int = MAX_ANSWER_BYTES) -> Any:
        """Run ``query`` in the engine: ``QuerySolutions``/``QueryBoolean`` for SELECT and
        ASK, a list of ``Triple`` for CONSTRUCT and DESCRIBE; :class:`SyntaxError`,
        :class:`TimeoutError` and :class:`OverflowError` as :meth:`_Wire.post` says.
        ``substitutions`` are written into the text (``?var`` → the term; the public code's
        own queries only), the dataset options become the Protocol's parameters."""
        for var, term in (substitutions or {}).items():
            query = re.sub(rf"[?$]{re.escape(var.value)}(?![\w\u00B7\u0300-\u036F\u203F-\u2040])",
                           _sparql(term).replace("\\", "\\\\"), query)
        params: dict[str, Any] = {}
        if default_graph is not None:
            graphs = default_graph if isinstance(default_graph, list) else [default_graph]
            params["default-graph-uri"] = [g.value for g in graphs]
        elif use_default_graph_as_union:
            params["union-default-graph"] = ""  # oxigraph; Virtuoso's default is the union
        if named_graphs is not None:
            params["named-graph-uri"] = [g.value for g in named_graphs]
        self.requests += 1
        kind, body = self._wire.post(query, f"{_RESULTS}, {_GRAPH_ACCEPT};q=0.8",
                                     params=params, timeout=timeout, limit=limit)
        if kind in ("application/sparql-results+json", "application/sparql-results+xml",
                    "text/tab-separated-values"):
            return _solutions(kind, body)
        return _triples(kind, body)


def _for_pages(call: Any, *args: Any, **kwargs: Any) -> Any:
    """``call(...)``, every failure of the engine one :class:`EngineError` (a page's own
    question that fails is the engine's fault, never the visitor's)."""
    try:
        return call(*args, **kwargs)
    except (SyntaxError, TimeoutError, OverflowError, OSError) as exc:
        raise EngineError(f"engine read failed: {type(exc).__name__}: {exc}") from None


def _rows(result: QuerySolutions | QueryBoolean) -> Iterable[Any]:
    if isinstance(result, QueryBoolean):
        raise EngineReadError("the engine answered a boolean to a SELECT query")
    return result


# ---------------------------------------------------------------------- the dataset
class RemoteDataset:
    """The publication dataset of the site at ``home`` as the engine named by its settings
    (``publication_endpoint``) holds it."""

    def __init__(self, home: Path, settings: Any) -> None:
        self.home = Path(home)
        self.settings = settings
        self.endpoint = settings.publication_endpoint
        self.wire = _Wire(self.endpoint, getattr(settings, "publication_engine_user", ""),
                          os.environ.get("LANTAI_ENGINE_PASSWORD", ""))
        self.prefix = settings.base.rstrip("/") + "/id/"

    # -- one snapshot per request
    def _request_state(self) -> dict | None:
        from flask import g, has_app_context

        if not has_app_context():
            return None
        state = g.get("lantai_remote")
        if state is None or state.get("dataset") is not self:
            state = {"dataset": self}
            g.lantai_remote = state
        return state

    @property
    def store(self) -> RemoteStore:
        """This request's snapshot (a new one outside a request: every use then asks)."""
        state = self._request_state()
        if state is None:
            return RemoteStore(self.wire, self.prefix)
        if "store" not in state:
            # the generation first: caches keyed on it (manifests, image look-ups, VoID) must
            # never keep data older than their key (the mirror writes graphs, then it)
            self.generation()
            state["store"] = RemoteStore(self.wire, self.prefix)
        store: RemoteStore = state["store"]
        return store

    def generation(self) -> str:
        """The publication's generation in the engine ("" when none was written), read once
        per request."""
        state = self._request_state()
        if state is not None and "generation" in state:
            value: str = state["generation"]
            return value
        kind, body = _for_pages(self.wire.post, f"SELECT ?v WHERE {{ GRAPH <{STATE_GRAPH}> "
                                f"{{ <{STATE_GRAPH}> <{GENERATION}> ?v }} }}", _RESULTS)
        rows = _for_pages(_solutions, kind, body)
        value = next((r[0].value for r in _rows(rows)), "")
        if state is not None:
            state["generation"] = value
        return value

    def forget(self) -> None:
        """Drop this request's snapshot (the next use asks the engine again)."""
        from flask import g, has_app_context

        if has_app_context():
            g.pop("lantai_remote", None)

    def close(self) -> None:
        self.forget()

    def init_app(self, app: Any) -> None:
        """A page that could not read the engine answers 503 with Retry-After (one line),
        never a 500: the engine being down is not the visitor's doing."""
        from flask import Response

        def unavailable(exc: EngineError) -> Response:
            app.logger.warning("publication engine: %s", exc.message)
            return Response("the publication is unavailable just now; try again shortly\n",
                            503, {"Retry-After": "10"}, mimetype="text/plain")

        app.register_error_handler(EngineError, unavailable)

    def sparql_pool(self) -> RemotePool:
        return RemotePool(self)


# ---------------------------------------------------------------------- /sparql
class RemotePool:
    """What ``/sparql`` runs queries with in external mode (the face of
    :class:`publisher.sparql_pool.QueryPool`): checks and result writers of the pool, the
    query in the engine."""

    started = True
    workers = 0
    isolated = False  # this process is on the network: SERVICE is refused on the text too

    def __init__(self, dataset: RemoteDataset) -> None:
        self.dataset = dataset
        self.killed: list[int] = []

    def start(self) -> None:
        """Nothing to start: the engine runs the queries."""

    def close(self) -> None:
        """Nothing to stop."""

    def pids(self) -> list[int]:
        return []

    def run(self, job: Any, timeout: float) -> Any:
        from publisher.sparql_pool import Answer, QueryRefused, _execute

        store = _JobStore(self.dataset, timeout, max(1, job.max_rows))
        try:
            return _execute(store, job, isolated=False)
        except TimeoutError:
            raise QueryRefused(503, f"time limit: the query ran longer than {timeout:g} s "
                               "(sparql_timeout) and was stopped") from None
        except OverflowError:
            return Answer(413, "text/plain",
                          f"result-size limit: the answer is over {MAX_ANSWER_BYTES} bytes; "
                          "add LIMIT and OFFSET to page through it".encode())
        except EngineReadError as exc:
            raise QueryRefused(503, f"the publication engine could not answer ({exc.message})",
                               busy=True) from None


class _JobStore:
    """The ``store.query`` the pool's evaluator calls, sent to the engine with the
    request's time limit."""

    def __init__(self, dataset: RemoteDataset, timeout: float, max_rows: int) -> None:
        self.dataset = dataset
        self.timeout = timeout

    def query(self, query: str, **options: Any) -> Any:
        store = RemoteStore(self.dataset.wire, self.dataset.prefix)
        return store.run_query(query, timeout=self.timeout, **options)
