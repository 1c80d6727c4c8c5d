"""The director's dashboard of the filing loop (``/staff/filing/``; issue 13, item 5): a
year's progress and rates per unit (colour against the 98 % goal, overdue tasks), per
category and special topic, charts, a year switch, and the year-end report's downloads
(``/staff/filing/report.xlsx``, ``/staff/filing/report.pdf``).

Who sees what (:func:`services.filing.report.scope`): archivists (site-wide Editor,
Reviewer, Manager) every unit; a filing officer only the rows of the units they file for,
with totals of those units only (the figures of other units are not theirs to see); anyone
else 403. The same rule holds for the downloads and for ``lantai filing report``.

The figures are :func:`services.filing.rates.table`'s (a few grouped SQL queries); the page
links each unit to its page (the officer's unit page) and, for archivists, to its items in
the receiving queue. The charts are drawn by ECharts (npm, ``/staff/static/vendor/``) in
``services/filing/static/dashboard.js`` from a ``<script type="application/json">`` block;
the workspace's Content-Security-Policy allows no inline script or style.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from flask_babel import gettext as _
from werkzeug.routing import BuildError

import services.filing as package
from publisher.i18n import lang as current_lang
from repo.errors import Forbidden, Invalid
from repo.repository import Repository
from repo.security import User
from services.filing import rates, report, units
from services.filing.store import now_utc
from staff import web

bp = Blueprint("filing_dashboard", __name__, url_prefix="/filing", template_folder="templates",
               static_folder="static", static_url_path="/dashboard-static")

YEARS = (1900, 2200)
OVERDUE_SHOWN = 200  # overdue tasks listed on the page (the report lists them all)
NEAR = 0.90  # below the goal but close: amber, not red


web.MENU_FOR["staff.filing_dashboard.home"] = units.is_archivist


def viewer() -> tuple[list[str] | None, bool]:
    """The units the signed-in user may see the figures of (None: every unit) and whether
    they are an archivist; 403 for anyone else."""
    store = package.store(current_app)

    def run(repo: Repository, user: User) -> tuple[list[str] | None, bool]:
        try:
            return report.scope(repo, store, user), units.is_archivist(user)
        except Forbidden:
            raise Forbidden(_("The filing dashboard is for archivists and filing "
                              "officers.")) from None
    return web.reading(run)


def chosen_year() -> int:
    """``?year=YYYY`` (this year by default)."""
    text = request.args.get("year", "").strip()
    if not text:
        return now_utc().year
    if not (text.isascii() and text.isdigit() and len(text) == 4) \
            or not YEARS[0] <= int(text) <= YEARS[1]:
        raise Invalid(_("Year: a year as YYYY, from %(first)s to %(last)s.",
                        first=YEARS[0], last=YEARS[1]))
    return int(text)


def chosen_lang() -> str:
    """The report's language: ``?lang=`` if given, else the page's."""
    want = request.args.get("lang", "") or current_lang()
    return want if want in ("zh", "en") else "zh"


def rate_class(rate: float | None) -> str:
    """The colour of a rate against the goal (with a word beside it: never colour alone)."""
    if rate is None:
        return "rate-none"
    if rate >= rates.GOAL:
        return "rate-goal"
    return "rate-near" if rate >= NEAR else "rate-low"


Cell = tuple[str, str]  # (text, CSS class)
PLACE = "UNITCODE0PLACE"  # a unit code's place in a URL built once for all units


def per_unit(codes: Iterable[str], endpoint: str, **args: Any) -> dict[str, str | None]:
    """One URL per unit code, built once (``url_for`` 400 times was a fifth of the page's
    time); unit codes are letters, digits and ``-``: the same in a path and a query."""
    pattern = endpoint_url(endpoint, **args)
    return {code: pattern.replace(PLACE, code) if pattern else None for code in codes}


def figure_cells(f: rates.Figures, goal_words: tuple[str, str]) -> list[Cell]:
    """A row's figures as the page shows them: the counts, the rates coloured, and (last)
    the goal met or not. Made here, not by template macros: 600 rows of macros cost more
    than the figures' queries."""
    met = f.meets_goal
    return [(str(f.expected), ""), (str(f.submitted), ""), (str(f.returned), ""),
            (str(f.accepted), ""), (str(f.accepted_first_time), ""),
            (report.percent(f.filing_rate), "rate " + rate_class(f.filing_rate)),
            (report.percent(f.quality_rate), "rate " + rate_class(f.quality_rate)),
            ("—", "goal") if met is None else
            (goal_words[0], "goal goal-met") if met else (goal_words[1], "goal goal-missed")]


def endpoint_url(endpoint: str, **args: Any) -> str | None:
    """The URL of another part's page, or None while that part is not there."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **args)
    except BuildError:
        return None


def chart_data(table: rates.Report, names: dict[str, str],
               labels: dict[str, str]) -> dict[str, object]:
    """What the charts draw: rates in percent (null: none), counts as they are."""
    def pct(rate: float | None) -> float | None:
        return None if rate is None else round(rate * 100, 1)

    return {
        "goal": round(table.goal * 100, 1),
        "units": {"labels": [names[u.unit.code] for u in table.units],
                  "filing": [pct(u.totals.filing_rate) for u in table.units],
                  "quality": [pct(u.totals.quality_rate) for u in table.units]},
        "categories": {"labels": [labels.get(c.key, c.key) if c.key else _("No task")
                                  for c in table.categories],
                       "expected": [c.figures.expected for c in table.categories],
                       "submitted": [c.figures.submitted for c in table.categories],
                       "accepted": [c.figures.accepted for c in table.categories]},
        "months": {"labels": [m for m, _n in table.months],
                   "values": [n for _m, n in table.months]},
        "titles": {"filing": _("Filing rate"), "quality": _("Quality rate"),
                   "goal": _("Goal"), "expected": _("Expected"),
                   "submitted": _("Submitted"), "accepted": _("Accepted"),
                   "months": _("Items accepted")},
    }


@bp.get("/")
def home() -> Response:
    scope, archivist = viewer()
    year = chosen_year()
    store = package.store(current_app)
    table = rates.table(store, year, units=scope)
    lang = current_lang()
    from ontology.profile import vocabulary_codes

    labels = {code: f"{code} {names.get(lang) or names.get('zh', '')}".strip()
              for code, names in vocabulary_codes().get("category", {}).items()}
    names = {u.unit.code: (u.unit.name_en or u.unit.name_zh) if lang == "en"
             else (u.unit.name_zh or u.unit.name_en) for u in table.units}
    topic_names = {t.topic.id: (t.topic.name_en or t.topic.name_zh) if lang == "en"
                   else (t.topic.name_zh or t.topic.name_en) for t in table.topics}
    years = sorted({p.year for p in store.plans()} | {now_utc().year, year}, reverse=True)
    unit_urls = per_unit(names, "staff.filing_officer.unit", code=PLACE, year=year)
    queue_urls = per_unit(names, "staff.filing_receiving.queue", year=year, unit=PLACE,
                          state="received") if archivist else dict.fromkeys(names)
    words = (_("met"), _("not met"))
    unit_rows = [{"code": u.unit.code, "name": names[u.unit.code],
                  "url": unit_urls[u.unit.code], "queue": queue_urls[u.unit.code],
                  "overdue": u.overdue, "cells": figure_cells(u.totals, words)}
                 for u in table.units]
    category_rows = [(c.key, labels.get(c.key, c.key) if c.key else _("No task"),
                      figure_cells(c.figures, words)) for c in table.categories]
    topic_rows = []
    for t in table.topics:
        topic_rows.append((t.topic.id, topic_names[t.topic.id], "", _("All units"),
                           figure_cells(t.totals, words)))
        topic_rows += [(t.topic.id, "", line.key, names.get(line.key, line.key),
                        figure_cells(line.figures, words)) for line in t.units]
    return web.render(
        "filing/dashboard.html", table=table, year=year, years=years, names=names,
        unit_rows=unit_rows, category_rows=category_rows, topic_rows=topic_rows,
        total_cells=figure_cells(table.totals, words), goal_words=words,
        labels=labels, topic_names=topic_names, unit_urls=unit_urls, queue_urls=queue_urls,
        queue_url=endpoint_url("staff.filing_receiving.queue", year=year) if archivist
        else None,
        archivist=archivist, scoped=scope is not None, percent=report.percent,
        rate_class=rate_class, overdue=table.overdue[:OVERDUE_SHOWN],
        overdue_more=max(0, len(table.overdue) - OVERDUE_SHOWN),
        charts=chart_data(table, names, labels))


def _report(fmt: str) -> Response:
    scope, _archivist = viewer()
    year = chosen_year()
    store = package.store(current_app)
    table = rates.table(store, year, units=scope)
    content = report.gather(store, table, lang=chosen_lang(), units=scope)
    if fmt == "xlsx":
        body = report.to_xlsx(content)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = report.to_pdf(content)
        mimetype = "application/pdf"
    made = dt.date.fromisoformat(content.made).strftime("%Y%m%d")
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="filing-report-{year}-{made}.{fmt}"'})


@bp.get("/report.xlsx")
def report_xlsx() -> Response:
    """The year-end report as a workbook (summary, overdue tasks, a sheet per unit, the
    rectification list)."""
    return _report("xlsx")


@bp.get("/report.pdf")
def report_pdf() -> Response:
    """The year-end report as a PDF, A4 landscape."""
    return _report("pdf")
