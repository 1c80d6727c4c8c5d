"""RDF of a subtree: the descriptions of an object and of everything inside it that the user
may view, as Turtle, N-Quads, JSON-LD, TriG or N-Triples.

``lantai export rdf --under PATH`` and the staff workspace's export page use it. The walk is
the repository's (:meth:`Repository.walk`): what the user may not view is left out, with
everything inside it, so a Contributor's export holds no closed record. Dataset formats keep
one named graph per object (its IRI, as in the working store); the others merge them.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyoxigraph import DefaultGraph, Quad, RdfFormat, Store, serialize

from ontology.namespaces import RICO, SCHEMA, XSD
from repo.errors import Invalid

FORMATS = {"ttl": RdfFormat.TURTLE, "nq": RdfFormat.N_QUADS, "jsonld": RdfFormat.JSON_LD,
           "trig": RdfFormat.TRIG, "nt": RdfFormat.N_TRIPLES}
MEDIA_TYPES = {"ttl": "text/turtle", "nq": "application/n-quads",
               "jsonld": "application/ld+json", "trig": "application/trig",
               "nt": "application/n-triples"}


def serialize_quads(quads: Iterable[Quad], fmt: str) -> bytes:
    """Quads in one of :data:`FORMATS` (graphs merged for the formats without them)."""
    if fmt not in FORMATS:
        raise Invalid(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    if FORMATS[fmt].supports_datasets:
        return serialize(sorted(quads, key=str), format=FORMATS[fmt]) or b""
    tmp = Store()
    tmp.extend(Quad(q.subject, q.predicate, q.object) for q in quads)
    prefixes = {"rico": RICO, "schema": SCHEMA, "xsd": XSD}
    return tmp.dump(format=FORMATS[fmt], from_graph=DefaultGraph(),
                    prefixes=prefixes if fmt == "ttl" else None) or b""


def subtree_rdf(repo, user, ref: str, fmt: str) -> bytes:
    """The descriptions of ``ref`` and what is inside it that ``user`` may view."""
    if fmt not in FORMATS:
        raise Invalid(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    quads: list[Quad] = []
    for _level, obj in repo.walk(user, ref):
        if not obj.deleted:
            quads.extend(obj.description)
    return serialize_quads(quads, fmt)


__all__ = ["FORMATS", "MEDIA_TYPES", "serialize_quads", "subtree_rdf"]
