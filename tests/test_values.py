"""From what an archivist types to RDF terms: dates, languages and scripts, vocabulary codes,
links, numbers and patterns. Every refusal names the field and the value."""

from __future__ import annotations

import pytest
from pyoxigraph import Literal, NamedNode
from support import BASE, ITEM, PERSON, PLACE

from ontology.namespaces import ISO639, RDF_LANGSTRING, XSD
from ontology.profile import load_profile
from repo.errors import Invalid, NotFound
from repo.values import (
    Assignment,
    assignments_from_mapping,
    check_script,
    display,
    parse_date,
    to_term,
)

PROFILE = load_profile()
PATHS = {"/agents/zhang-san": f"{BASE}/id/agent/zhang-san"}


def resolve(ref: str) -> str:
    if ref.startswith("http"):
        return ref
    if ref not in PATHS:
        raise NotFound(f"no object at {ref}")
    return PATHS[ref]


def term(type_name: str, text: str):
    f, t = to_term(PROFILE.type(type_name), Assignment.parse(text), base=BASE, resolve=resolve)
    return f.name, t


# ---------------------------------------------------------------------- assignments
@pytest.mark.parametrize(("text", "parsed"), [
    ("title@zh=西迁", ("title", "zh", "西迁")),
    ("title@en=Westward move", ("title", "en", "Westward move")),
    ("begin=1956-08", ("begin", None, "1956-08")),
    ("note@en=a=b", ("note", "en", "a=b")),  # only the first '=' separates
    (" creator =/agents/a", ("creator", None, "/agents/a")),
])
def test_assignment_parse(text, parsed):
    a = Assignment.parse(text)
    assert (a.field, a.lang, a.value) == parsed


def test_assignment_without_equals_is_refused():
    with pytest.raises(Invalid) as info:
        Assignment.parse("title@zh")
    assert "FIELD=VALUE" in info.value.message


def test_assignments_from_a_mapping():
    got = assignments_from_mapping({"title": {"zh": "西迁", "en": "Move"}, "creator": ["/a", "/b"],
                                    "scope@en": "Text", "begin": 1956, "end": None})
    assert [(a.field, a.lang, a.value) for a in got] == [
        ("title", "zh", "西迁"), ("title", "en", "Move"), ("creator", None, "/a"),
        ("creator", None, "/b"), ("scope", "en", "Text"), ("begin", None, "1956")]


# ---------------------------------------------------------------------- dates
@pytest.mark.parametrize(("text", "datatype"), [
    ("1956", "gYear"), ("1956-08", "gYearMonth"), ("1956-08-31", "date"),
    (" 2000-02-29 ", "date"), ("0800", "gYear"),
])
def test_dates(text, datatype):
    lit = parse_date(text, "begin")
    assert lit == Literal(text.strip(), datatype=NamedNode(XSD + datatype))


@pytest.mark.parametrize("text", ["1956-13", "1956-00", "1956-02-30", "1900-02-29", "56",
                                  "1956/08", "1956年8月", "August 1956", "1956-8", "19560801", ""])
def test_bad_dates(text):
    with pytest.raises(Invalid) as info:
        parse_date(text, "begin")
    assert "begin" in info.value.message and "YYYY" in info.value.message


def test_the_date_field_takes_free_text_and_the_normalised_ones_do_not():
    assert term("item", "date=1956年8月") == ("date", Literal("1956年8月"))
    with pytest.raises(Invalid):
        term("item", "begin=1956年8月")
    assert term("person", "birthDate=1935-05")[1].datatype == NamedNode(XSD + "gYearMonth")


# ---------------------------------------------------------------------- languages and scripts
@pytest.mark.parametrize(("text", "expected"), [
    ("title@zh=西迁", Literal("西迁", language="zh")),
    ("title@zh-Hans=西迁", Literal("西迁", language="zh-hans")),
    ("title@ZH=西迁", Literal("西迁", language="zh")),
    ("title@en=Westward move (1956)", Literal("Westward move (1956)", language="en")),
    ("title@en=The 交通 University", Literal("The 交通 University", language="en")),
    ("title@fr=Le déménagement", Literal("Le déménagement", language="fr")),
    ("title@ja=西遷", Literal("西遷", language="ja")),
    ("title@ru=Переезд", Literal("Переезд", language="ru")),  # no script rule for Cyrillic
])
def test_text_values(text, expected):
    name, t = term("item", text)
    assert name == "title" and t == expected
    assert t.datatype == NamedNode(RDF_LANGSTRING)


@pytest.mark.parametrize(("text", "why"), [
    ("title=西迁", "needs a language"),
    ("title@zh=Westward move", "no CJK"),
    ("title@en=西迁到西安", "looks like Chinese"),
    ("title@en=1956", "looks like Chinese"),  # no Latin letters at all
    ("title@en=交通大学 XJ", "looks like Chinese"),
    ("title@z1=西迁", "not a language tag"),
    ("title@=西迁", "needs a language"),
    ("title@zh=   ", "empty value"),
])
def test_bad_text_values(text, why):
    with pytest.raises(Invalid) as info:
        term("item", text)
    assert why in info.value.message


def test_check_script_directly():
    check_script("title", "西迁 1956", "zh")
    check_script("title", "Xi'an 西安", "en")
    with pytest.raises(Invalid):
        check_script("title", "Xian", "zh-Hant")


# ---------------------------------------------------------------------- vocabularies, languages
@pytest.mark.parametrize(("text", "iri"), [
    ("category=XS", f"{BASE}/vocab/category/XS"),
    ("category=xs", f"{BASE}/vocab/category/XS"),
    ("category=SX", f"{BASE}/vocab/category/SX"),
    ("retention=Y", f"{BASE}/vocab/retention/Y"),
    ("retention=d30", f"{BASE}/vocab/retention/D30"),
    ("language=zh", ISO639 + "chi"),
    ("language=EN", ISO639 + "eng"),
    ("language=ger", ISO639 + "ger"),
])
def test_codes(text, iri):
    assert term("item", text)[1] == NamedNode(iri)


def test_lower_case_codes_as_the_scheme_spells_them():
    """The growth strands are lower-case codes (issue 13): taken as spelt, not upper-cased."""
    for code in ("research", "practice", "party", "honours"):
        assert term("activity", f"strand={code}")[1] == NamedNode(f"{BASE}/vocab/strand/{code}")
    with pytest.raises(Invalid, match="not in the strand scheme"):
        term("activity", "strand=sports")


def test_every_category_of_the_university_is_known():
    for code in ("DQ", "XZ", "XS", "JX", "KY", "JJ", "SB", "CP", "CB", "WS", "CK", "SX", "SW"):
        assert term("series", f"category={code}")[1].value.endswith("/" + code)


@pytest.mark.parametrize(("text", "why"), [
    ("category=ZZ", "not in the category scheme"),
    ("category=Y", "not in the category scheme"),  # a retention code
    ("retention=D20", "not in the retention scheme"),
    ("retention=永久", "not in the retention scheme"),
    ("language=chinese", "not an ISO 639"),
    ("language=z", "not an ISO 639"),
    ("category@zh=XS", "takes no language tag"),
])
def test_bad_codes(text, why):
    with pytest.raises(Invalid) as info:
        term("item", text)
    assert why in info.value.message


# ---------------------------------------------------------------------- links and literals
def test_links_resolve_paths_and_iris():
    assert term("item", "creator=/agents/zhang-san")[1] == NamedNode(PATHS["/agents/zhang-san"])
    assert term("item", f"subject={BASE}/id/place/x")[1] == NamedNode(f"{BASE}/id/place/x")
    with pytest.raises(NotFound):
        term("item", "creator=/agents/nobody")


def test_numbers_and_patterns():
    assert term("instantiation", "width=1200")[1] == Literal("1200",
                                                           datatype=NamedNode(XSD + "integer"))
    for text in ("width=12.5", "width=-3", "width=wide", "width=1234567890"):
        with pytest.raises(Invalid):
            term("instantiation", text)
    assert term("instantiation", "mime=image/jpeg")[1] == Literal("image/jpeg")
    for text in ("mime=JPEG", "mime=image", "digest=sha256:abc", "digest=md5:" + "0" * 32):
        with pytest.raises(Invalid):
            term("instantiation", text)


def test_unknown_fields_are_named():
    with pytest.raises(Invalid) as info:
        term("item", "colour=red")
    assert "colour" in info.value.message and "title" in info.value.message


def test_display():
    assert display(NamedNode(f"{BASE}/vocab/category/XS"), BASE) == "XS"
    assert display(NamedNode(ISO639 + "chi"), BASE) == "chi"
    assert display(Literal("西迁", language="zh"), BASE) == "西迁"
    assert display(NamedNode(f"{BASE}/id/agent/a"), BASE) == f"{BASE}/id/agent/a"


# ---------------------------------------------------------------------- through the repository
def test_values_as_stored_by_the_repository(site):
    obj = site.repo.edit(site.admin, ITEM, set={"category": "xs", "retention": "y",
                                                "creator": PERSON, "place": PLACE,
                                                "end": "1957-12"})
    f = obj.fields(BASE)
    assert f["category"] == ["XS"] and f["retention"] == ["Y"]
    assert f["creator"] == [site.iris[PERSON]] and f["place"] == [site.iris[PLACE]]
    assert f["end"] == ["1957-12"] and f["language"] == ["chi"]
