"""Every public surface answers 410 Gone for an IRI that was public and was withdrawn.

DESIGN: IRIs are never reused, and one that was public stays a tombstone (``repo.gone``).
Its linked data in every format, its IIIF manifest, Content Search and the images, media and
OCR annotations of its instantiations answer 410; what was never public stays 404, the same
answer as an IRI that never existed. Real demo archive, real HTTP.
"""

from __future__ import annotations

import re

import pytest
import requests
from support import free_port, served

from repo.demo import load_demo
from repo.repository import Repository

RECORD = "admission-letter-1956"
FORMATS = ["", ".ttl", ".jsonld", ".nt", ".rdf", ".html"]
ACCEPTS = ["text/html", "text/turtle", "application/ld+json", "application/n-triples",
           "application/rdf+xml"]


def surfaces(url: str, kind: str, key: str, images: list[str]) -> list[str]:
    """Every public URL that names the object (and its images)."""
    found = [f"{url}/id/{kind}/{key}{ext}" for ext in FORMATS]
    found.append(f"{url}/iiif/manifest/{kind}/{key}")
    if kind == "record":  # Content Search 2.0 and 1.0, with their autocomplete
        found += [f"{url}/iiif/{api}/{kind}/{key}?q=a"
                  for api in ("search", "search/1", "autocomplete", "autocomplete/1")]
    for image in images:
        found.append(f"{url}/iiif/annotations/{image}/ocr")
        found += [f"{url}/id/instantiation/{image}", f"{url}/iiif/3/{image}/info.json",
                  f"{url}/iiif/3/{image}/full/max/0/default.jpg",
                  f"{url}/iiif/3/{image}/full/100,/0/default.jpg"]
    return found


def statuses(urls: list[str], accept: str | None = None) -> dict[str, int]:
    headers = {"Accept": accept} if accept else {}
    return {u: requests.get(u, headers=headers, timeout=60, allow_redirects=False).status_code
            for u in urls}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("gone") / "home"
    port = free_port()
    repo, _ = Repository.init(home, f"http://127.0.0.1:{port}")
    load_demo(repo, repo.user("admin"))
    with served(home, port) as url:
        yield url, repo
    repo.close()


@pytest.mark.slow
def test_a_withdrawn_record_is_410_on_every_surface(demo):
    url, repo = demo
    manifest = requests.get(f"{url}/iiif/manifest/record/{RECORD}", timeout=60)
    assert manifest.status_code == 200
    images = sorted(set(re.findall(r"/iiif/3/([A-Za-z0-9_-]+)", manifest.text)))
    assert images, "the demo record has scans"
    urls = surfaces(url, "record", RECORD, images)
    before = statuses(urls)
    assert set(before.values()) <= {200, 303}, before

    repo.transition(repo.user("admin"), f"{url}/id/record/{RECORD}", "withdraw",
                    recursive=True)
    after = statuses(urls)
    assert {u: s for u, s in after.items() if s != 410} == {}
    for accept in ACCEPTS:
        assert set(statuses(urls[:1], accept).values()) == {410}, accept

    never = statuses(surfaces(url, "record", "zz9-never", ["zz9-never"]))
    assert set(never.values()) == {404}, never


@pytest.mark.slow
def test_a_deleted_exhibit_is_410_on_every_surface(demo):
    url, repo = demo
    key = "covid-memories"
    urls = [*surfaces(url, "exhibit", key, []), f"{url}/iiif/collection/exhibit/{key}",
            f"{url}/exhibits/{key}"]
    urls.remove(f"{url}/iiif/manifest/exhibit/{key}")  # exhibits have a collection instead
    before = statuses(urls)
    assert set(before.values()) <= {200, 303}, before
    repo.delete(repo.user("admin"), f"{url}/id/exhibit/{key}", recursive=True)
    after = statuses(urls)
    assert {u: s for u, s in after.items() if s != 410} == {}
    never = statuses([u.replace(key, "zz9-never") for u in urls])
    assert set(never.values()) == {404}, never
