"""Content types compiled from the SHACL shapes in ``profile.ttl``.

The shapes are the single source of truth for what a fonds, a series or a person may say.
This module reads them once (with rdflib) into small frozen dataclasses the repository uses
on every write: a compiled check is ~1000× faster than running pySHACL per object, and the
tests prove the two agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import rdflib
from rdflib.collection import Collection

from ontology.namespaces import LT, RDF_LANGSTRING, SH, XSD

HERE = Path(__file__).parent
PROFILE_TTL = HERE / "profile.ttl"
VOCABULARIES_TTL = HERE / "vocabularies.ttl"
CONTEXT_JSONLD = HERE / "context.jsonld"

_SH = rdflib.Namespace(SH)
_LT = rdflib.Namespace(LT)


@dataclass(frozen=True, eq=False)
class Field:
    """One property of a content type, as its SHACL property shape says.

    A field is one object per process (the profile is compiled once), so it compares and
    hashes by identity: a bulk ingest puts fields in sets and dicts millions of times."""

    name: str
    path: str
    min_count: int = 0
    max_count: int | None = None
    datatypes: tuple[str, ...] = ()  # literal fields: allowed datatypes (rdf:langString for text)
    is_iri: bool = False
    classes: tuple[str, ...] = ()  # reference fields: allowed classes of the target object
    scheme: str | None = None  # vocabulary fields: local SKOS scheme name
    pattern: re.Pattern[str] | None = None
    unique_lang: bool = False
    personal: bool = False
    refcode: bool = False
    ordered: bool = False  # values keep the order they were given in (repo/ordering.py)
    set_by_ingest: bool = False  # names the stored bytes: media ingest only (file_identity)
    description: str = ""

    @cached_property
    def is_text(self) -> bool:
        """A language-tagged text field (title@zh, title@en, …)."""
        return self.datatypes == (RDF_LANGSTRING,)

    @cached_property
    def is_date(self) -> bool:
        """A date field (xsd:date or xsd:gYear among its datatypes)."""
        return bool({XSD + "date", XSD + "gYear"} & set(self.datatypes))

    @cached_property
    def is_reference(self) -> bool:
        """A link to another object of the repository."""
        return self.is_iri and bool(self.classes) and self.scheme is None

    @property
    def single(self) -> bool:
        return self.max_count == 1

    def label(self, lang: str) -> str:
        """What staff pages call the field: the Chinese word (``zh``) or the English words
        (``en``) that open its ``sh:description`` (``"题名 Title, one per language"``);
        the field's name when there is no description."""
        zh, _, rest = self.description.partition(" ")
        if not rest:
            return zh or self.name
        if lang == "zh":
            return zh
        return re.split(r",| \(| e\.g\.", rest, maxsplit=1)[0].strip() or self.name


@dataclass(frozen=True)
class ContentType:
    """A content type: its name, IRI kind, RiC-O class, containment rule and fields."""

    name: str
    kind: str
    rdf_class: str
    record_set_type: str | None
    label_zh: str
    label_en: str
    allowed_in: frozenset[str]
    fields: dict[str, Field] = field(hash=False)
    shape: str = ""

    def field_for_path(self, path: str) -> Field | None:
        return self._by_path.get(path)

    @cached_property
    def _by_path(self) -> dict[str, Field]:
        out: dict[str, Field] = {}
        for f in self.fields.values():
            out.setdefault(f.path, f)  # the first, as a scan would find it
        return out


@dataclass(frozen=True)
class Profile:
    types: dict[str, ContentType]

    def type(self, name: str) -> ContentType:
        try:
            return self.types[name]
        except KeyError:
            known = ", ".join(sorted(self.types))
            raise KeyError(f"unknown content type {name!r} (known: {known})") from None

    def types_of_class(self, rdf_class: str) -> list[ContentType]:
        return [t for t in self.types.values() if t.rdf_class == rdf_class]


def _labels(nodes: Iterable[rdflib.term.Node]) -> dict[str, str]:
    """Labels by language tag (``""`` for an untagged one)."""
    return {n.language or "": str(n) for n in nodes if isinstance(n, rdflib.Literal)}


def _compile_field(g: rdflib.Graph, ps: rdflib.term.Node) -> Field:
    def one(pred: rdflib.term.Node) -> rdflib.term.Node | None:
        return g.value(ps, pred)

    datatypes: list[str] = []
    classes: list[str] = []
    if (dt := one(_SH.datatype)) is not None:
        datatypes.append(str(dt))
    if (cls := one(_SH["class"])) is not None:
        classes.append(str(cls))
    if (alternatives := one(_SH["or"])) is not None:
        for alt in Collection(g, alternatives):
            if (dt := g.value(alt, _SH.datatype)) is not None:
                datatypes.append(str(dt))
            if (cls := g.value(alt, _SH["class"])) is not None:
                classes.append(str(cls))
    pattern = one(_SH.pattern)
    max_count = one(_SH.maxCount)
    return Field(
        name=str(one(_SH.name)),
        path=str(one(_SH.path)),
        min_count=int(str(one(_SH.minCount) or 0)),
        max_count=int(str(max_count)) if max_count is not None else None,
        datatypes=tuple(datatypes),
        is_iri=one(_SH.nodeKind) == _SH.IRI,
        classes=tuple(classes),
        scheme=str(one(_LT.scheme)) if one(_LT.scheme) is not None else None,
        pattern=re.compile(str(pattern)) if pattern is not None else None,
        unique_lang=bool(one(_SH.uniqueLang)),
        personal=bool(one(_LT.personal)),
        refcode=bool(one(_LT.refcode)),
        ordered=bool(one(_LT.ordered)),
        set_by_ingest=bool(one(_LT.setByIngest)),
        description=str(one(_SH.description) or ""),
    )


@cache
def shapes_graph() -> rdflib.Graph:
    """The SHACL shapes as an rdflib graph (for pySHACL and for compiling)."""
    g = rdflib.Graph()
    g.parse(PROFILE_TTL, format="turtle")
    return g


@cache
def load_profile() -> Profile:
    """Compile ``profile.ttl`` into content types (cached: the shapes are read once)."""
    g = shapes_graph()
    types: dict[str, ContentType] = {}
    for shape in g.subjects(_LT.typeName, None):
        fields = {}
        for ps in g.objects(shape, _SH.property):
            f = _compile_field(g, ps)
            fields[f.name] = f
        labels = _labels(g.objects(shape, rdflib.RDFS.label))
        rst = g.value(shape, _LT.recordSetType)
        name = str(g.value(shape, _LT.typeName))
        types[name] = ContentType(
            name=name,
            kind=str(g.value(shape, _LT.kind)),
            rdf_class=str(g.value(shape, _LT.rdfClass)),
            record_set_type=str(rst) if rst is not None else None,
            label_zh=labels.get("zh", name),
            label_en=labels.get("en", name),
            allowed_in=frozenset(str(o) for o in g.objects(shape, _LT.allowedIn)),
            fields=fields,
            shape=str(shape),
        )
    return Profile(types=types)


def vocabulary_graph(base: str) -> rdflib.Graph:
    """The local SKOS schemes with IRIs under ``{base}/vocab/``."""
    g = rdflib.Graph()
    g.parse(VOCABULARIES_TTL, format="turtle", publicID=base.rstrip("/") + "/vocab/")
    return g


@cache
def vocabulary_codes() -> dict[str, dict[str, dict[str, str]]]:
    """``{scheme: {code: {"zh": label, "en": label}}}`` from ``vocabularies.ttl``."""
    g = vocabulary_graph("http://vocab.invalid/")
    skos = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")
    out: dict[str, dict[str, dict[str, str]]] = {}
    for concept, scheme in g.subject_objects(skos.inScheme):
        scheme_name = str(scheme).rsplit("/", 1)[-1]
        code = str(g.value(concept, skos.notation))
        labels = _labels(g.objects(concept, skos.prefLabel))
        out.setdefault(scheme_name, {})[code] = labels
    return out


XSD_DATE_TYPES = (XSD + "date", XSD + "gYearMonth", XSD + "gYear")
