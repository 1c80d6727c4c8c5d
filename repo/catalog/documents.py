"""What the catalog indexes about one object, built the same way for both catalogs.

A :class:`Document` is made by :class:`Builder` from a :class:`Source`. There are two
sources and one builder (Plone's one catalog tool, twice):

- :class:`StaffSource` reads the working store: every live object, its description and its
  management facts (workflow state, access rule, path, owner);
- :class:`PublicSource` reads the publication dataset and nothing else: an object whose
  graph is not there has no public document, and every value, down to the names of linked
  agents and the category inherited from a containing series, comes from public graphs.
  That is what makes it impossible for public search to find a closed record: its words
  never reach the public index.

Texts are kept as written (for snippets); the index analyses them (``analysis.py``).
Linked agents, places and subjects contribute their names, so 张三 finds the records he
created or that are about him. ``TEXT_SOURCES`` is the hook for text that is not in the
description (OCR of a scan, a transcript): a function registered there is asked for the
extra text of each object.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

import orjson
from pyoxigraph import Literal, NamedNode, Quad

from ontology import terms
from ontology.namespaces import ISO639, RDF_TYPE, RDFS, RICO, SCHEMA
from ontology.profile import load_profile

if TYPE_CHECKING:
    from repo.catalog.batch_text import TextGraph

TITLE_PREDICATES = frozenset({RICO + "title", RICO + "name", RDFS + "label", SCHEMA + "name"})
# text fields → the catalog's text groups (scope and content vs. notes)
TEXT_PREDICATES = {
    RICO + "scopeAndContent": "scope", SCHEMA + "description": "scope", SCHEMA + "text": "scope",
    RICO + "generalDescription": "note", RICO + "history": "note",
    RICO + "conditionsOfAccess": "note", RICO + "conditionsOfUse": "note",
    RICO + "recordResourceExtent": "note", RICO + "date": "note",
}
AGENT_LINKS = frozenset({RICO + "hasCreator", RICO + "hasOrganicProvenance",
                         RICO + "hasOrHadParticipant"})
SUBJECT_LINKS = frozenset({RICO + "hasOrHadSubject", RICO + "isAssociatedWithEvent",
                           SCHEMA + "about"})
PLACE_LINKS = frozenset({RICO + "isAssociatedWithPlace", RICO + "isAgentAssociatedWithPlace"})
AGENT_CLASSES = frozenset({RICO + "Person", RICO + "CorporateBody", RICO + "Family"})
PLACE_CLASSES = frozenset({RICO + "Place"})
CATEGORY = RICO + "hasOrHadType"
LANGUAGE = RICO + "hasOrHadLanguage"
IDENTIFIER = RICO + "identifier"
DATE_PREDICATES = (RICO + "beginningDate", RICO + "date", RICO + "endDate")
# links from an object to the object containing it, as the description states them
STRUCTURAL_PARENT = (RICO + "isDirectlyIncludedIn", RICO + "isOrWasDigitalInstantiationOf",
                     SCHEMA + "isPartOf")
HAS_RECORD_SET_TYPE = RICO + "hasRecordSetType"
_YEAR = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")

# Extra text for an object (OCR, transcripts): fn(repository, iri, public) -> texts.
# For public=True return only what may be shown to the public (the object is public).
TextSource = Callable[[object, str, bool], Iterable[str]]
TEXT_SOURCES: list[TextSource] = []


def register_text_source(fn: TextSource) -> TextSource:
    """Add a source of extra text (usable as a decorator). Reindex to apply it to old objects."""
    TEXT_SOURCES.append(fn)
    return fn


# A statement about the object itself: (predicate, kind of object, object's value, language
# of a literal or ""), kind being IRI, LITERAL or OTHER (a blank node)
Statement = tuple[str, str, str, str]
IRI, LITERAL, OTHER = "iri", "literal", "other"
_BY_PREDICATE_AND_VALUE = itemgetter(0, 2)
_RDF_TYPE = RDF_TYPE.value


@dataclass
class Facts:
    """What the catalog needs besides the description."""

    type: str
    state: str
    access: str
    path: str = ""
    owner: str = ""
    parent: str | None = None
    position: int = 0  # the place among its siblings (the staff's folder view sorts by it)
    modified: str = ""  # ISO time of the last revision


@dataclass
class Document:
    """One object as the catalog sees it (engine-neutral)."""

    iri: str
    type: str
    state: str
    access: str
    path: str = ""
    owner: str = ""
    titles: list[tuple[str, str]] = field(default_factory=list)  # (text, language)
    refcode: str = ""
    texts: dict[str, list[str]] = field(default_factory=dict)  # scope, note
    agents: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    category: str = ""
    year: int | None = None
    date: int | None = None  # YYYYMMDD (00 for an unknown month or day), for sorting
    languages: list[str] = field(default_factory=list)  # ISO 639-2 codes
    ancestors: list[str] = field(default_factory=list)  # IRIs of the containers, nearest first
    position: int = 0  # among its siblings (staff catalog only: a folder's contents)
    modified: str = ""  # ISO time of the last revision (staff catalog only)

    def title(self, lang: str) -> str:
        for text, tag in self.titles:
            if tag.split("-")[0] == lang:
                return text
        return ""

    @property
    def names(self) -> list[str]:
        return [t for t, _ in self.titles]

    def data(self) -> dict:
        """Everything about the document, as stored with it in the index (JSON-ready)."""
        return {
            "iri": self.iri, "path": self.path, "type": self.type, "state": self.state,
            "access": self.access, "titles": self.titles, "refcode": self.refcode,
            "texts": self.texts, "agents": self.agents, "places": self.places,
            "subjects": self.subjects, "extra": self.extra, "category": self.category,
            "year": self.year, "date": self.date, "languages": self.languages,
            "ancestors": self.ancestors, "owner": self.owner,
            "position": self.position, "modified": self.modified,
        }

    def encoded(self) -> bytes:
        """The stored JSON. orjson writes the very bytes ``json`` writes with
        ``_ENCODER``'s options (checked for every character in
        tests/test_catalog_equivalence.py) at a fifth of the cost (0.3 s of 55,761 documents
        at scale 0.05); what orjson refuses (a lone surrogate, a huge integer: never in a
        document) goes to ``json``, which writes it or fails as it always did."""
        data = self.data()
        try:
            return orjson.dumps(data)
        except TypeError:
            return _ENCODER.encode(data).encode()

    def digest(self) -> str:
        """Changes whenever anything indexed changes: an unchanged object is not rewritten."""
        return digest_of(self.encoded())


# what the stored JSON always was (json.dumps with these options; one encoder, kept)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def digest_of(encoded: bytes) -> str:
    return hashlib.sha1(encoded).hexdigest()


@cache
def _type_by_class() -> dict[tuple[str, str | None], str]:
    return {(t.rdf_class, t.record_set_type): t.name for t in load_profile().types.values()}


def type_from_statements(statements: list[Statement]) -> str:
    """The content type an object's own statements imply (its class, record set type)."""
    cls: str | None = None
    rst: str | None = None
    for p, _, v, _ in statements:
        if p == _RDF_TYPE:
            cls = v
        elif p == HAS_RECORD_SET_TYPE:
            rst = v
    if cls is None:
        return "object"
    return _type_by_class().get((cls, rst)) or _type_by_class().get((cls, None)) or "object"


def parse_date(text: str) -> tuple[int, int] | None:
    """(year, YYYYMMDD) from xsd:date/gYearMonth/gYear or a text date such as 1956年8月."""
    m = _YEAR.search(text)
    if not m:
        return None
    year = int(m.group(1))
    month = int(m.group(2) or 0)
    day = int(m.group(3) or 0)
    return year, year * 10000 + month * 100 + day


# an object's description graph: quads, or a bulk ingest's batch text (read lazily)
Graph: TypeAlias = "list[Quad] | TextGraph"


class Source:
    """Where a builder reads descriptions and facts."""

    public = False

    def graph(self, iri: str) -> Graph | None:  # pragma: no cover - interface
        raise NotImplementedError

    def facts(self, iri: str, graph: Graph) -> Facts | None:  # pragma: no cover
        raise NotImplementedError


class StaffSource(Source):
    """The working store, through the repository (every live object)."""

    def __init__(self, repository) -> None:
        self.repo = repository

    def graph(self, iri: str) -> Graph | None:
        obj = self.repo.load(iri)
        if obj is None or obj.deleted:
            return None
        return list(obj.description)

    def facts(self, iri: str, graph: Graph) -> Facts | None:
        obj = self.repo.load(iri)
        if obj is None or obj.deleted:
            return None
        parent = obj.parent if obj.parent and obj.parent != self.repo.root_iri else None
        return Facts(obj.type_name, obj.state, obj.access, obj.path, obj.owner or "", parent,
                     obj.position, obj.modified)

    def exists(self, iri: str) -> bool:
        obj = self.repo.load(iri)
        return obj is not None and not obj.deleted


class PublicSource(Source):
    """The publication dataset only: an object is there, public, or it is nothing."""

    public = True

    def __init__(self, repository) -> None:
        self.repo = repository

    def graph(self, iri: str) -> Graph | None:
        quads = list(self.repo.public.quads_for_pattern(None, None, None, NamedNode(iri)))
        return quads or None

    def facts(self, iri: str, graph: Graph) -> Facts | None:
        return public_facts(own_statements(iri, graph))


def public_facts(statements: list[Statement]) -> Facts:
    """An object's facts in the publication dataset, from its own statements: its type
    as its description implies it, its container as its description links to it."""
    d = describe(statements)
    by_class = _type_by_class()
    cls = d.rdf_class or ""
    return Facts(by_class.get((cls, d.record_set_type)) or by_class.get((cls, None)) or "object",
                 "published", "open", "", "", d.parent)


def own_statements(iri: str, graph: Iterable[Quad]) -> list[Statement]:
    """The statements about ``iri`` in ``graph``, in the graph's order. A graph that can
    tell them itself (``graph.own_statements(iri)``: a bulk ingest's graphs, read from
    its text without making Quad objects) is asked."""
    if hasattr(graph, "own_statements"):
        return graph.own_statements(iri)
    rows = []
    for q in graph:
        if terms.value(q.subject) == iri:
            o = q.object
            if isinstance(o, Literal):
                rows.append((q.predicate.value, LITERAL, o.value, o.language or ""))
            else:
                rows.append((q.predicate.value, IRI if isinstance(o, NamedNode) else OTHER,
                             terms.value(o), ""))
    return rows


class Described(NamedTuple):
    """What a document takes from an object's own statements, read in one pass."""

    titles: list[tuple[str, str]]  # as the document lists them (zh, en, other languages)
    texts: dict[str, list[str]]  # text group -> texts, in the order of (predicate, text)
    refcode: str
    languages: list[str]  # ISO 639-2 codes, sorted
    links: list[Statement]  # links to agents, places, subjects, by (predicate, IRI)
    category: str  # the category code it states ("" if none)
    year: int | None  # from its first date predicate that has a date
    date: int | None
    rdf_class: str | None  # the last class stated (type_from_statements)
    record_set_type: str | None
    parent: str | None  # the first structural parent stated (public_facts)


# what each predicate means to a document (one dictionary look-up per statement)
_TITLE, _TEXT, _TEXT_DATE, _DATE, _ID, _LANG, _LINK, _CAT, _CLASS, _RST, _PARENT = range(11)
_ROLES: dict[str, int] = {
    **{p: _TITLE for p in TITLE_PREDICATES},
    **{p: _TEXT_DATE if p in DATE_PREDICATES else _TEXT for p in TEXT_PREDICATES},
    **{p: _DATE for p in DATE_PREDICATES if p not in TEXT_PREDICATES},
    IDENTIFIER: _ID, LANGUAGE: _LANG,
    **{p: _LINK for p in AGENT_LINKS | SUBJECT_LINKS | PLACE_LINKS},
    CATEGORY: _CAT, _RDF_TYPE: _CLASS, HAS_RECORD_SET_TYPE: _RST,
    **{p: _PARENT for p in STRUCTURAL_PARENT},
}
assert len(_ROLES) == (len(TITLE_PREDICATES) + len(set(TEXT_PREDICATES) | set(DATE_PREDICATES)) + 2
                       + len(AGENT_LINKS | SUBJECT_LINKS | PLACE_LINKS) + 3
                       + len(STRUCTURAL_PARENT)), "a predicate with two roles"


def _title_order(title: tuple[str, str]) -> tuple:
    return (title[1] != "zh", title[1] != "en", title[1], title[0])


@lru_cache(maxsize=16_384)
def _date(text: str) -> tuple[int, int] | None:
    return parse_date(text)  # dates repeat across an archive's objects


# statement lists described lately: id -> (the list, its description). A list of an
# object's statements is made once and never changed (Builder.statements,
# TextGraph.own_statements), and the staff and the public document of an object whose
# public graph is its working graph share it: they are described once.
_DESCRIBED: dict[int, tuple[list[Statement], Described]] = {}
_DESCRIBED_MAX = 8192  # an ingest's batch is 5,000 objects (the builders keep 20,000 lists)


def describe(statements: list[Statement]) -> Described:
    """What a document takes from an object's own statements (all at once: building a
    document looked at them four times, its public twin four times more).

    The same as the builder's successive looks: titles, texts, reference code and links
    as read in (predicate, value) order, category and dates as read in the graph's
    order (the last category, the last date of each date predicate), the last class and
    record set type, the first structural parent."""
    hit = _DESCRIBED.get(id(statements))
    if hit is not None and hit[0] is statements:
        return hit[1]
    titles: list[tuple[str, str]] = []
    texts: list[Statement] = []
    links: list[Statement] = []
    langs: set[str] = set()
    refcode = category = ""
    dates: dict[str, tuple[int, int]] = {}
    cls = rst = parent = None
    roles = _ROLES
    for row in statements:
        role = roles.get(row[0])
        if role is None:
            continue
        p, kind, v, lang = row
        if role == _TITLE:
            if kind == LITERAL:
                titles.append((v, lang))
        elif role == _TEXT:
            if kind == LITERAL:
                texts.append(row)
        elif role == _LINK:
            if kind == IRI:
                links.append(row)
        elif role == _CLASS:
            cls = v
        elif role == _PARENT:
            if parent is None:
                parent = v
        elif role in (_DATE, _TEXT_DATE):
            if kind == LITERAL:
                if role == _TEXT_DATE:
                    texts.append(row)
                d = _date(v)
                if d:
                    dates[p] = d
        elif role == _ID:
            # the last in (predicate, value) order: the greatest
            if kind == LITERAL and not v.startswith("sha256:") and v >= refcode:
                refcode = v
        elif role == _LANG:
            if kind == IRI and v.startswith(ISO639):
                langs.add(v[len(ISO639):])
        elif role == _CAT:
            category = v.rsplit("/", 1)[-1]
        elif role == _RST:
            rst = v
    if len(titles) > 1:
        titles.sort(key=_title_order)  # a total order: the order read in does not matter
    grouped: dict[str, list[str]] = {}
    if texts:
        texts.sort(key=_BY_PREDICATE_AND_VALUE)  # stable, as the sort of all statements
        for p, _, v, _ in texts:
            grouped.setdefault(TEXT_PREDICATES[p], []).append(v)
    if len(links) > 1:
        links.sort(key=_BY_PREDICATE_AND_VALUE)
    year = date = None
    for p in DATE_PREDICATES:
        if p in dates:
            year, date = dates[p]
            break
    described = Described(titles, grouped, refcode, sorted(langs), links, category, year, date,
                          cls, rst, parent)
    if len(_DESCRIBED) >= _DESCRIBED_MAX:  # the oldest half goes (a batch's are the newest)
        for key in list(itertools.islice(_DESCRIBED, _DESCRIBED_MAX // 2)):
            _DESCRIBED.pop(key, None)
    _DESCRIBED[id(statements)] = (statements, described)
    return described


class Builder:
    """Documents from a source. Caches the names and inherited values it looks up, so
    build one Builder per batch of changes (values may change between batches)."""

    def __init__(self, source: Source, *, base: str) -> None:
        self.source = source
        self.base = base
        self._graphs: dict[str, Graph | None] = {}
        self._statements: dict[str, tuple[Graph, list[Statement]]] = {}
        self._names: dict[str, tuple[list[str], str]] = {}
        self._inherited: dict[str, tuple[str, int | None, int | None, list[str]]] = {}

    def _graph(self, iri: str) -> Graph | None:
        if iri not in self._graphs:
            if len(self._graphs) > 20_000:
                self._graphs.clear()
            self._graphs[iri] = self.source.graph(iri)
        return self._graphs[iri]

    def statements(self, iri: str, graph: Graph) -> list[Statement]:
        """The statements about ``iri`` in ``graph``, in the graph's order, read once.

        Reading a pyoxigraph quad's parts makes new Python objects every time, and
        building a document looks at the object's statements four times (the document,
        its own category and dates, its class, its public type): they are read once."""
        hit = self._statements.get(iri)
        if hit is not None and hit[0] is graph:
            return hit[1]
        if len(self._statements) > 20_000:
            self._statements.clear()
        rows = own_statements(iri, graph)
        self._statements[iri] = (graph, rows)
        return rows

    def rdf_class(self, iri: str, graph: Graph) -> str:
        """The object's class as its graph states it ('' if none)."""
        return next((v for p, _, v, _ in self.statements(iri, graph) if p == _RDF_TYPE), "")

    def _linked(self, iri: str) -> tuple[list[str], str]:
        """Names of a linked object (all languages) and its class."""
        if iri not in self._names:
            if len(self._names) > 50_000:
                self._names.clear()
            rows = self.statements(iri, self._graph(iri) or [])
            names = [v for p, kind, v, _ in rows if p in TITLE_PREDICATES and kind == LITERAL]
            cls = next((v for p, _, v, _ in rows if p == _RDF_TYPE), "")
            self._names[iri] = (sorted(names), cls)
        return self._names[iri]

    def _own(self, iri: str, graph: Graph) -> tuple[str, int | None, int | None]:
        """Category code, year and sort date stated by the object itself."""
        d = describe(self.statements(iri, graph))
        return d.category, d.year, d.date

    def _chain(self, iri: str, parent: str | None) -> tuple[str, int | None, int | None,
                                                           list[str]]:
        """(category, year, date, ancestors) inherited from the containers above ``iri``."""
        if parent is None:
            return "", None, None, []
        if parent not in self._inherited:
            graph = self._graph(parent)
            facts = self.source.facts(parent, graph) if graph is not None else None
            if facts is None or graph is None:
                self._inherited[parent] = ("", None, None, [])
            else:
                cat, year, date = self._own(parent, graph)
                up_cat, up_year, up_date, up_anc = self._chain(parent, facts.parent)
                self._inherited[parent] = (cat or up_cat, year if year is not None else up_year,
                                           date if date is not None else up_date,
                                           [parent, *up_anc])
            if len(self._inherited) > 100_000:
                keep = self._inherited[parent]
                self._inherited.clear()
                self._inherited[parent] = keep
        return self._inherited[parent]

    def build(self, iri: str) -> Document | None:
        graph = self._graph(iri)
        if graph is None:
            return None
        facts = self.source.facts(iri, graph)
        if facts is None:
            return None
        d = describe(self.statements(iri, graph))
        agents: list[str] = []
        places: list[str] = []
        subjects: list[str] = []
        for p, _, v, _ in d.links:
            names, cls = self._linked(v)
            if not names:
                continue
            if p in PLACE_LINKS or (p in SUBJECT_LINKS and cls in PLACE_CLASSES):
                places.extend(names)
            if p in AGENT_LINKS or (p in SUBJECT_LINKS and cls in AGENT_CLASSES):
                agents.extend(names)
            if p in SUBJECT_LINKS:
                subjects.extend(names)
        up_cat, up_year, up_date, ancestors = self._chain(iri, facts.parent)
        # the description's lists are copied: it may serve the object's other document
        doc = Document(iri=iri, type=facts.type, state=facts.state, access=facts.access,
                       path=facts.path, owner=facts.owner, titles=d.titles[:],
                       refcode=d.refcode,
                       texts={k: v[:] for k, v in d.texts.items()} if d.texts else {},
                       agents=agents, places=places, subjects=subjects, extra=[],
                       category=d.category or up_cat,
                       year=d.year if d.year is not None else up_year,
                       date=d.date if d.date is not None else up_date,
                       languages=d.languages[:], ancestors=ancestors,
                       position=facts.position, modified=facts.modified)
        for fn in TEXT_SOURCES:
            doc.extra.extend(t for t in fn(getattr(self.source, "repo", None), iri,
                                           self.source.public) if t)
        return doc


def container_signature(doc: Document | None) -> tuple:
    """What objects inside inherit (category, year, date, place in the tree)."""
    if doc is None:
        return ()
    return (doc.category, doc.year, doc.date, doc.path, tuple(doc.ancestors))


__all__ = ["Builder", "Document", "PublicSource", "StaffSource", "register_text_source"]
