"""The add form in a real browser (Chromium, playwright, a live server): what needs script —
type-ahead over the staff catalog, "Add another" rows made in place, the date and 档号 hints —
works under the workspace's Content-Security-Policy, and every page passes axe-core.

The live site, the browser and the audited ``Desk`` are those of ``test_staff_browser``.
"""

from __future__ import annotations

import pytest
from test_staff_browser import Desk, _tools, browser, live  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(browser, live):  # noqa: F811
    d = Desk(browser, live)
    yield d
    d.close()


def test_add_a_file_with_type_ahead_another_row_and_hints(desk):
    page = desk.page
    desk.sign_in("editor")
    desk.open("/staff/add/xjtu/students?type=file", name="add-file")
    form = page.locator("form.record-form")
    form.locator('[name="title@zh"]').fill("1958年新生名册")
    form.locator('[name="title@en"]').fill("Register of freshmen 1958")

    # the date as written: the hint says how it is read; the code the repository will give
    date = form.locator('[name="date"]').first
    date.fill("1958年9月")
    page.locator("#field-date output").first.filter(has_text="1958-09").wait_for()
    page.locator("#refcode-check").filter(has_text="0421-XS·1958-Y-0001").wait_for()

    # type-ahead: a few letters, and the staff catalog's agents are offered
    creator = form.locator('[name="creator"]').first
    creator.press_sequentially("zha", delay=40)
    page.locator("#field-creator datalist option[value='/agents/zhang-san']").first.wait_for(
        state="attached")
    creator.fill("/agents/zhang-san")

    # "Add another": a new empty row in place (no page load), focused
    rows = form.locator('[name="subject"]')
    before = rows.count()
    url = page.url
    page.locator('#field-subject button.add-row').click()
    assert rows.count() == before + 1 and page.url == url
    assert page.evaluate("document.activeElement.name") == "subject"
    rows.last.fill("/agents/xian")
    desk.audit("add-file-filled")

    with page.expect_navigation():
        form.locator("button.primary").click()
    assert "/staff/edit/xjtu/students/" in page.url and "saved=1" in page.url
    desk.audit("add-file-saved")
    saved = page.locator("form.record-form")
    assert saved.locator('[name="refcode"]').input_value() == "0421-XS·1958-Y-0001"
    assert saved.locator('[name="begin"]').input_value() == "1958-09"
    assert saved.locator('[name="creator"]').first.input_value() == "/agents/zhang-san"
    assert "/agents/xian" in [saved.locator('[name="subject"]').nth(i).input_value()
                              for i in range(saved.locator('[name="subject"]').count())]


def test_a_refusal_is_shown_next_to_its_field_and_passes_axe(desk):
    page = desk.page
    desk.sign_in("editor")
    desk.open("/staff/edit/xjtu/students")
    page.locator('[name="title@zh"]').fill("Students")  # Latin text tagged Chinese
    with page.expect_navigation() as nav:
        page.locator("form.record-form button.primary").click()
    assert nav.value is not None and nav.value.status == 422
    desk.audit("edit-refused")
    assert page.locator("#field-title .field-error").is_visible()
    assert page.locator('[name="title@zh"]').input_value() == "Students"  # kept as typed
    assert page.evaluate("document.activeElement.id") == "form-errors"  # the summary, focused
