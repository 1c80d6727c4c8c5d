"""A move may not make public what the mover may not open (issue 10, `move` publishes a
closed scan).

A fonds published inside a closed folder is not public; its scan's OCR holds a canary. An
Editor may move the (private) folder around, but moving it under an open parent would make
the fonds and the scan public without the right to open anything: refused (403 / exit 4),
and the canary reaches no public surface. A Manager, who may open it, may make that move.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import run_lantai
from test_api import Api
from test_file_identity import CANARY, scan_fields, store_scan

from repo.catalog.search import Catalog
from repo.errors import Forbidden
from repo.repository import Repository

BOX = "/vault/box"
SCAN = BOX + "/letters/letter/scan"


@pytest.fixture
def vault(site, tmp_path):
    """/vault (a closed folder) → box (folder) → fonds letters (published) → item → scan."""
    repo, admin = site.repo, site.admin
    digest = store_scan(site.home, tmp_path, "closed", "grey", f"Secret list {CANARY}")
    repo.create(admin, "/", "folder", {"title": {"en": "Vault"}}, slug="vault",
                access="restricted")
    repo.create(admin, "/vault", "folder", {"title": {"en": "Box"}}, slug="box")
    repo.create(admin, BOX, "fonds", {"title": {"en": "Letters"}}, slug="letters")
    repo.create(admin, BOX + "/letters", "item", {"title": {"en": "A letter"}}, slug="letter",
                access="open")
    repo.create(admin, BOX + "/letters/letter", "instantiation", scan_fields(digest),
                slug="scan", key="scan-hidden", access="open")
    repo.transition(admin, BOX + "/letters", "publish", recursive=True)
    assert not repo.is_public(repo.resolve(SCAN))
    return site


def canary_shows(home: Path) -> bool:
    """Does the closed scan's text reach a public surface (IIIF annotations, search)?"""
    from publisher.app import create_app

    client = create_app(home).test_client()
    ann = client.get("/iiif/annotations/scan-hidden/ocr")
    with Repository.open(home, wait=5) as repo:
        found = Catalog.for_repository(repo, public=True).search(CANARY).total
    return CANARY in ann.get_data(as_text=True) or found > 0


def test_an_editor_may_not_move_closed_content_into_the_open(vault):
    repo, editor = vault.repo, vault.role("Editor")
    for target in ("/", "/agents"):  # the root, an open folder
        with pytest.raises(Forbidden) as info:
            repo.move(editor, BOX, target)
        assert "would make" in info.value.message, info.value.message
    repo.create(vault.admin, "/", "folder", {"title": {"en": "Cellar"}}, slug="cellar",
                access="restricted")
    repo.move(editor, BOX, "/cellar")  # from closed to closed: nothing opens, allowed
    repo.move(editor, "/cellar/box", "/vault")
    home = vault.home
    api = Api(vault)
    resp = api.post(BOX + "/@move", {"target": "/"}, user="editor")
    assert resp.status_code == 403 and "would make" in resp.get_json()["message"], resp.data
    proc = run_lantai(home, "move", BOX, "/", user="editor", check=False)
    assert proc.returncode == 4 and proc.stderr.count("\n") == 1, proc.stderr
    assert not canary_shows(home)
    # one who may open it may make the move: then the scan is public (the check can fail)
    proc = run_lantai(home, "move", BOX, "/", user="manager", check=False)
    assert proc.returncode == 0, proc.stderr
    assert canary_shows(home)
