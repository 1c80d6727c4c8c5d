"""The history's hash chain: every changeset carries the hash of the one before it.

A repository of record must show that its history was not rewritten (issue 14, item 6;
DESIGN.md decision 9). Each changeset's facts in the management graph gain two more:

- ``lt:previousHash`` the hash of the changeset committed just before it (:data:`GENESIS`,
  64 zeros, for the site's first);
- ``lt:hash`` SHA-256 of its canonical serialisation (:func:`canonical`): the JSON array
  ``["lantai-changeset/1", id, author IRI, time, action, message, RDF Patch, previous hash]``
  (ASCII JSON, no spaces; the time in UTC with microseconds, ``…T20:47:40.120000Z``, because
  Oxigraph normalises the ``xsd:dateTime`` lexical form it stores).

They are written in the same transaction as the change (``Repository._commit``, the account
changes, every batch of a bulk ingest and its completion mark), so the chain's order is the
commit order: one process writes a site at a time (the store's lock) and one thread in it
(the repository's lock). The site's head — the last changeset, its hash, the chain's length —
is kept beside them (``<urn:lantai:history>``), so a commit reads three facts, not the chain.

Anything that edits, removes, reorders or inserts a changeset without recomputing every
hash after it breaks the chain; :func:`verify` walks it from the first changeset, with the
whole chain read in one pass per predicate, and names the first changeset that breaks it.
Someone who recomputes the hashes can rewrite everything after the last signed checkpoint
(:mod:`preservation.checkpoints`); the checkpoints catch a rewrite of what they cover.

Sites made before the chain are chained on open (:func:`chain_existing`), once, in commit
order (time, then id), under the lock.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pyoxigraph import (
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    Store,
)

from ontology.namespaces import LT, PROV, RDF_TYPE, RDFS, XSD
from repo.revisions import Changeset, changeset_iri
from repo.store import apply_update

FORMAT = "lantai-changeset/1"
GENESIS = "0" * 64
HISTORY = NamedNode("urn:lantai:history")
CHANGESET = NamedNode(LT + "Changeset")
PREVIOUS = NamedNode(LT + "previousHash")
HASH = NamedNode(LT + "hash")
HEAD = NamedNode(LT + "head")
HEAD_HASH = NamedNode(LT + "headHash")
LENGTH = NamedNode(LT + "length")
_PREFIX = "urn:lantai:changeset:"
_AUTHOR = NamedNode(PROV + "wasAttributedTo")
_TIME = NamedNode(PROV + "endedAtTime")
_ACTION = NamedNode(LT + "action")
_MESSAGE = NamedNode(RDFS + "comment")
_PATCH = NamedNode(LT + "patch")
_INTEGER = NamedNode(XSD + "integer")

Graph = NamedNode | DefaultGraph


# ---------------------------------------------------------------------- hashing
def canonical_time(text: str) -> str:
    """The one spelling of a changeset's time: UTC, microseconds, ``Z`` (naive times stay
    naive). What the commit wrote and what Oxigraph reads back both come out the same."""
    if not text:
        return ""
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        return text  # not a time: hashed as it is (an edit shows as a mismatch)
    if t.tzinfo is None:
        return t.isoformat(timespec="microseconds")
    return t.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical(cs_id: str, author: str, time: str, action: str, message: str, patch: str,
              previous: str) -> bytes:
    """The bytes a changeset's hash is taken of (see the module's docstring)."""
    return json.dumps([FORMAT, cs_id, author, canonical_time(time), action, message, patch,
                       previous], ensure_ascii=True, separators=(",", ":")).encode("ascii")


def chain_hash(cs_id: str, author: str, time: str, action: str, message: str, patch: str,
               previous: str) -> str:
    return hashlib.sha256(canonical(cs_id, author, time, action, message, patch,
                                    previous)).hexdigest()


def changeset_fields(cs: Changeset) -> tuple[str, str, str, str, str, str]:
    """``(id, author IRI, time, action, message, patch)`` of a changeset being committed."""
    from repo.objects import user_iri

    return (cs.id, user_iri(cs.author).value, cs.time, cs.action, cs.message, cs.patch)


# ---------------------------------------------------------------------- the head
@dataclass(frozen=True)
class Head:
    """The chain's last changeset (None before the first), its hash and the chain's length."""

    changeset: str | None
    hash: str
    length: int


EMPTY = Head(None, GENESIS, 0)


def _value(term) -> str:
    """The IRI or lexical form of a term (a quoted triple has none)."""
    return getattr(term, "value", "")


def _one(store: Store, subject, predicate, graph: Graph):
    return next((q.object for q in store.quads_for_pattern(subject, predicate, None, graph)),
                None)


def read_pointer(store: Store, mgmt: Graph) -> Head | None:
    """The head the site recorded (None if it recorded none: an unchained site)."""
    h = _one(store, HISTORY, HEAD_HASH, mgmt)
    if h is None:
        return None
    node = _one(store, HISTORY, HEAD, mgmt)
    length = _one(store, HISTORY, LENGTH, mgmt)
    return Head(node.value.removeprefix(_PREFIX) if node is not None else None, h.value,
                int(length.value) if length is not None else 0)


def read_head(store: Store, mgmt: Graph) -> Head:
    """Where the next changeset links to: the recorded head, else the end of the chain as
    walked (a site whose pointer went missing), else the genesis."""
    pointer = read_pointer(store, mgmt)
    if pointer is not None:
        return pointer
    chain = read_chain(store, mgmt)
    if not chain:
        return EMPTY
    order = walk(chain)[0]
    if not order:
        return EMPTY
    return Head(order[-1].id, order[-1].hash or GENESIS, len(order))


def pointer_quads(head: Head, mgmt: Graph) -> list[Quad]:
    out = [Quad(HISTORY, HEAD_HASH, Literal(head.hash), mgmt),
           Quad(HISTORY, LENGTH, Literal(str(head.length), datatype=_INTEGER), mgmt)]
    if head.changeset is not None:
        out.append(Quad(HISTORY, HEAD, changeset_iri(head.changeset), mgmt))
    return out


def current_pointer_quads(store: Store, mgmt: Graph) -> set[Quad]:
    return set(store.quads_for_pattern(HISTORY, None, None, mgmt))


def set_head(store: Store, mgmt: Graph, head: Head) -> None:
    """Record ``head`` as the site's (one transaction)."""
    apply_update(store, current_pointer_quads(store, mgmt), pointer_quads(head, mgmt))


def link_quads(cs_id: str, previous: str, digest: str, mgmt: Graph) -> list[Quad]:
    node = changeset_iri(cs_id)
    return [Quad(node, PREVIOUS, Literal(previous), mgmt), Quad(node, HASH, Literal(digest), mgmt)]


class Chainer:
    """Links changesets one after the other from the site's head: what a commit (one) and a
    bulk ingest (its batches, then its completion mark) use."""

    def __init__(self, store: Store, mgmt: Graph) -> None:
        self.mgmt = mgmt
        self.start = self.head = read_head(store, mgmt)

    def append(self, cs: Changeset) -> list[Quad]:
        """The chain facts of ``cs`` (to be written with it); the head moves to it."""
        digest = chain_hash(*changeset_fields(cs), self.head.hash)
        quads = link_quads(cs.id, self.head.hash, digest, self.mgmt)
        self.head = Head(cs.id, digest, self.head.length + 1)
        return quads


def link(store: Store, mgmt: Graph, cs: Changeset) -> tuple[set[Quad], set[Quad], Head]:
    """What one commit removes and adds to chain ``cs`` (in its own transaction): its
    previous hash and hash, and the head moved to it."""
    chainer = Chainer(store, mgmt)
    added = set(chainer.append(cs)) | set(pointer_quads(chainer.head, mgmt))
    return current_pointer_quads(store, mgmt), added, chainer.head


def rewind(store: Store, mgmt: Graph, changesets: Iterable[NamedNode]) -> None:
    """Before changesets at the end of the chain are removed (a bulk ingest rolled back),
    move the head back to the changeset just before them. A head that is not among them
    (they were never linked in: the crash came first) stays."""
    pointer = read_pointer(store, mgmt)
    if pointer is None:
        return
    hashes: set[str] = set()
    previous: set[str] = set()
    for cs in changesets:
        h, p = _one(store, cs, HASH, mgmt), _one(store, cs, PREVIOUS, mgmt)
        if h is not None:
            hashes.add(_value(h))
        if p is not None:
            previous.add(_value(p))
    if pointer.hash not in hashes:
        return
    before = sorted(previous - hashes)
    back = before[0] if before else GENESIS
    found = next((_value(q.subject) for q in store.quads_for_pattern(
        None, HASH, Literal(back), mgmt) if _value(q.subject).startswith(_PREFIX)), None)
    head = Head(found.removeprefix(_PREFIX) if found is not None else None, back,
                max(pointer.length - len(hashes), 0))
    set_head(store, mgmt, head)


# ---------------------------------------------------------------------- reading the chain
@dataclass
class Record:
    """One changeset as the store holds it."""

    id: str
    author: str = ""
    time: str = ""
    action: str = ""
    message: str = ""
    patch: str = ""
    previous: str | None = None
    hash: str | None = None
    doubled: list[str] = field(default_factory=list)  # facts that have two values

    def computed(self, previous: str | None = None) -> str:
        return chain_hash(self.id, self.author, self.time, self.action, self.message,
                          self.patch, (self.previous or "") if previous is None else previous)

    def intact(self) -> bool:
        return not self.doubled and self.previous is not None and self.hash is not None \
            and self.computed() == self.hash


_FIELDS = {_AUTHOR: "author", _TIME: "time", _ACTION: "action", _MESSAGE: "message",
           _PATCH: "patch", PREVIOUS: "previous", HASH: "hash"}


def read_chain(store: Store, mgmt: Graph) -> dict[str, Record]:
    """Every changeset of the site, by id: one pass over the store's predicate index per
    fact, never a lookup per changeset. (One SPARQL query with an OPTIONAL per fact, its
    results serialised as JSON, took 6.0 s for 20,000 changesets on disk where these scans
    took 4.6 s, on the shared machine at load 9.) A changeset with two values of one fact
    is marked (:attr:`Record.doubled`)."""
    records: dict[str, Record] = {}
    for q in store.quads_for_pattern(None, RDF_TYPE, CHANGESET, mgmt):
        iri = _value(q.subject)
        if iri.startswith(_PREFIX):
            cs_id = iri[len(_PREFIX):]
            records[cs_id] = Record(cs_id)
    cut = len(_PREFIX)
    for predicate, name in _FIELDS.items():
        seen: set[str] = set()
        for q in store.quads_for_pattern(None, predicate, None, mgmt):
            iri = _value(q.subject)
            rec = records.get(iri[cut:])
            if rec is None or not iri.startswith(_PREFIX):
                continue
            if rec.id in seen:
                rec.doubled.append(name)
                continue
            seen.add(rec.id)
            setattr(rec, name, _value(q.object))
    return records


def commit_order(records: Iterable[Record]) -> list[Record]:
    """Changesets in the order they were committed, as far as their facts tell (time, then
    id): how a site made before the chain is chained."""
    return sorted(records, key=lambda r: (canonical_time(r.time), r.id))


def walk(records: dict[str, Record]) -> tuple[list[Record], list[tuple[int, Record]]]:
    """The chain from the genesis, following previous hashes; and the changesets that
    branch off it (position where they branch, changeset). At a fork the chain goes on with
    the changeset whose hash matches its content, then with the branch that goes on longest."""
    successors: dict[str, list[Record]] = {}
    for rec in records.values():
        if rec.previous is not None:
            successors.setdefault(rec.previous, []).append(rec)

    def reach(rec: Record, limit: int = 1_000_000) -> int:
        n, seen = 0, set()
        cur: Record | None = rec
        while cur is not None and cur.id not in seen and n < limit:
            seen.add(cur.id)
            n += 1
            nxt = successors.get(cur.hash or "", [])
            cur = nxt[0] if nxt else None
        return n

    order: list[Record] = []
    branches: list[tuple[int, Record]] = []
    visited: set[str] = set()
    cur = GENESIS
    while True:
        nexts = [r for r in successors.get(cur, []) if r.id not in visited]
        if not nexts:
            break
        if len(nexts) > 1:
            nexts.sort(key=lambda r: (not r.intact(), -reach(r), r.id))
            branches += [(len(order), r) for r in nexts[1:]]
            visited.update(r.id for r in nexts[1:])
        rec = nexts[0]
        visited.add(rec.id)
        order.append(rec)
        if rec.hash is None:
            break
        cur = rec.hash
    return order, branches


# ---------------------------------------------------------------------- chaining old sites
def chain_existing(store: Store, mgmt: Graph) -> int:
    """Chain a site made before the chain: its changesets (none of which has a hash), in
    commit order, in one transaction. Returns how many were chained (0: nothing to do)."""
    if read_pointer(store, mgmt) is not None:
        return 0
    if next(store.quads_for_pattern(None, RDF_TYPE, CHANGESET, mgmt), None) is None:
        return 0
    records = read_chain(store, mgmt)
    if any(r.hash is not None for r in records.values()):
        return 0  # chained already (its pointer went: verify says so; commits walk it)
    previous = GENESIS
    added: list[Quad] = []
    last: Record | None = None
    for rec in commit_order(records.values()):
        digest = rec.computed(previous)
        added += link_quads(rec.id, previous, digest, mgmt)
        previous, last = digest, rec
    assert last is not None
    apply_update(store, (), added + pointer_quads(Head(last.id, previous, len(records)), mgmt))
    return len(records)


# ---------------------------------------------------------------------- verifying
@dataclass(frozen=True)
class Finding:
    """One break of the history: where (1-based position in the chain), which changeset
    (or checkpoint), what kind (edited, removed, reordered, inserted, checkpoint) and how."""

    position: int
    changeset: str
    kind: str
    detail: str

    def as_dict(self) -> dict:
        return {"position": self.position, "changeset": self.changeset, "kind": self.kind,
                "detail": self.detail}


@dataclass
class Report:
    length: int
    head: str
    findings: list[Finding]
    checkpoints: int = 0
    order: list[Record] = field(default_factory=list, repr=False)  # the chain as walked

    @property
    def intact(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return min(self.findings, key=lambda f: f.position) if self.findings else None

    def as_dict(self) -> dict:
        first = self.first
        return {"intact": self.intact, "changesets": self.length, "head": self.head,
                "checkpoints": self.checkpoints,
                "first": first.as_dict() if first else None,
                "findings": [f.as_dict() for f in sorted(self.findings,
                                                          key=lambda f: f.position)]}


def _misplaced(rec: Record, order: list[Record], by_hash: dict[str, Record],
               position_of: dict[str, int], position: int) -> Finding:
    """Why ``rec``'s hash does not match: edited, or its (untouched) content belongs
    elsewhere in the chain (reordered), or a changeset was slipped in before it (inserted)."""
    candidates = {GENESIS, *by_hash}
    for previous in candidates:
        home = by_hash.get(rec.computed(previous))
        if home is None:
            continue
        if home is rec:  # only its previous hash changed: it was linked elsewhere
            before = by_hash.get(previous)
            at = position_of.get(before.id, -2) + 1 if before is not None else 0
            if 0 <= at < position - 1:  # it belongs right after `before`: what is between came in
                intruder = order[at]
                return Finding(at + 1, intruder.id, "inserted",
                               f"changeset {intruder.id} was put into the chain between "
                               f"{before.id if before else 'the start'} and {rec.id}")
            return Finding(position, rec.id, "reordered",
                           f"changeset {rec.id} was moved: it was committed after "
                           f"{before.id if before else 'the start'}")
        return Finding(position, rec.id, "reordered",
                       f"changeset {rec.id} is out of its place: it was committed where the "
                       f"chain now has {home.id}")
    return Finding(position, rec.id, "edited",
                   f"changeset {rec.id} does not match its hash: its content was changed")


def missing_named(store: Store, mgmt: Graph, records: dict[str, Record]) -> list[str]:
    """Changesets that objects name (``lt:changedIn``, ``lt:deletedIn``) but that are not
    there: the ids of removed changesets, when only their own facts were taken out."""
    out: set[str] = set()
    for predicate in (NamedNode(LT + "changedIn"), NamedNode(LT + "deletedIn")):
        for q in store.quads_for_pattern(None, predicate, None, mgmt):
            value = _value(q.object)
            if value.startswith(_PREFIX) and value.removeprefix(_PREFIX) not in records:
                out.add(value.removeprefix(_PREFIX))
    return sorted(out)


def verify_chain(store: Store, mgmt: Graph,
                 progress: Callable[[int], None] | None = None) -> Report:
    """Walk the chain from the first changeset; every break it finds (see :class:`Finding`)."""
    records = read_chain(store, mgmt)
    order, branches = walk(records)
    findings: list[Finding] = []
    position_of = {rec.id: i for i, rec in enumerate(order)}
    by_hash = {r.hash: r for r in records.values() if r.hash is not None}
    classified = 0
    for i, rec in enumerate(order):
        if progress is not None and i % 10_000 == 0:
            progress(i)
        if rec.doubled:
            findings.append(Finding(i + 1, rec.id, "edited",
                                    f"changeset {rec.id} has two values of "
                                    f"{', '.join(sorted(set(rec.doubled)))}"))
        elif rec.hash is None or rec.computed() != rec.hash:
            if classified < 3:  # the search is a pass over the chain: for the first few only
                classified += 1
                findings.append(_misplaced(rec, order, by_hash, position_of, i + 1))
            else:
                findings.append(Finding(i + 1, rec.id, "edited",
                                        f"changeset {rec.id} does not match its hash"))
    for at, rec in branches:
        after = order[at - 1].id if at else "the start"
        moved = None if rec.intact() else next(
            (by_hash.get(p) for p in {GENESIS, *by_hash} if rec.computed(p) == rec.hash), None)
        if moved is not None:
            findings.append(Finding(at + 1, rec.id, "reordered",
                                    f"changeset {rec.id} was moved: it names {after} as the "
                                    f"one before it, but was committed after {moved.id}"))
        else:
            findings.append(Finding(at + 1, rec.id, "inserted",
                                    f"changeset {rec.id} branches off the chain after {after}: "
                                    f"it is not in it"))
    # what the walk did not reach: changesets after a gap, or never linked at all
    walked = {rec.id for rec in order} | {rec.id for _, rec in branches}
    rest = [r for r in records.values() if r.id not in walked]
    times = [canonical_time(r.time) for r in order]
    gap_reported = False
    for rec in commit_order(rest):
        if rec.previous is None or rec.hash is None:
            at = bisect.bisect_right(times, canonical_time(rec.time))
            findings.append(Finding(at + 1, rec.id, "inserted",
                                    f"changeset {rec.id} is not in the chain (it carries no "
                                    f"hash)"))
        elif rec.previous not in by_hash and rec.previous != GENESIS and not gap_reported:
            gap_reported = True
            named = missing_named(store, mgmt, records)
            gone = f" (objects still name {', '.join(named[:3])})" if named else ""
            findings.append(Finding(len(order) + 1, named[0] if named else rec.id, "removed",
                                    f"the changeset before {rec.id} (hash {rec.previous[:16]}…) "
                                    f"is not there: it was removed after "
                                    f"{order[-1].id if order else 'the start'}{gone}"))
    pointer = read_pointer(store, mgmt)
    head = order[-1] if order else None
    if pointer is not None and not findings and (
            pointer.length != len(order) or pointer.hash != (head.hash if head else GENESIS)):
        findings.append(Finding(len(order) + 1 if pointer.length > len(order) else len(order),
                                pointer.changeset or "?", "removed",
                                f"the site's head is changeset {pointer.changeset} "
                                f"(#{pointer.length}) but the chain ends at "
                                f"{head.id if head else 'the start'} (#{len(order)})"))
    return Report(len(order), head.hash if head and head.hash else GENESIS, findings,
                  order=order)


__all__ = ["EMPTY", "GENESIS", "Chainer", "Finding", "Head", "Record", "Report", "canonical",
           "chain_existing", "chain_hash", "link", "read_chain", "read_head", "rewind",
           "set_head", "verify_chain", "walk"]
