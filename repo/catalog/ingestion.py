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

What it costs: that process shares the machine's two cores with the ingest, so its CPU
time is what counts. At scale 0.05 (36,128 objects, 55,761 documents), in runs side by
side with the same ingest, it took 12.3–15.4 s of CPU (median 13.8; 19–20 s on a busier
machine) and now takes 7.3–11 s (median 8.3; 10.6–12.3 s on the busier one). Most of the
difference: a batch is read as text (:mod:`repo.catalog.batch_text`) instead
of being parsed into pyoxigraph quads; the look-ups of the text sources about the batch's
objects are answered from the batch (:class:`_Overlay`); the cycle collector runs rarely
(:func:`_worker`). What is left is mostly the documents' own work: analysing new texts,
JSON, tantivy (about 1.3 s), and the text sources' store look-ups for records.
"""

from __future__ import annotations

import gc
import multiprocessing.connection
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path

from pyoxigraph import DefaultGraph, NamedNode, Quad

from ontology import terms
from ontology.profile import load_profile
from repo.catalog.batch_text import Batch, BatchReader, TextGraph, quads_of
from repo.catalog.documents import (
    AGENT_LINKS,
    PLACE_LINKS,
    SUBJECT_LINKS,
    TEXT_SOURCES,
    Builder,
    Document,
    Facts,
    Graph,
    PublicSource,
    Source,
    StaffSource,
    Statement,
    digest_of,
    public_facts,
)
from repo.catalog.index import CatalogIndex, Writer
from repo.handles import ReadHandle
from repo.objects import ContentObject, changeset_time, lt_node, read_object
from repo.store import MANAGEMENT

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


def _snapshot(path: str) -> ReadHandle:
    """A read-only view of an on-disk store that the ingest keeps writing, opened now. It
    is not reopened as the ingest writes (that would be for every read), only when a read
    meets a table the writer's compaction removed (then it sees more of the ingest: see
    :class:`_Overlay`)."""
    handle = ReadHandle(Path(path), follow=False)
    handle.store  # noqa: B018 - opened when the second process starts, as _Overlay expects
    return handle


class _Overlay:
    """A read-only view of a store, opened when the second process started, plus the
    quads of the batch being indexed: what the repository's store holds once that batch is
    written, as far as indexing the batch can tell (earlier batches matter through links
    and containers, which the builders remember).

    The objects of an ingest are new, so the batch holds the whole graph of each of its
    objects and all the management facts about it: a look-up of those is answered from
    the batch without asking the store (the text sources ask twice per scan: 110,000
    store look-ups saved at scale 0.05), and what the store returns of them (the view may
    already hold the batch, if it was opened again after the batch was written) is the
    batch's again and is not counted twice. The batch is text (:class:`BatchReader`):
    a look-up parses only the lines it may match."""

    def __init__(self, store: ReadHandle) -> None:
        self.store = store
        self.set_batch(Batch())

    def set_batch(self, batch: Batch, public: bool = False) -> None:
        """The batch (its public graphs for the view of the publication dataset); other
        look-ups than by graph are indexed when first asked."""
        self.graphs = batch.public if public else batch.graphs
        self.mgmt_batch = [] if public else batch.mgmt  # the batch's management lines
        self.subjects = {} if public else batch.facts  # … and their subjects
        self._mgmt_lines: dict[str, list[str]] | None = None
        self._mgmt: dict[str, list[Quad]] = {}
        self._by_predicate: dict = {}
        # what readers of the batch (the text sources) found out about its objects: it
        # does not change while the batch is indexed
        self.memo: dict = {}

    def own_statements(self, iri: str) -> list[Statement] | None:
        """The statements about an object of the batch (None for another): read from the
        text, as the builders read them (for the text sources)."""
        graph = self.graphs.get(iri)
        return graph.own_statements(iri) if graph is not None else None

    @property
    def mgmt_lines(self) -> dict[str, list[str]]:
        """The management graph's lines by subject (grouped when first asked for: the
        documents of a batch need none)."""
        if self._mgmt_lines is None:
            self._mgmt_lines = {}
            for q in quads_of("\n".join(self.mgmt_batch)):
                self._mgmt_lines.setdefault(terms.value(q.subject), []).append(f"{q} .")
        return self._mgmt_lines

    def _mgmt_of(self, subject: str) -> list[Quad]:
        quads = self._mgmt.get(subject)
        if quads is None:
            lines = self.mgmt_lines.get(subject, ())
            quads = self._mgmt[subject] = list(quads_of("\n".join(lines)))
        return quads

    def _all_mgmt(self) -> list[Quad]:
        return [q for subject in self.mgmt_lines for q in self._mgmt_of(subject)]

    def _all_quads(self) -> list[Quad]:
        return [q for graph in self.graphs.values() for q in graph] + self._all_mgmt()

    def _with(self, p, o) -> list[Quad]:
        """The batch's quads with predicate ``p`` and object ``o``. Only the lines that
        name ``p`` are parsed (a substring test), then the quads are compared exactly."""
        index = self._by_predicate.get(p)
        if index is None:
            index = self._by_predicate[p] = {}
            needle = f"<{p.value}>"
            lines = [line for graph in self.graphs.values() for line in graph.lines
                     if needle in line]
            lines += [line for line in self.mgmt_batch if needle in line]
            for q in quads_of("\n".join(lines)):
                if q.predicate == p:
                    index.setdefault(q.object, []).append(q)
        return index.get(o, [])

    def _batch(self, s, p, o, g) -> tuple[Iterable[Quad], bool]:
        """The batch's quads that may match, and whether they are all the matches (a
        pattern about one of the batch's new objects: the store has nothing more).

        That holds for links *to* a new object too (its pages, its children): what was
        written before the batch cannot link to an object that did not exist, and what
        comes in later batches is read again at the end (``IngestIndexer.late``), so the
        store is not asked (24,500 look-ups at scale 0.05, one per record)."""
        if g is not None:
            if isinstance(g, DefaultGraph):  # the management facts
                if s is not None:
                    return self._mgmt_of(s.value), s.value in self.subjects
                if p is not None and o is not None:
                    return self._with(p, o), self._new(o)
                return self._all_mgmt(), False
            if g.value in self.graphs:
                return self.graphs[g.value], True
            return (), False
        if p is not None and o is not None:
            return self._with(p, o), self._new(o)
        if s is not None:
            return [q for q in self._all_quads() if q.subject == s], False
        return self._all_quads(), False

    def _new(self, term) -> bool:
        """Is ``term`` one of the batch's new objects?"""
        return isinstance(term, NamedNode) and term.value in self.subjects

    def _in_batch(self, q: Quad) -> bool:
        """Is a quad the store returns one of the batch's (its graph, or its subject's
        management facts, are the batch's)?"""
        if isinstance(q.graph_name, DefaultGraph):  # a management fact
            return terms.value(q.subject) in self.subjects
        return q.graph_name.value in self.graphs

    def quads_for_pattern(self, s=None, p=None, o=None, g=None):
        quads, complete = self._batch(s, p, o, g)
        for q in quads:
            if ((s is None or q.subject == s) and (p is None or q.predicate == p)
                    and (o is None or q.object == o) and (g is None or q.graph_name == g)):
                yield q
        if complete:
            return
        for q in self.store.read(lambda store: list(store.quads_for_pattern(s, p, o, g))):
            if not self._in_batch(q):
                yield q


class _StoreView:
    """The stores, read as the repository reads them, for the second process: the
    catalog's sources and text sources (OCR, transcripts) get what they need of it."""

    def __init__(self, working: ReadHandle, public: ReadHandle, *,
                 root_iri: str, base: str, home: str) -> None:
        self.working = _Overlay(working)
        self.public = _Overlay(public)
        self.mgmt = MANAGEMENT
        self.root_iri = root_iri
        self.base = base
        self.home = Path(home)

    def set_batch(self, batch: Batch) -> None:
        self.working.set_batch(batch)
        self.public.set_batch(batch, public=True)

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
        # the batch's (set per batch by IngestIndexer.add)
        self.graphs: Mapping[str, Graph | None] = {}
        self.facts_of: Mapping[str, Facts | None] = {}

    def graph(self, iri: str) -> Graph | None:
        if iri in self.graphs:
            return self.graphs[iri]
        return self.fallback.graph(iri)

    def facts(self, iri: str, graph: Graph) -> Facts | None:
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

    def _graph(self, iri: str) -> Graph | None:
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

    def remember(self, iri: str, graph: Graph, facts: Facts) -> None:
        if self.rdf_class(iri, graph) in _link_target_classes():
            self.names_mem[iri] = super()._linked(iri)
            self._names.pop(iri, None)
        if facts.type in _container_types():
            self.own_mem[iri] = (*self._own(iri, graph), facts.parent)


class IngestIndexer:
    """Builds and indexes the documents of an ingest's batches; commits once, at the end."""

    def __init__(self, staff: CatalogIndex, public: CatalogIndex, view, *, base: str,
                 root_iri: str, heap: int = WRITER_HEAP,
                 final_view: Callable[[], object] | None = None) -> None:
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
        self.reader = BatchReader()

    def add(self, description_nq: str, management_nt: str, public_nq: str) -> None:
        """Index one batch, given as the text the ingest loads into the two stores."""
        batch = self.reader.read(description_nq, management_nt, public_nq)
        if self.overlay is not None:
            self.overlay.set_batch(batch)
        iris = batch.iris
        staff, public = self.builders["staff"], self.builders["public"]
        staff_graphs: dict[str, Graph] = {}
        staff_facts: dict[str, Facts] = {}
        public_graphs: dict[str, TextGraph | None] = {}
        public_facts_of: dict[str, Facts] = {}
        staff.source.graphs, staff.source.facts_of = staff_graphs, staff_facts
        public.source.graphs, public.source.facts_of = public_graphs, public_facts_of
        root = self.root_iri
        for iri in iris:  # the facts as ContentObject and StaffSource make them
            f = batch.facts[iri]
            parent = f.get("parent")
            owner = f.get("owner")
            staff_graphs[iri] = batch.graphs.get(iri, [])
            staff_facts[iri] = Facts(
                f["type"], f["state"].rsplit("#", 1)[-1] if "state" in f else "private",
                f["access"].rsplit("/", 1)[-1] if "access" in f else "restricted",
                f.get("path", ""), owner.rsplit(":", 1)[-1] if owner else "",  # user_name
                parent if parent and parent != root else None,
                int(f.get("position", 0)),
                changeset_time(f["changedIn"].rsplit(":", 1)[-1]) if "changedIn" in f else "")
            pub = batch.public.get(iri)
            public_graphs[iri] = pub
            if pub is not None and iri in batch.graphs:
                pub.share(batch.graphs[iri])
            if pub is not None:
                public_facts_of[iri] = public_facts(public.statements(iri, pub))
        if TEXT_SOURCES:  # containers from before this batch that get children in it
            in_batch = set(iris)
            self.late.update(f.parent for f in staff_facts.values()
                             if f.parent and f.parent not in in_batch)
        for iri in iris:  # first: links and containers inside the batch are found
            staff.remember(iri, staff_graphs[iri], staff_facts[iri])
            pub = public_graphs[iri]
            if pub is not None:
                public.remember(iri, pub, public_facts_of[iri])
        for iri in iris:
            for name in ("staff", "public"):
                doc = self.builders[name].build(iri)
                if doc is not None:
                    self.put(name, doc)

    def put(self, name: str, doc: Document) -> None:
        encoded = doc.encoded()  # once, for the index and the digest
        self.writers[name].put(doc, replace=False, encoded=encoded)  # new: nothing to replace
        self.counts[name] += 1
        if TEXT_SOURCES and doc.type in _container_types():
            self.digests[name][doc.iri] = digest_of(encoded)

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
        view = _StoreView(_snapshot(config["working"]),
                          _snapshot(config["publication"]),
                          root_iri=config["root_iri"], base=config["base"],
                          home=config["home"])

        def final_view() -> _StoreView:  # every batch is in the stores now
            return _StoreView(_snapshot(config["working"]),
                              _snapshot(config["publication"]),
                              root_iri=config["root_iri"], base=config["base"],
                              home=config["home"])

        indexer = IngestIndexer(CatalogIndex.open(Path(config["staff"])),
                                CatalogIndex.open(Path(config["public"])), view,
                                base=config["base"], root_iri=config["root_iri"],
                                final_view=final_view)
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    # Indexing makes millions of short-lived objects and no reference cycles to speak of:
    # with the default thresholds the cycle collector ran 1,200 times at scale 0.05 (0.8 s
    # of CPU, mostly going over the caches again); every 100,000 allocations, 6 times.
    gc.freeze()  # what was loaded so far (modules, the profile) is never collected
    gc.set_threshold(100_000, 20, 10)
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except EOFError:  # the ingest's process is gone: commit nothing
            indexer.abort()
            return
        try:
            if msg[0] == "batch":
                indexer.add(msg[1], msg[2], msg[3])
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
                  "base": repository.base,
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

    def add(self, description_nq: str, management_nt: str, public_nq: str) -> None:
        self._check()
        try:
            self.conn.send(("batch", description_nq, management_nt, public_nq))
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
                         root_iri=repository.root_iri, heap=32_000_000)


__all__ = ["WORKER_MIN", "IngestIndexer", "RemoteIndexer", "start"]
