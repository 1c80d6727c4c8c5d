"""Account administration in the staff workspace (issue 11, item 1): Managers only; add,
disable/enable, remove after one confirmation, passwords, site and local roles, tokens,
second factor, history; and "my account" for everyone. Every action through the repository's
account operations, counted at the account's next request.

The real app on a real site; the checks read the store back through the repository (as the
``lantai`` command would) or use the real API and the real ``lantai`` executable.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pyotp
import pytest
from staff_support import PASSWORD, StaffClient, signed_in
from support import FONDS, PERSON, run_lantai
from test_staff_auth import make_app, repository, session_clock, signed_in_page

from repo.security import token_hash
from staff.auth import COOKIE


@pytest.fixture
def app(site):
    return make_app(site)


def form_error(resp) -> str:
    m = re.search(r'<p class="error" role="alert"[^>]*>(.*?)</p>', resp.get_data(as_text=True),
                  re.S)
    return m.group(1) if m else ""


# ---------------------------------------------------------------------- Managers only
def test_only_managers_see_and_use_account_administration(app, site):
    editor, manager = signed_in(app, "editor"), signed_in(app, "manager")
    assert 'href="/staff/accounts/"' not in editor.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/accounts/"' in manager.get("/staff/").get_data(as_text=True)
    for url in ("/staff/accounts/", "/staff/accounts/reader", "/staff/accounts/reader/remove"):
        assert editor.get(url).status_code == 403, url
    posts = {"/staff/accounts/": {"name": "sneaky", "roles": "Manager",
                                  "password": "a-password-1"},
             "/staff/accounts/reader/status": {"action": "disable"},
             "/staff/accounts/reader/remove": {"confirm": "yes"},
             "/staff/accounts/reader/password": {"password": "taken-over-1"},
             "/staff/accounts/editor/roles": {"role": "Manager"},
             "/staff/accounts/reader/roles/revoke": {"role": "Reader"},
             "/staff/accounts/reader/tokens": {},
             "/staff/accounts/reader/totp/reset": {}}
    with repository(site) as repo:
        before = site.snapshot()
    for url, data in posts.items():
        resp = editor.post(url, data)
        assert resp.status_code == 403, url
        assert "Not allowed" in resp.get_data(as_text=True) or "不" in resp.get_data(as_text=True)
    with repository(site) as repo:
        assert site.snapshot() == before, "nothing changed"
        assert "Manager" not in repo.user("editor").roles
    page = manager.get("/staff/accounts/").get_data(as_text=True)
    for name in ("admin", "editor", "manager", "reader", "nobody"):
        assert f'href="/staff/accounts/{name}"' in page


def test_a_post_without_the_token_adds_nobody(app, site):
    manager = signed_in(app, "manager")
    resp = manager.post("/staff/accounts/", {"name": "wang", "password": "a-password-1"},
                        csrf=False)
    assert resp.status_code == 400
    with repository(site) as repo:
        assert "wang" not in {u.name for u in repo.users()}


def test_revoking_the_manager_role_closes_the_pages_at_the_next_request(app, site):
    manager = signed_in(app, "manager")
    assert manager.get("/staff/accounts/").status_code == 200
    admin = signed_in(app, "admin")
    admin.post("/staff/accounts/manager/roles/revoke", {"role": "Manager",
                                                        "message": "moved on"})
    assert manager.get("/staff/accounts/").status_code == 403
    assert 'href="/staff/accounts/"' not in manager.get("/staff/").get_data(as_text=True)


# ---------------------------------------------------------------------- adding
def test_a_manager_adds_a_user_who_can_sign_in(app, site):
    manager = signed_in(app, "manager")
    resp = manager.post("/staff/accounts/", {
        "name": "wang", "fullname": "王小明 <script>alert(1)</script>",
        "roles": ["Editor", "Reviewer"], "password": "wang-password-1", "agent": PERSON,
        "message": "new archivist"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/staff/accounts/wang"
    resp = manager.get("/staff/accounts/wang")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "王小明 &lt;script&gt;" in page and "<script>alert" not in page
    assert "wang · active" in page and "Issue a new token" in page
    assert "new archivist" in page and "add-user" in page
    assert "<li>+ role: Editor</li>" in page and "<li>+ fullname: 王小明 &lt;script&gt;" in page
    listing = manager.get("/staff/accounts/").get_data(as_text=True)
    assert re.search(r"wang</a></td>\s*<td>王小明", listing)
    with repository(site) as repo:
        wang = repo.user("wang")
        assert wang.roles == {"Editor", "Reviewer"} and wang.agent == site.iris[PERSON]
        [cs] = repo.account_history(repo.user("admin"), "wang")
        assert (cs.author, cs.action, cs.message) == ("manager", "add-user", "new archivist")
        assert "wang-password-1" not in cs.patch and "scrypt" not in cs.patch
    assert signed_in_page(signed_in(app, "wang", "wang-password-1").get("/staff/"))


@pytest.mark.parametrize(("data", "status", "says"), [
    ({"name": "Bad Name"}, 422, "user name"),
    ({"name": "editor"}, 409, "exists already"),
    ({"name": "zhao", "password": "short"}, 422, "8 characters"),
    ({"name": "zhao", "roles": "Pope"}, 422, "unknown role"),
    ({"name": "zhao", "agent": "/agents/nobody-here"}, 404, ""),
    ({"name": "x" * 5000}, 422, "at most 1000 characters"),
    ({"name": "zhao", "fullname": "x" * 1001}, 422, "at most 1000 characters"),
])
def test_a_refused_new_user_shows_the_form_again_and_changes_nothing(app, site, data, status,
                                                                     says):
    manager = signed_in(app, "manager")
    with repository(site):
        before = site.snapshot()
    resp = manager.post("/staff/accounts/", {"fullname": "Zhao", **data})
    assert resp.status_code == status
    assert says in form_error(resp)
    kept = data.get("fullname", "Zhao")[:1000]
    assert f'value="{kept}"' in resp.get_data(as_text=True), "what was typed is kept"
    with repository(site):
        assert site.snapshot() == before


# ---------------------------------------------------------------------- status
def test_disable_enable_and_remove_with_one_confirmation(app, site):
    manager, editor = signed_in(app, "manager"), signed_in(app, "editor")
    assert manager.post("/staff/accounts/editor/status",
                        {"action": "disable", "message": "on leave"}).status_code == 303
    assert editor.get("/staff/").status_code == 302, "signed out at its next request"
    assert StaffClient(app).sign_in("editor").status_code == 403
    assert "disabled" in manager.get("/staff/accounts/").get_data(as_text=True)
    page = manager.get("/staff/accounts/editor")
    assert page.status_code == 200 and "Enable the account" in page.get_data(as_text=True)
    assert "on leave" in page.get_data(as_text=True)
    manager.post("/staff/accounts/editor/status", {"action": "enable"})
    assert signed_in_page(signed_in(app, "editor").get("/staff/"))
    assert manager.post("/staff/accounts/editor/status", {"action": "explode"}
                        ).status_code == 400
    # remove: the link leads to a confirmation; a POST without it removes nothing
    page = manager.get("/staff/accounts/editor/remove")
    assert page.status_code == 200 and 'name="confirm" value="yes"' in page.get_data(
        as_text=True)
    resp = manager.post("/staff/accounts/editor/remove", {})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/editor/remove")
    with repository(site) as repo:
        assert repo.account_status("editor") == "active"
    resp = manager.post("/staff/accounts/editor/remove", {"confirm": "yes",
                                                          "message": "retired"})
    assert resp.status_code == 303
    with repository(site) as repo:
        assert repo.account_status("editor") == "removed"
        assert [c.message for c in repo.account_history(repo.user("admin"), "editor")][-1] == \
            "retired"
    assert StaffClient(app).sign_in("editor").status_code == 403
    # a Manager cannot disable or remove themself (the repository says why)
    resp = manager.post("/staff/accounts/manager/status", {"action": "disable"})
    assert resp.status_code == 409 and "own account" in resp.get_data(as_text=True)


# ---------------------------------------------------------------------- roles
def test_site_and_local_roles_are_granted_listed_and_revoked(app, site):
    manager = signed_in(app, "manager")
    manager.post("/staff/accounts/reader/roles", {"role": "Reviewer", "message": "helps"})
    with repository(site) as repo:
        repo.grant(repo.user("admin"), "reader", "Editor", on=FONDS)
    page = manager.get("/staff/accounts/reader").get_data(as_text=True)
    assert "Revoke Reviewer" in page
    assert "Revoke Editor on /xjtu" in page
    reader = signed_in(app, "reader")
    me = reader.get("/staff/account").get_data(as_text=True)
    assert "<code>/xjtu</code>" in me
    manager.post("/staff/accounts/reader/roles/revoke", {"role": "Editor", "on": FONDS,
                                                         "message": "done"})
    manager.post("/staff/accounts/reader/roles/revoke", {"role": "Reviewer"})
    history = manager.get("/staff/accounts/reader").get_data(as_text=True)
    assert "<li>+ role: Reviewer</li>" in history and "<li>− role: Reviewer</li>" in history
    assert "helps" in history
    with repository(site) as repo:
        assert repo.user("reader").roles == {"Reader"}
        assert repo.local_roles(repo.user("admin"), "reader") == []
        assert [c.action for c in repo.history(repo.user("admin"), FONDS)][-2:] == [
            "grant", "revoke"]
    assert "<code>/xjtu</code>" not in reader.get("/staff/account").get_data(as_text=True)
    # revoking what is not there is the repository's 404, not a 500
    assert manager.post("/staff/accounts/reader/roles/revoke",
                        {"role": "Editor", "on": FONDS}).status_code == 404
    assert manager.post("/staff/accounts/reader/roles/revoke",
                        {"role": "Wizard"}).status_code == 422


# ---------------------------------------------------------------------- tokens
def api(app, token: str) -> int:
    return app.test_client().get("/api/xjtu", headers={"Authorization": f"Bearer {token}"},
                                 base_url="https://localhost").status_code


def test_tokens_are_issued_once_and_revoked_one_or_all(app, site):
    manager = signed_in(app, "manager")

    def issue(keep: bool) -> str:
        resp = manager.post("/staff/accounts/reader/tokens", {"keep": "yes"} if keep else {})
        assert resp.status_code == 200
        return re.search(r'id="token" class="token" value="(lt_[^"]+)"',
                         resp.get_data(as_text=True)).group(1)

    first = issue(keep=False)
    second = issue(keep=True)
    assert api(app, first) == 200 and api(app, second) == 200
    page = manager.get("/staff/accounts/reader").get_data(as_text=True)
    assert first not in page and second not in page, "a token is shown once"
    ids = re.findall(r"Revoke token ([0-9a-f]{12})", page)
    assert len(ids) == 2
    first_id = token_hash(first)[:12]  # a token's id: the start of its SHA-256
    assert first_id in ids
    manager.post("/staff/accounts/reader/tokens/revoke", {"token": first_id})
    assert api(app, first) == 401 and api(app, second) == 200
    third = issue(keep=False)  # replaces the others
    assert api(app, second) == 401 and api(app, third) == 200
    manager.post("/staff/accounts/reader/tokens/revoke", {"token": "all"})
    assert api(app, third) == 401
    assert manager.post("/staff/accounts/reader/tokens/revoke",
                        {"token": "nonexistent"}).status_code == 404
    with repository(site) as repo:
        actions = [c.action for c in repo.account_history(repo.user("admin"), "reader")]
        assert actions.count("revoke-token") == 2 and actions.count("token") == 3


# ---------------------------------------------------------------------- passwords
def test_a_manager_sets_a_password_and_the_old_sessions_end(app):
    manager, editor = signed_in(app, "manager"), signed_in(app, "editor")
    assert manager.post("/staff/accounts/editor/password",
                        {"password": "short"}).status_code == 422
    assert signed_in_page(editor.get("/staff/")), "a refused password changes nothing"
    manager.post("/staff/accounts/editor/password", {"password": "set-by-manager-1"})
    assert editor.get("/staff/").status_code == 302
    assert StaffClient(app).sign_in("editor", "set-by-manager-1").status_code == 302
    # a Manager setting their own password there goes on; their other sessions end
    elsewhere = signed_in(app, "manager")
    assert manager.post("/staff/accounts/manager/password",
                        {"password": "managers-own-1"}).status_code == 303
    assert signed_in_page(manager.get("/staff/"))
    assert elsewhere.get("/staff/").status_code == 302


def test_my_own_password_ends_my_other_sessions_but_not_this_one(app):
    here, there = signed_in(app, "editor"), signed_in(app, "editor")
    old_cookie = here.client.get_cookie(COOKIE, path="/staff").value
    wrong = here.post("/staff/account/password", {"current": "nope", "password": "new-pass-1",
                                                  "again": "new-pass-1"})
    assert wrong.status_code == 403 and "current password is wrong" in form_error(wrong)
    differ = here.post("/staff/account/password", {"current": PASSWORD,
                                                   "password": "new-pass-1",
                                                   "again": "new-pass-2"})
    assert differ.status_code == 422
    short = here.post("/staff/account/password", {"current": PASSWORD, "password": "short",
                                                  "again": "short"})
    assert short.status_code == 422 and "8 characters" in form_error(short)
    assert signed_in_page(there.get("/staff/"))
    done = here.post("/staff/account/password", {"current": PASSWORD,
                                                 "password": "new-pass-1",
                                                 "again": "new-pass-1"})
    assert done.status_code == 303
    assert signed_in_page(here.get("/staff/")), "this session goes on"
    assert here.client.get_cookie(COOKIE, path="/staff").value != old_cookie
    assert there.get("/staff/").status_code == 302, "the other one ended"
    assert StaffClient(app).sign_in("editor", "new-pass-1").status_code == 302


# ---------------------------------------------------------------------- second factor
def enrol(staff: StaffClient, clock) -> pyotp.TOTP:
    page = staff.get("/staff/account/totp").get_data(as_text=True)
    totp = pyotp.TOTP(re.search(r"<code>([A-Z2-7]{16,64})</code>", page).group(1))
    assert staff.post("/staff/account/totp", {"code": "12345x"}).status_code == 403
    resp = staff.post("/staff/account/totp", {"code": totp.at(clock.now)})
    assert resp.status_code == 303
    return totp


def test_a_user_sets_up_a_second_factor_and_a_manager_resets_it(app, site):
    clock = session_clock(app)
    editor = signed_in(app, "editor")
    assert "Two-factor sign-in is off" in editor.get("/staff/account").get_data(as_text=True)
    totp = enrol(editor, clock)
    assert "Two-factor sign-in is on" in editor.get("/staff/account").get_data(as_text=True)
    fresh = StaffClient(app)
    resp = fresh.sign_in("editor")
    assert resp.headers["Location"].startswith("/staff/login/code")
    fresh.get(resp.headers["Location"])
    clock.now += 30
    assert fresh.post("/staff/login/code", {"code": totp.at(clock.now)}).status_code == 302
    manager = signed_in(app, "manager")
    manager.post("/staff/accounts/editor/totp/reset", {"message": "lost phone"})
    assert StaffClient(app).sign_in("editor").headers["Location"] == "/staff/"
    with repository(site) as repo:
        assert repo.user("editor").totp_secret is None
        history = repo.account_history(repo.user("admin"), "editor")
        assert [(c.author, c.action) for c in history][-2:] == [("editor", "totp"),
                                                                ("manager", "totp")]
        assert all("totp" not in c.patch.lower() for c in history), "the secret stays out"


@pytest.mark.slow
def test_the_command_line_resets_a_lost_second_factor(app, site):
    clock = session_clock(app)
    enrol(signed_in(app, "editor"), clock)
    proc = run_lantai(site.home, "users", "totp", "editor", "--reset", "-m", "lost phone")
    assert "reset" in proc.stdout
    assert StaffClient(app).sign_in("editor").headers["Location"] == "/staff/"
    run_lantai(site.home, "users", "grant", "editor", "Reviewer", "-m", "reviews too")
    run_lantai(site.home, "users", "grant", "editor", "Editor", "--on", FONDS)
    roles = run_lantai(site.home, "users", "roles", "editor").stdout.splitlines()
    assert roles == ["Editor", "Reviewer", "Editor on /xjtu"]
    history = run_lantai(site.home, "users", "history", "editor").stdout
    assert "admin  grant  reviews too\n    + role: Reviewer\n" in history
    assert "admin  totp  lost phone\n" in history
    refused = run_lantai(site.home, "users", "totp", "manager", "--reset", user="editor",
                         check=False)
    assert refused.returncode == 4  # Forbidden: only Managers, or the user themself


# ---------------------------------------------------------------------- bad input
def test_odd_account_names_and_oversized_forms_are_clear_refusals(app, site):
    manager = signed_in(app, "manager")
    for name in ("a%20b", "%3Cscript%3E", "x" * 300, "%E4%B8%AD", "system%00"):
        resp = manager.client.get(f"/staff/accounts/{name}")
        assert resp.status_code == 404, name
    resp = manager.post("/staff/accounts/reader/roles", {"role": "Editor",
                                                         "message": "x" * 3_000_000})
    assert resp.status_code == 413
    assert "too large" in resp.get_data(as_text=True).lower()
    resp = manager.post("/staff/accounts/reader/roles", {"role": "Editor",
                                                         "message": "x" * 1001})
    assert resp.status_code == 422 and "at most 1000 characters" in resp.get_data(as_text=True)
    with multipart_too_large(manager) as resp:
        assert resp.status_code == 413
    with repository(site) as repo:
        assert repo.user("reader").roles == {"Reader"}, "nothing changed"
        assert "zhao" not in {u.name for u in repo.users()}


@contextmanager
def multipart_too_large(staff: StaffClient):
    """A multipart form with one text field over Flask's MAX_FORM_MEMORY_SIZE."""
    yield staff.client.post("/staff/accounts/reader/roles", data={
        "csrf_token": staff.csrf, "role": "Editor", "message": "y" * 600_000},
        content_type="multipart/form-data")


ODD = ("", " ", "\x00", "a\x00b", "../../etc", "<script>x</script>", "中文", "\u2028",
       "/xjtu", "/xjtu/../agents", "//evil", "x" * 999, "all", "Manager", "urn:lantai:user:x",
       "https://archive.example.edu/id/fonds/xjtu")


def test_odd_values_in_every_account_form_never_give_a_500(app, site):
    manager = signed_in(app, "manager")
    forms = {
        "/staff/accounts/": ("name", "fullname", "agent", "roles", "password", "message"),
        "/staff/accounts/reader/status": ("action", "message"),
        "/staff/accounts/reader/remove": ("confirm", "message"),
        "/staff/accounts/reader/password": ("password",),
        "/staff/accounts/reader/roles": ("role", "message"),
        "/staff/accounts/reader/roles/revoke": ("role", "on", "message"),
        "/staff/accounts/reader/tokens": ("keep",),
        "/staff/accounts/reader/tokens/revoke": ("token", "message"),
        "/staff/accounts/reader/totp/reset": ("message",),
        "/staff/account/password": ("current", "password", "again"),
        "/staff/account/totp": ("code",),
    }
    for url, fields in forms.items():
        for name in fields:
            for odd in ODD:
                data = {"name": "zhao", "role": "Editor", "action": "enable"} | {name: odd}
                resp = manager.client.post(url, data={**data, "csrf_token": manager.csrf})
                assert resp.status_code < 500, (url, name, odd, resp.status_code)
        # bytes that are not UTF-8 at all
        body = f"csrf_token={manager.csrf}&" + "&".join(f"{f}=%FF%FE%C0" for f in fields)
        resp = manager.client.post(url, data=body.encode(),
                                   content_type="application/x-www-form-urlencoded")
        assert resp.status_code < 500, (url, "not UTF-8", resp.status_code)
    with repository(site) as repo:
        assert repo.account_status("reader") == "active"  # never confirmed: never removed
