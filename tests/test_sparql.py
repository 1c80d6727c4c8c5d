"""The SPARQL 1.1 Protocol endpoint, tried with real clients against live servers.

Most tests use the shared demo server (read-only). The limits are tried on a site of our own
with a tiny time limit and row limit, served by waitress the same way.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import rdflib
import requests
from rdflib.compare import isomorphic
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from rdflib.query import Result
from SPARQLWrapper import JSON, POST, XML, SPARQLWrapper
from support import free_port, require, served

from publisher.sparql_examples import examples
from repo.demo import canaries

RICO = "https://www.ica.org/standards/RiC/ontology#"
PREFIX = f"PREFIX rico: <{RICO}>\n"
TITLES = PREFIX + 'SELECT ?s ?title WHERE { ?s rico:title ?title . FILTER(LANG(?title) = "zh") }'
ALL = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
GRAPH_FORMATS = {  # format parameter -> (media type, rdflib parser)
    "ttl": ("text/turtle", "turtle"),
    "nt": ("application/n-triples", "nt"),
    "jsonld": ("application/ld+json", "json-ld"),
    "rdfxml": ("application/rdf+xml", "xml"),
    "nq": ("application/n-quads", "nquads"),
    "trig": ("application/trig", "trig"),
}
RESULT_FORMATS = {
    "json": ("application/sparql-results+json", "json"),
    "xml": ("application/sparql-results+xml", "xml"),
    "csv": ("text/csv", "csv"),
    "tsv": ("text/tab-separated-values", "tsv"),
}


def sparql(url: str, query: str, **params) -> requests.Response:
    headers = params.pop("headers", {})
    return requests.get(url + "/sparql", params={"query": query, **params}, headers=headers,
                        timeout=30)


def values(resp_json: dict, var: str) -> set[str]:
    return {b[var]["value"] for b in resp_json["results"]["bindings"] if var in b}


def parse_graph(body: bytes, parser: str) -> rdflib.Dataset | rdflib.Graph:
    if parser in ("nquads", "trig"):
        ds = rdflib.Dataset()
        ds.parse(data=body, format=parser)
        return ds
    return rdflib.Graph().parse(data=body, format=parser)


def count_triples(g) -> int:
    return len(list(g.quads((None, None, None, None)))) if isinstance(g, rdflib.Dataset) \
        else len(g)


# ------------------------------------------------------------------ real clients

def test_sparqlwrapper_select_json_and_xml(demo_server):
    for fmt, method in ((JSON, "GET"), (XML, POST)):
        client = SPARQLWrapper(demo_server + "/sparql")
        client.setQuery(TITLES)
        client.setReturnFormat(fmt)
        client.setMethod(method)
        result = client.query().convert()
        if fmt == JSON:
            titles = {b["title"]["value"] for b in result["results"]["bindings"]}
        else:
            titles = {n.firstChild.data for n in result.getElementsByTagName("literal")}
        assert "西安交通大学全宗" in titles


def test_sparqlwrapper_ask_and_construct(demo_server):
    client = SPARQLWrapper(demo_server + "/sparql")
    client.setQuery(PREFIX + 'ASK { ?s rico:identifier "0421" }')
    client.setReturnFormat(JSON)
    assert client.query().convert()["boolean"] is True
    client.setQuery(PREFIX + "CONSTRUCT { ?s rico:title ?t } WHERE { ?s rico:title ?t }")
    client.setReturnFormat("turtle")
    g = rdflib.Graph().parse(data=client.query().convert(), format="turtle")
    assert (rdflib.URIRef(demo_server + "/id/recordset/xjtu"), rdflib.URIRef(RICO + "title"),
            rdflib.Literal("西安交通大学全宗", lang="zh")) in g


def test_rdflib_sparqlstore(demo_server):
    store = SPARQLStore(demo_server + "/sparql", returnFormat="xml")
    g = rdflib.Graph(store=store)
    rows = list(g.query(TITLES))
    assert "西安交通大学全宗" in {str(r.title) for r in rows}
    assert g.query(PREFIX + 'ASK { ?s rico:identifier "0421" }').askAnswer is True
    # triples() through the store: the fonds' titles
    xjtu = rdflib.URIRef(demo_server + "/id/recordset/xjtu")
    assert {str(o) for o in g.objects(xjtu, rdflib.URIRef(RICO + "title"))} == {
        "西安交通大学全宗", "Fonds of Xi'an Jiaotong University"}


# ------------------------------------------------------------------ formats

@pytest.mark.parametrize("name", list(RESULT_FORMATS))
def test_every_results_format_parses_to_the_same_answer(demo_server, name):
    media, parser = RESULT_FORMATS[name]
    expected = values(sparql(demo_server, TITLES).json(), "title")
    assert expected
    for resp in (sparql(demo_server, TITLES, format=name),
                 sparql(demo_server, TITLES, headers={"Accept": media})):
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith(media)
        result = Result.parse(io.BytesIO(resp.content), format=parser)
        assert {str(row.title) for row in result} == expected
    if name == "csv":
        rows = list(csv.DictReader(io.StringIO(resp.text)))
        assert {r["title"] for r in rows} == expected
    if name == "json":
        assert json.loads(resp.text)["head"]["vars"] == ["s", "title"]


TRICKY = ('SELECT ?a ?b WHERE { VALUES (?a ?b) { (1 UNDEF) ("tab\\there\\nand \\"quotes\\" <&>"@en '
          '<urn:x:y>) (UNDEF "2020-01-02"^^<http://www.w3.org/2001/XMLSchema#date>) } }')


@pytest.mark.parametrize("name", ["json", "xml", "tsv"])
def test_unbound_typed_and_escaped_terms_round_trip(demo_server, name):
    resp = sparql(demo_server, TRICKY, format=name)
    assert resp.status_code == 200, resp.text
    rows = [tuple(row) for row in Result.parse(io.BytesIO(resp.content),
                                              format=RESULT_FORMATS[name][1])]
    xsd = "http://www.w3.org/2001/XMLSchema#"
    assert rows == [
        (rdflib.Literal(1), None),
        (rdflib.Literal('tab\there\nand "quotes" <&>', lang="en"), rdflib.URIRef("urn:x:y")),
        (None, rdflib.Literal("2020-01-02", datatype=rdflib.URIRef(xsd + "date"))),
    ]


def test_csv_holds_plain_values_and_empty_cells(demo_server):
    rows = list(csv.reader(io.StringIO(sparql(demo_server, TRICKY, format="csv").text)))
    assert rows == [["a", "b"], ["1", ""], ['tab\there\nand "quotes" <&>', "urn:x:y"],
                    ["", "2020-01-02"]]


@pytest.mark.parametrize("name", ["json", "xml"])
def test_ask_in_results_formats(demo_server, name):
    for query, answer in (("ASK { ?s ?p ?o }", True), ("ASK { ?s <urn:x:nothing> ?o }", False)):
        resp = sparql(demo_server, query, format=name)
        assert resp.status_code == 200
        assert Result.parse(io.BytesIO(resp.content),
                            format=RESULT_FORMATS[name][1]).askAnswer is answer


@pytest.mark.parametrize("name", list(GRAPH_FORMATS))
def test_every_graph_format_parses_to_the_same_graph(demo_server, name):
    media, parser = GRAPH_FORMATS[name]
    reference = rdflib.Graph().parse(data=sparql(demo_server, ALL, format="nt").content,
                                     format="nt")
    assert len(reference) > 500
    for resp in (sparql(demo_server, ALL, format=name),
                 sparql(demo_server, ALL, headers={"Accept": media})):
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith(media)
        parsed = parse_graph(resp.content, parser)
        assert count_triples(parsed) == len(reference)
    if parser not in ("nquads", "trig"):
        assert isomorphic(parsed, reference)


def test_accept_q_values_choose(demo_server):
    resp = sparql(demo_server, TITLES,
                  headers={"Accept": "text/csv;q=0.5, application/sparql-results+xml;q=0.9"})
    assert resp.headers["Content-Type"].startswith("application/sparql-results+xml")
    resp = sparql(demo_server, ALL + " LIMIT 3",
                  headers={"Accept": "text/turtle;q=0.1, application/rdf+xml"})
    assert resp.headers["Content-Type"].startswith("application/rdf+xml")
    resp = sparql(demo_server, TITLES, headers={"Accept": "*/*"})
    assert resp.headers["Content-Type"].startswith("application/sparql-results+json")
    resp = sparql(demo_server, ALL + " LIMIT 3", headers={"Accept": "*/*"})
    assert resp.headers["Content-Type"].startswith("text/turtle")
    assert "Accept" in resp.headers["Vary"]


def test_unknown_or_unfit_formats_get_406_with_the_list(demo_server):
    resp = sparql(demo_server, TITLES, format="pdf")
    assert resp.status_code == 406 and "ttl" in resp.text and "json" in resp.text
    resp = sparql(demo_server, TITLES, headers={"Accept": "image/png"})
    assert resp.status_code == 406 and "text/csv" in resp.text
    resp = sparql(demo_server, TITLES, headers={"Accept": "text/turtle"})  # graph-only Accept
    assert resp.status_code == 406 and "SELECT" in resp.text


@pytest.mark.parametrize(("param", "select", "graph"), [
    ("xml", "application/sparql-results+xml", "application/rdf+xml"),
    ("json", "application/sparql-results+json", "application/ld+json"),
    ("rdfxml", "application/sparql-results+xml", "application/rdf+xml"),
    ("jsonld", "application/sparql-results+json", "application/ld+json"),
    ("csv", "text/csv", "text/turtle"),
    ("ttl", "application/sparql-results+json", "text/turtle"),
    ("nt", "application/sparql-results+json", "application/n-triples"),
])
def test_format_honours_the_query_form(demo_server, param, select, graph):
    """``format`` names one family; the query's form picks the family (mapped, never 406),
    and ``format`` wins over a browser's Accept (a download link)."""
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    for query, media in ((TITLES, select), (ALL + " LIMIT 5", graph)):
        resp = sparql(demo_server, query, format=param, download="1", headers=browser)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith(media)
        assert "attachment" in resp.headers["Content-Disposition"]


@pytest.mark.parametrize("form", ["SELECT", "ASK", "CONSTRUCT", "DESCRIBE"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sparqlwrapper_defaults_work_for_every_query_form(demo_server, form, method):
    """SPARQLWrapper as people use it: no return format set (it sends ``format=xml`` and an
    Accept for the form), ``convert()`` to a DOM or an rdflib graph."""
    query = {"SELECT": TITLES,
             "ASK": PREFIX + 'ASK { ?s rico:identifier "0421" }',
             "CONSTRUCT": PREFIX + "CONSTRUCT { ?s rico:title ?t } WHERE { ?s rico:title ?t }",
             "DESCRIBE": f"DESCRIBE <{demo_server}/id/recordset/xjtu>"}[form]
    client = SPARQLWrapper(demo_server + "/sparql")
    client.setQuery(query)
    client.setMethod(method)
    result = client.query().convert()
    if form == "SELECT":
        titles = {n.firstChild.data for n in result.getElementsByTagName("literal")}
        assert "西安交通大学全宗" in titles
    elif form == "ASK":
        assert result.getElementsByTagName("boolean")[0].firstChild.data == "true"
    else:
        assert (rdflib.URIRef(demo_server + "/id/recordset/xjtu"), rdflib.URIRef(RICO + "title"),
                rdflib.Literal("西安交通大学全宗", lang="zh")) in result


def test_download_link_names_a_file(demo_server):
    resp = sparql(demo_server, TITLES, format="csv", download="1")
    assert resp.headers["Content-Disposition"] == 'attachment; filename="query.csv"'


# ------------------------------------------------------------------ the protocol

def test_post_form_and_post_sparql_query(demo_server):
    url = demo_server + "/sparql"
    by_form = requests.post(url, data={"query": TITLES}, timeout=30)
    direct = requests.post(url, data=TITLES.encode(), timeout=30,
                           headers={"Content-Type": "application/sparql-query"})
    assert by_form.status_code == direct.status_code == 200
    assert values(by_form.json(), "title") == values(direct.json(), "title")
    odd = requests.post(url, data=b"{}", headers={"Content-Type": "application/json"},
                        timeout=30)
    assert odd.status_code == 415 and "application/sparql-query" in odd.text
    twice = requests.get(url, params=[("query", TITLES), ("query", TITLES)], timeout=30)
    assert twice.status_code == 400 and "exactly one" in twice.text
    missing = requests.get(url, headers={"Accept": "application/sparql-results+json"},
                           timeout=30)
    assert missing.status_code == 400 and "query" in missing.text


def test_oversized_queries_are_refused(demo_server):
    huge = "SELECT * { ?s ?p ?o } # " + "x" * 200_000
    resp = requests.post(demo_server + "/sparql", data=huge.encode(), timeout=30,
                         headers={"Content-Type": "application/sparql-query"})
    assert resp.status_code == 413 and "characters" in resp.text
    body = requests.post(demo_server + "/sparql", data={"query": "x" * 2_000_000}, timeout=30)
    assert body.status_code == 413
    assert sparql(demo_server, "ASK {}").status_code == 200  # and the server is still up


@pytest.mark.parametrize("accept", [None, "application/ld+json", "application/rdf+xml"])
def test_service_description_without_a_query(demo_server, accept):
    headers = {"Accept": accept} if accept else {}
    resp = requests.get(demo_server + "/sparql", headers=headers, timeout=30)
    assert resp.status_code == 200
    media = accept or "text/turtle"
    assert resp.headers["Content-Type"].startswith(media)
    parser = {"text/turtle": "turtle", "application/ld+json": "json-ld",
              "application/rdf+xml": "xml"}[media]
    g = rdflib.Graph().parse(data=resp.content, format=parser)
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    endpoint = rdflib.URIRef(demo_server + "/sparql")
    assert (endpoint, sd.endpoint, endpoint) in g
    assert (endpoint, sd.feature, sd.UnionDefaultGraph) in g
    assert len(list(g.objects(endpoint, sd.resultFormat))) == 10


def test_default_graph_is_the_union_of_public_graphs(demo_server):
    per_graph = sparql(demo_server, "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }").json()
    union = sparql(demo_server, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }").json()
    graphs = sparql(demo_server, "SELECT (COUNT(DISTINCT ?g) AS ?n) { GRAPH ?g { } }").json()
    n = int(per_graph["results"]["bindings"][0]["n"]["value"])
    assert n > 500
    assert int(union["results"]["bindings"][0]["n"]["value"]) == n
    assert int(graphs["results"]["bindings"][0]["n"]["value"]) > 50


def test_default_and_named_graph_uri(demo_server):
    fonds = demo_server + "/id/recordset/xjtu"
    only = sparql(demo_server, "SELECT DISTINCT ?s { ?s ?p ?o }", **{"default-graph-uri": fonds})
    assert values(only.json(), "s") == {fonds}
    named = sparql(demo_server, "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }",
                   **{"named-graph-uri": fonds})
    assert values(named.json(), "g") == {fonds}
    # only named graphs given: the protocol's default graph is then empty
    empty = sparql(demo_server, "SELECT * { ?s ?p ?o }", **{"named-graph-uri": fonds})
    assert empty.json()["results"]["bindings"] == []
    bad = sparql(demo_server, "SELECT * { ?s ?p ?o }", **{"default-graph-uri": "not an iri"})
    assert bad.status_code == 400 and "default-graph-uri" in bad.text


def test_cors(demo_server):
    resp = sparql(demo_server, "ASK {}", headers={"Origin": "https://elsewhere.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    pre = requests.options(demo_server + "/sparql", timeout=30, headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "content-type" in pre.headers["Access-Control-Allow-Headers"].lower()


@pytest.mark.parametrize(("query", "line", "column"), [
    ("SELECT ?s WHERE { ?s ?p }", 1, 26),  # the end: the triple was never finished
    ("SELECT * WHERE { ?s ?p ?o } LIMIT x", 1, 35),
    ("PREFIX rico: <https://www.ica.org/standards/RiC/ontology#>\nSELECT ?t\n"
     "WHERE { ?s rico:title ?t }\nORDER BY ?t\nLIMIT ten", 5, 10),  # where the engine gave up
])
def test_malformed_query_gets_400_with_line_and_column(demo_server, query, line, column):
    """Where the query breaks, with the line and a caret; not the engine's grammar rules."""
    resp = sparql(demo_server, query)
    assert resp.status_code == 400
    assert resp.headers["Content-Type"].startswith("text/plain")
    first, shown, caret = resp.text.rstrip("\n").split("\n")
    assert first == f"malformed query: syntax error at line {line}, column {column}"
    assert shown.strip() == query.split("\n")[line - 1].strip()
    assert caret.index("^") == column + 1  # under the spot, past the two-space indent
    for internal in (f"error at {line}:", "expected", "[_]", "Traceback"):
        assert internal not in resp.text


# ------------------------------------------------------------ nothing written, nothing fetched

def count_all(url: str) -> int:
    return int(sparql(url, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")
               .json()["results"]["bindings"][0]["n"]["value"])


@pytest.mark.parametrize("how", ["query", "update-param", "form-update", "sparql-update"])
def test_updates_are_refused(demo_server, how):
    before = count_all(demo_server)
    update = "PREFIX ex: <http://ex.org/>\nINSERT DATA { ex:a ex:b ex:c }"
    url = demo_server + "/sparql"
    if how == "query":
        resp = requests.get(url, params={"query": update}, timeout=30)
    elif how == "update-param":
        resp = requests.get(url, params={"update": update}, timeout=30)
    elif how == "form-update":
        resp = requests.post(url, data={"update": update}, timeout=30)
    else:
        resp = requests.post(url, data=update.encode(), timeout=30,
                             headers={"Content-Type": "application/sparql-update"})
    assert resp.status_code == 405
    assert "Update is not allowed" in resp.text
    assert count_all(demo_server) == before


@pytest.mark.parametrize("name", [*GRAPH_FORMATS, "json"])
def test_no_canary_in_the_whole_dataset(demo_server, name):
    marks = canaries()
    assert marks
    query = ALL if name != "json" else "SELECT * { GRAPH ?g { ?s ?p ?o } }"
    body = sparql(demo_server, query, format=name).content.decode()
    assert len(body) > 10_000
    for mark in marks:
        assert mark not in body


# ------------------------------------------------------------------ the query page

def test_browser_gets_the_query_page(demo_server):
    html_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for lang, label in (("zh", "全宗内各年代的档案数量"), ("en", "Records of a fonds by decade")):
        resp = requests.get(demo_server + "/sparql", params={"lang": lang}, timeout=30,
                            headers={"Accept": html_accept})
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
        assert label in resp.text
        assert '<textarea id="sparql-query" name="query"' in resp.text
        assert "/static/sparql.js" in resp.text and "//cdn" not in resp.text
    for asset in ("/static/sparql.js", "/static/sparql.css"):
        assert requests.get(demo_server + asset, timeout=30).status_code == 200


def test_page_renders_results_without_script(demo_server):
    resp = requests.get(demo_server + "/sparql", timeout=30, headers={"Accept": "text/html"},
                        params={"query": TITLES, "format": "html", "lang": "en"})
    assert resp.status_code == 200
    assert "<table class=\"sparql-table\">" in resp.text and "西安交通大学全宗" in resp.text
    bad = requests.get(demo_server + "/sparql", timeout=30, headers={"Accept": "text/html"},
                       params={"query": "SELECT", "format": "html"})
    assert bad.status_code == 400 and "malformed query" in bad.text
    # a title with markup would be escaped, never executed
    xss = requests.get(demo_server + "/sparql", timeout=30, headers={"Accept": "text/html"},
                       params={"query": 'SELECT ?x { BIND("<script>alert(1)</script>" AS ?x) }',
                               "format": "html"})
    assert "<script>alert(1)" not in xss.text and "&lt;script&gt;alert(1)" in xss.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_example_query_answers(demo_server, lang):
    for ex in examples(demo_server, lang):
        resp = requests.post(demo_server + "/sparql", data={"query": ex["query"]}, timeout=30)
        assert resp.status_code == 200, (ex["id"], resp.text)
        if resp.headers["Content-Type"].startswith("application/sparql-results+json"):
            assert resp.json()["results"]["bindings"], ex["id"]
        else:
            assert len(rdflib.Graph().parse(data=resp.content, format="turtle")) > 3, ex["id"]


# ------------------------------------------------------------------ limits, on a site of our own

BUILD_TINY = """
import sys
from dataclasses import replace
from pathlib import Path
from repo.config import read_settings, write_settings
from repo.demo import load_demo
from repo.repository import Repository
home, url = Path(sys.argv[1]), sys.argv[2]
repo, _token = Repository.init(home, url)
try:
    load_demo(repo, repo.user("admin"))
finally:
    repo.close()
write_settings(home, replace(read_settings(home), sparql_timeout=1.5, sparql_max_rows=5,
                             sparql_workers=2, sparql_memory_mb=200, expensive_queue=16,
                             expensive_per_client=32))
"""
EDIT_TITLE = """
import sys
from repo.repository import Repository
repo = Repository.open(sys.argv[1])
try:
    repo.edit(repo.user("admin"), "/xjtu", set={"title@en": sys.argv[2]})
finally:
    repo.close()
"""


def run_python(code: str, *args: str) -> None:
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code, *args], check=True, cwd=root, timeout=300,
                   env={**os.environ, "PYTHONPATH": str(root)})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The demo with a 1.5 s time limit, 5 rows, 200 MiB and 2 workers, on its own server;
    a queue long enough for every client here (tests/test_load.py tries it short)."""
    from publisher.app import create_app

    home = tmp_path_factory.mktemp("sparql-limits") / "home"
    port = free_port()
    # built in another process, as `lantai init` and `lantai demo` would: nothing of the
    # working store stays open (locked) in this one
    run_python(BUILD_TINY, str(home), f"http://127.0.0.1:{port}")
    app = create_app(home)
    pool = app.extensions["lantai.sparql_pool"]
    with served(app, port) as url:
        pool.start()
        yield url, pool, home
    pool.close()


def test_row_limit(tiny):
    url, _pool, _home = tiny
    resp = sparql(url, "SELECT * { ?s ?p ?o }")
    assert resp.status_code == 413
    assert "sparql_max_rows" in resp.text and "LIMIT" in resp.text
    assert sparql(url, ALL).status_code == 413
    ok = sparql(url, "SELECT * { ?s ?p ?o } LIMIT 5")
    assert ok.status_code == 200 and len(ok.json()["results"]["bindings"]) == 5


def test_time_limit_stops_the_query(tiny):
    url, pool, _home = tiny
    endless = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    started = time.monotonic()
    resp = sparql(url, endless)
    took = time.monotonic() - started
    assert resp.status_code == 503
    assert "sparql_timeout" in resp.text and "stopped" in resp.text
    assert 1.4 < took < 6
    pid = pool.killed[-1]
    # the runaway worker is gone (killed and reaped), not left burning a core
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # and the pool is whole again: queries keep being answered
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(pool.pids()) < pool.workers:
        time.sleep(0.1)
    for _ in range(pool.size + 1):
        assert sparql(url, "ASK { ?s ?p ?o }").json()["boolean"] is True


def test_memory_limit_stops_the_query(tiny):
    """ORDER BY over a cross product holds every row in memory (≈200 MB/s): stopped at 200 MiB."""
    url, pool, _home = tiny
    greedy = "SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a"
    resp = sparql(url, greedy)
    assert resp.status_code == 503
    assert "sparql_memory_mb" in resp.text or "sparql_timeout" in resp.text
    if "sparql_timeout" in resp.text:  # only on a machine too loaded to allocate 200 MiB in 1.5 s
        pytest.skip("the time limit came first")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(pool.pids()) < pool.workers:
        time.sleep(0.1)
    assert sparql(url, "ASK { ?s ?p ?o }").json()["boolean"] is True


def test_many_clients_at_once_within_limits(tiny):
    """More concurrent clients than workers: each waits its turn and is answered."""
    url, _pool, _home = tiny
    answers: list[int] = []

    def client():
        answers.append(sparql(url, PREFIX + 'SELECT ?s { ?s rico:identifier "0421" }')
                       .status_code)

    threads = [threading.Thread(target=client) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 12


def test_a_change_published_while_serving_is_seen_at_once(tiny):
    """A `lantai` command edits the archive while the server runs: queries see it, no restart."""
    url, _pool, home = tiny
    query = PREFIX + ('SELECT ?t { ?f rico:identifier "0421" ; rico:title ?t . '
                      'FILTER(LANG(?t) = "en") }')
    assert values(sparql(url, query).json(), "t") == {"Fonds of Xi'an Jiaotong University"}
    run_python(EDIT_TITLE, str(home), "Fonds of XJTU (renamed)")
    assert values(sparql(url, query).json(), "t") == {"Fonds of XJTU (renamed)"}


def test_a_queued_query_runs_when_a_worker_is_free(tiny):
    """More endless queries than workers: the extra one waits in the queue (not for a worker's
    time limit of its own) and is then stopped at its own time limit like the others."""
    url, pool, _home = tiny
    endless = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    answers: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(sparql(url, endless)))
               for _ in range(pool.size + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [503] * (pool.size + 1)
    stopped = [r for r in answers if "stopped" in r.text]
    assert len(stopped) == pool.size + 1 and "Retry-After" not in stopped[0].headers
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(pool.pids()) < pool.workers:
        time.sleep(0.1)
    assert sparql(url, "ASK { ?s ?p ?o }").json()["boolean"] is True


# ------------------------------------------------------------------ the page in a real browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
def test_query_page_in_chromium(demo_server):
    """Choose an example, run it with Ctrl+Enter, read the table; run a typed query; no CDN."""
    require(Path(CHROMIUM).exists(), "Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        outside: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda req: None if req.url.startswith(demo_server)
                else outside.append(req.url))
        page.goto(demo_server + "/sparql?lang=en")
        page.select_option("#sparql-example", "interviews-by-narrator")
        editor = page.locator("#sparql-query")
        assert "hasOrHadParticipant" in editor.input_value()
        editor.press("Control+Enter")
        page.wait_for_selector(".sparql-table tbody tr", timeout=15_000)
        table = page.locator(".sparql-table").inner_text()
        assert "Lin Xiulan" in table and "Chen Yuanshan" in table
        assert "rows" in page.locator(".sparql-status").inner_text()
        shot = Path(__file__).parent / "artifacts" / "screenshots"
        shot.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot / "sparql-example.png"), full_page=True)
        # Tab indents inside the editor; line numbers follow the text
        editor.fill("SELECT ?x WHERE {\n}")
        editor.press("End")
        editor.press("Tab")
        assert "  " in editor.input_value()
        assert page.locator(".sparql-lines").inner_text().split() == ["1", "2"]
        # an error is shown, not thrown
        editor.fill("SELECT ?s WHERE { ?s ?p }")
        page.locator(".sparql-run").click()
        page.wait_for_selector(".sparql-error", timeout=15_000)
        assert "400" in page.locator(".sparql-error").inner_text()
        # the download link carries the query and the chosen format
        page.select_option("#sparql-format", "tsv")
        assert "format=tsv" in page.locator(".sparql-download").get_attribute("href")
        browser.close()
    assert not errors, errors
    assert not outside, f"requests outside the site (CDN?): {outside}"
