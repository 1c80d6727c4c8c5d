"""Media ingest: check scans, PDFs, recordings and transcripts, store them, describe them.

``lantai ingest media PATH FILE...`` attaches files to the record at PATH as RiC-O
instantiations. Every file is checked *before* anything is written, and the batch is all or
nothing: the originals go to the content-addressed file store, derivatives are made, and
only then are the descriptions written in one :meth:`~repo.repository.Repository.ingest`;
if any step fails, the originals and derivatives this batch added are removed again.

What is accepted (by content, never by file name alone):

- scans: JPEG, PNG, TIFF (first page), decoded completely, so truncated or corrupt files
  are refused; more pixels than ``MAX_PIXELS`` is a decompression bomb and refused from the
  header, before decoding;
- PDF: each page is rendered (pdfium, ``PDF_DPI``) to a PNG page image described as an
  instantiation derived from the PDF, which is kept too (pyvips here has no PDF loader);
- audio and video that PyAV (FFmpeg) can demux and decode and that have a duration;
- companions of a recording: ``NAME.LANG.vtt`` (a WebVTT transcript in LANG) and
  ``NAME.json`` (``{"segments": [{"start", "end", "title_zh", "title_en"}]}``, the table of
  contents), each described as derived from the recording ``NAME.*`` of the same batch.

The new instantiations follow the record's workflow state (published when the record is,
which needs the Reviewer role; ``--private`` keeps them private). Their keys are
``{record key}-{n}`` with ``n`` counting on from the record's existing instantiations, so
the manifest shows pages in the order the files were given.

Originals go to the site's file store (:class:`repo.files.FileStore`: staged, sealed when the
site's files are encrypted, deposited in their OCFL object after the changeset). Derivatives
live in ``{home}/derivatives/{sha256 hex}/`` (iiif/__init__.py), sealed likewise
(:mod:`iiif.derivative_files`): images are handed to
:func:`iiif.derivatives.ensure_image_derivatives`; recordings get ``poster.jpg`` (a video
frame, or a drawn waveform for audio) and ``media.json`` here. A running ingest names what it
stores in a locked marker in ``{home}/tmp/ingesting/`` (:mod:`repo.sweep`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from iiif.derivative_files import DerivativeFiles
from iiif.derivatives import derivatives_folder, ensure_image_derivatives
from iiif.transcripts import parse_vtt
from publisher.i18n import LANGS, ui_ptext
from repo.errors import Invalid, LantaiError, NotFound, Unsupported
from repo.sweep import IngestMarker

MAX_PIXELS = 500_000_000  # more pixels is refused as a bomb (as in iiif.derivatives)
PDF_DPI = 200
MAX_PDF_PAGES = 2000
MAX_TEXT_BYTES = 5 << 20  # transcripts and tables of contents
AUDIO_POSTER = (640, 360)
WAVEFORM_FULL_SECONDS = 600  # longer recordings are sampled for their waveform poster
WAVEFORM_SAMPLES = 320
_LOCK = threading.Lock()
POSTER = "poster.jpg"  # a recording's derivatives, in its derivatives folder
MEDIA_FACTS = "media.json"
_VTT_NAME = re.compile(r"^(?P<stem>.+)\.(?P<lang>[a-z]{2,3})\.vtt$", re.I)

Progress = Callable[[int, int], None]


@dataclass
class Probe:
    """What checking one file found out."""

    path: Path
    kind: str  # image, pdf, audio, video, vtt, toc
    mime: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    pages: int | None = None
    language: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def stem(self) -> str:
        m = _VTT_NAME.match(self.name)
        return m["stem"] if m else self.name.rsplit(".", 1)[0]


# ---------------------------------------------------------------------- probing
def sniff(head: bytes, name: str) -> str | None:
    """A first guess of the media type from the file's first bytes."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image/tiff"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    text = head.removeprefix(b"\xef\xbb\xbf")
    if text.startswith(b"WEBVTT") and (len(text) == 6 or text[6:7] in b" \t\r\n"):
        return "text/vtt"
    if name.lower().endswith(".json") and text.lstrip()[:1] == b"{":
        return "application/json"
    if (head.startswith((b"OggS", b"fLaC", b"ID3", b"\x1aE\xdf\xa3"))
            or (head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI "))
            or head[4:8] == b"ftyp" or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")):
        return "av"
    return None


# What a file's name says it is. An uploaded file's content must agree with it (a
# ``scan.jpg`` that is a PDF or a program is refused): the name is what a person saw
# when choosing the file, and what the slug of its instantiation is made from.
BY_EXTENSION = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "jpe": "image/jpeg", "png": "image/png",
    "tif": "image/tiff", "tiff": "image/tiff", "pdf": "application/pdf", "vtt": "text/vtt",
    "json": "application/json",
    **dict.fromkeys(("ogg", "oga", "ogv", "opus", "flac", "mp3", "wav", "mp4", "m4a", "m4v",
                     "mov", "webm", "mkv", "mka", "avi"), "av"),
}
_KIND_WORDS = {"image/jpeg": "a JPEG image", "image/png": "a PNG image",
               "image/tiff": "a TIFF image", "application/pdf": "a PDF document",
               "text/vtt": "a WebVTT transcript", "application/json": "a JSON file",
               "av": "an audio or video recording"}
_OTHER_CONTENT = ((b"\x7fELF", "an executable program (ELF)"),
                  (b"MZ", "an executable program (Windows)"),
                  (b"\xcf\xfa\xed\xfe", "an executable program (Mach-O)"),
                  (b"\xfe\xed\xfa\xce", "an executable program (Mach-O)"),
                  (b"\xca\xfe\xba\xbe", "an executable program or Java class"),
                  (b"#!", "a script"), (b"PK\x03\x04", "a ZIP archive (or an Office file)"),
                  (b"GIF8", "a GIF image"), (b"<", "markup (HTML, XML or SVG)"))


def what_content(head: bytes, name: str = "") -> str:
    """A few words saying what a file's first bytes show it is (for messages)."""
    found = sniff(head, name)
    if found is not None:
        return _KIND_WORDS[found]
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    for magic, words in _OTHER_CONTENT:
        if text.startswith(magic) if magic == b"<" else head.startswith(magic):
            return words
    return "of an unknown kind"


def check_extension(name: str) -> str:
    """What a file's name says it is (a key of ``_KIND_WORDS``); :class:`Unsupported`
    (HTTP 415) for a name that says nothing we accept."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    expected = BY_EXTENSION.get(ext)
    if expected is None:
        raise Unsupported(f"{name}: {'.' + ext if ext else 'a file without an extension'} "
                          "is not accepted (scans: .jpg .png .tif .pdf; audio and video: "
                          ".ogg .mp3 .wav .flac .mp4 .webm …; transcripts NAME.LANG.vtt; "
                          "tables of contents NAME.json)")
    return expected


def check_upload(name: str, head: bytes) -> str:
    """The media type of an uploaded file from its first bytes, which must be what its
    name's extension says; :class:`Unsupported` (HTTP 415) otherwise. ``probe`` checks the
    whole file afterwards, as for ``lantai ingest``."""
    expected = check_extension(name)
    found = sniff(head, name)
    if found != expected:
        raise Unsupported(f"{name}: the name says {_KIND_WORDS[expected]}, but the file is "
                          f"{what_content(head, name)}; nothing was stored")
    return found


def probe(path: Path, *, max_pixels: int = MAX_PIXELS) -> Probe:
    """Check one file completely; :class:`Invalid` (one line, naming the file) if unusable."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"{path}: no such file")
    if not path.is_file():
        raise Invalid(f"{path}: not a regular file")
    try:  # a special file may claim to be regular (/proc/self/mem) and fail to read
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise Invalid(f"{path}: cannot be read ({exc.strerror or exc})") from None
    kind = sniff(head, path.name)
    if kind is None:
        raise Unsupported(f"{path.name}: not a supported media file (scans: JPEG, PNG, TIFF, PDF; "
                      "audio and video; NAME.LANG.vtt transcripts; NAME.json tables of contents)")
    if kind.startswith("image/"):
        return _probe_image(path, kind, max_pixels)
    if kind == "application/pdf":
        return _probe_pdf(path, max_pixels)
    if kind == "text/vtt":
        return _probe_vtt(path)
    if kind == "application/json":
        return _probe_toc(path)
    return _probe_av(path)


def _probe_image(path: Path, mime: str, max_pixels: int) -> Probe:
    import pyvips

    try:  # the header only: a bomb is refused before a single pixel is decoded
        header = pyvips.Image.new_from_file(str(path), access="sequential")
        width, height = header.width, header.height
    except pyvips.Error as exc:
        raise Invalid(f"{path.name}: not a readable image ({_short(exc)})") from None
    if width <= 0 or height <= 0:
        raise Invalid(f"{path.name}: an image without pixels")
    if width * height > max_pixels:
        raise Invalid(f"{path.name}: {width}×{height} pixels, above the limit of {max_pixels} "
                      "(a decompression bomb?)")
    try:  # decode every pixel: a truncated or corrupt scan fails here, not on the site
        image = pyvips.Image.new_from_file(str(path), access="sequential", fail_on="warning")
        image.avg()
    except pyvips.Error as exc:
        raise Invalid(f"{path.name}: truncated or corrupt image ({_short(exc)})") from None
    return Probe(path, "image", mime, width=width, height=height)


def _probe_pdf(path: Path, max_pixels: int) -> Probe:
    try:
        import pypdfium2 as pdfium
    except ImportError:  # a dependency of the project (pyproject.toml); say so plainly
        raise Invalid(f"{path.name}: PDF pages need the Python package pypdfium2 "
                      "(pip install pypdfium2)") from None

    try:
        pdf = pdfium.PdfDocument(str(path))
    except Exception as exc:  # pdfium raises its own error types
        raise Invalid(f"{path.name}: not a readable PDF ({_short(exc)})") from None
    try:
        pages = len(pdf)
        if pages == 0:
            raise Invalid(f"{path.name}: a PDF without pages")
        if pages > MAX_PDF_PAGES:
            raise Invalid(f"{path.name}: {pages} pages, above the limit of {MAX_PDF_PAGES}")
        for i in range(pages):
            w, h = pdf[i].get_size()
            px = (w * PDF_DPI / 72) * (h * PDF_DPI / 72)
            if px > max_pixels or w <= 0 or h <= 0:
                raise Invalid(f"{path.name}: page {i + 1} is {w:.0f}×{h:.0f} pt, too large "
                              f"to render at {PDF_DPI} dpi")
    finally:
        pdf.close()
    return Probe(path, "pdf", "application/pdf", pages=pages)


def render_pdf_pages(path: Path) -> list[tuple[bytes, int, int]]:
    """Each page of a PDF as PNG bytes with its width and height in pixels."""
    import pypdfium2 as pdfium

    out = []
    pdf = pdfium.PdfDocument(str(path))
    try:
        for i in range(len(pdf)):
            try:
                pil = pdf[i].render(scale=PDF_DPI / 72).to_pil()
            except Exception as exc:
                raise Invalid(f"{path.name}: page {i + 1} cannot be rendered "
                              f"({_short(exc)})") from None
            buf = io.BytesIO()
            pil.save(buf, format="PNG", optimize=False)
            out.append((buf.getvalue(), pil.width, pil.height))
    finally:
        pdf.close()
    return out


def _read_text(path: Path) -> str:
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise Invalid(f"{path.name}: larger than {MAX_TEXT_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(f"{path.name}: not UTF-8 text") from None


def _probe_vtt(path: Path) -> Probe:
    try:
        cues = parse_vtt(_read_text(path))
    except Invalid as exc:
        raise Invalid(f"{path.name}: {exc.message}") from None
    if not cues:
        raise Invalid(f"{path.name}: a WebVTT file without cues")
    m = _VTT_NAME.match(path.name)
    if m is None:
        raise Invalid(f"{path.name}: name a transcript NAME.LANG.vtt (e.g. oh-01.zh.vtt), NAME "
                      "being the recording it belongs to")
    return Probe(path, "vtt", "text/vtt", language=m["lang"].lower())


def _probe_toc(path: Path) -> Probe:
    try:
        data = json.loads(_read_text(path))
    except ValueError as exc:
        raise Invalid(f"{path.name}: not valid JSON ({_short(exc)})") from None
    segments = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(segments, list) or not segments:
        raise Invalid(f"{path.name}: a table of contents needs a non-empty 'segments' list")
    for n, s in enumerate(segments, start=1):
        try:
            ok = 0 <= float(s["start"]) < float(s["end"])
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok or not any(s.get(k) for k in ("title_zh", "title_en", "title")):
            raise Invalid(f"{path.name}: segment {n} needs start < end and a title")
    return Probe(path, "toc", "application/json")


_AV_MIME = {("ogg", "audio"): "audio/ogg", ("ogg", "video"): "video/ogg",
            ("matroska,webm", "video"): "video/webm", ("matroska,webm", "audio"): "audio/webm",
            ("mov,mp4,m4a,3gp,3g2,mj2", "video"): "video/mp4",
            ("mov,mp4,m4a,3gp,3g2,mj2", "audio"): "audio/mp4",
            ("wav", "audio"): "audio/wav", ("mp3", "audio"): "audio/mpeg",
            ("flac", "audio"): "audio/flac", ("avi", "video"): "video/x-msvideo"}


def _probe_av(path: Path) -> Probe:
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise Invalid(f"{path.name}: not a readable recording ({_short(exc)})") from None
    with container:
        video = next((s for s in container.streams.video
                      if not (s.disposition & av.stream.Disposition.attached_pic)), None)
        audio = container.streams.audio[0] if container.streams.audio else None
        stream = video or audio
        if stream is None:
            raise Invalid(f"{path.name}: no audio or video stream")
        kind = "video" if video is not None else "audio"
        mime = _AV_MIME.get((container.format.name, kind))
        if mime is None:
            raise Invalid(f"{path.name}: {container.format.name} {kind} is not a format "
                          "we can play on the web (Ogg, WebM, MP4, WAV, MP3, FLAC)")
        duration = None
        if container.duration and container.duration > 0:
            duration = container.duration / av.time_base
        elif stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        if not duration or duration <= 0:
            raise Invalid(f"{path.name}: the {kind} has no duration")
        try:
            frames = 0
            for _frame in container.decode(stream):
                frames += 1
                if frames >= 3:
                    break
        except (av.FFmpegError, ValueError) as exc:
            raise Invalid(f"{path.name}: corrupt {kind} ({_short(exc)})") from None
        if frames == 0:
            raise Invalid(f"{path.name}: no decodable {kind}")
        width = height = None
        if video is not None:
            width, height = video.codec_context.width, video.codec_context.height
            if not width or not height:
                raise Invalid(f"{path.name}: a video without a frame size")
    return Probe(path, kind, mime, width=width, height=height, duration=round(duration, 3))


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:160] + "…") if len(text) > 160 else (text or type(exc).__name__)


# ---------------------------------------------------------------------- derivatives of A/V
def ensure_av_derivatives(home: Path, digest: str, mime: str) -> Path | None:
    """``poster.jpg`` and ``media.json`` of a stored recording (sealed when the site's files
    are: :mod:`iiif.derivative_files`); the folder (None if the original is missing).
    Regenerable: made again whenever missing. Read them with :func:`av_derivative`."""
    from iiif.derivatives import original_store

    folder = derivatives_folder(home, digest)
    if (folder / POSTER).is_file() and (folder / MEDIA_FACTS).is_file():
        return folder
    with original_store(home) as store:
        if digest not in store:
            return None
        with _LOCK:
            if (folder / POSTER).is_file() and (folder / MEDIA_FACTS).is_file():
                return folder
            # FFmpeg wants a path: the plaintext of a sealed recording is a temporary copy in
            # {home}/tmp (mode 0600), removed when the poster is made
            with store.local_path(digest) as original:
                info = _probe_av(original)
                poster = (_video_poster(original, info) if info.kind == "video"
                          else _waveform_poster(original, info.duration))
            files = DerivativeFiles.for_site(home)
            files.write_bytes(folder / POSTER, poster)
            facts = {"mime": mime, "duration": info.duration, "width": info.width,
                     "height": info.height, "digest": digest}
            files.write_bytes(folder / MEDIA_FACTS, json.dumps(facts).encode())
    return folder


def av_derivative(home: Path | str, digest: str, mime: str, name: str) -> bytes | None:
    """The plaintext of a recording's derivative ``name`` (``poster.jpg``, ``media.json``),
    made first if missing; None when the recording is not stored."""
    folder = ensure_av_derivatives(Path(home), digest, mime)
    if folder is None:
        return None
    try:
        return DerivativeFiles.for_site(home).read_bytes(folder / name)
    except FileNotFoundError:
        return None


def _video_poster(path: Path, info: Probe) -> bytes:
    """A frame a tenth of the way in (at most 10 s), at the video's own size."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        target = min(10.0, (info.duration or 0) / 10)
        if target > 0 and stream.time_base:
            with contextlib.suppress(av.FFmpegError):
                container.seek(int(target / stream.time_base), stream=stream)
        frame = next(container.decode(stream), None)
        if frame is None:
            raise Invalid(f"{path.name}: no frame for a poster")
        image = frame.to_image().convert("RGB")
    if info.width and info.height and image.size != (info.width, info.height):
        image = image.resize((info.width, info.height))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _waveform_poster(path: Path, duration: float | None = None) -> bytes:
    """A recording's poster: its waveform, drawn (audio has no picture of its own).

    Bounded time: a recording longer than ``WAVEFORM_FULL_SECONDS`` is sampled at
    ``WAVEFORM_SAMPLES`` points (a seek and a little decoding each) instead of decoded whole.
    """
    import av
    from PIL import Image, ImageDraw

    width, height = AUDIO_POSTER
    columns: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=8000)

        def peaks(frames) -> list[float]:
            out: list[float] = []
            for frame in frames:
                for chunk in resampler.resample(frame):
                    arr = chunk.to_ndarray().ravel()
                    out.extend(abs(float(x)) for x in arr[::8])
            return out

        if duration and duration > WAVEFORM_FULL_SECONDS and stream.time_base:
            for k in range(WAVEFORM_SAMPLES):
                with contextlib.suppress(av.FFmpegError):
                    container.seek(int(duration * k / WAVEFORM_SAMPLES / stream.time_base),
                                   stream=stream)
                frames = []
                with contextlib.suppress(av.FFmpegError, StopIteration):
                    decoder = container.decode(stream)
                    for _ in range(4):
                        frames.append(next(decoder))
                got = peaks(frames)
                columns.append(max(got) if got else 0.0)
            per, samples = 1, columns
        else:
            samples = peaks(container.decode(stream))
            per = max(1, len(samples) // width)
    image = Image.new("RGB", (width, height), (245, 241, 234))
    draw = ImageDraw.Draw(image)
    mid = height // 2
    draw.line([(0, mid), (width, mid)], fill=(200, 190, 180))
    if samples:
        top = max(samples) or 1.0
        n = len(samples) // per
        for x in range(width):
            i = x * n // width
            chunk = samples[i * per:(i + 1) * per]
            if not chunk:
                break
            h = int(max(chunk) / top * (height * 0.42))
            draw.line([(x, mid - h), (x, mid + h)], fill=(138, 28, 28))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


# ---------------------------------------------------------------------- ingest
@dataclass
class Attached:
    """One instantiation the ingest created."""

    file: str
    path: str
    key: str
    iri: str
    mime: str
    digest: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    image_service: str | None = None
    derived_from: str | None = None

    def as_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class IngestResult:
    record: str
    path: str
    manifest: str
    attached: list[Attached] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"record": self.record, "path": self.path, "manifest": self.manifest,
                "instantiations": [a.as_json() for a in self.attached]}


def _sha256(data: Path | bytes) -> str:
    import hashlib

    h = hashlib.sha256()
    if isinstance(data, Path):
        with data.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    else:
        h.update(data)
    return f"sha256:{h.hexdigest()}"


def iso_duration(seconds: float) -> str:
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


# Titles written into a new instantiation's description, in both languages (the catalogs')
_TITLES = {"audio": ui_ptext("media", "Sound recording"),
           "video": ui_ptext("media", "Video recording"),
           "toc": ui_ptext("media", "Table of contents"), "pdf": ui_ptext("media", "PDF original")}
_LANG_NAMES = {"zh": ui_ptext("language", "Chinese"), "en": ui_ptext("language", "English")}
_PAGE = ui_ptext("media", "Page %(page)s")
_TRANSCRIPT = ui_ptext("media", "Transcript (%(language)s)")


def _title(p: Probe, page: int | None) -> dict:
    if page is not None:
        return _PAGE.both(page=page)
    if p.kind == "vtt":
        name = _LANG_NAMES.get(p.language or "")
        return {lang: _TRANSCRIPT.in_lang(lang, language=name.in_lang(lang) if name
                                          else p.language) for lang in LANGS}
    return _TITLES[p.kind].both()


def _pause_for_tests() -> None:
    """Sleep ``LANTAI_TEST_INGEST_PAUSE`` seconds between storing and describing: the crash
    test kills the process here (tests/test_ingest_crash.py)."""
    pause = os.environ.get("LANTAI_TEST_INGEST_PAUSE")
    if pause:
        import sys
        import time

        print("lantai: test pause before the commit", file=sys.stderr, flush=True)
        time.sleep(float(pause))


def ingest_media(repo, user, ref: str, files: list[Path], *, private: bool = False,
                 ocr: bool = True, progress: Progress | None = None) -> IngestResult:
    """Attach ``files`` to the record ``ref`` as instantiations, all or nothing."""
    from repo.files import FileStore
    from repo.ingest import NewObject

    if not files:
        raise Invalid("no files given")
    record = repo.get(user, ref)
    if record.type_name not in ("item", "file"):
        raise Invalid(f"{record.path} is a {record.type_name}: media attach to an item or a file")
    paths = [Path(f) for f in files]
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise Invalid("two files have the same name: " +
                      next(n for n in names if names.count(n) > 1))
    total = len(paths) * 2
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    probes = []
    for path in paths:
        probes.append(probe(path))
        step()
    recordings: dict[str, Probe] = {}
    for p in probes:
        if p.kind in ("audio", "video"):
            if p.stem in recordings:  # whose transcripts would these be?
                raise Invalid(f"{p.name}: two recordings named {p.stem}.* "
                              f"({recordings[p.stem].name})")
            recordings[p.stem] = p
    for p in probes:
        if p.kind in ("vtt", "toc") and p.stem not in recordings:
            raise Invalid(f"{p.name}: no recording {p.stem}.* in this batch to belong to")

    kids = repo.children(user, record.path)
    existing = [k for k in kids if k.type_name == "instantiation"]
    taken_slugs = {k.path.rsplit("/", 1)[-1] for k in kids}
    existing_fields = [(k, k.fields(repo.base)) for k in existing]
    pages_before = sum(1 for _, f in existing_fields
                       if any(str(v).startswith("image/") for v in f.get("mime", [])))
    attached_before = {str(d): k.path for k, f in existing_fields for d in f.get("digest", [])}
    seen: dict[str, str] = {}
    digests: list[str] = []  # of the probes: each original is read and hashed once here
    for p in probes:  # the same file twice would be the same page twice
        digest = _sha256(p.path)
        digests.append(digest)
        if digest in attached_before:
            raise Invalid(f"{p.name}: already attached to {record.path} "
                          f"as {attached_before[digest]}")
        if digest in seen:
            raise Invalid(f"{p.name}: the same file as {seen[digest]}")
        seen[digest] = p.name
    state = "private" if private else record.state
    prefix = record.iri.rsplit("/", 1)[-1][:48]
    seq = len(existing)

    files_store = FileStore.for_site(repo.home)
    added_digests: list[str] = []
    added_folders: list[Path] = []
    specs: list[NewObject] = []
    attached: list[Attached] = []
    page = pages_before
    recording_path: dict[str, str] = {}

    def next_key() -> str:
        nonlocal seq
        while True:
            seq += 1
            key = f"{prefix}-{seq:04d}"
            if repo.load(repo.iri_for("instantiation", key)) is None:
                return key

    def slug_for(name: str, key: str) -> str:
        base = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.") or key
        slug = base[:64]
        n = 1
        while slug in taken_slugs or not re.match(r"^[a-z0-9]", slug):
            n += 1
            slug = f"{key}-{n}"[:64]
        taken_slugs.add(slug)
        return slug

    def put(data: Path | bytes, digest: str | None = None) -> str:
        digest = digest or _sha256(data)
        if digest not in files_store and digest not in added_digests:
            marker.will_create(digest)  # before the copy: a sweep discards it if unnamed
            added_digests.append(digest)
        if files_store.put(data) != digest:
            raise Invalid("a file changed while it was being stored; try again")
        return digest

    def derivatives(digest: str, mime: str) -> None:
        folder = derivatives_folder(repo.home, digest)
        if not folder.exists():
            marker.will_create(digest, folder)
            added_folders.append(folder)
        if mime.startswith("image/"):
            ensure_image_derivatives(repo.home, digest)
            if ocr:
                from iiif import jobs
                from iiif.ocr import ocr_for_ingest

                # the scan was checked already; OCR that fails here is made again on demand
                # (/iiif/annotations/{key}/ocr), so it does not stop the ingest: it is
                # recorded as a failed job for staff to see (iiif/jobs.py)
                try:
                    ocr_for_ingest(repo.home, digest, mime)
                except LantaiError as exc:
                    jobs.record(repo.home, "ocr", digest, exc.message, target=record.path)
                else:
                    jobs.succeeded(repo.home, "ocr", [digest])
        elif mime.startswith(("audio/", "video/")):
            ensure_av_derivatives(repo.home, digest, mime)

    def describe(p: Probe, digest: str, mime: str, *, name: str, label: str,
                 page_no: int | None = None, width=None, height=None,
                 derived: str | None = None) -> Attached:
        key = next_key()
        slug = slug_for(name, key)
        fields: dict = {"mime": mime, "digest": digest, "title": _title(p, page_no)}
        if width and height:
            fields["width"], fields["height"] = str(width), str(height)
        if p.duration and mime == p.mime:
            fields["extent"] = iso_duration(p.duration)
        elif p.kind == "pdf" and mime == p.mime:
            fields["extent"] = f"{p.pages} pages"
        if p.language:
            fields["language"] = [p.language]
        if derived:
            fields["derivedFrom"] = [derived]
        specs.append(NewObject(parent=record.path, type="instantiation", fields=fields,
                               slug=slug, key=key, state=state))
        a = Attached(file=label, path=f"{record.path}/{slug}", key=key,
                     iri=repo.iri_for("instantiation", key), mime=mime, digest=digest,
                     width=width, height=height,
                     duration=p.duration if mime == p.mime else None,
                     image_service=(f"{repo.base}/iiif/3/{key}" if mime.startswith("image/")
                                    else None),
                     derived_from=derived)
        attached.append(a)
        return a

    # names what this batch stores before it is stored: if the process is killed, the next
    # open removes what no description names (repo/sweep.py)
    marker = IngestMarker(repo.home)
    try:
        # recordings first, so that their transcripts can name them
        order = sorted(range(len(probes)), key=lambda i: probes[i].kind in ("vtt", "toc"))
        for i in order:
            p = probes[i]
            digest = put(p.path, digests[i])
            if p.kind == "image":
                page += 1
                derivatives(digest, p.mime)
                describe(p, digest, p.mime, name=p.name, label=str(p.path), page_no=page,
                         width=p.width, height=p.height)
            elif p.kind == "pdf":
                pdf = describe(p, digest, p.mime, name=p.name, label=str(p.path))
                for n, (png, w, h) in enumerate(render_pdf_pages(p.path), start=1):
                    page += 1
                    pdigest = put(png)
                    derivatives(pdigest, "image/png")
                    describe(p, pdigest, "image/png", name=f"{p.stem}-p{n}.png",
                             label=f"{p.path}#page={n}", page_no=page, width=w, height=h,
                             derived=pdf.path)
            elif p.kind in ("audio", "video"):
                derivatives(digest, p.mime)
                recording_path[p.stem] = describe(p, digest, p.mime, name=p.name,
                                                  label=str(p.path), width=p.width,
                                                  height=p.height).path
            else:
                describe(p, digest, p.mime, name=p.name, label=str(p.path),
                         derived=recording_path[p.stem])
            step()
        _pause_for_tests()
        with repo.ingesting_files():  # the bytes were stored here: their identity may be set
            repo.ingest(user, specs,
                        message=f"attach {len(paths)} media file(s) to {record.path}")
    except BaseException:
        for digest in added_digests:  # staged, never deposited: nothing else names them
            with contextlib.suppress(OSError, LantaiError):
                files_store.discard(digest)
        for folder in added_folders:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        marker.close()
        files_store.close()
    kind, key = record.iri.removeprefix(repo.base + "/id/").split("/", 1)
    return IngestResult(record=record.iri, path=record.path,
                        manifest=f"{repo.base}/iiif/manifest/{kind}/{key}", attached=attached)


__all__ = ["BY_EXTENSION", "IngestResult", "Probe", "check_extension", "check_upload",
           "ensure_av_derivatives", "ingest_media", "probe", "render_pdf_pages", "sniff",
           "what_content"]
