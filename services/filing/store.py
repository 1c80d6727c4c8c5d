"""Where the filing loop lives: one SQLite database under ``{home}/filing/`` and the
receiving area beside it, apart from the description stores (DESIGN.md, decision 7). An item
enters the content tree only when the archivist accepts it, through the Repository
(:mod:`services.filing.review`); until then it is here, never on a public surface.

Layout::

    filing/filing.sqlite3        units, topics, plans, tasks, submissions, items, history,
                                 notices
    filing/receiving/AB/ABCD…    the files sent, by SHA-256 (one copy of equal files)

Every method opens its own connection (WAL: readers never wait for the writer; writers take
``BEGIN IMMEDIATE``), so one store serves all the web server's threads; a write happens
whole or not at all. A submission and all its items are one transaction: a file with one
refused row leaves nothing (the files it staged are removed by :meth:`FilingStore.discard`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from repo.errors import Conflict, Invalid, NotFound
from services.database import ServiceDatabase
from services.filing.model import (
    CHANNELS,
    ITEM_TRANSITIONS,
    NOTICE_KINDS,
    PLAN_STATES,
    RETENTIONS,
    FiledFile,
    Item,
    Notice,
    Plan,
    PlanChange,
    Step,
    Submission,
    Task,
    Topic,
    Unit,
)

SCHEMA_VERSION = 1
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS unit (
  code TEXT PRIMARY KEY, agent TEXT NOT NULL UNIQUE, name_zh TEXT NOT NULL,
  name_en TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS topic (
  id TEXT PRIMARY KEY, year INTEGER NOT NULL, name_zh TEXT NOT NULL,
  name_en TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS plan (
  year INTEGER PRIMARY KEY, state TEXT NOT NULL, published_at TEXT NOT NULL DEFAULT '',
  notice TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS task (
  id INTEGER PRIMARY KEY, year INTEGER NOT NULL, unit TEXT NOT NULL, category TEXT NOT NULL,
  series TEXT NOT NULL, retention TEXT NOT NULL, title_zh TEXT NOT NULL,
  title_en TEXT NOT NULL DEFAULT '', expected INTEGER NOT NULL DEFAULT 0,
  expected_list TEXT NOT NULL DEFAULT '[]', due TEXT NOT NULL DEFAULT '',
  topic TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS task_year ON task (year, unit, category, topic);
CREATE TABLE IF NOT EXISTS submission (
  id TEXT PRIMARY KEY, year INTEGER NOT NULL, unit TEXT NOT NULL, task INTEGER,
  channel TEXT NOT NULL, source TEXT NOT NULL, created TEXT NOT NULL, created_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS submission_unit ON submission (year, unit, created);
CREATE INDEX IF NOT EXISTS submission_task ON submission (task);
CREATE TABLE IF NOT EXISTS item (
  id INTEGER PRIMARY KEY, submission TEXT NOT NULL, row INTEGER NOT NULL,
  fields TEXT NOT NULL, files TEXT NOT NULL DEFAULT '[]', state TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 1,
  returned_ever INTEGER NOT NULL DEFAULT 0, record TEXT NOT NULL DEFAULT '',
  refcode TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS item_submission ON item (submission, row);
CREATE INDEX IF NOT EXISTS item_state ON item (state, submission);
-- the rates read the year's items from this index alone (services/filing/rates.py)
CREATE INDEX IF NOT EXISTS item_counts ON item (submission, state, returned_ever);
CREATE TABLE IF NOT EXISTS step (
  seq INTEGER PRIMARY KEY, submission TEXT NOT NULL, item INTEGER, at TEXT NOT NULL,
  actor TEXT NOT NULL, action TEXT NOT NULL, note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS step_submission ON step (submission, seq);
CREATE INDEX IF NOT EXISTS step_action ON step (submission, action, at);
CREATE TABLE IF NOT EXISTS notice (
  id INTEGER PRIMARY KEY, unit TEXT NOT NULL, year INTEGER NOT NULL, at TEXT NOT NULL,
  kind TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,
  read_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS notice_unit ON notice (unit, at);
CREATE TABLE IF NOT EXISTS plan_change (
  seq INTEGER PRIMARY KEY, year INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, task INTEGER, unit TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS plan_change_year ON plan_change (year, seq);
CREATE TABLE IF NOT EXISTS reminder (task INTEGER NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reminder_task ON reminder (task, at);
"""


# the year's figures per task (:meth:`FilingStore.task_figures`): items grouped by their
# submission's unit and task (index-only over ``item_counts``), joined to the year's tasks;
# then what no task of the year and unit holds, per unit
_PER_TASK = """
WITH per AS (
  SELECT s.unit, s.task, COUNT(*) AS submitted, SUM(i.returned_ever) AS returned,
    SUM(i.state = 'accepted') AS accepted,
    SUM(i.state = 'accepted' AND NOT i.returned_ever) AS accepted_first_time
  FROM submission s JOIN item i ON i.submission = s.id
  WHERE s.year = :y AND i.state != 'withdrawn'
  GROUP BY s.unit, s.task)
SELECT t.id AS id, t.unit AS unit, t.category AS category, t.topic AS topic,
  t.title_zh AS title_zh, t.title_en AS title_en, t.due AS due,
  MAX(t.expected, json_array_length(t.expected_list)) AS expected,
  COALESCE(p.submitted, 0) AS submitted, COALESCE(p.returned, 0) AS returned,
  COALESCE(p.accepted, 0) AS accepted,
  COALESCE(p.accepted_first_time, 0) AS accepted_first_time
FROM task t LEFT JOIN per p ON p.task = t.id AND p.unit = t.unit WHERE t.year = :y
UNION ALL
SELECT NULL, p.unit, COALESCE(t2.category, ''), COALESCE(t2.topic, ''), '', '', '', 0,
  p.submitted, p.returned, p.accepted, p.accepted_first_time
FROM per p LEFT JOIN task t2 ON t2.id = p.task
WHERE p.task IS NULL OR t2.year IS NOT :y OR t2.unit != p.unit"""


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_submission_id(year: int) -> str:
    """``SUB-2026-K7QW3XZP`` (40 random bits: unique, not a secret: staff see them)."""
    return f"SUB-{year}-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def _item(row: sqlite3.Row) -> Item:
    return Item(id=row["id"], submission=row["submission"], row=row["row"],
                fields=json.loads(row["fields"]),
                files=[FiledFile(**f) for f in json.loads(row["files"])], state=row["state"],
                note=row["note"], attempts=row["attempts"],
                returned_ever=bool(row["returned_ever"]), record=row["record"],
                refcode=row["refcode"])


def _task(row: sqlite3.Row) -> Task:
    return Task(id=row["id"], year=row["year"], unit=row["unit"], category=row["category"],
                series=row["series"], retention=row["retention"], title_zh=row["title_zh"],
                title_en=row["title_en"], expected=row["expected"],
                expected_list=json.loads(row["expected_list"]), due=row["due"],
                topic=row["topic"])


class FilingStore(ServiceDatabase):
    """The filing loop of one site: ``FilingStore.open(home)``."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.folder = self.home / "filing"
        self.receiving = self.folder / "receiving"
        self.receiving.mkdir(parents=True, exist_ok=True)
        super().__init__(self.folder / "filing.sqlite3", _SCHEMA, SCHEMA_VERSION)

    @classmethod
    def open(cls, home: Path | str) -> FilingStore:
        return cls(Path(home))

    def generation(self) -> int:
        """A number that changes whenever anything is committed to the store, by any
        connection of any process (SQLite's ``data_version`` of the connection this store
        holds open): what caches of figures are keyed by."""
        return self.data_version()

    # ------------------------------------------------------------------ units
    def add_unit(self, unit: Unit) -> Unit:
        if not unit.code or not unit.code.replace("-", "").isalnum() or len(unit.code) > 32:
            raise Invalid(f"unit code {unit.code!r}: 1–32 letters, digits or '-'")
        with self._write() as db:
            if db.execute("SELECT 1 FROM unit WHERE code = ? OR agent = ?",
                          (unit.code, unit.agent)).fetchone():
                raise Conflict(f"unit {unit.code!r} (or its corporate body) is a filing unit "
                               "already")
            db.execute("INSERT INTO unit VALUES (?, ?, ?, ?, ?)",
                       (unit.code, unit.agent, unit.name_zh, unit.name_en, unit.email))
        return unit

    def update_unit(self, unit: Unit) -> None:
        with self._write() as db:
            if not db.execute("UPDATE unit SET agent = ?, name_zh = ?, name_en = ?, email = ? "
                              "WHERE code = ?", (unit.agent, unit.name_zh, unit.name_en,
                                                 unit.email, unit.code)).rowcount:
                raise NotFound(f"no filing unit {unit.code!r}")

    def units(self) -> list[Unit]:
        with self._connect() as db:
            return [Unit(**dict(r)) for r in db.execute("SELECT * FROM unit ORDER BY code")]

    def unit(self, code: str) -> Unit:
        with self._connect() as db:
            row = db.execute("SELECT * FROM unit WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise NotFound(f"no filing unit {code!r} (`lantai filing units`)")
        return Unit(**dict(row))

    def unit_for_agent(self, agent: str) -> Unit | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM unit WHERE agent = ?", (agent,)).fetchone()
        return Unit(**dict(row)) if row else None

    # ------------------------------------------------------------------ topics and plans
    def add_topic(self, topic: Topic) -> Topic:
        with self._write() as db:
            if db.execute("SELECT 1 FROM topic WHERE id = ?", (topic.id,)).fetchone():
                raise Conflict(f"topic {topic.id!r} exists already")
            db.execute("INSERT INTO topic VALUES (?, ?, ?, ?, ?)",
                       (topic.id, topic.year, topic.name_zh, topic.name_en, topic.note))
        return topic

    def topics(self, year: int | None = None) -> list[Topic]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM topic WHERE ? IS NULL OR year = ? ORDER BY id",
                              (year, year))
            return [Topic(**dict(r)) for r in rows]

    def plan(self, year: int) -> Plan | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM plan WHERE year = ?", (year,)).fetchone()
        return Plan(**dict(row)) if row else None

    def plans(self) -> list[Plan]:
        with self._connect() as db:
            return [Plan(**dict(r)) for r in db.execute("SELECT * FROM plan ORDER BY year")]

    def save_plan(self, plan: Plan) -> None:
        if plan.state not in PLAN_STATES:
            raise Invalid(f"plan state {plan.state!r}: one of {', '.join(PLAN_STATES)}")
        with self._write() as db:
            db.execute("INSERT INTO plan VALUES (?, ?, ?, ?) ON CONFLICT (year) DO UPDATE SET "
                       "state = excluded.state, published_at = excluded.published_at, "
                       "notice = excluded.notice",
                       (plan.year, plan.state, plan.published_at, plan.notice))

    def publish_plan(self, year: int, at: str) -> Plan:
        """Mark the ``year``'s draft plan published, in one statement: of two archivists
        publishing at once, one gets Conflict (and no second round of notices goes out)."""
        with self._write() as db:
            if not db.execute("UPDATE plan SET state = 'published', published_at = ? "
                              "WHERE year = ? AND state = 'draft'", (at, year)).rowcount:
                raise Conflict(f"the {year} plan is not a draft (published already?)")
        plan = self.plan(year)
        assert plan is not None
        return plan

    def add_tasks(self, tasks: Iterable[Task]) -> list[int]:
        """Add tasks (their ``id`` is ignored) in one transaction; the new ids."""
        ids = []
        with self._write() as db:
            known = {r[0] for r in db.execute("SELECT code FROM unit")}
            for t in tasks:
                if t.unit not in known:
                    raise NotFound(f"no filing unit {t.unit!r}")
                if t.retention not in RETENTIONS:
                    raise Invalid(f"retention {t.retention!r}: one of {', '.join(RETENTIONS)}")
                if t.expected < 0:
                    raise Invalid("an expected count is 0 or more")
                cur = db.execute(
                    "INSERT INTO task (year, unit, category, series, retention, title_zh, "
                    "title_en, expected, expected_list, due, topic) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (t.year, t.unit, t.category, t.series, t.retention, t.title_zh,
                     t.title_en, t.expected, json.dumps(t.expected_list, ensure_ascii=False),
                     t.due, t.topic))
                ids.append(int(cur.lastrowid or 0))
        return ids

    def update_task(self, task: Task) -> None:
        with self._write() as db:
            if not db.execute(
                    "UPDATE task SET category = ?, series = ?, retention = ?, title_zh = ?, "
                    "title_en = ?, expected = ?, expected_list = ?, due = ?, topic = ? "
                    "WHERE id = ?",
                    (task.category, task.series, task.retention, task.title_zh,
                     task.title_en, task.expected,
                     json.dumps(task.expected_list, ensure_ascii=False), task.due,
                     task.topic, task.id)).rowcount:
                raise NotFound(f"no task {task.id}")

    def delete_task(self, task_id: int) -> None:
        with self._write() as db:
            if db.execute("SELECT 1 FROM submission WHERE task = ?", (task_id,)).fetchone():
                raise Conflict(f"task {task_id} has submissions: it stays")
            if not db.execute("DELETE FROM task WHERE id = ?", (task_id,)).rowcount:
                raise NotFound(f"no task {task_id}")

    def task(self, task_id: int) -> Task:
        with self._connect() as db:
            row = db.execute("SELECT * FROM task WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise NotFound(f"no task {task_id}")
        return _task(row)

    def tasks(self, year: int, *, unit: str | None = None,
              topic: str | None = None) -> list[Task]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM task WHERE year = ? AND (? IS NULL OR unit = ?) "
                "AND (? IS NULL OR topic = ?) ORDER BY unit, category, due, id",
                (year, unit, unit, topic, topic))
            return [_task(r) for r in rows]

    # ------------------------------------------------------------------ the receiving area
    def put_file(self, source: Path) -> FiledFile:
        """Copy a file into the receiving area (by its SHA-256; written whole and fsynced,
        then renamed), sealed when the site's files are (:mod:`services.filing.sealed`)."""
        from services.filing import sealed

        h, size = hashlib.sha256(), 0
        with open(source, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
        digest = h.hexdigest()
        target = self.file_path(digest)
        if not target.exists():
            sealed.store(self.home, Path(source), target, digest, size)
        return FiledFile(name=Path(source).name, sha256=digest, size=size)

    def file_path(self, sha256: str) -> Path:
        """Where the stored bytes are (sealed or not): for presence and removal only; read
        them through :meth:`open_file` or :meth:`local_file`."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise Invalid(f"not a SHA-256: {sha256[:80]!r}")
        return self.receiving / sha256[:2] / sha256

    def has_file(self, sha256: str) -> bool:
        return self.file_path(sha256).is_file()

    def open_file(self, sha256: str) -> BinaryIO:
        """The plaintext of a received file (seekable); NotFound when it is not here."""
        from services.filing import sealed

        path = self.file_path(sha256)
        try:
            return sealed.open_plain(self.home, path, sha256)
        except FileNotFoundError:
            raise NotFound(f"{sha256}: not in the receiving area") from None

    @contextlib.contextmanager
    def local_file(self, sha256: str, *, suffix: str = "") -> Iterator[Path]:
        """A plaintext path of a received file (a temporary 0600 copy when it is sealed)."""
        from services.filing import sealed

        path = self.file_path(sha256)
        if not path.is_file():
            raise NotFound(f"{sha256}: not in the receiving area")
        with sealed.plain_copy(self.home, path, sha256, suffix=suffix) as plain:
            yield plain

    def discard(self, files: Iterable[FiledFile]) -> None:
        """Remove staged files that no item refers to (after a refused submission)."""
        with self._connect() as db:
            used = {f["sha256"] for (files_json,) in db.execute("SELECT files FROM item")
                    for f in json.loads(files_json)}
        for f in files:
            if f.sha256 not in used:
                self.file_path(f.sha256).unlink(missing_ok=True)

    # ------------------------------------------------------------------ submissions
    def add_submission(self, sub: Submission, *, at: str | None = None) -> Submission:
        """Record a submission and all its items (state ``received``) in one transaction;
        its files must be in the receiving area already (:meth:`put_file`)."""
        if sub.channel not in CHANNELS:
            raise Invalid(f"channel {sub.channel!r}: one of {', '.join(CHANNELS)}")
        if not sub.items:
            raise Invalid("a submission has at least one item")
        sub.id = sub.id or new_submission_id(sub.year)
        sub.created = sub.created or at or iso(now_utc())
        with self._write() as db:
            if not db.execute("SELECT 1 FROM unit WHERE code = ?", (sub.unit,)).fetchone():
                raise NotFound(f"no filing unit {sub.unit!r}")
            if sub.task is not None:
                row = db.execute("SELECT unit FROM task WHERE id = ?", (sub.task,)).fetchone()
                if row is None or row[0] != sub.unit:
                    raise Invalid(f"task {sub.task} is not a task of {sub.unit}")
            db.execute("INSERT INTO submission VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (sub.id, sub.year, sub.unit, sub.task, sub.channel, sub.source,
                        sub.created, sub.created_by))
            for it in sub.items:
                cur = db.execute(
                    "INSERT INTO item (submission, row, fields, files, state) "
                    "VALUES (?, ?, ?, ?, 'received')",
                    (sub.id, it.row, json.dumps(it.fields, ensure_ascii=False),
                     json.dumps([f.__dict__ for f in it.files], ensure_ascii=False)))
                it.id, it.submission, it.state = int(cur.lastrowid or 0), sub.id, "received"
            db.execute("INSERT INTO step (submission, item, at, actor, action, note) "
                       "VALUES (?, NULL, ?, ?, 'submitted', ?)",
                       (sub.id, sub.created, sub.created_by,
                        f"{len(sub.items)} item(s) by {sub.channel}: {sub.source}"))
        return sub

    def submission(self, sub_id: str) -> Submission:
        with self._connect() as db:
            row = db.execute("SELECT * FROM submission WHERE id = ?", (sub_id,)).fetchone()
            if row is None:
                raise NotFound(f"no submission {sub_id!r}")
            items = [_item(r) for r in db.execute(
                "SELECT * FROM item WHERE submission = ? ORDER BY row, id", (sub_id,))]
        return Submission(**dict(row), items=items)

    def submissions(self, *, year: int | None = None, unit: str | None = None,
                    state: str | None = None, category: str | None = None,
                    limit: int = 200, offset: int = 0) -> list[Submission]:
        """Submissions, newest first (their items loaded); ``state``: those with at least
        one item in that state; ``category``: those for a task of that category."""
        with self._connect() as db:
            ids = [r[0] for r in db.execute(
                "SELECT s.id FROM submission s WHERE (? IS NULL OR s.year = ?) "
                "AND (? IS NULL OR s.unit = ?) AND (? IS NULL OR EXISTS (SELECT 1 FROM item i "
                "WHERE i.submission = s.id AND i.state = ?)) "
                "AND (? IS NULL OR s.task IN (SELECT t.id FROM task t WHERE t.category = ?)) "
                "ORDER BY s.created DESC, s.id LIMIT ? OFFSET ?",
                (year, year, unit, unit, state, state, category, category, limit, offset))]
        return [self.submission(i) for i in ids]

    def item(self, item_id: int) -> Item:
        with self._connect() as db:
            row = db.execute("SELECT * FROM item WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise NotFound(f"no item {item_id}")
        return _item(row)

    def decide(self, item_id: int, state: str, *, actor: str, note: str = "",
               record: str = "", refcode: str = "", at: str | None = None) -> Item:
        """Move an item to ``accepted``, ``returned`` (with a note) or ``withdrawn``."""
        if state == "returned" and not note.strip():
            raise Invalid("a returned item needs a rectification note")
        with self._write() as db:
            row = db.execute("SELECT * FROM item WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise NotFound(f"no item {item_id}")
            if state not in ITEM_TRANSITIONS[row["state"]] or state == "received":
                raise Conflict(f"item {item_id} is {row['state']}: it cannot be {state}")
            db.execute("UPDATE item SET state = ?, note = ?, record = ?, refcode = ?, "
                       "returned_ever = returned_ever OR ? WHERE id = ?",
                       (state, note if state == "returned" else row["note"],
                        record or row["record"], refcode or row["refcode"],
                        state == "returned", item_id))
            db.execute("INSERT INTO step (submission, item, at, actor, action, note) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (row["submission"], item_id, at or iso(now_utc()), actor, state, note))
        return self.item(item_id)

    def resubmit(self, item_id: int, fields: dict[str, list[str]], files: list[FiledFile],
                 *, actor: str, note: str = "", at: str | None = None) -> Item:
        """A returned item, corrected by its officer: received again, one more attempt."""
        with self._write() as db:
            row = db.execute("SELECT * FROM item WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise NotFound(f"no item {item_id}")
            if row["state"] != "returned":
                raise Conflict(f"item {item_id} is {row['state']}: only a returned item is "
                               "sent again")
            db.execute("UPDATE item SET state = 'received', fields = ?, files = ?, "
                       "attempts = attempts + 1 WHERE id = ?",
                       (json.dumps(fields, ensure_ascii=False),
                        json.dumps([f.__dict__ for f in files], ensure_ascii=False), item_id))
            db.execute("INSERT INTO step (submission, item, at, actor, action, note) "
                       "VALUES (?, ?, ?, ?, 'resubmitted', ?)",
                       (row["submission"], item_id, at or iso(now_utc()), actor, note))
        return self.item(item_id)

    def history(self, sub_id: str) -> list[Step]:
        with self._connect() as db:
            return [Step(at=r["at"], actor=r["actor"], action=r["action"], item=r["item"],
                         note=r["note"]) for r in db.execute(
                "SELECT * FROM step WHERE submission = ? ORDER BY seq", (sub_id,))]

    # ------------------------------------------------------------------ notices
    def add_notice(self, unit: str, year: int, kind: str, subject: str, body: str, *,
                   at: str | None = None) -> Notice:
        if kind not in NOTICE_KINDS:
            raise Invalid(f"notice kind {kind!r}: one of {', '.join(NOTICE_KINDS)}")
        at = at or iso(now_utc())
        with self._write() as db:
            cur = db.execute("INSERT INTO notice (unit, year, at, kind, subject, body) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (unit, year, at, kind, subject, body))
        return Notice(int(cur.lastrowid or 0), unit, year, at, kind, subject, body)

    def notices(self, unit: str, *, year: int | None = None) -> list[Notice]:
        with self._connect() as db:
            return [Notice(**dict(r)) for r in db.execute(
                "SELECT * FROM notice WHERE unit = ? AND (? IS NULL OR year = ?) "
                "ORDER BY at DESC, id DESC", (unit, year, year))]

    def notice(self, notice_id: int) -> Notice:
        with self._connect() as db:
            row = db.execute("SELECT * FROM notice WHERE id = ?", (notice_id,)).fetchone()
        if row is None:
            raise NotFound(f"no notice {notice_id}")
        return Notice(**dict(row))

    def mark_read(self, notice_id: int, *, at: str | None = None) -> None:
        with self._write() as db:
            db.execute("UPDATE notice SET read_at = ? WHERE id = ? AND read_at = ''",
                       (at or iso(now_utc()), notice_id))

    # ------------------------------------------------------------------ plan changes, reminders
    def record_plan_change(self, year: int, actor: str, action: str, *,
                           task: int | None = None, unit: str = "", note: str = "",
                           at: str | None = None) -> PlanChange:
        """One line of a plan's history (a task added, changed or removed, the plan
        published): :mod:`services.filing.plans` records every change after publication."""
        change = PlanChange(year=year, at=at or iso(now_utc()), actor=actor, action=action,
                            task=task, unit=unit, note=note)
        with self._write() as db:
            db.execute("INSERT INTO plan_change (year, at, actor, action, task, unit, note) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (year, change.at, actor, action, task, unit, note))
        return change

    def plan_changes(self, year: int) -> list[PlanChange]:
        with self._connect() as db:
            return [PlanChange(year=r["year"], at=r["at"], actor=r["actor"],
                               action=r["action"], task=r["task"], unit=r["unit"],
                               note=r["note"]) for r in db.execute(
                "SELECT * FROM plan_change WHERE year = ? ORDER BY seq", (year,))]

    def record_reminders(self, task_ids: Iterable[int], *, at: str | None = None,
                         since: str = "") -> list[int]:
        """Record a reminder for each task not reminded after ``since``, in one transaction;
        the tasks recorded (two runs at once: each task goes to one of them). Reminders go
        at most once a week per task (:func:`services.filing.plans.remind`)."""
        at = at or iso(now_utc())
        claimed = []
        with self._write() as db:
            for t in task_ids:
                if db.execute("SELECT 1 FROM reminder WHERE task = ? AND at > ?",
                              (t, since)).fetchone() is None:
                    db.execute("INSERT INTO reminder (task, at) VALUES (?, ?)", (t, at))
                    claimed.append(t)
        return claimed

    def last_reminders(self, year: int) -> dict[int, str]:
        """``{task id: when it was last reminded}`` for the year's tasks ever reminded."""
        with self._connect() as db:
            return {r[0]: r[1] for r in db.execute(
                "SELECT r.task, MAX(r.at) FROM reminder r JOIN task t ON t.id = r.task "
                "WHERE t.year = ? GROUP BY r.task", (year,))}

    def task_progress(self, year: int) -> dict[int, tuple[int, int]]:
        """``{task id: (submitted, accepted)}`` for the year's tasks with items (withdrawn
        items not counted): whether a task is complete, for reminders and the plan page."""
        with self._connect() as db:
            return {r[0]: (r[1], r[2]) for r in db.execute(
                "SELECT s.task, COUNT(i.id), SUM(i.state = 'accepted') FROM submission s "
                "JOIN item i ON i.submission = s.id WHERE s.year = ? AND s.task IS NOT NULL "
                "AND i.state != 'withdrawn' GROUP BY s.task", (year,))}

    def unit_progress(self, year: int, unit: str) -> dict[int | None, dict[str, int]]:
        """Per task of a unit's year (``None``: items sent without a task), how many items
        are ``submitted``, ``returned`` (ever), ``accepted``, ``waiting`` (received) and
        ``to_fix`` (returned now); withdrawn items do not count. One grouped query (the
        officer's page)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT s.task, COUNT(i.id) AS submitted, SUM(i.returned_ever) AS returned, "
                "SUM(i.state = 'accepted') AS accepted, SUM(i.state = 'received') AS waiting, "
                "SUM(i.state = 'returned') AS to_fix FROM submission s "
                "JOIN item i ON i.submission = s.id WHERE s.year = ? AND s.unit = ? "
                "AND i.state != 'withdrawn' GROUP BY s.task", (year, unit))
            names = ("submitted", "returned", "accepted", "waiting", "to_fix")
            return {r["task"]: {k: int(r[k] or 0) for k in names} for r in rows}

    # ------------------------------------------------------------------ counts for the rates
    def counts(self, year: int) -> list[sqlite3.Row]:
        """Per (unit, category, topic) of the year's tasks: ``expected`` and the items'
        ``submitted``, ``returned``, ``accepted``, ``accepted_first_time`` (see
        :mod:`services.filing.model`); items of submissions without a task count under
        their unit with category and topic ''; withdrawn items count nowhere (the unit
        took them back); a task's expected count is its count or the length of its
        expected list, the larger. One grouped query over :meth:`task_figures`'s."""
        with self._connect() as db:
            return db.execute(f"""
WITH per_task AS ({_PER_TASK})
SELECT unit, category, topic, SUM(expected) AS expected, SUM(submitted) AS submitted,
  SUM(returned) AS returned, SUM(accepted) AS accepted,
  SUM(accepted_first_time) AS accepted_first_time
FROM per_task GROUP BY unit, category, topic
ORDER BY unit, category, topic""", {"y": year}).fetchall()

    def task_figures(self, year: int) -> list[sqlite3.Row]:
        """Per task of the year (``id``, ``unit``, ``category``, ``topic``, ``title_zh``,
        ``title_en``, ``due``, ``expected`` as in :meth:`counts`) its items' ``submitted``,
        ``returned``, ``accepted``, ``accepted_first_time``; then one row per unit (``id``
        NULL, ``expected`` 0) for items of the year's submissions sent without a task
        (category and topic '') or for a task of another year or unit (its category and
        topic). Everything the rates are made of, in one query: the items are counted per
        submission's task first (an index-only pass over the year's items), then joined
        to the tasks."""
        with self._connect() as db:
            return db.execute(_PER_TASK + " ORDER BY 2, 7, 1", {"y": year}).fetchall()

    def accepted_by_month(self, year: int) -> list[sqlite3.Row]:
        """Items of the year's submissions accepted, per unit and month of acceptance
        (``YYYY-MM``, UTC): the dashboard's monthly chart."""
        with self._connect() as db:
            return db.execute("""
SELECT s.unit, substr(st.at, 1, 7) AS month, COUNT(*) AS accepted
FROM submission s JOIN step st ON st.submission = s.id
WHERE s.year = :y AND st.action = 'accepted'
GROUP BY s.unit, month ORDER BY month, s.unit""", {"y": year}).fetchall()

    def returned_items(self, year: int) -> list[tuple[Item, sqlite3.Row, list[Step]]]:
        """Every item of the year's submissions returned at least once (withdrawn ones too),
        with its submission and task facts (``unit``, ``created``, ``category``, ``task``)
        and its own steps: the rectification list. Two queries."""
        with self._connect() as db:
            rows = db.execute("""
SELECT i.*, s.unit AS sub_unit, s.created AS sub_created, s.task AS sub_task,
  COALESCE(t.category, '') AS sub_category
FROM submission s JOIN item i ON i.submission = s.id LEFT JOIN task t ON t.id = s.task
WHERE s.year = :y AND i.returned_ever
ORDER BY s.unit, s.created, s.id, i.row, i.id""", {"y": year}).fetchall()
            steps: dict[int, list[Step]] = {}
            for r in db.execute("""
SELECT st.* FROM submission s JOIN step st ON st.submission = s.id
WHERE s.year = :y AND st.item IN (SELECT i.id FROM submission s2 JOIN item i
  ON i.submission = s2.id WHERE s2.year = :y AND i.returned_ever)
ORDER BY st.seq""", {"y": year}):
                steps.setdefault(r["item"], []).append(
                    Step(at=r["at"], actor=r["actor"], action=r["action"], item=r["item"],
                         note=r["note"]))
        return [(_item(r), r, steps.get(r["id"], [])) for r in rows]
