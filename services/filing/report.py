"""The year's figures for people: who may see which units, the command line's table, and
the year-end report (issue 13, item 5; 整改反馈).

Who sees what (:func:`scope`): an archivist (a site-wide Editor, Reviewer or Manager) every
unit; a filing officer the units they file for, and totals of those units only; anyone else
nothing (Forbidden).

The year-end report (:func:`gather`, then :func:`to_xlsx` or :func:`to_pdf`) says the same
in both formats: a summary (per unit, per category, per topic, all units), the overdue
tasks, a part per unit (its categories, topics and overdue tasks) and the rectification
list — every item of the year's submissions returned at least once, with every note, its
state now and its dates (withdrawn ones too: they were returned). Its words are read from
the catalogs in the report's language, which the caller chooses (``--lang``; the page's
language on the dashboard).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from publisher.i18n import UIText, ui_ptext
from repo.errors import Forbidden
from repo.repository import Repository
from repo.security import User
from services.filing import units as filing_units
from services.filing.model import Unit
from services.filing.rates import Figures, OverdueTask, Report
from services.filing.store import FilingStore, now_utc


def scope(repo: Repository, store: FilingStore, user: User) -> list[str] | None:
    """The unit codes ``user`` may see the figures of: None for every unit (an archivist),
    an officer's own units; Forbidden for anyone else."""
    if filing_units.is_archivist(user):
        return None
    mine = [u.code for u in filing_units.units_of(repo, store, user)]
    if not mine:
        raise Forbidden(f"{user.name} is neither an archivist nor a filing officer: the "
                        "filing figures are not for them")
    return mine


def percent(rate: float | None) -> str:
    """A rate for people: ``97.5 %``, or ``—`` when there is none (nothing to divide by)."""
    return "—" if rate is None else f"{rate * 100:.1f} %"


def _cells(f: Figures) -> str:
    return (f"{f.expected:>8} {f.submitted:>9} {f.returned:>8} {f.accepted:>8} "
            f"{f.accepted_first_time:>10} {percent(f.filing_rate):>9} "
            f"{percent(f.quality_rate):>9}")


def text_lines(table: Report) -> list[str]:
    """``lantai filing report`` without ``--json``: one line per unit and category, the
    unit's totals, the grand totals, the overdue tasks."""
    head = (f"{'unit':<16} {'category':<9} {'expected':>8} {'submitted':>9} "
            f"{'returned':>8} {'accepted':>8} {'first time':>10} {'filing':>9} "
            f"{'quality':>9}")
    lines = [f"Filing {table.year} (goal {percent(table.goal)}; overdue as of {table.today})",
             head]
    for row in table.units:
        for line in row.categories:
            lines.append(f"{row.unit.code:<16} {line.key or '(no task)':<9} "
                         f"{_cells(line.figures)}")
        lines.append(f"{row.unit.code:<16} {'total':<9} {_cells(row.totals)}"
                     f"{'  overdue ' + str(row.overdue) if row.overdue else ''}")
    lines.append(f"{'all units':<16} {'total':<9} {_cells(table.totals)}")
    for t in table.overdue:
        goal = " (goal reached)" if t.meets_goal else ""
        lines.append(f"overdue: {t.unit} task {t.task} {t.category} {t.title_zh} due {t.due}: "
                     f"{t.accepted} of {t.expected} accepted{goal}")
    return lines


# ---------------------------------------------------------------------- the year-end report
# The report's words, read from the catalogs in the report's language (not the browser's: a
# report is made for its reader), a context keeping them apart from the pages' words.
WORDS: dict[str, UIText] = {
    "title": ui_ptext("filing report", "Filing report %(year)s"),
    "made": ui_ptext("filing report", "Made on %(date)s; overdue tasks as of %(today)s; "
                     "the goal is %(goal)s for both rates."),
    "scope": ui_ptext("filing report", "Units: %(units)s"),
    "all_units": ui_ptext("filing report", "all filing units"),
    "summary": ui_ptext("filing report", "Summary"),
    "units": ui_ptext("filing report", "Units"),
    "by_category": ui_ptext("filing report", "By category"),
    "by_topic": ui_ptext("filing report", "Special topics"),
    "overdue": ui_ptext("filing report", "Overdue tasks"),
    "rectification": ui_ptext("filing report", "Rectification list"),
    "rectification_hint": ui_ptext(
        "filing report", "Every item of the year's submissions returned at least once, "
        "with the archive's notes, its state now and its dates."),
    "unit": ui_ptext("filing report", "Unit"),
    "category": ui_ptext("filing report", "Category"),
    "topic": ui_ptext("filing report", "Topic"),
    "no_task": ui_ptext("filing report", "No task"),
    "total": ui_ptext("filing report", "Total"),
    "all": ui_ptext("filing report", "All units"),
    "expected": ui_ptext("filing report", "Expected"),
    "submitted": ui_ptext("filing report", "Submitted"),
    "returned": ui_ptext("filing report", "Returned"),
    "accepted": ui_ptext("filing report", "Accepted"),
    "accepted_first_time": ui_ptext("filing report", "Accepted first time"),
    "filing_rate": ui_ptext("filing report", "Filing rate"),
    "quality_rate": ui_ptext("filing report", "Quality rate"),
    "overdue_count": ui_ptext("filing report", "Overdue"),
    "goal": ui_ptext("filing report", "Goal"),
    "met": ui_ptext("filing report", "met"),
    "not_met": ui_ptext("filing report", "not met"),
    "task": ui_ptext("filing report", "Task"),
    "what": ui_ptext("filing report", "What"),
    "due": ui_ptext("filing report", "Due"),
    "submission": ui_ptext("filing report", "Submission"),
    "row": ui_ptext("filing report", "Row"),
    "item_title": ui_ptext("filing report", "Item"),
    "sent": ui_ptext("filing report", "Sent"),
    "returned_at": ui_ptext("filing report", "Returned on"),
    "times": ui_ptext("filing report", "Times returned"),
    "note": ui_ptext("filing report", "Rectification note"),
    "state": ui_ptext("filing report", "State"),
    "resubmitted": ui_ptext("filing report", "Sent again"),
    "decided": ui_ptext("filing report", "Decided"),
    "refcode": ui_ptext("filing report", "Reference code"),
    "none": ui_ptext("filing report", "None."),
    "page": ui_ptext("filing report", "Page %(n)s of %(total)s"),
    "state_received": ui_ptext("filing report", "received"),
    "state_returned": ui_ptext("filing report", "returned"),
    "state_accepted": ui_ptext("filing report", "accepted"),
    "state_withdrawn": ui_ptext("filing report", "withdrawn"),
}
# the columns of every figures table, in order (the contract's names)
COLUMNS = ("expected", "submitted", "returned", "accepted", "accepted_first_time",
           "filing_rate", "quality_rate")
NOTE_LIMIT = 2000  # characters of one rectification note in the report (the rest: "…")


@dataclass
class Rectification:
    """One returned item of the year, as the rectification list shows it."""

    unit: str
    submission: str
    row: int
    item: int
    category: str
    title: str
    sent: str  # the submission's time
    returns: list[tuple[str, str]]  # (when, note) of every return, in order
    state: str
    resubmitted: str  # the last time it was sent again, or ""
    decided: str  # when it was accepted or withdrawn, or ""
    refcode: str


@dataclass
class Content:
    """What the year-end report says, in one language: the figures (:func:`rates.table`),
    the rectification list, the words and the labels."""

    table: Report
    rectifications: list[Rectification]
    lang: str
    made: str  # YYYY-MM-DD
    scoped: bool  # some units only (an officer's report)
    words: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)  # code → label

    def unit_name(self, unit: Unit) -> str:
        if self.lang == "en":
            return unit.name_en or unit.name_zh
        return unit.name_zh or unit.name_en

    def category(self, code: str) -> str:
        if not code:
            return self.words["no_task"]
        label = self.categories.get(code)
        return f"{code} {label}" if label else code

    def state(self, code: str) -> str:
        return self.words.get(f"state_{code}", code)


def rectifications(store: FilingStore, year: int, *,
                   units: Collection[str] | None = None, lang: str = "zh") -> list[Rectification]:
    """Every item of ``year``'s submissions returned at least once (of ``units`` only, when
    given), with every return's note and date, its state now, when it was sent again and
    when it was decided."""
    wanted = set(units) if units is not None else None
    found = []
    for item, row, steps in store.returned_items(year):
        if wanted is not None and row["sub_unit"] not in wanted:
            continue
        returns = [(s.at, s.note) for s in steps if s.action == "returned"]
        again = [s.at for s in steps if s.action == "resubmitted"]
        decided = [s.at for s in steps if s.action in ("accepted", "withdrawn")]
        found.append(Rectification(
            unit=row["sub_unit"], submission=item.submission, row=item.row, item=item.id,
            category=row["sub_category"], title=item_title(item.fields, lang),
            sent=row["sub_created"], returns=returns, state=item.state,
            resubmitted=again[-1] if again else "", decided=decided[-1] if decided else "",
            refcode=item.refcode))
    return found


def item_title(fields: dict[str, list[str]], lang: str) -> str:
    """The item's title in ``lang`` if it has one, else in the other language, else ``""``."""
    order = ("title@en", "title@zh", "title") if lang == "en" else ("title@zh", "title@en",
                                                                    "title")
    for name in order:
        values = fields.get(name) or []
        if values and str(values[0]).strip():
            return str(values[0])
    return ""


def gather(store: FilingStore, table: Report, *, lang: str = "zh",
           units: Collection[str] | None = None, made: dt.date | None = None) -> Content:
    """Everything the year-end report says, in ``lang``."""
    from ontology.profile import vocabulary_codes

    lang = lang if lang in ("zh", "en") else "zh"
    labels = vocabulary_codes().get("category", {})
    return Content(table=table, rectifications=rectifications(store, table.year, units=units,
                                                              lang=lang),
                   lang=lang, made=(made or now_utc().date()).isoformat(),
                   scoped=units is not None,
                   words={k: w.in_lang(lang) for k, w in WORDS.items()},
                   categories={code: names.get(lang) or names.get("zh") or ""
                               for code, names in labels.items()})


def day(iso: str) -> str:
    """``2026-03-21T09:00:00Z`` → ``2026-03-21`` (the report shows days)."""
    return iso[:10]


def bounded(text: str, limit: int = NOTE_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def figure_cells(f: Figures) -> list[int | float | None]:
    return [getattr(f, name) for name in COLUMNS]


def goal_word(content: Content, f: Figures) -> str:
    met = f.meets_goal
    return "—" if met is None else content.words["met" if met else "not_met"]


def heading_cells(content: Content, first: list[str], after: Sequence[str] = ()) -> list[str]:
    """A figures table's headings: ``first``, the seven figures, ``after``."""
    return [*first, *(content.words[c] for c in COLUMNS), *after]


def summary_rows(content: Content) -> list[list[object]]:
    """The summary's units table: a row per unit, then all units."""
    w = content.words
    rows: list[list[object]] = []
    for u in content.table.units:
        rows.append([u.unit.code, content.unit_name(u.unit), *figure_cells(u.totals),
                     u.overdue, goal_word(content, u.totals)])
    t = content.table
    rows.append(["", w["all"], *figure_cells(t.totals), len(t.overdue),
                 goal_word(content, t.totals)])
    return rows


def rectification_rows(content: Content) -> list[list[object]]:
    names = {u.unit.code: content.unit_name(u.unit) for u in content.table.units}
    rows: list[list[object]] = []
    for r in content.rectifications:
        rows.append([names.get(r.unit, r.unit), r.submission, r.row, r.title,
                     content.category(r.category), day(r.sent),
                     "\n".join(day(at) for at, _ in r.returns), len(r.returns),
                     "\n".join(bounded(note) for _, note in r.returns),
                     content.state(r.state), day(r.resubmitted), day(r.decided), r.refcode])
    return rows


def rectification_headings(content: Content) -> list[str]:
    w = content.words
    return [w["unit"], w["submission"], w["row"], w["item_title"], w["category"], w["sent"],
            w["returned_at"], w["times"], w["note"], w["state"], w["resubmitted"],
            w["decided"], w["refcode"]]


def overdue_rows(content: Content, tasks: list[OverdueTask]) -> list[list[object]]:
    names = {u.unit.code: content.unit_name(u.unit) for u in content.table.units}
    return [[names.get(t.unit, t.unit), t.task, content.category(t.category),
             (t.title_en or t.title_zh) if content.lang == "en" else (t.title_zh or t.title_en),
             t.due, t.expected, t.submitted, t.accepted, t.filing_rate,
             content.words["met" if t.meets_goal else "not_met"]] for t in tasks]


def overdue_headings(content: Content) -> list[str]:
    w = content.words
    return [w["unit"], w["task"], w["category"], w["what"], w["due"], w["expected"],
            w["submitted"], w["accepted"], w["filing_rate"], w["goal"]]


def title(content: Content) -> str:
    return content.words["title"] % {"year": content.table.year}


def made_line(content: Content) -> str:
    return content.words["made"] % {"date": content.made, "today": content.table.today,
                                    "goal": percent(content.table.goal)}


def scope_line(content: Content) -> str:
    names = ", ".join(content.unit_name(u.unit) for u in content.table.units)
    return content.words["scope"] % {
        "units": names if content.scoped else content.words["all_units"]}


def to_xlsx(content: Content) -> bytes:
    """The report as a workbook (:mod:`services.filing.report_xlsx`)."""
    from services.filing import report_xlsx

    return report_xlsx.build(content)


def to_pdf(content: Content) -> bytes:
    """The report as a PDF, A4 landscape (:mod:`services.filing.report_pdf`)."""
    from services.filing import report_pdf

    return report_pdf.build(content)
