"""The staff workspace in a real browser: Debian's Chromium driven by playwright, against a
live server (waitress, as ``lantai serve``) on a fresh site whose users have passwords.

Every staff page a test opens is *audited* (:meth:`Desk.audit`): axe-core (from npm, served
from ``staff/static/vendor/axe.min.js``) runs on it and must find no serious or critical
violation; the page must raise no JavaScript error and break no rule of the workspace's
Content-Security-Policy (no inline script or style: a part that forgets it fails here). The
list of audited pages and screenshots go to ``tests/artifacts/``.

axe is evaluated through the DevTools protocol rather than added as a ``<script>``: the page's
CSP stays on (an injected inline script would need ``bypass_csp``, which would also hide the
violations we look for).
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from staff_support import PASSWORD, set_password
from support import PROJECT, ROLE_USERS, free_port, new_site, require, served

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).resolve().parents[1] / "staff" / "static" / "vendor" / "axe.min.js"
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
USERS = ("admin", *ROLE_USERS.values())
BLOCKING = ("serious", "critical")  # axe impacts that fail a page (issue 11, item 13)

pytestmark = pytest.mark.browser

AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + '  ' + n.html.slice(0, 120))}));
}"""


@pytest.fixture(autouse=True, scope="module")
def _tools() -> None:
    require(Path(CHROMIUM).exists(),
            "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    require(AXE.exists(), "axe-core is not in staff/static/vendor (make staff-assets: npm)")


@dataclass
class Live:
    """A site served over HTTP; ``url`` is also its base IRI."""

    home: Path
    url: str
    audited: list[dict] = field(default_factory=list)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("staff-browser") / "site"
    port = free_port()
    site = new_site(home, base=f"http://127.0.0.1:{port}")
    try:
        for name in USERS:
            set_password(site.repo, name)
    finally:
        site.close()
    with served(home, port, threads=8) as url:
        found = Live(home, url)
        yield found
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "staff-axe.json").write_text(json.dumps(found.audited, indent=1,
                                                         ensure_ascii=False))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Desk:
    """One person at a browser of their own (own cookies); every page they see is audited."""

    def __init__(self, browser, live: Live, lang: str = "en") -> None:
        self.live = live
        self.context = browser.new_context(viewport={"width": 1280, "height": 900},
                                           locale="zh-CN" if lang == "zh" else "en-GB")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"JavaScript: {exc}"))
        self.page.on("console", self._console)

    def _console(self, msg) -> None:
        if msg.type == "error" and "Content Security Policy" in msg.text:
            self.errors.append(f"CSP: {msg.text[:200]}")

    def close(self) -> None:
        self.context.close()

    def open(self, path: str, status: int | None = 200, name: str | None = None):
        """Go to ``path`` of the live site, check the answer's status, audit the page
        (``name``: and save a screenshot)."""
        resp = self.page.goto(self.live.url + path)
        assert resp is not None
        if status is not None:
            assert resp.status == status, (path, resp.status, self.page.content()[-800:])
        self.audit(name)
        return resp

    def audit(self, name: str | None = None) -> None:
        """axe-core on this page: no serious or critical violation; no JS error, no CSP
        violation so far. ``name``: also save a screenshot under that name."""
        page = self.page
        page.wait_for_load_state("load")
        if page.evaluate("typeof axe") == "undefined":
            page.evaluate(AXE.read_text(encoding="utf-8"))
        found = page.evaluate(AXE_RUN)
        bad = [v for v in found if v["impact"] in BLOCKING]
        self.live.audited.append({"url": page.url, "title": page.title(),
                                  "violations": found})
        if name:
            shots = ARTIFACTS / "screenshots"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / f"staff-{name}.png"), full_page=True)
        assert not bad, f"axe on {page.url}:\n" + json.dumps(bad, indent=1, ensure_ascii=False)
        assert not self.errors, f"on {page.url}: {self.errors}"

    def sign_in(self, name: str, password: str = PASSWORD, shot: str | None = None) -> None:
        self.open("/staff/login")
        self.page.fill("#username", name)
        self.page.fill("#password", password)
        with self.page.expect_navigation():
            self.page.click("form.signin-form button[type=submit]")
        assert self.page.url.startswith(self.live.url + "/staff/"), self.page.url
        assert "/staff/login" not in self.page.url, self.page.content()[-500:]
        self.audit(shot)

    def csrf(self) -> str:
        return self.page.locator('meta[name="csrf-token"]').get_attribute("content") or ""

    def post(self, path: str, form: dict[str, str], *, csrf: bool = True):
        """A direct POST with this browser's cookies (what a forged or hand-made request
        looks like to the server), with the page's CSRF token unless ``csrf`` is false."""
        data = {**form, **({"csrf_token": self.csrf()} if csrf else {})}
        return self.page.request.post(self.live.url + path, form=data, max_redirects=0)


@pytest.fixture
def desk(browser, live) -> Iterator[Desk]:
    d = Desk(browser, live)
    yield d
    d.close()


# ---------------------------------------------------------------------- sign-in, dashboard, errors
def test_sign_in_dashboard_and_error_pages_pass_axe(browser, live):
    for lang in ("en", "zh"):
        d = Desk(browser, live, lang)
        try:
            d.open("/staff/", name=f"login-{lang}")  # no session: the sign-in page
            assert "/staff/login" in d.page.url
            assert d.page.locator("html").get_attribute("lang").startswith(lang)
            d.page.fill("#username", "editor")
            d.page.fill("#password", "not the password")
            with d.page.expect_navigation():
                d.page.press("#password", "Enter")
            assert d.page.locator("[role=alert]").is_visible()
            d.audit(f"login-refused-{lang}")
            d.sign_in("editor", shot=f"dashboard-{lang}")
            assert d.page.locator("h1").first.is_visible()
            # a form whose token is out of date: the 400 page, still signed in
            d.page.locator("form.inline input[name=csrf_token]").evaluate(
                "e => e.value = 'forged'")
            with d.page.expect_navigation():
                d.page.click("form.inline button[type=submit]")
            assert "CSRF" in d.page.content()
            d.audit(f"error-400-{lang}")
            d.open("/staff/no-such-page", status=404)
            d.open("/staff/", status=200)  # the forged sign-out changed nothing
            assert d.page.locator(".staff-whoami").inner_text() == "editor"
        finally:
            d.close()


def test_sign_in_and_out_with_the_keyboard_alone(desk, live):
    page = desk.page
    desk.open("/staff/login")
    assert page.evaluate("document.activeElement.id") == "username"  # autofocus
    page.keyboard.type("reviewer")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == live.url + "/staff/"
    desk.audit()
    # the first Tab reaches the skip link, which moves the focus to the main area
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # sign out: Tab until the sign-out button has the focus, then Enter
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('form.inline') !== null"):
            break
    else:
        pytest.fail("the sign-out button is not reachable with Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/staff/login" in page.url
    desk.open("/staff/")
    assert "/staff/login" in page.url  # signed out on the server


def test_the_audit_fails_on_a_violation(desk):
    """The audit can fail: an unlabelled field and an image without alt text (critical for
    axe) and an inline style (refused by the CSP) are each reported."""
    desk.sign_in("reader")
    desk.page.evaluate("""() => { const m = document.querySelector('main');
        m.insertAdjacentHTML('beforeend', '<input type="text"><img src="data:,">'); }""")
    with pytest.raises(AssertionError) as found:
        desk.audit()
    assert '"id": "image-alt"' in str(found.value) and '"id": "label"' in str(found.value)
    desk.page.reload()
    desk.page.evaluate("""() => { const s = document.createElement('style');
        s.textContent = 'main { color: red }'; document.head.append(s); }""")
    with pytest.raises(AssertionError, match="CSP"):
        desk.audit()
    desk.errors.clear()


# ---------------------------------------------------------------------- forms: who may change what
def title_of(desk: Desk, path: str, lang: str = "en") -> str:
    """The title as the edit form shows it now (a fresh page load)."""
    desk.open(f"/staff/edit/{path}")
    return desk.page.locator(f'[name="title@{lang}"]').first.input_value()


def save(desk: Desk, status: int = 200, name: str | None = None):
    """Press the form's Save button; the answer after redirects, audited (``name``: and a
    screenshot)."""
    with desk.page.expect_navigation() as nav:
        desk.page.locator("form.record-form button[type=submit].primary").click()
    resp = nav.value
    assert resp is not None and resp.status == status, (resp and resp.status,
                                                        desk.page.content()[-1500:])
    desk.audit(name)
    return resp


def test_a_reader_sees_no_edit_controls_and_is_refused_on_a_direct_post(desk):
    desk.sign_in("reader")
    desk.open("/staff/edit/xjtu/students", name="edit-as-reader")
    page = desk.page
    assert page.get_by_role("button", name="Save").count() == 0
    enabled = page.locator("form.record-form :is(input:not([type=hidden]), select, textarea, "
                           "button):enabled")
    assert enabled.count() == 0, enabled.first.evaluate("e => e.outerHTML")
    revision = page.locator('input[name="revision"]').input_value()
    # the POST a forged page would send, with the reader's own cookie and CSRF token
    resp = desk.post("/staff/edit/xjtu/students",
                     {"revision": revision, "title@en": "Changed by a reader"})
    assert resp.status == 403, resp.text()[:500]
    assert title_of(desk, "xjtu/students") == "Students"  # nothing changed
    assert desk.page.locator('input[name="revision"]').input_value() == revision


def test_two_browsers_edit_the_same_record_and_nothing_is_lost(browser, live):
    """Both open revision n; the first save wins, the second is a conflict page that shows
    both versions and keeps what was typed; saving that form keeps both changes."""
    first, second = Desk(browser, live), Desk(browser, live)
    try:
        first.sign_in("editor")
        second.sign_in("manager")
        for d in (first, second):
            d.open("/staff/edit/xjtu/admin")
        first.page.locator('[name="title@en"]').first.fill("Administration, 1952-1966")
        save(first)
        assert first.page.locator("[role=status]").is_visible()  # "Saved: revision …"
        second.page.locator('[name="title@zh"]').first.fill("行政类（1952—1966）")
        save(second, status=409, name="conflict")
        shown = second.page.locator(".conflict").inner_text()  # theirs and mine, side by side
        assert "Administration, 1952-1966" in shown and "行政类（1952—1966）" in shown
        form = second.page.locator("form.record-form")  # the form: mine on top of theirs
        assert form.locator('[name="title@zh"]').first.input_value() == "行政类（1952—1966）"
        assert form.locator('[name="title@en"]').first.input_value() == "Administration, 1952-1966"
        save(second)  # the form kept theirs and mine: saving it loses neither
        assert title_of(second, "xjtu/admin", "en") == "Administration, 1952-1966"
        assert title_of(second, "xjtu/admin", "zh") == "行政类（1952—1966）"
    finally:
        first.close()
        second.close()


def test_an_edit_form_with_the_keyboard_alone(desk):
    page = desk.page
    desk.sign_in("editor")
    desk.open("/staff/edit/agents/xian")
    page.keyboard.press("Tab")  # the skip link, then into the main area
    page.keyboard.press("Enter")

    def tab_to(check: str, limit: int = 120) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(check):
                return
        pytest.fail(f"not reachable with Tab: {check}")

    tab_to("document.activeElement.name === 'name@en'")
    page.keyboard.press("Control+A")
    page.keyboard.type("Xi'an (Shaanxi)")
    tab_to("document.activeElement.type === 'submit' && "
           "document.activeElement.classList.contains('primary')")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    desk.audit()
    assert page.locator("[role=status]").is_visible()
    assert page.locator('[name="name@en"]').first.input_value() == "Xi'an (Shaanxi)"


def test_revoking_a_role_or_a_token_counts_at_the_next_request(browser, live):
    """A Manager, in the accounts pages, adds wang (Reader and Editor, a password) and gives
    him an API token; then revokes his Editor role: wang's next save, in his own browser, is
    refused and changes nothing; then revokes the token: its next API request is 401."""
    boss, d = Desk(browser, live), Desk(browser, live)
    try:
        boss.sign_in("manager")
        boss.open("/staff/accounts/", name="accounts")
        page = boss.page
        page.fill("#add-name", "wang")
        page.fill("#add-fullname", "Wang Wu")
        for role in ("Reader", "Editor"):
            page.check(f'input[name="roles"][value="{role}"]')
        page.fill("#add-password", PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Add the user").click()
        boss.audit()
        boss.open("/staff/accounts/wang", name="account")
        with page.expect_navigation():
            page.get_by_role("button", name="Issue a new token").click()
        boss.audit()
        token = page.locator("#token").input_value()
        api = {"Authorization": f"Bearer {token}"}
        assert requests.get(live.url + "/api/agents/zhang-san", headers=api, timeout=30).ok

        d.sign_in("wang")
        d.open("/staff/edit/agents/zhang-san")
        d.page.locator('[name="name@en"]').first.fill("Zhang San (edited)")
        boss.open("/staff/accounts/wang")
        with page.expect_navigation():
            page.get_by_role("button", name="Revoke Editor").click()
        boss.audit()
        save(d, status=403)  # the form was open; the role went: the next request counts
        d.open("/staff/edit/agents/zhang-san")  # still a Reader: sees it, unchanged
        assert d.page.locator('[name="name@en"]').first.input_value() == "Zhang San"
        assert d.page.get_by_role("button", name="Save").count() == 0

        boss.open("/staff/accounts/wang")
        with page.expect_navigation():
            page.get_by_role("button", name="Revoke all tokens").click()
        boss.audit()
        assert requests.get(live.url + "/api/agents/zhang-san", headers=api,
                            timeout=30).status_code == 401
    finally:
        boss.close()
        d.close()

# ---------------------------------------------------------------------- files, import, export
def scan(path: Path, shade: int) -> Path:
    """A small page scan (a real JPEG, different for each shade)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 440), (235, 228, 210))
    ImageDraw.Draw(img).rectangle((30, 40 + shade, 290, 80 + shade), fill=(40, 40, 40))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    path.write_bytes(out.getvalue())
    return path


def test_upload_three_scans_with_progress(desk, tmp_path):
    """Three scans dropped on an item arrive (a progress bar each), are ingested and listed
    with their derivatives; a .jpg that is not a JPEG is refused with a message, nothing
    stored."""
    from playwright.sync_api import expect

    page = desk.page
    desk.sign_in("editor")
    desk.open("/staff/files/xjtu/students/register-1957/page-1", name="files-empty")
    scans = [scan(tmp_path / f"p{i}.jpg", 60 * i) for i in (1, 2, 3)]
    page.set_input_files("#upload-files", [str(p) for p in scans])
    page.locator("form.upload-form button[type=submit]").click()
    # (no wait_for_function: its string is eval'd in the page, which the CSP refuses)
    expect(page.locator(".upload-list .ok")).to_have_count(3, timeout=60_000)
    assert page.locator(".upload-list progress").count() == 3
    expect(page.locator("#files-section table.files tbody tr")).to_have_count(3, timeout=30_000)
    desk.audit("files-uploaded")
    assert page.locator("#files-section img.thumb").count() == 3  # staff-only previews
    fake = tmp_path / "p4.jpg"
    fake.write_text("%PDF-1.4 not a picture at all", encoding="utf-8")
    page.set_input_files("#upload-files", str(fake))
    page.locator("form.upload-form button[type=submit]").click()
    page.wait_for_selector(".upload-list [role=alert]", timeout=30_000)
    desk.audit()
    desk.open("/staff/files/xjtu/students/register-1957/page-1")
    assert page.locator("#files-section table.files tbody tr").count() == 3


def test_import_and_export_pages(desk):
    """An EAD finding aid imported through the page (the progress form), then the export
    page of what was made; both audited."""
    page = desk.page
    desk.sign_in("editor")
    desk.open("/staff/import", name="import")
    page.check("#kind-ead")
    page.set_input_files("#import-file", str(PROJECT / "tests/fixtures/ead/bilingual-zh-en.xml"))
    page.fill("#import-into", "/")
    page.locator("form.progress-form button[type=submit]").click()
    page.wait_for_selector("#main [role=status]", timeout=60_000)
    desk.audit("import-done")
    top = page.locator("#main [role=status] a").first
    href = top.get_attribute("href")
    assert href and href.startswith("/staff/")
    path = href.split("/", 3)[3]
    desk.open(f"/staff/export/{path}", name="export")
    assert page.locator("a[download]").count() >= 5


# ---------------------------------------------------------------------- accounts
def test_account_pages_pass_axe_and_work_with_the_keyboard(desk, browser, live):
    """A Manager adds a user, grants and revokes a role, issues a token, then looks at the
    removal confirmation; the user changes their own password. Every page audited."""
    page = desk.page
    desk.sign_in("manager")
    desk.open("/staff/accounts/", name="accounts")
    page.fill("#add-name", "browser-user")
    page.fill("#add-fullname", "浏览器 用户")
    page.check("input[name=roles][value=Editor]")
    page.fill("#add-password", "browser-pass-1")
    page.fill("#add-message", "browser test")
    with page.expect_navigation():
        page.press("#add-message", "Enter")
    assert page.url.endswith("/staff/accounts/browser-user"), page.url
    desk.audit("account")
    page.select_option("#grant-role", "Reviewer")
    with page.expect_navigation():
        page.get_by_role("button", name="Grant", exact=True).click()
    revoke = page.get_by_role("button", name="Revoke Reviewer")
    assert revoke.count() == 1
    with page.expect_navigation():
        revoke.click()
    assert revoke.count() == 0
    with page.expect_navigation():
        page.get_by_role("button", name="Issue a new token").click()
    assert page.locator("#token").input_value().startswith("lt_")
    desk.audit("account-token")
    desk.open("/staff/accounts/browser-user/remove", name="account-remove")
    desk.open("/staff/accounts/no-such-user", status=404)
    user = Desk(browser, live)
    try:
        user.sign_in("browser-user", "browser-pass-1")
        user.open("/staff/account", name="my-account")
        user.page.fill("#current", "browser-pass-1")
        user.page.fill("#password", "browser-pass-2")
        user.page.fill("#again", "browser-pass-2")
        with user.page.expect_navigation():
            user.page.press("#again", "Enter")
        assert user.page.url.endswith("/staff/account")
        user.audit()
        user.open("/staff/account/totp", name="my-account-totp")
        assert user.page.locator("figure.qr svg").count() == 1
        user.open("/staff/accounts/", status=403)  # not a Manager
        assert user.page.locator('a[href="/staff/accounts/"]').count() == 0
    finally:
        user.close()


# ---------------------------------------------------------------------- the whole story
def add_through_the_form(desk: Desk, container: str, type_name: str, fields: dict[str, str],
                         slug: str) -> str:
    """From the container's folder view, follow its "add" link for ``type_name``, fill the
    form, save; returns the new object's path (without the leading slash)."""
    page = desk.page
    desk.open(f"/staff/browse/{container}")
    link = page.locator(f"p.add-links a[href$='type={type_name}']")
    with page.expect_navigation():
        link.click()
    desk.audit()
    for name, value in fields.items():
        control = page.locator(f'form.record-form [name="{name}"]').first
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    page.fill("#f-slug", slug)
    save(desk)
    path = f"{container}/{slug}".strip("/")
    assert page.url.startswith(f"{desk.live.url}/staff/edit/{path}"), page.url
    return path


def public_search(live: Live, text: str) -> list[str]:
    html = requests.get(live.url + "/search", params={"q": text}, timeout=30).text
    return re.findall(r'href="([^"]*/id/record/[^"]+)"', html)


def test_an_archivist_describes_uploads_submits_and_a_reviewer_publishes(browser, live,
                                                                        tmp_path):
    """The issue's story: an archivist creates a fonds, a series, a file and an item with
    bilingual titles, uploads three scans and submits; a reviewer finds it in the review
    queue and publishes; the record, its IIIF manifest and its search entry are public; an
    embargo hides it again at once."""
    archivist, reviewer = Desk(browser, live), Desk(browser, live)
    try:
        archivist.sign_in("editor")
        fonds = add_through_the_form(archivist, "", "fonds", {
            "title@zh": "西迁档案全宗", "title@en": "Westward move fonds"}, "westward")
        series = add_through_the_form(archivist, fonds, "series", {
            "title@zh": "教学类", "title@en": "Teaching"}, "teaching")
        file = add_through_the_form(archivist, series, "file", {
            "title@zh": "1956年课程表", "title@en": "Timetables of 1956", "begin": "1956"},
            "timetables-1956")
        item = add_through_the_form(archivist, file, "item", {
            "title@zh": "机械系课程表", "title@en": "Timetable of the mechanical department",
            "begin": "1956-09"}, "mechanical")
        page = archivist.page
        archivist.open(f"/staff/files/{item}")
        page.set_input_files("#upload-files",
                             [str(scan(tmp_path / f"page-{i}.jpg", 50 * i)) for i in (1, 2, 3)])
        page.locator("form.upload-form button[type=submit]").click()
        from playwright.sync_api import expect

        expect(page.locator("#files-section table.files tbody tr")).to_have_count(
            3, timeout=60_000)
        archivist.audit("story-files")
        archivist.open(f"/staff/access/{fonds}", name="story-access")
        page.check("#recursive")
        page.fill("#comment", "ready for review")
        with page.expect_navigation():
            page.get_by_role("button", name="Submit").click()
        archivist.audit()
        assert public_search(live, "mechanical department") == []

        reviewer.sign_in("reviewer")
        reviewer.open("/staff/review", name="story-review")
        assert reviewer.page.locator("main").get_by_text("Westward move fonds").count() >= 1
        reviewer.open(f"/staff/access/{fonds}")
        rp = reviewer.page
        rp.check("#recursive")
        rp.fill("#comment", "checked")
        with rp.expect_navigation():
            rp.get_by_role("button", name="Publish").click()
        reviewer.audit("story-published")

        found = public_search(live, "mechanical department")
        assert len(found) == 1, found
        record = found[0] if found[0].startswith("http") else live.url + found[0]
        key = record.rsplit("/", 1)[1]
        public = requests.get(record, timeout=30)
        assert public.status_code == 200 and "机械系课程表" in public.text
        manifest = requests.get(f"{live.url}/iiif/manifest/record/{key}", timeout=30)
        assert manifest.status_code == 200, manifest.status_code
        assert len(manifest.json()["items"]) == 3  # the three scans, as canvases

        reviewer.open(f"/staff/access/{item}")
        rp.check("#level-embargoed")
        rp.fill("#until", "2051-01-01")
        rp.fill("#access-message", "names of living people")
        with rp.expect_navigation():
            rp.get_by_role("button", name="Save the access rule").click()
        reviewer.audit("story-embargoed")
        assert requests.get(record, timeout=30).status_code in (404, 410)
        assert requests.get(f"{live.url}/iiif/manifest/record/{key}",
                            timeout=30).status_code in (404, 410)
        assert public_search(live, "mechanical department") == []
    finally:
        archivist.close()
        reviewer.close()


PAGES = [
    "/staff/", "/staff/browse/", "/staff/browse/xjtu", "/staff/browse/xjtu/students?sort=title",
    "/staff/search?q=register", "/staff/search?q=", "/staff/edit/xjtu/students/register-1957",
    "/staff/edit/agents/zhang-san", "/staff/add/xjtu?type=series", "/staff/add/xjtu",
    "/staff/files/xjtu/students/register-1957/page-1", "/staff/access/xjtu/students",
    "/staff/sharing/xjtu/students", "/staff/history/xjtu/students/register-1957",
    "/staff/history/xjtu/students/register-1957?a=1&b=1", "/staff/review", "/staff/import",
    "/staff/export/xjtu", "/staff/accounts/", "/staff/accounts/editor", "/staff/account",
]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_kind_of_staff_page_passes_axe(browser, live, lang):
    """Every page of the workspace, as a Manager (who sees every control), in both
    languages: no serious or critical axe finding, no JS error, no CSP breach; one h1 and
    no skipped heading level."""
    d = Desk(browser, live, lang)
    try:
        d.sign_in("manager")
        for path in PAGES:
            d.open(path + ("&" if "?" in path else "?") + f"lang={lang}")
            levels = d.page.evaluate(
                "[...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1])")
            assert levels.count(1) == 1, (path, levels)
            skips = [(a, b) for a, b in zip([0, *levels], levels, strict=False) if b > a + 1]
            assert not skips, (path, levels)
    finally:
        d.close()
