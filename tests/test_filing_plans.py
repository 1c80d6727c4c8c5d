"""The filing plan (issue 13, items 1–2, the archivist's side): a year's plan from a template
and from last year's, bad tasks refused with every problem and nothing stored, publication
with real e-mail (the ``smtp`` fixture) and workspace notices, changes after publication
recorded and notified, reminders at most once a week per task. A real site on disk (its
series are real containers of the repository), the real filing store, the real CLI.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from support import AGENTS, ITEM, OTHER_SERIES, SERIES, run_lantai

from repo.config import read_settings
from repo.errors import Conflict, Forbidden, Invalid
from services.filing import plans, units
from services.filing.model import Item, Submission, Task
from services.filing.store import FilingStore

UNITS = ("energy", "ee", "youth")
JAN = dt.datetime(2027, 1, 10, 9, tzinfo=dt.UTC)
TEMPLATE = """
fonds: /xjtu
notice: {zh: "{year}年度归档计划", en: "The {year} filing plan"}
tasks:
  - {category: XS, series: "{fonds}/students", retention: Y, expected: 3, due: 7,
     title: {zh: 毕业生学籍材料, en: Graduates' records}}
  - {category: XZ, series: "{fonds}/admin", retention: D30, expected: 2, due: "02-28",
     title: {zh: 行政发文, en: Outgoing documents}}
topics:
  - key: excellent-engineers
    name: {zh: 卓越工程师计划, en: Excellent Engineers Programme}
    units: [energy, ee]
    tasks:
      - {category: XS, series: "{fonds}/students", retention: Y, expected: 1, due: 12,
         title: {zh: 卓越工程师计划培养方案}}
"""


@pytest.fixture
def store(site) -> FilingStore:
    """Three filing units (corporate bodies of the site); two have a notice address."""
    repo, admin = site.repo, site.admin
    s = FilingStore.open(site.home)
    for code in UNITS:
        repo.create(admin, AGENTS, "corporatebody",
                    {"name": {"zh": f"单位{code}", "en": f"Unit {code}"}}, slug=code)
        units.add_unit(repo, s, admin, f"{AGENTS}/{code}", code,
                       email="" if code == "youth" else f"{code}@units.test")
    yield s
    s.close()


@pytest.fixture
def template(tmp_path: Path) -> plans.Template:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return plans.load_template(path)


def task(**kw) -> Task:
    base = dict(id=0, year=2027, unit="energy", category="XS", series=SERIES, retention="Y",
                title_zh="学籍材料", expected=5, due="2027-06-30")
    return Task(**{**base, **kw})


# ---------------------------------------------------------------------- from a template
def test_a_template_makes_a_plan_for_every_unit(site, store, template):
    made = plans.new_from_template(store, 2027, UNITS, template, repo=site.repo,
                                   user=site.admin)
    # 2 lines × 3 units + the topic's line × its 2 units
    assert len(made) == 8 and all(t.id for t in made)
    assert store.plan(2027).state == "draft"
    assert store.plan(2027).notice == "2027年度归档计划\n\nThe 2027 filing plan"
    mine = store.tasks(2027, unit="energy")
    assert sorted((t.category, t.series, t.retention, t.expected, t.due, t.topic)
                  for t in mine) == [
        ("XS", SERIES, "Y", 1, "2027-12-31", "2027-excellent-engineers"),
        ("XS", SERIES, "Y", 3, "2027-07-31", ""),
        ("XZ", OTHER_SERIES, "D30", 2, "2027-02-28", "")]
    assert [t.id for t in store.topics(2027)] == ["2027-excellent-engineers"]
    assert not store.tasks(2027, unit="youth", topic="2027-excellent-engineers")
    with pytest.raises(Conflict):  # a year has one plan
        plans.new_from_template(store, 2027, UNITS, template)


def test_the_default_template_has_the_issues_topics_and_known_codes():
    t = plans.load_template()
    names = {x.name_zh for x in t.topics}
    assert names == {"卓越工程师计划", "国家级一流课程", "名师名课名教材", "教学杰出贡献奖"}
    topics, tasks = plans.tasks_from_template(2027, ["a", "b"], t)
    assert len(topics) == 4 and len(tasks) == 2 * (len(t.lines) + 4)
    from ontology.profile import vocabulary_codes
    assert {x.category for x in tasks} <= set(vocabulary_codes()["category"])
    assert all(x.due.startswith("2027-") and x.retention in ("Y", "D30", "D10")
               for x in tasks)


def test_a_bad_template_file_is_refused_with_its_problems(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n  - category: XS\n    expected: many\n  - 7\n", encoding="utf-8")
    with pytest.raises(Invalid) as e:
        plans.load_template(bad)
    assert len(e.value.problems) == 2 and "expected is a whole number" in e.value.problems[0]
    bad.write_text("tasks: [\n", encoding="utf-8")
    with pytest.raises(Invalid, match="not a readable YAML"):
        plans.load_template(bad)


# ---------------------------------------------------------------------- from last year
def test_copy_year_moves_due_dates_and_keeps_counts(site, store, template):
    plans.new_from_template(store, 2028, UNITS, template, repo=site.repo, user=site.admin)
    leap = store.tasks(2028, unit="energy")[0]
    leap.due, leap.expected_list = "2028-02-29", ["名册", "成绩单"]
    store.update_task(leap)
    copied = plans.copy_year(store, 2028, 2029, repo=site.repo, user=site.admin)
    assert len(copied) == 6 and not any(t.topic for t in copied)  # topics not copied
    assert not store.topics(2029)
    old = {(t.unit, t.title_zh): t for t in store.tasks(2028) if not t.topic}
    for t in store.tasks(2029):
        before = old[(t.unit, t.title_zh)]
        assert (t.expected, t.expected_list, t.series, t.retention) == (
            before.expected, before.expected_list, before.series, before.retention)
        expected_due = "2029-02-28" if before.due == "2028-02-29" else \
            before.due.replace("2028", "2029")
        assert t.due == expected_due
    assert store.plan(2029).notice == "2029年度归档计划\n\nThe 2029 filing plan"
    with_topics = plans.copy_year(store, 2028, 2030, topics=True)
    assert len(with_topics) == 8
    assert [t.id for t in store.topics(2030)] == ["2030-excellent-engineers"]
    assert {t.topic for t in with_topics} == {"", "2030-excellent-engineers"}


# ---------------------------------------------------------------------- bad tasks
def test_bad_tasks_are_refused_with_every_problem_and_nothing_stored(site, store):
    repo, admin = site.repo, site.admin
    cases = {
        "is not a record category": task(category="ZZ"),
        "retention 'D5'": task(retention="D5"),
        "is not inside 2027": task(due="2028-01-01"),
        "is not a date": task(due="next week"),
        "no such container": task(series="/xjtu/nowhere"),
        "holds category XS, not XZ": task(category="XZ"),
        "items cannot go into it": task(series=AGENTS + "/energy"),
        "an expected count or list is needed": task(expected=0),
        "longer than 200 characters": task(title_zh="档" * 201),
        "no filing unit": task(unit="nobody-here"),
        "no topic": task(topic="2027-none"),
    }
    for needle, bad in cases.items():
        with pytest.raises(Invalid) as e:
            plans.add_task(store, repo, admin, bad)
        assert any(needle in p for p in e.value.problems), (needle, e.value.problems)
    with pytest.raises(Invalid) as e:  # all problems at once
        plans.add_task(store, repo, admin, task(category="ZZ", retention="X", due="2026-01-01"))
    assert len(e.value.problems) >= 3
    assert store.tasks(2027) == []
    # an item is not a container; a file under the right series is
    with pytest.raises(Invalid, match="items cannot go into it"):
        plans.add_task(store, repo, admin, task(series=ITEM))
    ok, _ = plans.add_task(store, repo, admin, task(series="/xjtu/students/register-1957"))
    assert store.task(ok.id).series == "/xjtu/students/register-1957"


def test_a_template_with_one_bad_line_stores_nothing(site, store, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(TEMPLATE.replace("{fonds}/admin", "{fonds}/students"), encoding="utf-8")
    with pytest.raises(Invalid, match="holds category XS, not XZ"):
        plans.new_from_template(store, 2027, UNITS, plans.load_template(path),
                                repo=site.repo, user=site.admin)
    assert store.tasks(2027) == [] and store.topics(2027) == [] and store.plan(2027) is None


def test_only_archivists_plan(site, store, template):
    for name in ("reader", "contributor", "nobody"):
        user = site.user(name)
        with pytest.raises(Forbidden):
            plans.new_from_template(store, 2027, UNITS, template, user=user)
        with pytest.raises(Forbidden):
            plans.add_task(store, site.repo, user, task())
        with pytest.raises(Forbidden):
            plans.publish(store, site.repo, user, 2027, None)
        with pytest.raises(Forbidden):
            plans.remind(store, user, read_settings(site.home), year=2027)
    assert store.tasks(2027) == []


# ---------------------------------------------------------------------- publication
def test_publish_mails_the_units_and_leaves_notices(site, store, template, smtp):
    smtp.configure(site.home)
    settings = read_settings(site.home)
    plans.new_from_template(store, 2027, UNITS, template, repo=site.repo, user=site.admin)
    result = plans.publish(store, site.repo, site.admin, 2027, settings,
                           notice="请按时归档。Please file on time.", now=JAN)
    assert sorted(result.noticed) == sorted(UNITS)
    assert sorted(result.mailed) == ["ee", "energy"] and result.failed == []
    assert store.plan(2027).state == "published"
    assert store.plan(2027).published_at == "2027-01-10T09:00:00Z"
    msg = smtp.wait_for(to="energy@units.test")
    body = msg.get_content()
    assert "2027" in msg["Subject"] and "请按时归档。Please file on time." in body
    assert "毕业生学籍材料" in body and "卓越工程师计划" in body and "2027-07-31" in body
    assert len([m for m in smtp.messages if m["To"] == "ee@units.test"]) == 1
    assert not [m for m in smtp.messages if "youth" in m["To"]]
    for code in UNITS:
        notices = store.notices(code, year=2027)
        assert [n.kind for n in notices] == ["plan"]
        assert "请按时归档" in notices[0].body
    assert "行政发文" in store.notices("youth")[0].body
    assert "卓越工程师" not in store.notices("youth")[0].body  # not one of its tasks
    with pytest.raises(Conflict):
        plans.publish(store, site.repo, site.admin, 2027, settings)


def test_a_mail_that_fails_is_reported_not_fatal(site, store, template):
    from dataclasses import replace

    from support import free_port
    settings = replace(read_settings(site.home), smtp_host="127.0.0.1",
                       smtp_port=free_port())  # nobody listens there
    plans.new_from_template(store, 2027, UNITS, template)
    result = plans.publish(store, site.repo, site.admin, 2027, settings)
    assert sorted(u for u, _ in result.failed) == ["ee", "energy"]
    assert all("did not take the message" in why for _, why in result.failed)
    assert store.plan(2027).state == "published"
    assert all(store.notices(code) for code in UNITS)


def test_changes_after_publication_are_recorded_and_notified(site, store, template, smtp):
    smtp.configure(site.home)
    settings = read_settings(site.home)
    plans.new_from_template(store, 2027, UNITS, template)
    plans.add_task(store, site.repo, site.admin, task(title_zh="草稿时加的任务"))
    assert store.plan_changes(2027) == []  # a draft's edits are not news
    plans.publish(store, site.repo, site.admin, 2027, settings)
    seen = len(smtp.messages)
    t = store.tasks(2027, unit="ee")[0]
    t.expected = 9
    plans.edit_task(store, site.repo, site.admin, t, settings=settings, note="数量调整")
    added, told = plans.add_task(store, site.repo, site.admin,
                                 task(unit="youth", title_zh="补充任务"), settings=settings)
    plans.remove_task(store, site.admin, added.id, settings=settings)
    assert [c.action for c in store.plan_changes(2027)] == [
        "published", "task changed", "task added", "task removed"]
    assert store.plan_changes(2027)[1].unit == "ee" and "数量调整" in \
        store.plan_changes(2027)[1].note
    assert told.noticed == ["youth"] and told.mailed == []  # youth has no address
    msg = smtp.wait_for(to="ee@units.test", after=seen)
    assert "changed" in msg["Subject"] and "expected: 9" in msg.get_content()
    assert [n.kind for n in store.notices("youth", year=2027)] == ["plan", "plan", "plan"]
    with pytest.raises(Conflict):  # the notice went out with the plan
        plans.set_notice(store, site.admin, 2027, "new text")


# ---------------------------------------------------------------------- reminders
def accept(store: FilingStore, t: Task, n: int) -> None:
    sub = store.add_submission(Submission(
        id="", year=t.year, unit=t.unit, task=t.id, channel="form", source="form",
        created="", created_by="officer",
        items=[Item(id=0, submission="", row=k + 1, fields={"title@zh": [f"件{k}"]})
               for k in range(n)]))
    for it in sub.items:
        store.decide(it.id, "accepted", actor="editor")


def test_reminders_go_once_a_week_for_what_is_due_and_incomplete(site, store, smtp):
    smtp.configure(site.home)
    settings = read_settings(site.home)  # filing_reminder_days = 14
    repo, admin = site.repo, site.admin
    soon, _ = plans.add_task(store, repo, admin, task(due="2027-03-20", title_zh="即将到期"))
    late, _ = plans.add_task(store, repo, admin, task(due="2027-02-01", title_zh="已逾期"))
    done, _ = plans.add_task(store, repo, admin, task(due="2027-03-01", expected=2,
                                                      title_zh="已完成"))
    far, _ = plans.add_task(store, repo, admin, task(due="2027-09-30", title_zh="远期"))
    other, _ = plans.add_task(store, repo, admin, task(unit="youth", due="2027-03-10",
                                                       title_zh="共青团任务"))
    accept(store, done, 2)
    accept(store, soon, 4)  # 4 of 5: not complete
    with pytest.raises(Conflict):  # a draft is not reminded of
        plans.remind(store, admin, settings, year=2027, now=JAN)
    plans.publish(store, repo, admin, 2027, settings, now=JAN)
    march = dt.datetime(2027, 3, 8, 8, tzinfo=dt.UTC)
    first = plans.remind(store, admin, settings, now=march)
    assert sorted(first.tasks) == sorted([soon.id, late.id, other.id])
    assert sorted(first.noticed) == ["energy", "youth"] and first.mailed == ["energy"]
    body = store.notices("energy", year=2027)[0].body
    assert "即将到期" in body and "已逾期" in body and "overdue" in body
    assert "4 of 5 accepted" in body
    assert "已完成" not in body and "远期" not in body
    assert "即将到期" in smtp.wait_for(to="energy@units.test",
                                   after=len(smtp.messages) - 1).get_content()
    again = plans.remind(store, admin, settings, now=march + dt.timedelta(days=6, hours=23))
    assert again.tasks == [] and again.noticed == []
    week = plans.remind(store, admin, settings, now=march + dt.timedelta(days=7, hours=1))
    assert sorted(week.tasks) == sorted([soon.id, late.id, other.id])
    reminders = [n for n in store.notices("energy", year=2027) if n.kind == "reminder"]
    assert len(reminders) == 2
    assert far.id not in week.tasks


# ---------------------------------------------------------------------- the CLI
def test_the_cli_makes_shows_publishes_and_reminds(site, store, tmp_path, smtp):
    smtp.configure(site.home)
    (tmp_path / "t.yaml").write_text(TEMPLATE, encoding="utf-8")
    site.close()
    home = site.home
    run_lantai(home, "filing", "plan", "new", "--year", "2027", "--template",
               str(tmp_path / "t.yaml"))
    shown = json.loads(run_lantai(home, "filing", "plan", "show", "--year", "2027",
                                  "--json").stdout)
    assert shown["state"] == "draft" and len(shown["tasks"]) == 8
    assert {t["unit"] for t in shown["tasks"]} == set(UNITS)
    run_lantai(home, "filing", "topics", "add", "--year", "2027", "2027-first-class",
               "国家级一流课程", "--en", "National first-class courses")
    listed = run_lantai(home, "filing", "topics", "list", "--year", "2027").stdout
    assert "2027-first-class" in listed and "卓越工程师计划" in listed
    refused = run_lantai(home, "filing", "plan", "new", "--year", "2027", "--from-year",
                         "2026", check=False)
    assert refused.returncode != 0 and "2026" in refused.stderr
    bad = run_lantai(home, "filing", "plan", "publish", "--year", "2027", user="contributor",
                     check=False)
    assert bad.returncode == 4
    published = run_lantai(home, "filing", "plan", "publish", "--year", "2027")
    assert "3 units" in published.stdout
    smtp.wait_for(to="energy@units.test")
    run_lantai(home, "filing", "plan", "new", "--year", "2028", "--from-year", "2027")
    assert len(FilingStore.open(home).tasks(2028)) == 6
    reminded = run_lantai(home, "filing", "remind", "--year", "2027")
    assert reminded.returncode == 0  # due dates are in 2027: what is due depends on today
    helped = run_lantai(home, "filing", "plan", "new", "--help").stdout
    assert "--template" in helped and "--from-year" in helped


def test_two_publications_at_once_send_one_round_of_notices(site, store, template):
    """Two archivists press "publish" together: one publishes, the other is told it is not a
    draft any more; each unit has one plan notice."""
    import threading

    plans.new_from_template(store, 2027, UNITS, template)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def press() -> None:
        start.wait()
        try:
            plans.publish(store, site.repo, site.admin, 2027, None)
            outcomes.append("published")
        except Conflict:
            outcomes.append("conflict")
    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "published"]
    assert all(len(store.notices(code, year=2027)) == 1 for code in UNITS)


def test_two_reminder_runs_at_once_remind_each_task_once(site, store):
    import threading

    settings = read_settings(site.home)
    for n in range(6):
        plans.add_task(store, site.repo, site.admin,
                       task(unit=UNITS[n % 3], due="2027-03-01", title_zh=f"任务{n}"))
    plans.publish(store, site.repo, site.admin, 2027, None, now=JAN)
    march = dt.datetime(2027, 2, 25, 8, tzinfo=dt.UTC)
    runs: list[list[int]] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        runs.append(plans.remind(store, site.admin, settings, now=march).tasks)
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reminded = [i for r in runs for i in r]
    assert sorted(reminded) == sorted(t.id for t in store.tasks(2027))  # each once
    notices = [n for code in UNITS for n in store.notices(code) if n.kind == "reminder"]
    for n in range(6):  # each task in one reminder notice, not two
        assert len([x for x in notices if f"任务{n}" in x.body]) == 1
