"""Growth records stay personal: only what a student consented to is public, and not once they
withdraw it (issue 13, item 9, "the leak crawl proves it").

A site served over real HTTP (waitress, as ``lantai serve``) with two students' growth records
(tests/consent_support.py): activities with canary notes and names, personal records with
canary titles, a scan. One student consents to one record; the crawl starts where a visitor, a
harvester or a IIIF viewer would (home, exhibits, search, SPARQL in every format, VoID, dumps,
sitemap, IIIF collections and manifests; the site has no OAI-PMH) and follows every same-site
link (the link finding, body reading and echo removal of ``tests/test_leaks.py``). Then no
canary and no IRI of a growth object but the consented record's appears anywhere, and the
consented record does. The student withdraws (through ``lantai growth consent revoke``, another
process), the crawl runs again, and the record is gone from every surface too.
"""

from __future__ import annotations

import urllib.parse
from collections import deque

import pytest
import requests
from consent_support import CANARIES, build_growth, student
from support import free_port, new_site, run_lantai, served
from test_leaks import body_text, image_api_urls, links_in, without_echo

from services.growth import consent as consents
from services.growth.consent import ConsentStore

MAX_URLS = 1500
HIDDEN = ("act-1", "act-2", "act-3", "zhang-san", "li-si", "teaching", "lisi-rec", "closed")


def crawl(origin: str) -> dict[str, str]:
    """Every public URL reachable from the entry points, with its body as text."""
    seeds = ["/", "/?lang=en", "/robots.txt", "/sitemap.xml", "/.well-known/void",
             "/dumps/lantai.nq.gz", "/dumps/lantai.ttl.gz", "/sparql", "/exhibits/",
             "/exhibits/student-memories", "/search?q=证书", "/search?q=certificate&lang=en",
             "/api/openapi.json"]
    for fmt in ("json", "xml", "csv", "tsv"):
        seeds.append("/sparql?" + urllib.parse.urlencode(
            {"query": "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", "format": fmt}))
    for fmt in ("ttl", "nt", "jsonld", "rdfxml"):
        seeds.append("/sparql?" + urllib.parse.urlencode(
            {"query": "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "format": fmt}))
    for canary in CANARIES:
        seeds.append("/search?" + urllib.parse.urlencode({"q": canary}))
        seeds.append("/sparql?" + urllib.parse.urlencode(
            {"query": f'SELECT ?s WHERE {{ ?s ?p ?o FILTER(CONTAINS(STR(?o), "{canary}")) }}',
             "format": "json"}))
    session = requests.Session()
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
                continue
            if link not in seen:
                seen.add(link)
                queue.append(link)
    return bodies


def leaks(bodies: dict[str, str], values: list[str]) -> list[tuple[str, str]]:
    return [(url, v) for url, text in bodies.items() for v in values
            if v in without_echo(url, text)]


@pytest.mark.slow
def test_only_the_consented_record_is_public_and_not_after_withdrawal(tmp_path):
    port = free_port()
    site = new_site(tmp_path / "site", base=f"http://127.0.0.1:{port}")
    g = build_growth(site, tmp_path / "scans")
    store = ConsentStore.open(site.home)
    c = consents.give(store, site.repo, student(site), g.paths["cert"])
    scans = list(site.repo.child_iris(g.iris["cert"]))
    site.close()
    cert, key = g.iris["cert"], g.iris["cert"].rsplit("/", 1)[1]
    hidden = [g.iris[n] for n in HIDDEN]
    with served(site.home, port, threads=8) as url:
        shown = crawl(url)
        paths = {u[len(url):] for u in shown}
        assert len(shown) > 20 and "/sitemap.xml" in paths
        # the consented record is public: its page, the exhibit, its manifest and scan
        assert f"/id/record/{key}" in paths
        assert any(cert in text for u, text in shown.items() if "/exhibits/" in u)
        assert f"/iiif/manifest/record/{key}" in paths
        assert any(f"/iiif/3/{s.rsplit('/', 1)[1]}/info.json" in p for s in scans for p in paths)
        # and nothing else of the growth records: no canary, no IRI of theirs
        assert not leaks(shown, list(CANARIES)), leaks(shown, list(CANARIES))[:5]
        assert not leaks(shown, hidden), leaks(shown, hidden)[:5]
        for iri in hidden:
            assert requests.get(iri, timeout=30).status_code == 404
        # withdrawn: gone from every surface at the next request
        run_lantai(site.home, "growth", "consent", "revoke", str(c.id), user="zhang")
        assert requests.get(cert, timeout=30).status_code in (404, 410)
        after = crawl(url)
        assert not leaks(after, [cert, *scans, *CANARIES, *hidden]), \
            leaks(after, [cert, *scans, *CANARIES, *hidden])[:5]
        for route in (f"/iiif/manifest/record/{key}", f"/exhibits/{key}"):
            assert requests.get(url + route, timeout=30).status_code in (404, 410)
