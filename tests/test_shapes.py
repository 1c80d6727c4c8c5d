"""The compiled validator (repo.validation.problems) and pySHACL over the profile's shapes
agree, on valid objects of every content type and on invalid ones.

pySHACL gets the shapes of ontology/profile.ttl plus ``shape sh:targetNode object`` and, as
data, the object's description, the local vocabularies and the types of the objects it links
to, which is what the compiled validator sees through ``class_of``.
"""

from __future__ import annotations

import re

import pyshacl
import pytest
import rdflib
from pyoxigraph import Literal, NamedNode, Quad
from support import BASE, new_site

from ontology.namespaces import ISO639, RDF, RICO, XSD
from ontology.profile import load_profile, shapes_graph, vocabulary_graph
from repo.objects import ContentObject
from repo.validation import problems

SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
T = {"zh": "题名", "en": "A title"}


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    """A site with an object of every content type, most fields filled in."""
    s = new_site(tmp_path_factory.mktemp("shapes"))
    repo, admin = s.repo, s.admin
    made = {}

    def add(name, parent, type_name, fields, **kw):
        made[name] = repo.create(admin, parent, type_name, fields, slug=name, **kw)

    add("corp", "/agents", "corporatebody",
        {"name": {"zh": "交通大学", "en": "Jiaotong University"}, "begin": "1896",
         "history": {"zh": "1956年西迁。"}, "place": "/agents/xian"})
    add("family", "/agents", "family", {"name": {"zh": "王氏家族"}, "end": "1990"})
    add("interview", "/agents", "event",
        {"name": {"zh": "口述访谈", "en": "Interview"}, "date": "2019年5月", "begin": "2019-05-04",
         "place": "/agents/xian", "participant": "/agents/zhang-san"})
    add("activity", "/agents", "activity", {"name": {"zh": "校庆"}, "begin": "2016"})
    add("coll", "/xjtu", "collection",
        {"title": {"zh": "西迁口述史", "en": "Oral histories"}, "category": "SX",
         "event": "/agents/interview", "subject": ["/agents/corp", "/agents/family"]})
    add("rich-item", "/xjtu/students/register-1957", "item",
        {"title": {"zh": "录取通知书", "en": "Admission letter"}, "date": "1957年8月",
         "begin": "1957-08-01", "end": "1957-08-31",
         "scope": {"zh": "录取通知。", "en": "A letter."},
         "extent": {"zh": "1 件"}, "note": {"en": "Signed."}, "accessNote": {"zh": "开放。"},
         "useNote": {"en": "Cite the archive."}, "language": ["zh", "en"],
         "creator": "/agents/corp", "subject": ["/agents/zhang-san", "/agents/interview"],
         "place": "/agents/xian", "event": "/agents/activity", "category": "XS",
         "retention": "Y"})
    add("scan", "/xjtu/students/register-1957/rich-item", "instantiation",
        {"title": {"zh": "扫描件"}, "digest": "sha256:" + "1f" * 32, "mime": "image/tiff",
         "extent": "1 page", "width": "2480", "height": "3508", "language": "zh"})
    add("web", "/xjtu/students/register-1957/rich-item", "instantiation",
        {"digest": "sha256:" + "2e" * 32, "mime": "image/jpeg", "derivedFrom": made["scan"].iri})
    add("exhibit", "/", "exhibit",
        {"title": {"zh": "西迁展", "en": "The move west"}, "summary": {"zh": "展览。"},
         "about": ["/xjtu/coll"], "feature": ["/xjtu/students/register-1957/rich-item",
                                              "/agents/zhang-san", "/agents/interview"]})
    add("section", "/exhibit", "section",
        {"title": {"zh": "第一单元"}, "text": {"zh": "正文。", "en": "Text."},
         "feature": ["/xjtu/students/register-1957/rich-item/web"]})
    objs = {o.path: repo.load(o.iri) for o in (*made.values(), *[
        repo.load(i) for i in s.iris.values()])}
    # any other content type the profile has (EAD levels, …): a minimal object of it
    for t in sorted(load_profile().types.values(), key=lambda t: t.name):
        if t.name in {o.type_name for o in objs.values()}:
            continue
        parent = "/" if "root" in t.allowed_in else next(
            p for p, o in sorted(objs.items()) if o.type_name in t.allowed_in)
        required = {f.name: {"zh": "题名", "en": "A title"} for f in t.fields.values()
                    if f.min_count and f.is_text}
        obj = repo.create(admin, parent, t.name, required, slug=f"any-{t.name}")
        objs[obj.path] = repo.load(obj.iri)
    classes = {}
    for q in repo.working.quads_for_pattern(None, NamedNode(RDF + "type"), None, None):
        if q.graph_name == q.subject:
            classes[q.subject.value] = q.object.value
    types = {o.type_name for o in objs.values()}
    assert types == set(load_profile().types), "every content type is covered"
    yield objs, classes
    s.close()


def to_rdflib(quads) -> rdflib.Graph:
    g = rdflib.Graph()
    text = "\n".join(f"{q.subject} {q.predicate} {q.object} ." for q in quads)
    g.parse(data=text, format="nt")
    return g


def shacl_fields(obj: ContentObject, classes: dict[str, str]) -> set[str]:
    """Names of the fields pySHACL finds wrong (empty when the object conforms)."""
    data = to_rdflib(obj.description) + vocabulary_graph(BASE)
    for q in obj.description:
        if isinstance(q.object, NamedNode) and q.object.value in classes:
            data.add((rdflib.URIRef(q.object.value), rdflib.RDF.type,
                      rdflib.URIRef(classes[q.object.value])))
    shapes = rdflib.Graph()
    for t in shapes_graph():
        shapes.add(t)
    shapes.add((rdflib.URIRef(obj.type.shape), SH.targetNode, rdflib.URIRef(obj.iri)))
    conforms, report, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none")
    found = set()
    for result in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        path = report.value(result, SH.resultPath)
        f = obj.type.field_for_path(str(path))
        found.add(f.name if f else str(path))
    assert conforms == (not found)
    return found


def compiled_fields(obj: ContentObject, classes: dict[str, str]) -> set[str]:
    """Names of the fields the compiled validator finds wrong."""
    out = set()
    for p in problems(obj, classes.get, vocab_base=BASE):
        if p.startswith(obj.type.name + " cannot have "):
            out.add(p.rsplit(" ", 1)[-1])  # a property the type does not have
        elif " is after end " in p:
            out.add("begin/end")
        else:
            out.add(re.match(r"\w+", p).group(0))  # messages start with the field name
    return out


def test_valid_objects_of_every_type_agree(rich):
    objs, classes = rich
    for path, obj in sorted(objs.items()):
        assert compiled_fields(obj, classes) == set(), path
        assert shacl_fields(obj, classes) == set(), path


# ---------------------------------------------------------------------- invalid objects
def _without(obj: ContentObject, predicate: str, lang: str | None = None) -> ContentObject:
    new = obj.copy()
    new.description = {q for q in new.description if not (
        q.predicate.value == predicate and (lang is None or q.object.language == lang))}
    return new


def _with(obj: ContentObject, predicate: str, *terms) -> ContentObject:
    new = obj.copy()
    for t in terms:
        new.description.add(Quad(new.node, NamedNode(predicate), t, new.node))
    return new


def _replace(obj: ContentObject, predicate: str, *terms) -> ContentObject:
    return _with(_without(obj, predicate), predicate, *terms)


ITEM_PATH = "/xjtu/students/register-1957/rich-item"
SCAN_PATH = ITEM_PATH + "/scan"
CASES = {
    "missing title": (ITEM_PATH, lambda o: _without(o, RICO + "title"), {"title"}),
    "two @zh titles": (ITEM_PATH, lambda o: _with(o, RICO + "title",
                                                  Literal("第二题名", language="zh")), {"title"}),
    "title without language": (ITEM_PATH, lambda o: _with(o, RICO + "title", Literal("Plain")),
                               {"title"}),
    "bad date datatype": (ITEM_PATH, lambda o: _replace(o, RICO + "beginningDate",
                                                        Literal("1957-08-01")), {"begin"}),
    "date as dateTime": (ITEM_PATH, lambda o: _replace(
        o, RICO + "endDate", Literal("1957-08-31T00:00:00", datatype=NamedNode(XSD + "dateTime"))),
        {"end"}),
    "two beginning dates": (ITEM_PATH, lambda o: _with(
        o, RICO + "beginningDate", Literal("1957", datatype=NamedNode(XSD + "gYear"))),
        {"begin"}),
    "link to wrong class": (ITEM_PATH, lambda o: _replace(
        o, RICO + "hasCreator", NamedNode(f"{BASE}/id/place/xian")), {"creator"}),
    "link that is a literal": (ITEM_PATH, lambda o: _replace(
        o, RICO + "hasCreator", Literal(f"{BASE}/id/agent/corp")), {"creator"}),
    "two categories": (ITEM_PATH, lambda o: _with(
        o, RICO + "hasOrHadType", NamedNode(f"{BASE}/vocab/category/JX")), {"category"}),
    "language not ISO 639": (ITEM_PATH, lambda o: _with(
        o, RICO + "hasOrHadLanguage", NamedNode("http://example.org/lang/zh")), {"language"}),
    "width as text": (SCAN_PATH, lambda o: _replace(o, RICO + "width", Literal("wide")),
                      {"width"}),
    "digest pattern": (SCAN_PATH, lambda o: _replace(o, RICO + "identifier",
                                                     Literal("md5:abc")), {"digest"}),
    "two refcodes": (ITEM_PATH, lambda o: _with(o, RICO + "identifier",
                                                Literal("0421-XS·1957-Y-0001-099")), {"refcode"}),
    "derived from a record": (ITEM_PATH + "/web", lambda o: _replace(
        o, RICO + "isOrWasDerivedFromInstantiation",
        NamedNode(f"{BASE}/id/record/page-1")), {"derivedFrom"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_objects_agree(rich, case):
    objs, classes = rich
    path, spoil, fields = CASES[case]
    bad = spoil(objs[path])
    assert bad.description != objs[path].description
    assert compiled_fields(bad, classes) == fields
    assert shacl_fields(bad, classes) == fields


def test_unknown_vocabulary_code_agrees(rich):
    objs, classes = rich
    bad = _replace(objs[ITEM_PATH], RICO + "hasOrHadType",
                   NamedNode(f"{BASE}/vocab/category/ZZ"))
    assert shacl_fields(bad, classes) == {"category"}
    assert compiled_fields(bad, classes) == {"category"}


def test_code_from_the_wrong_scheme_agrees(rich):
    objs, classes = rich
    bad = _replace(objs[ITEM_PATH], RICO + "hasOrHadType", NamedNode(f"{BASE}/vocab/retention/Y"))
    assert compiled_fields(bad, classes) == {"category"}
    assert shacl_fields(bad, classes) == {"category"}


def test_a_property_outside_the_type_agrees(rich):
    objs, classes = rich
    bad = _with(objs[ITEM_PATH], RICO + "authenticityNote", Literal("Copy.", language="en"))
    assert compiled_fields(bad, classes) == {RICO + "authenticityNote"}
    assert shacl_fields(bad, classes) == {RICO + "authenticityNote"}


def test_what_only_the_compiled_validator_checks(rich):
    """Documented extras in repo/validation.py: the script of a tagged value, begin ≤ end."""
    objs, classes = rich
    item = objs[ITEM_PATH]
    wrong_script = _replace(_without(item, RICO + "title", "zh"), RICO + "title",
                            Literal("Admission letter", language="en"),
                            Literal("Admission letter", language="zh"))
    assert compiled_fields(wrong_script, classes) == {"title"}
    backwards = _replace(item, RICO + "endDate", Literal("1956", datatype=NamedNode(XSD + "gYear")))
    assert compiled_fields(backwards, classes) == {"begin/end"}


def test_language_iris_are_iso639(rich):
    objs, _ = rich
    langs = {q.object.value for q in objs[ITEM_PATH].description
             if q.predicate.value == RICO + "hasOrHadLanguage"}
    assert langs == {ISO639 + "chi", ISO639 + "eng"}
