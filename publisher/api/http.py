"""HTTP plumbing of the API: problem bodies, tokens, entity tags, request bodies, paging."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal, overload

from flask import Response, jsonify, request

from repo.errors import Busy, LantaiError

MAX_BODY = 1_000_000  # bytes of a request body
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.~+/]{8,200}=*$")
_TAG = re.compile(r'^"rev-(\d{1,9})(?:-[0-9a-f]{1,40})?"$')

ERROR_NAMES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
               405: "method-not-allowed", 409: "conflict", 412: "precondition-failed",
               413: "too-large", 415: "unsupported-media-type", 422: "invalid",
               428: "precondition-required", 503: "busy"}


class ApiError(Exception):
    """An HTTP error of the API itself (not of the repository)."""

    def __init__(self, status: int, message: str, *, headers: dict | None = None,
                 error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.error = error or ERROR_NAMES.get(status, "error")


def problem(status: int, message: str, *, error: str | None = None,
            headers: dict | None = None) -> Response:
    """``{"error": "not-found", "message": "…", "status": 404}``."""
    resp = jsonify({"error": error or ERROR_NAMES.get(status, "error"), "message": message,
                    "status": status})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def from_repository_error(exc: LantaiError) -> Response:
    """Our repository's errors as HTTP: NotFound 404, Forbidden 403, Invalid 422,
    Conflict 409, WorkflowError 409, Busy 503 with Retry-After."""
    error = {"NotFound": "not-found", "Forbidden": "forbidden", "Invalid": "invalid",
             "Conflict": "conflict", "WorkflowError": "workflow", "Busy": "busy"}.get(
        type(exc).__name__, "error")
    headers = {"Retry-After": "1"} if isinstance(exc, Busy) else {}
    status = exc.http_status if 400 <= exc.http_status < 600 else 400
    return problem(status, exc.message, error=error, headers=headers)


# ---------------------------------------------------------------------- credentials
def bearer_token() -> str | None:
    """The token of ``Authorization: Bearer …``; None without the header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _TOKEN.match(token):
        raise ApiError(401, "Authorization: Bearer <token> expected (a token from "
                       "`lantai users token NAME`)",
                       headers={"WWW-Authenticate": 'Bearer realm="lantai", '
                                                    'error="invalid_request"'})
    return token


def unauthorized(message: str, *, invalid: bool = False) -> ApiError:
    challenge = 'Bearer realm="lantai"' + (', error="invalid_token"' if invalid else "")
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})


# ---------------------------------------------------------------------- entity tags
def entity_tag(revision: int, volatile: object = None) -> str:
    """``"rev-7"``, or ``"rev-7-1a2b3c4d"`` when the body also shows what can change without
    a new revision of the object (its path after a container moved, its children, whether
    it is public). Writes compare only the revision number."""
    if volatile is None:
        return f'"rev-{revision}"'
    digest = hashlib.sha1(json.dumps(volatile, sort_keys=True, default=str).encode()).hexdigest()
    return f'"rev-{revision}-{digest[:8]}"'


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def check_if_match(current_revision: int, *, required: bool = False) -> None:
    """412 unless ``If-Match`` names the current revision (or ``*``); honoured when sent,
    required when the application says so (428)."""
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise ApiError(428, "this server requires If-Match on every change: GET the "
                           "object, then send its ETag as If-Match (a change made meanwhile "
                           "by someone else is then refused with 412 instead of lost)")
        return
    current = f'"rev-{current_revision}"'
    for tag in _tags(header):
        if tag == "*":
            return
        m = _TAG.match(tag)  # weak tags (W/"…") never match: RFC 9110 strong comparison
        if m and int(m.group(1)) == current_revision:
            return
    raise ApiError(412, f"the object changed: it is at revision {current_revision}, not "
                   f"{header.strip()[:80]}; GET it again and redo your change",
                   headers={"ETag": current})


def not_modified(etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in _tags(header))


# ---------------------------------------------------------------------- requests
def json_body(*, required: bool = False, limit: int = MAX_BODY) -> dict:
    """The request's JSON object (``{}`` for an empty body unless ``required``), of at most
    ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"the request body is larger than {limit} bytes")
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise ApiError(413, f"the request body is larger than {limit} bytes")
    if not raw.strip():
        if required:
            raise ApiError(400, "a JSON object is expected in the request body")
        return {}
    ctype = request.mimetype or ""
    if ctype and ctype not in ("application/json", "application/ld+json") and \
            not ctype.endswith("+json"):
        raise ApiError(415, f"send the body as application/json, not {ctype}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # "[[[[…" thousands deep: the parser's stack, not our fault
        raise ApiError(400, "the body is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    if not encodable(data):
        raise ApiError(400, "the body is not valid JSON text: it has a lone surrogate "
                       "(\\ud800-\\udfff escapes must come in pairs)")
    return data


def encodable(data: object) -> bool:
    """Is every string (key or value) of parsed JSON real text? JSON's ``\\ud800`` escapes
    parse to lone surrogates, which no store, index or UTF-8 file can take."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


@overload
def body_str(data: dict, key: str, *, required: Literal[True], default: str | None = None,
             limit: int = 1000) -> str: ...
@overload
def body_str(data: dict, key: str, *, required: bool = False, default: str | None = None,
             limit: int = 1000) -> str | None: ...
def body_str(data: dict, key: str, *, required: bool = False, default: str | None = None,
             limit: int = 1000) -> str | None:
    """The string ``key`` of a JSON body (None when absent, unless ``required``)."""
    value = data.get(key, default)
    if value is None:
        if required:
            raise ApiError(400, f"{key!r} is required")
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{key!r} must be a string")
    if len(value) > limit:
        raise ApiError(400, f"{key!r} is longer than {limit} characters")
    return value


def body_list(data: dict, key: str) -> list[str]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or \
            len(value) > 64:
        raise ApiError(400, f"{key!r} must be a list of at most 64 strings")
    return value


def body_bool(data: dict, key: str) -> bool:
    value = data.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(400, f"{key!r} must be true or false")
    return value


def query_bool(name: str) -> bool:
    value = request.args.get(name)
    if value is None or value == "":
        return False
    low = value.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ApiError(400, f"{name}={value!r}: true or false")


def query_int(name: str, default: int, lo: int, hi: int) -> int:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not re.fullmatch(r"\d{1,9}", value) or not lo <= int(value) <= hi:
        raise ApiError(400, f"{name}={value[:40]!r}: a whole number from {lo} to {hi}")
    return int(value)


def paging() -> tuple[int, int]:
    return (query_int("page", 1, 1, 1_000_000),
            query_int("size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE))
