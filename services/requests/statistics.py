"""Request statistics in the staff workspace (``/staff/requests/statistics``; issue 12,
item 8): tables and ECharts charts, and the same figures as CSV (``statistics.csv``).

For Managers and Editors (the roles that handle requests and report on them); anyone else
gets 403. The figures come from :mod:`services.requests.stats` over the store's open facts:
no personal data is unsealed, so viewing statistics is not a view of anyone's request.

The charts are drawn by ECharts (npm, served from ``/staff/static/vendor/``) in
``staff/static/request_stats.js``; their data is a ``<script type="application/json">``
block, which the workspace's Content-Security-Policy (``script-src 'self'``) allows because
a data block is never executed. Tooltips are rich text, not HTML (ECharts' HTML tooltips
carry inline ``style`` attributes, which the policy refuses).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _

import services.requests as package
from publisher.i18n import ui_ptext, ui_text
from repo.errors import Forbidden, Invalid
from repo.repository import Repository
from repo.security import User
from services.requests import stats
from services.requests.store import now_utc
from staff import web

bp = Blueprint("request_stats", __name__, url_prefix="/requests",
               template_folder="templates")

ROLES = frozenset({"Manager", "Editor"})

# what the page shows for the codes the statistics are kept by (English message ids)
LABELS = {
    "transcript": ui_ptext("kind", "Transcript"), "graduation": ui_text("Graduation certificate"),
    "degree": ui_text("Degree certificate"), "enrolment": ui_text("Enrolment record"),
    "other": ui_text("Other record"),
    "web": ui_text("Web form"), "email": ui_text("E-mail"), "wechat": ui_text("WeChat"),
    "staff": ui_text("Entered by staff"),
    "unverified": ui_text("Unverified"), "submitted": ui_text("Submitted"),
    "in_progress": ui_text("In progress"), "fulfilled": ui_text("Fulfilled"),
    "closed": ui_text("Closed"), "refused": ui_text("Refused"),
    "withdrawn": ui_text("Withdrawn"),
}


def may_see(user: User) -> bool:
    return bool(ROLES & set(user.roles))


web.MENU_FOR["staff.request_stats.statistics"] = may_see


def allowed_user() -> User:
    def run(repo: Repository, user: User) -> User:
        if not may_see(user):
            raise Forbidden(_("Request statistics are for Managers and Editors."))
        return user
    return web.reading(run)


def date_range() -> tuple[dt.date, dt.date]:
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (both included; the range given to
    :func:`stats.summary` ends the day after ``to``); by default the last twelve months,
    this one included."""
    today = now_utc().date()
    if today.month == 12:
        first = dt.date(today.year, 1, 1)
    else:
        first = dt.date(today.year - 1, today.month + 1, 1)
    since = _date("from", first)
    last = _date("to", today)
    if last < since:
        raise Invalid(_("The range ends before it begins."))
    if (last - since).days > 366 * 20:
        raise Invalid(_("At most twenty years at once."))
    return since, last + dt.timedelta(days=1)


def _date(name: str, default: dt.date) -> dt.date:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(_("%(name)s: a date as YYYY-MM-DD.", name=name)) from None


def figures() -> stats.Summary:
    since, until = date_range()
    facts = package.store(current_app).facts(since=f"{since.isoformat()}T00:00:00Z",
                                             until=f"{until.isoformat()}T00:00:00Z")
    return stats.summary(facts, since=since, until=until,
                         workrooms=current_app.config["SETTINGS"].requests_workrooms)


def label(code: str) -> str:
    found = LABELS.get(code)
    return str(found) if found is not None else code


def chart_data(s: stats.Summary) -> dict:
    """What the charts draw: labels translated, numbers as they are."""
    def pairs(items: list[tuple[str, int]]) -> dict:
        return {"labels": [label(k) for k, _ in items], "values": [n for _, n in items]}

    return {"months": {"labels": [m for m, _ in s.months], "values": [n for _, n in s.months]},
            "kinds": pairs(s.kinds), "channels": pairs(s.channels),
            "workrooms": pairs(s.workrooms),
            "titles": {"months": _("Requests per month"), "kinds": _("By kind"),
                       "channels": _("By channel"), "workrooms": _("By workroom")}}


@bp.get("/statistics")
def statistics() -> Response:
    allowed_user()
    s = figures()
    return web.render("staff_requests/statistics.html", s=s, label=label,
                      charts=chart_data(s), since=s.since,
                      to=(s.until - dt.timedelta(days=1)) if s.until else None,
                      csv_args=request.args.to_dict())


@bp.get("/statistics.csv")
def statistics_csv() -> Response:
    allowed_user()
    s = figures()
    body = stats.to_csv(s).encode("utf-8-sig")  # the BOM: Excel then reads UTF-8
    name = f"requests-{s.since}-{s.until - dt.timedelta(days=1) if s.until else ''}.csv"
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})
