"""The public site in a real browser: headless Chromium (Debian's) driven by playwright.

Each test opens a page of the live demo server the way a visitor would, checks what they would
see, and saves a screenshot in ``tests/artifacts/screenshots/`` (kept by CI for people to look
at). Skipped, with the reason, where Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import requests

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (apt-get install "
                                       "chromium; .ci/run does it)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def public_urls(server: str, part: str) -> list[str]:
    sitemap = requests.get(server + "/sitemap.xml", timeout=30).text
    locs = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    nested = [u for u in locs if u.endswith(".xml")]
    for url in nested:
        locs += re.findall(r"<loc>([^<]+)</loc>", requests.get(url, timeout=30).text)
    return [u for u in locs if part in u]


def test_home_page(page, demo_server):
    page.goto(demo_server + "/?lang=zh")
    assert page.locator("h1").first.is_visible()
    assert page.locator("html").get_attribute("lang").startswith("zh")
    shot(page, "home-zh")
    page.goto(demo_server + "/?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(demo_server + "/")  # the choice is remembered
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, "home-en")


def test_exhibit_page(page, demo_server):
    page.goto(demo_server + "/exhibits/")
    links = page.locator("main a[href*='/exhibits/']")
    assert links.count() >= 3
    links.first.click()
    page.wait_for_load_state()
    assert page.locator("h1").first.is_visible()
    assert page.locator("h2").count() >= 1  # sections
    images = page.locator("main img")
    for i in range(images.count()):
        assert images.nth(i).get_attribute("alt") is not None
    shot(page, "exhibit")
    page.keyboard.press("Tab")  # keyboard: the first Tab reaches a link (the skip link)
    focused = page.evaluate("document.activeElement.tagName")
    assert focused in ("A", "BUTTON", "INPUT")


def test_record_page(page, demo_server):
    files = public_urls(demo_server, "/id/recordset/")
    assert files, "the sitemap lists public record sets"
    page.goto(files[0])
    assert page.locator("h1").first.is_visible()
    assert files[0] in page.content()  # cite this: the IRI is on the page
    data = page.locator("script[type='application/ld+json']")
    assert data.count() >= 1
    shot(page, "record")


def test_sparql_page_runs_a_query(page, demo_server):
    page.goto(demo_server + "/sparql")
    editor = page.locator("textarea").first
    editor.fill("PREFIX rico: <https://www.ica.org/standards/RiC/ontology#>\n"
                "SELECT ?s ?title WHERE { ?s rico:title ?title } LIMIT 5")
    run = "main button[type=submit], main button:has-text('Run'), main button:has-text('运行')"
    page.locator(run).first.click()
    page.wait_for_selector("table td", timeout=15_000)
    assert page.locator("table tbody tr").count() >= 1
    shot(page, "sparql")
