"""The request form on a phone: headless Chromium (Debian's, through playwright) at a phone's
width, over real HTTP (waitress), with the code read from a real SMTP server — the way a
graduate far away uses it. Screenshots go to ``tests/artifacts/screenshots/``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from smtp_support import SmtpServer
from support import free_port, new_site, require, served

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path, smtp: SmtpServer):
    require(Path(CHROMIUM).exists(),
            "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    port = free_port()
    site = new_site(tmp_path / "site", base=f"http://127.0.0.1:{port}", tree=False)
    smtp.configure(site.home)
    site.close()
    with served(site.home, port) as url:
        yield url


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_graduate_requests_her_transcript_on_her_phone(server, smtp):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport=PHONE, locale="en-GB", is_mobile=True,
                                          has_touch=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text)
                    if "Content Security Policy" in msg.text else None)  # a blocked style
            page.goto(server + "/")
            page.click("a[href='/requests/']")  # from the site's navigation
            assert page.url == server + "/requests/"
            # the form fits the phone: nothing wider than the screen
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the page is {width}px wide on a phone"
            shot(page, "requests-form-phone")
            page.fill("#f-name", "林晓")
            page.fill("#f-student_number", "2005123456")
            page.fill("#f-year_from", "2005")
            page.fill("#f-year_to", "2009")
            page.fill("#f-department", "School of Energy")
            page.fill("#f-id_number", "440301198701011234")
            page.check("input[name=languages][value=en]")
            page.fill("#f-purpose", "visa <b>application</b>")
            page.fill("#f-email", "lin.xiao@example.org")
            page.click("form.rq-form button[type=submit]")
            page.wait_for_load_state()
            shot(page, "requests-code-phone")
            assert page.locator("#f-code").count(), page.inner_text("main")
            code = smtp.code_in(smtp.wait_for(to="lin.xiao@example.org"))
            page.fill("#f-code", code)
            page.click("form[action$='verify-email'] button[type=submit]")
            number = page.locator(".rq-number").inner_text().strip()
            assert re.fullmatch(r"CD\d{4}(-[0-9A-Z]{4}){4}", number)
            assert "/requests/" in page.url and "CD" not in page.url
            shot(page, "requests-submitted-phone")

            # the status page, with the number and the address, and the code e-mailed
            page.goto(server + "/requests/status")
            before = len(smtp.messages)
            page.fill("#f-number", number.lower())  # typed carelessly: still found
            page.fill("#f-email", "Lin.Xiao@example.org")
            page.click("form.rq-form button[type=submit]")
            page.wait_for_selector("#f-code")
            code = smtp.code_in(smtp.wait_for(to="lin.xiao@example.org", after=before))
            page.fill("#f-code", code)
            page.click("form[action$='/requests/status'] button[type=submit]")
            page.wait_for_selector(".rq-facts")
            text = page.inner_text("main")
            assert number in text and "Submitted, waiting for the archive" in text
            assert page.url == server + "/requests/status"
            shot(page, "requests-status-phone")
            assert not errors, errors
        finally:
            browser.close()
