"""ETags from the publication generation, and 304 before the view (publisher/caching.py).

Real site, real stores, Flask's test client. The proxy in front is tested in test_nginx.py.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections import Counter

import pytest
from support import AGENTS, FILE, FONDS, ITEM, run_python

from publisher.app import create_app
from repo.catalog import catalog_path
from repo.catalog.maintenance import flush_pending

HTML = {"Accept": "text/html"}


@pytest.fixture
def public(site):
    """The standard tree, published (and the catalog's deferred commit done: else a search
    page's ETag moves when it lands, a second later)."""
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    site.repo.transition(site.admin, AGENTS, "publish", recursive=True)
    flush_pending(catalog_path(site.home, True))
    return site


@pytest.fixture
def app(public):
    return create_app(public.home)


def fetch(client, url: str, headers: dict[str, str], method: str = "GET", data=None):
    """A request with exactly these headers (the clients here keep no cookie jar, which
    would replace a Cookie header)."""
    return client.open(url, method=method, headers=headers, data=data)


def path_of(site, ref: str) -> str:
    return urllib.parse.urlsplit(site.iris[ref]).path


def counted(app) -> Counter:
    """Wrap every view so that the test sees which ones ran (the views themselves run)."""
    calls: Counter = Counter()

    def wrap(name, view):
        def run(*args, **kwargs):
            calls[name] += 1
            return view(*args, **kwargs)
        return run

    for name, view in list(app.view_functions.items()):
        app.view_functions[name] = wrap(name, view)
    return calls


def public_urls(site) -> list[tuple[str, dict[str, str]]]:
    record = path_of(site, FILE)
    sparql = "/sparql?" + urllib.parse.urlencode({"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 3"})
    return [
        (record, HTML), (record, {"Accept": "text/turtle"}),
        (record, {"Accept": "application/ld+json"}), (record + ".ttl", {}),
        (record + ".jsonld", {}), (record + ".nt", {}), (record + ".rdf", {}),
        (record, {**HTML, "Accept-Language": "en"}), (record, {**HTML, "Cookie": "lang=en"}),
        ("/", HTML), ("/search?q=1957", HTML), (sparql, {"Accept": "application/json"}),
        ("/.well-known/void", {}), ("/sitemap.xml", {}), ("/robots.txt", {}),
    ]


def test_public_answers_carry_an_etag_that_a_shared_cache_must_revalidate(public, app):
    client = app.test_client(use_cookies=False)
    tags = {}
    for url, headers in public_urls(public):
        resp = fetch(client, url, headers)
        assert resp.status_code == 200, url
        tag = resp.headers["ETag"]
        assert tag.startswith('W/"'), url
        assert resp.headers["Cache-Control"] == "public, no-cache"
        assert resp.headers["X-Accel-Expires"] == "@1"  # nginx: store, revalidate every hit
        assert {"Accept", "Accept-Language", "Cookie"} <= set(resp.vary), url
        assert "Set-Cookie" not in resp.headers
        tags[(url, tuple(sorted(headers.items())))] = tag
    # each format and each language of one URL has its own tag
    assert len(set(tags.values())) == len(tags), sorted(tags.items(), key=lambda kv: kv[1])


def test_a_matching_if_none_match_is_answered_before_the_view(public, app):
    calls = counted(app)
    client = app.test_client(use_cookies=False)
    for url, headers in public_urls(public):
        first = fetch(client, url, headers)
        calls.clear()
        for method in ("GET", "HEAD"):
            again = fetch(client, url, {**headers, "If-None-Match": first.headers["ETag"]},
                          method)
            assert again.status_code == 304, url
            assert again.data == b""
            assert again.headers["ETag"] == first.headers["ETag"]
            assert again.headers["Cache-Control"] == "public, no-cache"
        assert not calls, f"{url}: the view ran for a 304: {calls}"
        other = fetch(client, url, {**headers, "If-None-Match": 'W/"something-else"'})
        assert other.status_code == 200
        assert calls, url  # and runs when the tag does not match


def test_a_publication_change_gives_every_public_url_a_new_etag(public, app):
    client = app.test_client(use_cookies=False)
    before = {url + repr(h): fetch(client, url, h).headers["ETag"]
              for url, h in public_urls(public)}
    public.repo.edit(public.admin, AGENTS + "/xian", set={"name": {"zh": "西安市", "en": "Xi'an"}})
    flush_pending(catalog_path(public.home, True))
    for url, headers in public_urls(public):
        resp = fetch(client, url, {**headers, "If-None-Match": before[url + repr(headers)]})
        assert resp.status_code == 200, url
        assert resp.headers["ETag"] != before[url + repr(headers)]


def test_a_record_closed_since_is_not_revalidated(public, app):
    client = app.test_client(use_cookies=False)
    record = path_of(public, ITEM)
    urls = [(record, HTML), (record + ".ttl", {}), (record + ".jsonld", {}),
            (record, {"Accept": "application/ld+json"})]
    tags = [client.get(u, headers=h).headers["ETag"] for u, h in urls]
    public.repo.set_access(public.admin, ITEM, "restricted")
    for (url, headers), tag in zip(urls, tags, strict=True):
        resp = client.get(url, headers={**headers, "If-None-Match": tag})
        assert resp.status_code in (404, 410), url
        assert "ETag" not in resp.headers
        assert resp.headers.get("X-Accel-Expires") is None


def test_sessions_services_and_writes_get_no_public_etag(public, app):
    client = app.test_client(use_cookies=False)
    record = path_of(public, FILE)
    cases = [
        ("GET", record, {**HTML, "Authorization": "Bearer x"}),
        ("GET", record, {**HTML, "Cookie": "lantai_staff=abc"}),
        ("GET", record, {**HTML, "Cookie": "lang=en; other=1"}),
        ("GET", record + "?lang=en", HTML),  # sets the language cookie
        ("POST", "/sparql", {"Content-Type": "application/sparql-query"}),
        ("GET", "/api/openapi.json", {}),
        ("GET", "/requests/", HTML),
        ("GET", "/staff/login", HTML),
        ("GET", "/healthz", {}),
    ]
    for method, url, headers in cases:
        data = "ASK {}" if method == "POST" else None
        resp = fetch(client, url, headers, method, data)
        assert resp.status_code < 400, (method, url, resp.status_code)
        assert "X-Accel-Expires" not in resp.headers, (method, url)
        assert "public" not in resp.headers.get("Cache-Control", ""), (method, url)
        if resp.headers.get("ETag"):  # the API's own (revisions), never ours
            assert resp.headers.get("ETag") != client.get(record, headers=HTML).headers["ETag"]
        forged = fetch(client, url, {**headers, "If-None-Match": "*"}, method, data)
        assert forged.status_code != 304 or url == "/api/openapi.json", (method, url)


def test_not_found_is_not_tagged(public, app):
    client = app.test_client(use_cookies=False)
    for url in ("/id/record/nothing-here", "/id/record/nothing-here.ttl",
                "/iiif/manifest/record/nothing-here", "/exhibits/nothing-here"):
        resp = client.get(url)
        assert resp.status_code == 404
        assert "ETag" not in resp.headers and "X-Accel-Expires" not in resp.headers


def test_search_etag_follows_the_catalog_too(public, app):
    """The catalog is updated after the generation moves: a search page rendered between
    the two must not keep its ETag once the catalog has committed."""
    client = app.test_client(use_cookies=False)
    first = client.get("/search?q=1957", headers=HTML).headers["ETag"]
    record = path_of(public, FILE)
    page = client.get(record, headers=HTML).headers["ETag"]
    meta = catalog_path(public.home, True) / "meta.json"
    st = meta.stat()
    os.utime(meta, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # as a commit does
    assert client.get("/search?q=1957", headers=HTML).headers["ETag"] != first
    assert client.get(record, headers=HTML).headers["ETag"] == page  # pages do not read it


def test_every_worker_process_computes_the_same_etag(public, app):
    """Behind a proxy another worker answers the revalidation: its tag must be the same."""
    record = path_of(public, FILE)
    here = app.test_client(use_cookies=False).get(record, headers=HTML).headers["ETag"]
    script = ("import json; from publisher.app import create_app; "
              f"c = create_app({str(public.home)!r}).test_client(use_cookies=False); "
              f"print(json.dumps(c.get({record!r}, headers={HTML!r}).headers['ETag']))")
    proc = run_python(script, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == here
