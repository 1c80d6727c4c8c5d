"""Progress and rates of a year's filing (issue 13, item 5; 跟踪进度).

:func:`table` reads the year's figures from the filing store (:meth:`FilingStore.counts`,
one grouped query per (unit, category, topic), and one per task for the overdue list) and
adds them up: per unit × category, per topic (and per topic × unit), per category, per
unit, and the grand totals. The definitions are :mod:`services.filing.model`'s:

- ``filing_rate``  = ``accepted`` ÷ ``expected``              (立卷归档率)
- ``quality_rate`` = ``accepted_first_time`` ÷ ``accepted``   (安全合格率)

Either is ``None`` (JSON ``null``, "—" on pages) when its divisor is 0: a unit that was
expected to file nothing has no filing rate, not a rate of 0 % nor of 100 %. Rates are
never rounded here (a reader can recompute them from the counts and compare exactly);
pages and the report round them for display.

The rows are read with two queries (:meth:`FilingStore.task_figures`, per task;
:meth:`FilingStore.accepted_by_month`) and kept while the store is unchanged (its
``generation``), so that the dashboard, opened again and again, reads them once per change.

The goal is the archive's 98 % (:data:`GOAL`) for both rates. A task is **overdue** when
its due date has passed (the due day itself is still in time) and fewer items were
accepted than it expected; an overdue task that reached the goal (e.g. 99 of 100) is
marked so.

Items of a submission made without a task count under their unit with the category
``""`` (shown as "no task"). Withdrawn items count nowhere. ``units`` restricts the table
to some units (an officer's): every total is then the sum of those units only.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field

from services.filing.model import Topic, Unit
from services.filing.store import FilingStore, now_utc

GOAL = 0.98
COUNTS = ("expected", "submitted", "returned", "accepted", "accepted_first_time")
RATES = ("filing_rate", "quality_rate")
FIGURES = COUNTS + RATES  # the figures of every row, in the order of the report's columns


def ratio(num: int, den: int) -> float | None:
    """``num ÷ den``, or None when there is nothing to divide by."""
    return num / den if den else None


@dataclass
class Figures:
    """The counts of one row and the two rates made from them."""

    expected: int = 0
    submitted: int = 0
    returned: int = 0
    accepted: int = 0
    accepted_first_time: int = 0

    @property
    def filing_rate(self) -> float | None:
        return ratio(self.accepted, self.expected)

    @property
    def quality_rate(self) -> float | None:
        return ratio(self.accepted_first_time, self.accepted)

    @property
    def meets_goal(self) -> bool | None:
        """Both rates at the goal (None while there is no filing rate to judge)."""
        if self.filing_rate is None:
            return None
        return self.filing_rate >= GOAL and (self.quality_rate or 0.0) >= GOAL

    def add(self, other: Figures) -> None:
        self.expected += other.expected
        self.submitted += other.submitted
        self.returned += other.returned
        self.accepted += other.accepted
        self.accepted_first_time += other.accepted_first_time

    def as_dict(self) -> dict[str, int | float | None]:
        return {name: getattr(self, name) for name in FIGURES}


@dataclass
class Line:
    """One row of a table: a category (of a unit, or of all units), or a unit of a topic."""

    key: str  # the category code ("" for items sent without a task), or a unit code
    figures: Figures = field(default_factory=Figures)


@dataclass
class OverdueTask:
    task: int
    unit: str
    category: str
    topic: str
    title_zh: str
    title_en: str
    due: str
    expected: int
    submitted: int
    accepted: int

    @property
    def filing_rate(self) -> float | None:
        return ratio(self.accepted, self.expected)

    @property
    def meets_goal(self) -> bool:
        return (self.filing_rate or 0.0) >= GOAL

    def as_dict(self) -> dict[str, object]:
        return {"task": self.task, "unit": self.unit, "category": self.category,
                "topic": self.topic, "title_zh": self.title_zh, "title_en": self.title_en,
                "due": self.due, "expected": self.expected, "submitted": self.submitted,
                "accepted": self.accepted, "filing_rate": self.filing_rate,
                "meets_goal": self.meets_goal}


@dataclass
class UnitRow:
    """A filing unit's rows (one per category) and its totals."""

    unit: Unit
    categories: list[Line] = field(default_factory=list)
    totals: Figures = field(default_factory=Figures)
    overdue: int = 0  # overdue tasks

    def as_dict(self) -> dict[str, object]:
        return {"unit": self.unit.code, "name_zh": self.unit.name_zh,
                "name_en": self.unit.name_en,
                "categories": [{"category": c.key, **c.figures.as_dict()}
                               for c in self.categories],
                "totals": self.totals.as_dict(), "overdue": self.overdue}


@dataclass
class TopicRow:
    """A special topic: its units' rows and its totals."""

    topic: Topic
    units: list[Line] = field(default_factory=list)
    totals: Figures = field(default_factory=Figures)

    def as_dict(self) -> dict[str, object]:
        return {"topic": self.topic.id, "name_zh": self.topic.name_zh,
                "name_en": self.topic.name_en,
                "units": [{"unit": u.key, **u.figures.as_dict()} for u in self.units],
                "totals": self.totals.as_dict()}


@dataclass
class Report:
    """A year's progress: what :func:`table` returns and ``lantai filing report`` prints."""

    year: int
    today: str  # the day the overdue list was judged on
    units: list[UnitRow]
    topics: list[TopicRow]
    categories: list[Line]  # per category, all the units of the table together
    overdue: list[OverdueTask]
    totals: Figures
    months: list[tuple[str, int]]  # (YYYY-MM, items accepted that month)
    goal: float = GOAL

    def unit(self, code: str) -> UnitRow:
        for row in self.units:
            if row.unit.code == code:
                return row
        raise KeyError(code)

    def as_json(self) -> dict[str, object]:
        """The contract of ``lantai filing report --year Y --json`` (docs/filing.md)."""
        return {"year": self.year, "goal": self.goal, "today": self.today,
                "units": [u.as_dict() for u in self.units],
                "topics": [t.as_dict() for t in self.topics],
                "categories": [{"category": c.key, **c.figures.as_dict()}
                               for c in self.categories],
                "overdue": [o.as_dict() for o in self.overdue],
                "totals": self.totals.as_dict()}


def table(store: FilingStore, year: int, *, units: Collection[str] | None = None,
          today: dt.date | None = None) -> Report:
    """The year's figures (of ``units`` only, when given; every filing unit otherwise, each
    listed even when it has no task that year). The same report is given again while the
    store is unchanged (treat it as read-only)."""
    today = today or now_utc().date()
    key = (str(store.path), year, today.isoformat(),
           tuple(sorted(units)) if units is not None else None)
    generation = store.generation()
    with _cache_lock:
        found = _REPORTS.get(key)
        if found is not None and found[0] == generation:
            _REPORTS.move_to_end(key)
            return found[1]
    made = _table(store, year, units, today)
    with _cache_lock:
        _REPORTS[key] = (generation, made)
        _REPORTS.move_to_end(key)
        while len(_REPORTS) > _CACHE_SIZE:
            _REPORTS.popitem(last=False)
    return made


def _table(store: FilingStore, year: int, units: Collection[str] | None,
           today: dt.date) -> Report:
    wanted = set(units) if units is not None else None
    known = [u for u in store.units() if wanted is None or u.code in wanted]
    rows = {u.code: UnitRow(u) for u in known}
    by_cat: dict[tuple[str, str], Line] = {}
    by_topic: dict[str, dict[str, Line]] = {}
    categories: dict[str, Line] = {}
    totals = Figures()
    overdue = []
    per_task, per_month = _figures(store, year)
    for r in per_task:
        if r["unit"] not in rows:
            continue
        f = Figures(r["expected"], r["submitted"], r["returned"], r["accepted"],
                    r["accepted_first_time"])
        by_cat.setdefault((r["unit"], r["category"]), Line(r["category"])).figures.add(f)
        categories.setdefault(r["category"], Line(r["category"])).figures.add(f)
        if r["topic"]:
            by_topic.setdefault(r["topic"], {}).setdefault(r["unit"], Line(r["unit"])) \
                .figures.add(f)
        totals.add(f)
        if r["id"] is not None and r["due"] and r["due"] < today.isoformat() \
                and f.accepted < f.expected:
            overdue.append(OverdueTask(
                task=r["id"], unit=r["unit"], category=r["category"], topic=r["topic"],
                title_zh=r["title_zh"], title_en=r["title_en"], due=r["due"],
                expected=f.expected, submitted=f.submitted, accepted=f.accepted))
            rows[r["unit"]].overdue += 1
    for (code, _cat), line in sorted(by_cat.items(), key=lambda kv: (kv[0][0],
                                                                      _cat_order(kv[0][1]))):
        rows[code].categories.append(line)
        rows[code].totals.add(line.figures)
    overdue.sort(key=lambda o: (o.unit, o.due, o.task))
    names = {t.id: t for t in store.topics()}
    topics = []
    for topic_id in sorted(by_topic):
        row = TopicRow(names.get(topic_id) or Topic(id=topic_id, year=year, name_zh=topic_id))
        for code in sorted(by_topic[topic_id]):
            line = by_topic[topic_id][code]
            row.units.append(line)
            row.totals.add(line.figures)
        topics.append(row)
    months: dict[str, int] = {f"{year}-{m:02d}": 0 for m in range(1, 13)}
    for unit, month, n in per_month:
        if unit in rows:
            months[month] = months.get(month, 0) + n
    return Report(year=year, today=today.isoformat(), units=list(rows.values()),
                  topics=topics,
                  categories=sorted(categories.values(), key=lambda c: _cat_order(c.key)),
                  overdue=overdue, totals=totals, months=sorted(months.items()))


# The year's rows as read, per store and year, while the store has not changed since
# (:meth:`FilingStore.generation`: any commit by any connection changes it): the dashboard
# reads them again only after a change, and a change anywhere (a submission, a decision,
# a task) is seen at the next request.
_CACHE: OrderedDict[tuple[str, int], tuple[int, list[dict], list[tuple[str, str, int]]]] = \
    OrderedDict()
_CACHE_SIZE = 32
_cache_lock = threading.Lock()
# and the reports made from them (per store, year, day and units)
_REPORTS: OrderedDict[tuple[str, int, str, tuple[str, ...] | None], tuple[int, Report]] = \
    OrderedDict()


def _figures(store: FilingStore, year: int) -> tuple[list[dict], list[tuple[str, str, int]]]:
    """:meth:`FilingStore.task_figures` and :meth:`FilingStore.accepted_by_month` of
    ``year``, from the cache while the store is unchanged."""
    key = (str(store.path), year)
    generation = store.generation()
    with _cache_lock:
        found = _CACHE.get(key)
        if found is not None and found[0] == generation:
            _CACHE.move_to_end(key)
            return found[1], found[2]
    per_task = [dict(r) for r in store.task_figures(year)]
    per_month = [(r["unit"], r["month"], int(r["accepted"]))
                 for r in store.accepted_by_month(year)]
    with _cache_lock:
        _CACHE[key] = (generation, per_task, per_month)
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return per_task, per_month


def _cat_order(code: str) -> tuple[bool, str]:
    """Categories by code, items sent without a task last."""
    return (code == "", code)


__all__ = ["FIGURES", "GOAL", "Figures", "Line", "OverdueTask", "Report", "TopicRow",
           "UnitRow", "ratio", "table"]
