"""Access rules, independent of the workflow: open, restricted, personal, embargoed.

Only objects that are published AND open (and inside no closed container) are in the
publication dataset; personal fields and links to non-public objects never are.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pyoxigraph import NamedNode
from support import FILE, FONDS, ITEM, PERSON, PLACE, SERIES, Clock, Site, dump, new_site

from ontology.namespaces import RICO
from repo.errors import Forbidden, Invalid, NotFound

TITLE = {"zh": "档案", "en": "A record"}


def item(site: Site, slug: str, parent: str = FILE, **fields):
    kw = {k: fields.pop(k) for k in ("access", "until", "personal_fields") if k in fields}
    return site.repo.create(site.admin, parent, "item", {"title": TITLE, **fields}, slug=slug,
                            **kw)


def public_graphs(site: Site) -> set[str]:
    return {q.graph_name.value for q in site.repo.public}


def public_text(site: Site) -> str:
    return "\n".join(dump(site.repo.public))


def assert_publication_consistent(site: Site) -> None:
    before = dump(site.repo.public)
    site.repo.rebuild_publication()
    assert dump(site.repo.public) == before


def publish_tree(site: Site) -> None:
    """Publish the fonds and everything in it (all open by default)."""
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)


# ---------------------------------------------------------------------- default rule
@pytest.mark.parametrize(("fields", "access", "opening"), [
    ({"begin": "2010-06-15"}, "embargoed", dt.date(2035, 6, 15)),
    ({"begin": "2010", "end": "2012-03"}, "embargoed", dt.date(2037, 3, 31)),
    ({"begin": "2011-04"}, "embargoed", dt.date(2036, 4, 30)),
    ({"date": "2001年5月"}, "embargoed", dt.date(2026, 12, 31)),
    ({"begin": "2004-02-29"}, "embargoed", dt.date(2029, 2, 28)),
    ({}, "embargoed", dt.date(2050, 3, 1)),  # no date: from the day it is described
    ({"begin": "1957-09-01"}, "open", None),  # the date has passed already
    ({"begin": "1999", "end": "2000-03-01"}, "open", None),  # 2025-03-01: opens today
])
def test_default_embargo_is_the_record_date_plus_25_years(site, fields, access, opening):
    obj = item(site, "rec", **fields)
    assert site.clock.today() == dt.date(2025, 3, 1)
    assert (obj.access, obj.opening_date) == (access, opening)


def test_files_are_embargoed_too_but_containers_and_agents_are_open(site):
    repo, admin = site.repo, site.admin
    f = repo.create(admin, SERIES, "file", {"title": TITLE, "begin": "2020"})
    assert (f.access, f.opening_date) == ("embargoed", dt.date(2045, 12, 31))
    for parent, type_name in ((FONDS, "series"), ("/", "fonds"), (FONDS, "collection")):
        c = repo.create(admin, parent, type_name, {"title": TITLE, "begin": "2020"},
                        slug=f"new-{type_name}")
        assert (c.access, c.opening_date) == ("open", None), type_name
    p = repo.create(admin, "/agents", "person", {"name": {"zh": "李四"}, "birthDate": "2001"})
    assert p.access == "open"


def test_the_period_is_configurable(tmp_path):
    s = new_site(tmp_path / "thirty", Clock(), embargo_years=30)
    try:
        obj = s.repo.create(s.admin, "/xjtu/students/register-1957", "item",
                            {"title": TITLE, "begin": "1996"})
        assert (obj.access, obj.opening_date) == ("embargoed", dt.date(2026, 12, 31))
    finally:
        s.close()
    s = new_site(tmp_path / "default", Clock())
    try:
        obj = s.repo.create(s.admin, FILE, "item", {"title": TITLE, "begin": "1996"})
        assert (obj.access, obj.opening_date) == ("open", None)
    finally:
        s.close()


# ---------------------------------------------------------------------- explicit embargo
def test_explicit_embargo_until_a_date(site):
    repo, admin = site.repo, site.admin
    obj = item(site, "rec", begin="1957", access="embargoed", until="2030-01-01")
    assert (obj.access, obj.opening_date) == ("embargoed", dt.date(2030, 1, 1))
    # later: a stricter (later) embargo is a restriction, an earlier one an opening
    obj = repo.set_access(site.role("Editor"), obj.path, "embargoed", until="2031-06-30")
    assert obj.opening_date == dt.date(2031, 6, 30)
    with pytest.raises(Forbidden):
        repo.set_access(site.role("Editor"), obj.path, "embargoed", until="2029-01-01")
    obj = repo.set_access(site.role("Reviewer"), obj.path, "embargoed", until="2029-01-01")
    assert obj.opening_date == dt.date(2029, 1, 1)
    # embargoed without --until: from the record's date
    other = item(site, "other", begin="2010-01-01")
    repo.set_access(admin, other.path, "restricted")
    assert repo.set_access(admin, other.path, "embargoed").opening_date == dt.date(2035, 1, 1)


@pytest.mark.parametrize(("level", "until"), [
    ("restricted", "2030-01-01"),  # --until goes with embargoed only
    ("embargoed", "2030-13-01"),
    ("embargoed", "next year"),
    ("closed", None),
])
def test_bad_access_input_is_refused_and_changes_nothing(site, level, until):
    before = site.snapshot()
    with pytest.raises(Invalid):
        site.repo.set_access(site.admin, ITEM, level, until=until)
    with pytest.raises(Invalid):
        item(site, "rec", access=level, until=until)
    assert site.snapshot() == before


def test_setting_the_same_access_again_is_refused(site):
    site.repo.set_access(site.admin, ITEM, "restricted")
    before = site.snapshot()
    for ref, level in ((ITEM, "restricted"), (SERIES, "open")):
        with pytest.raises(Invalid):
            site.repo.set_access(site.admin, ref, level)
    assert site.snapshot() == before


# ---------------------------------------------------------------------- automatic release
def test_automatic_release_when_the_clock_passes_the_date(site):
    repo, admin = site.repo, site.admin
    published = item(site, "published", begin="1957", access="embargoed", until="2026-01-01")
    private = item(site, "private", begin="1957", access="embargoed", until="2026-01-01")
    later = item(site, "later", begin="1957", access="embargoed", until="2027-01-01")
    publish_tree(site)
    repo.transition(admin, private.path, "withdraw")
    assert repo.release_due() == []
    assert published.iri not in public_graphs(site)

    site.clock.set(dt.datetime(2026, 1, 1, 0, 0, 1, tzinfo=dt.UTC))
    opened = repo.release_due()
    assert sorted(opened) == sorted([published.iri, private.iri])
    for obj in (published, private):
        now = repo.load(obj.iri)
        assert (now.access, now.opening_date) == ("open", None)
        last = repo.history(admin, obj.path)[-1]
        assert (last.author, last.action) == ("system", "release")
        assert last.time.startswith("2026-01-01")
    assert repo.load(later.iri).access == "embargoed"
    # enters the publication dataset only if it is also published
    graphs = public_graphs(site)
    assert published.iri in graphs
    assert private.iri not in graphs and later.iri not in graphs
    assert repo.release_due() == []  # nothing left to release
    assert_publication_consistent(site)


def test_release_of_a_container_brings_what_is_inside_with_it(site):
    repo, admin = site.repo, site.admin
    publish_tree(site)
    repo.set_access(admin, SERIES, "embargoed", until="2025-06-01")
    graphs = public_graphs(site)
    assert site.iris[FONDS] in graphs
    assert not {site.iris[p] for p in (SERIES, FILE, ITEM)} & graphs
    assert repo.release_due(today=dt.date(2025, 5, 31)) == []
    assert repo.release_due(today=dt.date(2025, 6, 1)) == [site.iris[SERIES]]
    assert {site.iris[p] for p in (FONDS, SERIES, FILE, ITEM)} <= public_graphs(site)
    assert_publication_consistent(site)


# ---------------------------------------------------------------------- personal records
@pytest.fixture
def transcript(site):
    """A personal record about zhang-san, published, and a user who is zhang-san."""
    repo, admin = site.repo, site.admin
    rec = item(site, "transcript", begin="1960", subject=PERSON, access="personal",
               scope={"zh": "成绩单，学号 XJ-1957-0042。"})
    scan = repo.create(admin, rec.path, "instantiation",
                       {"digest": "sha256:" + "ab" * 32, "mime": "image/jpeg", "width": "1200",
                        "height": "1600"}, slug="scan-1")
    other = item(site, "other-transcript", begin="1960", access="personal")
    repo.transition(admin, FONDS, "publish", recursive=True)
    repo.add_user(admin, "zhangsan", roles=[], agent=PERSON, fullname="张三")
    return rec, scan, other


def test_personal_records_are_seen_by_staff_and_the_person_described(site, transcript):
    rec, scan, other = transcript
    repo = site.repo
    me = site.user("zhangsan")
    assert me.agent == site.iris[PERSON]
    assert repo.get(me, rec.path).iri == rec.iri
    assert repo.get(me, scan.path).iri == scan.iri  # and its scans
    assert repo.get(site.role("Reader"), rec.path).iri == rec.iri
    for who, ref in ((me, other.path), (me, ITEM), (me, FILE), (site.user("nobody"), rec.path)):
        with pytest.raises(NotFound):
            repo.get(who, ref)
    assert [o.iri for o in repo.children(me, FILE)] == [rec.iri]
    # reading is all the person described may do
    before = site.snapshot()
    with pytest.raises(Forbidden):
        repo.edit(me, rec.path, set={"title@en": "Mine"})
    assert site.snapshot() == before


def test_personal_records_never_reach_the_publication_dataset(site, transcript):
    text = public_text(site)
    for obj in transcript:
        assert site.repo.load(obj.iri).state == "published"
        assert obj.iri not in text
    assert "XJ-1957-0042" not in text
    assert site.iris[ITEM] in public_graphs(site)


def test_personal_fields_are_stripped_from_the_public_view(site):
    repo, admin = site.repo, site.admin
    rec = item(site, "letter", begin="1957", personal_fields=["scope"],
               scope={"zh": "内含家庭住址：西安市某路 13 号。"})
    repo.transition(admin, PERSON, "publish")
    publish_tree(site)
    person = NamedNode(site.iris[PERSON])
    props = {q.predicate.value for q in repo.public.quads_for_pattern(person, None, None)}
    assert RICO + "name" in props and RICO + "history" in props
    assert RICO + "birthDate" not in props  # personal by the profile
    assert "1935-05-04" not in public_text(site)
    assert "家庭住址" not in public_text(site)  # personal on this record
    assert rec.iri in public_graphs(site)
    # the marks are access rules: unmarking opens (a reviewer), marking restricts (an editor)
    with pytest.raises(Forbidden):
        repo.set_access(site.role("Editor"), rec.path, not_personal=["scope"])
    repo.set_access(site.role("Reviewer"), rec.path, not_personal=["scope"])
    assert "家庭住址" in public_text(site)
    repo.set_access(site.role("Editor"), PERSON, personal=["history"])
    assert "1956年随校西迁" not in public_text(site)
    with pytest.raises(Invalid):
        repo.set_access(admin, PERSON, personal=["shoeSize"])
    assert_publication_consistent(site)


# ---------------------------------------------------------------------- closed containers
@pytest.mark.parametrize("level", ["restricted", "personal", "embargoed"])
def test_a_closed_container_hides_everything_inside(site, level):
    repo, admin = site.repo, site.admin
    publish_tree(site)
    inside = {site.iris[p] for p in (SERIES, FILE, ITEM)}
    assert inside | {site.iris[FONDS]} <= public_graphs(site)
    repo.set_access(admin, SERIES, level)
    graphs = public_graphs(site)
    assert site.iris[FONDS] in graphs
    assert not inside & graphs
    assert not any(iri in public_text(site) for iri in inside)
    assert_publication_consistent(site)
    repo.set_access(admin, SERIES, "open")
    assert inside <= public_graphs(site)
    assert_publication_consistent(site)


def test_published_and_open_are_both_needed(site):
    repo, admin = site.repo, site.admin
    open_private = item(site, "open-private", begin="1957")
    closed_published = item(site, "closed-published", begin="1957", access="restricted")
    repo.transition(admin, closed_published.path, "publish")
    for path in (FONDS, SERIES, FILE):
        repo.transition(admin, path, "publish")
    graphs = public_graphs(site)
    assert {site.iris[p] for p in (FONDS, SERIES, FILE)} <= graphs
    assert open_private.iri not in graphs and closed_published.iri not in graphs
    repo.transition(admin, open_private.path, "publish")
    assert open_private.iri in public_graphs(site)
    repo.transition(admin, open_private.path, "withdraw")
    assert open_private.iri not in public_graphs(site)
    assert_publication_consistent(site)


def test_a_container_that_is_not_published_hides_what_is_inside(site):
    repo, admin = site.repo, site.admin
    repo.transition(admin, FILE, "publish")
    repo.transition(admin, ITEM, "publish")
    assert public_graphs(site) == set()  # the fonds and series above are private
    publish_tree(site)
    assert site.iris[ITEM] in public_graphs(site)
    repo.transition(admin, SERIES, "withdraw")
    assert public_graphs(site) == {site.iris[FONDS], site.iris["/xjtu/admin"]}
    assert_publication_consistent(site)
    repo.transition(admin, SERIES, "publish")
    assert {site.iris[p] for p in (SERIES, FILE, ITEM)} <= public_graphs(site)
    # folders organise and are never published: what is in them only needs them open
    repo.transition(admin, PERSON, "publish")
    assert site.iris[PERSON] in public_graphs(site)
    assert site.iris["/agents"] not in public_graphs(site)
    repo.set_access(admin, "/agents", "restricted")
    assert site.iris[PERSON] not in public_graphs(site)
    assert_publication_consistent(site)


# ---------------------------------------------------------------------- links
def test_links_to_objects_that_are_not_public_are_stripped(site):
    repo, admin = site.repo, site.admin
    publish_tree(site)
    person, place = site.iris[PERSON], site.iris[PLACE]
    item_graph = NamedNode(site.iris[ITEM])
    assert site.iris[ITEM] in public_graphs(site)
    assert person not in public_text(site) and place not in public_text(site)
    # the person is published: the item's public view now links to them
    repo.transition(admin, PERSON, "publish")
    links = {q.object for q in repo.public.quads_for_pattern(None, None, None, item_graph)}
    assert NamedNode(person) in links
    # closed again: the link goes, and the IRI is nowhere in the publication dataset
    repo.set_access(admin, PERSON, "restricted")
    assert person not in public_text(site)
    assert_publication_consistent(site)
    repo.set_access(admin, PERSON, "open")
    repo.transition(admin, PERSON, "withdraw")
    assert person not in public_text(site)
    assert_publication_consistent(site)


def test_no_iri_of_a_closed_record_in_the_publication_dataset(site):
    repo, admin = site.repo, site.admin
    closed = item(site, "closed", begin="1957", access="restricted")
    embargoed = item(site, "embargoed", begin="2015")
    shown = item(site, "shown", begin="1957")
    exhibit = repo.create(admin, "/", "exhibit",
                          {"title": {"zh": "西迁展", "en": "The move west"},
                           "feature": [closed.path, embargoed.path, shown.path, ITEM],
                           "about": [FILE]}, slug="westward")
    publish_tree(site)
    repo.transition(admin, exhibit.path, "publish")
    ex = NamedNode(exhibit.iri)
    linked = {q.object.value for q in repo.public.quads_for_pattern(ex, None, None, ex)
              if isinstance(q.object, NamedNode)}
    assert {shown.iri, site.iris[ITEM], site.iris[FILE]} <= linked
    text = public_text(site)
    assert closed.iri not in text and embargoed.iri not in text
    # closing the file takes everything in it out, links included
    repo.set_access(admin, FILE, "restricted")
    text = public_text(site)
    for iri in (site.iris[FILE], site.iris[ITEM], shown.iri):
        assert iri not in text
    assert exhibit.iri in public_graphs(site)
    assert_publication_consistent(site)


def test_the_person_described_does_not_see_restricted_records_inside_their_file(site):
    repo, admin = site.repo, site.admin
    folder = repo.create(admin, SERIES, "file",
                         {"title": {"zh": "学籍档案", "en": "Student file"}, "begin": "1960",
                          "subject": PERSON}, access="personal", slug="student-file")
    inner = repo.create(admin, folder.path, "item",
                        {"title": {"zh": "内部审查意见", "en": "Internal review"}, "begin": "1960"},
                        access="restricted", slug="review")
    repo.add_user(admin, "zhangsan", roles=[], agent=PERSON)
    me = site.user("zhangsan")
    assert repo.get(me, folder.path).iri == folder.iri
    with pytest.raises(NotFound):
        repo.get(me, inner.path)


def test_the_default_rule_follows_a_date_added_later(site):
    """A record described first and dated later gets the default rule of its date, unless
    someone set its access explicitly."""
    repo, admin = site.repo, site.admin
    obj = item(site, "undated")
    assert (obj.access, obj.opening_date) == ("embargoed", dt.date(2050, 3, 1))
    obj = repo.edit(admin, obj.path, set={"begin": "1957"})
    assert (obj.access, obj.opening_date) == ("open", None)
    obj = repo.edit(admin, obj.path, set={"begin": "2010-06-15"})
    assert (obj.access, obj.opening_date) == ("embargoed", dt.date(2035, 6, 15))
    explicit = item(site, "explicit", access="embargoed", until="2040-01-01")
    explicit = repo.edit(admin, explicit.path, set={"begin": "1957"})
    assert (explicit.access, explicit.opening_date) == ("embargoed", dt.date(2040, 1, 1))
