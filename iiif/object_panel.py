"""The digital object itself on its own page: a scan's image and OCR text, a recording's
player with its transcripts as tracks, a transcript's text, and download links.

A ``lantai.record_panels`` hook (:func:`object_panel`) for the pages of public
instantiations, ``/id/instantiation/{key}``, which showed only their facts. Everything comes
from the publication dataset and the public IIIF routes: the image through the Image API,
recordings, transcripts and their text through ``/iiif/media/…``; a transcript or page that
is not public is not in the dataset, so it is never a track, a link or a line here. Nothing
is computed for a page view: OCR text is shown when it was made (at ingest, ``lantai ocr``).
Rendered by ``publisher/templates/_digital_object.html`` (its words in the message
catalog of the public pages), in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app, render_template
from markupsafe import Markup

from iiif import ocr
from iiif.manifests import Media, PublicGraph
from iiif.transcripts import transcript_cues
from ontology.namespaces import RICO
from publisher.dataset import public_store
from repo.errors import LantaiError

VIEW_BOX = "!1200,1200"  # the image shown on the page: at most this, never upscaled
MAX_CUES = 2000  # of a transcript shown on a page (the rest is in the download)


@dataclass
class Link:
    href: str
    type: str
    label: str  # a title; for downloads, what it is (the template words it: image, service,
    # recording, vtt, text)


@dataclass
class Track:
    src: str
    lang: str
    label: str
    default: bool = False


@dataclass
class DigitalObject:
    """What the template shows of one public instantiation."""

    kind: str  # Image, Sound, Video, Text
    title: str
    image: str = ""
    width: int | None = None
    height: int | None = None
    media: str = ""
    mime: str = ""
    poster: str = ""
    tracks: list[Track] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # OCR lines, or "[m:ss] cue" lines
    text_lang: str = ""
    recording: Link | None = None  # a transcript's recording
    transcripts: list[Link] = field(default_factory=list)  # a recording's transcripts
    downloads: list[Link] = field(default_factory=list)


def _title(m: Media, lang: str) -> str:
    for code in (lang, "zh", "en", "none"):
        if m.title.get(code):
            return m.title[code][0]
    return m.key


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60}:{s % 60:02d}"


def _cue_lines(home: Path, m: Media) -> list[str]:
    try:
        cues = transcript_cues(home, m.digest or "")
    except LantaiError:  # missing or unreadable in the file store: no text to show
        return []
    return [f"[{_clock(c.start)}] {c.text}" for c in cues[:MAX_CUES]]


def _transcripts_of(graph: PublicGraph, m: Media) -> list[Media]:
    found = [graph.media(iri) for iri in graph.subjects(
        RICO + "isOrWasDerivedFromInstantiation", m.iri)]
    return sorted((t for t in found if t is not None and t.mime == "text/vtt" and t.digest),
                  key=lambda t: (t.language != "zh", t.key))


def describe(graph: PublicGraph, m: Media, base: str, home: Path, lang: str
             ) -> DigitalObject | None:
    """The page's view of the public instantiation ``m`` (None for other kinds of file)."""
    title = _title(m, lang)
    media_url = f"{base}/iiif/media/{m.key}"
    if m.kind == "Image":
        service = f"{base}/iiif/3/{m.key}"
        page = ocr.cached_page(home, m.digest) if m.digest else None
        return DigitalObject(
            "Image", title, image=f"{service}/full/{VIEW_BOX}/0/default.jpg",
            width=m.width, height=m.height,
            lines=[line.text for line in page.lines] if page else [],
            downloads=[Link(f"{service}/full/max/0/default.jpg", "image/jpeg", "image"),
                       Link(f"{service}/info.json", "application/ld+json", "service")])
    if m.kind in ("Sound", "Video"):
        transcripts = _transcripts_of(graph, m)
        tracks = [Track(f"{base}/iiif/media/{t.key}", t.language or "und", _title(t, lang))
                  for t in transcripts]
        default = next((t for t in tracks if t.lang == lang), tracks[0] if tracks else None)
        if default is not None:
            default.default = True
        shown = next((t for t in transcripts if t.language == lang),
                     transcripts[0] if transcripts else None)
        return DigitalObject(
            m.kind, title, media=media_url, mime=m.mime,
            poster=f"{media_url}/poster.jpg" if m.kind == "Video" else "", tracks=tracks,
            lines=_cue_lines(home, shown) if shown else [],
            text_lang=(shown.language or "") if shown else "",
            transcripts=[Link(f"{base}/id/instantiation/{t.key}", "text/html",
                              _title(t, lang)) for t in transcripts],
            downloads=[Link(media_url, m.mime, "recording")])
    if m.mime == "text/vtt":
        recording = graph.media(m.derived_from) if m.derived_from else None
        return DigitalObject(
            "Text", title, lines=_cue_lines(home, m), text_lang=m.language or "",
            recording=Link(recording.iri, "text/html", _title(recording, lang))
            if recording is not None else None,
            downloads=[Link(media_url, "text/vtt", "vtt"),
                       Link(f"{media_url}/text", "text/plain", "text")])
    return None


def object_panel(iri: str, lang: str) -> Markup | None:
    """``lantai.record_panels`` hook: the panel of a public instantiation's page."""
    base = current_app.config["BASE"]
    if not iri.startswith(f"{base}/id/instantiation/"):
        return None
    graph = PublicGraph(public_store(), base)
    m = graph.media(iri)
    if m is None or not m.digest:
        return None
    found = describe(graph, m, base, Path(current_app.config["LANTAI_HOME"]), lang)
    if found is None:
        return None
    return Markup(render_template("_digital_object.html", o=found, lang=lang))


__all__ = ["DigitalObject", "describe", "object_panel"]
