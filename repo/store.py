"""The two Oxigraph stores of a site, and the journal that makes a write all-or-nothing.

The working store holds one named graph per object (its description, graph name = the
object's IRI) and, in its default graph, the management facts (workflow state, access
rules, tree, revisions, users): every description has its own named graph, so the default
graph is free, and a statement there costs Oxigraph three index entries instead of a named
graph's six (loading the management facts of scale 0.05 took 4.0 s of CPU in a named
graph, 2.0 s in the default graph). The publication store is a separate Oxigraph database
holding only the public view of published, open objects: public surfaces open that one
and nothing else (DESIGN.md §2).

A write is a changeset. It is applied to the working store in one Oxigraph transaction (a
single SPARQL Update), then projected to the publication store. Between the two a journal
entry names the objects touched, so a crash after the first step is finished on the next
open (projection is a pure function of the working store); a crash before it leaves no trace.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

from pyoxigraph import DefaultGraph, Literal, NamedNode, Quad, RdfFormat, Store

from repo.durable import write_atomically

MANAGEMENT = DefaultGraph()  # the management graph: the working store's default graph
# where sites made before 2026-11-26 kept it (moved on open: migrate_management_graph)
LEGACY_MANAGEMENT_SUFFIX = "/graph/management"


def is_management(graph) -> bool:
    """Is ``graph`` the management graph (or where an older site's patches name it)?"""
    return isinstance(graph, DefaultGraph) or (
        isinstance(graph, NamedNode) and graph.value.endswith(LEGACY_MANAGEMENT_SUFFIX))


def migrate_management_graph(store: Store, base: str) -> bool:
    """Move an older site's management graph (a named graph) into the default graph, in one
    transaction; False for a site already moved."""
    legacy = NamedNode(base + LEGACY_MANAGEMENT_SUFFIX)
    if not store.contains_named_graph(legacy):
        return False
    store.update(f"INSERT {{ ?s ?p ?o }} WHERE {{ GRAPH {legacy} {{ ?s ?p ?o }} }}; "
                 f"DROP SILENT GRAPH {legacy}")
    return True


def term_nt(term: NamedNode | Literal) -> str:
    """A term in N-Triples/SPARQL syntax (pyoxigraph's ``str`` is exactly that)."""
    return str(term)


def quad_nq(q: Quad) -> str:
    """One N-Quads line (pyoxigraph's ``str`` of a quad is its N-Quads form, sans dot)."""
    return f"{q} ."


def sparql_data_block(quads: Iterable[Quad]) -> str:
    """``GRAPH <g> { s p o . … }`` blocks (plain triples for the default graph) for
    INSERT DATA / DELETE DATA."""
    by_graph: dict[str, list[str]] = {}
    for q in quads:
        g = "" if isinstance(q.graph_name, DefaultGraph) else str(q.graph_name)
        by_graph.setdefault(g, []).append(f"{q.subject} {q.predicate} {q.object} .")
    return " ".join(f"GRAPH {g} {{ {' '.join(lines)} }}" if g else " ".join(lines)
                    for g, lines in by_graph.items())


class Journal:
    """Write-ahead notes for changesets that touch more than one store."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder  # made by the first entry (a read-only site makes nothing)

    def begin(self, changeset_id: str, entry: dict) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{changeset_id}.json"
        # the entry and its name are on disk before the stores are touched (the rename
        # made durable too: a power cut must not lose an entry whose write went ahead)
        write_atomically(path, json.dumps(entry).encode("utf-8"))
        return path

    def end(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def pending(self) -> list[tuple[Path, dict]]:
        for tmp in [*self.folder.glob("*.tmp"), *self.folder.glob(".*.part")]:
            tmp.unlink(missing_ok=True)  # never completed its own write: nothing happened
        out = []
        for path in sorted(self.folder.glob("*.json")):
            out.append((path, json.loads(path.read_text(encoding="utf-8"))))
        return out


def apply_update(store: Store, removed: Iterable[Quad], added: Iterable[Quad]) -> None:
    """Remove then add quads in one Oxigraph transaction."""
    removed, added = list(removed), list(added)
    parts = []
    if removed:
        parts.append(f"DELETE DATA {{ {sparql_data_block(removed)} }}")
    if added:
        parts.append(f"INSERT DATA {{ {sparql_data_block(added)} }}")
    if parts:
        store.update(" ;\n".join(parts))


def bulk_add(store: Store, quads_nq: str) -> None:
    """Fast, non-transactional load of N-Quads text (the journal makes it recoverable)."""
    if quads_nq:
        store.bulk_load(input=quads_nq.encode("utf-8"), format=RdfFormat.N_QUADS)


def replace_graph(store: Store, graph: NamedNode, quads: Iterable[Quad]) -> None:
    """Make ``graph`` hold exactly ``quads`` (one transaction)."""
    existing = list(store.quads_for_pattern(None, None, None, graph))
    new = set(quads)
    old = set(existing)
    apply_update(store, old - new, new - old)


GENERATION_FILE = "publication.generation"


def announce(public: Store, home: Path, value: str) -> None:
    """Tell readers that the publication dataset changed, *after* it is safe to look.

    Readers (:class:`publisher.dataset.PublicDataset`, every web worker) key their read-only
    snapshot on the generation alone, read once per request; they reopen only when it moves.
    So the store must already show the change to an open that starts once the new generation
    is readable: the writer flushes first (its memtable becomes table files the manifest
    names), then bumps. Bumped before the flush, a reader could open between the flush's
    manifest edit and its log deletion, see the store without the last write, and keep that
    snapshot under the new generation (repo/handles.py, item 2). A snapshot may also show
    part of a later write not announced yet; that write's own bump makes readers reopen."""
    public.flush()
    bump_generation(home, value)


def compact(public: Store, home: Path) -> float:
    """Compact the publication store (RocksDB's full compaction: ``Store.optimize``) and
    announce it, so readers reopen on the compacted files; the seconds it took.

    Bulk loads and many small commits leave the store in many overlapping table files that
    nothing compacts while the web server only reads: heavy queries ran at 0.72–0.83× of
    ``oxigraph serve`` before, 0.92–1.00× after (issue 15). Readers in other processes keep
    working meanwhile (a read that meets a table file compacted away is served again on a
    fresh snapshot, repo/handles.py item 3); the new generation makes every worker drop its
    snapshot of the old files (which also gives their disk space back)."""
    started = time.monotonic()
    public.optimize()
    announce(public, home, f"compacted-{time.time_ns():x}")
    return time.monotonic() - started


def bump_generation(home: Path, value: str) -> None:
    """Write the publication's generation (use :func:`announce`, which flushes first)."""
    tmp = home / (GENERATION_FILE + ".tmp")
    tmp.write_text(value, encoding="utf-8")
    tmp.replace(home / GENERATION_FILE)


def read_generation(home: Path | str) -> str:
    """The publication's generation ("" before anything was published)."""
    try:
        return (Path(home) / GENERATION_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
