"""A pilot graduate's growth record end to end in a real browser (issue 13, Tests): Debian's
Chromium driven by playwright against the demo archive served over HTTP (waitress, as
``lantai serve``), with the pilot graduates' accounts of the demo.

苏明哲 (the model graduate of 2020) signs in → lands on his growth record: the timeline and
the list in four strands → filters a strand → downloads the signed PDF (its signature checked
by the validator of certified copies) → cannot open another graduate's record → shows his
research paper on the public student exhibit → it is on the public exhibit page and its
record page → withdraws it → the public site (crawled from its entry points) no longer has
it; no canary of the growth records is on any public page at any time.

Every staff page is audited by :class:`test_staff_browser.Desk` (axe-core: no serious or
critical violation; no JavaScript error, no CSP violation).
"""

from __future__ import annotations

import re
import urllib.parse
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from staff_support import PASSWORD, set_password
from support import free_port, require, served
from test_staff_browser import ARGS, AXE, CHROMIUM, Desk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STUDENT, OTHER = "sumingzhe", "/agents/fang-jiayi"
RECORD = "/xjtu/xs/growth/su-paper-2019"
TITLE_EN = "Su Mingzhe, research training paper"  # what the exhibit shows once consented
CRAWL_LIMIT = 400
LINK = re.compile(r'(?:href|src)="([^"#]+)')


@pytest.fixture(autouse=True, scope="module")
def _tools() -> None:
    require(Path(CHROMIUM).exists(),
            "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    require(AXE.exists(), "axe-core is not in staff/static/vendor (make staff-assets: npm)")


@dataclass
class Live:
    home: Path
    url: str
    record_iri: str = ""
    other_key: str = ""
    audited: list[dict] = field(default_factory=list)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    """The demo archive with the pilot graduates' accounts; the student has a password."""
    from repo.demo import load_demo
    from repo.repository import Repository
    from services.growth.demo import load_demo_growth

    home = tmp_path_factory.mktemp("growth-browser") / "site"
    port = free_port()
    repo, _ = Repository.init(home, f"http://127.0.0.1:{port}")
    try:
        admin = repo.user("admin")
        load_demo(repo, admin)
        load_demo_growth(home, repo, admin)
        set_password(repo, STUDENT)
        record_iri = repo.resolve(RECORD)
        other_key = repo.resolve(OTHER).rsplit("/", 1)[-1]
    finally:
        repo.close()
    with served(home, port, threads=8) as url:
        yield Live(home, url, record_iri, other_key)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def growth_canaries() -> list[str]:
    from repo.demo import canaries

    found = [c for c in canaries() if c.startswith(("CANARY-GROWTH-", "CANARY-GRADSTU-"))]
    assert len(found) == 27  # the demo's: a check that the list is not empty by mistake
    return found


def crawl(origin: str, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """The public site's text bodies reachable from its entry points (as a visitor or a
    harvester would go), and ``extra`` URLs."""
    seeds = ["/", "/?lang=en", "/exhibits/", "/exhibits/student-memories",
             "/exhibits/student-memories?lang=en", "/sitemap.xml", "/search?q=Su+Mingzhe",
             "/search?q=" + urllib.parse.quote("苏明哲"), "/.well-known/void", *extra]
    queue = deque(origin + s for s in seeds)
    seen, bodies = set(queue), {}
    session = requests.Session()
    while queue and len(bodies) < CRAWL_LIMIT:
        url = queue.popleft()
        resp = session.get(url, timeout=60)
        kind = resp.headers.get("Content-Type", "")
        if resp.status_code != 200 or not kind.startswith(("text/", "application/")) \
                or "pdf" in kind or "gzip" in kind:
            continue
        text = resp.text
        bodies[url] = text
        for raw in LINK.findall(text):
            link = urllib.parse.urljoin(url, raw.replace("&amp;", "&"))
            if link.startswith(origin) and "/staff/" not in link and "/iiif/3/" not in link \
                    and link not in seen:
                seen.add(link)
                queue.append(link)
    return bodies


def test_timeline_filter_pdf_consent_revoke_and_the_leak_crawl(browser, live, tmp_path):
    from services.requests.validation import inspect, trust_roots

    student = Desk(browser, live)
    try:
        page = student.page
        student.sign_in(STUDENT, PASSWORD, shot="growth-landing")
        assert "/staff/growth/me" in page.url, page.url
        # -- the timeline and the list: four strands, each with its entries
        page.wait_for_selector("#growth-timeline .vis-item")
        sections = page.locator("#growth-list section.growth-strand")
        assert sorted(sections.evaluate_all("s => s.map(e => e.dataset.strand)")) == [
            "honours", "party", "practice", "research"]
        items_before = page.locator("#growth-timeline .vis-item").count()
        assert items_before >= 4
        assert "Su Mingzhe" in page.locator("h1").inner_text()
        assert "CANARY-" not in page.locator("#growth-timeline").inner_text()
        # -- filter: the Party strand off (the timeline and the list follow at once)
        page.locator("#growth-filter input[value=party]").uncheck()
        page.wait_for_function(
            "() => document.querySelector('section[data-strand=party]').hidden")
        assert page.locator("#growth-timeline .vis-item").count() < items_before
        student.audit("growth-filtered")
        page.locator("#growth-filter input[value=party]").check()
        # -- the signed PDF
        with page.expect_download() as got:
            page.click("text=Download as a signed PDF")
        pdf = tmp_path / "growth.pdf"
        got.value.save_as(pdf)
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF-")
        # pyHanko runs its own event loop: not in this thread, where playwright's runs
        with ThreadPoolExecutor(1) as pool:
            found = pool.submit(inspect, data, trust_roots(live.home)).result(timeout=120)
        assert found.signatures == 1 and found.sound and found.intact and found.trusted
        # -- another graduate's record is not there for him
        student.open(f"/staff/growth/{live.other_key}", status=404)

        # -- consent: his research paper on the public student exhibit
        student.open("/staff/growth/consent/", name="growth-consent")
        row = page.locator("table.consent-records tr", has_text=TITLE_EN)
        with page.expect_navigation():
            row.locator("button:has-text('Show on the exhibit')").click()
        student.audit("growth-consented")
        assert page.locator("[role=status]").count() == 1
        public = crawl(live.url, (urllib.parse.urlparse(live.record_iri).path,))
        shown = [u for u, text in public.items() if TITLE_EN in text]
        assert any("/exhibits/student-memories" in u for u in shown), sorted(public)[:40]
        assert requests.get(live.record_iri, timeout=30,
                            headers={"Accept": "text/html"}).status_code == 200
        leaks = [(u, c) for u, text in public.items() for c in growth_canaries() if c in text]
        assert not leaks, leaks

        # -- withdrawn: gone from every public page the crawl reaches
        student.open("/staff/growth/consent/")
        row = page.locator("table.consent-records tr", has_text=TITLE_EN)
        with page.expect_navigation():
            row.locator("button:has-text('Withdraw')").click()
        student.audit("growth-withdrawn")
        public = crawl(live.url, (urllib.parse.urlparse(live.record_iri).path,))
        assert public, "the crawl found no public page"
        still = [u for u, text in public.items() if TITLE_EN in text or live.record_iri in text]
        assert not still, still
        assert requests.get(live.record_iri, timeout=30).status_code in (404, 410)
        leaks = [(u, c) for u, text in public.items() for c in growth_canaries() if c in text]
        assert not leaks, leaks
    finally:
        student.close()
