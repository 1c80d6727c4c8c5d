"""Keeping both catalogs in step with the repository, and rebuilding them.

The repository calls :class:`Maintainer` (a listener) after every changeset, every ingest
batch and every recovery with the IRIs it created, changed or re-projected. For each it
rebuilds the staff document (working store) and the public document (publication dataset)
and records what differs: a new or changed document replaces the old one, an object that
is gone — deleted, withdrawn, closed, rolled back — is removed. Nothing else decides what
the public catalog holds: if the publication dataset has no graph for an object, neither
does the public catalog.

Objects also carry values from others, so the maintainer looks further when needed:
- values inherited from containers (category, year, place in the tree): when those of a
  container change, everything inside is re-indexed;
- names of linked agents, places and events: when an object's names change, or it enters
  or leaves the publication dataset, the records that link to it are re-indexed.
That also makes recovery after a crash complete (the journal only names the objects of a
changeset; what they imply is found here).

Why changes are committed a little later (:class:`Pending`): a tantivy commit writes and
fsyncs a new segment, 20–60 ms on this machine's disk, which tripled the time of a
changeset. So the changed documents wait in memory and the IRIs in a log
(``catalog/pending.log``, appended and fsynced: ~4 ms) that the next open replays if the
process dies. They are committed when 5,000 are waiting, one second after the last change,
before any search in this process, when the repository closes and when the process exits.
Another process (the web server) sees a change at most about a second after it was made.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path

from pyoxigraph import NamedNode

from ontology import terms
from repo.catalog import ingestion
from repo.catalog.documents import (
    Builder,
    Document,
    PublicSource,
    Source,
    StaffSource,
    container_signature,
)
from repo.catalog.index import CatalogIndex, data_of
from repo.objects import lt_node

CHUNK = 2000
FLUSH_AT = 5000  # documents waiting: commit now
FLUSH_AFTER = 1.0  # seconds after the last change: commit in the background
AUTO_REBUILD_LIMIT = 20_000  # objects: a missing catalog of a bigger site needs `lantai reindex`
LOG_NAME = "pending.log"

_pending_by_path: weakref.WeakValueDictionary[str, Pending] = weakref.WeakValueDictionary()


def catalog_path(home: Path, public: bool) -> Path:
    return Path(home) / "catalog" / ("public" if public else "staff")


def flush_pending(index_path: Path) -> None:
    """Commit what this process has waiting for the catalog at ``index_path`` (if anything):
    a search sees every change made before it."""
    pending = _pending_by_path.get(str(Path(index_path).resolve()))
    if pending is not None:
        pending.flush()


class Pending:
    """Documents changed but not yet committed, per catalog, and their durable log."""

    def __init__(self, indexes: dict[str, CatalogIndex], log: Path) -> None:
        self.indexes = indexes
        self.log = log
        self.lock = threading.RLock()
        # catalog name -> IRI -> (new document or None for a removal, was it indexed before)
        self.docs: dict[str, dict[str, tuple[Document | None, bool]]] = {n: {} for n in indexes}
        self._timer: threading.Timer | None = None
        # Did this process write to the log since its last commit? Only then may it empty
        # the log: the log is shared by every process that opens the site, and this object
        # may be flushed again (its finalizer) after the repository let the stores go, when
        # another process may already have logged its own uncommitted changes there.
        self._logged = False
        for index in indexes.values():
            _pending_by_path[str(index.path.resolve())] = self

    def __len__(self) -> int:
        return sum(len(d) for d in self.docs.values())

    def get(self, name: str, iri: str) -> tuple[bool, dict | None]:
        """(known here, stored data or None): the catalog as it will be after the commit."""
        entry = self.docs[name].get(iri)
        if entry is None:
            return False, None
        doc = entry[0]
        return True, (data_of(doc) if doc is not None else None)

    def put(self, name: str, iri: str, doc: Document | None, existed: bool) -> None:
        previous = self.docs[name].get(iri)
        self.docs[name][iri] = (doc, existed or (previous is not None and previous[1]))

    def record(self, iris: Iterable[str]) -> None:
        """Append IRIs to the log (fsynced) before the repository forgets the change."""
        text = "".join(i + "\n" for i in iris)
        if not text:
            return
        with open(self.log, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        self._logged = True

    def logged(self) -> list[str]:
        try:
            return list(dict.fromkeys(self.log.read_text(encoding="utf-8").split()))
        except FileNotFoundError:
            return []

    def schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(FLUSH_AFTER, self.flush)
        self._timer.daemon = True
        self._timer.start()

    def flush(self) -> None:
        """Commit every waiting document, then empty the log."""
        with self.lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            for name, docs in self.docs.items():
                if not docs:
                    continue
                with self.indexes[name].writer() as w:
                    for iri, (doc, existed) in docs.items():
                        if existed:
                            w.delete(iri)
                        if doc is not None:
                            w.put(doc, replace=False)
                docs.clear()
            if self._logged and self.log.exists() and self.log.stat().st_size:
                self.log.write_text("", encoding="utf-8")
            self._logged = False

    def discard(self, name: str) -> None:
        with self.lock:
            self.docs[name].clear()


def _names(data: dict | None) -> tuple:
    return tuple(sorted(t for t, _ in data.get("titles", []))) if data else ()


def _container(data: dict | None) -> tuple:
    if not data:
        return ()
    return (data.get("category") or "", data.get("year"), data.get("date"),
            data.get("path") or "", tuple(data.get("ancestors") or ()))


class Maintainer:
    """The repository listener that keeps ``staff`` and ``public`` in step."""

    # An ingest's documents account for children that came after their parent was indexed
    # (text sources such as OCR read them): see IngestIndexer._late_children.
    ingest_indexes_children = True

    def __init__(self, repository, staff: CatalogIndex, public: CatalogIndex) -> None:
        # A weak reference: the repository holds its listeners, and a cycle would keep its
        # stores (and their locks) open until the garbage collector ran.
        self._repo = weakref.ref(repository)
        self.staff = staff
        self.public = public
        self.pending = Pending({"staff": staff, "public": public},
                               staff.path.parent / LOG_NAME)
        # commit what waits when the repository goes away or the process ends
        # (weakref.finalize also runs at interpreter exit)
        self._finalizer = weakref.finalize(self, Pending.flush, self.pending)
        self._ingest = None  # the indexer of the bulk ingest under way
        self._ingest_queue: list[tuple[str, str, str]] = []  # batches not yet in the stores

    @property
    def repo(self):
        repository = self._repo()
        if repository is None:
            raise RuntimeError("the repository of this catalog is closed")
        return repository

    def __call__(self, repository, iris: set[str]) -> None:
        self.update(iris)

    def close(self) -> None:
        """Commit now (the repository is closing)."""
        self.pending.flush()

    def flush(self) -> None:
        self.pending.flush()

    # ------------------------------------------------------------------ bulk ingest
    def ingest_batch(self, repository, objs: list, description_nq: str, management_nt: str,
                     public_nq: str) -> None:
        """A batch of a bulk ingest, as built (it may not be in the stores yet): index its
        new objects from the text the ingest loads (see :mod:`repo.catalog.ingestion`)."""
        if self._ingest is None:
            self.pending.flush()  # nothing waits while the ingest holds the writers
            self._ingest = ingestion.start(repository, self.staff, self.public, len(objs))
            self._ingest_queue = []
        self.pending.record(o.iri for o in objs)  # re-indexed on the next open if we die
        if isinstance(self._ingest, ingestion.RemoteIndexer):
            # the other process reads older objects
            self._ingest.add(description_nq, management_nt, public_nq)
        else:  # this process reads the stores: once the batch is in them
            self._ingest_queue.append((description_nq, management_nt, public_nq))

    def ingest_written(self, repository, iris: list[str]) -> None:
        """The oldest batch of the ingest not yet written is in the stores now."""
        if self._ingest is not None and self._ingest_queue:
            self._ingest.add(*self._ingest_queue.pop(0))

    def ingest_end(self, repository) -> None:
        """Every batch is in the stores: commit what the ingest indexed."""
        while self._ingest_queue:  # every batch is written
            self.ingest_written(repository, [])
        indexer, self._ingest = self._ingest, None
        if indexer is not None:
            if isinstance(indexer, ingestion.RemoteIndexer):  # it re-reads the stores now
                repository.working.flush()
                repository.public.flush()
            indexer.commit()
            self.pending.flush()  # nothing waits: this empties the log

    def ingest_abort(self, repository) -> None:
        """The ingest failed and is being rolled back: drop what was indexed."""
        indexer, self._ingest = self._ingest, None
        self._ingest_queue = []
        if indexer is not None:
            indexer.abort()

    # ------------------------------------------------------------------ incremental
    def update(self, iris: Iterable[str]) -> tuple[int, int]:
        """Re-index ``iris`` (and what they imply). Returns documents changed (staff, public)."""
        repo = self.repo
        todo = [i for i in iris if repo.is_repository_object(i)]
        if not todo:
            return 0, 0
        staff_builder = Builder(StaffSource(repo), base=repo.base)
        public_builder = Builder(PublicSource(repo), base=repo.base)
        seen: set[str] = set()
        written = [0, 0]
        with self.pending.lock:
            while todo:
                level = [i for i in dict.fromkeys(todo) if i not in seen]
                todo = []
                for start in range(0, len(level), CHUNK):
                    chunk = level[start:start + CHUNK]
                    seen.update(chunk)
                    old_staff = self._lookup("staff", chunk)
                    old_public = self._lookup("public", chunk)
                    for iri in chunk:
                        new_s = staff_builder.build(iri)
                        new_p = public_builder.build(iri)
                        o_s, o_p = old_staff.get(iri), old_public.get(iri)
                        written[0] += self._change("staff", iri, o_s, new_s)
                        written[1] += self._change("public", iri, o_p, new_p)
                        todo.extend(self._implied(iri, o_s, new_s, o_p, new_p))
            if written[0] or written[1]:
                self.pending.record(sorted(seen))
                if len(self.pending) >= FLUSH_AT:
                    self.pending.flush()
                else:
                    self.pending.schedule()
        return written[0], written[1]

    def _lookup(self, name: str, iris: list[str]) -> dict[str, dict]:
        """Stored data of the documents as they are or will be after the next commit."""
        out: dict[str, dict] = {}
        rest = []
        for iri in iris:
            known, data = self.pending.get(name, iri)
            if not known:
                rest.append(iri)
            elif data is not None:
                out[iri] = data
        index = self.staff if name == "staff" else self.public
        out.update(index.lookup(rest))
        return out

    def _change(self, name: str, iri: str, old: dict | None, new: Document | None) -> int:
        if new is None:
            if old is None:
                return 0
        elif old is not None and old.get("digest") == new.digest():
            return 0
        self.pending.put(name, iri, new, existed=old is not None)
        return 1

    def _implied(self, iri: str, old_s: dict | None, new_s: Document | None,
                 old_p: dict | None, new_p: Document | None) -> list[str]:
        """Objects whose documents depend on what just changed about ``iri``."""
        if old_s is None and old_p is None:
            return []  # new to the catalogs: nothing can have copied from it yet
        out: list[str] = []
        inside = container_signature(new_s) != _container(old_s) or \
            container_signature(new_p) != _container(old_p)
        published = (old_p is None) != (new_p is None)
        renamed = _names(old_s) != (tuple(sorted(new_s.names)) if new_s else ()) or \
            _names(old_p) != (tuple(sorted(new_p.names)) if new_p else ())
        if inside or published:
            out.extend(self.repo.descendant_iris(iri))
        if renamed or published:
            out.extend(self._referrers(iri))
        return out

    def _referrers(self, iri: str) -> list[str]:
        """Objects whose description links to ``iri`` (in the working store)."""
        out: set[str] = set()
        for q in self.repo.working.quads_for_pattern(None, None, NamedNode(iri), None):
            g = q.graph_name  # a description graph (management facts are in the default graph)
            if isinstance(g, NamedNode) and g.value != iri:
                out.add(g.value)
        return sorted(out)

    def replay(self) -> int:
        """Re-index what the log says a process changed but may not have committed."""
        iris = self.pending.logged()
        if iris:
            self.pending._logged = True  # ours now (we hold the stores): empty it when done
            self.update(iris)
            self.pending.flush()
        return len(iris)

    # ------------------------------------------------------------------ rebuilding
    def rebuild(self, *, staff: bool = True, public: bool = True,
                progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
        """Rebuild from scratch: staff from every live object of the working store, public
        from every graph of the publication dataset. Readers see the old catalog until the
        single commit at the end."""
        repo = self.repo
        self.pending.flush()
        counts: dict[str, int] = {}
        jobs: list[tuple[str, CatalogIndex, Source, list[str]]] = []
        if staff:
            iris = [terms.value(q.subject) for q in repo.working.quads_for_pattern(
                None, lt_node("type"), None, repo.mgmt)]
            jobs.append(("staff", self.staff, StaffSource(repo), iris))
        if public:
            iris = [g.value for g in repo.public.named_graphs() if isinstance(g, NamedNode)]
            jobs.append(("public", self.public, PublicSource(repo), iris))
        for name, index, source, iris in jobs:
            iris.sort()
            builder = Builder(source, base=repo.base)
            n = 0
            with self.pending.lock, index.writer(heap=256_000_000, threads=2) as w:
                w.clear()
                for i, iri in enumerate(iris, start=1):
                    doc = builder.build(iri)
                    if doc is not None:
                        w.put(doc, replace=False)
                        n += 1
                    if progress and (i % 500 == 0 or i == len(iris)):
                        progress(name, i, len(iris))
            index.mark_complete(True)
            counts[name] = n
        return counts


def count_objects(repository, limit: int) -> int:
    """How many objects the working store has, counting no further than ``limit``."""
    n = 0
    for _ in repository.working.quads_for_pattern(None, lt_node("type"), None, repository.mgmt):
        n += 1
        if n >= limit:
            break
    return n
