"""Signing in and out of the staff workspace, and the guard in front of every staff page.

Sign-in checks the account's scrypt password through :meth:`Repository.authenticate` (the
accounts the CLI and the API use), then, if the account has a TOTP secret or is a Manager on
a site that requires one (``staff_totp_for_managers``), a six-digit code, each code good
once. Failures are counted per account and per address (:mod:`staff.sessions`); past the
site's limits the form answers 429 without checking the password. Every sign-in gets a new
session id; signing out ends it on the server.

The guard (:func:`guard`) runs before every ``/staff/`` request: a request that changes
anything must carry the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``), or it is refused with 400 before anything else is looked at; a page
without a signed-in session sends the visitor to the sign-in page; the account is read from
the store on every request, so disabling or removing it, or changing its password (here or
with ``lantai users passwd``), ends its sessions at their next request.

:func:`init_app` extends the same guard and ``no-store`` to whatever under ``/staff/`` no
staff view answers (an unknown URL, a method a view was not registered for, a failure): those
get the workspace's own error page, and only after the guard (no session, no page).
"""

from __future__ import annotations

import secrets

import pyotp
import segno
from flask import Blueprint, Flask, current_app, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from publisher.ratelimit import client_address
from repo.errors import Forbidden, LantaiError, NotFound
from repo.security import User
from staff import web
from staff.sessions import Session, SessionStore, fingerprint

bp = Blueprint("auth", __name__)

COOKIE = "lantai_staff"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
OPEN_ENDPOINTS = {"staff.auth.login", "staff.auth.signin", "staff.auth.second_factor",
                  "staff.auth.check_second_factor"}
EXTENSION = "lantai.staff.sessions"
FORM_LIMIT = 1_000_000  # bytes of a urlencoded form (files come as multipart)


def sessions() -> SessionStore:
    return current_app.extensions[EXTENSION]


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    app.extensions[EXTENSION] = SessionStore(
        app.config["LANTAI_HOME"] / "staff" / "sessions.sqlite3",
        idle_seconds=settings.staff_idle_minutes * 60)
    app.before_request(guard_unrouted)
    app.after_request(no_store_under_staff)
    for code in (404, 405, 413, 500):
        staff_errors(app, code)


def under_staff() -> bool:
    return request.path == "/staff" or request.path.startswith("/staff/")


def guard_unrouted() -> Response | None:
    """The guard, for a ``/staff/`` URL that no staff view answers (the staff blueprint's
    own ``before_request`` does not run for it): no session, no 404 either."""
    if isinstance(request.routing_exception, MethodNotAllowed):
        return None  # 405 with Allow, as everywhere on the site, before the CSRF check
    if under_staff() and "staff" not in request.blueprints:
        return guard()
    return None


def no_store_under_staff(resp: Response) -> Response:
    return no_store(resp) if under_staff() else resp


def staff_errors(app: Flask, code: int) -> None:
    """``code`` under ``/staff/`` as a workspace page; elsewhere the handler there was."""
    from werkzeug.exceptions import default_exceptions

    before = app.error_handler_spec.get(None, {}).get(code, {}).get(default_exceptions[code])
    messages = {
        404: lazy_gettext("There is no page of the workspace at this address."),
        405: lazy_gettext("This page does not take that kind of request."),
        413: lazy_gettext("What was sent is too large. Nothing was changed."),
        500: lazy_gettext("The workspace failed on this request; it is logged. "
                          "Nothing was changed."),
    }

    def handler(exc: HTTPException):
        if not under_staff():
            return before(exc) if before is not None else exc
        resp = web.error_page(code, str(messages[code]))
        if code == 405 and getattr(exc, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return resp

    app.register_error_handler(code, handler)


def set_cookie(resp: Response, s: Session) -> Response:
    """The session id: HttpOnly, SameSite=Lax, only under /staff, Secure on an https site."""
    resp.set_cookie(COOKIE, s.id, httponly=True, samesite="Lax", path="/staff",
                    secure=current_app.config["BASE"].startswith("https:"))
    return resp


def address() -> str:
    settings = current_app.config["SETTINGS"]
    return client_address(request.environ, set(settings.trusted_proxies.split()))


# ---------------------------------------------------------------------- the guard
def guard() -> Response | None:
    """Before every staff request: CSRF on changes, then a signed-in, active account."""
    g.staff_session = s = sessions().get(request.cookies.get(COOKIE))
    if request.max_content_length is None:
        # every body is bounded: uploads by the site's limit (staff.files.bound_uploads, which
        # runs first), any other form by this (Werkzeug bounds multipart text fields, not
        # url-encoded bodies nor files); more is refused with 413 before anything is read
        request.max_content_length = FORM_LIMIT
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
        if s is None or not sent or not secrets.compare_digest(  # bytes: any text compares
                sent.encode("utf-8", "replace"), s.csrf.encode()):
            return web.error_page(400, _(
                "This form was not sent by this page of the workspace, or it is out of date "
                "(missing or wrong CSRF token). Nothing was changed: reload the page and try "
                "again."))
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if s is None or not s.signed_in:
        if request.method in SAFE_METHODS:
            return redirect(url_for("staff.auth.login", next=request.full_path.rstrip("?")))
        return web.error_page(401, _("Please sign in first."))
    try:
        g.staff_user = user = web.reading(lambda _repo, user: user)
    except (Forbidden, NotFound):  # disabled or removed since: the session ends here
        user = None
    if user is None or fingerprint(user.password_hash) != s.password:  # or a new password
        sessions().end(s.id)
        g.staff_session = None
        if request.method in SAFE_METHODS:
            return redirect(url_for("staff.auth.login"))
        return web.error_page(401, _("Please sign in again."))
    return None


def no_store(resp: Response) -> Response:
    """Staff pages are never kept by a shared cache, nor framed by another site."""
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["Pragma"] = "no-cache"
    resp.vary.update(("Cookie", "Accept-Language"))
    resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'self'; "
        "form-action 'self'; base-uri 'none'; object-src 'none'")
    return resp


# ---------------------------------------------------------------------- sign in
@bp.get("/login")
def login() -> Response:
    s = web.session()
    if s is not None and s.signed_in:
        return redirect(web.safe_next(request.args.get("next")))
    if s is None or s.pending:
        s = g.staff_session = sessions().new()
    resp = web.render("staff/login.html", next=web.safe_next(request.args.get("next")))
    return set_cookie(resp, s)


@bp.post("/login")
def signin() -> Response:
    store, who, addr = sessions(), request.form.get("username", "").strip()[:64], address()
    settings = current_app.config["SETTINGS"]
    nxt = web.safe_next(request.form.get("next"))
    if (store.failures("account", who) >= settings.staff_signin_failures_per_account
            or store.failures("address", addr) >= settings.staff_signin_failures_per_address):
        resp = web.render("staff/login.html", 429, next=nxt, username=who, error=_(
            "Too many failed sign-ins. Wait a quarter of an hour, or ask a Manager to set a "
            "new password."))
        resp.headers["Retry-After"] = "900"
        return resp
    try:
        user = web.api_site().reader().authenticate(
            who, password=request.form.get("password", "")[:1024])
    except LantaiError:
        store.fail(who, addr)
        return web.render("staff/login.html", 403, next=nxt, username=who,
                          error=_("Wrong user name or password."))
    old = web.session()
    if old is not None:
        store.end(old.id)
    if user.totp_secret or totp_required(user):
        enrol = None if user.totp_secret else pyotp.random_base32()
        s = store.new(pending=user.name, enrol=enrol)
        return set_cookie(redirect(url_for("staff.auth.second_factor", next=nxt)), s)
    store.forget_failures(who)
    return set_cookie(redirect(nxt), store.new(user.name, password_hash=user.password_hash))


def totp_required(user: User) -> bool:
    return bool(current_app.config["SETTINGS"].staff_totp_for_managers
                and "Manager" in user.roles)


def qr_svg(uri: str) -> Markup:
    """A QR code of ``uri`` as inline SVG (segno writes it; no image is stored)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#111", light="#fff")
    return Markup(svg)  # segno's own markup: the URI is encoded in the modules, not echoed


@bp.get("/login/code")
def second_factor() -> Response:
    s = web.session()
    if s is None or not s.pending:
        return redirect(url_for("staff.auth.login"))
    context: dict[str, object] = {"next": web.safe_next(request.args.get("next"))}
    if s.enrol:
        uri = pyotp.TOTP(s.enrol).provisioning_uri(
            name=s.pending, issuer_name=current_app.config["SETTINGS"].site_name_en)
        context.update(enrol=s.enrol, qr=qr_svg(uri))
    return web.render("staff/code.html", 200, **context)


@bp.post("/login/code")
def check_second_factor() -> Response:
    s = web.session()
    if s is None or not s.pending:
        return redirect(url_for("staff.auth.login"))
    store, name, addr = sessions(), s.pending, address()
    settings = current_app.config["SETTINGS"]
    nxt = web.safe_next(request.form.get("next"))
    if store.failures("account", name) >= settings.staff_signin_failures_per_account:
        store.end(s.id)
        return web.error_page(429, _("Too many wrong codes. Sign in again in a quarter of "
                                     "an hour."))
    code = request.form.get("code", "").strip().replace(" ", "")[:10]
    try:
        user = web.api_site().reader().active_user(name)
    except LantaiError:
        store.end(s.id)
        return redirect(url_for("staff.auth.login"))
    secret = s.enrol or user.totp_secret or ""
    step = matching_step(secret, code)
    if step is None or not store.use_totp_step(name, step):
        store.fail(name, addr)
        return web.render("staff/code.html", 403, next=nxt, error=_(
            "That code is wrong or was used already; wait for the next one."))
    if s.enrol:
        web.writing_as(name, lambda repo, me: repo.set_totp(me, name, s.enrol))
    store.end(s.id)
    store.forget_failures(name)
    return set_cookie(redirect(nxt), store.new(name, password_hash=user.password_hash))


def matching_step(secret: str, code: str) -> int | None:
    """The time step whose code this is (this one or a neighbour: clocks drift)."""
    if not secret or not (code.isascii() and code.isdigit()) or len(code) != 6:
        return None
    totp, now = pyotp.TOTP(secret), int(sessions().clock()) // 30
    for step in (now, now - 1, now + 1):
        if secrets.compare_digest(totp.at(step * 30), code):
            return step
    return None


@bp.post("/logout")
def logout() -> Response:
    s = web.session()
    if s is not None:
        sessions().end(s.id)
    resp = redirect(url_for("staff.auth.login"))
    resp.delete_cookie(COOKIE, path="/staff")
    return resp
