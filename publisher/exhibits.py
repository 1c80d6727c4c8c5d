"""The exhibits of the special collections, rendered from Exhibit objects in the publication.

An exhibit (``schema:ExhibitionEvent``) holds sections (``schema:CreativeWork``, children in
the tree, ``schema:isPartOf`` the exhibit); both feature records (``schema:hasPart``) in the
order the archivist gave them (``schema:ListItem`` nodes, see :mod:`repo.ordering`), and both
carry their place among their siblings (``schema:position``). Everything here reads the
publication dataset only, so a closed record simply is not there: no card, no date, no name.

Routes: ``/exhibits/`` (the list), ``/exhibits/<key>`` (one exhibit: its sections with their
narrative text and featured records, a timeline, and, when the exhibit's records come from
interviews, the index of the people interviewed), ``/exhibits/<key>/<section>`` (one
section). Archivists shape all of it with ``lantai edit`` or the REST API (docs/exhibits.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, request
from flask_babel import gettext, lazy_gettext
from pyoxigraph import Literal, NamedNode, Store

from ontology import terms
from ontology.namespaces import DCTERMS, RDF, RICO, SCHEMA
from publisher.dataset import public_store
from publisher.gone import absent
from publisher.i18n import LANGS, date_range, lang, render
from repo.ordering import stored_order

bp = Blueprint("exhibits", __name__)

TYPE = NamedNode(RDF + "type")
EXHIBIT = NamedNode(SCHEMA + "ExhibitionEvent")
SECTION = NamedNode(SCHEMA + "CreativeWork")
IS_PART_OF = NamedNode(SCHEMA + "isPartOf")
HAS_PART = NamedNode(SCHEMA + "hasPart")
POSITION = NamedNode(SCHEMA + "position")
ABOUT = NamedNode(SCHEMA + "about")
TITLES = tuple(NamedNode(p) for p in (RICO + "title", RICO + "name", SCHEMA + "name"))
KEY = re.compile(r"^[a-z0-9_-]{1,64}$")
YEAR = re.compile(r"(\d{4})")
KIND_LABELS = {  # class → what a card says it is (message ids: the catalog has the Chinese)
    RICO + "Record": lazy_gettext("Record"), RICO + "RecordSet": lazy_gettext("Records"),
    RICO + "RecordResource": lazy_gettext("Record"), RICO + "Person": lazy_gettext("Person"),
    RICO + "CorporateBody": lazy_gettext("Organisation"),
    RICO + "Family": lazy_gettext("Family"), RICO + "Event": lazy_gettext("Event"),
    RICO + "Activity": lazy_gettext("Activity"),
    RICO + "Instantiation": lazy_gettext("Digital copy"), RICO + "Place": lazy_gettext("Place"),
}
THUMB = "/iiif/3/{key}/full/!300,300/0/default.jpg"


@dataclass(frozen=True)
class Text:
    """A text in one language; ``lang`` tells the template when it differs from the page."""

    text: str
    lang: str

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)


@dataclass
class Card:
    iri: str
    href: str
    title: Text
    kind: str
    date: str = ""
    datetime: str = ""
    sort: str = ""
    refcode: str = ""
    thumb: str = ""
    alt: str = ""


@dataclass
class Section:
    key: str
    href: str
    title: Text
    paragraphs: list[str]
    text_lang: str
    features: list[Card]


@dataclass
class Interview:
    title: Text
    href: str
    date: str
    datetime: str
    sort: str
    recordings: list[Card] = field(default_factory=list)


@dataclass
class Narrator:
    href: str
    name: Text
    interviews: list[Interview]


class Reader:
    """What the pages need from the publication dataset, in the visitor's language."""

    def __init__(self, store: Store, base: str, want: str) -> None:
        self.store, self.base, self.want = store, base, want
        self._cards: dict[str, Card | None] = {}

    # ---------------------------------------------------------------- basics
    def href(self, iri: str) -> str:
        return iri[len(self.base):] if iri.startswith(self.base + "/") else iri

    def values(self, node: NamedNode, preds) -> list:
        out = []
        for p in preds if isinstance(preds, tuple) else (preds,):
            out += [q.object for q in self.store.quads_for_pattern(node, p, None, None)]
        return out

    def text(self, node: NamedNode, preds) -> Text:
        """The value in the page's language, else Chinese, else any (with its language)."""
        by_lang: dict[str, str] = {}
        for o in self.values(node, preds):
            if isinstance(o, Literal):
                by_lang.setdefault((o.language or "").split("-")[0], o.value)
        for tag in (self.want, "zh", "en", ""):
            if by_lang.get(tag):
                return Text(by_lang[tag], tag or "zh")
        if by_lang:
            tag, value = next(iter(by_lang.items()))
            return Text(value, tag)
        return Text("", self.want)

    def one(self, node: NamedNode, pred: NamedNode):
        q = next(self.store.quads_for_pattern(node, pred, None, None), None)
        return q.object if q is not None else None

    def cls(self, node: NamedNode) -> str:
        o = self.one(node, TYPE)
        return o.value if o is not None else ""

    def exists(self, iri: str) -> bool:
        return self.store.contains_named_graph(NamedNode(iri))

    def position(self, node: NamedNode) -> int:
        o = self.one(node, POSITION)
        try:
            return int(o.value) if o is not None else 1 << 30
        except ValueError:
            return 1 << 30

    # ---------------------------------------------------------------- dates
    def dates(self, node: NamedNode) -> tuple[str, str, str]:
        """(shown, datetime attribute, sort key) of a record or event."""
        begin = self.one(node, NamedNode(RICO + "beginningDate"))
        end = self.one(node, NamedNode(RICO + "endDate"))
        if isinstance(begin, Literal):
            shown = date_range(begin.value, end.value if isinstance(end, Literal) else None,
                               self.want) or begin.value
            return shown, begin.value, begin.value
        written = self.text(node, NamedNode(RICO + "date"))
        m = YEAR.search(written.text)
        return written.text, (m.group(1) if m else ""), (m.group(1) if m else "")

    # ---------------------------------------------------------------- cards
    def thumbnail(self, node: NamedNode, cls: str) -> tuple[str, str]:
        """IIIF thumbnail URL and alt text of the record's first image, if it has one."""
        candidates = [node] if cls == RICO + "Instantiation" else sorted(
            (terms.named(q.subject) for q in self.store.quads_for_pattern(
                None, NamedNode(RICO + "isOrWasDigitalInstantiationOf"), node, None)),
            key=lambda n: n.value)
        for inst in candidates:
            mime = self.one(inst, NamedNode(DCTERMS + "format"))
            if isinstance(mime, Literal) and mime.value.startswith("image/"):
                key = inst.value.rsplit("/", 1)[-1]
                return THUMB.format(key=key), ""
        return "", ""

    def card(self, iri: str) -> Card | None:
        if iri in self._cards:
            return self._cards[iri]
        card = None
        if self.exists(iri):
            node = NamedNode(iri)
            cls = self.cls(node)
            kind = str(KIND_LABELS.get(cls, ""))
            title = self.text(node, TITLES)
            shown, dt_attr, sort = self.dates(node)
            refcode = ""
            if cls in (RICO + "Record", RICO + "RecordSet", RICO + "RecordResource"):
                refcode = next((o.value for o in self.values(node, NamedNode(RICO + "identifier"))
                                if isinstance(o, Literal) and not o.value.startswith("sha256:")),
                               "")
            thumb, _ = self.thumbnail(node, cls)
            alt = gettext("Image: %(title)s", title=title.text) if thumb else ""
            card = Card(iri=iri, href=self.href(iri), title=title or Text(iri, "en"),
                        kind=kind, date=shown, datetime=dt_attr,
                        sort=sort, refcode=refcode, thumb=thumb, alt=alt)
        self._cards[iri] = card
        return card

    def features(self, node: NamedNode) -> list[Card]:
        """The featured objects of an exhibit or section, in the archivist's order."""
        quads = list(self.store.quads_for_pattern(None, None, None, node))
        ordered = [t.value for t in stored_order(quads, node.value, "feature")]
        rest = sorted(terms.value(q.object) for q in quads
                      if q.subject == node and q.predicate == HAS_PART
                      and terms.value(q.object) not in ordered)
        cards = (self.card(iri) for iri in dict.fromkeys([*ordered, *rest]))
        return [c for c in cards if c is not None]

    # ---------------------------------------------------------------- exhibits
    def exhibit_node(self, key: str) -> NamedNode | None:
        if not KEY.match(key):
            return None
        node = NamedNode(f"{self.base}/id/exhibit/{key}")
        return node if self.one(node, TYPE) == EXHIBIT else None

    def exhibits(self) -> list[dict]:
        nodes = [terms.named(q.subject)
                 for q in self.store.quads_for_pattern(None, TYPE, EXHIBIT, None)]
        out = []
        for node in sorted(nodes, key=lambda n: (self.position(n), n.value)):
            features = self.features(node)
            thumb = next((c for c in features if c.thumb), None)
            out.append({"key": node.value.rsplit("/", 1)[-1], "title": self.text(node, TITLES),
                        "summary": self.text(node, NamedNode(SCHEMA + "description")),
                        "sections": len(self.section_nodes(node)), "thumb": thumb})
        return out

    def section_nodes(self, exhibit: NamedNode) -> list[NamedNode]:
        nodes = [terms.named(q.subject)
                 for q in self.store.quads_for_pattern(None, IS_PART_OF, exhibit, None)
                 if q.subject == q.graph_name and self.one(terms.named(q.subject), TYPE) == SECTION]
        return sorted(nodes, key=lambda n: (self.position(n), n.value))

    def section(self, exhibit_key: str, node: NamedNode) -> Section:
        text = self.text(node, NamedNode(SCHEMA + "text"))
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.text) if p.strip()]
        key = node.value.rsplit("/", 1)[-1]
        return Section(key=key, href=f"/exhibits/{exhibit_key}/{key}",
                       title=self.text(node, TITLES), paragraphs=paragraphs,
                       text_lang=text.lang, features=self.features(node))

    def timeline(self, groups: list[list[Card]]) -> list[Card]:
        seen: dict[str, Card] = {}
        for cards in groups:
            for c in cards:
                if c.sort and c.iri not in seen:
                    seen[c.iri] = c
        return sorted(seen.values(), key=lambda c: (c.sort, c.title.text))

    def narrators(self, exhibit: NamedNode) -> list[Narrator]:
        """The people interviewed for the collections the exhibit presents (schema:about):
        persons taking part in the events (interviews) that those collections' records are
        associated with. An exhibit of a collection without interviews has none."""
        records: set[str] = set()
        for coll in self.values(exhibit, ABOUT):
            records.add(coll.value)
            rows = terms.solutions(self.store.query(
                "PREFIX rico: <https://www.ica.org/standards/RiC/ontology#> "
                f"SELECT DISTINCT ?r WHERE {{ ?r rico:isDirectlyIncludedIn+ {coll} }}",
                use_default_graph_as_union=True))  # coll: an IRI from the store, as <…>
            records.update(terms.value(row["r"]) for row in rows)
        events: dict[str, list[str]] = {}
        for iri in sorted(records):
            for e in self.values(NamedNode(iri), NamedNode(RICO + "isAssociatedWithEvent")):
                events.setdefault(e.value, []).append(iri)
        people: dict[str, list[Interview]] = {}
        for ev, recs in events.items():
            enode = NamedNode(ev)
            if not self.exists(ev):
                continue
            persons = [p for p in self.values(enode, NamedNode(RICO + "hasOrHadParticipant"))
                       if self.cls(p) == RICO + "Person" and self.exists(p.value)]
            if not persons:
                continue
            shown, dt_attr, sort = self.dates(enode)
            interview = Interview(title=self.text(enode, TITLES), href=self.href(ev),
                                  date=shown, datetime=dt_attr, sort=sort,
                                  recordings=[c for c in map(self.card, recs) if c])
            for p in persons:
                people.setdefault(p.value, []).append(interview)
        out = []
        for iri, interviews in people.items():
            interviews.sort(key=lambda i: (i.sort, i.title.text))
            out.append(Narrator(href=self.href(iri), name=self.text(NamedNode(iri), TITLES),
                                interviews=interviews))
        return sorted(out, key=lambda n: (n.interviews[0].sort, n.name.text))


def _reader() -> Reader:
    return Reader(public_store(), current_app.config["BASE"], lang())


@bp.get("/exhibits")
@bp.get("/exhibits/")
def exhibit_list():
    return render("exhibits.html", exhibits=_reader().exhibits())


@bp.get("/exhibits/<key>")
def exhibit_page(key: str):
    r = _reader()
    node = r.exhibit_node(key)
    if node is None:
        absent(f"{r.base}/id/exhibit/{key}")  # 410 once it was public
    sections = [r.section(key, s) for s in r.section_nodes(node)]
    features = r.features(node)
    all_cards = [features, *[s.features for s in sections]]
    narrators = r.narrators(node)
    title, summary = r.text(node, TITLES), r.text(node, NamedNode(SCHEMA + "description"))
    jsonld = {  # for search engines: what the page shows, in schema.org terms
        "@context": "https://schema.org", "@type": "ExhibitionEvent", "@id": node.value,
        "name": title.text, "description": summary.text,
        "url": current_app.config["BASE"] + request.path,  # never the Host header
        "inLanguage": "zh-Hans" if r.want == "zh" else "en",
        "workFeatured": [{"@id": c.iri, "name": c.title.text}
                         for c in dict((c.iri, c) for cards in all_cards for c in cards).values()],
    }
    return render("exhibit.html", key=key, title=title, summary=summary, features=features,
                  sections=sections, timeline=r.timeline(all_cards), narrators=narrators,
                  iri=node.value, jsonld=jsonld)


@bp.get("/exhibits/<key>/<section_key>")
def section_page(key: str, section_key: str):
    r = _reader()
    node = r.exhibit_node(key)
    if node is None:
        absent(f"{r.base}/id/exhibit/{key}")
    if not KEY.match(section_key):
        abort(404)
    nodes = r.section_nodes(node)
    keys = [n.value.rsplit("/", 1)[-1] for n in nodes]
    if section_key not in keys:
        abort(404)
    i = keys.index(section_key)
    section = r.section(key, nodes[i])
    neighbours = [r.section(key, nodes[j]) if 0 <= j < len(nodes) else None for j in (i - 1, i + 1)]
    return render("exhibit_section.html", key=key, exhibit_title=r.text(node, TITLES),
                  section=section, previous=neighbours[0], next=neighbours[1],
                  timeline=r.timeline([section.features]), iri=nodes[i].value)


@bp.app_context_processor
def page_helpers() -> dict:
    """For base.html (shared by every public page): the language switch keeps the query."""
    from urllib.parse import urlencode

    def lang_url(code: str) -> str:
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
        return request.path + "?" + urlencode([*args, ("lang", code)])

    def html_lang(code: str) -> str:
        return "zh-Hans" if code == "zh" else (code or "zh-Hans")

    return {"lang_url": lang_url, "html_lang": html_lang, "LANGS": LANGS}
