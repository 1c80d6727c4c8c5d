"""The viewer's script is sent compressed and cached by version (iiif/viewer_asset.py).

Over real HTTP, with a script of our own in the app's static folder (so the test does not
need npm, and can "rebuild" it): the record page names a URL with the script's hash, which
answers gzip to clients that accept it, the whole script to those that do not, and may be
kept for a year; a rebuild changes the URL and the old one leads to the new.
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

import pytest
import requests

from repo.demo import MEDIA_DIR
from repo.files import FileStore

sys.path.insert(0, str(Path(__file__).parent))
from support import ITEM, served

SCRIPT_SRC = re.compile(r'<script src="(/static/viewer/([0-9a-f]{16})/viewer\.js)" defer>')


@pytest.fixture
def viewer_site(site, tmp_path: Path):
    """The fixture item with a published scan (so its page embeds the viewer), served with
    its static files from ``tmp_path/static``; yields (base URL, the script's path)."""
    from publisher.app import create_app

    repo, admin = site.repo, site.repo.user("admin")
    digest = FileStore.for_site(site.home).put(MEDIA_DIR / "notes-p1.jpg")
    repo.create(admin, ITEM, "instantiation", {"mime": "image/jpeg", "width": "800",
                                               "height": "1130", "digest": digest},
                slug="scan", key="scan")
    repo.transition(admin, "/xjtu", "publish", recursive=True)
    app = create_app(site.home)
    app.static_folder = str(tmp_path / "static")
    script = tmp_path / "static" / "viewer" / "dist" / "viewer.js"
    script.parent.mkdir(parents=True)
    script.write_bytes(_build(1))
    with served(app) as base:
        yield base, script


def _build(n: int) -> bytes:
    """A script the size of a real bundle, as compressible as minified JavaScript is."""
    return (f"/* build {n} */" + "".join(
        f"function f{i}(a,b){{return a.map(x=>x*{i}+b).filter(Boolean)}}" for i in range(30_000)
    )).encode()


def _page_script(base: str) -> tuple[str, str]:
    page = requests.get(f"{base}/id/record/page-1", headers={"Accept": "text/html"},
                        timeout=60)
    assert page.status_code == 200
    found = SCRIPT_SRC.search(page.text)
    assert found, "the record page embeds the viewer by a versioned URL"
    return found.group(1), found.group(2)


def test_viewer_script_is_compressed_and_cached_by_version(viewer_site):
    base, script = viewer_site
    path, version = _page_script(base)
    url = base + path
    r = requests.get(url, headers={"Accept-Encoding": "gzip, br"}, stream=True, timeout=60)
    sent = r.raw.read(decode_content=False)
    assert r.status_code == 200
    assert r.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["Vary"]
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert r.headers["Content-Type"].startswith("text/javascript")
    assert gzip.decompress(sent) == script.read_bytes()
    assert len(sent) < len(script.read_bytes()) / 4
    # a client that does not take gzip gets the script itself
    plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=60)
    assert "Content-Encoding" not in plain.headers and plain.content == script.read_bytes()
    assert "Accept-Encoding" in plain.headers["Vary"]
    # revalidation (a client that ignores immutable) is a 304; only GET and HEAD answer
    again = requests.get(url, headers={"If-None-Match": r.headers["ETag"],
                                       "Accept-Encoding": "gzip"}, timeout=60)
    assert again.status_code == 304
    assert requests.head(url, timeout=60).status_code == 200
    assert requests.post(url, timeout=60).status_code == 405
    # a rebuild: the page names the new version at once, the old URL leads there
    script.write_bytes(_build(2))
    new_path, new_version = _page_script(base)
    assert new_version != version
    old = requests.get(url, allow_redirects=False, timeout=60)
    assert old.status_code == 302 and old.headers["Location"].endswith(new_path)
    assert "immutable" not in old.headers.get("Cache-Control", "")
    assert requests.get(base + new_path, timeout=60).content == script.read_bytes()
