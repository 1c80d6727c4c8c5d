"""Small JPEG renderings made from the pyramids' stored JPEG tiles with Pillow.

A viewer's tile that is not stored as such (an edge tile, a size a viewer computed a few
pixels off, a thumbnail of a region) is a crop of one to four stored tiles of the level
just above the requested scale, scaled by less than 2× and encoded. libvips did that in
~6 ms of CPU per 256 px tile here, most of it fixed costs for so small an image: its
JPEG decoder (~2 ms for one 256 px tile, against 0.5 ms for libjpeg-turbo through
Pillow), its encoder (1.4 ms against 0.55 ms) and a pipeline per request; the scaling
itself was the smaller part. iipimage, the C++ server we measure against, does the same
work in about a third of that. So this module does what iipimage does, with Pillow
(libjpeg-turbo inside the wheel; it releases the GIL while it decodes, scales and
encodes): read the stored tiles' JPEG bytes (one ``pread`` each; through the decrypting
reader and its chunk cache on a sealed site: :mod:`iiif.derivative_files`), decode them,
paste, crop, scale, encode — about 2.5 ms for a 256 px tile on this machine.

It answers only what it does exactly as :func:`iiif.image_api.render` would (the same
level, region and size; pixel differences are those of two good filters): JPEG output,
no arbitrary rotation, no bitonal; and at most :data:`MAX_DECODED_PIXELS` decoded, so
that a big answer (``full/max`` of a scan) stays with libvips, which streams it. For
anything else it returns ``None`` and libvips renders.

Scaling is Pillow's bilinear filter, which, unlike iipimage's, is antialiased on
reduction (its support grows with the factor; the level read is never more than 2× the
answer): bicubic cost ~15 % more of the whole and Lanczos (what libvips used) ~30 %, and
neither is sharper to see at a reduction below 2×.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from iiif import derivatives
from iiif.derivatives import TiffLevel
from iiif.image_request import Plan

JPEG_QUALITY = 85  # as every rendered JPEG answer (iiif.image_api.JPEG_QUALITY)
MAX_DECODED_PIXELS = 4 * 512 * 512  # four 512 px tiles at most; bigger answers: libvips
RESAMPLE = Image.Resampling.BILINEAR
_TRANSPOSE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
              270: Image.Transpose.ROTATE_90}  # IIIF turns clockwise, Pillow anticlockwise


def can_render(plan: Plan) -> bool:
    """Whether this module renders ``plan`` at all (else libvips does)."""
    return (plan.format == "jpg" and plan.quality != "bitonal"
            and (plan.rotation == 0 or plan.rotation in _TRANSPOSE))


def render_jpeg(pyramids: dict[int, tuple[Path, str]], level: int,
                box: tuple[int, int, int, int], plan: Plan) -> bytes | None:
    """The JPEG answer for ``plan`` from ``box`` (x0, y0, x1, y1, in pixels of pyramid
    level ``level``), or ``None`` when this module does not make it (see the module's
    docstring: then libvips renders).

    ``pyramids`` maps each tile size to its pyramid file and that file's version (the
    image API's ``size.mtime.inode``); the stored tiles come from the pyramid whose tiles
    cover ``box`` with the fewest decoded pixels.
    """
    if not can_render(plan):
        return None
    chosen = _cheapest(pyramids, level, box)
    if chosen is None:
        return None
    path, lv = chosen
    image = _region(path, lv, box)
    if image is None:
        return None
    if image.size != (plan.width, plan.height):
        image = image.resize((plan.width, plan.height), RESAMPLE)
    if plan.quality == "gray" and image.mode != "L":
        image = image.convert("L")
    elif plan.quality == "color" and image.mode == "L":
        image = image.convert("RGB")
    if plan.mirror:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if plan.rotation:
        image = image.transpose(_TRANSPOSE[int(plan.rotation)])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _cheapest(pyramids: dict[int, tuple[Path, str]], level: int,
              box: tuple[int, int, int, int]) -> tuple[Path, TiffLevel] | None:
    """The pyramid (and its level) whose stored tiles cover ``box`` with the fewest
    pixels to decode, within :data:`MAX_DECODED_PIXELS`; ``None`` if none does."""
    x0, y0, x1, y1 = box
    best: tuple[int, Path, TiffLevel] | None = None
    for path, stamp in pyramids.values():
        if not stamp:  # that pyramid is missing (being remade): libvips and the rebuild
            return None
        layout = derivatives.pyramid_layout(path, stamp)
        if level >= len(layout):
            continue
        lv = layout[level]
        if lv.compression != 7 or x1 > lv.width or y1 > lv.height:
            continue
        tw, th = lv.tile_width, lv.tile_height
        cost = ((x1 - 1) // tw - x0 // tw + 1) * ((y1 - 1) // th - y0 // th + 1) * tw * th
        if cost <= MAX_DECODED_PIXELS and (best is None or cost < best[0]):
            best = (cost, path, lv)
    return None if best is None else (best[1], best[2])


def _region(path: Path, lv: TiffLevel, box: tuple[int, int, int, int]) -> Image.Image | None:
    """``box`` of level ``lv``, decoded from the stored tiles that cover it."""
    x0, y0, x1, y1 = box
    tw, th = lv.tile_width, lv.tile_height
    cols = range(x0 // tw, (x1 - 1) // tw + 1)
    rows = range(y0 // th, (y1 - 1) // th + 1)
    canvas: Image.Image | None = None
    for row in rows:
        for col in cols:
            data = derivatives.tile_jpeg(path, lv, col, row)
            if data is None:
                return None
            tile = Image.open(io.BytesIO(data))
            if tile.size != (tw, th) or tile.mode not in ("RGB", "L"):
                return None  # not what we wrote: libvips reads it instead
            # the part of the box inside this tile, in the tile's pixels
            left, top = max(x0, col * tw) - col * tw, max(y0, row * th) - row * th
            right, bottom = min(x1, (col + 1) * tw) - col * tw, min(y1, (row + 1) * th) - row * th
            if len(cols) == 1 and len(rows) == 1:
                return tile if (left, top, right, bottom) == (0, 0, tw, th) else \
                    tile.crop((left, top, right, bottom))
            if canvas is None:
                canvas = Image.new(tile.mode, (x1 - x0, y1 - y0))
            elif tile.mode != canvas.mode:
                return None
            canvas.paste(tile.crop((left, top, right, bottom)),
                         (col * tw + left - x0, row * th + top - y0))
    return canvas


__all__ = ["MAX_DECODED_PIXELS", "can_render", "render_jpeg"]
