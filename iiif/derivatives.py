"""Image derivatives: a tiled pyramidal TIFF and a thumbnail per stored original.

Layout (agreed in :mod:`iiif`): ``{home}/derivatives/{sha256 hex}/pyramid.tif`` and
``thumb.jpg``, plus ``pyramid-512.tif`` (the same pyramid in 512×512 tiles).
Derivatives are regenerable from the original in the file store and are
never the only copy, so they are made lazily (on ingest, or on the first image request)
and can be deleted at any time.

Why a pyramidal TIFF: a tile of a 6000×8000 scan is then one or a few 256×256 JPEG tiles
read from the pyramid level nearest the requested scale, a few milliseconds, instead of
decoding 48 megapixels per request. libvips (pyvips) reads and writes it and releases the
GIL, so waitress threads serve tiles in parallel.

Why two pyramids: info.json advertises 256 and 512 px tiles (viewers use one or the
other), and a tile asked for exactly as a pyramid stores it is served as its stored JPEG
bytes, without decoding or encoding (:func:`stored_jpeg_tile`): ~0.4 ms of CPU instead of
~7 ms for a 512 px tile rendered from four 256 px ones. The price is disk: the second
pyramid is as large as the first (each a little larger than a Q90 original).

Hostile or damaged originals are expected (archives hold decades of scans):

- the size is read from the header first, and images above :data:`MAX_SOURCE_PIXELS` (or
  wider/higher than :data:`MAX_SOURCE_SIDE`) are refused before any pixel is decoded
  (decompression bombs: a 50 KB PNG can claim 100,000 × 100,000 pixels);
- decoding fails on truncated or corrupt data (``fail_on="error"``) instead of padding
  the image with grey;
- everything is written to a temporary file in the target folder and renamed into place,
  so a crash or a refusal leaves nothing half-written under a real name.

Errors are :class:`DerivativeError` with a one-line reason.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyvips

from iiif.derivative_files import DerivativeFiles, image_from_stream, is_sealed
from preservation.crypt import DecryptionError
from repo.errors import Invalid
from repo.files import FileStore, parse_digest

DERIVATIVES = "derivatives"
PYRAMID = "pyramid.tif"
THUMB = "thumb.jpg"
TILE = 256  # the main pyramid's tile size, the first tile size info.json advertises
TILE_SIZES = (256, 512)  # a pyramid per tile size; every one is advertised in info.json
THUMB_SIZE = 400  # the longer side of thumb.jpg
PYRAMID_QUALITY = 88  # JPEG quality inside the pyramid: tiles are re-encoded when served
MAX_SOURCE_PIXELS = 500_000_000  # 500 MP: a 20,000 × 25,000 map; far above any scan we hold
MAX_SOURCE_SIDE = 65_500  # TIFF/JPEG practical limit; also stops 1 × 10^9 strips
IN_MEMORY_PIXELS = 64_000_000  # originals up to this are decoded into memory once, larger stream

# libvips loaders allowed for originals: rasters only. libvips would also read matrix and
# CSV text, its own .v format, SVG or PDF (when built with them) by sniffing the content.
RASTER_LOADERS = ("jpegload", "pngload", "tiffload", "webpload", "gifload", "heifload",
                  "jp2kload", "spngload")

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class DerivativeError(Invalid):
    """An original that cannot (or must not) be turned into derivatives.

    An :class:`~repo.errors.Invalid`, so that ``lantai ingest media`` prints its one-line
    reason and exits with code 5, like any other bad input.
    """


@dataclass(frozen=True)
class ImageInfo:
    """Width and height of the full image, and of each pyramid level (level 0 = full)."""

    width: int
    height: int
    levels: tuple[tuple[int, int], ...] = field(default=(), compare=False)

    @property
    def scale_factors(self) -> list[int]:
        return [2 ** n for n in range(max(1, len(self.levels)))]


def derivatives_folder(home: Path | str, digest: str) -> Path:
    """``{home}/derivatives/{hex}`` for ``sha256:{hex}`` (checked: no path tricks)."""
    return Path(home) / DERIVATIVES / parse_digest(digest)


def pyramid_path(home: Path | str, digest: str) -> Path:
    return derivatives_folder(home, digest) / PYRAMID


def pyramid_name(tile: int) -> str:
    """``pyramid.tif`` for the main (256 px) pyramid, ``pyramid-{tile}.tif`` otherwise."""
    return PYRAMID if tile == TILE else f"pyramid-{tile}.tif"


def tiled_pyramid(pyramid: Path, tile: int) -> Path:
    """The sibling of the main ``pyramid`` that stores ``tile`` px tiles."""
    return pyramid.parent / pyramid_name(tile)


def thumb_path(home: Path | str, digest: str) -> Path:
    return derivatives_folder(home, digest) / THUMB


def _lock_for(digest: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(digest, threading.Lock())


def ensure_image_derivatives(home: Path | str, digest: str, *,
                             max_pixels: int = MAX_SOURCE_PIXELS) -> ImageInfo:
    """Make ``pyramid.tif``, ``pyramid-512.tif`` and ``thumb.jpg`` for the stored original
    ``digest`` if any is missing (sealed when the site's files are:
    :mod:`iiif.derivative_files`); return the image's size and (main) pyramid levels.

    Safe to call from many threads (one builds, the others wait) and from several
    processes (each writes its own temporary files; the last rename wins, and both are
    the same image). Raises :class:`DerivativeError` for a missing, corrupt, truncated,
    non-image or oversized original.
    """
    try:
        folder = derivatives_folder(home, digest)
    except Invalid as exc:
        raise DerivativeError(str(exc)) from None
    pyramid = folder / PYRAMID
    targets = [folder / pyramid_name(tile) for tile in TILE_SIZES] + [folder / THUMB]
    if all(t.is_file() for t in targets):
        with contextlib.suppress(DerivativeError):
            return read_image_info(pyramid)
    with _lock_for(digest):
        if all(t.is_file() for t in targets):  # made by another thread meanwhile
            with contextlib.suppress(DerivativeError):
                return read_image_info(pyramid)
        # one missing or damaged (a derivative is never the only copy): all are made again
        _build(Path(home), digest, folder, max_pixels)
        return read_image_info(pyramid)


def _build(home: Path, digest: str, folder: Path, max_pixels: int) -> None:
    """Every image derivative of ``digest``, each made as plaintext in a temporary file
    and then stored (sealed, or renamed, by :class:`DerivativeFiles`)."""
    store = original_store(home)
    if digest not in store:
        raise DerivativeError(f"no stored original {digest}")
    files = DerivativeFiles.for_site(home)
    image = open_original(lambda: store.open(digest), max_pixels=max_pixels, name=digest)
    in_memory = image.width * image.height <= IN_MEMORY_PIXELS
    pyramid = folder / PYRAMID
    with files.plaintext_file(pyramid) as main:
        _write(lambda: _save_pyramid(image, main, TILE), main)
        for tile in TILE_SIZES:
            if tile == TILE:
                continue
            if not in_memory:  # a large original streams: it is read once per pyramid
                image = open_original(lambda: store.open(digest), max_pixels=max_pixels,
                                      name=digest)
            target = folder / pyramid_name(tile)
            with files.plaintext_file(target) as plain:
                _write(lambda im=image, t=tile, p=plain: _save_pyramid(im, p, t), plain)
                files.store(plain, target)
        with files.plaintext_file(folder / THUMB) as thumb:
            _write(lambda: _save_thumb(main, thumb), thumb)
            files.store(thumb, folder / THUMB)
        files.store(main, pyramid)  # last: its presence says the others were made


def original_store(home: Path | str) -> FileStore:
    """The site's file store, which reads originals as plaintext whether sealed or not."""
    return FileStore.for_site(Path(home))


def _write(make, target: Path) -> None:
    try:
        make()
    except pyvips.Error as exc:
        raise DerivativeError(f"{target.suffix[1:]} derivative could not be written "
                              f"({_first_line(exc)})") from None


def open_original(source: Path | Callable[[], BinaryIO], *,
                  max_pixels: int = MAX_SOURCE_PIXELS, name: str | None = None
                  ) -> pyvips.Image:
    """The first page of an original as 8-bit sRGB (or grey), checked and fully decodable.

    ``source`` is a plain file's path, or a function opening the original's plaintext
    (seekable): libvips then decodes it from that stream (a custom source), so a sealed
    original is never written out in the clear to be read. Building both pyramids of a
    12 MP scan took the same time either way (0.5–0.75 s, the machine's noise being larger
    than the difference; ``docs/preservation.md``).

    Refuses oversized images from the header alone, then decodes once (into memory for
    small images, a temporary file for large ones: libvips decides) so that corrupt or
    truncated data fails here, not halfway through writing the pyramid.
    """
    label = name or (source.name if isinstance(source, Path) else "original")
    label = label if len(label) <= 20 else label[:16] + "…"
    try:
        header = _load(source, access="sequential")
    except pyvips.Error as exc:
        raise DerivativeError(f"{label}: not an image libvips can read "
                              f"({_first_line(exc)})") from None
    loader = header.get("vips-loader") if header.get_typeof("vips-loader") else ""
    if not loader.startswith(RASTER_LOADERS):
        raise DerivativeError(f"{label}: not a raster image we derive from ({loader or 'unknown'}"
                              "; scans are JPEG, TIFF, PNG, WebP, GIF, HEIF or JPEG 2000)")
    w, h = header.width, header.height
    if w > MAX_SOURCE_SIDE or h > MAX_SOURCE_SIDE or w * h > max_pixels:
        raise DerivativeError(f"{label}: {w}×{h} pixels is above the limit of "
                              f"{max_pixels:,} pixels (a decompression bomb?)")
    try:
        image = _load(source, access="sequential", fail_on="error")
        image = _normalise(image)
        image = image.copy_memory() if w * h <= IN_MEMORY_PIXELS else image
    except pyvips.Error as exc:
        raise DerivativeError(f"{label}: the image data is corrupt or truncated "
                              f"({_first_line(exc)})") from None
    return image


def _load(source: Path | Callable[[], BinaryIO], **options) -> pyvips.Image:
    if isinstance(source, Path):
        return pyvips.Image.new_from_file(str(source), **options)
    return image_from_stream(source(), **options)


def _normalise(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB or grey without alpha: what a JPEG-compressed pyramid can hold."""
    if image.get_typeof("icc-profile-data"):
        with contextlib.suppress(pyvips.Error):
            image = image.icc_transform("srgb", embedded=True)
    if image.hasalpha():
        image = image.flatten(background=[255 if image.format == "uchar" else 65535]
                              * (image.bands - 1))
    if image.bands == 1 or image.interpretation in ("b-w", "grey16"):
        if image.format != "uchar" or image.interpretation not in ("b-w", "multiband"):
            image = image.colourspace("b-w")
    elif image.interpretation != "srgb" or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.bands > 3:
        image = image[0:3]
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def _save_pyramid(image: pyvips.Image, tmp: Path, tile: int = TILE) -> None:
    big = image.width * image.height > 100_000_000
    image.tiffsave(str(tmp), tile=True, pyramid=True, compression="jpeg", Q=PYRAMID_QUALITY,
                   tile_width=tile, tile_height=tile, bigtiff=big, **_keep_none())


def _save_thumb(pyramid: Path, tmp: Path) -> None:
    """The thumbnail, from the (plaintext) pyramid just made: its small levels."""
    thumb = pyvips.Image.thumbnail(str(pyramid), THUMB_SIZE, height=THUMB_SIZE)
    thumb.jpegsave(str(tmp), Q=85, **_keep_none())


def _keep_none() -> dict:
    """Drop metadata from derivatives (``keep`` from libvips 8.15, ``strip`` before)."""
    return {"keep": "none"} if pyvips.at_least_libvips(8, 15) else {"strip": True}


def files_for(derivative: Path) -> DerivativeFiles:
    """The :class:`DerivativeFiles` of the site a derivative's path is in
    (``{home}/derivatives/{hex}/{file}``)."""
    return DerivativeFiles.for_site(derivative.parent.parent.parent)


def read_image_info(pyramid: Path) -> ImageInfo:
    """Size and levels of a pyramid (sealed or not), from the TIFF headers only (no pixels
    decoded)."""
    files = files_for(pyramid)
    try:
        first = files.vips_image(pyramid, revalidate=True)
        pages = first.get("n-pages") if first.get_typeof("n-pages") else 1
        levels = [(first.width, first.height)]
        for n in range(1, pages):
            level = files.vips_image(pyramid, page=n, revalidate=True)
            levels.append((level.width, level.height))
    except (pyvips.Error, OSError, DecryptionError) as exc:
        why = _first_line(exc) if isinstance(exc, pyvips.Error) else str(exc)
        raise DerivativeError(f"{pyramid}: unreadable pyramid ({why})") from None
    return ImageInfo(first.width, first.height, tuple(levels))


# ---------------------------------------------------------------------- stored tiles
@dataclass(frozen=True)
class TiffLevel:
    """Where one pyramid level's tiles are in ``pyramid.tif`` (from its IFD)."""

    width: int
    height: int
    tile_width: int
    tile_height: int
    compression: int  # 7 = JPEG
    samples: int  # 3 = colour (YCbCr JPEG), 1 = grey
    offsets: tuple[int, ...]
    counts: tuple[int, ...]
    jpeg_tables: bytes
    sealed: bool = False  # the pyramid file is sealed: tiles are read through its reader

    @property
    def across(self) -> int:
        return -(-self.width // self.tile_width)


_TIFF_TYPES = {1: (1, "B"), 3: (2, "H"), 4: (4, "I"), 7: (1, "B"), 16: (8, "Q")}
_layouts: dict[tuple[str, int, int], tuple[TiffLevel, ...]] = {}


def pyramid_layout(pyramid: Path, stamp: str | None = None) -> tuple[TiffLevel, ...]:
    """The tile layout of every level of a pyramid we wrote (classic or BigTIFF; sealed
    or not: the offsets are the plaintext's).

    A minimal reader of the few tags we need, cached per file version: with it a tile
    that a viewer asks for exactly as stored is one ``pread`` (and, sealed, the
    decryption of the two or three chunks holding it), no decoding. ``stamp`` is the
    file's version when the caller has just read it (``size.mtime_ns.inode``, what the
    image API keys its caches by): then no ``stat`` here.
    """
    if stamp:
        key: tuple = (str(pyramid), stamp)
    else:
        st = os.stat(pyramid)
        key = (str(pyramid), f"{st.st_size}.{st.st_mtime_ns}.{st.st_ino}")
    cached = _layouts.get(key)
    if cached is not None:
        return cached
    try:
        layout = _read_layout(pyramid)
    except DecryptionError as exc:
        raise DerivativeError(str(exc)) from None
    if len(_layouts) > 1000:
        _layouts.clear()
    _layouts[key] = layout
    return layout


def _read_layout(pyramid: Path) -> tuple[TiffLevel, ...]:
    sealed = is_sealed(pyramid)
    with files_for(pyramid).open(pyramid) as fh:
        data_head = fh.read(16)
        order = {b"II": "<", b"MM": ">"}.get(data_head[:2])
        if order is None:
            raise DerivativeError(f"{pyramid}: not a TIFF file")
        magic = struct.unpack(order + "H", data_head[2:4])[0]
        big = magic == 43
        offset = struct.unpack(order + ("Q" if big else "I"),
                               data_head[8:16] if big else data_head[4:8])[0]
        levels: list[TiffLevel] = []
        while offset and len(levels) < 64:
            fh.seek(offset)
            count_fmt, entry_size = ("Q", 20) if big else ("H", 12)
            n = struct.unpack(order + count_fmt, fh.read(8 if big else 2))[0]
            entries = fh.read(n * entry_size)
            tags: dict[int, tuple] = {}
            jpeg_tables = b""  # tag 347, the one kept as bytes
            for i in range(n):
                e = entries[i * entry_size:(i + 1) * entry_size]
                tag, typ = struct.unpack(order + "HH", e[:4])
                count = struct.unpack(order + ("Q" if big else "I"), e[4:12 if big else 8])[0]
                inline = e[12:] if big else e[8:]
                if typ not in _TIFF_TYPES or tag not in (256, 257, 259, 277, 322, 323, 324, 325,
                                                          347):
                    continue
                size, fmt = _TIFF_TYPES[typ]
                total = size * count
                if total <= len(inline):
                    raw = inline[:total]
                else:
                    where = struct.unpack(order + ("Q" if big else "I"), inline)[0]
                    here = fh.tell()
                    fh.seek(where)
                    raw = fh.read(total)
                    fh.seek(here)
                if tag == 347:
                    jpeg_tables = raw
                else:
                    tags[tag] = struct.unpack(order + fmt * count, raw)
            next_raw = fh.read(8 if big else 4)
            offset = struct.unpack(order + ("Q" if big else "I"), next_raw)[0]
            if 322 not in tags or 324 not in tags:
                break
            levels.append(TiffLevel(
                width=tags[256][0], height=tags[257][0], tile_width=tags[322][0],
                tile_height=tags[323][0], compression=tags.get(259, (1,))[0],
                samples=tags.get(277, (1,))[0], offsets=tags[324], counts=tags[325],
                jpeg_tables=jpeg_tables, sealed=sealed))
    return tuple(levels)


def stored_jpeg_tile(pyramid: Path, level: int, col: int, row: int,
                     layout: tuple[TiffLevel, ...] | None = None) -> bytes | None:
    """Tile (``col``, ``row``) of ``level`` as a complete JPEG file, straight from the
    pyramid, or ``None`` when it is not a full JPEG tile inside the image.

    TIFF keeps the JPEG tables once per level (tag 347) and each tile without them; a
    standalone JPEG is the tables without their end marker followed by the tile without
    its start marker. ``layout`` is :func:`pyramid_layout` of ``pyramid`` if the caller
    has it.
    """
    if layout is None:
        layout = pyramid_layout(pyramid)
    if level >= len(layout):
        return None
    lv = layout[level]
    if (col + 1) * lv.tile_width > lv.width or (row + 1) * lv.tile_height > lv.height:
        return None
    return tile_jpeg(pyramid, lv, col, row)


def tile_jpeg(pyramid: Path, lv: TiffLevel, col: int, row: int) -> bytes | None:
    """Tile (``col``, ``row``) of the level ``lv`` of ``pyramid`` as a complete JPEG file
    (``lv.tile_width`` × ``lv.tile_height``: a tile at the right or bottom edge holds
    padding past the level's edge), or ``None`` when the level is not JPEG-compressed or
    has no such tile. What :func:`stored_jpeg_tile` serves, and what
    :mod:`iiif.tile_render` decodes."""
    if lv.compression != 7 or col < 0 or row < 0 or col >= lv.across:
        return None
    index = row * lv.across + col
    if index >= len(lv.offsets):
        return None
    try:
        tile = files_for(pyramid).read_at(pyramid, lv.offsets[index], lv.counts[index],
                                          sealed=lv.sealed)
    except DecryptionError as exc:
        raise DerivativeError(str(exc)) from None
    if not tile.startswith(b"\xff\xd8"):
        return None
    tables = lv.jpeg_tables
    if tables.startswith(b"\xff\xd8") and tables.endswith(b"\xff\xd9"):
        return tables[:-2] + tile[2:]
    return tile


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("unable to call")]
    return (useful or lines or ["unknown error"])[-1][:200]


__all__ = ["DERIVATIVES", "PYRAMID", "THUMB", "TILE", "TILE_SIZES", "DerivativeError",
           "ImageInfo", "TiffLevel", "derivatives_folder", "ensure_image_derivatives",
           "files_for", "open_original", "original_store", "pyramid_layout", "pyramid_name",
           "pyramid_path",
           "read_image_info", "stored_jpeg_tile", "thumb_path", "tile_jpeg", "tiled_pyramid"]
