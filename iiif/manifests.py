"""Presentation 3 manifests of digitised public records, built with iiif-prezi3.

A record (an item, or a file that has scans of its own) is *digitised* when the publication
dataset holds at least one image, audio or video instantiation of it. Everything here reads
the publication dataset only, so a closed record, its instantiations and its transcripts
cannot reach a manifest: they are not in the store.

What becomes what (RiC-O → IIIF):

- the record's ``rico:title`` → ``label`` (zh and en language maps), ``rico:scopeAndContent``
  → ``summary``, reference code, dates, extent, creators, subjects, places, events, language
  → ``metadata``; the parent record set → ``partOf`` (its collection);
- an image instantiation → a Canvas with width/height and a painting annotation whose body
  has an ``ImageService3`` at ``/iiif/3/{key}``; several images → ``behavior: paged``;
- an audio or video instantiation → a Canvas with ``duration`` (from
  ``rico:instantiationExtent``, ISO 8601) and a ``placeholderCanvas`` showing its poster;
- a WebVTT instantiation derived from a recording (``rico:isOrWasDerivedFromInstantiation``)
  → a ``supplementing`` annotation on the recording's canvas (IIIF cookbook 0219) and a
  plain-text ``rendering`` of it (cookbook 0017);
- a JSON instantiation derived from a recording, ``{"segments": [{"start", "end",
  "title_zh", "title_en"}]}`` → ``structures``: time-coded Ranges (cookbook 0026). The table
  of contents is an archival object like the transcripts, stored and described, not code.

Order of canvases: the tree order of the instantiations, which the repository publishes as
``schema:position`` (a tree statement, like ``rico:isOrWasDigitalInstantiationOf``); data
without it falls back to the keys in natural order (``p2`` before ``p10``), and ``lantai
ingest media`` gives keys that keep the order the files were given in.

Speed: a 500-page manifest must build in ≤ 50 ms. Validating 3,000 pydantic models costs
several times that, so page canvases (all of one shape) are made as plain dicts unless
``validate=True``; every build checks its first page against prezi3, the tests build every
demo manifest both ways and compare, and validate the output against the IIIF JSON schema.
The instantiations are read with two SPARQL queries (columns per fact), not graph by graph.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import iiif_prezi3 as p3
from pyoxigraph import Literal, NamedNode, Store

from ontology import terms
from ontology.namespaces import DCTERMS, RDF, RDFS, RICO, RST, SCHEMA
from publisher.i18n import LANGS, UIText, date_range, ui_ptext
from repo.values import language_tag

PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
SEARCH_CONTEXT = "http://iiif.io/api/search/2/context.json"
MANIFEST_PROFILE = f'application/ld+json;profile="{PRESENTATION_CONTEXT}"'
IMAGE_PROFILE = "level2"
THUMB_SIZE = "!300,300"
AUDIO_POSTER = (640, 360)  # the generated poster of a recording (a waveform), in pixels
MAX_SEGMENTS_BYTES = 1 << 20  # a table of contents larger than this is ignored

_DURATION = re.compile(r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?"
                       r"(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")
_NATURAL = re.compile(r"(\d+)")

# metadata rows: (predicate, label, kind) — kind "text" for literals, "link" for other public
# objects (shown by their label), "lang" for ISO 639 language IRIs; the labels' Chinese is in
# the catalogs (context "iiif": these are the 档案 words of a viewer's metadata panel)
METADATA = (
    (RICO + "identifier", ui_ptext("iiif", "Reference code"), "text"),
    (RICO + "date", ui_ptext("iiif", "Date"), "text"),
    (RICO + "recordResourceExtent", ui_ptext("iiif", "Extent"), "text"),
    (RICO + "hasCreator", ui_ptext("iiif", "Creator"), "link"),
    (RICO + "hasOrganicProvenance", ui_ptext("iiif", "Provenance"), "link"),
    (RICO + "hasOrHadSubject", ui_ptext("iiif", "Subject"), "link"),
    (RICO + "isAssociatedWithPlace", ui_ptext("iiif", "Place"), "link"),
    (RICO + "isAssociatedWithEvent", ui_ptext("iiif", "Event"), "link"),
    (RICO + "hasOrHadLanguage", ui_ptext("iiif", "Language"), "lang"),
    (RICO + "conditionsOfAccess", ui_ptext("iiif", "Conditions of access"), "text"),
    (RICO + "conditionsOfUse", ui_ptext("iiif", "Conditions of use"), "text"),
)
LANGUAGE_NAMES = {"zh": ui_ptext("language", "Chinese"), "en": ui_ptext("language", "English"),
                  "ja": ui_ptext("language", "Japanese"), "ru": ui_ptext("language", "Russian"),
                  "fr": ui_ptext("language", "French"), "de": ui_ptext("language", "German")}
DATE = ui_ptext("iiif", "Date")
POSTER = ui_ptext("iiif", "Poster")
ATTRIBUTION = ui_ptext("iiif", "Attribution")
DESCRIPTION_TURTLE = ui_ptext("iiif", "RiC-O description (Turtle)")
DESCRIPTION_JSONLD = ui_ptext("iiif", "RiC-O description (JSON-LD)")


def lang_map_of(text: UIText) -> LangMap:
    """A catalog text as a IIIF language map: ``{"zh": ["日期"], "en": ["Date"]}``."""
    return {code: [value] for code, value in text.both().items()}


# ---------------------------------------------------------------------- reading the store
LangMap = dict[str, list[str]]


@dataclass
class Media:
    """One public instantiation, as the manifest needs it."""

    iri: str
    key: str
    mime: str
    digest: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    title: LangMap = field(default_factory=dict)
    language: str | None = None  # BCP 47
    derived_from: str | None = None
    position: int | None = None  # among the record's instantiations (schema:position)

    @property
    def kind(self) -> str:
        """Image, Sound, Video, Text, Dataset: the IIIF resource type of the file."""
        major = self.mime.split("/", 1)[0]
        if self.mime == "text/vtt":
            return "Text"
        return {"image": "Image", "audio": "Sound", "video": "Video"}.get(major, "Dataset")


def bcp47(language_iri: str) -> str:
    """``…/iso639-2/chi`` → ``zh``: IIIF language maps take BCP 47 tags."""
    code = language_iri.rsplit("/", 1)[-1]
    return language_tag(code) or code


def iso_seconds(text: str) -> float | None:
    """``PT23.614S`` (or ``PT1H2M3S``, ``P1DT…``) → seconds; None if not a duration."""
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if m is None or not any(m.groupdict().values()):
        return None
    d, h, mi, s = (float(m[g] or 0) for g in ("d", "h", "m", "s"))
    return round(d * 86400 + h * 3600 + mi * 60 + s, 3)


def order(m: Media) -> tuple:
    """Tree order (``schema:position``, which the repository publishes for instantiations);
    then the key in natural order (``p2`` before ``p10``) for data without positions."""
    return (m.position if m.position is not None else 1 << 40, natural_key(m.key), m.iri)


def nav_date(text: str | None) -> dt.datetime | None:
    """``1957``, ``1957-09`` or ``1957-09-01`` (the record's beginning) → a UTC navDate,
    which viewers use to place a manifest on a timeline."""
    m = re.match(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$", text or "")
    if m is None:
        return None
    try:
        return dt.datetime(int(m[1]), int(m[2] or 1), int(m[3] or 1), tzinfo=dt.UTC)
    except ValueError:
        return None


def natural_key(text: str) -> list:
    return [int(t) if t.isdigit() else t for t in _NATURAL.split(text)]


class PublicGraph:
    """Small, fast reads of the publication dataset (one object's graph at a time)."""

    def __init__(self, store: Store, base: str) -> None:
        self.store = store
        self.base = base

    def statements(self, iri: str) -> dict[str, list]:
        out: dict[str, list] = {}
        node = NamedNode(iri)
        for q in self.store.quads_for_pattern(node, None, None, node):
            out.setdefault(q.predicate.value, []).append(q.object)
        return out

    def exists(self, iri: str) -> bool:
        return self.store.contains_named_graph(NamedNode(iri))

    def lang_map(self, iri: str, preds: Iterable[str] = (RICO + "title", RICO + "name",
                                                         SCHEMA + "name", RDFS + "label"),
                 stmts: dict[str, list] | None = None) -> LangMap:
        stmts = stmts if stmts is not None else self.statements(iri)
        for pred in preds:
            found = lang_map(stmts.get(pred, []))
            if found:
                return found
        return {}

    def subjects(self, pred: str, obj: str) -> list[str]:
        return [terms.value(q.subject) for q in self.store.quads_for_pattern(
            None, NamedNode(pred), NamedNode(obj), None)]

    def media_of(self, record_iri: str) -> list[Media]:
        """The public instantiations of a record, in natural order of their keys.

        One SPARQL query with a column per fact: three times less CPU than reading each
        instantiation's graph quad by quad, which matters for a 500-page record."""
        if not _SAFE_IRI.match(record_iri):
            return []
        found: dict[str, Media] = {}
        # the publication dataset holds each object's statements in its own graph only, so
        # the query reads inside ``GRAPH ?i`` (a tenth faster than the union default graph,
        # which must remove duplicates across graphs); one row per title (and language):
        # tuples, not names, are the fast way to read them
        rows = terms.solutions(self.store.query(_MEDIA_QUERY % record_iri))
        for i, mime, digest, w, h, ext, lang_iri, derived, title, pos in rows:
            iri = i.value
            m = found.get(iri)
            if m is None:
                m = found[iri] = Media(
                    iri=iri, key=iri.rsplit("/", 1)[-1], mime=mime.value,
                    width=_int(w), height=_int(h),
                    duration=iso_seconds(ext.value) if ext is not None else None,
                    derived_from=derived.value if derived is not None else None,
                    position=_int(pos))
            if digest is not None and m.digest is None and digest.value.startswith("sha256:"):
                m.digest = digest.value
            if lang_iri is not None and m.language is None:
                m.language = bcp47(lang_iri.value)
            if isinstance(title, Literal):
                texts = m.title.setdefault(title.language or "none", [])
                if title.value not in texts:
                    texts.append(title.value)
        out = sorted(found.values(), key=order)
        for m in out:
            m.title = dict(sorted(m.title.items(), key=lambda kv: _LANG_ORDER.get(kv[0], 9)))
        return out

    def media(self, iri: str) -> Media | None:
        s = self.statements(iri)
        mime = _first_text(s.get(DCTERMS + "format"))
        if not mime:
            return None
        digest = next((o.value for o in s.get(RICO + "identifier", [])
                       if isinstance(o, Literal) and o.value.startswith("sha256:")), None)
        langs = [bcp47(o.value) for o in s.get(RICO + "hasOrHadLanguage", [])
                 if isinstance(o, NamedNode)]
        derived = s.get(RICO + "isOrWasDerivedFromInstantiation", [])
        extent = _first_text(s.get(RICO + "instantiationExtent"))
        return Media(iri=iri, key=iri.rsplit("/", 1)[-1], mime=mime, digest=digest,
                     width=_first_int(s.get(RICO + "width")),
                     height=_first_int(s.get(RICO + "height")),
                     duration=iso_seconds(extent) if extent else None,
                     title=lang_map(s.get(RICO + "title", [])),
                     language=langs[0] if langs else None,
                     derived_from=derived[0].value if derived else None)

    def record_set_type(self, iri: str, stmts: dict[str, list] | None = None) -> str | None:
        stmts = stmts if stmts is not None else self.statements(iri)
        rst = stmts.get(RICO + "hasRecordSetType", [])
        return rst[0].value.removeprefix(RST) if rst else None

    def is_record_like(self, stmts: dict[str, list]) -> bool:
        types = {o.value for o in stmts.get(RDF + "type", [])}
        return bool(types & {RICO + "Record", RICO + "RecordSet", RICO + "RecordResource"})


_MEDIA_QUERY = """
PREFIX rico: <https://www.ica.org/standards/RiC/ontology#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX schema: <http://schema.org/>
SELECT ?i ?mime ?id ?w ?h ?ext ?lang ?der ?t ?pos WHERE { GRAPH ?i {
  ?i rico:isOrWasDigitalInstantiationOf <%s> ; dcterms:format ?mime .
  OPTIONAL { ?i schema:position ?pos }
  OPTIONAL { ?i rico:identifier ?id }
  OPTIONAL { ?i rico:width ?w } OPTIONAL { ?i rico:height ?h }
  OPTIONAL { ?i rico:instantiationExtent ?ext }
  OPTIONAL { ?i rico:hasOrHadLanguage ?lang }
  OPTIONAL { ?i rico:isOrWasDerivedFromInstantiation ?der }
  OPTIONAL { ?i rico:title ?t }
} }"""
_SAFE_IRI = re.compile(r"^https?://[^<>\"{}|^`\\\s]+$")


def _int(term) -> int | None:
    try:
        return int(term.value) if term is not None else None
    except ValueError:
        return None


def lang_map(objects: Iterable) -> LangMap:
    out: LangMap = {}
    for o in objects:
        if isinstance(o, Literal):
            out.setdefault(o.language or "none", []).append(o.value)
    return dict(sorted(out.items(), key=lambda kv: _LANG_ORDER.get(kv[0], 9)))


_LANG_ORDER = {"zh": 0, "en": 1, "none": 2}


def _first_text(objs: list | None) -> str | None:
    return next((o.value for o in objs or [] if isinstance(o, Literal)), None)


def _first_int(objs: list | None) -> int | None:
    text = _first_text(objs)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def is_visual(m: Media) -> bool:
    return m.kind in ("Image", "Sound", "Video")


def is_digitised(graph: PublicGraph, iri: str) -> bool:
    """Has the record a public image, audio or video instantiation?"""
    for inst in graph.subjects(RICO + "isOrWasDigitalInstantiationOf", iri):
        mime = _first_text(graph.statements(inst).get(DCTERMS + "format")) or ""
        if mime.split("/", 1)[0] in ("image", "audio", "video"):
            return True
    return False


# ---------------------------------------------------------------------- URLs
@dataclass(frozen=True)
class Urls:
    """Every URL a manifest names, in one place (see iiif/__init__.py for the layout)."""

    base: str

    def record(self, iri: str) -> tuple[str, str]:
        kind, key = iri.removeprefix(self.base + "/id/").split("/", 1)
        return kind, key

    def manifest(self, kind: str, key: str) -> str:
        return f"{self.base}/iiif/manifest/{kind}/{key}"

    def collection(self, kind: str, key: str) -> str:
        return f"{self.base}/iiif/collection/{kind}/{key}"

    def image_service(self, key: str) -> str:
        return f"{self.base}/iiif/3/{key}"

    def media(self, key: str) -> str:
        return f"{self.base}/iiif/media/{key}"

    def poster(self, key: str) -> str:
        return f"{self.base}/iiif/media/{key}/poster.jpg"

    def transcript_text(self, key: str) -> str:
        return f"{self.base}/iiif/media/{key}/text"

    def ocr(self, key: str) -> str:
        return f"{self.base}/iiif/annotations/{key}/ocr"

    def cues(self, key: str) -> str:
        return f"{self.base}/iiif/annotations/{key}/transcript"

    def search(self, kind: str, key: str) -> str:
        return f"{self.base}/iiif/search/{kind}/{key}"

    def autocomplete(self, kind: str, key: str) -> str:
        return f"{self.base}/iiif/autocomplete/{kind}/{key}"


@dataclass(frozen=True)
class Site:
    """What a manifest says about the archive: from the site's settings."""

    base: str
    name: LangMap
    rights: str
    # what the OCR and search parts offer (iiif.search_api; empty when it does not answer)
    has_ocr: Callable[[Media], bool] = lambda m: False
    has_cues: Callable[[Media], bool] = lambda m: False  # a transcript's cue annotations
    services: Callable[[str, str], list[dict]] = lambda kind, key: []

    @property
    def urls(self) -> Urls:
        return Urls(self.base)


# ---------------------------------------------------------------------- building blocks
def make(cls, validate: bool, **kw):
    """A prezi3 object: validated, or (the fast path for repeated page objects) constructed."""
    kw = {k: v for k, v in kw.items() if v is not None}
    return cls(**kw) if validate else cls.model_construct(**kw)


def image_service(urls: Urls, key: str, validate: bool):
    return make(p3.ServiceV3, validate, id=urls.image_service(key), type="ImageService3",
                profile=IMAGE_PROFILE)


def thumbnail(urls: Urls, m: Media, validate: bool) -> list:
    """An Image API thumbnail (with its service) of an image; a recording's poster."""
    if m.kind == "Image":
        w, h = _fit(m.width, m.height, 300)
        return [make(p3.AnnotationBody, validate,
                     id=f"{urls.image_service(m.key)}/full/{THUMB_SIZE}/0/default.jpg",
                     type="Image", format="image/jpeg", width=w, height=h,
                     service=[image_service(urls, m.key, validate)])]
    w, h = poster_size(m)
    return [make(p3.AnnotationBody, validate, id=urls.poster(m.key), type="Image",
                 format="image/jpeg", width=w, height=h)]


def _fit(w: int | None, h: int | None, box: int) -> tuple[int | None, int | None]:
    if not w or not h:
        return None, None
    scale = min(1.0, box / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def poster_size(m: Media) -> tuple[int, int]:
    if m.kind == "Video" and m.width and m.height:
        return m.width, m.height
    return AUDIO_POSTER


def label_or(m: LangMap, fallback: str) -> LangMap:
    return m or {"none": [fallback]}


def image_canvas_dict(site: Site, manifest_id: str, m: Media, n: int) -> dict:
    """The fast path of :func:`image_canvas`: the same canvas as a plain dict.

    A 500-page manifest is 3,000 objects of this shape; making them as dicts takes a tenth
    of the time of prezi3 models. :func:`build_manifest` checks the first page against
    prezi3 on every build, and the tests check every demo page."""
    urls = site.urls
    cid = f"{manifest_id}/canvas/{m.key}"
    service = urls.image_service(m.key)
    canvas: dict = {"id": cid, "type": "Canvas", "label": label_or(m.title, str(n))}
    if m.height is not None:
        canvas["height"] = m.height
    if m.width is not None:
        canvas["width"] = m.width
    body: dict = {"id": f"{service}/full/max/0/default.jpg", "type": "Image"}
    if m.height is not None:
        body["height"] = m.height
    if m.width is not None:
        body["width"] = m.width
    body["service"] = [{"id": service, "type": "ImageService3", "profile": IMAGE_PROFILE}]
    body["format"] = "image/jpeg"
    canvas["items"] = [{"id": f"{cid}/page", "type": "AnnotationPage",
                        "items": [{"id": f"{cid}/page/image", "type": "Annotation",
                                   "motivation": "painting", "body": body, "target": cid}]}]
    if site.has_ocr(m):
        canvas["annotations"] = [{"id": urls.ocr(m.key), "type": "AnnotationPage"}]
    return canvas


def image_canvas(site: Site, manifest_id: str, m: Media, n: int, validate: bool):
    urls = site.urls
    cid = f"{manifest_id}/canvas/{m.key}"
    body = make(p3.AnnotationBody, validate,
                id=f"{urls.image_service(m.key)}/full/max/0/default.jpg", type="Image",
                format="image/jpeg", width=m.width, height=m.height,
                service=[image_service(urls, m.key, validate)])
    anno = make(p3.Annotation, validate, id=f"{cid}/page/image", type="Annotation",
                motivation="painting", body=body, target=cid)
    page = make(p3.AnnotationPage, validate, id=f"{cid}/page", type="AnnotationPage",
                items=[anno])
    annotations = None
    if site.has_ocr(m):
        annotations = [make(p3.AnnotationPageRef, validate, id=urls.ocr(m.key),
                            type="AnnotationPage")]
    return make(p3.Canvas, validate, id=cid, type="Canvas",
                label=label_or(m.title, str(n)), width=m.width, height=m.height,
                items=[page], annotations=annotations)


def av_canvas(site: Site, manifest_id: str, m: Media, n: int, related: list[Media],
              validate: bool):
    """A Sound or Video canvas with duration, poster placeholder and transcripts."""
    urls = site.urls
    cid = f"{manifest_id}/canvas/{m.key}"
    video = m.kind == "Video"
    body = make(p3.AnnotationBody, True, id=urls.media(m.key), type=m.kind, format=m.mime,
                duration=m.duration, width=m.width if video else None,
                height=m.height if video else None)
    anno = make(p3.Annotation, True, id=f"{cid}/page/media", type="Annotation",
                motivation="painting", body=body, target=cid)
    page = make(p3.AnnotationPage, True, id=f"{cid}/page", type="AnnotationPage",
                items=[anno])
    pw, ph = poster_size(m)
    pid = f"{cid}/placeholder"
    poster = make(p3.AnnotationBody, True, id=urls.poster(m.key), type="Image",
                  format="image/jpeg", width=pw, height=ph)
    placeholder = make(p3.PlaceholderCanvas, True, id=pid, type="Canvas",
                       label=lang_map_of(POSTER), width=pw, height=ph,
                       items=[make(p3.AnnotationPage, True, id=f"{pid}/page",
                                   type="AnnotationPage",
                                   items=[make(p3.Annotation, True, id=f"{pid}/page/poster",
                                               type="Annotation", motivation="painting",
                                               body=poster, target=pid)])])
    transcripts = sorted((t for t in related if t.mime == "text/vtt"),
                         key=lambda t: (_LANG_ORDER.get(t.language or "", 9), t.key))
    annotations = rendering = None
    if transcripts:
        items = []
        rendering = []
        for t in transcripts:
            label = label_or(t.title, "WebVTT")
            items.append(make(p3.Annotation, True, id=f"{cid}/transcripts/{t.key}",
                              type="Annotation", motivation="supplementing",
                              body=make(p3.AnnotationBody, True, id=urls.media(t.key),
                                        type="Text", format="text/vtt", label=label,
                                        language=t.language),
                              target=cid))
            rendering.append(make(p3.LinkedResource, True, id=urls.transcript_text(t.key),
                                  type="Text", format="text/plain", label=label,
                                  language=[t.language] if t.language else None))
        # the WebVTT files (viewers that play captions). Each transcript's cues, as text
        # annotations targeting canvas#t=start,end, are served at urls.cues(key) but not listed
        # here: Clover (the site's viewer) turns every text annotation listed on an A/V canvas
        # into a caption <track>, and made ten broken ones of the demo's ten cues.
        annotations = [make(p3.AnnotationPage, True, id=f"{cid}/transcripts",
                            type="AnnotationPage", items=items)]
    return make(p3.Canvas, True, id=cid, type="Canvas", label=label_or(m.title, str(n)),
                duration=m.duration, width=m.width if video else None,
                height=m.height if video else None, items=[page], annotations=annotations,
                rendering=rendering, placeholderCanvas=placeholder,
                thumbnail=thumbnail(urls, m, True))


def read_segments(home: Path | None, m: Media) -> list[dict]:
    """The segments of a table-of-contents JSON instantiation (empty if unusable), read
    from the site's file store at ``home`` (decrypted when sealed)."""
    if home is None or not m.digest:
        return []
    from preservation.crypt import DecryptionError
    from repo.errors import LantaiError
    from repo.files import FileStore

    try:
        with FileStore.for_site(home) as store:
            if store.size(m.digest) > MAX_SEGMENTS_BYTES:
                return []
            with store.open(m.digest) as fh:
                data = json.loads(fh.read().decode("utf-8"))
    except (LantaiError, DecryptionError, OSError, ValueError, UnicodeDecodeError):
        return []
    segments = data.get("segments") if isinstance(data, dict) else None
    out = []
    for s in segments if isinstance(segments, list) else []:
        try:
            start, end = float(s["start"]), float(s["end"])
        except (KeyError, TypeError, ValueError):
            continue
        title = s.get("title") if isinstance(s.get("title"), dict) else {
            lang: s[f"title_{lang}"] for lang in ("zh", "en") if s.get(f"title_{lang}")}
        if 0 <= start < end:
            out.append({"start": start, "end": end,
                        "label": {k: [str(v)] for k, v in title.items() if v}})
    return out


def _t(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def table_of_contents(manifest_id: str, label: LangMap, av: list[tuple[Media, list[dict]]]):
    """Ranges with ``#t=`` fragments, one per interview segment (IIIF cookbook 0026)."""
    ranges = []
    for m, segments in av:
        cid = f"{manifest_id}/canvas/{m.key}"
        items = []
        for n, seg in enumerate(segments, start=1):
            end = min(seg["end"], m.duration) if m.duration else seg["end"]
            if seg["start"] >= end:
                continue
            items.append(make(p3.Range, True, id=f"{manifest_id}/range/{m.key}-{n}",
                              type="Range", label=label_or(seg["label"], f"{n}"),
                              items=[make(p3.CanvasRef, True,
                                          id=f"{cid}#t={_t(seg['start'])},{_t(end)}",
                                          type="Canvas")]))
        if items:
            ranges.append(make(p3.Range, True, id=f"{manifest_id}/range/{m.key}", type="Range",
                               label=label, items=items))
    return ranges


def metadata(graph: PublicGraph, stmts: dict[str, list]) -> list[dict]:
    rows = []
    for pred, label, kind in METADATA:
        objs = stmts.get(pred, [])
        if not objs:
            continue
        value: LangMap = {}
        if kind == "text":
            value = lang_map(objs)
        elif kind == "lang":
            codes = sorted({bcp47(o.value) for o in objs if isinstance(o, NamedNode)})
            value = {lang: [LANGUAGE_NAMES[c].in_lang(lang) if c in LANGUAGE_NAMES else c
                            for c in codes] for lang in LANGS}
        else:
            for o in sorted(objs, key=lambda o: o.value):
                if not isinstance(o, NamedNode) or not graph.exists(o.value):
                    continue
                names = graph.lang_map(o.value)
                for lang in ("zh", "en"):
                    text = (names.get(lang) or names.get("none") or
                            next(iter(names.values()), [o.value]))[0]
                    value.setdefault(lang, []).append(text)
        if pred == RICO + "date" and set(value) == {"none"}:
            # a date written without a language ("2016年4月15日"): English readers get the
            # ISO dates in words, so an English viewer shows no Chinese date
            english = date_range(*_dates(stmts), "en")
            if english:
                value = {"zh": value["none"], "en": [english]}
        if value and any(value.values()):
            rows.append({"label": lang_map_of(label), "value": value})
    begin, end = _dates(stmts)
    if begin and not stmts.get(RICO + "date"):
        value = {lang: [date_range(begin, end, lang) or begin] for lang in ("zh", "en")}
        rows.insert(1, {"label": lang_map_of(DATE), "value": value})
    return rows


def _dates(stmts: dict[str, list]) -> tuple[str | None, str | None]:
    return _first_text(stmts.get(RICO + "beginningDate")), _first_text(stmts.get(RICO + "endDate"))


def descriptive(site: Site, graph: PublicGraph, iri: str, stmts: dict[str, list],
                label: LangMap) -> dict:
    """Properties manifests and collections share: summary, rights, provider, links."""
    urls = site.urls
    out: dict = {
        "metadata": metadata(graph, stmts) or None,
        "summary": lang_map(stmts.get(RICO + "scopeAndContent", [])) or None,
        "requiredStatement": {"label": lang_map_of(ATTRIBUTION),
                              "value": {lang: [f"{names[0]}"]
                                        for lang, names in site.name.items()}},
        "rights": site.rights,
        "provider": [{"id": f"{site.base}/", "type": "Agent", "label": site.name,
                      "homepage": [{"id": f"{site.base}/", "type": "Text",
                                    "label": site.name, "format": "text/html"}]}],
        "homepage": [{"id": iri, "type": "Text", "label": label, "format": "text/html"}],
        "seeAlso": [{"id": f"{iri}.ttl", "type": "Dataset", "format": "text/turtle",
                     "profile": "https://www.ica.org/standards/RiC/ontology",
                     "label": lang_map_of(DESCRIPTION_TURTLE)},
                    {"id": f"{iri}.jsonld", "type": "Dataset", "format": "application/ld+json",
                     "profile": "https://www.ica.org/standards/RiC/ontology",
                     "label": lang_map_of(DESCRIPTION_JSONLD)}],
    }
    parent = next((o.value for o in stmts.get(RICO + "isDirectlyIncludedIn", [])
                   if isinstance(o, NamedNode) and graph.exists(o.value)), None)
    if parent is not None:
        pkind, pkey = urls.record(parent)
        out["partOf"] = [{"id": urls.collection(pkind, pkey), "type": "Collection",
                          "label": label_or(graph.lang_map(parent), pkey)}]
    return out


# ---------------------------------------------------------------------- the manifest
def build_manifest(store: Store, site: Site, kind: str, key: str, *,
                   home: Path | None = None, validate: bool = False) -> dict | None:
    """The manifest of the public record ``{base}/id/{kind}/{key}`` as a JSON-ready dict,
    or None when there is none (not public, not a record, or nothing digitised)."""
    graph = PublicGraph(store, site.base)
    urls = site.urls
    iri = f"{site.base}/id/{kind}/{key}"
    if kind not in ("record", "recordset") or not graph.exists(iri):
        return None
    stmts = graph.statements(iri)
    if not graph.is_record_like(stmts):
        return None
    media = graph.media_of(iri)
    visual = [m for m in media if is_visual(m)]
    if not visual:
        return None
    mid = urls.manifest(kind, key)
    label = label_or(graph.lang_map(iri, stmts=stmts), key)
    derived: dict[str, list[Media]] = {}
    for m in media:
        if m.derived_from:
            derived.setdefault(m.derived_from, []).append(m)
    canvases, av = [], []
    images = [m for m in visual if m.kind == "Image"]
    checked = False
    for n, m in enumerate(visual, start=1):
        if m.kind == "Image" and validate:
            canvases.append(_dump(image_canvas(site, mid, m, n, True)))
        elif m.kind == "Image":
            canvas = image_canvas_dict(site, mid, m, n)
            if not checked:  # the fast path must say what prezi3 says
                checked = True
                if canvas != _dump(image_canvas(site, mid, m, n, True)):
                    raise AssertionError(f"{mid}: fast canvas differs from prezi3's")
            canvases.append(canvas)
        else:
            related = derived.get(m.iri, [])
            canvases.append(av_canvas(site, mid, m, n, related, validate))
            segments = [s for t in related if t.mime == "application/json"
                        for s in read_segments(home, t)]
            av.append((m, segments))
    props = descriptive(site, graph, iri, stmts, label)
    searchable = (any(site.has_ocr(m) for m in images[:1])
                  or any(m.mime == "text/vtt" for m in media))
    services = site.services(kind, key) if searchable else []
    first = visual[0]
    manifest = make(
        p3.Manifest, True, id=mid, label=label, **{k: v for k, v in props.items() if v},
        thumbnail=thumbnail(urls, first, True),
        behavior=["paged"] if len(images) > 1 else None,
        viewingDirection="left-to-right" if len(images) > 1 else None,
        service=services or None,
        navDate=nav_date(_first_text(stmts.get(RICO + "beginningDate"))),
        structures=table_of_contents(mid, label, av) or None)
    out = manifest.model_dump(exclude_none=True, by_alias=True, mode="json", warnings=False)
    out.pop("@context", None)
    out["items"] = [c if isinstance(c, dict) else _dump(c) for c in canvases]
    searchable = any(str(s.get("type", "")).startswith("Search") for s in services)
    context = [SEARCH_CONTEXT, PRESENTATION_CONTEXT] if searchable else PRESENTATION_CONTEXT
    return {"@context": context, **out}


def _dump(model) -> dict:
    return model.model_dump(exclude_none=True, by_alias=True, mode="json", warnings=False)


def manifest_ref(graph: PublicGraph, site: Site, iri: str) -> dict | None:
    """How a collection lists a digitised record: id, type, label, thumbnail."""
    media = [m for m in graph.media_of(iri) if is_visual(m)]
    if not media:
        return None
    kind, key = site.urls.record(iri)
    thumb = thumbnail(site.urls, media[0], True)[0].model_dump(
        exclude_none=True, by_alias=True, mode="json", warnings=False)
    return {"id": site.urls.manifest(kind, key), "type": "Manifest",
            "label": label_or(graph.lang_map(iri), key), "thumbnail": [thumb]}


__all__ = [
    "MANIFEST_PROFILE",
    "PRESENTATION_CONTEXT",
    "Media",
    "PublicGraph",
    "Site",
    "Urls",
    "bcp47",
    "build_manifest",
    "is_digitised",
    "iso_seconds",
    "manifest_ref",
    "natural_key",
]
