"""Read-only access to the publication dataset, refreshed when the repository publishes.

Oxigraph lets one process write a store while others open it read-only; a read-only handle
sees the store as it was when opened. The repository bumps ``publication.generation`` after
every change to the publication dataset, and :class:`PublicDataset` reopens its handle when
that number moves (about 13 ms), so the server sees changes made by ``lantai`` commands
without a restart.

A read-only open races with the writer (see :mod:`repo.store`, "read-only handles"): it can
fail ("Corruption: … No such file") when a flush or compaction removes a file it was about to
read, and — rarer — succeed on a view that misses the writer's last change. The generation
alone cannot catch the second: the writer bumps it *before* it flushes and closes. So a handle
is kept under (generation, file stamp) read before the open and checked again after it; if
either moved, it is opened again (a writer's flush takes milliseconds), and one still not
settled after a few tries serves that request only. A failed open
is retried (:func:`repo.store.open_read_only`), and a read that meets a removed file is run
again on a fresh handle, waiting a little longer each time (:data:`RETRIES`,
:func:`backoff`): :meth:`PublicDataset.read` for code that asks, and
:func:`install_store_retry` for every page (a GET that fails so is served again).
Measured before (a writer process publishing 200 times while one thread reads): the old
handle failed 48,191 reads of 78,102 — a handle that met a removed table file kept failing
until the next publication, i.e. public pages answered 500 between two changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pyoxigraph import Store

from repo.store import GENERATION_FILE, is_store_race, open_read_only, store_stamp

T = TypeVar("T")
# Reads run again on a fresh handle so many times at most, waiting a little longer each time
# (:func:`backoff`): once is not always enough while a writer publishes in a loop (measured:
# 3 of 2,515 reads failed twice in a row; one CI run saw a read fail three times in a row).
RETRIES = 5


def backoff(attempt: int) -> None:
    """Wait before retry ``attempt`` (0, 5, 10, 20, 40 ms: 75 ms at most in all), long
    enough for a writer's flush and compaction to finish."""
    if attempt:
        time.sleep(0.0025 * 2 ** attempt)


def read_generation(home: Path) -> str:
    try:
        return (home / GENERATION_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


class PublicDataset:
    def __init__(self, home: Path) -> None:
        self.home = home
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._store: Store | None = None
        self.opens = 0  # how many handles were opened (tests and benchmarks read it)

    def _current(self) -> tuple:
        return read_generation(self.home), store_stamp(self.home / "publication")

    @property
    def store(self) -> Store:
        key = self._current()
        with self._lock:
            if self._store is None or key != self._key:
                self._store, self._key = self._open(key)
            return self._store

    def _open(self, key: tuple, *, attempts: int = 5) -> tuple[Store, tuple | None]:
        """A handle, and the key it was opened under if nothing moved while it opened."""
        for _ in range(attempts):
            store = open_read_only(self.home / "publication")
            self.opens += 1
            after = self._current()
            if after == key:
                return store, key
            key = after  # the writer was at work: open again on what it left
        return store, None  # still moving: this request only; the next one opens again

    def forget(self) -> None:
        """Drop the handle (a read met a file the writer had removed)."""
        with self._lock:
            self._store, self._key = None, None

    def read(self, fn: Callable[[Store], T], *, attempts: int = RETRIES + 1) -> T:
        """``fn(store)``, again on a fresh handle if it met the writer's compaction."""
        for attempt in range(attempts):
            try:
                return fn(self.store)
            except (OSError, RuntimeError) as exc:
                if not is_store_race(exc) or attempt == attempts - 1:
                    raise
                self.forget()
                backoff(attempt + 1)
        raise AssertionError("unreachable")


def install_store_retry(app) -> None:
    """Serve a GET again on a fresh handle (at most :data:`RETRIES` times) when it met a table
    file that a writer in another process had just compacted away (any page: they all read
    ``public_store()``). Other failures, and other methods, go on to the 500 handler."""
    from flask import current_app, g, request

    def retry(exc: Exception):
        if (not is_store_race(exc) or request.method not in ("GET", "HEAD")
                or g.get("lantai_store_retried") or request.url_rule is None):
            raise exc
        g.lantai_store_retried = True
        view = current_app.ensure_sync(current_app.view_functions[request.url_rule.endpoint])
        for attempt in range(RETRIES):
            current_app.extensions["lantai.dataset"].forget()
            backoff(attempt)
            try:
                return view(**(request.view_args or {}))
            except (OSError, RuntimeError) as again:
                if not is_store_race(again) or attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    app.register_error_handler(RuntimeError, retry)
    app.register_error_handler(OSError, retry)


def public_store() -> Store:
    """The publication dataset as the current request should see it (inside a request)."""
    from flask import current_app

    return current_app.extensions["lantai.dataset"].store
