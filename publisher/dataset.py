"""Read-only access to the publication dataset, refreshed when the repository publishes.

Oxigraph lets one process write a store while others open it read-only; a read-only handle
sees the store as it was when opened. The repository flushes the publication store and then
bumps ``publication.generation`` after every change to it (:func:`repo.store.announce`), so
:class:`PublicDataset` keys its snapshot on that generation alone: read once per request
(:meth:`PublicDataset.generation`, kept on ``flask.g``), never a scan of the store's folder,
and the store is reopened only when it moved. Every web worker process does the same on its
own, so a change made by ``lantai`` in another process is seen by every worker on its next
request. Why each retry exists, with the figures measured, is written once, in
:mod:`repo.handles`. Here: :func:`install_store_retry` serves a page again when it met a
table file a writer compacted away (the pages read :func:`public_store`, not
:meth:`ReadHandle.read`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context
from pyoxigraph import Store

from repo.handles import RETRIES, ReadHandle, is_store_race, retry_races
from repo.store import read_generation as _file_generation

__all__ = ["RETRIES", "PublicDataset", "install_store_retry", "is_replica", "open_dataset",
           "public_store", "read_generation"]


class PublicDataset(ReadHandle):
    """The publication dataset of the site at ``home``: a read-only snapshot keyed on the
    publication generation only (read at most once per request)."""

    def __init__(self, home: Path) -> None:
        super().__init__(home / "publication", generation=home, follow=False)
        self.home = home
        self.generation_reads = 0  # how often the file was read (tests count them)

    def generation(self) -> str:
        """The publication generation as this request sees it: the file is read at the
        request's first call and remembered on ``flask.g`` (outside a request: read now)."""
        if has_request_context():
            found = g.get(_GENERATION)
            if found is None:
                found = self._read_generation()
                setattr(g, _GENERATION, found)
            return found
        return self._read_generation()

    def _read_generation(self) -> str:
        self.generation_reads += 1
        return _file_generation(self.home)

    def key(self) -> tuple:
        """The generation alone: no scan of the store's files (the writer flushes before it
        bumps, :func:`repo.store.announce`)."""
        return self.generation(), ()


_GENERATION = "lantai_publication_generation"


def is_replica(home: Path) -> bool:
    """A replica home: a web worker's copy of a site that has no working store (settings, the
    public catalog, the derivatives; the publication read from ``publication_endpoint``)."""
    return not (Path(home) / "working").exists()


def open_dataset(home: Path, settings: Any) -> Any:
    """What the public surfaces read: the embedded publication store, or (setting
    ``publication_endpoint``) the external engine that holds the publication (external/)."""
    if getattr(settings, "publication_endpoint", ""):
        from external.reader import RemoteDataset

        remote = RemoteDataset(home, settings)
        _REMOTE[str(Path(home).resolve())] = remote
        return remote
    return PublicDataset(home)


_REMOTE: dict[str, Any] = {}  # home → its RemoteDataset, for read_generation outside a request


def read_generation(home: Path | str) -> str:
    """The publication's generation as the public surfaces must key their caches on it: the
    file the repository bumps, or, when the publication lives in an external engine, the
    engine's (read once per request; a replica home has no file, and a worker on another
    machine learns of a close from the engine alone)."""
    from flask import current_app, has_app_context

    if has_app_context():
        dataset: Any = current_app.extensions.get("lantai.dataset")
        if dataset is not None and Path(dataset.home) == Path(home):
            return str(dataset.generation())
    remote = _REMOTE.get(str(Path(home).resolve())) if _REMOTE else None
    if remote is not None:
        return str(remote.generation())
    return _file_generation(home)


def install_store_retry(app: Flask) -> None:
    """Serve a GET again on a fresh handle (at most :data:`RETRIES` times) when it met a table
    file that a writer in another process had just compacted away (any page: they all read
    ``public_store()``). Other failures, and other methods, go on to the 500 handler."""
    from flask import current_app, g, request

    def retry(exc: Exception) -> Any:
        if (not is_store_race(exc) or request.method not in ("GET", "HEAD")
                or g.get("lantai_store_retried") or request.url_rule is None
                or request.url_rule.endpoint is None):
            raise exc
        g.lantai_store_retried = True
        view = current_app.ensure_sync(current_app.view_functions[request.url_rule.endpoint])
        dataset = current_app.extensions["lantai.dataset"]
        dataset.forget()  # the failed first try was the view itself
        return retry_races(lambda: view(**(request.view_args or {})), dataset.forget,
                           attempts=RETRIES)

    app.register_error_handler(RuntimeError, retry)
    app.register_error_handler(OSError, retry)


def public_store() -> Store:
    """The publication dataset as the current request should see it (inside a request)."""
    from flask import current_app

    store: Store = current_app.extensions["lantai.dataset"].store
    return store
