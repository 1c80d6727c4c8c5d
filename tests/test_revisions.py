"""Versions: every change is a revision (author, time, message); history, diff, revert;
delete and restore; all of it survives closing and reopening the store."""

from __future__ import annotations

import datetime as dt

import pytest
from support import FILE, FONDS, ITEM, SERIES, Clock, Site, dump, new_site

from repo.errors import Conflict, Forbidden, Invalid, NotFound
from repo.revisions import new_changeset_id


def desc(site: Site, ref: str) -> set[str]:
    """An object's description graph as N-Quads lines."""
    return {str(q) for q in site.repo.load(site.repo.resolve(ref)).description}


def public_desc(site: Site, iri: str) -> set[str]:
    return {str(q) for q in site.repo.public if q.graph_name.value == iri}


def history_rows(site: Site, ref: str) -> list[tuple]:
    return [(r.number, r.author, r.action, r.message, r.time)
            for r in site.repo.history(site.admin, ref)]


def test_every_change_is_a_revision_with_author_time_and_message(site):
    repo, clock = site.repo, site.clock
    steps = [
        ("editor", "edit", lambda u: repo.edit(u, ITEM, set={"title@en": "Register, p. 1"},
                                               message="shorter title")),
        ("contributor", "submit", lambda u: repo.transition(u, ITEM, "submit",
                                                           comment="ready for review")),
        ("reviewer", "publish", lambda u: repo.transition(u, ITEM, "publish", comment="ok")),
        ("reviewer", "access", lambda u: repo.set_access(u, ITEM, "restricted",
                                                         message="names of minors")),
        ("manager", "move", lambda u: repo.move(u, ITEM, FILE, slug="p1", message="rename")),
        ("manager", "grant", lambda u: repo.grant(u, "editor", "Reviewer", on=FILE + "/p1")),
    ]
    windows = []
    for name, _, run in steps:
        start = clock.now
        run(site.user(name))
        windows.append((start, clock.now))
    hist = repo.history(site.admin, FILE + "/p1")
    assert [r.number for r in hist] == list(range(1, len(steps) + 2))
    assert (hist[0].author, hist[0].action) == ("admin", "create")
    assert repo.load(site.iris[ITEM]).revision == len(hist)
    for rev, (name, action, _), (start, end) in zip(hist[1:], steps, windows, strict=True):
        assert (rev.author, rev.action) == (name, action)
        assert start <= dt.datetime.fromisoformat(rev.time) < end
    assert [r.message for r in hist[1:5]] == ["shorter title", "ready for review", "ok",
                                              "names of minors"]
    assert all(r.message for r in hist)  # a default message when none is given


def test_refused_changes_make_no_revision(site):
    before = history_rows(site, ITEM)
    with pytest.raises(Forbidden):
        site.repo.edit(site.role("Reader"), ITEM, set={"title@en": "No"})
    with pytest.raises(Invalid):
        site.repo.edit(site.admin, ITEM, set={"title@en": "名册"})  # Chinese tagged @en
    with pytest.raises(Invalid):
        site.repo.edit(site.admin, ITEM, set={"title@en": "Register, page one"})  # no change
    assert history_rows(site, ITEM) == before


@pytest.fixture
def edited(site):
    """ITEM at revision 4: title@en changed (2), a scope added (3), the scope removed (4)."""
    repo, admin = site.repo, site.admin
    states = {1: desc(site, ITEM)}
    repo.edit(admin, ITEM, set={"title@en": "First page of the register"})
    states[2] = desc(site, ITEM)
    repo.edit(admin, ITEM, add=[], set={"scope@zh": "新生姓名、籍贯。", "end": "1957-09-30"})
    states[3] = desc(site, ITEM)
    repo.edit(admin, ITEM, unset=["scope@zh", "end"])
    states[4] = desc(site, ITEM)
    return states


def test_diff_shows_statements_added_and_removed(site, edited):
    repo, admin = site.repo, site.admin
    d12 = [str(x) for x in repo.diff(admin, ITEM, 1, 2)]
    assert d12 == ["+ title@en: First page of the register", "- title@en: Register, page one"]
    d23 = {str(x) for x in repo.diff(admin, ITEM, 2, 3)}
    assert d23 == {"+ scope@zh: 新生姓名、籍贯。", "+ end: 1957-09-30"}
    assert {str(x) for x in repo.diff(admin, ITEM, 3, 2)} == \
        {s.replace("+", "-", 1) for s in d23}
    assert {str(x) for x in repo.diff(admin, ITEM, 1, 4)} == set(d12)  # the scope came and went
    assert repo.diff(admin, ITEM, 3, 3) == []
    assert repo.diff(admin, ITEM, 4) == []  # default: to the current revision
    everything = {str(x) for x in repo.diff(admin, ITEM, 0, 1)}
    assert "+ title@zh: 名册第一页" in everything and "+ state: private" in everything
    for bad in ((0, 9), (-1, 2), (5, 1)):
        with pytest.raises(NotFound):
            repo.diff(admin, ITEM, *bad)


def test_diff_of_any_two_revisions_is_the_difference_of_their_states(site, edited):
    for a in range(1, 5):
        for b in range(1, 5):
            lines = site.repo.diff(site.admin, ITEM, a, b)
            assert len([x for x in lines if x.sign == "+"]) == len(edited[b] - edited[a])
            assert len([x for x in lines if x.sign == "-"]) == len(edited[a] - edited[b])


def test_diff_shows_workflow_and_access_changes(site):
    repo, admin = site.repo, site.admin
    repo.transition(admin, ITEM, "submit")
    repo.set_access(admin, ITEM, "embargoed", until="2030-01-01")
    lines = {str(x) for x in repo.diff(admin, ITEM, 1, 3)}
    assert {"- state: private", "+ state: pending", "+ openingDate: 2030-01-01"} <= lines
    assert any(x.startswith("+ access: ") and x.endswith("embargoed") for x in lines)


def test_revert_makes_a_new_revision_and_restores_the_description(site, edited):
    repo, admin = site.repo, site.admin
    for target in (3, 1, 2):  # (revision 4 has the description of revision 2)
        n = repo.load(site.iris[ITEM]).revision
        obj = repo.revert(site.role("Editor"), ITEM, target)
        assert obj.revision == n + 1
        assert desc(site, ITEM) == edited[target]
        last = repo.history(admin, ITEM)[-1]
        assert (last.action, last.author, last.number) == ("revert", "editor", n + 1)
    before = site.snapshot()
    with pytest.raises(Forbidden):
        repo.revert(site.role("Reader"), ITEM, 2)
    with pytest.raises(NotFound):
        repo.revert(admin, ITEM, 42)
    assert site.snapshot() == before


def test_revert_to_the_current_state_is_refused(site, edited):
    repo, admin = site.repo, site.admin
    before = site.snapshot()
    with pytest.raises(Invalid):
        repo.revert(admin, ITEM, 4)  # revision 4 is the current one: nothing to record
    with pytest.raises(Invalid):
        repo.revert(admin, ITEM, 2)  # … and so is revision 2 (the scope came and went)
    assert site.snapshot() == before


def test_revert_of_a_published_record_keeps_it_published_and_updates_the_public_view(site):
    repo, admin = site.repo, site.admin
    repo.transition(admin, FONDS, "publish", recursive=True)
    first = public_desc(site, site.iris[ITEM])
    assert first
    repo.edit(admin, ITEM, set={"title@en": "Changed after publication"})
    assert public_desc(site, site.iris[ITEM]) != first
    obj = repo.revert(admin, ITEM, 2)  # revision 2 is the publication: its description
    assert obj.state == "published"
    assert public_desc(site, site.iris[ITEM]) == first


def test_revert_restores_personal_field_marks(site):
    repo, admin = site.repo, site.admin
    repo.edit(admin, ITEM, set={"scope@zh": "家庭住址。"})
    repo.set_access(admin, ITEM, personal=["scope"])
    assert repo.load(site.iris[ITEM]).personal_fields == {"scope"}
    repo.revert(admin, ITEM, 2)
    assert repo.load(site.iris[ITEM]).personal_fields == frozenset()


def test_delete_then_revert_restores_the_object_as_private(site):
    repo, admin = site.repo, site.admin
    iri = site.iris[ITEM]
    repo.transition(admin, FONDS, "publish", recursive=True)
    before = desc(site, ITEM)
    assert public_desc(site, iri)
    n = repo.load(iri).revision
    repo.delete(admin, ITEM)
    with pytest.raises(NotFound):
        repo.get(admin, ITEM)
    with pytest.raises(NotFound):
        repo.get(admin, iri)
    assert iri not in [o.iri for o in repo.children(admin, FILE)]
    assert not public_desc(site, iri)
    # the tombstone keeps its history, found by IRI
    hist = repo.history(admin, iri)
    assert hist[-1].action == "delete" and len(hist) == n + 1
    with pytest.raises(NotFound):
        repo.history(site.role("Reader"), iri)
    # the IRI is never reused
    with pytest.raises(Conflict):
        repo.create(admin, FILE, "item", {"title": {"zh": "新", "en": "New"}}, key="page-1")
    obj = repo.revert(admin, iri, n)
    assert (obj.iri, obj.path, obj.state, obj.revision) == (iri, ITEM, "private", n + 2)
    assert desc(site, ITEM) == before
    assert iri in [o.iri for o in repo.children(admin, FILE)]
    assert not public_desc(site, iri)  # restored as private: not public until published again
    before_pub = dump(repo.public)
    repo.rebuild_publication()
    assert dump(repo.public) == before_pub


def test_restoring_needs_the_container_restored_first(site):
    repo, admin = site.repo, site.admin
    file_iri, item_iri = site.iris[FILE], site.iris[ITEM]
    n_file, n_item = repo.load(file_iri).revision, repo.load(item_iri).revision
    repo.delete(admin, FILE, recursive=True)
    before = site.snapshot()
    with pytest.raises(Conflict):
        repo.revert(admin, item_iri, n_item)
    assert site.snapshot() == before
    repo.revert(admin, file_iri, n_file)
    repo.revert(admin, item_iri, n_item)
    assert repo.get(admin, ITEM).iri == item_iri


def test_history_diff_and_revert_survive_reopening(site, edited):
    repo, admin = site.repo, site.admin
    repo.delete(admin, SERIES + "/register-1957/page-1")
    rows = history_rows(site, site.iris[ITEM])
    diffs = {(a, b): site.repo.diff(admin, site.iris[ITEM], a, b)
             for a in range(1, 6) for b in range(1, 6)}
    snap = site.snapshot()
    del repo, admin
    site.reopen()
    assert site.snapshot() == snap
    assert history_rows(site, site.iris[ITEM]) == rows
    admin = site.admin
    assert {k: site.repo.diff(admin, site.iris[ITEM], *k) for k in diffs} == diffs
    site.repo.revert(admin, site.iris[ITEM], 3)
    assert desc(site, ITEM) == edited[3]
    site.reopen()
    assert desc(site, ITEM) == edited[3]
    assert len(site.repo.history(site.admin, ITEM)) == 6


def test_history_order_does_not_depend_on_the_clock_moving(tmp_path):
    """With a clock that stands still, revisions still come in the order they were made, even
    when the changeset counter gains a hex digit (it used to sort '…-10' before '…-f')."""
    frozen = Clock(tick=dt.timedelta(0))
    s = new_site(tmp_path / "frozen", frozen, users=False)
    try:
        # bring the process-wide changeset counter to just below a new hex digit
        n = int(new_changeset_id(frozen.now).rsplit("-", 1)[-1], 16)
        boundary = 16 ** len(f"{n + 1:x}")
        if boundary - n > 1 << 20:
            pytest.skip("the changeset counter is too far from a new hex digit")
        while n < boundary - 2:
            n = int(new_changeset_id(frozen.now).rsplit("-", 1)[-1], 16)
        for n in range(3):
            s.repo.edit(s.admin, ITEM, set={"title@en": f"Version {n}"})
        hist = s.repo.history(s.admin, ITEM)
        assert [r.action for r in hist] == ["create", "edit", "edit", "edit"]
        assert [str(x) for x in s.repo.diff(s.admin, ITEM, 3, 4)] == \
            ["+ title@en: Version 2", "- title@en: Version 1"]
    finally:
        s.close()
