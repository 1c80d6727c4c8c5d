"""The filing loop end to end in a real browser (issue 13, Tests): Debian's Chromium driven by
playwright against the demo archive served over HTTP (waitress, as ``lantai serve``).

The archivist makes the 2027 plan from the template and publishes it → the School of
Energy's filing officer signs in, lands on her unit's page, opens the spring term's teaching
task and sends a spreadsheet (CSV) with three PDFs → the archivist, at the receiving desk,
returns one item with a rectification note and accepts the two others (records with 档号) →
the officer sees the note, corrects the item and sends it again → the archivist accepts it →
the plan's progress, the dashboard and the rates show three accepted, two of them at the
first submission.

Every page the people see is audited by :class:`test_staff_browser.Desk` (axe-core: no
serious or critical violation; no JavaScript error, no CSP violation).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from staff_support import PASSWORD, set_password
from support import free_port, require, served
from test_staff_browser import ARGS, AXE, CHROMIUM, Desk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

YEAR = 2027
OFFICER = "officer-energy"
TEACHER = "/agents/wu-qihang"
ROWS = (  # what the officer's spreadsheet describes (row 2 is returned: a vague title)
    ("《工程热力学》课程教学大纲（2027春）", "Syllabus of Engineering Thermodynamics (spring 2027)",
     "2027-02-20", "syllabus.pdf"),
    ("期末试卷", "Final examination", "2027-06-28", "exam.pdf"),
    ("《工程热力学》成绩册（2027春）", "Grade book of Engineering Thermodynamics (spring 2027)",
     "2027-07-05", "grades.pdf"),
)
FIXED_TITLE = "《工程热力学》期末试卷（2027春）"
NOTE = "题名应写明课程名称与学期。The title must name the course and the term."


@pytest.fixture(autouse=True, scope="module")
def _tools() -> None:
    require(Path(CHROMIUM).exists(),
            "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    require(AXE.exists(), "axe-core is not in staff/static/vendor (make staff-assets: npm)")


@dataclass
class Live:
    home: Path
    url: str
    audited: list[dict] = field(default_factory=list)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    """The demo archive (no filing demo: this test makes its own plan), the School of Energy
    a filing unit with its officer, the admin (an archivist) with a password."""
    from repo.demo import load_demo
    from repo.repository import Repository
    from services.filing import units
    from services.filing.store import FilingStore

    home = tmp_path_factory.mktemp("filing-browser") / "site"
    port = free_port()
    repo, _ = Repository.init(home, f"http://127.0.0.1:{port}")
    try:
        admin = repo.user("admin")
        load_demo(repo, admin)
        store = FilingStore.open(home)
        units.add_unit(repo, store, admin, "/agents/energy-school", "energy")
        repo.add_user(admin, OFFICER, fullname="林雪 Lin Xue")
        units.appoint(repo, store, admin, OFFICER, "energy")
        store.close()
        for name in ("admin", OFFICER):
            set_password(repo, name)
    finally:
        repo.close()
    with served(home, port, threads=8) as url:
        yield Live(home, url)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def files_for_the_officer(folder: Path) -> tuple[Path, list[Path]]:
    """The spreadsheet (CSV, UTF-8) and the PDFs it names, as a department would send."""
    from fpdf import FPDF

    sheet = folder / "2027春教学档案.csv"
    with sheet.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["title@zh", "title@en", "date", "creator", "file"])
        for zh, en, date, name in ROWS:
            out.writerow([zh, en, date, TEACHER, name])
    pdfs = []
    for _zh, en, _date, name in ROWS:
        pdf = FPDF()
        pdf.add_page()
        pdf.set_font("helvetica", size=14)
        pdf.multi_cell(0, 8, text=en)
        (folder / name).write_bytes(bytes(pdf.output()))
        pdfs.append(folder / name)
    return sheet, pdfs


def test_plan_submit_return_resubmit_accept_rates(browser, live, tmp_path):
    archivist, officer = Desk(browser, live), Desk(browser, live)
    try:
        # -- the archivist makes the 2027 plan from the template and publishes it
        archivist.sign_in("admin", PASSWORD)
        archivist.open("/staff/filing/plans", name="filing-plans")
        page = archivist.page
        page.fill("#f-year", str(YEAR))
        with page.expect_navigation():
            page.click("button:has-text('Make the draft plan')")
        assert page.url.endswith(f"/staff/filing/plans/{YEAR}?done=made"), page.url
        archivist.audit("filing-plan-draft")
        with page.expect_navigation():
            page.click("button:has-text('Publish the plan')")
        assert "published" in page.locator("#plan-state").inner_text()
        archivist.audit("filing-plan-published")

        # -- the officer signs in and lands on her unit's page with the plan's tasks
        officer.sign_in(OFFICER, PASSWORD)
        assert re.search(r"/staff/filing/unit/energy", officer.page.url), officer.page.url
        officer.open(f"/staff/filing/unit/energy?year={YEAR}", name="filing-unit")
        op = officer.page
        task_link = op.locator("a", has_text="Spring term teaching files").first
        with op.expect_navigation():
            task_link.click()
        officer.audit("filing-task")
        sheet, pdfs = files_for_the_officer(tmp_path)
        op.set_input_files("#sheet", str(sheet))
        op.set_input_files("#sheet-files", [str(p) for p in pdfs])
        with op.expect_navigation():
            op.click("button:has-text('Send the spreadsheet')")
        officer.audit("filing-sent")
        assert op.locator("table.filing-rows tr.ok").count() == len(ROWS), op.content()[-1500:]
        sub_id = op.locator("p a code").first.inner_text()
        assert sub_id.startswith(f"SUB-{YEAR}-")

        # -- the archivist returns row 2 with a note and accepts rows 1 and 3
        archivist.open("/staff/filing/receiving", name="filing-receiving")
        with page.expect_navigation():
            page.click(f"text={sub_id}")
        archivist.audit("filing-submission")
        items = page.locator("section.filing-item")
        assert items.count() == len(ROWS)
        second = items.nth(1)
        second.locator("textarea[name=note]").fill(NOTE)
        with page.expect_navigation():
            second.locator("button:has-text('Return to the unit')").click()
        for n in (0, 2):
            with page.expect_navigation():
                page.locator("section.filing-item").nth(n).locator(
                    "button:has-text('Accept into the archive')").click()
        archivist.audit("filing-decided")
        codes = page.locator("section.filing-item code")
        assert codes.count() == 2 and all(
            c.startswith("0421-JX·2027-") for c in codes.all_inner_texts())

        # -- the officer reads the note, corrects the title and sends the item again
        officer.open(f"/staff/filing/unit/energy?year={YEAR}")
        assert NOTE[:10] in op.content()
        with op.expect_navigation():
            op.locator("section[aria-labelledby=fix-heading] a").first.click()
        officer.audit("filing-correction")
        assert NOTE in op.locator("#rectification").inner_text()
        op.locator("input[name='title@zh']").first.fill(FIXED_TITLE)
        op.fill("#fix-note", "按要求补全题名。")
        with op.expect_navigation():
            op.click("button:has-text('Send again')")
        officer.audit("filing-resent")

        # -- the archivist accepts it: the history has every step
        archivist.open(f"/staff/filing/receiving/{sub_id}")
        with page.expect_navigation():
            page.locator("section.filing-item").nth(1).locator(
                "button:has-text('Accept into the archive')").click()
        archivist.audit("filing-all-accepted")
        assert page.locator("section.filing-item code").count() == 3
        history = page.content()
        for step in ("submitted", "returned", "resubmitted", "accepted"):
            assert step in history, step

        # -- progress and rates: 3 accepted of the task's 30, 2 at the first submission
        archivist.open(f"/staff/filing/plans/{YEAR}", name="filing-plan-progress")
        assert "3 / 30" in page.content()
        archivist.open(f"/staff/filing/?year={YEAR}", name="filing-dashboard")
        row = page.locator("#filing-categories tr[data-category=JX] td").all_inner_texts()
        # expected, submitted, returned, accepted, accepted first time, filing, quality rate
        assert row[1:5] == ["3", "1", "3", "2"], row
        energy = page.locator("#filing-units tr[data-unit=energy] td").all_inner_texts()
        assert energy[1:5] == ["3", "1", "3", "2"], energy
    finally:
        archivist.close()
        officer.close()
    from services.filing import rates
    from services.filing.store import FilingStore

    store = FilingStore.open(live.home)
    try:
        energy = rates.table(store, YEAR).unit("energy")
        jx = next(c for c in energy.categories if c.key == "JX")
        assert (jx.figures.submitted, jx.figures.returned, jx.figures.accepted,
                jx.figures.accepted_first_time) == (3, 1, 3, 2)
        assert jx.figures.quality_rate == pytest.approx(2 / 3)
    finally:
        store.close()
