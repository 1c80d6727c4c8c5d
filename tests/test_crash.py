"""A crash in the middle of a write: the site is as before the write, or the write is finished.

Each test closes the site, runs a write in a new interpreter with one step of the commit
replaced by ``os._exit(1)`` (a crash: no clean-up, no flush, no finally), then opens the site
again in this process and checks what the next open (``Repository.recover``) made of it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from pyoxigraph import NamedNode
from support import FILE, FONDS, ITEM, dump, read_only_snapshot, run_python

SCRIPT = """
import datetime as dt, os, sys
sys.path.insert(0, {tests!r})
from support import Clock
import repo.repository as R
from repo.repository import NewObject, Repository
repo = Repository.open({home!r}, clock=Clock(dt.datetime.fromisoformat({start!r})), wait=5)
admin = repo.user("admin")

def crash(where):
    print("CRASHED", where, file=sys.stderr, flush=True)
    os._exit(1)

{patch}
{action}
print("NO CRASH", flush=True)
"""

PATCH_BEFORE_WORKING_WRITE = """
real_apply = R.apply_update
def apply_update(store, removed, added):
    if store is repo.working:
        crash("before the working store was written")
    return real_apply(store, removed, added)
R.apply_update = apply_update
"""

PATCH_AFTER_WORKING_WRITE = """
calls = []
from repo.projection import Publication  # the part that projects
real_project = Publication.project
def project(self, iri):
    calls.append(iri)
    if len(calls) > {allow}:
        crash("while projecting to the publication dataset")
    return real_project(self, iri)
Publication.project = project
"""

PATCH_BULK = """
import repo.ingest as ingest_module  # the bulk path lives there
real_bulk = ingest_module.bulk_add
bulk_calls = []
def bulk_add(store, text):
    bulk_calls.append(store)
    if len(bulk_calls) == {crash_on_call}:
        lines = text.splitlines()
        real_bulk(store, "\\n".join(lines[: len(lines) // 2]))  # part of the batch is written
        store.flush()
        crash("in the middle of a bulk write")
    return real_bulk(store, text)
ingest_module.bulk_add = bulk_add
"""


def crash_run(site, patch: str, action: str) -> tuple[list[str], list[str]]:
    """Close the site, crash a write in another process, reopen the site here.

    Returns the stores as the crash left them (read before recovery ran)."""
    site.close()
    script = SCRIPT.format(tests=str(Path(__file__).parent), home=str(site.home),
                           start=site.clock.now.isoformat(),
                           patch=textwrap.dedent(patch), action=textwrap.dedent(action))
    proc = run_python(script)
    assert "CRASHED" in proc.stderr, proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert list((site.home / "journal").iterdir()), "the crash left its journal entry"
    left = read_only_snapshot(site.home)
    site.clock.advance(minutes=5)  # the other process read this clock too
    site.reopen()
    assert not list((site.home / "journal").iterdir()), "recovery leaves no journal entry"
    return left


def assert_publication_is_a_rebuild(site) -> None:
    before = dump(site.repo.public)
    site.repo.rebuild_publication()
    assert dump(site.repo.public) == before


def test_crash_before_the_working_write_leaves_everything_as_before(site):
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    before = site.snapshot()
    crash_run(site, PATCH_BEFORE_WORKING_WRITE,
              'repo.edit(admin, "/xjtu/students/register-1957/page-1", '
              'set={"title@en": "Never written"})')
    assert site.snapshot() == before
    # and the site works on
    site.repo.edit(site.admin, ITEM, set={"title@en": "Written after the crash"})


def test_crash_before_a_create_leaves_no_trace_and_the_key_stays_free(site):
    before = site.snapshot()
    crash_run(site, PATCH_BEFORE_WORKING_WRITE,
              'repo.create(admin, "/xjtu/students/register-1957", "item", '
              '{"title": {"zh": "新件", "en": "New"}}, key="lost", slug="lost")')
    assert site.snapshot() == before
    obj = site.repo.create(site.admin, FILE, "item", {"title": {"zh": "新件", "en": "New"}},
                           key="lost", slug="lost")
    assert obj.path == FILE + "/lost"


def test_crash_after_the_working_write_is_finished_on_the_next_open(site):
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    before = site.snapshot()
    left = crash_run(site, PATCH_AFTER_WORKING_WRITE.format(allow=0),
                     'repo.edit(admin, "/xjtu/students/register-1957/page-1", '
                     'set={"title@en": "Written before the crash"})')
    assert left[0] != before[0] and left[1] == before[1]  # working written, publication not
    obj = site.repo.load(site.iris[ITEM])
    assert ("Written before the crash", "en") in obj.fields()["title"]
    assert site.repo.history(site.admin, ITEM)[-1].action == "edit"
    public_titles = {q.object.value for q in site.repo.public.quads_for_pattern(
        NamedNode(site.iris[ITEM]), None, None)}
    assert "Written before the crash" in public_titles  # recovery projected it
    assert_publication_is_a_rebuild(site)


def test_crash_half_way_through_projecting_a_recursive_change(site):
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    assert len({q.graph_name for q in site.repo.public}) == 5  # fonds, 2 series, file, item
    crash_run(site, PATCH_AFTER_WORKING_WRITE.format(allow=2),
              'repo.transition(admin, "/xjtu", "withdraw", recursive=True)')
    states = {site.repo.load(iri).state for path, iri in site.iris.items()
              if path.startswith(FONDS)}
    assert states == {"private"}
    assert dump(site.repo.public) == []
    assert_publication_is_a_rebuild(site)


def ingest_action(n: int, state: str = "private", batch_size: int = 5000) -> str:
    return f"""
    specs = [NewObject("/xjtu/students/register-1957", "item",
                       {{"title": {{"zh": f"第{{i}}件", "en": f"Item {{i}}"}}, "begin": "1957"}},
                       slug=f"bulk-{{i}}", key=f"bulk-{{i}}", state={state!r})
             for i in range({n})]
    repo.ingest(admin, specs, message="bulk test", batch_size={batch_size})
    """


def assert_no_trace_of_the_ingest(site, before) -> None:
    assert site.snapshot() == before
    assert "bulk-" not in "\n".join(dump(site.repo.working))
    assert [k.path for k in site.repo.children(site.admin, FILE)] == [ITEM]


def test_crash_in_the_middle_of_an_ingest_batch_leaves_none_of_it(site):
    before = site.snapshot()
    left = crash_run(site, PATCH_BULK.format(crash_on_call=1), ingest_action(40))
    assert "bulk-" in "\n".join(left[0])  # the crash left part of the batch behind
    assert_no_trace_of_the_ingest(site, before)


def test_crash_in_a_later_batch_rolls_back_the_earlier_ones_too(site):
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    before = site.snapshot()
    # bulk writes: batch 1 working, batch 1 publication, batch 2 working ← crash
    left = crash_run(site, PATCH_BULK.format(crash_on_call=3),
                     ingest_action(30, "published", batch_size=10))
    assert "bulk-0>" in "\n".join(left[0]) and "bulk-0>" in "\n".join(left[1])
    assert_no_trace_of_the_ingest(site, before)


def test_crash_after_a_batch_was_written_but_before_the_ingest_completed(site):
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    before = site.snapshot()
    # the one batch: working store written (with its changeset), crash in the public write
    crash_run(site, PATCH_BULK.format(crash_on_call=2), ingest_action(20, "published"))
    assert_no_trace_of_the_ingest(site, before)


def test_an_ingest_that_completed_is_all_there(site):
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    site.close()
    script = SCRIPT.format(tests=str(Path(__file__).parent), home=str(site.home),
                           start=site.clock.now.isoformat(), patch="",
                           action=textwrap.dedent(ingest_action(25, "published", 10)))
    proc = run_python(script)
    assert "NO CRASH" in proc.stdout, proc.stderr
    site.clock.advance(minutes=5)
    site.reopen()
    kids = site.repo.children(site.admin, FILE)
    assert len(kids) == 26 and {k.state for k in kids} == {"published"}
    assert {k.iri for k in kids} <= {q.graph_name.value for q in site.repo.public}
    assert_publication_is_a_rebuild(site)


RECOVERY_CRASH = """
import datetime as dt, os, sys
sys.path.insert(0, {tests!r})
from support import Clock
from repo.repository import Repository
from repo.projection import Publication  # the part that projects
real_project = Publication.project
def project(self, iri):
    print("CRASHED during recovery", file=sys.stderr, flush=True)
    os._exit(1)
Publication.project = project
Repository.open({home!r}, clock=Clock(dt.datetime.fromisoformat({start!r})), wait=5)
print("NO CRASH", flush=True)
"""


def test_a_crash_during_recovery_is_recovered_next_time(site):
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    crash_args = {"tests": str(Path(__file__).parent), "home": str(site.home)}
    site.close()
    first = run_python(SCRIPT.format(
        **crash_args, start=site.clock.now.isoformat(),
        patch=PATCH_AFTER_WORKING_WRITE.format(allow=0),
        action='repo.transition(admin, "/xjtu/students", "withdraw", recursive=True)'))
    assert "CRASHED" in first.stderr and first.returncode == 1
    site.clock.advance(minutes=5)
    second = run_python(RECOVERY_CRASH.format(**crash_args, start=site.clock.now.isoformat()))
    assert "CRASHED during recovery" in second.stderr and second.returncode == 1
    site.clock.advance(minutes=5)
    site.reopen()
    assert not list((site.home / "journal").iterdir())
    assert {q.graph_name.value for q in site.repo.public} == {
        site.iris[FONDS], site.iris["/xjtu/admin"]}
    assert_publication_is_a_rebuild(site)


PATCH_REBUILD = """
from repo.projection import Publication
real_project = Publication.project
projected = []
def project(self, iri):
    projected.append(iri)
    if len(projected) > 3:
        crash("half-way through publish --rebuild")
    return real_project(self, iri)
Publication.project = project
"""


def test_a_rebuild_killed_half_way_is_run_again_on_the_next_open(site):
    """The rebuild empties the publication first: a kill half-way left most public records
    out of it, and the next open did not notice (found by tests/test_crash_safety.py)."""
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    before = site.snapshot()
    left = crash_run(site, PATCH_REBUILD, "repo.rebuild_publication()")
    assert len(left[1]) < len(before[1])  # the kill left a publication missing records
    assert site.snapshot() == before
    assert_publication_is_a_rebuild(site)
