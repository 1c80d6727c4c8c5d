"""Signing in to the staff workspace (issue 11, item 1, the Contract, and "Bad input and
safety"): the sign-in form, the session cookie, CSRF, throttling, idle timeout, sign-out,
open redirects, TOTP, and access taken back counting at the next request.

Real sites on disk, the real app (``publisher.app.create_app``) and its real session file;
changes made behind the app's back go through the repository opened as the CLI opens it, or
the ``lantai`` executable itself.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pyotp
import pytest
from staff_support import PASSWORD, StaffClient, set_password, signed_in
from support import FONDS, Site, run_lantai

from publisher.app import create_app
from repo.config import read_settings, write_settings
from repo.repository import Repository
from staff.auth import COOKIE, EXTENSION

STAFF_USERS = ("reader", "editor", "manager", "admin", "nobody")
ZH = {"Accept-Language": "zh"}  # the titles are read in Chinese


def make_app(site: Site, **settings):
    """The site's app (the site's own handle closed first: the app opens it per request)."""
    if site.repo is not None:
        for name in STAFF_USERS:
            set_password(site.repo, name)
    site.close()
    if settings:
        write_settings(site.home, dataclasses.replace(read_settings(site.home), **settings))
    return create_app(site.home)


@pytest.fixture
def app(site):
    return make_app(site)


@contextmanager
def repository(site: Site) -> Iterator[Repository]:
    """The repository opened for writing, as a ``lantai`` command opens it, then closed."""
    repo = site.reopen()
    try:
        yield repo
    finally:
        site.close()


class Clock:
    """The session store's clock, moved by the test (seconds since the epoch)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def session_clock(app) -> Clock:
    import time

    clock = Clock(time.time())
    app.extensions[EXTENSION].clock = clock
    return clock


def cookie(staff: StaffClient) -> str | None:
    c = staff.client.get_cookie(COOKIE, path="/staff")
    return c.value if c is not None else None


def signed_in_page(resp) -> bool:
    return resp.status_code == 200 and 'action="/staff/logout"' in resp.get_data(as_text=True)


# ---------------------------------------------------------------------- the Contract
def test_contract_visitor_is_sent_to_the_sign_in_form(app):
    client = app.test_client()
    resp = client.get("/staff/")
    assert resp.status_code in (302, 303)
    assert resp.headers["Location"].startswith("/staff/login")
    assert "no-store" in resp.headers["Cache-Control"]
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    html = page.get_data(as_text=True)
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', html, re.S)
    assert form and form.group(1) == "/staff/login"
    names = set(re.findall(r'name="([^"]+)"', form.group(2)))
    assert {"username", "password"} <= names
    hidden = re.findall(r'<input type="hidden" name="([^"]*csrf[^"]*)" value="([^"]+)"',
                        form.group(2))
    assert hidden, "a hidden field whose name contains csrf"


def test_sign_in_sets_an_httponly_lax_secure_cookie_with_a_new_id(app):
    staff = StaffClient(app)
    staff.get("/staff/login")
    before = cookie(staff)
    assert before  # the sign-in form's own (anonymous) session, for its CSRF token
    resp = staff.post("/staff/login", {"username": "editor", "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/staff/"
    set_cookie = resp.headers["Set-Cookie"]
    assert set_cookie.startswith(COOKIE + "=")
    attributes = {a.strip().split("=")[0].lower(): a for a in set_cookie.split(";")}
    assert "httponly" in attributes and "secure" in attributes  # the site's base is https
    assert attributes["samesite"].strip().lower() == "samesite=lax"
    assert attributes["path"].strip() == "Path=/staff"
    after = cookie(staff)
    assert after and after != before, "a new session id at sign-in"
    assert signed_in_page(staff.get("/staff/"))
    # the id planted before sign-in is worth nothing now
    planted = app.test_client()
    planted.set_cookie(COOKIE, before, path="/staff")
    assert planted.get("/staff/").status_code == 302


def test_cookie_is_not_secure_on_an_http_site(tmp_path):
    repo, _token = Repository.init(tmp_path / "plain", "http://127.0.0.1:8999")
    try:
        set_password(repo, "admin")
    finally:
        repo.close()
    app = create_app(tmp_path / "plain")
    staff = StaffClient(app)
    staff.client.environ_base["wsgi.url_scheme"] = "http"
    resp = staff.sign_in("admin")
    assert resp.status_code == 302
    attributes = [a.strip().lower() for a in resp.headers["Set-Cookie"].split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert "secure" not in attributes


def test_every_staff_answer_says_no_store(app):
    anonymous = app.test_client()
    staff = signed_in(app, "editor")
    answers = {
        "login": anonymous.get("/staff/login"),
        "anonymous asset": anonymous.get("/staff/static/staff.css"),
        "anonymous unknown": anonymous.get("/staff/no/such/page"),
        "anonymous post": anonymous.post("/staff/logout"),
        "dashboard": staff.get("/staff/"),
        "asset": staff.client.get("/staff/static/staff.css"),
        "vendor asset": staff.client.get("/staff/static/vendor/htmx.min.js"),
        "unknown page": staff.client.get("/staff/no/such/page"),
        "wrong method": staff.client.put("/staff/", headers={"X-CSRF-Token": staff.csrf}),
        "missing token": staff.post("/staff/logout", csrf=False),
    }
    for what, resp in answers.items():
        assert resp.headers.get("Cache-Control") == "private, no-store", what
        if resp.mimetype == "text/html" and resp.status_code >= 400:
            # the workspace's own error page, not Flask's or the public site's
            assert 'class="error" role="alert"' in resp.get_data(as_text=True), what
    assert answers["asset"].status_code == 200
    assert answers["unknown page"].status_code == 404
    assert answers["wrong method"].status_code == 405
    assert "GET" in answers["wrong method"].headers["Allow"]
    assert answers["anonymous unknown"].status_code == 302  # no session: not even a 404
    # the public site is not touched by the staff's rules
    assert "no-store" not in app.test_client().get("/").headers.get("Cache-Control", "")


def test_a_post_without_the_token_is_400_and_changes_nothing(app):
    staff = signed_in(app, "editor")
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}, {"csrf_token": "令牌"},
                 {"csrf_token": staff.csrf + "é"}, {"csrf_token": "\x00" * 43}):
        resp = staff.post("/staff/logout", data, csrf=False)
        assert resp.status_code == 400, data
        assert "CSRF" in resp.get_data(as_text=True)
    resp = staff.client.post("/staff/logout", headers={"X-CSRF-Token": "é" * 43})
    assert resp.status_code == 400
    assert signed_in_page(staff.get("/staff/")), "still signed in: the sign-out was refused"
    # the header works as the field does (htmx sends it)
    resp = staff.client.post("/staff/logout", headers={"X-CSRF-Token": staff.csrf})
    assert resp.status_code == 302
    # and the sign-in form needs its own token too
    fresh = StaffClient(app)
    fresh.get("/staff/login")
    resp = fresh.post("/staff/login", {"username": "editor", "password": PASSWORD}, csrf=False)
    assert resp.status_code == 400
    assert fresh.get("/staff/").status_code == 302


def test_no_staff_url_answers_without_a_session(app):
    """Every route under /staff/ (of every part registered, now or later), every method."""
    client = app.test_client()
    open_pages = {"staff.auth.login", "staff.auth.second_factor"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff"):
            continue
        url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "x" if m.group(1) != "path" else "xjtu",
                     rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            resp = client.open(url, method=method)
            checked += 1
            if method == "GET" and rule.endpoint in open_pages:
                assert resp.status_code in (200, 302), url
                continue
            if method == "GET":
                assert resp.status_code == 302, (url, resp.status_code)
                assert resp.headers["Location"].startswith("/staff/login"), url
            else:
                assert resp.status_code == 400, (method, url, resp.status_code)
    assert checked >= 6


# ---------------------------------------------------------------------- signing in
def test_a_wrong_password_or_unknown_account_signs_nobody_in(app):
    staff = StaffClient(app)
    for who, password in (("editor", "wrong-password"), ("ghost", PASSWORD), ("editor", ""),
                          ("", ""), ("editor" * 100, PASSWORD), ("a b", PASSWORD),
                          ('x"><script>', PASSWORD), ("中文", PASSWORD), ("system", "")):
        resp = staff.sign_in(who, password)
        assert resp.status_code == 403, who
        assert "Wrong user name or password" in resp.get_data(as_text=True)
        assert staff.get("/staff/").status_code == 302


def test_sign_in_is_throttled_per_account(app):
    staff = StaffClient(app)
    for _ in range(5):
        assert staff.sign_in("editor", "wrong-password").status_code == 403
    resp = staff.sign_in("editor")  # the right password, but too late
    assert resp.status_code == 429 and resp.headers["Retry-After"]
    assert staff.get("/staff/").status_code == 302
    # another account from the same address is not locked out
    assert StaffClient(app).sign_in("reader").status_code == 302


def test_sign_in_is_throttled_per_address(app):
    guesser = StaffClient(app)
    guesser.client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for i in range(20):  # a different account each time: the per-account limit never bites
        assert guesser.sign_in(f"guess{i}", "wrong-password").status_code == 403
    assert guesser.sign_in("editor").status_code == 429
    other = StaffClient(app)
    other.client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert other.sign_in("editor").status_code == 302


def test_throttling_ends_after_the_window(app):
    clock = session_clock(app)
    staff = StaffClient(app)
    for _ in range(5):
        staff.sign_in("editor", "wrong-password")
    assert staff.sign_in("editor").status_code == 429
    clock.now += 16 * 60
    assert staff.sign_in("editor").status_code == 302


def test_idle_sessions_end(site):
    app = make_app(site, staff_idle_minutes=10)
    clock = session_clock(app)
    staff = signed_in(app, "editor")
    clock.now += 9 * 60
    assert signed_in_page(staff.get("/staff/"))  # used: the idle time starts again
    clock.now += 9 * 60
    assert signed_in_page(staff.get("/staff/"))
    clock.now += 11 * 60
    resp = staff.get("/staff/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/staff/login")


def test_sign_out_ends_the_session_on_the_server(app):
    staff = signed_in(app, "editor")
    old = cookie(staff)
    resp = staff.post("/staff/logout")
    assert resp.status_code == 302 and resp.headers["Location"] == "/staff/login"
    assert cookie(staff) is None
    replay = app.test_client()
    replay.set_cookie(COOKIE, old, path="/staff")
    assert replay.get("/staff/").status_code == 302
    assert replay.post("/staff/logout", data={"csrf_token": staff.csrf}).status_code == 400


@pytest.mark.parametrize("target", [
    "//evil.example/staff/", "https://evil.example/staff/", "/\\evil.example", "\\\\evil",
    "javascript:alert(1)", "/staff/\r\nLocation: https://evil", "http:/staff/", "/public-page",
    "///evil.example", "/staff\\..\\..\\evil", " //evil.example"])
def test_no_open_redirect_after_sign_in(app, target):
    staff = StaffClient(app)
    staff.get("/staff/login", query_string={"next": target})
    resp = staff.post("/staff/login", {"username": "editor", "password": PASSWORD,
                                       "next": target})
    assert resp.status_code == 302 and resp.headers["Location"] == "/staff/"
    again = staff.get("/staff/login", query_string={"next": target})  # signed in already
    assert again.status_code == 302 and again.headers["Location"] == "/staff/"


def test_a_page_asked_for_before_sign_in_is_shown_after_it(app):
    staff = StaffClient(app)
    resp = staff.get("/staff/?lang=en")
    assert resp.headers["Location"] == "/staff/login?next=/staff/?lang%3Den"
    staff.get(resp.headers["Location"])
    page = staff.get(resp.headers["Location"]).get_data(as_text=True)
    nxt = re.search(r'name="next" value="([^"]*)"', page).group(1)
    assert nxt == "/staff/?lang=en"
    resp = staff.post("/staff/login", {"username": "editor", "password": PASSWORD, "next": nxt})
    assert resp.headers["Location"] == "/staff/?lang=en"


# ---------------------------------------------------------------------- second factor
def totp_sign_in(staff: StaffClient, name: str):
    """Sign in with the password; the answer sends to the second factor."""
    resp = staff.sign_in(name)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/staff/login/code")
    return staff.get(resp.headers["Location"])


def test_managers_enrol_a_second_factor_when_the_site_requires_it(site):
    app = make_app(site, staff_totp_for_managers=True)
    clock = session_clock(app)
    staff = StaffClient(app)
    page = totp_sign_in(staff, "manager")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html
    secret = re.search(r"<code>([A-Z2-7]{16,64})</code>", html).group(1)
    assert staff.get("/staff/").status_code == 302, "not signed in before the code"
    totp = pyotp.TOTP(secret)
    wrong = staff.post("/staff/login/code", {"code": "000000" if totp.at(clock.now) != "000000"
                                             else "111111"})
    assert wrong.status_code == 403
    resp = staff.post("/staff/login/code", {"code": totp.at(clock.now)})
    assert resp.status_code == 302 and resp.headers["Location"] == "/staff/"
    assert signed_in_page(staff.get("/staff/"))
    with repository(site) as repo:
        assert repo.user("manager").totp_secret == secret
        assert repo.account_history(repo.user("admin"), "manager")[-1].action == "totp"
    # a code is good once: the same code again (same 30 s) is refused
    staff.post("/staff/logout")
    page = totp_sign_in(staff, "manager")
    assert "<svg" not in page.get_data(as_text=True), "enrolled already: no new secret"
    assert staff.post("/staff/login/code", {"code": totp.at(clock.now)}).status_code == 403
    clock.now += 30
    resp = staff.post("/staff/login/code", {"code": totp.at(clock.now)})
    assert resp.status_code == 302
    # a Reader is not asked for one
    assert StaffClient(app).sign_in("reader").headers["Location"] == "/staff/"


def test_wrong_codes_are_throttled(site):
    app = make_app(site, staff_totp_for_managers=True)
    clock = session_clock(app)
    staff = StaffClient(app)
    html = totp_sign_in(staff, "manager").get_data(as_text=True)
    totp = pyotp.TOTP(re.search(r"<code>([A-Z2-7]{16,64})</code>", html).group(1))
    good = totp.at(clock.now)
    bad = [c for c in ("123456", "654321", "111111", "222222", "333333", "444444")
           if c != good and c not in (totp.at(clock.now - 30), totp.at(clock.now + 30))]
    for code in ["１２３４５６", "12345²", *bad[:3]]:  # digits, but not ASCII ones: wrong codes
        assert staff.post("/staff/login/code", {"code": code}).status_code == 403, code
    resp = staff.post("/staff/login/code", {"code": good})
    assert resp.status_code == 429
    assert staff.get("/staff/").status_code == 302
    for code in ("", "12345", "1234567", "abcdef", "１２３４５６", "0" * 5000):
        assert StaffClient(app).post("/staff/login/code", {"code": code}).status_code in (
            302, 400)  # no pending session here: back to the sign-in form, never a 500


# ---------------------------------------------------------------------- taken back
def test_a_disabled_or_removed_account_is_signed_out_at_its_next_request(app, site):
    editor, reader = signed_in(app, "editor"), signed_in(app, "reader")
    old = cookie(editor)
    with repository(site) as repo:
        repo.disable(repo.user("admin"), "editor")
        repo.remove(repo.user("admin"), "reader")
    for name, staff in (("editor", editor), ("reader", reader)):
        resp = staff.get("/staff/")
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/staff/login")
        assert staff.sign_in(name).status_code == 403
    with repository(site) as repo:
        repo.enable(repo.user("admin"), "editor")
    replay = app.test_client()
    replay.set_cookie(COOKIE, old, path="/staff")
    assert replay.get("/staff/").status_code == 302, "the ended session stays ended"
    assert signed_in(app, "editor")


def test_a_revoked_site_or_local_role_counts_at_the_next_request(app, site):
    nobody = signed_in(app, "nobody")
    assert "西安交通大学全宗" not in nobody.get("/staff/", headers=ZH).get_data(as_text=True)
    with repository(site) as repo:
        repo.grant(repo.user("admin"), "nobody", "Reader", on=FONDS)
    assert "西安交通大学全宗" in nobody.get("/staff/", headers=ZH).get_data(as_text=True)
    with repository(site) as repo:
        repo.revoke(repo.user("admin"), "nobody", "Reader", on=FONDS)
    assert "西安交通大学全宗" not in nobody.get("/staff/", headers=ZH).get_data(as_text=True)
    editor = signed_in(app, "editor")
    assert "西安交通大学全宗" in editor.get("/staff/", headers=ZH).get_data(as_text=True)
    with repository(site) as repo:
        repo.revoke(repo.user("admin"), "editor", "Editor")
    assert "西安交通大学全宗" not in editor.get("/staff/", headers=ZH).get_data(as_text=True)


@pytest.mark.slow
def test_a_password_changed_by_the_command_line_ends_the_other_sessions(app, site):
    first, second = signed_in(app, "editor"), signed_in(app, "editor")
    manager = signed_in(app, "manager")
    run_lantai(site.home, "users", "passwd", "editor", stdin="a-new-password-2\n")
    for staff in (first, second):
        resp = staff.get("/staff/")
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/staff/login")
    assert signed_in_page(manager.get("/staff/")), "other accounts keep their sessions"
    assert StaffClient(app).sign_in("editor").status_code == 403
    assert StaffClient(app).sign_in("editor", "a-new-password-2").status_code == 302


def test_odd_sign_in_forms_never_give_a_500(app):
    staff = StaffClient(app)
    staff.get("/staff/login")
    for body in (b"username=%FF%FE&password=%C0%AF&next=%FF",
                 b"username=editor&password=" + b"x" * 5000 + b"&next=/staff/%00",
                 b"username[]=editor&password=1", b"username=ed%00itor&password=a%00b",
                 b"%%%%&&&==="):
        resp = staff.client.post("/staff/login", data=body + b"&csrf_token=" +
                                 staff.csrf.encode(),
                                 content_type="application/x-www-form-urlencoded")
        assert resp.status_code in (400, 403), (body[:40], resp.status_code)
    for path in ("/staff/login?next=%FF%FE", "/staff/login?next=" + "a" * 5000,
                 "/staff/login/code?next=//evil", "/staff/%FF", "/staff/login?lang=%00"):
        assert staff.get(path).status_code in (200, 302, 404), path
