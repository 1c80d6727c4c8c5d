"""A client of a SPARQL 1.1 engine: Protocol (query), Update and Graph Store Protocol.

Owned by the `mirror` part of issue 15. Agreed interface (build to these names):

- ``Engine.from_settings(settings) -> Engine | None`` (None when ``publication_endpoint`` is
  empty); ``Engine(query_url, update_url="", gsp_url="", user="", password="",
  timeout=30.0)``.
- ``engine.select(query) -> list[dict[str, pyoxigraph term]]`` and
  ``engine.query(query, *, accept=...) -> bytes`` (raw answer, bounded size);
  ``engine.ask(query) -> bool``; ``engine.update(sparql_update)``;
  ``engine.put_graph(iri, quads_or_triples)``, ``engine.delete_graph(iri)`` (GSP when
  ``gsp_url`` is set, else SPARQL Update ``DROP SILENT GRAPH`` / ``INSERT DATA``);
  ``engine.generation() -> str`` ("" when none); ``engine.set_generation(value)``.
- :class:`EngineError` (a ``LantaiError``): one line naming the engine and what failed.

Beyond those: ``construct(query)`` and ``graph(iri)`` (triples), ``graphs(prefix)`` (the named
graphs whose IRI starts with ``prefix``: a shared engine holds other graphs too — Virtuoso
its own system graphs), ``graph_contents(iris)`` (many graphs in one round trip, for ``lantai
engine check``), ``replace_graphs(mapping)`` / ``drop_graphs(iris)`` (many graphs per Update
request, cut into chunks of at most ``chunk`` triples: Virtuoso refuses a statement that
compiles to too much SQL).

Only the standards are used, so any SPARQL 1.1 engine can be the target: queries are POSTed
as forms (``query=``, ``update=``: Virtuoso takes no other body), answers read in the format
the engine says it sent (``Content-Type``) with pyoxigraph's parsers, graphs sent as
N-Triples labelled ``text/turtle`` (N-Triples is Turtle, and every engine knows that media
type). Terms in Update text are pyoxigraph's N-Triples forms; characters that SPARQL would
read differently (see :func:`sparql_term`) are escaped.

Authentication: HTTP Basic or Digest, whichever the engine's first 401 asks for (Virtuoso's
authenticated endpoints use Digest). The password comes from the caller (the settings give it
from the environment, ``LANTAI_ENGINE_PASSWORD``), never from ``lantai.toml``.

The publication's generation lives in the engine itself, in graph :data:`STATE_GRAPH`
(``<urn:lantai:publication-state> <urn:lantai:generation> "…"``), so web workers on other
machines learn that the publication changed from the engine alone.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    Quad,
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    RdfFormat,
    Triple,
    parse,
    parse_query_results,
    serialize,
)
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from repo.errors import LantaiError

STATE_GRAPH = "urn:lantai:publication-state"
GENERATION = "urn:lantai:generation"
PASSWORD_ENV = "LANTAI_ENGINE_PASSWORD"

RESULTS_ACCEPT = ("application/sparql-results+json, application/sparql-results+xml;q=0.9, "
                  "text/tab-separated-values;q=0.5")
GRAPH_ACCEPT = ("application/n-triples, text/turtle;q=0.9, text/plain;q=0.8, "
                "application/rdf+xml;q=0.5")
MAX_ANSWER = 256 * 1024 * 1024  # bytes: an answer larger than this is refused, not read
CHUNK = 2000  # triples per Update request (Virtuoso compiles a statement to SQL, bounded)

Term = NamedNode | BlankNode | Literal | Triple


class EngineError(LantaiError):
    """The engine could not be reached or refused a request: one line naming the engine,
    what was asked, the HTTP status and the first line of the engine's message."""

    exit_code = 10  # (8 is Busy: the site's lock)
    http_status = 503


class EngineTimeout(EngineError):
    """The engine did not answer in time (it may be hung, not down: waiting again costs the
    whole timeout)."""


def _public_url(url: str) -> str:
    """``url`` without user information (a password never goes into a message)."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        parts = parts._replace(netloc=host + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts)


def _first_line(body: bytes) -> str:
    text = body[:2000].decode("utf-8", "replace")
    text = re.sub(r"<[^>]+>", " ", text)  # an HTML error page: its words, not its markup
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


_ESCAPE_UNIT = re.compile(r"\\\\[uU]|\\.")


def _escape_unit(m: re.Match[str]) -> str:
    unit = m.group(0)
    return unit if len(unit) == 2 else f"\\\\\\u{ord(unit[2]):04X}"


def sparql_term(term: Term) -> str:
    """A term as SPARQL text, exactly. pyoxigraph's ``str`` is the N-Triples form, which is
    SPARQL too, with one trap: SPARQL lets an engine read ``\\uXXXX`` anywhere in the query
    text before parsing it, so a literal holding a backslash followed by ``u`` (N-Triples
    ``"\\\\u0022"``) could be read by such an engine as holding a quote. The ``u`` after an
    escaped backslash is therefore written as its own escape (``"\\\\\\u00750022"``), which
    an engine reading escapes before parsing and one reading them in strings both give back
    as the same text. Escapes are read left to right, so ``\\\\`` pairs are never split."""
    text = str(term)
    if isinstance(term, Literal) and "\\" in text:
        text = _ESCAPE_UNIT.sub(_escape_unit, text)
    return text


def sparql_triple(s: Term, p: Term, o: Term) -> str:
    return f"{sparql_term(s)} {sparql_term(p)} {sparql_term(o)} ."


def _triples(items: Iterable[Quad | Triple]) -> list[Triple]:
    out = []
    for x in items:
        out.append(x.triple if isinstance(x, Quad) else x)
    return out


class _AnyAuth(AuthBase):
    """Basic or Digest, chosen by the engine's first challenge (and kept)."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.chosen: AuthBase | None = None

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return self.chosen(r) if self.chosen is not None else r


class Engine:
    """One SPARQL 1.1 engine: a query URL, an Update URL and optionally a Graph Store
    Protocol URL. Thread-safe (a web worker's threads share one)."""

    def __init__(self, query_url: str, update_url: str = "", gsp_url: str = "",
                 user: str = "", password: str = "", timeout: float = 30.0, *,
                 max_answer: int = MAX_ANSWER, chunk: int = CHUNK) -> None:
        if not query_url:
            raise LantaiError("engine: no query URL (publication_endpoint)")
        self.query_url = query_url
        self.update_url = update_url or query_url
        self.gsp_url = gsp_url
        self.user = user
        self.timeout = timeout
        self.max_answer = max_answer
        self.chunk = max(1, chunk)
        self.name = _public_url(query_url)
        self._auth = _AnyAuth(user, password) if user else None
        self._local = threading.local()  # one requests.Session per thread

    @classmethod
    def from_settings(cls, settings: Any, *, timeout: float | None = None) -> Engine | None:
        """The engine the settings name (None when ``publication_endpoint`` is empty)."""
        url = getattr(settings, "publication_endpoint", "")
        if not url:
            return None
        return cls(url, getattr(settings, "publication_update_endpoint", ""),
                   getattr(settings, "publication_gsp_endpoint", ""),
                   getattr(settings, "publication_engine_user", ""),
                   os.environ.get(PASSWORD_ENV, ""),
                   timeout if timeout is not None else 30.0)

    def __repr__(self) -> str:
        return f"Engine({self.name!r})"

    # ------------------------------------------------------------------ HTTP
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False  # no proxy from the environment between us and it
        return session

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    def _request(self, method: str, url: str, what: str, *, ok: Iterable[int] = (),
                 **kw: Any) -> tuple[int, Mapping[str, str], bytes]:
        """One request; the answer's status, headers and body (at most ``max_answer``
        bytes), or :class:`EngineError`. A 401 that names Basic or Digest is answered once
        with the configured user."""
        for attempt in (0, 1):
            try:
                with self._session().request(method, url, auth=self._auth, stream=True,
                                             timeout=self.timeout, allow_redirects=False,
                                             **kw) as resp:
                    if resp.status_code == 401 and attempt == 0 and self._pick_auth(resp):
                        continue
                    body = self._read(resp, url, what)
                    status, headers = resp.status_code, resp.headers
            except requests.Timeout:
                raise EngineTimeout(f"engine {_public_url(url)}: {what}: no answer within "
                                  f"{self.timeout:g} s") from None
            except requests.RequestException as exc:
                reason = type(exc).__name__
                if isinstance(exc, requests.ConnectionError):
                    reason = "cannot connect"
                raise EngineError(f"engine {_public_url(url)}: {what}: {reason}") from None
            if 200 <= status < 300 or status in ok:
                return status, headers, body
            line = _first_line(body)
            raise EngineError(f"engine {_public_url(url)}: {what}: HTTP {status}"
                              + (f": {line}" if line else ""))
        raise AssertionError("unreachable")

    def _pick_auth(self, resp: requests.Response) -> bool:
        if self._auth is None or self._auth.chosen is not None:
            return False
        challenge = resp.headers.get("WWW-Authenticate", "").lower()
        if challenge.startswith("digest"):
            self._auth.chosen = HTTPDigestAuth(self._auth.user, self._auth.password)
        elif challenge.startswith("basic"):
            self._auth.chosen = HTTPBasicAuth(self._auth.user, self._auth.password)
        else:
            return False
        return True

    def _read(self, resp: requests.Response, url: str, what: str) -> bytes:
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_answer:
            raise EngineError(f"engine {_public_url(url)}: {what}: answer of {declared} "
                              f"bytes, more than {self.max_answer}")
        chunks, size = [], 0
        for chunk in resp.iter_content(65536):
            size += len(chunk)
            if size > self.max_answer:
                raise EngineError(f"engine {_public_url(url)}: {what}: answer larger than "
                                  f"{self.max_answer} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    # ------------------------------------------------------------------ Protocol
    def query(self, query: str, *, accept: str = RESULTS_ACCEPT) -> bytes:
        """The raw answer to ``query`` (POSTed as a form), at most ``max_answer`` bytes."""
        return self.query_answer(query, accept=accept)[1]

    def query_answer(self, query: str, *, accept: str = RESULTS_ACCEPT) -> tuple[str, bytes]:
        """The answer's media type (without parameters) and its bytes."""
        _, headers, body = self._request(
            "POST", self.query_url, "query", data={"query": query},
            headers={"Accept": accept})
        media = headers.get("Content-Type", "").split(";")[0].strip().lower()
        return media, body

    def _results(self, query: str) -> QuerySolutions | QueryBoolean:
        media, body = self.query_answer(query)
        fmt = QueryResultsFormat.from_media_type(media) if media else None
        if fmt is None:
            raise EngineError(f"engine {self.name}: query: answer of type {media or 'none'}, "
                              "not SPARQL results")
        try:
            return parse_query_results(body, fmt)
        except (SyntaxError, ValueError) as exc:
            raise EngineError(f"engine {self.name}: query: unreadable answer: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                              ) from None

    def select(self, query: str) -> list[dict[str, Term]]:
        """The solutions of a SELECT: one dict per row, variable name → term (unbound
        variables left out)."""
        answer = self._results(query)
        if isinstance(answer, QueryBoolean):
            raise EngineError(f"engine {self.name}: query: a boolean answer to a SELECT")
        names = [v.value for v in answer.variables]
        rows = []
        for solution in answer:
            row = {}
            for name in names:
                term = solution[name]
                if term is not None:
                    row[name] = term
            rows.append(row)
        return rows

    def ask(self, query: str) -> bool:
        answer = self._results(query)
        if not isinstance(answer, QueryBoolean):
            raise EngineError(f"engine {self.name}: query: no boolean answer to an ASK")
        return bool(answer)

    def construct(self, query: str) -> list[Triple]:
        """The triples of a CONSTRUCT or DESCRIBE."""
        media, body = self.query_answer(query, accept=GRAPH_ACCEPT)
        return self._parse_graph(media, body, "query")

    def _parse_graph(self, media: str, body: bytes, what: str) -> list[Triple]:
        fmt = RdfFormat.N_TRIPLES if media == "text/plain" else RdfFormat.from_media_type(media)
        if fmt is None:
            raise EngineError(f"engine {self.name}: {what}: answer of type {media or 'none'}, "
                              "not RDF")
        try:
            return [q.triple for q in parse(body, fmt)]
        except (SyntaxError, ValueError) as exc:
            raise EngineError(f"engine {self.name}: {what}: unreadable answer: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                              ) from None

    # ------------------------------------------------------------------ Update
    def update(self, update: str) -> None:
        """Run a SPARQL Update (POSTed as a form, ``update=``)."""
        self._request("POST", self.update_url, "update", data={"update": update})

    # ------------------------------------------------------------------ graphs
    def put_graph(self, iri: str, triples: Iterable[Quad | Triple]) -> None:
        """Make graph ``iri`` hold exactly ``triples`` (no triples: the graph goes)."""
        items = _triples(triples)
        if not items:
            self.delete_graph(iri)
            return
        if self.gsp_url and len(items) <= self.chunk * 50:
            body = serialize(items, format=RdfFormat.N_TRIPLES)
            self._request("PUT", self.gsp_url, f"put graph <{iri}>", params={"graph": iri},
                          data=body, headers={"Content-Type": "text/turtle; charset=utf-8"})
            return
        self.replace_graphs({iri: items})

    def delete_graph(self, iri: str) -> None:
        """Remove graph ``iri`` (gone already is fine)."""
        if self.gsp_url:
            self._request("DELETE", self.gsp_url, f"delete graph <{iri}>",
                          params={"graph": iri}, ok=(404,))
            return
        self.update(f"DROP SILENT GRAPH {sparql_term(NamedNode(iri))}")

    def replace_graphs(self, graphs: Mapping[str, Iterable[Quad | Triple]]) -> None:
        """Make each graph hold exactly its triples, many graphs per Update request: each
        request drops and fills whole graphs, at most ``chunk`` triples (a bigger graph is
        dropped and filled over several requests)."""
        for text in self._replace_requests(graphs):
            self.update(text)

    def _replace_requests(self, graphs: Mapping[str, Iterable[Quad | Triple]]
                          ) -> Iterator[str]:
        ops: list[str] = []
        count = 0
        for iri, items in graphs.items():
            g = sparql_term(NamedNode(iri))
            ops.append(f"DROP SILENT GRAPH {g}")
            lines = [sparql_triple(t.subject, t.predicate, t.object) for t in _triples(items)]
            while lines:
                room = max(1, self.chunk - count)
                part, lines = lines[:room], lines[room:]
                ops.append(f"INSERT DATA {{ GRAPH {g} {{ {' '.join(part)} }} }}")
                count += len(part)
                if count >= self.chunk:
                    yield " ;\n".join(ops)
                    ops, count = [], 0
            if len(ops) >= 200:
                yield " ;\n".join(ops)
                ops, count = [], 0
        if ops:
            yield " ;\n".join(ops)

    def drop_graphs(self, iris: Iterable[str]) -> None:
        """Remove many graphs (gone already is fine), a hundred per Update request."""
        batch: list[str] = []
        for iri in iris:
            batch.append(f"DROP SILENT GRAPH {sparql_term(NamedNode(iri))}")
            if len(batch) >= 100:
                self.update(" ;\n".join(batch))
                batch = []
        if batch:
            self.update(" ;\n".join(batch))

    def graph(self, iri: str) -> list[Triple]:
        """The triples of graph ``iri`` (none when it does not exist)."""
        if self.gsp_url:
            status, headers, body = self._request(
                "GET", self.gsp_url, f"get graph <{iri}>", params={"graph": iri},
                headers={"Accept": GRAPH_ACCEPT}, ok=(404,))
            if status == 404:
                return []
            media = headers.get("Content-Type", "").split(";")[0].strip().lower()
            return self._parse_graph(media, body, f"get graph <{iri}>")
        g = sparql_term(NamedNode(iri))
        return self.construct(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {g} {{ ?s ?p ?o }} }}")

    def graphs(self, prefix: str = "") -> set[str]:
        """The named graphs (with at least one triple) whose IRI starts with ``prefix``."""
        rows = self.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        names = (row.get("g") for row in rows)
        return {g.value for g in names if isinstance(g, NamedNode) and g.value.startswith(prefix)}

    def graph_contents(self, iris: Iterable[str]) -> dict[str, list[Triple]]:
        """The triples of several graphs in one query (graphs without triples left out)."""
        values = " ".join(sparql_term(NamedNode(i)) for i in iris)
        if not values:
            return {}
        out: dict[str, list[Triple]] = {}
        for row in self.select(f"SELECT ?g ?s ?p ?o WHERE {{ VALUES ?g {{ {values} }} "
                               "GRAPH ?g { ?s ?p ?o } }"):
            g, s, p, o = row["g"], row["s"], row["p"], row["o"]
            if not isinstance(g, NamedNode) or not isinstance(p, NamedNode) \
                    or not isinstance(s, NamedNode | BlankNode):
                raise EngineError(f"engine {self.name}: query: a triple that is not RDF")
            out.setdefault(g.value, []).append(Triple(s, p, o))
        return out

    # ------------------------------------------------------------------ generation
    def generation(self) -> str:
        """The publication generation the engine holds ("" when none was written)."""
        rows = self.select(f"SELECT ?v WHERE {{ GRAPH <{STATE_GRAPH}> "
                           f"{{ <{STATE_GRAPH}> <{GENERATION}> ?v }} }}")
        values = sorted(v.value for row in rows if isinstance(v := row.get("v"), Literal))
        return values[0] if values else ""

    def set_generation(self, value: str) -> None:
        """Write the publication generation (replacing the one there) in one request."""
        g = f"<{STATE_GRAPH}>"
        self.update(f"DELETE {{ GRAPH {g} {{ {g} <{GENERATION}> ?v }} }} "
                    f"WHERE {{ GRAPH {g} {{ {g} <{GENERATION}> ?v }} }} ;\n"
                    f"INSERT DATA {{ GRAPH {g} {{ {g} <{GENERATION}> "
                    f"{sparql_term(Literal(value))} }} }}")


__all__ = ["GENERATION", "PASSWORD_ENV", "STATE_GRAPH", "Engine", "EngineError", "EngineTimeout",
           "sparql_term"]
