"""Presentation 3 collections of the fonds / series / collection / file tree.

``/iiif/collection/recordset/{key}`` lists, in archival order (reference code, then key, in
natural order), the public record sets inside it that hold digitised records somewhere
below (as sub-collections) and its digitised public records (as manifests). A record set
with nothing digitised below it has no collection (404), so viewers never open empty shelves.

``/iiif/collection/exhibit/{key}`` lists the digitised records an exhibit or section
features, in the archivist's order: what the viewer on exhibit pages shows.
Everything is read from the publication dataset: a closed record is not in it, so it can
neither appear in a collection nor be guessed.
"""

from __future__ import annotations

from typing import Any

from pyoxigraph import NamedNode, Store, Variable

from iiif.manifests import (
    ATTRIBUTION,
    PRESENTATION_CONTEXT,
    PublicGraph,
    Site,
    descriptive,
    is_digitised,
    label_or,
    lang_map,
    lang_map_of,
    manifest_ref,
    natural_key,
)
from ontology import terms
from ontology.namespaces import RICO, SCHEMA

_ORDER_PRED = RICO + "identifier"
_DIGITISED_BELOW = """
PREFIX rico: <https://www.ica.org/standards/RiC/ontology#>
PREFIX dcterms: <http://purl.org/dc/terms/>
ASK {
  ?record rico:isDirectlyIncludedIn+ ?set .
  ?inst rico:isOrWasDigitalInstantiationOf ?record ; dcterms:format ?mime .
  FILTER(STRSTARTS(?mime, "image/") || STRSTARTS(?mime, "audio/") || STRSTARTS(?mime, "video/"))
}"""


def has_digitised_below(store: Store, iri: str) -> bool:
    """Does a digitised public record sit inside this record set, at any depth?"""
    return bool(store.query(_DIGITISED_BELOW, substitutions={Variable("set"): NamedNode(iri)},
                            use_default_graph_as_union=True))


def _order(graph: PublicGraph, iri: str) -> tuple:
    code = next((o.value for o in graph.statements(iri).get(_ORDER_PRED, [])
                 if not o.value.startswith("sha256:")), "")
    return (natural_key(code) if code else [chr(0x10FFFF)], natural_key(iri.rsplit("/", 1)[-1]))


def featured(store: Store, iri: str) -> list[str]:
    """The records an exhibit or section features (``schema:hasPart``), in the archivist's
    order (:mod:`repo.ordering`), then its sections' in theirs."""
    from repo.ordering import stored_order

    node = NamedNode(iri)
    quads = list(store.quads_for_pattern(None, None, None, node))
    ordered = [terms.value(t) for t in stored_order(quads, iri, "feature")]
    rest = sorted(terms.value(q.object) for q in quads
                  if q.subject == node and q.predicate.value == SCHEMA + "hasPart")
    out = list(dict.fromkeys([*ordered, *rest]))
    sections = []
    for q in store.quads_for_pattern(None, NamedNode(SCHEMA + "isPartOf"), node, None):
        if q.subject == q.graph_name:
            part = terms.named(q.subject)
            pos = next(store.quads_for_pattern(part, NamedNode(SCHEMA + "position"),
                                               None, part), None)
            place = terms.value(pos.object) if pos is not None else ""
            sections.append((int(place) if place.isdigit() else 1 << 30, part.value))
    for _, section in sorted(sections):
        out += [i for i in featured(store, section) if i not in out]
    return out


def build_exhibit_collection(store: Store, site: Site, key: str) -> dict | None:
    """``/iiif/collection/exhibit/{key}``: the digitised records an exhibit (or one of its
    sections) features, for the viewer on exhibit pages."""
    graph = PublicGraph(store, site.base)
    urls = site.urls
    iri = f"{site.base}/id/exhibit/{key}"
    if not graph.exists(iri):
        return None
    items = []
    for record in featured(store, iri):
        if not record.startswith(f"{site.base}/id/record") or not graph.exists(record):
            continue
        ref = manifest_ref(graph, site, record) if is_digitised(graph, record) else None
        if ref:
            items.append(ref)
    if not items:
        return None
    stmts = graph.statements(iri)
    label = label_or(graph.lang_map(iri, stmts=stmts), key)
    summary = lang_map(stmts.get(SCHEMA + "description", []))
    out: dict[str, Any] = {"@context": PRESENTATION_CONTEXT,
                           "id": urls.collection("exhibit", key),
                           "type": "Collection", "label": label}
    if summary:
        out["summary"] = summary
    out |= {"requiredStatement": {"label": lang_map_of(ATTRIBUTION),
                                  "value": site.name},
            "rights": site.rights,
            "homepage": [{"id": iri, "type": "Text", "label": label, "format": "text/html"}],
            "items": items}
    return out


def build_collection(store: Store, site: Site, kind: str, key: str) -> dict | None:
    """The collection of the public record set ``{base}/id/{kind}/{key}`` (or of an
    exhibit: :func:`build_exhibit_collection`), or None."""
    if kind == "exhibit":
        return build_exhibit_collection(store, site, key)
    graph = PublicGraph(store, site.base)
    urls = site.urls
    iri = f"{site.base}/id/{kind}/{key}"
    if kind != "recordset" or not graph.exists(iri):
        return None
    stmts = graph.statements(iri)
    if graph.record_set_type(iri, stmts) is None:
        return None
    children = sorted(set(graph.subjects(RICO + "isDirectlyIncludedIn", iri)),
                      key=lambda c: _order(graph, c))
    items = []
    own = manifest_ref(graph, site, iri) if is_digitised(graph, iri) else None
    if own:  # a file with scans of its own, and digitised items inside
        items.append(own)
    for child in children:
        ckind, ckey = urls.record(child)
        if ckind == "recordset" and has_digitised_below(store, child):
            items.append({"id": urls.collection(ckind, ckey), "type": "Collection",
                          "label": label_or(graph.lang_map(child), ckey)})
        if is_digitised(graph, child):  # a file with scans of its own is both
            ref = manifest_ref(graph, site, child)
            if ref:
                items.append(ref)
    if not items:
        return None
    label = label_or(graph.lang_map(iri, stmts=stmts), key)
    props = {k: v for k, v in descriptive(site, graph, iri, stmts, label).items() if v}
    return {"@context": PRESENTATION_CONTEXT, "id": urls.collection(kind, key),
            "type": "Collection", "label": label, **props, "items": items}


__all__ = ["build_collection", "build_exhibit_collection", "featured", "has_digitised_below"]
