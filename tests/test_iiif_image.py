"""IIIF Image API 3.0 (level 2): request parsing, derivatives, the HTTP server, closed stays
closed, hostile input, and the official validator.

Parsing is tested as a pure module against every form of the spec's sections 4.1-4.5; the
server over real HTTP (the ``demo_server`` fixture: waitress, the demo archive, whose scans
are 800×1130 JPEGs), checking the pixels of what comes back with Pillow.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import struct
import subprocess
import sys
import threading
import urllib.parse
import zlib
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageChops, ImageOps
from support import PROJECT, REFERENCE, free_port, require, served

from iiif import derivatives
from iiif.derivatives import DerivativeError, ensure_image_derivatives
from iiif.image_request import (
    Box,
    Limits,
    Region,
    RequestError,
    Size,
    canonical,
    parse,
    parse_quality_format,
    parse_region,
    parse_rotation,
    parse_size,
    resolve_region,
    resolve_size,
)
from repo.demo import canaries, manifest

sys.path.insert(0, str(PROJECT))  # bench/ (the site helper) is not installed

SCAN = "notes-p1-jpg"  # a published, open page scan of the demo (800 × 1130)
W, H = 800, 1130
CLOSED = ["consent-01-jpg", "consent-02-jpg", "consent-03-jpg"]  # personal data: closed
LIMITS = Limits(10_000, 10_000, 40_000_000)


# =========================================================================== parsing
@pytest.mark.parametrize("text, expected", [
    ("full", Region("full")),
    ("square", Region("square")),
    ("125,15,120,140", Region("pixels", (125, 15, 120, 140))),
    ("0,0,1,1", Region("pixels", (0, 0, 1, 1))),
    ("pct:41.6,7.5,40,70", Region("percent", (41.6, 7.5, 40, 70))),
    ("pct:0,0,100,100", Region("percent", (0, 0, 100, 100))),
    ("pct:.5,0.,10,10", Region("percent", (0.5, 0, 10, 10))),
])
def test_region_forms(text, expected):
    assert parse_region(text) == expected


@pytest.mark.parametrize("text", [
    "", "Full", "max", "1,2,3", "1,2,3,4,5", "-1,0,10,10", "1.5,0,10,10", "0,0,0,10",
    "0,0,10,0", "pct:0,0,0,10", "pct:1,2,3", "pct:-1,0,10,10", "pct:1e2,0,1,1", "abcdef",
    "10,10,10,10 ", "%2F", "..", "pct:", "0x10,0,1,1", "1" * 13 + ",0,1,1",
])
def test_region_syntax_errors_are_400(text):
    with pytest.raises(RequestError) as err:
        parse_region(text)
    assert err.value.status == 400


@pytest.mark.parametrize("region, box", [
    ("full", Box(0, 0, 800, 1130)),
    ("square", Box(0, 165, 800, 800)),  # centred on the long side
    ("10,20,300,400", Box(10, 20, 300, 400)),
    ("700,1000,500,500", Box(700, 1000, 100, 130)),  # cut at the image's edges
    ("pct:50,50,50,50", Box(400, 565, 400, 565)),
    ("pct:10,10,200,200", Box(80, 113, 720, 1017)),
])
def test_region_resolution(region, box):
    assert resolve_region(parse_region(region), W, H) == box


def test_square_of_landscape_images_is_centred():
    assert resolve_region(Region("square"), 1000, 600) == Box(200, 0, 600, 600)


@pytest.mark.parametrize("region", ["800,0,10,10", "0,1130,10,10", "5000,5000,1,1",
                                    "pct:100,0,10,10", "pct:0,100,10,10"])
def test_region_outside_the_image_is_400(region):
    with pytest.raises(RequestError) as err:
        resolve_region(parse_region(region), W, H)
    assert err.value.status == 400


@pytest.mark.parametrize("text, expected", [
    ("max", Size("max")),
    ("^max", Size("max", True)),
    ("150,", Size("w,", False, 150, None)),
    ("^360,", Size("w,", True, 360, None)),
    (",150", Size(",h", False, None, 150)),
    ("^,240", Size(",h", True, None, 240)),
    ("pct:50", Size("pct", False, percent=50)),
    ("pct:12.5", Size("pct", False, percent=12.5)),
    ("^pct:120", Size("pct", True, percent=120)),
    ("225,100", Size("w,h", False, 225, 100)),
    ("^360,360", Size("w,h", True, 360, 360)),
    ("!225,100", Size("!w,h", False, 225, 100)),
    ("^!360,360", Size("!w,h", True, 360, 360)),
])
def test_size_forms(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", [
    "", "full", "Max", ",", "!,", "!100,", "!,100", "0,", ",0", "0,0", "pct:0", "pct:",
    "pct:101", "pct:-5", "-5,", "10.5,", "^", "^^max", "max^", "abc", "1,2,3", "!1,2,3",
    "pct:50%", "1" * 13 + ",",
])
def test_size_syntax_errors_are_400(text):
    with pytest.raises(RequestError) as err:
        parse_size(text)
    assert err.value.status == 400


@pytest.mark.parametrize("size, region, out", [
    ("max", (800, 1130), (800, 1130)),
    ("200,", (800, 1130), (200, 283)),
    (",100", (800, 1130), (71, 100)),
    ("pct:50", (800, 1130), (400, 565)),
    ("pct:12.5", (800, 1130), (100, 141)),
    ("300,300", (800, 1130), (300, 300)),  # w,h may distort
    ("!100,100", (800, 1130), (71, 100)),
    ("!400,100", (800, 1130), (71, 100)),
    ("!800,1130", (800, 1130), (800, 1130)),
    ("^max", (1000, 1000), (6325, 6325)),  # as large as maxArea allows
    ("^1600,", (800, 1130), (1600, 2260)),
    ("^,2260", (800, 1130), (1600, 2260)),
    ("^pct:200", (800, 1130), (1600, 2260)),
    ("^1000,1000", (800, 1130), (1000, 1000)),
    ("^!2000,500", (1000, 1000), (500, 500)),
    ("^!2000,3000", (1000, 1000), (2000, 2000)),
    ("^!100,100", (800, 1130), (71, 100)),  # ^ allows upscaling, does not force it
    ("256,", (256, 256), (256, 256)),
    # !w,h never upscales without ^: a box bigger than the region gives the region (spec 4.2)
    ("!2000,3000", (1000, 1000), (1000, 1000)),
    ("!300,300", (200, 40), (200, 40)),
    ("!300,300", (600, 40), (300, 20)),
    ("!20000,20000", (12_000, 100), (10_000, 83)),  # and stops at maxWidth
])
def test_size_resolution(size, region, out):
    assert resolve_size(parse_size(size), *region, LIMITS) == out


def test_max_is_held_to_the_limits():
    assert resolve_size(Size("max"), 20_000, 10_000, LIMITS) == (8944, 4472)  # maxArea
    assert resolve_size(Size("max"), 20_000, 100, LIMITS) == (10_000, 50)  # maxWidth
    assert resolve_size(Size("max"), 100, 100, Limits(50)) == (50, 50)  # maxHeight = maxWidth


@pytest.mark.parametrize("size, region", [
    ("801,", (800, 1130)),  # larger than the region without ^
    (",1131", (800, 1130)),
    ("1000,1000", (800, 1130)),
    ("900,100", (800, 1130)),
    ("^10001,", (800, 1130)),  # above maxWidth even with ^
    ("^,10001", (800, 1130)),
    ("^7000,7000", (800, 1130)),  # above maxArea
    ("^pct:10000", (800, 1130)),
    ("pct:0.01", (800, 1130)),  # rounds to zero pixels
])
def test_sizes_refused_by_the_spec_are_400(size, region):
    with pytest.raises(RequestError) as err:
        resolve_size(parse_size(size), *region, LIMITS)
    assert err.value.status == 400


@pytest.mark.parametrize("text, expected", [
    ("0", (False, 0.0)), ("90", (False, 90.0)), ("180", (False, 180.0)),
    ("270", (False, 270.0)), ("22.5", (False, 22.5)), ("360", (False, 0.0)),
    ("!0", (True, 0.0)), ("!180", (True, 180.0)), ("!22.5", (True, 22.5)), (".5", (False, 0.5)),
])
def test_rotation_forms(text, expected):
    assert parse_rotation(text) == expected


@pytest.mark.parametrize("text", ["", "!", "abc", "-90", "361", "360.5", "1e2", " 90", "90deg",
                                  "!!90", "+90", "NaN", "inf", "9" * 13])
def test_rotations_that_are_not_numbers_0_to_360_are_400(text):
    with pytest.raises(RequestError) as err:
        parse_rotation(text)
    assert err.value.status == 400


@pytest.mark.parametrize("quality", ["default", "color", "gray", "bitonal"])
@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "tif", "gif"])
def test_quality_and_format_forms(quality, fmt):
    assert parse_quality_format(f"{quality}.{fmt}") == (quality, fmt)


@pytest.mark.parametrize("text, status", [
    ("grey.jpg", 400), ("native.jpg", 400), ("default.xyz", 400), ("default", 400),
    ("default.JPG", 400), ("default.jpg.png", 400), (".jpg", 400), ("default.", 400),
    ("default.jp2", 501), ("default.pdf", 501),
])
def test_quality_and_format_errors(text, status):
    with pytest.raises(RequestError) as err:
        parse_quality_format(text)
    assert err.value.status == status


def test_canonical_form():
    req = parse("full", "max", "0", "default.jpg")
    assert canonical(req.resolve(W, H, LIMITS), W, H) == "full/max/0/default.jpg"
    req = parse("pct:0,0,50,50", "200,", "!90", "gray.png")
    assert canonical(req.resolve(W, H, LIMITS), W, H) == "0,0,400,565/200,283/!90/gray.png"
    req = parse("square", "^pct:150", "22.50", "default.jpg")
    assert canonical(req.resolve(W, H, LIMITS), W, H) == "0,165,800,800/^1200,1200/22.5/default.jpg"


# =========================================================================== HTTP helpers
def get(url: str, **kw) -> requests.Response:
    return requests.get(url, timeout=30, **kw)


def image_of(response: requests.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    img = Image.open(io.BytesIO(response.content))
    img.load()
    return img


def raw_get(base: str, path: str) -> int:
    """GET a path exactly as written (no client-side normalisation of .. or %2F)."""
    parsed = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    conn.request("GET", path)
    status = conn.getresponse().status
    conn.close()
    return status


# =========================================================================== info.json
def test_info_json(demo_server):
    r = get(f"{demo_server}/iiif/3/{SCAN}/info.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    info = r.json()
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["id"] == f"{demo_server}/iiif/3/{SCAN}"
    assert info["type"] == "ImageService3"
    assert info["protocol"] == "http://iiif.io/api/image"
    assert info["profile"] == "level2"
    assert (info["width"], info["height"]) == (W, H)
    assert (info["maxWidth"], info["maxHeight"], info["maxArea"]) == (10_000, 10_000, 40_000_000)
    assert info["tiles"] == [{"width": 256, "height": 256, "scaleFactors": [1, 2, 4, 8]},
                             {"width": 512, "height": 512, "scaleFactors": [1, 2, 4, 8]}]
    assert info["sizes"][0] == {"width": 100, "height": 141}
    assert info["sizes"][-1] == {"width": 800, "height": 1130}
    assert {"mirroring", "rotationArbitrary", "sizeUpscaling"} <= set(info["extraFeatures"])
    assert {"gray", "bitonal"} <= set(info["extraQualities"])
    assert "webp" in info["extraFormats"]
    for size in info["sizes"]:  # every advertised size can be asked for as w,h
        img = image_of(get(f"{info['id']}/full/{size['width']},{size['height']}/0/default.jpg"))
        assert img.size == (size["width"], size["height"])


def test_info_json_as_json_ld_when_asked(demo_server):
    r = get(f"{demo_server}/iiif/3/{SCAN}/info.json", headers={"Accept": "application/ld+json"})
    assert r.headers["Content-Type"] == \
        'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'
    assert "Accept" in r.headers["Vary"]
    assert r.json()["id"].endswith(SCAN)


def test_base_uri_redirects_to_info_json(demo_server):
    r = get(f"{demo_server}/iiif/3/{SCAN}", allow_redirects=False)
    assert r.status_code == 303
    assert r.headers["Location"] == f"{demo_server}/iiif/3/{SCAN}/info.json"
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_cors_everywhere_also_on_errors_and_preflight(demo_server):
    for url in (f"{demo_server}/iiif/3/{SCAN}/full/max/0/default.jpg",
                f"{demo_server}/iiif/3/{SCAN}/full/max/abc/default.jpg",
                f"{demo_server}/iiif/3/no-such-image/info.json",
                f"{demo_server}/iiif/3/a/b/c/d/e/f/g"):
        assert get(url).headers.get("Access-Control-Allow-Origin") == "*", url
    r = requests.options(f"{demo_server}/iiif/3/{SCAN}/info.json", timeout=30,
                         headers={"Origin": "https://viewer.example",
                                  "Access-Control-Request-Method": "GET"})
    assert r.status_code in (200, 204)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in r.headers["Access-Control-Allow-Methods"]


# =========================================================================== pixels
@pytest.mark.parametrize("path, size", [
    ("full/max/0/default.jpg", (800, 1130)),
    ("full/200,/0/default.jpg", (200, 283)),
    ("full/,100/0/default.jpg", (71, 100)),
    ("full/pct:25/0/default.jpg", (200, 283)),
    ("full/300,200/0/default.jpg", (300, 200)),
    ("full/!150,150/0/default.jpg", (106, 150)),
    ("full/!2000,3000/0/default.jpg", (800, 1130)),  # the region at its size, no 400
    ("10,20,200,40/!300,300/0/default.jpg", (200, 40)),  # Clover's search-hit thumbnails
    ("square/max/0/default.jpg", (800, 800)),
    ("square/128,/0/default.jpg", (128, 128)),
    ("10,20,300,400/max/0/default.jpg", (300, 400)),
    ("700,1000,500,500/max/0/default.jpg", (100, 130)),
    ("pct:50,50,50,50/max/0/default.jpg", (400, 565)),
    ("0,0,256,256/256,/0/default.jpg", (256, 256)),
    ("512,512,288,618/72,155/0/default.jpg", (72, 155)),  # an edge tile at scale 4
    ("full/^1600,/0/default.jpg", (1600, 2260)),
    ("full/^pct:150/0/default.jpg", (1200, 1695)),
    ("full/200,/90/default.jpg", (283, 200)),
    ("full/200,/270/default.jpg", (283, 200)),
    ("full/200,/180/default.jpg", (200, 283)),
    ("full/200,/!90/default.jpg", (283, 200)),
])
def test_image_sizes(demo_server, path, size):
    img = image_of(get(f"{demo_server}/iiif/3/{SCAN}/{path}"))
    assert img.size == size
    assert img.format == "JPEG"


def _png(demo_server, rest: str) -> Image.Image:
    return image_of(get(f"{demo_server}/iiif/3/{SCAN}/full/200,/{rest}"))


def test_mirroring_and_rotation_move_the_pixels(demo_server):
    plain = _png(demo_server, "0/default.png").convert("RGB")
    cases = {
        "!0": ImageOps.mirror(plain),
        "90": plain.rotate(-90, expand=True),  # Pillow turns anticlockwise, IIIF clockwise
        "180": plain.rotate(180),
        "270": plain.rotate(90, expand=True),
        "!90": ImageOps.mirror(plain).rotate(-90, expand=True),
        "!180": ImageOps.flip(plain),
    }
    for rotation, expected in cases.items():
        got = _png(demo_server, f"{rotation}/default.png").convert("RGB")
        assert got.size == expected.size, rotation
        assert ImageChops.difference(got, expected).getbbox() is None, rotation
    assert ImageChops.difference(_png(demo_server, "90/default.png").convert("RGB"),
                                 plain.rotate(90, expand=True)).getbbox() is not None


def test_arbitrary_rotation_is_the_bounding_box(demo_server):
    img = _png(demo_server, "45/default.png")
    assert img.mode == "RGBA"  # transparent corners in PNG
    side = (200 + 283) / 2 ** 0.5
    assert abs(img.width - side) <= 3 and abs(img.height - side) <= 3
    assert img.getpixel((0, 0))[3] == 0  # a corner outside the page
    jpg = image_of(get(f"{demo_server}/iiif/3/{SCAN}/full/200,/22.5/default.jpg"))
    assert jpg.mode == "RGB"


def test_qualities(demo_server):
    color = _png(demo_server, "0/color.png")
    assert color.mode == "RGB"
    gray = _png(demo_server, "0/gray.png")
    assert gray.mode == "L"
    expected = color.convert("L")
    diff = ImageChops.difference(gray, expected)
    assert max(diff.getdata()) <= 12  # the same picture, in grey
    bitonal = _png(demo_server, "0/bitonal.png")
    assert bitonal.mode in ("1", "L")
    values = set(bitonal.convert("L").getdata())
    assert values <= {0, 255} and len(values) == 2
    default = _png(demo_server, "0/default.png")
    assert ImageChops.difference(default.convert("RGB"), color).getbbox() is None


@pytest.mark.parametrize("fmt, pil_format, media_type", [
    ("jpg", "JPEG", "image/jpeg"), ("png", "PNG", "image/png"), ("webp", "WEBP", "image/webp"),
    ("tif", "TIFF", "image/tiff"), ("gif", "GIF", "image/gif"),
])
def test_formats(demo_server, fmt, pil_format, media_type):
    r = get(f"{demo_server}/iiif/3/{SCAN}/full/100,/0/default.{fmt}")
    assert r.headers["Content-Type"] == media_type
    img = image_of(r)
    assert img.format == pil_format and img.size == (100, 141)


def test_tiles_agree_with_the_full_image(demo_server):
    """A tile read from a lower pyramid level shows the same place as the whole image."""
    whole = image_of(get(f"{demo_server}/iiif/3/{SCAN}/full/200,/0/default.png")).convert("L")
    tile = image_of(get(f"{demo_server}/iiif/3/{SCAN}/0,0,512,512/128,/0/default.png"))
    expected = whole.crop((0, 0, 128, 128))
    diff = ImageChops.difference(tile.convert("L"), expected)
    mean = sum(diff.getdata()) / (128 * 128)
    assert mean < 8, mean


def test_caching_headers_and_conditional_requests(demo_server):
    url = f"{demo_server}/iiif/3/{SCAN}/0,0,256,256/256,/0/default.jpg"
    r = get(url)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "public, no-cache"  # revalidated: see iiif.caching
    etag = r.headers["ETag"]
    assert 'rel="canonical"' in r.headers["Link"] and 'rel="profile"' in r.headers["Link"]
    again = get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = get(f"{demo_server}/iiif/3/{SCAN}/0,0,256,256/128,/0/default.jpg")
    assert other.headers["ETag"] != etag


# =========================================================================== errors
@pytest.mark.parametrize("path, status", [
    ("abcdef/max/0/default.jpg", 400),
    ("full/abcdef/0/default.jpg", 400),
    ("full/max/abcd/default.jpg", 400),
    ("full/max/-90/default.jpg", 400),
    ("full/max/361/default.jpg", 400),
    ("full/max/0/sepia.jpg", 400),
    ("full/max/0/default.xyz", 400),
    ("full/max/0/default.jp2", 501),
    ("full/max/0/default.pdf", 501),
    ("800,0,10,10/max/0/default.jpg", 400),  # outside the image
    ("0,5000,10,10/max/0/default.jpg", 400),
    ("full/801,/0/default.jpg", 400),  # upscaling without ^
    ("full/pct:101/0/default.jpg", 400),
    ("full/^10001,/0/default.jpg", 400),  # above maxWidth
    ("full/^8000,8000/0/default.jpg", 400),  # above maxArea
    ("full/full/0/default.jpg", 400),  # 2.x syntax
])
def test_bad_requests(demo_server, path, status):
    r = get(f"{demo_server}/iiif/3/{SCAN}/{path}")
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    assert len(r.text.strip()) > 10  # a reason, not just a number


# =========================================================================== closed stays closed
def test_closed_consent_forms_are_404_everywhere(demo_server, demo_server_home):
    from pyoxigraph import NamedNode, Store

    # the keys are real: the working store has these image instantiations
    working = Store.read_only(str(demo_server_home / "working"))
    for key in CLOSED:
        iri = NamedNode(f"{demo_server}/id/instantiation/{key}")
        assert list(working.quads_for_pattern(iri, None, None, iri)), key
    for key in CLOSED:
        for path in (f"/iiif/3/{key}", f"/iiif/3/{key}/info.json",
                     f"/iiif/3/{key}/full/max/0/default.jpg",
                     f"/iiif/3/{key}/0,0,256,256/256,/0/default.jpg",
                     f"/iiif/3/{key}/square/100,/0/gray.png"):
            r = get(f"{demo_server}{path}", allow_redirects=False)
            assert r.status_code == 404, path
            for canary in canaries():
                assert canary not in r.text
    # the image API made no pyramid for them (other derivatives, e.g. OCR at ingest, may
    # exist: the point is that none is served, see test_public_image_closed_later_is_404)
    digest = manifest()["consent-01.jpg"]["sha256"]
    assert not (demo_server_home / "derivatives" / digest / "pyramid.tif").exists()


def test_unknown_and_guessed_identifiers_are_404(demo_server, demo_server_home):
    get(f"{demo_server}/iiif/3/{SCAN}/info.json")  # so that its derivatives exist
    digest = manifest()["notes-p1.jpg"]["sha256"]
    assert (demo_server_home / "derivatives" / digest / "pyramid.tif").is_file()
    not_found = [
        "/iiif/3/no-such-image/info.json",
        "/iiif/3/67352ccc-d1b0-11e1-89ae-279075081939/info.json",
        f"/iiif/3/{digest}/info.json",  # the digest is not an identifier
        f"/iiif/3/sha256:{digest}/info.json",
        f"/iiif/3/{SCAN.upper()}/info.json",
        "/iiif/3/oh-01-ogg/info.json",  # public, but a recording, not an image
        "/iiif/3/oh-01/info.json",  # a record's key, not an instantiation's
        f"/derivatives/{digest}/pyramid.tif",
        f"/derivatives/{digest}/thumb.jpg",
        f"/iiif/3/{SCAN}/pyramid.tif",
        f"/iiif/3/{SCAN}/derivatives/{digest}/pyramid.tif",
        f"/files/sha256/{digest[:2]}/{digest[2:4]}/{digest}",
        "/iiif/3/[frob]/full/max/0/default.jpg",
    ]
    for path in not_found:
        assert get(f"{demo_server}{path}").status_code == 404, path


@pytest.mark.parametrize("path", [
    "/iiif/3/../iiif/3/consent-01-jpg/info.json",
    "/iiif/3/%2E%2E/info.json",
    "/iiif/3/..%2Fconsent-01-jpg/info.json",
    f"/iiif/3/{SCAN}%2F..%2Fconsent-01-jpg/info.json",
    "/iiif/3/consent-01-jpg%2Finfo.json",
    "/iiif/3/a%2Fb/full/max/0/default.jpg",
    "/iiif/3/%2e%2e%2f%2e%2e%2fworking/info.json",
    f"/iiif/3/{SCAN}/..%2F..%2F..%2Flantai.toml",
    "/iiif/3/%00/info.json",
])
def test_dot_dot_and_encoded_slashes_are_404(demo_server, path):
    assert raw_get(demo_server, path) == 404


def test_escaped_characters_in_identifiers_are_decoded(demo_server):
    escaped = SCAN.replace("-", "%2D")
    assert get(f"{demo_server}/iiif/3/{escaped}/full/100,/0/default.jpg").status_code == 200


def test_public_image_closed_later_is_410(tmp_path):
    """The cache of public images follows the publication dataset; an image that was public
    is 410 Gone once closed, as its IRI is (a never-public one stays 404)."""
    from repo.repository import Repository

    home = tmp_path / "img-site"
    source = PROJECT / "repo" / "demo" / "media" / "notes-p1.jpg"
    with served(*_image_site(home, {"page": source})) as base:
        assert get(f"{base}/iiif/3/page/full/100,/0/default.jpg").status_code == 200
        repo = Repository.open(home)
        try:
            repo.set_access(repo.user("admin"), "/bench/item-1", "restricted")
        finally:
            repo.close()
        assert get(f"{base}/iiif/3/page/info.json").status_code == 410
        assert get(f"{base}/iiif/3/page/full/100,/0/default.jpg").status_code == 410
        assert get(f"{base}/iiif/3/never/info.json").status_code == 404


# =========================================================================== derivatives
def _image_site(home: Path, images: dict[str, Path]):
    """A site of images on a free port, its app and the port: ``served(*_image_site(…))``."""
    from bench.iiif import make_image_site
    from publisher.app import create_app

    port = free_port()
    make_image_site(home, f"http://127.0.0.1:{port}", images)
    return create_app(home), port


def _stored(tmp_path: Path, data: bytes, *, encrypted: bool = True) -> tuple[Path, str]:
    """A site home (settings and a file store, no stores) holding ``data``; its files (and
    so its derivatives) sealed, as on every new site, unless ``encrypted`` is False."""
    from repo.config import make_settings, write_settings
    from repo.files import FileStore

    home = tmp_path / "home"
    write_settings(home, make_settings(base="https://archive.example.edu",
                                       files_encrypted=encrypted))
    with FileStore.for_site(home) as store:
        digest = store.put(data)
    return home, digest


def _plaintext(path: Path) -> io.BytesIO:
    """A derivative's plaintext (sealed or not), as a file for Pillow."""
    return io.BytesIO(derivatives.files_for(path).read_bytes(path))


DERIVED = ["pyramid-512.tif", "pyramid.tif", "thumb.jpg"]  # an image's derivatives, sorted


def _leftovers(home: Path) -> list[str]:
    """The image derivatives (and temporary files of ours) under ``home/derivatives``;
    other parts' derivatives (ocr.json, media.json) are not this module's business."""
    folder = home / "derivatives"
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.rglob("*") if p.is_file()
                  and (p.name in ("pyramid.tif", "pyramid-512.tif", "thumb.jpg")
                       or p.name.startswith((".pyramid", ".thumb"))))


def test_derivatives_are_made_once_and_atomically(tmp_path):
    data = (PROJECT / "repo" / "demo" / "media" / "notes-p1.jpg").read_bytes()
    home, digest = _stored(tmp_path, data)
    info = ensure_image_derivatives(home, digest)
    assert (info.width, info.height) == (800, 1130)
    assert info.levels == ((800, 1130), (400, 565), (200, 282), (100, 141))
    pyramid = derivatives.pyramid_path(home, digest)
    thumb = derivatives.thumb_path(home, digest)
    assert pyramid.parent == home / "derivatives" / digest.split(":")[1]
    assert _leftovers(home) == DERIVED  # no temporary files left
    with Image.open(_plaintext(thumb)) as t:
        assert max(t.size) == 400
    with Image.open(_plaintext(pyramid)) as p:
        assert p.size == (800, 1130) and p.n_frames == 4
    mtime = pyramid.stat().st_mtime_ns
    assert ensure_image_derivatives(home, digest) == info
    assert pyramid.stat().st_mtime_ns == mtime  # not made twice


def test_concurrent_first_requests_build_once(tmp_path):
    data = (PROJECT / "repo" / "demo" / "media" / "notes-p2.jpg").read_bytes()
    home, digest = _stored(tmp_path, data)
    results, errors = [], []

    def build():
        try:
            results.append(ensure_image_derivatives(home, digest))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len({(i.width, i.height) for i in results}) == 1
    assert _leftovers(home) == DERIVED


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = zlib.compress(b"\x00" * (width + 1) * 2, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0,
                                                                0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def _bad_originals() -> dict[str, tuple[bytes, str]]:
    good = (PROJECT / "repo" / "demo" / "media" / "notes-p1.jpg").read_bytes()
    return {
        "truncated": (good[: len(good) // 2], "corrupt or truncated"),
        "corrupt": (good[:2000] + bytes(range(256)) * 40 + good[12240:], "corrupt"),
        "not an image": (b"%PDF-1.4 this is not an image at all" * 10, "not an image"),
        "matrix text": (b"2 2\n1 2\n3 4\n", "not a raster image"),  # libvips reads it
        "bomb (area)": (_png_claiming(40_000, 20_000), "decompression bomb"),
        "bomb (side)": (_png_claiming(100_000, 10), "decompression bomb"),
    }


@pytest.mark.parametrize("case", list(_bad_originals()))
def test_bad_originals_are_refused_and_nothing_is_stored(tmp_path, case):
    data, reason = _bad_originals()[case]
    home, digest = _stored(tmp_path, data)
    with pytest.raises(DerivativeError) as err:
        ensure_image_derivatives(home, digest)
    assert reason in str(err.value)
    assert "\n" not in str(err.value)
    assert _leftovers(home) == []


def test_derivative_paths_refuse_bad_digests(tmp_path):
    home, _ = _stored(tmp_path, b"not this one")
    for digest in ("../../etc/passwd", "sha256:../x", "sha256:" + "A" * 64, "md5:abc"):
        with pytest.raises(DerivativeError):
            ensure_image_derivatives(home, digest)
    with pytest.raises(DerivativeError, match="no stored original"):
        ensure_image_derivatives(home, "sha256:" + "0" * 64)


def test_corrupt_published_image_is_a_clear_error_and_the_server_stays_up(tmp_path):
    good = PROJECT / "repo" / "demo" / "media" / "notes-p1.jpg"
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(good.read_bytes()[:30_000])
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(40_000, 20_000))
    home = tmp_path / "site2"
    with served(*_image_site(home, {"good": good, "bad": bad, "bomb": bomb})) as base:
        for _ in range(2):  # the second time from the remembered failure
            for key, reason in (("bad", "corrupt or truncated"), ("bomb", "decompression bomb")):
                r = get(f"{base}/iiif/3/{key}/info.json")
                assert r.status_code == 500 and reason in r.text
                assert get(f"{base}/iiif/3/{key}/full/max/0/default.jpg").status_code == 500
        assert get(f"{base}/iiif/3/good/full/100,/0/default.jpg").status_code == 200
        assert _leftovers(home) == DERIVED  # only the good image's


# =========================================================================== the validator
@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.timeout(1200)  # the validator's own run may take 900 s
def test_official_validator_level_2():
    """PyPI iiif-validator 1.0.5, Image API 3.0, level 2, with its own test image (its
    size_noup is replaced by the same checks read by section 4.2: see the script)."""
    image = REFERENCE / "iiif" / "image-validator" / "67352ccc-d1b0-11e1-89ae-279075081939.png"
    if not image.exists():
        why = f"the validator's test image is not here ({image}): ../shared/reference"
        require(False, why)
    script = PROJECT / ".ci" / "iiif-validator"
    env = {**os.environ, "PYTHON": str(PROJECT / ".venv" / "bin" / "python")}
    if not Path(env["PYTHON"]).exists():
        env["PYTHON"] = sys.executable
    r = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900,
                       env=env)
    require(r.returncode != 2,
            f"the validator could not be set up here: {r.stderr.strip()[-300:]}")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 failures" in r.stdout


def test_tiles_as_stored_are_served_without_decoding(demo_server, demo_server_home):
    """A tile exactly as the pyramid stores it is its JPEG bytes; it shows what the
    decoding path would have made of the same request."""
    from iiif.image_api import render

    digest = "sha256:" + manifest()["notes-p1.jpg"]["sha256"]
    pyramid = derivatives.pyramid_path(demo_server_home, digest)
    get(f"{demo_server}/iiif/3/{SCAN}/info.json")
    info = derivatives.read_image_info(pyramid)
    for region, level, col, row in (("0,0,256,256", 0, 0, 0), ("256,512,256,256", 0, 1, 2),
                                    ("0,512,512,512", 1, 0, 1), ("0,0,512,512", 1, 0, 0)):
        r = get(f"{demo_server}/iiif/3/{SCAN}/{region}/256,/0/default.jpg")
        stored = derivatives.stored_jpeg_tile(pyramid, level, col, row)
        assert stored is not None and r.content == stored, region
        rendered = render(pyramid, info, parse(region, "256,", "0", "default.jpg")
                          .resolve(info.width, info.height, LIMITS))
        a = image_of(r).convert("RGB")
        b = Image.open(io.BytesIO(rendered)).convert("RGB")
        assert a.size == b.size == (256, 256)
        diff = ImageChops.difference(a, b).convert("L")
        assert sum(diff.getdata()) / (256 * 256) < 3, region
    # an edge tile (partly outside the level) is not stored whole: it is rendered
    assert derivatives.stored_jpeg_tile(pyramid, 0, 3, 0) is None
    assert derivatives.stored_jpeg_tile(pyramid, 1, 1, 0) is None  # level 1 is 400 wide
    edge = image_of(get(f"{demo_server}/iiif/3/{SCAN}/768,0,32,256/32,/0/default.jpg"))
    assert edge.size == (32, 256)


def test_deleted_or_damaged_derivatives_are_made_again(tmp_path):
    """Derivatives are regenerable: deleting or damaging them while the server runs costs
    one rebuild, not an error."""
    source = PROJECT / "repo" / "demo" / "media" / "notes-p2.jpg"
    home = tmp_path / "regen"
    with served(*_image_site(home, {"page": source})) as base:
        url = f"{base}/iiif/3/page/10,10,300,300/150,/0/default.png"
        first = get(url).content
        pyramid = next((home / "derivatives").glob("*/pyramid.tif"))
        pyramid.unlink()
        assert get(url).content == first
        assert pyramid.is_file()
        pyramid.write_bytes(b"II*\x00garbage")  # damaged on disk
        (pyramid.parent / "thumb.jpg").unlink()
        digest = "sha256:" + pyramid.parent.name
        info = ensure_image_derivatives(home, digest)
        assert (info.width, info.height) == (800, 1130)
        assert get(url).status_code == 200


def test_512_px_tiles_as_stored_are_served_without_decoding(demo_server, demo_server_home):
    """info.json's second tile size is stored too: a 512 px tile on the grid is the bytes
    of ``pyramid-512.tif``, and shows what the decoding path makes of the request."""
    from iiif.image_api import render

    digest = "sha256:" + manifest()["notes-p1.jpg"]["sha256"]
    get(f"{demo_server}/iiif/3/{SCAN}/info.json")
    pyramid = derivatives.pyramid_path(demo_server_home, digest)
    pyramid512 = derivatives.tiled_pyramid(pyramid, 512)
    assert pyramid512.name == "pyramid-512.tif" and pyramid512.is_file()
    info = derivatives.read_image_info(pyramid)
    for region, row in (("0,0,512,512", 0), ("0,512,512,512", 1)):
        r = get(f"{demo_server}/iiif/3/{SCAN}/{region}/512,/0/default.jpg")
        stored = derivatives.stored_jpeg_tile(pyramid512, 0, 0, row)
        assert stored is not None and r.content == stored, region
        assert r.content != derivatives.stored_jpeg_tile(pyramid, 0, 0, row)
        rendered = render(pyramid, info, parse(region, "512,", "0", "default.jpg")
                          .resolve(info.width, info.height, LIMITS))
        a = image_of(r).convert("RGB")
        b = Image.open(io.BytesIO(rendered)).convert("RGB")
        assert a.size == b.size == (512, 512)
        diff = ImageChops.difference(a, b).convert("L")
        assert sum(diff.getdata()) / (512 * 512) < 3, region
    # 512 px at scale factor 2 would be 1024 px of the full image: the level is 400 wide,
    # so there is no whole stored tile; rendered instead
    assert derivatives.stored_jpeg_tile(pyramid512, 1, 0, 0) is None
    r = get(f"{demo_server}/iiif/3/{SCAN}/0,0,800,1024/400,/0/default.jpg")
    assert image_of(r).size == (400, 512)


def test_rendered_images_cache_is_a_bounded_lru():
    from iiif.image_api import RenderedImages

    cache = RenderedImages(max_bytes=250, item_max=100)
    for n in range(3):
        cache.put(("p", n), bytes([n]) * 100)
    assert len(cache) == 2 and cache.size == 200  # the oldest went
    assert cache.get(("p", 0)) is None and cache.get(("p", 1)) == b"\x01" * 100
    cache.put(("p", 3), b"3" * 100)  # ("p", 2) is now the least recently used
    assert cache.get(("p", 2)) is None and cache.get(("p", 1)) is not None
    cache.put(("p", 4), b"4" * 101)  # above item_max: never kept
    assert cache.get(("p", 4)) is None and cache.size <= 250


def test_rendered_answers_are_cached_and_follow_the_derivative(tmp_path):
    """A rendered answer is served again from memory, until its pyramid is remade: then
    the new pixels (and a new ETag), never the cached ones."""
    from iiif import image_api
    from iiif.image_api import render

    source = PROJECT / "repo" / "demo" / "media" / "notes-p2.jpg"
    home = tmp_path / "cached"
    with served(*_image_site(home, {"page": source})) as base:
        url = f"{base}/iiif/3/page/10,10,300,300/150,/0/default.png"
        first = get(url)
        hits = image_api._rendered.hits
        again = get(url)
        assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"]
        assert image_api._rendered.hits == hits + 1
        pyramid = next((home / "derivatives").glob("*/pyramid.tif"))
        flipped = derivatives.open_original(source).fliphor()
        tmp = pyramid.with_name(".pyramid-test.tif")
        derivatives._save_pyramid(flipped, tmp)
        os.replace(tmp, pyramid)  # the derivative remade (here: with other pixels)
        changed = get(url)
        assert changed.status_code == 200
        assert changed.headers["ETag"] != first.headers["ETag"]
        assert changed.content != first.content
        info = derivatives.read_image_info(pyramid)
        plan = parse("10,10,300,300", "150,", "0", "default.png").resolve(info.width,
                                                                          info.height, LIMITS)
        assert changed.content == render(pyramid, info, plan)
        assert _leftovers(home) == DERIVED


def test_tile_fast_path_answers_as_flask_would(tmp_path):
    """Stored tiles and renderings skip Flask (:class:`TileFastPath`) with the same status,
    bytes and headers as the Flask route (reached here with a conditional request that
    does not match); errors, HEAD and conditional requests still go through Flask."""
    source = PROJECT / "repo" / "demo" / "media" / "notes-p1.jpg"
    home = tmp_path / "fast"
    app, port = _image_site(home, {"page": source})
    with served(app, port) as base:
        fast = app.wsgi_app  # inside the site's other middleware (rate limit, caching)
        while type(fast).__name__ != "TileFastPath":
            fast = getattr(fast, "app", None) or fast.wsgi_app
        prefix = f"{base}/iiif/3/page"
        assert get(f"{prefix}/info.json").status_code == 200  # Flask: first sight of the image
        edge = f"{prefix}/768,0,32,256/32,/0/default.jpg"
        assert get(edge).status_code == 200  # rendered by Flask, then cached
        urls = [f"{prefix}/0,0,256,256/256,/0/default.jpg",  # stored 256 px tile
                f"{prefix}/0,512,512,512/256,/0/color.jpg",  # stored, level 1
                f"{prefix}/0,512,512,512/512,/0/default.jpg",  # stored 512 px tile
                edge,  # cached rendering
                f"{prefix}/0,0,256,256/200,/90/default.jpg",  # rendered here, then cached
                f"{prefix}/full/100,/!0/gray.png"]
        for url in urls:
            before = fast.answered
            quick = get(url)
            assert fast.answered == before + 1, url
            slow = get(url, headers={"If-None-Match": '"not-this-one"'})
            assert fast.answered == before + 1, url  # conditional: through Flask
            assert quick.status_code == slow.status_code == 200
            assert quick.content == slow.content, url
            drop = {"date", "server"}
            assert ({k.lower(): v for k, v in quick.headers.items() if k.lower() not in drop}
                    == {k.lower(): v for k, v in slow.headers.items() if k.lower() not in drop})
        before = fast.answered
        for path, status in (("0,0,256,256/256,/x/default.jpg", 400),  # errors: Flask
                             ("900,0,10,10/max/0/default.jpg", 400),
                             ("0,0,256,256/256,/0/default.jp2", 501)):
            r = get(f"{prefix}/{path}")
            assert r.status_code == status, path
            assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert get(f"{base}/iiif/3/nothing-here/0,0,256,256/256,/0/default.jpg"
                   ).status_code == 404
        for path in ("/iiif/3/page/../page/0,0,256,256/256,/0/default.jpg",
                     "/iiif/3/../page/0,0,256,256/256,/0/default.jpg",
                     "/iiif/3/page%2F..%2Fpage/0,0,256,256/256,/0/default.jpg",
                     "/iiif/3/pa%2Fge/0,0,256,256/256,/0/default.jpg",
                     "/iiif/3/%FF%FEpage/0,0,256,256/256,/0/default.jpg"):  # not UTF-8
            assert raw_get(base, path) == 404, path
        assert fast.answered == before
        head = requests.head(urls[0], timeout=30)
        assert head.status_code == 200 and fast.answered == before  # HEAD: Flask


def test_the_tile_bench_leaves_nothing_outside_its_out_folder(tmp_path):
    """bench/iiif.py's servers run in a work folder under --out (the reference's
    iiif_testserver.py writes ``iiif_testserver.pid`` into its working folder): nothing may
    appear in the repository or in the caller's working folder, and the work folder goes."""
    ref_venv = PROJECT / "bench" / "out" / "iiif-ref-venv"
    with_reference = (ref_venv / "bin" / "iiif_testserver.py").exists()
    before = set(PROJECT.iterdir())
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    args = [sys.executable, "-m", "bench.iiif", "tiles", "--width", "600", "--height", "800",
            "--seconds", "0.2", "--rounds", "1", "--reference-seconds", "0.2", "--clients",
            "2", "--tiles", "256", "--workers", "1", "--no-sealed", "--no-iipimage",
            "--out", str(out), "--reference-venv", str(ref_venv)]
    if with_reference:  # installed by an earlier run: it runs too (no network needed)
        args.append("--reference")
    # PYTHONPATH names the project, whose own ``iiif`` package must not shadow the
    # reference's (it runs isolated, in its own venv)
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "ANCHOR NOT RUN" not in r.stdout, r.stdout
    (report,) = out.glob("iiif-tiles-*.json")
    data = json.loads(report.read_text())
    servers = {row["server"] for row in data["rows"]}
    assert servers == ({"lantai 1w", "reference"} if with_reference else {"lantai 1w"})
    assert "iipimage" in data["not_run"]  # left out: said in the table and the JSON
    assert "iipimage" in data["table"] and "NOT RUN" in data["table"]
    assert set(PROJECT.iterdir()) == before, set(PROJECT.iterdir()) - before
    assert list(cwd.iterdir()) == []
    assert [p.name for p in out.iterdir()] == [report.name]


def test_an_anchor_that_cannot_start_is_said_loudly(tmp_path):
    """An anchor asked for that cannot be installed or started does not vanish from the
    output: a banner on stdout and stderr, NOT RUN in the table and the JSON, exit 3."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the reference's venv would go")
    out = tmp_path / "out"
    args = [sys.executable, "-m", "bench.iiif", "tiles", "--width", "600", "--height", "800",
            "--seconds", "0.2", "--rounds", "1", "--clients", "2", "--tiles", "256",
            "--phases", "cold", "--workers", "1", "--no-sealed", "--no-iipimage",
            "--reference", "--reference-venv", str(blocker / "venv"), "--out", str(out)]
    r = subprocess.run(args, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(PROJECT)},
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 3, r.stdout[-2000:] + r.stderr[-2000:]
    assert "ANCHOR NOT RUN: reference" in r.stdout and "ANCHOR NOT RUN: reference" in r.stderr
    (report,) = out.glob("iiif-tiles-*.json")
    data = json.loads(report.read_text())
    assert data["not_run"]["reference"].startswith("COULD NOT START")
    assert {row["server"] for row in data["rows"]} == {"lantai 1w"}
