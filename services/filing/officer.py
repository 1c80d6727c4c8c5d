"""The filing officer's workspace (``/staff/filing/unit/…``; issue 13, items 1 and 3 from
the unit's side): the year's tasks with their progress, the unit's notices, its submissions
and each item's state; sending items (:mod:`services.filing.officer_send`) and correcting
returned ones.

Who: an account holding the FilingOfficer role on a unit's corporate body files for that unit
and no other (:func:`services.filing.units.officer_of`); such an account holds no role in the
content tree and lands here from ``/staff/`` (:data:`staff.dashboard.START`). Archivists
(site-wide Editor, Reviewer, Manager) may look at any unit's pages, read only: sending,
correcting and marking notices read are the officer's. Anyone else, and an officer asking for
another unit, gets 403 for the unit and 404 for what is not the unit's (a submission, item,
file or notice of another unit is not found under this one), before anything is read.

Nothing here writes to the description stores: submissions live in the filing store
(:mod:`services.filing.store`) until an archivist accepts them (:mod:`services.filing.review`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

import services.filing as service
from repo.errors import Forbidden, Invalid, NotFound
from repo.repository import Repository
from repo.security import User
from services.filing import units
from services.filing.model import Item, Submission, Task, Unit
from services.filing.store import FilingStore
from staff import dashboard, web

bp = Blueprint("filing_officer", __name__, url_prefix="/filing", template_folder="templates",
               static_folder="static", static_url_path="/officer-static")

PAGE = 25  # submissions per page of the unit page
MAX_PAGE = 10_000
YEARS = (1900, 2200)
CODE = re.compile(r"^[A-Za-z0-9-]{1,32}$")
SUBMISSION_ID = re.compile(r"^SUB-\d{4}-[0-9A-Z]{8}$")
RETURNED_SHOWN = 200  # returned items listed on the unit page ("to correct")

# stored values shown in the page's language (literal message ids, for extraction)
WORDS = {
    "received": lazy_gettext("received"), "returned": lazy_gettext("returned"),
    "accepted": lazy_gettext("accepted"), "withdrawn": lazy_gettext("withdrawn"),
    "form": lazy_gettext("form"), "spreadsheet": lazy_gettext("spreadsheet"),
    "bag": lazy_gettext("BagIt bag"),
    "plan": lazy_gettext("filing plan"), "rectification": lazy_gettext("rectification"),
    "reminder": lazy_gettext("reminder"),
    "submitted": lazy_gettext("submitted"), "resubmitted": lazy_gettext("resubmitted"),
    "draft": lazy_gettext("draft"), "published": lazy_gettext("published"),
    "closed": lazy_gettext("closed"),
}


def word(value: str) -> str:
    found = WORDS.get(value)
    return str(found) if found is not None else value


def filing() -> FilingStore:
    return service.store(current_app)


# ---------------------------------------------------------------------- who
@dataclass
class Access:
    """The unit a page is about, and what the signed-in user may do there."""

    unit: Unit
    acts: bool  # an officer of this unit: sends, corrects, marks notices read
    today: str  # ISO date, the site's clock


def access(code: str, *, act: bool = False) -> Access:
    """The unit ``code`` if the user files for it or is an archivist (403 otherwise, and for
    an unknown code: an officer learns nothing of other units); ``act``: only its officers."""
    if not CODE.match(code):
        raise Forbidden(_("You do not file for this unit."))
    store = filing()

    def run(repo: Repository, user: User) -> Access:
        try:
            unit = units.require_unit(repo, store, user, code)
        except Forbidden:
            raise Forbidden(_("You do not file for this unit.")) from None
        acts = any(u.code == code for u in units.officer_of(repo, store, user))
        return Access(unit, acts, repo.clock().date().isoformat())
    found = web.reading(run)
    if act and not found.acts:
        raise Forbidden(_("Only the unit's filing officers send, correct and withdraw its "
                          "items; archivists may look."))
    return found


def may_use(user: User) -> bool:
    """The menu's "Filing" entry: archivists and officers."""
    return units.is_archivist(user) or web.reading(lambda repo, _me: units.is_officer(repo, user))


def start_page(repo: Repository, user: User) -> str | None:
    """Where ``/staff/`` sends an account with no role in the tree that files for a unit."""
    if user.roles or user.is_system:
        return None
    mine = units.officer_of(repo, filing(), user)
    if not mine:
        return None
    return (url_for("staff.filing_officer.unit", code=mine[0].code) if len(mine) == 1
            else url_for("staff.filing_officer.start"))


web.MENU_FOR["staff.filing_officer.start"] = may_use
dashboard.START.append(start_page)


def init_app(app: Flask) -> None:
    app.before_request(officer_send.bound_upload)


def submission_of(acc: Access, sub_id: str) -> Submission:
    """A submission of this unit, or 404 (another unit's is not found here)."""
    if not SUBMISSION_ID.match(sub_id):
        raise NotFound(_("There is no such submission of this unit."))
    try:
        sub = filing().submission(sub_id)
    except NotFound:
        sub = None
    if sub is None or sub.unit != acc.unit.code:
        raise NotFound(_("There is no such submission of this unit."))
    return sub


def item_of(acc: Access, item_id: int) -> tuple[Item, Submission]:
    """An item of this unit and its submission, or 404."""
    try:
        item = filing().item(item_id)
        sub = filing().submission(item.submission)
    except NotFound:
        raise NotFound(_("There is no such item of this unit.")) from None
    if sub.unit != acc.unit.code:
        raise NotFound(_("There is no such item of this unit."))
    return item, sub


def task_of(acc: Access, task_id: int) -> Task:
    """A task of this unit, or 404."""
    try:
        task = filing().task(task_id)
    except NotFound:
        task = None
    if task is None or task.unit != acc.unit.code:
        raise NotFound(_("There is no such task of this unit."))
    return task


def visible(year: int, acc: Access) -> bool:
    """May the unit see the year's tasks? Once the plan is published (archivists: always)."""
    plan = filing().plan(year)
    if plan is not None and plan.state != "draft":
        return True
    return not acc.acts or units_look(acc)


def units_look(acc: Access) -> bool:
    """An officer who is an archivist too sees the draft (as an archivist would)."""
    return web.reading(lambda _repo, user: units.is_archivist(user))


def title_of(item: Item, zh: bool) -> str:
    f = item.fields
    first, second = ("title@zh", "title@en") if zh else ("title@en", "title@zh")
    for key in (first, second):
        if f.get(key):
            return f[key][0]
    for key, values in f.items():
        if key.startswith("title") and values:
            return values[0]
    return ""


def number(text: str | None, label: str, lo: int, hi: int, default: int) -> int:
    text = (text or "").strip()
    if not text:
        return default
    if not text.isdigit() or len(text) > 6 or not lo <= int(text) <= hi:
        raise Invalid(_("%(field)s: a whole number from %(lo)d to %(hi)d", field=label,
                        lo=lo, hi=hi))
    return int(text)


# ---------------------------------------------------------------------- pages
@bp.get("/unit/")
def start() -> Response:
    """The menu's entry: an officer of one unit goes to it; else the units one may open."""
    store = filing()

    def run(repo: Repository, user: User) -> tuple[list[Unit], bool]:
        return units.units_of(repo, store, user), units.is_archivist(user)
    mine, archivist = web.reading(run)
    if not mine and not archivist:
        raise Forbidden(_("You file for no unit. A Manager appoints filing officers."))
    if len(mine) == 1 and not archivist:
        return redirect(url_for(".unit", code=mine[0].code))
    others = [(endpoint, label) for endpoint, label in (
        ("staff.filing_dashboard.home", _("Progress and rates")),
        ("staff.filing_receiving.queue", _("Receiving")),
        ("staff.filing_planning.plans_page", _("Plans")))
        if archivist and endpoint in current_app.view_functions]
    return web.render("filing/officer_units.html", units=mine, archivist=archivist,
                      others=[(label, url_for(e)) for e, label in others])


@bp.get("/unit/<code>")
def unit(code: str) -> Response:
    """A unit's year: tasks and progress, notices, what needs correcting, submissions."""
    acc = access(code)
    store = filing()
    this_year = int(acc.today[:4])
    year = number(request.args.get("year"), _("Year"), *YEARS, this_year)
    page = number(request.args.get("page"), _("Page"), 1, MAX_PAGE, 1)
    plan = store.plan(year)
    shown = visible(year, acc)
    tasks = store.tasks(year, unit=code) if shown else []
    progress = store.unit_progress(year, code)
    rows = [task_row(t, progress.get(t.id, {}), acc.today) for t in tasks]
    subs = store.submissions(year=year, unit=code, limit=PAGE + 1, offset=(page - 1) * PAGE)
    returned = [(sub, it) for sub in store.submissions(year=year, unit=code, state="returned",
                                                       limit=RETURNED_SHOWN)
                for it in sub.items if it.state == "returned"]
    notices = store.notices(code, year=year)
    years = sorted({p.year for p in store.plans()} | {this_year, year}, reverse=True)
    return web.render("filing/officer_unit.html", acc=acc, unit=acc.unit, year=year,
                      years=years, plan=plan, shown=shown, rows=rows,
                      tasks_by_id={t.id: t for t in tasks}, subs=subs[:PAGE],
                      more=len(subs) > PAGE, page=page, returned=returned, notices=notices,
                      unread=sum(1 for n in notices if not n.read_at), word=word,
                      title_of=title_of, states=states)


@dataclass
class TaskRow:
    task: Task
    expected: int
    submitted: int
    returned: int
    accepted: int
    waiting: int
    to_fix: int
    complete: bool
    overdue: bool


def task_row(task: Task, p: dict[str, int], today: str) -> TaskRow:
    """A task and its progress; overdue as the rates judge it (:mod:`services.filing.rates`:
    the due day passed, fewer accepted than expected — the count, or the list if longer)."""
    expected = max(task.expected, len(task.expected_list))
    accepted = p.get("accepted", 0)
    return TaskRow(task, expected, p.get("submitted", 0), p.get("returned", 0), accepted,
                   p.get("waiting", 0), p.get("to_fix", 0), 0 < expected <= accepted,
                   bool(task.due) and task.due < today and accepted < expected)


def states(sub: Submission) -> dict[str, int]:
    """How many of a submission's items are in each state."""
    out: dict[str, int] = {}
    for it in sub.items:
        out[it.state] = out.get(it.state, 0) + 1
    return out


@bp.get("/unit/<code>/submissions/<sub_id>")
def submission(code: str, sub_id: str) -> Response:
    acc = access(code)
    sub = submission_of(acc, sub_id)
    task = filing().task(sub.task) if sub.task is not None else None
    return web.render("filing/officer_submission.html", acc=acc, unit=acc.unit, sub=sub,
                      task=task, history=filing().history(sub.id), word=word,
                      title_of=title_of)


@bp.get("/unit/<code>/items/<int:item_id>")
def item(code: str, item_id: int) -> Response:
    """One item: its fields and files, the archivist's note while returned and, for the
    unit's officer, the correction form prefilled with what was sent."""
    acc = access(code)
    it, sub = item_of(acc, item_id)
    return officer_send.item_page(acc, it, sub)


@bp.get("/unit/<code>/items/<int:item_id>/files/<sha256>")
def download(code: str, item_id: int, sha256: str) -> Response:
    """A file sent with an item of this unit (as an attachment: never shown inline)."""
    acc = access(code)
    it, _sub = item_of(acc, item_id)
    found = next((f for f in it.files if f.sha256 == sha256), None)
    if found is None:
        raise NotFound(_("This item has no such file."))
    try:  # the plaintext stream (the stored file is sealed on an encrypted site)
        fh = filing().open_file(found.sha256)
    except NotFound:
        raise NotFound(_("The file is no longer in the receiving area.")) from None
    return send_file(fh, mimetype="application/octet-stream", as_attachment=True,
                     download_name=found.name or found.sha256, max_age=0)


@bp.post("/unit/<code>/items/<int:item_id>/withdraw")
def withdraw(code: str, item_id: int) -> Response:
    """The officer takes an item back (received or returned): it no longer counts."""
    acc = access(code, act=True)
    it, _sub = item_of(acc, item_id)
    filing().decide(it.id, "withdrawn", actor=web.username(),
                    note=request.form.get("note", "").strip()[:2000])
    return redirect(url_for(".item", code=code, item_id=it.id))


@bp.post("/unit/<code>/notices/<int:notice_id>/read")
def mark_read(code: str, notice_id: int) -> Response:
    acc = access(code, act=True)
    store = filing()
    try:
        notice = store.notice(notice_id)
    except NotFound:
        notice = None
    if notice is None or notice.unit != acc.unit.code:
        raise NotFound(_("There is no such notice of this unit."))
    store.mark_read(notice.id)
    return redirect(url_for(".unit", code=code, year=notice.year)
                    + "#notices")


@bp.post("/unit/<code>/notices/read")
def mark_all_read(code: str) -> Response:
    acc = access(code, act=True)
    store = filing()
    year = number(request.form.get("year"), _("Year"), *YEARS, int(acc.today[:4]))
    for n in store.notices(acc.unit.code, year=year):
        if not n.read_at:
            store.mark_read(n.id)
    return redirect(url_for(".unit", code=code, year=year)
                    + "#notices")


# sending and correcting add their routes to ``bp`` (they import it from here)
from services.filing import officer_send  # noqa: E402
