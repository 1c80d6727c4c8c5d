"""Request handling in a real browser (Chromium through playwright, a live waitress server):
the queue, a request's page, the type-ahead search (htmx under the workspace's strict CSP),
matching and selecting with the mouse, entering a request. Every page is audited as the
workspace's own pages are (axe-core: no serious or critical violation; no JavaScript error;
no CSP violation) — see tests/test_staff_browser.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from staff_support import set_password
from support import free_port, new_site, served
from test_staff_browser import Desk, Live, _tools, browser  # noqa: F401 (fixtures)

from services.requests.model import Personal
from services.requests.store import RequestStore

pytestmark = pytest.mark.browser
SCRIPT = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[Live, str]]:
    home = tmp_path_factory.mktemp("requests-browser") / "site"
    port = free_port()
    site = new_site(home, base=f"http://127.0.0.1:{port}")
    try:
        for name in ("editor", "reviewer"):
            set_password(site.repo, name)
    finally:
        site.close()
    store = RequestStore.open(home)
    req = store.create(kind="transcript", languages=("zh", "en"), copies=1,
                       delivery="both", channel="email", verified=True, actor="editor",
                       personal=Personal(name="张三" + SCRIPT, student_number="1957001",
                                         email="zhang@example.org", address="西安市"),
                       year_from=1955, year_to=1959)
    store.close()
    with served(home, port, threads=8) as url:
        yield Live(home, url), req.id


@pytest.fixture
def desk(browser, live) -> Iterator[Desk]:  # noqa: F811
    d = Desk(browser, live[0])
    yield d
    d.close()


def test_queue_request_page_type_ahead_match_and_select(desk, live):
    _live, number = live
    page = desk.page
    desk.sign_in("editor")
    desk.open("/staff/requests/", name="requests-queue")
    assert page.locator(f"a:has-text('{number}')").count() == 1
    assert page.locator("table.request-queue td", has_text="onerror").count() == 1  # as text
    page.click(f"a:has-text('{number}')")
    page.wait_for_load_state("load")
    desk.audit("requests-page")
    page.click("text=Take it (assign to me)")
    page.wait_for_load_state("load")
    assert page.locator("#request-assignee").inner_text() == "editor"
    # typing searches (htmx posts with the page's CSRF token): the person appears
    page.fill("#find-q", "")
    page.type("#find-q", "zhang", delay=30)
    page.locator("#found-persons li").first.wait_for(timeout=10_000)
    desk.audit("requests-found")
    with page.expect_navigation():
        page.locator("#found-persons button").first.click()
    assert "zhang" in page.locator("#request-person").inner_text().lower()
    page.fill("#find-q", "")
    page.type("#find-q", "page", delay=30)
    page.fill("#find-years", "")
    page.locator("#found-records li").first.wait_for(timeout=10_000)
    with page.expect_navigation():
        page.locator("#found-records button").first.click()
    assert page.locator("#selection li").count() == 1
    desk.audit("requests-selected")
    desk.open("/staff/requests/new", name="requests-new")
    page.check("input[name=channel][value=wechat]")
    page.fill("#f-name", "李四")
    page.fill("#f-email", "li@example.org")
    with page.expect_navigation():
        page.click("form[enctype] button[type=submit]")
    assert "/staff/requests/CD" in page.url
    desk.audit("requests-entered")
