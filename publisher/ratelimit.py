"""A per-client rate limit: a flood of requests from one client gets 429, the rest are served.

A token bucket per client address: ``rate_limit`` requests per second on average, up to
``rate_limit_burst`` at once (a browser opening a page with an image viewer asks for dozens
of tiles in a second; a crawler or a loop asks for thousands). Over the limit, the answer is
``429 Too Many Requests`` with ``Retry-After`` and a one-line message, before any view runs,
so a flood costs almost nothing. ``/healthz`` is never limited (monitors must see the truth).

The client is ``REMOTE_ADDR``; behind a reverse proxy every request comes from the proxy, so
for addresses listed in ``trusted_proxies`` the last ``X-Forwarded-For`` entry (the one the
proxy added) is the client. A forged header from anyone else is ignored. Clients listed in
``rate_limit_exempt`` (by default the machine itself: benchmarks, tests and monitors run
there) are never limited; a proxy on the same machine must therefore be listed in
``trusted_proxies`` for its clients to be limited.

WSGI middleware rather than a Flask hook, so static files and errors are counted too. State
is bounded (the least recently seen clients are forgotten first) and, under ``lantai serve``
with several worker processes, shared by them (:mod:`publisher.shared_limits`): a client gets
its allowance once, not once per worker.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

from publisher.i18n import ui_text
from publisher.shared_limits import SharedBuckets

TOO_MANY = ui_text("too many requests: at most %(rate)s per second from one client "
                   "(bursts of %(burst)s); retry after %(retry)s s")
MAX_CLIENTS = 10_000
EXEMPT_PATHS = ("/healthz",)


def client_address(environ: dict, trusted: Iterable[str]) -> str:
    """The client of a request: ``REMOTE_ADDR``, or for a ``trusted`` proxy the last
    ``X-Forwarded-For`` entry (the one the proxy added; anything before it is forgeable)."""
    addr = environ.get("REMOTE_ADDR") or "?"
    if addr in trusted:
        forwarded = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            return forwarded[-1][:64]
    return addr


class RateLimit:
    """WSGI middleware answering 429 to a client over ``rate`` requests/second (``burst``)."""

    def __init__(self, app: Callable, rate: float, burst: int, trusted_proxies: str = "",
                 exempt: str = "", clock: Callable[[], float] = time.monotonic,
                 shared: SharedBuckets | None = None) -> None:
        self.app = app
        self.rate = float(rate)
        self.burst = max(int(burst), 1)
        self.trusted = set(trusted_proxies.split())
        self.exempt = set(exempt.split())
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.shared = shared  # the buckets of every worker process, when there are several

    def client(self, environ: dict) -> str:
        return client_address(environ, self.trusted)

    def take(self, client: str) -> float:
        """Spend one token of ``client``; 0 if there was one, else seconds until there is."""
        now = self.clock()
        if self.shared is not None:
            return self.shared.take(client, now, self.rate, self.burst)
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
        return wait

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in EXEMPT_PATHS:
            return self.app(environ, start_response)
        client = self.client(environ)
        if client in self.exempt:
            return self.app(environ, start_response)
        wait = self.take(client)
        if not wait:
            return self.app(environ, start_response)
        retry = max(1, math.ceil(wait))
        # no request language here (this runs before the app): both, English first
        body = "".join(TOO_MANY.in_lang(code, rate=f"{self.rate:g}", burst=self.burst,
                                        retry=retry) + "\n" for code in ("en", "zh")).encode()
        start_response("429 Too Many Requests", [
            ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
            ("Retry-After", str(retry)), ("Access-Control-Allow-Origin", "*")])
        return [body]


def install(app) -> None:
    """Wrap ``app.wsgi_app`` with the site's limit (``rate_limit = 0`` turns it off)."""
    settings = app.config["SETTINGS"]
    rate = getattr(settings, "rate_limit", 0) or 0
    if rate > 0:
        # several worker processes of `lantai serve` share one table (publisher/server.py)
        path = os.environ.get("LANTAI_SERVE_LIMITS")
        shared = SharedBuckets(Path(path)) if path else None
        app.wsgi_app = RateLimit(app.wsgi_app, rate, getattr(settings, "rate_limit_burst", 1000),
                                 getattr(settings, "trusted_proxies", ""),
                                 getattr(settings, "rate_limit_exempt", ""), shared=shared)
