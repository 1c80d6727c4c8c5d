"""Indexing a bulk ingest: the documents built from the batches, beside the ingest.

For a changeset the maintainer reads each object back from the stores and compares its
documents with the indexed ones (:meth:`Maintainer.update`). An ingest needs none of that:
its objects are new (no old document, nothing else copies from them yet), and the ingest
already holds every batch as the N-Quads text it bulk-loads. :class:`IngestIndexer` builds
both documents of every object from that text, with the very :class:`Builder` that
``update`` and ``lantai reindex`` use, and adds them to a tantivy writer held for the whole
ingest, committed once at its end.

What a document needs beyond its own graph — the names of linked agents and places, the
category, year and place in the tree of its containers — comes from earlier batches (kept
compactly: names of objects that can be linked to, inherited facts of objects that can
contain others) or, for objects older than the ingest, from the stores, which the ingest
does not change.

Large ingests (a first batch of :data:`WORKER_MIN` objects or more) are indexed in a second
process (:class:`RemoteIndexer`), fed through a pipe, so that the analysis of the texts runs
on the other core while this one checks and builds the next batch; it reads older objects
from read-only views of the stores. The ingest waits for it at the end, so the time the
catalog takes is counted in the ingest. Nothing is committed before the end: an ingest that
fails or crashes leaves the catalog as it was (the IRIs logged in ``pending.log`` are
re-indexed from the stores on the next open, which finds nothing to index).
"""

from __future__ import annotations

import multiprocessing.connection
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from pyoxigraph import NamedNode, Quad, RdfFormat, Store, parse

from ontology.namespaces import LT
from ontology.profile import load_profile
from repo.catalog.documents import (
    AGENT_LINKS,
    PLACE_LINKS,
    SUBJECT_LINKS,
    TEXT_SOURCES,
    Builder,
    Document,
    Facts,
    PublicSource,
    Source,
    StaffSource,
)
from repo.catalog.index import CatalogIndex, Writer
from repo.objects import ContentObject, lt_node, read_object

WORKER_MIN = 2000  # objects in the first batch: smaller ingests are indexed in this process
WRITER_HEAP = 128_000_000  # bytes of tantivy's indexing buffer, per catalog


@cache
def _link_target_classes() -> frozenset[str]:
    """Classes an object may have to be linked to by a link whose target's names are
    indexed (creators, subjects, places…): their names are kept for later batches."""
    links = AGENT_LINKS | SUBJECT_LINKS | PLACE_LINKS
    return frozenset(c for t in load_profile().types.values() for f in t.fields.values()
                     if f.path in links for c in f.classes)


@cache
def _container_types() -> frozenset[str]:
    """Types that may hold other objects: what they pass down is kept for later batches."""
    return frozenset(c for t in load_profile().types.values() for c in t.allowed_in)


class _ReadOnlyStore:
    """A read-only view of an on-disk store that the ingest keeps writing.

    RocksDB's read-only mode reads the files listed when it opened; the writer's
    compactions may delete some of them meanwhile. Then the view is opened again (it sees
    more of the ingest: see :class:`_Overlay`) and the read retried."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.store = self._open()

    def _open(self, attempts: int = 20) -> Store:
        for attempt in range(attempts):
            try:
                return Store.read_only(self.path)
            except (OSError, RuntimeError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def quads_for_pattern(self, s=None, p=None, o=None, g=None) -> list[Quad]:
        for attempt in range(5):
            try:
                return list(self.store.quads_for_pattern(s, p, o, g))
            except (OSError, RuntimeError):
                if attempt == 4:
                    raise
                self.store = self._open()
        raise AssertionError("unreachable")


class _Overlay:
    """A read-only view of a store, opened when the second process started, plus the
    quads of the batch being indexed: what the repository's store holds once that batch is
    written, as far as indexing the batch can tell (earlier batches matter through links
    and containers, which the builders remember). The view may already hold the first
    batches of a small ingest (written before the process was up): the batch's own quads
    are then not counted twice."""

    def __init__(self, store: _ReadOnlyStore, mgmt: str | None = None) -> None:
        self.store = store
        self.mgmt = mgmt
        self.set_batch({}, {})

    def set_batch(self, graphs: dict[str, list[Quad]],
                  mgmt_by_subject: dict[str, list[Quad]]) -> None:
        """The batch, as the indexer grouped it: quads by graph (descriptions) and the
        management graph's by subject. Other lookups are indexed when first asked."""
        self.graphs = graphs
        self.mgmt_by_subject = mgmt_by_subject
        self._by_predicate: dict = {}
        self._all: list[Quad] | None = None
        self._set: set[Quad] | None = None

    def _all_quads(self) -> list[Quad]:
        if self._all is None:
            self._all = [q for quads in self.graphs.values() for q in quads]
            self._all += [q for quads in self.mgmt_by_subject.values() for q in quads]
        return self._all

    def _with(self, p, o) -> list[Quad]:
        index = self._by_predicate.get(p)
        if index is None:
            index = self._by_predicate[p] = {}
            for q in self._all_quads():
                if q.predicate == p:
                    index.setdefault(q.object, []).append(q)
        return index.get(o, [])

    def _batch(self, s, p, o, g):
        if g is not None:
            name = getattr(g, "value", None)
            if name is not None and name == self.mgmt:
                if s is not None:
                    return self.mgmt_by_subject.get(s.value, ())
                if p is not None and o is not None:
                    return self._with(p, o)
                return [q for quads in self.mgmt_by_subject.values() for q in quads]
            return self.graphs.get(name, ()) if name is not None else ()
        if p is not None and o is not None:
            return self._with(p, o)
        if s is not None:
            return [q for q in self._all_quads() if q.subject == s]
        return self._all_quads()

    def quads_for_pattern(self, s=None, p=None, o=None, g=None):
        for q in self._batch(s, p, o, g):
            if ((s is None or q.subject == s) and (p is None or q.predicate == p)
                    and (o is None or q.object == o) and (g is None or q.graph_name == g)):
                yield q
        for q in self.store.quads_for_pattern(s, p, o, g):
            if self._set is None:
                self._set = set(self._all_quads())
            if q not in self._set:
                yield q


class _StoreView:
    """The stores, read as the repository reads them, for the second process: the
    catalog's sources and text sources (OCR, transcripts) get what they need of it."""

    def __init__(self, working: _ReadOnlyStore, public: _ReadOnlyStore, *, mgmt: str,
                 root_iri: str, base: str, home: str) -> None:
        self.working = _Overlay(working, mgmt)
        self.public = _Overlay(public)
        self.mgmt = NamedNode(mgmt)
        self.root_iri = root_iri
        self.base = base
        self.home = Path(home)

    def set_batch(self, graphs: dict[str, list[Quad]], mgmt_by_subject: dict[str, list[Quad]],
                  public: dict[str, list[Quad]]) -> None:
        self.working.set_batch(graphs, mgmt_by_subject)
        self.public.set_batch(public, {})

    def is_repository_object(self, iri: str) -> bool:
        return iri.startswith(self.base + "/id/")

    def load(self, iri: str) -> ContentObject | None:
        return read_object(self.working, self.mgmt, iri)

    def child_iris(self, iri: str) -> list[str]:
        kids = []
        for q in self.working.quads_for_pattern(None, lt_node("parent"), NamedNode(iri),
                                                self.mgmt):
            pos = next(self.working.quads_for_pattern(q.subject, lt_node("position"), None,
                                                      self.mgmt), None)
            kids.append((int(pos.object.value) if pos else 0, q.subject.value))
        return [i for _, i in sorted(kids)]


class _BatchSource(Source):
    """The batch being indexed (graph, facts), else ``fallback``."""

    def __init__(self, fallback: Source) -> None:
        self.fallback = fallback
        self.public = fallback.public
        self.repo = getattr(fallback, "repo", None)  # what text sources are given
        self.graphs: dict[str, list[Quad] | None] = {}
        self.facts_of: dict[str, Facts | None] = {}

    def graph(self, iri: str) -> list[Quad] | None:
        if iri in self.graphs:
            return self.graphs[iri]
        return self.fallback.graph(iri)

    def facts(self, iri: str, graph: list[Quad]) -> Facts | None:
        if iri in self.facts_of:
            return self.facts_of[iri]
        return self.fallback.facts(iri, graph)


class _IngestBuilder(Builder):
    """A :class:`Builder` that remembers, compactly, what later batches may ask about
    objects of earlier ones (their graphs are gone by then)."""

    def __init__(self, source: _BatchSource, *, base: str) -> None:
        super().__init__(source, base=base)
        self.source: _BatchSource = source
        self.names_mem: dict[str, tuple[list[str], str]] = {}
        self.own_mem: dict[str, tuple[str, int | None, int | None, str | None]] = {}

    def _graph(self, iri: str) -> list[Quad] | None:
        if iri in self.source.graphs:  # the batch: not cached, it is gone after the batch
            return self.source.graphs[iri]
        return super()._graph(iri)

    def _linked(self, iri: str) -> tuple[list[str], str]:
        hit = self.names_mem.get(iri)
        return hit if hit is not None else super()._linked(iri)

    def _chain(self, iri: str, parent: str | None):
        if parent is not None and parent not in self._inherited and parent in self.own_mem:
            cat, year, date, up = self.own_mem[parent]
            up_cat, up_year, up_date, up_anc = self._chain(parent, up)
            if len(self._inherited) > 100_000:
                self._inherited.clear()
            self._inherited[parent] = (cat or up_cat, year if year is not None else up_year,
                                       date if date is not None else up_date,
                                       [parent, *up_anc])
        return super()._chain(iri, parent)

    def remember(self, iri: str, graph: list[Quad], facts: Facts, rdf_class: str) -> None:
        if rdf_class in _link_target_classes():
            self.names_mem[iri] = super()._linked(iri)
            self._names.pop(iri, None)
        if facts.type in _container_types():
            self.own_mem[iri] = (*self._own(iri, graph), facts.parent)


def _rdf_class(graph: list[Quad], iri: str) -> str:
    return next((q.object.value for q in graph if q.subject.value == iri
                 and q.predicate.value == "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), "")


class IngestIndexer:
    """Builds and indexes the documents of an ingest's batches; commits once, at the end."""

    def __init__(self, staff: CatalogIndex, public: CatalogIndex, view, *, base: str,
                 mgmt: str, root_iri: str, heap: int = WRITER_HEAP,
                 final_view: Callable[[], object] | None = None) -> None:
        self.mgmt = mgmt
        self.mgmt_node = NamedNode(mgmt)
        self.root_iri = root_iri
        self.base = base
        self.final_view = final_view or (lambda: view)
        # containers that got children after their documents were built (in a later batch,
        # or before the ingest), and the digests of the documents of this ingest's
        # containers: text sources (OCR, transcripts) read an object's children
        self.late: set[str] = set()
        self.digests: dict[str, dict[str, str]] = {"staff": {}, "public": {}}
        self.overlay = view if isinstance(view, _StoreView) else None
        self.builders = {
            "staff": _IngestBuilder(_BatchSource(StaffSource(view)), base=base),
            "public": _IngestBuilder(_BatchSource(PublicSource(view)), base=base),
        }
        self.indexes = {"staff": staff, "public": public}
        self._writers = {name: index.index.writer(heap_size=heap, num_threads=1)
                         for name, index in self.indexes.items()}
        self.writers = {name: Writer(w) for name, w in self._writers.items()}
        self.counts = {"staff": 0, "public": 0}

    def add(self, working_nq: str, public_nq: str) -> None:
        """Index one batch, given as the N-Quads the ingest loads into the two stores."""
        mgmt_node = self.mgmt_node
        mgmt_quads: dict[str, list[Quad]] = {}
        graphs: dict[str, list[Quad]] = {}
        for q in _quads(working_nq):
            g = q.graph_name
            if g == mgmt_node:
                mgmt_quads.setdefault(q.subject.value, []).append(q)
            else:
                graphs.setdefault(g.value, []).append(q)
        public: dict[str, list[Quad] | None] = {}
        for q in _quads(public_nq):
            public.setdefault(q.graph_name.value, []).append(q)
        if self.overlay is not None:
            self.overlay.set_batch(graphs, mgmt_quads, public)
        mgmt: dict[str, dict[str, list]] = {}
        for subject, quads in mgmt_quads.items():
            facts = mgmt[subject] = {}
            for q in quads:
                p = q.predicate.value
                if p.startswith(LT):
                    facts.setdefault(p[len(LT):], []).append(q.object)
        iris = list(mgmt)
        staff_src = self.builders["staff"].source
        public_src = self.builders["public"].source
        staff_src.graphs, staff_src.facts_of = {}, {}
        public_src.graphs, public_src.facts_of = {}, {}
        for iri in iris:
            obj = ContentObject(iri, mgmt[iri], set())
            graph = graphs.get(iri, [])
            parent = obj.parent if obj.parent and obj.parent != self.root_iri else None
            facts = Facts(obj.type_name, obj.state, obj.access, obj.path, obj.owner or "",
                          parent)
            staff_src.graphs[iri], staff_src.facts_of[iri] = graph, facts
            pub = public.get(iri)
            public_src.graphs[iri] = pub
            if pub is not None:
                public_src.facts_of[iri] = PublicSource.facts(public_src, iri, pub)
        if TEXT_SOURCES:  # containers from before this batch that get children in it
            in_batch = set(iris)
            self.late.update(f.parent for f in staff_src.facts_of.values()
                             if f.parent and f.parent not in in_batch)
        for iri in iris:  # first: links and containers inside the batch are found
            self.builders["staff"].remember(iri, staff_src.graphs[iri], staff_src.facts_of[iri],
                                            _rdf_class(staff_src.graphs[iri], iri))
            pub = public_src.graphs[iri]
            if pub is not None:
                self.builders["public"].remember(iri, pub, public_src.facts_of[iri],
                                                 _rdf_class(pub, iri))
        for iri in iris:
            for name in ("staff", "public"):
                doc = self.builders[name].build(iri)
                if doc is not None:
                    self.put(name, doc)

    def put(self, name: str, doc: Document) -> None:
        self.writers[name].put(doc, replace=False)  # a new object: nothing to replace
        self.counts[name] += 1
        if TEXT_SOURCES and doc.type in _container_types():
            self.digests[name][doc.iri] = doc.digest()

    def _late_children(self) -> None:
        """Re-build, from the complete stores, the documents of containers whose children
        came in later batches or that existed before the ingest (text sources may read the
        children); replace those that differ."""
        if not self.late:
            return
        view = self.final_view()
        for name, source in (("staff", StaffSource(view)), ("public", PublicSource(view))):
            builder = Builder(source, base=self.base)
            late = sorted(self.late)
            indexed = {i: d["digest"] for i, d in self.indexes[name].lookup(
                [i for i in late if i not in self.digests[name]]).items()}  # older objects
            indexed.update(self.digests[name])
            for iri in late:
                doc = builder.build(iri)
                old = indexed.get(iri)
                if (doc.digest() if doc is not None else None) == old:
                    continue
                if old is not None:
                    self.writers[name].delete(iri)
                    self.counts[name] -= 1
                if doc is not None:
                    self.put(name, doc)

    def commit(self) -> dict[str, int]:
        self._late_children()
        for name, w in self._writers.items():
            if self.writers[name].changed:
                w.commit()
            w.wait_merging_threads()
        self._close()
        return dict(self.counts)

    def abort(self) -> None:
        for w in self._writers.values():
            w.rollback()
        self._close()

    def _close(self) -> None:
        for writer in self.writers.values():
            writer._w = None
        self._writers = {}


def _quads(text: str):
    if not text:
        return ()
    return parse(input=text.encode("utf-8"), format=RdfFormat.N_QUADS)


# --------------------------------------------------------------------------- the other process
class _PipeConnection(multiprocessing.connection.Connection):
    """A connection over a pair of pipe ends (one to read, one to write)."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        super().__init__(read_fd, writable=False)
        self._out = multiprocessing.connection.Connection(write_fd, readable=False)

    def send(self, obj) -> None:
        self._out.send(obj)

    def close(self) -> None:
        self._out.close()
        super().close()


def _worker(conn) -> None:
    """The second process: open read-only views of the stores and the catalogs, index
    what comes down the pipe, commit or abort when told; report errors back."""
    try:
        sys.path[:0] = [p for p in conn.recv() if p not in sys.path]  # the caller's
        config = conn.recv()
        from repo.catalog import documents

        documents.TEXT_SOURCES[:] = config["text_sources"]  # those of the ingest's process
        view = _StoreView(_ReadOnlyStore(config["working"]),
                          _ReadOnlyStore(config["publication"]), mgmt=config["mgmt"],
                          root_iri=config["root_iri"], base=config["base"],
                          home=config["home"])

        def final_view() -> _StoreView:  # every batch is in the stores now
            return _StoreView(_ReadOnlyStore(config["working"]),
                              _ReadOnlyStore(config["publication"]), mgmt=config["mgmt"],
                              root_iri=config["root_iri"], base=config["base"],
                              home=config["home"])

        indexer = IngestIndexer(CatalogIndex.open(Path(config["staff"])),
                                CatalogIndex.open(Path(config["public"])), view,
                                base=config["base"], mgmt=config["mgmt"],
                                root_iri=config["root_iri"], final_view=final_view)
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except EOFError:  # the ingest's process is gone: commit nothing
            indexer.abort()
            return
        try:
            if msg[0] == "batch":
                indexer.add(msg[1], msg[2])
            elif msg[0] == "commit":
                conn.send(("done", indexer.commit()))
                return
            else:
                indexer.abort()
                conn.send(("done", None))
                return
        except BaseException as exc:
            indexer.abort()
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            return


class RemoteIndexer:
    """An :class:`IngestIndexer` in a second process, with the same three calls.

    The process is a plain ``python -m repo.catalog.ingest_worker`` talking over two pipes
    (not multiprocessing's spawn, which would re-run a caller's script without a main
    guard)."""

    def __init__(self, repository, staff: CatalogIndex, public: CatalogIndex) -> None:
        config = {"working": str(repository.home / "working"),
                  "publication": str(repository.home / "publication"),
                  "staff": str(staff.path), "public": str(public.path),
                  "mgmt": repository.mgmt.value, "base": repository.base,
                  "root_iri": repository.root_iri, "home": str(repository.home),
                  "text_sources": list(TEXT_SOURCES)}
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        code_root = str(Path(__file__).resolve().parent.parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code_root, env.get("PYTHONPATH")]))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "repo.catalog.ingest_worker", str(down_r), str(up_w)],
                pass_fds=(down_r, up_w), env=env, cwd=code_root)
        finally:
            os.close(down_r)
            os.close(up_w)
        self.conn = _PipeConnection(up_r, down_w)
        self.conn.send(sys.path)
        self.conn.send(config)
        self.ready = False

    def _check(self) -> None:
        """Raise what the worker reported (a failed start or a failed batch)."""
        while self.conn.poll():
            kind, value = self.conn.recv()
            if kind == "error":
                raise RuntimeError(f"catalog indexing failed: {value}")
            if kind == "ready":
                self.ready = True

    def add(self, working_nq: str, public_nq: str) -> None:
        self._check()
        try:
            self.conn.send(("batch", working_nq, public_nq))
        except OSError:
            self._check()  # the process reported why it stopped
            raise

    def commit(self) -> dict[str, int]:
        self._check()
        self.conn.send(("commit",))
        return self._finish()

    def abort(self) -> None:
        try:
            self.conn.send(("abort",))
            self._finish(timeout=30)
        except (OSError, EOFError, RuntimeError):
            pass
        finally:
            if self.process.poll() is None:
                self.process.terminate()
                self.process.wait(10)
            self.conn.close()

    def _finish(self, timeout: float | None = None):
        while True:
            if timeout is not None and not self.conn.poll(timeout):
                raise RuntimeError("catalog indexing did not finish")
            kind, value = self.conn.recv()
            if kind == "error":
                self.process.wait(10)
                raise RuntimeError(f"catalog indexing failed: {value}")
            if kind == "done":
                self.process.wait(60)
                return value


def _picklable(functions: list) -> bool:
    """Can the text sources be named to the other process (module-level functions)?"""
    try:
        pickle.dumps(list(functions))
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def start(repository, staff: CatalogIndex, public: CatalogIndex, first_batch: int):
    """An indexer for an ingest whose first batch has ``first_batch`` objects."""
    if first_batch >= WORKER_MIN and sys.platform != "win32" and _picklable(TEXT_SOURCES):
        # what was written before the ingest is in the stores' files (not only in their
        # logs) before the other process opens them read-only
        repository.working.flush()
        repository.public.flush()
        return RemoteIndexer(repository, staff, public)
    return IngestIndexer(staff, public, repository, base=repository.base,
                         mgmt=repository.mgmt.value, root_iri=repository.root_iri,
                         heap=32_000_000)


__all__ = ["WORKER_MIN", "IngestIndexer", "RemoteIndexer", "start"]
