"""Certified copies (issue 12, item 4): a record's pages (services/requests/pages.py), the
certified PDF (certify.py) and its PAdES signature, checked with the real validators."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from iiif.media import ingest_media
from repo.errors import NotFound
from services.requests import pages

ITEM = "/xjtu/students/register-1957/page-1"


def scans(folder: Path) -> list[Path]:
    """Three page scans as archives hold them: a grey JPEG, a colour JPEG larger than A4 at
    300 dpi, and a landscape PNG with an alpha channel."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    grey = Image.new("L", (1240, 1754), 235)
    grey.save(folder / "p01.jpg", quality=85)
    made.append(folder / "p01.jpg")
    big = Image.new("RGB", (3000, 4200), (250, 245, 230))
    big.save(folder / "p02.jpg", quality=85)
    made.append(folder / "p02.jpg")
    wide = Image.new("RGBA", (1600, 1100), (20, 40, 200, 128))
    wide.save(folder / "p03.png")
    made.append(folder / "p03.png")
    return made


def test_record_pages_in_order_and_as_jpeg(site, tmp_path):
    repo, admin = site.repo, site.admin
    ingest_media(repo, admin, ITEM, scans(tmp_path / "scans"), ocr=False)
    found = pages.record_pages(repo, admin, ITEM)
    assert [p.number for p in found] == [1, 2, 3]
    assert [(p.width, p.height) for p in found] == [(1240, 1754), (3000, 4200), (1600, 1100)]
    assert [p.mime for p in found] == ["image/jpeg", "image/jpeg", "image/png"]
    assert {p.record for p in found} == {site.iris[ITEM]}
    # the record's file lists the same pages: a file's pages are its items' pages
    assert pages.record_pages(repo, admin, "/xjtu/students/register-1957") == found

    # a grey JPEG within A4 at 300 dpi is the scan as stored; the others are rendered
    store = repo.home / "files"
    first = pages.page_jpeg(repo, admin, found[0])
    assert first == pages.original_path(repo, admin, found[0]).read_bytes()
    assert str(pages.original_path(repo, admin, found[0])).startswith(str(store))
    for page, size in ((found[1], (2506, 3508)), (found[2], (1600, 1100))):
        data = pages.page_jpeg(repo, admin, page)
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "JPEG" and im.mode == "RGB" and im.size == size
    thumb = pages.page_jpeg(repo, admin, found[1], pages.THUMB_PX)
    with Image.open(io.BytesIO(thumb)) as im:
        assert max(im.size) == pages.THUMB_PX

    # a user who may not see the record sees no pages and no page
    with pytest.raises(NotFound):
        pages.record_pages(repo, site.user("nobody"), ITEM)
    with pytest.raises(NotFound):
        pages.page_jpeg(repo, site.user("nobody"), found[0])


def test_a_corrupt_scan_is_refused_with_one_line(site, tmp_path):
    repo, admin = site.repo, site.admin
    ingest_media(repo, admin, ITEM, scans(tmp_path / "scans")[1:2], ocr=False)
    page = pages.record_pages(repo, admin, ITEM)[0]
    path = pages.original_path(repo, admin, page)
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[: len(data) // 3])  # truncated on disk (a damaged store)
    with pytest.raises(Exception) as caught:
        pages.page_jpeg(repo, admin, page)
    assert "\n" not in str(caught.value)
