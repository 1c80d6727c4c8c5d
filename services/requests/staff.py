"""Request handling in the staff workspace (``/staff/requests/``; issue 12, item 3).

Pages (nested in the ``staff`` blueprint: sign-in guard, CSRF check, no-store, strict CSP):

- ``/staff/requests/``: the queue, filtered (state, kind, workroom, urgency, age, overdue,
  assigned to me), paged (25/50/100), sorted by due time, with the clock of each request;
- ``/staff/requests/<number>``: every field of one request (personal data unsealed), its
  identity-document image (own route), selections with page thumbnails, copies, dispatches,
  history, and the search that matches the requester and finds the records
  (:mod:`services.requests.staff_request`); the actions, each a POST
  (:mod:`services.requests.staff_actions`);
- ``/staff/requests/new``: a request entered on a requester's behalf (e-mail, WeChat, at the
  desk), created verified (:mod:`services.requests.staff_entry`).

Who: Editors, Reviewers and Managers (site-wide roles) handle requests; anyone else gets 403
for every page here and sees no menu entry. Every page that shows personal data records a
``viewed`` event per request shown (the queue: one per row, since a name in a list is a view).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, g, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

import services.requests as service
from repo.errors import Forbidden, Invalid
from repo.security import User
from services.requests.model import KINDS, OPEN_STATES, STATES, Request
from services.requests.staff_words import word
from services.requests.store import RequestStore, now_utc
from staff import web

bp = Blueprint("requests", __name__, url_prefix="/requests", template_folder="templates")

HANDLERS = frozenset({"Editor", "Reviewer", "Manager"})  # site-wide roles that handle requests
REVOKERS = frozenset({"Reviewer", "Manager"})  # may revoke an issued certified copy
PAGE_SIZES = (25, 50, 100)
MAX_PAGE = 10_000
MAX_AGE_DAYS = 36_500


def may_handle(user: User) -> bool:
    return bool(HANDLERS & user.roles)


web.MENU_FOR["staff.requests.queue"] = may_handle


@bp.before_request
def only_handlers() -> None:
    """After the staff guard (which signed the user in): Editors and above, or 403."""
    user = g.get("staff_user")
    if user is None or not may_handle(user):
        raise Forbidden(_("Record requests are handled by Editors, Reviewers and Managers."))


def init_app(app: Flask) -> None:
    app.before_request(staff_entry.bound_upload)


def store() -> RequestStore:
    return service.store(current_app)


def workrooms() -> list[str]:
    return list(current_app.config["SETTINGS"].requests_workrooms)


# ---------------------------------------------------------------------- the clock
@dataclass
class Clock:
    """What the queue and the request page show of the target time."""

    text: str
    overdue: bool
    urgent: bool


def clock_words() -> dict[str, str]:
    """The clock's phrases in the page's language, looked up once per page (a catalog
    lookup costs ~0.2 ms: a queue page of 100 rows would spend 60 ms on them)."""
    return {"dh": _("%(d)dd %(h)dh"), "hm": _("%(h)dh %(m)dm"), "over": _("overdue by %(t)s"),
            "left": _("%(t)s left")}


def clock(req: Request, now: dt.datetime | None = None,
          words: dict[str, str] | None = None) -> Clock:
    """Time left (or overdue by how long) for an open request; its state otherwise."""
    if req.status not in OPEN_STATES and req.status != "unverified":
        return Clock("—", False, req.urgent)
    w = words or clock_words()
    left = dt.datetime.fromisoformat(req.due) - (now or now_utc())  # 10× strptime's speed
    overdue = left.total_seconds() < 0
    span = abs(left)
    days, hours = span.days, span.seconds // 3600
    amount = (w["dh"] % {"d": days, "h": hours} if days
              else w["hm"] % {"h": hours, "m": span.seconds % 3600 // 60})
    return Clock((w["over"] if overdue else w["left"]) % {"t": amount}, overdue, req.urgent)


# ---------------------------------------------------------------------- the queue
@dataclass
class Filters:
    """The queue's filters, read from the query string (nothing personal is in it)."""

    status: str = "open"  # open, all, or one state
    kind: str = ""
    workroom: str = ""
    urgency: str = ""  # urgent, normal, or any
    older: int | None = None  # days
    overdue: bool = False
    mine: bool = False
    size: int = PAGE_SIZES[0]
    page: int = 1

    @classmethod
    def from_args(cls) -> Filters:
        a = request.args
        f = cls(status=a.get("status", "open") or "open", kind=a.get("kind", ""),
                workroom=a.get("workroom", ""), urgency=a.get("urgency", ""),
                overdue=a.get("overdue") == "1", mine=a.get("mine") == "1")
        if f.status not in ("open", "all", *STATES):
            raise Invalid(_("Unknown state: %(v)s", v=f.status[:40]))
        if f.kind and f.kind not in KINDS:
            raise Invalid(_("Unknown kind of record: %(v)s", v=f.kind[:40]))
        if f.workroom and f.workroom not in workrooms():
            raise Invalid(_("Unknown workroom: %(v)s", v=f.workroom[:40]))
        if f.urgency not in ("", "urgent", "normal"):
            raise Invalid(_("Urgency: urgent, normal or any"))
        f.older = _int(a.get("older", ""), _("Older than (days)"), 0, MAX_AGE_DAYS)
        f.size = _int(a.get("size", ""), _("Per page"), 1, max(PAGE_SIZES)) or PAGE_SIZES[0]
        if f.size not in PAGE_SIZES:
            raise Invalid(_("Per page: 25, 50 or 100"))
        f.page = _int(a.get("page", ""), _("Page"), 1, MAX_PAGE) or 1
        return f

    def query(self, me: str) -> dict:
        status: str | tuple[str, ...] | None = (
            OPEN_STATES if self.status == "open" else None if self.status == "all"
            else self.status)
        return {"status": status, "kind": self.kind or None,
                "workroom": self.workroom or None,
                "urgent": {"urgent": True, "normal": False}.get(self.urgency),
                "older_than_days": self.older, "overdue": self.overdue,
                "assignee": me if self.mine else None}

    def args(self, **change) -> dict:
        out = {"status": self.status, "kind": self.kind, "workroom": self.workroom,
               "urgency": self.urgency, "older": "" if self.older is None else self.older,
               "overdue": "1" if self.overdue else "", "mine": "1" if self.mine else "",
               "size": self.size, "page": self.page}
        out.update(change)
        return {k: v for k, v in out.items() if v not in ("", None)}


def _int(text: str, label: str, lo: int, hi: int) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 6 or not lo <= int(text) <= hi:
        raise Invalid(_("%(field)s: a whole number from %(lo)d to %(hi)d", field=label,
                        lo=lo, hi=hi))
    return int(text)


@bp.get("/")
def queue() -> Response:
    """The queue: a page of requests by due time; names unsealed for this page only, and
    each request shown recorded as viewed."""
    f = Filters.from_args()
    me = web.username()
    requests = store()
    rows, total = requests.query(**f.query(me), sort="due", limit=f.size,
                                 offset=(f.page - 1) * f.size)
    ids = [r.id for r in rows]
    names = requests.names(ids)
    if ids:
        requests.viewed_many(ids, me, "queue")
    now, words = now_utc(), clock_words()
    pages = max(1, (total + f.size - 1) // f.size)
    return web.render("staff_requests/queue.html", rows=rows, names=names, total=total,
                      filters=f, pages=pages,
                      clocks={r.id: clock(r, now, words) for r in rows},
                      states=STATES, kinds=KINDS, workrooms=workrooms(),
                      state_labels={s: word(s) for s in STATES},
                      kind_labels={k: word(k) for k in KINDS}, urgent_label=_("urgent"),
                      purged_label=_("(purged)"),
                      sizes=PAGE_SIZES, me=me)


# the request page and the actions add their routes to ``bp`` (they import it from here)
from services.requests import staff_actions, staff_entry, staff_request  # noqa: E402,F401
