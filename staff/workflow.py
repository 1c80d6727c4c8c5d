"""Workflow, access and sharing of one object, and the review queue (issue 11, item 4).

- ``/staff/access/<path>``: the transitions the user may take (``repo.workflow.available``
  over the roles the repository gives them here) as buttons with a comment field, posted to
  ``/staff/workflow/<path>``; and the access panel (open, restricted, personal, embargoed
  until a date, personal fields) posted back to the same URL: ``Repository.set_access``.
- ``/staff/sharing/<path>``: local roles here and inherited from above, grant and revoke:
  ``Repository.grant`` / ``revoke`` with ``on=``.
- ``/staff/review``: pending objects the user may publish or reject, oldest first
  (``Repository.review_queue``), each with a link to compare it with its last published
  revision.

Every change is the repository's operation as the signed-in user; a refusal (403) is the
error page, other refusals (an invalid date, an unknown user, a transition that no longer
applies) show the page again with the repository's reason and nothing changed.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ontology.profile import load_profile, vocabulary_codes
from publisher.i18n import lang as current_lang
from repo import access as access_rules
from repo.errors import Forbidden, Invalid, LantaiError
from repo.objects import ACCESS_LEVELS, ROLES
from repo.repository import Repository
from repo.security import User, allowed
from repo.workflow import TRANSITIONS, available
from staff import web

bp = Blueprint("workflow", __name__)

MAX_COMMENT = 2000  # characters of a transition comment or an access change's reason
REVIEW_ROWS = 50


def _text(name: str, limit: int = MAX_COMMENT) -> str:
    value = request.form.get(name, "").strip()
    if len(value) > limit:
        raise Invalid(_("%(field)s is longer than %(n)d characters", field=name, n=limit))
    return value


def _done(endpoint: str, path: str, message: str) -> Response:
    """After a change: back to the page (POST, redirect, GET), saying what was done."""
    return redirect(web.object_url(endpoint, path, done=message), 303)


# ---------------------------------------------------------------------- access page
def _access_context(repo: Repository, user: User, path: str) -> dict:
    obj = repo.get(user, path)
    roles = repo.roles_on(user, obj)
    settings = repo.settings
    today = repo.clock().date()
    level, opening = access_rules.default_rule(obj, today, settings.embargo_years)
    ctype = obj.type
    children_possible = any(obj.type_name in t.allowed_in for t in load_profile().types.values())
    closed_above = [a for a in repo.ancestors(obj) if not access_rules.is_open(a)]
    return {
        "obj": obj, "trail": list(reversed(repo.ancestors(obj))),
        "transitions": available(obj.state, roles), "recursive": children_possible,
        "may_change_access": any(allowed(p, obj.state, roles) for p in ("restrict", "open")),
        "levels": ACCESS_LEVELS, "level_labels": vocabulary_codes().get("access", {}),
        "default_level": level, "default_opening": opening,
        "formed": access_rules.latest_date(obj), "years": settings.embargo_years,
        "by_default": bool(obj.mgmt.get("accessByDefault")),
        "fields": [f for f in ctype.fields.values() if not f.set_by_ingest],
        "closed_above": closed_above, "public": repo.is_public(obj.iri),
        "today": today,
    }


def _access_page(path: str, status: int = 200, **extra) -> Response:
    ctx = web.reading(lambda repo, user: _access_context(repo, user, path))
    return web.render("staff/access.html", status, done=request.args.get("done", ""),
                      **ctx, **extra)


@bp.get("/access/<path:path>")
def access(path: str) -> Response:
    return _access_page(path)


@bp.post("/workflow/<path:path>")
def transition(path: str) -> Response:
    """Take a transition (button ``action``) with a comment; ``recursive`` for inside too."""
    try:
        action = _text("action", 40)
        comment = _text("comment")
        recursive = request.form.get("recursive") == "1"
        changed = web.writing(lambda repo, user: repo.transition(
            user, path, action, comment=comment, recursive=recursive))
    except Forbidden:
        raise
    except LantaiError as exc:
        return _access_page(path, exc.http_status, error=exc.message)
    t = TRANSITIONS[action]
    return _done("staff.workflow.access", path,
                 _("%(action)s: %(n)d object(s) now %(state)s", n=len(changed),
                   action=t.title_zh if current_lang() == "zh" else t.title_en,
                   state=_(changed[0].state)))


@bp.post("/access/<path:path>")
def set_access(path: str) -> Response:
    """The access panel: level (and opening date) and personal fields, in one change."""
    try:
        level = _text("level", 20)
        until = _text("until", 20) or None
        message = _text("message")
        marked = set(request.form.getlist("personal"))

        def run(repo: Repository, user: User):
            obj = repo.get(user, path)
            changes_level = level != obj.access or (
                level == "embargoed" and until is not None
                and until != (obj.opening_date.isoformat() if obj.opening_date else None))
            return repo.set_access(
                user, path, level if changes_level else None,
                until=until if changes_level and level == "embargoed" else None,
                personal=sorted(marked - obj.personal_fields),
                not_personal=sorted(obj.personal_fields - marked), message=message)
        obj = web.writing(run)
    except Forbidden:
        raise
    except LantaiError as exc:
        return _access_page(path, exc.http_status, error=exc.message)
    label = vocabulary_codes().get("access", {}).get(obj.access, {}).get(current_lang(),
                                                                          obj.access)
    until_text = f" ({obj.opening_date.isoformat()})" if obj.opening_date else ""
    return _done("staff.workflow.access", path,
                 _("Access is now: %(level)s", level=label) + until_text)


# ---------------------------------------------------------------------- sharing
def _sharing_context(repo: Repository, user: User, path: str) -> dict:
    obj = repo.get(user, path)
    ancestors = repo.ancestors(obj)  # nearest first
    inherited = [(a, name, role) for a in ancestors
                 for name, roles in sorted(a.local_roles().items()) for role in sorted(roles)]
    here = [(name, role) for name, roles in sorted(obj.local_roles().items())
            for role in sorted(roles)]
    return {"obj": obj, "trail": list(reversed(ancestors)), "here": here,
            "inherited": inherited, "roles": ROLES,
            "may_manage": allowed("manage", obj.state, repo.roles_on(user, obj)),
            "owner": obj.owner}


def _sharing_page(path: str, status: int = 200, **extra) -> Response:
    ctx = web.reading(lambda repo, user: _sharing_context(repo, user, path))
    return web.render("staff/sharing.html", status, done=request.args.get("done", ""),
                      **ctx, **extra)


@bp.get("/sharing/<path:path>")
def sharing(path: str) -> Response:
    return _sharing_page(path)


@bp.post("/sharing/<path:path>")
def share(path: str) -> Response:
    """Grant (``op=grant``) or revoke (``op=revoke``) a local role on this object."""
    try:
        op = _text("op", 10)
        name = _text("user", 64)
        role = _text("role", 20)
        if op not in ("grant", "revoke"):
            raise Invalid(_("Choose grant or revoke"))
        if not name:
            raise Invalid(_("Give a user name"))

        def run(repo: Repository, user: User) -> None:
            change = repo.grant if op == "grant" else repo.revoke
            change(user, name, role, on=path)
        web.writing(run)
    except Forbidden:
        raise
    except LantaiError as exc:
        return _sharing_page(path, exc.http_status, error=exc.message, form=request.form)
    done = (_("%(role)s granted to %(user)s", role=_(role.capitalize()), user=name)
            if op == "grant" else
            _("%(role)s revoked from %(user)s", role=_(role.capitalize()), user=name))
    return _done("staff.workflow.sharing", path, done)


# ---------------------------------------------------------------------- review queue
@bp.get("/review")
def review() -> Response:
    def run(repo: Repository, user: User) -> dict:
        queue = repo.review_queue(user, limit=REVIEW_ROWS + 1)
        return {"rows": queue[:REVIEW_ROWS], "more": len(queue) > REVIEW_ROWS,
                "everywhere": repo.worklists.reviewable_paths(user) is None}
    return web.render("staff/review.html", **web.reading(run))
