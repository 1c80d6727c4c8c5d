"""Two writers: the second of two edits from the same revision is a conflict, never a lost
update; only one process holds a site for writing, and a second one is told so clearly."""

from __future__ import annotations

import threading
import time

import pytest
from support import ITEM, run_python

from repo.errors import Conflict


def titles_en(site) -> set[str]:
    return {t for t, lang in site.repo.load(site.iris[ITEM]).fields()["title"] if lang == "en"}


def test_second_writer_from_the_same_revision_gets_a_conflict(site):
    repo = site.repo
    site.repo.add_user(site.admin, "wang", roles=["Editor"])
    alice, bob = site.role("Editor"), site.user("wang")
    rev = repo.get(alice, ITEM).revision
    assert repo.get(bob, ITEM).revision == rev  # both read the same revision
    repo.edit(alice, ITEM, set={"title@en": "Alice's title"}, expected_revision=rev)
    before = site.snapshot()
    with pytest.raises(Conflict) as info:
        repo.edit(bob, ITEM, set={"scope@en": "Bob's scope"}, expected_revision=rev)
    assert str(rev) in info.value.message and info.value.exit_code == 6
    assert site.snapshot() == before  # Bob's change is not applied
    # Bob reloads and edits again: both changes are there
    now = repo.get(bob, ITEM)
    assert now.revision == rev + 1 and titles_en(site) == {"Alice's title"}
    repo.edit(bob, ITEM, set={"scope@en": "Bob's scope"}, expected_revision=now.revision)
    fields = repo.load(site.iris[ITEM]).fields()
    assert ("Alice's title", "en") in fields["title"]
    assert ("Bob's scope", "en") in fields["scope"]
    assert [r.author for r in repo.history(alice, ITEM)][-2:] == ["editor", "wang"]


def test_threads_racing_with_the_same_expected_revision_exactly_one_wins(site):
    repo = site.repo
    rev = repo.load(site.iris[ITEM]).revision
    editor = site.role("Editor")
    n = 8
    barrier = threading.Barrier(n)
    results: dict[int, object] = {}

    def writer(i: int) -> None:
        barrier.wait()
        try:
            repo.edit(editor, ITEM, set={"title@en": f"Title from thread {i}"},
                      expected_revision=rev)
            results[i] = "won"
        except Conflict as exc:
            results[i] = exc
        except Exception as exc:  # anything else is a failure of the test
            results[i] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [i for i, r in results.items() if r == "won"]
    assert len(results) == n
    assert len(winners) == 1, results
    assert all(isinstance(r, Conflict) for i, r in results.items() if i not in winners)
    assert titles_en(site) == {f"Title from thread {winners[0]}"}
    assert repo.load(site.iris[ITEM]).revision == rev + 1
    assert len(repo.history(editor, ITEM)) == rev + 1


def test_threads_adding_values_lose_nothing(site):
    """Without expected_revision, concurrent read-modify-write of different values: all kept."""
    repo, editor = site.repo, site.role("Editor")
    rev = repo.load(site.iris[ITEM]).revision
    languages = ["fr", "de", "es", "it", "nl", "pt"]
    barrier = threading.Barrier(len(languages))
    errors = []

    def writer(lang: str) -> None:
        barrier.wait()
        try:
            repo.edit(editor, ITEM, set={f"scope@{lang}": f"Scope text ({lang})"})
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(lang,)) for lang in languages]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    scopes = dict((lang, t) for t, lang in repo.load(site.iris[ITEM]).fields()["scope"])
    assert set(scopes) == set(languages)
    assert repo.load(site.iris[ITEM]).revision == rev + len(languages)


OPEN_SCRIPT = """
import sys, time
from repo.errors import Busy
from repo.repository import Repository
t = time.monotonic()
try:
    repo = Repository.open({home!r}, wait={wait})
except Busy as exc:
    print("BUSY", round(time.monotonic() - t, 2), exc.exit_code, exc.message, sep="\\t")
    sys.exit(0)
print("OPENED", len(repo.users()), sep="\\t")
"""


def test_a_second_process_gets_a_clear_busy_error(site):
    started = time.monotonic()
    proc = run_python(OPEN_SCRIPT.format(home=str(site.home), wait=0.5))
    assert proc.returncode == 0, proc.stderr
    kind, waited, code, message = proc.stdout.strip().split("\t")
    assert kind == "BUSY"
    assert 0.5 <= float(waited) < 5 and time.monotonic() - started < 30
    assert code == "8"
    assert "in use" in message and "\n" not in message
    # once this process lets go, the other one opens it
    site.close()
    proc = run_python(OPEN_SCRIPT.format(home=str(site.home), wait=0.5))
    assert proc.stdout.startswith("OPENED"), proc.stdout + proc.stderr
    site.reopen()
