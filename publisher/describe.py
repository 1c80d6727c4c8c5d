"""A view model of one public object, read from the publication dataset only.

Pages (record, agent, place, event, exhibit) and the schema.org JSON-LD they embed are built
from a :class:`Described`, never from the store directly, so what a page may show is decided
in one place: what the publication store holds. Links to other objects appear only when the
target is public itself (the repository already drops links to non-public objects; we check
again, because a page must never name a closed record even if a link were left behind).

Texts come in both languages; :func:`pick` chooses the reader's, then the other one, then an
untagged value, so a record described only in Chinese still has a title in English pages.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode, Store

from ontology import terms
from ontology.namespaces import DCTERMS, RDF, RICO, RST, SCHEMA
from ontology.profile import vocabulary_codes
from publisher.i18n import LANGS, UIText, ui_ptext

Texts = dict[str, str]  # language ("" for none) -> text

_TYPE = NamedNode(RDF + "type")
_TITLES = [NamedNode(RICO + "title"), NamedNode(RICO + "name"), NamedNode(SCHEMA + "name")]
_INCLUDED_IN = NamedNode(RICO + "isDirectlyIncludedIn")
_PART_OF = NamedNode(SCHEMA + "isPartOf")
_INSTANTIATION_OF = NamedNode(RICO + "isOrWasDigitalInstantiationOf")
_PARTICIPANT = NamedNode(RICO + "hasOrHadParticipant")
_WITH_EVENT = NamedNode(RICO + "isAssociatedWithEvent")

# Record set types (RiC-O vocabulary) and the 档案 words for them (in the catalogs).
LEVELS: dict[str, UIText] = {
    RST + "Fonds": ui_ptext("level", "Fonds"),
    RST + "Series": ui_ptext("level", "Series"),
    RST + "File": ui_ptext("level", "File"),
    RST + "Collection": ui_ptext("level", "Collection"),
}

CLASSES: dict[str, UIText] = {
    RICO + "Record": ui_ptext("type", "Record"),
    RICO + "RecordSet": ui_ptext("type", "Record set"),
    RICO + "RecordPart": ui_ptext("type", "Record part"),
    RICO + "Instantiation": ui_ptext("type", "Digital instantiation"),
    RICO + "Person": ui_ptext("type", "Person"),
    RICO + "CorporateBody": ui_ptext("type", "Corporate body"),
    RICO + "Family": ui_ptext("type", "Family"),
    RICO + "Place": ui_ptext("type", "Place"),
    RICO + "Event": ui_ptext("type", "Event"),
    RICO + "Activity": ui_ptext("type", "Activity"),
    SCHEMA + "ExhibitionEvent": ui_ptext("type", "Exhibit"),
    SCHEMA + "CreativeWork": ui_ptext("type", "Exhibit section"),
}

# Links shown on pages: predicate -> (label, label of the inverse).
RELATIONS: dict[str, tuple[UIText, UIText]] = {
    RICO + "hasCreator": (ui_ptext("relation", "Creators"), ui_ptext("relation", "Created")),
    RICO + "hasOrganicProvenance": (ui_ptext("relation", "Provenance"),
                                    ui_ptext("relation", "Provenance of")),
    RICO + "hasOrHadSubject": (ui_ptext("relation", "Subjects"),
                               ui_ptext("relation", "Subject of")),
    RICO + "hasOrHadParticipant": (ui_ptext("relation", "Participants"),
                                   ui_ptext("relation", "Took part in")),
    RICO + "isAssociatedWithPlace": (ui_ptext("relation", "Places"),
                                     ui_ptext("relation", "Associated with this place")),
    RICO + "isAgentAssociatedWithPlace": (ui_ptext("relation", "Places"),
                                          ui_ptext("relation", "People and bodies associated")),
    RICO + "isAssociatedWithEvent": (ui_ptext("relation", "Events"),
                                     ui_ptext("relation", "Records about this event")),
    SCHEMA + "about": (ui_ptext("relation", "About"), ui_ptext("relation", "Exhibits")),
    SCHEMA + "hasPart": (ui_ptext("relation", "Featured"), ui_ptext("relation", "Featured in")),
}
AGENT_CLASSES = {RICO + "Person", RICO + "CorporateBody", RICO + "Family"}
FORWARD_ORDER = (RICO + "hasCreator", RICO + "hasOrganicProvenance", RICO + "hasOrHadParticipant",
                 RICO + "hasOrHadSubject", RICO + "isAssociatedWithEvent",
                 RICO + "isAssociatedWithPlace", RICO + "isAgentAssociatedWithPlace",
                 SCHEMA + "about", SCHEMA + "hasPart")
MAX_RELATED = 200  # per group of incoming links on one page


def label_or_slug(labels: Texts, iri: str, want: str) -> str:
    """A label in ``want`` (see :func:`pick`), else the last segment of the IRI."""
    return pick(labels, want) or iri.rsplit("/", 1)[-1]


def _by_title(ref: Ref) -> tuple[str, str]:
    """Sort key of related objects: Chinese title, then IRI (the same order in both languages)."""
    return pick(ref.labels, "zh"), ref.iri


def pick(texts: Texts, want: str) -> str:
    """The text in ``want``, else the other language, else untagged, else ''."""
    if texts.get(want):
        return texts[want]
    for lang in (*LANGS, ""):
        if texts.get(lang):
            return texts[lang]
    return next(iter(texts.values()), "")


@dataclass
class Ref:
    """A link to another public object (or a vocabulary concept) with its labels."""

    iri: str
    labels: Texts
    classes: tuple[str, ...] = ()
    local: bool = True  # a page of this site

    def label(self, want: str) -> str:
        return label_or_slug(self.labels, self.iri, want)


@dataclass
class Instantiation:
    iri: str
    labels: Texts
    media_type: str = ""
    width: int | None = None
    height: int | None = None
    extent: Texts = field(default_factory=dict)
    digest: str = ""

    def label(self, want: str) -> str:
        return label_or_slug(self.labels, self.iri, want)


@dataclass
class Described:
    """Everything a public page says about one object."""

    iri: str
    kind: str
    key: str
    classes: tuple[str, ...]
    titles: Texts
    refcode: str = ""
    level: str | None = None  # a record set type IRI
    date_text: str = ""
    begin: str = ""
    end: str = ""
    extent: Texts = field(default_factory=dict)
    scope: Texts = field(default_factory=dict)
    description: Texts = field(default_factory=dict)  # history, general description, narrative
    access_note: Texts = field(default_factory=dict)
    categories: list[Ref] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    links: dict[str, list[Ref]] = field(default_factory=dict)  # predicate -> targets
    inverse: dict[str, list[Ref]] = field(default_factory=dict)  # predicate -> sources
    inverse_total: dict[str, int] = field(default_factory=dict)
    interviews: list[Ref] = field(default_factory=list)  # records of events one took part in
    parents: list[Ref] = field(default_factory=list)  # root first
    children: list[Ref] = field(default_factory=list)  # this page of them
    children_total: int = 0
    page: int = 1
    pages: int = 1
    instantiations: list[Instantiation] = field(default_factory=list)
    instantiation_of: list[Ref] = field(default_factory=list)
    media_type: str = ""

    def title(self, want: str) -> str:
        return pick(self.titles, want) or self.key

    def other_title(self, want: str) -> str:
        """The title in the other language, when there is one and it differs."""
        other = "en" if want == "zh" else "zh"
        text = self.titles.get(other, "")
        return text if text and text != self.title(want) else ""

    @property
    def is_agent(self) -> bool:
        return bool(AGENT_CLASSES & set(self.classes))

    def class_label(self, want: str) -> str:
        for c in self.classes:
            if c in CLASSES:
                return CLASSES[c].in_lang(want)
        return ""

    def level_label(self, want: str) -> str:
        level = LEVELS.get(self.level or "")
        return level.in_lang(want) if level else ""


def texts_of(store: Store, node: NamedNode, preds: list[NamedNode],
             graph: NamedNode | None = None) -> Texts:
    out: Texts = {}
    for pred in preds:
        for q in store.quads_for_pattern(node, pred, None, graph):
            if isinstance(q.object, Literal):
                out.setdefault(q.object.language or "", q.object.value)
    return out


def _one(store: Store, node: NamedNode, pred: str, graph: NamedNode) -> str:
    for q in store.quads_for_pattern(node, NamedNode(pred), None, graph):
        return terms.value(q.object)
    return ""


class Describer:
    """Builds :class:`Described` objects from one snapshot of the publication store."""

    def __init__(self, store: Store, base: str) -> None:
        self.store = store
        self.base = base
        self.id_prefix = base + "/id/"
        self.vocab_prefix = base + "/vocab/"

    def is_public(self, iri: str) -> bool:
        return iri.startswith(self.id_prefix) and self.store.contains_named_graph(NamedNode(iri))

    def ref(self, iri: str) -> Ref | None:
        """A link target, or None when it is one of ours and not public."""
        if iri.startswith(self.vocab_prefix):
            scheme, _, code = iri[len(self.vocab_prefix):].partition("/")
            labels = vocabulary_codes().get(scheme, {}).get(code, {})
            return Ref(iri, dict(labels) or {"": code}, local=False)
        if not iri.startswith(self.id_prefix):
            return Ref(iri, {}, local=False)
        node = NamedNode(iri)
        if not self.store.contains_named_graph(node):
            return None
        classes = tuple(terms.value(q.object) for q in
                        self.store.quads_for_pattern(node, _TYPE, None, node))
        return Ref(iri, texts_of(self.store, node, _TITLES, node), classes)

    def refs(self, iris) -> list[Ref]:
        """The public ones among ``iris``, each once, in the order given."""
        return [r for r in (self.ref(i) for i in dict.fromkeys(iris)) if r is not None]

    def parent_of(self, node: NamedNode) -> NamedNode | None:
        for pred in (_INCLUDED_IN, _PART_OF):
            for q in self.store.quads_for_pattern(node, pred, None, node):
                if isinstance(q.object, NamedNode) and self.is_public(q.object.value):
                    return q.object
        return None

    def describe(self, iri: str, *, page: int = 1, per_page: int = 50) -> Described | None:
        """The public description of ``iri``, or None when the publication store lacks it."""
        node = NamedNode(iri)
        st = self.store
        if not st.contains_named_graph(node):
            return None
        kind, _, key = iri[len(self.id_prefix):].partition("/")
        classes = tuple(terms.value(q.object)
                        for q in st.quads_for_pattern(node, _TYPE, None, node))
        d = Described(iri=iri, kind=kind, key=key, classes=classes,
                      titles=texts_of(st, node, _TITLES, node))
        d.refcode = _one(st, node, RICO + "identifier", node)
        if d.refcode.startswith("sha256:"):
            d.refcode = ""
        d.level = _one(st, node, RICO + "hasRecordSetType", node) or None
        d.date_text = _one(st, node, RICO + "date", node)
        d.begin = _one(st, node, RICO + "beginningDate", node)
        d.end = _one(st, node, RICO + "endDate", node)
        d.extent = texts_of(st, node, [NamedNode(RICO + "recordResourceExtent"),
                                       NamedNode(RICO + "instantiationExtent")], node)
        d.scope = texts_of(st, node, [NamedNode(RICO + "scopeAndContent")], node)
        d.description = texts_of(st, node, [NamedNode(RICO + "history"),
                                            NamedNode(RICO + "generalDescription"),
                                            NamedNode(SCHEMA + "description"),
                                            NamedNode(SCHEMA + "text")], node)
        d.access_note = texts_of(st, node, [NamedNode(RICO + "conditionsOfAccess")], node)
        d.media_type = _one(st, node, DCTERMS + "format", node)
        d.categories = self.refs(q.object.value for q in st.quads_for_pattern(
            node, NamedNode(RICO + "hasOrHadType"), None, node) if isinstance(q.object, NamedNode))
        d.languages = sorted(terms.value(q.object).rsplit("/", 1)[-1] for q in st.quads_for_pattern(
            node, NamedNode(RICO + "hasOrHadLanguage"), None, node))
        for pred in FORWARD_ORDER:
            targets = self.refs(q.object.value for q in st.quads_for_pattern(
                node, NamedNode(pred), None, node) if isinstance(q.object, NamedNode))
            if targets:
                d.links[pred] = targets
        d.instantiation_of = self.refs(q.object.value for q in st.quads_for_pattern(
            node, _INSTANTIATION_OF, None, node) if isinstance(q.object, NamedNode))
        self._incoming(d, node)
        self._hierarchy(d, node, page, per_page)
        d.instantiations = self._instantiations(node)
        return d

    def _incoming(self, d: Described, node: NamedNode) -> None:
        """What links here, by relation: an agent's records, a place's records, …"""
        groups: dict[str, list[str]] = {}
        for pred in FORWARD_ORDER:  # one index lookup each; never a scan of the children
            for q in self.store.quads_for_pattern(None, NamedNode(pred), node, None):
                if q.subject == q.graph_name:
                    groups.setdefault(pred, []).append(terms.value(q.subject))
        for pred in FORWARD_ORDER:
            sources = sorted(set(groups.get(pred, ())))
            if not sources:
                continue
            d.inverse_total[pred] = len(sources)
            d.inverse[pred] = sorted(self.refs(sources[:MAX_RELATED]), key=_by_title)
        # interviews and other records of the events an agent took part in
        if d.is_agent:
            seen: set[str] = set()
            for event in groups.get(RICO + "hasOrHadParticipant", ()):
                for q in self.store.quads_for_pattern(None, _WITH_EVENT, NamedNode(event), None):
                    if q.subject == q.graph_name:
                        seen.add(terms.value(q.subject))
            d.interviews = sorted(self.refs(sorted(seen)[:MAX_RELATED]), key=_by_title)

    def _hierarchy(self, d: Described, node: NamedNode, page: int, per_page: int) -> None:
        chain: list[Ref] = []
        current, seen = node, {node.value}
        while (parent := self.parent_of(current)) is not None and parent.value not in seen:
            seen.add(parent.value)
            ref = self.ref(parent.value)
            if ref is None:
                break
            chain.append(ref)
            current = parent
        d.parents = list(reversed(chain))
        children = children_of(self.store, node)
        d.children_total = len(children)
        d.pages = max(1, -(-len(children) // per_page))
        d.page = min(max(1, page), d.pages)
        start = (d.page - 1) * per_page
        d.children = self.refs(iri for _, iri in children[start:start + per_page])

    def _instantiations(self, node: NamedNode) -> list[Instantiation]:
        out = []
        for q in self.store.quads_for_pattern(None, _INSTANTIATION_OF, node, None):
            inst = q.subject
            if q.graph_name != inst or not isinstance(inst, NamedNode):
                continue
            width = _one(self.store, inst, RICO + "width", inst)
            height = _one(self.store, inst, RICO + "height", inst)
            out.append(Instantiation(
                iri=inst.value, labels=texts_of(self.store, inst, _TITLES, inst),
                media_type=_one(self.store, inst, DCTERMS + "format", inst),
                width=int(width) if width.isdigit() else None,
                height=int(height) if height.isdigit() else None,
                extent=texts_of(self.store, inst, [NamedNode(RICO + "instantiationExtent")],
                                inst),
                digest=_one(self.store, inst, RICO + "identifier", inst)))
        out.sort(key=lambda i: (i.media_type, i.iri))
        return out


# Children lists of big containers (a series of 100,000 files) are sorted once per
# publication snapshot and kept: paging through them then costs a slice. The cache belongs to
# one store handle (one snapshot); a new handle (a new publication generation) empties it.
_children_cache: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()
_children_owner: list[Store] = []
_children_lock = threading.Lock()
_CHILDREN_CACHE_SIZE = 64


def children_of(store: Store, node: NamedNode) -> list[tuple[str, str]]:
    """``(sort key, iri)`` of the public objects directly inside ``node``, in archival order
    (reference code, else title)."""
    with _children_lock:
        if not _children_owner or _children_owner[0] is not store:
            _children_cache.clear()
            _children_owner[:] = [store]
        if node.value in _children_cache:
            _children_cache.move_to_end(node.value)
            return _children_cache[node.value]
    out = []
    for pred in (_INCLUDED_IN, _PART_OF):
        for q in store.quads_for_pattern(None, pred, node, None):
            child = q.subject
            if q.graph_name != child or not isinstance(child, NamedNode):
                continue
            sort = _one(store, child, RICO + "identifier", child) or \
                pick(texts_of(store, child, _TITLES, child), "zh") or child.value
            out.append((sort, child.value))
    out = sorted(set(out))
    if len(out) > 200:  # small lists are cheaper to recompute than to keep
        with _children_lock:
            if _children_owner and _children_owner[0] is store:
                _children_cache[node.value] = out
                while len(_children_cache) > _CHILDREN_CACHE_SIZE:
                    _children_cache.popitem(last=False)
    return out
