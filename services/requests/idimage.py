"""The identity-document image a requester uploads: a real image, or refused.

An upload is untrusted bytes. It is accepted only if Pillow reads it whole as a JPEG, PNG or
WebP of at most :data:`MAX_PIXELS` pixels (the size is read from the header and checked
before any pixel is decoded, so a "decompression bomb" — a small file claiming 100,000 ×
100,000 pixels — costs nothing), and it is kept re-encoded: what is stored is pixels we
wrote, with no EXIF (place, camera, time), no comments, no trailing bytes, at most
:data:`KEPT_SIDE` pixels on its longer side (plenty to read a card; a 12-megapixel phone
photo is decoded at reduced scale, which keeps the form quick).
"""

from __future__ import annotations

import io
import math
import warnings

from PIL import Image, ImageOps

from publisher.i18n import UIText, ui_text
from repo.errors import Unsupported

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo passes; a bomb does not
MAX_SIDE = 20_000
KEPT_SIDE = 2000  # what is kept: an identity card stays legible, a phone photo shrinks


EMPTY = ui_text("The file is empty.")
BOMB = ui_text("The image claims too many pixels.")
NOT_IMAGE = ui_text("The file is not a JPEG, PNG or WebP image.")
TOO_BIG = ui_text("The image is too large (%(width)s × %(height)s pixels; at most "
                  "%(most)s megapixels).")


class NotAnImage(Unsupported):
    """The upload is not an image we take (415); ``text`` says why in either language."""

    def __init__(self, text: UIText, **values: object) -> None:
        super().__init__(text.in_lang("en", **values))
        self.text = text
        self.values = values

    def in_lang(self, want: str) -> str:
        return self.text.in_lang(want, **self.values)


def clean(data: bytes) -> tuple[bytes, str]:
    """The image re-encoded without metadata, and its MIME type; :class:`NotAnImage` if
    ``data`` is not a JPEG/PNG/WebP image of a sane size."""
    if not data:
        raise NotAnImage(EMPTY)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as probe:
                fmt = probe.format or ""
                _check_size(*probe.size)
                probe.verify()  # the whole structure (PNG chunk CRCs, …), no pixels yet
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as im:
                _check_size(*im.size)
                if fmt == "JPEG":  # decode at 1/2, 1/4… scale, no smaller than the size kept
                    ratio = min(1.0, KEPT_SIDE / max(im.size))
                    im.draft("RGB", (math.ceil(im.width * ratio), math.ceil(im.height * ratio)))
                im.load()  # the whole image decodes
                im = ImageOps.exif_transpose(im)  # upright, then the EXIF goes
                im.thumbnail((KEPT_SIDE, KEPT_SIDE))
                return _encode(im, fmt), FORMATS[fmt]
        except NotAnImage:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise NotAnImage(BOMB) from None
        except Exception:  # any failure to decode untrusted bytes means "not an image"
            raise NotAnImage(NOT_IMAGE) from None


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0 or width > MAX_SIDE or height > MAX_SIDE \
            or width * height > MAX_PIXELS:
        raise NotAnImage(TOO_BIG, width=width, height=height, most=MAX_PIXELS // 1_000_000)


def _encode(im: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        im.convert("RGB").save(out, "JPEG", quality=90)
    elif fmt == "WEBP":
        im.save(out, "WEBP", quality=90)
    else:
        if im.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            im = im.convert("RGBA")
        im.save(out, "PNG")
    return out.getvalue()
