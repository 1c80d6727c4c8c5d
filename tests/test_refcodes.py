"""Reference codes (档号) after DA/T 13-2022: parsing, checking in context, numbering."""

from __future__ import annotations

import pytest
from support import FILE, ITEM, SERIES

from repo import refcodes
from repo.errors import Conflict, Invalid
from repo.refcodes import RefCode
from repo.repository import NewObject

T = {"zh": "题名", "en": "A title"}


@pytest.mark.parametrize(("code", "parts", "level"), [
    ("0421", {"fonds": "0421"}, "fonds"),
    ("X001", {"fonds": "X001"}, "fonds"),
    ("0421-XS", {"fonds": "0421", "category": "XS"}, "series"),
    ("0421-XS·1957-Y-0012",
     {"fonds": "0421", "category": "XS", "year": "1957", "retention": "Y", "number": "0012"},
     "unit"),
    ("0421-JX·1988-D30-BGS-0012",
     {"fonds": "0421", "category": "JX", "year": "1988", "retention": "D30", "unit": "BGS",
      "number": "0012"}, "unit"),
    ("0421-XS·1957-D10-0012-003",
     {"fonds": "0421", "category": "XS", "year": "1957", "retention": "D10", "number": "0012",
      "item": "003"}, "item-in-file"),
    ("0421-XS·1957-Y-0012-0003", {"item": "0003"}, "item-in-file"),
])
def test_good_codes_parse(code, parts, level):
    rc = refcodes.parse(code)
    for key, value in parts.items():
        assert getattr(rc, key) == value
    assert rc.level == level
    assert str(rc) == code  # round trip


@pytest.mark.parametrize("variant", ["0421-XS・1957-Y-0012", "0421-XS･1957-Y-0012",
                                     "  0421-XS·1957-Y-0012 "])
def test_look_alike_middle_dots_and_spaces_are_normalised(variant):
    assert str(refcodes.parse(variant)) == "0421-XS·1957-Y-0012"


@pytest.mark.parametrize(("code", "hint"), [
    ("421", "FONDS"),
    ("04211", "FONDS"),
    ("0421-xs", "FONDS"),  # categories are upper case
    ("0421-XX", "not a record category"),
    ("0421-XS.1957-Y-0012", "U+00B7"),  # a full stop instead of the middle dot
    ("0421-XS-1957-Y-0012", "FONDS"),
    ("0421-XS·57-Y-0012", "FONDS"),
    ("0421-XS·1957-D20-0012", "FONDS"),  # no such retention period
    ("0421-XS·1957-Y-12", "FONDS"),
    ("0421-XS·1957-Y-0012-3", "FONDS"),
    ("0421-XS·1957-Y-0012-003-1", "FONDS"),
    ("0421-XS·1957", "FONDS"),
    ("", "FONDS"),
])
def test_bad_codes_are_refused_with_a_reason(code, hint):
    with pytest.raises(Invalid) as info:
        refcodes.parse(code)
    assert hint in info.value.message and "\n" not in info.value.message


CTX = {"fonds": "0421", "category": "XS", "retention": "Y"}


@pytest.mark.parametrize(("code", "type_name", "ctx", "reason"), [
    ("0421-XS", "file", CTX, "needs unit"),  # a series code on a file
    ("0421-XS·1957-Y-0001", "series", CTX, "needs series"),
    ("0421-XS·1957-Y-0001-001", "file", CTX, "needs unit"),
    ("0421", "item", CTX, "needs"),
    ("0422-XS·1957-Y-0001", "file", CTX, "fonds 0421"),  # wrong fonds
    ("0421-XZ·1957-Y-0001", "file", CTX, "category"),  # wrong category
    ("0421-XS·1957-D30-0001", "file", CTX, "retention"),
])
def test_codes_are_checked_against_their_context(code, type_name, ctx, reason):
    with pytest.raises(Invalid) as info:
        refcodes.check(code, type_name=type_name, **ctx)
    assert reason in info.value.message


def test_codes_that_fit_their_context():
    for code, type_name in (("0421", "fonds"), ("0421-XS", "series"), ("0421-XS", "collection"),
                            ("0421-XS·1957-Y-0001", "file"), ("0421-XS·1957-Y-0001", "item"),
                            ("0421-XS·1957-Y-0001-002", "item")):
        assert str(refcodes.check(code, type_name=type_name, **CTX)) == code


def test_next_code_takes_the_first_free_number():
    taken = {"0421-XS·1957-Y-0001", "0421-XS·1957-Y-0003"}
    kw = {"fonds": "0421", "category": "XS", "year": "1957", "retention": "Y"}
    assert refcodes.next_code(parent_code=None, taken=taken.__contains__, in_file=False,
                              **kw) == "0421-XS·1957-Y-0002"
    parent = RefCode("0421", "XS", "1957", "Y", None, "0003")
    assert refcodes.next_code(parent_code=parent, taken={"0421-XS·1957-Y-0003-001"}.__contains__,
                              in_file=True, **kw) == "0421-XS·1957-Y-0003-002"
    # with hints, a run of numbers is handed out in order without searching from 1 again
    hints: dict[str, int] = {}
    got = [refcodes.next_code(parent_code=None, taken=taken.__contains__, in_file=False,
                              hints=hints, **kw) for _ in range(3)]
    assert got == ["0421-XS·1957-Y-0002", "0421-XS·1957-Y-0004", "0421-XS·1957-Y-0005"]


# ---------------------------------------------------------------------- in the repository
def codes(site, parent: str) -> list[str]:
    return [o.fields()["refcode"][0] for o in site.repo.children(site.admin, parent)]


def test_files_and_items_are_numbered_by_the_repository(site):
    repo, admin = site.repo, site.admin
    assert codes(site, SERIES) == ["0421-XS·1957-Y-0001"]
    assert codes(site, FILE) == ["0421-XS·1957-Y-0001-001"]
    repo.create(admin, SERIES, "file", {"title": T, "begin": "1957-10"}, slug="second")
    repo.create(admin, SERIES, "file", {"title": T, "begin": "1958"}, slug="third")
    assert codes(site, SERIES) == ["0421-XS·1957-Y-0001", "0421-XS·1957-Y-0002",
                                   "0421-XS·1958-Y-0001"]
    repo.create(admin, FILE, "item", {"title": T, "begin": "1957"}, slug="p2")
    assert codes(site, FILE)[-1] == "0421-XS·1957-Y-0001-002"
    # no year, no number: the code is left for the archivist
    undated = repo.create(admin, SERIES, "file", {"title": T}, slug="undated")
    assert "refcode" not in undated.fields()


def test_a_given_code_is_checked_and_stored_normalised(site):
    repo, admin = site.repo, site.admin
    obj = repo.create(admin, SERIES, "file", {"title": T, "refcode": "0421-XS・1960-Y-0042"})
    assert obj.fields()["refcode"] == ["0421-XS·1960-Y-0042"]
    before = site.snapshot()
    for code in ("0999-XS·1960-Y-0043", "0421-XZ·1960-Y-0043", "0421-XS·1960-D10-0043",
                 "0421-XS", "0421-XS.1960-Y-0043"):
        with pytest.raises(Invalid):
            repo.create(admin, SERIES, "file", {"title": T, "refcode": code})
    assert site.snapshot() == before


def test_a_duplicate_code_is_a_conflict(site):
    repo, admin = site.repo, site.admin
    before = site.snapshot()
    with pytest.raises(Conflict):
        repo.create(admin, SERIES, "file", {"title": T, "refcode": "0421-XS·1957-Y-0001"},
                    slug="dup")
    with pytest.raises(Conflict):
        repo.edit(admin, ITEM, set={"refcode": "0421-XS·1957-Y-0001"})  # the file's code
    with pytest.raises(Conflict):
        repo.create(admin, "/", "fonds", {"title": T, "refcode": "0421"}, slug="again")
    assert site.snapshot() == before
    # a deleted object's code is free again
    repo.delete(admin, FILE, recursive=True)
    repo.create(admin, SERIES, "file", {"title": T, "refcode": "0421-XS·1957-Y-0001"})


def test_ingest_numbers_each_file_of_a_batch_differently(site):
    specs = [NewObject(SERIES, "file", {"title": T, "begin": "1960"}, slug=f"bulk-{n}")
             for n in range(3)]
    site.repo.ingest(site.admin, specs, message="three files")
    got = codes(site, SERIES)[1:]
    assert len(set(got)) == 3, got


def test_ingest_refuses_a_duplicate_code_within_a_batch(site):
    specs = [NewObject(SERIES, "file", {"title": T, "refcode": "0421-XS·1961-Y-0007"},
                       slug=f"dup-{n}") for n in range(2)]
    before = site.snapshot()
    with pytest.raises(Conflict):
        site.repo.ingest(site.admin, specs, message="duplicates")
    assert site.snapshot() == before


def test_ingest_refuses_a_code_already_in_the_store(site):
    specs = [NewObject(SERIES, "file", {"title": T, "refcode": "0421-XS·1957-Y-0001"},
                       slug="dup")]
    before = site.snapshot()
    with pytest.raises(Conflict):
        site.repo.ingest(site.admin, specs, message="duplicate")
    assert site.snapshot() == before
