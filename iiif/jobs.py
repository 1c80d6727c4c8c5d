"""Failed derivative and OCR jobs, recorded so that staff see them (the staff dashboard).

Media ingest makes a scan's OCR and does not stop when it fails (the scan was checked; OCR
is made again on demand), and ``lantai ocr`` goes on past a page it cannot recognise: both
used to say so only on stderr or not at all. Each such failure is recorded here, one row per
(job, file digest), with the object it was for and the reason; a later success of the same
job on the same file removes the row, so the list is what still needs a person.

A small SQLite file in the site home (``jobs/failed.sqlite3``), outside the description
stores: it is bookkeeping, not evidence, and the derivatives it is about are regenerable.
Recording never stops the work it reports on: a store that cannot be written is logged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
FILE = Path("jobs") / "failed.sqlite3"
MAX_MESSAGE = 500
_SCHEMA = """CREATE TABLE IF NOT EXISTS failed (
    job TEXT NOT NULL, digest TEXT NOT NULL, target TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL, at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (job, digest));
CREATE INDEX IF NOT EXISTS failed_at ON failed (at)"""


@dataclass(frozen=True)
class Failure:
    job: str  # "ocr", "derivatives"
    digest: str
    target: str  # the path of the object the job was for ('' if unknown)
    message: str
    at: str  # ISO 8601, UTC, of the last failure
    attempts: int


@contextlib.contextmanager
def _db(home: Path | str, *, create: bool) -> Iterator[sqlite3.Connection | None]:
    path = Path(home) / FILE
    if not create and not path.exists():
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=5)
    try:
        con.executescript(_SCHEMA)
        with con:
            yield con
    finally:
        con.close()


def record(home: Path | str, job: str, digest: str, message: str, *, target: str = "") -> None:
    """Note that ``job`` failed on the file ``digest`` (for the object at ``target``)."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    try:
        with _db(home, create=True) as con:
            assert con is not None
            con.execute(
                "INSERT INTO failed (job, digest, target, message, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (job, digest) DO UPDATE SET message = excluded.message, "
                "at = excluded.at, target = CASE excluded.target WHEN '' THEN target "
                "ELSE excluded.target END, attempts = attempts + 1",
                (job, digest, target, message[:MAX_MESSAGE], now))
    except (sqlite3.Error, OSError) as exc:
        log.warning("failed jobs: cannot record %s of %s (%s): %s", job, digest, exc, message)


def succeeded(home: Path | str, job: str, digests: Iterable[str]) -> None:
    """``job`` worked on these files: they are no longer failures."""
    rows = [(job, d) for d in digests]
    if not rows:
        return
    try:
        with _db(home, create=False) as con:
            if con is not None:
                con.executemany("DELETE FROM failed WHERE job = ? AND digest = ?", rows)
    except (sqlite3.Error, OSError) as exc:
        log.warning("failed jobs: cannot clear %s: %s", job, exc)


def failures(home: Path | str, *, limit: int = 20,
             digests: Iterable[str] | None = None) -> list[Failure]:
    """The failures still open, newest first (only those of ``digests`` if given)."""
    with _db(home, create=False) as con:
        if con is None:
            return []
        if digests is None:
            rows = con.execute("SELECT job, digest, target, message, at, attempts FROM failed "
                               "ORDER BY at DESC LIMIT ?", (limit,)).fetchall()
        else:
            wanted = sorted(set(digests))[:1000]
            marks = ",".join("?" * len(wanted)) or "NULL"
            rows = con.execute("SELECT job, digest, target, message, at, attempts FROM failed "
                               f"WHERE digest IN ({marks}) ORDER BY at DESC LIMIT ?",
                               (*wanted, limit)).fetchall()
    return [Failure(*row) for row in rows]


__all__ = ["Failure", "failures", "record", "succeeded"]
