"""Signed values of the public request pages: the CSRF token of their forms, and the two
short-lived cookies that carry a requester from one page to the next without putting a
request number, an e-mail address or a code in a URL (the request log records URLs).

- CSRF (double submit): a random value in an HttpOnly, SameSite=Strict cookie, and the same
  value signed (with a time) in each form's hidden ``csrf_token`` field. A POST whose field
  does not carry the cookie's value, signed by us in the last two hours, is refused (400).
  A foreign site can neither read the cookie nor forge the signature.
- ``pending``: the request just made, waiting for its e-mail code (30 minutes).
- ``status``: the request whose status page was opened with an e-mailed code (15 minutes).

All are signed with :mod:`itsdangerous` under a key derived from the site master key
(``preservation.keys.subkey(master, "requests/forms")``), which lives outside the site.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, current_app, g, request
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from preservation import keys

CSRF_COOKIE = "lantai_rq_csrf"
PENDING_COOKIE = "lantai_rq_pending"
STATUS_COOKIE = "lantai_rq_status"
CSRF_SECONDS = 2 * 3600
PENDING_SECONDS = 30 * 60
STATUS_SECONDS = 15 * 60
PATH = "/requests"
_EXTENSION = "lantai.requests.signer"


def init_app(app: Flask) -> None:
    """Derive the signing key once per app (the master key is read from outside the site)."""
    master = keys.site_master_key(app.config["LANTAI_HOME"], create=True)
    app.extensions[_EXTENSION] = URLSafeTimedSerializer(
        keys.subkey(master, "requests/forms"), salt="lantai-requests")


def _signer(purpose: str) -> URLSafeTimedSerializer:
    base: URLSafeTimedSerializer = current_app.extensions[_EXTENSION]
    return URLSafeTimedSerializer(base.secret_key, salt=f"lantai-requests/{purpose}")


def _secure() -> bool:
    """Secure cookies on an https site (as the staff session's)."""
    return str(current_app.config["BASE"]).startswith("https:")


# ------------------------------------------------------------------ CSRF
def csrf_token() -> str:
    """The hidden field's value for this visitor (a cookie is set on the response if new)."""
    value = request.cookies.get(CSRF_COOKIE, "")
    if not (16 <= len(value) <= 64) or not value.isascii():
        value = g.get("rq_csrf_new") or secrets.token_urlsafe(24)
        g.rq_csrf_new = value
    return str(_signer("csrf").dumps(value))


def set_csrf_cookie(resp: Response) -> Response:
    """After a page that made a new CSRF value: give it to the browser."""
    value = g.get("rq_csrf_new")
    if value:
        resp.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="Strict",
                        secure=_secure(), path=PATH)
    return resp


def csrf_ok() -> bool:
    """Whether this POST carries a fresh token for the value in the visitor's cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    field = request.form.get("csrf_token", "")
    if not cookie or not field or len(field) > 200:
        return False
    try:
        value = _signer("csrf").loads(field, max_age=CSRF_SECONDS)
    except BadData:
        return False
    return isinstance(value, str) and hmac.compare_digest(value, cookie)


# ------------------------------------------------------------------ request cookies
def set_bound(resp: Response, cookie: str, request_id: str) -> None:
    """Bind the browser to one request for a while (``pending`` or ``status``)."""
    seconds = PENDING_SECONDS if cookie == PENDING_COOKIE else STATUS_SECONDS
    resp.set_cookie(cookie, str(_signer(cookie).dumps(request_id)), max_age=seconds,
                    httponly=True, samesite="Strict", secure=_secure(), path=PATH)


def bound(cookie: str) -> str | None:
    """The request the browser is bound to, if the cookie is ours and not too old."""
    text = request.cookies.get(cookie, "")
    if not text or len(text) > 300:
        return None
    seconds = PENDING_SECONDS if cookie == PENDING_COOKIE else STATUS_SECONDS
    try:
        value = _signer(cookie).loads(text, max_age=seconds)
    except BadData:
        return None
    return value if isinstance(value, str) else None


def clear(resp: Response, cookie: str) -> None:
    resp.delete_cookie(cookie, path=PATH, httponly=True, samesite="Strict", secure=_secure())
