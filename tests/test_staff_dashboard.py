"""The staff dashboard (issue 11, item 9): recent changes the user may view, their drafts,
the review queue, embargoes opening in the next 90 days (failed jobs: tests/test_staff_files.py).
Each section is bounded. Real site, real app."""

from __future__ import annotations

import datetime as dt

from staff_support import signed_in
from support import FILE, ITEM, SERIES
from test_staff_workflow import make_app, repository, text

from repo.site import utc_now
from staff import dashboard


def section(page: str, heading_id: str) -> str:
    return page.split(f'id="{heading_id}"')[1].split("</section>")[0]


def test_the_dashboard_shows_what_needs_the_users_attention(site):
    today = utc_now().date()  # the app's clock is the real one
    with repository(site) as repo:
        admin, editor = repo.user("admin"), repo.user("editor")
        repo.create(editor, SERIES, "file", {"title": {"en": "An editor's draft"}},
                    slug="draft-1", message="started a file")
        repo.transition(admin, ITEM, "submit", comment="please look")
        repo.set_access(admin, FILE, "embargoed",
                        until=(today + dt.timedelta(days=30)).isoformat())
        repo.set_access(admin, "/xjtu/admin", "embargoed",
                        until=(today + dt.timedelta(days=200)).isoformat())
    app = make_app(site)
    page = text(signed_in(app, "editor").get("/staff/?lang=en"))
    assert "An editor&#39;s draft" in section(page, "drafts-heading")
    changes = section(page, "changes-heading")
    assert "started a file" in changes and "please look" in changes
    openings = section(page, "openings-heading")
    assert f"<code>{FILE}</code>" in openings and "/xjtu/admin" not in openings
    assert (today + dt.timedelta(days=30)).isoformat() in openings
    assert "Nothing is waiting" in section(page, "queue-heading")  # an editor reviews nothing
    reviewer = text(signed_in(app, "reviewer").get("/staff/?lang=en"))
    assert f"<code>{ITEM}</code>" in section(reviewer, "queue-heading")
    assert "No private objects of yours" in section(reviewer, "drafts-heading")


def test_a_user_without_roles_sees_nothing_of_what_they_may_not_view(site):
    with repository(site) as repo:
        repo.edit(repo.user("admin"), ITEM, set={"title@en": "Secret change"},
                  message="a hidden message")
    app = make_app(site)
    page = text(signed_in(app, "nobody").get("/staff/?lang=en"))
    assert "a hidden message" not in page and "Secret change" not in page
    assert "No changes you may see" in page


def test_each_section_is_bounded(site):
    with repository(site) as repo:
        editor = repo.user("editor")
        for n in range(dashboard.ROWS + 5):
            repo.create(editor, SERIES, "file", {"title": {"en": f"Draft number {n}"}},
                        slug=f"d-{n}")
    app = make_app(site)
    page = text(signed_in(app, "editor").get("/staff/?lang=en"))
    assert section(page, "drafts-heading").count("Draft number") == dashboard.ROWS
    assert "Draft number 24" in section(page, "drafts-heading")  # the newest first
    assert section(page, "changes-heading").count("<tr>") == dashboard.ROWS + 1  # + header
