"""How the API reaches the repository without keeping the working store to itself.

Oxigraph lets one process open a store for writing, and ``lantai`` commands must keep working
while the server runs (issue 4, item 1). So the server never holds the working store:

- **writes** open a :class:`~repo.repository.Repository` for the one request (waiting up to
  ``LANTAI_API_WAIT`` seconds for a ``lantai`` command that holds it, then answering 503
  with ``Retry-After``), do the operation through the repository's one door, and close it
  again; a lock serialises the writes of this process;
- **reads** use a read-only handle on the working store (:meth:`Repository.read_only`), the
  same read methods and permission checks as the repository, opened again only when the
  store's files changed (a write appends to its log or adds tables), so a change made by
  ``lantai`` or by another request is visible to the next GET.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, g

from repo.errors import Busy, LantaiError
from repo.handles import ReadHandle, is_store_race
from repo.repository import Repository, release_frames


class ApiSite:
    """The API's handles on one site home (one per Flask app)."""

    def __init__(self, app: Flask) -> None:
        self.home = Path(app.config["LANTAI_HOME"])
        self.wait = float(app.config.get("LANTAI_API_WAIT", 5.0))
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._working = ReadHandle(self.home / "working")
        self._reader: Repository | None = None
        self.stats = {"reader_opens": 0, "writer_opens": 0}

    def reader(self) -> Repository:
        """A read-only view no older than the last change to the working store (one per
        request: a request sees one snapshot)."""
        if "lantai_api_reader" in g:
            return g.lantai_api_reader
        g.lantai_api_reader = self._fresh_reader()
        return g.lantai_api_reader

    def forget_reader(self) -> None:
        """Drop this request's and the shared view (after a read met a compacted file)."""
        g.pop("lantai_api_reader", None)
        with self._read_lock:
            self._reader = None
            self._working.forget()

    def _fresh_reader(self) -> Repository:
        """A view on the handle's current snapshot of the working store (reopened when the
        store's files moved: :class:`repo.handles.ReadHandle`)."""
        with self._read_lock:
            try:
                store = self._working.store
            except (OSError, RuntimeError) as exc:
                if not is_store_race(exc):
                    raise
                raise Busy(f"the working store could not be read just now ({exc}); "
                           "try again") from None
            if self._reader is None or self._reader.working is not store:
                self._reader = Repository.read_only(
                    self.home, store, current_app.extensions["lantai.dataset"])
                self.stats["reader_opens"] += 1
            return self._reader

    @contextmanager
    def writer(self) -> Iterator[Repository]:
        """The repository opened for writing, for the length of one request."""
        started = time.monotonic()
        if not self._write_lock.acquire(timeout=self.wait):
            raise Busy("the repository is busy with other changes; try again")
        repo = None
        try:
            left = max(0.0, self.wait - (time.monotonic() - started))
            repo = Repository.open(self.home, wait=left)
            self.stats["writer_opens"] += 1
            try:
                repo.release_due()  # as every `lantai` command does: ended embargoes open
            except LantaiError as exc:  # never a reason to refuse the user's own change
                current_app.logger.warning("lantai api: release of embargoes: %s", exc.message)
            yield repo
        except BaseException as exc:  # the failed write's frames must not keep the store
            release_frames(exc.__traceback__)
            raise
        finally:
            try:
                if repo is not None:  # the catalog commits; the stores flush and go
                    repo.close()
            finally:
                self._write_lock.release()
