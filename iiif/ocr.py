"""OCR of page scans: text lines with their boxes, kept as a derivative of the original.

Why RapidOCR (``rapidocr-onnxruntime``): its Chinese + English detection and recognition
models (PP-OCRv4) ship inside the wheel and run on the CPU through onnxruntime, so OCR
works offline, on a fresh machine, with nothing to download and no system package. An A4
page at 200 dpi takes a few seconds on one core (``bench/ocr.py``).

What is kept: ``{home}/derivatives/{sha256 hex}/ocr.json`` (the folder contract of
:mod:`iiif`), written atomically (temporary file + rename), with the recognised lines in
reading order, each with its box in the pixel coordinates of the *original* image (= the
canvas), the engine that made it and the image size. Like every derivative it can be
deleted and made again from the original in the file store.

Where it is made: :func:`ocr_for_ingest` when media are ingested (so that the catalog
indexes the text when the instantiation is written), lazily by the IIIF routes
(:func:`ensure_ocr`; the public server only writes the derivative, never the catalog), or
for many pages at once with :func:`ocr_many` (worker processes): ``lantai ocr [PATH]``
(:func:`iiif.texts.recognise_records`) does it for the scans of records and re-indexes them,
so the text is searchable at once; ``python -m iiif.ocr --home SITE`` does it for every
image in a site's file store without touching the catalog.
The demo's page scans come with their OCR precomputed (``iiif/demo_ocr.json``, keyed by
the SHA-256 of each scan, made by ``python -m iiif.ocr --demo-seed``), so ``lantai demo``
does not spend a minute recognising them; :func:`cached_ocr` copies a seed into the
derivatives folder the first time it is asked.

Bounds: images above :data:`MAX_PIXELS` (decompression bombs) are refused before decoding;
large scans are reduced to :data:`MAX_SIDE` pixels on the long side before recognition (the
boxes are scaled back); at most :data:`MAX_LINES` lines are kept. Errors are one line
(:class:`OCRError`, an :class:`~repo.errors.Invalid`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path

from PIL import Image

from iiif.derivatives import derivatives_folder as derivative_dir  # the folder contract
from repo.errors import Invalid, LantaiError, NotFound
from repo.files import DIGEST, FileStore, parse_digest

MAX_SIDE = 2000  # long side given to the recogniser (RapidOCR's own limit)
MAX_PIXELS = 150_000_000  # refuse larger images before decoding (decompression bombs)
MAX_LINES = 5000
# The 180° line classifier: off. Scans are upright (pages are turned at digitisation), and
# on our A4 test page it turned correct lines over: 94.9 % characters right with it, 99.9 %
# without, and 4 % less time (bench/ocr.py).
USE_CLS = False
FORMAT = 1  # of ocr.json
OCR_FILE = "ocr.json"
SEED_FILE = Path(__file__).with_name("demo_ocr.json")
IMAGE_FORMATS = frozenset({"JPEG", "PNG", "TIFF", "WEBP", "BMP", "GIF", "JPEG2000"})


class OCRError(Invalid):
    """An image that cannot be recognised (not an image, corrupt, too large)."""


@dataclass(frozen=True)
class Line:
    """One recognised line: its text and axis-aligned box (original image pixels)."""

    text: str
    x: int
    y: int
    w: int
    h: int
    confidence: float

    @property
    def xywh(self) -> str:
        """The media fragment value, ``x,y,w,h``."""
        return f"{self.x},{self.y},{self.w},{self.h}"


@dataclass(frozen=True)
class Page:
    """The OCR of one image: its size and lines."""

    width: int
    height: int
    lines: list[Line]
    engine: str = ""

    def data(self, digest: str = "") -> dict:
        return {"format": FORMAT, "digest": digest, "engine": self.engine,
                "width": self.width, "height": self.height,
                "lines": [asdict(line) for line in self.lines]}

    @classmethod
    def from_data(cls, data: dict) -> Page:
        lines = [Line(str(d["text"]), int(d["x"]), int(d["y"]), int(d["w"]), int(d["h"]),
                      float(d["confidence"])) for d in data.get("lines", [])]
        return cls(int(data["width"]), int(data["height"]), lines, str(data.get("engine", "")))

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@cache
def engine_name() -> str:
    try:
        return f"rapidocr-onnxruntime {metadata.version('rapidocr-onnxruntime')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - installed with lantai
        return "rapidocr-onnxruntime"


# ------------------------------------------------------------------------- the engine
_engine = None
_engine_lock = threading.Lock()  # one recognition at a time per process (CPU-bound anyway)
_threads = 0  # onnxruntime threads per process (0: its default, every core)
_locks: dict[str, threading.Lock] = {}  # per digest: one recognition of a page at a time
_locks_guard = threading.Lock()


def set_threads(n: int) -> None:
    """Use ``n`` onnxruntime threads per recognition (before the first one). Worker
    processes use 1 each, so that 2 workers on 2 cores do not fight over them."""
    global _threads
    _threads = n


def _get_engine():
    global _engine
    if _engine is None:
        from rapidocr_onnxruntime import RapidOCR  # imported late: ~0.5 s, models load

        kwargs = {}
        if _threads:
            kwargs = {"intra_op_num_threads": _threads, "inter_op_num_threads": 1}
        _engine = RapidOCR(**kwargs)
    return _engine


def load_image(path: Path | str) -> tuple[Image.Image, int, int]:
    """The image at ``path`` reduced to at most :data:`MAX_SIDE` (RGB), and its full size.

    Refuses what is not an image of a known format, an image above :data:`MAX_PIXELS`
    (checked from the header, before any decoding) and truncated or corrupt files.
    """
    name = Path(path).name
    try:
        img = Image.open(path)
    except FileNotFoundError:
        raise NotFound(f"{name}: no such file") from None
    except Image.DecompressionBombError:
        raise OCRError(f"{name}: the image is above the OCR limit of {MAX_PIXELS:,} "
                       "pixels") from None
    except (Image.UnidentifiedImageError, OSError, ValueError) as exc:
        raise OCRError(f"{name}: not an image ({type(exc).__name__})") from None
    with img:
        if img.format not in IMAGE_FORMATS:
            raise OCRError(f"{name}: {img.format} images are not recognised")
        width, height = img.size
        if width < 1 or height < 1:
            raise OCRError(f"{name}: empty image")
        if width * height > MAX_PIXELS:
            raise OCRError(f"{name}: {width}×{height} pixels is above the OCR limit "
                           f"of {MAX_PIXELS:,} pixels")
        try:
            if img.format == "JPEG":
                img.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 … directly
            img.load()
            picture: Image.Image = img
            if img.mode.startswith("I"):  # 16/32-bit grey (archival TIFF masters)
                picture = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
            elif img.mode == "F":
                picture = img.convert("L")
            elif img.mode not in ("RGB", "L"):
                picture = img.convert("RGBA").convert("RGB") if "A" in img.mode else \
                    img.convert("RGB")
            if max(picture.size) > MAX_SIDE:
                picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            out = picture.convert("RGB") if picture.mode != "RGB" else picture.copy()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise OCRError(f"{name}: truncated or corrupt image ({exc})") from None
    return out, width, height


def recognise(img: Image.Image, width: int, height: int) -> Page:
    """OCR of a loaded image whose full size is ``width`` × ``height``."""
    sx, sy = width / img.width, height / img.height
    with _engine_lock:
        try:
            result, _elapsed = _get_engine()(img, use_cls=USE_CLS)
        except Exception as exc:  # onnxruntime/cv2 errors: one line, not a traceback
            raise OCRError(f"OCR failed: {type(exc).__name__}: {exc}") from None
    lines: list[Line] = []
    for box, text, score in result or []:
        text = " ".join(str(text).split())
        if not text:
            continue
        xs = [float(p[0]) for p in box]
        ys = [float(p[1]) for p in box]
        x0 = max(0, min(width, round(min(xs) * sx)))
        y0 = max(0, min(height, round(min(ys) * sy)))
        x1 = max(0, min(width, round(max(xs) * sx)))
        y1 = max(0, min(height, round(max(ys) * sy)))
        if x1 <= x0 or y1 <= y0:
            continue
        lines.append(Line(text, x0, y0, x1 - x0, y1 - y0, round(float(score), 4)))
        if len(lines) >= MAX_LINES:
            break
    return Page(width, height, lines, engine_name())


def ocr_page(path: Path | str) -> Page:
    """OCR of the image file at ``path`` (see :func:`load_image` for what is refused)."""
    img, width, height = load_image(path)
    return recognise(img, width, height)


def ocr_image(path: Path | str) -> list[Line]:
    """The text lines of the image at ``path``, in reading order, boxes in its pixels."""
    return ocr_page(path).lines


# ------------------------------------------------------------------------- derivatives
@lru_cache(maxsize=16)
def _file_store(home: str, pid: int) -> FileStore:
    path = Path(home)
    if (path / "lantai.toml").is_file():
        return FileStore.for_site(path)
    return FileStore(path)  # a scratch folder (the demo seed): nothing sealed


def file_store(home: Path | str) -> FileStore:
    """The site's file store (one per process and home: its index connection is kept; a
    forked worker opens its own, an SQLite connection must not cross a fork)."""
    return _file_store(str(home), os.getpid())


def _write_atomically(target: Path, data: dict) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".ocr-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@cache
def _seeds() -> dict[str, dict]:
    try:
        return json.loads(SEED_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def cached_page(home: Path | str, digest: str, *, seeds: bool = True) -> Page | None:
    """The stored OCR of ``digest``, or None if it was never made (nothing is computed).

    A demo seed (see the module doc) is copied into place on first use (unless ``seeds``
    is false: when the seeds themselves are made)."""
    target = derivative_dir(home, digest) / OCR_FILE
    try:
        return Page.from_data(json.loads(target.read_text(encoding="utf-8")))
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError):
        return None  # damaged: treated as missing, remade by ensure_ocr
    seed = _seeds().get(parse_digest(digest)) if seeds else None
    if seed is None:
        return None
    page = Page.from_data(seed)
    with contextlib.suppress(OSError):  # a read-only home still answers
        _write_atomically(target, page.data(digest))
    return page


def has_ocr(home: Path | str, digest: str) -> bool:
    """Whether the OCR of ``digest`` exists (or is seeded): a file check, nothing read."""
    m = DIGEST.match(digest) if isinstance(digest, str) else None
    if m is None:
        return False
    hexd = m.group(1)  # checked: no path tricks (this runs for every scan an index sees)
    # string joins, not os.path.join: half the cost of this check for a big ingest's scans
    return hexd in _seeds() or os.path.isfile(f"{home}/derivatives/{hexd}/{OCR_FILE}")


def cached_ocr(home: Path | str, digest: str) -> list[Line] | None:
    page = cached_page(home, digest)
    return None if page is None else page.lines


def _lock_for(digest: str) -> threading.Lock:
    with _locks_guard:
        if len(_locks) > 10_000:
            _locks.clear()
        return _locks.setdefault(digest, threading.Lock())


def ensure_page(home: Path | str, digest: str, *, seeds: bool = True,
                force: bool = False) -> Page:
    """The OCR of the original ``digest`` of the site at ``home``, made now if missing
    (once: concurrent requests for the same page in this process wait for the first).

    ``force``: recognise it again even if it exists (``lantai ocr --force``, after an
    engine upgrade); the old OCR stays in place until the new one replaces it."""
    page = None if force else cached_page(home, digest, seeds=seeds)
    if page is not None:
        return page
    files = file_store(home)
    with _lock_for(digest):
        page = None if force else cached_page(home, digest, seeds=seeds)
        if page is not None:
            return page
        if digest not in files:
            raise NotFound(f"{digest}: no such file in the file store")
        with files.local_path(digest) as original:  # decrypted for the engine when sealed
            page = ocr_page(original)
        _write_atomically(derivative_dir(home, digest) / OCR_FILE, page.data(digest))
    return page


def ensure_ocr(home: Path | str, digest: str) -> list[Line]:
    """:func:`ensure_page`'s lines."""
    return ensure_page(home, digest).lines


def is_ocr_type(mime: str | None) -> bool:
    """Whether a file of this MIME type is a page image OCR applies to."""
    return mime is not None and mime.split(";")[0].strip().lower() in {
        "image/jpeg", "image/png", "image/tiff", "image/webp", "image/jp2", "image/bmp"}


def ocr_for_ingest(home: Path | str, digest: str, mime: str | None = None) -> int | None:
    """The OCR step of media ingest: recognise an image original (once) before its
    instantiation is written, so the catalog indexes its text. Returns the number of lines,
    or None for a file that is not a page image (audio, video, text)."""
    if mime is not None and not is_ocr_type(mime):
        return None
    return len(ensure_ocr(home, digest))


# ------------------------------------------------------------------------- many pages
def _worker_init(threads: int) -> None:
    set_threads(threads)


def _worker_job(job: tuple[str, str, bool, bool]) -> tuple[str, int, str]:
    home, digest, seeds, force = job
    try:
        return digest, len(ensure_page(home, digest, seeds=seeds, force=force).lines), ""
    except Invalid as exc:
        return digest, 0, exc.message
    except NotFound as exc:
        return digest, 0, exc.message


def ocr_many(home: Path | str, digests: Iterable[str], *, workers: int = 2,
             progress: Callable[[int, int], None] | None = None,
             seeds: bool = True, force: bool = False) -> dict[str, str]:
    """OCR every digest that has none yet (``force``: every digest), with ``workers``
    processes (1 onnxruntime thread each). Returns the errors by digest (one line each);
    the rest succeeded."""
    todo = list(dict.fromkeys(digests))
    if not force:
        todo = [d for d in todo if cached_page(home, d, seeds=seeds) is None]
    errors: dict[str, str] = {}
    if progress:
        progress(0, len(todo))
    if not todo:
        return errors
    jobs = [(str(home), d, seeds, force) for d in todo]
    if workers <= 1 or len(todo) == 1:
        results: Iterable[tuple[str, int, str]] = map(_worker_job, jobs)
        pool = None
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # no fork of a process holding stores
        pool = ctx.Pool(min(workers, len(todo)), initializer=_worker_init, initargs=(1,))
        results = pool.imap_unordered(_worker_job, jobs)
    try:
        for n, (digest, _lines, error) in enumerate(results, start=1):
            if error:
                errors[digest] = error
            if progress:
                progress(n, len(todo))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return errors


def site_images(home: Path | str) -> list[str]:
    """Digests of the page images in a site's file store (what ``--home`` recognises)."""
    out = []
    files = file_store(home)
    for digest in files.digests():
        try:
            with files.open(digest) as fh, Image.open(fh) as img:
                if img.format in IMAGE_FORMATS:
                    out.append(digest)
        except (Image.UnidentifiedImageError, Image.DecompressionBombError, OSError,
                ValueError, LantaiError):  # LantaiError: missing, or a sealed file damaged
            continue
    return sorted(out)


def write_demo_seed(path: Path = SEED_FILE, *, workers: int = 2) -> int:
    """Recognise the demo's page scans and write their OCR, keyed by SHA-256 (what
    ``python -m iiif.ocr --demo-seed`` does after ``scripts/make_demo_media.py``)."""
    from repo.demo import MEDIA_DIR, manifest

    names = [n for n, info in manifest().items() if is_ocr_type(info.get("mime"))]
    with tempfile.TemporaryDirectory() as tmp:
        store = FileStore(Path(tmp))
        digests = {store.put(MEDIA_DIR / n): n for n in sorted(names)}
        errors = ocr_many(tmp, digests, workers=workers, seeds=False)
        if errors:
            raise OCRError(f"demo seed: {errors}")
        seeds = {}
        for digest in digests:
            data = json.loads((derivative_dir(tmp, digest) / OCR_FILE).read_text("utf-8"))
            data.pop("digest", None)
            seeds[parse_digest(digest)] = data
    text = json.dumps(seeds, ensure_ascii=False, indent=0, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")
    _seeds.cache_clear()
    return len(seeds)


def _main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m iiif.ocr",
                                     description="OCR page images (prints lines as JSON)")
    parser.add_argument("images", nargs="*", type=Path)
    parser.add_argument("--demo-seed", action="store_true",
                        help=f"recognise the demo's scans into {SEED_FILE.name}")
    parser.add_argument("--home", type=Path,
                        help="recognise every page image of this site that has no OCR yet "
                             "(the catalog is not updated: `lantai ocr` does both)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        if args.demo_seed:
            print(f"{write_demo_seed(workers=args.workers)} pages written to {SEED_FILE}")
        if args.home:
            if not (args.home / "lantai.toml").is_file():
                raise NotFound(f"{args.home}: not a site (no lantai.toml)")
            digests = site_images(args.home)

            def report(n: int, total: int) -> None:
                if total:
                    print(f"\rOCR {n}/{total}", end="" if n < total else "\n",
                          file=sys.stderr)

            errors = ocr_many(args.home, digests, workers=args.workers, progress=report)
            for digest, message in errors.items():
                print(f"lantai: warning: {digest}: {message}", file=sys.stderr)
            print(f"{len(digests) - len(errors)} of {len(digests)} page images have OCR")
        for image in args.images:
            print(json.dumps(ocr_page(image).data(), ensure_ascii=False))
    except (Invalid, NotFound) as exc:
        print(f"lantai: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())


__all__ = ["Line", "OCRError", "Page", "cached_ocr", "cached_page", "derivative_dir",
           "ensure_ocr", "ensure_page", "file_store", "has_ocr", "is_ocr_type",
           "ocr_for_ingest", "ocr_image", "ocr_many", "ocr_page", "site_images",
           "write_demo_seed"]
