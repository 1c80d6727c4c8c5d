"""An archival object as the repository holds it: description graph + management facts.

The description is the RiC-O RDF archivists write (named graph = the object's IRI). The
management facts live in the management graph (the working store's default graph) with
the object as subject: its place in the tree, workflow state, access rule, owner, local
roles and bookkeeping. Some facts are
*tracked*: a revision records their changes. The rest (paths, positions, counters) are
indexes the repository keeps in step and can recompute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from pyoxigraph import DefaultGraph, Literal, NamedNode, Quad

from ontology import terms
from ontology.namespaces import LT, RDF_TYPE, RICO, SCHEMA, XSD
from ontology.profile import ContentType, load_profile
from repo.ordering import stored_order
from repo.values import display

TRACKED = ("type", "parent", "slug", "state", "access", "openingDate", "accessByDefault",
           "personalField", "owner",
           "localReader", "localContributor", "localEditor", "localReviewer", "localManager",
           "localFilingOfficer")
ROLES = ("Reader", "Contributor", "Editor", "Reviewer", "Manager")
# roles held on one object only, for a service, granting nothing in the tree (repo.security)
SCOPED_ROLES = ("FilingOfficer",)
STATES = ("private", "pending", "published")
ACCESS_LEVELS = ("open", "restricted", "personal", "embargoed")
# Statements the content tree implies (written by the repository, not by archivists).
# schema:position: an exhibit's or section's place among its siblings, published so that
# public pages, which see no management facts, show them in the archivist's order.
STRUCTURAL = frozenset((RDF_TYPE.value, RICO + "hasRecordSetType", RICO + "isDirectlyIncludedIn",
                        RICO + "isOrWasDigitalInstantiationOf", SCHEMA + "isPartOf",
                        SCHEMA + "position"))


class QuadSource(Protocol):
    """What :func:`read_object` reads: a ``Store``, or the catalog's view of the working
    store during a bulk ingest (``repo.catalog.ingestion``)."""

    def quads_for_pattern(self, subject: NamedNode | None, predicate: NamedNode | None,
                          object: NamedNode | None, graph_name: NamedNode | DefaultGraph,
                          /) -> Iterable[Quad]: ...


def read_object(store: QuadSource, mgmt_graph: NamedNode | DefaultGraph,
                iri: str) -> ContentObject | None:
    """An object as ``store`` holds it (its management facts and its description graph), or
    None when the store has no such object. ``store`` is anything with ``quads_for_pattern``:
    the working store, or the catalog's read-only view of it during a bulk ingest."""
    node = NamedNode(iri)
    mgmt: dict[str, list] = {}
    for q in store.quads_for_pattern(node, None, None, mgmt_graph):
        if q.predicate.value.startswith(LT):
            mgmt.setdefault(q.predicate.value[len(LT):], []).append(q.object)
    if "type" not in mgmt:
        return None
    return ContentObject(iri, mgmt, set(store.quads_for_pattern(None, None, None, node)))


@lru_cache(maxsize=1024)
def lt_node(local: str) -> NamedNode:
    """The management vocabulary's term ``lt:local`` (a few dozen, made once each)."""
    return NamedNode(LT + local)


def user_iri(name: str) -> NamedNode:
    return NamedNode(f"urn:lantai:user:{name}")


def user_name(node: NamedNode) -> str:
    return node.value.rsplit(":", 1)[-1]


def xsd_datetime(t: dt.datetime) -> Literal:
    return Literal(t.isoformat(timespec="microseconds"), datatype=NamedNode(XSD + "dateTime"))


def changeset_time(cs_id: str) -> str:
    """ISO time of a changeset, from its id (which starts with it)."""
    t = cs_id.split("-", 1)[0]  # 20261125T210501123456
    return f"{t[:4]}-{t[4:6]}-{t[6:8]}T{t[9:11]}:{t[11:13]}:{t[13:15]}.{t[15:21]}"


_XSD_INTEGER = NamedNode(XSD + "integer")


def xsd_int(n: int) -> Literal:
    return Literal(str(n), datatype=_XSD_INTEGER)


@dataclass
class ContentObject:
    """One object of the content tree. Cheap to copy; the repository edits copies."""

    iri: str
    mgmt: dict[str, list] = field(default_factory=dict)  # LT local name -> terms
    description: set[Quad] = field(default_factory=set)

    # -------------------------------------------------------------- management facts
    def _one(self, key: str):
        values = self.mgmt.get(key) or []
        return values[0] if values else None

    def _set(self, key: str, value) -> None:
        if value is None:
            self.mgmt.pop(key, None)
        else:
            self.mgmt[key] = [value]

    @property
    def node(self) -> NamedNode:
        cached = self.__dict__.get("_node")  # built once: a bulk ingest asks millions of times
        if cached is None or cached[0] is not self.iri:
            cached = self.__dict__["_node"] = (self.iri, NamedNode(self.iri))
        return cached[1]

    @property
    def type(self) -> ContentType:
        name = self._one("type").value
        cached = self.__dict__.get("_type")  # as for node: asked for many times per object
        if cached is None or cached[0] != name:
            cached = self.__dict__["_type"] = (name, load_profile().type(name))
        return cached[1]

    @property
    def type_name(self) -> str:
        return self._one("type").value

    @property
    def parent(self) -> str | None:
        p = self._one("parent")
        return p.value if p is not None else None

    @property
    def slug(self) -> str:
        return self._one("slug").value

    @property
    def path(self) -> str:
        p = self._one("path")
        return p.value if p is not None else ""

    @property
    def position(self) -> int:
        p = self._one("position")
        return int(p.value) if p is not None else 0

    @property
    def state(self) -> str:
        s = self._one("state")
        return s.value.rsplit("#", 1)[-1] if s is not None else "private"

    @property
    def access(self) -> str:
        """The access rule; an object without one (a tombstone) counts as closed."""
        a = self._one("access")
        return a.value.rsplit("/", 1)[-1] if a is not None else "restricted"

    @property
    def opening_date(self) -> dt.date | None:
        d = self._one("openingDate")
        return dt.date.fromisoformat(d.value) if d is not None else None

    @property
    def personal_fields(self) -> frozenset[str]:
        return frozenset(t.value for t in self.mgmt.get("personalField", []))

    @property
    def owner(self) -> str | None:
        o = self._one("owner")
        return user_name(o) if o is not None else None

    def _changesets(self) -> list[str]:
        """Ids of the changesets that touched this object, oldest first (ids sort by time)."""
        return sorted(t.value.rsplit(":", 1)[-1] for t in self.mgmt.get("changedIn", []))

    @property
    def revision(self) -> int:
        """The number of the current revision: how many changesets touched the object."""
        return len(self.mgmt.get("changedIn", []))

    @property
    def created(self) -> str:
        """ISO time of the first revision (from its changeset id, which starts with it)."""
        ids = self._changesets()
        return changeset_time(ids[0]) if ids else ""

    @property
    def modified(self) -> str:
        ids = self._changesets()
        return changeset_time(ids[-1]) if ids else ""

    @property
    def deleted(self) -> bool:
        return bool(self.mgmt.get("deletedIn"))

    def local_roles(self) -> dict[str, set[str]]:
        """``{user: {role, …}}`` granted on this object itself."""
        out: dict[str, set[str]] = {}
        for role in (*ROLES, *SCOPED_ROLES):
            for u in self.mgmt.get("local" + role, []):
                out.setdefault(user_name(u), set()).add(role)
        return out

    # -------------------------------------------------------------- description
    def fields(self, base: str = "") -> dict[str, list]:
        """``{field: [values]}``; text values as ``(text, lang)``, others as display strings."""
        ctype = self.type
        out: dict[str, list] = {}
        for q in sorted(self.description, key=str):
            if terms.value(q.subject) != self.iri:
                continue
            f = ctype.field_for_path(q.predicate.value)
            if f is None:
                continue
            o = q.object
            if f.is_text and isinstance(o, Literal):
                out.setdefault(f.name, []).append((o.value, o.language))
            else:
                out.setdefault(f.name, []).append(display(o, base))
        for f in ctype.fields.values():  # ordered fields: in their stored order
            if f.ordered and len(out.get(f.name, ())) > 1:
                rank = {display(t, base): n for n, t in
                        enumerate(stored_order(self.description, self.iri, f.name))}
                out[f.name].sort(key=lambda v: rank.get(v, len(rank)))
        return out

    def title(self, lang: str = "zh") -> str:
        """The title (or name) in ``lang``, else in any language, else the slug."""
        values = []
        for name in ("title", "name"):
            values = self.fields().get(name) or []
            if values:
                break
        for text, tag in values:
            if tag.split("-")[0] == lang:
                return text
        return values[0][0] if values else self.slug

    # -------------------------------------------------------------- quads
    def mgmt_quads(self, graph: NamedNode | DefaultGraph,
                   keys: tuple[str, ...] | None = None) -> set[Quad]:
        node = self.node
        return {Quad(node, lt_node(key), v, graph) for key, values in self.mgmt.items()
                if keys is None or key in keys for v in values}

    def tracked_quads(self, graph: NamedNode | DefaultGraph) -> set[Quad]:
        """What a revision records: the description and the tracked management facts."""
        return set(self.description) | self.mgmt_quads(graph, TRACKED)

    def all_quads(self, graph: NamedNode | DefaultGraph) -> set[Quad]:
        return set(self.description) | self.mgmt_quads(graph)

    def copy(self) -> ContentObject:
        return ContentObject(self.iri, {k: list(v) for k, v in self.mgmt.items()},
                             set(self.description))
