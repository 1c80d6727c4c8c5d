"""The year-end report as a PDF (fpdf2): A4 landscape, the same content as the workbook —
summary, overdue tasks, a part per unit, the rectification list — in tables that fit the
page's width (they break across pages with their headings repeated).

The Chinese font is the certified copies' (:mod:`services.requests.fonts`: Noto CJK, the
reduced cut when it is made, the full font when the text has a character the cut lacks).
Cells wrap by character, not by word: Chinese has no spaces to break at.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from repo.errors import LantaiError
from services.filing.rates import UnitRow
from services.filing.report import (
    Content,
    figure_cells,
    goal_word,
    heading_cells,
    made_line,
    overdue_headings,
    overdue_rows,
    percent,
    rectification_headings,
    rectification_rows,
    scope_line,
    summary_rows,
    title,
)
from services.requests import fonts

FAMILY = fonts.FAMILY
CREATOR = "Lantai filing report (fpdf2)"
WIDTH = 277.0  # A4 landscape less 10 mm margins
# column widths (mm) of each table; each sums to WIDTH
UNITS = (88.0, *([21.0] * 9))
CATEGORIES = (88.0, *([23.625] * 8))
TOPICS = (60.0, 60.0, *([19.625] * 8))
OVERDUE = (50.0, 14.0, 30.0, 60.0, 24.0, 18.0, 18.0, 18.0, 22.0, 23.0)
RECTIFICATION = (26.0, 29.0, 9.0, 30.0, 18.0, 19.0, 19.0, 11.0, 40.0, 15.0, 19.0, 19.0, 23.0)


def build(content: Content) -> bytes:
    """The PDF, laid out with the fastest font that has every character of the text."""
    for source in fonts.sources():
        pdf, font = _layout(content, source)
        try:
            if not font.missing_glyphs or source == fonts.font_file():
                return bytes(pdf.output())
        finally:
            font.ttfont.close()
    raise LantaiError("no font to lay out the report with")  # the full font is always last


def _layout(content: Content, source: tuple[Path, int]) -> tuple[Any, Any]:
    from fpdf import FPDF

    page_word = content.words["page"]

    class Document(FPDF):
        def footer(self) -> None:
            self.set_y(-9)
            self.set_font(FAMILY, size=7)
            self.cell(0, 4, f"{title(content)} · " + page_word % {
                "n": self.page_no(), "total": "{nb}"}, align="C")

    pdf = Document(orientation="L", unit="mm", format="A4")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(True, margin=12)
    font = fonts.add_font(pdf, source)
    pdf.set_lang(content.lang)
    pdf.set_title(title(content))
    pdf.set_creator(CREATOR)
    pdf.set_producer(CREATOR)
    w = content.words

    pdf.add_page()
    pdf.set_font(FAMILY, size=16)
    pdf.cell(0, 9, title(content), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    pdf.multi_cell(0, 5, made_line(content), new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, scope_line(content), new_x="LMARGIN", new_y="NEXT")

    _section(pdf, w["units"])
    _table(pdf, UNITS, [*heading_cells(content, [w["unit"]]), w["overdue_count"], w["goal"]],
           [[f"{code} {name}".strip(), *rest] for code, name, *rest in summary_rows(content)],
           rates={6, 7}, bold_last=True)
    _section(pdf, w["by_category"])
    _table(pdf, CATEGORIES, [*heading_cells(content, [w["category"]]), w["goal"]],
           [[content.category(c.key), *figure_cells(c.figures), goal_word(content, c.figures)]
            for c in content.table.categories], rates={6, 7})
    _section(pdf, w["by_topic"])
    rows: list[list[object]] = []
    for t in content.table.topics:
        rows.append([_topic_name(content, t.topic.name_zh, t.topic.name_en), w["all"],
                     *figure_cells(t.totals), goal_word(content, t.totals)])
        names = {u.unit.code: content.unit_name(u.unit) for u in content.table.units}
        for line in t.units:
            rows.append(["", names.get(line.key, line.key), *figure_cells(line.figures),
                         goal_word(content, line.figures)])
    _table(pdf, TOPICS, [*heading_cells(content, [w["topic"], w["unit"]]), w["goal"]], rows,
           rates={7, 8})
    _section(pdf, w["overdue"])
    _table(pdf, OVERDUE, overdue_headings(content),
           overdue_rows(content, content.table.overdue), rates={8})

    for u in content.table.units:
        _unit(pdf, content, u)

    pdf.add_page()
    _section(pdf, w["rectification"])
    pdf.set_font(FAMILY, size=8)
    pdf.multi_cell(0, 4.5, w["rectification_hint"], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    _table(pdf, RECTIFICATION, rectification_headings(content), rectification_rows(content),
           size=6.5)
    return pdf, font


def _unit(pdf: Any, content: Content, u: UnitRow) -> None:
    w = content.words
    _section(pdf, f"{content.unit_name(u.unit)} ({u.unit.code})", size=11)
    rows = [[content.category(c.key), *figure_cells(c.figures), goal_word(content, c.figures)]
            for c in u.categories]
    rows.append([w["total"], *figure_cells(u.totals), goal_word(content, u.totals)])
    _table(pdf, CATEGORIES, [*heading_cells(content, [w["category"]]), w["goal"]], rows,
           rates={6, 7}, bold_last=True)
    mine = [t for t in content.table.overdue if t.unit == u.unit.code]
    if mine:
        pdf.set_font(FAMILY, size=9)
        pdf.cell(0, 6, w["overdue"], new_x="LMARGIN", new_y="NEXT")
        _table(pdf, OVERDUE, overdue_headings(content), overdue_rows(content, mine), rates={8})
    topics = [(t, line) for t in content.table.topics for line in t.units
              if line.key == u.unit.code]
    if topics:
        pdf.set_font(FAMILY, size=9)
        pdf.cell(0, 6, w["by_topic"], new_x="LMARGIN", new_y="NEXT")
        _table(pdf, CATEGORIES, [*heading_cells(content, [w["topic"]]), w["goal"]],
               [[_topic_name(content, t.topic.name_zh, t.topic.name_en),
                 *figure_cells(line.figures), goal_word(content, line.figures)]
                for t, line in topics], rates={6, 7})


def _topic_name(content: Content, zh: str, en: str) -> str:
    return (en or zh) if content.lang == "en" else (zh or en)


def _section(pdf: Any, text: str, *, size: float = 12) -> None:
    pdf.ln(3)
    if pdf.get_y() > pdf.h - 40:  # a heading never alone at the foot of a page
        pdf.add_page()
    pdf.set_font(FAMILY, size=size)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")


def _table(pdf: Any, widths: Sequence[float], headings: list[str],
           rows: Sequence[Sequence[object]], *, rates: set[int] | frozenset[int] = frozenset(),
           bold_last: bool = False, size: float = 7.5) -> None:
    """A table the width of the page; 0-based ``rates`` columns are rates ("—" for none)."""
    from fpdf.enums import WrapMode
    from fpdf.fonts import FontFace

    assert len(widths) == len(headings) and abs(sum(widths) - WIDTH) < 0.01, headings
    pdf.set_font(FAMILY, size=size)
    if not rows:
        rows = [["—", *([""] * (len(headings) - 1))]]
    with pdf.table(col_widths=widths, width=WIDTH, align="LEFT", line_height=size * 0.55,
                   first_row_as_headings=True, text_align="LEFT", wrapmode=WrapMode.CHAR,
                   headings_style=FontFace(emphasis="", fill_color=(235, 235, 235)),
                   padding=0.8) as table:
        table.row(headings)
        for n, values in enumerate(rows, 1):
            style = FontFace(fill_color=(245, 245, 245)) if bold_last and n == len(rows) \
                else None
            table.row([_text(v, rate=i in rates) for i, v in enumerate(values)], style=style)
    pdf.ln(2)


def _text(value: object, *, rate: bool = False) -> str:
    if rate and (value is None or isinstance(value, float | int)):
        return percent(None if value is None else float(value))
    return "" if value is None else str(value)


__all__ = ["build"]
