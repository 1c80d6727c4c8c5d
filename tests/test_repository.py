"""The content tree: create, read, update, move, delete by path; ordered children; stable IRIs;
content types mapped to RiC-O; bad input refused with the store unchanged."""

from __future__ import annotations

import pytest
from pyoxigraph import NamedNode
from support import BASE, FILE, FONDS, ITEM, PERSON, PLACE, SERIES

from ontology.namespaces import RDF, RICO, RST, SCHEMA
from repo.errors import Conflict, Invalid, NotFound

T = {"zh": "题名", "en": "A title"}


def triples(obj) -> set[tuple[str, str]]:
    return {(q.predicate.value, q.object.value) for q in obj.description
            if q.subject.value == obj.iri}


def test_iris_are_base_kind_key(site):
    assert site.iris == {
        "/agents": f"{BASE}/id/folder/agents",
        PERSON: f"{BASE}/id/agent/zhang-san",
        PLACE: f"{BASE}/id/place/xian",
        FONDS: f"{BASE}/id/recordset/xjtu",
        SERIES: f"{BASE}/id/recordset/students",
        "/xjtu/admin": f"{BASE}/id/recordset/admin",
        FILE: f"{BASE}/id/recordset/register-1957",
        ITEM: f"{BASE}/id/record/page-1",
    }
    generated = site.repo.create(site.admin, FILE, "item", {"title": T})
    assert generated.iri.startswith(f"{BASE}/id/record/") and len(generated.iri) > len(BASE) + 15


def test_content_types_are_described_in_ric_o(site):
    repo, admin = site.repo, site.admin
    load = lambda p: repo.load(site.iris[p])  # noqa: E731
    assert (RDF + "type", RICO + "RecordSet") in triples(load(FONDS))
    assert (RICO + "hasRecordSetType", RST + "Fonds") in triples(load(FONDS))
    assert (RICO + "hasRecordSetType", RST + "Series") in triples(load(SERIES))
    assert (RICO + "isDirectlyIncludedIn", site.iris[FONDS]) in triples(load(SERIES))
    assert (RICO + "hasRecordSetType", RST + "File") in triples(load(FILE))
    item = triples(load(ITEM))
    assert (RDF + "type", RICO + "Record") in item
    assert (RICO + "isDirectlyIncludedIn", site.iris[FILE]) in item
    assert (RICO + "hasOrHadSubject", site.iris[PERSON]) in item
    assert (RICO + "hasOrHadLanguage", "http://id.loc.gov/vocabulary/iso639-2/chi") in item
    assert (RDF + "type", RICO + "Person") in triples(load(PERSON))
    assert (RDF + "type", RICO + "Place") in triples(load(PLACE))
    scan = repo.create(admin, ITEM, "instantiation",
                       {"digest": "sha256:" + "0" * 64, "mime": "image/jpeg"}, slug="scan")
    assert (RICO + "isOrWasDigitalInstantiationOf", site.iris[ITEM]) in triples(scan)
    assert (RDF + "type", RICO + "Instantiation") in triples(scan)
    exhibit = repo.create(admin, "/", "exhibit", {"title": T}, slug="ex")
    section = repo.create(admin, exhibit.path, "section", {"title": T, "feature": [ITEM]})
    assert (RDF + "type", SCHEMA + "ExhibitionEvent") in triples(exhibit)
    assert (SCHEMA + "isPartOf", exhibit.iri) in triples(section)
    for type_name, cls in (("corporatebody", "CorporateBody"), ("family", "Family"),
                           ("event", "Event"), ("activity", "Activity")):
        obj = repo.create(admin, "/agents", type_name, {"name": T}, slug=type_name)
        assert (RDF + "type", RICO + cls) in triples(obj)
    coll = repo.create(admin, FONDS, "collection", {"title": T}, slug="coll")
    assert (RICO + "hasRecordSetType", RST + "Collection") in triples(coll)
    # every object's description lives in its own named graph
    for obj in (scan, exhibit, section, coll):
        assert {q.graph_name for q in obj.description} == {NamedNode(obj.iri)}


@pytest.mark.parametrize(("parent", "type_name", "fields", "error"), [
    ("/", "item", {"title": T}, Invalid),  # an item needs a record set around it
    ("/", "series", {"title": T}, Invalid),
    (FILE, "fonds", {"title": T}, Invalid),
    (ITEM, "file", {"title": T}, Invalid),
    ("/agents", "item", {"title": T}, Invalid),
    (FILE, "letter", {"title": T}, Invalid),  # no such type
    ("/nowhere", "item", {"title": T}, NotFound),
    (FILE, "item", {}, Invalid),  # title is required
    (FILE, "item", {"title": {"zh": "题名"}, "colour": "red"}, Invalid),
    (FILE, "item", {"title": T, "creator": PLACE}, Invalid),  # a place cannot create
    (FILE, "item", {"title": T, "begin": "1958", "end": "1957"}, Invalid),
])
def test_bad_creations_are_refused_and_change_nothing(site, parent, type_name, fields, error):
    before = site.snapshot()
    with pytest.raises(error) as info:
        site.repo.create(site.admin, parent, type_name, fields)
    assert info.value.message and "\n" not in info.value.message
    assert site.snapshot() == before


@pytest.mark.parametrize(("kw", "error"), [
    ({"slug": "Bad Name"}, Invalid),
    ({"slug": "page-1"}, Conflict),  # the path is taken
    ({"key": "Bad Key"}, Invalid),
    ({"key": "zhang-san"}, None),  # keys are per kind: a record may have a person's key
    ({"key": "page-1"}, Conflict),  # IRIs are never reused
])
def test_names_and_keys(site, kw, error):
    before = site.snapshot()
    if error is None:
        obj = site.repo.create(site.admin, FILE, "item", {"title": T}, slug="x", **kw)
        assert obj.iri == f"{BASE}/id/record/zhang-san"
        return
    with pytest.raises(error):
        site.repo.create(site.admin, FILE, "item", {"title": T}, **kw)
    assert site.snapshot() == before


def test_names_come_from_the_reference_code_or_the_english_title(site):
    repo, admin = site.repo, site.admin
    coded = repo.create(admin, FILE, "item", {"title": T, "refcode": "0421-XS·1957-Y-0001-007"})
    assert coded.path == FILE + "/0421-xs-1957-y-0001-007"
    titled = repo.create(admin, "/agents", "person", {"name": {"zh": "李四", "en": "Li Si"}})
    assert titled.path == "/agents/li-si"
    untitled = repo.create(admin, "/agents", "person", {"name": {"zh": "王五"}})
    assert untitled.path == "/agents/" + untitled.iri.rsplit("/", 1)[-1]


def test_read_by_path_or_iri(site):
    repo, admin = site.repo, site.admin
    by_path = repo.get(admin, ITEM)
    by_iri = repo.get(admin, site.iris[ITEM])
    assert by_path == by_iri
    assert repo.resolve("/") == repo.root_iri
    assert repo.resolve(ITEM + "/") == site.iris[ITEM]
    with pytest.raises(NotFound):
        repo.get(admin, f"{BASE}/id/record/nothing-here")
    with pytest.raises(NotFound):
        repo.get(admin, "/xjtu/nothing")


def test_children_keep_their_order(site):
    repo, admin = site.repo, site.admin
    for n in range(5):
        repo.create(admin, SERIES, "file", {"title": {"zh": f"案卷{n}", "en": f"File {n}"}},
                    slug=f"f{n}")
    names = [o.slug for o in repo.children(admin, SERIES)]
    assert names == ["register-1957", "f0", "f1", "f2", "f3", "f4"]
    repo.move(admin, SERIES + "/f3", SERIES, position=-1)
    assert repo.children(admin, SERIES)[0].slug == "f3"
    walk = [(level, o.path) for level, o in repo.walk(admin, FONDS)]
    assert walk[:4] == [(0, FONDS), (1, SERIES), (2, SERIES + "/f3"), (2, FILE)]
    assert (3, ITEM) in walk


def test_edit_sets_adds_and_unsets(site):
    repo, admin = site.repo, site.admin
    obj = repo.edit(admin, ITEM, set={"title@en": "New English title", "scope@zh": "内容。"})
    fields = obj.fields()
    assert ("New English title", "en") in fields["title"]
    assert ("名册第一页", "zh") in fields["title"]  # the other language is left alone
    obj = repo.edit(admin, ITEM, add=_a(["creator=/agents/zhang-san", "subject=/agents/xian"]))
    assert set(obj.fields(BASE)["subject"]) == {site.iris[PERSON], site.iris[PLACE]}
    obj = repo.edit(admin, ITEM, unset=["scope", "creator"])
    assert "scope" not in obj.fields() and "creator" not in obj.fields()
    before = site.snapshot()
    for kw in ({"unset": ["scope"]}, {"unset": ["colour"]}, {"set": {"title@zh": "Latin only"}},
               {"add": _a(["title@zh=第二个中文题名"])}, {"set": {"refcode": "0421-XZ"}},
               {}):
        with pytest.raises(Invalid):
            repo.edit(admin, ITEM, **kw)
    assert site.snapshot() == before


def _a(texts):
    from repo.values import Assignment

    return [Assignment.parse(t) for t in texts]


def test_move_keeps_the_iri_and_updates_paths_below(site):
    repo, admin = site.repo, site.admin
    sub = repo.create(admin, SERIES, "series", {"title": {"zh": "子类", "en": "Sub"}},
                      slug="sub")
    moved = repo.move(admin, FILE, sub.path)
    assert moved.iri == site.iris[FILE] and moved.path == sub.path + "/register-1957"
    assert (RICO + "isDirectlyIncludedIn", sub.iri) in triples(moved)
    assert repo.get(admin, sub.path + "/register-1957/page-1").iri == site.iris[ITEM]
    with pytest.raises(NotFound):
        repo.resolve(ITEM)
    renamed = repo.move(admin, moved.path, sub.path, slug="r57")
    assert renamed.path == sub.path + "/r57"
    before = site.snapshot()
    for target, kw, error in ((sub.path + "/r57", {}, Invalid),  # into itself
                              (sub.path + "/r57/page-1", {}, Invalid),
                              ("/agents", {}, Invalid),  # a file cannot live there
                              (SERIES, {"slug": "sub"}, Conflict),
                              (SERIES, {"slug": "No Good"}, Invalid),
                              ("/nowhere", {}, NotFound)):
        with pytest.raises(error):
            repo.move(admin, sub.path + "/r57", target, **kw)
    assert site.snapshot() == before
    # only the moved object gets a revision, not everything whose path changed
    assert len(repo.history(admin, site.iris[ITEM])) == 1


def test_delete_leaves_a_tombstone_and_frees_the_path(site):
    repo, admin = site.repo, site.admin
    before = site.snapshot()
    with pytest.raises(Invalid):
        repo.delete(admin, FILE)  # not empty
    assert site.snapshot() == before
    gone = repo.delete(admin, FILE, recursive=True)
    assert set(gone) == {site.iris[FILE], site.iris[ITEM]}
    for path in (FILE, ITEM):
        with pytest.raises(NotFound):
            repo.get(admin, path)
        assert repo.load(site.iris[path]).deleted
        assert not repo.load(site.iris[path]).description
    assert [o.path for o in repo.children(admin, SERIES)] == []
    again = repo.create(admin, SERIES, "file", {"title": T}, slug="register-1957")
    assert again.path == FILE and again.iri != site.iris[FILE]


def test_an_object_that_others_link_to_cannot_be_deleted(site):
    """Deleting a linked agent would leave dangling links that make every later edit of the
    records citing it invalid: the delete is refused until the links are gone."""
    repo, admin = site.repo, site.admin
    before = site.snapshot()
    with pytest.raises(Conflict) as info:
        repo.delete(admin, PERSON)
    assert ITEM in info.value.message
    assert site.snapshot() == before
    repo.edit(admin, ITEM, set={"title@en": "Still editable"})
    repo.edit(admin, ITEM, unset=["subject"])
    repo.delete(admin, PERSON)
    assert repo.load(site.iris[PERSON]).deleted


def test_a_field_in_the_wrong_language_or_datatype_is_refused(site):
    before = site.snapshot()
    for fields in ({"title": {"en": "西迁"}}, {"title": {"zh": "Westward"}},
                   {"title": "no language"}, {"begin": "1957年"}, {"begin": "1957-02-30"},
                   {"category": "ZZ"}, {"retention": "D20"}, {"language": "klingon"},
                   {"subject": "/agents/nobody-here"}):
        with pytest.raises((Invalid, NotFound)):
            site.repo.create(site.admin, FILE, "item", {"title": T, **fields}
                             if "title" not in fields else fields)
    assert site.snapshot() == before


def test_reopening_the_site_changes_nothing(site):
    snap = site.snapshot()
    site.reopen()
    assert site.snapshot() == snap
    assert site.repo.get(site.admin, ITEM).iri == site.iris[ITEM]
    assert {u.name for u in site.repo.users()} == {"admin", "reader", "contributor", "editor",
                                                   "reviewer", "manager", "nobody"}


def test_any_text_survives_the_round_trip(site):
    """Quotes, backslashes, braces, newlines and characters beyond the BMP are stored as given
    (writes are SPARQL updates built from N-Triples terms)."""
    repo, admin = site.repo, site.admin
    weird = 'He said "hi" \\ and } { . <x> > \n newline\t tab 𠀀 😀 \'s ; GRAPH ?g { }'
    repo.transition(admin, FONDS, "publish", recursive=True)
    repo.edit(admin, ITEM, set={"title@en": weird, "scope@zh": "引号“”与反斜杠\\。"})
    del repo
    site.reopen()
    obj = site.repo.load(site.iris[ITEM])
    assert (weird, "en") in obj.fields()["title"]
    assert ("引号“”与反斜杠\\。", "zh") in obj.fields()["scope"]
    public = {q.object.value for q in site.repo.public.quads_for_pattern(
        NamedNode(site.iris[ITEM]), None, None)}
    assert weird in public
    assert f"+ title@en: {weird}" in [str(x) for x in site.repo.diff(site.admin, ITEM, 2, 3)]
