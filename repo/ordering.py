"""Ordered fields: the order an archivist gives a many-valued field, kept in the RDF.

RDF has no order among the values of a property, yet an exhibit shows its featured records
in the order the archivist chose. A field marked ``lt:ordered true`` in the profile (the
exhibits' ``feature``) keeps its plain statements, which SPARQL users query
(``<section> schema:hasPart <record>``), and beside them one schema.org ``ListItem`` per
value, in the object's own graph, named by a fragment of the object's IRI::

    <section#feature-1> a schema:ListItem ; schema:isPartOf <section> ;
        schema:position 1 ; schema:item <record> .

Why this shape: the nodes hang *from* the list item to the object, so the object's closed
SHACL shape (which constrains only the object's own statements) is unchanged; fragment IRIs
are stable, dereference to the object's page and are deleted with it; and the public view
(``repo.publication``) drops ``schema:item`` links to closed records like any other link,
so a closed record leaves only a numbered gap, never its IRI.

The repository writes these nodes, archivists never do: setting the field (``--set
feature=/a --set feature=/b``) gives the values in the order given; adding appends; removing
a value drops its node and renumbers. Values without a node (data from before) follow the
ordered ones, in IRI order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pyoxigraph import Literal, NamedNode, Quad

from ontology import terms
from ontology.namespaces import RDF_TYPE, SCHEMA, XSD

if TYPE_CHECKING:
    from ontology.profile import Field
    from repo.objects import ContentObject

LIST_ITEM = NamedNode(SCHEMA + "ListItem")
IS_PART_OF = NamedNode(SCHEMA + "isPartOf")
POSITION = NamedNode(SCHEMA + "position")
ITEM = NamedNode(SCHEMA + "item")


def node_prefix(obj_iri: str, field_name: str) -> str:
    return f"{obj_iri}#{field_name}-"


def stored_order(quads: Iterable[Quad], obj_iri: str, field_name: str) -> list:
    """The values of an ordered field in their stored order (terms), from a graph's quads.

    Works on any graph holding the nodes: the working description or the public view."""
    prefix = node_prefix(obj_iri, field_name)
    position: dict[str, int] = {}
    item: dict[str, object] = {}
    for q in quads:
        s = terms.value(q.subject)
        if not s.startswith(prefix):
            continue
        if q.predicate == POSITION:
            try:
                position[s] = int(terms.value(q.object))
            except ValueError:
                continue
        elif q.predicate == ITEM:
            item[s] = q.object
    ranked = sorted((p, s) for s, p in position.items() if s in item)
    return [item[s] for _, s in ranked]


def keep_order(obj: ContentObject, f: Field, given: list, *, replace: bool) -> None:
    """Rewrite the nodes of ``f`` after its values changed.

    ``given`` are the values just set (``replace``) or added; the new order is ``given``
    (replace) or the stored order followed by ``given`` (add), restricted to the values the
    object now has, then any remaining values in IRI order."""
    node = obj.node
    present = [q.object for q in obj.description
               if q.subject == node and q.predicate.value == f.path]
    before = stored_order(obj.description, obj.iri, f.name)
    wanted = list(given) if replace else before + list(given)
    order: list = []
    for term in [*wanted, *sorted(present, key=str)]:
        if term in present and term not in order:
            order.append(term)
    prefix = node_prefix(obj.iri, f.name)
    obj.description = {q for q in obj.description if not terms.value(q.subject).startswith(prefix)}
    for n, term in enumerate(order, start=1):
        li = NamedNode(f"{prefix}{n}")
        obj.description.update((
            Quad(li, RDF_TYPE, LIST_ITEM, node),
            Quad(li, IS_PART_OF, node, node),
            Quad(li, POSITION, Literal(str(n), datatype=NamedNode(XSD + "integer")), node),
            Quad(li, ITEM, term, node),
        ))
