"""What staff do to a request (each a POST from the request's page, behind the CSRF check).

Each action is checked against the request's state (:data:`ACTION_STATES`; a request in
another state answers 409 and nothing changes) and recorded in the request's history by the
store. The state changes themselves are the store's :meth:`transition`, checked again there
against the state diagram (:data:`services.requests.store.TRANSITIONS`).

- take (assign to me) and assign to a person: a ``submitted`` request becomes
  ``in_progress``; transfer to another workroom (a note is required) hands it back to that
  workroom's queue: no assignee, ``submitted`` again;
- flag urgent or not (the target time follows); match the requester to a person;
- select the records and pages to copy (add from the search, pages as ``1-3, 5``, remove);
- issue a certified copy in one of the requested languages (:func:`certify.issue_copy`),
  then e-mail the link (:func:`delivery.deliver`) when the request asked for electronic
  delivery: a failed e-mail is said, and the copy is kept;
- refuse (a reason is required), record a postal dispatch (carrier, tracking number),
  mark fulfilled (a copy in force or a dispatch first), close, reopen;
- revoke an issued copy with a reason (Reviewers and Managers only).
"""

from __future__ import annotations

import re

from flask import current_app, g, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from repo.errors import Conflict, Forbidden, Invalid, LantaiError, NotFound
from repo.repository import Repository
from repo.security import User
from services.requests.model import OPEN_STATES, STATES, Selection
from services.requests.staff import REVOKERS, bp, may_handle, store, workrooms
from services.requests.staff_request import number_of, optional
from services.requests.staff_words import word
from staff import web

MAX_NOTE = 2000  # characters of a note or a reason
MAX_SHORT = 100  # carrier, tracking number, a user name
MAX_SELECTED = 50  # records in one copy
MAX_PAGES = 1000  # pages of one record
OPEN = OPEN_STATES
# the states in which each action may be taken
ACTION_STATES: dict[str, tuple[str, ...]] = {
    "take": OPEN, "assign": OPEN, "transfer": OPEN, "urgent": OPEN, "match": OPEN,
    "select": OPEN, "issue": ("in_progress",), "refuse": OPEN,
    "dispatch": ("in_progress", "fulfilled"), "fulfil": ("in_progress",),
    "close": ("fulfilled",), "reopen": ("fulfilled",), "revoke": STATES,
}


class Unavailable(LantaiError):
    """A part of the service this site does not have yet (503)."""

    http_status = 503


_PAGES = re.compile(r"^\s*(\d{1,4})\s*(?:[-–]\s*(\d{1,4}))?\s*$")


def may_revoke() -> bool:
    user = g.get("staff_user")
    return user is not None and bool(REVOKERS & user.roles)


def text(name: str, limit: int = MAX_NOTE, *, required: str = "") -> str:
    """A form field, trimmed and bounded; ``required`` is the message when it is empty."""
    value = request.form.get(name, "").strip()
    if len(value) > limit:
        raise Invalid(_("%(field)s is longer than %(n)d characters", field=name, n=limit))
    if required and not value:
        raise Invalid(required)
    return value


def checked(number: str, action: str):
    """The request, if ``action`` may be taken in its state (else 409)."""
    req = store().get(number_of(number))
    if req.status not in ACTION_STATES[action]:
        raise Conflict(_("Request %(n)s is %(state)s: that cannot be done now (reload the "
                         "page to see what can).", n=req.id, state=word(req.status)))
    return req


def done(number: str, what: str) -> Response:
    return redirect(url_for(".show", number=number, done=what), 303)


# ---------------------------------------------------------------------- assignment
@bp.post("/<number>/take")
def take(number: str) -> Response:
    req = checked(number, "take")
    me = web.username()
    store().assign(req.id, me, assignee=me)
    if req.status == "submitted":
        store().transition(req.id, "in_progress", me, _("taken by %(u)s", u=me))
    return done(req.id, "taken")


@bp.post("/<number>/assign")
def assign(number: str) -> Response:
    req = checked(number, "assign")
    who = text("assignee", MAX_SHORT, required=_("Choose the person to assign it to."))

    def handler(repo: Repository, user: User) -> bool:
        try:
            return may_handle(repo.user(who)) and repo.account_status(who) == "active"
        except LantaiError:
            return False
    if not web.reading(handler):
        raise Invalid(_("%(u)s cannot handle requests (an active Editor, Reviewer or "
                        "Manager).", u=who))
    me = web.username()
    store().assign(req.id, me, assignee=who)
    if req.status == "submitted":
        store().transition(req.id, "in_progress", me, _("assigned to %(u)s", u=who))
    return done(req.id, "assigned")


@bp.post("/<number>/transfer")
def transfer(number: str) -> Response:
    req = checked(number, "transfer")
    room = text("workroom", MAX_SHORT)
    if room not in workrooms():
        raise Invalid(_("Choose one of the workrooms: %(w)s", w=", ".join(workrooms())))
    if room == req.workroom:
        raise Invalid(_("The request is already in %(w)s.", w=room))
    note = text("note", required=_("Say why it is transferred (the note goes with it)."))
    me = web.username()
    store().assign(req.id, me, workroom=room, assignee="", note=note)
    if req.status == "in_progress":
        store().transition(req.id, "submitted", me, _("waiting in %(w)s", w=room))
    return done(req.id, "transferred")


@bp.post("/<number>/urgent")
def urgent(number: str) -> Response:
    req = checked(number, "urgent")
    flag = request.form.get("urgent") == "1"
    store().set_urgent(req.id, flag, web.username(), text("note"))
    return done(req.id, "urgent" if flag else "not-urgent")


# ---------------------------------------------------------------------- matching, selection
@bp.post("/<number>/match")
def match(number: str) -> Response:
    req = checked(number, "match")
    ref = text("person", 500, required=_("Choose the person."))

    def person(repo: Repository, user: User) -> str:
        obj = repo.get(user, ref)
        if obj.type_name != "person":
            raise Invalid(_("%(ref)s is not a person.", ref=ref))
        return obj.iri
    store().match(req.id, web.reading(person), web.username())
    return done(req.id, "matched")


def record_iri(repo: Repository, user: User, ref: str) -> str:
    """A record the user may view (closed ones too: staff see them), by path or IRI."""
    obj = repo.get(user, ref)
    if obj.type_name not in ("file", "item"):
        raise Invalid(_("%(ref)s is not a record (a file or an item).", ref=ref))
    return obj.iri


def parse_pages(value: str) -> tuple[int, ...]:
    """``"1-3, 5"`` → (1, 2, 3, 5); empty: every page."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in value.replace("，", ",").split(","))):
        m = _PAGES.match(part)
        if not m:
            raise Invalid(_("Pages: numbers and ranges such as 1-3, 5 (not %(v)s)",
                            v=part[:20]))
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if not 1 <= lo <= hi <= MAX_PAGES:
            raise Invalid(_("Pages: from 1 to %(n)d, the smaller first", n=MAX_PAGES))
        out += [n for n in range(lo, hi + 1) if n not in out]
    if len(out) > MAX_PAGES:
        raise Invalid(_("Pages: at most %(n)d", n=MAX_PAGES))
    return tuple(out)


@bp.post("/<number>/select")
def select(number: str) -> Response:
    """The whole selection as the form shows it: each kept record with its pages."""
    req = checked(number, "select")
    chosen: list[Selection] = []
    for position, s in enumerate(req.selections[:MAX_SELECTED]):
        if request.form.get(f"keep-{position}") != "1":
            continue
        pages = parse_pages(text(f"pages-{position}", 200))
        picked = request.form.getlist(f"page-{position}")
        if picked and not pages:
            pages = parse_pages(",".join(p[:5] for p in picked[:MAX_PAGES]))
        chosen.append(Selection(s.record, pages))
    store().select(req.id, chosen, web.username())
    return done(req.id, "selected")


@bp.post("/<number>/select/add")
def select_add(number: str) -> Response:
    req = checked(number, "select")
    ref = text("record", 500, required=_("Choose the record."))
    iri = web.reading(lambda repo, user: record_iri(repo, user, ref))
    if any(s.record == iri for s in req.selections):
        raise Invalid(_("This record is selected already."))
    if len(req.selections) >= MAX_SELECTED:
        raise Invalid(_("At most %(n)d records in one copy.", n=MAX_SELECTED))
    pages = parse_pages(text("pages", 200))
    store().select(req.id, [*req.selections, Selection(iri, pages)], web.username())
    return done(req.id, "selected")


# ---------------------------------------------------------------------- issue
@bp.post("/<number>/issue")
def issue(number: str) -> Response:
    """A certified copy in one language, then the e-mail with its link."""
    req = checked(number, "issue")
    language = text("language", 10)
    if language not in req.languages:
        raise Invalid(_("The request asked for: %(l)s", l=", ".join(req.languages)))
    certify, delivery = optional("certify"), optional("delivery")
    if certify is None:
        raise Unavailable(_("Certified copies cannot be issued on this site yet."))
    missing = certify.ready(req)
    if missing:
        raise Conflict(_("Not ready to issue: %(what)s", what="; ".join(missing)))
    me = web.username()
    copy = web.reading(lambda repo, user: certify.issue_copy(
        store(), repo, user, req.id, language, me))
    if req.delivery not in ("electronic", "both") or delivery is None:
        return done(req.id, "issued-kept")
    from services.requests.mail import MailError

    settings = current_app.config["SETTINGS"]
    try:
        delivery.deliver(store(), settings, req.id, copy, current_app.config["BASE"])
    except MailError:  # deliver recorded "mail failed"; the copy is kept
        return done(req.id, "issued-mail-failed")
    return done(req.id, "issued")


# ---------------------------------------------------------------------- ending
@bp.post("/<number>/refuse")
def refuse(number: str) -> Response:
    req = checked(number, "refuse")
    reason = text("reason", required=_("Say why the request is refused."))
    store().transition(req.id, "refused", web.username(), reason)
    return done(req.id, "refused")


@bp.post("/<number>/dispatch")
def dispatch(number: str) -> Response:
    req = checked(number, "dispatch")
    if req.delivery not in ("post", "both"):
        raise Conflict(_("This request asked for electronic delivery only."))
    carrier = text("carrier", MAX_SHORT, required=_("Name the carrier."))
    tracking = text("tracking", MAX_SHORT, required=_("Give the tracking number."))
    store().dispatch(req.id, carrier, tracking, web.username())
    return done(req.id, "dispatched")


@bp.post("/<number>/fulfil")
def fulfil(number: str) -> Response:
    req = checked(number, "fulfil")
    in_force = [c for c in store().copies_of(req.id) if not c.revoked]
    if not in_force and not store().dispatches(req.id):
        raise Conflict(_("Issue a certified copy or record a postal dispatch first."))
    store().transition(req.id, "fulfilled", web.username(), text("note"))
    return done(req.id, "fulfilled")


@bp.post("/<number>/close")
def close(number: str) -> Response:
    req = checked(number, "close")
    store().transition(req.id, "closed", web.username(), text("note"))
    return done(req.id, "closed")


@bp.post("/<number>/reopen")
def reopen(number: str) -> Response:
    req = checked(number, "reopen")
    note = text("note", required=_("Say why the request is opened again."))
    store().transition(req.id, "in_progress", web.username(), note)
    return done(req.id, "reopened")


@bp.post("/<number>/revoke")
def revoke(number: str) -> Response:
    """Revoke an issued copy of this request: verification then says so, links end."""
    if not may_revoke():
        raise Forbidden(_("Only Reviewers and Managers revoke certified copies."))
    req = checked(number, "revoke")
    code = text("code", 40, required=_("Choose the copy."))
    if code not in {c.code for c in store().copies_of(req.id)}:
        raise NotFound(_("This request has no copy %(c)s.", c=code))
    store().revoke(code, web.username(), text("reason", required=_(
        "Say why the copy is revoked (verification shows it).")))
    return done(req.id, "revoked")
