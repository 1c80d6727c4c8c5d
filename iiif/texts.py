"""The text a digitised record carries: OCR of its page scans and its transcripts.

One module answers "which media does this record have, and what text is in them?" for
both audiences, so the catalog and Content Search cannot disagree:

- the public side reads the publication dataset only (a store handle: in a request,
  ``publisher.dataset.public_store()``; in the repository, ``repository.public``). An
  instantiation that is not public has no graph there, so its text never reaches a public
  surface, whatever its record or its key;
- the staff side reads the working store (live objects only: a deleted object keeps no
  description graph there).

It also registers the catalog's text source (:func:`catalog_texts`): the OCR and
transcript text of a record is indexed with the record (and with each instantiation), in
the staff catalog for every object and in the public one only from public media. OCR is
read from the derivatives (never computed while indexing: that is the ingest's job, see
:func:`iiif.ocr.ocr_for_ingest`). OCR made later (lazily, by a request for a page's
annotations on the public server, which never writes the catalog) reaches it with ``lantai
ocr`` (:func:`recognise_records`: OCR of the scans that have none, then a re-index of their
records) or ``lantai reindex``. The text source reads only ``repository.base``, ``.home``,
``.working`` and ``.public``, so it also runs in the catalog's second indexing process
during a bulk ingest (it is a module-level function: picklable). :class:`MediaListener`
re-indexes a record when media with text are added to it or removed from it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Store

from iiif import jobs, ocr, transcripts
from ontology import terms
from ontology.namespaces import DCTERMS, ISO639, RDFS, RICO, SCHEMA
from repo.building import KEY
from repo.catalog.analysis import has_cjk
from repo.catalog.documents import register_text_source
from repo.errors import Forbidden, LantaiError
from repo.files import DIGEST

DIGITAL_OF = NamedNode(RICO + "isOrWasDigitalInstantiationOf")
DERIVED_FROM = RICO + "isOrWasDerivedFromInstantiation"
MIME = DCTERMS + "format"
IDENTIFIER = RICO + "identifier"
MIME_NODE, IDENTIFIER_NODE = NamedNode(MIME), NamedNode(IDENTIFIER)
WIDTH, HEIGHT = RICO + "width", RICO + "height"
LANGUAGE = RICO + "hasOrHadLanguage"
POSITION = SCHEMA + "position"
TITLES = (RICO + "title", RDFS + "label")
_NATURAL = re.compile(r"(\d+)")
MAX_INDEX_CHARS = 1_000_000  # per object: a 500-page volume's OCR fits


@dataclass
class Media:
    """One instantiation of a record, as far as text and canvases are concerned."""

    iri: str
    key: str
    mime: str = ""
    digest: str = ""
    width: int | None = None
    height: int | None = None
    derived_from: str = ""
    languages: list[str] = field(default_factory=list)
    position: int | None = None
    titles: dict[str, str] = field(default_factory=dict)

    @property
    def is_page(self) -> bool:
        return ocr.is_ocr_type(self.mime) and bool(self.digest)

    @property
    def is_transcript(self) -> bool:
        return transcripts.is_transcript_type(self.mime) and bool(self.digest)

    @property
    def is_av(self) -> bool:
        return self.mime.split("/")[0] in ("audio", "video")

    @property
    def language(self) -> str:
        """The transcript's language as an IETF tag where we know one (zh, en), else ''."""
        code = self.languages[0] if self.languages else ""
        return {"chi": "zh", "zho": "zh", "eng": "en"}.get(code, code)


def split_iri(iri: str, base: str) -> tuple[str, str] | None:
    """``{base}/id/{kind}/{key}`` → (kind, key), or None."""
    prefix = base.rstrip("/") + "/id/"
    if not iri.startswith(prefix):
        return None
    kind, _, key = iri[len(prefix):].partition("/")
    return (kind, key) if kind and key and "/" not in key else None


def valid_key(key: str) -> bool:
    """Keys as the repository makes them (no slashes, dots, encoded characters)."""
    return isinstance(key, str) and KEY.match(key) is not None


def media_from_quads(iri: str, quads: Iterable) -> Media:
    """A :class:`Media` from the statements of an instantiation's description."""
    m = Media(iri=iri, key=iri.rsplit("/", 1)[-1])
    for q in quads:
        if q.subject.value != iri:
            continue
        p, o = q.predicate.value, q.object
        if p == MIME and isinstance(o, Literal):
            m.mime = o.value
        elif p == IDENTIFIER and isinstance(o, Literal) and DIGEST.match(o.value):
            m.digest = o.value
        elif p in (WIDTH, HEIGHT) and isinstance(o, Literal):
            with contextlib.suppress(ValueError):
                setattr(m, "width" if p == WIDTH else "height", int(o.value))
        elif p == DERIVED_FROM and isinstance(o, NamedNode):
            m.derived_from = o.value
        elif p == LANGUAGE and isinstance(o, NamedNode) and o.value.startswith(ISO639):
            m.languages.append(o.value[len(ISO639):])
        elif p == POSITION and isinstance(o, Literal):
            with contextlib.suppress(ValueError):
                m.position = int(o.value)
        elif p in TITLES and isinstance(o, Literal):
            m.titles.setdefault((o.language or "").split("-")[0], o.value)
    m.languages.sort()
    return m


def natural_key(text: str) -> list:
    return [int(t) if t.isdigit() else t for t in _NATURAL.split(text)]


def _order(media: list[Media]) -> list[Media]:
    """The manifests' canvas order: tree order (``schema:position``), then keys in natural
    order (``p2`` before ``p10``) for data without positions."""
    return sorted(media, key=lambda m: (m.position if m.position is not None else 1 << 40,
                                        natural_key(m.key), m.iri))


# ------------------------------------------------------------------------- public side
def public_graph_exists(store: Store, iri: str) -> bool:
    node = NamedNode(iri)
    return next(iter(store.quads_for_pattern(node, None, None, node)), None) is not None


def public_media(store: Store, record_iri: str) -> list[Media]:
    """The public instantiations of a public record, in order (empty for anything else).

    Also the live instantiations of any record when ``store`` is the working store (a
    deleted object keeps no description graph)."""
    out = []
    for q in store.quads_for_pattern(None, DIGITAL_OF, NamedNode(record_iri), None):
        inst = q.subject
        if q.graph_name != inst:  # only an instantiation's own (public) description counts
            continue
        graph = terms.named(q.graph_name)
        out.append(media_from_quads(graph.value,
                                    store.quads_for_pattern(graph, None, None, graph)))
    return _order(out)


def public_instantiation(store: Store, iri: str) -> tuple[Media, str] | None:
    """A public instantiation and its (public) record's IRI, or None."""
    node = NamedNode(iri)
    quads = list(store.quads_for_pattern(node, None, None, node))
    record = next((terms.value(q.object) for q in quads if q.predicate == DIGITAL_OF), None)
    if not quads or record is None or not public_graph_exists(store, record):
        return None
    return media_from_quads(iri, quads), record


# ------------------------------------------------------------------------- text
def page_text(home: Path, media: Media) -> list[ocr.Line]:
    """Stored OCR lines of a page (never computed here); [] when there are none."""
    try:
        return ocr.cached_ocr(home, media.digest) or []
    except LantaiError:
        return []


def transcript_text(home: Path, media: Media) -> list[transcripts.Cue]:
    try:
        return transcripts.transcript_cues(home, media.digest)
    except LantaiError:
        return []


def join_lines(lines: list[str]) -> str:
    """OCR lines as one text: a line break between two Chinese characters is dropped (a
    phrase that wraps, 电 | 机工程系, is still a phrase for the catalog's bigrams); other
    breaks stay (English words at line ends must not run together)."""
    out: list[str] = []
    for line in lines:
        if out and out[-1] and line and has_cjk(out[-1][-1]) and has_cjk(line[0]):
            out[-1] += line
        else:
            out.append(line)
    return "\n".join(out)


def media_texts(home: Path | str, media: Iterable[Media]) -> list[str]:
    """The text of the media, one string per page or transcript (bounded in total)."""
    home = Path(home)
    out: list[str] = []
    total = 0
    for m in media:
        if m.is_page:
            if not ocr.has_ocr(home, m.digest):  # a file check: most scans of a big ingest
                continue
            text = join_lines([line.text for line in page_text(home, m)])
        elif m.is_transcript:
            text = "\n".join(c.text for c in transcript_text(home, m))
        else:
            continue
        if not text:
            continue
        text = text[:MAX_INDEX_CHARS - total]
        out.append(text)
        total += len(text)
        if total >= MAX_INDEX_CHARS:
            break
    return out


def has_text(store: Store, record_iri: str) -> bool:
    """Whether a public record has searchable text: a transcript, or a page with OCR
    (made or to be made: every public page scan counts, its OCR is made on demand)."""
    return any(m.is_transcript or m.is_page for m in public_media(store, record_iri))


# ------------------------------------------------------------------------- catalog
def catalog_texts(repository, iri: str, public: bool) -> list[str]:
    """The catalog's text source: OCR and transcript text of a record or instantiation.

    Cheap for everything else (a look at the IRI): it runs for every object indexed."""
    if repository is None:
        return []
    parts = split_iri(iri, repository.base)
    if parts is None or parts[0] not in ("record", "recordset", "instantiation"):
        return []
    home = repository.home  # a str or Path (no Path built per object: 0.6 s per 55,000)
    store = repository.public if public else repository.working
    if parts[0] == "instantiation":
        m = _media_with_text(store, home, iri)
        return media_texts(home, [m]) if m is not None else []
    media = []
    for q in store.quads_for_pattern(None, DIGITAL_OF, NamedNode(iri), None):
        if q.graph_name == q.subject:  # the instantiation's own (live / public) description
            m = _media_with_text(store, home, q.subject.value)
            if m is not None:
                media.append(m)
    return media_texts(home, _order(media)) if media else []


def _media_with_text(store: Store, home: Path | str, iri: str) -> Media | None:
    """The instantiation as a page with OCR or a transcript, else None (most scans of an
    ingest have no OCR yet: they are not even put in order).

    A store that offers a ``memo`` (the catalog's view of a bulk ingest batch, emptied
    with each batch) keeps the answer: a scan is asked about for its record and for
    itself, which halves the look-ups of 19,700 scans at scale 0.05."""
    memo = getattr(store, "memo", None)
    if memo is not None and iri in memo:
        return memo[iri]
    m = _text_media(store, iri)
    if m is not None and not (m.is_transcript or (m.is_page and ocr.has_ocr(home, m.digest))):
        m = None
    if memo is not None:
        memo[iri] = m
    return m


def _text_media(store: Store, iri: str) -> Media | None:
    """A page or transcript instantiation, from two look-ups (its format, its digest)
    rather than its whole description: the text source runs for every instantiation.

    The catalog's view of a bulk ingest (``repo.catalog.ingestion``) holds the batch as
    text and can tell an object's own statements without making quads
    (``own_statements``, None for objects not in the batch): read from those, the same
    first format and first digest, 19,700 scans at scale 0.05 cost no look-up."""
    statements = store.own_statements(iri) if hasattr(store, "own_statements") else None
    if statements is not None:
        mime = next((v for p, _, v, _ in statements if p == MIME), "")
        if not (ocr.is_ocr_type(mime) or transcripts.is_transcript_type(mime)):
            return None
        digest = next((v for p, _, v, _ in statements if p == IDENTIFIER and DIGEST.match(v)),
                      "")
        return Media(iri=iri, key=iri.rsplit("/", 1)[-1], mime=mime, digest=digest)
    node = NamedNode(iri)
    mime = next((terms.value(q.object)
                 for q in store.quads_for_pattern(node, MIME_NODE, None, node)), "")
    if not (ocr.is_ocr_type(mime) or transcripts.is_transcript_type(mime)):
        return None
    digests = (terms.value(q.object)
               for q in store.quads_for_pattern(node, IDENTIFIER_NODE, None, node))
    digest = next((d for d in digests if DIGEST.match(d)), "")
    return Media(iri=iri, key=iri.rsplit("/", 1)[-1], mime=mime, digest=digest)


register_text_source(catalog_texts)


class MediaListener:
    """Re-indexes a record (and its instantiation) when a page scan or transcript of it
    that has text is added, changed or removed.

    The record's document carries its media's text, but a changeset that adds a scan does
    not touch the record, and a bulk ingest indexes each batch as it is built, before the
    other batches (and before other media of the same record) are in the stores. So: after
    a changeset, the records of the instantiations it touched are re-indexed; during an
    ingest they are collected and re-indexed once it has ended. Only media with text count
    (a page whose OCR exists, a transcript whose file is stored), decided from the objects
    themselves without reading the stores, so an ingest of 355,800 scans without OCR yet
    costs a look at each and nothing more. Documents that do not change are not rewritten
    (the maintainer compares digests).

    It follows the repository's listener protocol: called with the IRIs of each changeset,
    and, being ingest-aware, ``ingest_batch`` / ``ingest_written`` / ``ingest_end`` /
    ``ingest_abort`` during a bulk ingest (see :mod:`repo.ingest`)."""

    def __init__(self) -> None:
        self._ingesting = False
        self._waiting: set[str] = set()  # during an ingest: instantiations and records

    @staticmethod
    def _has_text(home: Path, m: Media) -> bool:
        if m.is_page:
            return ocr.has_ocr(home, m.digest)
        if m.is_transcript:
            return m.digest in ocr.file_store(home)
        return False

    def _targets_of(self, repository, obj) -> set[str]:
        """The instantiation ``obj`` and its record, if it has text (or was deleted)."""
        if obj is None or obj.type_name != "instantiation":
            return set()
        if obj.deleted:  # a tombstone knows no parent; the staff catalog knew it until now
            return {obj.iri, *self._former_record(repository, obj.iri)}
        m = media_from_quads(obj.iri, obj.description)
        if self._has_text(Path(repository.home), m):
            parent = obj.parent
            return {obj.iri, parent} if parent and parent != repository.root_iri else {obj.iri}
        return set()

    @staticmethod
    def _former_record(repository, iri: str) -> list[str]:
        """The container a deleted object was in, as its last committed staff document
        says (the removal is committed a moment after this listener runs)."""
        from repo.catalog import maintainer

        try:
            data = maintainer(repository).staff.lookup([iri]).get(iri) or {}
        except RuntimeError:
            return []
        return list(data.get("ancestors") or [])[:1]

    def _update(self, repository, targets: set[str]) -> None:
        from repo.catalog import maintainer

        if targets:
            maintainer(repository).update(sorted(targets))

    def __call__(self, repository, iris: set[str]) -> None:
        if self._ingesting:
            return  # the ingest's objects were looked at in ingest_batch
        targets: set[str] = set()
        for iri in iris:
            parts = split_iri(iri, repository.base)
            if parts is not None and parts[0] == "instantiation":
                targets |= self._targets_of(repository, repository.load(iri))
        self._update(repository, targets)

    def ingest_batch(self, repository, objs: list, description_nq: str, management_nt: str,
                     public_nq: str) -> None:
        self._ingesting = True
        for obj in objs:
            if getattr(obj, "type_name", None) == "instantiation":
                self._waiting |= self._targets_of(repository, obj)

    def ingest_written(self, repository, iris: list[str]) -> None:
        pass

    def ingest_end(self, repository) -> None:
        waiting, self._waiting, self._ingesting = self._waiting, set(), False
        self._update(repository, waiting)

    def ingest_abort(self, repository) -> None:
        self._waiting, self._ingesting = set(), False


# ------------------------------------------------------------------------- lantai ocr
OCR_ROLES = frozenset({"Editor", "Manager"})  # who may run OCR over records (`lantai ocr`)


@dataclass
class OCRRun:
    """What :func:`recognise_records` did."""

    pages: int = 0  # page scans found (live image instantiations)
    recognised: int = 0  # originals recognised now (one per distinct file)
    failed: dict[str, str] = field(default_factory=dict)  # scan path → one-line reason
    staff: int = 0  # catalog documents that changed
    public: int = 0


def page_scans(repository, user, ref: str | None) -> list[tuple[object, Media]]:
    """The live page scans (image instantiations) at ``ref`` and inside it (the whole
    site for None or ``/``), with their objects, in tree order.

    Raises NotFound for an unknown (or invisible) ``ref``, Forbidden unless ``user`` is an
    Editor or Manager there (site-wide for the whole site; local roles count)."""
    whole = ref is None or ref.strip() in ("", "/")
    if whole:
        if not OCR_ROLES & set(user.roles):
            raise Forbidden(f"{user.name} may not run OCR on the whole site "
                            "(needs the Editor or Manager role)")
    else:
        top = repository.get(user, ref)
        if not OCR_ROLES & repository.roles_on(user, top):
            raise Forbidden(f"{user.name} may not run OCR on {top.path} "
                            "(needs the Editor or Manager role there)")
    out = []
    for _level, obj in repository.walk(user, "/" if whole else ref):
        if obj.type_name != "instantiation" or obj.deleted:
            continue
        m = media_from_quads(obj.iri, obj.description)
        if m.is_page:
            out.append((obj, m))
    return out


def recognise_records(repository, user, ref: str | None = None, *, workers: int = 2,
                      force: bool = False,
                      progress: Callable[[int, int], None] | None = None) -> OCRRun:
    """``lantai ocr``: OCR the page scans at ``ref`` and inside it that have none yet
    (``force``: all of them again), then re-index them and their records in the staff and
    public catalogs, so that their text is searchable at once.

    Every scan under ``ref`` that has OCR is re-indexed, also those whose OCR was made
    earlier on demand (the public server makes it for ``/iiif/annotations/{id}/ocr`` but
    holds no repository, so the catalog has not seen it); the maintainer rewrites only the
    documents that change. A page that cannot be recognised is reported in ``failed`` and
    does not stop the others."""
    return recognise_scans(repository, page_scans(repository, user, ref), workers=workers,
                           force=force, progress=progress)


def recognise_scans(repository, scans: list[tuple[object, Media]], *, workers: int = 2,
                    force: bool = False,
                    progress: Callable[[int, int], None] | None = None) -> OCRRun:
    """:func:`recognise_records` for scans already found (and permitted) by
    :func:`page_scans`: the CLI checks before it shows a progress bar."""
    from repo.catalog import maintainer

    home = Path(repository.home)
    by_digest: dict[str, list] = {}
    for obj, m in scans:
        by_digest.setdefault(m.digest, []).append(obj)
    todo = [d for d in by_digest if force or not ocr.has_ocr(home, d)]
    errors = ocr.ocr_many(home, todo, workers=workers, progress=progress, force=force)
    run = OCRRun(pages=len(scans), recognised=len(todo) - len(errors))
    for digest, message in errors.items():
        for obj in by_digest[digest]:
            run.failed[obj.path] = message
        jobs.record(home, "ocr", digest, message, target=by_digest[digest][0].path)
    jobs.succeeded(home, "ocr", [d for d in todo if d not in errors])
    targets: set[str] = set()
    for digest, objs in by_digest.items():
        if digest in errors or not ocr.has_ocr(home, digest):
            continue
        for obj in objs:
            targets.add(obj.iri)
            if obj.parent and obj.parent != repository.root_iri:
                targets.add(obj.parent)
    if targets:
        catalog = maintainer(repository)
        run.staff, run.public = catalog.update(sorted(targets))
        catalog.flush()  # searchable now, by other processes too
    return run


def attach(repository) -> None:
    """Called by :func:`repo.catalog.attach` once the catalog maintainer is attached."""
    if not any(isinstance(x, MediaListener) for x in repository.listeners):
        repository.listeners.append(MediaListener())


__all__ = ["OCR_ROLES", "Media", "MediaListener", "OCRRun", "attach", "catalog_texts",
           "has_text", "join_lines", "media_from_quads", "media_texts", "natural_key",
           "page_scans", "page_text", "public_graph_exists", "public_instantiation",
           "public_media", "recognise_records", "recognise_scans", "split_iri",
           "transcript_text", "valid_key"]
