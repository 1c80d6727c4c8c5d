"""The external engines the tests start (tests/engine_support.py) really hold what Lantai
writes to them: SPARQL Update, a Graph Store Protocol PUT of a graph with Chinese literals,
language tags and datatypes, read back term for term, and a DELETE of the graph.

Plain ``requests`` here, not ``external.protocol.Engine`` (part `mirror`'s client, whose
tests use these fixtures): what is checked is the engine and its start-up, not our client.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
import requests
from engine_support import (
    ENGINES,
    Engine,
    EngineStartError,
    oxigraph_engine,
    port_is_free,
    start_engine,
    virtuoso_engine,
)
from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, parse
from support import free_port, served

GRAPH = "urn:lantai:test:graph"
UPDATE_GRAPH = "urn:lantai:test:update"
SPARQL_JSON = "application/sparql-results+json"
XSD = "http://www.w3.org/2001/XMLSchema#"

# What the publication dataset holds, in small: Chinese and English labels with language
# tags, dates of every granularity RiC-O uses, numbers, a boolean, a long literal, an IRI
# with Chinese in it, and characters N-Triples and SPARQL must escape.
TURTLE = """
@prefix rico: <https://www.ica.org/standards/RiC/ontology#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://archive.example.edu/xjtu/students/register-1957>
    a rico:Record ;
    rico:title "1957 年学生名册"@zh , "Student register, 1957"@en ;
    rico:name "西安交通大学档案馆" ;
    rico:identifier "0421-XS·1957-Y-0001" ;
    rico:date "1957-09-01"^^xsd:date ;
    rico:beginningDate "1957"^^xsd:gYear ;
    rico:endDate "1958-07"^^xsd:gYearMonth ;
    rico:recordResourceExtent "12"^^xsd:integer ;
    rico:hasOrHadLanguage <https://archive.example.edu/语言/中文> ;
    rdfs:comment "引号 \\" 反斜杠 \\\\ 换行\\n制表\\t结束"@zh ;
    rdfs:label "C:\\\\users\\\\u4e2d is a path, not 中" ;
    rico:scopeAndContent \"\"\"第一行
第二行：张三（1938—2010），机械系。\"\"\"@zh ;
    rico:isPublic true ;
    rico:weight "1.5"^^xsd:decimal .
"""


def triples(graph_text: str) -> set[tuple[object, object, object]]:
    return {(q.subject, q.predicate, q.object)
            for q in parse(graph_text.encode(), format=RdfFormat.TURTLE)}


def term(binding: dict[str, str]):
    """A SPARQL 1.1 JSON results term as a pyoxigraph term."""
    kind, value = binding["type"], binding["value"]
    if kind == "uri":
        return NamedNode(value)
    if kind == "bnode":
        return BlankNode(value)
    if "xml:lang" in binding:
        return Literal(value, language=binding["xml:lang"])
    if "datatype" in binding:
        return Literal(value, datatype=NamedNode(binding["datatype"]))
    return Literal(value)


def select(engine: Engine, query: str) -> list[dict[str, object]]:
    answer = requests.post(engine.query_url, data={"query": query},
                           headers={"Accept": SPARQL_JSON}, timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    rows = json.loads(answer.content.decode("utf-8"))["results"]["bindings"]
    return [{name: term(b) for name, b in row.items()} for row in rows]


def ask(engine: Engine, query: str) -> bool:
    answer = requests.post(engine.query_url, data={"query": query},
                           headers={"Accept": SPARQL_JSON}, timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    return bool(json.loads(answer.content)["boolean"])


def update(engine: Engine, text: str) -> None:
    answer = requests.post(engine.update_url, data={"update": text.encode("utf-8")},
                           auth=engine.auth(), timeout=30)
    assert answer.status_code in (200, 204), f"{answer.status_code} {answer.text[:500]}"


def graph_triples(engine: Engine, graph: str) -> set[tuple[object, object, object]]:
    rows = select(engine, f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    return {(r["s"], r["p"], r["o"]) for r in rows}


@pytest.fixture(scope="module", params=ENGINES)
def engine(request, tmp_path_factory):
    """One engine of each kind for the module's tests (each test uses its own graphs)."""
    with start_engine(request.param, tmp_path_factory.mktemp(request.param)) as running:
        yield running


def as_stored(engine: Engine, expected: set[tuple[object, object, object]]):
    """What ``engine`` gives back for ``expected``. Virtuoso answers an ``xsd:boolean`` with
    the lexical form ``1``/``0`` (the same value, XSD allows both; ``true``/``false`` is
    canonical): a reader that compares terms must canonicalise booleans. Every other term,
    Chinese, language tags, dates, numbers, escapes, comes back exactly."""
    if engine.name != "virtuoso":
        return expected
    boolean = NamedNode("http://www.w3.org/2001/XMLSchema#boolean")

    def stored(o):
        if isinstance(o, Literal) and o.datatype == boolean:
            return Literal({"true": "1", "false": "0"}.get(o.value, o.value), datatype=boolean)
        return o
    return {(s, p, stored(o)) for s, p, o in expected}


def test_the_engines_are_named():
    assert ENGINES == ("oxigraph", "virtuoso")
    with pytest.raises(ValueError):
        start_engine("fuseki", Path("/nonexistent"))


def test_settings_name_the_urls(engine: Engine):
    settings = engine.settings()
    assert settings["publication_endpoint"] == engine.query_url
    assert settings["publication_update_endpoint"] == engine.update_url
    assert settings["publication_gsp_endpoint"] == engine.gsp_url
    assert settings["publication_engine_user"] == engine.user
    assert engine.password not in settings.values() or not engine.password
    from repo.config import make_settings

    made = make_settings(base="https://archive.example.edu", **settings)
    assert made.publication_endpoint == engine.query_url


def test_an_update_is_read_back(engine: Engine):
    assert not ask(engine, f"ASK {{ GRAPH <{UPDATE_GRAPH}> {{ ?s ?p ?o }} }}")
    update(engine, f'INSERT DATA {{ GRAPH <{UPDATE_GRAPH}> {{ '
                   f'<urn:lantai:a> <urn:lantai:b> "兰台"@zh , "Lantai"@en , '
                   '"1957-09"^^<http://www.w3.org/2001/XMLSchema#gYearMonth> , '
                   '"引号\\" 换行\\n 制表\\t" } }')
    a, b = NamedNode("urn:lantai:a"), NamedNode("urn:lantai:b")
    assert graph_triples(engine, UPDATE_GRAPH) == {
        (a, b, Literal("兰台", language="zh")), (a, b, Literal("Lantai", language="en")),
        (a, b, Literal("1957-09", datatype=NamedNode(XSD + "gYearMonth"))),
        (a, b, Literal('引号" 换行\n 制表\t')),
    }
    update(engine, f"DROP SILENT GRAPH <{UPDATE_GRAPH}>")
    assert not ask(engine, f"ASK {{ GRAPH <{UPDATE_GRAPH}> {{ ?s ?p ?o }} }}")


def test_a_graph_put_is_read_back_exactly_and_deleted(engine: Engine):
    expected = triples(TURTLE)
    put = requests.put(engine.gsp_url, params={"graph": GRAPH}, data=TURTLE.encode("utf-8"),
                       headers={"Content-Type": "text/turtle; charset=utf-8"},
                       auth=engine.auth(), timeout=30)
    assert put.status_code in (200, 201, 204), f"{put.status_code} {put.text[:500]}"
    assert graph_triples(engine, GRAPH) == as_stored(engine, expected)
    # PUT replaces the graph: a second, smaller one leaves only itself
    small = '<urn:lantai:x> <urn:lantai:y> "二"@zh .\n'
    put = requests.put(engine.gsp_url, params={"graph": GRAPH}, data=small.encode("utf-8"),
                       headers={"Content-Type": "text/turtle; charset=utf-8"},
                       auth=engine.auth(), timeout=30)
    assert put.status_code in (200, 201, 204), f"{put.status_code} {put.text[:500]}"
    assert graph_triples(engine, GRAPH) == triples(small)
    # the query that the reader sends for a label finds it by its language tag
    rows = select(engine, f'SELECT ?o WHERE {{ GRAPH <{GRAPH}> {{ ?s ?p ?o '
                          f'FILTER(lang(?o) = "zh" && str(?o) = "二") }} }}')
    assert [r["o"] for r in rows] == [Literal("二", language="zh")]
    deleted = requests.delete(engine.gsp_url, params={"graph": GRAPH}, auth=engine.auth(),
                              timeout=30)
    assert deleted.status_code in (200, 204), f"{deleted.status_code} {deleted.text[:500]}"
    assert graph_triples(engine, GRAPH) == set()
    assert not ask(engine, f"ASK {{ GRAPH <{GRAPH}> {{ ?s ?p ?o }} }}")


def test_a_large_answer_is_whole(engine: Engine):
    """More rows than Debian's virtuoso.ini lets Virtuoso answer (10,000, silently cut)."""
    graph = "urn:lantai:test:large"
    rows = 10_001
    data = "".join(f'<urn:lantai:s{i}> <urn:lantai:p> "值{i}"@zh .\n' for i in range(rows))
    put = requests.put(engine.gsp_url, params={"graph": graph}, data=data.encode("utf-8"),
                       headers={"Content-Type": "application/n-triples"},
                       auth=engine.auth(), timeout=60)
    assert put.status_code in (200, 201, 204), f"{put.status_code} {put.text[:500]}"
    # JSON, not TSV: Virtuoso's TSV loses language tags ("值0", not "值0"@zh)
    answer = requests.post(engine.query_url, timeout=60,
                           data={"query": f"SELECT ?o WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"},
                           headers={"Accept": SPARQL_JSON})
    assert answer.status_code == 200, answer.text[:500]
    got = json.loads(answer.content)["results"]["bindings"]
    assert sorted((b["o"]["value"], b["o"]["xml:lang"]) for b in got) == sorted(
        (f"值{i}", "zh") for i in range(rows))
    # (not deleted: the engine is thrown away after the module, and Virtuoso 7.2 takes ~2 ms
    # a triple to delete a graph under load, whether by GSP DELETE, DROP, CLEAR or PUT)


@pytest.mark.parametrize("name", ENGINES)
def test_a_restarted_engine_has_what_it_had(name: str, tmp_path: Path):
    """An engine killed and started again on its files (``keep``) and port: what was
    committed before is there (the mirror's retry after an engine outage relies on it)."""
    with start_engine(name, tmp_path, keep=True) as first:
        update(first, f'INSERT DATA {{ GRAPH <{UPDATE_GRAPH}> {{ <urn:a> <urn:b> "前"@zh }} }}')
        port = int(first.query_url.split(":")[2].split("/")[0])
    with start_engine(name, tmp_path, port=port) as again:
        assert again == first
        assert graph_triples(again, UPDATE_GRAPH) == {
            (NamedNode("urn:a"), NamedNode("urn:b"), Literal("前", language="zh"))}
    if name == "virtuoso":  # without keep, its database files are gone after it
        assert not list((tmp_path / "virtuoso").glob("*.db"))


@pytest.mark.parametrize("name", ENGINES)
def test_a_busy_port_is_refused(name: str, tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        start = {"oxigraph": oxigraph_engine, "virtuoso": virtuoso_engine}[name]
        with (pytest.raises(EngineStartError, match=f"port {port} .* busy"),
              start(tmp_path, port=port)):
            pytest.fail("an engine was yielded on a busy port")


def test_another_server_answering_on_the_port_is_not_taken_for_the_engine(tmp_path: Path):
    """What answers must be our process listening on the port: a process that does not
    listen (here ``sleep``) while another server answers there never becomes an engine."""
    import sys

    from engine_support import _answers, _running, listens

    with socket.socket() as mine:
        mine.bind(("127.0.0.1", 0))
        mine.listen()
        assert listens(os.getpid(), mine.getsockname()[1])
        assert not listens(os.getpid(), free_port())

    def answer(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"someone else"]

    with served(answer) as other:
        port = int(other.rsplit(":", 1)[1])
        assert _answers(other + "/query")()
        with (pytest.raises(EngineStartError, match="did not answer"),
              _running([sys.executable, "-c", "import time; time.sleep(30)"],
                       tmp_path / "out.log", cwd=tmp_path, ready=_answers(other + "/query"),
                       what="a process that does not listen", timeout=2, port=port)):
            pytest.fail("another server's answer was taken for the engine")


@pytest.mark.parametrize("name", ENGINES)
def test_the_engine_stops_whatever_happens(name: str, tmp_path: Path):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), start_engine(name, tmp_path) as running:
        port = int(running.query_url.split(":")[2].split("/")[0])
        assert not port_is_free(port)
        pids = _engine_pids(tmp_path)
        assert pids, "no engine process found under the test's folder"
        raise Boom
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not port_is_free(port):
        time.sleep(0.1)
    assert port_is_free(port)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _engine_pids(folder: Path) -> list[int]:
    """Processes whose command line names ``folder`` (the engine's files are there)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(str(folder).encode() in a for a in argv) and int(proc.name) != os.getpid():
            try:
                state = (proc / "stat").read_text().split(")")[-1].split()[0]
            except OSError:
                continue
            if state != "Z":
                found.append(int(proc.name))
    return found


@pytest.mark.parametrize(("name", "finder"), [("oxigraph", "oxigraph_binary"),
                                             ("virtuoso", "virtuoso_binaries")])
def test_under_ci_a_missing_engine_fails(name: str, finder: str, tmp_path: Path, monkeypatch):
    import engine_support

    monkeypatch.setattr(engine_support, finder, lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"(?i){name}"), start_engine(name, tmp_path):
        pass
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=f"(?i){name}"), start_engine(name, tmp_path):
        pass

