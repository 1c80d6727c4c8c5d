"""Cache lifetimes that respect closure: no IIIF answer may be kept by a browser or proxy
without asking again, and asking again after a record is closed or withdrawn is a 404 (or 410 Gone).

Over real HTTP (waitress) on a site of our own whose item has a page scan, a recording and
its English transcript, published; then closed (access) or withdrawn (workflow).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import requests

from repo.demo import MEDIA_DIR
from repo.files import FileStore

sys.path.insert(0, str(Path(__file__).parent))
from support import ITEM, served

# every kind of IIIF answer: image information, a stored tile (asked twice: the second
# comes from the WSGI fast path), a rendering, manifest, canvas, collection, media, poster,
# transcript text, annotation pages, Content Search and autocomplete
URLS = [
    "/iiif/3/scan/info.json",
    "/iiif/3/scan/0,0,256,256/256,/0/default.jpg",
    "/iiif/3/scan/0,0,256,256/256,/0/default.jpg",
    "/iiif/3/scan/full/100,/0/default.png",
    "/iiif/manifest/record/page-1",
    "/iiif/manifest/record/page-1/canvas/scan",
    "/iiif/collection/recordset/register-1957",
    "/iiif/media/rec",
    "/iiif/media/rec/poster.jpg",
    "/iiif/media/rec-en/text",
    "/iiif/annotations/scan/ocr",
    "/iiif/annotations/rec-en/transcript",
    "/iiif/search/record/page-1?q=library",
    "/iiif/autocomplete/record/page-1?q=li",
    "/iiif/search/1/record/page-1?q=library",
    "/iiif/autocomplete/1/record/page-1?q=li",
]
MAX_AGE = re.compile(r"(?:s-)?max-age=(\d+)")


@pytest.fixture
def av_site(site):
    """The fixture item with a page scan, a recording and a transcript (the demo's files;
    the scan's OCR comes with the demo), everything published; served over HTTP."""
    from publisher.app import create_app

    repo, admin = site.repo, site.repo.user("admin")
    files = FileStore.for_site(site.home)
    specs = [
        ("scan", MEDIA_DIR / "notes-p1.jpg", {"mime": "image/jpeg", "width": "800",
                                              "height": "1130"}),
        ("rec", MEDIA_DIR / "oh-01.ogg", {"mime": "audio/ogg", "extent": "PT23.614S"}),
        ("rec-en", MEDIA_DIR / "oh-01.en.vtt", {"mime": "text/vtt", "language": ["en"],
                                                "derivedFrom": [f"{ITEM}/rec"]}),
    ]
    for key, path, fields in specs:
        repo.create(admin, ITEM, "instantiation", {**fields, "digest": files.put(path)},
                    slug=key, key=key)
    repo.transition(admin, "/xjtu", "publish", recursive=True)
    with served(create_app(site.home)) as base:
        yield site, base


def _max_age(cache_control: str) -> int:
    return max((int(n) for n in MAX_AGE.findall(cache_control)), default=0)


def _fetch_all(base: str) -> dict[str, str]:
    """Every URL answers 200, may be kept only if revalidated, and has an ETag; a
    revalidation while it is public is a 304. Returns the ETags."""
    etags = {}
    for url in URLS:
        r = requests.get(base + url, timeout=60)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
        cache_control = r.headers.get("Cache-Control", "")
        assert "no-cache" in cache_control, (url, cache_control)
        assert _max_age(cache_control) == 0, (url, cache_control)
        assert r.headers.get("ETag"), url
        etags[url] = r.headers["ETag"]
        again = requests.get(base + url, headers={"If-None-Match": etags[url]}, timeout=60)
        assert again.status_code == 304, (url, again.status_code)
    return etags


def _all_gone(base: str, etags: dict[str, str]) -> None:
    for url, etag in etags.items():
        for headers in ({"If-None-Match": etag}, {}):  # a revalidation, and a first visit
            r = requests.get(base + url, headers=headers, timeout=60)
            # gone, never a 304: 404, or 410 where the surface knows it was public once
            # (publisher.gone)
            assert r.status_code in (404, 410), (url, headers, r.status_code)
            assert r.headers.get("Cache-Control") == "no-store", (url, r.headers)


def test_no_iiif_answer_is_kept_unasked_and_closing_makes_revalidation_404(av_site):
    site, base = av_site
    etags = _fetch_all(base)
    site.repo.set_access(site.repo.user("admin"), ITEM, "restricted")
    _all_gone(base, etags)


def test_withdrawing_makes_revalidation_404(av_site):
    site, base = av_site
    etags = _fetch_all(base)
    site.repo.transition(site.repo.user("admin"), ITEM, "withdraw")
    _all_gone(base, etags)  # the file is still public, but has nothing digitised left
