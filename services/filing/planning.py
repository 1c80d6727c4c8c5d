"""The filing plan's pages in the staff workspace (``/staff/filing/plans…``; issue 13, item 2):
the years' plans, a new plan from the template or another year's, one year's tasks by unit
(add, edit, remove; after publication each change is recorded and the unit notified), its
special topics, the notice text, publication and reminders. The units' pages
(``/staff/filing/units…``) are in :mod:`services.filing.planning_units`.

Who: archivists (Editors, Reviewers, Managers site-wide; :func:`units.is_archivist`). A
filing officer, or anyone else, gets 403 on every page here and sees no menu entry. Pages
read the repository through ``web.reading`` (a series is checked as the signed-in user sees
it); the plan itself lives in the filing store (:mod:`services.filing.plans` does the work).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, g, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

import services.filing as service
from repo.errors import Forbidden, Invalid, LantaiError, NotFound
from repo.repository import Repository
from repo.security import User
from services.filing import plans, units
from services.filing.model import RETENTIONS, Task, Topic
from services.filing.store import FilingStore
from staff import web

bp = Blueprint("filing_planning", __name__, url_prefix="/filing",
               template_folder="templates")

MAX_FIELD = 500
MAX_ID = 9_999_999


def may_plan(user: User) -> bool:
    return units.is_archivist(user)


web.MENU_FOR["staff.filing_planning.plans_page"] = may_plan
web.MENU_FOR["staff.filing_planning.units_page"] = may_plan


@bp.before_request
def only_archivists() -> None:
    """After the staff guard (which signed the user in): archivists, or 403."""
    user = g.get("staff_user")
    if user is None or not may_plan(user):
        raise Forbidden(_("Filing plans and units are the archivists' (Editors, Reviewers "
                          "and Managers)."))


def store() -> FilingStore:
    return service.store(current_app)


def settings():
    return current_app.config["SETTINGS"]


def checked_year(year: int) -> int:
    if not plans.YEARS[0] <= year <= plans.YEARS[1]:
        raise NotFound(_("No plan for that year."))
    return year


def text(name: str, label: str, limit: int = MAX_FIELD) -> str:
    value = request.form.get(name, "").strip()
    if len(value) > limit:
        raise Invalid(_("%(field)s is longer than %(n)d characters", field=label, n=limit))
    return value


def number(name: str, label: str, lo: int, hi: int, default: int | None = None) -> int:
    value = request.form.get(name, "").strip()
    if not value and default is not None:
        return default
    if not value.isdigit() or len(value) > 7 or not lo <= int(value) <= hi:
        raise Invalid(_("%(field)s: a whole number from %(lo)d to %(hi)d", field=label,
                        lo=lo, hi=hi))
    return int(value)


def task_from_form(year: int, task_id: int = 0) -> Task:
    """A task as the form gives it (bounded); :func:`plans.check_task` judges it."""
    listed = [x.strip() for x in text("expected_list", _("Expected items"),
                                      plans.MAX_LIST * 50).splitlines() if x.strip()]
    return Task(id=task_id, year=year, unit=text("unit", _("Unit"), 40),
                category=text("category", _("Category"), 10),
                series=text("series", _("Series")),
                retention=text("retention", _("Retention"), 10),
                title_zh=text("title_zh", _("Title (Chinese)")),
                title_en=text("title_en", _("Title (English)")),
                expected=number("expected", _("Expected count"), 0, plans.MAX_EXPECTED, 0),
                expected_list=listed, due=text("due", _("Due date"), 20),
                topic=text("topic", _("Topic"), 80))


# ---------------------------------------------------------------------- the years' plans
@bp.get("/plans")
def plans_page() -> Response:
    return plans_list()


def plans_list(status: int = 200, **extra) -> Response:
    s = store()
    years = [(p, len(s.tasks(p.year))) for p in reversed(s.plans())]
    return web.render("filing/planning.html", status, years=years,
                      this_year=dt.date.today().year, units=s.units(),
                      form=request.form, **extra)


@bp.post("/plans")
def new_plan() -> Response:
    """A draft plan from the built-in template or from another year's plan."""
    try:
        year = number("year", _("Year"), *plans.YEARS)
        source = request.form.get("source", "template")
        topics = request.form.get("topics") == "1"
        s = store()

        def make(repo: Repository, user: User) -> list[Task]:
            if source == "year":
                from_year = number("from_year", _("Copy from year"), *plans.YEARS)
                return plans.copy_year(s, from_year, year, topics=topics, repo=repo,
                                       user=user)
            if source != "template":
                raise Invalid(_("Make the plan from the template or from another year."))
            return plans.new_from_template(s, year, [u.code for u in s.units()], None,
                                           topics=topics, repo=repo, user=user)
        web.reading(make)
    except Invalid as exc:
        return plans_list(exc.http_status, error=exc.message, problems=exc.problems)
    except LantaiError as exc:
        return plans_list(exc.http_status, error=exc.message, problems=[])
    return redirect(url_for(".plan_page", year=year, done="made"), 303)


# ---------------------------------------------------------------------- one year
DONE = {"made": "The draft plan was made.", "task": "The task was saved.",
        "removed": "The task was removed.", "topic": "The topic was added.",
        "notice": "The notice text was saved."}


@bp.get("/plans/<int:year>")
def plan_page(year: int) -> Response:
    return plan_view(checked_year(year))


def plan_view(year: int, status: int = 200, **extra) -> Response:
    s = store()
    plan = s.plan(year)
    if plan is None:
        raise NotFound(_("No plan for %(year)d.", year=year))
    tasks, progress = s.tasks(year), s.task_progress(year)
    done = DONE.get(request.args.get("done", ""))
    from ontology.profile import vocabulary_codes
    return web.render("filing/planning_plan.html", status, plan=plan, tasks=tasks,
                      progress=progress, topics=s.topics(year), units=s.units(),
                      changes=list(reversed(s.plan_changes(year))),
                      categories=vocabulary_codes()["category"], retentions=RETENTIONS,
                      needed=plans.needed, done=_(done) if done else "",
                      form=request.form if status != 200 else {}, **extra)


@bp.post("/plans/<int:year>/tasks")
def add_task(year: int) -> Response:
    year = checked_year(year)
    try:
        task = task_from_form(year)
        note = text("change_note", _("Note to the unit"), plans.MAX_NOTE)
        web.reading(lambda repo, user: plans.add_task(store(), repo, user, task,
                                                      settings=settings(), note=note))
    except Invalid as exc:
        return plan_view(year, exc.http_status, error=exc.message, problems=exc.problems)
    return redirect(url_for(".plan_page", year=year, done="task"), 303)


def task_of(year: int, task_id: int) -> Task:
    if not 0 < task_id <= MAX_ID:
        raise NotFound(_("No such task."))
    task = store().task(task_id)
    if task.year != year:
        raise NotFound(_("No such task."))
    return task


@bp.get("/plans/<int:year>/tasks/<int:task_id>")
def task_page(year: int, task_id: int) -> Response:
    return task_view(task_of(checked_year(year), task_id))


def task_view(task: Task, status: int = 200, **extra) -> Response:
    from ontology.profile import vocabulary_codes
    s = store()
    return web.render("filing/planning_task.html", status, task=task, plan=s.plan(task.year),
                      topics=s.topics(task.year), categories=vocabulary_codes()["category"],
                      retentions=RETENTIONS, **extra)


@bp.post("/plans/<int:year>/tasks/<int:task_id>")
def edit_task(year: int, task_id: int) -> Response:
    old = task_of(checked_year(year), task_id)
    try:
        task = task_from_form(year, task_id)
        task.unit = old.unit
        note = text("change_note", _("Note to the unit"), plans.MAX_NOTE)
        web.reading(lambda repo, user: plans.edit_task(store(), repo, user, task,
                                                       settings=settings(), note=note))
    except Invalid as exc:
        return task_view(task if "task" in locals() else old, exc.http_status,
                         error=exc.message, problems=exc.problems)
    return redirect(url_for(".plan_page", year=year, done="task"), 303)


@bp.post("/plans/<int:year>/tasks/<int:task_id>/delete")
def delete_task(year: int, task_id: int) -> Response:
    task = task_of(checked_year(year), task_id)
    note = text("change_note", _("Note to the unit"), plans.MAX_NOTE)
    plans.remove_task(store(), g.staff_user, task.id, settings=settings(), note=note)
    return redirect(url_for(".plan_page", year=year, done="removed"), 303)


@bp.post("/plans/<int:year>/topics")
def add_topic(year: int) -> Response:
    year = checked_year(year)
    try:
        key = text("key", _("Topic key"), 40)
        topic = Topic(id=f"{year}-{key}" if key and not key.startswith(f"{year}-") else key,
                      year=year, name_zh=text("name_zh", _("Name (Chinese)"), plans.MAX_TITLE),
                      name_en=text("name_en", _("Name (English)"), plans.MAX_TITLE),
                      note=text("note", _("Note"), plans.MAX_NOTE))
        plans.add_topic(store(), g.staff_user, topic)
    except Invalid as exc:
        return plan_view(year, exc.http_status, error=exc.message, problems=exc.problems)
    return redirect(url_for(".plan_page", year=year, done="topic"), 303)


@bp.post("/plans/<int:year>/notice")
def save_notice(year: int) -> Response:
    year = checked_year(year)
    try:
        plans.set_notice(store(), g.staff_user, year,
                         text("notice", _("Notice"), plans.MAX_NOTICE))
    except Invalid as exc:
        return plan_view(year, exc.http_status, error=exc.message, problems=exc.problems)
    return redirect(url_for(".plan_page", year=year, done="notice"), 303)


@bp.post("/plans/<int:year>/publish")
def publish(year: int) -> Response:
    """Publish the draft: the page says who was told and which e-mails failed."""
    year = checked_year(year)
    try:
        notice = text("notice", _("Notice"), plans.MAX_NOTICE) if "notice" in request.form \
            else None
        result = web.reading(lambda repo, user: plans.publish(store(), repo, user, year,
                                                              settings(), notice=notice))
    except Invalid as exc:
        return plan_view(year, exc.http_status, error=exc.message, problems=exc.problems)
    return plan_view(year, outcome=result, outcome_title=_("The plan was published."))


@bp.post("/plans/<int:year>/remind")
def remind(year: int) -> Response:
    year = checked_year(year)
    result = plans.remind(store(), g.staff_user, settings(), year=year)
    return plan_view(year, outcome=result,
                     outcome_title=_("Reminders: %(units)d unit(s), %(tasks)d task(s).",
                                     units=len(result.noticed), tasks=len(result.tasks)))


# the units' pages add their routes to ``bp``
from services.filing import planning_units  # noqa: E402,F401
