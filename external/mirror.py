"""The repository listener that writes the publication dataset's changes to the engine.

Owned by the `mirror` part of issue 15. Agreed interface: ``attach(repository)`` (called by
``Repository.__init__`` for a writable site whose settings name ``publication_endpoint``;
idempotent), ``sync(repository, *, full=False, progress=None) -> SyncReport`` (``lantai engine
sync``: the pending graphs, or every graph with ``full``), ``pending(home) -> list[str]``.

The local publication store stays the source of truth; the engine is a copy of it, written
after it. After each changeset the repository hands its listeners the IRIs it touched (and
what it re-projected); for each, the graph the local publication store holds now is written
to the engine, replacing the engine's (one Graph Store Protocol PUT per graph for a few, many
graphs per chunked Update request for more), or dropped when the local store no longer has
it (a record closed, withdrawn, deleted). Then the engine's generation is set to the local
one, so web workers reading the engine (external.reader) see the change on their next
request. ``lantai publish --rebuild`` writes everything, and drops the graphs the engine has
under the site's base IRI that the local store has not.

**An engine that fails must not stop the archivists, nor leave a closed record public
without anyone knowing.** The IRIs are written to a durable pending list
(``{home}/external/pending``, fsynced) *before* the engine is asked, and taken off it only
once the engine has them: a failure leaves them there, logs one warning line, and records it
in ``{home}/external/last-error``; the next changeset (and ``lantai engine sync``) tries
again, closures first. ``lantai engine status`` exits non-zero while anything is pending or
the engine's generation is not the local one, and the staff dashboard says so.

During a bulk ingest the IRIs of each batch are added to the pending list as the batch is
written and sent once the ingest has written them all (chunked Updates, not a request per
record); a rolled-back ingest is then sent as drops.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyoxigraph import Literal, NamedNode, Store, Triple

from external.protocol import Engine, EngineError, EngineTimeout
from repo.durable import write_atomically
from repo.store import announce, read_generation

log = logging.getLogger("lantai.external")

FOLDER = "external"
PENDING = Path(FOLDER) / "pending"  # IRIs the engine has not been given yet, one a line
LAST_ERROR = Path(FOLDER) / "last-error"  # the last failure, one line (gone after a success)
QUIET_UNTIL = Path(FOLDER) / "quiet-until"  # after a timeout: no automatic tries until then
EVERYTHING = "*"  # a pending line meaning: every graph (a rebuild not yet sent)
WRITE_TIMEOUT = 15.0  # seconds per request while a changeset waits for the engine
QUIET = 60.0  # seconds without automatic tries after a timeout (a hung engine, not a down one)
SMALL = 20  # up to this many graphs: one Graph Store Protocol request each
BATCH = 500  # graphs read from the local store and sent per round of a large sync
Progress = Callable[[int, int], None]


# ---------------------------------------------------------------------- the pending list
def _pending_path(home: Path | str) -> Path:
    return Path(home) / PENDING


def pending(home: Path | str) -> list[str]:
    """The IRIs not yet written to the engine (``*``: everything), in the order kept."""
    try:
        text = _pending_path(home).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line for line in text.split("\n") if line]


def _write_pending(home: Path | str, iris: Iterable[str]) -> None:
    path = _pending_path(home)
    items = list(dict.fromkeys(iris))
    if not items:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, "".join(i + "\n" for i in items).encode("utf-8"))


def add_pending(home: Path | str, iris: Iterable[str]) -> None:
    """Add ``iris`` to the pending list, durably (before the engine is asked)."""
    new = [i for i in iris if i and "\n" not in i]
    if not new:
        return
    old = pending(home)
    known = set(old)
    if EVERYTHING in known or all(i in known for i in new):
        return
    _write_pending(home, [*old, *(i for i in new if i not in known)])


def _done(home: Path | str, iris: Iterable[str]) -> None:
    gone = set(iris)
    old = pending(home)
    left = [i for i in old if i not in gone]
    if len(left) != len(old):
        _write_pending(home, left)


def last_error(home: Path | str) -> str:
    try:
        return (Path(home) / LAST_ERROR).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def quiet(home: Path | str) -> bool:
    """Is the engine left alone by changesets now (it timed out less than :data:`QUIET`
    seconds ago)?"""
    try:
        until = float((Path(home) / QUIET_UNTIL).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return False
    return time.time() < until


def _record_error(home: Path | str, message: str) -> None:
    path = Path(home) / LAST_ERROR
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_atomically(path, f"{stamp} {message}\n".encode())


def behind(home: Path | str, settings: Any) -> dict | None:
    """For the staff dashboard (from local files only, no request to the engine): None when
    the site has no engine or nothing is pending; else how many IRIs wait (``rebuild``: a
    rebuild not yet sent) and the last error."""
    if not getattr(settings, "publication_endpoint", ""):
        return None
    waiting = pending(home)
    if not waiting:
        return None
    return {"pending": len([i for i in waiting if i != EVERYTHING]),
            "rebuild": EVERYTHING in waiting, "error": last_error(home)}


# ---------------------------------------------------------------------- writing
@dataclass
class SyncReport:
    """What a sync did."""

    written: int = 0  # graphs written (replaced)
    dropped: int = 0  # graphs dropped (no longer in the local publication)
    pending: int = 0  # IRIs still pending afterwards
    generation: str = ""  # the generation written to the engine ("" if none was)
    error: str = ""  # the failure, one line ("" when it all went)
    timed_out: bool = False  # the failure was a timeout
    dropped_iris: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


def prefix_of(settings: Any) -> str:
    """The graphs of this site in the engine: those under its base IRI."""
    return str(settings.base).rstrip("/") + "/"


def graph_triples(public: Store, iri: str) -> list[Triple]:
    return [q.triple for q in public.quads_for_pattern(None, None, None, NamedNode(iri))]


def local_graphs(public: Store, prefix: str) -> set[str]:
    return {g.value for g in public.named_graphs()
            if isinstance(g, NamedNode) and g.value.startswith(prefix)}


def _write(engine: Engine, public: Store, iris: list[str], home: Path | str,
           report: SyncReport, progress: Progress | None, total: int) -> None:
    """Drops first (a record closed leaves the engine before anything else is written),
    then the graphs the local store has; each round taken off the pending list once the
    engine has it."""
    gone = [i for i in iris if not public.contains_named_graph(NamedNode(i))]
    dropping = set(gone)
    present = [i for i in iris if i not in dropping]
    done = 0
    for start in range(0, len(gone), BATCH):
        part = gone[start:start + BATCH]
        if len(part) <= SMALL:
            for iri in part:
                engine.delete_graph(iri)
        else:
            engine.drop_graphs(part)
        _done(home, part)
        report.dropped += len(part)
        report.dropped_iris += part
        done += len(part)
        if progress:
            progress(done, total)
    for start in range(0, len(present), BATCH):
        part = present[start:start + BATCH]
        graphs = {iri: graph_triples(public, iri) for iri in part}
        if len(part) <= SMALL:
            for iri, triples in graphs.items():
                engine.put_graph(iri, triples)
        else:
            engine.replace_graphs(graphs)
        _done(home, part)
        report.written += len(part)
        done += len(part)
        if progress:
            progress(done, total)


def _sync(engine: Engine, home: Path, public: Store, prefix: str, *, full: bool,
          progress: Progress | None) -> SyncReport:
    report = SyncReport()
    todo = pending(home)
    try:
        if full or EVERYTHING in todo:
            # a full sync: what the engine has and the local store has not goes first
            local = local_graphs(public, prefix)
            extra = sorted(engine.graphs(prefix) - local)
            iris = [*extra, *(i for i in todo if i != EVERYTHING and i not in local),
                    *sorted(local)]
            iris = list(dict.fromkeys(iris))
            # every one of them pending (durably) before the first is written: a full sync
            # that fails half-way is finished by the next attempt, not forgotten
            _write_pending(home, [EVERYTHING, *iris])
            _write(engine, public, iris, home, report, progress, len(iris))
            _done(home, [EVERYTHING])
            # the same generation with different contents would keep readers' caches: a
            # full sync moves it on (local readers are told too, harmlessly)
            announce(public, home, f"engine-sync-{time.strftime('%Y%m%dT%H%M%S')}-"
                            f"{hashlib.sha256(read_generation(home).encode()).hexdigest()[:8]}")
        elif todo:
            _write(engine, public, todo, home, report, progress, len(todo))
        generation = read_generation(home)
        if todo or full or engine.generation() != generation:
            engine.set_generation(generation)
        report.generation = generation
        (Path(home) / LAST_ERROR).unlink(missing_ok=True)
    except EngineError as exc:
        report.timed_out = isinstance(exc, EngineTimeout)
        report.error = exc.message
        _record_error(home, exc.message)
        log.warning("the publication is not all in the engine (%d graph(s) pending, "
                    "`lantai engine sync` retries): %s", len(pending(home)), exc.message)
    report.pending = len(pending(home))
    return report


# ---------------------------------------------------------------------- the listener
class Mirror:
    """The repository listener (see the module's docstring)."""

    def __init__(self, home: Path, settings: Any, engine: Engine) -> None:
        self.home, self.settings, self.engine = home, settings, engine
        self.prefix = prefix_of(settings)
        self._ingesting = False
        self.last: SyncReport | None = None

    def __call__(self, repository: Any, iris: set[str]) -> None:
        add_pending(self.home, sorted(iris))
        if not self._ingesting and not quiet(self.home):
            self.flush(repository)

    def flush(self, repository: Any, *, full: bool = False,
              progress: Progress | None = None) -> SyncReport:
        """Send what is pending (everything with ``full``). An engine that timed out is
        left alone by the next changesets for :data:`QUIET` seconds (each would wait the
        whole timeout, holding the repository), in any process of the site (the REST API
        opens the repository for each write); ``lantai engine sync`` always tries."""
        self.last = _sync(self.engine, self.home, repository.public, self.prefix, full=full,
                          progress=progress)
        quiet_path = Path(self.home) / QUIET_UNTIL
        if self.last.timed_out:  # for every process of the site (the API opens one per write)
            write_atomically(quiet_path, f"{time.time() + QUIET:.3f}\n".encode())
        else:
            quiet_path.unlink(missing_ok=True)
        return self.last

    # a bulk ingest: gathered, sent once at the end
    def ingest_batch(self, repository: Any, objs: list, description_text: str,
                     management_text: str, public_text: str) -> None:
        self._ingesting = True

    def ingest_written(self, repository: Any, iris: list[str]) -> None:
        self._ingesting = True
        add_pending(self.home, iris)

    def ingest_end(self, repository: Any) -> None:
        self._ingesting = False
        self.flush(repository)

    def ingest_abort(self, repository: Any) -> None:
        self._ingesting = False  # the repository calls us next with what it rolled back

    def rebuilt(self, repository: Any) -> None:
        """``lantai publish --rebuild``: every graph again, and the engine's extras go."""
        add_pending(self.home, [EVERYTHING])
        self.flush(repository)

    def close(self) -> None:
        self.engine.close()


def attach(repository: Any) -> None:
    """Give a writable repository whose settings name an engine its mirror (once); what a
    process before left pending is tried again now."""
    if any(isinstance(x, Mirror) for x in repository.listeners):
        return
    engine = Engine.from_settings(repository.settings, timeout=WRITE_TIMEOUT)
    if engine is None:
        return
    mirror = Mirror(Path(repository.home), repository.settings, engine)
    repository.listeners.append(mirror)
    if pending(repository.home) and not quiet(repository.home):
        mirror.flush(repository)


def mirror_of(repository: Any) -> Mirror | None:
    return next((x for x in repository.listeners if isinstance(x, Mirror)), None)


def sync(repository: Any, *, full: bool = False, progress: Progress | None = None
         ) -> SyncReport:
    """``lantai engine sync [--full]``: the pending graphs (every graph with ``full``) and
    the generation."""
    mirror = mirror_of(repository)
    if mirror is None:
        raise EngineError(f"{repository.home}: no publication_endpoint in lantai.toml")
    return mirror.flush(repository, full=full, progress=progress)


# ---------------------------------------------------------------------- checking
_BOOLEAN = NamedNode("http://www.w3.org/2001/XMLSchema#boolean")
_BOOLEANS = {"1": "true", "0": "false"}


def _canonical(t: Triple) -> str:
    """A triple's N-Triples line; an ``xsd:boolean`` in its canonical form (Virtuoso answers
    ``1``/``0`` for ``true``/``false``: the same value, docs/deploy.md)."""
    o = t.object
    if isinstance(o, Literal) and o.datatype == _BOOLEAN and o.value in _BOOLEANS:
        t = Triple(t.subject, t.predicate, Literal(_BOOLEANS[o.value], datatype=_BOOLEAN))
    return str(t)


def digest(triples: Iterable[Triple]) -> str:
    """A graph's digest: SHA-256 of its sorted N-Triples lines (no blank nodes in the
    publication: their labels would differ)."""
    lines = sorted({_canonical(t) for t in triples})
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


@dataclass
class CheckReport:
    local: int = 0
    engine: int = 0
    missing: list[str] = field(default_factory=list)  # local, not in the engine
    extra: list[str] = field(default_factory=list)  # in the engine, not local (a leak)
    differing: list[str] = field(default_factory=list)  # both, with other triples
    local_generation: str = ""
    engine_generation: str = ""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.differing) and \
            self.local_generation == self.engine_generation


def check(engine: Engine, home: Path, public: Store, prefix: str, *,
          progress: Progress | None = None) -> CheckReport:
    """Does the engine hold exactly the local publication? Graph by graph digests."""
    report = CheckReport(local_generation=read_generation(home),
                         engine_generation=engine.generation())
    local = local_graphs(public, prefix)
    remote = engine.graphs(prefix)
    report.local, report.engine = len(local), len(remote)
    report.missing = sorted(local - remote)
    report.extra = sorted(remote - local)
    common = sorted(local & remote)
    for start in range(0, len(common), 100):
        part = common[start:start + 100]
        theirs = engine.graph_contents(part)
        for iri in part:
            if digest(graph_triples(public, iri)) != digest(theirs.get(iri, [])):
                report.differing.append(iri)
        if progress:
            progress(min(start + 100, len(common)), len(common))
    return report


__all__ = ["CheckReport", "Mirror", "SyncReport", "add_pending", "attach", "behind", "check",
           "digest",
           "last_error", "mirror_of", "pending", "sync"]
