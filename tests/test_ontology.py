"""Every rico: term the code can emit exists in RiC-O 1.1, as the right kind.

The terms come from four places: the SHACL profile (sh:path, lt:rdfClass, lt:recordSetType),
the local vocabularies, the JSON-LD context, and the Python sources of repo/ and ontology/
(``RICO + "x"``, ``rico("x")``, ``"rico:x"``), found by scanning their text.
"""

from __future__ import annotations

import json
import re

import pytest
import rdflib
from rdflib import OWL, RDF
from rdflib.collection import Collection
from support import PROJECT

from ontology.namespaces import RICO, RST
from ontology.profile import CONTEXT_JSONLD, PROFILE_TTL, VOCABULARIES_TTL, load_profile
from repo.objects import STRUCTURAL

SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
LT = rdflib.Namespace("https://w3id.org/lantai/ns#")
ALLOWED_OTHER_NAMESPACES = ("http://schema.org/", "http://purl.org/dc/terms/",
                            "http://www.w3.org/2000/01/rdf-schema#", "https://w3id.org/lantai/ns#")


@pytest.fixture(scope="module")
def rico(reference) -> rdflib.Graph:
    g = rdflib.Graph()
    g.parse(reference / "RiC-O_1-1.ttl", format="turtle")
    assert len(g) > 10000
    return g


def kinds(g: rdflib.Graph, local: str) -> set[str]:
    return {str(o).rsplit("#", 1)[-1] for o in g.objects(rdflib.URIRef(RICO + local), RDF.type)}


def assert_kind(g: rdflib.Graph, local: str, kind: str, where: str) -> None:
    found = kinds(g, local)
    assert found, f"rico:{local} ({where}) is not in RiC-O 1.1"
    assert kind in found, f"rico:{local} ({where}) is {found}, not owl:{kind}"


def rico_local(term) -> str | None:
    s = str(term)
    return s[len(RICO):] if s.startswith(RICO) else None


# ---------------------------------------------------------------------- the profile
def profile_paths() -> list[tuple[str, str, str]]:
    """(local name, expected kind, property shape) for every rico: sh:path in profile.ttl."""
    g = rdflib.Graph()
    g.parse(PROFILE_TTL, format="turtle")
    out = []
    for ps, path in g.subject_objects(SH.path):
        local = rico_local(path)
        if local is None:
            assert str(path).startswith(ALLOWED_OTHER_NAMESPACES), path
            continue
        iri_valued = (ps, SH.nodeKind, SH.IRI) in g or (ps, SH["class"], None) in g
        literal_valued = (ps, SH.datatype, None) in g
        if (alts := g.value(ps, SH["or"])) is not None:
            for alt in Collection(g, alts):
                iri_valued |= (alt, SH["class"], None) in g
                literal_valued |= (alt, SH.datatype, None) in g
        assert iri_valued != literal_valued, f"{ps}: IRI- or literal-valued, not both/neither"
        out.append((local, "ObjectProperty" if iri_valued else "DatatypeProperty", str(ps)))
    return out


def test_profile_paths_exist_as_the_right_kind_of_property(rico):
    paths = profile_paths()
    assert len(paths) >= 25
    for local, kind, shape in paths:
        assert_kind(rico, local, kind, shape)


def test_profile_classes_and_record_set_types_exist(rico):
    g = rdflib.Graph()
    g.parse(PROFILE_TTL, format="turtle")
    classes = set(g.objects(None, LT.rdfClass))
    rico_classes = [c for c in classes if rico_local(c)]
    assert len(rico_classes) >= 9
    for c in classes:
        if not rico_local(c):
            assert str(c).startswith(ALLOWED_OTHER_NAMESPACES), c
    for c in rico_classes:
        assert_kind(rico, rico_local(c), "Class", "lt:rdfClass")
    # classes named in sh:class of the shapes, too
    for c in g.objects(None, SH["class"]):
        if rico_local(c):
            assert_kind(rico, rico_local(c), "Class", "sh:class")
    rsts = set(g.objects(None, LT.recordSetType))
    assert {str(r)[len(RST):] for r in rsts} == {"Fonds", "Series", "File", "Collection"}
    for r in rsts:
        types = set(rico.objects(r, RDF.type))
        assert rdflib.URIRef(RICO + "RecordSetType") in types, r
        assert OWL.NamedIndividual in types, r


def test_compiled_profile_agrees_with_the_turtle():
    """The content types the code uses are the shapes checked above."""
    paths = {local for local, _, _ in profile_paths()}
    for t in load_profile().types.values():
        for f in t.fields.values():
            if f.path.startswith(RICO):
                assert f.path[len(RICO):] in paths


# ---------------------------------------------------------------------- vocabularies
def test_vocabulary_terms_exist(rico):
    g = rdflib.Graph()
    g.parse(VOCABULARIES_TTL, format="turtle", publicID="https://archive.example.edu/vocab/")
    seen = 0
    for s, p, o in g:
        if rico_local(p):
            kind = "ObjectProperty" if isinstance(o, rdflib.URIRef) else "DatatypeProperty"
            assert_kind(rico, rico_local(p), kind, "vocabularies.ttl predicate")
            seen += 1
        if p == RDF.type and rico_local(o):
            assert_kind(rico, rico_local(o), "Class", "vocabularies.ttl rdf:type")
            seen += 1
        assert not rico_local(s), f"vocabularies.ttl must not define rico terms: {s}"
    assert seen >= 16  # 13 categories are rico:Type, 3 retention periods rico:Rule + names


# ---------------------------------------------------------------------- python sources
SOURCE_PATTERNS = [
    re.compile(r"""\bRICO\s*\+\s*["']([A-Za-z][A-Za-z0-9]*)["']"""),
    re.compile(r"""\b_?rico\(\s*["']([A-Za-z][A-Za-z0-9]*)["']\s*\)"""),
    re.compile(r"""["']rico:([A-Za-z][A-Za-z0-9]*)"""),
    re.compile(r"""\bRICO\[\s*["']([A-Za-z][A-Za-z0-9]*)["']\s*\]"""),
    re.compile(r"""ontology#([A-Za-z][A-Za-z0-9]*)"""),
]


def source_terms() -> dict[str, set[str]]:
    """rico local name → the source files that can emit it."""
    found: dict[str, set[str]] = {}
    for folder in ("repo", "ontology"):
        for path in sorted((PROJECT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for pattern in SOURCE_PATTERNS:
                for m in pattern.finditer(text):
                    found.setdefault(m.group(1), set()).add(str(path.relative_to(PROJECT)))
    return found


def test_the_source_scan_finds_terms():
    terms = source_terms()
    assert {"RecordSet", "Record", "hasRecordSetType", "isDirectlyIncludedIn",
            "identifier"} <= set(terms), terms


def test_rico_terms_in_the_python_sources_exist(rico):
    structural = {s[len(RICO):] for s in STRUCTURAL if s.startswith(RICO)}
    paths = {local: kind for local, kind, _ in profile_paths()}
    for local, files in sorted(source_terms().items()):
        where = ", ".join(sorted(files))
        if local[0].isupper():
            assert_kind(rico, local, "Class", where)
        elif local in structural:  # links between objects of the tree
            assert_kind(rico, local, "ObjectProperty", where)
        elif local in paths:
            assert_kind(rico, local, paths[local], where)
        else:
            found = kinds(rico, local)
            assert found & {"ObjectProperty", "DatatypeProperty"}, \
                f"rico:{local} ({where}) is not a RiC-O 1.1 property: {found}"


# ---------------------------------------------------------------------- JSON-LD context
@pytest.fixture(scope="module")
def context() -> dict:
    data = json.loads(CONTEXT_JSONLD.read_text(encoding="utf-8"))
    assert isinstance(data.get("@context"), dict)
    return data["@context"]


def test_context_rico_terms_exist(rico, context):
    prefixes = {k: v for k, v in context.items() if isinstance(v, str) and v.endswith(("#", "/"))}
    assert prefixes.get("rico") == RICO
    checked = 0
    for name, value in context.items():
        if name.startswith("@") or name in prefixes:
            continue
        iri = value if isinstance(value, str) else value.get("@id", "")
        if iri.startswith("@"):
            continue  # a keyword alias ("id": "@id")
        for prefix, ns in prefixes.items():
            if iri.startswith(prefix + ":"):
                iri = ns + iri[len(prefix) + 1:]
        local = rico_local(iri)
        if local is None:
            assert iri.startswith(ALLOWED_OTHER_NAMESPACES), (name, iri)
            continue
        if local[0].isupper():
            assert_kind(rico, local, "Class", f"context term {name}")
        elif isinstance(value, dict) and value.get("@type") == "@id":
            assert_kind(rico, local, "ObjectProperty", f"context term {name}")
        else:
            assert_kind(rico, local, "DatatypeProperty", f"context term {name}")
        checked += 1
    assert checked >= 20


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_context_expands_a_description(context):
    doc = {"@context": context, "@id": "https://archive.example.edu/id/record/x",
           "@type": "Record", "title": {"zh": "西迁", "en": "The move west"},
           "creator": ["https://archive.example.edu/id/agent/a"], "begin": "1956"}
    g = rdflib.Graph()
    g.parse(data=json.dumps(doc), format="json-ld")
    x = rdflib.URIRef("https://archive.example.edu/id/record/x")
    assert (x, RDF.type, rdflib.URIRef(RICO + "Record")) in g
    assert (x, rdflib.URIRef(RICO + "title"), rdflib.Literal("西迁", lang="zh")) in g
    assert (x, rdflib.URIRef(RICO + "hasCreator"),
            rdflib.URIRef("https://archive.example.edu/id/agent/a")) in g
