"""Parse and resolve IIIF Image API 3.0 request parameters (a pure module: no I/O).

``{region}/{size}/{rotation}/{quality}.{format}`` is checked in two steps, because the spec
separates syntax errors from errors that depend on the image:

1. :func:`parse` turns the four path segments into an :class:`ImageRequest` or raises
   :class:`RequestError` (status 400, or 501 for a valid but unsupported value);
2. :meth:`ImageRequest.resolve` applies it to an image of known width and height and the
   server's limits (maxWidth, maxHeight, maxArea) and returns the pixel :class:`Plan`
   (region box, output size, rotation, mirroring, quality, format), or raises
   :class:`RequestError` for regions outside the image, sizes that would upscale without
   ``^``, zero sizes and sizes above the limits.

Numbers follow the spec's grammar: region pixels and sizes are non-negative integers,
percentages and rotation are decimal numbers without sign or exponent (``pct:12.5``).
The spec is https://iiif.io/api/image/3.0/ (sections 4.1-4.5 and 4.7).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TypeVar

QUALITIES = ("default", "color", "gray", "bitonal")
# Formats this server writes, and their media types. jp2 and pdf are valid IIIF formats
# that we do not write: 501 rather than 400, as the spec asks for valid but unsupported.
FORMATS = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "tif": "image/tiff",
    "gif": "image/gif",
}
KNOWN_UNSUPPORTED_FORMATS = ("jp2", "pdf")

_INT = r"\d+"
_DEC = r"(?:\d+(?:\.\d*)?|\.\d+)"
_REGION_PX = re.compile(rf"^({_INT}),({_INT}),({_INT}),({_INT})$")
_REGION_PCT = re.compile(rf"^pct:({_DEC}),({_DEC}),({_DEC}),({_DEC})$")
_SIZE_WH = re.compile(rf"^(!)?({_INT})?,({_INT})?$")
_SIZE_PCT = re.compile(rf"^pct:({_DEC})$")
_ROTATION = re.compile(rf"^(!)?({_DEC})$")
_QUALITY_FORMAT = re.compile(r"^([a-z]+)\.([a-z0-9]+)$")
_MAX_DIGITS = 12  # no region or size needs more; bounds the work on hostile input


class RequestError(ValueError):
    """A request the spec says to refuse; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """The server's maxWidth, maxHeight and maxArea (info.json); ``None`` = no limit."""

    max_width: int | None = None
    max_height: int | None = None
    max_area: int | None = None


@dataclass(frozen=True)
class Region:
    kind: str  # "full", "square", "pixels" or "percent"
    values: tuple[float, float, float, float] = (0, 0, 0, 0)


@dataclass(frozen=True)
class Size:
    kind: str  # "max", "w,", ",h", "w,h", "!w,h" or "pct"
    upscale: bool = False  # the request had ^
    width: int | None = None
    height: int | None = None
    percent: float | None = None


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Plan:
    """What to do to the pixels: crop ``region`` (full-resolution pixels), scale to
    ``width`` × ``height``, mirror, rotate clockwise by ``rotation``, apply ``quality``."""

    region: Box
    width: int
    height: int
    mirror: bool
    rotation: float
    quality: str
    format: str

    @property
    def media_type(self) -> str:
        return FORMATS[self.format]


@dataclass(frozen=True)
class ImageRequest:
    region: Region
    size: Size
    mirror: bool
    rotation: float
    quality: str
    format: str

    def resolve(self, width: int, height: int, limits: Limits = Limits()) -> Plan:
        """The pixel plan for an image of ``width`` × ``height`` under ``limits``."""
        box = resolve_region(self.region, width, height)
        out_w, out_h = resolve_size(self.size, box.w, box.h, limits)
        return Plan(box, out_w, out_h, self.mirror, self.rotation, self.quality, self.format)


# ---------------------------------------------------------------------- parsing
def parse(region: str, size: str, rotation: str, quality_format: str) -> ImageRequest:
    """Parse the four path segments of an image request (already percent-decoded)."""
    quality, fmt = parse_quality_format(quality_format)
    mirror, degrees = parse_rotation(rotation)
    return ImageRequest(parse_region(region), parse_size(size), mirror, degrees, quality, fmt)


def _number(text: str, what: str) -> float:
    if len(text) > _MAX_DIGITS:
        raise RequestError(f"{what}: {text!r} has too many digits")
    return float(text)


def parse_region(text: str) -> Region:
    """``full``, ``square``, ``x,y,w,h`` (pixels) or ``pct:x,y,w,h``."""
    if text in ("full", "square"):
        return Region(text)
    m = _REGION_PX.match(text)
    kind = "pixels"
    if m is None:
        m = _REGION_PCT.match(text)
        kind = "percent"
    if m is None:
        raise RequestError(f"region {text!r}: expected full, square, x,y,w,h or pct:x,y,w,h")
    x, y, w, h = (_number(v, "region") for v in m.groups())  # the patterns have four
    if w <= 0 or h <= 0:
        raise RequestError(f"region {text!r}: width and height must be greater than zero")
    return Region(kind, (x, y, w, h))


def parse_size(text: str) -> Size:
    """``max``, ``w,``, ``,h``, ``w,h``, ``!w,h``, ``pct:n``, each optionally after ``^``."""
    upscale = text.startswith("^")
    body = text[1:] if upscale else text
    if body == "max":
        return Size("max", upscale)
    m = _SIZE_PCT.match(body)
    if m is not None:
        percent = _number(m.group(1), "size")
        if percent <= 0:
            raise RequestError(f"size {text!r}: the percentage must be greater than zero")
        if percent > 100 and not upscale:
            raise RequestError(f"size {text!r}: above 100% needs ^ (^pct:{m.group(1)})")
        return Size("pct", upscale, percent=percent)
    m = _SIZE_WH.match(body)
    if m is None or (m.group(2) is None and m.group(3) is None):
        raise RequestError(f"size {text!r}: expected max, w,, ,h, w,h, !w,h or pct:n "
                           "(optionally after ^)")
    confined, w, h = m.group(1), m.group(2), m.group(3)
    width = int(_number(w, "size")) if w is not None else None
    height = int(_number(h, "size")) if h is not None else None
    if width == 0 or height == 0:
        raise RequestError(f"size {text!r}: width and height must be greater than zero")
    if confined:
        if width is None or height is None:
            raise RequestError(f"size {text!r}: !w,h needs both a width and a height")
        return Size("!w,h", upscale, width, height)
    if width is not None and height is not None:
        return Size("w,h", upscale, width, height)
    return Size("w," if width is not None else ",h", upscale, width, height)


def parse_rotation(text: str) -> tuple[bool, float]:
    """``n`` or ``!n`` (mirror first), n a decimal number from 0 to 360."""
    m = _ROTATION.match(text)
    if m is None:
        raise RequestError(f"rotation {text!r}: expected a number from 0 to 360, "
                           "optionally after ! (mirroring)")
    degrees = _number(m.group(2), "rotation")
    if degrees > 360:
        raise RequestError(f"rotation {text!r}: must be between 0 and 360")
    return m.group(1) is not None, degrees % 360


def parse_quality_format(text: str) -> tuple[str, str]:
    """``{quality}.{format}``: quality one of :data:`QUALITIES`, format one of :data:`FORMATS`."""
    m = _QUALITY_FORMAT.match(text)
    if m is None:
        raise RequestError(f"{text!r}: expected quality.format, e.g. default.jpg")
    quality, fmt = m.groups()
    if quality not in QUALITIES:
        raise RequestError(f"quality {quality!r}: one of {', '.join(QUALITIES)}")
    if fmt in KNOWN_UNSUPPORTED_FORMATS:
        raise RequestError(f"format {fmt!r} is not supported here: "
                           f"one of {', '.join(FORMATS)}", status=501)
    if fmt not in FORMATS:
        raise RequestError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    return quality, fmt


# ---------------------------------------------------------------------- resolving
def resolve_region(region: Region, width: int, height: int) -> Box:
    """The region in full-resolution pixels, cropped to the image (spec 4.1).

    A region entirely outside the image is a 400; one that extends past the edges is
    cut at them.
    """
    if region.kind == "full":
        return Box(0, 0, width, height)
    if region.kind == "square":
        side = min(width, height)
        return Box((width - side) // 2, (height - side) // 2, side, side)
    x, y, w, h = region.values
    if region.kind == "percent":
        x, w = x * width / 100, w * width / 100
        y, h = y * height / 100, h * height / 100
    x0, y0 = _dim(x), _dim(y)
    x1, y1 = min(_dim(x + w), width), min(_dim(y + h), height)
    if x0 >= width or y0 >= height:
        raise RequestError(f"region starts at {x0},{y0}, outside the image "
                           f"({width}×{height})")
    if x1 <= x0 or y1 <= y0:
        raise RequestError("region is less than one pixel wide or high")
    return Box(x0, y0, x1 - x0, y1 - y0)


def _max_scale(w: int, h: int, limits: Limits) -> float:
    """The largest scale of a ``w`` × ``h`` region that keeps within the limits."""
    scale = math.inf
    max_w = limits.max_width
    max_h = limits.max_height if limits.max_height is not None else max_w
    if max_w is not None:
        scale = min(scale, max_w / w)
    if max_h is not None:
        scale = min(scale, max_h / h)
    if limits.max_area is not None:
        scale = min(scale, math.sqrt(limits.max_area / (w * h)))
    return scale


N = TypeVar("N", int, float)


def _given(value: N | None, size: Size) -> N:
    """A dimension ``size``'s kind says is there; :func:`parse_size` builds no other."""
    if value is None:
        raise ValueError(f"a {size.kind} size without its dimension: {size!r}")
    return value


def resolve_size(size: Size, w: int, h: int, limits: Limits = Limits()) -> tuple[int, int]:
    """The output size for a ``w`` × ``h`` region (spec 4.2).

    Without ``^`` a size larger than the region is a 400, except ``max`` and ``!w,h``,
    whose definitions already stop at the region (``!w,h`` on a smaller region is the
    region at its size); with or without ``^``, a size beyond maxWidth, maxHeight or
    maxArea is a 400, except ``max`` and ``!w,h``, which the spec defines as "as large as
    the limits allow".
    """
    if size.kind == "max":
        scale = _max_scale(w, h, limits)
        if not size.upscale:
            scale = min(scale, 1.0)
        if math.isinf(scale):
            scale = 1.0
        return _sized(w, h, scale, scale)
    if size.kind == "pct":
        scale = _given(size.percent, size) / 100
        out = _sized(w, h, scale, scale)
    elif size.kind == "w,":
        scale = _given(size.width, size) / w
        out = (_given(size.width, size), _dim(h * scale))
    elif size.kind == ",h":
        scale = _given(size.height, size) / h
        out = (_dim(w * scale), _given(size.height, size))
    elif size.kind == "w,h":
        out = (_given(size.width, size), _given(size.height, size))
    else:  # "!w,h": the largest size inside the box, keeping the aspect ratio; without ^
        # "not larger than the extracted region" is part of its definition (spec 4.2), so a
        # box bigger than the region gives the region at its size, never a 400
        box_w, box_h = _given(size.width, size), _given(size.height, size)
        scale = min(box_w / w, box_h / h, _max_scale(w, h, limits))
        if not size.upscale:
            scale = min(scale, 1.0)
        out = _sized(w, h, scale, scale)
        # the box may be a little off the aspect ratio: never step outside it
        out = (min(out[0], box_w), min(out[1], box_h))
    if out[0] < 1 or out[1] < 1:
        raise RequestError(f"size: the result would be {out[0]}×{out[1]} pixels")
    if not size.upscale and (out[0] > w or out[1] > h):
        raise RequestError(f"size: {out[0]}×{out[1]} is larger than the region ({w}×{h}); "
                           "upscaling needs ^")
    _check_limits(out, limits)
    return out


def _dim(value: float) -> int:
    """Round half up (Python's round() goes to even: 0.5 → 0 would give empty sizes)."""
    return math.floor(value + 0.5)


def _sized(w: int, h: int, sx: float, sy: float) -> tuple[int, int]:
    return _dim(w * sx), _dim(h * sy)


def _check_limits(out: tuple[int, int], limits: Limits) -> None:
    max_w = limits.max_width
    max_h = limits.max_height if limits.max_height is not None else max_w
    if max_w is not None and out[0] > max_w:
        raise RequestError(f"size: width {out[0]} is above the maximum width {max_w}")
    if max_h is not None and out[1] > max_h:
        raise RequestError(f"size: height {out[1]} is above the maximum height {max_h}")
    if limits.max_area is not None and out[0] * out[1] > limits.max_area:
        raise RequestError(f"size: {out[0]}×{out[1]} pixels is above the maximum area "
                           f"{limits.max_area}")


def canonical(plan: Plan, width: int, height: int) -> str:
    """The canonical form of a resolved request (spec 4.7), for the ``Link`` header."""
    r = plan.region
    region = "full" if (r.x, r.y, r.w, r.h) == (0, 0, width, height) else \
        f"{r.x},{r.y},{r.w},{r.h}"
    size = f"{plan.width},{plan.height}"
    if (plan.width, plan.height) == (r.w, r.h):
        size = "max"
    elif plan.width > r.w or plan.height > r.h:
        size = f"^{size}"
    rot = f"{plan.rotation:g}"
    rotation = f"!{rot}" if plan.mirror else rot
    return f"{region}/{size}/{rotation}/{plan.quality}.{plan.format}"


__all__ = ["FORMATS", "QUALITIES", "Box", "ImageRequest", "Limits", "Plan", "Region",
           "RequestError", "Size", "canonical", "parse", "parse_quality_format",
           "parse_region", "parse_rotation", "parse_size", "resolve_region", "resolve_size"]
