"""The IIIF viewer on the public pages, in headless Chromium (issue 5, item 6).

A record page with scans must draw them from our Image API tiles; an oral history must
play from our media route with its WebVTT transcripts as tracks and in the viewer's
annotation panel. The viewer (Clover IIIF) is served from our static files: no request may
leave the site. Needs Playwright (Python) and a Chromium (Debian's ``chromium``); the
viewer is built by scripts/viewer-setup.sh (run here if it was not).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
from support import require

ROOT = Path(__file__).resolve().parents[1]
VIEWER = ROOT / "publisher" / "static" / "viewer" / "dist" / "viewer.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def unavailable(why: str) -> None:
    """A missing tool or reference file: a skip that says why, a failure under CI."""
    require(False, why)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright import sync_api
    except ImportError:
        unavailable("no Playwright (pip install -e '.[test]')")
    if CHROMIUM is None:
        unavailable("no Chromium (Debian: apt-get install chromium)")
    if not VIEWER.exists():
        if shutil.which("npm") is None:
            unavailable("the viewer is not built and npm is missing (scripts/viewer-setup.sh)")
        subprocess.run(["sh", str(ROOT / "scripts" / "viewer-setup.sh")], check=True,
                       timeout=600)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


def open_page(browser, url: str):
    page = browser.new_page()
    seen: list[tuple[int, str, str]] = []
    page.on("response", lambda r: seen.append((r.status, r.url,
                                               r.headers.get("content-type", ""))))
    page.goto(url)
    page.wait_for_selector("[data-viewer=clover]", timeout=20_000)
    return page, seen


def test_a_scan_is_drawn_from_our_tiles(browser, demo_server):
    page, seen = open_page(browser, f"{demo_server}/id/record/lecture-notes-1957?lang=en")
    try:
        page.wait_for_function(
            "() => performance.getEntriesByType('resource').some(e => "
            "/\\/iiif\\/3\\/notes-p1-jpg\\/\\d+,\\d+,\\d+,\\d+\\//.test(e.name))",
            timeout=20_000)
        page.wait_for_timeout(500)
        tiles = [(s, u, t) for s, u, t in seen if "/iiif/3/notes-p1-jpg/" in u
                 and not u.endswith("info.json")]
        assert tiles and all(s == 200 and t == "image/jpeg" for s, u, t in tiles)
        assert any(s == 200 and u.endswith("/iiif/3/notes-p1-jpg/info.json")
                   for s, u, _ in seen)
        assert page.locator("[data-viewer=clover] canvas").count() >= 1  # OpenSeadragon
        # the viewer and everything it loads come from our own site
        hosts = {urlparse(u).netloc for _, u, _ in seen if u.startswith("http")}
        assert hosts == {urlparse(demo_server).netloc}
        assert any(re.search(r"/static/viewer/[0-9a-f]{16}/viewer\.js$", u) for _, u, _ in seen)
    finally:
        page.close()


def test_an_oral_history_plays_with_its_transcript(browser, demo_server):
    page, seen = open_page(browser, f"{demo_server}/id/record/oh-01?lang=en")
    try:
        media = page.locator("[data-viewer=clover] video, [data-viewer=clover] audio").first
        media.wait_for(timeout=20_000)
        tracks = media.evaluate("m => [...m.querySelectorAll('track')].map(t => t.src)")
        assert sorted(tracks) == [f"{demo_server}/iiif/media/oh-01-en-vtt",
                                  f"{demo_server}/iiif/media/oh-01-zh-vtt"]
        media.evaluate("m => { m.muted = true; return m.play(); }")
        page.wait_for_function(
            "() => { const m = document.querySelector('[data-viewer=clover] video, "
            "[data-viewer=clover] audio'); return m && m.currentTime > 0.5; }",
            timeout=20_000)
        assert media.evaluate("m => m.currentSrc") == f"{demo_server}/iiif/media/oh-01-ogg"
        assert media.evaluate("m => m.duration") == pytest.approx(23.614, abs=0.1)
        # the transcript, cue by cue, in the viewer's annotation panel
        page.get_by_text("Annotations", exact=True).first.click()
        panel = page.locator("[data-viewer=clover]")
        # both transcripts, each fetched on its own: wait for the two (on a loaded machine the
        # second arrived after the first had been seen)
        for cue in ("我们那时年轻，相信西迁是对的。",
                    "We were young, and we believed in the move."):
            page.wait_for_function(
                "s => document.querySelector('[data-viewer=clover]').innerText.includes(s)",
                arg=cue, timeout=20_000)
        assert "We were young, and we believed in the move." in panel.inner_text()
        assert any(s == 200 and u.endswith("/iiif/media/oh-01-ogg/poster.jpg")
                   for s, u, _ in seen)
    finally:
        page.close()


def test_the_viewer_speaks_the_pages_language(browser, demo_server):
    """Clover shows a label's first language: our viewer asks for the page's language first
    (Accept-Language), and its own buttons and tabs follow the page too."""
    english = "Chen Yuanshan: the train west and the first winter in Xi'an"
    chinese = "陈远山口述：西迁的列车与西安的第一个冬天"
    for lang, tab, title, other in (("en", "About", english, chinese),
                                    ("zh", "说明", chinese, english)):
        page, _seen = open_page(browser, f"{demo_server}/id/record/oh-01?lang={lang}")
        try:
            panel = page.locator("[data-viewer=clover]")
            page.get_by_text(tab, exact=True).first.wait_for(timeout=20_000)
            # the summary of the About panel is in the page's language only
            page.wait_for_function(
                "s => document.querySelector('[data-viewer=clover]').innerText.includes(s)",
                arg="Chen Yuanshan remembers" if lang == "en" else "陈远山回忆", timeout=20_000)
            text = panel.inner_text()
            assert ("陈远山回忆" in text) == (lang == "zh"), lang
            assert ("Reference code" in text) == (lang == "en")
            # what the viewer was given: the page's language first
            manifest = page.evaluate(
                "u => fetch(u, {headers: {'Accept-Language': document.documentElement.lang}})"
                ".then(r => r.json())", f"{demo_server}/iiif/manifest/record/oh-01")
            first, second = manifest["label"].values()
            assert first == [title] and second == [other]
        finally:
            page.close()
