"""Closed stays closed when the public tier reads the publication from an external engine.

The whole demo (canaries planted, record requests, filing, growth) is synced into each engine
(``oxigraph serve``, Virtuoso), and a **replica home** (``lantai engine replica``: no working
store, no originals) serves it over real HTTP on the site's own port. Then the leak crawl of
tests/test_leaks.py (its crawl and checks, not a copy) runs against it; and a record is
published, closed and the publication rebuilt, each step checked through the replica's
pages, search and SPARQL — with the replica's public catalog shipped *before* the close, as
a worker on another machine would have it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from engine_support import ENGINES, start_engine
from external_support import engine_password, replica, sync_engine
from support import free_port, served
from test_leaks import (
    check_closed_objects_answer_like_nothing_there,
    check_no_canary,
    check_no_link_to_a_closed_object,
    check_sparql_finds_no_canary,
    crawl_site,
)

from publisher.app import create_app

pytestmark = pytest.mark.slow

RECORD = "record/admission-letter-1956"
TITLE = "张明华的录取通知书"


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory) -> tuple[Path, int]:
    """The demo as `lantai demo` makes it, its base on a free port (served there later)."""
    from repo.demo import load_demo
    from repo.repository import Repository
    from services.filing.demo import load_demo_filing
    from services.growth.demo import load_demo_growth
    from services.requests.demo import load_demo_requests

    home = tmp_path_factory.mktemp("external-leaks") / "home"
    port = free_port()
    repo, _token = Repository.init(home, f"http://127.0.0.1:{port}")
    try:
        load_demo(repo, repo.user("admin"))
        load_demo_requests(home, repo, repo.user("admin"))
        load_demo_filing(home, repo, repo.user("admin"))
        load_demo_growth(home, repo, repo.user("admin"))
    finally:
        repo.close()
    return home, port


@pytest.fixture(scope="module", params=ENGINES)
def engine_site(request, tmp_path_factory, demo_site):
    """(url, writer home, engine, replica home): the replica served on the site's port."""
    home, port = demo_site
    base = f"http://127.0.0.1:{port}"
    with start_engine(request.param, tmp_path_factory.mktemp(request.param)) as engine, \
            engine_password(engine):
        sync_engine(engine, home, base)
        dest = replica(home, tmp_path_factory.mktemp(f"replica-{request.param}") / "home",
                       engine)
        with served(create_app(dest), port, threads=8) as url:
            yield url, home, engine, dest


def test_the_leak_crawl_passes_against_the_engine(engine_site):
    url, home, _engine, dest = engine_site
    assert not (dest / "working").exists() and not (dest / "publication").exists()
    crawl = crawl_site(url, home)
    paths = [u[len(url):] for u in crawl]
    assert len(crawl) > 100
    assert any(p.startswith("/id/") for p in paths) and "/sitemap.xml" in paths
    check_no_canary(crawl)
    check_no_link_to_a_closed_object(crawl, url, home)
    check_closed_objects_answer_like_nothing_there(url, home)
    check_sparql_finds_no_canary(url)


def _ask(url: str, iri: str) -> bool:
    resp = requests.get(url + "/sparql", params={
        "query": f"ASK {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}", "format": "json"}, timeout=30)
    assert resp.status_code == 200
    return bool(resp.json()["boolean"])


def _visible(url: str, iri: str) -> dict[str, bool]:
    path = iri[len(url):]
    out = {route: requests.get(url + route, timeout=30).status_code == 200
           for route in (path, path + ".ttl", path + ".jsonld",
                         "/iiif/manifest/" + path[len("/id/"):])}
    out["sparql"] = _ask(url, iri)
    out["search"] = path in requests.get(url + "/search", params={"q": TITLE},
                                         timeout=30).text
    out["sitemap"] = iri in requests.get(url + "/sitemap.xml", timeout=30).text
    return out


def test_publish_close_rebuild_through_the_engine(engine_site):
    """Each step seen on the replica's very next requests (no restart): closed → gone from
    pages, formats, the manifest, SPARQL, the sitemap and search (the replica's catalog is
    the one shipped before the close); opened and published again → back; a rebuild of the
    publication → the same."""
    from repo.repository import Repository

    url, home, engine, _dest = engine_site
    iri = f"{url}/id/{RECORD}"
    assert all(_visible(url, iri).values()), _visible(url, iri)

    def change(level: str) -> None:
        repo = Repository.open(home)
        try:
            repo.set_access(repo.user("admin"), iri, level)
        finally:
            repo.close()
        sync_engine(engine, home, url)

    change("restricted")
    seen = _visible(url, iri)
    assert not any(seen.values()), seen
    change("open")
    assert all(_visible(url, iri).values()), _visible(url, iri)
    from click.testing import CliRunner

    from repo.cli import main

    done = CliRunner().invoke(main, ["--home", str(home), "publish", "--rebuild"])
    assert done.exit_code == 0, done.output
    sync_engine(engine, home, url)
    assert all(_visible(url, iri).values()), _visible(url, iri)
    check_closed_objects_answer_like_nothing_there(url, home)
