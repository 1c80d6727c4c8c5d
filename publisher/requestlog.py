"""Structured request logs: one JSON object per request, one line each.

A line says what a log reader needs to answer "what was slow, what failed, for whom" without
parsing free text: time, method, path, query string, status, response bytes, duration in
milliseconds, client address and user agent, and the worker process that answered (``lantai
serve`` runs several). Written by a WSGI middleware so it sees every
response, static files and errors included, and measures until the last byte is sent.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator

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
    """WSGI middleware writing one JSON line per request to the ``lantai.requests`` logger.

    It calls the app at once and hands the server an iterable that logs when the body is
    done (or closed): a server may read the status and headers right after the call, before
    it iterates (granian does; a generator here answered every request 200 with no headers)."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status_code = [0]

        def recording_start_response(status: str, headers, exc_info=None):
            status_code[0] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording_start_response)
        return _Logged(body, environ, started, status_code)


class _Logged:
    """The app's body, counted as it is sent; the log line is written once, when it ends."""

    def __init__(self, body: Iterable[bytes], environ: dict, started: float,
                 status_code: list[int]) -> None:
        self.body, self.environ, self.started = body, environ, started
        self.status_code, self.sent, self.logged = status_code, 0, False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk
        self._log()  # the whole body sent: a caller that never closes (a test client) logs too

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self._log()

    def _log(self) -> None:
        if self.logged:
            return
        self.logged = True
        environ = self.environ
        log.info(json.dumps({
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING") or None,
            "status": self.status_code[0],
            "bytes": self.sent,
            "ms": round((time.perf_counter() - self.started) * 1000, 2),
            "client": environ.get("REMOTE_ADDR"),
            "agent": environ.get("HTTP_USER_AGENT"),
            "worker": os.getpid(),
        }, ensure_ascii=False))
