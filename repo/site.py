"""A site opened for work: its settings, profile, clock and the handles on its two stores.

Every part of :class:`repo.repository.Repository` (reads, accounts, revisions, publication,
writes, ingest) is given the one :class:`Site` it works on. Parts reach the stores through it
(``site.working``, ``site.public``), never keep a ``Store`` themselves: a store's lock goes
with its last reference (repo/handles.py), so the site's :meth:`close` lets the stores go for
every part at once, and a part used after that gets a clear error instead of a locked store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

from pyoxigraph import DefaultGraph, Store

from ontology.profile import Profile, load_profile
from repo.config import Settings
from repo.handles import WriteHandle
from repo.store import MANAGEMENT


class ReadOnly(RuntimeError):
    """A write was attempted through a read-only site (the API's reader): a bug in the
    caller, not user input."""


class StoreHandle(Protocol):
    """What a part needs of a handle: the store, for the length of one use."""

    @property
    def store(self) -> Store: ...


class Snapshot:
    """A store someone else owns and lets go (the API's read-only snapshot of the working
    store): the site hands it out, and closing the site only forgets it."""

    def __init__(self, store: Store) -> None:
        self._store: Store | None = store

    @property
    def store(self) -> Store:
        if self._store is None:
            raise ValueError("the repository was closed")
        return self._store

    def close(self) -> None:
        self._store = None


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Site:
    """Settings, profile, clock and store handles of one site home (see the module doc)."""

    mgmt: DefaultGraph = MANAGEMENT

    def __init__(self, home: Path, settings: Settings, working: StoreHandle,
                 public: StoreHandle, *, writable: bool,
                 clock: Callable[[], dt.datetime] | None = None,
                 stack: ExitStack | None = None) -> None:
        self.home = home
        self.settings = settings
        self.base = settings.base
        self.root_iri = self.base + "/"
        self.profile: Profile = load_profile()
        self.clock = clock or utc_now
        self.writable = writable
        self._working: StoreHandle | None = working
        self._public: StoreHandle | None = public
        self._stack = stack or ExitStack()

    @classmethod
    def for_writing(cls, home: Path, settings: Settings, *, wait: float = 10.0,
                    clock: Callable[[], dt.datetime] | None = None) -> Site:
        """Open both stores for writing (waiting up to ``wait`` s for another process's
        lock); an open that fails lets go of the store it had opened."""
        with ExitStack() as stack:
            working = stack.enter_context(WriteHandle(home / "working", wait=wait))
            public = stack.enter_context(WriteHandle(home / "publication", wait=wait))
            return cls(home, settings, working, public, writable=True, clock=clock,
                       stack=stack.pop_all())
        raise AssertionError("unreachable")  # pragma: no cover  (mypy: with may swallow)

    @classmethod
    def for_reading(cls, home: Path, settings: Settings, working: Store,
                    public: StoreHandle) -> Site:
        """A read-only site over a snapshot of the working store and the public dataset."""
        return cls(home, settings, Snapshot(working), public, writable=False)

    @property
    def working(self) -> Store:
        if self._working is None:
            raise ValueError("the repository was closed")
        return self._working.store

    @property
    def public(self) -> Store:
        if self._public is None:
            raise ValueError("the repository was closed")
        return self._public.store

    @property
    def closed(self) -> bool:
        return self._working is None

    def require_writable(self) -> None:
        if not self.writable:
            raise ReadOnly("the read-only view of the repository cannot write")

    def iri_for(self, kind: str, key: str) -> str:
        return f"{self.base}/id/{kind}/{key}"

    def is_repository_object(self, iri: str) -> bool:
        return iri.startswith(self.base + "/id/")

    def close(self) -> None:
        """Flush the stores and let them go, whatever a flush raises. Twice is fine."""
        self._working = self._public = None
        self._stack.close()
