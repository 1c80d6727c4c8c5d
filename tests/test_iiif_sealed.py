"""IIIF from a site whose files are sealed answers as from one whose files are not (issue 14,
item 2): info.json, stored tiles, rendered images, thumbnails, recordings and their byte
ranges. On the sealed site no derivative lies in the clear (no JPEG or TIFF magic in the raw
files), a record closed and opened again keeps its derivatives sealed, and derivatives made
before the site's files were encrypted are sealed in place.

The official IIIF validator runs on a sealed site too: ``bench.iiif.make_image_site`` makes
sites as ``lantai init`` does, sealed (tests/test_iiif_image.py::test_official_validator_level_2).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import struct
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageChops
from support import PROJECT, free_port, served

from bench.iiif import make_image_site
from iiif import derivatives
from iiif.derivative_files import DerivativeFiles, is_sealed, seal_site
from preservation.keyring import Keyring
from repo.config import read_settings, write_settings
from repo.files import FileStore

MEDIA = PROJECT / "repo" / "demo" / "media"
PAGE = MEDIA / "notes-p1.jpg"  # 800 × 1130
TRANSCRIPT = MEDIA / "oh-01.zh.vtt"
CLEAR_MAGIC = (b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"II+\x00", b"{", b"\x89PNG")


def _recording(folder: Path) -> Path:
    """A real WAV recording of 12 s (8 kHz, 16-bit mono: 192 KB, so ranges cross the
    sealed file's 64 KiB chunks): a tone that rises."""
    path = folder / "talk.wav"
    if not path.exists():
        rate, seconds = 8000, 12
        samples = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * (300 + n / 40)
                                                                 * n / rate)))
                           for n in range(rate * seconds))
        header = (b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVEfmt "
                  + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data"
                  + struct.pack("<I", len(samples)))
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(header + samples)
    return path


def _site(home: Path, port: int, *, encrypted: bool) -> Path:
    """A site with the page image (key ``page``) and a recording with its transcript (keys
    ``talk`` and ``talk-zh``), all published and open."""
    from repo.repository import NewObject, Repository

    base = f"http://127.0.0.1:{port}"
    make_image_site(home, base, {"page": PAGE}, encrypted=encrypted)
    repo = Repository.open(home)
    try:
        with FileStore.for_site(home) as store:
            audio, vtt = store.put(_recording(home.parent)), store.put(TRANSCRIPT)
        specs = [
            NewObject(parent="/bench", type="item", slug="talk", key="talk-item",
                      state="published", access="open",
                      fields={"title": {"zh": "访谈", "en": "Interview"}}),
            NewObject(parent="/bench/talk", type="instantiation", slug="talk", key="talk",
                      state="published", fields={"mime": "audio/wav", "digest": audio,
                                                 "extent": "PT12S",
                                                 "title": {"en": "Sound recording"}}),
            NewObject(parent="/bench/talk", type="instantiation", slug="talk-zh",
                      key="talk-zh", state="published",
                      fields={"mime": "text/vtt", "digest": vtt, "language": ["zh"],
                              "title": {"en": "Transcript (Chinese)"}}),
        ]
        with repo.ingesting_files():
            repo.ingest(repo.user("admin"), specs, message="a recording")
    finally:
        repo.close()
    return home


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Both sites served: ``{"plain": (base, home), "sealed": (base, home)}``."""
    from publisher.app import create_app

    root = tmp_path_factory.mktemp("sealed-iiif")
    out = {}
    with contextlib.ExitStack() as stack:
        for name in ("plain", "sealed"):
            port = free_port()
            home = _site(root / name, port, encrypted=name == "sealed")
            base = stack.enter_context(served(create_app(home), port))
            out[name] = (base, home)
        yield out


def get(url: str, **kw) -> requests.Response:
    return requests.get(url, timeout=60, **kw)


def both(pair, path: str, **kw) -> tuple[requests.Response, requests.Response]:
    plain = get(pair["plain"][0] + path, **kw)
    sealed = get(pair["sealed"][0] + path, **kw)
    assert plain.status_code == sealed.status_code, (path, plain.text[:200], sealed.text[:200])
    return plain, sealed


def _digest(home: Path, mime_prefix: str = "") -> str:
    with FileStore.for_site(home) as store:
        for digest in store.digests():
            with store.open(digest) as fh:
                head = fh.read(4)
            if mime_prefix == "image" and head.startswith(b"\xff\xd8"):
                return digest
            if mime_prefix == "audio" and head == b"RIFF":
                return digest
    raise AssertionError(f"no {mime_prefix} original in {home}")


# ---------------------------------------------------------------------- image API
def test_info_json_is_the_same(pair):
    plain, sealed = both(pair, "/iiif/3/page/info.json")
    assert plain.status_code == 200
    a, b = plain.json(), sealed.json()
    assert a.pop("id") != b.pop("id")  # each site its own base
    assert a == b and a["width"] == 800 and a["height"] == 1130


def test_stored_tiles_are_the_same_bytes(pair):
    """Every tile of both tile sizes at every scale factor, as a viewer asks for them: the
    sealed site reads them through the sealed pyramid's reader, and they are the bytes the
    unsealed site reads with one pread."""
    info = get(pair["plain"][0] + "/iiif/3/page/info.json").json()
    asked = 0
    for tiles in info["tiles"]:
        tile = tiles["width"]
        for sf in tiles["scaleFactors"]:
            span = tile * sf
            for y in range(0, info["height"], span):
                for x in range(0, info["width"], span):
                    w, h = min(span, info["width"] - x), min(span, info["height"] - y)
                    size = f"{-(-w // sf)},"
                    plain, sealed = both(pair, f"/iiif/3/page/{x},{y},{w},{h}/{size}/0/"
                                               "default.jpg")
                    assert plain.status_code == 200
                    assert plain.content == sealed.content, (tile, sf, x, y)
                    asked += 1
    assert asked > 20
    # and the stored-tile fast path read the sealed pyramid (not a rendering)
    home = pair["sealed"][1]
    pyramid = derivatives.pyramid_path(home, _digest(home, "image"))
    assert is_sealed(pyramid)
    stored = derivatives.stored_jpeg_tile(pyramid, 0, 1, 1)
    assert stored is not None and stored.startswith(b"\xff\xd8")
    assert get(pair["sealed"][0] + "/iiif/3/page/256,256,256,256/256,/0/default.jpg"
               ).content == stored


@pytest.mark.parametrize("path", [
    "full/max/0/default.jpg",
    "full/!200,200/0/default.jpg",  # a thumbnail as viewers ask for one
    "full/100,/0/default.jpg",
    "10,10,300,300/150,/0/default.png",
    "pct:10,10,50,50/max/90/gray.webp",
    "0,0,800,800/244,/0/default.jpg",
    "square/!120,120/22.5/color.png",
    "0,0,512,512/512,/0/bitonal.png",
])
def test_rendered_images_are_pixel_equal(pair, path):
    plain, sealed = both(pair, f"/iiif/3/page/{path}")
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == sealed.headers["Content-Type"]
    a = Image.open(io.BytesIO(plain.content))
    b = Image.open(io.BytesIO(sealed.content))
    assert a.size == b.size and a.mode == b.mode
    assert ImageChops.difference(a.convert("RGBA"), b.convert("RGBA")).getbbox() is None


def _raw_derivatives(home: Path) -> list[Path]:
    return sorted(p for p in (home / "derivatives").rglob("*") if p.is_file()
                  and p.name in ("pyramid.tif", "pyramid-512.tif", "thumb.jpg", "poster.jpg",
                                 "media.json"))


def test_sealed_site_keeps_no_derivative_in_the_clear(pair):
    get(pair["sealed"][0] + "/iiif/media/talk/poster.jpg")  # made on demand
    home = pair["sealed"][1]
    raw = _raw_derivatives(home)
    assert {p.name for p in raw} == {"pyramid.tif", "pyramid-512.tif", "thumb.jpg",
                                     "poster.jpg", "media.json"}
    files = DerivativeFiles.for_site(home)
    names = set(Keyring.open(home).names())
    for path in raw:
        data = path.read_bytes()
        assert is_sealed(path) and not data.startswith(CLEAR_MAGIC), path
        plain = files.read_bytes(path)
        assert plain.startswith(CLEAR_MAGIC), path
        assert plain[:64] not in data  # the plaintext's header is nowhere in the raw bytes
        assert f"derivative:{path.parent.name}/{path.name}" in names
    # the unsealed site keeps them as they were before issue 14
    assert all(not is_sealed(p) for p in _raw_derivatives(pair["plain"][1]))


# ---------------------------------------------------------------------- recordings
def test_recording_and_its_byte_ranges_are_the_same(pair):
    original = _recording(pair["plain"][1].parent).read_bytes()
    assert len(original) > 2 * 65536
    plain, sealed = both(pair, "/iiif/media/talk")
    assert plain.status_code == 200 and plain.content == sealed.content == original
    assert plain.headers["Accept-Ranges"] == sealed.headers["Accept-Ranges"] == "bytes"
    assert plain.headers["ETag"] == sealed.headers["ETag"]
    size = len(original)
    for spec, start, end in (("bytes=0-99", 0, 100), ("bytes=1000-70000", 1000, 70001),
                             (f"bytes={size - 300}-", size - 300, size),
                             ("bytes=-500", size - 500, size),
                             ("bytes=65530-65545", 65530, 65546),  # across a sealed chunk
                             ("bytes=60000-140000", 60000, 140001)):
        plain, sealed = both(pair, "/iiif/media/talk", headers={"Range": spec})
        assert plain.status_code == 206, spec
        assert plain.content == sealed.content == original[start:end], spec
        assert plain.headers["Content-Range"] == sealed.headers["Content-Range"] \
            == f"bytes {start}-{end - 1}/{size}"
    plain, sealed = both(pair, "/iiif/media/talk", headers={"Range": f"bytes={size + 10}-"})
    assert plain.status_code == 416
    home = pair["sealed"][1]
    with FileStore.for_site(home) as store:
        digest = _digest(home, "audio")
        assert not store.stored_path(digest).read_bytes().startswith(b"RIFF")  # sealed


def test_poster_and_transcript_are_the_same(pair):
    plain, sealed = both(pair, "/iiif/media/talk/poster.jpg")
    assert plain.status_code == 200 and plain.content == sealed.content
    assert plain.content.startswith(b"\xff\xd8")
    plain, sealed = both(pair, "/iiif/media/talk-zh/text")
    assert plain.status_code == 200 and plain.text == sealed.text and plain.text.strip()
    plain, sealed = both(pair, "/iiif/media/talk-zh")
    assert plain.content == sealed.content == TRANSCRIPT.read_bytes()


# ---------------------------------------------------------------------- access changes
def test_a_record_closed_and_opened_keeps_its_derivatives_sealed(pair):
    """Derivatives are sealed whatever the access (docs/preservation.md): closing a record
    makes its image 410 at once, leaves its derivatives sealed, and opening it again serves
    the same bytes from them, remade nowhere."""
    from repo.repository import Repository

    base, home = pair["sealed"]
    url = f"{base}/iiif/3/page/0,0,256,256/256,/0/default.jpg"
    before = get(url).content
    raw = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in _raw_derivatives(home)
           if p.name != "poster.jpg" and p.name != "media.json"}
    repo = Repository.open(home)
    try:
        repo.set_access(repo.user("admin"), "/bench/item-1", "restricted")
    finally:
        repo.close()
    assert get(url).status_code == 410
    assert get(f"{base}/iiif/3/page/info.json").status_code == 410
    for path in raw:
        assert is_sealed(path) and not path.read_bytes().startswith(CLEAR_MAGIC)
    repo = Repository.open(home)
    try:
        repo.set_access(repo.user("admin"), "/bench/item-1", "open")
    finally:
        repo.close()
    assert get(url).content == before
    for path, (mtime, data) in raw.items():
        assert path.stat().st_mtime_ns == mtime and path.read_bytes() == data


def test_derivatives_made_before_encryption_are_sealed_in_place(tmp_path):
    """A site whose files were not encrypted (made before issue 14) has plain derivatives;
    once its files are encrypted, :func:`seal_site` seals every one in place (no remaking),
    and the images it serves do not change."""
    from publisher.app import create_app

    port = free_port()
    home = _site(tmp_path / "old", port, encrypted=False)
    with served(create_app(home), port) as base:
        paths = ["/iiif/3/page/0,0,256,256/256,/0/default.jpg",
                 "/iiif/3/page/full/!200,200/0/default.png", "/iiif/media/talk/poster.jpg"]
        before = [get(base + p).content for p in paths]
    raw = _raw_derivatives(home)
    assert raw and not any(is_sealed(p) for p in raw)
    assert seal_site(home) == 0  # the site does not seal: nothing done
    write_settings(home, dataclasses.replace(read_settings(home), files_encrypted=True))
    DerivativeFiles.forget_sites()
    assert seal_site(home) == len(raw)
    assert all(is_sealed(p) for p in raw)
    assert seal_site(home) == 0  # done once
    derivatives._layouts.clear()
    with served(create_app(home), port) as base:
        assert [get(base + p).content for p in paths] == before


def test_a_sealed_derivative_does_not_open_under_another_name(pair):
    """Each derivative has its own data key, bound to its name: a sealed pyramid put in
    another one's place does not open (DecryptionError), and the image API makes that one
    again rather than fail."""
    from preservation.crypt import DecryptionError

    base, home = pair["sealed"]
    folder = derivatives.derivatives_folder(home, _digest(home, "image"))
    url = f"{base}/iiif/3/page/0,0,256,256/256,/0/default.jpg"
    before = get(url).content
    main = folder / "pyramid.tif"
    main.write_bytes((folder / "pyramid-512.tif").read_bytes())
    with pytest.raises(DecryptionError):
        DerivativeFiles.for_site(home).read_bytes(main)
    assert get(url).status_code == 200  # rendered while the pyramids are made again
    assert get(url).content == before  # and then the stored tile again
    assert is_sealed(main) and DerivativeFiles.for_site(home).read_bytes(main)
