"""The page images of a record, in order, and each page as a JPEG for print or a thumbnail.

A record's pages are its image instantiations (``rico:Instantiation`` objects below it in
the tree, each naming a stored original by its SHA-256), in tree order: the order staff set
on the files page (:meth:`Repository.reorder`), which is also the order of the IIIF
manifest's canvases. Page images made from a PDF (``derivedFrom``) are pages like any other;
the PDF itself, recordings and transcripts are not pages. A ``file`` (案卷) record's pages
are those of its items, item after item.

Everything is read through the repository as the given (staff) user: records may be closed
to the public and staff see them; a user who may not view a record or a page gets NotFound,
as everywhere in the repository. Originals are read from the content-addressed file store
(``repo.files``: decrypted on the way when sealed), never through a public surface.

:func:`page_jpeg` renders with libvips (``pyvips.Image.thumbnail``: shrink-on-load, so a
thumbnail of a 6000×8000 scan decodes an eighth of it). A print-size request for a JPEG
original that is already 8-bit sRGB or grey, upright and no larger than asked is returned
as stored: not decoding and re-encoding 20 scans is most of what keeps a certified copy
under the issue's 3 seconds, and it is the archive's own scan, not a re-compression of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyvips

from iiif.derivative_files import DerivativeFiles
from iiif.derivatives import (  # the same 8-bit sRGB/grey, no alpha
    MAX_SOURCE_PIXELS,
    MAX_SOURCE_SIDE,
    RASTER_LOADERS,
    THUMB_SIZE,
    _keep_none,
    _normalise,
    thumb_path,
)
from repo.errors import Invalid, NotFound
from repo.files import FileStore
from repo.repository import Repository
from repo.security import User

PRINT_PX = 3508  # A4 at 300 dpi: 2480 × 3508
THUMB_PX = 400
MAX_PAGES = 2000  # pages of one record in one copy (a thick 案卷 has a few hundred)
QUALITY = 90
_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/tiff": ".tif",
           "image/webp": ".webp", "image/jp2": ".jp2"}


@dataclass(frozen=True)
class Page:
    """One page image of a record: its number (1-based, in order), a label (the
    instantiation's title or name), the instantiation it is, its file and size."""

    number: int
    label: str
    instantiation: str  # IRI
    digest: str  # sha256:…
    mime: str
    width: int
    height: int
    record: str  # IRI of the record the page belongs to (an item, for a file's pages)


def _int(values: list) -> int:
    try:
        return int(str(values[0])) if values else 0
    except ValueError:
        return 0


def record_pages(repo: Repository, user: User, ref: str) -> list[Page]:
    """The page images of the record ``ref`` (a path or IRI) that ``user`` may view, in
    order. NotFound if the user may not view the record; Invalid if it has too many pages
    for one copy."""
    record = repo.get(user, ref)
    pages: list[Page] = []
    for _level, obj in repo.walk(user, record.iri):
        if obj.deleted or obj.type_name != "instantiation":
            continue
        fields = obj.fields(repo.base)
        mime = str((fields.get("mime") or [""])[0])
        digest = str((fields.get("digest") or [""])[0])
        if not mime.startswith("image/") or not digest.startswith("sha256:"):
            continue
        if len(pages) >= MAX_PAGES:
            raise Invalid(f"{record.path} has more than {MAX_PAGES} page images: "
                          "select the pages to copy")
        pages.append(Page(number=len(pages) + 1, label=obj.title("zh"),
                          instantiation=obj.iri, digest=digest, mime=mime,
                          width=_int(fields.get("width") or []),
                          height=_int(fields.get("height") or []),
                          record=obj.parent or record.iri))
    return pages


@contextlib.contextmanager
def original(files: FileStore, page: Page) -> Iterator[Path]:
    """A path to the plaintext of ``page``'s stored original, for libvips: the stored file,
    or (sealed) a decrypted copy in ``{home}/tmp`` removed on leaving. The caller has
    checked that the user may view the page (:func:`check_page`)."""
    if page.digest not in files:
        raise NotFound(f"the scan of page {page.number} is missing from the file store")
    with files.local_path(page.digest, suffix=_SUFFIX.get(page.mime, "")) as path:
        yield path


def check_page(repo: Repository, user: User, page: Page) -> None:
    """NotFound unless ``user`` may (still) view ``page``."""
    repo.get(user, page.instantiation)


def original_jpeg(files: FileStore, page: Page, max_px: int = PRINT_PX) -> bytes:
    """``page``'s original rendered by :func:`render_jpeg` (no permission check)."""
    with original(files, page) as path:
        return render_jpeg(path, max_px)


def page_jpeg(repo: Repository, user: User, page: Page, max_px: int = PRINT_PX) -> bytes:
    """``page`` as JPEG, its longer side at most ``max_px`` (upright, 8-bit sRGB or grey).
    A thumbnail comes from the IIIF thumbnail (``thumb.jpg``, 400 px) when it is made: a
    selection screen of fifty pages then decodes no scan (and decrypts none)."""
    check_page(repo, user, page)
    if max_px <= THUMB_SIZE:
        thumb = thumb_path(repo.home, page.digest)
        if thumb.is_file():  # sealed on a site whose files are (iiif.derivative_files)
            with DerivativeFiles.for_site(repo.home).local_path(thumb) as plain:
                return render_jpeg(plain, max_px)
    with FileStore.for_site(repo.home) as files:
        return original_jpeg(files, page, max_px)


def render_jpeg(path: Path, max_px: int) -> bytes:
    """The image at ``path`` as JPEG within ``max_px`` × ``max_px``; a stored JPEG that
    needs no change is returned as it is. Refuses what iiif.derivatives refuses (not a
    raster image, a decompression bomb, corrupt data) with a one-line Invalid."""
    try:
        header = pyvips.Image.new_from_file(str(path), access="sequential")
    except pyvips.Error as exc:
        raise Invalid(f"page scan {path.name[:12]}: not an image ({_first_line(exc)})") \
            from None
    loader = header.get("vips-loader") if header.get_typeof("vips-loader") else ""
    w, h = header.width, header.height
    if not loader.startswith(RASTER_LOADERS):
        raise Invalid(f"page scan {path.name[:12]}: not a raster image ({loader})")
    if w > MAX_SOURCE_SIDE or h > MAX_SOURCE_SIDE or w * h > MAX_SOURCE_PIXELS:
        raise Invalid(f"page scan {path.name[:12]}: {w}×{h} pixels is above the limit")
    if _as_stored(header, loader, max_px):
        return path.read_bytes()
    try:
        image = pyvips.Image.thumbnail(str(path), max_px, height=max_px, size="down",
                                       fail_on="error")
        image = _normalise(image)
        return bytes(image.jpegsave_buffer(Q=QUALITY, **_keep_none()))
    except pyvips.Error as exc:
        raise Invalid(f"page scan {path.name[:12]}: corrupt or truncated "
                      f"({_first_line(exc)})") from None


def _as_stored(header: pyvips.Image, loader: str, max_px: int) -> bool:
    orientation = header.get("orientation") if header.get_typeof("orientation") else 1
    return (loader.startswith("jpegload") and max(header.width, header.height) <= max_px
            and header.format == "uchar" and orientation == 1
            and not header.get_typeof("icc-profile-data")
            and ((header.bands == 3 and header.interpretation == "srgb")
                 or (header.bands == 1 and header.interpretation == "b-w")))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or ["?"])[0][:200]


__all__ = ["MAX_PAGES", "PRINT_PX", "THUMB_PX", "Page", "check_page", "original",
           "original_jpeg", "page_jpeg", "record_pages",
           "render_jpeg"]
