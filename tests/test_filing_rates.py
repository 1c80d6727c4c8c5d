"""Progress and rates of the filing loop (issue 13, item 5): every figure of a small year
worked out by hand below and asserted — per unit × category, per topic, per category, per
unit, the grand totals, the overdue tasks, the months — and the contract of
``lantai filing report --year Y --json``.

The year 2026 of the fixture (:func:`build`), item by item (✓ accepted first time,
↩ returned, ✗ withdrawn):

====  ======  ===========================  =========================================
task  unit    category (topic) expected    items
====  ======  ===========================  =========================================
T1    energy  JX, 5, due 2026-06-30        S1: a1 ✓, a2 ✓, a3 ↩→resent→accepted,
                                           a4 ↩ (still returned); S2: b1 received
T2    energy  KY, 2, due 2026-12-31        —
T3    energy  JX (excellent), 3, 03-31     S3: c1 ✓, c2 ↩→resent→✗
—     energy  (no task)                    S4: d1 ✓
T4    league  DQ, 4, due 2026-05-31        S5: e1 ✓, e2 ✗, e3 ↩→resent→accepted
T5    league  JX (excellent), list of 2    S6: f1 ✓, f2 ✓ (accepted in January 2027)
—     physics nothing                      —
====  ======  ===========================  =========================================

and in 2025 a task of energy (JX, 9) with one accepted item, which 2026 must not count.
Withdrawn items count nowhere (c2 was returned once: still not counted as returned).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support import run_lantai

from repo.cli import main as cli_main
from repo.errors import Forbidden
from services.filing import rates, report, units
from services.filing.model import Item, Submission, Task, Topic
from services.filing.store import FilingStore

YEAR = 2026
TOPIC = "2026-excellent-engineers"
UNITS = {"energy": ("能源与动力工程学院", "School of Energy and Power Engineering"),
         "league": ("共青团西安交通大学委员会", "Youth League Committee"),
         "physics": ("理学院", "School of Physics")}


def _sub(store: FilingStore, unit: str, task: int | None, titles: list[str], *,
         year: int = YEAR, at: str = "2026-02-01T08:00:00Z") -> list[int]:
    sub = store.add_submission(Submission(
        id="", year=year, unit=unit, task=task, channel="form", source="form", created=at,
        created_by="officer",
        items=[Item(id=0, submission="", row=n, fields={"title@zh": [t]})
               for n, t in enumerate(titles, 1)]))
    return [it.id for it in sub.items]


def build(site) -> tuple[FilingStore, dict[str, int]]:
    """The year above, in the site's filing store (units are corporate bodies of the
    site); returns the store and the items' ids by name (``a1`` …, ``T1`` … for tasks)."""
    repo, admin = site.repo, site.repo.user("admin")
    store = FilingStore.open(site.home)
    for code, (zh, en) in UNITS.items():
        repo.create(admin, "/agents", "corporatebody", {"name": {"zh": zh, "en": en}},
                    slug=code, key=f"unit-{code}")
        units.add_unit(repo, store, admin, f"/agents/{code}", code,
                       email=f"{code}@example.edu")
    store.add_topic(Topic(id=TOPIC, year=YEAR, name_zh="卓越工程师计划",
                          name_en="Excellent Engineers"))
    series = "/xjtu/students"

    def task(unit: str, category: str, expected: int, due: str, *, year: int = YEAR,
             topic: str = "", listed: tuple[str, ...] = ()) -> Task:
        return Task(id=0, year=year, unit=unit, category=category, series=series,
                    retention="Y", title_zh=f"{category} 归档", title_en=f"{category} files",
                    expected=expected, expected_list=list(listed), due=due, topic=topic)

    t1, t2, t3, t4, t5, old = store.add_tasks([
        task("energy", "JX", 5, "2026-06-30"), task("energy", "KY", 2, "2026-12-31"),
        task("energy", "JX", 3, "2026-03-31", topic=TOPIC),
        task("league", "DQ", 4, "2026-05-31"),
        task("league", "JX", 0, "2026-12-31", topic=TOPIC, listed=("课程甲", "课程乙")),
        task("energy", "JX", 9, "2025-12-31", year=2025)])
    ids: dict[str, int] = {"T1": t1, "T2": t2, "T3": t3, "T4": t4, "T5": t5}
    ids.update(zip(("a1", "a2", "a3", "a4"), _sub(store, "energy", t1, ["a1", "a2", "a3", "a4"]),
                   strict=True))
    ids["b1"], = _sub(store, "energy", t1, ["b1"])
    ids.update(zip(("c1", "c2"), _sub(store, "energy", t3, ["c1", "c2"]), strict=True))
    ids["d1"], = _sub(store, "energy", None, ["d1"])
    ids.update(zip(("e1", "e2", "e3"), _sub(store, "league", t4, ["e1", "e2", "e3"]),
                   strict=True))
    ids.update(zip(("f1", "f2"), _sub(store, "league", t5, ["f1", "f2"]), strict=True))
    ids["old"], = _sub(store, "energy", old, ["old"], year=2025, at="2025-05-01T00:00:00Z")

    def accept(name: str, at: str) -> None:
        store.decide(ids[name], "accepted", actor="editor", record=f"urn:x:{name}",
                     refcode=f"0421-{name}", at=at)

    def give_back(name: str, note: str, at: str) -> None:
        store.decide(ids[name], "returned", actor="editor", note=note, at=at)

    def resend(name: str, at: str) -> None:
        store.resubmit(ids[name], {"title@zh": [f"{name} 改"]}, [], actor="officer", at=at)

    accept("a1", "2026-03-10T09:00:00Z")
    accept("a2", "2026-03-20T09:00:00Z")
    give_back("a3", "缺少任课教师", "2026-03-21T09:00:00Z")
    resend("a3", "2026-04-20T09:00:00Z")
    accept("a3", "2026-05-02T09:00:00Z")
    give_back("a4", "文件无法打开", "2026-03-22T09:00:00Z")
    accept("c1", "2026-04-01T09:00:00Z")
    give_back("c2", "=HYPERLINK(\"http://evil.example\",\"x\") <script>alert(1)</script>",
              "2026-04-02T09:00:00Z")
    resend("c2", "2026-04-03T09:00:00Z")
    store.decide(ids["c2"], "withdrawn", actor="officer", at="2026-04-04T09:00:00Z")
    accept("d1", "2026-04-15T09:00:00Z")
    accept("e1", "2026-05-05T09:00:00Z")
    store.decide(ids["e2"], "withdrawn", actor="officer", at="2026-05-06T09:00:00Z")
    give_back("e3", "日期有误", "2026-05-07T09:00:00Z")
    resend("e3", "2026-05-20T09:00:00Z")
    accept("e3", "2026-06-01T09:00:00Z")
    accept("f1", "2026-06-02T09:00:00Z")
    accept("f2", "2027-01-10T09:00:00Z")
    accept("old", "2025-06-01T09:00:00Z")
    return store, ids


# the hand-worked answers: (expected, submitted, returned, accepted, accepted_first_time)
ENERGY = {"JX": (8, 6, 2, 4, 3), "KY": (2, 0, 0, 0, 0), "": (0, 1, 0, 1, 1)}
ENERGY_TOTAL = (10, 7, 2, 5, 4)
LEAGUE = {"DQ": (4, 2, 1, 2, 1), "JX": (2, 2, 0, 2, 2)}
LEAGUE_TOTAL = (6, 4, 1, 4, 3)
TOTAL = (16, 11, 3, 9, 7)
CATEGORIES = {"DQ": (4, 2, 1, 2, 1), "JX": (10, 8, 2, 6, 5), "KY": (2, 0, 0, 0, 0),
              "": (0, 1, 0, 1, 1)}
TOPIC_UNITS = {"energy": (3, 1, 0, 1, 1), "league": (2, 2, 0, 2, 2)}
TOPIC_TOTAL = (5, 3, 0, 3, 3)
# (filing_rate, quality_rate) worked out from the counts above
RATES = {("energy", "JX"): (4 / 8, 3 / 4), ("energy", "KY"): (0.0, None),
         ("energy", ""): (None, 1.0), ("league", "DQ"): (0.5, 0.5),
         ("league", "JX"): (1.0, 1.0)}


def invoke(home: Path, *args: str) -> Result:
    """``lantai --home HOME ARGS…`` in this process (the contract's test runs the real
    executable; the others need not pay for starting one)."""
    return CliRunner().invoke(cli_main, ["--home", str(home), *args], catch_exceptions=False)


def counts(f: rates.Figures | dict) -> tuple[int, ...]:
    get = f.get if isinstance(f, dict) else lambda name: getattr(f, name)
    return tuple(get(name) for name in rates.COUNTS)


@pytest.fixture
def year(site):
    store, ids = build(site)
    yield store, ids
    store.close()


def test_every_figure_of_the_year_as_worked_out_by_hand(year):
    store, ids = year
    table = rates.table(store, YEAR, today=dt.date(2026, 7, 1))
    assert [u.unit.code for u in table.units] == ["energy", "league", "physics"]
    energy, league, physics = table.units
    assert {c.key: counts(c.figures) for c in energy.categories} == ENERGY
    assert [c.key for c in energy.categories] == ["JX", "KY", ""]  # no task: last
    assert counts(energy.totals) == ENERGY_TOTAL
    assert {c.key: counts(c.figures) for c in league.categories} == LEAGUE
    assert counts(league.totals) == LEAGUE_TOTAL
    assert physics.categories == [] and counts(physics.totals) == (0, 0, 0, 0, 0)
    assert physics.totals.filing_rate is None and physics.totals.quality_rate is None
    assert counts(table.totals) == TOTAL
    assert {c.key: counts(c.figures) for c in table.categories} == CATEGORIES

    for row in table.units:
        for c in row.categories:
            assert (c.figures.filing_rate, c.figures.quality_rate) == \
                RATES[(row.unit.code, c.key)]
    assert (energy.totals.filing_rate, energy.totals.quality_rate) == (5 / 10, 4 / 5)
    assert (league.totals.filing_rate, league.totals.quality_rate) == (4 / 6, 3 / 4)
    assert (table.totals.filing_rate, table.totals.quality_rate) == (9 / 16, 7 / 9)

    [topic] = table.topics
    assert topic.topic.id == TOPIC and topic.topic.name_zh == "卓越工程师计划"
    assert {u.key: counts(u.figures) for u in topic.units} == TOPIC_UNITS
    assert counts(topic.totals) == TOPIC_TOTAL
    assert (topic.totals.filing_rate, topic.totals.quality_rate) == (3 / 5, 1.0)

    # overdue on 1 July: T1 (due 30 June, 3 of 5), T3 (31 March, 1 of 3), T4 (31 May,
    # 2 of 4); not T2 nor T5 (due in December)
    assert [(o.task, o.accepted, o.expected, o.submitted) for o in table.overdue] == [
        (ids["T3"], 1, 3, 1), (ids["T1"], 3, 5, 5), (ids["T4"], 2, 4, 2)]
    assert all(not o.meets_goal for o in table.overdue)
    assert (energy.overdue, league.overdue, physics.overdue) == (2, 1, 0)
    # the months items were accepted in (f2 in January 2027 is the year's too; 2025's not)
    months = dict(table.months)
    assert {m: n for m, n in months.items() if n} == {
        "2026-03": 2, "2026-04": 2, "2026-05": 2, "2026-06": 2, "2027-01": 1}
    assert [m for m, _ in table.months][:12] == [f"2026-{m:02d}" for m in range(1, 13)]


def test_the_due_day_is_still_in_time_and_the_goal_is_marked(year):
    store, ids = year
    on_the_day = rates.table(store, YEAR, today=dt.date(2026, 6, 30))
    assert [o.task for o in on_the_day.overdue] == [ids["T3"], ids["T4"]]
    after = rates.table(store, YEAR, today=dt.date(2027, 1, 1))
    assert [o.task for o in after.overdue] == [ids["T3"], ids["T1"], ids["T2"], ids["T4"]]
    assert rates.Figures(100, 100, 2, 99, 98).meets_goal is True
    assert rates.Figures(100, 100, 2, 97, 97).meets_goal is False  # filing 97 %
    assert rates.Figures(100, 100, 3, 99, 96).meets_goal is False  # quality 97 %
    assert rates.Figures(0, 1, 0, 1, 1).meets_goal is None  # nothing expected
    late = rates.OverdueTask(1, "u", "JX", "", "", "", "2026-01-01", 100, 100, 99)
    assert late.meets_goal and late.as_dict()["meets_goal"] is True


def test_a_unit_scope_counts_only_its_units(year):
    store, _ids = year
    mine = rates.table(store, YEAR, units=["league"], today=dt.date(2026, 7, 1))
    assert [u.unit.code for u in mine.units] == ["league"]
    assert counts(mine.totals) == LEAGUE_TOTAL
    assert {c.key: counts(c.figures) for c in mine.categories} == LEAGUE
    assert [o.unit for o in mine.overdue] == ["league"]
    assert {u.key for t in mine.topics for u in t.units} == {"league"}
    assert sum(n for _, n in mine.months) == 4  # e1, e3, f1 and f2 (in January 2027)
    assert dict(mine.months)["2027-01"] == 1


def test_report_json_is_the_contract(year, site):
    """``lantai filing report --year 2026 --json``: per unit and category the seven figures,
    the totals; rates null where their divisor is 0."""
    _store, ids = year
    site.close()
    proc = run_lantai(site.home, "filing", "report", "--year", "2026", "--json",
                      "--today", "2026-07-01")
    data = json.loads(proc.stdout)
    assert data["year"] == 2026 and data["goal"] == 0.98 and data["today"] == "2026-07-01"
    by_unit = {u["unit"]: u for u in data["units"]}
    assert list(by_unit) == ["energy", "league", "physics"]
    expected_units = {"energy": (ENERGY, ENERGY_TOTAL), "league": (LEAGUE, LEAGUE_TOTAL),
                      "physics": ({}, (0, 0, 0, 0, 0))}
    for code, (cats, total) in expected_units.items():
        got = by_unit[code]
        assert {c["category"]: counts(c) for c in got["categories"]} == cats
        for c in got["categories"]:
            assert set(c) == {"category", *rates.FIGURES}
            assert (c["filing_rate"], c["quality_rate"]) == RATES[(code, c["category"])]
        assert counts(got["totals"]) == total
        assert set(got["totals"]) == set(rates.FIGURES)
    assert by_unit["physics"]["totals"]["filing_rate"] is None
    assert by_unit["energy"]["overdue"] == 2
    assert counts(data["totals"]) == TOTAL
    assert data["totals"]["filing_rate"] == 9 / 16 and data["totals"]["quality_rate"] == 7 / 9
    assert [o["task"] for o in data["overdue"]] == [ids["T3"], ids["T1"], ids["T4"]]
    assert counts(data["topics"][0]["totals"]) == TOPIC_TOTAL
    assert "null" in proc.stdout  # the rates without a divisor, as JSON says it

    text = invoke(site.home, "filing", "report", "--year", "2026", "--today", "2026-07-01")
    assert text.exit_code == 0, text.output
    text = text.stdout
    assert re.search(r"^energy +JX +8 +6 +2 +4 +3 +50.0 % +75.0 %$", text, re.M)
    assert "50.0 %" in text and "—" in text
    assert "overdue: league" in text


def test_report_is_for_archivists_and_officers_only(year, site):
    store, _ids = year
    repo = site.repo
    with pytest.raises(Forbidden):
        report.scope(repo, store, repo.user("reader"))
    assert report.scope(repo, store, repo.user("editor")) is None
    units.appoint(repo, store, repo.user("admin"), "contributor", "league")
    assert report.scope(repo, store, repo.user("contributor")) == ["league"]
    site.close()
    refused = invoke(site.home, "--user", "reader", "filing", "report", "--year", "2026",
                     "--json")
    assert refused.exit_code == 4 and refused.stdout == ""
    assert "neither an archivist nor a filing officer" in refused.stderr
    mine = json.loads(invoke(site.home, "--user", "contributor", "filing", "report",
                             "--year", "2026", "--json").stdout)
    assert [u["unit"] for u in mine["units"]] == ["league"]
    assert counts(mine["totals"]) == LEAGUE_TOTAL


def test_an_empty_year_has_no_rates(site, tmp_path: Path):
    store = FilingStore.open(site.home)
    table = rates.table(store, 1999)
    assert table.units == [] and counts(table.totals) == (0, 0, 0, 0, 0)
    assert table.as_json()["totals"]["filing_rate"] is None
    store.close()


# ---------------------------------------------------------------------- the year-end report
def read_xlsx(data: bytes) -> dict[str, list[tuple]]:
    """Every sheet's rows (values), read back with openpyxl."""
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    return {ws.title: [tuple(c for c in row) for row in ws.iter_rows(values_only=True)]
            for ws in wb.worksheets}


def figures_after(rows: list[tuple], first: object, column: int = 0) -> tuple:
    """The seven figures of the row whose ``column`` is ``first``."""
    for row in rows:
        if row[column] == first:
            return row[column + 1:column + 8] if column == 0 else row[2:9]
    raise AssertionError(f"no row {first!r} in {rows}")


def test_the_year_end_report_as_xlsx_and_pdf(year, site, tmp_path):
    """``--xlsx`` and ``--pdf``: the workbook re-read says every figure of the summary, each
    unit's sheet and the rectification list (every item returned that year: a3 then
    accepted, a4 still returned, c2 withdrawn, e3 accepted); the PDF is A4 landscape and
    says the same (its text extracted with pdfium)."""
    import pypdfium2 as pdfium

    _store, ids = year
    site.close()
    xlsx, pdf = tmp_path / "report.xlsx", tmp_path / "report.pdf"
    done = invoke(site.home, "filing", "report", "--year", "2026", "--today", "2026-07-01",
                  "--xlsx", str(xlsx), "--pdf", str(pdf), "--lang", "en")
    assert done.exit_code == 0, done.output
    sheets = read_xlsx(xlsx.read_bytes())
    assert list(sheets) == ["Summary", "Overdue tasks", "Rectification list", "energy",
                            "league", "physics"]
    summary = sheets["Summary"]
    assert summary[0][0] == "Filing report 2026"
    # a unit's row: code, name, the five counts, the two rates (numbers; "—" for none)
    for code, total, rates_ in (("energy", ENERGY_TOTAL, (0.5, 0.8)),
                                ("league", LEAGUE_TOTAL, (4 / 6, 0.75)),
                                ("physics", (0, 0, 0, 0, 0), ("—", "—"))):
        row = next(r for r in summary if r[0] == code)
        assert row[2:7] == total and row[7:9] == rates_
    all_row = next(r for r in summary if r[1] == "All units" and r[0] in ("", None))
    assert all_row[2:7] == TOTAL and all_row[7:9] == (9 / 16, 7 / 9) and all_row[9] == 3
    cats = {r[0]: r[1:6] for r in summary if isinstance(r[0], str) and r[0][:2] in CATEGORIES}
    assert cats["JX Teaching"] == CATEGORIES["JX"] and cats["DQ Party and mass "
                                                            "organisations"] == CATEGORIES["DQ"]
    assert next(r for r in summary if r[0] == "No task")[1:6] == CATEGORIES[""]
    topic = next(r for r in summary if r[0] == "Excellent Engineers")
    assert topic[2:7] == TOPIC_TOTAL

    energy = sheets["energy"]
    assert energy[0][0] == "School of Energy and Power Engineering (energy)"
    assert {r[0]: r[1:6] for r in energy if r[0] in ("JX Teaching", "KY Research", "No task",
                                                     "Total")} == {
        "JX Teaching": ENERGY["JX"], "KY Research": ENERGY["KY"], "No task": ENERGY[""],
        "Total": ENERGY_TOTAL}
    assert [r[1] for r in energy if r[0] == "School of Energy and Power Engineering"] == \
        [ids["T3"], ids["T1"]]  # its overdue tasks

    overdue = sheets["Overdue tasks"]
    assert [r[1] for r in overdue[2:]] == [ids["T3"], ids["T1"], ids["T4"]]

    rect = sheets["Rectification list"]
    head = rect[2]
    assert head[:4] == ("Unit", "Submission", "Row", "Item")
    body = {r[3]: dict(zip(head, r, strict=True)) for r in rect[3:]}
    assert set(body) == {"a3 改", "a4", "c2 改", "e3 改"}  # titles as corrected
    assert body["a3 改"]["State"] == "accepted" and body["a3 改"]["Decided"] == "2026-05-02"
    assert body["a3 改"]["Rectification note"] == "缺少任课教师"
    assert body["a3 改"]["Returned on"] == "2026-03-21"
    assert body["a3 改"]["Sent again"] == "2026-04-20"
    assert body["a3 改"]["Reference code"] == "0421-a3"
    assert body["a4"]["State"] == "returned" and body["a4"]["Decided"] in ("", None)
    assert body["c2 改"]["State"] == "withdrawn"
    assert body["c2 改"]["Rectification note"].startswith("=HYPERLINK(")  # text, not a formula
    assert body["e3 改"]["Unit"] == "Youth League Committee"

    from openpyxl import load_workbook

    cell = load_workbook(xlsx)["Rectification list"].cell(row=3 + 1 + [r[3] for r in rect[3:]]
                                                          .index("c2 改"), column=9)
    assert cell.data_type == "s"

    doc = pdfium.PdfDocument(pdf.read_bytes())
    w, h = doc[0].get_size()
    assert round(w) == 842 and round(h) == 595  # A4 landscape, in points
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    for expected in ("Filing report 2026", "School of Energy and Power Engineering",
                     "56.2 %", "77.8 %", "Rectification list", "缺少任课教师", "日期有误",
                     "文件无法打开", "withdrawn", "Excellent Engineers"):
        assert expected in text, expected
    doc.close()


def test_figures_follow_every_change_at_once(year):
    """The rows are cached per store generation: a decision, a new submission or a changed
    task (here through a second store object, as another process would) shows at once."""
    store, ids = year
    before = rates.table(store, YEAR, today=dt.date(2026, 7, 1))
    assert rates.table(store, YEAR, today=dt.date(2026, 7, 1)).totals == before.totals
    other = FilingStore.open(store.home)
    other.decide(ids["b1"], "accepted", actor="editor", at="2026-07-02T00:00:00Z")
    after = rates.table(store, YEAR, today=dt.date(2026, 7, 1))
    assert counts(after.unit("energy").totals) == (10, 7, 2, 6, 5)
    assert dict(after.months)["2026-07"] == 1
    t2 = other.task(ids["T2"])
    t2.expected = 20
    other.update_task(t2)
    assert rates.table(store, YEAR).unit("energy").totals.expected == 28
    other.close()


def test_counts_says_what_the_table_says(year):
    """``FilingStore.counts`` (per unit, category and topic; others read it) agrees with
    the table made from the per-task rows."""
    store, _ids = year
    got = {(r["unit"], r["category"], r["topic"]): tuple(r)[3:] for r in store.counts(YEAR)}
    assert got == {("energy", "", ""): (0, 1, 0, 1, 1), ("energy", "JX", ""): (5, 5, 2, 3, 2),
                   ("energy", "JX", TOPIC): (3, 1, 0, 1, 1), ("energy", "KY", ""): (2, 0, 0, 0, 0),
                   ("league", "DQ", ""): (4, 2, 1, 2, 1), ("league", "JX", TOPIC): (2, 2, 0, 2, 2)}
