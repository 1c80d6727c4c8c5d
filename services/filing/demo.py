"""The filing loop's demo (issue 13, item 10): departments with a 2026 plan in every state of
the loop, so that the officer's page, the receiving queue, the dashboard and
``lantai filing report --year 2026`` have something true to show (``lantai demo`` loads it
after the archive and the demo requests).

What it makes, in the order the loop runs:

- **filing units**: four departments of the demo archive (``/agents/…``: the School of Energy
  and Power Engineering, the School of Electrical Engineering, the Youth League, the Graduate
  School), each with a notice address and an officer account (``officer-energy`` …) holding
  the FilingOfficer role on its corporate body; the officers' passwords are made here, at
  random, and printed once by ``lantai demo`` (like the admin's API token at ``lantai init``);
- **the 2026 plan**, published, with tasks per unit and category and a special topic
  (卓越工程师计划) whose tasks cross units; one task is **overdue** (its due date passed with
  less accepted than expected) and one unit has sent nothing yet;
- **submissions in every state**: an item accepted at first submission, one returned with a
  rectification note, corrected, resubmitted and accepted (so the quality rate is below 100 %),
  one returned and still waiting for the officer, one resubmitted and waiting for the
  archivist, items received and not yet reviewed, one withdrawn.

Every step goes through the loop's own functions as the real one would, by the officer or
the archivist who takes it (so each is in the submission's history): the plans part makes
and publishes the plan, the intake checks and stores what the officers send (a workbook, a
CSV file, the form), the review part accepts
items into the tree (records with 档号, provenance and an accession event, files ingested)
and returns them with their notes (a notice to the unit); the officer resubmits the
corrected ones. The files sent are small real files made here (PDFs and page scans).
"""

from __future__ import annotations

import csv
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from repo.errors import Invalid, NotFound
from repo.repository import Repository
from repo.security import User
from services.filing import intake, plans, review
from services.filing import units as filing_units
from services.filing.model import Plan, Task, Topic
from services.filing.store import FilingStore

YEAR = 2026
TOPIC = Topic(id="2026-excellent-engineers", year=YEAR, name_zh="卓越工程师计划",
              name_en="Excellent Engineers Programme",
              note="2026年度专题：卓越工程师教育培养计划的教学与实践材料。")
PLAN_NOTICE = ("2026年度归档工作计划已发布：请各单位按计划任务在截止日期前通过兰台一站式归档"
               "提交归档材料。The 2026 filing plan is published: please file your material "
               "before each task's due date.")


@dataclass(frozen=True)
class DemoUnit:
    code: str
    agent: str  # path of its corporate body in the demo archive
    email: str
    officer: str  # the account of its filing officer
    officer_name: str


UNITS: tuple[DemoUnit, ...] = (
    DemoUnit("energy", "/agents/energy-school", "filing-energy@example.edu", "officer-energy",
             "林雪 Lin Xue (能动学院兼职档案员 filing officer)"),
    DemoUnit("electrical", "/agents/electrical-school", "filing-electrical@example.edu",
             "officer-electrical", "马骁 Ma Xiao (电气学院兼职档案员 filing officer)"),
    DemoUnit("league", "/agents/youth-league", "filing-league@example.edu", "officer-league",
             "唐悦 Tang Yue (校团委档案员 filing officer)"),
    DemoUnit("graduate", "/agents/graduate-school", "", "officer-graduate",
             "钱程 Qian Cheng (研究生院档案员 filing officer)"),
)


def _task(unit: str, category: str, series: str, retention: str, title_zh: str, title_en: str,
          expected: int, due: str, topic: str = "") -> Task:
    return Task(id=0, year=YEAR, unit=unit, category=category, series=series,
                retention=retention, title_zh=title_zh, title_en=title_en, expected=expected,
                due=due, topic=topic)


# the plan, in the order the tasks are added (DemoItem.task points into it)
TASKS: tuple[Task, ...] = (
    _task("energy", "JX", "/xjtu/jx/energy", "D30", "2025—2026学年春季学期教学档案",
          "Teaching files, spring term 2025-2026", 5, "2026-07-15"),
    _task("energy", "JX", "/xjtu/jx/energy", "D30", "2026—2027学年秋季学期教学档案",
          "Teaching files, autumn term 2026-2027", 4, "2026-12-31"),
    _task("energy", "JX", "/xjtu/jx/energy", "Y", "卓越工程师计划校企联合培养材料",
          "Excellent Engineers: joint training with industry", 2, "2026-11-30",
          topic=TOPIC.id),
    _task("electrical", "JX", "/xjtu/jx/electrical", "D30", "2025—2026学年春季学期教学档案",
          "Teaching files, spring term 2025-2026", 4, "2026-12-31"),
    _task("electrical", "JX", "/xjtu/jx/electrical", "Y", "卓越工程师计划校企联合培养材料",
          "Excellent Engineers: joint training with industry", 1, "2026-11-30",
          topic=TOPIC.id),
    _task("league", "DQ", "/xjtu/dq", "Y", "共青团西安交通大学委员会2026年工作总结",
          "Youth League Committee annual review 2026", 1, "2026-12-31"),
    _task("league", "XS", "/xjtu/xs/growth", "Y", "试点学生成长档案材料（实践服务、团学活动）",
          "Growth records of pilot students (practice, League activities)", 3, "2026-12-31"),
    _task("graduate", "XS", "/xjtu/xs/growth", "Y", "研究生学位授予材料",
          "Papers of graduate degrees awarded", 3, "2026-09-30"),
)


@dataclass(frozen=True)
class DemoItem:
    """One item sent: its description (profile field names) and the file it comes with; the
    way it goes (``accept``; ``return`` (a note), then maybe ``resubmit`` with ``fix`` and
    ``accept``; ``withdraw``)."""

    fields: dict[str, list[str]]
    file: str  # the name of the PDF sent with it
    steps: tuple[str, ...] = ()  # "accept", "return", "resubmit", "withdraw"
    note: str = ""  # the rectification note when returned
    fix: dict[str, list[str]] = field(default_factory=dict)  # fields changed at resubmission


@dataclass(frozen=True)
class DemoSubmission:
    task: int  # index into TASKS
    channel: str
    source: str
    items: tuple[DemoItem, ...]


def _teaching(title_zh: str, title_en: str, date: str, teacher: str) -> dict[str, list[str]]:
    return {"title@zh": [title_zh], "title@en": [title_en], "date": [date],
            "creator": [teacher]}


WU, ZHENG = "/agents/wu-qihang", "/agents/zheng-yaqin"
RETURN_SCAN = "试卷扫描件缺第3页，请补扫后重新提交。The scan of the paper lacks page 3: rescan it."
RETURN_TITLE = ("题名应写明课程名称与学期（如《电力系统分析》2026春）。"
                "The title must name the course and the term.")

SUBMISSIONS: tuple[DemoSubmission, ...] = (
    # energy, spring term: four items by spreadsheet; one accepted at once, one returned (a
    # page missing), rescanned, resubmitted and accepted, two not reviewed yet; the task
    # expects five and was due in July: overdue (two acceptances only: each ingests its scan,
    # and ``lantai demo`` must stay fast)
    DemoSubmission(0, "spreadsheet", "2026春教学档案.xlsx", (
        DemoItem(_teaching("《工程热力学》课程教学大纲（2026春）",
                           "Syllabus of Engineering Thermodynamics (spring 2026)", "2026-02-20",
                           WU), "syllabus-thermo.jpg", ("accept",)),
        DemoItem(_teaching("《工程热力学》期末试卷及评分标准（2026春）",
                           "Final examination of Engineering Thermodynamics with marking scheme "
                           "(spring 2026)", "2026-06-28", WU), "exam-thermo.jpg",
                 ("return", "resubmit", "accept"), note=RETURN_SCAN,
                 fix={"scope@zh": ["试卷3页，评分标准1页（已补扫第3页）。"]}),
        DemoItem(_teaching("《工程热力学》成绩册（2026春）",
                           "Grade book of Engineering Thermodynamics (spring 2026)", "2026-07-05",
                           WU), "grades-thermo.jpg"),
        DemoItem(_teaching("《传热学》实验报告汇编（2026春）",
                           "Laboratory reports of Heat Transfer (spring 2026)", "2026-06-15",
                           WU), "labs-heat.jpg"),
    )),
    # energy, autumn term, by the form: one waiting for the archivist, one returned and not
    # yet corrected
    DemoSubmission(1, "form", "form", (
        DemoItem(_teaching("《工程热力学》课程教学大纲（2026秋）",
                           "Syllabus of Engineering Thermodynamics (autumn 2026)", "2026-09-01",
                           WU), "syllabus-thermo-autumn.pdf"),
    )),
    DemoSubmission(1, "form", "form", (
        DemoItem(_teaching("期中试卷", "Mid-term examination", "2026-11-05", WU),
                 "midterm.pdf", ("return",), note=RETURN_TITLE),
    )),
    # energy, the topic: waiting for the archivist
    DemoSubmission(2, "form", "form", (
        DemoItem(_teaching("卓越工程师计划校企联合培养协议及实践教学方案（能动学院）",
                           "Excellent Engineers: joint training agreement and practice plan "
                           "(School of Energy)", "2026-10-12", WU), "joint-training.jpg"),
    )),
    # electrical, spring term: one returned, corrected and sent again (waiting), one received,
    # one withdrawn by the officer after it was returned
    DemoSubmission(3, "spreadsheet", "电气学院2026春教学档案.csv", (
        DemoItem(_teaching("试卷", "Examination", "2026-06-30", ZHENG), "exam-power.pdf",
                 ("return", "resubmit"), note=RETURN_TITLE,
                 fix={"title@zh": ["《电力系统分析》期末试卷（2026春）"],
                      "title@en": ["Final examination of Power System Analysis (spring 2026)"]}),
        DemoItem(_teaching("《电力系统分析》课程教学大纲（2026春）",
                           "Syllabus of Power System Analysis (spring 2026)", "2026-02-25",
                           ZHENG), "syllabus-power.pdf"),
        DemoItem(_teaching("《电力系统分析》课程设计任务书（草稿）",
                           "Course design brief of Power System Analysis (draft)", "2026-03-10",
                           ZHENG), "brief-draft.pdf", ("return", "withdraw"),
                 note="草稿不归档。Drafts are not filed."),
    )),
    # the Youth League's annual review: waiting for the archivist
    DemoSubmission(5, "form", "form", (
        DemoItem({"title@zh": ["共青团西安交通大学委员会2026年工作总结"],
                  "title@en": ["Youth League Committee annual review 2026"],
                  "date": ["2026-12-01"], "creator": ["/agents/youth-league"]},
                 "league-review-2026.pdf"),
    )),
)


@dataclass
class FilingDemo:
    """What :func:`load_demo_filing` made: the submissions' ids and the officers' passwords
    (new accounts only; shown once)."""

    submissions: list[str] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)


def load_demo_filing(home: Path, repo: Repository, user: User) -> FilingDemo:
    """Make the filing demo in the site at ``home`` as ``user`` (the Manager who loads the
    demo). Idempotent: units and accounts already there are kept, and the plan and its
    submissions are made only when the site has no 2026 plan yet."""
    store = FilingStore.open(home)
    try:
        made = FilingDemo()
        _units(repo, store, user, made)
        if store.plan(YEAR) is None:
            task_ids = _plan(store, repo, user)
            with tempfile.TemporaryDirectory(prefix="lantai-filing-demo-") as tmp:
                for spec in SUBMISSIONS:
                    made.submissions.append(_submission(store, repo, spec, task_ids, Path(tmp),
                                                        user))
        return made
    finally:
        store.close()


def _units(repo: Repository, store: FilingStore, user: User, made: FilingDemo) -> None:
    """The units (corporate bodies of the demo archive) and their officers' accounts."""
    accounts = {u.name for u in repo.users()}
    for spec in UNITS:
        try:
            agent = repo.resolve(spec.agent)
        except NotFound:
            continue  # the archive was not loaded (or the body was deleted): no such unit
        if store.unit_for_agent(agent) is None:
            filing_units.add_unit(repo, store, user, spec.agent, spec.code, email=spec.email)
        if spec.officer not in accounts:
            password = secrets.token_urlsafe(12)
            repo.add_user(user, spec.officer, fullname=spec.officer_name, password=password,
                          message=f"demo: the filing officer of {spec.code}")
            filing_units.appoint(repo, store, user, spec.officer, spec.code)
            made.passwords[spec.officer] = password


def _plan(store: FilingStore, repo: Repository, user: User) -> list[int]:
    """The 2026 plan with its topic, each task checked as the planning pages check it, then
    published: a notice to every unit with tasks (and an e-mail where the site has a mail
    server and the unit an address; a mail that fails is the plan part's to report)."""
    plans.add_topic(store, user, TOPIC)
    store.save_plan(Plan(year=YEAR, state="draft"))
    plans.set_notice(store, user, YEAR, PLAN_NOTICE)
    ids = [plans.add_task(store, repo, user, t)[0].id for t in TASKS]
    plans.publish(store, repo, user, YEAR, repo.settings)
    return ids


def _file(folder: Path, name: str, title: str) -> Path:
    """A small real file standing for what a department sends: a PDF (fpdf2) or a page scan
    as a JPEG (Pillow), by ``name``'s extension. The items the demo accepts come with
    small scans, whose ingest is quick (a PDF
    is rendered page by page into image pyramids: seconds each, and ``lantai demo`` must
    stay fast)."""
    path = folder / name
    text = f"Lantai demo - {title}"
    if name.endswith(".jpg"):
        from PIL import Image, ImageDraw

        page = Image.new("L", (420, 594), 255)
        ImageDraw.Draw(page).multiline_text((24, 40), "\n".join(
            text[i:i + 48] for i in range(0, len(text), 48)), fill=0)
        page.save(path, "JPEG", quality=80)
    else:
        from fpdf import FPDF

        pdf = FPDF(unit="mm", format="A4")
        pdf.set_title(title)
        pdf.add_page()
        pdf.set_font("helvetica", size=14)
        pdf.multi_cell(0, 8, text=text)
        path.write_bytes(bytes(pdf.output()))
    return path


def _sheet(path: Path, items: tuple[DemoItem, ...]) -> Path:
    """The spreadsheet an officer fills in: a header of profile field names and ``file``,
    one row per item; XLSX (openpyxl) or CSV (UTF-8) by ``path``'s extension."""
    columns = [*dict.fromkeys(k for it in items for k in it.fields), "file"]
    rows = [[";".join(it.fields.get(c, [])) for c in columns[:-1]] + [it.file]
            for it in items]
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        for row in [columns, *rows]:
            sheet.append(row)
        book.save(path)
    else:
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([columns, *rows])
    return path


def _submission(store: FilingStore, repo: Repository, spec: DemoSubmission,
                task_ids: list[int], tmp: Path, archivist: User) -> str:
    """Send one submission as the unit's officer through the intake (checked row by row,
    stored whole), then take its items' steps."""
    task = TASKS[spec.task]
    unit = next(u for u in UNITS if u.code == task.unit)
    officer = repo.user(unit.officer)
    folder = Path(tempfile.mkdtemp(dir=tmp))
    files = [_file(folder, it.file, it.fields.get("title@en", [it.file])[0])
             for it in spec.items]
    if spec.channel == "spreadsheet":
        result = intake.read_upload(store, repo, officer, unit.code,
                                    _sheet(folder / spec.source, spec.items),
                                    task_id=task_ids[spec.task])
    else:
        (it,) = spec.items
        result = intake.form_submission(store, repo, officer, unit.code,
                                        task_ids[spec.task], it.fields, files)
    sub = result.submission
    if sub is None:  # the demo's own data refused: say why (a bug of the demo or intake)
        raise Invalid(f"demo submission {spec.source} refused: {result.reason}; " + "; ".join(
            f"row {r.row}: {' '.join(r.messages)}" for r in result.rows if not r.ok))
    for it, stored in zip(spec.items, sub.items, strict=True):
        for step in it.steps:
            if step == "accept":
                review.accept(store, repo, archivist, stored.id)
            elif step == "return":
                review.return_item(store, repo, archivist, stored.id, it.note, problems=[])
            elif step == "resubmit":
                current = store.item(stored.id)
                review.resubmit(store, repo, officer, stored.id, {**current.fields, **it.fix},
                                note="corrected as asked")
            elif step == "withdraw":
                store.decide(stored.id, "withdrawn", actor=officer.name,
                             note="taken back by the officer")
    return sub.id


__all__ = ["SUBMISSIONS", "TASKS", "TOPIC", "UNITS", "YEAR", "FilingDemo", "load_demo_filing"]
