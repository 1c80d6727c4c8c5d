"""``lantai ingest media``: scans, PDFs, recordings and transcripts attached to a record.

Real files made here (Pillow, PyAV), the real command in a subprocess, the real stores:
what comes out is checked in the file store, the working store, the publication dataset
and the manifest; bad input must leave every one of them exactly as it was.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from pyoxigraph import Store
from support import read_only_snapshot, run_lantai

from iiif.derivative_files import DerivativeFiles, is_sealed
from iiif.manifests import Site, build_manifest
from iiif.media import probe
from repo.errors import Invalid
from repo.files import FileStore

DEMO_MEDIA = Path(__file__).parents[1] / "repo" / "demo" / "media"
ITEM = "/xjtu/students/register-1957/page-1"
FILE = "/xjtu/students/register-1957"


# ---------------------------------------------------------------------- making media
@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """Small real media files, good and bad."""
    import av
    import numpy as np
    from PIL import Image

    d = tmp_path_factory.mktemp("media")
    Image.new("RGB", (400, 560), (200, 180, 150)).save(d / "scan-1.jpg", quality=80)
    Image.new("RGB", (420, 580), (20, 180, 150)).save(d / "scan-2.png")
    Image.new("RGB", (380, 540), (120, 80, 150)).save(d / "scan-3.tif", compression="tiff_lzw")
    Image.new("RGB", (300, 420), (90, 90, 90)).save(d / "page-6.png")
    pages = [Image.new("RGB", (200, 280), c) for c in ((255, 255, 255), (230, 230, 255))]
    pages[0].save(d / "letter.pdf", save_all=True, append_images=pages[1:], resolution=72)
    data = (d / "scan-1.jpg").read_bytes()
    (d / "scan-1-copy.jpg").write_bytes(data)
    (d / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (d / "garbage.jpg").write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 40)
    (d / "notes.txt").write_text("not a scan")
    (d / "report.docx").write_bytes(b"PK\x03\x04" + b"\0" * 200)
    Image.new("1", (25_000, 25_000)).save(d / "bomb.png", optimize=True)  # 625 MP, ~70 KB
    (d / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    header = (b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " +
              struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data" +
              struct.pack("<I", 0))
    (d / "silent.wav").write_bytes(header)  # audio without a duration
    shutil.copy(DEMO_MEDIA / "oh-01.ogg", d / "talk.ogg")
    shutil.copy(DEMO_MEDIA / "oh-01.zh.vtt", d / "talk.zh.vtt")
    shutil.copy(DEMO_MEDIA / "oh-01.en.vtt", d / "talk.en.vtt")
    shutil.copy(DEMO_MEDIA / "oh-01.json", d / "talk.json")
    shutil.copy(DEMO_MEDIA / "oh-01.zh.vtt", d / "orphan.zh.vtt")
    (d / "bad.zh.vtt").write_text("WEBVTT\n\nno cues here\n")
    container = av.open(str(d / "clip.webm"), "w")
    stream = container.add_stream("libvpx", rate=10)
    stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
    for i in range(20):
        frame = np.zeros((120, 160, 3), dtype=np.uint8)
        frame[:, i * 8:i * 8 + 8, 1] = 255
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    ogg = (DEMO_MEDIA / "oh-02.ogg").read_bytes()
    (d / "cut.ogg").write_bytes(ogg[:200])  # headers only: nothing to decode
    return d


def lantai(home: Path, *args: str, user: str | None = None) -> subprocess.CompletedProcess:
    """``run_lantai`` unchecked and with more time: many runs here are meant to fail (each
    test reads the exit code), and decoding media on a busy machine is slow."""
    return run_lantai(home, *args, user=user, check=False, timeout=300)


@pytest.fixture
def published(site):
    """The standard tree, published, and the site closed so that the command can open it."""
    site.repo.transition(site.admin, "/xjtu", "publish", recursive=True)
    site.close()
    return site


def state(home: Path) -> tuple:
    """Everything ingest may touch: both stores, stored files, derivatives."""
    files = sorted(p.name for folder in ("files", "preservation/staging")
                   for p in (home / folder).rglob("*") if p.is_file())
    files += sorted(FileStore.for_site(home).digests())  # the file store's index
    derivs = sorted(str(p.relative_to(home)) for p in (home / "derivatives").rglob("*")
                    if p.is_file()) if (home / "derivatives").exists() else []
    return (*read_only_snapshot(home), files, derivs)


def manifest_of(home: Path, key: str) -> dict | None:
    store = Store.read_only(str(home / "publication"))
    site = Site(base="https://archive.example.edu", name={"zh": ["兰台"], "en": ["Lantai"]},
                rights="http://rightsstatements.org/vocab/CNE/1.0/")
    return build_manifest(store, site, "record", key, home=home, validate=True)


# ---------------------------------------------------------------------- the good path
def test_scans_and_pdf_pages_become_ordered_canvases(published, media):
    home = published.home
    files = [media / n for n in ("scan-1.jpg", "scan-2.png", "scan-3.tif", "letter.pdf")]
    r = lantai(home, "ingest", "media", ITEM, *map(str, files), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["manifest"] == "https://archive.example.edu/iiif/manifest/record/page-1"
    insts = out["instantiations"]
    assert [i["mime"] for i in insts] == ["image/jpeg", "image/png", "image/tiff",
                                         "application/pdf", "image/png", "image/png"]
    images = [i for i in insts if i["mime"].startswith("image/")]
    for i in images:
        assert i["image_service"] == f"https://archive.example.edu/iiif/3/{i['key']}"
        assert i["width"] > 0 and i["height"] > 0
    assert (images[0]["width"], images[0]["height"]) == (400, 560)
    pdf = insts[3]
    assert all(i["derived_from"] == pdf["path"] for i in images[3:])
    # originals kept, content-addressed, and fixity holds
    store = FileStore.for_site(home)
    for f, i in zip(files[:3], insts[:3], strict=True):
        with store.open(i["digest"]) as fh:
            assert fh.read() == f.read_bytes()
        assert store.stored_path(i["digest"]).read_bytes() != f.read_bytes()  # sealed
    with store.open(pdf["digest"]) as fh:
        assert fh.read() == files[3].read_bytes()
    assert store.verify_all().ok
    # the record was published, so its scans are: the manifest shows them, in order
    m = manifest_of(home, "page-1")
    keys = [c["id"].rsplit("/", 1)[-1] for c in m["items"]]
    assert keys == [i["key"] for i in images]
    assert [c["label"]["en"] for c in m["items"]] == [[f"Page {n}"] for n in range(1, 6)]
    assert m["behavior"] == ["paged"]
    # derivatives were made (pyramid and thumbnail by iiif.derivatives when present)
    folder = home / "derivatives" / images[0]["digest"].removeprefix("sha256:")
    assert folder.is_dir() and any(folder.iterdir())
    # a second batch continues the page numbers and the order
    r = lantai(home, "ingest", "media", ITEM, str(media / "page-6.png"), "--json")
    assert r.returncode == 0, r.stderr
    m = manifest_of(home, "page-1")
    assert [c["label"]["en"] for c in m["items"]][-1] == ["Page 6"]
    assert m["items"][-1]["id"].endswith(json.loads(r.stdout)["instantiations"][0]["key"])
    # the same scan again would be the same page twice: refused, nothing stored
    before = state(home)
    r = lantai(home, "ingest", "media", ITEM, str(media / "scan-2.png"))
    assert r.returncode == 5 and "already attached to" in r.stderr
    assert state(home) == before


def test_a_recording_with_transcripts_table_of_contents_and_a_video(published, media):
    home = published.home
    names = ("talk.zh.vtt", "talk.ogg", "talk.json", "talk.en.vtt", "clip.webm")
    r = lantai(home, "ingest", "media", ITEM, *(str(media / n) for n in names), "--json")
    assert r.returncode == 0, r.stderr
    insts = {i["file"].rsplit("/", 1)[-1]: i for i in json.loads(r.stdout)["instantiations"]}
    assert insts["talk.ogg"]["duration"] == pytest.approx(23.614)
    assert insts["clip.webm"]["duration"] == pytest.approx(2.0)
    for companion in ("talk.zh.vtt", "talk.en.vtt", "talk.json"):
        assert insts[companion]["derived_from"] == insts["talk.ogg"]["path"]
    for rec in ("talk.ogg", "clip.webm"):
        folder = home / "derivatives" / insts[rec]["digest"].removeprefix("sha256:")
        assert (folder / "poster.jpg").is_file() and is_sealed(folder / "poster.jpg")
        facts = json.loads(DerivativeFiles.for_site(home).read_bytes(folder / "media.json"))
        assert facts["duration"] == pytest.approx(insts[rec]["duration"])
    m = manifest_of(home, "page-1")
    kinds = {c["items"][0]["items"][0]["body"]["type"]: c for c in m["items"]}
    assert set(kinds) == {"Sound", "Video"}
    assert (kinds["Video"]["width"], kinds["Video"]["height"]) == (160, 120)
    sound = kinds["Sound"]
    assert {a["body"]["language"] for a in sound["annotations"][0]["items"]} == {"zh", "en"}
    assert [r["label"]["en"] for r in m["structures"][0]["items"]] == [
        ["The train journey west"], ["The first winter in Xi'an"]]


def test_state_follows_the_record_or_stays_private(site, media):
    """An unpublished record's media stay private; --private keeps them so on a published one."""
    site.close()
    r = lantai(site.home, "ingest", "media", ITEM, str(media / "scan-1.jpg"), "--json")
    assert r.returncode == 0, r.stderr
    (inst,) = json.loads(r.stdout)["instantiations"]
    show = json.loads(lantai(site.home, "show", inst["path"], "--json").stdout)
    assert show["state"] == "private"
    assert manifest_of(site.home, "page-1") is None
    site.reopen()
    site.repo.transition(site.admin, FILE, "publish", recursive=False)
    site.repo.transition(site.admin, "/xjtu", "publish", recursive=False)
    site.repo.transition(site.admin, "/xjtu/students", "publish", recursive=False)
    site.repo.transition(site.admin, ITEM, "publish", recursive=False)
    site.close()
    r = lantai(site.home, "ingest", "media", ITEM, str(media / "scan-2.png"), "--private")
    assert r.returncode == 0, r.stderr
    assert manifest_of(site.home, "page-1") is None  # both scans still private


def test_human_output_and_progress_bar(published, media):
    r = lantai(published.home, "ingest", "media", ITEM, str(media / "scan-1.jpg"),
               str(media / "scan-2.png"))
    assert r.returncode == 0, r.stderr
    assert "Ingesting media" in r.stderr and "2/2" in r.stderr.replace("4/4", "2/2")
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == "manifest: https://archive.example.edu/iiif/manifest/record/page-1"
    assert all("https://archive.example.edu/iiif/3/" in line for line in lines[:2])


# ---------------------------------------------------------------------- bad input
BAD = [
    (("notes.txt",), "not a supported media file"),
    (("report.docx",), "not a supported media file"),
    (("truncated.jpg",), "truncated or corrupt image"),
    (("garbage.jpg",), "image"),
    (("bomb.png",), "decompression bomb"),
    (("broken.pdf",), "not a readable PDF"),
    (("silent.wav",), "no duration"),
    (("cut.ogg",), "cut.ogg"),
    (("orphan.zh.vtt",), "no recording orphan"),
    (("talk.ogg", "bad.zh.vtt"), "without cues"),
    # all or nothing: good files before a bad one are not kept either
    (("scan-1.jpg", "scan-2.png", "truncated.jpg"), "truncated.jpg"),
    (("talk.ogg", "talk.zh.vtt", "notes.txt"), "notes.txt"),
    (("scan-1.jpg", "scan-1-copy.jpg"), "the same file as scan-1.jpg"),
    (("missing.jpg",), "no such file"),
]


@pytest.mark.parametrize(("names", "reason"), BAD, ids=[",".join(n) for n, _ in BAD])
def test_bad_input_is_one_line_nonzero_and_stores_nothing(published, media, names, reason):
    home = published.home
    before = state(home)
    r = lantai(home, "ingest", "media", ITEM, *(str(media / n) for n in names))
    assert r.returncode in (3, 5), r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("lantai: error:")]
    assert len(errors) == 1 and reason in errors[0], r.stderr
    assert "Traceback" not in r.stderr
    assert state(home) == before


def test_a_failure_after_storing_removes_what_the_batch_stored(published, media, tmp_path):
    """Files stored and derivatives made are removed when the description write fails."""
    home = published.home
    before = state(home)
    # a record set that cannot take instantiations
    r = lantai(home, "ingest", "media", "/xjtu/students", str(media / "scan-1.jpg"))
    assert r.returncode == 5 and "attach to an item or a file" in r.stderr
    # a user who may not publish: the ingest itself refuses, after storing
    r = lantai(home, "ingest", "media", ITEM, str(media / "scan-3.tif"), user="contributor")
    assert r.returncode in (3, 4), r.stderr
    assert state(home) == before


def test_wrong_usage(published, media):
    r = lantai(published.home, "ingest", "media", ITEM)
    assert r.returncode == 2
    r = lantai(published.home, "ingest", "media", "/no/such/record", str(media / "scan-1.jpg"))
    assert r.returncode == 3 and r.stderr.startswith("lantai: error:")


# ---------------------------------------------------------------------- units
def test_probe_reads_facts_from_content_not_names(media, tmp_path):
    disguised = tmp_path / "scan.mp3"
    shutil.copy(media / "scan-2.png", disguised)
    p = probe(disguised)
    assert (p.kind, p.mime, p.width, p.height) == ("image", "image/png", 420, 580)
    video = probe(media / "clip.webm")
    assert (video.kind, video.mime, video.width, video.height) == ("video", "video/webm",
                                                                    160, 120)
    with pytest.raises(Invalid, match="not a supported"):
        probe(media / "notes.txt")


def test_a_transcript_without_cues_is_refused(tmp_path):
    vtt = tmp_path / "oh-01.zh.vtt"
    vtt.write_text("WEBVTT\n\nNOTE only a comment\n", encoding="utf-8")
    with pytest.raises(Invalid, match="without cues"):
        probe(vtt)
    vtt.write_text("not a transcript\n", encoding="utf-8")
    with pytest.raises(Invalid, match="not a supported media file"):
        probe(vtt)


def test_pages_follow_the_tree_order_not_the_keys(site, media):
    """An older instantiation with a key that sorts last still comes first."""
    digest = FileStore.for_site(site.home).put(media / "scan-3.tif")
    site.repo.create(site.admin, ITEM, "instantiation",
                     {"mime": "image/tiff", "digest": digest, "width": "380", "height": "540",
                      "title": {"zh": "第1页", "en": "Page 1"}}, slug="zz", key="zz-first")
    site.repo.transition(site.admin, "/xjtu", "publish", recursive=True)
    site.close()
    r = lantai(site.home, "ingest", "media", ITEM, str(media / "scan-1.jpg"),
               str(media / "scan-2.png"), "--json", "--private")
    assert r.returncode == 0, r.stderr
    insts = json.loads(r.stdout)["instantiations"]
    keys = [i["key"] for i in insts]
    assert sorted([*keys, "zz-first"]) != ["zz-first", *keys]  # keys alone would misorder
    site.reopen()
    for inst in insts:
        site.repo.transition(site.admin, inst["path"], "publish")
    site.close()
    m = manifest_of(site.home, "page-1")
    assert [c["id"].rsplit("/", 1)[-1] for c in m["items"]] == ["zz-first", *keys]
    assert [c["label"]["en"] for c in m["items"]] == [["Page 1"], ["Page 2"], ["Page 3"]]


def test_a_file_with_scans_of_its_own_and_scanned_items(published, media):
    """A file (案卷) can be digitised as a whole and hold digitised items: both show."""
    from iiif.collections import build_collection

    home = published.home
    r = lantai(home, "ingest", "media", FILE, str(media / "scan-1.jpg"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["manifest"].endswith("/iiif/manifest/recordset/register-1957")
    assert lantai(home, "ingest", "media", ITEM, str(media / "scan-2.png")).returncode == 0
    store = Store.read_only(str(home / "publication"))
    site = Site(base="https://archive.example.edu", name={"zh": ["兰台"], "en": ["Lantai"]},
                rights="http://rightsstatements.org/vocab/CNE/1.0/")
    file_manifest = build_manifest(store, site, "recordset", "register-1957",
                                   home=home)
    assert len(file_manifest["items"]) == 1
    series = build_collection(store, site, "recordset", "students")
    assert [(i["type"], i["id"].rsplit("/", 1)[-1]) for i in series["items"]] == [
        ("Collection", "register-1957"), ("Manifest", "register-1957")]
    inside = build_collection(store, site, "recordset", "register-1957")
    assert [(i["type"], i["id"].rsplit("/", 1)[-1]) for i in inside["items"]] == [
        ("Manifest", "register-1957"), ("Manifest", "page-1")]
    assert build_collection(store, site, "recordset", "admin") is None  # nothing digitised
