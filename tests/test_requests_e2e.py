"""查档 end to end in a real browser (issue 12, Tests): Debian's Chromium driven by
playwright against the demo archive served over HTTP (waitress, as ``lantai serve``), mail
through a real local SMTP server (aiosmtpd), signatures checked by the validators a relying
party runs (the pyHanko CLI and poppler's ``pdfsig`` with an NSS database).

A graduate on a phone fills in the request form → reads the six-digit code from the e-mail →
gets her request number; an archivist signs in, takes the request, matches the graduate to her
person record, adds her (closed) transcript and issues a certified copy → the e-mail with the
download link arrives → the PDF downloads → ``pyhanko sign validate`` and ``pdfsig`` say valid
→ one byte changed → both, and ``/verify`` (upload), say broken → the archivist revokes the
copy → ``/verify?code=`` says revoked. Along the way: no public URL the browser asked for holds
the requester's personal values, number or codes, and neither does the server's request log.

Screenshots of the phone-width form and of the verify page go to ``tests/artifacts/``.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from staff_support import PASSWORD, set_password
from support import free_port, require, served

from publisher import requestlog

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts"
PYHANKO = (shutil.which("pyhanko", path=str(Path(sys.executable).parent))
           or shutil.which("pyhanko"))
PHONE = {"width": 390, "height": 844}
TRANSCRIPT = "/xjtu/xs/transcripts/transcript-2019001"

# the requester: her values must reach no public URL and no log line
REQUESTER = {
    "name": "赵思远", "student_number": "CANARY-STU-2019001", "year_from": "2019",
    "year_to": "2023", "department": "电气工程学院", "id_number": "CANARY-E2E-ID-0001",
    "purpose": "Visa application <script>alert(1)</script>",
    "email": "canary-e2e-0001@example.org", "phone": "+86 100-4417-9001",
}
SECRET = ("CANARY-E2E-ID-0001", "canary-e2e-0001", "100-4417-9001", "赵思远",
          "CANARY-STU-2019001")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(autouse=True, scope="module")
def _tools() -> None:
    require(Path(CHROMIUM).exists(),
            "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    require(PYHANKO, "the pyHanko CLI is not installed (pip install pyhanko-cli)")
    for tool in ("pdfsig", "certutil"):
        require(shutil.which(tool), f"{tool} is not installed (apt-get install poppler-utils "
                                    "libnss3-tools; .ci/run does it)")


@dataclass
class Live:
    home: Path
    url: str
    log: Path
    urls: list[str] = field(default_factory=list)  # every URL a browser asked for


@pytest.fixture
def live(tmp_path: Path, smtp) -> Iterator[Live]:
    """The demo archive (its transcripts, no demo requests), mail to the test's SMTP server,
    the editor with a password; served with its request log to a file."""
    from publisher.app import create_app
    from repo.demo import load_demo
    from repo.repository import Repository

    home = tmp_path / "site"
    port = free_port()
    repo, _token = Repository.init(home, f"http://127.0.0.1:{port}")
    try:
        load_demo(repo, repo.user("admin"))
        for name in ("editor", "reviewer"):  # handles requests; may also revoke copies
            set_password(repo, name)
    finally:
        repo.close()
    smtp.configure(home)
    log_path = tmp_path / "request.log"
    with open(log_path, "a", encoding="utf-8", buffering=1) as log:
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(message)s"))
        requestlog.log.addHandler(handler)
        requestlog.log.setLevel(logging.INFO)
        requestlog.log.propagate = False
        try:
            with served(create_app(home, REQUEST_LOG=True), port, threads=8) as url:
                yield Live(home, url, log_path)
        finally:
            requestlog.log.removeHandler(handler)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def context(browser, live: Live, **kw):
    """A browser context of its own (own cookies) whose every request URL is remembered."""
    ctx = browser.new_context(locale="en-GB", accept_downloads=True, **kw)
    ctx.on("request", lambda r: live.urls.append(r.url))
    return ctx


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"requests-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ---------------------------------------------------------------------- the validators
def ca_pem(home: Path, folder: Path) -> Path:
    """The certificates a relying party trusts (the site's CA), as ``lantai signing ca``."""
    from services.requests.signing import trust_roots

    path = folder / "ca.pem"
    path.write_bytes(b"".join(trust_roots(home)))
    return path


def pyhanko_says(pdf: Path, ca: Path) -> str:
    """pyHanko CLI's report on the file's signature, trusting only the site's CA."""
    proc = subprocess.run([str(PYHANKO), "sign", "validate", "--pretty-print",
                           "--trust", str(ca), "--trust-replace", str(pdf)],
                          capture_output=True, text=True, timeout=120)
    return f"(exit {proc.returncode})\n{proc.stdout}{proc.stderr}"


def judged_valid(report: str) -> bool:
    return report.startswith("(exit 0)") and all(said in report for said in (
        "The signer's certificate is trusted.", "The signature is cryptographically sound.",
        "The signature covers the entire file.", "The signature is judged VALID."))


def nss_db(ca: Path, folder: Path) -> Path:
    """An NSS database trusting the site's CA, for ``pdfsig -nssdir``."""
    db = folder / "nss"
    db.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                   capture_output=True, timeout=60)
    pems = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----",
                      ca.read_bytes(), re.S)
    assert pems, "no certificate in the CA file"
    for n, pem in enumerate(pems):
        one = folder / f"ca-{n}.pem"
        one.write_bytes(pem + b"\n")
        subprocess.run(["certutil", "-A", "-d", f"sql:{db}", "-n", f"lantai-ca-{n}",
                        "-t", "CT,C,C", "-i", str(one)], check=True, capture_output=True,
                       timeout=60)
    return db


def pdfsig_says(pdf: Path, db: Path) -> str:
    proc = subprocess.run(["pdfsig", "-nssdir", f"sql:{db}", str(pdf)], capture_output=True,
                          text=True, timeout=120)
    return proc.stdout + proc.stderr


def one_byte_changed(data: bytes) -> bytes:
    """The PDF with one byte of its signed content changed: a letter of the document info's
    /Producer string (the file still parses; only the signature can tell)."""
    at = data.index(b"/Producer") + len(b"/Producer")
    at = data.index(b"(", at) + 1
    signed_end = int(re.search(rb"/ByteRange\s*\[\s*\d+\s+(\d+)", data).group(1))
    assert at < signed_end, "the document info is not in the signed range"
    changed = bytearray(data)
    changed[at] = ord("X") if changed[at] != ord("X") else ord("Y")
    return bytes(changed)


# ---------------------------------------------------------------------- the requester
def request_on_a_phone(browser, live: Live, smtp) -> str:
    """Fill in the form at phone width, confirm the e-mail with the mailed code; the number."""
    ctx = context(browser, live, viewport=PHONE, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    try:
        resp = page.goto(live.url + "/requests/?lang=en")
        assert resp is not None and resp.status == 200
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], \
            "the form is wider than the phone"
        for name, value in REQUESTER.items():
            page.fill(f"#f-{name}", value)
        page.select_option("#f-kind", "transcript")
        page.check("input[name=languages][value=en]")
        shot(page, "form-phone")
        with page.expect_navigation():
            page.click("form.rq-form button[type=submit]")
        assert page.locator("#f-code").is_visible(), page.content()[-1500:]
        code = smtp.code_in(smtp.wait_for(to=REQUESTER["email"]))
        page.fill("#f-code", code)
        with page.expect_navigation():
            page.click("form.rq-form button[type=submit]")
        number = page.locator(".rq-number").inner_text().strip()
        assert re.fullmatch(r"CD\d{4}(-[2-9A-Z]{4}){4}", number), number
        shot(page, "submitted-phone")
        return number
    finally:
        ctx.close()


# ---------------------------------------------------------------------- the archivist
class Archivist:
    """A staff member at a browser of their own, signed in to the workspace."""

    def __init__(self, browser, live: Live, name: str = "editor") -> None:
        self.live = live
        self.ctx = context(browser, live, viewport={"width": 1280, "height": 900})
        self.page = self.ctx.new_page()
        self.page.goto(live.url + "/staff/login")
        self.page.fill("#username", name)
        self.page.fill("#password", PASSWORD)
        with self.page.expect_navigation():
            self.page.click("form.signin-form button[type=submit]")
        assert "/staff/login" not in self.page.url, self.page.content()[-500:]

    def open(self, number: str) -> None:
        resp = self.page.goto(f"{self.live.url}/staff/requests/{number}")
        assert resp is not None and resp.status == 200, self.page.content()[-800:]

    def submit(self, button: str) -> None:
        """Press the button and follow the answer (after a redirect: the request's page)."""
        self.page.once("dialog", lambda d: d.accept())  # data-confirm buttons ask first
        with self.page.expect_navigation() as nav:
            self.page.get_by_role("button", name=button).first.click()
        answer = nav.value
        assert answer is not None and answer.status < 400, (button, answer and answer.status,
                                                            self.page.content()[-1500:])

    def handle(self, number: str) -> None:
        """Take the request, match the person, add the transcript (page 1), issue in English."""
        page = self.page
        self.open(number)
        self.submit("Take it (assign to me)")
        # the graduate's person record: found by her name (the years of study stay as given)
        self.find(REQUESTER["name"], "#found-persons")
        with page.expect_navigation():
            page.locator("#found-persons li", has_text="zhao-siyuan").get_by_role(
                "button").click()
        assert page.get_by_text("/agents/zhao-siyuan").count() or \
            "zhao-siyuan" in page.content()
        # her transcript (closed to the public; staff see it), by the same search
        self.find(REQUESTER["name"], "#found-records")
        with page.expect_navigation():
            page.locator("#found-records li", has_text="0421-XS·2021-Y-0001").get_by_role(
                "button").click()
        page.fill("#pages-0", "1")
        self.submit("Save the selection")
        page.select_option("#language", "en")
        self.submit("Issue and sign")

    def find(self, text: str, results: str) -> None:
        """Search the staff catalog from the request's page (htmx puts the results in)."""
        page = self.page
        page.fill("#find-q", text)
        with page.expect_response(lambda r: r.url.endswith("/find")):
            page.locator("#find-q").press("Enter")
        page.locator(results).wait_for()

    def revoke(self, number: str, reason: str) -> None:
        self.open(number)
        self.page.fill("#revoke-1", reason)
        self.submit("Revoke")

    def close(self) -> None:
        self.ctx.close()


# ---------------------------------------------------------------------- the test
def test_request_to_revoked_copy(browser, live: Live, smtp, tmp_path: Path):
    from services.requests.store import RequestStore

    number = request_on_a_phone(browser, live, smtp)
    mails_before = len(smtp.messages)
    desk = Archivist(browser, live)
    try:
        desk.handle(number)
        # the e-mail with the link
        mail = smtp.wait_for(to=REQUESTER["email"], after=mails_before, timeout=60)
        text = smtp.text(mail)
        link = re.search(r"https?://\S+/requests/download/[A-Za-z0-9_-]+", text)
        assert link, text
        (copy,) = RequestStore.open(live.home).copies_of(number)
        assert copy.code in text
        # download it, as a requester's browser would
        requester = context(browser, live)
        try:
            page = requester.new_page()
            with page.expect_download() as got:
                page.evaluate("url => { location.href = url }", link.group(0))
            pdf = tmp_path / "copy.pdf"
            got.value.save_as(pdf)
        finally:
            requester.close()
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF-")
        # both validators: valid and trusted
        ca = ca_pem(live.home, tmp_path)
        db = nss_db(ca, tmp_path)
        report = pyhanko_says(pdf, ca)
        assert judged_valid(report), report
        said = pdfsig_says(pdf, db)
        assert "Signature is Valid" in said and "Certificate is Trusted" in said, said
        # one byte changed: both, and /verify, say broken
        broken = tmp_path / "changed.pdf"
        broken.write_bytes(one_byte_changed(data))
        report = pyhanko_says(broken, ca)
        assert not judged_valid(report) and not report.startswith("(exit 0)"), report
        assert "The signature is cryptographically unsound." in report, report
        said = pdfsig_says(broken, db)
        assert "Signature is Valid" not in said and "Digest Mismatch" in said, said
        verdict = verify_upload(browser, live, broken, "changed")
        assert verdict["valid"] is False and verdict["intact"] is False, verdict
        assert verify_upload(browser, live, pdf, "valid")["valid"] is True
        # revoked: /verify?code= says so
        reviewer = Archivist(browser, live, "reviewer")  # revoking is for Reviewers
        try:
            reviewer.revoke(number, "Issued to the wrong address")
        finally:
            reviewer.close()
        revoked = verify_code_page(browser, live, copy.code)
        assert "revoked" in revoked.lower() and "Issued to the wrong address" in revoked
        assert verify_upload(browser, live, pdf, "revoked-upload")["valid"] is False
    finally:
        desk.close()
    public_urls_hold_nothing_personal(live, number)


def verify_upload(browser, live: Live, pdf: Path, name: str) -> dict:
    """Upload the PDF on /verify in the browser (the page must say what the JSON says), and
    ask the same as JSON (the contract's ``POST /verify``)."""
    answer = requests.post(live.url + "/verify", files={"file": ("copy.pdf", pdf.read_bytes(),
                                                                 "application/pdf")},
                           headers={"Accept": "application/json"}, timeout=60)
    assert answer.status_code in (200, 422), answer.text[:500]
    verdict = answer.json()
    ctx = context(browser, live, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        page.goto(live.url + "/verify?lang=en")
        page.set_input_files("input[type=file][name=file]", str(pdf))
        with page.expect_navigation():
            page.locator("form:has(input[name=file]) button[type=submit]").click()
        shot(page, f"verify-{name}")
        heading = page.locator("#result").inner_text()
        assert heading.startswith("Valid") == bool(verdict["valid"]), (heading, verdict)
        if not verdict["intact"]:
            assert "Broken: the document was changed after it was signed" in \
                page.locator("main").inner_text()
    finally:
        ctx.close()
    return verdict


def verify_code_page(browser, live: Live, code: str) -> str:
    ctx = context(browser, live, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        resp = page.goto(f"{live.url}/verify?code={code}&lang=en")
        assert resp is not None and resp.status == 200
        shot(page, "verify-revoked")
        return page.locator("main").inner_text()
    finally:
        ctx.close()


def public_urls_hold_nothing_personal(live: Live, number: str) -> None:
    """No public URL the browsers asked for, and no line of the request log, holds the
    requester's values or her request number (they travel in POST bodies)."""
    secrets = (*SECRET, number)
    public = [u for u in live.urls if u.startswith(live.url) and "/staff/" not in u]
    assert public, "the browsers asked for public pages"
    assert not [(u, s) for u in public for s in secrets if s in urllib.parse.unquote(u)]
    lines = [json.loads(x) for x in live.log.read_text("utf-8").splitlines()]
    assert len(lines) >= len(public) / 2
    in_log = [(x["path"], s) for x in lines if not x["path"].startswith("/staff/")
              for s in secrets if s in json.dumps(x, ensure_ascii=False)]
    assert not in_log, in_log
