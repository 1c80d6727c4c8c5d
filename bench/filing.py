"""Benchmarks of the filing loop (issue 13), one function per figure.

    python -m bench.filing [--only intake] [--repeat 3] [--rows 5000] [--out DIR]

Each part adds its benchmark to :data:`BENCHES` (a function taking the parsed arguments and
returning rows of figures); ``--only NAME`` (repeatable) runs some of them, the default all.
Every row prints the median beside the issue's goal and the ratio (figure ÷ goal; ≤ 1 meets
it); the rows go to ``bench/out/filing-<time>.json`` with the machine and commit.

Goals (issue 13, "Performance"): a 5,000-row spreadsheet submission with files checked
≤ 30 s; the dashboard for 200 units × 13 categories × 10 years p50 ≤ 200 ms.

- ``intake``: a fresh site (a unit, its officer, a teacher, a teaching task) and an XLSX of
  ``--rows`` items (default 5,000) naming one file each: half real PDFs (fpdf2, one page
  with the item's title), half real JPEGs (Pillow, 64 × 48), every file distinct. The
  files and the workbook are made once and cached under ``bench/out/cache/`` (making them
  takes longer than filing them). Half the rows name the teacher by path, half by name
  (李明: matched among the agents). The workbook declares its size (``<dimension>``), as
  Excel and WPS write it: openpyxl in read-only mode parses a sheet that does not twice.
  Timed: ``intake.read_upload`` as the officer — the workbook read, every row checked
  (required metadata, the profile's validation, the file's real type by puremagic), every
  file hashed and copied into the receiving area, the submission stored — ``--repeat``
  times (default 3), each into an empty filing store (the receiving area keeps one copy of
  equal bytes: a second run would copy nothing). Every run is checked: all rows ok, every
  file in the receiving area. The note gives each run's wall time and this process's CPU
  time (on a machine shared by other jobs the wall time grows with the load, the CPU time
  much less).
- ``dashboard``: a fresh site whose filing store holds ``--units`` units (default 200) ×
  13 categories × ``--years`` years (default 10) of tasks (one per unit, category and year,
  expected 4–16 items, a special topic over a tenth of them, due dates through the year)
  and their submissions: per task one or two submissions of 0–18 items in every state
  (about 80 % accepted, a tenth of those after a return, returned, received, withdrawn),
  with the history steps the store writes (submitted, accepted, returned, resubmitted,
  withdrawn) — about 250,000 items and 450,000 steps over the ten years. The rows are
  written with the store's own schema in one transaction (what ``add_submission``,
  ``decide`` and ``resubmit`` write, without their per-item transactions: the benchmark
  times reading, not loading). An Editor signs in; ``/staff/filing/?year=Y`` is fetched
  through Flask's test client (the whole page: the figures' queries, rendering, the staff
  guard) ``--page-repeat`` times (default 20) for the busiest year and for a year chosen
  at random each time (the figures are cached while the store is unchanged), and again
  with the cache emptied
  before each fetch, as after any change to the store; then ``rates.table`` alone,
  uncached; with ``--reports`` the year-end report as XLSX and PDF (no goal).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import commit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "out"
CACHE = DEFAULT_OUT / "cache"
BASE = "https://archive.example.edu"
CATEGORIES = ("DQ", "XZ", "XS", "JX", "KY", "JJ", "SB", "CP", "CB", "WS", "CK", "SX", "SW")


@dataclass
class Row:
    """One figure: the median of ``samples`` in milliseconds, beside its goal."""

    bench: str
    what: str
    median_ms: float
    goal_ms: float | None
    samples: int
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.median_ms / self.goal_ms if self.goal_ms else None


def _median_ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 1)


def _row(bench: str, what: str, times: list[float], goal_ms: float | None,
         note: str = "") -> Row:
    """The median beside the goal; the 95th percentile in the note."""
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return Row(bench, what, _median_ms(times), goal_ms, len(times),
               f"p95 {p95 * 1000:.1f} ms" + (f"; {note}" if note else ""))


def _timed(call: Callable[[], object], repeat: int) -> list[float]:
    call()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return times


# ---------------------------------------------------------------------- dashboard
def _fill_filing(home: Path, n_units: int, years: range, seed: int = 13) -> dict[str, int]:
    """The store of the docstring; returns what was written."""
    from services.filing.model import Task, Topic, Unit
    from services.filing.store import FilingStore, new_submission_id

    rnd = random.Random(seed)
    store = FilingStore.open(home)
    for n in range(n_units):
        store.add_unit(Unit(agent=f"{BASE}/id/corporatebody/unit-{n:03d}",
                            code=f"u{n:03d}", name_zh=f"第{n}学院",
                            name_en=f"School number {n}"))
    tasks = []
    for year in years:
        store.add_topic(Topic(id=f"{year}-excellent-engineers", year=year,
                              name_zh="卓越工程师计划", name_en="Excellent Engineers"))
        for n in range(n_units):
            for c, category in enumerate(CATEGORIES):
                tasks.append(Task(
                    id=0, year=year, unit=f"u{n:03d}", category=category,
                    series=f"/xjtu/{category.lower()}", retention="Y",
                    title_zh=f"{year}年{category}类归档", title_en=f"{category} files {year}",
                    expected=rnd.randint(4, 16), due=f"{year}-{(c % 12) + 1:02d}-28",
                    topic=f"{year}-excellent-engineers" if rnd.random() < 0.1 else ""))
    ids = store.add_tasks(tasks)
    subs, items, steps = [], [], []
    item_id = 0
    for task_id, task in zip(ids, tasks, strict=True):
        for _s in range(rnd.choice((1, 1, 2))):
            sub = new_submission_id(task.year)
            month = rnd.randint(1, 11)
            created = f"{task.year}-{month:02d}-{rnd.randint(1, 28):02d}T08:00:00Z"
            subs.append((sub, task.year, task.unit, task_id, "spreadsheet", "items.xlsx",
                         created, "officer"))
            count = rnd.randint(0, 18) // (2 if _s else 1) or 1
            steps.append((sub, None, created, "officer", "submitted", f"{count} item(s)"))
            for row in range(1, count + 1):
                item_id += 1
                fate = rnd.random()
                later = f"{task.year}-{min(12, month + 1):02d}-{rnd.randint(1, 28):02d}" \
                        "T09:00:00Z"
                returned = 0.72 <= fate < 0.80 or 0.80 <= fate < 0.88
                state = ("accepted" if fate < 0.80 else "returned" if fate < 0.88
                         else "received" if fate < 0.96 else "withdrawn")
                if returned:
                    steps.append((sub, item_id, later, "editor", "returned", "缺少责任者"))
                if 0.72 <= fate < 0.80:
                    steps.append((sub, item_id, later, "officer", "resubmitted", ""))
                if state in ("accepted", "withdrawn"):
                    steps.append((sub, item_id, later, "editor" if state == "accepted"
                                  else "officer", state, ""))
                fields = json.dumps({"title@zh": [f"{task.title_zh} 第{row}件"],
                                     "date": [created[:10]]}, ensure_ascii=False)
                items.append((item_id, sub, row, fields, "[]", state,
                              "缺少责任者" if state == "returned" else "",
                              2 if 0.72 <= fate < 0.80 else 1, int(returned),
                              f"{BASE}/id/item/{item_id}" if state == "accepted" else "",
                              f"0421-{task.category}·{task.year}-Y-{row:04d}"
                              if state == "accepted" else ""))
    db = sqlite3.connect(store.path)
    try:
        with db:
            db.executemany("INSERT INTO submission VALUES (?, ?, ?, ?, ?, ?, ?, ?)", subs)
            db.executemany("INSERT INTO item (id, submission, row, fields, files, state, note, "
                           "attempts, returned_ever, record, refcode) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", items)
            db.executemany("INSERT INTO step (submission, item, at, actor, action, note) "
                           "VALUES (?, ?, ?, ?, ?, ?)", steps)
        db.execute("ANALYZE")
    finally:
        db.close()
    store.close()
    return {"units": n_units, "tasks": len(tasks), "submissions": len(subs),
            "items": len(items), "steps": len(steps)}


def bench_dashboard(args: argparse.Namespace) -> list[Row]:
    from publisher.app import create_app
    from repo.repository import Repository
    from services.filing import rates, report
    from services.filing.store import FilingStore

    rows: list[Row] = []
    years = range(2017, 2017 + args.years)
    with tempfile.TemporaryDirectory(prefix="bench-filing-") as tmp:
        home = Path(tmp) / "site"
        repo, _token = Repository.init(home, BASE)
        try:
            admin = repo.user("admin")
            repo.add_user(admin, "director", roles=["Editor"], fullname="Bench director")
            repo.set_password(admin, "director", "bench-password-1")
        finally:
            repo.close()
        t0 = time.perf_counter()
        made = _fill_filing(home, args.units, years)
        print(f"dashboard: {made} written in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        size = sum(p.stat().st_size for p in (home / "filing").glob("filing.sqlite3*"))
        scale = (f"{made['units']} units × {len(CATEGORIES)} categories × {args.years} years, "
                 f"{made['items']:,} items, {size / 2**20:.0f} MB")
        app = create_app(home)
        client = app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh"
        _sign_in(client, "director", "bench-password-1")
        busiest = years[-1]
        rnd = random.Random(7)

        def page(year: int | None = None) -> None:
            y = year if year is not None else rnd.choice(years)
            resp = client.get(f"/staff/filing/?year={y}")
            assert resp.status_code == 200, (y, resp.status_code)
            assert b'id="filing-units"' in resp.data

        times = _timed(lambda: page(busiest), args.page_repeat)
        rows.append(_row("dashboard", "dashboard page, one year", times, 200.0, scale))
        times = _timed(page, args.page_repeat)
        rows.append(_row("dashboard", "dashboard page, a random year", times, 200.0))

        def cold(year: int = busiest) -> None:
            rates._CACHE.clear()  # as after any change to the store
            rates._REPORTS.clear()
            page(year)

        times = _timed(cold, args.page_repeat)
        rows.append(_row("dashboard", "dashboard page, after a change", times, 200.0,
                         "the figures read again"))
        store = FilingStore.open(home)

        def uncached() -> None:
            rates._CACHE.clear()
            rates._REPORTS.clear()
            rates.table(store, busiest)

        times = _timed(uncached, args.page_repeat)
        rows.append(_row("dashboard", "rates.table alone, read again", times, None))
        if args.reports:
            table = rates.table(store, busiest)
            content = report.gather(store, table, lang="zh")
            note = f"{len(content.rectifications):,} returned items"
            times = _timed(lambda: report.to_xlsx(content), 2)
            rows.append(_row("dashboard", "year-end report, XLSX", times, None, note))
            t0 = time.perf_counter()
            report.to_pdf(content)  # once: minutes on a loaded machine
            rows.append(_row("dashboard", "year-end report, PDF", [time.perf_counter() - t0],
                             None, note))
        store.close()
    return rows


def _sign_in(client, name: str, password: str) -> None:
    import re

    page = client.get("/staff/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the sign-in page"
    resp = client.post("/staff/login", data={"username": name, "password": password,
                                               "csrf_token": found.group(1)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[-300:]


# ---------------------------------------------------------------------- intake
def _intake_files(rows: int) -> Path:
    """The cached upload: ``items.xlsx`` and its ``rows`` files (made once)."""
    import openpyxl
    from fpdf import FPDF
    from PIL import Image

    folder = CACHE / f"filing-intake-{rows}-v2"
    done = folder / "READY"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    wb = openpyxl.Workbook()  # not write-only: a workbook that declares its size, as
    ws = wb.active  # Excel and WPS write them (openpyxl parses an undeclared one twice)
    ws.append(["题名", "title@en", "日期", "责任者", "备注", "文件"])
    for n in range(1, rows + 1):
        if n % 2:
            name = f"item-{n:05d}.pdf"
            pdf = FPDF()
            pdf.add_page()
            pdf.set_font("helvetica", size=12)
            pdf.cell(text=f"Teaching record {n}")
            (folder / name).write_bytes(bytes(pdf.output()))
        else:
            name = f"item-{n:05d}.jpg"
            bio = io.BytesIO()
            Image.new("RGB", (64, 48), (n % 256, (n // 256) % 256, 90)).save(
                bio, "JPEG", comment=f"item {n}")  # distinct bytes for every item
            (folder / name).write_bytes(bio.getvalue())
        teacher = "/agents/li-ming" if n % 2 else "李明"
        ws.append([f"教学档案第{n}件", f"Teaching record {n}", f"2026-{1 + n % 12:02d}-15",
                   teacher, f"第{n}件的备注", name])
    wb.save(folder / "items.xlsx")
    done.write_text("ok\n")
    return folder


def _intake_site(home: Path):
    from repo.repository import Repository
    from services.filing import units
    from services.filing.model import Task
    from services.filing.store import FilingStore

    repo, _ = Repository.init(home, BASE)
    admin = repo.user("admin")
    repo.create(admin, "/", "folder", {"title": {"zh": "人物与机构", "en": "Agents"}},
                slug="agents", key="agents")
    repo.create(admin, "/agents", "corporatebody",
                {"name": {"zh": "能源与动力工程学院", "en": "School of Energy"}},
                slug="energy", key="energy")
    repo.create(admin, "/agents", "person", {"name": {"zh": "李明", "en": "Li Ming"}},
                slug="li-ming", key="li-ming")
    repo.create(admin, "/", "fonds", {"title": {"zh": "全宗", "en": "Fonds"},
                                      "refcode": "0421"}, slug="xjtu", key="xjtu")
    repo.create(admin, "/xjtu", "series", {"title": {"zh": "教学类", "en": "Teaching"},
                                           "category": "JX", "retention": "D30"},
                slug="teaching", key="teaching")
    for path in ("/agents", "/agents/li-ming", "/agents/energy"):
        repo.transition(admin, path, "publish")
    store = FilingStore.open(home)
    units.add_unit(repo, store, admin, "/agents/energy", "energy")
    repo.add_user(admin, "officer", roles=[], fullname="The School of Energy's officer")
    units.appoint(repo, store, admin, "officer", "energy")
    [task] = store.add_tasks([Task(0, 2026, "energy", "JX", "/xjtu/teaching", "D30",
                                   "本学期教学档案", expected=5000)])
    store.close()
    return repo, task


def bench_intake(args: argparse.Namespace) -> list[Row]:
    from services.filing import intake
    from services.filing.store import FilingStore

    made = time.perf_counter()
    cached = (CACHE / f"filing-intake-{args.rows}-v2" / "READY").exists()
    upload = _intake_files(args.rows)
    prepared = "files from the cache" if cached else \
        f"files made in {time.perf_counter() - made:.1f} s (now cached)"
    times: list[float] = []
    cpu_times: list[float] = []  # this process's CPU: what a busy machine does not inflate
    with tempfile.TemporaryDirectory(prefix="bench-filing-") as tmp:
        home = Path(tmp) / "site"
        repo, task = _intake_site(home)
        pristine = Path(tmp) / "filing-pristine"  # units and the task, no submission
        shutil.copytree(home / "filing", pristine)
        try:
            officer = repo.user("officer")
            for _ in range(args.repeat):
                shutil.rmtree(home / "filing")  # every run starts from an empty store
                shutil.copytree(pristine, home / "filing")
                store = FilingStore.open(home)
                started, cpu = time.perf_counter(), time.process_time()
                result = intake.read_upload(store, repo, officer, "energy",
                                            upload / "items.xlsx", task_id=task)
                times.append(time.perf_counter() - started)
                cpu_times.append(time.process_time() - cpu)
                bad = [r for r in result.rows if not r.ok]
                assert result.ok and not bad and not result.problems, \
                    (result.problems, bad[:3])
                assert len(result.submission.items) == args.rows
                stored = sum(1 for p in store.receiving.rglob("*") if p.is_file())
                assert stored == args.rows, stored
                store.close()
        finally:
            repo.close()
    return [Row("intake", f"{args.rows}-row XLSX + {args.rows} files", _median_ms(times),
                30_000, len(times),
                f"runs {', '.join(f'{t:.1f}' for t in times)} s (CPU "
                f"{', '.join(f'{t:.1f}' for t in cpu_times)} s); {prepared}; "
                f"load {os.getloadavg()[0]:.1f}")]


BENCHES: dict[str, Callable[[argparse.Namespace], list[Row]]] = {
    "intake": bench_intake,
    "dashboard": bench_dashboard,
}



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.filing",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(BENCHES),
                        help="run only this benchmark (repeatable; default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="samples per figure")
    parser.add_argument("--rows", type=int, default=5000,
                        help="rows (and files) of the spreadsheet (intake)")
    parser.add_argument("--page-repeat", type=int, default=20,
                        help="fetches of the dashboard page per figure (dashboard)")
    parser.add_argument("--units", type=int, default=200, help="filing units (dashboard)")
    parser.add_argument("--years", type=int, default=10, help="years of plans (dashboard)")
    parser.add_argument("--reports", action="store_true",
                        help="time the year-end report's XLSX and PDF too (dashboard)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for name in args.only or sorted(BENCHES):
        rows += BENCHES[name](args)
    print(f"{'benchmark':<10} {'what':<34} {'median':>11} {'goal':>10} {'ratio':>6}  note")
    for r in rows:
        goal = f"{r.goal_ms:g} ms" if r.goal_ms else "—"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "—"
        print(f"{r.bench:<10} {r.what:<34} {r.median_ms:>8.1f} ms {goal:>10} {ratio:>6}  "
              f"{r.note}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"filing-{stamp}.json").write_text(json.dumps({
        "machine": platform.platform(), "cpus": os.cpu_count(), "python": sys.version,
        "commit": commit(), "load": os.getloadavg(),
        "rows": [asdict(r) | {"ratio": r.ratio} for r in rows]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
