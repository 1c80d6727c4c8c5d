"""Bulk ingest: many objects at once, fast and all or nothing (importers, the demo, bench).

Objects are checked exactly as single creates are, then written in batches with Oxigraph's
bulk loader. Caches of containers (their roles, inherited context and public status) make
each object cost the same whatever the size of the archive; leaves are forgotten once
their batch is in the stores, so memory stays bounded.

The writes are pipelined: a writer thread bulk-loads a group of batches (Oxigraph releases
the GIL while it loads) while this thread checks and builds the next ones, so the two cores
work at once. Loads take several batches (:data:`LOAD_BYTES_MAX`); one group is in flight
while the next waits. What building reads must therefore not depend on the store having
those batches: their objects are in the ingest cache, their paths in ``_paths`` and the
batches' path sets, the next position of every parent they touched in ``_positions``, and
links are checked against the cache first.
Listeners that know about ingests (the catalog: ``ingest_batch``, ``ingest_written``,
``ingest_end``, ``ingest_abort``) are handed each batch as it is built and told when it is
in the stores; others are called as for any changeset, once the batch is in the stores.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pyoxigraph import NamedNode, Quad, RdfFormat, serialize

from ontology.terms import named
from preservation import audit, checkpoints
from repo.building import Builder
from repo.errors import Forbidden, Invalid, LantaiError
from repo.objects import ContentObject, lt_node
from repo.publication import public_view
from repo.reads import IngestCache, Reads
from repo.revisions import Changeset, changeset_iri, new_changeset_id
from repo.security import User
from repo.site import Site
from repo.store import Journal, announce, apply_update, bulk_add, compact
from repo.validation import check as validate
from repo.values import Assignment
from repo.workflow import INITIAL_STATE

# a bulk ingest of this many objects or more compacts the publication store after it (the
# bulk loader leaves table files nothing else compacts; a full compaction costs time in
# proportion to the whole store, too much after a small import into a big site)
COMPACT_AFTER = 1000

_LASTING_CONTAINERS = frozenset({"fonds", "collection", "series", "folder", "exhibit",
                                 "subfonds", "subseries", "recordgrp"})
# What records link to (creators, subjects, places, events): few, and looked up for every
# record that links to them (its class, whether it is public): kept for the whole ingest.
_LINK_TARGETS = frozenset({"person", "corporatebody", "family", "place", "event", "activity"})
_KEPT = _LASTING_CONTAINERS | _LINK_TARGETS


@dataclass
class NewObject:
    """One object for :meth:`Repository.ingest` (importers and the demo build these)."""

    parent: str  # path or IRI; may be an object created earlier in the same ingest
    type: str
    fields: dict | list[Assignment]  # field → value(s), or assignments as the CLI gives them
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


class _Taken:
    """Paths created by this ingest that the store may not hold yet (batches not loaded)."""

    def __init__(self, previous: list[set[str]]) -> None:
        self.previous = previous
        self.current: set[str] = set()

    def __contains__(self, path: str) -> bool:
        return path in self.current or any(path in paths for paths in self.previous)

    def add(self, path: str) -> None:
        self.current.add(path)


@dataclass
class _Built:
    """A batch checked and built, not yet in the stores: what the writer loads."""

    number: int
    iris: list[str]
    paths: set[str]
    entry: Path  # its journal entry
    changeset: Changeset
    working: str  # N-Quads: descriptions, then management facts (triples)
    public: str
    chain: list[Quad] = field(default_factory=list)  # its changeset's link in the hash chain
    head: audit.Head | None = None  # the chain's head once it is loaded

    @property
    def size(self) -> int:
        return len(self.working) + len(self.public)


# How much the writer loads at once. Each ``bulk_load`` ingests table files whose keys
# overlap everything the store holds (keys are hashes), so the store compacts after each;
# loading what an ingest writes at scale 0.2 in its 29 batches took 38.8-42.5 s of CPU,
# four batches at a time 29.2 s, in one load 28.9 s (2026-11-26). So loads grow with what
# is loaded already (half of it: the first batch goes alone, so that its load overlaps the
# building of the next batches) up to LOAD_BYTES_MAX of text, which bounds the memory the
# batches waiting for it take.
LOAD_BYTES_MAX = 64_000_000


def _load_unit(loaded: int) -> int:
    return min(LOAD_BYTES_MAX, loaded // 2)


@contextlib.contextmanager
def _few_collections():
    """Run the cycle collector rarely while an ingest runs. An ingest makes millions of
    short-lived objects and almost no reference cycles; with the default thresholds the
    collector ran 1,970 times at scale 0.05, 11 of them over every object in the caches,
    and took 3.5–4.0 s of a 15–16.5 s ingest; with these, 8 times and 0.6 s."""
    old = gc.get_threshold()
    gc.freeze()  # what exists already (modules, the profile, containers) is not looked at
    gc.set_threshold(100_000, 20, 10)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def _nquads(quads: Iterable) -> str:
    return (serialize(quads, format=RdfFormat.N_QUADS) or b"").decode("utf-8")


def _management_ntriples(objs: list[ContentObject]) -> str:
    """The management facts of ``objs`` (the default graph's) as N-Triples lines, formatted
    here rather than made into a ``Quad`` each and serialized (5x cheaper: 0.17 s against
    0.88 s for 324,000 facts; the terms' ``str`` is their N-Triples form)."""
    lines: list[str] = []
    for o in objs:
        s = str(o.node)
        lines += [f"{s} {_lt_nt(key)} {v} .\n" for key, values in o.mgmt.items()
                  for v in values]
    return "".join(lines)


@cache
def _lt_nt(local: str) -> str:
    return str(lt_node(local))


def _ingest_aware(listener) -> bool:
    return hasattr(listener, "ingest_batch")


class BulkIngest:
    """Bulk ingest (a part of :class:`repo.repository.Repository`). ``listeners`` are the
    repository's (the catalog), called with ``owner``, the repository, as for any change."""

    _chain: audit.Chainer  # the hash chain's running head, set by each ingest (under the lock)

    def __init__(self, site: Site, reads: Reads, builder: Builder, cache: IngestCache,
                 journal: Journal, listeners: list, lock: threading.RLock,
                 owner: object) -> None:
        self.site, self.reads, self.builder, self.cache = site, reads, builder, cache
        self.journal, self.listeners, self.lock, self.owner = journal, listeners, lock, owner
        self._positions: dict[str, list[int]] = {}  # parent -> [next position, batch no.]
        self._batch_no = 0

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
        with _few_collections():
            return self._ingest(user, objects, message=message, batch_size=batch_size,
                                progress=progress)

    def _ingest(self, user: User, objects: Iterable[NewObject], *, message: str,
                batch_size: int, progress: Callable[[int], None] | None) -> list[str]:
        self.site.require_writable()
        created: list[str] = []
        ingest_id = new_changeset_id(self.site.clock())
        aware = [x for x in self.listeners if _ingest_aware(x)]
        with self.lock:
            entry = self.journal.begin(ingest_id, {"changeset": ingest_id, "bulk": True,
                                                   "objects_log": f"{ingest_id}.objects"})
            log_path = self.journal.folder / f"{ingest_id}.objects"
            self.cache.clear(active=True)
            self.builder.new_codes, self.builder.code_hints = {}, {}
            self._positions, self._batch_no = {}, 0
            self._chain = audit.Chainer(self.site.working, self.site.mgmt)  # under the lock
            writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lantai-ingest")
            waiting: list[_Built] = []  # built, not yet handed to the writer
            in_flight: tuple[list[_Built], Future] | None = None  # being loaded
            loaded = 0  # bytes of text handed to the writer so far
            try:
                with open(log_path, "a", encoding="utf-8") as log:

                    def settle() -> None:
                        """Wait for the batches in flight; log them as written."""
                        nonlocal in_flight
                        if in_flight is None:
                            return
                        (group, future), in_flight = in_flight, None
                        try:
                            future.result()
                        except BaseException:
                            for built in group:  # partly written: roll them back too
                                created.extend(built.iris)
                                self.journal.end(built.entry)
                            raise
                        log.write("".join(i + "\n" for b in group for i in b.iris))
                        log.flush()
                        os.fsync(log.fileno())
                        for built in group:
                            created.extend(built.iris)
                            for listener in self.listeners:
                                if _ingest_aware(listener):
                                    listener.ingest_written(self.owner, built.iris)
                                else:
                                    listener(self.owner, set(built.iris))
                            self.journal.end(built.entry)
                        self._forget(group)  # bounded memory: they are in the stores now

                    def hand_over() -> None:
                        """The waiting batches go to the writer, once those before are in."""
                        nonlocal in_flight, waiting, loaded
                        settle()
                        if waiting:
                            in_flight = (waiting, writer.submit(self._load, waiting))
                            loaded += sum(b.size for b in waiting)
                            waiting = []

                    def write(batch: list[NewObject]) -> None:
                        self._batch_no += 1
                        unloaded = [b.paths for b in waiting]
                        if in_flight is not None:
                            unloaded += [b.paths for b in in_flight[0]]
                        waiting.append(self._ingest_batch(user, batch, message,
                                                          part_of=ingest_id,
                                                          taken=_Taken(unloaded), aware=aware))
                        if sum(b.size for b in waiting) >= _load_unit(loaded):
                            hand_over()
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
                    hand_over()
                    settle()
                for listener in aware:  # e.g. the catalog commits what it was handed
                    listener.ingest_end(self.owner)
                finished = self.site.clock().isoformat(timespec="microseconds")
                done = Changeset(ingest_id, user.name, finished, message, "ingest")
                mgmt = self.site.mgmt
                link = self._chain.append(done)
                apply_update(  # the completion mark, chained, and the head: one transaction
                    self.site.working, audit.current_pointer_quads(self.site.working, mgmt),
                    [*done.quads(mgmt), *link, *audit.pointer_quads(self._chain.head, mgmt)])
            except BaseException:
                unwritten = waiting
                if in_flight is not None:  # let the writer finish before undoing its work
                    with contextlib.suppress(BaseException):  # the first error is raised
                        in_flight[1].result()
                    unwritten = in_flight[0] + waiting
                for built in unwritten:
                    created.extend(built.iris)
                    self.journal.end(built.entry)
                for listener in aware:
                    listener.ingest_abort(self.owner)
                self.roll_back(created)
                # the generation first: a listener that copies it (the external engine's
                # mirror) must copy this one
                announce(self.site.public, self.site.home, f"rolled-back-{ingest_id}")
                for listener in self.listeners:
                    listener(self.owner, set(created))
                raise
            finally:
                writer.shutdown(wait=True)
                self.cache.clear()
                self.builder.new_codes, self.builder.code_hints = {}, {}
                self._positions = {}
                self.journal.end(entry)
                log_path.unlink(missing_ok=True)
        checkpoints.checkpoint_if_due(self.site.home, self.site.base,
                                      self.site.settings.audit_checkpoint_every, self._chain.head)
        if len(created) >= COMPACT_AFTER:
            with self.lock:
                compact(self.site.public, self.site.home)
        return created

    def _forget(self, group: list[_Built]) -> None:
        """Drop objects of batches now in the stores from the ingest caches, except big
        containers (fonds, series, collections, folders), which later batches keep filling,
        and the agents, places and events records link to."""
        for built in group:
            for iri in built.iris:
                obj = self.cache.running().get(iri)
                if obj is None or obj.type_name in _KEPT:
                    continue
                del self.cache.running()[iri]
                self.cache.paths.pop(obj.path, None)
                self.cache.contexts.pop(iri, None)
                self.cache.inside.pop(iri, None)
        # a parent no child of which came after these batches: the store has them all
        last = group[-1].number
        for parent in [p for p, (_, seen) in self._positions.items() if seen <= last]:
            del self._positions[parent]

    def _load(self, group: list[_Built]) -> None:
        """Load batches into both stores (in the writer thread: no caches, only stores)."""
        bulk_add(self.site.working, "".join(b.working for b in group))
        # the commit marks, after what they mark, chained; then the chain's head
        self.site.working.extend(q for b in group
                                 for q in [*b.changeset.quads(self.site.mgmt), *b.chain])
        if group[-1].head is not None:
            audit.set_head(self.site.working, self.site.mgmt, group[-1].head)
        bulk_add(self.site.public, "".join(b.public for b in group))
        announce(self.site.public, self.site.home, group[-1].changeset.id)

    def _position_for(self, parent_iri: str) -> int:
        """The next position in ``parent_iri`` (children of batches not loaded included)."""
        slot = self._positions.get(parent_iri)
        if slot is None:
            slot = self._positions[parent_iri] = [self.reads.next_position(parent_iri), 0]
        slot[1] = self._batch_no
        slot[0] += 1
        return slot[0] - 1

    def _ingest_class_of(self, batch: dict[str, ContentObject]) -> Callable[[str], str | None]:
        """The class of a linked object: this batch, the ingest cache (the batch in flight
        may not be in the store yet), else the store."""
        def class_of(iri: str) -> str | None:
            obj = batch.get(iri)
            if obj is None and self.cache.objects is not None:
                obj = self.cache.running().get(iri)
            if obj is not None:
                return None if obj.deleted else obj.type.rdf_class
            return self.reads.class_of(iri)
        return class_of

    def _ingest_batch(self, user: User, specs: list[NewObject], message: str,
                      part_of: str | None = None, *, taken: _Taken | None = None,
                      aware: list | None = None) -> _Built:
        """Check and build one batch, for :meth:`_load`."""
        now = self.site.clock()
        cs_id = new_changeset_id(now)
        cs_node = changeset_iri(cs_id)
        taken = taken if taken is not None else _Taken([])
        objs: list[ContentObject] = []
        try:
            for spec in specs:
                parent_iri = self.reads.resolve(spec.parent)
                obj = self.builder.build_new(
                    user, spec.parent, spec.type, spec.fields, slug=spec.slug, key=spec.key,
                    access=spec.access, until=spec.until, personal_fields=spec.personal_fields,
                    position=self._peek_position(parent_iri), taken_paths=taken,
                    statements=spec.statements)
                self._position_for(parent_iri)
                if spec.state != INITIAL_STATE:
                    if spec.state not in ("pending", "published"):
                        raise Invalid(f"state {spec.state!r}: private, pending or published")
                    needed = {"Reviewer", "Manager"} if spec.state == "published" else \
                        {"Owner", "Contributor", "Editor", "Manager"}
                    if not (self.reads.roles_on(user, obj) & needed):
                        raise Forbidden(f"{user.name} may not import objects as {spec.state}")
                    obj.mgmt["state"] = [lt_node(spec.state)]
                obj.mgmt["changedIn"] = [cs_node]
                self.cache.running()[obj.iri] = obj
                self.cache.paths[obj.path] = obj.iri
                objs.append(obj)
            class_of = self._ingest_class_of({o.iri: o for o in objs})
            for obj in objs:
                self.builder.check_file_identity(user, None, obj)
                validate(obj, class_of, vocab_base=self.site.base)
                parent = self.reads.load(obj.parent) \
                    if obj.parent and obj.parent != self.site.root_iri else None
                self.builder.check_refcode(obj, parent)
        except LantaiError:
            for obj in objs:  # forget the batch: nothing of it was written
                self.cache.running().pop(obj.iri, None)
                self.cache.paths.pop(obj.path, None)
            raise
        iris = [o.iri for o in objs]
        # one N-Quads text per store, written by Oxigraph's serializer (3x faster than
        # formatting each quad in Python: 0.11 s against 0.32 s for 300,000 quads)
        description_text = _nquads([q for o in objs for q in o.description])
        management_text = _management_ntriples(objs)
        public_text = _nquads([q for o in objs for q in public_view(
            o, is_public=self.reads.is_public,
            is_repository_object=self.site.is_repository_object)])
        cs = Changeset(cs_id, user.name, now.isoformat(timespec="microseconds"), message, "create")
        for listener in aware or ():
            listener.ingest_batch(self.owner, objs, description_text, management_text, public_text)
        working_text = description_text + management_text
        entry = self.journal.begin(cs_id, {"changeset": cs_id, "objects": iris, "bulk": True,
                                           "part_of": part_of})
        chain = self._chain.append(cs)
        return _Built(self._batch_no, iris, taken.current, entry, cs, working_text,
                      public_text, chain, self._chain.head)

    def _peek_position(self, parent_iri: str) -> int:
        slot = self._positions.get(parent_iri)
        if slot is None:
            slot = self._positions[parent_iri] = [self.reads.next_position(parent_iri), 0]
        return slot[0]

    def roll_back(self, iris: list[str]) -> None:
        """Remove every trace of objects whose creating ingest never completed."""
        changesets = set()
        working = self.site.working
        for iri in iris:
            node = NamedNode(iri)
            if self.cache.objects is not None:  # listeners called next must not see it either
                self.cache.objects.pop(iri, None)
            changesets |= {named(q.object) for q in self.site.working.quads_for_pattern(
                node, lt_node("changedIn"), None, self.site.mgmt)}
            if working.contains_named_graph(node):
                working.remove_graph(node)
            for q in list(self.site.working.quads_for_pattern(node, None, None, self.site.mgmt)):
                self.site.working.remove(q)
            if self.site.public.contains_named_graph(node):
                self.site.public.remove_graph(node)
        audit.rewind(working, self.site.mgmt, changesets)  # the chain's head goes back too
        for cs in changesets:
            for q in list(self.site.working.quads_for_pattern(cs, None, None, self.site.mgmt)):
                self.site.working.remove(q)
