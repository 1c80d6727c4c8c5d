"""IIIF Image API 3.0, compliance level 2, at ``/iiif/3/{identifier}``.

- ``/iiif/3/{id}`` redirects (303) to ``/iiif/3/{id}/info.json``;
- ``/iiif/3/{id}/info.json``: the image information (``application/ld+json`` with the
  Image 3 context profile when the client asks for it, ``application/json`` otherwise);
- ``/iiif/3/{id}/{region}/{size}/{rotation}/{quality}.{format}``: the image.

Identifiers are image instantiation keys; only those in the publication dataset answer
(:mod:`iiif.public`), everything else is 404. Pixels come from the tiled pyramidal TIFFs
(:mod:`iiif.derivatives`, made on the first request if missing; sealed on a site whose files
are encrypted, and read as plaintext through :mod:`iiif.derivative_files`), fastest first:

1. a tile asked for exactly as one of the pyramids stores it (256 or 512 px, on the grid
   of a scale factor, ``default``/``color`` JPEG: what viewers ask for from info.json's
   ``tiles``) is the stored JPEG bytes, read with one ``pread``, nothing decoded;
2. anything else rendered recently is answered from a bounded in-memory LRU of encoded
   answers (:class:`RenderedImages`), keyed by the pyramid's file version and the
   canonical request, so a remade derivative is never answered from stale bytes;
3. otherwise the level nearest above the requested scale is opened, the region cropped
   from its 256×256 tiles, scaled the rest of the way and encoded: a few milliseconds,
   whatever the size of the scan.

Errors follow the spec: 400 for bad syntax, regions outside the image, sizes that upscale
without ``^`` or exceed maxWidth/maxHeight/maxArea, rotations that are not numbers from 0
to 360, unknown qualities or formats; 501 for valid formats we do not write (jp2, pdf);
404 for identifiers that are not public images. Every answer carries CORS headers.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import struct
import threading
import time
from collections import OrderedDict
from pathlib import Path

import pyvips
from flask import Blueprint, Flask, Response, current_app, redirect, request

from iiif import caching, derivatives, jobs, tile_render
from iiif.derivative_files import ChunkCache
from iiif.derivatives import DerivativeError, ImageInfo
from iiif.image_request import FORMATS, Limits, Plan, RequestError, canonical, parse
from iiif.public import PublicImage, PublicImages, instantiation_iri
from preservation.crypt import DecryptionError
from publisher import busy
from publisher.dataset import PublicDataset, public_store, read_generation
from publisher.gone import is_gone
from repo.store import GENERATION_FILE

bp = Blueprint("iiif_image_api", __name__)

PREFIX = "/iiif/3"
CONTEXT = "http://iiif.io/api/image/3/context.json"
PROFILE_URI = "http://iiif.io/api/image/3/level2.json"
JSONLD = f'application/ld+json;profile="{CONTEXT}"'
CACHE_CONTROL = caching.REVALIDATE  # never kept unasked: an image closed later is 404 at once
SIZES_MAX_SIDE = 2048  # info.json "sizes": the whole image at pyramid levels up to this
EXTRA_FORMATS = ["webp", "tif", "gif"]
EXTRA_QUALITIES = ["color", "gray", "bitonal"]
EXTRA_FEATURES = ["canonicalLinkHeader", "mirroring", "profileLinkHeader",
                  "rotationArbitrary", "sizeUpscaling"]
JPEG_QUALITY = 85
RENDER_VERSION = "2"  # part of every image ETag: bump when the pixels we make change
RENDERED_CACHE_BYTES = 64 * 1024 * 1024  # per process: ~1,000 rendered 512 px tiles
RENDERED_ITEM_MAX = 1024 * 1024  # bigger answers (full/max of a scan) are not kept

_images = PublicImages()
_infos: dict[str, ImageInfo] = {}
_failed: dict[str, tuple[float, str]] = {}  # digest → (when, why) its derivatives failed
FAILURE_TTL = 60.0  # seconds a failure is remembered: a bad original is not decoded per request
_state_lock = threading.Lock()


class NotPublic(Exception):
    """404: not a public image (or never existed: the same answer)."""


# ---------------------------------------------------------------------- routes
@bp.get(f"{PREFIX}/<identifier>")
def base_uri(identifier: str):
    _public_image(identifier)
    response = redirect(f"{_service_id(identifier)}/info.json", code=303)
    return response


@bp.get(f"{PREFIX}/<identifier>/info.json")
def info_json(identifier: str):
    image = _public_image(identifier)
    info = _image_info(image)
    body = json.dumps(info_document(_service_id(identifier), info, _limits()),
                      ensure_ascii=False, indent=None)
    wants_ld = "application/ld+json" in request.headers.get("Accept", "")
    response = Response(body, mimetype=None,
                        content_type=JSONLD if wants_ld else "application/json")
    response.headers["Vary"] = "Accept"
    response.headers["Link"] = f'<{PROFILE_URI}>;rel="profile"'
    response.set_etag(hashlib.sha256(f"{image.digest}{body}{wants_ld}".encode()).hexdigest()[:32])
    return response.make_conditional(request)


@bp.get(f"{PREFIX}/<identifier>/<region>/<size>/<rotation>/<quality_format>")
def image(identifier: str, region: str, size: str, rotation: str, quality_format: str):
    public = _public_image(identifier)  # 404 first: nothing to learn about closed images
    parsed = parse(region, size, rotation, quality_format)
    info = _image_info(public)
    plan = parsed.resolve(info.width, info.height, _limits())
    canon = canonical(plan, info.width, info.height)
    pyramid = derivatives.pyramid_path(current_app.config["LANTAI_HOME"], public.digest)
    version = _pyramids_version(pyramid)  # a remade derivative is a new ETag and cache key
    etag = _etag(public.digest, version, canon)
    headers = _image_headers(_service_id(identifier), canon)
    if request.if_none_match.contains(etag):
        response = Response(status=304, headers=headers)
        response.set_etag(etag)
        return response
    try:
        data = stored_tile(pyramid, plan, version)
        if data is None:
            key = (str(pyramid), version, canon)
            data = _rendered.get(key)
            if data is None:
                with busy.enter("render"):  # a bounded pool: 503 when full (publisher.busy)
                    data = render(pyramid, info, plan, version)
                if version[0]:  # the main pyramid was there before and after rendering
                    _rendered.put(key, data)
    except (pyvips.Error, OSError, DecryptionError):
        # derivatives may be deleted or damaged at any time (they are regenerable): make
        # them again
        _forget(public)
        info = _image_info(public)
        try:
            with busy.enter("render"):
                data = render(pyramid, info, plan)
        except pyvips.Error as exc:
            raise DerivativeError(f"{public.digest[:23]}…: cannot read its pyramid "
                                  f"({str(exc).strip().splitlines()[-1][:200]})") from None
    response = Response(data, content_type=plan.media_type, headers=headers)
    response.set_etag(etag)
    return response


def _etag(digest: str, version: tuple[str, ...], canon: str) -> str:
    return hashlib.sha256(f"{RENDER_VERSION}/{digest}/{version}/{canon}".encode()
                          ).hexdigest()[:32]


def _image_headers(service_id: str, canon: str) -> dict[str, str]:
    return {
        "Cache-Control": CACHE_CONTROL,
        "Link": f'<{service_id}/{canon}>;rel="canonical", <{PROFILE_URI}>;rel="profile"',
    }


@bp.errorhandler(RequestError)
def _request_error(exc: RequestError):
    return _error(exc.status, str(exc))


@bp.errorhandler(NotPublic)
def _not_public(exc: NotPublic):
    """404, or 410 Gone for the image of an instantiation withdrawn from publication."""
    identifier = str(exc.args[0]) if exc.args else ""
    if identifier and is_gone(instantiation_iri(current_app.config["BASE"], identifier)):
        return _error(410, "this image was withdrawn")
    return _error(404, "no such image")


@bp.errorhandler(DerivativeError)
def _derivative_error(exc: DerivativeError):
    current_app.logger.error("iiif image: %s", exc)
    return _error(500, f"this image cannot be served: {exc}")


def _error(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, content_type="text/plain; charset=utf-8")


CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
    ("Access-Control-Allow-Headers", "Accept, Content-Type, Origin, Range"),
    ("Access-Control-Expose-Headers", "Content-Type, ETag, Link"),
)


def init_app(app: Flask) -> None:
    """CORS on every answer under /iiif/3/, also the 404s of paths no route matches; the
    IIIF cache policy (:mod:`iiif.caching`); and the tile fast path (:class:`TileFastPath`)
    in front of Flask."""
    caching.init_app(app)

    @app.after_request
    def _cors(response: Response) -> Response:
        if request.path.startswith(PREFIX + "/") or request.path == PREFIX:
            for name, value in CORS_HEADERS:
                response.headers.setdefault(name, value)
        return response

    wrapped = TileFastPath(app, app.wsgi_app)
    app.wsgi_app = wrapped  # type: ignore[method-assign]  # Flask's documented middleware


class TileFastPath:
    """WSGI middleware: the answers a viewer asks for most, without Flask.

    Reading a stored tile is ~0.02 ms; a request for it cost ~0.65 ms of server CPU
    through Flask and ~0.40 ms here (request context, routing, response object and hooks
    are the difference; waitress itself is ~0.2 ms). With viewers asking for dozens of
    tiles a second, that is what limits throughput. This answers a ``GET`` for
    an image already known here (public lookup and image info cached) with the same
    status, body and headers as :func:`image` would: a stored tile, a cached rendering,
    or a new rendering (then cached). Everything else (HEAD, conditional requests, every
    error, images seen for the first time, a rendering that fails: Flask remakes the
    derivatives) goes to Flask, unchanged. This path only ever answers 200, after the
    same public check, so closed stays closed.
    """

    def __init__(self, app: Flask, wsgi_app) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        self.home = app.config["LANTAI_HOME"]
        self.home_path = Path(self.home)
        self.generation_file = str(self.home_path / GENERATION_FILE)
        self.base = app.config["BASE"]
        self.answered = 0  # how many requests this path answered (tests, benchmarks)

    def __call__(self, environ: dict, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and "HTTP_IF_NONE_MATCH" not in environ:
            path = environ.get("PATH_INFO", "")
            if path.startswith(_TILE_PATH_START):
                answer = self._answer(path, environ)
                if answer is not None:
                    self.answered += 1
                    media_type, body, headers = answer
                    start_response("200 OK", [("Content-Type", media_type),
                                              ("Content-Length", str(len(body))), *headers])
                    return [body]
        return self.wsgi_app(environ, start_response)

    def _answer(self, path: str, environ: dict) -> tuple[str, bytes, list[tuple[str, str]]] | None:
        try:  # WSGI paths are bytes as latin-1; Flask decodes them as UTF-8 too
            path = path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return None
        parts = path[len(_TILE_PATH_START):].split("/")
        if len(parts) != 5 or "" in parts or ".." in parts:
            return None
        identifier, region, size, rotation, quality_format = parts
        dataset = self.app.extensions["lantai.dataset"]
        # the file the repository bumps; the engine's own when the publication lives in one
        # (a replica home has no file, and the engine may move later than it: external/)
        generation = (_generation(self.generation_file) if isinstance(dataset, PublicDataset)
                      else dataset.generation())
        public = _images.get(lambda: dataset.store, f"{self.home}:{generation}", self.base,
                             identifier)
        if public is None:
            return None
        with _state_lock:
            info = _infos.get(f"{self.home}:{public.digest}")
        if info is None:
            return None
        try:
            settings = self.app.config["SETTINGS"]
            plan = parse(region, size, rotation, quality_format).resolve(
                info.width, info.height, Limits(settings.image_max_width,
                                                settings.image_max_height,
                                                settings.image_max_area))
        except RequestError:
            return None
        canon = canonical(plan, info.width, info.height)
        pyramid = _pyramid_path(self.home, public.digest)
        version = _pyramids_version(pyramid)
        try:
            data = stored_tile(pyramid, plan, version)
        except OSError:
            return None
        if data is None:
            key = (str(pyramid), version, canon)
            data = _rendered.get(key)
            if data is None:
                if not version[0]:
                    return None
                try:
                    with busy.enter("render", environ, self.app):
                        data = render(pyramid, info, plan, version)
                except Exception:  # Flask answers instead: remakes the pyramid, reports, 503
                    return None
                _rendered.put(key, data)
        headers = [*_image_headers(f"{self.base}{PREFIX}/{identifier}", canon).items(),
                   ("ETag", f'"{_etag(public.digest, version, canon)}"'), *CORS_HEADERS]
        return plan.media_type, data, headers


_TILE_PATH_START = PREFIX + "/"


# ---------------------------------------------------------------------- lookups
def _public_image(identifier: str) -> PublicImage:
    if ".." in request.path.split("/"):  # a traversal attempt anywhere in the path: 404
        raise NotPublic(identifier)
    home = current_app.config["LANTAI_HOME"]
    generation = read_generation(Path(home))  # before the store: never cache stale answers
    store = public_store()
    found = _images.get(store, f"{home}:{generation}", current_app.config["BASE"], identifier)
    if found is None:
        raise NotPublic(identifier)
    return found


def _image_info(image: PublicImage) -> ImageInfo:
    home = current_app.config["LANTAI_HOME"]
    cache_key = f"{home}:{image.digest}"
    with _state_lock:
        info = _infos.get(cache_key)
        failed = _failed.get(cache_key)
    if info is not None:
        return info
    if failed is not None and time.monotonic() - failed[0] < FAILURE_TTL:
        raise DerivativeError(failed[1])
    try:
        info = derivatives.ensure_image_derivatives(home, image.digest)
    except DerivativeError as exc:
        with _state_lock:
            _failed[cache_key] = (time.monotonic(), str(exc))
        jobs.record(home, "derivatives", image.digest, str(exc), target=image.iri)  # for staff
        raise
    with _state_lock:
        _infos[cache_key] = info
    jobs.succeeded(home, "derivatives", [image.digest])
    return info


def _forget(image: PublicImage) -> None:
    with _state_lock:
        _infos.pop(f"{current_app.config['LANTAI_HOME']}:{image.digest}", None)


def _pyramids_version(pyramid: Path) -> tuple[str, ...]:
    """Each pyramid's (size, mtime, inode), ``""`` when missing: changes whenever a
    derivative is remade, so ETags and cached renderings follow the files."""
    version = []
    for path in _pyramid_files(pyramid):
        try:
            st = os.stat(path)
        except OSError:
            version.append("")
        else:
            version.append(f"{st.st_size}.{st.st_mtime_ns}.{st.st_ino}")
    return tuple(version)


@functools.lru_cache(maxsize=4096)
def _pyramid_files(pyramid: Path) -> tuple[str, ...]:
    """The pyramids' file names, one per tile size (pathlib is slow on the hot path)."""
    return tuple(str(_tiled_pyramid(pyramid, tile)) for tile in derivatives.TILE_SIZES)


@functools.lru_cache(maxsize=4096)
def _pyramid_paths(pyramid: Path) -> tuple[Path, ...]:
    """The same as paths."""
    return tuple(Path(name) for name in _pyramid_files(pyramid))


def _generation(path: str) -> str:
    """:func:`repo.store.read_generation` with three system calls instead of pathlib's
    dozen Python frames (it was 7 % of the fast path's time under the GIL): read once per
    tile request, before the public lookup, so that a record closed is gone at once."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return ""
    try:
        return os.read(fd, 256).decode("utf-8").strip()
    finally:
        os.close(fd)


_tiled_pyramid = functools.lru_cache(maxsize=8192)(derivatives.tiled_pyramid)
_pyramid_path = functools.lru_cache(maxsize=4096)(derivatives.pyramid_path)


class RenderedImages(ChunkCache):
    """A bounded LRU of encoded answers (bytes), by (pyramid, its version, canonical request).

    Only answers that had to be rendered go in (stored tiles are cheaper to read again
    than to keep). Size-capped in bytes, per process; answers above ``item_max`` are not
    kept. Looked up only after the identifier was found public, so an image closed later
    is 404 whatever is still cached; its entries age out.
    """

    def __init__(self, max_bytes: int = RENDERED_CACHE_BYTES,
                 item_max: int = RENDERED_ITEM_MAX) -> None:
        super().__init__(max_bytes)
        self.item_max = item_max

    def put(self, key: tuple, data: bytes) -> None:
        if len(data) <= self.item_max:
            super().put(key, data)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def size(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


_rendered = RenderedImages()


def _limits() -> Limits:
    s = current_app.config["SETTINGS"]
    return Limits(s.image_max_width, s.image_max_height, s.image_max_area)


def _service_id(identifier: str) -> str:
    return f"{current_app.config['BASE']}{PREFIX}/{identifier}"


# ---------------------------------------------------------------------- info.json
def info_document(service_id: str, info: ImageInfo, limits: Limits) -> dict:
    """The image information document (spec section 5)."""
    doc: dict = {
        "@context": CONTEXT,
        "id": service_id,
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level2",
        "width": info.width,
        "height": info.height,
    }
    if limits.max_width is not None:
        doc["maxWidth"] = limits.max_width
    if limits.max_height is not None:
        doc["maxHeight"] = limits.max_height
    if limits.max_area is not None:
        doc["maxArea"] = limits.max_area
    sizes = [{"width": w, "height": h} for w, h in sorted(info.levels or [(info.width,
                                                                           info.height)])
             if max(w, h) <= SIZES_MAX_SIDE and _within(w, h, limits)]
    if sizes:
        doc["sizes"] = sizes
    # every tile size a pyramid stores: those tiles are served as stored (viewers take the
    # first entry; 256 px keeps the most requests small)
    doc["tiles"] = [{"width": tile, "height": tile, "scaleFactors": info.scale_factors}
                    for tile in derivatives.TILE_SIZES]
    doc["extraQualities"] = EXTRA_QUALITIES
    doc["extraFormats"] = EXTRA_FORMATS
    doc["extraFeatures"] = EXTRA_FEATURES
    return doc


def _within(w: int, h: int, limits: Limits) -> bool:
    return ((limits.max_width is None or w <= limits.max_width)
            and (limits.max_height is None or h <= limits.max_height)
            and (limits.max_area is None or w * h <= limits.max_area))


# ---------------------------------------------------------------------- pixels
def render(pyramid: Path | str, info: ImageInfo, plan: Plan,
           versions: tuple[str, ...] | None = None) -> bytes:
    """The encoded image for ``plan``, read from the best pyramid level.

    The level is the smallest one that still has at least as many pixels as the output
    needs, so a tile is a crop of a few stored tiles and scaling never enlarges a level
    that a larger one could serve sharper. ``versions`` are the pyramids' file versions
    (:func:`_pyramids_version`), when the caller has them.

    Small JPEG answers (what viewers ask for) are made from the stored tiles' JPEG bytes
    with Pillow (:mod:`iiif.tile_render`, about a third of libvips' CPU for a tile);
    everything else, and anything that module declines or cannot read, with libvips.
    """
    path = Path(pyramid)
    if versions is None:
        versions = _pyramids_version(path)
    level, (x0, y0, x1, y1) = _level_box(info, plan)
    if tile_render.can_render(plan):
        sources = {tile: (name, stamp) for tile, name, stamp
                   in zip(derivatives.TILE_SIZES, _pyramid_paths(path), versions, strict=True)}
        try:
            data = tile_render.render_jpeg(sources, level, (x0, y0, x1, y1), plan)
        except (OSError, ValueError, SyntaxError, struct.error, DerivativeError):
            data = None  # damaged or remade meanwhile: libvips reads it (and fails loudly)
        if data is not None:
            return data
    lw, lh = (info.levels or ((info.width, info.height),))[level]
    img = _level_image(pyramid, level, versions[0])
    if (x0, y0, x1, y1) != (0, 0, lw, lh):
        img = img.crop(x0, y0, x1 - x0, y1 - y0)
    img = _scale(img, plan.width, plan.height)
    img = _quality(img, plan.quality)
    if plan.mirror:
        img = img.fliphor()
    img = _rotate(img, plan.rotation, plan.format)
    return _encode(img, plan)


def _level_box(info: ImageInfo, plan: Plan) -> tuple[int, tuple[int, int, int, int]]:
    """The pyramid level to read ``plan`` from, and its region there (x0, y0, x1, y1)."""
    box = plan.region
    levels = info.levels or ((info.width, info.height),)
    level = 0
    for n in range(1, len(levels)):  # level n holds 2^n × 2^n blocks of full pixels
        if box.w / 2 ** n + 1e-6 >= plan.width and box.h / 2 ** n + 1e-6 >= plan.height:
            level = n
        else:
            break
    lw, lh = levels[level]
    f = 2 ** level
    x0, y0 = min(box.x // f, lw - 1), min(box.y // f, lh - 1)
    x1 = min(lw, max(x0 + 1, -(-(box.x + box.w) // f)))
    y1 = min(lh, max(y0 + 1, -(-(box.y + box.h) // f)))
    return level, (x0, y0, x1, y1)


_levels: OrderedDict[tuple[str, str, int], pyvips.Image] = OrderedDict()
_levels_lock = threading.Lock()
LEVELS_KEPT = 64  # open pyramid levels kept per process (one file descriptor each)


def _level_image(pyramid: Path | str, level: int, version: str | None) -> pyvips.Image:
    """Level ``level`` of ``pyramid``, opened once per file version and shared by threads
    (libvips images are immutable; each request crops its own pipeline from it).

    Opened with ``revalidate``: libvips' own operation cache knows files by name only and
    would go on answering from a pyramid that was deleted or remade since.
    """
    if version is None:
        version = _pyramids_version(Path(pyramid))[0]
    key = (str(pyramid), version, level)
    with _levels_lock:
        img = _levels.get(key)
        if img is not None:
            _levels.move_to_end(key)
            return img
    path = Path(pyramid)  # sealed or not (iiif.derivative_files): libvips reads plaintext
    img = derivatives.files_for(path).vips_image(path, page=level, revalidate=True)
    if version:  # the file was there when we looked: keep it (else open it every time)
        with _levels_lock:
            _levels[key] = img
            while len(_levels) > LEVELS_KEPT:
                _levels.popitem(last=False)
    return img


def stored_tile(pyramid: Path, plan: Plan,
                versions: tuple[str, ...] | None = None) -> bytes | None:
    """The answer as stored, when ``plan`` asks for exactly one tile of one of the pyramids
    (``pyramid`` is the main one; 256 or 512 px) as a JPEG (what viewers ask for, from
    info.json's ``tiles``): no decoding, no encoding. ``None`` for anything else, which
    :func:`render` then makes. ``versions`` are the pyramids' file versions
    (:func:`_pyramids_version`) when the caller has them: then no ``stat`` here.
    """
    box = plan.region
    tile = plan.width
    if plan.format != "jpg" or plan.rotation or plan.mirror or plan.quality in ("gray",
                                                                               "bitonal"):
        return None
    if tile not in derivatives.TILE_SIZES or plan.height != tile or box.w != box.h \
            or box.w % tile:
        return None
    stamp = versions[derivatives.TILE_SIZES.index(tile)] if versions else None
    pyramid = _tiled_pyramid(pyramid, tile)
    f = box.w // tile
    if f & (f - 1) or box.x % box.w or box.y % box.h:
        return None
    level = f.bit_length() - 1
    try:
        layout = derivatives.pyramid_layout(pyramid, stamp)
        if level >= len(layout) or (plan.quality == "color" and layout[level].samples != 3):
            return None
        return derivatives.stored_jpeg_tile(pyramid, level, box.x // box.w, box.y // box.h,
                                            layout)
    except (OSError, struct.error, DerivativeError):  # missing or damaged: rendered instead
        return None


def _scale(img: pyvips.Image, width: int, height: int) -> pyvips.Image:
    if (img.width, img.height) == (width, height):
        return img
    img = img.resize(width / img.width, vscale=height / img.height)
    if (img.width, img.height) != (width, height):  # rounding in libvips: never off by one
        img = img.gravity("north-west", width, height, extend="copy")
    return img


def _quality(img: pyvips.Image, quality: str) -> pyvips.Image:
    if quality in ("gray", "bitonal") and img.bands >= 3:
        img = img.colourspace("b-w")
    if quality == "bitonal":
        img = img > 127  # 0 or 255 per pixel
    if quality == "color" and img.bands == 1:
        img = img.colourspace("srgb")
    return img


def _rotate(img: pyvips.Image, degrees: float, fmt: str) -> pyvips.Image:
    """Clockwise, as the spec and libvips both turn."""
    if degrees == 0:
        return img
    if degrees in (90, 180, 270):
        return img.rot(f"d{int(degrees)}")
    if fmt in ("png", "webp", "tif", "gif"):  # formats with transparency: transparent corners
        img = img.bandjoin(255)
        return img.rotate(degrees, background=[0] * img.bands)
    return img.rotate(degrees, background=[255] * img.bands)


def _encode(img: pyvips.Image, plan: Plan) -> bytes:
    keep = derivatives._keep_none()
    if plan.format == "jpg":
        if img.bands in (2, 4):
            img = img.flatten(background=[255] * (img.bands - 1))
        return img.jpegsave_buffer(Q=JPEG_QUALITY, **keep)
    if plan.format == "png":
        if plan.quality == "bitonal" and img.bands == 1:
            return img.pngsave_buffer(compression=3, bitdepth=1, **keep)
        return img.pngsave_buffer(compression=3, **keep)
    if plan.format == "webp":
        return img.webpsave_buffer(Q=80, **keep)
    if plan.format == "tif":
        return img.tiffsave_buffer(compression="deflate", **keep)
    if plan.format == "gif":
        return img.gifsave_buffer(**keep)
    raise RequestError(f"format {plan.format!r}: one of {', '.join(FORMATS)}")


__all__ = ["RenderedImages", "TileFastPath", "bp", "info_document", "init_app", "render",
           "stored_tile"]
