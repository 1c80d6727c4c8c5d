"""The pipelined bulk ingest: batch k is written while k+1 is checked, and the catalog is
indexed from the batches (in a second process for big ingests). Same triples, same
checks, same catalog as the one-by-one path and as ``lantai reindex``."""

from __future__ import annotations

import pytest
import tantivy
from pyoxigraph import NamedNode
from support import FILE, SERIES, dump

from repo.catalog import batch_text, documents, ingestion, maintainer
from repo.catalog.index import load_data
from repo.errors import Conflict
from repo.repository import NewObject

AGENTS = "/agents"


def contents(index) -> dict[str, dict]:
    searcher = index.searcher()
    hits = searcher.search(tantivy.Query.all_query(), max(searcher.num_docs, 1))
    return {d["iri"]: d for d in (load_data(searcher.doc(a)) for _, a in hits.hits)}


def catalogs(repo) -> tuple[dict, dict]:
    m = maintainer(repo)
    m.flush()
    return contents(m.staff), contents(m.public)


def children_titles(repository, iri: str, public: bool) -> list[str]:
    """A text source that reads an object's children (as OCR of its pages does)."""
    if repository is None or not hasattr(repository, "child_iris"):
        return []
    out = []
    for kid in repository.child_iris(iri):
        obj = repository.load(kid)
        if obj is not None and not obj.deleted:
            out += [t for t, _ in obj.fields().get("title", [])]
    return ["children: " + " / ".join(sorted(out))] if out else []


@pytest.fixture(params=["worker", "in-process"])
def mode(request, monkeypatch):
    monkeypatch.setattr(ingestion, "WORKER_MIN", 1 if request.param == "worker" else 10**9)
    documents.register_text_source(children_titles)
    yield request.param
    documents.TEXT_SOURCES.remove(children_titles)


def specs(n: int, prefix: str = "bulk") -> list[NewObject]:
    """Files with two items each, published and open, linking to an agent created in the
    same ingest: children and links land in other batches than their parents."""
    out = [NewObject(AGENTS, "person", {"name": {"zh": "李四", "en": "Li Si"}}, slug="li-si",
                     key="li-si", state="published", access="open")]
    for i in range(n):
        path = f"{SERIES}/{prefix}-{i}"
        out.append(NewObject(SERIES, "file", {"title": {"zh": f"第{i}卷", "en": f"File {i}"},
                                              "begin": "1990", "creator": "/agents/li-si"},
                             slug=f"{prefix}-{i}", state="published", access="open"))
        for j in range(2):
            out.append(NewObject(path, "item", {"title": {"zh": f"第{i}卷第{j}件",
                                                          "en": f"Item {i}.{j}"},
                                                "begin": "1990", "subject": "/agents/li-si"},
                                 slug=f"item-{j}", state="published", access="open"))
    return out


def test_ingested_catalog_equals_a_rebuild(site, mode):
    site.repo.transition(site.admin, "/xjtu", "publish", recursive=True)
    site.repo.transition(site.admin, AGENTS + "/zhang-san", "publish")
    created = site.repo.ingest(site.admin, specs(7), message="bulk", batch_size=4)
    assert len(created) == 1 + 7 * 3
    after = catalogs(site.repo)
    assert set(created) <= set(after[0]) and set(created) <= set(after[1])
    # text that depends on children that came in a later batch is there
    file0 = site.repo.resolve(f"{SERIES}/bulk-0")
    assert after[0][file0]["extra"] == ["children: Item 0.0 / Item 0.1 / 第0卷第0件 / 第0卷第1件"]
    assert "Li Si" in after[0][site.repo.resolve(f"{SERIES}/bulk-0/item-1")]["agents"]
    maintainer(site.repo).rebuild()
    rebuilt = catalogs(site.repo)
    for i in (0, 1):
        assert {k: {f: (v[f], (rebuilt[i].get(k) or {}).get(f)) for f in v
                    if v[f] != (rebuilt[i].get(k) or {}).get(f)}
                for k, v in after[i].items() if rebuilt[i].get(k) != v} == {}
        assert {k: v for k, v in rebuilt[i].items() if after[i].get(k) != v} == {}


@pytest.mark.parametrize("load_unit", [None, 0, 10**12],
                         ids=["growing loads", "each batch alone", "all batches at the end"])
def test_pipelined_ingest_writes_what_one_by_one_creates_write(site, tmp_path, monkeypatch,
                                                               load_unit):
    """Positions, paths, links to batches not loaded yet: the same as single creates,
    however many batches wait to be loaded together."""
    from support import new_site

    from repo import ingest

    if load_unit is not None:
        monkeypatch.setattr(ingest, "_load_unit", lambda loaded: load_unit)
    site.repo.ingest(site.admin, specs(5), message="bulk", batch_size=2)
    kids = site.repo.children(site.admin, SERIES)
    assert [k.slug for k in kids] == ["register-1957", *[f"bulk-{i}" for i in range(5)]]
    assert [k.position for k in kids] == list(range(6))
    for i in range(5):
        items = site.repo.children(site.admin, f"{SERIES}/bulk-{i}")
        assert [(k.slug, k.position) for k in items] == [("item-0", 0), ("item-1", 1)]
    # the same objects made one by one on a second site: the same descriptions
    other = new_site(tmp_path / "other", site.clock)
    try:
        for s in specs(5):
            other.repo.create(other.admin, s.parent, s.type, s.fields, slug=s.slug,
                              key=s.key, access=s.access)
        paths = ["/agents", SERIES, AGENTS + "/li-si"] + [
            f"{SERIES}/bulk-{i}" for i in range(5)] + [
            f"{SERIES}/bulk-{i}/item-{j}" for i in range(5) for j in range(2)]
        assert descriptions(site.repo, paths) == descriptions(other.repo, paths)
    finally:
        other.close()


def descriptions(repo, paths: list[str]) -> dict[str, list[str]]:
    """Description graphs by path, with every IRI of ``paths`` written as its path."""
    iris = {repo.resolve(p): p for p in paths}
    out = {}
    for iri, path in iris.items():
        lines = []
        for q in repo.working.quads_for_pattern(None, None, None, NamedNode(iri)):
            line = str(q)
            for other, other_path in iris.items():
                line = line.replace(f"<{other}>", f"<path:{other_path}>")
            lines.append(line)
        out[path] = sorted(lines)
    return out


@pytest.mark.parametrize("load_unit", [None, 10**12], ids=["growing loads", "all at the end"])
def test_a_duplicate_in_the_next_batch_is_caught_while_the_previous_one_is_written(
        site, monkeypatch, load_unit):
    from repo import ingest

    if load_unit is not None:  # nothing is in the store yet when the duplicate comes
        monkeypatch.setattr(ingest, "_load_unit", lambda loaded: load_unit)
    before = site.snapshot()
    catalog_before = catalogs(site.repo)
    bad = specs(3)
    bad.append(NewObject(SERIES, "file", {"title": {"zh": "重复", "en": "Duplicate"}},
                         slug="bulk-2"))  # the path of a file two batches back
    with pytest.raises(Conflict):
        site.repo.ingest(site.admin, bad, message="bulk", batch_size=3)
    assert site.snapshot() == before
    assert "bulk-" not in "\n".join(dump(site.repo.working))
    assert catalogs(site.repo) == catalog_before


def test_a_failed_ingest_leaves_the_catalog_as_it_was(site, mode):
    catalog_before = catalogs(site.repo)
    bad = specs(4)
    bad.append(NewObject(f"{SERIES}/bulk-0", "item", {"title": {"zh": "坏", "en": "Bad"}},
                         slug="bad", state="nonsense"))
    with pytest.raises(Exception):  # noqa: B017 - whichever error the repository raises
        site.repo.ingest(site.admin, bad, message="bulk", batch_size=4)
    assert catalogs(site.repo) == catalog_before
    assert [k.path for k in site.repo.children(site.admin, SERIES)] == [FILE]


def failing_text_source(repository, iri: str, public: bool) -> list[str]:
    """A text source that fails on one object (a broken OCR file, say)."""
    if repository is not None and iri.endswith("/cursed"):
        raise RuntimeError("this text source cannot read the cursed object")
    return []


def test_a_failure_in_the_catalog_process_rolls_the_whole_ingest_back(site, monkeypatch):
    monkeypatch.setattr(ingestion, "WORKER_MIN", 1)
    documents.register_text_source(failing_text_source)
    try:
        before = site.snapshot()
        catalog_before = catalogs(site.repo)
        bad = specs(4)
        bad.append(NewObject(SERIES, "file", {"title": {"zh": "坏卷", "en": "Cursed"}},
                             slug="cursed", key="cursed"))
        bad += specs(2, prefix="after")[1:]  # (li-si is in already)
        with pytest.raises(RuntimeError, match="cursed object"):
            site.repo.ingest(site.admin, bad, message="bulk", batch_size=4)
        assert site.snapshot() == before
        assert catalogs(site.repo) == catalog_before
        assert not list((site.home / "journal").iterdir())
    finally:
        documents.TEXT_SOURCES.remove(failing_text_source)


BASE = "https://archive.example.edu"
MGMT = "management"  # marks the management lines below, written as triples
REC = BASE + "/id/record/r1"
RICO = "https://www.ica.org/standards/RiC/ontology#"
LT = "https://w3id.org/lantai/ns#"
BATCH_LINES = [  # an object's description and management lines (a marker ends the latter)
    f"<{REC}> <{LT}type> \"item\" <{MGMT}> .",
    f"<{REC}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{RICO}Record> <{REC}> .",
    f"<{REC}> <{RICO}title> \"标题 <b> .\"@zh <{REC}> .",
    f"<{REC}> <{LT}path> \"/xjtu/a/b\" <{MGMT}> .",
    f"<{REC}> <{RICO}title> \"Title\"@en-GB <{REC}> .",
    f"<{REC}> <{RICO}beginningDate> \"1957-01-02\"^^<http://www.w3.org/2001/XMLSchema#date> "
    f"<{REC}> .",
    f"<{REC}> <{LT}parent> <{BASE}/id/recordset/f1> <{MGMT}> .",
    f"<{REC}#note> <http://schema.org/text> \"a note about it\" <{REC}> .",
    f"<{REC}> <{LT}state> <{LT}published> <{MGMT}> .",
    f"<{REC}> <{LT}changedIn> <urn:lantai:changeset:1> <{MGMT}> .",
]
ESCAPED_LINES = [f"<{REC}> <{RICO}scopeAndContent> \"two\\nlines, \\\"quoted\\\"\"@en <{REC}> .",
                 f"<{REC}> <http://schema.org/about> _:b1 <{REC}> ."]


@pytest.mark.parametrize("lines", [BATCH_LINES, BATCH_LINES + ESCAPED_LINES,
                                   [line.replace("> <", ">\t<").replace('" <', '"  <')
                                    for line in BATCH_LINES]],
                         ids=["plain", "escapes and blank nodes", "other white space"])
def test_the_indexer_reads_a_batch_text_as_oxigraph_reads_it(lines):
    """The catalog's worker reads a batch's statements and facts from the N-Quads text
    without making quads: what it reads is what the quads of that text say."""
    from pyoxigraph import RdfFormat, parse

    description = "".join(f"{line}\n" for line in lines if f"<{MGMT}>" not in line)
    management = "".join(f"{line[:line.index(f'<{MGMT}>') - 1]} .\n" for line in lines
                         if f"<{MGMT}>" in line)
    batch = batch_text.BatchReader().read(description, management, description)
    quads = list(parse(input=description.encode(), format=RdfFormat.N_QUADS))
    graph = [q for q in quads if q.graph_name.value == REC]
    assert batch.graphs[REC].own_statements(REC) == documents.own_statements(REC, graph)
    assert sorted(map(str, batch.graphs[REC])) == sorted(map(str, graph))
    assert batch.public[REC].own_statements(REC) == documents.own_statements(REC, graph)
    assert batch.iris == [REC]
    assert batch.facts[REC] == {"type": "item", "path": "/xjtu/a/b", "state": LT + "published",
                                "parent": BASE + "/id/recordset/f1",
                                "changedIn": "urn:lantai:changeset:1"}  # its last change
