"""Revisions of an object: its history, its state at a revision, diffs, and reverts.

Every change is a changeset whose patch records the tracked statements it removed and added
(repo/revisions.py); an object's state at revision n is its current state with the later
patches undone. A revert is a change like any other, made through ``commit``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pyoxigraph import Literal, NamedNode, Quad

from ontology.namespaces import LT, shorten
from ontology.terms import value
from repo import file_identity
from repo.accounts import Commit
from repo.errors import Conflict, Forbidden, Invalid, NotFound
from repo.objects import ContentObject, lt_node, xsd_int
from repo.reads import Reads
from repo.revisions import Changes, Changeset, Revision, changeset_iri, undo
from repo.security import User, allowed
from repo.site import Site
from repo.workflow import INITIAL_STATE


@dataclass(frozen=True)
class DiffLine:
    sign: str  # "+" or "-"
    what: str  # field name (with @lang) or management fact
    value: str

    def __str__(self) -> str:
        return f"{self.sign} {self.what}: {self.value}"


class Versions:
    """History, diff and revert of objects (a part of :class:`repo.repository.Repository`)."""

    def __init__(self, site: Site, reads: Reads, commit: Commit,
                 lock: threading.RLock) -> None:
        self.site = site
        self.reads = reads
        self.commit = commit
        self.lock = lock

    def history(self, user: User, ref: str) -> list[Revision]:
        obj = self.reads.load_any(user, ref)
        return self._history(obj)

    def _history(self, obj: ContentObject) -> list[Revision]:
        ids = sorted(q.value.rsplit(":", 1)[-1] for q in obj.mgmt.get("changedIn", []))
        revs = []
        for n, cs_id in enumerate(ids, start=1):
            quads = list(self.site.working.quads_for_pattern(changeset_iri(cs_id), None, None,
                                                        self.site.mgmt))
            revs.append(Revision(n, Changeset.from_quads(cs_id, quads)))
        return revs

    def state_at(self, obj: ContentObject, number: int) -> set[Quad]:
        """The object's tracked statements as they were after revision ``number``."""
        history = self._history(obj)
        if not 0 <= number <= len(history):
            raise NotFound(f"{obj.path or obj.iri} has revisions 1–{len(history)}, not {number}")
        if number == 0:
            return set()
        state = obj.tracked_quads(self.site.mgmt)
        for rev in reversed(history[number:]):
            state = undo(state, rev.changeset, obj.iri)
        return state

    def diff(self, user: User, ref: str, a: int, b: int | None = None) -> list[DiffLine]:
        """What changed from revision ``a`` to ``b`` (default: the current one)."""
        obj = self.reads.load_any(user, ref)
        b = obj.revision if b is None else b
        before, after = self.state_at(obj, a), self.state_at(obj, b)
        lines = [DiffLine("-", *self._describe(obj, q)) for q in before - after]
        lines += [DiffLine("+", *self._describe(obj, q)) for q in after - before]
        return sorted(lines, key=lambda d: (d.what, d.sign))

    def _describe(self, obj: ContentObject, q: Quad) -> tuple[str, str]:
        p, o = q.predicate.value, q.object
        text = value(o)
        if p.startswith(LT):
            return p[len(LT):], text.rsplit("#", 1)[-1] if isinstance(o, NamedNode) else text
        f = obj.type.field_for_path(p) if q.subject == obj.node else None
        name = f.name if f else shorten(p)
        if isinstance(o, Literal) and o.language:
            name += f"@{o.language}"
        return name, text

    def revert(self, user: User, ref: str, number: int, *, message: str = "") -> ContentObject:
        """Make the description (and personal-field marks) what they were at ``number``.

        Workflow state, access rule and place in the tree are not reverted: each has its own
        command, guarded by its own permission. A deleted object is restored, as private.
        """
        with self.lock:
            obj = self.reads.load_any(user, ref)
            if obj.deleted:
                new = self._restored(user, obj, number, None, {})
            else:
                new = self._as_at(obj, self.state_at(obj, number))
                if not allowed("modify", obj.state, self.reads.roles_on(user, obj)):
                    raise Forbidden(f"{user.name} may not modify {obj.path} ({obj.state})")
            if new.description == obj.description and new.mgmt == obj.mgmt:
                raise Invalid(f"{obj.path or obj.iri} is already as at revision {number}")
            self.commit(user, "revert", message or f"revert to revision {number}",
                        {obj.iri: (obj, new)})
            return self.reads.stored(obj.iri)

    def _as_at(self, obj: ContentObject, target: set[Quad]) -> ContentObject:
        """``obj`` with the description and personal-field marks of ``target`` (a state)."""
        new = obj.copy()
        desc = {q for q in target if q.graph_name == obj.node}
        new.description = desc
        if not obj.deleted:  # file identity is not reverted: media ingest sets it
            new.description = (desc - file_identity.ingest_values(new)) | \
                file_identity.ingest_values(obj)
        marks = [q.object for q in target if q.predicate == lt_node("personalField")]
        if marks:
            new.mgmt["personalField"] = marks
        else:
            new.mgmt.pop("personalField", None)
        return new

    def _restored(self, user: User, obj: ContentObject, number: int,
                  parent: ContentObject | None, positions: dict[str, int]) -> ContentObject:
        """A deleted object as it was at revision ``number``, private, back in its place
        (under ``parent`` when that is being restored in the same change, else under the
        stored container it was in). ``positions``: the next free position per container."""
        target = self.state_at(obj, number)
        new = self._as_at(obj, target)
        for q in target:
            if q.graph_name == self.site.mgmt and q.predicate.value.startswith(LT):
                key = q.predicate.value[len(LT):]
                if key not in ("state", "personalField"):
                    new.mgmt.setdefault(key, [])
                    if q.object not in new.mgmt[key]:
                        new.mgmt[key].append(q.object)
        for key in ("deletedIn", "deletedFrom", "deletedPath", "deletedTitle"):
            new.mgmt.pop(key, None)
        new.mgmt["state"] = [lt_node(INITIAL_STATE)]
        parent_iri = new.parent or self.site.root_iri
        if parent is None and parent_iri != self.site.root_iri:
            parent = self.reads.load(parent_iri)
        if parent is not None and parent.deleted:
            raise Conflict(f"restore {parent.iri} first: it held this object")
        path = (parent.path if parent else "") + "/" + new.slug
        if self.reads.at_path(path) is not None:
            raise Conflict(f"{path} is taken; move that object first")
        new.mgmt["path"] = [Literal(path)]
        if parent_iri not in positions:
            positions[parent_iri] = self.reads.next_position(parent_iri)
        new.mgmt["position"] = [xsd_int(positions[parent_iri])]
        positions[parent_iri] += 1
        if not (self.reads.roles_on(user, parent) & {"Editor", "Manager"}) and \
                obj.owner != user.name:
            raise Forbidden(f"{user.name} may not restore {obj.iri}")
        return new

    def undelete(self, user: User, ref: str, *, message: str = "") -> list[ContentObject]:
        """Bring back a deleted object (by IRI) as it was just before it was deleted, as
        private, with everything deleted with it inside it: one changeset."""
        with self.lock:
            obj = self.reads.load_any(user, ref)
            if not obj.deleted:
                raise Invalid(f"{obj.path or obj.iri} is not deleted")
            deleted_in = obj.mgmt["deletedIn"]
            positions: dict[str, int] = {}
            changes: Changes = {}
            todo: list[tuple[ContentObject, ContentObject | None]] = [(obj, None)]
            while todo:
                gone, parent = todo.pop(0)
                new = self._restored(user, gone, gone.revision - 1, parent, positions)
                changes[gone.iri] = (gone, new)
                for q in self.site.working.quads_for_pattern(
                        None, lt_node("deletedFrom"), gone.node, self.site.mgmt):
                    kid = self.reads.load(value(q.subject))
                    if kid is not None and kid.deleted and kid.mgmt["deletedIn"] == deleted_in:
                        todo.append((kid, new))
            self.commit(user, "undelete", message or f"undelete {changes[obj.iri][1].path}",
                        changes)
            return [self.reads.stored(iri) for iri in changes]

    def last_published(self, user: User, ref: str) -> int | None:
        """The last revision after which the object was published (None: never)."""
        obj = self.reads.load_any(user, ref)
        history = self._history(obj)
        state = obj.tracked_quads(self.site.mgmt)
        published = Quad(obj.node, lt_node("state"), lt_node("published"), self.site.mgmt)
        for rev in reversed(history):
            if published in state:
                return rev.number
            state = undo(state, rev.changeset, obj.iri)
        return None
