"""``lantai filing …``: the filing loop from the command line.

Imports only :mod:`repo.cli_support` (like every command module) and this package.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from repo.cli_support import (
    Context,
    command,
    echo_json,
    err,
    one_line,
    out,
    progress_bar,
    warn,
)
from repo.config import read_settings
from repo.errors import Invalid, LantaiError, NotFound
from services.filing import plans, units
from services.filing.model import Topic
from services.filing.store import FilingStore


@click.group("filing")
def filing_group() -> None:
    """The yearly filing loop (归档): units, plans, submissions, review, rates, report."""


def store_of(ctx: Context) -> FilingStore:
    return FilingStore.open(ctx.home)


@filing_group.group("units")
def units_group() -> None:
    """Filing units (departments: corporate bodies of the repository) and their officers."""


@units_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@command
def units_list(ctx: Context, as_json: bool) -> None:
    """List the filing units: code, name, corporate body, notice address."""
    for u in store_of(ctx).units():
        if as_json:
            sys.stdout.write(json.dumps(u.__dict__, ensure_ascii=False) + "\n")
        else:
            out.print(f"{u.code:<16} {u.name_zh}  {u.name_en}  {u.agent}  {u.email}",
                      markup=False)


@units_group.command("add")
@click.argument("agent")
@click.argument("code")
@click.option("--email", default="", help="Where the unit's notices are e-mailed.")
@command
def units_add(ctx: Context, agent: str, code: str, email: str) -> None:
    """Mark the corporate body AGENT (a path or IRI) as the filing unit CODE."""
    unit = units.add_unit(ctx.repo, store_of(ctx), ctx.user, agent, code, email=email)
    out.print(f"{unit.code}: {unit.name_zh} ({unit.agent}) files into the archive",
              markup=False)


@units_group.command("appoint")
@click.argument("user")
@click.argument("code")
@command
def units_appoint(ctx: Context, user: str, code: str) -> None:
    """Make the account USER a filing officer of the unit CODE (Managers)."""
    units.appoint(ctx.repo, store_of(ctx), ctx.user, user, code)
    out.print(f"{user} files for {code}", markup=False)


# ---------------------------------------------------------------------- the year's plan
@filing_group.group("plan")
def plan_group() -> None:
    """A year's filing plan: made from a template or last year's, shown, published."""


@plan_group.command("new")
@click.option("--year", type=click.IntRange(1896, 2200), required=True,
              help="The plan's year.")
@click.option("--template", "template_path", type=click.Path(dir_okay=False),
              help="A plan template (YAML); the built-in one if neither this nor "
                   "--from-year is given.")
@click.option("--from-year", type=click.IntRange(1896, 2200),
              help="Copy that year's plan instead (due dates moved, expected counts kept).")
@click.option("--unit", "unit_codes", multiple=True,
              help="With a template: only this unit (repeatable); every unit otherwise.")
@click.option("--topics/--no-topics", default=None,
              help="Make the special topics and their tasks too (default: yes from a "
                   "template, no from another year).")
@command
def plan_new(ctx: Context, year: int, template_path: str | None, from_year: int | None,
             unit_codes: tuple[str, ...], topics: bool | None) -> None:
    """Make the YEAR's draft plan from a template or from another year's plan.

    Every task is checked (category, series, retention, due date inside the year); one bad
    task refuses the whole plan and nothing is stored."""
    store = store_of(ctx)
    if template_path and from_year:
        raise click.UsageError("--template or --from-year, not both")
    if from_year:
        if unit_codes:
            raise click.UsageError("--unit goes with a template, not --from-year")
        made = plans.copy_year(store, from_year, year, topics=bool(topics), repo=ctx.repo,
                               user=ctx.user)
        source = f"the {from_year} plan"
    else:
        template = plans.load_template(template_path)
        chosen = [store.unit(c).code for c in unit_codes] or [u.code for u in store.units()]
        made = plans.new_from_template(store, year, chosen, template,
                                       topics=topics is not False, repo=ctx.repo,
                                       user=ctx.user)
        source = template_path or "the built-in template"
    out.print(f"{year}: a draft plan of {len(made)} tasks for "
              f"{len({t.unit for t in made})} unit(s) from {source}", markup=False)


@plan_group.command("show")
@click.option("--year", type=click.IntRange(1896, 2200), required=True)
@click.option("--json", "as_json", is_flag=True, help="The plan as one JSON object.")
@command
def plan_show(ctx: Context, year: int, as_json: bool) -> None:
    """Show the YEAR's plan: its state, topics and tasks (with what was accepted)."""
    store = store_of(ctx)
    plan = store.plan(year)
    if plan is None:
        raise NotFound(f"no plan for {year} (`lantai filing plan new --year {year}`)")
    tasks, progress = store.tasks(year), store.task_progress(year)
    if as_json:
        sys.stdout.write(json.dumps({
            **plan.__dict__, "topics": [t.__dict__ for t in store.topics(year)],
            "tasks": [{**t.__dict__, "submitted": progress.get(t.id, (0, 0))[0],
                       "accepted": progress.get(t.id, (0, 0))[1]} for t in tasks],
            "changes": [c.__dict__ for c in store.plan_changes(year)]},
            ensure_ascii=False, indent=1) + "\n")
        return
    out.print(f"{year}: {plan.state} {plan.published_at}  {len(tasks)} tasks", markup=False)
    for topic in store.topics(year):
        out.print(f"  topic {topic.id}: {topic.name_zh} {topic.name_en}", markup=False)
    for t in tasks:
        got = progress.get(t.id, (0, 0))[1]
        out.print(f"  #{t.id:<5} {t.unit:<12} {t.category} {t.retention:<3} due {t.due} "
                  f"{got}/{plans.needed(t)}  {t.title_zh}  → {t.series}"
                  + (f"  [{t.topic}]" if t.topic else ""), markup=False)


@plan_group.command("publish")
@click.option("--year", type=click.IntRange(1896, 2200), required=True)
@click.option("--notice", default=None, help="The text sent with the plan (else the one "
              "the plan has).")
@command
def plan_publish(ctx: Context, year: int, notice: str | None) -> None:
    """Publish the YEAR's draft plan: a notice to every unit with tasks, in the workspace
    and by e-mail to units with an address (mail that fails is reported, not fatal)."""
    result = plans.publish(store_of(ctx), ctx.repo, ctx.user, year, read_settings(ctx.home),
                           notice=notice)
    out.print(f"{year}: published; notices to {len(result.noticed)} units, e-mail to "
              f"{len(result.mailed)}", markup=False)
    for code, why in result.failed:
        warn(f"no e-mail to {code}: {why}")


# ---------------------------------------------------------------------- topics, reminders
@filing_group.group("topics")
def topics_group() -> None:
    """Special topics (专题) of a year: their tasks gather expected material across units."""


@topics_group.command("add")
@click.option("--year", type=click.IntRange(1896, 2200), required=True)
@click.argument("topic_id")
@click.argument("name_zh")
@click.option("--en", "name_en", default="", help="The English name.")
@click.option("--note", default="", help="What the topic gathers.")
@command
def topics_add(ctx: Context, year: int, topic_id: str, name_zh: str, name_en: str,
               note: str) -> None:
    """Add the topic TOPIC_ID (e.g. 2027-first-class-courses) named NAME_ZH to YEAR."""
    plans.add_topic(store_of(ctx), ctx.user, Topic(id=topic_id, year=year, name_zh=name_zh,
                                                   name_en=name_en, note=note))
    out.print(f"{year}: topic {topic_id} ({name_zh})", markup=False)


@topics_group.command("list")
@click.option("--year", type=click.IntRange(1896, 2200), default=None)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@command
def topics_list(ctx: Context, year: int | None, as_json: bool) -> None:
    """List the topics (of one year with --year)."""
    for t in store_of(ctx).topics(year):
        if as_json:
            sys.stdout.write(json.dumps(t.__dict__, ensure_ascii=False) + "\n")
        else:
            out.print(f"{t.year} {t.id:<36} {t.name_zh}  {t.name_en}", markup=False)


@filing_group.command("remind")
@click.option("--year", type=click.IntRange(1896, 2200), default=None,
              help="The plan's year (this year's by default).")
@command
def remind(ctx: Context, year: int | None) -> None:
    """Remind units of tasks due within filing_reminder_days or overdue and not complete
    (a notice, and e-mail to units with an address); a task at most once a week."""
    result = plans.remind(store_of(ctx), ctx.user, read_settings(ctx.home), year=year)
    out.print(f"reminded {len(result.noticed)} units of {len(result.tasks)} tasks",
              markup=False)
    for code, why in result.failed:
        warn(f"no e-mail to {code}: {why}")


@filing_group.command("report")
@click.option("--year", type=click.IntRange(1900, 9999), required=True,
              help="The plan's year (the year of the submissions counted).")
@click.option("--json", "as_json", is_flag=True,
              help="The figures as one JSON object (docs/filing.md: the shape).")
@click.option("--xlsx", "xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the year-end report as an XLSX workbook to this file.")
@click.option("--pdf", "pdf", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the year-end report as a PDF (A4 landscape) to this file.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="The language of the XLSX and PDF report.")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Judge overdue tasks as on this day (default: today, UTC).")
@command
def report_cmd(ctx: Context, year: int, as_json: bool, xlsx: Path | None, pdf: Path | None,
               lang: str, today: dt.datetime | None) -> None:
    """Progress and rates of YEAR per filing unit and category (expected, submitted,
    returned, accepted, accepted first time, filing rate, quality rate), the totals and the
    overdue tasks; with --xlsx/--pdf, the year-end report with the rectification list.
    Archivists see every unit, a filing officer their own units."""
    from services.filing import rates, report

    store = store_of(ctx)
    scope = report.scope(ctx.repo, store, ctx.user)
    table = rates.table(store, year, units=scope, today=today.date() if today else None)
    if xlsx is not None or pdf is not None:
        content = report.gather(store, table, lang=lang, units=scope)
        for path, make in ((xlsx, report.to_xlsx), (pdf, report.to_pdf)):
            if path is not None:
                write_file(path, make(content))
                err.print(f"wrote {path}", markup=False)
    if as_json:
        echo_json(table.as_json(), indent=1)
        return
    for line in report.text_lines(table):
        out.print(line, markup=False)


def write_file(path: Path, data: bytes) -> None:
    """Write a report whole (a temporary file renamed), so a reader never sees half."""
    from repo.durable import write_atomically

    write_atomically(path, data)


# ---------------------------------------------------------------------- review (archivists)
@filing_group.command("accept")
@click.argument("items", nargs=-1, type=click.IntRange(1))
@click.option("--all", "submission", default=None, metavar="SUB",
              help="Every received item of the submission SUB.")
@click.option("--as", "type_name", type=click.Choice(["item", "file"]), default="item",
              show_default=True, help="What each accepted item becomes in the tree.")
@click.option("--json", "as_json", is_flag=True, help="The items as one JSON object.")
@command
def accept_cmd(ctx: Context, items: tuple[int, ...], submission: str | None, type_name: str,
               as_json: bool) -> None:
    """Accept received ITEMS (or --all of a submission) into the tree: a private record
    under the task's series with its 档号, provenance and accession event, files attached.
    Each item is all or nothing; exits non-zero if any was not accepted."""
    from services.filing import review

    if bool(items) == bool(submission):
        raise click.UsageError("give item numbers or --all SUB (one of them)")
    store = store_of(ctx)
    result = review.BulkResult()
    if submission:
        result = review.accept_all(store, ctx.repo, ctx.user, submission, type_name=type_name)
    for item_id in items:
        try:
            result.accepted.append(review.accept(store, ctx.repo, ctx.user, item_id,
                                                 type_name=type_name))
        except LantaiError as exc:
            result.failed.append((item_id, exc.message))
    if as_json:
        echo_json({"accepted": [{"item": i.id, "record": i.record, "refcode": i.refcode}
                                for i in result.accepted],
                   "failed": [{"item": i, "message": m} for i, m in result.failed]}, indent=1)
    else:
        for i in result.accepted:
            out.print(f"item {i.id}: accepted as {i.refcode}  {i.record}", markup=False)
        for item_id, message in result.failed:
            err.print(f"item {item_id}: {one_line(message)}", markup=False)
    if result.failed:
        sys.exit(1)


@filing_group.command("return")
@click.argument("item", type=click.IntRange(1))
@click.option("--note", required=True, help="What the unit must correct (sent to it).")
@command
def return_cmd(ctx: Context, item: int, note: str) -> None:
    """Return a received ITEM to its unit with a rectification note (a notice in the
    workspace, and an e-mail when the unit has an address)."""
    from services.filing import review

    problems: list[str] = []
    done = review.return_item(store_of(ctx), ctx.repo, ctx.user, item, note,
                              problems=problems)
    for why in problems:
        warn(f"no e-mail to the unit: {why}")
    out.print(f"item {done.id}: returned", markup=False)


@filing_group.command("history")
@click.argument("submission")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per step.")
@command
def history_cmd(ctx: Context, submission: str, as_json: bool) -> None:
    """Every step of a SUBMISSION: when, who, what, which item, the note. Archivists and
    the unit's officers."""
    store = store_of(ctx)
    sub = store.submission(submission)
    units.require_unit(ctx.repo, store, ctx.user, sub.unit)
    rows = {i.id: i.row for i in sub.items}
    for step in store.history(sub.id):
        if as_json:
            sys.stdout.write(json.dumps({**step.__dict__, "row": rows.get(step.item or 0)},
                                        ensure_ascii=False) + "\n")
        else:
            row = f"row {rows[step.item]}" if step.item in rows else "-"
            out.print(f"{step.at}  {step.actor:<16} {step.action:<12} {row:<8} "
                      f"{one_line(step.note) if step.note else ''}", markup=False)
@filing_group.command("submit")
@click.argument("unit")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--task", "task_id", type=int, default=None,
              help="The plan's task these items are filed for (its category applies).")
@click.option("--year", type=int, default=None, help="The filing year (default: the task's, "
              "or this year).")
@click.option("--files", "files", type=click.Path(exists=True, path_type=Path), default=None,
              help="A folder or ZIP holding the files a spreadsheet names (default: beside it).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: rows and submission.")
@command
def submit(ctx: Context, unit: str, file: Path, task_id: int | None, year: int | None,
           files: Path | None, as_json: bool) -> None:
    """File items of the unit UNIT: FILE is a spreadsheet (.xlsx, .csv) with its files, a
    BagIt bag folder, or a ZIP of either. Answers per row; any refused row stores nothing
    and exits non-zero."""
    from services.filing import intake

    def run(progress: intake.Progress | None) -> intake.IntakeResult:
        return intake.read_upload(store_of(ctx), ctx.repo, ctx.user, unit, file,
                                  task_id=task_id, year=year, files=files, progress=progress)

    units.require_unit(ctx.repo, store_of(ctx), ctx.user, unit)  # before any bar is drawn
    if as_json:  # stdout and stderr for programs: no bar
        result = run(None)
    else:
        with progress_bar(file.name) as bar:
            job = bar.add_task("check", total=None)
            result = run(lambda what, done, total: bar.update(job, completed=done,
                                                              total=total))
    if as_json:
        echo_json(result.as_json())
    else:
        for problem in result.problems:
            out.print(problem, markup=False)
        for row in result.rows:
            text = "ok" if row.ok else "; ".join(row.messages)
            out.print(f"row {row.row}: {text}", markup=False)
        if result.submission is not None:
            sub = result.submission
            out.print(f"{sub.id}: {len(sub.items)} item(s) received for {sub.unit}",
                      markup=False)
    if result.submission is None:
        raise Invalid(result.reason)
