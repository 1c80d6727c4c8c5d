"""Counting what a requester may do only so often: failed status look-ups per client address,
codes sent per request and per e-mail address (so nobody can flood an inbox through us).

Like the staff sign-in's failure counts (:mod:`staff.sessions`), the counts live in SQLite
(``{home}/requests/throttle.sqlite3``) so every thread and process of the site shares them,
within a sliding window. Who is counted is stored as a keyed hash (the request store's lookup
key), never as an address in clear.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

# kind: (at most, within seconds)
LIMITS: dict[str, tuple[int, int]] = {
    "status-fail": (10, 15 * 60),  # wrong number/e-mail/code on the status page, per client
    "send-request": (3, 60 * 60),  # codes sent for one request ("send again")
    "send-email": (5, 60 * 60),  # codes sent to one e-mail address
    "submit-client": (20, 60 * 60),  # requests made from one client address
}


class Throttle:
    def __init__(self, path: Path, hasher: Callable[[str], str],
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.hasher = hasher
        self.clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        db = self._db()
        try:
            db.execute("CREATE TABLE IF NOT EXISTS hit (kind TEXT NOT NULL, who TEXT NOT NULL,"
                       " at REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS hit_who ON hit (kind, who, at)")
        finally:
            db.close()

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        return db

    def _who(self, kind: str, who: str) -> str:
        return self.hasher(f"throttle/{kind}/{who}")

    def exceeded(self, kind: str, who: str) -> bool:
        """Whether ``who`` has used up what ``kind`` allows in its window."""
        most, window = LIMITS[kind]
        db = self._db()
        try:
            n = db.execute("SELECT count(*) FROM hit WHERE kind = ? AND who = ? AND at > ?",
                           (kind, self._who(kind, who), self.clock() - window)).fetchone()[0]
        finally:
            db.close()
        return bool(n >= most)

    def hit(self, kind: str, who: str) -> None:
        _, window = LIMITS[kind]
        now = self.clock()
        db = self._db()
        try:
            db.execute("INSERT INTO hit VALUES (?, ?, ?)", (kind, self._who(kind, who), now))
            db.execute("DELETE FROM hit WHERE kind = ? AND at < ?", (kind, now - window))
        finally:
            db.close()
