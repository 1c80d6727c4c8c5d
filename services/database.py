"""SQLite databases of the services (requests, filing, consents): one file each, beside the
description stores and never read by a public surface but through its service.

Every method of a store opens its own connection (WAL: readers never wait for the writer;
writers take ``BEGIN IMMEDIATE`` and wait up to ``busy_timeout``), so one store serves all the
web server's threads, and a write happens whole or not at all. One more connection is held
for the store's life: when the last connection to a WAL database closes, SQLite checkpoints
the log into the database and deletes it, so with none held every write paid a checkpoint
and an fsync (30 ms instead of 2, measured for the request store).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ServiceDatabase:
    """One service's SQLite file: its schema applied at open, connections per call."""

    # ``synchronous``: FULL (the default) makes every commit durable at once; NORMAL keeps
    # the database consistent but may lose the last commits on a power cut (a service whose
    # rows can be made again may choose it for speed)
    synchronous = "FULL"

    def __init__(self, path: Path, schema: str, version: int) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(schema)
            db.execute(f"PRAGMA user_version = {int(version)}")
        self._keeper = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        self._keeper.execute("SELECT 1").fetchall()
        self._keeper_lock = threading.Lock()

    def close(self) -> None:
        """Let the database go (the log is checkpointed when no other connection is open)."""
        self._keeper.close()

    def data_version(self) -> int:
        """A number that changes when another connection commits (a cache's cheap check)."""
        with self._keeper_lock:
            return int(self._keeper.execute("PRAGMA data_version").fetchone()[0])

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode = WAL")
            db.execute(f"PRAGMA synchronous = {self.synchronous}")
            db.execute("PRAGMA busy_timeout = 10000")
            db.execute("PRAGMA foreign_keys = ON")
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed whole when the block ends, rolled back whatever is
        raised."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
