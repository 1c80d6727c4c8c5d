"""The year's figures for people: who may see which units, the command line's table, and
the year-end report (issue 13, item 5; 整改反馈).

Who sees what (:func:`scope`): an archivist (a site-wide Editor, Reviewer or Manager) every
unit; a filing officer the units they file for, and totals of those units only; anyone else
nothing (Forbidden).
"""

from __future__ import annotations

from repo.errors import Forbidden
from repo.repository import Repository
from repo.security import User
from services.filing import units as filing_units
from services.filing.rates import Figures, Report
from services.filing.store import FilingStore


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
