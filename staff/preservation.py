"""Preservation in the staff workspace (issue 14, item 5): fixity failures and each object's
PREMIS events, for Managers only.

``/staff/preservation/`` shows the latest fixity run and the failures not since cleared
(:meth:`preservation.events.EventLog.open_failures`); ``/staff/preservation/events?object=IRI``
lists one object's events, and ``&format=turtle`` or ``&format=jsonld`` gives them as PREMIS 3
RDF. The dashboard shows the same failures in a section of its own (``staff/_fixity.html``,
through the ``staff_fixity`` template global), only to Managers: an event names a file of any
record, closed or personal ones too. Nothing here is public; events never enter a store.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from preservation.events import MEDIA_TYPES, EventLog, export
from repo.errors import Forbidden, Invalid
from repo.repository import Repository
from repo.security import User
from staff import web

bp = Blueprint("preservation", __name__, url_prefix="/preservation")

ROWS = 50

# what the events' short names (preservation.events.TYPES, OUTCOME_CODES) read as on the page
LABELS = {
    "fixity": _l("fixity check"), "ingestion": _l("ingestion"), "replacement": _l("replacement"),
    "repair": _l("repair"), "replication": _l("replication"), "migration": _l("migration"),
    "encryption": _l("encryption"), "deletion": _l("deletion"), "validation": _l("validation"),
    "success": _l("success"), "failure": _l("failure"), "warning": _l("warning"),
}


def may_see(user: User) -> bool:
    return "Manager" in user.roles


web.MENU_FOR["staff.preservation.overview"] = may_see


def _manager() -> User:
    def run(repo: Repository, user: User) -> User:
        if not may_see(user):
            raise Forbidden(_("Preservation events are for Managers."))
        return user
    return web.reading(run)


def _log() -> EventLog:
    return EventLog.for_site(Path(current_app.config["LANTAI_HOME"]))


def summary(limit: int = ROWS) -> dict:
    """The latest run and the open failures (the page's and the dashboard's)."""
    log = _log()
    try:
        failures = log.open_failures(limit=limit + 1)
        return {"last": log.last_run(), "failures": failures[:limit],
                "more": len(failures) > limit}
    finally:
        log.close()


def dashboard_section() -> dict | None:
    """For ``staff/_fixity.html``: the summary for a Manager, None for anyone else."""
    user = web.reading(lambda repo, user: user)
    if not may_see(user):
        return None
    return summary(limit=10)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["staff_fixity"] = dashboard_section


@bp.get("/")
def overview() -> Response:
    _manager()
    return web.render("staff/preservation.html", **summary())


@bp.get("/events")
def events() -> Response:
    _manager()
    object_id = request.args.get("object", "").strip()
    if not object_id or len(object_id) > 2000:
        raise Invalid(_("Name an object: ?object=IRI."))
    log = _log()
    try:
        found = log.for_object(object_id)
    finally:
        log.close()
    fmt = request.args.get("format", "")
    if fmt:
        if fmt not in MEDIA_TYPES:
            raise Invalid(_("format: turtle or jsonld."))
        return Response(export(found, fmt), mimetype=MEDIA_TYPES[fmt])
    return web.render("staff/preservation_events.html", object_id=object_id,
                      events=list(reversed(found)), labels=LABELS)
