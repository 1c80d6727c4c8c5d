"""OCR of page scans (iiif.ocr) and WebVTT transcripts (iiif.transcripts).

Real recognition with the models in the rapidocr wheel: one demo page, and pages we render
ourselves with a CJK font, so that we know what is drawn where. OCR costs seconds per page
on this machine, so each page is recognised once per module (fixtures with module scope).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from support import require

from iiif import ocr
from iiif.transcripts import Cue, parse_vtt, read_vtt, transcript_cues
from repo.config import make_settings, write_settings
from repo.demo import MEDIA_DIR, manifest
from repo.errors import Invalid, NotFound
from repo.files import FileStore, parse_digest

ROOT = Path(__file__).resolve().parent.parent
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # what scripts/make_demo_media.py used
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


def cjk_font_path() -> str:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    out = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh-cn"], capture_output=True,
                         text=True, check=False).stdout.strip()
    if out and Path(out).exists():
        return out
    require(False, "no CJK font installed (apt-get install fonts-noto-cjk; .ci/run does it)")


def render(path: Path, size: tuple[int, int], lines: list[tuple[str, tuple[int, int], int]]
           ) -> dict[str, tuple[int, int, int, int]]:
    """Draw ``lines`` (text, top-left, pixel size) in black on white; return each text's
    ink box (x, y, w, h)."""
    font_path = cjk_font_path()
    img = Image.new("RGB", size, (250, 250, 247))
    draw = ImageDraw.Draw(img)
    boxes = {}
    for text, xy, px in lines:
        font = ImageFont.truetype(font_path, px)
        draw.text(xy, text, font=font, fill=(20, 20, 20))
        x0, y0, x1, y1 = draw.textbbox(xy, text, font=font)
        boxes[text] = (x0, y0, x1 - x0, y1 - y0)
    img.save(path)
    return boxes


def near(line: ocr.Line, box: tuple[int, int, int, int], tolerance: float) -> bool:
    """The line's box agrees with the drawn box within ``tolerance`` pixels on each side."""
    x, y, w, h = box
    return (abs(line.x - x) <= tolerance and abs(line.y - y) <= tolerance
            and abs(line.x + line.w - (x + w)) <= tolerance
            and abs(line.y + line.h - (y + h)) <= tolerance)


def find(lines: list[ocr.Line], text: str) -> ocr.Line:
    hits = [line for line in lines if text in line.text.replace(" ", "")]
    assert hits, f"{text!r} not recognised in {[line.text for line in lines]}"
    return hits[0]


# ---------------------------------------------------------------------- a demo page
@pytest.fixture(scope="module")
def admission() -> ocr.Page:
    return ocr.ocr_page(MEDIA_DIR / "admission-letter-1956.jpg")


def test_demo_page_is_recognised(admission: ocr.Page):
    # what scripts/make_demo_media.py draws on the 1956 admission letter (800×1130)
    assert (admission.width, admission.height) == (800, 1130)
    text = "\n".join(line.text for line in admission.lines).replace(" ", "")
    for expected in ("交通大学", "录取通知书", "张明华", "电机制造专业", "西安新校址",
                     "0318", "September1956"):
        assert expected in text, expected
    title = find(admission.lines, "录取通知书")
    # the title is centred near the top: its box is in the middle of the page, above 250 px
    assert 150 < title.x + title.w / 2 < 650
    assert 100 < title.y < title.y + title.h < 250
    assert title.w > 4 * title.h > 0
    assert 0.5 < title.confidence <= 1
    # reading order: the letterhead comes before the notes at the bottom
    assert admission.lines.index(title) < admission.lines.index(find(admission.lines, "报到须知"))


def test_demo_seed_is_what_ocr_gives(admission: ocr.Page):
    """The committed OCR of the demo scans (iiif/demo_ocr.json) is the engine's output."""
    seeds = json.loads(ocr.SEED_FILE.read_text(encoding="utf-8"))
    images = {n: i for n, i in manifest().items() if i["mime"].startswith("image/")}
    assert {i["sha256"] for i in images.values()} == set(seeds)
    seed = ocr.Page.from_data(seeds[images["admission-letter-1956.jpg"]["sha256"]])
    # the same lines where they are (another CPU may round a borderline character otherwise)
    fresh = {line.text: line for line in admission.lines}
    same = [(a, fresh[a.text]) for a in seed.lines if a.text in fresh]
    assert len(same) >= 0.9 * len(seed.lines) and len(seed.lines) >= 15
    for a, b in same:
        assert abs(a.x - b.x) <= 3 and abs(a.y - b.y) <= 3 and abs(a.w - b.w) <= 3


# ---------------------------------------------------------------------- a page we draw
@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> tuple[Path, dict, ocr.Page]:
    """A page larger than the recogniser's limit (2400×1700 > 2000), so that the boxes have
    to be scaled back to the original's pixels."""
    path = tmp_path_factory.mktemp("drawn") / "page.png"
    boxes = render(path, (2400, 1700), [
        ("兰台档案馆数字化工作", (200, 150), 90),
        ("西安交通大学迁校史料", (200, 500), 90),
        ("Oral history interviews", (200, 850), 80),
        ("檔案與記憶", (1300, 1250), 100),
    ])
    return path, boxes, ocr.ocr_page(path)


def test_drawn_page_text_and_boxes(drawn):
    _path, boxes, page = drawn
    assert (page.width, page.height) == (2400, 1700)
    for text, box in boxes.items():
        line = find(page.lines, text.replace(" ", ""))
        assert near(line, box, tolerance=40), (text, line, box)
    english = find(page.lines, "Oral")
    assert "history" in english.text.lower().replace(" ", "")
    # traditional characters come back as drawn (conversion is the search's business)
    assert "檔案" in find(page.lines, "檔案").text


# ---------------------------------------------------------------------- derivatives
@pytest.fixture
def store_home(tmp_path: Path) -> Path:
    """A site folder with settings only, its files sealed (the key beside it)."""
    home = tmp_path / "home"
    write_settings(home, make_settings(base="https://archive.example.edu",
                                       files_encrypted=True))
    return home


def small_page(path: Path, text: str = "目录第一页") -> dict:
    return render(path, (700, 220), [(text, (60, 60), 70)])


def test_ensure_ocr_writes_the_derivative_once(store_home: Path, tmp_path: Path):
    small_page(tmp_path / "p.png")
    digest = FileStore.for_site(store_home).put(tmp_path / "p.png")
    assert ocr.cached_ocr(store_home, digest) is None
    lines = ocr.ensure_ocr(store_home, digest)
    assert "目录第一页" in "".join(line.text for line in lines)
    target = store_home / "derivatives" / parse_digest(digest) / "ocr.json"
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["digest"] == digest and data["width"] == 700 and data["height"] == 220
    assert data["engine"].startswith("rapidocr-onnxruntime")
    assert [d["text"] for d in data["lines"]] == [line.text for line in lines]
    assert not [p for p in target.parent.iterdir() if p.name != "ocr.json"]  # no temp files
    # cached: the second call reads the file (fast) and leaves it alone
    mtime = target.stat().st_mtime_ns
    start = time.perf_counter()
    assert ocr.ensure_ocr(store_home, digest) == lines
    assert time.perf_counter() - start < 0.5
    assert target.stat().st_mtime_ns == mtime
    assert ocr.ocr_image(tmp_path / "p.png") == lines  # the same engine, the same answer
    assert ocr.ocr_for_ingest(store_home, digest, "image/png") == len(lines)
    assert ocr.ocr_for_ingest(store_home, digest, "audio/ogg") is None
    # a damaged derivative is made again
    target.write_text("{not json", encoding="utf-8")
    assert ocr.cached_ocr(store_home, digest) is None
    assert ocr.ensure_ocr(store_home, digest) == lines


def test_demo_seed_is_copied_into_the_derivatives(store_home: Path):
    digest = FileStore.for_site(store_home).put(MEDIA_DIR / "notes-p1.jpg")
    start = time.perf_counter()
    lines = ocr.ensure_ocr(store_home, digest)  # no recognition: the seed answers
    assert time.perf_counter() - start < 1
    assert any("计算尺" in line.text for line in lines)
    assert (ocr.derivative_dir(store_home, digest) / "ocr.json").is_file()


def test_ocr_many_with_two_worker_processes(store_home: Path, tmp_path: Path):
    files = FileStore.for_site(store_home)
    digests = []
    for n, text in enumerate(("第一页目录", "第二页附录")):
        small_page(tmp_path / f"{n}.png", text)
        digests.append(files.put(tmp_path / f"{n}.png"))
    bad = files.put(b"this is not an image")
    seen = []
    errors = ocr.ocr_many(store_home, [*digests, bad], workers=2,
                          progress=lambda n, total: seen.append((n, total)))
    assert list(errors) == [bad] and "not an image" in errors[bad]
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    for digest, text in zip(digests, ("第一页目录", "第二页附录"), strict=True):
        assert text in "".join(line.text for line in ocr.cached_ocr(store_home, digest))
    assert ocr.cached_ocr(store_home, bad) is None  # nothing half-written for a failure


def test_sixteen_bit_grey_tiff(tmp_path: Path):
    """Archival masters are often 16-bit greyscale TIFFs."""
    small_page(tmp_path / "p.png", "档案目录")
    grey = Image.open(tmp_path / "p.png").convert("L")
    deep = Image.new("I;16", grey.size)
    deep.putdata([v * 257 for v in grey.getdata()])
    deep.save(tmp_path / "p16.tif")
    assert Image.open(tmp_path / "p16.tif").mode == "I;16"
    lines = ocr.ocr_image(tmp_path / "p16.tif")
    assert "档案目录" in "".join(line.text for line in lines)


# ---------------------------------------------------------------------- bad input
def test_bad_images_are_refused_in_one_line(tmp_path: Path, store_home: Path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes((MEDIA_DIR / "notes-p1.jpg").read_bytes()[:5000])
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(bomb)  # 50 kB on disk, 400 megapixels decoded
    for path, reason in ((text, "not an image"), (truncated, "truncated or corrupt"),
                         (bomb, "above the OCR limit")):
        start = time.perf_counter()
        with pytest.raises(ocr.OCRError) as err:
            ocr.ocr_image(path)
        assert reason in err.value.message and "\n" not in err.value.message
        assert time.perf_counter() - start < 5
    with pytest.raises(NotFound):
        ocr.ocr_image(tmp_path / "missing.png")
    with pytest.raises(Invalid):
        ocr.ensure_ocr(store_home, "sha256:../../etc/passwd")
    with pytest.raises(NotFound):
        ocr.ensure_ocr(store_home, "sha256:" + "0" * 64)
    assert not (store_home / "derivatives" / ("0" * 64)).exists()


def test_command_line(tmp_path: Path):
    bad = tmp_path / "x.txt"
    bad.write_text("hello")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "iiif.ocr", *args], capture_output=True,
                              text=True, timeout=300, env=env, cwd=ROOT)

    proc = run(str(bad))
    assert proc.returncode == 5
    assert proc.stderr.startswith("lantai: error: x.txt: not an image")
    assert proc.stderr.count("\n") == 1
    # a site's page images without OCR get it (a text file in the store is left alone)
    home = tmp_path / "site"  # a site whose files are sealed (its key beside it)
    write_settings(home, make_settings(base="https://archive.example.edu",
                                       files_encrypted=True))
    small_page(tmp_path / "p.png", "档案目录")
    files = FileStore.for_site(home)
    digest, _ = files.put(tmp_path / "p.png"), files.put(bad)
    proc = run("--home", str(home), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1 of 1 page images have OCR\n"
    assert "档案目录" in "".join(line.text for line in ocr.cached_ocr(home, digest))
    assert run("--home", str(tmp_path / "nowhere")).returncode == 3


# ---------------------------------------------------------------------- transcripts
def test_demo_transcripts_parse():
    cues = read_vtt(MEDIA_DIR / "oh-01.en.vtt")
    assert len(cues) == 5
    assert cues[0].text == "In the summer of 1956 we left Shanghai on a special train."
    assert cues[0].id == "1" and 0 <= cues[0].start < cues[0].end <= cues[1].start
    duration = manifest()["oh-01.ogg"]["duration"]
    assert cues[-1].end <= duration
    zh = read_vtt(MEDIA_DIR / "oh-01.zh.vtt")
    assert [c.t for c in zh] == [c.t for c in cues]
    assert "专列" in zh[0].text


def test_vtt_parsing_is_safe():
    text = (
        "\ufeffWEBVTT - a header\r\nKind: captions\r\n\r\n"
        "NOTE this is a comment\r\nwith two lines\r\n\r\n"
        "STYLE\r\n::cue { color: red }\r\n\r\n"
        "intro\r\n00:01.000 --> 00:04.500 align:start position:10%\r\n"
        "<v Chen Yuanshan>We <b>left</b> &amp; <script>alert(1)</script>sang</v>\r\n\r\n"
        "00:00:05.000 --> 00:00:03.000\r\nends before it starts: skipped\r\n\r\n"
        "garbage --> more garbage\r\nskipped too\r\n\r\n"
        "01:02:03.250 --> 01:02:04.000\r\nline one\r\nline <00:00:01.000>two\r\n"
    )
    cues = parse_vtt(text.encode())
    assert cues == [
        Cue(1.0, 4.5, "We left & alert(1)sang", "intro", "Chen Yuanshan"),
        Cue(3723.25, 3724.0, "line one line two"),
    ]
    assert cues[1].t == "3723.25,3724"
    for bad in (b"", b"WEBVT\n\n00:01.000 --> 00:02.000\nx", b"\xff\xfe\x00W",
                b"WEBVTTX\n", b"x" * (6 << 20)):
        with pytest.raises(Invalid):
            parse_vtt(bad)
    assert parse_vtt("WEBVTT\n") == []


def test_transcript_from_the_file_store(store_home: Path):
    digest = FileStore.for_site(store_home).put(MEDIA_DIR / "oh-02.en.vtt")
    cues = transcript_cues(store_home, digest)
    assert any("library" in c.text for c in cues)
    with pytest.raises(NotFound):
        transcript_cues(store_home, "sha256:" + "1" * 64)


# ---------------------------------------------------------------------- lantai ocr
def test_lantai_ocr_command(site, tmp_path: Path):
    """A scan ingested without OCR (as if its OCR had failed, or been deleted) is not in the
    catalogs; `lantai ocr PATH` recognises it and re-indexes it, so search finds it at once.
    Permissions and bad paths are refused before any OCR; a second run has nothing to do."""
    from support import run_lantai

    from iiif.media import ingest_media

    item = "/xjtu/students/register-1957/page-1"
    repo, admin = site.repo, site.admin
    repo.transition(admin, "/xjtu", "publish", recursive=True)
    record = site.iris[item]
    small_page(tmp_path / "scan.png", "岱宗夫如何")
    result = ingest_media(repo, admin, item, [tmp_path / "scan.png"], ocr=False)
    (scan,) = result.attached
    assert not ocr.has_ocr(site.home, scan.digest)
    site.close()  # the commands below are other processes

    def lantai(*args: str, user: str | None = None) -> subprocess.CompletedProcess:
        return run_lantai(site.home, *args, user=user, check=False, timeout=300)

    def found(*public: str) -> list[str]:
        proc = lantai("search", "岱宗", "--json", *public)
        assert proc.returncode == 0, proc.stderr
        return [hit["iri"] for hit in json.loads(proc.stdout)["hits"]]

    assert found() == [] and found("--public") == []
    for args, user, code, message in (
            ((item,), "reader", 4, "reader may not run OCR on " + item),
            (("--all",), "reader", 4, "reader may not run OCR on the whole site"),
            (("/xjtu/nowhere",), None, 3, "no object at /xjtu/nowhere"),
            ((), None, 2, "give a PATH, or --all"),
            ((item, "--all"), None, 2, "give a PATH, or --all")):
        proc = lantai("ocr", *args, user=user)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stderr.startswith(f"lantai: error: {message}"), proc.stderr
        assert proc.stderr.count("\n") == 1
    assert not ocr.has_ocr(site.home, scan.digest)  # nothing was recognised for them

    proc = lantai("ocr", "/xjtu/students", "--workers", "1", user="editor")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("1 page(s) recognised, 1 page scan(s) in all; ")
    assert "岱宗" in "".join(line.text for line in ocr.cached_ocr(site.home, scan.digest))
    # the record and its scan, in both catalogs (the record is published)
    assert sorted(found()) == sorted([record, scan.iri])
    assert sorted(found("--public")) == sorted([record, scan.iri])
    # again: nothing to recognise, nothing changes in the catalogs
    proc = lantai("ocr", item)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("0 page(s) recognised, 1 page scan(s) in all; "
                           "catalog: 0 staff and 0 public document(s) updated\n")
