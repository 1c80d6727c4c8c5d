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
from support import require

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True, scope="module")
def _chromium() -> None:
    require(Path(CHROMIUM).exists(),
            "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")


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


PAGES = ["/", "/exhibits/", "/exhibits/westward-relocation",
         "/exhibits/westward-relocation/westward-departure", "/id/record/admission-letter-1956",
         "/id/agent/chen-yuanshan", "/id/recordset/xjtu", "/search?q=西迁", "/sparql",
         "/id/record/never-existed"]

STRUCTURE = """() => {
  const levels = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1]);
  const skips = []; let prev = 0;
  for (const l of levels) { if (l > prev + 1) skips.push(prev + '->' + l); prev = l; }
  const unlabelled = [...document.querySelectorAll('main input, main select, main textarea,'
      + ' header input')].filter(e => e.type !== 'hidden' && e.type !== 'submit'
      && !e.closest('.iiif-viewer') && !e.getAttribute('aria-label')
      && !(e.id && document.querySelector('label[for="' + e.id + '"]')) && !e.closest('label'))
    .map(e => e.outerHTML.slice(0, 80));
  const W = window.innerWidth;
  const wide = [...document.querySelectorAll('main *')].filter(e => !e.closest('.iiif-viewer')
      && e.getBoundingClientRect().right > W + 1).map(e => e.tagName + ' ' +
      (e.textContent || '').trim().slice(0, 40));
  return {h1: levels.filter(l => l === 1).length, skips, unlabelled, wide,
          noAlt: [...document.querySelectorAll('main img:not([alt])')].length,
          header: !!document.querySelector('header.site-header .lang-switch'),
          footer: !!document.querySelector('footer.site-footer'),
          lang: document.documentElement.lang};
}"""


@pytest.mark.parametrize("width", [1280, 375])
def test_every_page_has_one_look_and_sound_structure(browser, demo_server, width):
    """Every kind of public page extends base.html (header with the language switch, footer),
    in both languages: one h1, no skipped heading levels, labelled fields, alt text, and on a
    phone nothing wider than the screen (a long IRI in "cite" once widened exhibit pages)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems = []
    try:
        for path in PAGES:
            for lang in ("zh", "en"):
                sep = "&" if "?" in path else "?"
                page.goto(f"{demo_server}{path}{sep}lang={lang}")
                got = page.evaluate(STRUCTURE)
                want_lang = "zh-Hans" if lang == "zh" else "en"
                if (got["h1"] != 1 or got["skips"] or got["unlabelled"] or got["noAlt"]
                        or not got["header"] or not got["footer"] or got["lang"] != want_lang
                        or got["wide"]):
                    problems.append(f"{width}px {path} {lang}: {got}")
        if width == 375:
            page.goto(demo_server + "/exhibits/westward-relocation?lang=zh")
            shot(page, "exhibit-phone-zh")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


CONTRAST = """(sel) => {
  const lum = c => { const m = c.match(/[\\d.]+/g).map(Number);
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(m[0]) + 0.7152 * f(m[1]) + 0.0722 * f(m[2]); };
  const bg = el => { for (; el; el = el.parentElement) { const c = getComputedStyle(el)
      .backgroundColor; const m = c.match(/[\\d.]+/g); if (m && (m.length < 4 || +m[3] > .5))
      return c; } return 'rgb(255, 255, 255)'; };
  return [...document.querySelectorAll(sel)].filter(e => e.textContent.trim()
      && e.getBoundingClientRect().width > 0).map(e => {
    const t = [...e.querySelectorAll('*')].reverse().find(x => [...x.childNodes].some(
        n => n.nodeType === 3 && n.textContent.trim())) || e;  // the element holding the text
    const a = lum(getComputedStyle(t).color), b = lum(bg(t));
    return [e.textContent.trim().slice(0, 20), (Math.max(a, b) + .05) / (Math.min(a, b) + .05)];
  });
}"""


def test_site_styles_do_not_leak_into_the_viewer(page, demo_server):
    """The site's white-on-red button style once reached the IIIF viewer's transparent tab
    buttons, leaving "About" and "Search" white on white; every labelled button on a record
    page (the site's and the viewer's) must be readable (WCAG AA, 4.5:1)."""
    page.goto(demo_server + "/id/record/admission-letter-1956?lang=en")
    page.wait_for_selector(".iiif-viewer button", timeout=20_000)
    page.wait_for_timeout(1000)
    ratios = page.evaluate(CONTRAST, "button")
    assert len(ratios) >= 3, ratios
    unreadable = [(text, round(r, 2)) for text, r in ratios if r < 4.5]
    assert not unreadable, unreadable
