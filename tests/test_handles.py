"""The store handles (repo.handles): a write handle lets go of the store's lock when it is
closed, whatever was raised, so another process can write; a read-only handle is a snapshot
reopened when its key (the publication generation, the store's files) moves."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyoxigraph import Store
from support import run_python

from repo.errors import Busy
from repo.handles import ReadHandle, WriteHandle, store_stamp
from repo.repository import Repository
from repo.store import bump_generation

# another process opens the store for writing (not waiting) and says whether it could
OTHER_WRITER = """
import sys
from pathlib import Path
from repo.errors import Busy
from repo.handles import WriteHandle
try:
    with WriteHandle(Path({path!r}), wait=0) as handle:
        handle.store.update('INSERT DATA {{ <http://x/other> <http://p> "other" }}')
except Busy as exc:
    print("busy", exc)
else:
    print("written")
"""


def other_process_writes(path: Path) -> str:
    proc = run_python(OTHER_WRITER.format(path=str(path)))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()[0]


def add(path: Path, n: int) -> None:
    """Write ``n`` more statements into the store at ``path`` (from this process)."""
    with WriteHandle(path, wait=0) as handle:
        start = len(handle.store)
        for i in range(start, start + n):
            handle.store.update(f'INSERT DATA {{ <http://x/{i}> <http://p> "{i}" }}')


def count(handle: ReadHandle) -> int:
    return handle.read(len)


def test_closing_a_write_handle_lets_another_process_write(tmp_path):
    path = tmp_path / "store"
    handle = WriteHandle(path)
    handle.store.update('INSERT DATA { <http://x/mine> <http://p> "mine" }')
    assert other_process_writes(path) == "busy"  # held: the test can fail
    handle.close()
    assert handle.closed
    assert other_process_writes(path) == "written"
    assert len(Store.read_only(str(path))) == 2  # ours was flushed, theirs too
    with pytest.raises(ValueError, match="closed"):
        handle.store  # noqa: B018 - a closed handle refuses to hand out the store
    handle.close()  # twice is fine


def test_a_write_handle_lets_go_whatever_is_raised_in_its_block(tmp_path):
    path = tmp_path / "store"
    with pytest.raises(SyntaxError), WriteHandle(path) as handle:
        handle.store.update("INSERT DATA { this is not SPARQL }")
    # the exception (kept by pytest) still holds the frame; the handle let go anyway
    assert other_process_writes(path) == "written"


def test_a_repository_whose_open_fails_lets_go_of_the_store_it_had_opened(site):
    """The working store opens, the publication store is held by another process: the open
    fails (Busy), and must not keep the working store locked while the error lives (a
    traceback holds the failed open's frame, and the frame held the repository)."""
    home = site.home
    site.close()
    with WriteHandle(home / "publication"), pytest.raises(Busy) as failed:
        Repository.open(home, wait=0)
    assert failed.value is not None  # the exception, and its frames, are still alive here
    with WriteHandle(home / "working", wait=0) as working:  # Busy if it were still held
        assert len(working.store) > 0


def test_a_read_handle_follows_the_generation_and_keeps_its_snapshot_meanwhile(tmp_path):
    home = tmp_path
    path = home / "publication"
    add(path, 3)
    handle = ReadHandle(path, generation=home, follow=False)
    assert count(handle) == 3 and handle.opens == 1
    add(path, 2)  # written and flushed, the generation not moved yet
    assert count(handle) == 3 and handle.opens == 1  # a snapshot, not reopened per read
    bump_generation(home, "g1")
    assert count(handle) == 5 and handle.opens == 2
    assert count(handle) == 5 and handle.opens == 2  # the key is the same: kept


def test_a_read_handle_follows_the_store_s_files(tmp_path):
    path = tmp_path / "working"
    add(path, 1)
    handle = ReadHandle(path)
    assert count(handle) == 1
    before = store_stamp(path)
    add(path, 4)
    assert store_stamp(path) != before  # the writer changed the files
    assert count(handle) == 5 and handle.opens == 2


def test_forget_reopens_and_close_ends_a_read_handle(tmp_path):
    path = tmp_path / "store"
    add(path, 1)
    handle = ReadHandle(path, follow=False)
    assert count(handle) == 1
    add(path, 1)
    assert count(handle) == 1  # nothing to follow: the snapshot stays …
    handle.forget()
    assert count(handle) == 2 and handle.opens == 2  # … until it is forgotten
    with handle:
        pass
    with pytest.raises(ValueError, match="closed"):
        count(handle)
    assert other_process_writes(path) == "written"  # a read-only handle never locked it
