"""Bulk ingest: many objects at once, fast and all or nothing (importers, the demo, bench).

Objects are checked exactly as single creates are, then written in batches with Oxigraph's
bulk loader. Caches of containers (their roles, inherited context and public status) make
each object cost the same whatever the size of the archive; leaves are forgotten after the
next batch, so memory stays bounded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pyoxigraph import NamedNode

from repo.errors import Forbidden, Invalid, LantaiError
from repo.objects import ContentObject, lt_node
from repo.publication import public_view
from repo.revisions import Changeset, changeset_iri, new_changeset_id
from repo.security import User
from repo.store import bulk_add, bump_generation, quad_nq
from repo.validation import check as validate
from repo.workflow import INITIAL_STATE

_LASTING_CONTAINERS = frozenset({"fonds", "collection", "series", "folder", "exhibit",
                                 "subfonds", "subseries", "recordgrp"})


@dataclass
class NewObject:
    """One object for :meth:`Repository.ingest` (importers and the demo build these)."""

    parent: str  # path or IRI; may be an object created earlier in the same ingest
    type: str
    fields: dict
    slug: str | None = None
    key: str | None = None
    access: str | None = None
    until: str | None = None
    state: str = "private"
    personal_fields: tuple[str, ...] = ()
    # RDF terms (subject, predicate, object) added to the description as they are, before
    # validation: statements about the object (checked by the profile) or about nodes of its
    # own graph, {iri}#fragment (an importer's instantiations, notes; key must then be given)
    statements: tuple = ()


class BulkIngest:
    """The bulk-ingest half of :class:`repo.repository.Repository` (a mixin)."""
    def ingest(self, user: User, objects: Iterable[NewObject], *, message: str,
               batch_size: int = 5000, progress: Callable[[int], None] | None = None
               ) -> list[str]:
        """Create many objects fast, all or nothing.

        Objects are validated and written in batches with Oxigraph's bulk loader, one
        changeset per batch (the history shows who imported what). The whole ingest is
        atomic: its journal entry logs every object written so far, an error rolls all of
        them back, and so does the next open after a crash, unless the ingest's own
        completion mark (a changeset written last) is in the store.
        """
        created: list[str] = []
        ingest_id = new_changeset_id(self.clock())
        with self._lock:
            entry = self.journal.begin(ingest_id, {"changeset": ingest_id, "bulk": True,
                                                   "objects_log": f"{ingest_id}.objects"})
            log_path = self.journal.folder / f"{ingest_id}.objects"
            self._cache, self._paths, self._new_codes, self._code_hints = {}, {}, {}, {}
            self._contexts, self._inside, self._roles = {}, {}, {}
            try:
                with open(log_path, "a", encoding="utf-8") as log:
                    previous: list[str] = []

                    def write(batch: list[NewObject]) -> None:
                        nonlocal previous
                        iris = self._ingest_batch(user, batch, message, part_of=ingest_id)
                        self._forget(previous)  # bounded memory: keep two batches' leaves
                        previous = iris
                        log.write("".join(i + "\n" for i in iris))
                        log.flush()
                        os.fsync(log.fileno())
                        created.extend(iris)
                        if progress:
                            progress(len(batch))

                    batch: list[NewObject] = []
                    for spec in objects:
                        batch.append(spec)
                        if len(batch) >= batch_size:
                            write(batch)
                            batch = []
                    if batch:
                        write(batch)
                finished = self.clock().isoformat(timespec="microseconds")
                done = Changeset(ingest_id, user.name, finished, message, "ingest")
                self.working.extend(done.quads(self.mgmt))  # the completion mark
            except BaseException:
                self._roll_back(created)
                for listener in self.listeners:
                    listener(self, set(created))
                bump_generation(self.home, f"rolled-back-{ingest_id}")
                raise
            finally:
                self._cache, self._paths, self._new_codes, self._code_hints = None, {}, {}, {}
                self._contexts, self._inside, self._roles = {}, {}, {}
                self.journal.end(entry)
                log_path.unlink(missing_ok=True)
        return created

    def _forget(self, iris: list[str]) -> None:
        """Drop objects of an earlier batch from the ingest caches, except big containers
        (fonds, series, collections, folders), which later batches keep filling."""
        for iri in iris:
            obj = self._cache.get(iri)
            if obj is None or obj.type_name in _LASTING_CONTAINERS:
                continue
            del self._cache[iri]
            self._paths.pop(obj.path, None)
            self._contexts.pop(iri, None)
            self._inside.pop(iri, None)

    def _ingest_batch(self, user: User, specs: list[NewObject], message: str,
                      part_of: str | None = None) -> list[str]:
        now = self.clock()
        cs_id = new_changeset_id(now)
        cs_node = changeset_iri(cs_id)
        positions: dict[str, int] = {}
        taken_paths: set[str] = set()
        objs: list[ContentObject] = []
        try:
            for spec in specs:
                parent_iri = self.resolve(spec.parent)
                if parent_iri not in positions:
                    positions[parent_iri] = self._next_position(parent_iri)
                obj = self._build_new(user, spec.parent, spec.type, spec.fields, slug=spec.slug,
                                      key=spec.key, access=spec.access, until=spec.until,
                                      personal_fields=spec.personal_fields,
                                      position=positions[parent_iri], taken_paths=taken_paths,
                                      statements=spec.statements)
                positions[parent_iri] += 1
                if spec.state != INITIAL_STATE:
                    if spec.state not in ("pending", "published"):
                        raise Invalid(f"state {spec.state!r}: private, pending or published")
                    needed = {"Reviewer", "Manager"} if spec.state == "published" else \
                        {"Owner", "Contributor", "Editor", "Manager"}
                    if not (self.roles_on(user, obj) & needed):
                        raise Forbidden(f"{user.name} may not import objects as {spec.state}")
                    obj.mgmt["state"] = [lt_node(spec.state)]
                obj.mgmt["changedIn"] = [cs_node]
                self._cache[obj.iri] = obj
                self._paths[obj.path] = obj.iri
                objs.append(obj)
            class_of = self._class_in({o.iri: (None, o) for o in objs})
            for obj in objs:
                validate(obj, class_of, vocab_base=self.base)
                parent = self.load(obj.parent) if obj.parent != self.root_iri else None
                self._check_refcode(obj, parent)
        except LantaiError:
            for obj in objs:  # forget the batch: nothing of it was written
                self._cache.pop(obj.iri, None)
                self._paths.pop(obj.path, None)
            raise
        iris = [o.iri for o in objs]
        entry = self.journal.begin(cs_id, {"changeset": cs_id, "objects": iris, "bulk": True,
                                           "part_of": part_of})
        lines = [quad_nq(q) for o in objs for q in o.all_quads(self.mgmt)]
        bulk_add(self.working, "\n".join(lines))
        cs = Changeset(cs_id, user.name, now.isoformat(timespec="microseconds"), message, "create")
        self.working.extend(cs.quads(self.mgmt))  # the commit mark, written last
        public_lines = []
        for obj in objs:
            view = public_view(obj, is_public=self.is_public,
                               is_repository_object=self.is_repository_object)
            public_lines += [quad_nq(q) for q in view]
        bulk_add(self.public, "\n".join(public_lines))
        bump_generation(self.home, cs_id)
        for listener in self.listeners:
            listener(self, set(iris))
        self.journal.end(entry)
        return iris

    def _roll_back(self, iris: list[str]) -> None:
        """Remove every trace of objects whose creating ingest never completed."""
        changesets = set()
        for iri in iris:
            node = NamedNode(iri)
            if self._cache is not None:  # listeners called next must not see it either
                self._cache.pop(iri, None)
            changesets |= {q.object for q in self.working.quads_for_pattern(
                node, lt_node("changedIn"), None, self.mgmt)}
            self.working.remove_graph(node) if self.working.contains_named_graph(node) else None
            for q in list(self.working.quads_for_pattern(node, None, None, self.mgmt)):
                self.working.remove(q)
            if self.public.contains_named_graph(node):
                self.public.remove_graph(node)
        for cs in changesets:
            for q in list(self.working.quads_for_pattern(cs, None, None, self.mgmt)):
                self.working.remove(q)
