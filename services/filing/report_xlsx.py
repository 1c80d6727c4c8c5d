"""The year-end report as an XLSX workbook (openpyxl): a summary sheet (units, categories,
topics, all units), the overdue tasks, a sheet per unit, and the rectification list.

Every text a unit or an officer wrote (titles, notes) is written as a string cell, never a
formula: openpyxl makes any string that starts with ``=`` a formula, so such cells are typed
back to strings, and characters XML cannot hold are dropped. Rates are numbers formatted as
percentages; a rate without a divisor is the text "—".
"""

from __future__ import annotations

import io
import re
from collections.abc import Collection, Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from services.filing.rates import UnitRow
from services.filing.report import (
    Content,
    figure_cells,
    goal_word,
    heading_cells,
    made_line,
    overdue_headings,
    overdue_rows,
    rectification_headings,
    rectification_rows,
    scope_line,
    summary_rows,
    title,
)

BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="EBEBEB")
RATE_FORMAT = "0.0%"
RATE_COLUMNS = frozenset({"filing_rate", "quality_rate"})
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def build(content: Content) -> bytes:
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = _sheet_name(content.words["summary"], set())
    used = {summary.title}
    _summary(summary, content)
    overdue = wb.create_sheet(_sheet_name(content.words["overdue"], used))
    used.add(overdue.title)
    _heading(overdue, 1, content.words["overdue"])
    _table(overdue, 2, overdue_headings(content), overdue_rows(content, content.table.overdue),
           rate_cols={9})
    rect = wb.create_sheet(_sheet_name(content.words["rectification"], used))
    used.add(rect.title)
    _heading(rect, 1, content.words["rectification"])
    _put(rect, 2, 1, content.words["rectification_hint"])
    _table(rect, 3, rectification_headings(content), rectification_rows(content))
    for u in content.table.units:
        ws = wb.create_sheet(_sheet_name(u.unit.code, used))
        used.add(ws.title)
        _unit(ws, content, u)
    for ws in wb.worksheets:
        _widths(ws)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _summary(ws: Worksheet, content: Content) -> None:
    w = content.words
    _heading(ws, 1, title(content))
    _put(ws, 2, 1, made_line(content))
    _put(ws, 3, 1, scope_line(content))
    row = 5
    _heading(ws, row, w["units"])
    headings = heading_cells(content, [w["unit"], ""], [w["overdue_count"], w["goal"]])
    row = _table(ws, row + 1, headings, summary_rows(content), rate_cols={8, 9},
                 total_last=True) + 1
    _heading(ws, row, w["by_category"])
    rows = [[content.category(c.key), *figure_cells(c.figures), goal_word(content, c.figures)]
            for c in content.table.categories]
    row = _table(ws, row + 1, [*heading_cells(content, [w["category"]]), w["goal"]], rows,
                 rate_cols={7, 8}) + 1
    _heading(ws, row, w["by_topic"])
    rows = []
    for t in content.table.topics:
        name = (t.topic.name_en or t.topic.name_zh) if content.lang == "en" \
            else (t.topic.name_zh or t.topic.name_en)
        rows.append([name, w["all"], *figure_cells(t.totals), goal_word(content, t.totals)])
        for line in t.units:
            rows.append(["", _unit_name(content, line.key), *figure_cells(line.figures),
                         goal_word(content, line.figures)])
    _table(ws, row + 1, [*heading_cells(content, [w["topic"], w["unit"]]), w["goal"]], rows,
           rate_cols={8, 9})


def _unit(ws: Worksheet, content: Content, u: UnitRow) -> None:
    w = content.words
    _heading(ws, 1, f"{content.unit_name(u.unit)} ({u.unit.code})")
    _put(ws, 2, 1, title(content))
    rows = [[content.category(c.key), *figure_cells(c.figures), goal_word(content, c.figures)]
            for c in u.categories]
    rows.append([w["total"], *figure_cells(u.totals), goal_word(content, u.totals)])
    row = _table(ws, 4, [*heading_cells(content, [w["category"]]), w["goal"]], rows,
                 rate_cols={7, 8}, total_last=True) + 1
    mine = [t for t in content.table.overdue if t.unit == u.unit.code]
    _heading(ws, row, w["overdue"])
    row = _table(ws, row + 1, overdue_headings(content), overdue_rows(content, mine),
                 rate_cols={9}) + 1
    topics = [(t, line) for t in content.table.topics for line in t.units
              if line.key == u.unit.code]
    _heading(ws, row, w["by_topic"])
    rows = [[(t.topic.name_en or t.topic.name_zh) if content.lang == "en"
             else (t.topic.name_zh or t.topic.name_en), *figure_cells(line.figures),
             goal_word(content, line.figures)] for t, line in topics]
    _table(ws, row + 1, [*heading_cells(content, [w["topic"]]), w["goal"]], rows,
           rate_cols={7, 8})


def _unit_name(content: Content, code: str) -> str:
    for u in content.table.units:
        if u.unit.code == code:
            return content.unit_name(u.unit)
    return code


def _table(ws: Worksheet, row: int, headings: list[str], rows: Sequence[Sequence[object]], *,
           rate_cols: Collection[int] = (), total_last: bool = False) -> int:
    """Headings and rows from ``row``; 1-based ``rate_cols`` are rates. The next free row."""
    for col, text in enumerate(headings, 1):
        cell = _put(ws, row, col, text)
        cell.font, cell.fill = BOLD, HEAD_FILL
    if not rows:
        _put(ws, row + 1, 1, "—")
        return row + 2
    for n, values in enumerate(rows, 1):
        for col, value in enumerate(values, 1):
            cell = _put(ws, row + n, col, value, rate=col in rate_cols)
            if total_last and n == len(rows):
                cell.font = BOLD
    return row + len(rows) + 1


def _heading(ws: Worksheet, row: int, text: str) -> None:
    _put(ws, row, 1, text).font = Font(bold=True, size=13)


def _put(ws: Worksheet, row: int, col: int, value: object, *, rate: bool = False):
    """One cell: numbers as numbers, rates as percentages ("—" without one), any text as a
    string cell (never a formula)."""
    if rate and (value is None or isinstance(value, float | int)):
        if value is None:
            cell = ws.cell(row=row, column=col, value="—")
            cell.alignment = Alignment(horizontal="right")
            return cell
        cell = ws.cell(row=row, column=col, value=float(value))
        cell.number_format = RATE_FORMAT
        return cell
    if value is None:
        return ws.cell(row=row, column=col, value="")
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
        cell = ws.cell(row=row, column=col, value=text)
        cell.data_type = "s"  # a leading "=" made it a formula: it is what they wrote
        if "\n" in text:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        return cell
    return ws.cell(row=row, column=col, value=value)


def _widths(ws: Worksheet) -> None:
    """Columns as wide as their longest line (CJK characters count double), bounded."""
    widths: dict[int, float] = {}
    for row in ws.iter_rows(min_row=4):
        for cell in row:
            if cell.value is None or not isinstance(cell.column, int):
                continue
            longest = max((sum(2 if ord(ch) > 0x2E80 else 1 for ch in line)
                           for line in str(cell.value).split("\n")), default=0)
            widths[cell.column] = max(widths.get(cell.column, 0), longest)
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(max(width + 2, 8), 60)


def _sheet_name(name: str, used: set[str]) -> str:
    """A sheet title Excel accepts (31 characters, none of ``[]:*?/\\``), unique."""
    base = _SHEET_BAD.sub("-", name).strip("'")[:31] or "Sheet"
    candidate, n = base, 2
    while candidate.lower() in {u.lower() for u in used}:
        suffix = f"~{n}"
        candidate, n = base[:31 - len(suffix)] + suffix, n + 1
    return candidate


__all__ = ["build"]
