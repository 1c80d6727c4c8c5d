"""Generate the small, fictional demo media files of the Lantai demo archive.

Everything produced here is invented for the demo: the documents, names,
ID-card-like numbers, student numbers and interviews are fictional and made
by this script (licence CC0). The output is committed to ``repo/demo/media/``
so that CI and users never need fonts or speech tools.

Files written to ``repo/demo/media/``:

* page scans (JPEG, about 800x1130): a 1955 relocation telegram, three
  oral-history consent forms (closed records, each carrying a
  ``CANARY-CONSENT-000N`` string), two notebook pages (1957), a 1956
  admission letter, a 1985 prize coursework (two pages), a 2020 epidemic
  notice, a drawn "photo" of volunteers and two student transcripts
  (personal data, each carrying a ``CANARY-STU-201900N`` student number);
* oral-history audio ``oh-01.ogg`` .. ``oh-03.ogg`` (Ogg Opus, mono, 16 kHz),
  with WebVTT transcripts ``oh-0N.zh.vtt`` / ``oh-0N.en.vtt`` whose cue times
  are computed from the real durations of the synthesised sentences, and a
  ``oh-0N.json`` table of contents;
* ``MANIFEST.json`` (sha256, size, MIME type, dimensions or duration of
  every generated file) and ``README.md``.

Requirements (Debian 12 package names, plus PyPI):

* ``apt-get install fonts-wqy-microhei espeak-ng ffmpeg``
  (WenQuanYi Micro Hei for CJK text, espeak-ng with its Mandarin voice
  ``cmn`` for speech, ffmpeg/ffprobe with libopus for encoding);
* ``pip install Pillow``.

Rerun from the repository root (the git work tree) with::

    python scripts/make_demo_media.py

The institution appears under its historical name 交通大学 (1955-1956) and as
西安交通大学 after the move; every seal is marked "DEMO", every page carries a
"fictional demo material" footer, and the telegram's code numbers are
placeholders, not the real Chinese telegraph code. The interview cue times
come from the measured lengths of the synthesised, silence-trimmed sentences.

The images are deterministic (all randomness comes from seeded generators);
the audio is deterministic for a given espeak-ng/ffmpeg version (ffmpeg runs
in bit-exact mode).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import re
import shutil
import subprocess
import sys
import tempfile
import wave
import zlib
from array import array
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

# a development tool, not part of the installed package: it writes into the work tree
OUT_DIR = Path(__file__).resolve().parents[1] / "repo" / "demo" / "media"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
PAGE_SIZE = (800, 1130)
JPEG_QUALITY = 70
MAX_IMAGE_BYTES = 120_000
MAX_TOTAL_BYTES = 3_000_000

Color = tuple[int, int, int]
INK: Color = (35, 32, 30)
BLUE_INK: Color = (28, 48, 120)
RED: Color = (196, 36, 36)
OLD_PAPER: Color = (236, 226, 198)
AGED_PAPER: Color = (241, 234, 212)
WHITE_PAPER: Color = (246, 245, 240)
FICTION_NOTE = "虚构演示材料 · Fictional demo material (Lantai)"
UNIVERSITY = "西安交通大学"  # the university after the 1956 move to Xi'an
UNIVERSITY_EN = "XI'AN JIAOTONG UNIVERSITY"
OLD_UNIVERSITY = "交通大学"  # its name in 1955-1956


# --------------------------------------------------------------------------
# Fonts and paper
# --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def font_path() -> str:
    """Return the path of an installed CJK font, or fail with a hint."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    found = shutil.which("fc-match")
    if found:
        out = subprocess.run(
            [found, "-f", "%{file}", ":lang=zh-cn"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if out and Path(out).exists():
            return out
    raise SystemExit("No CJK font found: apt-get install fonts-wqy-microhei")


@lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont:
    """Return the CJK font at ``size`` pixels."""
    return ImageFont.truetype(font_path(), size)


def seed_for(name: str) -> int:
    """Return a stable random seed derived from a file name."""
    return zlib.crc32(name.encode("utf-8"))


def noise_layer(size: tuple[int, int], rng: random.Random, cell: int) -> Image.Image:
    """Return smooth grey noise: random cells of ``cell`` px upscaled."""
    small = (max(2, size[0] // cell), max(2, size[1] // cell))
    data = bytes(rng.randrange(256) for _ in range(small[0] * small[1]))
    return Image.frombytes("L", small, data).resize(size, Image.Resampling.BICUBIC)


def make_paper(
    size: tuple[int, int], tint: Color, rng: random.Random, stains: int = 0
) -> Image.Image:
    """Return a paper background of colour ``tint`` with mottling and stains."""
    paper = Image.new("RGB", size, tint)
    dark = Image.new("RGB", size, tuple(max(0, c - 24) for c in tint))
    mottle = noise_layer(size, rng, 40).point(lambda v: int(v * 0.35))
    paper = Image.composite(dark, paper, mottle)
    if stains:
        mask = Image.new("L", size, 0)
        draw = ImageDraw.Draw(mask)
        for _ in range(stains):
            x, y = rng.randrange(size[0]), rng.randrange(size[1])
            r = rng.randrange(30, 110)
            draw.ellipse((x - r, y - r, x + r, y + r * 0.8), fill=rng.randrange(25, 55))
        mask = mask.filter(ImageFilter.GaussianBlur(18))
        stain = Image.new("RGB", size, (190, 160, 110))
        paper = Image.composite(stain, paper, mask)
    return paper


def finish_scan(img: Image.Image, rng: random.Random, max_angle: float = 0.6) -> Image.Image:
    """Make ``img`` look scanned: soften, add grain, rotate slightly."""
    img = img.filter(ImageFilter.GaussianBlur(0.5))
    grain = noise_layer(img.size, rng, 3).point(lambda v: int(v * 0.045))
    img = Image.composite(Image.new("RGB", img.size, (60, 55, 50)), img, grain)
    angle = rng.uniform(-max_angle, max_angle)
    return img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(205, 205, 200))


def save_jpeg(img: Image.Image, name: str) -> Path:
    """Save ``img`` as an optimised JPEG and check its size budget."""
    path = OUT_DIR / name
    img.save(path, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    size = path.stat().st_size
    if size >= MAX_IMAGE_BYTES:
        raise SystemExit(f"{name} is {size} bytes, over the {MAX_IMAGE_BYTES} budget")
    return path


# --------------------------------------------------------------------------
# Drawing helpers
# --------------------------------------------------------------------------


class Page:
    """A drawable page: an image, its draw context and a text cursor."""

    def __init__(self, img: Image.Image, rng: random.Random, margin: int = 70) -> None:
        """Wrap ``img``; ``margin`` is the left/right text margin in px."""
        self.img = img
        self.draw = ImageDraw.Draw(img)
        self.rng = rng
        self.margin = margin
        self.y = 60

    @property
    def width(self) -> int:
        """Return the page width in pixels."""
        return self.img.width

    def text(
        self, xy: tuple[float, float], s: str, size: int, fill: Color = INK, anchor: str = "la"
    ) -> None:
        """Draw one line of text at ``xy``."""
        self.draw.text(xy, s, font=font(size), fill=fill, anchor=anchor)

    def centered(self, s: str, size: int, fill: Color = INK, gap: int = 12) -> None:
        """Draw a centred line at the cursor and advance it."""
        self.text((self.width / 2, self.y), s, size, fill, anchor="ma")
        self.y += size + gap

    def line(
        self, s: str, size: int = 20, fill: Color = INK, indent: int = 0, gap: int = 10
    ) -> None:
        """Draw a left-aligned line at the cursor and advance it."""
        self.text((self.margin + indent, self.y), s, size, fill)
        self.y += size + gap

    def paragraph(
        self, s: str, size: int = 20, fill: Color = INK, indent: int = 2, gap: int = 11
    ) -> None:
        """Draw wrapped text (CJK-aware, per character) and advance the cursor."""
        usable = self.width - 2 * self.margin
        first = True
        for chunk in wrap_text(s, font(size), usable, indent * size):
            offset = indent * size if first else 0
            self.text((self.margin + offset, self.y), chunk, size, fill)
            self.y += size + gap
            first = False

    def rule(self, fill: Color = INK, width: int = 2, gap: int = 14) -> None:
        """Draw a horizontal rule across the text block."""
        self.draw.line(
            (self.margin, self.y, self.width - self.margin, self.y), fill=fill, width=width
        )
        self.y += gap

    def skip(self, pixels: int) -> None:
        """Move the cursor down."""
        self.y += pixels


TOKEN_RE = re.compile(r"[A-Za-z0-9'’.,;:!?()/%~\-]+ ?|.", re.DOTALL)
NO_LINE_START = "，。、；：？！）》”’,.;:)"


def wrap_text(s: str, fnt: ImageFont.FreeTypeFont, width: int, first_indent: int = 0) -> list[str]:
    """Split ``s`` into lines no wider than ``width`` px.

    Latin words stay whole; CJK text breaks between characters, but closing
    punctuation is never put at the start of a line.
    """
    lines: list[str] = []
    current = ""
    limit = width - first_indent
    for token in TOKEN_RE.findall(s):
        fits = fnt.getlength((current + token).rstrip()) <= limit
        if current and not fits and token[0] not in NO_LINE_START:
            lines.append(current.rstrip())
            current = token.lstrip()
            limit = width
        else:
            current += token
    if current.strip():
        lines.append(current.rstrip())
    return lines


def handwrite(
    page: Page, xy: tuple[float, float], s: str, size: int = 24, fill: Color = BLUE_INK
) -> float:
    """Draw ``s`` with per-character jitter like handwriting; return end x."""
    x, y = xy
    for ch in s:
        jitter = page.rng.uniform(-1.8, 1.8)
        ch_size = size + page.rng.choice((-1, 0, 0, 1))
        page.draw.text((x, y + jitter), ch, font=font(ch_size), fill=fill)
        x += font(ch_size).getlength(ch) + page.rng.uniform(-0.5, 1.5)
    return x


def arc_text(
    img: Image.Image, center: tuple[float, float], radius: float, s: str, size: int, color: Color
) -> None:
    """Draw ``s`` along the upper arc of a circle (for round seals)."""
    span = min(250.0, 26.0 * len(s))
    step = span / max(1, len(s) - 1)
    for i, ch in enumerate(s):
        angle = -90 - span / 2 + i * step
        rad = math.radians(angle)
        glyph = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((size, size), ch, font=font(size), fill=color, anchor="mm")
        glyph = glyph.rotate(-(angle + 90), resample=Image.Resampling.BICUBIC)
        gx = center[0] + radius * math.cos(rad) - size
        gy = center[1] + radius * math.sin(rad) - size
        img.paste(glyph, (int(gx), int(gy)), glyph)


def seal(page: Page, center: tuple[float, float], radius: int, ring: str, bottom: str = "") -> None:
    """Stamp a round red seal: ring text, a star, optional bottom text."""
    layer = Image.new("RGBA", page.img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    cx, cy = center
    color = (*RED, 255)
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=color, width=5)
    draw.text((cx, cy), "★", font=font(int(radius * 0.55)), fill=color, anchor="mm")
    size = max(14, int(radius * 0.26))
    arc_text(layer, center, radius - size * 0.9, ring, size, RED)
    draw.text(
        (cx, cy + radius * 0.3), "DEMO", font=font(int(radius * 0.14)), fill=color, anchor="mm"
    )
    if bottom:
        draw.text(
            (cx, cy + radius * 0.55), bottom, font=font(int(size * 0.8)), fill=color, anchor="mm"
        )
    faded = layer.filter(ImageFilter.GaussianBlur(0.7))
    alpha = faded.getchannel("A").point(lambda v: int(v * page.rng.uniform(0.72, 0.82)))
    faded.putalpha(alpha)
    page.img.paste(faded, (0, 0), faded)


def footer(page: Page, left: str, right: str = FICTION_NOTE, fill: Color = (90, 85, 80)) -> None:
    """Print small footer lines at the bottom of the page."""
    y = page.img.height - 48
    margin = min(page.margin, 60)
    page.draw.line((margin, y - 10, page.width - margin, y - 10), fill=(150, 145, 135), width=1)
    page.text((margin, y), left, 13, fill)
    page.text((page.width - margin, y), right, 13, fill, anchor="ra")


def new_page(name: str, tint: Color, stains: int = 0, size: tuple[int, int] = PAGE_SIZE) -> Page:
    """Return a fresh page for file ``name`` with a seeded generator."""
    rng = random.Random(seed_for(name))
    return Page(make_paper(size, tint, rng, stains), rng)


def write_page(page: Page, name: str, max_angle: float = 0.6) -> Path:
    """Finish (scan effect) and save ``page`` as ``name``."""
    return save_jpeg(finish_scan(page.img, page.rng, max_angle), name)


# --------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------


def make_telegram() -> Path:
    """1955 telegram about moving the university from Shanghai to Xi'an."""
    name = "relocation-telegram-1955.jpg"
    page = new_page(name, OLD_PAPER, stains=4)
    page.centered("中华人民共和国邮电部", 22)
    page.centered("电    报", 46, gap=4)
    page.centered("TELEGRAM", 18, fill=(80, 75, 70), gap=22)
    telegram_header(page)
    telegram_grid(page, TELEGRAM_TEXT, top=page.y + 10)
    page.y += 10 + 7 * 62 + 24
    page.line("译文 English gloss (typed on receipt):", 17, fill=(70, 65, 60))
    page.paragraph(
        "Jiaotong University: with State Council approval the university is to move "
        "to Xi'an in stages from 1956. Begin preparations at once. Ministry of Higher Education.",
        16,
        fill=(70, 65, 60),
        indent=0,
        gap=8,
    )
    page.skip(18)
    handwrite(page, (page.margin + 10, page.y), "请校长阅示，并转总务处筹备。", 26)
    handwrite(page, (page.margin + 420, page.y + 44), "一九五五年四月十日", 22)
    seal(page, (665, 92), 60, "上海电报局", "55.4.9")
    footer(page, "收文登记 55-0417 · Received 09 APR 1955 10:40")
    return write_page(page, name)


TELEGRAM_TEXT = (
    f"{OLD_UNIVERSITY}：经国务院批准，你校自一九五六年起分批迁往西安，"
    "新校址在西安东郊。请即着手筹备迁校事宜，并将计划报部。高等教育部"
)


def telegram_header(page: Page) -> None:
    """Draw the boxed header fields of the telegram form."""
    left, right = page.margin, page.width - page.margin
    top = page.y
    rows = (
        ("来报局 From", "北京", "字数 Words", str(len(telegram_chars(TELEGRAM_TEXT)))),
        ("日期 Date", "1955年4月9日", "时间 Time", "09时15分"),
        ("收报人 To", f"{OLD_UNIVERSITY}校长办公室", "号码 No.", "0417"),
    )
    for i, (k1, v1, k2, v2) in enumerate(rows):
        y = top + i * 42
        page.draw.rectangle((left, y, right, y + 42), outline=INK, width=2)
        page.text((left + 10, y + 11), k1, 17)
        page.text((left + 140, y + 9), v1, 21)
        page.text((left + 400, y + 11), k2, 17)
        page.text((left + 520, y + 9), v2, 21)
    page.y = top + len(rows) * 42 + 8


def telegram_chars(s: str) -> list[str]:
    """Return the characters of a telegram text (punctuation is not sent)."""
    return [c for c in s if c not in "，。：、"]


def telegram_grid(page: Page, s: str, top: int, cols: int = 10, cell: int = 62) -> None:
    """Write ``s`` into the character boxes, one per box, with (placeholder) code numbers."""
    left = (page.width - cols * cell) // 2
    chars = telegram_chars(s)
    for i in range(7 * cols):
        row, col = divmod(i, cols)
        x, y = left + col * cell, top + row * cell
        page.draw.rectangle((x, y, x + cell, y + cell), outline=(120, 110, 100), width=1)
        if i < len(chars):
            page.text((x + cell / 2, y + cell / 2 + 4), chars[i], 30, anchor="mm")
            page.text(
                (x + 4, y + 2),
                f"{zlib.crc32(chars[i].encode()) % 10000:04d}",
                10,
                fill=(110, 100, 95),
            )


@dataclass(frozen=True)
class Narrator:
    """A fictional oral-history narrator."""

    number: int
    name: str
    name_en: str
    id_number: str
    role: str
    interview_date: str
    voice: str
    pitch: int


NARRATORS = (
    Narrator(
        1,
        "陈远山",
        "Chen Yuanshan",
        "990102193105124417",
        "退休教授（1956年随校西迁）",
        "2016年4月8日",
        "cmn+m3",
        38,
    ),
    Narrator(
        2, "林秀兰", "Lin Xiulan", "990104193807215526", "1957级学生", "2016年4月15日", "cmn+f3", 55
    ),
    Narrator(
        3,
        "王德厚",
        "Wang Dehou",
        "990107193311039012",
        "退休职工（基建处）",
        "2016年5月6日",
        "cmn+m7",
        30,
    ),
)

CONSENT_TERMS = (
    f"一、本人自愿接受{UNIVERSITY}档案馆口述历史项目组的访谈，访谈内容包括录音、文字整理稿及相关照片。",
    "二、本人同意档案馆将上述材料作为档案永久保存，并用于研究、展览和教育等非营利用途。",
    "三、本授权书含有本人身份信息，作为封闭档案保管，不对外公开。",
    "四、访谈录音的公开利用范围以本人另行签署的开放意见为准。",
)


def make_consent(narrator: Narrator) -> Path:
    """Oral-history consent form for ``narrator`` (a closed record)."""
    name = f"consent-{narrator.number:02d}.jpg"
    page = new_page(name, WHITE_PAPER)
    letterhead(page, f"{UNIVERSITY}档案馆", f"{UNIVERSITY_EN} ARCHIVES · 口述历史项目")
    page.centered("口述历史访谈授权书", 36, gap=6)
    page.centered("Oral History Interview Consent and Release Form", 18, fill=(80, 80, 80), gap=26)
    fields = (
        ("受访人姓名 Narrator", f"{narrator.name}（{narrator.name_en}）"),
        ("身份证号 ID No.", narrator.id_number),
        ("身份 Role", narrator.role),
        ("访谈日期 Date", narrator.interview_date),
        ("录音编号 Recording", f"oh-{narrator.number:02d}"),
    )
    for key, value in fields:
        page.text((page.margin, page.y), key, 19)
        page.text((page.margin + 230, page.y - 2), value, 22, fill=BLUE_INK)
        page.draw.line(
            (page.margin + 225, page.y + 28, page.width - page.margin, page.y + 28),
            fill=INK,
            width=1,
        )
        page.y += 46
    page.skip(16)
    for term in CONSENT_TERMS:
        page.paragraph(term, 19, indent=0, gap=9)
        page.skip(6)
    page.paragraph(
        "I consent to the recording and permanent preservation of this interview by the "
        "Archives. This form contains personal data and is a closed record.",
        16,
        fill=(70, 70, 70),
        indent=0,
        gap=7,
    )
    consent_signatures(page, narrator)
    seal(page, (590, page.y - 40), 70, f"{UNIVERSITY}档案馆", "口述史专用章")
    footer(page, f"CANARY-CONSENT-{narrator.number:04d} · 封闭档案 CLOSED RECORD")
    return write_page(page, name, max_angle=0.4)


def letterhead(page: Page, title: str, subtitle: str, color: Color = RED) -> None:
    """Draw a red letterhead with a double rule."""
    page.centered(title, 34, fill=color, gap=4)
    page.centered(subtitle, 15, fill=color, gap=10)
    page.rule(fill=color, width=3, gap=5)
    page.rule(fill=color, width=1, gap=30)


def consent_signatures(page: Page, narrator: Narrator) -> None:
    """Draw the signature lines, with handwritten name and date."""
    page.skip(40)
    y = page.y
    page.text((page.margin, y), "受访人签名 Signature：", 19)
    handwrite(page, (page.margin + 210, y - 8), narrator.name, 34)
    page.text((page.margin, y + 60), "访谈人 Interviewer：", 19)
    handwrite(page, (page.margin + 210, y + 52), "口述史项目组 周", 26)
    page.text((page.margin, y + 120), "日期 Date：", 19)
    handwrite(page, (page.margin + 210, y + 112), narrator.interview_date, 26)
    page.y = y + 190


def notebook_page(name: str, header: str) -> Page:
    """Return a lined notebook page (blue lines, red margin) with a header."""
    page = new_page(name, AGED_PAPER, stains=2)
    page.margin = 110
    for y in range(130, PAGE_SIZE[1] - 40, 38):
        page.draw.line((0, y, PAGE_SIZE[0], y), fill=(150, 170, 200), width=1)
    page.draw.line((95, 0, 95, PAGE_SIZE[1]), fill=(210, 110, 110), width=2)
    page.text((page.margin, 70), header, 20, fill=(60, 60, 60))
    page.y = 100
    return page


def write_lines(page: Page, lines: list[str], size: int = 24) -> None:
    """Handwrite ``lines`` on successive ruled lines (blank string skips)."""
    for text in lines:
        if text:
            indent = 30 if text.startswith(" ") else 0
            handwrite(page, (page.margin + indent, page.y), text.strip(), size)
        page.y += 38


def make_notes_p1() -> Path:
    """1957 notebook page: transformer basics with a small sketch."""
    name = "notes-p1.jpg"
    page = notebook_page(name, "电机学  课堂笔记       机电系 电57班   第 12 页")
    write_lines(
        page,
        [
            "1957年10月14日   第三章  变压器",
            "一、工作原理 (principle)",
            " 原边绕组接交流电源，铁心中产生交变磁通Φ，",
            " 副边绕组感应电动势。",
            " E₁ = 4.44 f N₁ Φm      E₂ = 4.44 f N₂ Φm",
            " 变比 k = N₁ / N₂ = E₁ / E₂ ≈ U₁ / U₂",
            "",
            "",
            "",
            "",
            "二、空载运行 (no-load)",
            " 空载电流 I0 很小，约为额定电流的 3%~8%。",
            " 铁耗 pFe ≈ 空载损耗 P0",
            "三、例题：f = 50 Hz, N₁ = 600, U₁ = 220 V",
            " Φm = U₁ / (4.44 × 50 × 600) ≈ 0.00165 Wb",
            "四、负载运行：副边电流增大，原边电流随之增大，",
            " 磁动势平衡 N₁I₁ + N₂I₂ = N₁I0",
            "",
            "  ※ 老师说：下周去新实验楼做变压器实验！",
            "     (带计算尺，实验报告周六交)",
        ],
    )
    transformer_sketch(page, (300, 336))
    footer(page, "学生笔记 Student notebook, 1957 (transcribed demo)")
    return write_page(page, name)


def transformer_sketch(page: Page, origin: tuple[int, int]) -> None:
    """Sketch a two-winding transformer core in blue ink."""
    x, y = origin
    d = page.draw
    d.rectangle((x, y, x + 200, y + 130), outline=BLUE_INK, width=3)
    d.rectangle((x + 35, y + 32, x + 165, y + 98), outline=BLUE_INK, width=2)
    for i in range(5):
        d.arc((x - 14, y + 20 + i * 18, x + 14, y + 38 + i * 18), 90, 270, fill=BLUE_INK, width=2)
        d.arc((x + 186, y + 20 + i * 18, x + 214, y + 38 + i * 18), 270, 90, fill=BLUE_INK, width=2)
    d.line((x - 60, y + 20, x - 5, y + 20), fill=BLUE_INK, width=2)
    d.line((x - 60, y + 110, x - 5, y + 110), fill=BLUE_INK, width=2)
    d.line((x + 205, y + 20, x + 260, y + 20), fill=BLUE_INK, width=2)
    d.line((x + 205, y + 110, x + 260, y + 110), fill=BLUE_INK, width=2)
    handwrite(page, (x - 70, y + 50), "U₁", 20)
    handwrite(page, (x + 240, y + 50), "U₂", 20)
    handwrite(page, (x + 85, y + 102), "Φ →", 20)


def make_notes_p2() -> Path:
    """1957 notebook page: induction motor formulas and a T-s curve."""
    name = "notes-p2.jpg"
    page = notebook_page(name, "电机学  课堂笔记       机电系 电57班   第 13 页")
    write_lines(
        page,
        [
            "1957年11月4日   第四章  异步电动机",
            "一、旋转磁场 (rotating field)",
            " 同步转速  n₁ = 60 f / p",
            " 转差率   s = (n₁ − n) / n₁",
            " 例：f = 50 Hz, p = 2  →  n₁ = 1500 r/min",
            "     若 n = 1440 r/min，则 s = 0.04",
            "二、转矩特性 T = f(s)",
            "",
            "",
            "",
            "",
            "",
            " 最大转矩 Tm 对应临界转差率 sm ≈ R₂′ / X₂′",
            " 起动时 s = 1，起动电流大 (约为额定电流 5~7 倍)",
            "三、问题：为什么异步电机不能在 n = n₁ 运行？",
            " 答：转子与磁场无相对运动，无感应电流，无转矩。",
            "",
            "作业：习题 4-3、4-5、4-7 (下周一交)",
            "  (图书馆借《电机学》上册，还书日期 11月20日)",
        ],
    )
    torque_curve(page, (170, 380), h=150)
    footer(page, "学生笔记 Student notebook, 1957 (transcribed demo)")
    return write_page(page, name)


def torque_curve(page: Page, origin: tuple[int, int], w: int = 420, h: int = 170) -> None:
    """Sketch axes and a torque-slip curve."""
    x0, y0 = origin[0], origin[1] + h
    d = page.draw
    d.line((x0, y0, x0 + w, y0), fill=BLUE_INK, width=2)
    d.line((x0, y0, x0, y0 - h), fill=BLUE_INK, width=2)
    points = []
    for i in range(101):
        s = i / 100
        torque = 2 * s * 0.2 / (s * s + 0.2 * 0.2)
        points.append((x0 + s * (w - 20), y0 - torque * (h - 30)))
    d.line(points, fill=BLUE_INK, width=2)
    handwrite(page, (x0 + w - 10, y0 - 12), "s", 20)
    handwrite(page, (x0 - 30, y0 - h - 8), "T", 20)
    handwrite(page, (x0 + 0.2 * (w - 20) - 10, y0 - h + 2), "Tm", 18)


def make_admission() -> Path:
    """1956 admission letter."""
    name = "admission-letter-1956.jpg"
    page = new_page(name, OLD_PAPER, stains=3)
    page.y = 80
    page.centered(" ".join(OLD_UNIVERSITY), 40, fill=RED, gap=8)
    page.centered("录 取 通 知 书", 44, fill=RED, gap=10)
    page.centered("Letter of Admission", 18, fill=(120, 60, 50), gap=20)
    page.rule(fill=RED, width=2, gap=34)
    page.text((page.width - page.margin, page.y - 20), "（56）教字第 0318 号", 17, anchor="ra")
    page.skip(10)
    handwrite(page, (page.margin, page.y), "张明华", 30)
    page.text((page.margin + 100, page.y + 4), "同学：", 24)
    page.skip(56)
    for text in ADMISSION_BODY:
        page.paragraph(text, 22, gap=13)
        page.skip(8)
    page.skip(20)
    page.text((page.width - page.margin - 40, page.y), f"{OLD_UNIVERSITY}教务处", 24, anchor="ra")
    page.text((page.width - page.margin - 40, page.y + 40), "一九五六年八月五日", 22, anchor="ra")
    seal(page, (page.width - page.margin - 120, page.y + 20), 72, f"{OLD_UNIVERSITY}教务处", "")
    page.y += 110
    page.rule(fill=(120, 110, 100), width=1, gap=16)
    page.line("报到须知 Notes:", 18)
    for text in ADMISSION_NOTES:
        page.line(text, 16, indent=20, gap=8)
    footer(page, "Admission letter, Jiaotong University, 1956 · demo facsimile")
    return write_page(page, name)


ADMISSION_BODY = (
    "经全国高等学校招生委员会统一考试录取，你已被录取入本校电机工程系电机制造专业学习。",
    "本校遵照国务院决定自本年起迁往西安新校址。请于一九五六年九月十日前持本通知书及"
    "毕业证书到西安新校址报到。",
    "You have been admitted to the Department of Electrical Engineering. Please report "
    "at the new campus in Xi'an before 10 September 1956.",
)

ADMISSION_NOTES = (
    "1. 上海集中出发的新生，可乘学校包租的专列（八月下旬发车）。",
    "2. 请自带被褥、脸盆及冬衣；西安冬季寒冷。",
    "3. 报到时交验户口迁移证及粮食关系转移证。",
)


def make_prize_p1() -> Path:
    """1985 prize-winning coursework: cover page."""
    name = "prize-assignment-p1.jpg"
    page = new_page(name, AGED_PAPER, stains=1)
    page.y = 110
    page.centered(UNIVERSITY, 30, gap=16)
    page.centered("机械原理课程设计说明书", 38, gap=10)
    page.centered("Course Design Report: Theory of Machines", 18, fill=(80, 80, 80), gap=60)
    for key, value in PRIZE_FIELDS:
        page.text((200, page.y), key, 22)
        handwrite(page, (330, page.y - 4), value, 26)
        page.draw.line((320, page.y + 32, 620, page.y + 32), fill=INK, width=1)
        page.y += 60
    page.skip(30)
    prize_stamp(page, (page.width // 2, page.y + 70))
    page.y += 190
    page.centered("成绩 Grade：优秀     评阅教师：周", 22, gap=12)
    page.centered("一九八五年六月", 22)
    footer(page, "优秀课程设计 Prize-winning coursework, 1985 · demo facsimile")
    return write_page(page, name)


PRIZE_FIELDS = (
    ("题    目", "牛头刨床导杆机构设计"),
    ("专    业", "机械制造"),
    ("班    级", "机械 33 班"),
    ("学    生", "刘卫东"),
    ("指导教师", "周启明"),
)


def prize_stamp(page: Page, center: tuple[int, int]) -> None:
    """Draw a rectangular red prize stamp."""
    cx, cy = center
    d = page.draw
    d.rectangle((cx - 180, cy - 60, cx + 180, cy + 60), outline=RED, width=4)
    d.rectangle((cx - 170, cy - 50, cx + 170, cy + 50), outline=RED, width=1)
    page.text((cx, cy - 22), "优秀课程设计  一等奖", 30, fill=RED, anchor="mm")
    page.text(
        (cx, cy + 22), "Excellent Course Design · 1st Prize · 1985", 15, fill=RED, anchor="mm"
    )


def make_prize_p2() -> Path:
    """1985 prize-winning coursework: mechanism line drawing with title block."""
    name = "prize-assignment-p2.jpg"
    page = new_page(name, AGED_PAPER)
    for x in range(50, PAGE_SIZE[0] - 40, 25):
        page.draw.line((x, 50, x, PAGE_SIZE[1] - 60), fill=(205, 215, 200), width=1)
    for y in range(50, PAGE_SIZE[1] - 50, 25):
        page.draw.line((50, y, PAGE_SIZE[0] - 50, y), fill=(205, 215, 200), width=1)
    page.draw.rectangle((40, 40, PAGE_SIZE[0] - 40, PAGE_SIZE[1] - 60), outline=INK, width=3)
    page.text((70, 70), "图 1  导杆机构运动简图  (μl = 0.005 m/mm)", 22)
    mechanism_drawing(page, (400, 470))
    velocity_polygon(page, (130, 850))
    title_block(page)
    return write_page(page, name)


def mechanism_drawing(page: Page, crank_center: tuple[int, int]) -> None:
    """Draw a crank / slotted-lever / ram mechanism as a line drawing."""
    d = page.draw
    ox, oy = crank_center
    pivot = (ox, oy + 230)
    crank_angle = math.radians(-60)
    a = (ox + 90 * math.cos(crank_angle), oy + 90 * math.sin(crank_angle))
    d.ellipse((ox - 90, oy - 90, ox + 90, oy + 90), outline=(120, 120, 120), width=1)
    d.line((ox, oy, *a), fill=INK, width=4)
    dx, dy = a[0] - pivot[0], a[1] - pivot[1]
    length = math.hypot(dx, dy)
    top = (pivot[0] + dx / length * 420, pivot[1] + dy / length * 420)
    d.line((*pivot, *top), fill=INK, width=4)
    d.rectangle((a[0] - 14, a[1] - 9, a[0] + 14, a[1] + 9), outline=INK, width=2)
    ram_y = top[1]
    d.line((120, ram_y - 14, 680, ram_y - 14), fill=INK, width=2)
    d.line((120, ram_y + 14, 680, ram_y + 14), fill=INK, width=2)
    d.rectangle((top[0] - 80, ram_y - 14, top[0] + 80, ram_y + 14), outline=INK, width=3)
    labels = (
        (crank_center, "O₂", (-44, -12)),
        (pivot, "O₄", (14, -14)),
        (a, "A", (16, -4)),
        (top, "B", (14, 8)),
    )
    for point, label, (dx_label, dy_label) in labels:
        d.ellipse(
            (point[0] - 6, point[1] - 6, point[0] + 6, point[1] + 6),
            fill=AGED_PAPER,
            outline=INK,
            width=2,
        )
        page.text((point[0] + dx_label, point[1] + dy_label), label, 20)
    ground(page, pivot)
    ground(page, crank_center)
    page.text((top[0] + 90, ram_y - 44), "刨头 (ram)", 18)
    page.text((ox + 100, oy - 40), "曲柄 ω₂", 18)


def ground(page: Page, point: tuple[float, float]) -> None:
    """Draw a ground (fixed pivot) symbol under ``point``."""
    x, y = point
    d = page.draw
    d.line((x - 6, y + 6, x - 18, y + 30), fill=INK, width=2)
    d.line((x + 6, y + 6, x + 18, y + 30), fill=INK, width=2)
    d.line((x - 30, y + 30, x + 30, y + 30), fill=INK, width=2)
    for i in range(-30, 30, 10):
        d.line((x + i, y + 30, x + i - 8, y + 40), fill=INK, width=1)


def velocity_polygon(page: Page, origin: tuple[int, int]) -> None:
    """Draw a small velocity polygon with arrows and labels."""
    x, y = origin
    d = page.draw
    page.text((x, y - 40), "图 2  速度多边形 (μv = 0.01 m/s/mm)", 18)
    p, a, b = (x, y + 110), (x + 170, y + 20), (x + 230, y + 120)
    d.line((*p, *a), fill=INK, width=2)
    d.line((*a, *b), fill=INK, width=2, joint="curve")
    d.line((*p, *b), fill=INK, width=2)
    for point, label in ((p, "p"), (a, "a"), (b, "b")):
        page.text((point[0] + 8, point[1] - 24), label, 18)


def title_block(page: Page) -> None:
    """Draw the engineering drawing title block (bottom right)."""
    x0, y0, x1, y1 = 410, PAGE_SIZE[1] - 200, PAGE_SIZE[0] - 40, PAGE_SIZE[1] - 60
    d = page.draw
    d.rectangle((x0, y0, x1, y1), outline=INK, width=3)
    for y in (y0 + 35, y0 + 70, y0 + 105):
        d.line((x0, y, x1, y), fill=INK, width=1)
    d.line((x0 + 110, y0 + 35, x0 + 110, y1), fill=INK, width=1)
    page.text((x0 + 10, y0 + 8), "牛头刨床导杆机构设计", 19)
    rows = (("比例", "1 : 5"), ("图号", "JY-85-02"), ("设计", "刘卫东  1985.6"))
    for i, (key, value) in enumerate(rows):
        page.text((x0 + 10, y0 + 43 + i * 35), key, 17)
        handwrite(page, (x0 + 120, y0 + 40 + i * 35), value, 19, fill=INK)


def make_covid_notice() -> Path:
    """2020 campus epidemic-prevention notice."""
    name = "covid-notice-2020.jpg"
    page = new_page(name, WHITE_PAPER)
    page.y = 70
    page.centered(f"{UNIVERSITY}文件", 50, fill=RED, gap=18)
    page.centered("校防控办〔2020〕3号", 18, gap=10)
    page.rule(fill=RED, width=3, gap=34)
    page.centered("关于做好新冠肺炎疫情防控工作的通知", 28, gap=6)
    page.centered(
        "Notice on COVID-19 Prevention and Control on Campus", 16, fill=(80, 80, 80), gap=24
    )
    page.line("各学院、各部门，全体师生员工：", 20)
    page.paragraph(
        "为切实做好新型冠状病毒感染的肺炎疫情防控工作，保障师生健康安全，现将有关事项通知如下：",
        20,
    )
    for item in COVID_ITEMS:
        page.paragraph(item, 20, gap=10)
    page.paragraph(
        "All students should stay at home, report their health daily online, and follow the "
        "university's instructions before returning to campus.",
        16,
        fill=(70, 70, 70),
        indent=0,
        gap=7,
    )
    page.skip(30)
    right = page.width - page.margin
    page.text((right - 20, page.y), f"{UNIVERSITY}疫情防控工作领导小组办公室", 20, anchor="ra")
    page.text((right - 80, page.y + 36), "2020年1月27日", 20, anchor="ra")
    seal(page, (right - 180, page.y + 10), 74, f"{UNIVERSITY}防控办", "")
    footer(page, "（此件公开发布）Public notice, 27 Jan 2020")
    return write_page(page, name, max_angle=0.3)


COVID_ITEMS = (
    "一、春季学期开学时间推迟，具体返校时间另行通知。学生未经批准不得提前返校。",
    "二、全体师生每日通过“健康打卡”系统报告本人健康状况，如有发热、咳嗽等症状须及时就医并报告。",
    "三、校园实行封闭管理，进出校门须出示校园卡并测量体温。",
    "四、暂停各类大型集体活动，图书馆、体育馆暂停开放。",
    "五、招募学生志愿者，协助校门测温登记和物资配送，报名请联系各学院团委。",
)


def make_volunteer_photo() -> Path:
    """Drawn "photo" of student volunteers at the campus gate, with caption."""
    name = "covid-volunteers-2020.jpg"
    rng = random.Random(seed_for(name))
    photo = Image.new("RGB", (800, 560), (180, 205, 230))
    draw = ImageDraw.Draw(photo)
    sky_and_ground(draw)
    campus_gate(draw)
    for x in (50, 735):
        plane_tree(draw, x, 300)
    draw.rectangle((210, 212, 590, 254), fill=(200, 50, 45))
    draw.text((400, 219), "志愿服务 · 测温登记点", font=font(26), fill=(255, 240, 210), anchor="ma")
    for i, x in enumerate((150, 260, 380, 500, 640)):
        volunteer(draw, x, 300 + rng.randrange(-6, 8), female=i % 2 == 1)
    photo = photo.filter(ImageFilter.GaussianBlur(1.1))
    page = Page(Image.new("RGB", (800, 680), (250, 250, 247)), rng)
    page.img.paste(photo, (0, 0))
    page.y = 578
    page.margin = 24
    page.line("2020年2月，学生志愿者在校门口协助测温登记（示意图）", 22, gap=8)
    page.line(
        "Student volunteers help with temperature checks at the campus gate, "
        "Feb 2020 (illustration)",
        15,
    )
    page.text((776, 658), FICTION_NOTE, 12, fill=(120, 120, 120), anchor="rs")
    return save_jpeg(finish_scan(page.img, rng, max_angle=0.0), name)


def sky_and_ground(draw: ImageDraw.ImageDraw) -> None:
    """Paint a sky gradient and the paved ground."""
    for y in range(0, 330):
        shade = int(y * 0.12)
        draw.line((0, y, 800, y), fill=(170 + shade, 198 + shade // 2, 228))
    draw.rectangle((0, 330, 800, 560), fill=(165, 160, 150))
    for x in range(-400, 800, 80):
        draw.line((x, 560, x + 400, 330), fill=(150, 145, 138), width=2)


def campus_gate(draw: ImageDraw.ImageDraw) -> None:
    """Draw a simple campus gate building in the background."""
    draw.rectangle((120, 120, 680, 330), fill=(205, 195, 180))
    draw.rectangle((330, 200, 470, 330), fill=(120, 110, 100))
    draw.polygon(((100, 120), (400, 60), (700, 120)), fill=(110, 95, 85))
    for x in range(150, 660, 60):
        if not 320 < x < 470:
            draw.rectangle((x, 160, x + 30, 200), fill=(150, 170, 190))
    draw.text((400, 128), " ".join(UNIVERSITY), font=font(28), fill=(170, 40, 35), anchor="ma")


def plane_tree(draw: ImageDraw.ImageDraw, x: int, base: int) -> None:
    """Draw a plane tree (梧桐) with a mottled trunk."""
    draw.rectangle((x - 12, base - 120, x + 12, base + 40), fill=(140, 130, 110))
    draw.ellipse((x - 80, base - 260, x + 80, base - 90), fill=(80, 130, 70))
    draw.ellipse((x - 55, base - 230, x + 20, base - 160), fill=(100, 150, 80))


def volunteer(draw: ImageDraw.ImageDraw, x: int, y: int, female: bool) -> None:
    """Draw one volunteer: head, mask, red vest, dark trousers."""
    skin, hair = (235, 200, 170), (30, 25, 25)
    draw.rectangle((x - 22, y + 150, x - 4, y + 240), fill=(40, 45, 60))
    draw.rectangle((x + 4, y + 150, x + 22, y + 240), fill=(40, 45, 60))
    draw.rounded_rectangle((x - 34, y + 45, x + 34, y + 160), radius=14, fill=(215, 45, 40))
    draw.text((x, y + 80), "志愿者", font=font(16), fill=(255, 235, 120), anchor="ma")
    draw.ellipse((x - 24, y - 5, x + 24, y + 45), fill=skin)
    draw.chord((x - 26, y - 8, x + 26, y + 40), 180, 360, fill=hair)
    if female:
        draw.rectangle((x - 26, y + 10, x - 18, y + 48), fill=hair)
        draw.rectangle((x + 18, y + 10, x + 26, y + 48), fill=hair)
    draw.rounded_rectangle((x - 16, y + 22, x + 16, y + 40), radius=4, fill=(170, 210, 235))


@dataclass(frozen=True)
class Student:
    """A fictional student whose transcript is personal data."""

    number: str
    name: str
    name_en: str
    major: str
    scores: tuple[int, ...]


TRANSCRIPT_COURSES = (
    ("高等数学 Calculus I", 5.0, "2019秋"),
    ("线性代数 Linear Algebra", 3.0, "2019秋"),
    ("大学英语 College English I", 2.0, "2019秋"),
    ("工程制图 Engineering Drawing", 3.0, "2019秋"),
    ("程序设计基础 Programming", 3.0, "2019秋"),
    ("高等数学 Calculus II", 5.0, "2020春"),
    ("大学物理 Physics I", 4.0, "2020春"),
    ("电路 Circuit Theory", 4.0, "2020春"),
    ("中国近现代史纲要 Modern Chinese History", 3.0, "2020春"),
    ("体育 Physical Education", 1.0, "2020春"),
    ("模拟电子技术 Analog Electronics", 4.0, "2020秋"),
    ("概率论 Probability", 3.0, "2020秋"),
)

STUDENTS = (
    Student(
        "CANARY-STU-2019001",
        "赵思远",
        "Zhao Siyuan",
        "电气工程及其自动化",
        (92, 88, 85, 90, 95, 87, 83, 91, 86, 80, 89, 93),
    ),
    Student(
        "CANARY-STU-2019002",
        "李若溪",
        "Li Ruoxi",
        "能源与动力工程",
        (85, 79, 93, 88, 82, 90, 86, 78, 91, 85, 84, 88),
    ),
)


def make_transcript(student: Student) -> Path:
    """Academic transcript of ``student`` (personal data)."""
    name = f"transcript-{student.number.rsplit('-', 1)[1]}.jpg"
    page = new_page(name, WHITE_PAPER)
    page.margin = 60
    page.y = 60
    page.centered(f"{UNIVERSITY}本科生成绩单", 34, gap=4)
    page.centered(
        f"{UNIVERSITY_EN} · UNDERGRADUATE ACADEMIC TRANSCRIPT", 16, fill=(70, 70, 70), gap=24
    )
    transcript_identity(page, student)
    transcript_table(page, student)
    credits = sum(c for _, c, _ in TRANSCRIPT_COURSES)
    weighted = sum(c * s for (_, c, _), s in zip(TRANSCRIPT_COURSES, student.scores, strict=True))
    page.skip(16)
    page.line(
        f"已修学分 Credits earned: {credits:g}    "
        f"加权平均分 Weighted average: {weighted / credits:.2f}",
        19,
    )
    page.line(
        "打印日期 Printed: 2021年7月12日    教务处 Office of Academic Affairs",
        17,
        fill=(70, 70, 70),
    )
    seal(page, (page.width - 170, page.y + 75), 70, f"{UNIVERSITY}教务处", "成绩专用章")
    footer(page, "个人信息 · 限制利用  Personal data – restricted access", fill=(150, 40, 40))
    return write_page(page, name, max_angle=0.3)


def transcript_identity(page: Page, student: Student) -> None:
    """Print the student's identity block with the student number prominent."""
    page.text((page.margin, page.y), f"姓名 Name：{student.name}（{student.name_en}）", 21)
    page.text((page.margin + 380, page.y), "入学 Enrolled：2019年9月", 19)
    page.y += 38
    page.text((page.margin, page.y), "学号 Student No.：", 21)
    page.text((page.margin + 185, page.y - 4), student.number, 28)
    page.y += 44
    page.text((page.margin, page.y), f"专业 Major：{student.major}", 19)
    page.text((page.margin + 380, page.y), "学制 Duration：4年", 19)
    page.y += 40


def transcript_table(page: Page, student: Student) -> None:
    """Draw the grid of courses, credits, scores and terms."""
    left, right = page.margin, page.width - page.margin
    cols = (left, left + 340, left + 460, left + 570, right)
    heads = ("课程 Course", "学分 Credits", "成绩 Score", "学期 Term")
    row_h = 40
    page.draw.rectangle((left, page.y, right, page.y + row_h), fill=(225, 225, 220))
    rows = [heads] + [
        (course, f"{credit:g}", str(score), term)
        for (course, credit, term), score in zip(TRANSCRIPT_COURSES, student.scores, strict=True)
    ]
    for i, row in enumerate(rows):
        y = page.y + i * row_h
        for j, cell in enumerate(row):
            page.text((cols[j] + 8, y + 10), cell, 16 if j == 0 else 18)
        page.draw.line((left, y, right, y), fill=INK, width=1)
    bottom = page.y + len(rows) * row_h
    page.draw.line((left, bottom, right, bottom), fill=INK, width=2)
    for x in cols:
        page.draw.line((x, page.y, x, bottom), fill=INK, width=1)
    page.y = bottom


# --------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cue:
    """One spoken sentence: its Chinese and English text and the spoken language."""

    zh: str
    en: str
    spoken: str = "zh"  # which of the two texts is actually spoken

    @property
    def text(self) -> str:
        """Return the text that is synthesised."""
        return self.en if self.spoken == "en" else self.zh


@dataclass(frozen=True)
class Interview:
    """A fictional oral-history interview excerpt."""

    narrator: Narrator
    cues: tuple[Cue, ...]
    toc: tuple[tuple[int, str, str], ...]  # (first cue index, title_zh, title_en)


INTERVIEWS = (
    Interview(
        NARRATORS[0],
        (
            Cue(
                "一九五六年夏天，我们坐专列离开上海。",
                "In the summer of 1956 we left Shanghai on a special train.",
            ),
            Cue(
                "火车走了两天两夜，一路唱歌。",
                "The train ran for two days and two nights; we sang all the way.",
            ),
            Cue(
                "第一个冬天很冷，宿舍只有煤炉。",
                "The first winter was very cold; the dormitory had only a coal stove.",
            ),
            Cue(
                "我们那时年轻，相信西迁是对的。",
                "We were young, and we believed in the move.",
                spoken="en",
            ),
            Cue("西安成了我的第二故乡。", "Xi'an became my second home."),
        ),
        (
            (0, "西迁的列车", "The train journey west"),
            (2, "西安的第一个冬天", "The first winter in Xi'an"),
        ),
    ),
    Interview(
        NARRATORS[1],
        (
            Cue("我是一九五七年入学的。", "I enrolled in 1957."),
            Cue(
                "我们在新盖的教学楼上课，教室很亮。",
                "We had classes in the new teaching buildings; the classrooms were bright.",
            ),
            Cue(
                "晚上大家都去图书馆抢座位。",
                "In the evenings everyone rushed to the library to get a seat.",
            ),
            Cue("图书馆是我最喜欢的地方。", "The library was my favourite place.", spoken="en"),
            Cue("很多书是从上海运来的。", "Many of the books had been shipped from Shanghai."),
        ),
        (
            (0, "入学与新教学楼", "Enrolment and the new buildings"),
            (2, "在图书馆学习", "Studying in the library"),
        ),
    ),
    Interview(
        NARRATORS[2],
        (
            Cue(
                "我在基建处，参加了新校园的建设。",
                "I was in the construction office and helped build the new campus.",
            ),
            Cue(
                "那时候到处是麦田，我们先修路，再盖楼。",
                "Back then there were wheat fields everywhere; "
                "we built roads first, then buildings.",
            ),
            Cue(
                "我们在路两边种下了梧桐树。",
                "We planted plane trees along both sides of the roads.",
            ),
            Cue(
                "现在梧桐树比楼还高了。",
                "Now the plane trees are taller than the buildings.",
                spoken="en",
            ),
        ),
        (
            (0, "建设新校园", "Building the campus"),
            (1, "修路盖楼", "Roads first, then buildings"),
            (2, "种下梧桐", "Planting the plane trees"),
        ),
    ),
)
LEAD_IN = 0.4  # seconds of silence before the first sentence
PAUSE = 0.6  # seconds of silence between sentences
TAIL = 0.6  # seconds of silence after the last sentence
SPEECH_RATE = 185
OPUS_BITRATE = "20k"


def require(tool: str, package: str) -> str:
    """Return the path of command ``tool`` or exit with an install hint."""
    found = shutil.which(tool)
    if not found:
        raise SystemExit(f"{tool} not found: apt-get install {package}")
    return found


def synthesize(
    text: str, voice: str, pitch: int, english: bool, workdir: Path
) -> tuple[bytes, int]:
    """Speak ``text`` with espeak-ng; return (16-bit mono PCM, sample rate)."""
    espeak = require("espeak-ng", "espeak-ng")
    variant = voice.split("+", 1)[1]
    lang_voice = f"en+{variant}" if english else voice
    wav_path = workdir / "sentence.wav"
    subprocess.run(
        [
            espeak,
            "-v",
            lang_voice,
            "-s",
            str(SPEECH_RATE),
            "-p",
            str(pitch),
            "-w",
            str(wav_path),
            text,
        ],
        check=True,
    )
    with wave.open(str(wav_path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise SystemExit("unexpected espeak-ng output format")
        return wav.readframes(wav.getnframes()), wav.getframerate()


def silence(seconds: float, rate: int) -> bytes:
    """Return ``seconds`` of 16-bit mono silence."""
    return b"\x00\x00" * round(seconds * rate)


def trim_silence(frames: bytes, threshold: int = 200) -> bytes:
    """Strip leading and trailing near-silence from 16-bit mono PCM."""
    samples = array("h", frames)
    if sys.byteorder == "big":
        samples.byteswap()
    loud = [i for i, v in enumerate(samples) if abs(v) > threshold]
    if not loud:
        return frames
    return frames[loud[0] * 2 : (loud[-1] + 1) * 2]


def build_speech(
    interview: Interview, workdir: Path
) -> tuple[bytes, int, list[tuple[float, float]]]:
    """Concatenate the synthesised sentences with pauses; return PCM, rate, cue times."""
    pcm = io.BytesIO()
    times: list[tuple[float, float]] = []
    rate = 0
    narrator = interview.narrator
    for i, cue in enumerate(interview.cues):
        english = cue.spoken == "en"
        frames, rate = synthesize(cue.text, narrator.voice, narrator.pitch, english, workdir)
        pcm.write(silence(LEAD_IN if i == 0 else PAUSE, rate))
        start = pcm.tell() / 2 / rate
        pcm.write(trim_silence(frames))
        times.append((start, pcm.tell() / 2 / rate))
    pcm.write(silence(TAIL, rate))
    return pcm.getvalue(), rate, times


def encode_opus(pcm: bytes, rate: int, target: Path, workdir: Path) -> None:
    """Encode mono PCM to Ogg Opus at 16 kHz with ffmpeg (bit-exact)."""
    ffmpeg = require("ffmpeg", "ffmpeg")
    wav_path = workdir / "interview.wav"
    with wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(wav_path),
            "-ac",
            "1",
            "-ar",
            "16000",
            "-c:a",
            "libopus",
            "-b:a",
            OPUS_BITRATE,
            "-application",
            "voip",
            "-map_metadata",
            "-1",
            "-fflags",
            "+bitexact",
            "-flags:a",
            "+bitexact",
            str(target),
        ],
        check=True,
    )


def probe_duration(path: Path) -> float:
    """Return the duration of a media file in seconds, measured by ffprobe."""
    ffprobe = require("ffprobe", "ffmpeg")
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return round(float(out.strip()), 3)


def vtt_time(seconds: float) -> str:
    """Format seconds as a WebVTT timestamp (HH:MM:SS.mmm)."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def write_vtt(path: Path, cues: list[tuple[float, float, str]]) -> None:
    """Write a WebVTT file with numbered cues."""
    blocks = ["WEBVTT", ""]
    for i, (start, end, text) in enumerate(cues, 1):
        blocks += [str(i), f"{vtt_time(start)} --> {vtt_time(end)}", text, ""]
    path.write_text("\n".join(blocks), encoding="utf-8")


def toc_segments(
    interview: Interview, times: list[tuple[float, float]], duration: float
) -> list[dict[str, object]]:
    """Return the table-of-contents segments of an interview."""
    segments: list[dict[str, object]] = []
    starts = [first for first, _, _ in interview.toc] + [len(interview.cues)]
    for (first, title_zh, title_en), nxt in zip(interview.toc, starts[1:], strict=True):
        start = 0.0 if first == 0 else round(times[first][0] - PAUSE / 2, 3)
        end = duration if nxt == len(interview.cues) else round(times[nxt][0] - PAUSE / 2, 3)
        segments.append({"start": start, "end": end, "title_zh": title_zh, "title_en": title_en})
    return segments


def make_interview(interview: Interview) -> list[Path]:
    """Synthesise one interview; write its audio, two VTT files and JSON."""
    stem = f"oh-{interview.narrator.number:02d}"
    audio = OUT_DIR / f"{stem}.ogg"
    with tempfile.TemporaryDirectory() as tmp:
        pcm, rate, times = build_speech(interview, Path(tmp))
        encode_opus(pcm, rate, audio, Path(tmp))
    duration = probe_duration(audio)
    if not 15 <= duration <= 25:
        raise SystemExit(f"{audio.name} lasts {duration}s, outside 15-25 s")
    paths = [audio]
    for lang in ("zh", "en"):
        vtt = OUT_DIR / f"{stem}.{lang}.vtt"
        write_vtt(
            vtt,
            [
                (s, e, c.zh if lang == "zh" else c.en)
                for (s, e), c in zip(times, interview.cues, strict=True)
            ],
        )
        paths.append(vtt)
    toc = {"duration": duration, "segments": toc_segments(interview, times, duration)}
    toc_path = OUT_DIR / f"{stem}.json"
    toc_path.write_text(json.dumps(toc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths.append(toc_path)
    return paths


# --------------------------------------------------------------------------
# Manifest, README, main
# --------------------------------------------------------------------------

MIME_TYPES = {
    ".jpg": "image/jpeg",
    ".ogg": "audio/ogg",
    ".vtt": "text/vtt",
    ".json": "application/json",
    ".md": "text/markdown",
}

README_TEXT = (
    "# Lantai demo media\n\n"
    "All files here are fictional: the documents, names, ID-like numbers, student numbers and "
    "interviews were invented and generated by `scripts/make_demo_media.py` "
    "(font WenQuanYi Micro Hei, speech espeak-ng, encoding ffmpeg).\n"
    "No real person's data is included. `CANARY-*` strings mark closed or personal records "
    "(consent forms, transcripts) that must never be published.\n"
    "Licence: CC0 1.0 (public domain dedication). Regenerate with "
    "`python scripts/make_demo_media.py`; "
    "`MANIFEST.json` lists each file's sha256, size and type.\n"
)


def manifest_entry(path: Path) -> dict[str, object]:
    """Return the manifest record (hash, size, type, dimensions) of ``path``."""
    data = path.read_bytes()
    entry: dict[str, object] = {
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "mime": MIME_TYPES[path.suffix],
    }
    if path.suffix == ".jpg":
        with Image.open(path) as img:
            entry["width"], entry["height"] = img.size
    elif path.suffix == ".ogg":
        entry["duration"] = probe_duration(path)
    return entry


def write_manifest(paths: list[Path]) -> Path:
    """Write MANIFEST.json for ``paths`` and check the total size budget."""
    entries = [manifest_entry(p) for p in sorted(paths, key=lambda p: p.name)]
    total = sum(p.stat().st_size for p in paths)
    if total >= MAX_TOTAL_BYTES:
        raise SystemExit(f"generated media total {total} bytes, over {MAX_TOTAL_BYTES}")
    target = OUT_DIR / "MANIFEST.json"
    target.write_text(json.dumps(entries, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return target


def make_images() -> list[Path]:
    """Generate all page scans and the photo."""
    paths = [
        make_telegram(),
        *(make_consent(n) for n in NARRATORS),
        make_notes_p1(),
        make_notes_p2(),
        make_admission(),
        make_prize_p1(),
        make_prize_p2(),
        make_covid_notice(),
        make_volunteer_photo(),
        *(make_transcript(s) for s in STUDENTS),
    ]
    return paths


def main() -> None:
    """Generate every demo media file into ``repo/demo/media/``."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    paths = make_images()
    for interview in INTERVIEWS:
        paths += make_interview(interview)
    readme = OUT_DIR / "README.md"
    readme.write_text(README_TEXT, encoding="utf-8")
    paths.append(readme)
    manifest = write_manifest(paths)
    total = sum(p.stat().st_size for p in [*paths, manifest])
    print(f"wrote {len(paths) + 1} files to {OUT_DIR} ({total} bytes)")


if __name__ == "__main__":
    main()
