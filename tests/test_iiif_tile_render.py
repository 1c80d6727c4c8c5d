"""Small JPEG renderings made from the stored tiles with Pillow (:mod:`iiif.tile_render`).

They must be what libvips makes of the same request (the same size, mode and picture: two
good filters differ by a few levels on average), on sealed and unsealed pyramids alike, be
made without libvips at all, and leave to libvips what they do not do (other formats,
bitonal, arbitrary rotations, big answers).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from support import PROJECT

from iiif import derivatives, image_api, tile_render
from iiif.image_request import Limits, parse

SOURCE = PROJECT / "repo" / "demo" / "media" / "notes-p1.jpg"  # 800 × 1130, colour
LIMITS = Limits(10_000, 10_000, 40_000_000)


@pytest.fixture(scope="module", params=[False, True], ids=["unsealed", "sealed"])
def pyramid(request, tmp_path_factory) -> tuple[Path, derivatives.ImageInfo]:
    from repo.config import make_settings, write_settings
    from repo.files import FileStore

    home = tmp_path_factory.mktemp("render") / "home"
    write_settings(home, make_settings(base="https://archive.example.edu",
                                       files_encrypted=request.param))
    with FileStore.for_site(home) as store:
        digest = store.put(SOURCE.read_bytes())
    info = derivatives.ensure_image_derivatives(home, digest)
    path = derivatives.pyramid_path(home, digest)
    assert derivatives.pyramid_layout(path)[0].sealed is request.param
    return path, info


def _plan(path: str, info: derivatives.ImageInfo):
    region, size, rotation, quality_format = path.split("/")
    return parse(region, size, rotation, quality_format).resolve(info.width, info.height,
                                                                 LIMITS)


def _by_libvips(monkeypatch, pyramid_path: Path, info, plan) -> bytes:
    with monkeypatch.context() as m:
        m.setattr(tile_render, "can_render", lambda plan: False)
        return image_api.render(pyramid_path, info, plan)


@pytest.mark.parametrize("path", [
    "0,0,256,256/244,/0/default.jpg",  # one stored tile, scaled a little (the bench's render)
    "256,512,512,512/500,/0/default.jpg",  # level 1, one 256 px tile or a 512 px one
    "200,300,300,300/150,/0/default.jpg",  # across tile edges
    "100,100,700,700/330,/0/default.jpg",  # four tiles pasted together
    "768,0,32,256/32,/0/default.jpg",  # an edge tile: the stored tile holds padding
    "512,512,288,618/72,155/0/default.jpg",  # an edge tile at scale 4
    "full/200,/0/default.jpg",  # a whole small level, two tiles high
    "full/!150,150/0/default.jpg",  # a thumbnail as viewers ask for one
    "0,0,256,256/256,/0/gray.jpg",
    "0,0,512,512/256,/0/color.jpg",
    "0,0,256,256/200,/!0/default.jpg",  # mirrored
    "0,0,300,200/150,/90/default.jpg",
    "0,0,300,200/150,/180/default.jpg",
    "0,0,300,200/150,/!270/default.jpg",
])
def test_pillow_renders_what_libvips_renders(pyramid, monkeypatch, path):
    pyramid_path, info = pyramid
    plan = _plan(path, info)
    assert tile_render.can_render(plan)
    ours = image_api.render(pyramid_path, info, plan)
    libvips = _by_libvips(monkeypatch, pyramid_path, info, plan)
    a, b = Image.open(io.BytesIO(ours)), Image.open(io.BytesIO(libvips))
    assert a.format == b.format == "JPEG"
    turned = plan.rotation in (90, 270)
    assert a.size == b.size == ((plan.height, plan.width) if turned else
                                (plan.width, plan.height)), path
    assert a.mode == b.mode, path
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).convert("L")
    # bilinear against Lanczos on a page of small handwriting: 0–4.4 levels of 255 on
    # average; a region off by one pixel is above 10
    assert sum(diff.getdata()) / (a.width * a.height) < 6, path


def test_tiles_are_rendered_without_libvips(pyramid, monkeypatch):
    """The answers viewers ask for (small JPEGs) never open the pyramid in libvips."""
    pyramid_path, info = pyramid

    def no_libvips(*args, **kwargs):
        raise AssertionError("libvips was asked to open the pyramid")

    monkeypatch.setattr(image_api, "_level_image", no_libvips)
    for path in ("0,0,256,256/244,/0/default.jpg", "768,1024,32,106/32,/0/default.jpg",
                 "full/!150,150/0/default.jpg", "0,0,1024,1024/500,/0/gray.jpg"):
        data = image_api.render(pyramid_path, info, _plan(path, info))
        assert Image.open(io.BytesIO(data)).format == "JPEG"


@pytest.mark.parametrize("path", [
    "0,0,256,256/244,/0/default.png",  # other formats: libvips
    "0,0,256,256/244,/0/bitonal.jpg",
    "0,0,256,256/244,/22.5/default.jpg",
])
def test_what_pillow_does_not_render_goes_to_libvips(pyramid, path):
    pyramid_path, info = pyramid
    plan = _plan(path, info)
    assert not tile_render.can_render(plan)
    assert tile_render.render_jpeg({}, 0, (0, 0, 256, 256), plan) is None
    made = Image.open(io.BytesIO(image_api.render(pyramid_path, info, plan)))
    assert made.format == ("PNG" if plan.format == "png" else "JPEG")


def test_big_answers_stay_with_libvips(pyramid, monkeypatch):
    """``full/max`` of a scan would decode 20 stored tiles at once: libvips streams it."""
    pyramid_path, info = pyramid
    plan = _plan("full/max/0/default.jpg", info)
    versions = image_api._pyramids_version(pyramid_path)
    sources = dict(zip(derivatives.TILE_SIZES, zip(image_api._pyramid_paths(pyramid_path),
                                                   versions, strict=True), strict=True))
    assert tile_render.render_jpeg(sources, 0, (0, 0, 800, 1130), plan) is None
    assert Image.open(io.BytesIO(image_api.render(pyramid_path, info, plan))).size == (800, 1130)


def test_a_missing_pyramid_is_left_to_libvips(pyramid):
    """While a pyramid is being remade (its version is ""), nothing is read from it here."""
    pyramid_path, info = pyramid
    plan = _plan("0,0,256,256/244,/0/default.jpg", info)
    sources = {256: (pyramid_path, ""), 512: (derivatives.tiled_pyramid(pyramid_path, 512), "")}
    assert tile_render.render_jpeg(sources, 0, (0, 0, 256, 256), plan) is None
