"""Structured request logs: one JSON object per request, one line each.

A line says what a log reader needs to answer "what was slow, what failed, for whom" without
parsing free text: time, method, path, query string, status, response bytes, duration in
milliseconds, client address and user agent. Written by a WSGI middleware so it sees every
response, static files and errors included, and measures until the last byte is sent.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable

log = logging.getLogger("lantai.requests")


def configure(stream=None) -> None:
    """Send request lines to ``stream`` (standard error by default), unadorned."""
    if log.handlers:
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


class RequestLog:
    """WSGI middleware writing one JSON line per request to the ``lantai.requests`` logger."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status_code = [0]

        def recording_start_response(status: str, headers, exc_info=None):
            status_code[0] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording_start_response)
        sent = 0
        try:
            for chunk in body:
                sent += len(chunk)
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()
            log.info(json.dumps({
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "query": environ.get("QUERY_STRING") or None,
                "status": status_code[0],
                "bytes": sent,
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "client": environ.get("REMOTE_ADDR"),
                "agent": environ.get("HTTP_USER_AGENT"),
            }, ensure_ascii=False))
