"""Account administration at ``/staff/accounts/`` (Managers) and "my account" (everyone).

Every action is one of the repository's account operations (:mod:`repo.accounts`), the same
the ``lantai users`` commands call, as the signed-in user: who may do what is decided there
(a non-Manager gets its 403), each change is a changeset in the account's history with the
reason given in the form, and it counts at the account's next request (the staff guard and
the API read the account every time). The pages only collect the input and show the result.

Pages: the list of accounts with status and roles and a form to add one; an account's page
(site roles granted and revoked, local roles by place with a revoke button each, API tokens
by id, revoked one by one or all, a new one shown once, password, second factor reset,
disable/enable, remove after one confirmation, history); "my account" (own password, own
second factor).
"""

from __future__ import annotations

import pyotp
from flask import Blueprint, current_app, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from repo.accounts import account_changes, is_manager, require_manager
from repo.errors import Forbidden, Invalid, LantaiError
from repo.repository import Repository
from repo.security import ALL_ROLES, User
from staff import auth, web
from staff.sessions import Session

bp = Blueprint("accounts", __name__)
web.MENU_FOR["staff.accounts.accounts"] = is_manager

FIELD_MAX = 1000  # characters kept of a text field (names, reasons); passwords: 1024


def field(name: str, limit: int = FIELD_MAX) -> str:
    """A text field of the form, refused (not cut) when longer than ``limit``."""
    text = request.form.get(name, "").strip()
    if len(text) > limit:
        raise Invalid(_("%(field)s: at most %(limit)d characters", field=name, limit=limit))
    return text


def reason() -> str:
    return field("message")


def current() -> Session:
    """This request's session (pages behind the guard are signed in)."""
    s = web.session()
    assert s is not None and s.username is not None, "behind the sign-in guard"
    return s


def back(name: str) -> Response:
    return redirect(url_for("staff.accounts.account", name=name), 303)


# ---------------------------------------------------------------------- the list
@bp.get("/accounts/")
def accounts() -> Response:
    return list_page()


def list_page(status: int = 200, **context) -> Response:
    rows = web.reading(lambda repo, user: repo.account_list(user))
    return web.render("staff/accounts.html", status, rows=rows, roles=ALL_ROLES,
                      form=context.pop("form", {}), **context)


@bp.post("/accounts/")
def add() -> Response:
    roles = request.form.getlist("roles")[:len(ALL_ROLES)]

    def run(repo: Repository, user: User) -> None:
        repo.add_user(user, field("name"), roles=roles, fullname=field("fullname"),
                      password=request.form.get("password", "")[:1024] or None,
                      agent=field("agent") or None, message=reason())
    try:
        web.writing(run)
    except Forbidden:
        raise
    except LantaiError as exc:  # the form again, with what was typed (not the password)
        form = {k: request.form.get(k, "")[:FIELD_MAX] for k in ("name", "fullname", "agent")}
        return list_page(exc.http_status, form={**form, "roles": roles}, error=exc.message)
    return back(field("name"))


# ---------------------------------------------------------------------- one account
@bp.get("/accounts/<name>")
def account(name: str) -> Response:
    def run(repo: Repository, user: User) -> dict:
        require_manager(user)
        target = repo.user(name)
        history = [(cs, account_changes(cs))
                   for cs in reversed(repo.account_history(user, name))]
        return {"target": target, "account_status": repo.account_status(name),
                "local": repo.local_roles(user, name), "tokens": repo.tokens(user, name),
                "history": history}
    return web.render("staff/accounts_user.html", roles=ALL_ROLES, **web.reading(run))


@bp.post("/accounts/<name>/status")
def set_status(name: str) -> Response:
    action = request.form.get("action")
    if action not in ("disable", "enable"):
        return web.error_page(400, _("Choose to disable or to enable the account."))
    web.writing(lambda repo, user: getattr(repo, action)(user, name, message=reason()))
    return back(name)


@bp.get("/accounts/<name>/remove")
def confirm_remove(name: str) -> Response:
    def run(repo: Repository, user: User) -> dict:
        require_manager(user)
        return {"target": repo.user(name), "local": repo.local_roles(user, name)}
    return web.render("staff/accounts_remove.html", **web.reading(run))


@bp.post("/accounts/<name>/remove")
def remove(name: str) -> Response:
    if request.form.get("confirm") != "yes":
        return redirect(url_for("staff.accounts.confirm_remove", name=name), 303)
    web.writing(lambda repo, user: repo.remove(user, name, message=reason()))
    return redirect(url_for("staff.accounts.accounts"), 303)


@bp.post("/accounts/<name>/password")
def password(name: str) -> Response:
    """Set ``name``'s password: its sessions end at their next request (the guard sees the
    new hash); a Manager setting their own goes on under a new session."""
    new = request.form.get("password", "")[:1024]

    def run(repo: Repository, user: User) -> str | None:
        repo.set_password(user, name, new)
        return repo.user(name).password_hash
    password_hash = web.writing(run)
    if name == web.username():
        return renew(name, password_hash, back(name))
    return back(name)


def renew(name: str, password_hash: str | None, resp: Response) -> Response:
    """End every session of ``name`` and go on in a new one (own password changed)."""
    store = auth.sessions()
    store.end_all(name)
    return auth.set_cookie(resp, store.new(name, password_hash=password_hash))


@bp.post("/accounts/<name>/roles")
def grant(name: str) -> Response:
    role = field("role", 40)
    web.writing(lambda repo, user: repo.grant(user, name, role, message=reason()))
    return back(name)


@bp.post("/accounts/<name>/roles/revoke")
def revoke(name: str) -> Response:
    role, on = field("role", 40), field("on") or None
    web.writing(lambda repo, user: repo.revoke(user, name, role, on=on, message=reason()))
    return back(name)


@bp.post("/accounts/<name>/tokens")
def issue_token(name: str) -> Response:
    keep = request.form.get("keep") == "yes"
    token = web.writing(lambda repo, user: repo.new_token(user, name, keep=keep))
    return web.render("staff/accounts_token.html", name=name, token=token, kept=keep)


@bp.post("/accounts/<name>/tokens/revoke")
def revoke_token(name: str) -> Response:
    token = field("token", 100)
    web.writing(lambda repo, user: repo.revoke_token(user, name, token, message=reason()))
    return back(name)


@bp.post("/accounts/<name>/totp/reset")
def reset_totp(name: str) -> Response:
    web.writing(lambda repo, user: repo.set_totp(user, name, None, message=reason()))
    return back(name)


# ---------------------------------------------------------------------- my account
@bp.get("/account")
def me(status: int = 200, **context) -> Response:
    def run(repo: Repository, user: User) -> dict:
        return {"me": user, "local": repo.local_roles(user, user.name),
                "tokens": repo.tokens(user, user.name)}
    return web.render("staff/accounts_me.html", status, **web.reading(run), **context)


@bp.post("/account/password")
def my_password() -> Response:
    """A new password for oneself: the current one first; every other session of the
    account ends, this one goes on under a new id."""
    current = request.form.get("current", "")[:1024]
    new, again = (request.form.get(k, "")[:1024] for k in ("password", "again"))
    name = web.username()
    if new != again:
        return me(422, error=_("The two new passwords differ. Nothing was changed."))
    try:
        web.reading(lambda repo, _user: repo.authenticate(name, password=current))
    except Forbidden:
        return me(403, error=_("The current password is wrong. Nothing was changed."))

    def run(repo: Repository, user: User) -> str | None:
        repo.set_password(user, name, new)
        return repo.user(name).password_hash
    try:
        password_hash = web.writing(run)
    except Invalid as exc:
        return me(422, error=exc.message)
    return renew(name, password_hash, redirect(url_for("staff.accounts.me"), 303))


@bp.get("/account/totp")
def totp_setup(status: int = 200, error: str | None = None) -> Response:
    """A new secret to scan, kept in the session until a code from it confirms it."""
    s = current()
    if not s.enrol:
        auth.sessions().offer_totp(s, pyotp.random_base32())
    assert s.enrol is not None
    uri = pyotp.TOTP(s.enrol).provisioning_uri(
        name=s.username, issuer_name=current_app.config["SETTINGS"].site_name_en)
    return web.render("staff/accounts_totp.html", status, enrol=s.enrol,
                      qr=auth.qr_svg(uri), error=error)


@bp.post("/account/totp")
def totp_confirm() -> Response:
    s, store = current(), auth.sessions()
    name = web.username()
    settings = current_app.config["SETTINGS"]
    if not s.enrol:
        return redirect(url_for("staff.accounts.totp_setup"), 303)
    if store.failures("account", name) >= settings.staff_signin_failures_per_account:
        return web.error_page(429, _("Too many wrong codes. Try again in a quarter of an "
                                     "hour."))
    step = auth.matching_step(s.enrol, field("code", 10).replace(" ", ""))
    if step is None or not store.use_totp_step(name, step):
        store.fail(name, auth.address())
        return totp_setup(403, _("That code is wrong or was used already; wait for the "
                                 "next one."))
    secret = s.enrol
    web.writing(lambda repo, user: repo.set_totp(user, name, secret))
    store.offer_totp(s, None)
    return redirect(url_for("staff.accounts.me"), 303)
