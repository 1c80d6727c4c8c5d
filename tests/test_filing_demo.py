"""The filing loop's and the growth records' demo (issue 13, item 10): departments with a 2026
plan in every state of the loop, and three pilot graduates of 2020 with growth records.

The demo is loaded once into a temporary site (the archive, then the filing demo and the
graduates' accounts, as ``lantai demo`` does) and inspected. The rates' figures below are
worked out by hand from ``services/filing/demo.py``'s SUBMISSIONS, so a change to the demo or to
the counting shows here.
"""

from __future__ import annotations

import datetime as dt
import json

import puremagic
import pytest
from pyoxigraph import NamedNode

from ontology.namespaces import RICO
from repo.demo import canaries, load_demo
from repo.errors import NotFound
from repo.repository import Repository
from services.filing import units as filing_units
from services.filing.demo import SUBMISSIONS, TASKS, TOPIC, UNITS, YEAR, load_demo_filing
from services.filing.model import ITEM_STATES
from services.filing.store import FilingStore
from services.growth.demo import GRADUATES, load_demo_growth
from services.growth.model import STRANDS

BASE = "https://archive.example.edu"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("filing-demo") / "site"
    repo, _ = Repository.init(home, BASE)
    admin = repo.user("admin")
    load_demo(repo, admin)
    filing = load_demo_filing(home, repo, admin)
    growth = load_demo_growth(home, repo, admin)
    store = FilingStore.open(home)
    yield repo, store, filing, growth
    store.close()
    repo.close()


def links(repo: Repository, path: str, field: str) -> set[str]:
    obj = repo.load(repo.resolve(path))
    pred = obj.type.fields[field].path
    return {q.object.value for q in obj.description
            if q.subject.value == obj.iri and q.predicate.value == pred}


# ---------------------------------------------------------------------- units and officers
def test_departments_are_filing_units_with_an_officer_each(site) -> None:
    repo, store, filing, _ = site
    assert {u.code for u in store.units()} == {u.code for u in UNITS}
    for spec in UNITS:
        unit = store.unit(spec.code)
        assert unit.agent == repo.resolve(spec.agent)
        assert repo.load(unit.agent).type_name == "corporatebody"
        assert unit.name_zh  # taken from the corporate body's name
        officer = repo.user(spec.officer)
        assert officer.roles == set()  # the role is scoped: nothing in the tree
        assert [u.code for u in filing_units.units_of(repo, store, officer)] == [spec.code]
        # the password printed once signs in
        assert repo.authenticate(spec.officer, password=filing.passwords[spec.officer])
    energy = store.unit("energy")
    assert energy.name_zh == "能源与动力工程学院"


def test_an_officer_sees_no_other_unit(site) -> None:
    repo, store, _, _ = site
    officer = repo.user("officer-energy")
    filing_units.require_unit(repo, store, officer, "energy")
    from repo.errors import Forbidden

    with pytest.raises(Forbidden):
        filing_units.require_unit(repo, store, officer, "electrical")


# ---------------------------------------------------------------------- the 2026 plan
def test_the_2026_plan_is_published_with_tasks_a_topic_and_notices(site) -> None:
    repo, store, _, _ = site
    plan = store.plan(YEAR)
    assert plan is not None and plan.state == "published" and plan.published_at
    tasks = store.tasks(YEAR)
    assert len(tasks) == len(TASKS)
    for t in tasks:
        series = repo.load(repo.resolve(t.series))  # every target series exists
        assert series.type_name == "series"
        assert t.due.startswith(str(YEAR))
    (topic,) = store.topics(YEAR)
    assert topic.id == TOPIC.id and topic.name_zh == "卓越工程师计划"
    topical = store.tasks(YEAR, topic=TOPIC.id)
    assert len({t.unit for t in topical}) >= 2  # a topic crosses units
    for code in {t.unit for t in tasks}:
        kinds = [n.kind for n in store.notices(code, year=YEAR)]
        assert kinds.count("plan") == 1
        # a rectification notice per item returned to the unit
        assert kinds.count("rectification") == {"energy": 2, "electrical": 2}.get(code, 0)


def test_an_overdue_task_and_a_unit_that_sent_nothing(site) -> None:
    _, store, _, _ = site
    accepted: dict[int, int] = {}
    for sub in store.submissions(year=YEAR):
        for it in sub.items:
            if it.state == "accepted" and sub.task is not None:
                accepted[sub.task] = accepted.get(sub.task, 0) + 1
    cutoff = dt.date(YEAR, 9, 30).isoformat()  # due dates passed by October 2026
    overdue = [t for t in store.tasks(YEAR)
               if t.due <= cutoff and accepted.get(t.id, 0) < t.expected]
    assert {(t.unit, t.due) for t in overdue} == {("energy", "2026-07-15"),
                                                   ("graduate", "2026-09-30")}
    assert not store.submissions(year=YEAR, unit="graduate")


# ---------------------------------------------------------------------- submissions
def test_submissions_in_every_state_of_the_loop(site) -> None:
    _, store, filing, _ = site
    subs = store.submissions(year=YEAR)
    assert sorted(s.id for s in subs) == sorted(filing.submissions)
    assert len(subs) == len(SUBMISSIONS)
    items = [it for s in subs for it in s.items]
    assert {it.state for it in items} == set(ITEM_STATES)
    assert {s.channel for s in subs} == {"form", "spreadsheet"}
    # accepted at first submission; returned, corrected and accepted; returned and open;
    # resubmitted and waiting for the archivist
    assert any(it.state == "accepted" and not it.returned_ever for it in items)
    assert any(it.state == "accepted" and it.returned_ever and it.attempts == 2
               for it in items)
    assert any(it.state == "returned" and it.note for it in items)
    assert any(it.state == "received" and it.attempts == 2 for it in items)
    assert any(it.state == "received" and it.attempts == 1 for it in items)
    for it in items:
        assert it.fields["title@zh"] and it.fields["date"] and it.fields["creator"]
        (f,) = it.files
        kind = {"application/pdf": {".pdf"}, "image/jpeg": {".jpg", ".jfif", ".jpeg"}}
        with store.local_file(f.sha256) as path:  # sealed at rest: a plaintext copy
            assert path.stat().st_size == f.size
            assert puremagic.from_file(str(path)) in kind[f.mime]  # what it claims to be


def test_accepted_items_are_private_records_with_refcode_and_provenance(site) -> None:
    repo, store, _, _ = site
    accepted = [(s, it) for s in store.submissions(year=YEAR) for it in s.items
                if it.state == "accepted"]
    assert len(accepted) == 2
    for sub, it in accepted:
        record = repo.load(it.record)
        assert record is not None and record.state == "private"
        assert not repo.is_public(record.iri)
        assert it.refcode and record.fields(BASE)["refcode"] == [it.refcode]
        assert record.path.startswith(store.task(sub.task).series + "/")
        assert links(repo, record.path, "provenance") == {store.unit(sub.unit).agent}
        (event,) = links(repo, record.path, "event")
        assert repo.load(event).type_name == "event"
        scans = repo.child_iris(record.iri)
        assert len(scans) == 1 and repo.load(scans[0]).type_name == "instantiation"


def test_every_step_is_in_the_history_by_whoever_took_it(site) -> None:
    _, store, _, _ = site
    (sub,) = [s for s in store.submissions(year=YEAR, unit="energy")
              if s.channel == "spreadsheet"]
    steps = [(h.action, h.actor) for h in store.history(sub.id)]
    assert steps[0] == ("submitted", "officer-energy")
    redone = next(it for it in sub.items if it.attempts == 2)
    mine = [(h.action, h.actor) for h in store.history(sub.id) if h.item == redone.id]
    assert mine == [("returned", "admin"), ("resubmitted", "officer-energy"),
                    ("accepted", "admin")]


def test_the_rates_figures_worked_out_by_hand(site) -> None:
    """From SUBMISSIONS: energy's spring JX sent 4 (1 accepted at once, 1 returned, then
    accepted, 2 received), autumn 2 (1 received, 1 returned); the topic 1 received;
    electrical sent 3 (1 returned and resent, 1 received, 1 withdrawn: not counted); the
    League's review 1 received; the graduate school nothing."""
    _, store, _, _ = site
    rows = {(r["unit"], r["category"], r["topic"]): tuple(r)[3:] for r in store.counts(YEAR)}
    # expected, submitted, returned, accepted, accepted_first_time
    assert rows == {
        ("energy", "JX", ""): (9, 6, 2, 2, 1),
        ("energy", "JX", TOPIC.id): (2, 1, 0, 0, 0),
        ("electrical", "JX", ""): (4, 2, 1, 0, 0),
        ("electrical", "JX", TOPIC.id): (1, 0, 0, 0, 0),
        ("league", "DQ", ""): (1, 1, 0, 0, 0),
        ("league", "XS", ""): (3, 0, 0, 0, 0),
        ("graduate", "XS", ""): (3, 0, 0, 0, 0),
    }
    # so the year's filing rate is 2 / 23 and its quality rate 1 / 2: not trivial
    total = [sum(col) for col in zip(*rows.values(), strict=True)]
    assert total == [23, 10, 3, 2, 1]


def test_loading_again_makes_nothing(site) -> None:
    repo, store, _, _ = site
    before = (len(store.submissions(year=YEAR)), len(store.tasks(YEAR)),
              sorted(u.name for u in repo.users()))
    again = load_demo_filing(repo.home, repo, repo.user("admin"))
    grown = load_demo_growth(repo.home, repo, repo.user("admin"))
    assert again.submissions == [] and again.passwords == {} and grown.passwords == {}
    assert (len(store.submissions(year=YEAR)), len(store.tasks(YEAR)),
            sorted(u.name for u in repo.users())) == before


def test_nothing_of_the_loop_is_public(site) -> None:
    repo, store, _, _ = site
    public = " ".join(str(q) for q in repo.public)
    for sub in store.submissions(year=YEAR):
        assert sub.id not in public
        for it in sub.items:
            assert it.fields["title@zh"][0] not in public


# ---------------------------------------------------------------------- the pilot graduates
def test_three_graduates_with_activities_in_every_strand(site) -> None:
    repo, _, _, growth = site
    assert len(GRADUATES) == 3
    strand_base = f"{BASE}/vocab/strand/"
    for grad in GRADUATES:
        person = repo.resolve(grad.person)
        acts = {q.subject.value for q in repo.working.quads_for_pattern(
            None, NamedNode(RICO + "hasOrHadParticipant"), NamedNode(person), None)}
        strands = set()
        for iri in acts:
            act = repo.load(iri)
            assert act.type_name == "activity" and act.access == "personal"
            (strand,) = links(repo, act.path, "strand")
            strands.add(strand.removeprefix(strand_base))
            assert links(repo, act.path, "place")
            assert act.fields(BASE).get("begin")
        assert strands == set(STRANDS), grad.person
        # records documenting them, about the graduate, personal
        records = {q.subject.value for a in acts for q in repo.working.quads_for_pattern(
            None, NamedNode(RICO + "documents"), NamedNode(a), None)}
        assert len(records) >= 4
        shown = {repo.resolve(p) for p in grad.consented}  # opened by her consent
        for iri in records:
            rec = repo.load(iri)
            assert person in links(repo, rec.path, "subject")
            if iri in shown:
                assert rec.access == "open" and repo.is_public(iri)
            else:
                assert rec.access == "personal" and not repo.is_public(iri)
        # the student account is the person, with no site role, password printed once
        user = repo.user(grad.account)
        assert user.roles == set() and user.agent == person
        assert repo.authenticate(grad.account, password=growth.passwords[grad.account])


def test_a_graduate_reads_her_own_growth_record_only(site) -> None:
    repo, _, _, _ = site
    fang, su = repo.user("fangjiayi"), repo.user("sumingzhe")
    repo.get(fang, "/events/growth/fang-party-2019")
    repo.get(fang, "/xjtu/xs/growth/fang-party-2019")
    for other in ("/events/growth/su-party-2018", "/xjtu/xs/growth/su-party-2018",
                  "/xjtu/xs/transcripts/transcript-2019001"):
        with pytest.raises(NotFound):
            repo.get(fang, other)
    with pytest.raises(NotFound):
        repo.get(su, "/xjtu/xs/growth/fang-scholarship-2018")


def test_the_graduates_canaries_are_in_the_working_store_only(site) -> None:
    repo, _, _, _ = site
    growth = [c for c in canaries() if c.startswith(("CANARY-GROWTH-", "CANARY-GRADSTU-"))]
    assert len(growth) == 3 + 12 + 12
    working = " ".join(str(q.object) for q in repo.working)
    public = " ".join(str(q) for q in repo.public)
    for c in growth:
        assert c in working and c not in public, c


def test_one_graduate_shows_three_items_with_her_consent(site) -> None:
    """方嘉怡's three records are public and featured in the growth section of the student
    exhibit, by her own consent; her Party record, her activities and the other graduates'
    records stay closed (and no canary is public: the test above)."""
    from services.growth.consent import ConsentStore

    repo, _, _, growth = site
    (fang,) = [g for g in GRADUATES if g.consented]
    assert len(fang.consented) == 3 and growth.consented == list(fang.consented)
    section = repo.load(repo.resolve(repo.settings.growth_exhibit_section))
    assert section.type_name == "section" and repo.is_public(section.iri)
    featured = links(repo, section.path, "feature")
    for path in fang.consented:
        iri = repo.resolve(path)
        assert repo.is_public(iri) and iri in featured
    for path in ("/xjtu/xs/growth/fang-party-2019", "/events/growth/fang-research-2019",
                 "/agents/fang-jiayi", "/xjtu/xs/growth/su-paper-2019"):
        assert not repo.is_public(repo.resolve(path)), path
    store = ConsentStore.open(repo.home)
    try:
        given = store.consents(repo.resolve(fang.person))
    finally:
        store.close()
    assert sorted(c.record for c in given) == sorted(repo.resolve(p) for p in fang.consented)
    assert all(c.active and c.given_by == fang.account and c.scope == "exhibit"
               for c in given)


# ---------------------------------------------------------------------- the contract
@pytest.mark.slow
def test_lantai_filing_report_on_the_demo(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The issue's contract on the real executable: ``lantai demo`` then ``lantai filing
    report --year 2026 --json`` gives the figures worked out above, per unit and category,
    with the rates and the totals; the officers' and students' passwords are printed once."""
    from support import free_port, run_lantai

    home = tmp_path_factory.mktemp("filing-demo-cli") / "site"
    run_lantai(home, "init", "--base", f"http://127.0.0.1:{free_port()}")
    made = run_lantai(home, "demo", timeout=300).stdout
    assert f"{len(SUBMISSIONS)} demo filing submission(s) made" in made
    for name in [u.officer for u in UNITS] + [g.account for g in GRADUATES]:
        assert f"Demo account {name}, password (shown once): " in made
    report = json.loads(run_lantai(home, "filing", "report", "--year", str(YEAR), "--json",
                                   "--today", "2026-12-07").stdout)
    got = {(u["unit"], c["category"]): c for u in report["units"] for c in u["categories"]}
    assert {k: (c["expected"], c["submitted"], c["returned"], c["accepted"],
                c["accepted_first_time"]) for k, c in got.items()} == {
        ("energy", "JX"): (11, 7, 2, 2, 1), ("electrical", "JX"): (5, 2, 1, 0, 0),
        ("league", "DQ"): (1, 1, 0, 0, 0), ("league", "XS"): (3, 0, 0, 0, 0),
        ("graduate", "XS"): (3, 0, 0, 0, 0)}
    assert got[("energy", "JX")]["filing_rate"] == pytest.approx(2 / 11)
    assert got[("energy", "JX")]["quality_rate"] == pytest.approx(1 / 2)
    assert got[("electrical", "JX")]["quality_rate"] is None  # nothing accepted: no rate
    totals = report["totals"]
    assert (totals["expected"], totals["accepted"], totals["accepted_first_time"]) == (23, 2, 1)
    assert totals["filing_rate"] == pytest.approx(2 / 23)
    # by 7 December: the spring term's, the Graduate School's and the topic's tasks
    assert {(o["unit"], o["due"]) for o in report["overdue"]} == {
        ("energy", "2026-07-15"), ("graduate", "2026-09-30"), ("energy", "2026-11-30"),
        ("electrical", "2026-11-30")}
    again = run_lantai(home, "demo", timeout=300).stdout
    assert "0 demo filing submission(s) made" in again and "password" not in again
