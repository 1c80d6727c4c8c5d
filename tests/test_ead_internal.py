"""EAD ``audience="internal"`` stays internal: closed components, staff-only notes.

A finding aid marks what is not for the public with ``audience="internal"``. Imported, a
component so marked (or with a title, a digital object… so marked) must arrive closed, and a
note so marked must be kept staff-only, so that ``publish --recursive`` cannot put any of it
on a public surface. The test plants canaries in every internal place
(``tests/fixtures/ead/internal.xml``), imports and publishes with the real ``lantai``
command, serves the site over real HTTP and crawls every public surface from the usual
entry points (the helpers of ``test_leaks``), then looks for the canaries.
"""

from __future__ import annotations

import re
import urllib.parse
from collections import deque
from pathlib import Path

import pytest
import requests
from pyoxigraph import Store
from support import free_port, run_lantai, served
from test_leaks import body_text, image_api_urls, links_in, without_echo

from repo.repository import Repository

FIXTURE = Path(__file__).parent / "fixtures" / "ead" / "internal.xml"
CANARY = re.compile(r"CANARY-INTERNAL-[A-Z]+")


def canaries(path: Path) -> set[str]:
    return set(CANARY.findall(path.read_text(encoding="utf-8")))


def crawl(origin: str, seeds: list[str], limit: int = 1500) -> dict[str, str]:
    """Every same-site URL reachable from ``seeds``, with its body as text."""
    session = requests.Session()
    queue = deque(origin + s for s in seeds)
    seen = set(queue)
    bodies: dict[str, str] = {}
    while queue and len(bodies) < limit:
        url = queue.popleft()
        resp = session.get(url, timeout=60, headers={"Accept": "text/html,*/*;q=0.8"})
        text = body_text(resp) if resp.status_code == 200 else None
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


def seeds_for(planted: set[str]) -> list[str]:
    out = ["/", "/?lang=en", "/robots.txt", "/sitemap.xml", "/.well-known/void",
           "/dumps/lantai.nq.gz", "/dumps/lantai.ttl.gz", "/search?q=minutes",
           "/search?q=relocation&lang=en", "/api/openapi.json"]
    for fmt in ("json", "xml"):
        out.append("/sparql?" + urllib.parse.urlencode(
            {"query": "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", "format": fmt}))
    out.append("/sparql?" + urllib.parse.urlencode(
        {"query": "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }", "format": "nt"}))
    out += ["/search?" + urllib.parse.urlencode({"q": c}) for c in sorted(planted)]
    return out


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, int]:
    """A new site whose base IRI is the URL it will be served at (so links are followed)."""
    port = free_port()
    home = tmp_path / "home"
    repo, _ = Repository.init(home, f"http://127.0.0.1:{port}")
    repo.close()
    return home, port


def published_literals(home: Path) -> str:
    store = Store.read_only(str(home / "publication"))
    return "\n".join(q.object.value for q in store if hasattr(q.object, "value"))


def test_internal_material_never_reaches_a_public_surface(home):
    home, port = home
    planted = canaries(FIXTURE)
    assert len(planted) == 9
    imported = run_lantai(home, "import", "ead", str(FIXTURE))
    said = imported.stdout + imported.stderr
    assert "3 component(s) marked internal arrived closed; " \
           "5 internal note(s) kept staff-only" in said, said
    top = re.search(r"→ (\S+):", imported.stdout).group(1)
    run_lantai(home, "publish", top, "--recursive")

    public = published_literals(home)
    assert "OPEN-COLLECTION" in public and "OPEN-SCOPE" in public and "OPEN-SERIES" in public
    assert not [c for c in planted if c in public]

    with served(home, port) as origin:
        bodies = crawl(origin, seeds_for(planted))
        assert any("OPEN-SERIES" in text for text in bodies.values()), "the crawl saw it"
        assert len(bodies) > 10
        leaks = [(url, c) for url, text in bodies.items() for c in planted
                 if c in without_echo(url, text)]
        assert not leaks, leaks[:10]

    # staff still have everything (the working store, through the repository)
    repo = Repository.open(home)
    try:
        admin = repo.user("admin")
        staff = "\n".join(q.object.value for _, obj in repo.walk(admin, top)
                          for q in obj.description)
        assert not [c for c in planted - {"CANARY-INTERNAL-DAO"} if c not in staff]
        closed = {obj.path.rsplit("/", 1)[-1]: obj.access for _, obj in repo.walk(admin, top)}
        assert closed["s-1"] == closed["s-2-1"] == closed["s-2-2"] == "restricted"
        assert closed["s-2"] != "restricted"
    finally:
        repo.close()


def test_internal_archdesc_closes_the_whole_finding_aid(home, tmp_path):
    home, port = home
    text = FIXTURE.read_text(encoding="utf-8").replace(
        '<archdesc level="collection">', '<archdesc level="collection" audience="internal">')
    path = tmp_path / "internal-archdesc.xml"
    path.write_text(text, encoding="utf-8")
    imported = run_lantai(home, "import", "ead", str(path))
    assert "4 component(s) marked internal arrived closed" in imported.stderr
    top = re.search(r"→ (\S+):", imported.stdout).group(1)
    run_lantai(home, "publish", top, "--recursive")
    public = published_literals(home)
    assert "OPEN-" not in public and "CANARY" not in public
    with served(home, port) as origin:
        bodies = crawl(origin, seeds_for(canaries(path)))
        assert not [url for url, body in bodies.items()
                    if "CANARY" in without_echo(url, body) or "OPEN-" in body]


EDGES = """<?xml version="1.0" encoding="UTF-8"?>
<ead><eadheader><eadid>EDGES-1</eadid><filedesc><titlestmt><titleproper>Edges</titleproper>
</titlestmt></filedesc></eadheader>
<archdesc level="fonds"><did><unittitle>OPEN-FONDS edges</unittitle></did>
 <dsc>
  <c level="series"><did><unittitle>OPEN-SERIES with a late note</unittitle></did>
   <c level="item"><did><unittitle>OPEN-ITEM</unittitle><unitdate normal="1950">1950</unitdate>
    </did><accruals audience="INTERNAL"><p>CANARY-INTERNAL-ACCRUALS none expected</p>
    </accruals></c>
   <odd audience="internal"><p>CANARY-INTERNAL-LATE after the children</p></odd>
  </c>
 </dsc>
 <dsc audience="internal">
  <c level="series"><did><unittitle>CANARY-INTERNAL-DSC series</unittitle></did></c>
 </dsc>
</archdesc></ead>"""


def test_internal_in_a_dsc_after_children_and_in_capitals(empty_site, tmp_path):
    """A dsc marked internal, a note after the child components (read in the first pass),
    ``INTERNAL`` in capitals, a note an item has no field of its own for (accruals)."""
    from repo.importers.run import import_ead

    path = tmp_path / "edges.xml"
    path.write_text(EDGES, encoding="utf-8")
    repo, admin = empty_site.repo, empty_site.admin
    report = import_ead(repo, admin, path)
    assert report.internal == ("1 component(s) marked internal arrived closed; "
                               "2 internal note(s) kept staff-only")
    for _, obj in repo.walk(admin, report.top):
        repo.transition(admin, obj.path, "publish")
    public = "\n".join(q.object.value for q in repo.public if hasattr(q.object, "value"))
    assert "OPEN-FONDS" in public and "OPEN-SERIES" in public and "OPEN-ITEM" in public
    assert "CANARY" not in public
    staff = "\n".join(q.object.value for _, o in repo.walk(admin, report.top)
                      for q in o.description)
    assert "CANARY-INTERNAL-ACCRUALS" in staff and "CANARY-INTERNAL-LATE" in staff
