"""Read-only access to the publication dataset, refreshed when the repository publishes.

Oxigraph lets one process write a store while others open it read-only; a read-only handle
sees the store as it was when opened. The repository bumps ``publication.generation`` after
every change to the publication dataset, and :class:`PublicDataset` reopens its handle when
that number moves (about 13 ms), so the server sees changes made by ``lantai`` commands
without a restart.
"""

from __future__ import annotations

import threading
from pathlib import Path

from pyoxigraph import Store

from repo.store import GENERATION_FILE


def read_generation(home: Path) -> str:
    try:
        return (home / GENERATION_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


class PublicDataset:
    def __init__(self, home: Path) -> None:
        self.home = home
        self._lock = threading.Lock()
        self._generation = None
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        generation = read_generation(self.home)
        with self._lock:
            if self._store is None or generation != self._generation:
                self._store = Store.read_only(str(self.home / "publication"))
                self._generation = generation
            return self._store


def public_store() -> Store:
    """The publication dataset as the current request should see it (inside a request)."""
    from flask import current_app

    return current_app.extensions["lantai.dataset"].store
