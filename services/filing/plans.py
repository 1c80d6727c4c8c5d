"""A year's filing plan (通知归档, issue 13 item 2): made from a template or from last year's,
edited while it is a draft, published to the units with a notice, changed afterwards only
with a record and a notice to the unit concerned; reminders for what is due.

A **template** (YAML, :data:`DEFAULT_TEMPLATE`) says what a typical unit files per record
category — series pattern, retention, expected count or list, due month — and which special
topics (专题) the year has, each with its own tasks across units. ``new_from_template`` makes
one task per unit and line; ``copy_year`` carries a year's tasks to the next (due dates moved
a year, expected counts kept, topics only when asked).

Every task is checked before it is stored (:func:`check_task`): the category is a code of the
``category`` vocabulary, the series path exists and is a container an item may go into whose
category (its own or the nearest above) is the task's, the retention is Y, D30 or D10, the
due date falls inside the plan's year, and every text is bounded. A refusal lists every
problem (``Invalid.problems``) and stores nothing.

Notices go to the workspace (the unit's notices) and by e-mail to units with an address,
through :mod:`services.requests.mail`; a mail that fails is reported, never fatal: the
workspace notice is the one that counts.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ontology.profile import load_profile, vocabulary_codes
from repo.config import Settings
from repo.errors import Conflict, Forbidden, Invalid, LantaiError, NotFound
from repo.repository import Repository
from repo.security import User
from services.filing import plan_words as words
from services.filing.model import RETENTIONS, Plan, Task, Topic, Unit
from services.filing.store import FilingStore, iso, now_utc
from services.filing.units import is_archivist
from services.requests import mail

DEFAULT_TEMPLATE = Path(__file__).parent / "templates" / "plan-template.yaml"
MAX_TEMPLATE_BYTES = 1 << 20
MAX_TITLE = 200
MAX_LIST = 500
MAX_EXPECTED = 100_000
MAX_NOTICE = 5000
MAX_NOTE = 1000
YEARS = (1896, 2200)  # the university's founding to a far future
REMIND_EVERY = dt.timedelta(days=7)  # a task is reminded at most once a week


# ---------------------------------------------------------------------- the template
@dataclass(frozen=True)
class Line:
    """One line of a template: a task for each unit it is applied to."""

    category: str
    series: str  # a pattern: {fonds}, {year}, {unit}, {category}
    retention: str
    title_zh: str
    title_en: str = ""
    expected: int = 0
    expected_list: tuple[str, ...] = ()
    due: str = "12"  # a month ("7": its last day) or "MM-DD"


@dataclass(frozen=True)
class TemplateTopic:
    key: str
    name_zh: str
    name_en: str = ""
    note: str = ""
    units: tuple[str, ...] | None = None  # None: every unit the plan is made for
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True)
class Template:
    fonds: str = ""
    notice_zh: str = ""
    notice_en: str = ""
    lines: tuple[Line, ...] = ()
    topics: tuple[TemplateTopic, ...] = ()

    def notice(self, year: int) -> str:
        return "\n\n".join(t.replace("{year}", str(year))
                           for t in (self.notice_zh, self.notice_en) if t)


def _text(value: Any, where: str, problems: list[str], *, limit: int = MAX_TITLE) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int):
        problems.append(f"{where}: a text")
        return ""
    text = str(value).strip()
    if len(text) > limit:
        problems.append(f"{where}: longer than {limit} characters")
    return text[:limit]


def _names(value: Any, where: str, problems: list[str]) -> tuple[str, str]:
    if isinstance(value, dict):
        return (_text(value.get("zh"), f"{where} (zh)", problems),
                _text(value.get("en"), f"{where} (en)", problems))
    return _text(value, where, problems), ""


def _line(raw: Any, where: str, problems: list[str]) -> Line | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: a mapping (category, series, retention, title, …)")
        return None
    zh, en = _names(raw.get("title"), f"{where} title", problems)
    expected = raw.get("expected", 0)
    if not isinstance(expected, int) or isinstance(expected, bool):
        problems.append(f"{where}: expected is a whole number")
        expected = 0
    listed = raw.get("expected_list") or []
    if not isinstance(listed, list):
        problems.append(f"{where}: expected_list is a list of titles")
        listed = []
    return Line(category=_text(raw.get("category"), f"{where} category", problems),
                series=_text(raw.get("series"), f"{where} series", problems, limit=500),
                retention=_text(raw.get("retention"), f"{where} retention", problems),
                title_zh=zh, title_en=en, expected=expected,
                expected_list=tuple(_text(x, f"{where} expected_list", problems)
                                    for x in listed[:MAX_LIST + 1]),
                due=_text(raw.get("due", 12), f"{where} due", problems))


def load_template(path: Path | str | None = None) -> Template:
    """Read a template file (YAML, safe loader, bounded); ``Invalid`` lists every problem
    of its form (the tasks it makes are checked again against the site when applied)."""
    path = Path(path) if path else DEFAULT_TEMPLATE
    try:
        if path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise Invalid(f"{path.name}: a template is at most {MAX_TEMPLATE_BYTES} bytes")
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"no template {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise Invalid(f"{path.name} is not a readable YAML template: "
                      f"{str(exc).splitlines()[0][:200]}") from None
    if not isinstance(raw, dict):
        raise Invalid(f"{path.name}: a template is a mapping (fonds, notice, tasks, topics)")
    problems: list[str] = []
    notice_zh, notice_en = _names(raw.get("notice"), "notice", problems)
    lines = [_line(x, f"tasks[{n}]", problems) for n, x in enumerate(raw.get("tasks") or [])]
    topics = []
    for n, t in enumerate(raw.get("topics") or []):
        where = f"topics[{n}]"
        if not isinstance(t, dict):
            problems.append(f"{where}: a mapping (key, name, units, tasks)")
            continue
        key = _text(t.get("key"), f"{where} key", problems, limit=40)
        if not key or not key.replace("-", "").isalnum():
            problems.append(f"{where} key {key!r}: letters, digits and '-'")
        zh, en = _names(t.get("name"), f"{where} name", problems)
        units = t.get("units", "all")
        if units != "all" and not (isinstance(units, list)
                                   and all(isinstance(u, str) for u in units)):
            problems.append(f"{where} units: 'all' or a list of unit codes")
            units = []
        topic_lines = [_line(x, f"{where} tasks[{m}]", problems)
                       for m, x in enumerate(t.get("tasks") or [])]
        topics.append(TemplateTopic(
            key=key, name_zh=zh, name_en=en,
            note=_text(t.get("note"), f"{where} note", problems, limit=MAX_NOTE),
            units=None if units == "all" else tuple(units),
            lines=tuple(x for x in topic_lines if x is not None)))
    if problems:
        raise Invalid(f"{path.name}: {problems[0]}", problems)
    return Template(fonds=_text(raw.get("fonds"), "fonds", problems, limit=500),
                    notice_zh=notice_zh, notice_en=notice_en,
                    lines=tuple(x for x in lines if x is not None), topics=tuple(topics))


def due_date(year: int, due: str) -> str:
    """``"7"`` → the last day of July of ``year``; ``"03-15"`` → ``YEAR-03-15``."""
    due = str(due).strip()
    try:
        if due.isdigit():
            month = int(due)
            return dt.date(year, month, calendar.monthrange(year, month)[1]).isoformat()
        month_s, _, day_s = due.partition("-")
        return dt.date(year, int(month_s), int(day_s)).isoformat()
    except (ValueError, calendar.IllegalMonthError):
        raise Invalid(f"due {due!r}: a month (1–12) or MM-DD") from None


def _series(pattern: str, *, fonds: str, year: int, unit: str, category: str) -> str:
    try:
        return pattern.format(fonds=fonds.rstrip("/"), year=year, unit=unit,
                              category=category.lower())
    except (KeyError, IndexError, ValueError):
        raise Invalid(f"series pattern {pattern!r}: only {{fonds}}, {{year}}, {{unit}} and "
                      "{category} may be used") from None


# ---------------------------------------------------------------------- checking tasks
def check_task(store: FilingStore, task: Task, *, repo: Repository | None = None,
               user: User | None = None) -> list[str]:
    """Every problem of ``task`` (none: it may be stored). The series is checked against
    the repository as ``user`` sees it when ``repo`` is given."""
    problems: list[str] = []
    label = f"{task.unit} {task.category} {task.title_zh[:40]}".strip()
    if not YEARS[0] <= task.year <= YEARS[1]:
        problems.append(f"year {task.year}: from {YEARS[0]} to {YEARS[1]}")
    if task.category not in vocabulary_codes()["category"]:
        problems.append(f"{label}: category {task.category[:20]!r} is not a record category "
                        f"({', '.join(sorted(vocabulary_codes()['category']))})")
    if task.retention not in RETENTIONS:
        problems.append(f"{label}: retention {task.retention[:20]!r}: one of "
                        f"{', '.join(RETENTIONS)}")
    if not task.title_zh.strip():
        problems.append(f"{label}: a task needs a title (what is expected)")
    for name, text in (("title (zh)", task.title_zh), ("title (en)", task.title_en)):
        if len(text) > MAX_TITLE:
            problems.append(f"{label}: {name} longer than {MAX_TITLE} characters")
    if not 0 <= task.expected <= MAX_EXPECTED:
        problems.append(f"{label}: expected count from 0 to {MAX_EXPECTED}")
    if len(task.expected_list) > MAX_LIST or any(
            len(x) > MAX_TITLE for x in task.expected_list):
        problems.append(f"{label}: an expected list has at most {MAX_LIST} titles of at "
                        f"most {MAX_TITLE} characters")
    if task.expected == 0 and not task.expected_list:
        problems.append(f"{label}: an expected count or list is needed")
    try:
        due = dt.date.fromisoformat(task.due)
        if due.year != task.year:
            problems.append(f"{label}: due {task.due} is not inside {task.year}")
    except ValueError:
        problems.append(f"{label}: due {task.due[:20]!r} is not a date (YYYY-MM-DD)")
    try:
        store.unit(task.unit)
    except NotFound:
        problems.append(f"no filing unit {task.unit[:40]!r}")
    if task.topic and task.topic not in {t.id for t in store.topics(task.year)}:
        problems.append(f"{label}: no topic {task.topic[:60]!r} in {task.year}")
    if repo is not None and user is not None:
        problems.extend(f"{label}: {p}" for p in check_series(repo, user, task))
    return problems


def check_series(repo: Repository, user: User, task: Task) -> list[str]:
    """Does the series path name a container an item may go into, whose category (its own,
    or the nearest container's above) is the task's?"""
    if not task.series.startswith("/") or len(task.series) > 500:
        return [f"series {task.series[:80]!r}: a path such as /xjtu/jx"]
    try:
        obj = repo.get(user, task.series)
    except LantaiError:
        return [f"series {task.series}: no such container"]
    if obj.type.kind != "recordset" or obj.type_name not in load_profile().type(
            "item").allowed_in:
        return [f"series {task.series} is a {obj.type_name}: items cannot go into it "
                "(a series, file, fonds or collection)"]
    node = obj
    for _ in range(64):  # the depth of any real tree
        found = [v for v in node.fields().get("category", [])]
        if found:
            code = str(found[0]).rsplit("/", 1)[-1]
            if code != task.category:
                return [f"series {task.series} holds category {code}, not {task.category}"]
            return []
        if not node.parent:
            return []
        try:
            node = repo.get(user, node.parent)
        except LantaiError:
            return []
    return []


def series_problems(tasks: Iterable[Task], repo: Repository | None,
                    user: User | None) -> list[str]:
    """:func:`check_series` once per distinct series and category (a plan for 200 units
    names a handful of series)."""
    if repo is None or user is None:
        return []
    out: list[str] = []
    for series, category in dict.fromkeys((t.series, t.category) for t in tasks):
        probe = Task(id=0, year=0, unit="", category=category, series=series,
                     retention="Y", title_zh="")
        out.extend(f"{category} {p}" for p in check_series(repo, user, probe))
    return out


def _refuse(problems: list[str]) -> None:
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise Invalid(problems[0] + more, problems)


def _require_archivist(user: User | None, what: str) -> None:
    if user is not None and not is_archivist(user):
        raise Forbidden(f"{user.name} may not {what}: filing plans are the archivists'")


def _open_draft(store: FilingStore, year: int) -> None:
    """The year's plan may receive a whole set of tasks: none yet, or a draft without any."""
    plan = store.plan(year)
    if plan is not None and plan.state != "draft":
        raise Conflict(f"the {year} plan is {plan.state}: edit its tasks one by one")
    if store.tasks(year):
        raise Conflict(f"the {year} plan has tasks already: edit them, or remove them first")


# ---------------------------------------------------------------------- making a plan
def tasks_from_template(year: int, units: Iterable[str | Unit], template: Template,
                        *, topics: bool = True) -> tuple[list[Topic], list[Task]]:
    """What a template makes for ``units`` in ``year`` (not stored, not checked)."""
    codes = [u.code if isinstance(u, Unit) else u for u in units]
    made: list[Task] = []

    def make(unit: str, line: Line, topic: str = "") -> Task:
        return Task(id=0, year=year, unit=unit, category=line.category,
                    series=_series(line.series, fonds=template.fonds, year=year, unit=unit,
                                   category=line.category),
                    retention=line.retention, title_zh=line.title_zh, title_en=line.title_en,
                    expected=line.expected, expected_list=list(line.expected_list),
                    due=due_date(year, line.due), topic=topic)
    for code in codes:
        made.extend(make(code, line) for line in template.lines)
    new_topics = []
    if topics:
        for t in template.topics:
            topic = Topic(id=f"{year}-{t.key}", year=year, name_zh=t.name_zh,
                          name_en=t.name_en, note=t.note)
            new_topics.append(topic)
            for code in codes:
                if t.units is None or code in t.units:
                    made.extend(make(code, line, topic.id) for line in t.lines)
    return new_topics, made


def new_from_template(store: FilingStore, year: int, units: Iterable[str | Unit],
                      template: Template | None = None, *, topics: bool = True,
                      repo: Repository | None = None, user: User | None = None) -> list[Task]:
    """The ``year``'s draft plan from ``template`` (the default one if None): a task per
    unit and line, and the template's topics with their tasks (``topics=False``: none).
    Every task is checked first (its series too when ``repo`` and ``user`` are given);
    any problem refuses the whole plan."""
    _require_archivist(user, "make a plan")
    template = template or load_template()
    _open_draft(store, year)
    new_topics, tasks = tasks_from_template(year, units, template, topics=topics)
    if not tasks:
        raise Invalid(f"the template makes no task for {year} (no units, or no lines)")
    return _store_plan(store, year, new_topics, tasks, template.notice(year), repo, user)


def _store_plan(store: FilingStore, year: int, new_topics: list[Topic], tasks: list[Task],
                notice: str, repo: Repository | None, user: User | None) -> list[Task]:
    known = {t.id for t in store.topics(year)}
    pending = [t for t in new_topics if t.id not in known]
    problems = []
    for t in pending:
        if len(t.id) > 60 or len(t.name_zh) > MAX_TITLE or not t.name_zh:
            problems.append(f"topic {t.id[:60]!r}: an id of at most 60 characters and a name")
    seen_topics = known | {t.id for t in pending}
    for task in tasks:  # the topics are checked here: they are not stored yet
        for p in check_task(store, replace(task, topic="")):
            if p not in problems:
                problems.append(p)
        if task.topic and task.topic not in seen_topics:
            problems.append(f"no topic {task.topic!r} in {year}")
    problems.extend(series_problems(tasks, repo, user))
    _refuse(problems)
    for t in pending:
        store.add_topic(t)
    if store.plan(year) is None:
        store.save_plan(Plan(year=year, state="draft", notice=notice))
    ids = store.add_tasks(tasks)
    return [replace(t, id=i) for t, i in zip(tasks, ids, strict=True)]


def _moved(due: str, years: int) -> str:
    d = dt.date.fromisoformat(due)
    try:
        return d.replace(year=d.year + years).isoformat()
    except ValueError:  # 29 February into a common year
        return d.replace(year=d.year + years, day=28).isoformat()


def copy_year(store: FilingStore, from_year: int, to_year: int, *, topics: bool = False,
              repo: Repository | None = None, user: User | None = None) -> list[Task]:
    """``to_year``'s draft plan from ``from_year``'s: every task with its due date moved by
    the years between, its expected count and list kept; topics (and their tasks) only when
    ``topics`` (the new topic's id is the old one with the year changed). The notice text is
    carried with its year changed."""
    _require_archivist(user, "make a plan")
    if from_year == to_year:
        raise Invalid("a plan is copied to another year")
    old = store.tasks(from_year)
    if not old:
        raise NotFound(f"the {from_year} plan has no tasks to copy")
    _open_draft(store, to_year)
    shift = to_year - from_year
    ids: dict[str, str] = {}
    new_topics = []
    if topics:
        for t in store.topics(from_year):
            prefix = f"{from_year}-"
            new_id = (f"{to_year}-{t.id[len(prefix):]}" if t.id.startswith(prefix)
                      else f"{to_year}-{t.id}")
            ids[t.id] = new_id
            new_topics.append(replace(t, id=new_id, year=to_year))
    tasks = [replace(t, id=0, year=to_year, due=_moved(t.due, shift) if t.due else t.due,
                     topic=ids.get(t.topic, "")) for t in old if not t.topic or topics]
    if not tasks:
        raise NotFound(f"the {from_year} plan has only topic tasks (copy them with topics)")
    previous = store.plan(from_year)
    notice = (previous.notice.replace(str(from_year), str(to_year)) if previous else "")
    return _store_plan(store, to_year, new_topics, tasks, notice, repo, user)


# ---------------------------------------------------------------------- editing a plan
@dataclass
class Notified:
    """Who was told: units given a workspace notice, units mailed, mails that failed."""

    noticed: list[str] = field(default_factory=list)
    mailed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (unit, why)


def _editable_plan(store: FilingStore, year: int) -> Plan:
    plan = store.plan(year)
    if plan is None:
        raise NotFound(f"no plan for {year} (`lantai filing plan new --year {year}`)")
    if plan.state == "closed":
        raise Conflict(f"the {year} plan is closed")
    return plan


def _describe(task: Task) -> str:
    """A task in one line of English (the plan's history, the CLI)."""
    return words.task_line(task, "en")


def _tell(store: FilingStore, settings: Settings | None, unit: Unit, year: int, kind: str,
          subject: str, body: str, result: Notified, at: str | None = None) -> None:
    """A workspace notice to ``unit``, and the same by e-mail when it has an address."""
    store.add_notice(unit.code, year, kind, subject, body, at=at)
    result.noticed.append(unit.code)
    if not unit.email or settings is None:
        return
    try:
        mail.send(settings, unit.email, subject, body)
        result.mailed.append(unit.code)
    except mail.MailError as exc:
        result.failed.append((unit.code, exc.message))


def _changed(store: FilingStore, settings: Settings | None, user: User, task: Task,
             action: str, note: str) -> Notified:
    """After publication: the change recorded and the unit notified."""
    result = Notified()
    plan = store.plan(task.year)
    if plan is None or plan.state != "published":
        return result
    text = f"{action}: {_describe(task)}" + (f"\n{note}" if note else "")
    store.record_plan_change(task.year, user.name, action, task=task.id, unit=task.unit,
                             note=text)
    topics = {t.id: t for t in store.topics(task.year)}

    def write(lang: str) -> str:
        name = topics[task.topic].name_zh if task.topic in topics else ""
        return (words.CHANGES[action].in_lang(lang) + "\n" + words.task_line(task, lang, name)
                + (f"\n\n{note}" if note else ""))
    _tell(store, settings, store.unit(task.unit), task.year, "plan",
          words.subject(words.CHANGED_SUBJECT, year=task.year), words.twice(write), result)
    return result


def add_task(store: FilingStore, repo: Repository, user: User, task: Task, *,
             settings: Settings | None = None, note: str = "") -> tuple[Task, Notified]:
    """Add one task to a year's plan (created as a draft if the year has none)."""
    _require_archivist(user, "edit a plan")
    if store.plan(task.year) is None:
        store.save_plan(Plan(year=task.year, state="draft"))
    _editable_plan(store, task.year)
    _refuse(check_task(store, task, repo=repo, user=user))
    task = replace(task, id=store.add_tasks([task])[0])
    return task, _changed(store, settings, user, task, "task added", note[:MAX_NOTE])


def edit_task(store: FilingStore, repo: Repository, user: User, task: Task, *,
              settings: Settings | None = None, note: str = "") -> tuple[Task, Notified]:
    """Change a task (its unit and year stay)."""
    _require_archivist(user, "edit a plan")
    old = store.task(task.id)
    task = replace(task, unit=old.unit, year=old.year)
    _editable_plan(store, task.year)
    _refuse(check_task(store, task, repo=repo, user=user))
    store.update_task(task)
    return task, _changed(store, settings, user, task, "task changed", note[:MAX_NOTE])


def remove_task(store: FilingStore, user: User, task_id: int, *,
                settings: Settings | None = None, note: str = "") -> Notified:
    """Remove a task that has no submissions."""
    _require_archivist(user, "edit a plan")
    task = store.task(task_id)
    _editable_plan(store, task.year)
    store.delete_task(task_id)
    return _changed(store, settings, user, task, "task removed", note[:MAX_NOTE])


def add_topic(store: FilingStore, user: User, topic: Topic) -> Topic:
    """A special topic of a year (its tasks are added with ``topic`` set)."""
    _require_archivist(user, "add a topic")
    problems = []
    if not topic.id or len(topic.id) > 60 or not topic.id.replace("-", "").isalnum():
        problems.append(f"topic id {topic.id[:60]!r}: 1–60 letters, digits or '-'")
    if not topic.name_zh.strip():
        problems.append("a topic needs a name")
    if max(len(topic.name_zh), len(topic.name_en)) > MAX_TITLE or len(topic.note) > MAX_NOTE:
        problems.append(f"a topic's name is at most {MAX_TITLE} characters, its note "
                        f"{MAX_NOTE}")
    if not YEARS[0] <= topic.year <= YEARS[1]:
        problems.append(f"year {topic.year}: from {YEARS[0]} to {YEARS[1]}")
    _refuse(problems)
    return store.add_topic(topic)


def set_notice(store: FilingStore, user: User, year: int, text: str) -> Plan:
    """The text sent with the plan (editable until it is published)."""
    _require_archivist(user, "edit a plan")
    plan = _editable_plan(store, year)
    if plan.state != "draft":
        raise Conflict(f"the {year} plan is published: its notice was sent")
    if len(text) > MAX_NOTICE:
        raise Invalid(f"a notice is at most {MAX_NOTICE} characters")
    plan.notice = text.strip()
    store.save_plan(plan)
    return plan


# ---------------------------------------------------------------------- publishing
@dataclass
class Published(Notified):
    plan: Plan | None = None


def publish(store: FilingStore, repo: Repository, user: User, year: int,
            settings: Settings | None, *, notice: str | None = None,
            now: dt.datetime | None = None) -> Published:
    """Publish the ``year``'s draft plan: every task checked again (a series may have moved
    since), the plan marked published, and each unit with tasks given a notice with its
    tasks (in the workspace, and by e-mail when it has an address; a mail that fails is
    reported in ``failed``)."""
    _require_archivist(user, "publish a plan")
    plan = store.plan(year)
    if plan is None:
        raise NotFound(f"no plan for {year} (`lantai filing plan new --year {year}`)")
    if plan.state != "draft":
        raise Conflict(f"the {year} plan is {plan.state} already")
    if notice is not None:
        plan = set_notice(store, user, year, notice)
    tasks = store.tasks(year)
    if not tasks:
        raise Invalid(f"the {year} plan has no tasks")
    problems: list[str] = []
    for t in tasks:
        problems.extend(p for p in check_task(store, t) if p not in problems)
    problems.extend(series_problems(tasks, repo, user))
    _refuse(problems)
    at = iso(now or now_utc())
    plan = store.publish_plan(year, at)
    store.record_plan_change(year, user.name, "published", note=f"{len(tasks)} tasks", at=at)
    result = Published(plan=plan)
    by_unit: dict[str, list[Task]] = defaultdict(list)
    for t in tasks:
        by_unit[t.unit].append(t)
    names = {t.id: t.name_zh for t in store.topics(year)}
    subject = words.subject(words.PLAN_SUBJECT, year=year)
    for code, mine in by_unit.items():
        def write(lang: str, mine: list[Task] = mine) -> str:
            lines = ["- " + words.task_line(t, lang, names.get(t.topic, "")) for t in mine]
            return words.YOUR_TASKS.in_lang(lang, n=len(mine)) + "\n" + "\n".join(lines)
        body = ((plan.notice + "\n\n") if plan.notice else "") + words.twice(write)
        _tell(store, settings, store.unit(code), year, "plan", subject, body, result, at=at)
    return result


# ---------------------------------------------------------------------- reminders
@dataclass
class Reminded(Notified):
    tasks: list[int] = field(default_factory=list)


def needed(task: Task) -> int:
    """How many accepted items complete ``task``: its count or its list's length, the
    larger (as the rates count it, :meth:`FilingStore.counts`)."""
    return max(task.expected, len(task.expected_list))


def due_tasks(store: FilingStore, year: int, settings: Settings,
              now: dt.datetime) -> list[tuple[Task, int]]:
    """The year's tasks due within ``filing_reminder_days`` (or overdue) and not complete,
    with the count accepted so far."""
    horizon = (now + dt.timedelta(days=settings.filing_reminder_days)).date().isoformat()
    progress = store.task_progress(year)
    out = []
    for t in store.tasks(year):
        accepted = progress.get(t.id, (0, 0))[1]
        if t.due and t.due <= horizon and accepted < needed(t):
            out.append((t, accepted))
    return out


def remind(store: FilingStore, user: User, settings: Settings, *, year: int | None = None,
           now: dt.datetime | None = None) -> Reminded:
    """Remind each unit of its tasks due within ``filing_reminder_days`` or overdue and not
    complete, in one notice per unit (and e-mail), leaving out tasks reminded in the last
    seven days: a task is reminded at most once a week, however often this runs."""
    _require_archivist(user, "send reminders")
    now = now or now_utc()
    year = year or now.year
    plan = store.plan(year)
    if plan is None or plan.state != "published":
        raise Conflict(f"the {year} plan is not published: nothing to remind of")
    candidates = due_tasks(store, year, settings, now)
    claimed = set(store.record_reminders([t.id for t, _ in candidates], at=iso(now),
                                         since=iso(now - REMIND_EVERY)))
    today = now.date().isoformat()
    by_unit: dict[str, list[tuple[Task, int]]] = defaultdict(list)
    for t, accepted in candidates:
        if t.id in claimed:  # not reminded in the last week, and not by a run beside this
            by_unit[t.unit].append((t, accepted))
    result = Reminded()
    at = iso(now)
    for code, due in by_unit.items():
        def write(lang: str, due: list[tuple[Task, int]] = due) -> str:
            lines = []
            for t, accepted in due:
                state = (words.OVERDUE if t.due < today else words.DUE_SOON).in_lang(lang)
                lines.append("- " + words.PROGRESS.in_lang(lang, state=state, got=accepted,
                                                           of=needed(t))
                             + " · " + words.task_line(t, lang))
            return words.REMINDER_BODY.in_lang(lang) + "\n\n" + "\n".join(lines)
        _tell(store, settings, store.unit(code), year, "reminder",
              words.subject(words.REMINDER_SUBJECT, year=year, n=len(due)), words.twice(write),
              result, at=at)
        result.tasks.extend(t.id for t, _ in due)
    return result
