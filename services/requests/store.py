"""Where requests live: one SQLite database under ``{home}/requests/``, apart from the
description stores (DESIGN.md, decision 7), and never read by a public surface but the
request's own status page and ``/verify`` (which reads only ``copy`` rows: no personal data).

Layout::

    requests/requests.sqlite3   requests, their history, selections, copies, links, codes
    requests/files/ID.idimage   the identity-document image, sealed (AES-256-GCM)
    requests/files/CODE.pdf     the certified copy as issued, sealed (a transcript is personal)

Personal fields (:data:`~services.requests.model.PERSONAL_FIELDS`) are one sealed JSON value
per request, bound to its number; the verified e-mail and the identity number are also kept
as keyed hashes (to find a request by number and e-mail, to see repeat requesters) — never in
clear. Purging a request drops the sealed value and the files and keeps the open facts the
statistics need (kind, channel, workroom, times, state).

Every method opens its own connection (SQLite in WAL mode: readers never wait for the writer;
writers take ``BEGIN IMMEDIATE`` and wait up to ``busy_timeout``), so one store serves all the
web server's threads, and a write either happens whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from preservation import keys
from repo.config import Settings, read_settings
from repo.errors import Conflict, Invalid, NotFound
from services.database import ServiceDatabase
from services.requests.model import (
    CHANNELS,
    DELIVERIES,
    FINAL_STATES,
    KINDS,
    LANGUAGES,
    STATES,
    Copy,
    Dispatch,
    Event,
    Personal,
    Request,
    Selection,
)

SCHEMA_VERSION = 1
# A request number is "CD" + year + four groups of four from 32 unambiguous characters:
# 80 random bits, so guessing one among a million requests takes ~10^18 tries
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
# which state may follow which (staff and requester actions check against this)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "unverified": ("submitted", "withdrawn"),
    "submitted": ("in_progress", "refused", "withdrawn"),
    "in_progress": ("submitted", "fulfilled", "refused", "withdrawn"),
    "fulfilled": ("closed", "in_progress"),
    "closed": (),
    "refused": (),
    "withdrawn": (),
}
EMAIL_CODE_MINUTES = 15
EMAIL_CODE_TRIES = 5
ABANDONED_DAYS = 2  # an unconfirmed request from the form is dropped after this

_SCHEMA = """
CREATE TABLE IF NOT EXISTS request (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, kind TEXT NOT NULL, languages TEXT NOT NULL,
  copies INTEGER NOT NULL, delivery TEXT NOT NULL, channel TEXT NOT NULL,
  year_from INTEGER, year_to INTEGER, urgent INTEGER NOT NULL DEFAULT 0,
  workroom TEXT NOT NULL DEFAULT '', assignee TEXT NOT NULL DEFAULT '',
  person TEXT NOT NULL DEFAULT '',
  created TEXT NOT NULL, updated TEXT NOT NULL, due TEXT NOT NULL,
  closed TEXT NOT NULL DEFAULT '', purged TEXT NOT NULL DEFAULT '',
  email_verified INTEGER NOT NULL DEFAULT 0, email_hash TEXT NOT NULL DEFAULT '',
  id_hash TEXT NOT NULL DEFAULT '', personal BLOB, has_id_image INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS request_status ON request (status, created);
CREATE INDEX IF NOT EXISTS request_workroom ON request (workroom, status, created);
CREATE INDEX IF NOT EXISTS request_created ON request (created);
CREATE INDEX IF NOT EXISTS request_due ON request (due);
CREATE INDEX IF NOT EXISTS request_id_hash ON request (id_hash);
-- the staff queue's covering index: its filters and orders are read from the index alone
CREATE INDEX IF NOT EXISTS request_queue ON request (status, due, id, created, updated, kind,
  workroom, assignee, urgent, channel);
-- the same in due order, for the queue of every state (no status filter): the page is the
-- index's first entries that pass the filters, no sort of 50,000 rows
CREATE INDEX IF NOT EXISTS request_queue_due ON request (due, id, status, created, updated,
  kind, workroom, assignee, urgent, channel);
-- the statistics' facts of a range of creation dates, read from the index alone (the rows
-- hold the sealed personal part: scanning them cost ten times more)
CREATE INDEX IF NOT EXISTS request_facts ON request (created, id, kind, channel, workroom,
  delivery, status, closed, urgent);
CREATE TABLE IF NOT EXISTS event (
  request_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', PRIMARY KEY (request_id, seq)
);
CREATE TABLE IF NOT EXISTS selection (
  request_id TEXT NOT NULL, position INTEGER NOT NULL, record TEXT NOT NULL,
  pages TEXT NOT NULL DEFAULT '[]', PRIMARY KEY (request_id, position)
);
CREATE TABLE IF NOT EXISTS copy (
  code TEXT PRIMARY KEY, request_id TEXT NOT NULL, language TEXT NOT NULL,
  sha256 TEXT NOT NULL, pages INTEGER NOT NULL, records TEXT NOT NULL,
  signed_at TEXT NOT NULL, signer TEXT NOT NULL, issued_by TEXT NOT NULL,
  revoked TEXT NOT NULL DEFAULT '', revoked_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS copy_request ON copy (request_id);
CREATE INDEX IF NOT EXISTS copy_sha256 ON copy (sha256);
CREATE TABLE IF NOT EXISTS link (
  token_hash TEXT PRIMARY KEY, code TEXT NOT NULL, expires TEXT NOT NULL,
  uses_left INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS email_code (
  request_id TEXT PRIMARY KEY, code_hash TEXT NOT NULL, expires TEXT NOT NULL,
  tries_left INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dispatch (
  request_id TEXT NOT NULL, at TEXT NOT NULL, carrier TEXT NOT NULL, tracking TEXT NOT NULL,
  by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dispatch_request ON dispatch (request_id);
"""


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def new_number(year: int | None = None) -> str:
    """A request number: ``CD2026-K7QW-3XZP-9MRT-2HDA`` (80 random bits)."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    groups = "-".join(chars[i:i + 4] for i in range(0, 16, 4))
    return f"CD{year or now_utc().year}-{groups}"


def new_code() -> str:
    """A verification code printed on a copy: ``V-`` + 12 characters (60 bits), short
    enough to type from paper, too many to enumerate (and /verify is rate-limited)."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"V-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def normalise_number(text: str) -> str:
    """What a person typed, as a number or code: upper case, no spaces; O→0 and I→1 are not
    in the alphabet, so they are read as the digits people meant."""
    return text.strip().upper().replace(" ", "").replace("O", "0").replace("I", "1")


class RequestStore(ServiceDatabase):
    """The requests of one site. ``RequestStore.open(home)`` reads the site's settings."""

    # as from the start: a power cut may lose the last commits (never half of one); every
    # staff view of a request writes its "viewed" event, and FULL made each view pay an fsync
    synchronous = "NORMAL"

    def __init__(self, home: Path, settings: Settings) -> None:
        self.home = Path(home)
        self.settings = settings
        self.folder = self.home / "requests"
        self.files = self.folder / "files"
        self.path = self.folder / "requests.sqlite3"
        self.files.mkdir(parents=True, exist_ok=True)
        master = keys.site_master_key(self.home, create=not self._has_sealed_data())
        self._personal_key = keys.subkey(master, "requests/personal")
        self._lookup_key = keys.subkey(master, "requests/lookup")
        super().__init__(self.path, _SCHEMA, SCHEMA_VERSION)

    @classmethod
    def open(cls, home: Path | str) -> RequestStore:
        home = Path(home)
        return cls(home, read_settings(home))

    def _has_sealed_data(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    # ------------------------------------------------------------------ sealing
    def lookup_hash(self, value: str) -> str:
        return keys.lookup_hash(self._lookup_key, value)

    def _seal_personal(self, request_id: str, personal: Personal) -> bytes:
        data = json.dumps(asdict(personal), ensure_ascii=False).encode("utf-8")
        return keys.seal(self._personal_key, data, f"request/{request_id}")

    def _unseal_personal(self, request_id: str, sealed: bytes | None) -> Personal | None:
        if sealed is None:
            return None
        data = json.loads(keys.unseal(self._personal_key, sealed, f"request/{request_id}"))
        return Personal(**data)

    def _seal_file(self, path: Path, data: bytes, context: str) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(keys.seal(self._personal_key, data, context))
        os.replace(tmp, path)

    def _unseal_file(self, path: Path, context: str) -> bytes:
        if not path.exists():
            raise NotFound("the file is gone (purged)")
        return keys.unseal(self._personal_key, path.read_bytes(), context)

    # ------------------------------------------------------------------ requests
    def create(self, *, kind: str, languages: tuple[str, ...], copies: int, delivery: str,
               channel: str, personal: Personal, year_from: int | None = None,
               year_to: int | None = None, urgent: bool = False, actor: str = "requester",
               verified: bool = False, note: str = "",
               received: dt.datetime | None = None) -> Request:
        """A new request. From the public form it waits for its e-mail code (``unverified``);
        entered by staff on a requester's behalf (``verified``) it is ``submitted`` at once.
        ``received``: when it arrived, if earlier than now (a letter or e-mail entered days
        later): the clock against the target time runs from then."""
        _check(kind in KINDS, f"kind: one of {', '.join(KINDS)}")
        _check(bool(languages) and all(x in LANGUAGES for x in languages),
               f"languages: one or more of {', '.join(LANGUAGES)}")
        _check(1 <= copies <= 20, "copies: 1 to 20")
        _check(delivery in DELIVERIES, f"delivery: one of {', '.join(DELIVERIES)}")
        _check(channel in CHANNELS, f"channel: one of {', '.join(CHANNELS)}")
        _check(bool(personal.name.strip()), "name: required")
        _check(bool(personal.email.strip()) or channel != "web", "email: required")
        _check(delivery == "electronic" or bool(personal.address.strip()),
               "address: required for delivery by post")
        _check(kind != "other" or bool(personal.other_text.strip()),
               "other_text: say which record")
        now = now_utc()
        _check(received is None or received <= now, "received: not in the future")
        start = received.astimezone(dt.UTC).replace(microsecond=0) if received else now
        days = self.settings.requests_urgent_days if urgent else self.settings.requests_target_days
        number = new_number(now.year)
        status = "submitted" if verified else "unverified"
        email = personal.email.strip().lower()
        with self._write() as db:
            db.execute(
                "INSERT INTO request (id, status, kind, languages, copies, delivery, channel,"
                " year_from, year_to, urgent, workroom, created, updated, due, email_verified,"
                " email_hash, id_hash, personal) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (number, status, kind, " ".join(languages), copies, delivery, channel,
                 year_from, year_to, int(urgent), self.settings.requests_workrooms[0],
                 iso(start), iso(now), iso(start + dt.timedelta(days=days)), int(verified),
                 self.lookup_hash(email) if email else "",
                 self.lookup_hash(personal.id_number.strip().upper())
                 if personal.id_number.strip() else "",
                 self._seal_personal(number, personal)))
            self._event(db, number, actor, "created", note or channel, at=start)
        return self.get(number)

    def get(self, request_id: str, *, unseal: bool = False) -> Request:
        """The request (its personal part only with ``unseal``: staff views record that,
        see :meth:`viewed`). Unknown numbers are NotFound."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM request WHERE id = ?", (request_id,)).fetchone()
            if row is None:
                raise NotFound(f"no request {request_id}")
            sel = db.execute("SELECT record, pages FROM selection WHERE request_id = ?"
                             " ORDER BY position", (request_id,)).fetchall()
        req = _request(row)
        req.selections = [Selection(s["record"], tuple(json.loads(s["pages"]))) for s in sel]
        if unseal:
            req.personal = self._unseal_personal(request_id, row["personal"])
        return req

    def for_requester(self, request_id: str, email: str) -> Request | None:
        """The request if ``email`` is the one it was made with (the status page), else None
        — the same answer for an unknown number and a wrong e-mail."""
        with self._connect() as db:
            row = db.execute("SELECT email_hash FROM request WHERE id = ?",
                             (normalise_number(request_id),)).fetchone()
        want = self.lookup_hash(email.strip().lower())
        if row is None or not row["email_hash"] or not hmac.compare_digest(
                row["email_hash"], want):
            return None
        return self.get(normalise_number(request_id), unseal=True)

    def with_id_number(self, id_number: str) -> list[str]:
        """The numbers of the requests made with this identity number (repeat requesters;
        found through its keyed hash, the number itself is never stored in clear)."""
        with self._connect() as db:
            rows = db.execute("SELECT id FROM request WHERE id_hash = ? ORDER BY created, id",
                              (self.lookup_hash(id_number.strip().upper()),)).fetchall()
        return [r["id"] for r in rows]

    def update_personal(self, request_id: str, personal: Personal, actor: str,
                        note: str = "") -> None:
        """Correct the personal part (staff, on the requester's word)."""
        with self._write() as db:
            self._require(db, request_id)
            db.execute("UPDATE request SET personal = ?, id_hash = ?, updated = ? WHERE id = ?",
                       (self._seal_personal(request_id, personal),
                        self.lookup_hash(personal.id_number.strip().upper())
                        if personal.id_number.strip() else "", iso(now_utc()), request_id))
            self._event(db, request_id, actor, "corrected", note)

    def query(self, *, status: str | tuple[str, ...] | None = None, kind: str | None = None,
              workroom: str | None = None, assignee: str | None = None,
              urgent: bool | None = None, older_than_days: int | None = None,
              overdue: bool = False, channel: str | None = None, sort: str = "due",
              limit: int = 50, offset: int = 0) -> tuple[list[Request], int]:
        """A page of requests matching the filters (open facts only, nothing unsealed) and
        how many match. ``sort``: due, created, -created, updated."""
        where: list[str] = ["1 = 1"]
        args: list[object] = []
        if status:
            states = (status,) if isinstance(status, str) else status
            where.append(f"status IN ({','.join('?' * len(states))})")
            args += list(states)
        for column, value in (("kind", kind), ("workroom", workroom), ("assignee", assignee),
                              ("channel", channel)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if urgent is not None:
            where.append("urgent = ?")
            args.append(int(urgent))
        if older_than_days is not None:
            where.append("created <= ?")
            args.append(iso(now_utc() - dt.timedelta(days=older_than_days)))
        if overdue:
            where.append("due < ? AND status IN ('submitted', 'in_progress')")
            args.append(iso(now_utc()))
        order = {"due": "due, id", "created": "created, id", "-created": "created DESC, id",
                 "updated": "updated DESC, id"}.get(sort)
        _check(order is not None, "sort: due, created, -created or updated")
        clause = " AND ".join(where)
        # A row holds the sealed personal part: filtering and sorting 10,000 open requests by
        # their rows took ~100 ms, by the covering index ~5 ms (the planner, without
        # statistics, picks a narrower index that is not covering, hence INDEXED BY). The page
        # is found by its numbers first, then only its 25-100 rows are read.
        # Counting by state alone is quickest on the narrow (status, created) index.
        source = "request INDEXED BY request_queue" if len(where) > 1 else "request"
        if not status and sort == "due":  # every state, by due time: read in index order
            source = "request INDEXED BY request_queue_due"
        by_state = len(where) == 1 or (len(where) == 2 and bool(status))
        with self._connect() as db:
            db.execute("BEGIN")  # one snapshot for the count and the page
            total = db.execute(f"SELECT count(*) FROM {'request' if by_state else source}"
                               f" WHERE {clause}", args).fetchone()[0]
            ids = [r[0] for r in db.execute(
                f"SELECT id FROM {source} WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",
                [*args, limit, offset])]
            rows = {r["id"]: r for r in db.execute(
                f"SELECT * FROM request WHERE id IN ({','.join('?' * len(ids))})", ids)}
            db.execute("COMMIT")
        return [_request(rows[i]) for i in ids if i in rows], total

    def names(self, request_ids: list[str]) -> dict[str, Personal]:
        """The personal part of a page of requests (the staff queue shows names; one view
        event per request is recorded by the page that shows them, see :meth:`viewed`)."""
        if not request_ids:
            return {}
        with self._connect() as db:
            rows = db.execute(f"SELECT id, personal FROM request WHERE id IN "
                              f"({','.join('?' * len(request_ids))})", request_ids).fetchall()
        out = {}
        for r in rows:
            p = self._unseal_personal(r["id"], r["personal"])
            if p is not None:
                out[r["id"]] = p
        return out

    # ------------------------------------------------------------------ steps
    def transition(self, request_id: str, status: str, actor: str, note: str = "") -> None:
        """Move to ``status`` if :data:`TRANSITIONS` allows it (else Conflict, 409)."""
        _check(status in STATES, f"status: one of {', '.join(STATES)}")
        with self._write() as db:
            row = self._require(db, request_id)
            if status not in TRANSITIONS[row["status"]]:
                raise Conflict(f"request {request_id} is {row['status']}; it cannot become "
                               f"{status}")
            now = iso(now_utc())
            closed = now if status in (*FINAL_STATES, "fulfilled") else ""
            db.execute("UPDATE request SET status = ?, updated = ?, closed = ? WHERE id = ?",
                       (status, now, closed, request_id))
            self._event(db, request_id, actor, status, note)

    def assign(self, request_id: str, actor: str, *, workroom: str | None = None,
               assignee: str | None = None, note: str = "") -> None:
        """Give the request to a workroom (a transfer, with its note) and/or a person."""
        if workroom is not None:
            _check(workroom in self.settings.requests_workrooms,
                   f"workroom: one of {', '.join(self.settings.requests_workrooms)}")
        with self._write() as db:
            row = self._require(db, request_id)
            now = iso(now_utc())
            if workroom is not None and workroom != row["workroom"]:
                db.execute("UPDATE request SET workroom = ?, updated = ? WHERE id = ?",
                           (workroom, now, request_id))
                self._event(db, request_id, actor, "transferred",
                            f"{row['workroom']} → {workroom}" + (f": {note}" if note else ""))
            if assignee is not None and assignee != row["assignee"]:
                db.execute("UPDATE request SET assignee = ?, updated = ? WHERE id = ?",
                           (assignee, now, request_id))
                self._event(db, request_id, actor, "assigned", assignee or "(nobody)")

    def set_urgent(self, request_id: str, urgent: bool, actor: str, note: str = "") -> None:
        """Flag or unflag urgent; the target time follows from the request's creation."""
        with self._write() as db:
            row = self._require(db, request_id)
            days = (self.settings.requests_urgent_days if urgent
                    else self.settings.requests_target_days)
            due = parse_iso(row["created"]) + dt.timedelta(days=days)
            db.execute("UPDATE request SET urgent = ?, due = ?, updated = ? WHERE id = ?",
                       (int(urgent), iso(due), iso(now_utc()), request_id))
            self._event(db, request_id, actor, "urgent" if urgent else "not urgent", note)

    def match(self, request_id: str, person: str, actor: str) -> None:
        """The person in the repository the requester is (an IRI; empty clears it)."""
        with self._write() as db:
            self._require(db, request_id)
            db.execute("UPDATE request SET person = ?, updated = ? WHERE id = ?",
                       (person, iso(now_utc()), request_id))
            self._event(db, request_id, actor, "matched", person)

    def select(self, request_id: str, selections: list[Selection], actor: str) -> None:
        """The records (and pages) the certified copy will hold, in order."""
        with self._write() as db:
            self._require(db, request_id)
            db.execute("DELETE FROM selection WHERE request_id = ?", (request_id,))
            for position, s in enumerate(selections):
                db.execute("INSERT INTO selection VALUES (?,?,?,?)",
                           (request_id, position, s.record, json.dumps(list(s.pages))))
            db.execute("UPDATE request SET updated = ? WHERE id = ?",
                       (iso(now_utc()), request_id))
            self._event(db, request_id, actor, "selected",
                        "; ".join(s.record for s in selections))

    def viewed(self, request_id: str, actor: str, what: str = "") -> None:
        """Record that a staff member saw the request's personal data (issue 12, item 2)."""
        with self._write() as db:
            self._require(db, request_id)
            self._event(db, request_id, actor, "viewed", what)

    def viewed_many(self, request_ids: list[str], actor: str, what: str = "") -> None:
        """:meth:`viewed` for a page of requests (the staff queue shows names), in one
        transaction: one event per request, and one commit for the page."""
        with self._write() as db:
            marks = ",".join("?" * len(request_ids))
            found = {r[0] for r in db.execute(f"SELECT id FROM request WHERE id IN ({marks})",
                                              request_ids)}
            if missing := [i for i in request_ids if i not in found]:
                raise NotFound(f"no request {missing[0]}")
            at = iso(now_utc())
            for request_id in request_ids:
                db.execute("INSERT INTO event SELECT ?, coalesce(max(seq), 0) + 1, ?, ?,"
                           " 'viewed', ? FROM event WHERE request_id = ?",
                           (request_id, at, actor, what, request_id))

    def note(self, request_id: str, actor: str, action: str, note: str = "") -> None:
        """A step with no state of its own (mailed, downloaded, a staff remark)."""
        with self._write() as db:
            self._require(db, request_id)
            self._event(db, request_id, actor, action, note)

    def history(self, request_id: str) -> list[Event]:
        with self._connect() as db:
            rows = db.execute("SELECT at, actor, action, note FROM event WHERE request_id = ?"
                              " ORDER BY seq", (request_id,)).fetchall()
        return [Event(r["at"], r["actor"], r["action"], r["note"]) for r in rows]

    # ------------------------------------------------------------------ identity image
    def set_id_image(self, request_id: str, data: bytes) -> None:
        """The identity-document image (already checked to be an image by the caller)."""
        self._seal_file(self.files / f"{request_id}.idimage", data, f"idimage/{request_id}")
        with self._write() as db:
            self._require(db, request_id)
            db.execute("UPDATE request SET has_id_image = 1 WHERE id = ?", (request_id,))

    def id_image(self, request_id: str) -> bytes:
        return self._unseal_file(self.files / f"{request_id}.idimage", f"idimage/{request_id}")

    # ------------------------------------------------------------------ e-mail codes
    def new_email_code(self, request_id: str) -> str:
        """A six-digit code for the requester's e-mail (15 minutes, 5 tries); a new code
        replaces the last one."""
        code = f"{secrets.randbelow(10**6):06d}"
        expires = iso(now_utc() + dt.timedelta(minutes=EMAIL_CODE_MINUTES))
        with self._write() as db:
            self._require(db, request_id)
            db.execute("INSERT OR REPLACE INTO email_code VALUES (?,?,?,?)",
                       (request_id, self.lookup_hash(f"{request_id}/{code}"), expires,
                        EMAIL_CODE_TRIES))
        return code

    def email_code_tries(self, request_id: str) -> int:
        """Tries left on the request's current e-mail code: 0 when there is none, it is used
        up or expired (the page then offers to send a new one)."""
        with self._connect() as db:
            row = db.execute("SELECT tries_left, expires FROM email_code WHERE request_id = ?",
                             (request_id,)).fetchone()
        if row is None or row["expires"] < iso(now_utc()):
            return 0
        return max(int(row["tries_left"]), 0)

    def check_email_code(self, request_id: str, code: str) -> bool:
        """True once for the right code in time; every wrong try uses one up, and a code
        with no tries left (or expired) never opens, right or not."""
        with self._write() as db:
            row = db.execute("SELECT * FROM email_code WHERE request_id = ?",
                             (request_id,)).fetchone()
            if row is None or row["tries_left"] <= 0 or row["expires"] < iso(now_utc()):
                return False
            if not hmac.compare_digest(row["code_hash"],
                                       self.lookup_hash(f"{request_id}/{code.strip()}")):
                db.execute("UPDATE email_code SET tries_left = tries_left - 1"
                           " WHERE request_id = ?", (request_id,))
                return False
            db.execute("DELETE FROM email_code WHERE request_id = ?", (request_id,))
            req = db.execute("SELECT status FROM request WHERE id = ?",
                             (request_id,)).fetchone()
            db.execute("UPDATE request SET email_verified = 1, updated = ? WHERE id = ?",
                       (iso(now_utc()), request_id))
            if req is not None and req["status"] == "unverified":
                db.execute("UPDATE request SET status = 'submitted' WHERE id = ?",
                           (request_id,))
                self._event(db, request_id, "requester", "submitted", "e-mail verified")
        return True

    # ------------------------------------------------------------------ copies
    def add_copy(self, copy: Copy, pdf: bytes) -> None:
        """Keep an issued certified copy (sealed on disk) and its verification facts."""
        _check(hashlib.sha256(pdf).hexdigest() == copy.sha256, "sha256 does not match the PDF")
        self._seal_file(self.files / f"{copy.code}.pdf", pdf, f"copy/{copy.code}")
        with self._write() as db:
            self._require(db, copy.request_id)
            db.execute("INSERT INTO copy VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (copy.code, copy.request_id, copy.language, copy.sha256, copy.pages,
                        json.dumps(copy.records, ensure_ascii=False), copy.signed_at,
                        copy.signer, copy.issued_by, "", ""))
            self._event(db, copy.request_id, copy.issued_by, "issued",
                        f"{copy.code} ({copy.language}, {copy.pages} pages)")

    def copy(self, code: str) -> Copy:
        with self._connect() as db:
            row = db.execute("SELECT * FROM copy WHERE code = ?",
                             (normalise_number(code),)).fetchone()
        if row is None:
            raise NotFound("no certified copy has this code")
        return _copy(row)

    def copy_by_digest(self, sha256: str) -> Copy | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM copy WHERE sha256 = ?", (sha256,)).fetchone()
        return _copy(row) if row else None

    def copies_of(self, request_id: str) -> list[Copy]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM copy WHERE request_id = ? ORDER BY signed_at, rowid",
                              (request_id,)).fetchall()
        return [_copy(r) for r in rows]

    def copy_pdf(self, code: str) -> bytes:
        """The signed PDF exactly as issued."""
        return self._unseal_file(self.files / f"{code}.pdf", f"copy/{code}")

    def revoke(self, code: str, actor: str, reason: str) -> None:
        _check(bool(reason.strip()), "reason: say why the copy is revoked")
        with self._write() as db:
            row = db.execute("SELECT * FROM copy WHERE code = ?", (code,)).fetchone()
            if row is None:
                raise NotFound("no certified copy has this code")
            if row["revoked"]:
                raise Conflict(f"copy {code} was revoked on {row['revoked']}")
            db.execute("UPDATE copy SET revoked = ?, revoked_reason = ? WHERE code = ?",
                       (iso(now_utc()), reason.strip(), code))
            db.execute("DELETE FROM link WHERE code = ?", (code,))
            self._event(db, row["request_id"], actor, "revoked", f"{code}: {reason.strip()}")

    # ------------------------------------------------------------------ download links
    def new_link(self, code: str) -> str:
        """A download token for a copy (``requests_link_days``, ``requests_link_uses``);
        only its hash is kept, so a leaked database holds no working link."""
        token = secrets.token_urlsafe(32)
        expires = iso(now_utc() + dt.timedelta(days=self.settings.requests_link_days))
        with self._write() as db:
            db.execute("INSERT INTO link VALUES (?,?,?,?)",
                       (self._token_hash(token), code, expires,
                        self.settings.requests_link_uses))
        return token

    def use_link(self, token: str) -> Copy:
        """The copy a link opens, using one of its uses; an unknown, expired, used-up or
        revoked link is NotFound (410 is the caller's choice), all with the same message."""
        gone = NotFound("this download link is unknown, expired or used up")
        with self._write() as db:
            row = db.execute("SELECT * FROM link WHERE token_hash = ?",
                             (self._token_hash(token),)).fetchone()
            if row is None or row["uses_left"] <= 0 or row["expires"] < iso(now_utc()):
                raise gone
            copy = db.execute("SELECT * FROM copy WHERE code = ?", (row["code"],)).fetchone()
            if copy is None or copy["revoked"]:
                raise gone
            db.execute("UPDATE link SET uses_left = uses_left - 1 WHERE token_hash = ?",
                       (row["token_hash"],))
            self._event(db, copy["request_id"], "requester", "downloaded", copy["code"])
        return _copy(copy)

    def _token_hash(self, token: str) -> str:
        return self.lookup_hash("link/" + token)

    # ------------------------------------------------------------------ post
    def dispatch(self, request_id: str, carrier: str, tracking: str, actor: str) -> None:
        _check(bool(tracking.strip()), "tracking: the tracking number")
        with self._write() as db:
            self._require(db, request_id)
            db.execute("INSERT INTO dispatch VALUES (?,?,?,?,?)",
                       (request_id, iso(now_utc()), carrier.strip(), tracking.strip(), actor))
            self._event(db, request_id, actor, "dispatched",
                        f"{carrier.strip()} {tracking.strip()}".strip())

    def dispatches(self, request_id: str) -> list[Dispatch]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM dispatch WHERE request_id = ? ORDER BY at",
                              (request_id,)).fetchall()
        return [Dispatch(r["at"], r["carrier"], r["tracking"], r["by"]) for r in rows]

    # ------------------------------------------------------------------ retention
    def purgeable(self, now: dt.datetime | None = None) -> list[str]:
        """Final requests whose retention period has run out and still hold personal data."""
        cutoff = iso((now or now_utc())
                     - dt.timedelta(days=self.settings.requests_retention_days))
        with self._connect() as db:
            rows = db.execute("SELECT id FROM request WHERE status IN"
                              " ('closed', 'refused', 'withdrawn') AND closed != ''"
                              " AND closed <= ? AND purged = ''", (cutoff,)).fetchall()
        return [r["id"] for r in rows]

    def abandoned(self, now: dt.datetime | None = None) -> list[str]:
        """Requests from the public form whose e-mail was never confirmed within
        :data:`ABANDONED_DAYS` (the code lasts minutes): nobody will ever follow them, and
        their personal data has no reason to stay (``lantai requests purge`` withdraws and
        purges them)."""
        cutoff = iso((now or now_utc()) - dt.timedelta(days=ABANDONED_DAYS))
        with self._connect() as db:
            rows = db.execute("SELECT id FROM request WHERE status = 'unverified'"
                              " AND created <= ? AND purged = ''", (cutoff,)).fetchall()
        return [r["id"] for r in rows]

    def purge(self, request_id: str, actor: str = "system") -> None:
        """Drop a request's personal data, its identity image and its copies' PDFs and
        links; keep the open facts and the copies' verification rows (a copy out in the
        world can still be verified)."""
        with self._write() as db:
            self._require(db, request_id)
            codes = [r["code"] for r in db.execute(
                "SELECT code FROM copy WHERE request_id = ?", (request_id,))]
            db.execute("UPDATE request SET personal = NULL, email_hash = '', id_hash = '',"
                       " has_id_image = 0, purged = ? WHERE id = ?",
                       (iso(now_utc()), request_id))
            db.execute("DELETE FROM email_code WHERE request_id = ?", (request_id,))
            db.execute("UPDATE dispatch SET tracking = '' WHERE request_id = ?", (request_id,))
            for code in codes:
                db.execute("DELETE FROM link WHERE code = ?", (code,))
            self._event(db, request_id, actor, "purged", "")
        for path in [self.files / f"{request_id}.idimage",
                     *(self.files / f"{code}.pdf" for code in codes)]:
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ statistics
    def facts(self, since: str = "", until: str = "") -> list[dict]:
        """The open facts of every request, for statistics: id, kind, channel, workroom,
        delivery, status, created, closed, urgent, and whether a signed copy was issued
        (``signed``) or a postal dispatch recorded (``posted``), and the hours from creation
        to ``closed`` (``hours``; None while open). ``since``/``until``: only
        requests created from/before these ISO times (``until`` excluded)."""
        where, args = ["1 = 1"], []
        if since:
            where.append("r.created >= ?")
            args.append(since)
        if until:
            where.append("r.created < ?")
            args.append(until)
        with self._connect() as db:
            rows = db.execute(
                "SELECT r.id, r.kind, r.channel, r.workroom, r.delivery, r.status, r.created,"
                " r.closed, r.urgent, EXISTS (SELECT 1 FROM copy c WHERE c.request_id = r.id)"
                " AS signed, EXISTS (SELECT 1 FROM dispatch d WHERE d.request_id = r.id)"
                " AS posted, CASE WHEN r.closed != '' THEN"
                " (julianday(r.closed) - julianday(r.created)) * 24 END AS hours"
                f" FROM request r INDEXED BY request_facts WHERE {' AND '.join(where)}",
                args).fetchall()
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ bulk
    def bulk_insert(self, items: Iterable[tuple[Request, Personal | None]],
                    actor: str = "system", note: str = "imported") -> int:
        """Insert requests as they are (their numbers, states, workrooms and times kept:
        requests carried over from an earlier system, or a benchmark's 50,000) in one
        transaction, each with one ``created`` event; returns how many. Numbers must be
        new (an existing one is a Conflict and nothing is inserted)."""
        n = 0
        with self._write() as db:
            for req, personal in items:
                _check(req.kind in KINDS and req.channel in CHANNELS and req.status in STATES
                       and req.delivery in DELIVERIES, f"request {req.id}: unknown value")
                email = personal.email.strip().lower() if personal else ""
                idn = personal.id_number.strip().upper() if personal else ""
                try:
                    db.execute(
                        "INSERT INTO request (id, status, kind, languages, copies, delivery,"
                        " channel, year_from, year_to, urgent, workroom, assignee, person,"
                        " created, updated, due, closed, email_verified, email_hash, id_hash,"
                        " personal) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (req.id, req.status, req.kind, " ".join(req.languages), req.copies,
                         req.delivery, req.channel, req.year_from, req.year_to,
                         int(req.urgent), req.workroom or self.settings.requests_workrooms[0],
                         req.assignee, req.person, req.created, req.updated or req.created,
                         req.due, req.closed, int(req.email_verified),
                         self.lookup_hash(email) if email else "",
                         self.lookup_hash(idn) if idn else "",
                         self._seal_personal(req.id, personal) if personal else None))
                except sqlite3.IntegrityError:
                    raise Conflict(f"request {req.id} exists already") from None
                db.execute("INSERT INTO event VALUES (?,?,?,?,?,?)",
                           (req.id, 1, req.created, actor, "created", note))
                n += 1
        return n

    # ------------------------------------------------------------------ helpers
    def _require(self, db: sqlite3.Connection, request_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM request WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            raise NotFound(f"no request {request_id}")
        return row

    def _event(self, db: sqlite3.Connection, request_id: str, actor: str, action: str,
               note: str, at: dt.datetime | None = None) -> None:
        seq = db.execute("SELECT coalesce(max(seq), 0) + 1 FROM event WHERE request_id = ?",
                         (request_id,)).fetchone()[0]
        db.execute("INSERT INTO event VALUES (?,?,?,?,?,?)",
                   (request_id, seq, iso(at or now_utc()), actor, action, note))


def _check(ok: bool, problem: str) -> None:
    if not ok:
        raise Invalid(problem)


def _request(row: sqlite3.Row) -> Request:
    return Request(
        id=row["id"], status=row["status"], kind=row["kind"],
        languages=tuple(row["languages"].split()), copies=row["copies"],
        delivery=row["delivery"], channel=row["channel"], created=row["created"],
        updated=row["updated"], due=row["due"], year_from=row["year_from"],
        year_to=row["year_to"], urgent=bool(row["urgent"]), workroom=row["workroom"],
        assignee=row["assignee"], person=row["person"], closed=row["closed"],
        purged=row["purged"], email_verified=bool(row["email_verified"]),
        has_id_image=bool(row["has_id_image"]))


def _copy(row: sqlite3.Row) -> Copy:
    return Copy(code=row["code"], request_id=row["request_id"], language=row["language"],
                sha256=row["sha256"], pages=row["pages"], records=json.loads(row["records"]),
                signed_at=row["signed_at"], signer=row["signer"], issued_by=row["issued_by"],
                revoked=row["revoked"], revoked_reason=row["revoked_reason"])

