"""Consent pages of the staff workspace (issue 13, item 9): ``/staff/growth/consent/``.

- A student (an account whose ``agent`` is a Person) sees the records of their growth record
  they may read, each with a "show on the exhibit" or "withdraw" control and what is shown
  now (scope, since when), and the history of their consents.
- Archivists (Editor, Reviewer, Manager) see the latest consents of everyone, and a person's
  records and consents at ``/staff/growth/consent/person/<key>``; a Manager may give consent
  there on the student's written request (recorded as such) and withdraw any consent.

Every change goes through :mod:`services.growth.consent` inside :func:`staff.web.writing`
(the repository's one door); the staff guard checks the CSRF token of every form, and the
workspace's Content-Security-Policy applies (no script on these pages at all). Nothing the
user typed is echoed back: the page after a change says what happened from a fixed list.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, current_app, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from publisher.i18n import ui_text
from repo.errors import Invalid, NotFound
from repo.repository import Repository
from repo.security import User
from services.growth import consent as consents
from staff import web

bp = Blueprint("growth_consent", __name__, url_prefix="/growth/consent",
               template_folder="templates")

KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RECORD_MAX = 2000  # a record's IRI or path, as the form sends it
DONE = {"given": ui_text("The record is now shown on the public student exhibit."),
        "revoked": ui_text("Consent withdrawn: the record has left the public site.")}
ACCESS = {"open": ui_text("Open"), "restricted": ui_text("Restricted"),
          "personal": ui_text("Personal"), "embargoed": ui_text("Embargoed")}
STATES = {"private": ui_text("Private"), "pending": ui_text("Pending review"),
          "published": ui_text("Published")}


def store() -> consents.ConsentStore:
    """The site's consent store, opened once per app."""
    found = current_app.extensions.get("lantai.growth.consent")
    if found is None:
        found = current_app.extensions["lantai.growth.consent"] = consents.ConsentStore.open(
            current_app.config["LANTAI_HOME"])
    return found


def init_app(app: Flask) -> None:
    app.extensions.pop("lantai.growth.consent", None)  # a new app: its own site's store


def may_use(user: User) -> bool:
    """The menu entry: students (an account that is a person) and archivists."""
    return bool(user.agent) or bool(consents.STAFF_READERS & set(user.roles))


web.MENU_FOR["staff.growth_consent.mine"] = may_use


def _person_of_key(repo: Repository, key: str) -> str:
    if not KEY.fullmatch(key):
        raise NotFound("no such person")
    return consents.person_iri(repo, repo.iri_for("agent", key))


def _page(repo: Repository, user: User, person: str, **context) -> Response:
    """A person's records with their controls, and their consents."""
    s = store()
    rows = consents.candidates(s, repo, user, person)
    history = s.consents(person)
    titles = {c.record.iri: c.record for c in rows}
    for c in history:  # titles of records no longer listed (deleted, or hidden since)
        if c.record not in titles:
            obj = repo.load(c.record)
            if obj is not None and not obj.deleted and consents.visible(repo, user, obj):
                titles[c.record] = obj
    person_obj = repo.load(person)
    return web.render(
        "growth/consent.html", rows=rows, history=history, titles=titles,
        person=person_obj, own=user.agent == person, manager=consents.is_manager(user),
        may_give=user.agent == person or consents.is_manager(user),
        may_revoke=user.agent == person or consents.is_manager(user),
        section=current_app.config["SETTINGS"].growth_exhibit_section,
        access_labels=ACCESS, state_labels=STATES,
        done=DONE.get(request.args.get("done", "")), **context)


@bp.get("/")
def mine() -> Response:
    """The student's own records and consents; for archivists, everyone's latest consents."""
    def run(repo: Repository, user: User) -> Response:
        if user.agent and repo.load(user.agent) is not None:
            return _page(repo, user, user.agent)
        if not consents.STAFF_READERS & set(user.roles):
            raise NotFound(_("There is no growth record of yours, and no consents to see."))
        recent = store().recent(limit=100)
        people = {c.person: repo.load(c.person) for c in recent}
        records = {c.record: repo.load(c.record) for c in recent}
        return web.render("growth/consent_overview.html", recent=recent, people=people,
                          records=records, done=DONE.get(request.args.get("done", "")))
    return web.reading(run)


@bp.get("/person/<key>")
def person(key: str) -> Response:
    """A person's records and consents (archivists, and the person themself)."""
    def run(repo: Repository, user: User) -> Response:
        iri = _person_of_key(repo, key)
        if not consents.may_see(user, iri):
            raise NotFound("no such person")
        return _page(repo, user, iri, key=key)
    return web.reading(run)


def _back(person: str, done: str) -> str:
    """Where a form returns: the person's page it was sent from, else the user's own."""
    if person:
        return url_for("staff.growth_consent.person", key=person, done=done)
    return url_for("staff.growth_consent.mine", done=done)


def _field(name: str, limit: int) -> str:
    value = request.form.get(name, "")
    if len(value) > limit:
        raise Invalid(_("A field of this form is too long."))
    return value


@bp.post("/give")
def give() -> Response:
    """Show one record on the exhibit (the student; a Manager on a written request)."""
    record = _field("record", RECORD_MAX).strip()
    key = _field("person", 64).strip()
    note = _field("on_request", consents.REQUEST_NOTE_MAX)
    if not record:
        raise Invalid(_("Choose a record."))
    if key and not KEY.fullmatch(key):
        raise NotFound("no such person")

    def run(repo: Repository, user: User) -> None:
        who = repo.iri_for("agent", key) if key else None
        consents.give(store(), repo, user, record, person=who, on_request=note)
    web.writing(run)
    return redirect(_back(key, "given"), 303)


@bp.post("/<int:consent_id>/revoke")
def revoke(consent_id: int) -> Response:
    """Withdraw a consent (the student themself, or a Manager)."""
    key = _field("person", 64).strip()
    if key and not KEY.fullmatch(key):
        raise NotFound("no such person")
    if consent_id > 2**62:
        raise NotFound("no such consent")

    def run(repo: Repository, user: User) -> None:
        consents.revoke(store(), repo, user, consent_id)
    web.writing(run)
    return redirect(_back(key, "revoked"), 303)
