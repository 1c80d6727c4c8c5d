"""Worklists (repo/worklists.py) and the repository operations the staff workflow and history
pages need: the review queue, drafts, recent changes, embargoes opening soon, deleted objects
inside a container, undelete (with what was deleted inside), the last published revision."""

from __future__ import annotations

import datetime as dt

import pytest
from support import AGENTS, FILE, FONDS, ITEM, SERIES, Site

from repo.errors import Conflict, Invalid, NotFound

ADMIN_SERIES = "/xjtu/admin"


def paths(objs) -> list[str]:
    return [o.path for o in objs]


def test_review_queue_lists_pending_objects_oldest_first_for_reviewers(site: Site):
    repo, clock = site.repo, site.clock
    contributor = site.role("Contributor")
    for ref in (ITEM, FILE, ADMIN_SERIES):
        repo.transition(contributor, ref, "submit", comment=f"please review {ref}")
        clock.advance(minutes=5)
    queue = repo.review_queue(site.role("Reviewer"))
    assert paths(p.obj for p in queue) == [ITEM, FILE, ADMIN_SERIES]
    assert queue[0].since < queue[1].since < queue[2].since
    assert paths(p.obj for p in repo.review_queue(site.role("Manager"), limit=2)) == [ITEM, FILE]
    # an edit by the reviewer since moves it to the end (its last change)
    repo.edit(site.role("Reviewer"), ITEM, set={"title@en": "Register, p. 1"})
    assert paths(p.obj for p in repo.review_queue(site.admin)) == [FILE, ADMIN_SERIES, ITEM]
    # who may not publish has no queue; what is published leaves it
    for role in ("Reader", "Contributor", "Editor"):
        assert repo.review_queue(site.role(role)) == []
    repo.transition(site.role("Reviewer"), FILE, "publish")
    assert paths(p.obj for p in repo.review_queue(site.admin)) == [ADMIN_SERIES, ITEM]


def test_local_reviewer_sees_only_what_is_under_their_container(site: Site):
    repo, admin = site.repo, site.admin
    repo.add_user(admin, "li", roles=[], fullname="Li, local reviewer")
    repo.grant(admin, "li", "Reviewer", on=SERIES)
    for ref in (ITEM, ADMIN_SERIES, SERIES):
        repo.transition(admin, ref, "submit")
    li = repo.user("li")
    assert paths(p.obj for p in repo.review_queue(li)) == [ITEM, SERIES]
    # a sibling whose path merely starts with the same letters is not inside
    repo.create(admin, FONDS, "series", {"title": {"en": "Students, more"}},
                slug="students-2", key="students-2")
    repo.transition(admin, "/xjtu/students-2", "submit")
    assert "/xjtu/students-2" not in paths(p.obj for p in repo.review_queue(li))
    repo.revoke(admin, "li", "Reviewer", on=SERIES)
    assert repo.review_queue(repo.user("li")) == []


def test_drafts_are_private_objects_the_user_owns_newest_first(site: Site):
    repo, clock = site.repo, site.clock
    editor = site.role("Editor")
    made = []
    for n in range(3):
        clock.advance(minutes=1)
        made.append(repo.create(editor, SERIES, "file", {"title": {"en": f"Draft {n}"}},
                                slug=f"draft-{n}"))
    clock.advance(minutes=1)
    repo.edit(editor, made[0].path, set={"title@en": "Draft 0, again"})
    repo.transition(editor, made[1].path, "submit")
    assert paths(repo.drafts(editor)) == [made[0].path, made[2].path]
    assert paths(repo.drafts(editor, limit=1)) == [made[0].path]
    assert repo.drafts(site.role("Reviewer")) == []  # owns nothing
    repo.delete(editor, made[2].path)
    assert paths(repo.drafts(editor)) == [made[0].path]


def test_recent_changes_show_only_what_the_user_may_view(site: Site):
    repo, admin, clock = site.repo, site.admin, site.clock
    repo.add_user(admin, "wang", roles=[], fullname="Wang, reads one series")
    repo.grant(admin, "wang", "Reader", on=ADMIN_SERIES)
    clock.advance(minutes=1)
    repo.edit(site.role("Editor"), ITEM, set={"title@en": "Page one"}, message="item title")
    clock.advance(minutes=1)
    repo.edit(site.role("Editor"), ADMIN_SERIES, set={"title@en": "Admin"},
              message="series title")
    everything = repo.recent_changes(site.role("Reader"), limit=3)
    assert [c.message for c in everything[:2]] == ["series title", "item title"]
    assert everything[0].author == "editor" and everything[0].action == "edit"
    assert paths(everything[0].objects) == [ADMIN_SERIES]
    wang = repo.recent_changes(repo.user("wang"))
    assert wang and all(o.path.startswith(ADMIN_SERIES) for c in wang for o in c.objects)
    assert "item title" not in [c.message for c in wang]
    assert repo.recent_changes(repo.user("nobody")) == []


def test_embargoes_opening_within_ninety_days_soonest_first(site: Site):
    repo, reviewer = site.repo, site.role("Reviewer")
    today = site.clock.today()
    soon, later, far = (today + dt.timedelta(days=d) for d in (10, 80, 200))
    repo.set_access(reviewer, ITEM, "embargoed", until=later.isoformat())
    repo.set_access(reviewer, FILE, "embargoed", until=soon.isoformat())
    repo.set_access(reviewer, ADMIN_SERIES, "embargoed", until=far.isoformat())
    found = repo.embargoes_opening(reviewer, today)
    assert [(o.obj.path, o.opens) for o in found] == [(FILE, soon), (ITEM, later)]
    assert [o.obj.path for o in repo.embargoes_opening(reviewer, today, days=365)] == [
        FILE, ITEM, ADMIN_SERIES]
    assert repo.embargoes_opening(repo.user("nobody"), today) == []


def test_undelete_brings_back_a_folder_with_what_was_deleted_inside_it(site: Site):
    repo, editor = site.repo, site.role("Editor")
    before = {p: repo.load(repo.resolve(p)) for p in (FILE, ITEM)}
    repo.edit(editor, ITEM, set={"title@en": "Last words"})
    item_desc = repo.load(repo.resolve(ITEM)).description
    gone = repo.delete(editor, FILE, recursive=True, message="by mistake")
    assert len(gone) == 2
    [deleted] = repo.deleted_inside(editor, SERIES)
    tomb = deleted.obj
    assert tomb.iri == before[FILE].iri and tomb.path == ""  # a tombstone has no path
    assert (deleted.path, deleted.title("zh"), deleted.title("en")) == (
        FILE, "1957年新生名册", "Register of freshmen 1957")
    assert repo.deleted_inside(editor, FONDS) == []
    assert repo.deleted_inside(site.role("Reader"), SERIES) == []  # may not restore
    restored = repo.undelete(editor, tomb.iri)
    assert [o.path for o in restored] == [FILE, ITEM]
    assert all(o.state == "private" and not o.deleted for o in restored)
    assert repo.load(repo.resolve(ITEM)).description == item_desc
    assert repo.child_iris(before[FILE].iri) == [before[ITEM].iri]
    assert repo.deleted_inside(editor, SERIES) == []
    history = repo.history(editor, FILE)
    assert history[-1].action == "undelete" and history[-1].author == "editor"
    with pytest.raises(Invalid):
        repo.undelete(editor, tomb.iri)


def test_undelete_refusals(site: Site):
    repo, editor = site.repo, site.role("Editor")
    repo.delete(editor, ITEM)
    repo.delete(editor, FILE)
    item_iri, file_iri = site.iris[ITEM], site.iris[FILE]
    with pytest.raises(Conflict):  # its container first
        repo.undelete(editor, item_iri)
    with pytest.raises(NotFound):  # a Reader does not see tombstones
        repo.undelete(site.role("Reader"), file_iri)
    repo.undelete(editor, file_iri)  # deleted separately: the item stays deleted
    assert repo.child_iris(file_iri) == []
    repo.undelete(editor, item_iri)
    assert repo.child_iris(file_iri) == [item_iri]


def test_a_local_editor_may_restore_what_was_deleted_from_their_container(site: Site):
    repo, admin = site.repo, site.admin
    repo.add_user(admin, "zhao", roles=[], fullname="Zhao, local editor")
    repo.grant(admin, "zhao", "Editor", on=SERIES)
    zhao = repo.user("zhao")
    repo.delete(zhao, ITEM)
    assert [d.obj.iri for d in repo.deleted_inside(zhao, FILE)] == [site.iris[ITEM]]
    repo.undelete(zhao, site.iris[ITEM])
    assert repo.resolve(ITEM) == site.iris[ITEM]
    repo.create(admin, AGENTS, "place", {"name": {"en": "Shanghai"}}, slug="shanghai")
    repo.delete(admin, AGENTS + "/shanghai")
    assert repo.deleted_inside(zhao, "/") == []
    with pytest.raises(NotFound):  # a container zhao may not view
        repo.deleted_inside(zhao, AGENTS)


def test_last_published_revision(site: Site):
    repo, admin = site.repo, site.admin
    assert repo.last_published(admin, ITEM) is None
    repo.transition(admin, ITEM, "publish")
    published = repo.load(repo.resolve(ITEM)).revision
    repo.edit(admin, ITEM, set={"title@en": "Seen by the public"})
    seen = published + 1
    assert repo.last_published(admin, ITEM) == seen
    repo.transition(admin, ITEM, "withdraw")
    repo.edit(admin, ITEM, set={"title@en": "Being reworked"})
    repo.transition(admin, ITEM, "submit")
    assert repo.last_published(admin, ITEM) == seen
    assert any(d.value == "Seen by the public"
               for d in repo.diff(admin, ITEM, seen) if d.sign == "-")


def test_the_catalog_and_the_store_give_the_same_worklists(site: Site):
    """Drafts and the review queue come from the staff catalog's index on the last change;
    without a complete catalog, from the store: the same lists."""
    from repo.worklists import Worklists

    repo, admin, clock = site.repo, site.admin, site.clock
    editor = site.role("Editor")
    repo.add_user(admin, "li", roles=[], fullname="Li, local reviewer")
    repo.grant(admin, "li", "Reviewer", on=SERIES)
    for n in range(4):
        clock.advance(minutes=1)
        repo.create(editor, SERIES, "file", {"title": {"en": f"Draft {n}"}}, slug=f"d-{n}")
    for ref in (ITEM, ADMIN_SERIES, "/xjtu/students/d-1", FILE):
        clock.advance(minutes=1)
        repo.transition(admin, ref, "submit")
    store_only = Worklists(repo.site, repo.reads)
    assert repo.worklists._by_change(admin, "pending", 5) is not None  # the catalog answers
    for user in (admin, editor, repo.user("li"), site.role("Reviewer"), repo.user("nobody")):
        assert [(p.obj.path, p.since) for p in repo.review_queue(user)] == \
            [(p.obj.path, p.since) for p in store_only.review_queue(user)], user.name
        assert paths(repo.drafts(user)) == paths(store_only.drafts(user)), user.name
    assert paths(p.obj for p in repo.review_queue(repo.user("li"))) == [
        ITEM, "/xjtu/students/d-1", FILE]
    assert paths(repo.drafts(editor)) == ["/xjtu/students/d-3", "/xjtu/students/d-2",
                                          "/xjtu/students/d-0"]


def test_the_cli_lists_the_review_queue_and_undeletes(site: Site):
    from support import run_lantai

    repo, admin = site.repo, site.admin
    repo.transition(admin, ITEM, "submit")
    repo.transition(admin, ADMIN_SERIES, "submit")
    repo.delete(admin, FILE, recursive=True)
    site.close()
    queue = run_lantai(site.home, "review", "--json", user="reviewer").stdout
    assert '"path": "/xjtu/admin"' in queue
    assert "page-1" not in queue  # deleted with the file
    out = run_lantai(site.home, "undelete", site.iris[FILE], "-m", "oops", user="editor").stdout
    assert "restored /xjtu/students/register-1957 (2 object(s))" in out
    queue = run_lantai(site.home, "review", user="reviewer").stdout
    assert "/xjtu/admin" in queue and "page-1" not in queue  # restored as private
    refused = run_lantai(site.home, "undelete", site.iris[FILE], user="reader", check=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
