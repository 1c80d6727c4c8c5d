"""OCR throughput: pages per minute on this machine, against the goal of 15 (issue 5, item 8).

    python -m bench.ocr [--pages 8] [--workers 1 --workers 2] [--dpi 200] [--out DIR]

The page is what the archive digitises: an A4 sheet scanned at 200 dpi (1654 × 2339 px,
RGB JPEG), here drawn with a CJK font — a title, 24 lines of Chinese body text mixed with
numbers, and 6 lines of English — so that the recognised text can be checked against what
was drawn. Each page differs (its lines are shuffled and numbered), so nothing is cached.

For each ``--workers`` value the pages go through :func:`iiif.ocr.ocr_many` — the code the
ingest uses — into a fresh site folder: 1 worker = this process with onnxruntime's default
threads (every core); N workers = N spawned processes with one onnxruntime thread each.
Wall time includes starting the workers and loading the models (what an ingest pays).
Reported: pages per minute (goal ≥ 15), seconds per page, CPU seconds per page (this
process and the workers; on a shared machine wall time depends on the others' load, CPU
time much less) and the pages per minute that CPU time allows on every core, and the share
of drawn lines found exactly and the character accuracy (1 − edit distance / length).
Results go to ``bench/out/ocr-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from iiif import ocr  # noqa: E402
from repo.files import FileStore  # noqa: E402

GOAL_PAGES_PER_MINUTE = 15
FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
         "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CHINESE = (
    "一九五六年夏天，交通大学主体由上海迁往西安",
    "学校遵照国务院决定，于八月下旬包租专列发车",
    "新生报到须持录取通知书及户口迁移证、粮食关系转移证",
    "电机工程系电机制造专业共招收新生一百二十名",
    "基建处先修道路，再建教学楼、图书馆与学生宿舍",
    "第一个冬天宿舍只有煤炉，师生自己动手生火取暖",
    "图书馆藏书多由上海运来，晚上座位常常不够用",
    "路两边种下了梧桐树，如今树已比楼还高",
    "课堂笔记：变压器的工作原理与空载运行",
    "例题：f = 50 Hz，N1 = 600，U1 = 220 V",
    "口述历史访谈共三段，录音与文字稿均已整理",
    "档案馆对学生成绩单实行限制利用，仅本人可申请",
)
ENGLISH = (
    "Jiaotong University moved from Shanghai to Xi'an in 1956.",
    "Freshmen reported at the new campus before 10 September.",
    "The library was the favourite place of many students.",
    "Oral history interviews were recorded in April 2016.",
    "Transcripts are personal data with restricted access.",
    "Scanned at 200 dpi for the digital archive of the university.",
)


def font(size: int) -> ImageFont.FreeTypeFont:
    for path in FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    raise SystemExit("no CJK font: apt-get install fonts-wqy-microhei")


def render_page(path: Path, number: int, dpi: int) -> list[str]:
    """Draw page ``number`` (A4 at ``dpi``) to ``path`` (JPEG); return its lines of text."""
    width, height = round(8.27 * dpi), round(11.69 * dpi)
    scale = dpi / 200
    rng = random.Random(number)
    img = Image.new("RGB", (width, height), (246, 243, 233))
    draw = ImageDraw.Draw(img)
    lines = [f"西安交通大学档案馆 第{number}页"]
    draw.text((round(300 * scale), round(150 * scale)), lines[0], font=font(round(56 * scale)),
              fill=(30, 30, 30))
    body = [rng.choice(CHINESE) for _ in range(24)] + list(ENGLISH)
    rng.shuffle(body)
    y = round(300 * scale)
    small = font(round(38 * scale))
    for text in body:
        draw.text((round(150 * scale), y), text, font=small, fill=(25, 25, 25))
        lines.append(text)
        y += round(62 * scale)
    img.save(path, quality=85)
    return lines


def distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def accuracy(drawn: list[str], found: list[str]) -> tuple[float, float]:
    """(share of drawn lines found exactly, character accuracy), spaces ignored."""
    found_n = [f.replace(" ", "") for f in found]
    exact = chars = errors = 0
    for line in drawn:
        want = line.replace(" ", "")
        best = min(found_n, key=lambda f: distance(want, f), default="")
        d = distance(want, best)
        exact += d == 0
        chars += len(want)
        errors += min(d, len(want))
    return exact / max(1, len(drawn)), 1 - errors / max(1, chars)


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run(pages: int, workers: int, dpi: int, work: Path) -> dict:
    """OCR ``pages`` rendered pages with ``workers``; timings and accuracy."""
    home = work / f"home-{workers}"
    shutil.rmtree(home, ignore_errors=True)
    files = FileStore(home)  # a scratch folder, not a site: nothing sealed
    drawn: dict[str, list[str]] = {}
    for n in range(pages):
        path = work / f"page-{n}.jpg"
        lines = render_page(path, n + 1 + 1000 * workers, dpi)
        drawn[files.put(path)] = lines
    cpu0 = _cpu()
    start = time.perf_counter()
    errors = ocr.ocr_many(home, drawn, workers=workers)
    wall = time.perf_counter() - start
    cpu = _cpu() - cpu0
    if errors:
        raise SystemExit(f"OCR failed: {errors}")
    exact, chars = [], []
    for digest, lines in drawn.items():
        e, c = accuracy(lines, [line.text for line in ocr.cached_ocr(home, digest)])
        exact.append(e)
        chars.append(c)
    return {"workers": workers, "pages": pages, "seconds": round(wall, 2),
            "pages_per_minute": round(pages / wall * 60, 1),
            "seconds_per_page": round(wall / pages, 2),
            "cpu_seconds_per_page": round(cpu / pages, 2),
            # what the CPU time allows on every core of an idle machine
            "pages_per_minute_idle": round(60 * (os.cpu_count() or 1) / (cpu / pages), 1),
            "lines_exact": round(sum(exact) / len(exact), 3),
            "char_accuracy": round(sum(chars) / len(chars), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ocr", description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--workers", type=int, action="append")
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args(argv)
    workers = args.workers or [1, 2]
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        for w in workers:
            results.append(run(args.pages, w, args.dpi, Path(tmp)))
            r = results[-1]
            print(f"workers={w}: {r['pages']} pages in {r['seconds']} s", flush=True)
    print()
    print(f"A4 at {args.dpi} dpi, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}; goal ≥ {GOAL_PAGES_PER_MINUTE} pages/minute")
    print(f"{'workers':>7} {'pages/min':>9} {'s/page':>7} {'goal':>5} {'CPU s/page':>10} "
          f"{'idle pages/min':>14} {'lines exact':>11} {'char acc.':>9}")
    for r in results:
        ok = "met" if r["pages_per_minute"] >= GOAL_PAGES_PER_MINUTE else "NOT"
        print(f"{r['workers']:>7} {r['pages_per_minute']:>9} {r['seconds_per_page']:>7} "
              f"{ok:>5} {r['cpu_seconds_per_page']:>10} {r['pages_per_minute_idle']:>14} "
              f"{r['lines_exact']:>11.1%} {r['char_accuracy']:>9.2%}")
    print("(idle pages/min: what the CPU time per page allows with every core free;"
          " the 1-worker row uses onnxruntime's own threads)")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    report = {"goal_pages_per_minute": GOAL_PAGES_PER_MINUTE, "dpi": args.dpi,
              "engine": ocr.engine_name(), "cpus": os.cpu_count(),
              "loadavg": os.getloadavg(), "results": results}
    (args.out / f"ocr-{stamp}.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
