"""The filing plan's pages in a real browser (Debian's chromium through playwright), each
audited by axe-core (no serious or critical finding, no JS error, no CSP breach; see
``tests/test_staff_browser.py``): the plans, a draft plan with its forms, a refused task
with its problems, publication's outcome, a task's page, the units with a search; an
officer's 403. In English and Chinese.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from staff_support import PASSWORD, set_password
from support import AGENTS, SERIES, free_port, new_site, require, served
from test_staff_browser import ARGS, AXE, CHROMIUM, Desk, Live

from services.filing import plans, units
from services.filing.model import Task
from services.filing.store import FilingStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    require(CHROMIUM and AXE.exists(), "chromium and axe-core are needed")
    home = tmp_path_factory.mktemp("planning-browser") / "site"
    port = free_port()
    site = new_site(home, base=f"http://127.0.0.1:{port}")
    repo, admin = site.repo, site.admin
    try:
        repo.add_user(admin, "officer", roles=[], fullname="Officer")
        store = FilingStore.open(home)
        for code, zh in (("energy", "能源与动力工程学院"), ("ee", "电气工程学院")):
            repo.create(admin, AGENTS, "corporatebody", {"name": {"zh": zh, "en": code}},
                        slug=code)
            units.add_unit(repo, store, admin, f"{AGENTS}/{code}", code)
        units.appoint(repo, store, admin, "officer", "energy")
        for year in (2027, 2028):
            for unit in ("energy", "ee"):
                plans.add_task(store, repo, admin, Task(
                    id=0, year=year, unit=unit, category="XS", series=SERIES,
                    retention="Y", title_zh="毕业生学籍材料", title_en="Graduates' records",
                    expected=5, due=f"{year}-07-31"))
        plans.publish(store, repo, admin, 2028, None)
        store.close()
        for name in ("editor", "manager", "officer"):
            set_password(repo, name)
    finally:
        site.close()
    with served(home, port, threads=4) as url:
        yield Live(home, url)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_planning_pages_pass_axe(browser, live, lang):
    desk = Desk(browser, live, lang)
    try:
        desk.sign_in("manager", PASSWORD)
        desk.open("/staff/filing/plans")
        desk.open("/staff/filing/plans/2027")
        desk.open("/staff/filing/plans/2028")  # published: reminders, changes
        desk.open("/staff/filing/units?q=" + ("电气" if lang == "zh" else "ee"))
        page = desk.page
        desk.open("/staff/filing/plans/2027")
        task_link = page.locator("table.filing-tasks a").first
        with page.expect_navigation():
            task_link.click()
        desk.audit()
        # a refused task: its problems on the page, typed in through the form
        desk.open("/staff/filing/plans/2027")
        page.fill("#k-series", "/xjtu/nowhere")
        page.fill("#k-title-zh", "<b>补充</b>")
        page.fill("#k-expected", "3")
        page.fill("#k-due", "2027-05-31")
        with page.expect_navigation():
            page.click("form[action$='/tasks'] button[type=submit]")
        assert "no such container" in page.content()
        desk.audit()
    finally:
        desk.close()


def test_an_officer_gets_403_on_the_planning_pages(browser, live):
    desk = Desk(browser, live)
    try:
        desk.sign_in("officer", PASSWORD)
        assert "/staff/filing/plans" not in desk.page.content()
        desk.open("/staff/filing/plans", 403)
        desk.open("/staff/filing/units", 403)
    finally:
        desk.close()
