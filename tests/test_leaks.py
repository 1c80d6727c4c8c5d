"""Closed stays closed: crawl every public surface of the demo and look for what must not be there.

The demo plants canary values (``CANARY-STU-…``, ``CANARY-CONSENT-…``, ``CANARY-EMBARGO-…``,
``CANARY-PERSONAL-…``) in closed, embargoed and personal records and fields, and the demo
record requests (查档) carry their requesters' personal values (``CANARY-REQ-…``, names found
nowhere else: :func:`services.requests.demo.request_canaries`). The crawl starts where a
visitor, a harvester or a IIIF viewer would (home page, sitemap, robots.txt, VoID, dumps,
SPARQL, search, IIIF collections, the request form and status page without a session,
``/verify`` of the demo's certified copies) and follows every same-site link it finds in HTML,
XML, JSON and RDF, until nothing new turns up. Then:

- no canary value appears in any response body (dumps are decompressed first), nor in the
  server's request log (but for the crawl's own queries);
- no IRI of a non-public object appears in any response (a link would be a hint that it exists);
- asking for a non-public object directly, by any route, answers exactly like asking for
  something that never existed.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import urllib.parse
from collections import deque
from pathlib import Path

import pytest
import requests
from pyoxigraph import Store

from repo.demo import canaries as archive_canaries
from services.requests.demo import request_canaries
from services.requests.store import RequestStore

MAX_URLS = 4000
LINK = re.compile(r"""(?:href|src|content|data-manifest|data-iiif)=["']([^"'#]+)""")
LOC = re.compile(r"<loc>([^<]+)</loc>")
QUOTED_URL = re.compile(r"""["'<](https?://[^"'<>\s]+)""")
TEXT_TYPES = ("text/", "application/json", "application/ld+json", "application/xml",
              "application/rdf+xml", "application/n-triples", "application/n-quads",
              "application/trig", "application/sparql-results", "application/gzip",
              "application/x-gzip", "application/javascript")


def canaries() -> list[str]:
    """What must never be public: the archive's canaries and the demo requesters' values."""
    return archive_canaries() + request_canaries()


def demo_copy_codes(home: Path) -> list[str]:
    """The verification codes of the certified copies the demo issued."""
    store = RequestStore.open(home)
    rows, _ = store.query(limit=1000)
    return [c.code for r in rows for c in store.copies_of(r.id)]


def closed_iris(home: Path, base: str) -> set[str]:
    """IRIs of the demo's objects that are not in the publication dataset."""
    working = Store.read_only(str(home / "working"))
    public = Store.read_only(str(home / "publication"))
    prefix = base + "/id/"
    described = {g.value for g in working.named_graphs() if g.value.startswith(prefix)}
    published = {g.value for g in public.named_graphs()}
    return described - published


def body_text(resp: requests.Response) -> str | None:
    kind = resp.headers.get("Content-Type", "")
    data = resp.content
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif not kind.startswith(TEXT_TYPES):
        return None
    return data.decode("utf-8", errors="replace")


def links_in(text: str, page_url: str, origin: str) -> set[str]:
    found = set()
    for raw in LINK.findall(text) + LOC.findall(text) + QUOTED_URL.findall(text):
        url = urllib.parse.urljoin(page_url, raw.replace("&amp;", "&"))
        url = url.split("#", 1)[0]
        if url.startswith(origin):
            found.add(url)
    return found


def image_api_urls(url: str) -> bool:
    return "/iiif/3/" in url


@pytest.fixture(scope="module")
def crawl(demo_server: str, demo_server_home: Path) -> dict[str, str]:
    """Every public URL reachable from the entry points, with its body as text."""
    return crawl_site(demo_server, demo_server_home)


def crawl_site(origin: str, home: Path) -> dict[str, str]:
    """Every public URL of the site served at ``origin`` (its base IRI) reachable from the
    entry points, with its body as text; ``home`` is the site's (writing) home, for the
    demo's certified copies. (tests/test_external_leaks.py crawls an engine-backed server.)"""
    session = requests.Session()
    seeds = [
        "/", "/?lang=en", "/robots.txt", "/sitemap.xml", "/.well-known/void",
        "/dumps/lantai.nq.gz", "/dumps/lantai.ttl.gz", "/sparql", "/search?q=档案",
        "/search?q=interview&lang=en", "/exhibits/", "/api/openapi.json",
        "/requests/", "/requests/?lang=en", "/requests/status", "/verify", "/verify?lang=en",
    ]
    for code in demo_copy_codes(home):
        seeds += [f"/verify?code={code}", f"/verify?code={code}&lang=en"]
    for fmt in ("json", "xml", "csv", "tsv"):
        seeds.append("/sparql?" + urllib.parse.urlencode(
            {"query": "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", "format": fmt}))
    for fmt in ("ttl", "nt", "jsonld", "rdfxml"):
        seeds.append("/sparql?" + urllib.parse.urlencode(
            {"query": "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "format": fmt}))
    for canary in canaries():
        seeds.append("/search?" + urllib.parse.urlencode({"q": canary}))
        seeds.append("/sparql?" + urllib.parse.urlencode(
            {"query": f'SELECT ?s WHERE {{ ?s ?p ?o FILTER(CONTAINS(STR(?o), "{canary}")) }}',
             "format": "json"}))
    queue = deque(origin + s for s in seeds)
    seen: set[str] = set(queue)
    bodies: dict[str, str] = {}
    while queue and len(bodies) < MAX_URLS:
        url = queue.popleft()
        resp = session.get(url, timeout=60, headers={"Accept": "text/html,*/*;q=0.8"})
        if resp.status_code != 200:
            continue
        text = body_text(resp)
        if text is None:
            continue
        bodies[url] = text
        for link in links_in(text, url, origin):
            path = link[len(origin):]
            if image_api_urls(path) and not path.endswith("info.json"):
                continue  # pixels: the info.json and the 404 checks below cover images
            if link not in seen:
                seen.add(link)
                queue.append(link)
    return bodies


def test_the_crawl_reaches_the_public_surfaces(crawl: dict[str, str], demo_server: str):
    paths = [u[len(demo_server):] for u in crawl]
    assert len(crawl) > 100
    assert any(p.startswith("/id/") for p in paths)
    assert "/sitemap.xml" in paths


def without_echo(url: str, text: str) -> str:
    """The body minus the visitor's own words echoed back (a search box shows its query), and
    without highlight marks (which could split a canary in a snippet)."""
    text = re.sub(r"</?(mark|em|b)>", "", text)
    for values in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).values():
        for value in values:
            for form in (value, html.escape(value), urllib.parse.quote(value),
                         urllib.parse.quote_plus(value)):
                text = text.replace(form, "")
    return text


def test_no_canary_on_any_public_surface(crawl: dict[str, str]):
    check_no_canary(crawl)


def check_no_canary(crawl: dict[str, str]) -> None:
    planted = canaries()
    assert planted, "the demo plants canaries"
    leaks = [(url, c) for url, text in crawl.items() for c in planted
             if c in without_echo(url, text)]
    assert not leaks, f"canaries on public surfaces: {leaks[:10]}"


def test_no_link_to_a_closed_object(crawl: dict[str, str], demo_server: str,
                                    demo_server_home: Path):
    check_no_link_to_a_closed_object(crawl, demo_server, demo_server_home)


def check_no_link_to_a_closed_object(crawl: dict[str, str], origin: str, home: Path) -> None:
    hidden = closed_iris(home, origin)
    assert hidden, "the demo has closed records"
    pattern = re.compile("|".join(re.escape(i) + r"(?![\w-])" for i in sorted(hidden)))
    leaks = [(url, m.group(0)) for url, text in crawl.items() for m in [pattern.search(text)] if m]
    assert not leaks, f"closed IRIs mentioned on public surfaces: {leaks[:10]}"


def test_closed_objects_answer_like_nothing_there(demo_server: str, demo_server_home: Path):
    """Every route that takes an object answers a closed one exactly as a made-up one."""
    check_closed_objects_answer_like_nothing_there(demo_server, demo_server_home)


def check_closed_objects_answer_like_nothing_there(demo_server: str, home: Path) -> None:
    hidden = sorted(closed_iris(home, demo_server))
    routes = [
        "/id/{kind}/{key}", "/id/{kind}/{key}.ttl", "/id/{kind}/{key}.jsonld",
        "/iiif/manifest/{kind}/{key}", "/iiif/collection/{kind}/{key}",
        "/iiif/3/{key}/info.json", "/iiif/3/{key}/full/max/0/default.jpg",
        "/iiif/annotations/{key}/ocr", "/iiif/search/{kind}/{key}?q=a",
        "/exhibits/{key}",
    ]
    for iri in hidden:
        kind, key = iri[len(demo_server) + len("/id/"):].split("/", 1)
        for route in routes:
            closed = requests.get(demo_server + route.format(kind=kind, key=key), timeout=30)
            never = requests.get(demo_server + route.format(kind=kind, key="nx" + key[2:]),
                                 timeout=30)
            assert closed.status_code == never.status_code == 404, (route, iri)
            assert closed.content == never.content.replace(b"nx" + key[2:].encode(),
                                                           key.encode()), (route, iri)
            for canary in canaries():
                assert canary not in closed.text


def test_sparql_finds_no_canary(demo_server: str):
    check_sparql_finds_no_canary(demo_server)


def check_sparql_finds_no_canary(demo_server: str) -> None:
    for canary in canaries():
        query = f'ASK {{ GRAPH ?g {{ ?s ?p ?o FILTER(CONTAINS(STR(?o), "{canary}")) }} }}'
        resp = requests.get(demo_server + "/sparql", params={"query": query},
                            headers={"Accept": "application/sparql-results+json"}, timeout=30)
        assert resp.status_code == 200
        assert json.loads(resp.text)["boolean"] is False


def test_the_crawl_reaches_the_request_pages(crawl: dict[str, str], demo_server: str,
                                             demo_server_home: Path):
    """The leak checks above saw the request service's public pages, among them the
    verification page of each certified copy the demo issued."""
    codes = demo_copy_codes(demo_server_home)
    assert codes, "the demo issued certified copies"
    paths = {u[len(demo_server):]: text for u, text in crawl.items()}
    for code in codes:
        assert code in paths[f"/verify?code={code}"]
    assert "/requests/" in paths and "/requests/status" in paths


def test_no_canary_in_the_request_log(crawl: dict[str, str], demo_server_log: Path):
    """Every request the crawl made is in the server's log, and no personal value is, but
    where the crawl itself put it in a query (a search for the canary)."""
    lines = [json.loads(line) for line in demo_server_log.read_text("utf-8").splitlines()]
    assert len(lines) >= len(crawl)
    planted = canaries()
    leaks = []
    for line in lines:
        url = line["path"] + ("?" + line["query"] if line.get("query") else "")
        text = without_echo(url, json.dumps(line, ensure_ascii=False))
        leaks += [(url, c) for c in planted if c in text]
    assert not leaks, f"canaries in the request log: {leaks[:10]}"
