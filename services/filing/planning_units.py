"""The filing units' pages (``/staff/filing/units…``; issue 13, item 1): the units with
their notice address and officers; a corporate body of the repository found by name (the
staff catalog, filtered to what the user may view) and marked as a unit; an account
appointed officer of a unit (Managers: :func:`units.appoint` grants the scoped role
FilingOfficer through the Repository, as the signed-in user).

Routes on :data:`services.filing.planning.bp` (archivists only).
"""

from __future__ import annotations

from dataclasses import replace

from flask import redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from repo.catalog import Catalog
from repo.errors import Invalid, LantaiError, NotFound
from repo.repository import Repository
from repo.security import User
from services.filing import units
from services.filing.model import OFFICER_ROLE, Unit
from services.filing.planning import bp, store, text
from staff import web
from staff.lookup import catalog_query

FOUND = 20
MAX_QUERY = 100
MAX_EMAIL = 254
DONE = {"added": "The unit was added.", "email": "The notice address was saved.",
        "appointed": "The officer was appointed."}


def officers(repo: Repository, user: User, unit: Unit) -> list[str]:
    """The accounts holding FilingOfficer on the unit's corporate body."""
    try:
        held = repo.get(user, unit.agent).local_roles()
    except LantaiError:
        return []
    return sorted(name for name, roles in held.items() if OFFICER_ROLE in roles)


def corporate_bodies(repo: Repository, user: User, q: str) -> list[tuple[str, str, bool]]:
    """``(path, title, already a unit)`` of the corporate bodies whose name matches ``q``."""
    query = catalog_query(q)
    if not query:
        return []
    try:
        catalog = Catalog.open(repo.home, public=False, repository=repo)
    except (LantaiError, OSError, ValueError):
        raise LantaiError(_("The catalog is not available just now: type the corporate "
                            "body's path.")) from None
    found = catalog.search(query, filters={"type": ["corporatebody"]}, user=user, size=FOUND,
                           facets=False)
    agents = {u.agent for u in store().units()}
    out = []
    for hit in found.hits:
        title = " · ".join(t for t in (hit.title_zh, hit.title_en) if t) or hit.path
        out.append((hit.path, title, repo.resolve(hit.path) in agents))
    return out


@bp.get("/units")
def units_page() -> Response:
    return units_view()


def units_view(status: int = 200, **extra) -> Response:
    q = request.args.get("q", "").strip()[:MAX_QUERY]

    def read(repo: Repository, user: User) -> dict:
        all_units = store().units()
        return {"rows": [(u, officers(repo, user, u)) for u in all_units],
                "found": corporate_bodies(repo, user, q) if q else [],
                "may_appoint": "Manager" in user.roles or user.is_system}
    done = DONE.get(request.args.get("done", ""))
    return web.render("filing/planning_units.html", status, q=q, done=_(done) if done else "",
                      form=request.form if status != 200 else {},
                      **web.reading(read), **extra)


def email(value: str) -> str:
    if value and ("@" not in value or any(c.isspace() for c in value)):
        raise Invalid(_("The e-mail address is not valid."))
    return value


@bp.post("/units")
def add_unit() -> Response:
    """Mark a corporate body (its path) as a filing unit with a code and an address."""
    try:
        agent = text("agent", _("Corporate body"))
        code = text("code", _("Code"), 32)
        address = email(text("email", _("E-mail"), MAX_EMAIL))
        if not agent or not code:
            raise Invalid(_("A unit needs its corporate body and a code."))
        web.reading(lambda repo, user: units.add_unit(repo, store(), user, agent, code,
                                                      email=address))
    except LantaiError as exc:
        return units_view(exc.http_status, error=exc.message)
    return redirect(url_for(".units_page", done="added"), 303)


def unit_or_404(code: str) -> Unit:
    if len(code) > 32:
        raise NotFound(_("No such filing unit."))
    return store().unit(code)


@bp.post("/units/<code>")
def save_email(code: str) -> Response:
    unit = unit_or_404(code)
    try:
        store().update_unit(replace(unit, email=email(text("email", _("E-mail"), MAX_EMAIL))))
    except LantaiError as exc:
        return units_view(exc.http_status, error=exc.message)
    return redirect(url_for(".units_page", done="email"), 303)


@bp.post("/units/<code>/officers")
def appoint(code: str) -> Response:
    """Appoint an account officer of the unit (the Repository checks the Manager's right)."""
    unit = unit_or_404(code)
    try:
        name = text("username", _("Account"), 64)
        if not name:
            raise Invalid(_("Name the account to appoint."))
        web.writing(lambda repo, user: units.appoint(repo, store(), user, name, unit.code))
    except LantaiError as exc:
        return units_view(exc.http_status, error=exc.message)
    return redirect(url_for(".units_page", done="appointed"), 303)
