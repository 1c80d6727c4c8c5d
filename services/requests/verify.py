"""The public verification page (``/verify``): is this certified copy genuine? (issue 12, item 5)

Two ways in, on one bilingual page:

- ``GET /verify?code=V-…`` — the code printed on every page of a copy (its QR code links
  here with the code filled in; the code is not personal, so it may be in the URL). Answers
  the copy's facts from the request store: when it was signed and by whom, which request and
  records it certifies (reference code and title only for records in the publication
  dataset), pages, language, and whether it was revoked. Never personal data.
- ``POST /verify`` with the PDF as multipart field ``file`` — the signature itself is
  checked (:mod:`services.requests.validation`, in a killable worker process).

``Accept: application/json`` gets JSON instead of a page (the contract's ``{"valid": …}``).
Bad input is refused with a message, never a 500: a body over :data:`MAX_UPLOAD` is 413
before it is read; what is not a readable signed PDF is 422; an unknown or malformed code is
404 (the same answer for both). Failures count against the client's address
(:class:`FailureLimit`): past the burst the answer is 429, so codes cannot be enumerated.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections import OrderedDict
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from publisher.dataset import public_store
from publisher.describe import Describer
from publisher.i18n import lang
from publisher.pages import page as render_page
from publisher.ratelimit import client_address
from repo.errors import NotFound
from services.requests import sandbox, store, validation
from services.requests.model import Copy

bp = Blueprint("verify", __name__, template_folder="templates")

# bytes: a certified copy keeps the archive's scans (A4 at 300 dpi), 1–2 MB a page, so a
# long record's copy is tens of MB; the bound stops a body meant to tire the server
MAX_UPLOAD = 80 * 2**20
FAILURE_BURST = 20  # failed verifications one address may have at once …
FAILURE_RATE = 1 / 30  # … then one more every 30 s (120 an hour)
MAX_CLIENTS = 10_000

# what each problem of an upload means, for people (the JSON carries the keys as well)
PROBLEM_TEXTS = {
    "unsound": lazy_gettext("The signature does not verify: it was not made over this "
                            "document's content."),
    "not_intact": lazy_gettext("The document was changed after it was signed."),
    "untrusted": lazy_gettext("The signature was not made with this archive's certificate."),
    "changed": lazy_gettext("Something was added to or changed in the document after it "
                            "was signed."),
    "timestamp": lazy_gettext("The signature's time stamp cannot be verified."),
    "unknown_copy": lazy_gettext("This archive has not issued a certified copy matching "
                                 "this document."),
    "revoked": lazy_gettext("The archive has revoked this certified copy."),
}
UNREADABLE_TEXTS = {
    "not_pdf": lazy_gettext("This file is not a PDF."),
    "malformed": lazy_gettext("This PDF is damaged or malformed: it cannot be read."),
    "unsigned": lazy_gettext("This PDF has no digital signature, so it is not a certified "
                             "copy."),
    "encrypted": lazy_gettext("This PDF is encrypted: certified copies of this archive are "
                              "not, so it cannot be one."),
    "too_slow": lazy_gettext("This PDF took too long to check and was given up on."),
    "too_complex": lazy_gettext("This PDF needs more memory to check than is allowed."),
}


class FailureLimit:
    """Failed verifications per client address: a token bucket of ``burst`` failures,
    refilled at ``rate`` per second. Only failures spend tokens, so a person checking their
    own copies is never refused; an enumeration of codes is, after ``burst`` misses."""

    def __init__(self, burst: int = FAILURE_BURST, rate: float = FAILURE_RATE) -> None:
        self.burst = max(1, burst)
        self.rate = rate
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _level(self, client: str, now: float) -> float:
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - last) * self.rate)

    def wait(self, client: str) -> int:
        """Seconds before ``client`` may try again (0: now)."""
        with self._lock:
            tokens = self._level(client, time.monotonic())
        return 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) / self.rate))

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens = self._level(client, now)
            self._buckets.pop(client, None)
            self._buckets[client] = (max(0.0, tokens - 1), now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)


def init_app(app: Flask) -> None:
    app.extensions["lantai.verify_failures"] = FailureLimit(
        app.config.get("VERIFY_FAILURE_BURST", FAILURE_BURST),
        app.config.get("VERIFY_FAILURE_RATE", FAILURE_RATE))


# ------------------------------------------------------------------ helpers
def _limit() -> FailureLimit:
    limit: FailureLimit = current_app.extensions["lantai.verify_failures"]
    return limit


def _client() -> str:
    return client_address(request.environ,
                          set(getattr(current_app.config["SETTINGS"], "trusted_proxies",
                                      "").split()))


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _home() -> Path:
    return Path(current_app.config["LANTAI_HOME"])


def _answer(status: int, *, message: str = "", code: str = "", facts: dict | None = None,
            verdict: validation.Verdict | None = None, records: list[dict] | None = None,
            headers: dict | None = None) -> Response:
    """The page (or JSON) for every outcome; a failure (4xx) counts against the client."""
    if 400 <= status < 500 and status != 429:  # the server being busy is not theirs
        _limit().failed(_client())
    if _wants_json():
        if verdict is not None:
            body = verdict.as_json(records or [])
            body["problem_texts"] = [str(PROBLEM_TEXTS[p]) for p in verdict.problems]
        elif facts is not None:
            body = facts
        else:
            body = {"error": message}
        resp = jsonify(body)
        resp.status_code = status
    else:
        resp = render_page("verify/page.html", status=status, message=message, code=code,
                    facts=facts, verdict=verdict, records=records or [],
                    problem_texts=PROBLEM_TEXTS, max_mb=MAX_UPLOAD // 2**20)
    resp.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def _refused_for_now() -> Response | None:
    wait = _limit().wait(_client())
    if not wait:
        return None
    return _answer(429, message=_("Too many failed verifications from your address. Try "
                                  "again in %(s)d seconds.", s=wait),
                   headers={"Retry-After": str(wait)})


def _records(copy: Copy) -> list[dict]:
    """The certified records as the public may see them: reference code, title and page for
    those in the publication dataset, nothing but "not open to the public" for the others."""
    describer = Describer(public_store(), current_app.config["BASE"])
    want = lang()
    out: list[dict] = []
    for record in copy.records:
        iri = str(record.get("iri", ""))
        described = describer.describe(iri) if iri and describer.is_public(iri) else None
        if described is None:
            out.append({"public": False, "iri": None, "refcode": None, "title": None})
        else:
            out.append({"public": True, "iri": iri, "refcode": described.refcode or None,
                        "title": described.title(want)})
    return out


def _facts(copy: Copy, records: list[dict]) -> dict:
    return {"code": copy.code, "valid": not copy.revoked, "revoked": bool(copy.revoked),
            "revoked_at": copy.revoked or None, "revoked_reason": copy.revoked_reason or None,
            "signed_at": copy.signed_at, "signer": copy.signer, "request": copy.request_id,
            "pages": copy.pages, "language": copy.language, "records": records}


# ------------------------------------------------------------------ routes
@bp.before_request
def _bound_body():
    """Refuse a body over :data:`MAX_UPLOAD` from its declared length, before reading it;
    a body without one is cut at the same size while it is read (413 either way)."""
    if request.method == "POST":
        if (request.content_length or 0) > MAX_UPLOAD:
            return _too_large(None)
        request.max_content_length = MAX_UPLOAD
    return None


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    return _answer(413, message=_("The file is larger than %(n)d MB: a certified copy of "
                                  "this archive is not that large.", n=MAX_UPLOAD // 2**20),
                   headers={"Connection": "close"})


@bp.get("/verify")
def page():
    """The form; with ``?code=`` the facts of that copy."""
    text = request.args.get("code", "")
    if "code" not in request.args:
        sandbox.pool().start()  # an upload usually follows: have a worker ready for it
        return _answer(200)
    refused = _refused_for_now()
    if refused is not None:
        return refused
    shown = text[:validation.MAX_CODE_CHARS]
    code = validation.well_formed_code(text)
    unknown = _("No certified copy has the code “%(code)s”. Check the code printed at the "
                "bottom of each page (letters and digits, e.g. V-ABCD-EFGH-JKLM).", code=shown)
    if not code:
        return _answer(404, message=unknown, code=shown)
    try:
        copy = store(current_app).copy(code)
    except NotFound:
        return _answer(404, message=unknown, code=shown)
    records = _records(copy)
    return _answer(200, code=code, facts=_facts(copy, records), records=records)


def _in_memory(*_args, **_kw) -> io.BytesIO:
    return io.BytesIO()


def _uploaded() -> bytes | None:
    """The uploaded PDF: multipart field ``file`` (the form), or a body sent as
    ``application/pdf`` (``curl --data-binary``). Kept in memory (at most
    :data:`MAX_UPLOAD`): Werkzeug would spool it to a temporary file, which cost 60 ms of
    writes per 5 MB upload on this machine's disk — a fifth of the time goal."""
    if request.mimetype == "application/pdf":
        data = request.stream.read(MAX_UPLOAD)
        if request.stream.read(1):  # a body with no declared length stops at the limit
            raise RequestEntityTooLarge()
        return data
    if request.mimetype != "multipart/form-data":
        return None
    parser = FormDataParser(stream_factory=_in_memory, max_content_length=MAX_UPLOAD,
                            max_form_memory_size=request.max_form_memory_size,
                            max_form_parts=request.max_form_parts)
    _stream, _form, files = parser.parse(request.stream, request.mimetype,
                                         request.content_length, request.mimetype_params)
    sent = files.get("file")
    return sent.read(MAX_UPLOAD + 1) if sent is not None else None


@bp.post("/verify")
def upload():
    """Check the signature of an uploaded PDF (multipart field ``file``)."""
    refused = _refused_for_now()
    if refused is not None:
        return refused
    data = _uploaded()
    if data is None:
        return _answer(400, message=_("Choose the PDF file of the certified copy to check "
                                      "(form field “file”)."))
    if len(data) > MAX_UPLOAD:
        return _too_large(None)
    if not data:
        return _answer(422, message=str(UNREADABLE_TEXTS["not_pdf"]))
    try:
        verdict = validation.check_pdf(data, _home(), store=store(current_app),
                                       timeout=current_app.config.get("VERIFY_TIMEOUT"))
    except validation.Unreadable as exc:
        return _answer(422, message=str(UNREADABLE_TEXTS.get(exc.reason,
                                                             UNREADABLE_TEXTS["malformed"])))
    except sandbox.Busy:
        return _answer(503, message=_("The verification service is busy. Try again in a "
                                      "minute."), headers={"Retry-After": "30"})
    records = _records(verdict.copy) if verdict.copy is not None else []
    status = 200
    if not verdict.valid:
        _limit().failed(_client())
    return _answer(status, code=verdict.code, verdict=verdict, records=records)
