"""Revisions: changesets with RDF Patch, per-object history, diff and revert.

Every write is one changeset (author, time, message, action), like a git commit that may
touch many objects. It stores an RDF Patch (``A``/``D`` lines of N-Quads; management facts,
in the default graph, are triples) of the tracked statements it changed, except for
objects it creates: an object's first revision is recovered by undoing the later patches
from its current state, so an import of 300,000 objects stores no second copy of them.
``<object> lt:changedIn <changeset>`` links history.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from dataclasses import dataclass

from pyoxigraph import DefaultGraph, Literal, NamedNode, Quad, RdfFormat, parse

from ontology import terms
from ontology.namespaces import PROV, RDF_TYPE, RDFS
from repo.objects import ContentObject, lt_node, user_iri, user_name, xsd_datetime
from repo.store import is_management, quad_nq

_ABSENT = Literal("")  # what a fact a changeset lacks reads as

_counter = itertools.count()

# One change of objects: IRI -> (before, after); before is None for a new object.
Changes = dict[str, tuple[ContentObject | None, ContentObject]]



def new_changeset_id(now: dt.datetime) -> str:
    """Sortable by time, then by order within a process: ``20261125T210501123456-<pid>-<n>``
    (fixed-width hex, so a clock that stands still still sorts correctly)."""
    return f"{now.strftime('%Y%m%dT%H%M%S%f')}-{os.getpid():08x}-{next(_counter):08x}"


def changeset_iri(cs_id: str) -> NamedNode:
    return NamedNode(f"urn:lantai:changeset:{cs_id}")


def encode_patch(removed: set[Quad], added: set[Quad]) -> str:
    lines = [f"D {quad_nq(q)}" for q in sorted(removed, key=str)]
    lines += [f"A {quad_nq(q)}" for q in sorted(added, key=str)]
    return "\n".join(lines)


def decode_patch(text: str) -> tuple[list[Quad], list[Quad]]:
    """``(removed, added)`` quads of an RDF Patch.

    Lines are split on ``\n`` only: N-Quads escapes ``\n`` and ``\r`` in literals but not
    U+2028, U+0085, ``\x0b``, ``\x1c``-``\x1e``, which ``str.splitlines`` also breaks on
    (a title holding one of them made the object's history unreadable)."""
    adds, dels = [], []
    for line in text.split("\n"):
        if line.startswith("A "):
            adds.append(line[2:])
        elif line.startswith("D "):
            dels.append(line[2:])

    def quads(lines: list[str]) -> list[Quad]:
        if not lines:
            return []
        return [Quad(q.subject, q.predicate, q.object) if is_management(q.graph_name) else q
                for q in parse(input="\n".join(lines).encode("utf-8"),
                               format=RdfFormat.N_QUADS)]

    return quads(dels), quads(adds)


@dataclass(frozen=True)
class Changeset:
    id: str
    author: str
    time: str
    message: str
    action: str
    patch: str = ""

    def quads(self, graph: NamedNode | DefaultGraph) -> list[Quad]:
        node = changeset_iri(self.id)
        out = [
            Quad(node, RDF_TYPE, lt_node("Changeset"), graph),
            Quad(node, NamedNode(PROV + "wasAttributedTo"), user_iri(self.author), graph),
            Quad(node, NamedNode(PROV + "endedAtTime"),
                 xsd_datetime(dt.datetime.fromisoformat(self.time)), graph),
            Quad(node, lt_node("action"), Literal(self.action), graph),
        ]
        if self.message:
            out.append(Quad(node, NamedNode(RDFS + "comment"), Literal(self.message), graph))
        if self.patch:
            out.append(Quad(node, lt_node("patch"), Literal(self.patch), graph))
        return out

    @classmethod
    def from_quads(cls, cs_id: str, quads: list[Quad]) -> Changeset:
        v = {q.predicate.value: q.object for q in quads}
        author = v.get(PROV + "wasAttributedTo")
        return cls(
            id=cs_id,
            author=user_name(terms.named(author)) if author is not None else "?",
            time=terms.value(v.get(PROV + "endedAtTime", _ABSENT)),
            message=terms.value(v.get(RDFS + "comment", _ABSENT)),
            action=terms.value(v.get(lt_node("action").value, _ABSENT)),
            patch=terms.value(v.get(lt_node("patch").value, _ABSENT)),
        )


@dataclass(frozen=True)
class Revision:
    """One entry of an object's history."""

    number: int
    changeset: Changeset

    @property
    def author(self) -> str:
        return self.changeset.author

    @property
    def time(self) -> str:
        return self.changeset.time

    @property
    def message(self) -> str:
        return self.changeset.message

    @property
    def action(self) -> str:
        return self.changeset.action


def concerns(q: Quad, iri: str) -> bool:
    """Does a patch line belong to the object ``iri``'s tracked state (its graph, or its
    management facts in the default graph)?"""
    g = q.graph_name
    if isinstance(g, DefaultGraph):
        return terms.value(q.subject) == iri
    return g.value == iri


def undo(state: set[Quad], cs: Changeset, iri: str) -> set[Quad]:
    """The object's state just before ``cs``, given its state just after."""
    if not cs.patch:
        return state
    removed, added = decode_patch(cs.patch)
    out = set(state)
    for q in added:
        if concerns(q, iri):
            out.discard(q)
    for q in removed:
        if concerns(q, iri):
            out.add(q)
    return out
