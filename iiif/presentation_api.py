"""IIIF Presentation 3 over HTTP: manifests, collections, the media files they play, a viewer.

Routes (see iiif/__init__.py for the whole layout):

- ``/iiif/manifest/{kind}/{key}``            the manifest of a digitised public record
- ``/iiif/manifest/{kind}/{key}/{…}``        any resource inside it by its id (canvases,
  annotation pages, annotations, ranges): every id we emit dereferences
- ``/iiif/collection/{kind}/{key}``          the collection of a public record set
- ``/iiif/media/{key}``                      the original of a public audio, video, WebVTT or
  table-of-contents instantiation (byte ranges, so players can seek)
- ``/iiif/media/{key}/poster.jpg``           a recording's poster (derivative, made on demand)
- ``/iiif/media/{key}/text``                 a WebVTT transcript as plain text (``rendering``)

Only the publication dataset is read; anything not in it is a 404 that looks exactly like
a key that never existed. Documents are cached per publication generation
(:func:`publisher.dataset.read_generation`): a publish or withdraw moves the generation and
the next request rebuilds. :func:`init_app` registers the record-page hooks: a ``<link
rel="alternate">`` (and HTTP ``Link``) to the manifest, and the viewer panel.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, cast

import orjson
from flask import Blueprint, Flask, Response, abort, current_app, request

if TYPE_CHECKING:  # current_app is typed Flask, but is the proxy to it
    from werkzeug.local import LocalProxy
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse
from werkzeug.wsgi import wrap_file

from iiif import caching, object_panel, viewer_asset
from iiif.collections import build_collection
from iiif.manifests import (
    MANIFEST_PROFILE,
    PRESENTATION_CONTEXT,
    Media,
    PublicGraph,
    Site,
    build_manifest,
    is_digitised,
)
from iiif.transcripts import transcript_cues
from publisher.dataset import public_store, read_generation
from publisher.gone import absent
from publisher.i18n import ui_ptext, ui_text
from repo.errors import LantaiError
from repo.files import FileStore

bp = Blueprint("iiif_presentation_api", __name__)

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
KINDS = ("record", "recordset")
SERVED_MEDIA = ("audio/", "video/", "text/vtt", "application/json")
CACHE_ENTRIES = 256
MEDIA_BUFFER = 64 * 1024  # bytes per read while a recording is sent (a sealed chunk)
LANGS = ("zh", "en")  # the archive's languages, its own first
OCR_TYPES = frozenset({"image/jpeg", "image/png", "image/tiff", "image/webp", "image/jp2"})
CORS = {"Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Headers": "Accept, Accept-Language, Range",
        "Access-Control-Expose-Headers": "Content-Length, Content-Range, ETag, Link"}


# ---------------------------------------------------------------------- cache
class GenerationCache:
    """Built documents for one publication generation; emptied when the generation moves."""

    def __init__(self, size: int = CACHE_ENTRIES) -> None:
        self.size = size
        self.generation: str | None = None
        self.entries: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, generation: str, key: tuple, build):
        with self.lock:
            if generation != self.generation:
                self.entries.clear()
                self.generation = generation
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        value = build()
        with self.lock:
            if generation == self.generation:
                self.entries[key] = value
                while len(self.entries) > self.size:
                    self.entries.popitem(last=False)
        return value


def _cache() -> GenerationCache:
    return current_app.extensions.setdefault("iiif.presentation.cache", GenerationCache())


def _generation() -> str:
    return read_generation(current_app.config["LANTAI_HOME"])


# ---------------------------------------------------------------------- site facts
def site_for(app: Flask) -> Site:
    """The archive's facts for manifests, and the OCR and search services when they exist
    (iiif.search_api: annotation pages per page scan, SearchService2 per record)."""
    settings = app.config["SETTINGS"]
    base = app.config["BASE"]
    url_map = app.url_map

    def has_route(path: str) -> bool:
        try:
            url_map.bind("localhost").match(path, method="GET")
        except HTTPException:
            return False
        return True

    ocr_route = has_route("/iiif/annotations/x/ocr")
    search_route = has_route("/iiif/search/record/x")

    def has_ocr(m: Media) -> bool:
        return ocr_route and m.mime in OCR_TYPES

    def has_cues(m: Media) -> bool:  # the same blueprint serves a transcript's cues
        return ocr_route and m.mime == "text/vtt"

    def services(kind: str, key: str) -> list[dict]:
        """Called for records with page scans or transcripts (iiif.search_api.has_text's
        rule, decided from the media the manifest has read already)."""
        if not search_route:
            return []
        try:
            from iiif import search_api
            return search_api.search_services(kind, key, base)
        except (ImportError, AttributeError):
            return []

    return Site(base=base, name={"zh": [settings.site_name_zh], "en": [settings.site_name_en]},
                rights=getattr(settings, "iiif_rights",
                               "http://rightsstatements.org/vocab/CNE/1.0/"),
                has_ocr=has_ocr, has_cues=has_cues, services=services)


def manifest_document(kind: str, key: str, lang: str = LANGS[0]) -> bytes | None:
    """The manifest as JSON bytes (cached per generation), or None; ``lang`` first in every
    language map (see :func:`prefer_language`)."""
    app = cast("LocalProxy[Flask]", current_app)._get_current_object()

    def build() -> bytes | None:
        doc = build_manifest(public_store(), site_for(app), kind, key,
                             home=app.config["LANTAI_HOME"])
        return None if doc is None else _dumps(doc)
    return _in_language(("manifest", kind, key), build, lang)


def collection_document(kind: str, key: str, lang: str = LANGS[0]) -> bytes | None:
    app = cast("LocalProxy[Flask]", current_app)._get_current_object()

    def build() -> bytes | None:
        doc = build_collection(public_store(), site_for(app), kind, key)
        return None if doc is None else _dumps(doc)
    return _in_language(("collection", kind, key), build, lang)


def _in_language(key: tuple, build, lang: str) -> bytes | None:
    """The document built once per generation (archive's language first), and its variant
    with ``lang`` first derived from those bytes (no second build from the store)."""
    generation = _generation()
    body = _cache().get(generation, key, build)
    if body is None or lang == LANGS[0]:
        return body
    return _cache().get(generation, (*key, lang),
                        lambda: _dumps(prefer_language(_loads(body), lang)))


# ---------------------------------------------------------------------- languages
LANG_TAG = re.compile(r"^(?:none|[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*)$")


def preferred_language() -> str:
    """``zh`` or ``en``, by the request's ``Accept-Language`` (``zh`` when it names neither).

    Viewers such as Clover and Mirador show the *first* language of a label's language map
    unless they are told otherwise; our viewer sends the page's language, other viewers send
    the browser's, so an English reader sees English labels. The map's contents never change,
    only the order of its keys (``Vary: Accept-Language``)."""
    return request.accept_languages.best_match(LANGS, default=LANGS[0])


def _is_language_map(node: dict) -> bool:
    for k, v in node.items():
        if type(v) is not list or not LANG_TAG.match(k) or not all(type(t) is str for t in v):
            return False
    return bool(node)


def _first(node: dict, lang: str) -> dict:
    first = [k for k in node if k == lang or k.startswith(lang + "-")]
    return {k: node[k] for k in first + [k for k in node if k not in first]} if first else node


def prefer_language(node, lang: str):
    """``node`` with ``lang`` (and its subtags, ``en-GB``) first in every language map.
    Works in place on ``node`` (a document just parsed, so nobody else holds it)."""
    if type(node) is dict:
        if _is_language_map(node):
            return _first(node, lang)
        for k, v in node.items():
            if type(v) is dict or type(v) is list:
                node[k] = prefer_language(v, lang)
    elif type(node) is list:
        for i, v in enumerate(node):
            if type(v) is dict or type(v) is list:
                node[i] = prefer_language(v, lang)
    return node


def _dumps(doc: dict) -> bytes:
    """Compact UTF-8 JSON by orjson (a dependency): a 500-page manifest in 0.3 ms instead of
    4 ms with the json module, a tenth of the uncached budget."""
    return orjson.dumps(doc)


def _loads(body: bytes) -> Any:
    return orjson.loads(body)


def _json_response(body: bytes, lang: str = LANGS[0]) -> BaseResponse:
    accept = request.headers.get("Accept", "")
    mimetype = MANIFEST_PROFILE if "application/ld+json" in accept else "application/json"
    resp = Response(body, mimetype=None, content_type=mimetype)
    resp.headers.update(CORS)
    resp.headers["Vary"] = "Accept, Accept-Language"
    resp.headers["Content-Language"] = ", ".join(LANGS)
    resp.set_etag(f"{_generation()}-{lang}-{len(body)}")
    return resp.make_conditional(request)  # Cache-Control: iiif.caching (revalidate)


@bp.after_request
def _cors(resp: Response) -> Response:
    """CORS on every answer of these routes, 404s included (viewers on other sites)."""
    for k, v in CORS.items():
        resp.headers.setdefault(k, v)
    return resp


def _iri(kind: str, key: str) -> str:
    """The IRI a manifest, collection or media route is of: 410 Gone once it was withdrawn."""
    return f"{current_app.config['BASE']}/id/{kind}/{key}"


def _checked(kind: str, key: str) -> None:
    if kind not in KINDS or not KEY.match(key):
        abort(404)


# ---------------------------------------------------------------------- routes
@bp.get("/iiif/manifest/<kind>/<key>")
def manifest(kind: str, key: str):
    _checked(kind, key)
    lang = preferred_language()
    body = manifest_document(kind, key, lang)
    if body is None:
        absent(_iri(kind, key))  # 410 once it was public
    return _json_response(body, lang)


@bp.get("/iiif/manifest/<kind>/<key>/<path:rest>")
def manifest_part(kind: str, key: str, rest: str):
    """A canvas, annotation page, annotation or range of a manifest, by its id."""
    _checked(kind, key)
    body = manifest_document(kind, key)
    if body is None:
        absent(_iri(kind, key))
    index = _cache().get(_generation(), ("index", kind, key),
                         lambda: _index(json.loads(body)))
    wanted = f"{current_app.config['BASE']}/iiif/manifest/{kind}/{key}/{rest}"
    node = index.get(wanted)
    if node is None:
        abort(404)
    return _json_response(_dumps({"@context": PRESENTATION_CONTEXT, **node}))


def _index(doc: dict) -> dict[str, dict]:
    """id → the fullest object with that id (a full canvas beats a ``{id, type}`` reference)."""
    out: dict[str, dict] = {}

    def walk(node) -> None:
        if isinstance(node, dict):
            nid = node.get("id")
            if isinstance(nid, str) and "type" in node and (
                    nid not in out or len(node) > len(out[nid])):
                out[nid] = node
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(doc)
    return out


@bp.get("/iiif/collection/<kind>/<key>")
def collection(kind: str, key: str):
    if kind != "exhibit":
        _checked(kind, key)
    elif not KEY.match(key):
        abort(404)
    lang = preferred_language()
    body = collection_document(kind, key, lang)
    if body is None:
        absent(_iri(kind, key))
    return _json_response(body, lang)


def _public_media(key: str) -> tuple[Media, str]:
    """The public instantiation ``key`` and the digest of its file (404 without one)."""
    if not KEY.match(key):
        abort(404)
    graph = PublicGraph(public_store(), current_app.config["BASE"])
    m = graph.media(_iri("instantiation", key))
    if m is None:
        absent(_iri("instantiation", key))
    if not m.digest or not m.mime.startswith(SERVED_MEDIA):
        abort(404)
    return m, m.digest


_stores: dict[str, FileStore] = {}
_stores_lock = threading.Lock()


def _file_store() -> FileStore:
    """The site's file store, one per process (its index connection is thread-safe)."""
    home = current_app.config["LANTAI_HOME"]
    with _stores_lock:
        store = _stores.get(str(home))
        if store is None:
            store = _stores[str(home)] = FileStore.for_site(home)
        return store


@bp.get("/iiif/media/<key>")
def media_file(key: str):
    """The file of a public instantiation (a recording, a transcript, a PDF), decrypted on
    the fly when sealed; byte ranges (what players ask for) read only the chunks they need."""
    m, digest = _public_media(key)
    mimetype = m.mime + ("; charset=utf-8" if m.mime.startswith("text/") else "")
    store = _file_store()
    try:
        size = store.size(digest)
        stream = store.open(digest)
    except LantaiError:  # not in the store (or missing from it): nothing to serve
        abort(404)
    resp = Response(wrap_file(request.environ, stream, buffer_size=MEDIA_BUFFER),
                    mimetype=mimetype, direct_passthrough=True)
    resp.content_length = size
    resp.set_etag(digest[7:])
    return resp.make_conditional(request, accept_ranges=True, complete_length=size)


@bp.get("/iiif/media/<key>/poster.jpg")
def media_poster(key: str):
    m, digest = _public_media(key)
    if m.kind not in ("Sound", "Video"):
        abort(404)
    from iiif.media import POSTER, av_derivative

    poster = av_derivative(current_app.config["LANTAI_HOME"], digest, m.mime, POSTER)
    if poster is None:
        abort(404)
    resp = Response(poster, mimetype="image/jpeg")
    resp.set_etag(hashlib.sha256(poster).hexdigest()[:32])
    return resp.make_conditional(request)


@bp.get("/iiif/media/<key>/text")
def media_text(key: str):
    m, digest = _public_media(key)
    if m.mime != "text/vtt":
        abort(404)
    try:
        cues = transcript_cues(current_app.config["LANTAI_HOME"], digest)
    except LantaiError:  # missing or unreadable in the file store: nothing to show
        abort(404)
    text = "".join(f"{cue.text}\n" for cue in cues)
    resp = Response(text, content_type="text/plain; charset=utf-8")
    return resp


# ---------------------------------------------------------------------- record-page hooks
def manifest_url_for(iri: str) -> str | None:
    """The manifest URL of a public digitised record, the collection URL of an exhibit or
    section featuring digitised records (None for anything else)."""
    base = current_app.config["BASE"]
    if not iri.startswith(base + "/id/"):
        return None
    kind, _, key = iri.removeprefix(base + "/id/").partition("/")
    if kind == "exhibit" and KEY.match(key):
        found = collection_document(kind, key) is not None
        return f"{base}/iiif/collection/exhibit/{key}" if found else None
    if kind not in KINDS or not KEY.match(key):
        return None

    def check() -> bool:
        graph = PublicGraph(public_store(), base)
        return graph.exists(iri) and is_digitised(graph, iri)
    if not _cache().get(_generation(), ("digitised", iri), check):
        return None
    return f"{base}/iiif/manifest/{kind}/{key}"


def record_links(iri: str) -> list[tuple[str, str, str]]:
    url = manifest_url_for(iri)
    return [("alternate", MANIFEST_PROFILE, url)] if url else []


VIEWER_LINK = ui_text("IIIF manifest")
VIEWER_REGION = ui_text("Images and recordings")
# Clover's own words (its keys; its English is the message id), handed to the viewer in the
# page's language as data-words: Clover ships no Chinese, and the catalog is where ours is.
VIEWER_WORDS = {
    "commonClose": ui_ptext("viewer", "Close"), "commonNext": ui_ptext("viewer", "Next"),
    "commonOpen": ui_ptext("viewer", "Open"), "commonPrevious": ui_ptext("viewer", "Previous"),
    "commonSearch": ui_ptext("viewer", "Search"),
    "commonSearchPlaceholder": ui_ptext("viewer", "Search..."),
    "commonShare": ui_ptext("viewer", "Share"), "commonViewAll": ui_ptext("viewer", "View All"),
    "copyFailure": ui_ptext("viewer", "Failed"), "copySuccess": ui_ptext("viewer", "Copied"),
    "contentSearchLoading": ui_ptext("viewer", "Loading..."),
    "contentSearchPlaceholder": ui_ptext("viewer full-text search", "Search"),
    "contentSearchResultsNone": ui_ptext("viewer", "No Results"),
    "contentSearchResultsMore": ui_ptext("viewer", "More Results"),
    "imageFullScreen": ui_ptext("viewer", "Full screen"),
    "imageResetZoom": ui_ptext("viewer", "Reset zoom"),
    "imageRotateLeft": ui_ptext("viewer", "Rotate left"),
    "imageRotateRight": ui_ptext("viewer", "Rotate right"),
    "imageZoomIn": ui_ptext("viewer", "Zoom in"), "imageZoomOut": ui_ptext("viewer", "Zoom out"),
    "informationPanelTabs": ui_ptext("viewer", "Select"),
    "informationPanelTabsClose": ui_ptext("viewer", "Viewer"),
    "informationPanelTabsAbout": ui_ptext("viewer", "About"),
    "informationPanelTabsAnnotations": ui_ptext("viewer", "Annotations"),
    "informationPanelTabsSearch": ui_ptext("viewer", "Search"),
    "informationPanelToggle": ui_ptext("viewer", "More Information"),
    "shareCollectionJson": ui_ptext("viewer", "View Collection"),
    "shareCollectionCopy": ui_ptext("viewer", "Copy Collection URL"),
    "shareManifestJson": ui_ptext("viewer", "View Manifest"),
    "shareManifestCopy": ui_ptext("viewer", "Copy Manifest URL"),
}


def viewer_html(manifest_url: str, lang: str = "zh", height: str = "520px") -> Markup:
    """The viewer (Clover IIIF, from our static files) showing ``manifest_url``."""
    title = escape(VIEWER_LINK.in_lang(lang))
    link = (f'<p class="iiif-link"><a href="{escape(manifest_url)}" '
            f'type="application/ld+json">{title}</a></p>')
    app = cast("LocalProxy[Flask]", current_app)._get_current_object()
    src = viewer_asset.script_url(app)  # versioned, gzipped
    if src is None:  # the viewer was not built (scripts/viewer-setup.sh)
        return Markup(f'<section class="iiif-viewer-panel">{link}</section>')
    region = escape(VIEWER_REGION.in_lang(lang))
    words = {key: text.in_lang(lang) for key, text in VIEWER_WORDS.items()}
    return Markup(
        f'<section class="iiif-viewer-panel" aria-label="{region}">'
        f'<div class="iiif-viewer" data-iiif-manifest="{escape(manifest_url)}" '
        f'data-lang="{escape(lang)}" data-height="{escape(height)}" '
        f'data-words="{escape(json.dumps(words, ensure_ascii=False))}" '
        f'style="min-height:{escape(height)}"></div>{link}'
        f'<script src="{escape(src)}" defer></script></section>')


def record_panel(iri: str, lang: str) -> Markup | None:
    url = manifest_url_for(iri)
    return viewer_html(url, lang) if url else None


def iiif_viewer(iri: str, lang: str = "zh", height: str = "520px") -> Markup:
    """For templates (exhibit pages): the viewer of a record, or nothing if not digitised."""
    url = manifest_url_for(iri)
    return viewer_html(url, lang, height) if url else Markup("")


def record_statements(iri: str) -> list[tuple]:
    """RDF a record's document may add: ``<record> rdfs:seeAlso <manifest>``. For
    ``app.extensions["lantai.record_statements"]`` (the publication dataset is a projection
    of the repository, so the link is added where the document is served rather than
    stored). Only statements about the record itself: its JSON-LD stays one compacted
    object rather than a ``@graph``; the manifest's format and profile are in the ``Link``
    header (``type="application/ld+json;profile=…"``) and in the manifest's own ``@context``."""
    from pyoxigraph import NamedNode

    url = manifest_url_for(iri)
    if url is None:
        return []
    return [(NamedNode(iri), NamedNode("http://www.w3.org/2000/01/rdf-schema#seeAlso"),
             NamedNode(url))]


def init_app(app: Flask) -> None:
    """Register the record-page hooks, the ``iiif_viewer`` template function and the IIIF
    cache policy (:mod:`iiif.caching`)."""
    caching.init_app(app)
    viewer_asset.init_app(app)
    app.extensions.setdefault("lantai.record_links", []).append(record_links)
    app.extensions.setdefault("lantai.record_panels", []).extend(
        [record_panel, object_panel.object_panel])
    app.extensions.setdefault("lantai.record_statements", []).append(record_statements)
    app.extensions.setdefault("iiif.presentation.cache", GenerationCache())
    app.jinja_env.globals["iiif_viewer"] = iiif_viewer
    app.jinja_env.globals["iiif_manifest_url"] = manifest_url_for


__all__ = ["bp", "iiif_viewer", "init_app", "manifest_url_for", "record_links", "record_panel",
           "record_statements", "viewer_html"]
