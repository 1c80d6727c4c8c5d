"""The viewer's script (``publisher/static/viewer/dist/viewer.js``, ≈ 1.9 MB), served
compressed and cached by version.

Served as Flask's static files it went out uncompressed with ``no-cache``: every page view
cost a revalidation, and a first view 1.9 MB. Here its URL carries a hash of its content,
``/static/viewer/{version}/viewer.js``, so the bytes behind a URL never change and browsers
may keep them for a year without asking (``Cache-Control: public, max-age=31536000,
immutable``); a rebuilt viewer has a new URL, which the pages name at once
(:func:`script_url`). It is sent gzip-compressed to clients that accept it (≈ 0.57 MB,
``Content-Encoding: gzip``, ``Vary: Accept-Encoding``), compressed once per version and
process, on the first request. A URL of another version redirects to the current one.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from flask import Flask, Response, abort, current_app, redirect, request
from werkzeug.wrappers import Response as BaseResponse

if TYPE_CHECKING:  # current_app is typed Flask, but is the proxy to it
    from werkzeug.local import LocalProxy

SCRIPT = Path("viewer") / "dist" / "viewer.js"  # under the app's static folder
ROUTE = "/viewer/<version>/viewer.js"  # under the app's static URL path
IMMUTABLE = "public, max-age=31536000, immutable"
VERSION_CHARS = 16  # hex digits of the SHA-256 of the script in its URL


@dataclass(frozen=True)
class Script:
    version: str
    body: bytes
    gzipped: bytes


_lock = threading.Lock()
_loaded: dict[tuple, Script] = {}  # (path, size, mtime) → the script as read then


def current(app: Flask) -> Script | None:
    """The built script as it is now (read again when the file changes), or None when the
    viewer was not built (scripts/viewer-setup.sh)."""
    path = Path(app.static_folder or "") / SCRIPT
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _lock:
        found = _loaded.get(key)
        if found is not None:
            return found
        body = path.read_bytes()
        script = Script(hashlib.sha256(body).hexdigest()[:VERSION_CHARS], body,
                        gzip.compress(body, compresslevel=9, mtime=0))
        _loaded.clear()  # only the current build is kept
        _loaded[key] = script
        return script


def script_url(app: Flask) -> str | None:
    """The versioned URL of the current script (None when not built)."""
    script = current(app)
    return None if script is None else _url(app, script)


def _url(app: Flask, script: Script) -> str:
    return f"{app.static_url_path}{ROUTE.replace('<version>', script.version)}"


def serve(version: str) -> BaseResponse:
    app = cast("LocalProxy[Flask]", current_app)._get_current_object()
    script = current(app)
    if script is None:
        abort(404)
    if version != script.version:  # an older page: the current build, never cached
        response = redirect(_url(app, script), code=302)
        response.headers["Cache-Control"] = "no-cache"
        return response
    zipped = request.accept_encodings["gzip"] > 0
    response = Response(script.gzipped if zipped else script.body,
                        content_type="text/javascript; charset=utf-8")
    if zipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = IMMUTABLE
    response.set_etag(f"{script.version}{'-gz' if zipped else ''}")
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    app.add_url_rule(f"{app.static_url_path}{ROUTE}", "viewer_script", serve,
                     methods=["GET"])


__all__ = ["current", "init_app", "script_url"]
