"""The archivist's receiving desk (``/staff/filing/receiving``; issue 13, item 4).

Pages (nested in the ``staff`` blueprint: sign-in guard, CSRF check, no-store, strict CSP):

- ``/staff/filing/receiving``: the queue of submissions, newest first, filtered by year,
  unit, category and item state (default: those with items waiting, ``received``), paged;
- ``/staff/filing/receiving/<SUB-…>``: a submission: its items with their fields and files
  (download; images and PDFs open inline in the browser by a link), per item *accept* or
  *return with a note*, *accept all*, and the submission's history (every step: who, when,
  what, note); an accepted item links to its new record in the workspace with its 档号;
- the actions are POSTs that call :mod:`services.filing.review` with the repository open
  for this one request (:func:`staff.web.writing`), as the signed-in archivist.

Who: archivists (:func:`services.filing.units.is_archivist`); an officer, or anyone else,
gets 403 for every page here. A received item's files are served only from here, only the
files the item names, and inline only when their bytes are an image or a PDF (anything else
is a download), never from a public surface.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Blueprint, current_app, g, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l  # `make translations` extracts _l too
from werkzeug.wrappers import Response

import services.filing as service
from ontology.profile import vocabulary_codes
from publisher.i18n import lang as current_lang
from repo.errors import Forbidden, Invalid, LantaiError, NotFound
from repo.repository import Repository
from repo.security import User
from services.filing import review
from services.filing.model import ITEM_STATES, FiledFile, Item, Submission, Unit
from services.filing.store import FilingStore
from services.filing.units import is_archivist
from staff import web

bp = Blueprint("filing_receiving", __name__, url_prefix="/filing",
               template_folder="templates")

PAGE_SIZES = (25, 50, 100)
MAX_PAGE = 10_000
SUBMISSION_ID = re.compile(r"^SUB-\d{4}-[2-9A-HJ-NP-Z]{8}$")
INLINE = {"image/jpeg", "image/png", "application/pdf"}  # shown in the browser by a link

web.MENU_FOR["staff.filing_receiving.queue"] = is_archivist


@bp.before_request
def only_archivists() -> None:
    """After the staff guard (which signed the user in): archivists only, or 403."""
    if not (request.endpoint or "").startswith("staff.filing_receiving."):
        return
    user = g.get("staff_user")
    if user is None or not is_archivist(user):
        raise Forbidden(_("Submissions are reviewed by archivists (Editors, Reviewers and "
                          "Managers)."))


def store() -> FilingStore:
    return service.store(current_app)


# ---------------------------------------------------------------------- the queue
@dataclass
class Filters:
    """The queue's filters, from the query string, each checked and bounded."""

    year: int | None = None
    unit: str = ""
    category: str = ""
    state: str = "received"  # an item state, or "all"
    size: int = PAGE_SIZES[0]
    page: int = 1

    @classmethod
    def from_args(cls, units: dict[str, Unit]) -> Filters:
        a = request.args
        f = cls(unit=a.get("unit", "")[:40], category=a.get("category", "")[:10],
                state=a.get("state", "received")[:20] or "received")
        f.year = _int(a.get("year", ""), _("Year"), 1900, 2200)
        if f.unit and f.unit not in units:
            raise Invalid(_("Unknown filing unit: %(v)s", v=f.unit))
        if f.category and f.category not in vocabulary_codes()["category"]:
            raise Invalid(_("Unknown record category: %(v)s", v=f.category))
        if f.state not in ("all", *ITEM_STATES):
            raise Invalid(_("Unknown state: %(v)s", v=f.state))
        f.size = _int(a.get("size", ""), _("Per page"), 1, max(PAGE_SIZES)) or PAGE_SIZES[0]
        if f.size not in PAGE_SIZES:
            raise Invalid(_("Per page: 25, 50 or 100"))
        f.page = _int(a.get("page", ""), _("Page"), 1, MAX_PAGE) or 1
        return f

    def args(self, **change) -> dict:
        out = {"year": self.year or "", "unit": self.unit, "category": self.category,
               "state": self.state, "size": self.size, "page": self.page}
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


def unit_name(unit: Unit | None, code: str) -> str:
    if unit is None:
        return code
    return unit.name_zh if current_lang() == "zh" or not unit.name_en else unit.name_en


def state_words() -> dict[str, str]:
    """Item states and history actions, in the page's language."""
    return {"received": _("received"), "returned": _("returned"),
            "accepted": _("accepted"), "withdrawn": _("withdrawn"),
            "submitted": _("submitted"), "resubmitted": _("resubmitted")}


@bp.get("/receiving")
def queue() -> Response:
    """Submissions, newest first, a page at a time (one more is read to know if there is a
    next page: counting every match is not needed to page)."""
    units = {u.code: u for u in store().units()}
    f = Filters.from_args(units)
    rows = store().submissions(year=f.year, unit=f.unit or None,
                               state=None if f.state == "all" else f.state,
                               category=f.category or None, limit=f.size + 1,
                               offset=(f.page - 1) * f.size)
    more = len(rows) > f.size
    rows = rows[:f.size]
    tasks = _tasks(rows)
    return web.render(
        "filing/receiving.html", rows=rows, filters=f, more=more, units=units,
        unit_name=unit_name, tasks=tasks, states=ITEM_STATES, words=state_words(),
        counts={s.id: _counts(s) for s in rows}, sizes=PAGE_SIZES,
        categories=[(code, labels.get(current_lang()) or labels.get("en") or code)
                    for code, labels in sorted(vocabulary_codes()["category"].items())])


def _tasks(rows: list[Submission]) -> dict[int, object]:
    out: dict[int, object] = {}
    for s in rows:
        if s.task is not None and s.task not in out:
            try:
                out[s.task] = store().task(s.task)
            except NotFound:
                continue
    return out


def _counts(sub: Submission) -> dict[str, int]:
    out = dict.fromkeys(ITEM_STATES, 0)
    for it in sub.items:
        out[it.state] = out.get(it.state, 0) + 1
    return out


# ---------------------------------------------------------------------- a submission
def submission_of(sub_id: str) -> Submission:
    if not SUBMISSION_ID.match(sub_id):
        raise NotFound(_("No such submission."))
    return store().submission(sub_id)


def item_of(sub: Submission, item_id: int) -> Item:
    for it in sub.items:
        if it.id == item_id:
            return it
    raise NotFound(_("The submission has no such item."))


@dataclass
class Shown:
    """An item as the page shows it: its fields with their labels, its record if any."""

    item: Item
    fields: list[tuple[str, list[str]]]
    record_path: str = ""


def _labels(repo: Repository) -> dict[str, str]:
    lang = current_lang()
    return {name: f.label(lang) for name, f in repo.profile.type("item").fields.items()}


def _shown(repo: Repository, user: User, sub: Submission) -> list[Shown]:
    labels = _labels(repo)
    out = []
    for it in sub.items:
        fields = []
        for key, values in it.fields.items():
            name, _at, tag = key.partition("@")
            label = labels.get(name, name) + (f" ({tag})" if tag else "")
            fields.append((label, [str(v) for v in values]))
        path = ""
        if it.record:
            try:
                path = repo.get(user, it.record).path
            except LantaiError:
                path = ""
        out.append(Shown(it, fields, path))
    return out


DONE = {"accepted": _l("The item was accepted into the archive."),
        "returned": _l("The item was returned to the unit with your note."),
        "accepted-all": _l("The received items were accepted.")}


def page(sub_id: str, status: int = 200, **extra) -> Response:
    sub = submission_of(sub_id)
    task = store().task(sub.task) if sub.task is not None else None
    unit = next((u for u in store().units() if u.code == sub.unit), None)
    rows = {it.id: it.row for it in sub.items}
    done = request.args.get("done", "")
    said = extra.pop("done", None) or (str(DONE[done]) if done in DONE else "")
    return web.render(
        "filing/receiving_submission.html", status, sub=sub, task=task,
        unit_label=unit_name(unit, sub.unit), words=state_words(), rows=rows,
        history=store().history(sub.id), max_note=review.MAX_NOTE,
        shown=web.reading(lambda repo, user: _shown(repo, user, sub)),
        any_received=any(it.state == "received" for it in sub.items),
        done=said, inline=INLINE, **extra)


@bp.get("/receiving/<sub_id>")
def submission(sub_id: str) -> Response:
    return page(sub_id)


@bp.get("/receiving/<sub_id>/items/<int:item_id>/files/<sha256>")
def file(sub_id: str, item_id: int, sha256: str) -> Response:
    """A file the item names, from the receiving area: inline when its bytes are a JPEG,
    PNG or PDF (a link opens it in the browser), else as a download."""
    from iiif.media import sniff

    it = item_of(submission_of(sub_id), item_id)
    filed: FiledFile | None = next((f for f in it.files if f.sha256 == sha256), None)
    if filed is None:
        raise NotFound(_("The item has no such file."))
    try:  # the plaintext stream (the stored file is sealed on an encrypted site)
        fh = store().open_file(filed.sha256)
    except NotFound:
        raise NotFound(_("The file is not in the receiving area any more.")) from None
    found = sniff(fh.read(64), filed.name) or ""
    fh.seek(0)
    inline = found in INLINE and request.args.get("download") != "1"
    resp = send_file(fh, mimetype=found if inline else "application/octet-stream",
                     as_attachment=not inline, download_name=filed.name or sha256,
                     max_age=0)
    if inline:  # a document shown by itself: nothing in it may run or load
        resp.headers["Content-Security-Policy"] = (
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
            "object-src 'self'; frame-ancestors 'self'")
    return resp


# ---------------------------------------------------------------------- actions
def _done(sub_id: str, what: str) -> Response:
    return redirect(url_for(".submission", sub_id=sub_id, done=what), 303)


@bp.post("/receiving/<sub_id>/items/<int:item_id>/accept")
def accept(sub_id: str, item_id: int) -> Response:
    it = item_of(submission_of(sub_id), item_id)
    web.writing(lambda repo, user: review.accept(store(), repo, user, it.id))
    return _done(sub_id, "accepted")


@bp.post("/receiving/<sub_id>/items/<int:item_id>/return")
def return_item(sub_id: str, item_id: int) -> Response:
    it = item_of(submission_of(sub_id), item_id)
    note = request.form.get("note", "")
    if len(note) > review.MAX_NOTE:
        raise Invalid(_("The note is longer than %(n)d characters.", n=review.MAX_NOTE))
    if not note.strip():
        raise Invalid(_("Say what the unit must correct (the note is sent to it)."))
    problems: list[str] = []
    web.writing(lambda repo, user: review.return_item(store(), repo, user, it.id, note,
                                                      problems=problems))
    if problems:  # the return counts; the page says the mail did not go
        return page(sub_id, done=str(DONE["returned"]),
                    warning=_("The e-mail to the unit could not be sent: %(why)s",
                              why=problems[0]))
    return _done(sub_id, "returned")


@bp.post("/receiving/<sub_id>/accept-all")
def accept_all(sub_id: str) -> Response:
    sub = submission_of(sub_id)
    result = web.writing(lambda repo, user: review.accept_all(store(), repo, user, sub.id))
    if result.failed:
        rows = {it.id: it.row for it in sub.items}
        return page(sub_id, 422 if not result.accepted else 200,
                    warning=_("%(ok)d item(s) accepted; these were not:", ok=len(
                        result.accepted)),
                    failures=[(rows.get(i, i), why) for i, why in result.failed])
    return _done(sub_id, "accepted-all")
