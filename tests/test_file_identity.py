"""File identity is set by media ingest only (issue 10, item 2).

An Editor PATCHing a public scan's ``digest`` to the digest of a closed file (any staff user
can read it) served the closed image, its OCR text and search hits publicly. Here the closed
file's OCR holds a canary; the edit is refused through the API and the CLI, so are the other
fields that name the bytes, a new scan naming the closed file and a revert, and the canary
reaches no public surface.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from support import FILE, FONDS, ITEM, run_lantai
from test_api import Api

from iiif import ocr
from repo.catalog.search import Catalog
from repo.errors import Forbidden
from repo.files import FileStore
from repo.repository import Repository

CANARY = "CANARYclosed4711"
SCAN = ITEM + "/scan"


def store_scan(home: Path, tmp_path: Path, name: str, colour: str, text: str) -> str:
    """A real PNG in the file store, with its OCR derivative (as media ingest makes it)."""
    png = tmp_path / f"{name}.png"
    Image.new("RGB", (600, 200), colour).save(png)
    digest = FileStore.for_site(home).put(png)
    target = ocr.derivative_dir(home, digest) / ocr.OCR_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    page = ocr.Page(600, 200, [ocr.Line(text, 10, 10, 500, 40, 0.99)], "fixture")
    target.write_text(json.dumps(page.data(digest)), encoding="utf-8")
    return digest


def scan_fields(digest: str) -> dict:
    return {"title": {"en": "Page one"}, "mime": "image/png", "width": "600", "height": "200",
            "digest": digest}


@pytest.fixture
def scans(site, tmp_path):
    """A published scan of the public item, and a closed item's scan whose OCR holds the
    canary (published too, but inside a restricted record)."""
    repo, admin = site.repo, site.admin
    open_digest = store_scan(site.home, tmp_path, "open", "white", "An open register page")
    closed_digest = store_scan(site.home, tmp_path, "closed", "grey", f"Secret list {CANARY}")
    repo.create(admin, ITEM, "instantiation", scan_fields(open_digest), slug="scan",
                key="scan-open")
    closed = repo.create(admin, FILE, "item", {"title": {"en": "Closed list"}},
                         slug="closed", key="closed", access="restricted")
    repo.create(admin, closed.path, "instantiation", scan_fields(closed_digest), slug="scan",
                key="scan-closed")
    repo.transition(admin, FONDS, "publish", recursive=True)
    return site, open_digest, closed_digest


def assert_no_canary_in_public(home: Path, open_digest: str) -> None:
    from publisher.app import create_app

    client = create_app(home).test_client()
    ann = client.get("/iiif/annotations/scan-open/ocr")
    assert ann.status_code == 200 and "open register" in ann.get_data(as_text=True)
    assert CANARY not in ann.get_data(as_text=True)
    found = client.get("/iiif/search/record/page-1", query_string={"q": CANARY})
    assert found.get_json()["items"] == []
    manifest = client.get("/iiif/manifest/record/page-1").get_data(as_text=True)
    assert "scan-closed" not in manifest
    with Repository.open(home, wait=5) as repo:
        assert repo.load(repo.resolve(SCAN)).fields()["digest"] == [open_digest]
        assert Catalog.for_repository(repo, public=True).search(CANARY).total == 0


def test_the_api_refuses_to_point_a_public_scan_at_a_closed_file(scans):
    site, open_digest, closed_digest = scans
    api = Api(site)
    for body in ({"fields": {"digest": closed_digest}}, {"fields": {"mime": "image/jpeg"}},
                 {"fields": {"width": "601"}}, {"fields": {"digest": None}},
                 {"add": {"derivedFrom": [FILE + "/closed/scan"]}}):
        for user in ("editor", "manager"):  # even a Manager: ingest sets these, nobody edits
            resp = api.patch(SCAN, body, user=user)
            assert resp.status_code == 403, (body, resp.get_data(as_text=True))
            assert "media ingest" in resp.get_json()["message"]
    # a new scan of the public record naming the closed file (then published by a reviewer)
    resp = api.post(ITEM, {"type": "instantiation", "slug": "copy",
                           "fields": scan_fields(closed_digest)}, user="editor")
    assert resp.status_code == 403, resp.get_data(as_text=True)
    # a description edit is still an edit like any other
    resp = api.patch(SCAN, {"fields": {"title": {"en": "Page one, recto"}}}, user="editor")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert_no_canary_in_public(api.home, open_digest)


def test_the_cli_refuses_too_with_exit_4(scans):
    site, open_digest, closed_digest = scans
    home = site.home
    site.close()
    for args in (("--set", f"digest={closed_digest}"), ("--unset", "digest"),
                 ("--set", "mime=image/jpeg")):
        proc = run_lantai(home, "edit", SCAN, *args, user="editor", check=False)
        assert proc.returncode == 4, proc.stderr
        assert "media ingest" in proc.stderr and proc.stderr.count("\n") == 1
    proc = run_lantai(home, "add", ITEM, "instantiation", "--set", f"digest={closed_digest}",
                      "--set", "title@en=Copy", user="editor", check=False)
    assert proc.returncode == 4, proc.stderr
    assert_no_canary_in_public(home, open_digest)


def test_a_revert_keeps_the_file_identity_and_a_manager_may_reuse_a_file(scans):
    site, open_digest, closed_digest = scans
    repo, admin = site.repo, site.admin
    repo.edit(admin, SCAN, set={"title@en": "Renamed"})
    reverted = repo.revert(admin, SCAN, 1)  # revision 1 is the scan as created
    assert reverted.fields()["digest"] == [open_digest]
    # who may open the closed record to the public may also make a copy of its scan
    copy = repo.create(admin, ITEM, "instantiation", scan_fields(closed_digest), slug="copy")
    assert copy.fields()["digest"] == [closed_digest]
    with pytest.raises(Forbidden, match="not a file you may attach"):
        repo.create(site.role("Editor"), ITEM, "instantiation", scan_fields(closed_digest))
