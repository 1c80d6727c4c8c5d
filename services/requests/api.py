"""Requests as JSON (``/api/requests``) for a WeChat official account, a mini-program or any
other front (issue 12, item 7). The same operations, checks and throttles as the public form
(:mod:`services.requests.public`, :mod:`.forms`, :mod:`.throttle`, :mod:`.idimage`), in the
REST API's OpenAPI document (each endpoint declared with :func:`publisher.api.services.service`
at the place ``OWN``: listed there, served here).

No cookies: a front holds a short-lived bearer token (signed, bound to one request):

- ``POST /api/requests``              the request (JSON) → a *pending* token (30 min); the
                                      six-digit code is e-mailed
- ``POST /api/requests/id-image``     (pending) the identity-document image, base64 in JSON
- ``POST /api/requests/verify-email`` (pending) the code → the request number
- ``POST /api/requests/send-again``   (pending) a new code
- ``POST /api/requests/status-code``  number + e-mail → a code is e-mailed (same answer
                                      whether or not they match)
- ``POST /api/requests/open``         number + code → a *status* token (15 min)
- ``GET  /api/requests/status``       (status) state, steps with dates, copies, dispatches
- ``POST /api/requests/download-link`` (status) a copy's verification code → a download link

Every change is a POST with a JSON body (bounded; checked against the JSON Schema the
document publishes, then by the form's own checks); nothing personal is ever in a URL (the
request log records paths); errors are ``{"error", "message", "status"}`` with a 4xx.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.exceptions import RequestEntityTooLarge

import services.requests as package
from preservation import keys
from publisher.api.http import ApiError, from_repository_error, json_body, problem
from publisher.api.services import (
    OWN,
    SCHEMAS,
    SECURITY_SCHEMES,
    Doc,
    service,
)
from publisher.i18n import human_date, lang
from publisher.ratelimit import client_address
from repo.config import Settings
from repo.errors import LantaiError, NotFound
from services.requests import forms, idimage, mail, public
from services.requests.delivery import bilingual
from services.requests.model import DELIVERIES, ID_TYPES, KINDS, LANGUAGES
from services.requests.store import EMAIL_CODE_MINUTES, RequestStore
from services.requests.throttle import Throttle

bp = Blueprint("requests_api", __name__, url_prefix="/api/requests")

PENDING_SECONDS = 30 * 60  # to upload the image and enter the e-mail code
STATUS_SECONDS = 15 * 60  # the opened status, as the public page's
BODY_BYTES = 64 * 1024  # every body but the image's
_SIGNER = "lantai.requests.api"
CHANNEL = "wechat"  # what the statistics count requests made through this channel as
WRONG_CODE = "the code is not right, or it has expired"
LOOKUP_WRONG = ("the code is not right, or it has expired, or the number does not match a "
                "request")
SENT = ("if the number and e-mail address match a request, a code was sent to that address; "
        f"it is valid for {EMAIL_CODE_MINUTES} minutes")


def init_app(app: Flask) -> None:
    """The tokens' key, derived from the site master key (which lives outside the site)."""
    master = keys.site_master_key(app.config["LANTAI_HOME"], create=True)
    app.extensions[_SIGNER] = URLSafeTimedSerializer(keys.subkey(master, "requests/api"),
                                                     salt="lantai-requests-api")


# ---------------------------------------------------------------------- plumbing
def _store() -> RequestStore:
    return package.store(current_app)


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _throttle() -> Throttle:
    found = current_app.extensions.get(public._THROTTLE)
    if found is None:  # the public part registers it; an app without it still throttles
        store = _store()
        found = current_app.extensions[public._THROTTLE] = Throttle(
            store.folder / "throttle.sqlite3", store.lookup_hash)
    return found


def _client() -> str:
    return client_address(request.environ, set(_settings().trusted_proxies.split()))


def _too_many(message: str) -> ApiError:
    return ApiError(429, message, headers={"Retry-After": "900"}, error="too-many-requests")


def issue_token(scope: str, request_id: str) -> str:
    return str(current_app.extensions[_SIGNER].dumps({"s": scope, "r": request_id}))


def bound_request(scope: str) -> str:
    """The request the ``Authorization: Bearer`` token of ``scope`` is bound to (401
    without one, or for one that is forged, expired or of another scope)."""
    header = request.headers.get("Authorization", "")
    kind, _, token = header.strip().partition(" ")
    seconds = PENDING_SECONDS if scope == "pending" else STATUS_SECONDS
    challenge = {"WWW-Authenticate": 'Bearer realm="lantai-requests"'}
    if kind.lower() != "bearer" or not token or len(token) > 400:
        raise ApiError(401, f"this needs the {scope} token: Authorization: Bearer <token>",
                       headers=challenge)
    try:
        value = current_app.extensions[_SIGNER].loads(token.strip(), max_age=seconds)
    except BadData:
        value = None
    if not isinstance(value, dict) or value.get("s") != scope or \
            not isinstance(value.get("r"), str):
        raise ApiError(401, f"the {scope} token is unknown or expired", headers=challenge,
                       error="unauthorized")
    return value["r"]


def body(schema: str, limit: int = BODY_BYTES) -> dict[str, Any]:
    """The JSON body, bounded, checked against its schema in the OpenAPI document."""
    data = json_body(required=True, limit=limit)
    problems = sorted(jsonschema.Draft202012Validator(SCHEMAS[schema]).iter_errors(data),
                      key=lambda e: list(e.absolute_path))
    if problems:
        first = problems[0]
        where = ".".join(str(p) for p in first.absolute_path) or "body"
        raise ApiError(400, f"{where}: {first.message}"[:300])
    return data


def send(payload: dict, status: int = 200) -> Response:
    resp = jsonify(payload)
    resp.status_code = status
    return resp


@bp.before_request
def bounded() -> None:
    """Bound every body before anything reads it (a chunked one too)."""
    limit = BODY_BYTES
    if request.endpoint == "requests_api.id_image":
        limit = image_body_limit(_settings())
    request.max_content_length = limit


@bp.after_request
def private(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.errorhandler(ApiError)
def api_error(exc: ApiError) -> Response:
    return problem(exc.status, exc.message, error=exc.error, headers=exc.headers)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc: RequestEntityTooLarge) -> Response:
    return problem(413, "the request body is too large")


@bp.errorhandler(LantaiError)
def refused(exc: LantaiError) -> Response:
    return from_repository_error(exc)


def image_body_limit(settings: Settings) -> int:
    """Base64 makes 3 bytes 4 characters; a little room for the JSON around it."""
    return settings.requests_upload_max_mb * 1024 * 1024 * 4 // 3 + 1024


def _mail_later(to: str, subject: str, text: str) -> None:
    """Send in the background: the answer does not wait for the mail server, so how long
    it takes says nothing about whether the number and address matched."""
    settings = _settings()

    def run() -> None:
        with contextlib.suppress(mail.MailError):  # the requester asks again; nothing
            mail.send(settings, to, subject, text)  # personal goes to the log
    threading.Thread(target=run, name="requests-mail", daemon=True).start()


def _code_body(code: str) -> str:
    s = _settings()
    return public.CODE_BODY.in_lang(lang(), code=code, minutes=EMAIL_CODE_MINUTES,
                                    site=s.site_name_zh if lang() == "zh" else s.site_name_en)


def _send_code(request_id: str, email: str, *, background: bool = False) -> bool:
    """A new e-mail code for the request (counted as the public form counts them)."""
    throttle = _throttle()
    throttle.hit("send-request", request_id)
    throttle.hit("send-email", email.lower())
    code = _store().new_email_code(request_id)
    if background:
        _mail_later(email, bilingual(public.CODE_SUBJECT), _code_body(code))
        return True
    try:
        mail.send(_settings(), email, bilingual(public.CODE_SUBJECT), _code_body(code))
    except mail.MailError:
        return False
    return True


def route(method: str, suffix: str, name: str, doc: Doc) -> Callable[[Callable], Callable]:
    """Declare the endpoint in the API's OpenAPI document and route it on this blueprint."""
    def register(fn: Callable) -> Callable:
        service(method, "/requests" + suffix, on=OWN, name=name, doc=doc)(fn)
        bp.add_url_rule(suffix or "", endpoint=fn.__name__, view_func=fn, methods=[method],
                        strict_slashes=False)
        return fn
    return register


def _doc(summary: str, description: str, ok: tuple[int, str, str | None], *,
         body_schema: str | None = None, security: str | None = None) -> Doc:
    return Doc(summary, description, "requests", ok, errors="requests", body=body_schema,
               public=security is None, security=security)


# ---------------------------------------------------------------------- endpoints
@route("POST", "", "requestCreate", _doc(
    "Make a record request", "The same fields and checks as the public form (channel "
    "`wechat`). A six-digit code is e-mailed; the answer's pending token (30 minutes) "
    "uploads the identity image and verifies the code.",
    (201, "Made; waiting for its e-mail code", "RequestPending"), body_schema="RequestNew"))
def create() -> Response:
    data = body("RequestNew")
    throttle, client = _throttle(), _client()
    if throttle.exceeded("submit-client", client):
        raise _too_many("too many requests were made from this client; wait an hour")
    form = {k: v if isinstance(v, str) else "" if v is None else str(v)
            for k, v in data.items() if k != "languages"}
    form.setdefault("id_type", "resident_id")
    form.setdefault("delivery", "electronic")
    form.setdefault("copies", "1")
    languages = list(data.get("languages") or [])
    checked = forms.read_request(form, lambda name: languages if name == "languages" else [],
                                 lang())
    if checked.errors or checked.submission is None:
        return send({"error": "invalid", "status": 422,
                     "message": "; ".join(f"{k}: {v}" for k, v in checked.errors.items()),
                     "fields": checked.errors}, 422)
    s = checked.submission
    if throttle.exceeded("send-email", s.personal.email.lower()):
        raise _too_many("too many codes were sent to this address; wait an hour")
    req = _store().create(kind=s.kind, languages=s.languages, copies=s.copies,
                          delivery=s.delivery, channel=CHANNEL, personal=s.personal,
                          year_from=s.year_from, year_to=s.year_to)
    throttle.hit("submit-client", client)
    sent = _send_code(req.id, s.personal.email)
    return send({"status": "unverified", "token": issue_token("pending", req.id),
                 "token_type": "Bearer", "expires_in": PENDING_SECONDS, "code_sent": sent},
                201)


@route("POST", "/id-image", "requestIdImage", _doc(
    "Add the identity-document image", "A JPEG, PNG or WebP (base64), at most "
    "`requests_upload_max_mb`; decoded whole, kept re-encoded without metadata, sealed.",
    (200, "Kept", "RequestImageKept"), body_schema="RequestImage", security="pendingToken"))
def id_image() -> Response:
    request_id = bound_request("pending")
    data = body("RequestImage", limit=image_body_limit(_settings()))
    try:
        raw = base64.b64decode(data["image"], validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "image: not base64") from None
    if len(raw) > _settings().requests_upload_max_mb * 1024 * 1024:
        raise ApiError(413, f"image: at most {_settings().requests_upload_max_mb} MB")
    try:
        clean, mime = idimage.clean(raw)
    except idimage.NotAnImage as exc:
        raise ApiError(415, exc.in_lang(lang())) from None
    _store().set_id_image(request_id, clean)
    return send({"kept": True, "type": mime})


@route("POST", "/verify-email", "requestVerifyEmail", _doc(
    "Verify the e-mail code", "The six-digit code e-mailed to the requester (15 minutes, "
    "5 tries). Then the request is submitted and its number given.",
    (200, "Verified: the request number", "RequestVerified"), body_schema="RequestCode",
    security="pendingToken"))
def verify_email() -> Response:
    request_id = bound_request("pending")
    data = body("RequestCode")
    throttle, client = _throttle(), _client()
    if throttle.exceeded("status-fail", client):
        raise _too_many("too many failed attempts from this client; wait a quarter of an hour")
    store = _store()
    code = forms.read_code(data)
    if not code or not store.check_email_code(request_id, code):
        throttle.hit("status-fail", client)
        return send({"error": "invalid", "status": 422, "message": WRONG_CODE,
                     "tries_left": store.email_code_tries(request_id)}, 422)
    req = store.get(request_id)
    return send({"number": req.id, "status": req.status})


@route("POST", "/send-again", "requestSendAgain", _doc(
    "Send the e-mail code again", "A new code replaces the last one (at most 3 per request "
    "and 5 per address in an hour).", (202, "Sent (or the mail server is down: code_sent "
                                             "false)", "RequestSent"),
    body_schema="RequestEmpty", security="pendingToken"))
def send_again() -> Response:
    request_id = bound_request("pending")
    body("RequestEmpty")
    req = _store().get(request_id, unseal=True)
    email = req.personal.email if req.personal else ""
    throttle = _throttle()
    if not email or throttle.exceeded("send-request", request_id) \
            or throttle.exceeded("send-email", email.lower()):
        raise _too_many("too many codes were sent for this request or to this address")
    return send({"code_sent": _send_code(request_id, email)}, 202)


@route("POST", "/status-code", "requestStatusCode", _doc(
    "Ask for a status code", "The request number and the e-mail address it was made with: "
    "a one-time code is e-mailed to that address. The answer is the same whether or not "
    "they match.", (202, "Taken", "RequestSent"), body_schema="RequestLookup"))
def status_code() -> Response:
    data = body("RequestLookup")
    throttle, client = _throttle(), _client()
    if throttle.exceeded("status-fail", client):
        raise _too_many("too many failed attempts from this client; wait a quarter of an hour")
    number, email = forms.read_lookup(data)
    req = _store().for_requester(number, email) if number and email else None
    if req is None:
        throttle.hit("status-fail", client)
    elif not (throttle.exceeded("send-request", req.id)
              or throttle.exceeded("send-email", email.lower())):
        _send_code(req.id, email, background=True)
    return send({"message": SENT}, 202)


@route("POST", "/open", "requestOpen", _doc(
    "Open a request's status", "The request number and the code e-mailed by "
    "`status-code` → a status token (15 minutes) for `status` and `download-link`.",
    (200, "The status token", "RequestToken"), body_schema="RequestOpen"))
def open_status() -> Response:
    data = body("RequestOpen")
    throttle, client = _throttle(), _client()
    if throttle.exceeded("status-fail", client):
        raise _too_many("too many failed attempts from this client; wait a quarter of an hour")
    store = _store()
    number = str(data["number"]).strip()
    code = forms.read_code(data)
    request_id = None
    if number and code:
        from services.requests.store import normalise_number

        try:
            request_id = store.get(normalise_number(number)).id
        except NotFound:
            request_id = None
    if request_id is None or not store.check_email_code(request_id, code):
        throttle.hit("status-fail", client)
        raise ApiError(422, LOOKUP_WRONG, error="invalid")
    return send({"token": issue_token("status", request_id), "token_type": "Bearer",
                 "expires_in": STATUS_SECONDS})


@route("GET", "/status", "requestStatus", _doc(
    "Read the opened request's status", "State, steps with their dates (no staff names), "
    "issued copies, postal dispatches.", (200, "The status", "RequestStatus"),
    security="statusToken"))
def status() -> Response:
    request_id = bound_request("status")
    store = _store()
    req = store.get(request_id)
    want = lang()
    steps = []
    for event in store.history(request_id):
        label = public.STEPS.get(event.action)
        if label is not None:
            steps.append({"action": event.action, "at": event.at, "label": label.in_lang(want),
                          "note": event.note if event.action == "refused" else ""})
    copies = [{"code": c.code, "language": c.language, "pages": c.pages,
               "signed_at": c.signed_at, "revoked": bool(c.revoked)}
              for c in store.copies_of(request_id)]
    posts = [{"at": d.at, "carrier": d.carrier, "tracking": d.tracking}
             for d in store.dispatches(request_id)]
    return send({"number": req.id, "status": req.status,
                 "state": public.STATES[req.status].in_lang(want), "kind": req.kind,
                 "languages": list(req.languages), "copies": req.copies,
                 "delivery": req.delivery, "created": req.created, "due": req.due,
                 "due_text": human_date(req.due[:10], want) or req.due[:10],
                 "steps": steps, "issued": copies, "dispatches": posts})


@route("POST", "/download-link", "requestDownloadLink", _doc(
    "A download link for an issued copy", "The copy's verification code (from `status`): "
    "a link that works `requests_link_uses` times within `requests_link_days` days.",
    (201, "The link", "RequestLink"), body_schema="RequestCopy", security="statusToken"))
def download_link() -> Response:
    request_id = bound_request("status")
    data = body("RequestCopy")
    store = _store()
    try:
        copy = store.copy(data["code"])
    except NotFound:
        copy = None
    if copy is None or copy.request_id != request_id:
        raise ApiError(404, "there is no such copy in this request")
    if copy.revoked:
        raise ApiError(410, "this copy was withdrawn", error="gone")
    token = store.new_link(copy.code)
    s = _settings()
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=s.requests_link_days)
    return send({"url": f"{current_app.config['BASE'].rstrip('/')}/requests/download/{token}",
                 "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "uses": s.requests_link_uses}, 201)


# ---------------------------------------------------------------------- the document
def _schemas() -> dict[str, dict]:
    text = {name: {"type": "string", "maxLength": n} for name, n in forms.MAX_LENGTH.items()}
    for name in ("name", "id_number", "purpose", "email"):
        text[name]["minLength"] = 1
    text["email"]["pattern"] = forms._EMAIL.pattern
    text["phone"]["pattern"] = forms._PHONE.pattern
    for name in ("student_number", "id_number"):
        text[name]["pattern"] = forms._ID.pattern
    year = {"type": "integer", "minimum": forms.FIRST_YEAR, "maximum": 2100,
            "description": f"{forms.FIRST_YEAR} to this year"}
    number = {"type": "string", "minLength": 1, "maxLength": 40,
              "description": "The request number, CD2026-XXXX-XXXX-XXXX-XXXX"}
    code = {"type": "string", "minLength": 6, "maxLength": 20, "pattern": "^[0-9 ]+$",
            "description": "The six-digit code from the e-mail"}
    obj = {"type": "object", "additionalProperties": False}
    string = {"type": "string"}
    return {
        "RequestNew": {**obj, "required": ["name", "id_number", "email", "purpose", "kind",
                                           "languages"],
                       "properties": {**text,
                                      "id_type": {"type": "string", "enum": list(ID_TYPES)},
                                      "kind": {"type": "string", "enum": list(KINDS)},
                                      "languages": {"type": "array", "minItems": 1,
                                                    "maxItems": len(LANGUAGES),
                                                    "uniqueItems": True,
                                                    "items": {"type": "string",
                                                              "enum": list(LANGUAGES)}},
                                      "copies": {"type": "integer", "minimum": 1,
                                                 "maximum": forms.MAX_COPIES},
                                      "delivery": {"type": "string",
                                                   "enum": list(DELIVERIES)},
                                      "year_from": year, "year_to": year},
                       "example": {"name": "王小明", "student_number": "2005012345",
                                   "year_from": 2005, "year_to": 2009,
                                   "id_type": "resident_id",
                                   "id_number": "610102198701011234",
                                   "kind": "transcript", "languages": ["zh", "en"],
                                   "copies": 1, "purpose": "visa",
                                   "delivery": "electronic",
                                   "email": "zhao@example.org"}},
        "RequestImage": {**obj, "required": ["image"], "properties": {
            "image": {"type": "string", "minLength": 1, "contentEncoding": "base64"}}},
        "RequestCode": {**obj, "required": ["code"], "properties": {"code": code}},
        "RequestEmpty": {**obj, "properties": {}},
        "RequestLookup": {**obj, "required": ["number", "email"], "properties": {
            "number": number, "email": {"type": "string", "minLength": 1, "maxLength": 254}}},
        "RequestOpen": {**obj, "required": ["number", "code"],
                        "properties": {"number": number, "code": code}},
        "RequestCopy": {**obj, "required": ["code"], "properties": {
            "code": {"type": "string", "minLength": 1, "maxLength": 40,
                     "description": "The copy's verification code, V-XXXX-XXXX-XXXX"}}},
        "RequestPending": {"type": "object", "required": ["status", "token", "token_type",
                                                          "expires_in", "code_sent"],
                           "properties": {"status": string, "token": string,
                                          "token_type": string,
                                          "expires_in": {"type": "integer"},
                                          "code_sent": {"type": "boolean"}}},
        "RequestImageKept": {"type": "object", "required": ["kept", "type"],
                             "properties": {"kept": {"type": "boolean"}, "type": string}},
        "RequestVerified": {"type": "object", "required": ["number", "status"],
                            "properties": {"number": string, "status": string}},
        "RequestSent": {"type": "object", "properties": {"message": string,
                                                         "code_sent": {"type": "boolean"}}},
        "RequestToken": {"type": "object", "required": ["token", "token_type", "expires_in"],
                         "properties": {"token": string, "token_type": string,
                                        "expires_in": {"type": "integer"}}},
        "RequestStatus": {"type": "object", "required": ["number", "status", "steps",
                                                         "issued", "dispatches"],
                          "properties": {
                              "number": string, "status": string, "state": string,
                              "kind": string, "languages": {"type": "array"},
                              "copies": {"type": "integer"}, "delivery": string,
                              "created": string, "due": string, "due_text": string,
                              "steps": {"type": "array", "items": {"type": "object"}},
                              "issued": {"type": "array", "items": {"type": "object"}},
                              "dispatches": {"type": "array", "items": {"type": "object"}}}},
        "RequestLink": {"type": "object", "required": ["url", "expires", "uses"],
                        "properties": {"url": string, "expires": string,
                                       "uses": {"type": "integer"}}},
    }


SCHEMAS.update(_schemas())
SECURITY_SCHEMES.update({
    "pendingToken": {"type": "http", "scheme": "bearer",
                     "description": "The token POST /requests answered (30 minutes)."},
    "statusToken": {"type": "http", "scheme": "bearer",
                    "description": "The token POST /requests/open answered (15 minutes)."},
})
