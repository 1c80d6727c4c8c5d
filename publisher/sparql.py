"""The SPARQL 1.1 Protocol endpoint at ``/sparql`` over the publication dataset, and its page.

Queries see the union of the publication's graphs (one named graph per public object) as
their default graph; ``default-graph-uri`` and ``named-graph-uri`` narrow the dataset as the
protocol says. Each query takes the fastest path that still keeps every limit (issue 15):

1. **in this web worker**, when its text proves it cheap (:func:`publisher.sparql_check.bounded`:
   one triple pattern from a constant subject, ``DESCRIBE <x>``): no process between;
2. **the Rust engine** beside the workers (:mod:`publisher.sparql_engine`: a jailed ``oxigraph
   serve-read-only``, killed past the time limit), when it serves the request's generation and
   the query does not name ``service``;
3. otherwise **the query processes** (:mod:`publisher.sparql_pool`): killable one by one,
   off the network, with the parsed-query check; they always read the current store, so they
   also answer while the engine starts or catches up with a new generation.

Answers are written by :mod:`publisher.sparql_formats` on every path.

Refused, each with a short text message: SPARQL Update in any form (405), ``SERVICE``
(400: the server must not be made to fetch from the network; decided on the parsed query,
and the workers have no network anyway: :mod:`publisher.sparql_check`), malformed queries
(400, with the line and column), unknown formats (406, listing the supported ones), queries
over the time or memory limit (503) or answers over the size limit (413).
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import re
import threading
import time
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import MIMEAccept, MultiDict
from werkzeug.http import parse_accept_header

from ontology.namespaces import PREFIXES
from publisher import busy, sparql_check
from publisher import sparql_formats as fmt
from publisher.dataset import PublicDataset, read_generation
from publisher.i18n import lang, render, ui_text
from publisher.sparql_check import UPDATE_REFUSED
from publisher.sparql_engine import EngineClient, EngineGone
from publisher.sparql_examples import examples
from publisher.sparql_pool import (
    Answer,
    Job,
    QueryPool,
    QueryRefused,
    _evaluate,
    _too_many,
    write_answer,
)

bp = Blueprint("sparql", __name__)
log = logging.getLogger("lantai.sparql")

SERVICE_TITLE = ui_text("%(site)s SPARQL endpoint")  # the service description's title
MAX_QUERY_CHARS = 100_000  # a longer query is a mistake or an attack
MAX_BODY_BYTES = 1_000_000
DEFAULT_WORKERS = 4
DEFAULT_MEMORY_MB = 2048
ALLOW = "GET, POST, OPTIONS"
OUTPUT_PREFIXES = tuple((k, v) for k, v in PREFIXES.items() if k != "lt")

class Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def init_app(app) -> None:
    """One pool of query workers per app, started on the first query."""
    settings = app.config["SETTINGS"]
    size = getattr(settings, "sparql_workers", 0) or DEFAULT_WORKERS
    dataset = app.extensions["lantai.dataset"]
    if hasattr(dataset, "sparql_pool"):  # the publication in an external engine (external/)
        pool = dataset.sparql_pool()
    else:
        pool = QueryPool(app.config["LANTAI_HOME"], size,
                         int(getattr(settings, "sparql_memory_mb", DEFAULT_MEMORY_MB)))
    app.extensions["lantai.sparql_pool"] = pool
    app.extensions["lantai.sparql_engine"] = EngineClient(app.config["LANTAI_HOME"])
    atexit.register(pool.close)
    busy.init_app(app)  # the bounded pools of expensive work (SPARQL and IIIF renders)


def _text(status: int, message: str, headers: dict | None = None) -> Response:
    resp = Response(message.rstrip("\n") + "\n", status, mimetype="text/plain")
    resp.headers.update(headers or {})
    return resp


@bp.after_request
def _cors(resp: Response) -> Response:
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Access-Control-Expose-Headers"] = "Content-Type, Content-Disposition"
    resp.vary.add("Accept")
    return resp


# ------------------------------------------------------------------ reading a request

def _params() -> tuple[MultiDict, str | None]:
    """The protocol's parameters and the query text, from GET or either kind of POST."""
    if request.method == "GET":
        return request.args, _single(request.args, "query")
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise Refused(413, f"request body over {MAX_BODY_BYTES} bytes")
    mimetype = request.mimetype
    if mimetype == "application/x-www-form-urlencoded":
        params = MultiDict(request.args)
        for key, values in request.form.lists():
            params.setlist(key, params.getlist(key) + values)
        return params, _single(params, "query")
    if mimetype == "application/sparql-query":
        if "query" in request.args:
            raise Refused(400, "a query in both the body and the URL: send it once")
        return request.args, request.get_data(as_text=True)
    if mimetype == "application/sparql-update":
        raise _update_refused()
    raise Refused(415, "POST a query as application/x-www-form-urlencoded (query=…) or as "
                       f"application/sparql-query, not {mimetype or 'an empty body'}")


def _single(params: MultiDict, key: str) -> str | None:
    values = params.getlist(key)
    if len(values) > 1:
        raise Refused(400, f"{len(values)} '{key}' parameters: send exactly one")
    return values[0] if values else None


def _update_refused() -> Refused:
    return Refused(405, UPDATE_REFUSED, {"Allow": ALLOW})


def _check_query(query: str) -> None:
    """Size and emptiness only: what the query asks for is decided on its parse tree in the
    worker (:mod:`publisher.sparql_check`: Update 405, ``SERVICE`` 400)."""
    if len(query) > MAX_QUERY_CHARS:
        raise Refused(413, f"query over {MAX_QUERY_CHARS} characters")
    if not query.strip():
        raise Refused(400, "empty query")


def _graph_list(params: MultiDict, key: str) -> tuple[str, ...] | None:
    values = params.getlist(key)
    if not values:
        return None
    for iri in values:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^<>\"{}|^`\\\s]*", iri):
            raise Refused(400, f"{key}: {iri!r} is not an absolute IRI")
    return tuple(values)


def _job(params: MultiDict, query: str, choice: fmt.Choice) -> Job:
    default_graphs = _graph_list(params, "default-graph-uri")
    named_graphs = _graph_list(params, "named-graph-uri")
    if named_graphs is not None and default_graphs is None:
        default_graphs = ()  # the protocol: only named graphs given, so an empty default graph
    settings = current_app.config["SETTINGS"]
    return Job(query=query, results_format=choice.results, graph_format=choice.graph,
               default_graphs=default_graphs, named_graphs=named_graphs,
               max_rows=int(settings.sparql_max_rows), prefixes=OUTPUT_PREFIXES)


def _run(job: Job) -> Answer:
    """``job`` answered on the fastest path that keeps every limit (the module says which)."""
    settings = current_app.config["SETTINGS"]
    timeout = float(settings.sparql_timeout)
    deadline = time.monotonic() + timeout
    dataset = current_app.extensions["lantai.dataset"]
    local = isinstance(dataset, PublicDataset)  # not an external engine (external/)
    query = sparql_check.normalise(job.query)
    if local and sparql_check.bounded(query, job.max_rows):
        try:
            return _bounded(dataset.store, job, query)
        except SyntaxError:
            pass  # the engine's own reading differs: the full path says why, with the place
    if local and job.default_graphs != () and not _names_service(query):
        engine: EngineClient = current_app.extensions["lantai.sparql_engine"]
        where = engine.where(_generation(dataset))
        if where is not None:
            try:
                return _engine_answer(engine.run(where, job, query, timeout), query)
            except TimeoutError:
                raise Refused(503, f"time limit: the query ran longer than {timeout:g} s "
                                   "(sparql_timeout) and was stopped") from None
            except EngineGone:
                pass  # swapped or killed under this query: the query processes answer
    pool: QueryPool = current_app.extensions["lantai.sparql_pool"]
    try:  # the request passed the sparql gate on its way in (publisher.busy)
        # what the engine left of the time limit (it may have died under this query)
        left = deadline - time.monotonic()
        answer = pool.run(job, timeout if left > timeout - 0.1 else max(0.5, round(left, 1)))
    except QueryRefused as exc:
        headers = {"Retry-After": "10"} if exc.busy else {}
        raise Refused(exc.status, exc.message, headers) from None
    if answer.status == 405:
        raise _update_refused()
    return answer


def _bounded(store, job: Job, query: str) -> Answer:
    """A bounded query (:func:`publisher.sparql_check.bounded`) run here. SPARQL JSON, the
    common case, is written by the engine's own serializer (Rust) rather than term by term in
    Python; a ``SELECT`` without ``LIMIT`` gets ``LIMIT max_rows + 1`` and the answer's rows
    are counted by ``json.loads``, so the row limit holds as on every path."""
    from pyoxigraph import QueryResultsFormat, QuerySolutions

    if job.results_format != "json" or job.default_graphs is not None \
            or job.named_graphs is not None:
        return _evaluate(store, job, query)
    lowered = query.lower()
    if "select" in lowered and "limit" not in lowered:
        query += f"\nLIMIT {job.max_rows + 1}"
    result = store.query(query, use_default_graph_as_union=True)
    if not isinstance(result, QuerySolutions):
        return write_answer(result, job)
    body = result.serialize(format=QueryResultsFormat.JSON) or b""
    if len(json.loads(body)["results"]["bindings"]) > job.max_rows:
        return _too_many(job.max_rows, "solutions")
    return Answer(200, fmt.BY_NAME["json"].media_type, body, "results")


def _names_service(query: str) -> bool:
    """Whether the text could hold a ``SERVICE`` clause at all (escapes undone, any case): such
    queries go to the query processes, which check the parsed query and have no network."""
    return "service" in sparql_check._unescape(query).casefold()


def _generation(dataset) -> str:
    """The publication generation this request sees (read once per request)."""
    from flask import g

    if "lantai_generation" not in g:
        reader = getattr(dataset, "generation", None)
        g.lantai_generation = (reader() if callable(reader)
                               else read_generation(current_app.config["LANTAI_HOME"]))
    return str(g.lantai_generation)


def _engine_answer(answer: Answer, query: str) -> Answer:
    """The engine's refusals in our words: an Update is a 405, a syntax error a 400 with the
    place, a time limit the engine enforced itself a 503."""
    if answer.status == 400 and not answer.kind:
        if sparql_check._parse(query) == "update":
            raise _update_refused()
        raise Refused(400, sparql_check.malformed(query, answer.body.decode(errors="replace")))
    if answer.status >= 500 and not answer.kind:
        text = answer.body.decode(errors="replace")
        if "cancelled" in text:
            raise Refused(503, "time limit: the query ran longer than the limit "
                               "(sparql_timeout) and was stopped")
        # anything else (seen under load: the engine could not start a thread for the
        # connection, "os error 11") is the engine's trouble, not the query's: the query
        # processes, always current, answer it instead of a 500
        log.warning("lantai: the SPARQL engine answered %d (%s); the query processes answer",
                    answer.status, text[:200])
        raise EngineGone
    return answer


def _wants_page(params: MultiDict) -> bool:
    if (params.get("format") or params.get("output") or "").lower() in ("html", "table"):
        return True
    if params.get("format") or params.get("output"):
        return False
    return _accept_prefers_html(request.headers.get("Accept", ""))


# A client sends the same Accept header with every query: werkzeug's matching of it against
# eleven formats cost more than a cheap query itself, so each header is matched once.
_OFFERS = [f.media_type for f in fmt.RESULT_FORMATS + fmt.GRAPH_FORMATS] + ["text/html"]


@functools.lru_cache(maxsize=512)
def _accept_prefers_html(accept: str) -> bool:
    return parse_accept_header(accept, MIMEAccept).best_match(_OFFERS) == "text/html"


@functools.lru_cache(maxsize=512)
def _choose(param: str | None, accept: str) -> fmt.Choice | str:
    """The format choice for a ``format`` parameter and an Accept header (or the 406 text)."""
    try:
        return fmt.choose(param, parse_accept_header(accept, MIMEAccept) if accept else None)
    except fmt.NotAcceptable as exc:
        return str(exc)


# ------------------------------------------------------------------ the endpoint

@bp.route("/sparql", methods=["GET", "POST", "OPTIONS"])
def endpoint():
    if request.method == "OPTIONS":
        resp = Response(status=204)
        resp.headers["Allow"] = ALLOW
        resp.headers["Access-Control-Allow-Methods"] = ALLOW
        resp.headers["Access-Control-Allow-Headers"] = (
            request.headers.get("Access-Control-Request-Headers") or "Accept, Content-Type")
        resp.headers["Access-Control-Max-Age"] = "86400"
        return resp
    try:
        params, query = _params()
        if "update" in params:
            raise _update_refused()
        if request.method == "GET" and _wants_page(params):
            return _page(params, query)
        if query is None:
            if request.method == "GET":
                return _service_description(params)
            raise Refused(400, "missing 'query' parameter (the SPARQL query to run)")
        _check_query(query)
        choice = _choose(params.get("format") or params.get("output"),
                         request.headers.get("Accept", ""))
        if isinstance(choice, str):
            raise Refused(406, choice)
        answer = _run(_job(params, query, choice))
        if answer.status == 406:
            raise Refused(406, fmt.not_acceptable(choice, answer.body.decode()))
        if answer.status != 200:
            raise Refused(answer.status, answer.body.decode())
    except Refused as exc:
        return _text(exc.status, exc.message, exc.headers)
    resp = Response(answer.body, 200, content_type=f"{answer.content_type}; charset=utf-8")
    if params.get("download"):
        chosen = next(f for f in fmt.RESULT_FORMATS + fmt.GRAPH_FORMATS
                      if f.media_type == answer.content_type)
        resp.headers["Content-Disposition"] = f'attachment; filename="query.{chosen.extension}"'
    return resp


# ------------------------------------------------------------------ the service description

SD = "http://www.w3.org/ns/sparql-service-description#"
W3C_FORMATS = "http://www.w3.org/ns/formats/"
FORMAT_IRIS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV",
               "SPARQL_Results_TSV", "Turtle", "N-Triples", "JSON-LD", "RDF_XML", "N-Quads",
               "TriG")


def _service_description(params: MultiDict) -> Response:
    """GET without a query: what this endpoint is (SPARQL 1.1 Service Description)."""
    from pyoxigraph import BlankNode, Literal, NamedNode, Triple

    try:
        choice = fmt.choose(params.get("format") or params.get("output"),
                            request.accept_mimetypes if request.headers.get("Accept") else None)
    except fmt.NotAcceptable as exc:
        raise Refused(406, str(exc)) from None
    if choice.graph is None:  # a client that wants results but sent no query
        raise Refused(400, "missing 'query' parameter (the SPARQL query to run)")
    settings = current_app.config["SETTINGS"]
    base = current_app.config["BASE"]
    service, dataset, graph = NamedNode(base + "/sparql"), BlankNode(), BlankNode()
    a = NamedNode(PREFIXES["rdf"] + "type")

    def sd(name: str) -> NamedNode:
        return NamedNode(SD + name)

    triples = [
        Triple(service, a, sd("Service")),
        Triple(service, sd("endpoint"), service),
        Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
        Triple(service, sd("feature"), sd("UnionDefaultGraph")),
        *(Triple(service, NamedNode(PREFIXES["dcterms"] + "title"),
                 Literal(SERVICE_TITLE.in_lang(code, site=name), language=code))
          for code, name in (("zh", settings.site_name_zh), ("en", settings.site_name_en))),
        Triple(service, sd("defaultDataset"), dataset),
        Triple(dataset, a, sd("Dataset")),
        Triple(dataset, sd("defaultGraph"), graph),
        Triple(graph, a, sd("Graph")),
        Triple(dataset, NamedNode("http://rdfs.org/ns/void#sparqlEndpoint"), service),
        *(Triple(service, sd("resultFormat"), NamedNode(W3C_FORMATS + f)) for f in FORMAT_IRIS),
    ]
    chosen = fmt.BY_NAME[choice.graph]
    body = fmt.write_graph(choice.graph, triples, {"sd": SD, "dcterms": PREFIXES["dcterms"]})
    return Response(body, 200, content_type=f"{chosen.media_type}; charset=utf-8")


# ------------------------------------------------------------------ the query page

def _lang_url(code: str) -> str:
    """This page in another language, keeping the query."""
    args = MultiDict(request.args)
    args["lang"] = code
    return "/sparql?" + urlencode(list(args.items(multi=True)))


def _page(params: MultiDict, query: str | None) -> Response:
    """The query page; with a query, its answer rendered as a table (works without script)."""
    want = lang()
    base = current_app.config["BASE"]
    shown = examples(base, want)
    pool: QueryPool = current_app.extensions["lantai.sparql_pool"]
    if not pool.started:  # a visitor will run a query soon: have the workers ready by then
        threading.Thread(target=pool.start, name="lantai-sparql-start", daemon=True).start()
    table = error = graph_text = None
    if query:
        try:
            _check_query(query)
            answer = _run(_job(params, query, fmt.Choice("json", "ttl", "html")))
            if answer.status != 200:
                raise Refused(answer.status, answer.body.decode())
            if answer.kind == "graph":
                graph_text = answer.body.decode()
            else:
                table = json.loads(answer.body)
        except Refused as exc:
            error = f"{exc.status}: {exc.message}"
    download = {f.name: "/sparql?" + urlencode({"query": query, "format": f.name,
                                                "download": "1"})
                for f in fmt.RESULT_FORMATS + fmt.GRAPH_FORMATS} if query else {}
    return render("sparql.html", lang_url=_lang_url, query=query or shown[0]["query"],
                  examples=shown, base=base,
                  table=table, graph_text=graph_text, error=error, download=download,
                  result_formats=fmt.RESULT_FORMATS, graph_formats=fmt.GRAPH_FORMATS,
                  status=200 if error is None else 400)
