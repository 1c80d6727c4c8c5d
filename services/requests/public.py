"""The public request form, the e-mail code, the status page and the download (``/requests/``).

Built for a phone and for a stranger's mistakes (issue 12, items 1, 6, "Bad input"):

- ``GET/POST /requests/``            the form; a new request waits for its e-mail code
- ``GET/POST /requests/verify-email`` the code; then the request number is shown and mailed
- ``POST /requests/send-again``      a new code (limited per request and per address)
- ``GET/POST /requests/status``      number + e-mail → a one-time code → the status for a while
- ``POST /requests/status/download`` a fresh download link for a copy of the opened request
- ``POST /requests/status/withdraw`` the requester no longer needs it (while still open)
- ``POST /requests/status/close``    forget the opened status
- ``GET /requests/download/<token>`` the certified PDF (the e-mailed link; 410 once spent)

Nothing personal ever travels in a URL (the request log records paths and queries): numbers,
e-mails and codes are POSTed, and the browser is bound to "its" request by short signed
cookies (:mod:`services.requests.tokens`). Every form carries a CSRF token; every body is
bounded before it is read; every page is ``no-store``. An unknown number and a wrong e-mail
get the same answer, and failures are counted per client address (:mod:`.throttle`).
"""

from __future__ import annotations

import threading

from flask import Blueprint, Flask, current_app, redirect, request, url_for
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response

import services.requests as package
from publisher.i18n import UIText, human_date, lang, render, ui_text
from publisher.ratelimit import client_address
from repo.errors import LantaiError, NotFound
from services.requests import forms, idimage, mail, tokens
from services.requests.delivery import bilingual
from services.requests.model import Request
from services.requests.store import EMAIL_CODE_MINUTES, RequestStore
from services.requests.throttle import Throttle

bp = Blueprint("requests_public", __name__, url_prefix="/requests",
               template_folder="templates")

FORM_BYTES = 64 * 1024  # a form without a file: far more than its bounded fields need
MAX_TOKEN = 100
_THROTTLE = "lantai.requests.throttle"

# messages (English message ids; the Chinese is in services/translations)
EXPIRED_FORM = ui_text("This form has expired or was not sent from our page. Open the page "
                       "again and send it once more.")
EXPIRED_PENDING = ui_text("This step has expired. If you made a request, open its status "
                          "page with the request number from your e-mail; otherwise make the "
                          "request again.")
TOO_LARGE = ui_text("What was sent is too large: the image may be at most %(mb)s MB.")
TOO_MANY_SENT = ui_text("Too many codes were sent for this request or to this address. "
                        "Please wait an hour and try again.")
TOO_MANY_TRIES = ui_text("Too many failed attempts from your connection. Please wait a "
                         "quarter of an hour and try again.")
TOO_MANY_REQUESTS = ui_text("Too many requests were made from your connection. Please wait "
                            "an hour and try again.")
WRONG_CODE = ui_text("The code is not right. %(n)s tries left.")
NO_TRIES = ui_text("This code can no longer be used (too many tries, or older than "
                   "%(minutes)s minutes). Ask for a new code.")
CODE_NOT_SENT = ui_text("We could not send the e-mail just now. Please try again in a few "
                        "minutes with “Send the code again”.")
LOOKUP_WRONG = ui_text("The code is not right, or it has expired, or the number and "
                       "e-mail address do not match a request.")
LINK_GONE = ui_text("This download link is unknown, expired or used up, or the copy was "
                    "withdrawn. Open your request's status page for a new link.")
STATUS_GONE = ui_text("Your status page has closed (it stays open for a quarter of an hour). "
                      "Open it again with your request number and e-mail address.")
NO_SUCH_COPY = ui_text("There is no such copy in your request.")
CONFIRM_WITHDRAW = ui_text("Tick the box to confirm that you withdraw the request.")
CANNOT_WITHDRAW = ui_text("This request can no longer be withdrawn.")
WITHDRAWABLE = ("unverified", "submitted", "in_progress")
FAILED = ui_text("Your request could not be completed: %(why)s")
MAIL_FAILED = ui_text("The mail server could not take the message. Please try again later.")

CODE_SUBJECT = ui_text("Your verification code")
CODE_BODY = ui_text(
    "Your verification code: %(code)s\n\n"
    "Enter it on the page where you asked for it. It is valid for %(minutes)s minutes.\n"
    "If you did not ask for it, ignore this e-mail: nothing happens without the code.\n\n"
    "%(site)s")
NUMBER_SUBJECT = ui_text("Your record request %(number)s")
NUMBER_BODY = ui_text(
    "Your request has been submitted. Its number is:\n\n%(number)s\n\n"
    "Keep it: with it and this e-mail address you can follow your request at\n%(status)s\n\n"
    "The archive will check your details and answer within %(days)s working days.\n\n"
    "%(site)s")

# what the requester is told of each step (no staff names, no internal notes)
STEPS: dict[str, UIText] = {
    "created": ui_text("Request received"),
    "submitted": ui_text("E-mail address confirmed, request submitted"),
    "in_progress": ui_text("Being handled by the archive"),
    "issued": ui_text("Certified copy issued"),
    "mailed": ui_text("Download link sent by e-mail"),
    "dispatched": ui_text("Sent by post"),
    "fulfilled": ui_text("Fulfilled"),
    "closed": ui_text("Closed"),
    "refused": ui_text("Refused"),
    "withdrawn": ui_text("Withdrawn"),
    "revoked": ui_text("A certified copy was withdrawn"),
}
STATES: dict[str, UIText] = {
    "unverified": ui_text("Waiting for e-mail confirmation"),
    "submitted": ui_text("Submitted, waiting for the archive"),
    "in_progress": ui_text("Being handled"),
    "fulfilled": ui_text("Fulfilled"),
    "closed": ui_text("Closed"),
    "refused": ui_text("Refused"),
    "withdrawn": ui_text("Withdrawn"),
}


NAV_LABEL = ui_text("Request records")


def init_app(app: Flask) -> None:
    """Keys, the throttle, and a link in the public site's navigation (``nav_links`` in
    ``publisher/templates/base.html``: the publisher does not know this package)."""
    tokens.init_app(app)
    links = app.extensions.setdefault("lantai.nav_links", [])
    if not links:
        app.context_processor(lambda: {"nav_links": app.extensions["lantai.nav_links"]})
    links.append((f"{bp.url_prefix}/", NAV_LABEL))
    found = package.store(app)
    app.extensions[_THROTTLE] = Throttle(
        found.folder / "throttle.sqlite3", found.lookup_hash)


def _store() -> RequestStore:
    return package.store(current_app)


def _throttle() -> Throttle:
    return current_app.extensions[_THROTTLE]


def _settings():
    return current_app.config["SETTINGS"]


def _client() -> str:
    return client_address(request.environ, set(_settings().trusted_proxies.split()))


def page(template: str, status: int = 200, **context) -> Response:
    return render(template, status, csrf_token=tokens.csrf_token(), **context)


def message(status: int, text: str, heading: UIText | None = None) -> Response:
    resp = page("requests/message.html", status, message=text,
                heading=str(heading) if heading else None)
    if status == 429:
        resp.headers["Retry-After"] = "900"
    return resp


# ---------------------------------------------------------------------- every request
@bp.before_request
def bound_and_checked() -> Response | None:
    """Bound the body before anything reads it, then check the CSRF token of a POST."""
    limit = FORM_BYTES
    if request.endpoint == "requests_public.new":
        limit += _settings().requests_upload_max_mb * 1024 * 1024
    request.max_content_length = limit
    if request.method == "POST" and not tokens.csrf_ok():
        return message(400, str(EXPIRED_FORM))
    return None


@bp.after_request
def private(resp: Response) -> Response:
    """Nothing here may be kept by a cache, leak a link through a Referer, be indexed,
    framed, or run a script."""
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Robots-Tag"] = "noindex, nofollow"
    # no script at all, our own styles, no framing (a withdraw button under a decoy),
    # forms post only to us
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
    return tokens.set_csrf_cookie(resp)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc: HTTPException) -> Response:
    return message(413, TOO_LARGE.in_lang(lang(), mb=_settings().requests_upload_max_mb))


@bp.errorhandler(mail.MailError)
def mail_failed(_exc: mail.MailError) -> Response:
    return message(503, str(MAIL_FAILED))


@bp.errorhandler(LantaiError)
def refused(exc: LantaiError) -> Response:
    return message(exc.http_status, FAILED.in_lang(lang(), why=exc.message))


# ---------------------------------------------------------------------- the form
@bp.route("/", methods=["GET", "POST"])
def new() -> Response:
    if request.method == "GET":
        return page("requests/new.html", values=forms.empty_values(), errors={})
    if _throttle().exceeded("submit-client", _client()):
        return message(429, str(TOO_MANY_REQUESTS))
    checked = forms.read_request(request.form, request.form.getlist, lang())
    image: bytes | None = None
    upload = request.files.get("id_image")
    if upload is not None and upload.filename:
        try:
            image, _mime = idimage.clean(upload.read())
        except idimage.NotAnImage as exc:
            checked.errors["id_image"] = exc.in_lang(lang())
    if checked.errors or checked.submission is None:
        return page("requests/new.html", 422, values=checked.values, errors=checked.errors)
    s = checked.submission
    if _throttle().exceeded("send-email", s.personal.email.lower()):
        return message(429, str(TOO_MANY_SENT))  # no inbox is flooded through us
    store = _store()
    req = store.create(kind=s.kind, languages=s.languages, copies=s.copies, delivery=s.delivery,
                       channel="web", personal=s.personal, year_from=s.year_from,
                       year_to=s.year_to)
    if image is not None:
        store.set_id_image(req.id, image)
    _throttle().hit("submit-client", _client())
    sent = _send_code(req.id, s.personal.email)
    resp = page("requests/code.html", 200 if sent else 503, step="verify",
                error=None if sent else str(CODE_NOT_SENT))
    tokens.set_bound(resp, tokens.PENDING_COOKIE, req.id)
    return resp


def _send_code(request_id: str, email: str, *, wait: bool = True) -> bool:
    """A new e-mail code for the request, sent in the page's language; False if the mail
    server did not take it (the requester may ask again). Without ``wait`` the mail is
    handed over in a thread and the answer does not wait for it (the status page's answer
    must take as long whether or not the number and address matched)."""
    throttle = _throttle()
    throttle.hit("send-request", request_id)
    throttle.hit("send-email", email.lower())
    code = _store().new_email_code(request_id)
    body = CODE_BODY.in_lang(lang(), code=code, minutes=EMAIL_CODE_MINUTES, site=_site_name())
    settings, subject = _settings(), bilingual(CODE_SUBJECT)

    def send() -> bool:
        try:
            mail.send(settings, email, subject, body)
        except mail.MailError:
            return False
        return True

    if wait:
        return send()
    threading.Thread(target=send, name="requests-status-code", daemon=True).start()
    return True


def _site_name() -> str:
    s = _settings()
    return str(s.site_name_zh if lang() == "zh" else s.site_name_en)


@bp.route("/verify-email", methods=["GET", "POST"])
def verify_email() -> Response:
    request_id = tokens.bound(tokens.PENDING_COOKIE)
    if request_id is None:
        return message(400 if request.method == "POST" else 200, str(EXPIRED_PENDING))
    if request.method == "GET":
        return page("requests/code.html", step="verify", error=None,
                    resent=request.args.get("sent") == "1")
    store = _store()
    code = forms.read_code(request.form)
    if not code or not store.check_email_code(request_id, code):
        left = store.email_code_tries(request_id)
        error = (WRONG_CODE.in_lang(lang(), n=left) if left
                 else NO_TRIES.in_lang(lang(), minutes=EMAIL_CODE_MINUTES))
        return page("requests/code.html", 422, step="verify", error=error)
    req = store.get(request_id, unseal=True)
    mailed = True
    if req.personal is not None:
        body = NUMBER_BODY.in_lang(
            lang(), number=req.id, status=_settings().base.rstrip("/") + "/requests/status",
            days=_settings().requests_target_days, site=_site_name())
        try:
            mail.send(_settings(), req.personal.email,
                      bilingual(NUMBER_SUBJECT, number=req.id), body)
        except mail.MailError:
            mailed = False
    resp = page("requests/done.html", number=req.id, mailed=mailed,
                days=_settings().requests_target_days)
    tokens.clear(resp, tokens.PENDING_COOKIE)
    return resp


@bp.post("/send-again")
def send_again() -> Response:
    request_id = tokens.bound(tokens.PENDING_COOKIE)
    if request_id is None:
        return message(400, str(EXPIRED_PENDING))
    req = _store().get(request_id, unseal=True)
    email = req.personal.email if req.personal else ""
    throttle = _throttle()
    if not email or throttle.exceeded("send-request", request_id) \
            or throttle.exceeded("send-email", email.lower()):
        return message(429, str(TOO_MANY_SENT))
    if not _send_code(request_id, email):
        return page("requests/code.html", 503, step="verify", error=str(CODE_NOT_SENT))
    # to a page that answers GET (its language switch, a reload): nothing personal in the URL
    return redirect(url_for(".verify_email", sent=1), 303)


# ---------------------------------------------------------------------- status
@bp.route("/status", methods=["GET", "POST"])
def status() -> Response:
    if request.method == "GET":
        request_id = tokens.bound(tokens.STATUS_COOKIE)
        if request_id is None:
            return page("requests/lookup.html", values={})
        try:
            return _status_page(_store().get(request_id))
        except NotFound:
            return page("requests/lookup.html", values={})
    client = _client()
    throttle = _throttle()
    if throttle.exceeded("status-fail", client):
        return message(429, str(TOO_MANY_TRIES))
    number, email = forms.read_lookup(request.form)
    store = _store()
    req = store.for_requester(number, email) if number and email else None
    if request.form.get("step") == "code":
        code = forms.read_code(request.form)
        if req is None or not code or not store.check_email_code(req.id, code):
            throttle.hit("status-fail", client)
            return page("requests/code.html", 422, step="status", error=str(LOOKUP_WRONG),
                        number=number, email=email)
        resp = redirect(url_for(".status"), 303)
        tokens.set_bound(resp, tokens.STATUS_COOKIE, req.id)
        return resp
    if req is None:
        throttle.hit("status-fail", client)
    elif not (throttle.exceeded("send-request", req.id)
              or throttle.exceeded("send-email", email.lower())):
        _send_code(req.id, email, wait=False)
    # the same page whether or not the number and address matched, and whether or not
    # the mail went out: nothing to learn from it but "look in your mailbox"
    return page("requests/code.html", step="status", error=None, number=number, email=email)


def _status_page(req: Request) -> Response:
    store = _store()
    want = lang()
    steps = []
    for event in store.history(req.id):
        label = STEPS.get(event.action)
        if label is None:
            continue
        steps.append({"label": label.in_lang(want),
                      "date": human_date(event.at[:10], want) or event.at[:10],
                      "note": event.note if event.action == "refused" else ""})
    copies = store.copies_of(req.id)
    return page("requests/status.html", req=req, state=STATES[req.status].in_lang(want),
                withdrawable=req.status in WITHDRAWABLE,
                steps=steps, copies=copies, dispatches=store.dispatches(req.id),
                due=human_date(req.due[:10], want))


@bp.post("/status/download")
def status_download() -> Response:
    request_id = tokens.bound(tokens.STATUS_COOKIE)
    if request_id is None:
        return message(403, str(STATUS_GONE))
    store = _store()
    try:
        copy = store.copy(str(request.form.get("code", ""))[:40])
    except NotFound:
        copy = None
    if copy is None or copy.request_id != request_id:
        return message(404, str(NO_SUCH_COPY))
    if copy.revoked:
        return message(410, str(LINK_GONE))
    token = store.new_link(copy.code)
    return redirect(url_for(".download", token=token), 303)


@bp.post("/status/withdraw")
def status_withdraw() -> Response:
    """The requester no longer needs the request (an open one: not yet fulfilled)."""
    request_id = tokens.bound(tokens.STATUS_COOKIE)
    if request_id is None:
        return message(403, str(STATUS_GONE))
    if request.form.get("confirm") != "yes":
        return message(422, str(CONFIRM_WITHDRAW))
    store = _store()
    if store.get(request_id).status not in WITHDRAWABLE:
        return message(409, str(CANNOT_WITHDRAW))
    store.transition(request_id, "withdrawn", "requester", "withdrawn by the requester")
    return redirect(url_for(".status"), 303)


@bp.post("/status/close")
def status_close() -> Response:
    resp = redirect(url_for(".status"), 303)
    tokens.clear(resp, tokens.STATUS_COOKIE)
    return resp


# ---------------------------------------------------------------------- download
@bp.get("/download/<token>")
def download(token: str) -> Response:
    if len(token) > MAX_TOKEN:
        return message(410, str(LINK_GONE))
    store = _store()
    try:
        copy = store.use_link(token)
        pdf = store.copy_pdf(copy.code)
    except NotFound:
        return message(410, str(LINK_GONE))
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="{copy.code}.pdf"'
    return resp
