"""Dereferenceable IRIs, VoID, dumps, sitemap and robots.txt, over real HTTP.

Read-only checks run against the live demo server (``demo_server``); withdrawals (410 Gone)
need writes, so those tests build their own demo site and serve it with Flask's test client.
"""

from __future__ import annotations

import gc
import gzip
import re

import pytest
import rdflib
import requests
from pyoxigraph import NamedNode, RdfFormat, Store, serialize
from rdflib.compare import isomorphic
from support import FILE, FONDS, ITEM, SERIES

from ontology.namespaces import LT
from publisher import linkeddata
from publisher.app import create_app
from repo.demo import canaries, load_demo
from repo.gone import read_gone
from repo.repository import Repository

PUBLIC = ["record/admission-letter-1956", "recordset/oral-history", "agent/chen-yuanshan",
          "instantiation/admission-letter-1956-jpg", "exhibit/covid-memories", "place/xian",
          "event/interview-oh-01"]
FORMATS = {  # media type -> (extension, rdflib parser)
    "text/turtle": ("ttl", "turtle"),
    "application/ld+json": ("jsonld", "json-ld"),
    "application/rdf+xml": ("rdf", "xml"),
    "application/n-triples": ("nt", "nt"),
}
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")


@pytest.fixture(scope="module")
def publication(demo_server_home):
    store = Store.read_only(str(demo_server_home / "publication"))
    yield store
    del store
    gc.collect()


@pytest.fixture(scope="module")
def closed_iris(demo_server_home, publication):
    """Every object of the demo that the public must not see (closed, embargoed, pending,
    private, folders): all objects of the working store minus the public ones."""
    working = Store.read_only(str(demo_server_home / "working"))
    try:
        every = {q.subject.value for q in working.quads_for_pattern(
            None, NamedNode(LT + "type"), None, None)}
    finally:
        del working
        gc.collect()
    public = {g.value for g in publication.named_graphs()}
    closed = sorted(every - public)
    assert len(closed) >= 10 and any("/record/transcript-" in i for i in closed)
    return closed


def graph_of(store: Store, iri: str) -> rdflib.Graph:
    g = rdflib.Graph()
    triples = [q.triple for q in store.quads_for_pattern(None, None, None, NamedNode(iri))]
    g.parse(data=serialize(triples, format=RdfFormat.N_TRIPLES), format="nt")
    return g


def parse(body: bytes, fmt: str, base: str) -> rdflib.Graph:
    """The served document without what the ``lantai.record_statements`` hooks add where it
    is served (the IIIF manifest link, tested in tests/test_iiif_manifests.py)."""
    g = rdflib.Graph()
    g.parse(data=body, format=fmt, publicID=base)
    for t in list(g):
        if any("/iiif/" in str(term) for term in (t[0], t[2])):
            g.remove(t)
    return g


def link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """[(href, {param: value})] of an HTTP Link header."""
    out = []
    for m in re.finditer(r'<([^>]*)>((?:\s*;\s*[a-zA-Z]+="[^"]*")*)', value):
        params = dict(re.findall(r'([a-zA-Z]+)="([^"]*)"', m.group(2)))
        out.append((m.group(1), params))
    return out


def headers_but_date(resp) -> dict[str, str]:
    return {k.lower(): v for k, v in resp.headers.items() if k.lower() != "date"}


# ------------------------------------------------------------------ content negotiation
@pytest.mark.parametrize("path", PUBLIC)
def test_every_format_by_accept_is_the_objects_graph(demo_server, publication, path):
    iri = f"{demo_server}/id/{path}"
    expected = graph_of(publication, iri)
    assert len(expected) >= 3
    for media, (ext, parser) in FORMATS.items():
        r = requests.get(iri, headers={"Accept": media}, timeout=10)
        assert r.status_code == 200, (media, r.text)
        assert r.headers["Content-Type"].split(";")[0] == media
        assert "Accept" in r.headers["Vary"]
        assert r.headers["Content-Location"].endswith(f"/id/{path}.{ext}")
        got = parse(r.content, parser, iri)
        assert isomorphic(got, expected), (media, r.text)


@pytest.mark.parametrize("path", PUBLIC[:3])
def test_every_format_by_extension(demo_server, publication, path):
    iri = f"{demo_server}/id/{path}"
    expected = graph_of(publication, iri)
    for media, (ext, parser) in FORMATS.items():
        r = requests.get(f"{iri}.{ext}", timeout=10)
        assert r.status_code == 200
        assert r.headers["Content-Type"].split(";")[0] == media
        assert isomorphic(parse(r.content, parser, iri), expected), ext


def test_jsonld_is_compacted_with_the_profile_context(demo_server):
    r = requests.get(f"{demo_server}/id/record/admission-letter-1956.jsonld", timeout=10)
    doc = r.json()
    assert doc["@context"]["rico"] == "https://www.ica.org/standards/RiC/ontology#"
    assert doc["title"]["zh"] == "张明华的录取通知书"
    assert doc["type"] == "Record"


def test_quality_values_choose_and_browsers_get_html(demo_server):
    iri = f"{demo_server}/id/record/admission-letter-1956"
    cases = {
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": "text/html",
        "text/turtle;q=0.5, application/rdf+xml": "application/rdf+xml",
        "application/rdf+xml;q=0.2, text/turtle;q=0.9, */*;q=0.1": "text/turtle",
        "application/n-triples, text/html;q=0": "application/n-triples",
        "*/*": "text/html",
        "text/*;q=0.9, text/html;q=0": "text/turtle",
    }
    for accept, media in cases.items():
        r = requests.get(iri, headers={"Accept": accept}, timeout=10)
        assert r.status_code == 200
        assert r.headers["Content-Type"].split(";")[0] == media, accept
    r = requests.get(iri, headers={"Accept": "image/png, text/html;q=0"}, timeout=10)
    assert r.status_code == 406
    for media in FORMATS:
        assert media in r.text


def test_link_headers_name_every_alternate(demo_server):
    iri = f"{demo_server}/id/record/admission-letter-1956"
    for accept in ("text/html", "text/turtle"):
        r = requests.get(iri, headers={"Accept": accept}, timeout=10)
        links = link_header(r.headers["Link"])
        alternates = {p["type"]: href for href, p in links if p.get("rel") == "alternate"}
        for media, (ext, _) in FORMATS.items():
            assert alternates[media] == f"{iri}.{ext}"
        assert (iri, {"rel": "canonical"}) in links
    html = requests.get(iri, timeout=10).text
    assert f'<link rel="alternate" type="text/turtle" href="{iri}.ttl">' in html


# ------------------------------------------------------------------ not there
def test_closed_iris_are_the_same_404_as_iris_that_never_existed(demo_server, closed_iris):
    never = f"{demo_server}/id/record/zz9-never-existed"
    for accept in ("text/html", "text/turtle", "application/ld+json"):
        ref = requests.get(never, headers={"Accept": accept}, timeout=10)
        assert ref.status_code == 404
        for iri in closed_iris:
            assert iri.startswith(demo_server + "/id/")
            r = requests.get(iri, headers={"Accept": accept}, timeout=10)
            assert r.status_code == 404, iri
            assert r.content == ref.content, iri
            assert headers_but_date(r) == headers_but_date(ref), iri
    ref = requests.get(never + ".ttl", timeout=10)
    for iri in closed_iris:
        r = requests.get(iri + ".ttl", timeout=10)
        assert (r.status_code, r.content) == (404, ref.content)
        assert headers_but_date(r) == headers_but_date(ref)
    # nothing of a closed record's description in the page
    for word in canaries():
        assert word not in ref.text


def test_malformed_iris_are_404(demo_server):
    for path in ("/id/record/a%20b", "/id/record/..%2f..%2fetc", "/id/RECORD/x", "/id/record/",
                 "/id/record/admission-letter-1956.exe", "/id/record/a/b",
                 "/id/record/admission-letter-1956.ttl.ttl", "/id/" + "x" * 300 + "/y"):
        r = requests.get(demo_server + path, timeout=10)
        assert r.status_code == 404, path


# ------------------------------------------------------------------ VoID
def test_void_names_the_endpoint_dumps_vocabularies_and_counts(demo_server, publication):
    r = requests.get(f"{demo_server}/.well-known/void", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/turtle")
    g = parse(r.content, "turtle", f"{demo_server}/.well-known/void")
    ds = rdflib.URIRef(f"{demo_server}/.well-known/void#dataset")
    assert (ds, rdflib.RDF.type, VOID.Dataset) in g
    assert g.value(ds, VOID.sparqlEndpoint) == rdflib.URIRef(f"{demo_server}/sparql")
    dumps = set(g.objects(ds, VOID.dataDump))
    assert dumps == {rdflib.URIRef(f"{demo_server}/dumps/lantai.nq.gz"),
                     rdflib.URIRef(f"{demo_server}/dumps/lantai.ttl.gz")}
    vocabularies = {str(v) for v in g.objects(ds, VOID.vocabulary)}
    assert {"https://www.ica.org/standards/RiC/ontology#", "http://www.w3.org/2004/02/skos/core#",
            "http://schema.org/", LT} <= vocabularies
    assert int(g.value(ds, VOID.triples)) == len(publication)
    assert int(g.value(ds, VOID.entities)) == len(list(publication.named_graphs()))
    assert int(g.value(ds, VOID.classes)) >= 8
    # content negotiation and extensions give the same description
    for media, (ext, parser) in FORMATS.items():
        other = requests.get(f"{demo_server}/.well-known/void", headers={"Accept": media},
                             timeout=10)
        assert other.headers["Content-Type"].split(";")[0] == media
        assert isomorphic(parse(other.content, parser, demo_server), g), media
        by_ext = requests.get(f"{demo_server}/.well-known/void.{ext}", timeout=10)
        assert isomorphic(parse(by_ext.content, parser, demo_server), g), ext
    # a browser following the home page's link reads the Turtle as text; it used to get a
    # 406 whose list of supported types named text/html
    for accept in ("text/html", "text/html,application/xhtml+xml,application/xml;q=0.9,"
                                "*/*;q=0.8"):
        shown = requests.get(f"{demo_server}/.well-known/void", headers={"Accept": accept},
                             timeout=10)
        assert shown.status_code == 200
        assert shown.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert isomorphic(parse(shown.content, "turtle", demo_server), g)
    refused = requests.get(f"{demo_server}/.well-known/void",
                           headers={"Accept": "application/x-nonsense"}, timeout=10)
    assert refused.status_code == 406
    assert "text/turtle" in refused.text and "text/html" not in refused.text


# ------------------------------------------------------------------ dumps
def test_dumps_are_the_publication_dataset_and_hold_no_canary(demo_server, publication):
    secrets = canaries()
    assert secrets
    r = requests.get(f"{demo_server}/dumps/lantai.nq.gz", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/gzip"
    assert r.content[:2] == b"\x1f\x8b"
    text = gzip.decompress(r.content).decode("utf-8")
    ds = rdflib.Dataset()
    ds.parse(data=text, format="nquads")
    assert len(ds) == len(publication)
    assert sorted(line for line in text.splitlines() if line) == sorted(
        f"{q} ." for q in publication)
    for word in secrets:
        assert word not in text
    # conditional requests
    again = requests.get(f"{demo_server}/dumps/lantai.nq.gz",
                         headers={"If-None-Match": r.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    assert r.headers["Last-Modified"]

    r = requests.get(f"{demo_server}/dumps/lantai.ttl.gz", timeout=30)
    assert r.status_code == 200
    text = gzip.decompress(r.content).decode("utf-8")
    g = rdflib.Graph()
    g.parse(data=text, format="turtle")
    assert len(g) == len({q.triple for q in publication})
    for word in secrets:
        assert word not in text
    assert requests.get(f"{demo_server}/dumps/other.nq.gz", timeout=10).status_code == 404


# ------------------------------------------------------------------ sitemap, robots
def test_sitemap_lists_every_public_object_and_no_closed_one(demo_server, publication,
                                                              closed_iris):
    r = requests.get(f"{demo_server}/sitemap.xml", timeout=10)
    assert r.status_code == 200
    from lxml import etree

    root = etree.fromstring(r.content, etree.XMLParser(resolve_entities=False, no_network=True))
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = {e.text for e in root.findall("s:url/s:loc", ns)}
    public = {g.value for g in publication.named_graphs()}
    assert public <= locs
    assert f"{demo_server}/" in locs
    assert f"{demo_server}/exhibits/covid-memories" in locs  # the readers' exhibit pages
    assert not locs & set(closed_iris)
    for loc in locs:  # every listed page answers
        assert requests.head(loc, timeout=10).status_code == 200, loc
    robots = requests.get(f"{demo_server}/robots.txt", timeout=10)
    assert f"Sitemap: {demo_server}/sitemap.xml" in robots.text.splitlines()


def test_a_big_sitemap_is_split_into_an_index(demo_server, publication, monkeypatch):
    whole = re.findall(r"<url><loc>([^<]+)</loc>",
                       requests.get(f"{demo_server}/sitemap.xml", timeout=10).text)
    assert len(whole) > len(list(publication.named_graphs()))
    monkeypatch.setattr(linkeddata, "SITEMAP_MAX", 10)
    r = requests.get(f"{demo_server}/sitemap.xml", timeout=10)
    assert b"<sitemapindex" in r.content
    parts = re.findall(r"<loc>([^<]+)</loc>", r.text)
    total = len(whole)
    assert len(parts) == -(-total // 10)
    seen = []
    for part in parts:
        body = requests.get(part, timeout=10).text
        seen += re.findall(r"<url><loc>([^<]+)</loc>", body)
    assert seen == whole
    assert requests.get(f"{demo_server}/sitemap-{len(parts) + 1}.xml",
                        timeout=10).status_code == 404


# ------------------------------------------------------------------ withdrawal: 410
@pytest.fixture
def demo_site(tmp_path):
    """A demo archive of our own, to write to; served by Flask's test client."""
    home = tmp_path / "home"
    repo, _ = Repository.init(home, "https://archive.example.edu")
    load_demo(repo, repo.user("admin"))
    yield home, repo
    repo.close()
    gc.collect()


def test_withdrawn_iris_are_410_and_rebuild_keeps_them(demo_site):
    home, repo = demo_site
    admin = repo.user("admin")
    client = create_app(home).test_client()
    base = "https://archive.example.edu"
    record = f"{base}/id/record/admission-letter-1956"
    path = "/id/record/admission-letter-1956"
    assert client.get(path).status_code == 200
    never = client.get("/id/record/zz9-never")
    closed = client.get("/id/record/transcript-2019001")
    assert closed.status_code == never.status_code == 404 and closed.data == never.data

    repo.transition(admin, record, "withdraw")
    gone = client.get(path)
    assert gone.status_code == 410
    assert "录取" not in gone.get_data(as_text=True)  # no title, no hint
    assert client.get(path + ".ttl", headers={"Accept": "text/turtle"}).status_code == 410
    # a whole collection closed: it and what is inside are gone
    repo.set_access(admin, f"{base}/id/recordset/covid-19", "restricted")
    inside = client.get("/id/record/notice-2020-003")
    assert inside.status_code == 410
    assert inside.data == gone.data
    assert sorted(headers_but_date_flask(inside).items()) == sorted(
        headers_but_date_flask(gone).items())
    # never-public records stay 404 however the site changes
    assert client.get("/id/record/transcript-2019001").data == never.data
    assert client.get("/id/record/transcript-2019001").status_code == 404
    # the sitemap and the dumps follow
    sitemap = client.get("/sitemap.xml").get_data(as_text=True)
    assert record not in sitemap and f"{base}/id/record/notice-2020-003" not in sitemap
    dump = gzip.decompress(client.get("/dumps/lantai.nq.gz").data).decode()
    assert record not in dump and "notice-2020-003" not in dump

    before = read_gone(home)
    assert record in before and f"{base}/id/record/notice-2020-003" in before
    repo.rebuild_publication()
    assert read_gone(home) == before
    assert client.get(path).status_code == 410

    # published again: 200 again, and no longer in the list
    repo.transition(admin, record, "publish")
    assert client.get(path).status_code == 200
    assert record not in read_gone(home)
    repo.rebuild_publication()
    assert record not in read_gone(home)
    assert client.get(path).status_code == 200
    assert client.get("/id/record/notice-2020-003").status_code == 410


def headers_but_date_flask(resp) -> dict[str, str]:
    return {k.lower(): v for k, v in resp.headers.items() if k.lower() != "date"}


def test_rebuild_records_what_it_removes(site):
    """A rebuild that finds an object no longer public (say the stores were edited by hand)
    lists it as gone, and what was never public stays unlisted."""
    repo, admin = site.repo, site.admin
    for ref in (FONDS, SERIES, FILE, ITEM):
        repo.transition(admin, ref, "publish")
    item = site.iris[ITEM]
    repo.public.remove_graph(NamedNode(site.iris[FILE]))  # drifted from the working store
    repo.working.update(  # and the item closed without the repository knowing
        f"DELETE {{ <{item}> <{LT}access> ?a }} "
        f"INSERT {{ <{item}> <{LT}access> <{repo.base}/vocab/access/restricted> }} "
        f"WHERE {{ <{item}> <{LT}access> ?a }}")
    repo.rebuild_publication()
    gone = read_gone(site.home)
    assert item in gone
    assert site.iris[FILE] not in gone  # public again after the rebuild
    assert site.iris["/xjtu/admin"] not in gone  # never public
    client = create_app(site.home).test_client()
    assert client.get(f"/id/{item.split('/id/')[1]}").status_code == 410
    assert client.get(f"/id/{site.iris[FILE].split('/id/')[1]}").status_code == 200


def test_hostile_accept_headers_are_harmless(demo_server):
    iri = f"{demo_server}/id/record/admission-letter-1956"
    for accept in ("x" * 8000, ",".join(["text/turtle;q=abc"] * 500), ";;;,,,", "*/*;q=2"):
        r = requests.get(iri, headers={"Accept": accept}, timeout=10)
        assert r.status_code in (200, 406), accept[:40]
    assert requests.get(iri, timeout=10).status_code == 200
