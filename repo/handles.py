"""Handles on on-disk Oxigraph stores: the one place that opens, re-opens, retries and lets go.

pyoxigraph has no ``close()``: a store's RocksDB lock goes with the last reference to its
``Store``. So a handle owns that reference and hands it out for the length of a use; its
:meth:`close` flushes and drops it, whatever was raised. (A caller that keeps ``handle.store``
in a variable beyond the use keeps the lock too: keep the handle, not the store.)

**Writing** (:class:`WriteHandle`). Only one process can open a store for writing; a second
gets a lock error and waits a little (``wait``) instead of failing at once. An open can also
meet another process's open: RocksDB rotates and prunes its info logs (``LOG.old.*``) *before*
it takes the lock, so two processes opening at once can fail with "No such file … while
unlink() LOG.old…" (measured with three processes writing in turn). That is a race of the
open, not a fault of the store: it is retried like the lock.

**Reading** (:class:`ReadHandle`). Oxigraph lets other processes open a store read-only while
one writes it, with a warning ("undefined behaviour"). What it means here, measured
(tests/test_multiprocess_writes.py): a read-only open reads CURRENT, the MANIFEST, then the
table files and write-ahead logs it names; a writer that flushes or compacts meanwhile deletes
some of them, so

1. about one open in ten to twenty under constant writes fails ("Corruption: … No such file"):
   the open is retried (:data:`OPEN_ATTEMPTS`);
2. an open between a flush's manifest edit and its log deletion can even see the store
   *without* the last write, silently. So the writer announces a change only once it is
   safe to look: it flushes the store, *then* bumps the publication's generation
   (:func:`repo.store.announce`). An open that starts after it read the new generation sees
   the change; a handle keyed on the generation alone (the public dataset: every web worker
   reads the generation file once per request, and scans nothing) is therefore never stale.
   (Before, the writer bumped first and then flushed: handles had to be keyed on the store's
   files as well, a directory scan per use — 29 % of a web process, two to four scans per
   record page.) A handle with ``follow`` still keys on the files (:func:`store_stamp`,
   taken before the open and checked after it; opened again if it moved meanwhile, and one
   still not settled after :data:`SETTLE_ATTEMPTS` serves that use only): the API's view of
   the *working* store, which has no generation, reads it once per request;
3. a handle that meets a table file a compaction removed keeps failing until it is reopened
   (measured before: a writer publishing 200 times while one thread read made 48,191 of
   78,102 reads fail, i.e. public pages answered 500 between two changes). :meth:`ReadHandle.read`
   runs the read again on a fresh handle, waiting a little longer each time (:func:`backoff`):
   once is not always enough while a writer publishes in a loop (3 of 2,515 reads failed twice
   in a row; one CI run saw a read fail three times in a row), hence :data:`RETRIES`.

A read-only handle is a snapshot: it is reopened (about 13 ms) when its key moves — the
generation file the repository bumps after each publication (a read of a few bytes), and/or
the store's file stamp (about 0.1 ms to read; a write appends to the log or adds tables).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from pyoxigraph import Store

from repo.errors import Busy
from repo.store import read_generation

T = TypeVar("T")

OPEN_ATTEMPTS = 20  # read-only opens that met a writer's flush (item 1 above)
SETTLE_ATTEMPTS = 5  # opens while the key kept moving (item 2)
RETRIES = 5  # reads run again on a fresh handle (item 3)


def backoff(attempt: int) -> None:
    """Wait before retry ``attempt`` (0, 5, 10, 20, 40 ms: 75 ms at most in all), long
    enough for a writer's flush and compaction to finish."""
    if attempt:
        time.sleep(0.0025 * 2 ** attempt)


def is_store_race(exc: BaseException) -> bool:
    """Did an open (or read) meet a file another process had just replaced or removed?
    RocksDB reports a compacted-away table as corruption of the manifest; it is not: a new
    open succeeds. (pyoxigraph raises OSError for I/O errors, RuntimeError for corruption.)"""
    text = str(exc)
    return isinstance(exc, OSError | RuntimeError) and (
        "No such file" in text or "Corruption" in text or "IO error" in text)


def retry_races(fn: Callable[[], T], forget: Callable[[], None], *,
                attempts: int = RETRIES + 1) -> T:
    """``fn()``; when it meets a writer's compaction (:func:`is_store_race`), ``forget()``
    the stale snapshot, wait (:func:`backoff`) and call it again, ``attempts`` times in all.
    For uses that wrap a :class:`ReadHandle`'s store (the API's repository view, a page)."""
    for attempt in range(attempts):
        try:
            return fn()
        except (OSError, RuntimeError) as exc:
            if not is_store_race(exc) or attempt == attempts - 1:
                raise
            forget()
            backoff(attempt + 1)
    raise AssertionError("unreachable")


_STORE_FILE = re.compile(r"^(\d+\.(sst|log)|MANIFEST-\d+|CURRENT)$")


def store_stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes whenever the store behind ``folder`` changes: its tables, write-ahead log
    and manifest (names, sizes, modification times)."""
    out = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if _STORE_FILE.match(entry.name):
                    try:
                        st = entry.stat()
                    except FileNotFoundError:  # deleted by the writer while we looked
                        continue
                    out.append((entry.name, st.st_size, st.st_mtime_ns))
    except FileNotFoundError:
        return ()
    return tuple(sorted(out))


class WriteHandle:
    """A store opened for writing, until :meth:`close` (or the end of a ``with`` block).

    Opening waits up to ``wait`` seconds for another process's lock (and retries the
    ``LOG.old`` race), then raises :class:`~repo.errors.Busy`."""

    def __init__(self, path: Path, *, wait: float = 10.0) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait
        while True:
            try:
                self._store: Store | None = Store(str(path))
                return
            except OSError as exc:
                text = str(exc).lower()
                if not ("lock" in text or "no such file" in text) or time.monotonic() > deadline:
                    raise Busy(f"the store {path} is in use by another process ({exc})") from None
                time.sleep(0.05)

    @property
    def store(self) -> Store:
        if self._store is None:
            raise ValueError(f"the store {self.path} was closed")
        return self._store

    @property
    def closed(self) -> bool:
        return self._store is None

    def close(self) -> None:
        """Flush and let the store go (its lock goes with this, its last reference), whatever
        the flush raises. Closing twice is fine."""
        store, self._store = self._store, None
        if store is None:
            return
        try:
            store.flush()
        finally:
            del store  # not even a failed flush's traceback keeps it

    def __enter__(self) -> WriteHandle:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class ReadHandle:
    """A read-only handle on the store in ``folder``, reopened when its key moves.

    The key is the publication generation of the site at ``generation`` (if given) and,
    when ``follow`` is true, the store's :func:`store_stamp`. With neither, the handle keeps
    its snapshot until :meth:`forget` (the ingest's reader: the writer never stops, so
    following it would reopen for every read). Thread-safe; the store it hands out is
    shared."""

    def __init__(self, folder: Path, *, generation: Path | None = None,
                 follow: bool = True) -> None:
        self.folder = folder
        self.generation_home = generation
        self.follow = follow
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._store: Store | None = None
        self._closed = False
        self.opens = 0  # how many stores were opened (tests and benchmarks read it)

    def key(self) -> tuple:
        """What the store looks like now (read before an open, and checked after it)."""
        home = self.generation_home
        gen = read_generation(home) if home is not None else ""
        return gen, store_stamp(self.folder) if self.follow else ()

    @property
    def store(self) -> Store:
        """The store as a use starting now should see it."""
        key = self.key()
        with self._lock:
            if self._closed:
                raise ValueError(f"the read-only handle on {self.folder} was closed")
            if self._store is None or key != self._key:
                self._store = None  # the old snapshot goes before the new one is opened
                self._store, self._key = self._open(key)
            return self._store

    def _open(self, key: tuple) -> tuple[Store, tuple | None]:
        """A store, and the key it was opened under if nothing moved while it opened."""
        for _ in range(SETTLE_ATTEMPTS):
            store = self._open_once()
            after = self.key()
            if after == key:
                return store, key
            key = after  # the writer was at work: open again on what it left
        return store, None  # still moving: this use only; the next one opens again

    def _open_once(self) -> Store:
        for attempt in range(OPEN_ATTEMPTS):
            try:
                store = Store.read_only(str(self.folder))
                self.opens += 1
                return store
            except (OSError, RuntimeError) as exc:
                if not is_store_race(exc) or attempt == OPEN_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def read(self, fn: Callable[[Store], T], *, attempts: int = RETRIES + 1) -> T:
        """``fn(store)``, again on a fresh store if it met the writer's compaction."""
        return retry_races(lambda: fn(self.store), self.forget, attempts=attempts)

    def forget(self) -> None:
        """Drop the store: the next use opens a fresh one (a read met a removed file)."""
        with self._lock:
            self._store, self._key = None, None

    def close(self) -> None:
        """Drop the store for good; the handle cannot be used again. Closing twice is fine."""
        with self._lock:
            self._store, self._key, self._closed = None, None, True

    def __enter__(self) -> ReadHandle:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
