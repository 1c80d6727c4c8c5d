"""external.protocol.Engine against real engines (oxigraph serve; Virtuoso when
tests/engine_support has it): queries, updates, graphs through the Graph Store Protocol and
through Update alone, the generation, literals that must come back exactly, failures as one
line."""

from __future__ import annotations

import pytest
from external_fixtures import NAMES, running
from pyoxigraph import Literal, NamedNode, Triple

from external.protocol import Engine, EngineError, sparql_term

pytestmark = pytest.mark.timeout(300)

S = NamedNode("https://archive.example/id/file/a1")
P = NamedNode("https://archive.example/title")
RDF_LANG = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

# text an archive holds: Chinese, quotes, newlines, backslashes (one before a `u`, which a
# SPARQL engine may read as an escape), tabs, non-BMP, a control character, tags, datatypes
TRICKY = [
    Literal("西安交通大学 迁校 1956 年"),
    Literal('他说："交大西迁"'),
    Literal("line one\nline two\r\nline three\ttab"),
    Literal("C:\\Users\\u0022\\new \\\\ \\U0001F600"),
    Literal("'single' and \"double\" and `back`"),
    Literal("trailing backslash \\"),
    Literal("𠀀 non-BMP 😀 and \u2028 separator"),
    Literal("bell\x07 and nul-free control \x1f"),
    Literal("交大西迁", language="zh-Hans"),
    Literal("Relocation", language="en-GB"),
    Literal("1956-08-10", datatype=NamedNode("http://www.w3.org/2001/XMLSchema#date")),
    Literal("42", datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
    Literal("DA/T 13—2022 · 档号", datatype=NamedNode("https://archive.example/vocab/refcode")),
    Literal(""),
]


@pytest.fixture(params=NAMES)
def engine_info(request, tmp_path):
    with running(request.param, tmp_path) as info:
        yield info


def client(info, **kw) -> Engine:
    return Engine(info.query_url, info.update_url, info.gsp_url, info.user, info.password,
                  **kw)


def triples(n: int) -> list[Triple]:
    return [Triple(S, NamedNode(f"https://archive.example/p{i}"), lit)
            for i, lit in enumerate(TRICKY[:n])]


def same(a, b) -> bool:
    return sorted(map(str, a)) == sorted(map(str, b))


@pytest.mark.parametrize("gsp", [True, False], ids=["gsp", "update"])
def test_literals_round_trip_exactly(engine_info, gsp):
    engine = client(engine_info)
    if not gsp:
        engine.gsp_url = ""
    data = triples(len(TRICKY))
    engine.put_graph(S.value, data)
    assert same(engine.graph(S.value), data)
    # the same values read back through a SELECT, term by term
    rows = engine.select(f"SELECT ?p ?o WHERE {{ GRAPH {S} {{ {S} ?p ?o }} }}")
    assert {(r["p"], r["o"]) for r in rows} == {(t.predicate, t.object) for t in data}
    # and each value found by itself: the query text carries it exactly too (a pattern
    # with the term; Virtuoso 7.2 compares STR() of a non-ASCII constant wrongly)
    for t in data:
        assert engine.ask(f"ASK {{ GRAPH {S} {{ {S} {t.predicate} {sparql_term(t.object)} }} }}"
                          ), t.object


def test_graphs_are_replaced_and_dropped(engine_info):
    engine = client(engine_info)
    a, b = "https://archive.example/id/file/a", "https://archive.example/id/file/b"
    engine.put_graph(a, [Triple(NamedNode(a), P, Literal("old"))])
    engine.put_graph(a, [Triple(NamedNode(a), P, Literal("new"))])
    assert engine.graph(a) == [Triple(NamedNode(a), P, Literal("new"))]
    engine.replace_graphs({b: [Triple(NamedNode(b), P, Literal("b"))]})
    assert engine.graphs("https://archive.example/") == {a, b}
    engine.delete_graph(a)
    engine.delete_graph(a)  # gone already is fine
    engine.drop_graphs([b, "https://archive.example/id/never"])
    assert engine.graphs("https://archive.example/") == set()
    assert engine.graph(a) == []


def test_big_graphs_in_chunks(engine_info):
    """Many graphs and one big one, written through Update in requests of at most
    ``chunk`` triples, read back whole by graph_contents."""
    engine = client(engine_info, chunk=50)
    engine.gsp_url = ""
    graphs = {f"https://archive.example/id/file/g{n}":
              [Triple(NamedNode(f"https://archive.example/id/file/g{n}"),
                      NamedNode(f"https://archive.example/p{i}"), Literal(f"值 {n} {i}"))
               for i in range(3 if n else 260)] for n in range(40)}
    engine.replace_graphs(graphs)
    got = engine.graph_contents(graphs)
    assert set(got) == set(graphs)
    for iri, ts in graphs.items():
        assert same(got[iri], ts), iri
    # replacing drops what the graph held before, even across chunks
    engine.replace_graphs({"https://archive.example/id/file/g0":
                           [Triple(S, P, Literal("only"))]})
    assert engine.graph("https://archive.example/id/file/g0") == [Triple(S, P, Literal("only"))]


def test_generation(engine_info):
    engine = client(engine_info)
    assert engine.generation() == ""
    engine.set_generation("20261208T010203-abc")
    engine.set_generation("20261208T010204-def")
    assert engine.generation() == "20261208T010204-def"


def test_construct_and_bounded_answers(engine_info):
    engine = client(engine_info)
    engine.put_graph(S.value, triples(3))
    got = engine.construct(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {S} {{ ?s ?p ?o }} }}")
    assert same(got, triples(3))
    small = client(engine_info, max_answer=100)
    with pytest.raises(EngineError, match=r"larger than 100 bytes|more than 100"):
        small.select(f"SELECT * WHERE {{ GRAPH {S} {{ ?s ?p ?o }} }}")


def test_failures_are_one_line(engine_info, tmp_path):
    engine = client(engine_info)
    with pytest.raises(EngineError) as bad:
        engine.select("SELECT nonsense WHERE {")
    message = str(bad.value)
    assert "\n" not in message and "HTTP 400" in message and engine.name in message
    with pytest.raises(EngineError) as bad:
        engine.update("INSERT DATA { broken")
    assert "\n" not in str(bad.value) and "update: HTTP" in str(bad.value)
    from support import free_port

    down = Engine(f"http://user:secret@127.0.0.1:{free_port()}/query", timeout=2)
    with pytest.raises(EngineError) as bad:
        down.generation()
    assert "cannot connect" in str(bad.value) and "secret" not in str(bad.value)


def test_from_settings(monkeypatch):
    from repo.config import make_settings

    assert Engine.from_settings(make_settings(base="https://archive.example")) is None
    monkeypatch.setenv("LANTAI_ENGINE_PASSWORD", "pw")
    engine = Engine.from_settings(make_settings(
        base="https://archive.example", publication_endpoint="http://e.example/sparql",
        publication_engine_user="lantai"))
    assert engine is not None and engine.update_url == "http://e.example/sparql"
    assert engine._auth is not None and engine._auth.password == "pw"
