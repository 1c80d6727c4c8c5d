"""The staff workflow pages (issue 11, item 4): transitions as buttons with a comment, the
access panel, the sharing panel, the review queue. Real site on disk, the real app, a
signed-in test client; what a page changed is read back from the repository as the CLI
opens it, and every refusal leaves the site exactly as it was."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from staff_support import StaffClient, set_password, signed_in
from support import FILE, ITEM, SERIES, Site

from publisher.app import create_app
from repo.repository import Repository

USERS = ("reader", "contributor", "editor", "reviewer", "manager", "admin", "nobody")
FILE_URL = FILE.lstrip("/")
ITEM_URL = ITEM.lstrip("/")


def make_app(site: Site):
    """The site's app, passwords set (the site's own handle closed: the app opens the
    repository per request)."""
    repo = site.repo or site.reopen()
    for name in USERS:
        set_password(repo, name)
    site.close()
    return create_app(site.home)


@pytest.fixture
def app(site):
    return make_app(site)


@contextmanager
def repository(site: Site) -> Iterator[Repository]:
    """The repository as a ``lantai`` command opens it (the app holds no writer between
    requests), closed afterwards."""
    repo = site.reopen()
    try:
        yield repo
    finally:
        site.close()


def text(resp) -> str:
    return resp.get_data(as_text=True)


def buttons(html: str) -> list[str]:
    return re.findall(r'<button type="submit" name="action" value="([a-z]+)"', html)


def test_transitions_are_buttons_the_user_may_take_with_a_comment(site, app):
    contributor = signed_in(app, "contributor")
    page = contributor.get(f"/staff/access/{FILE_URL}")
    assert page.status_code == 200
    assert buttons(text(page)) == ["submit"]
    assert '<label for="comment">' in text(page)
    resp = contributor.post(f"/staff/workflow/{FILE_URL}",
                            {"action": "submit", "comment": "ready: 请审核"})
    assert resp.status_code == 303
    done = contributor.get(resp.headers["Location"])
    assert "1 object(s) now" in text(done)
    with repository(site) as repo:
        assert repo.get(repo.user("admin"), FILE).state == "pending"
        assert repo.history(repo.user("admin"), FILE)[-1].message == "ready: 请审核"
    reviewer = signed_in(app, "reviewer")
    assert buttons(text(reviewer.get(f"/staff/access/{FILE_URL}"))) == ["publish", "reject"]
    resp = reviewer.post(f"/staff/workflow/{FILE_URL}", {"action": "publish", "comment": ""})
    assert resp.status_code == 303
    with repository(site) as repo:
        assert repo.get(repo.user("admin"), FILE).state == "published"


def test_recursive_transition_takes_what_is_inside_too(site, app):
    editor = signed_in(app, "editor")
    resp = editor.post(f"/staff/workflow/{FILE_URL}", {"action": "submit", "recursive": "1"})
    assert resp.status_code == 303
    with repository(site) as repo:
        admin = repo.user("admin")
        assert [repo.get(admin, p).state for p in (FILE, ITEM)] == ["pending", "pending"]


def test_a_reader_sees_no_controls_and_is_refused_on_a_direct_post(site, app):
    before = None
    with repository(site) as repo:
        before = (sorted(map(str, repo.working)), sorted(map(str, repo.public)))
    reader = signed_in(app, "reader")
    page = text(reader.get(f"/staff/access/{FILE_URL}"))
    assert buttons(page) == [] and "staff/access/" in page and 'name="level"' not in page
    for url, data in ((f"/staff/workflow/{FILE_URL}", {"action": "publish"}),
                      (f"/staff/workflow/{FILE_URL}", {"action": "submit"}),
                      (f"/staff/access/{FILE_URL}", {"level": "open"}),
                      (f"/staff/sharing/{FILE_URL}",
                       {"op": "grant", "user": "reader", "role": "Manager"})):
        resp = reader.post(url, data)
        assert resp.status_code == 403, (url, resp.status_code)
        assert "no-store" in resp.headers["Cache-Control"]
    with repository(site) as repo:
        assert (sorted(map(str, repo.working)), sorted(map(str, repo.public))) == before


def test_forged_or_bad_posts_change_nothing_and_never_fail(site, app):
    with repository(site) as repo:
        before = sorted(map(str, repo.working))
    editor = signed_in(app, "editor")
    assert editor.post(f"/staff/workflow/{FILE_URL}", {"action": "submit"},
                       csrf=False).status_code == 400
    assert editor.post(f"/staff/workflow/{FILE_URL}",
                       {"action": "submit", "csrf_token": "forged"}).status_code == 400
    for data in ({"action": "explode"}, {"action": "x" * 5000}, {"action": "publish"},
                 {"action": "submit", "comment": "long" * 1000}, {}):
        resp = editor.post(f"/staff/workflow/{FILE_URL}", data)
        assert 400 <= resp.status_code < 500, (data, resp.status_code)
    assert editor.post("/staff/workflow/no/such/thing", {"action": "submit"}).status_code == 404
    assert editor.get(f"/staff/workflow/{FILE_URL}").status_code == 405  # POST only
    assert editor.client.put(f"/staff/access/{FILE_URL}").status_code in (400, 405)
    with repository(site) as repo:
        assert sorted(map(str, repo.working)) == before


def test_access_panel_shows_the_default_and_sets_an_embargo(site, app):
    reviewer = signed_in(app, "reviewer")
    page = text(reviewer.get(f"/staff/access/{ITEM_URL}"))
    # the item's latest date is 1957-09-01: 25 years later is 1982-09-01, long past
    assert "1982-09-01" in page and "by default it is open" in page
    for level in ("open", "restricted", "personal", "embargoed"):
        assert f'id="level-{level}"' in page and f'<label for="level-{level}">' in page
    resp = reviewer.post(f"/staff/access/{ITEM_URL}",
                         {"level": "embargoed", "until": "2051-01-01", "message": "names"})
    assert resp.status_code == 303
    assert "2051-01-01" in text(reviewer.get(resp.headers["Location"]))
    with repository(site) as repo:
        obj = repo.get(repo.user("admin"), ITEM)
        assert (obj.access, obj.opening_date) == ("embargoed", dt.date(2051, 1, 1))
        assert repo.history(repo.user("admin"), ITEM)[-1].message == "names"


def test_access_panel_marks_personal_fields_and_refuses_bad_dates(site, app):
    editor = signed_in(app, "editor")
    resp = editor.post(f"/staff/access/{ITEM_URL}",
                       {"level": "open", "personal": ["note", "scope"]})
    assert resp.status_code == 303
    with repository(site) as repo:
        assert repo.get(repo.user("admin"), ITEM).personal_fields == {"note", "scope"}
    page = text(editor.get(f"/staff/access/{ITEM_URL}"))
    assert 'id="personal-note" name="personal" value="note" checked' in page
    # unmarking shows the public more: a Reviewer's right, not an Editor's
    assert editor.post(f"/staff/access/{ITEM_URL}",
                       {"level": "open", "personal": ["note"]}).status_code == 403
    resp = signed_in(app, "reviewer").post(f"/staff/access/{ITEM_URL}",
                                           {"level": "open", "personal": ["note"]})
    assert resp.status_code == 303
    with repository(site) as repo:
        before = sorted(map(str, repo.working))
        assert repo.get(repo.user("admin"), ITEM).personal_fields == {"note"}
    for data in ({"level": "embargoed", "until": "1957-13-45", "personal": ["note"]},
                 {"level": "secret", "personal": ["note"]},
                 {"level": "open", "personal": ["note", "nosuchfield"]},
                 {"level": "open", "personal": ["note"]}):  # nothing to change
        resp = editor.post(f"/staff/access/{ITEM_URL}", data)
        assert resp.status_code == 422, (data, resp.status_code)
        assert 'role="alert"' in text(resp)
    # opening to the public needs a Reviewer: an Editor is refused
    with repository(site) as repo:
        repo.set_access(repo.user("admin"), ITEM, "restricted")
        before = sorted(map(str, repo.working))
    assert editor.post(f"/staff/access/{ITEM_URL}",
                       {"level": "open", "personal": ["note"]}).status_code == 403
    with repository(site) as repo:
        assert sorted(map(str, repo.working)) == before


def test_sharing_shows_local_and_inherited_roles_grant_and_revoke(site, app):
    manager = signed_in(app, "manager")
    series_url = SERIES.lstrip("/")
    resp = manager.post(f"/staff/sharing/{series_url}",
                        {"op": "grant", "user": "nobody", "role": "Editor"})
    assert resp.status_code == 303
    page = text(manager.get(f"/staff/sharing/{series_url}"))
    here = page.split('id="here-heading"')[1].split('id="inherited-heading"')[0]
    assert "nobody" in here and "Revoke" in here
    inherited = text(manager.get(f"/staff/sharing/{FILE_URL}")).split(
        'id="inherited-heading"')[1]
    assert "nobody" in inherited and f'href="/staff/sharing/{series_url}"' in inherited
    # the local Editor may now edit inside the series
    with repository(site) as repo:
        assert "Editor" in repo.roles_on(repo.user("nobody"), repo.get(repo.user("admin"), FILE))
    resp = manager.post(f"/staff/sharing/{series_url}",
                        {"op": "revoke", "user": "nobody", "role": "Editor"})
    assert resp.status_code == 303
    with repository(site) as repo:
        assert "Editor" not in repo.roles_on(repo.user("nobody"),
                                             repo.get(repo.user("admin"), FILE))
        before = sorted(map(str, repo.working))
    for data in ({"op": "grant", "user": "ghost", "role": "Editor"},
                 {"op": "grant", "user": "<script>alert(1)</script>", "role": "Editor"},
                 {"op": "grant", "user": "nobody", "role": "Emperor"},
                 {"op": "revoke", "user": "nobody", "role": "Editor"},
                 {"op": "explode", "user": "nobody", "role": "Editor"},
                 {"op": "grant", "user": "", "role": "Editor"}):
        resp = manager.post(f"/staff/sharing/{series_url}", data)
        assert 400 <= resp.status_code < 500, (data, resp.status_code)
        assert "<script>alert" not in text(resp)
    editor = signed_in(app, "editor")
    page = text(editor.get(f"/staff/sharing/{series_url}"))
    assert 'id="grant-user"' not in page
    assert editor.post(f"/staff/sharing/{series_url}",
                       {"op": "grant", "user": "editor", "role": "Manager"}).status_code == 403
    with repository(site) as repo:
        assert sorted(map(str, repo.working)) == before


def test_review_queue_oldest_first_with_a_link_to_compare_with_last_published(site, app):
    with repository(site) as repo:
        admin = repo.user("admin")
        repo.transition(admin, ITEM, "publish")
        repo.transition(admin, ITEM, "withdraw")
        repo.edit(admin, ITEM, set={"title@en": "Register, page one (corrected)"})
        repo.transition(admin, ITEM, "submit")
        site.clock.advance(minutes=1)
        repo.transition(admin, FILE, "submit")
        published = repo.last_published(admin, ITEM)
        current = repo.get(admin, ITEM).revision
    reviewer = signed_in(app, "reviewer")
    page = text(reviewer.get("/staff/review"))
    assert page.index(f"<code>{ITEM}</code>") < page.index(f"<code>{FILE}</code>")
    assert f"/staff/history/{ITEM_URL}?a=published" in page
    # the link shows the difference with the public version
    diff = text(reviewer.get(f"/staff/history/{ITEM_URL}?a=published"))
    assert f"revision {published} to revision {current}" in diff
    assert "Register, page one (corrected)" in diff and "Register, page one<" in diff
    assert "Nothing is waiting" in text(signed_in(app, "editor").get("/staff/review?lang=en"))


def test_local_reviewer_queue_is_limited_to_their_container(site, app):
    with repository(site) as repo:
        admin = repo.user("admin")
        repo.grant(admin, "nobody", "Reviewer", on=FILE)
        repo.transition(admin, ITEM, "submit")
        repo.transition(admin, "/xjtu/admin", "submit")
    nobody: StaffClient = signed_in(app, "nobody")
    page = text(nobody.get("/staff/review"))
    assert f"<code>{ITEM}</code>" in page and "/xjtu/admin" not in page
