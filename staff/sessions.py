"""Staff sessions and sign-in throttling, kept on the server in one SQLite file.

Why on the server and not in a signed cookie: signing out, an idle timeout and a disabled
account must end a session at once, and a copied cookie must stop working when it does. The
cookie carries only a random session id; the table keeps its SHA-256 (a stolen database file
gives no usable cookie), the account, the CSRF token, when it was last used, whether the
second factor was given, and a fingerprint of the account's password hash (the guard compares
it with the account's hash on every request, so a password changed anywhere, the ``lantai``
command included, ends the sessions made with the old one). SQLite, because several
``lantai serve`` worker processes share it (WAL mode, one short transaction per request) and
it is in the standard library.

The file is ``{home}/staff/sessions.sqlite3``: outside both Oxigraph stores, never published,
never in a dump. Sign-in failures are counted per account and per address over a window, in
the same file, so a guesser cannot spread attempts over the workers.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS session (
    id_hash   TEXT PRIMARY KEY,
    username  TEXT,              -- NULL before sign-in (the sign-in form's CSRF token)
    csrf      TEXT NOT NULL,
    pending   TEXT,              -- the account waiting for its second factor
    enrol     TEXT,              -- a TOTP secret offered to it, until confirmed by a code
    password  TEXT NOT NULL,     -- fingerprint of the password hash it signed in with
    created   REAL NOT NULL,
    seen      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS session_user ON session (username);
CREATE TABLE IF NOT EXISTS failure (
    kind  TEXT NOT NULL,         -- 'account' or 'address'
    who   TEXT NOT NULL,
    at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS failure_who ON failure (kind, who, at);
CREATE TABLE IF NOT EXISTS totp_used (
    username TEXT PRIMARY KEY,
    step     INTEGER NOT NULL    -- the last time step accepted: a code is good once
);
"""

ANONYMOUS_LIFETIME = 3600.0  # seconds a not-signed-in session (the sign-in form) lives
FAILURE_WINDOW = 15 * 60.0  # seconds over which sign-in failures are counted


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


def fingerprint(password_hash: str | None) -> str:
    """What a session remembers of the password hash it was made with: enough to see that
    it changed, nothing that helps to guess the password."""
    return hashlib.sha256(("lantai-staff:" + (password_hash or "")).encode()).hexdigest()[:32]


@dataclass
class Session:
    """One browser's session: ``id`` is only known right after it was made (for the cookie)."""

    id_hash: str
    username: str | None
    csrf: str
    pending: str | None
    enrol: str | None
    password: str
    created: float
    seen: float
    id: str = ""

    @property
    def signed_in(self) -> bool:
        return self.username is not None


class SessionStore:
    """The sessions of one site home (one per Flask app, shared by its threads)."""

    def __init__(self, path: Path, *, idle_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.idle = idle_seconds
        self.clock = clock  # seconds since the epoch (tests move it to pass the idle time)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._db() as db:
            columns = {r[1] for r in db.execute("PRAGMA table_info(session)")}
            if columns and "password" not in columns:  # made before fingerprints: sign in again
                db.execute("DROP TABLE session")
            db.executescript(SCHEMA)
        path.chmod(0o600)

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections are not shared across threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    # ------------------------------------------------------------------ sessions
    def new(self, username: str | None = None, *, pending: str | None = None,
            enrol: str | None = None, password_hash: str | None = None) -> Session:
        """A fresh session (a new id every time: a signed-in session never keeps the id it
        had before, so an id planted before sign-in is worth nothing after).
        ``password_hash``: the account's, when it signs in (see :func:`fingerprint`)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        s = Session(_hash(session_id), username, secrets.token_urlsafe(32), pending, enrol,
                    fingerprint(password_hash), now, now, id=session_id)
        with self._db() as db:
            db.execute("INSERT INTO session VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (s.id_hash, s.username, s.csrf, s.pending, s.enrol, s.password,
                        s.created, s.seen))
        self._sweep()
        return s

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, touched; None if unknown, idle too long or old."""
        if not session_id or len(session_id) > 100:
            return None
        now = self.clock()
        db = self._db()
        row = db.execute("SELECT * FROM session WHERE id_hash = ?", (_hash(session_id),)
                         ).fetchone()
        if row is None:
            return None
        s = Session(*row)
        s.id = session_id
        limit = self.idle if s.signed_in else ANONYMOUS_LIFETIME
        if now - s.seen > limit:
            self.end(session_id)
            return None
        if now - s.seen > 5:  # one write per few seconds, not per request
            with db:
                db.execute("UPDATE session SET seen = ? WHERE id_hash = ?", (now, s.id_hash))
        return s

    def offer_totp(self, s: Session, secret: str | None) -> None:
        """Keep a TOTP secret offered to a signed-in user until a code confirms it."""
        s.enrol = secret
        with self._db() as db:
            db.execute("UPDATE session SET enrol = ? WHERE id_hash = ?", (secret, s.id_hash))

    def end(self, session_id: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM session WHERE id_hash = ?", (_hash(session_id),))

    def end_all(self, username: str) -> int:
        """Sign ``username`` out everywhere (disabled, removed, password changed)."""
        with self._db() as db:
            return db.execute("DELETE FROM session WHERE username = ? OR pending = ?",
                              (username, username)).rowcount

    def _sweep(self) -> None:
        now = self.clock()
        with self._db() as db:
            db.execute("DELETE FROM session WHERE (username IS NULL AND seen < ?) OR seen < ?",
                       (now - ANONYMOUS_LIFETIME, now - self.idle))
            db.execute("DELETE FROM failure WHERE at < ?", (now - FAILURE_WINDOW,))

    # ------------------------------------------------------------------ throttling
    def failures(self, kind: str, who: str) -> int:
        """Sign-in failures of this account or address in the last quarter of an hour."""
        return self._db().execute(
            "SELECT count(*) FROM failure WHERE kind = ? AND who = ? AND at > ?",
            (kind, who, self.clock() - FAILURE_WINDOW)).fetchone()[0]

    def fail(self, account: str, address: str) -> None:
        now = self.clock()
        with self._db() as db:
            db.executemany("INSERT INTO failure VALUES (?, ?, ?)",
                           [("account", account[:64], now), ("address", address, now)])

    def forget_failures(self, account: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM failure WHERE kind = 'account' AND who = ?", (account,))

    # ------------------------------------------------------------------ second factor
    def use_totp_step(self, username: str, step: int) -> bool:
        """Accept a TOTP code's time step once: False if it (or a later one) was used."""
        with self._db() as db:
            row = db.execute("SELECT step FROM totp_used WHERE username = ?",
                             (username,)).fetchone()
            if row is not None and row[0] >= step:
                return False
            db.execute("INSERT OR REPLACE INTO totp_used VALUES (?, ?)", (username, step))
            return True
