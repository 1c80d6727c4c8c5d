"""IIIF Content Search 2.0 over a record's OCR and transcripts, and the OCR annotation pages.

Routes (see :mod:`iiif` for the URL layout):

- ``/iiif/annotations/{id}/ocr``         the OCR lines of one public page image, an
  AnnotationPage of ``supplementing`` annotations targeting ``{canvas}#xywh=x,y,w,h``;
- ``/iiif/annotations/{id}/transcript``  the cues of one public WebVTT transcript, targeting
  the recording's canvas ``#t=start,end`` (so that search hits dereference);
- ``/iiif/search/{kind}/{key}?q=``       SearchService2: an AnnotationPage of the matching
  lines and cues (paged beyond :data:`PAGE_SIZE`), with ``highlighting`` annotations whose
  ``TextQuoteSelector`` gives prefix / exact / suffix of every match;
- ``/iiif/autocomplete/{kind}/{key}?q=`` AutoCompleteService2: a TermPage;
- ``/iiif/search/1/{kind}/{key}?q=``     and ``/iiif/autocomplete/1/{kind}/{key}?q=``: the
  same in Content Search 1.0, for Mirador 4 and the Universal Viewer (:mod:`iiif.search_v1`).

Matching is the catalog's (:mod:`repo.catalog.query`, :mod:`repo.catalog.snippets`): the
query and the text are normalised the same way (NFKC, OpenCC traditional → simplified,
lower case), Chinese is matched as substrings (檔案 finds 档案), English words by their
Snowball stems (trains finds train). OCR often runs English words together
("LetterofAdmission"), so in OCR lines a query word also matches inside a longer word.
Several words are alternatives: each line or cue that has any of them is a hit. A Chinese
phrase cut by an OCR line break is found in both lines.

Only public material answers: the record must be in the publication dataset, and only its
public instantiations are read (a closed page or transcript has no graph there), so a
guessed key, a closed record or a closed page is 404, the same response as a key that never
existed. Parameters other than ``q`` and ``motivation`` are reported in ``ignored``.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request

from iiif import caching, ocr, texts
from iiif import search_v1 as search_v1_format
from iiif.manifests import lang_map_of
from iiif.transcripts import Cue
from publisher.dataset import public_store, read_generation
from publisher.gone import is_gone
from publisher.i18n import ui_ptext
from repo.catalog.analysis import CJK_RANGES, fold, has_cjk, normalize
from repo.catalog.query import STOPWORDS, Highlight, parse
from repo.catalog.snippets import matches
from repo.errors import LantaiError

bp = Blueprint("iiif_search_api", __name__)

SEARCH_CONTEXT = "http://iiif.io/api/search/2/context.json"
PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
RECORD_KINDS = ("record", "recordset")
PAGE_SIZE = 100  # matching annotations per page of results
MAX_Q = 200  # characters of a query
MAX_TERMS = 20  # autocomplete suggestions
CONTEXT_CHARS = 20  # prefix / suffix of a TextQuoteSelector
OCR_BUDGET = 2  # pages a request may OCR (the rest waits for ingest or later requests)
SUPPORTED = frozenset({"q", "motivation", "page"})
OUR_MOTIVATIONS = frozenset({"supplementing", "non-painting"})
_CACHE_SIZE = 64
OCR_TEXT = ui_ptext("iiif", "OCR text")
TRANSCRIPT = ui_ptext("iiif", "Transcript")
_LATIN_WORD = re.compile(rf"[^\W_{CJK_RANGES}]+")
_CJK_RUN = re.compile(f"[{CJK_RANGES}]+")


class BadRequest(LantaiError):
    http_status = 400


# ------------------------------------------------------------------------- text units
@dataclass(frozen=True)
class Unit:
    """One searchable annotation: an OCR line or a transcript cue, with its target."""

    id: str  # the annotation's id (dereferences: it is in its annotation page)
    text: str
    target: str  # canvas#xywh=… or canvas#t=…
    ocr: bool
    language: str = ""
    norm: str = ""  # the text normalised as the catalog does (made once, kept in the cache)


def _base() -> str:
    return current_app.config["BASE"].rstrip("/")


def _home() -> Path:
    return Path(current_app.config["LANTAI_HOME"])


def manifest_id(base: str, kind: str, key: str) -> str:
    return f"{base}/iiif/manifest/{kind}/{key}"


def canvas_id(base: str, kind: str, key: str, media_key: str) -> str:
    """The canvas of an instantiation, as the manifests name it."""
    return f"{manifest_id(base, kind, key)}/canvas/{media_key}"


def ocr_page_id(base: str, media_key: str) -> str:
    return f"{base}/iiif/annotations/{media_key}/ocr"


def transcript_page_id(base: str, media_key: str) -> str:
    return f"{base}/iiif/annotations/{media_key}/transcript"


def search_services(record_kind: str, record_key: str, base: str | None = None) -> list[dict]:
    """The ``service`` entries of a manifest: SearchService2 with its AutoCompleteService2,
    and the same search in Content Search 1.0 (SearchService1, AutoCompleteService1) for
    the viewers that speak only 1.0.

    For the manifests (give it to records for which :func:`has_text` is true)."""
    base = (base or _base()).rstrip("/")
    return [{
        "id": f"{base}/iiif/search/{record_kind}/{record_key}",
        "type": "SearchService2",
        "service": [{"id": f"{base}/iiif/autocomplete/{record_kind}/{record_key}",
                     "type": "AutoCompleteService2"}],
    }, search_v1_format.service(f"{base}/iiif/search/1/{record_kind}/{record_key}",
                                f"{base}/iiif/autocomplete/1/{record_kind}/{record_key}")]


def has_text(store, record_kind: str, record_key: str, base: str | None = None) -> bool:
    """Whether the public record has page scans or transcripts to search (``store``: the
    publication dataset)."""
    base = (base or _base()).rstrip("/")
    return texts.has_text(store, f"{base}/id/{record_kind}/{record_key}")


def _scale(line: ocr.Line, page: ocr.Page, media: texts.Media) -> str:
    """The line's box in canvas coordinates (the canvas has the instantiation's size)."""
    cw, ch = media.width or page.width, media.height or page.height
    if (cw, ch) == (page.width, page.height):
        return line.xywh
    sx, sy = cw / page.width, ch / page.height
    return (f"{round(line.x * sx)},{round(line.y * sy)},"
            f"{max(1, round(line.w * sx))},{max(1, round(line.h * sy))}")


def _page(home: Path, media: texts.Media, budget: list[int]) -> ocr.Page | None:
    page = ocr.cached_page(home, media.digest)
    if page is None and budget[0] > 0:
        budget[0] -= 1
        try:
            page = ocr.ensure_page(home, media.digest)
        except LantaiError:
            return None
    return page


def ocr_units(base: str, kind: str, key: str, media: texts.Media,
              page: ocr.Page) -> list[Unit]:
    canvas = canvas_id(base, kind, key, media.key)
    pid = ocr_page_id(base, media.key)
    return [Unit(f"{pid}#line-{n}", line.text, f"{canvas}#xywh={_scale(line, page, media)}",
                 True, "", normalize(line.text)) for n, line in enumerate(page.lines, start=1)]


def cue_units(base: str, kind: str, key: str, media: texts.Media, recording: texts.Media,
              cues: list[Cue]) -> list[Unit]:
    canvas = canvas_id(base, kind, key, recording.key)
    pid = transcript_page_id(base, media.key)
    return [Unit(f"{pid}#cue-{n}", cue.text, f"{canvas}#t={cue.t}", False, media.language,
                 normalize(cue.text)) for n, cue in enumerate(cues, start=1)]


_cache: OrderedDict[tuple, list[Unit]] = OrderedDict()
_cache_lock = threading.Lock()


def record_units(store, kind: str, key: str) -> list[Unit] | None:
    """Every searchable line and cue of a public record, in canvas order; None if the
    record is not public or has nothing to search. Cached per publication generation
    (complete results only: pages still without OCR are looked at again next time)."""
    base, home = _base(), _home()
    iri = f"{base}/id/{kind}/{key}"
    generation = read_generation(home)
    cache_key = (str(home), iri, generation)
    with _cache_lock:
        if cache_key in _cache:
            _cache.move_to_end(cache_key)
            return _cache[cache_key]
    if not texts.public_graph_exists(store, iri):
        return None
    media = texts.public_media(store, iri)
    if not any(m.is_page or m.is_transcript for m in media):
        return None
    by_iri = {m.iri: m for m in media}
    units: list[Unit] = []
    budget = [OCR_BUDGET]
    complete = True
    for m in media:
        if m.is_page:
            page = _page(home, m, budget)
            if page is None:
                complete = False
                continue
            units.extend(ocr_units(base, kind, key, m, page))
        elif m.is_transcript:
            recording = by_iri.get(m.derived_from)
            if recording is None or not recording.is_av:
                continue  # a transcript of nothing public has no canvas to point at
            units.extend(cue_units(base, kind, key, m, recording, texts.transcript_text(home, m)))
    if complete:
        with _cache_lock:
            _cache[cache_key] = units
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return units


# ------------------------------------------------------------------------- matching
@dataclass(frozen=True)
class Query:
    text: str
    highlight: Highlight
    # folded Latin words of the query (4 letters or more, not stop words), also looked for
    # inside the words of OCR lines, which often runs English words together
    words: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.highlight and not self.words


def parse_query(q: str) -> Query:
    q = " ".join(q.split())
    if len(q) > MAX_Q:
        raise BadRequest(f"the query is too long ({len(q)} characters, at most {MAX_Q})")
    parsed = parse(q)
    words = tuple(sorted({fold(w) for w in _LATIN_WORD.findall(normalize(q))
                          if len(w) >= 4 and w.isalpha() and w not in STOPWORDS}))
    return Query(q, parsed.highlight, words)


def _may_match(norm: str, query: Query) -> bool:
    """A cheap test on the normalised text: False only if nothing can match."""
    hl = query.highlight
    if hl.codes or hl.code_prefixes:
        return True
    return (any(s in norm for s in hl.strings) or any(s[:3] in norm for s in hl.stems)
            or any(p in norm for p in hl.prefixes) or any(w in norm for w in query.words))


def spans(unit: Unit, query: Query) -> list[tuple[int, int]]:
    """Where the query matches the unit's text (original offsets), merged."""
    norm = unit.norm or normalize(unit.text)
    if not _may_match(norm, query):
        return []
    found = matches(unit.text, query.highlight)
    # offsets agree when the lengths do (almost always: see normalize_map)
    if unit.ocr and query.words and len(norm) == len(unit.text):
        extra = []
        for w in query.words:
            start = norm.find(w)
            while start >= 0:
                extra.append((start, start + len(w)))
                start = norm.find(w, start + 1)
        if extra:
            found = _merge([*found, *extra])
    return found


def find_hits(units: list[Unit], query: Query) -> list[tuple[Unit, list[tuple[int, int]]]]:
    """The units that match, in order, with their spans. A Chinese phrase that an OCR line
    break cuts in two (电 | 机工程系) is found too: both lines are hits, each with its part
    marked (Content Search 2: one match, several annotations)."""
    found: dict[int, list[tuple[int, int]]] = {}
    for n, unit in enumerate(units):
        hit = spans(unit, query)
        if hit:
            found[n] = hit
    strings = [s for s in query.highlight.strings if len(s) > 1]
    if strings:
        for n in range(len(units) - 1):
            a, b = units[n], units[n + 1]
            if not (a.ocr and b.ocr and a.norm and b.norm and a.id.split("#")[0] ==
                    b.id.split("#")[0] and len(a.norm) == len(a.text)
                    and len(b.norm) == len(b.text) and has_cjk(a.norm[-1])
                    and has_cjk(b.norm[0])):
                continue
            for s in strings:
                for cut in range(1, len(s)):  # s[:cut] ends line a, s[cut:] starts line b
                    if a.norm.endswith(s[:cut]) and b.norm.startswith(s[cut:]):
                        found[n] = _merge([*found.get(n, []), (len(a.norm) - cut,
                                                                len(a.norm))])
                        found[n + 1] = _merge([*found.get(n + 1, []), (0, len(s) - cut)])
    return [(units[n], found[n]) for n in sorted(found)]


def _merge(spans_: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted(spans_):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def selector(text: str, start: int, end: int) -> dict:
    return {"type": "TextQuoteSelector",
            "prefix": text[max(0, start - CONTEXT_CHARS):start],
            "exact": text[start:end],
            "suffix": text[end:end + CONTEXT_CHARS]}


def annotation(unit: Unit) -> dict:
    body = {"type": "TextualBody", "value": unit.text, "format": "text/plain"}
    if unit.language:
        body["language"] = unit.language
    return {"id": unit.id, "type": "Annotation", "motivation": "supplementing",
            "body": body, "target": unit.target}


# ------------------------------------------------------------------------- responses
def _respond(data: dict, status: int = 200):
    resp = jsonify(data)
    resp.status_code = status
    accept = request.headers.get("Accept", "")
    if "application/ld+json" in accept:
        ctx = data.get("@context")
        ctx = ctx[0] if isinstance(ctx, list) else ctx
        resp.headers["Content-Type"] = f'application/ld+json;profile="{ctx}"' if ctx else \
            "application/ld+json"
    return resp


def _error(status: int, message: str):
    resp = jsonify({"error": message, "status": status})
    resp.status_code = status
    return resp


def _not_found(kind: str = "", key: str = ""):
    """404, or 410 Gone when ``kind``/``key`` names what was public once (as every public
    surface answers: :mod:`publisher.gone`)."""
    if kind and texts.valid_key(key) and is_gone(f"{_base()}/id/{kind}/{key}"):
        return _error(410, "gone: withdrawn from publication")
    return _error(404, "not found")


@bp.after_request
def _cors(resp):
    if request.path.startswith(("/iiif/search/", "/iiif/autocomplete/", "/iiif/annotations/")):
        resp.headers["Access-Control-Allow-Origin"] = "*"
        resp.headers.setdefault("Vary", "Accept")
    return resp


def _ignored() -> list[str]:
    return sorted({k for k in request.args if k not in SUPPORTED})


def _self_url(path: str, params: dict) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{_base()}{path}" + (f"?{query}" if query else "")


def _public_units(kind: str, key: str) -> list[Unit] | None:
    """The text units of the public record ``kind``/``key``; None if there is none."""
    if kind not in RECORD_KINDS or not texts.valid_key(key):
        return None
    return record_units(public_store(), kind, key)


@dataclass(frozen=True)
class Results:
    """One page of a search's hits (for either version of the API)."""

    query: Query
    hits: list[tuple[Unit, list[tuple[int, int]]]]
    page_no: int
    root_params: dict

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.hits) // PAGE_SIZE))

    @property
    def shown(self) -> list[tuple[Unit, list[tuple[int, int]]]]:
        return self.hits[self.page_no * PAGE_SIZE:(self.page_no + 1) * PAGE_SIZE]

    def url(self, page: int | None) -> str:
        return _self_url(request.path, {**self.root_params, "page": page})


def _results(kind: str, key: str, ours: frozenset[str]):
    """The hits of ``q`` in the public record (``ours``: the motivation values that select
    our annotations), or an error response (404 not public, 400 bad parameters)."""
    units = _public_units(kind, key)
    if units is None:
        return _not_found(kind, key)
    try:
        query = parse_query(request.args.get("q", ""))
        page_no = _page_number(request.args.get("page"))
    except BadRequest as exc:
        return _error(400, exc.message)
    motivation = request.args.get("motivation", "")
    wanted = set(motivation.split()) if motivation else ours
    hits = find_hits(units, query) if not query.empty and wanted & ours else []
    results = Results(query, hits, page_no, {"q": query.text, "motivation": motivation})
    if page_no >= results.pages:
        return _error(400, f"there is no page {page_no} (pages 0 to {results.pages - 1})")
    return results


@bp.get("/iiif/search/<kind>/<key>")
def search(kind: str, key: str):
    """SearchService2: the matching lines and cues of one public record."""
    results = _results(kind, key, OUR_MOTIVATIONS)
    if not isinstance(results, Results):
        return results
    page_no, pages, hits = results.page_no, results.pages, results.hits
    out: dict = {"@context": SEARCH_CONTEXT, "id": results.url(page_no if pages > 1 else None),
                 "type": "AnnotationPage"}
    ignored = _ignored()
    if ignored:
        out["ignored"] = ignored
    if pages > 1:
        def page_ref(n: int) -> dict:
            return {"id": results.url(n), "type": "AnnotationPage"}
        out["partOf"] = {"id": results.url(None), "type": "AnnotationCollection",
                         "total": len(hits), "first": page_ref(0), "last": page_ref(pages - 1)}
        if page_no + 1 < pages:
            out["next"] = page_ref(page_no + 1)
        if page_no > 0:
            out["prev"] = page_ref(page_no - 1)
        out["startIndex"] = page_no * PAGE_SIZE
    shown = results.shown
    out["items"] = [annotation(u) for u, _ in shown]
    highlights: list[dict[str, Any]] = []
    for unit, found in shown:
        for s, e in found:
            highlights.append({
                "id": f"{out['id']}#match-{len(highlights) + 1}",
                "type": "Annotation", "motivation": "highlighting",
                "target": {"type": "SpecificResource", "source": unit.id,
                           "selector": [selector(unit.text, s, e)]}})
    if highlights:
        out["annotations"] = [{"type": "AnnotationPage", "items": highlights}]
    return _respond(out)


@bp.get("/iiif/search/1/<kind>/<key>")
def search_v1(kind: str, key: str):
    """Content Search 1.0 (Mirador 4, the Universal Viewer): the same hits as 2.0."""
    results = _results(kind, key, search_v1_format.MOTIVATIONS)
    if not isinstance(results, Results):
        return results
    page_no, pages = results.page_no, results.pages
    paged = pages > 1
    out = search_v1_format.annotation_list(
        results.url(page_no if paged else None), results.shown, selector,
        total=len(results.hits), start=page_no * PAGE_SIZE,
        first=results.url(0) if paged else None,
        last=results.url(pages - 1) if paged else None,
        next_=results.url(page_no + 1) if page_no + 1 < pages else None,
        prev=results.url(page_no - 1) if page_no > 0 else None,
        ignored=_ignored())
    return _respond(out)


def _page_number(value: str | None) -> int:
    if value in (None, ""):
        return 0
    if not value.isdigit() or len(value) > 6:
        raise BadRequest("page must be a number from 0")
    return int(value)


def _terms(kind: str, key: str):
    """The completions of ``q`` in the public record, or an error response."""
    units = _public_units(kind, key)
    if units is None:
        return _not_found(kind, key)
    q = " ".join(request.args.get("q", "").split())
    if len(q) > MAX_Q:
        return _error(400, f"the query is too long ({len(q)} characters, at most {MAX_Q})")
    return q, complete_terms(units, q)


@bp.get("/iiif/autocomplete/<kind>/<key>")
def autocomplete(kind: str, key: str):
    """AutoCompleteService2: terms of the record's text that start with ``q``."""
    found = _terms(kind, key)
    if not isinstance(found, tuple):
        return found
    q, terms = found
    items = [{"value": term, "total": n} for term, n in terms]
    search_path = request.path.replace("/iiif/autocomplete/", "/iiif/search/", 1)
    for item in items:
        item["service"] = [{"id": _self_url(search_path, {"q": item["value"]}),
                            "type": "SearchService2"}]
    out: dict[str, Any] = {"@context": SEARCH_CONTEXT,
                           "id": _self_url(request.path, {"q": q}), "type": "TermPage"}
    ignored = sorted({k for k in request.args if k != "q"})
    if ignored:
        out["ignored"] = ignored
    out["items"] = items
    return _respond(out)


@bp.get("/iiif/autocomplete/1/<kind>/<key>")
def autocomplete_v1(kind: str, key: str):
    """AutoComplete 1.0: a ``search:TermList``; ``min`` (occurrences) is honoured."""
    found = _terms(kind, key)
    if not isinstance(found, tuple):
        return found
    q, terms = found
    least = request.args.get("min", "")
    if least:
        if not least.isdigit() or len(least) > 6:
            return _error(400, "min must be a whole number")
        terms = [(t, n) for t, n in terms if n >= int(least)]
    search_path = request.path.replace("/iiif/autocomplete/", "/iiif/search/", 1)
    return _respond(search_v1_format.term_list(
        _self_url(request.path, {"q": q, "min": least}), terms,
        lambda term: _self_url(search_path, {"q": term}),
        sorted({k for k in request.args if k not in ("q", "min")})))


def complete_terms(units: list[Unit], q: str) -> list[tuple[str, int]]:
    """Completions of ``q`` in the units' text, most frequent first.

    Latin: whole words (folded, lower case) starting with the typed letters (at least 2).
    Chinese: the typed characters followed by one more character of the same run, or two
    more where that recurs (西 → 西安, 西迁, 西安交 …), since Chinese has no spaces to end
    a word at."""
    prefix = normalize(q)
    if not prefix or len(prefix) > MAX_Q:
        return []
    counts: Counter[str] = Counter()
    cjk = has_cjk(prefix)
    if not cjk and (len(prefix) < 2 or not _LATIN_WORD.fullmatch(prefix)):
        return []
    folded = fold(prefix)
    for unit in units:
        norm = unit.norm or normalize(unit.text)
        if cjk:
            for run in _CJK_RUN.findall(norm):
                start = run.find(prefix)
                while start >= 0:
                    for extra in (1, 2):
                        end = start + len(prefix) + extra
                        if end <= len(run):
                            counts[run[start:end]] += 1
                    start = run.find(prefix, start + 1)
        else:
            for word in _LATIN_WORD.findall(norm):
                word = fold(word)
                if word.startswith(folded) and len(word) > len(folded) and len(word) <= 40:
                    counts[word] += 1
    if cjk:  # a longer continuation is a term only if it recurs (西安新 once is noise)
        counts = Counter({t: n for t, n in counts.items()
                          if len(t) == len(prefix) + 1 or n >= 2})
    ranked = sorted(counts.items(), key=lambda t: (-t[1], len(t[0]), t[0]))
    return ranked[:MAX_TERMS]


# ------------------------------------------------------------------------- annotation pages
def _media_or_none(key: str, want: str) -> tuple[texts.Media, str, str] | None:
    """A public page image ("page") or transcript ("transcript") by key, and its record's
    kind and key; None for anything else (closed, unknown, other types)."""
    if not texts.valid_key(key):
        return None
    base = _base()
    store = public_store()
    found = texts.public_instantiation(store, f"{base}/id/instantiation/{key}")
    if found is None:
        return None
    media, record = found
    parts = texts.split_iri(record, base)
    if parts is None or parts[0] not in RECORD_KINDS:
        return None
    if (want == "page" and not media.is_page) or \
            (want == "transcript" and not media.is_transcript):
        return None
    return media, parts[0], parts[1]


@bp.get("/iiif/annotations/<key>/ocr")
def ocr_annotations(key: str):
    """The OCR lines of one public page image (made now if the ingest did not)."""
    found = _media_or_none(key, "page")
    if found is None:
        return _not_found("instantiation", key)
    media, kind, rkey = found
    home, base = _home(), _base()
    try:
        page = ocr.ensure_page(home, media.digest)
    except ocr.OCRError:
        page = ocr.Page(media.width or 1, media.height or 1, [])
    except LantaiError:
        return _not_found()
    units = ocr_units(base, kind, rkey, media, page)
    out = {"@context": PRESENTATION_CONTEXT, "id": ocr_page_id(base, key),
           "type": "AnnotationPage",
           "label": lang_map_of(OCR_TEXT),
           "items": [annotation(u) for u in units]}
    return _respond(out)


@bp.get("/iiif/annotations/<key>/transcript")
def transcript_annotations(key: str):
    """The cues of one public transcript, on its (public) recording's canvas."""
    found = _media_or_none(key, "transcript")
    if found is None:
        return _not_found("instantiation", key)
    media, kind, rkey = found
    store = public_store()
    base = _base()
    recording = next((m for m in texts.public_media(store, f"{base}/id/{kind}/{rkey}")
                      if m.iri == media.derived_from and m.is_av), None)
    if recording is None:
        return _not_found()
    units = cue_units(base, kind, rkey, media, recording, texts.transcript_text(_home(), media))
    label = lang_map_of(TRANSCRIPT)
    out = {"@context": PRESENTATION_CONTEXT, "id": transcript_page_id(base, key),
           "type": "AnnotationPage", "label": label,
           "items": [annotation(u) for u in units]}
    return _respond(out)


def init_app(app) -> None:
    """The IIIF cache policy (:mod:`iiif.caching`) on these answers too."""
    caching.init_app(app)


__all__ = ["bp", "canvas_id", "complete_terms", "has_text", "init_app", "manifest_id",
           "parse_query", "record_units", "search_services"]
