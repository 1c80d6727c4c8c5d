"""``export -o PATH`` writes regular files only, atomically and durably (issue 10, items 10
and 14).

``lantai export rdf -o /dev/full`` renamed its temporary file over the device: /dev/full
became a regular file. Special files, folders, links to them and missing folders are now
refused with exit 5 and one line, and nothing is written; a link to a regular file writes
that file. The journal shares the same "write atomically and durably" helper.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from support import run_lantai

from repo.durable import atomic_output, write_atomically
from repo.errors import Invalid
from repo.store import Journal


@pytest.fixture
def home(site) -> Path:
    site.close()
    return site.home


def refused(home: Path, target: Path, *export: str) -> str:
    proc = run_lantai(home, "export", *export, "-o", str(target), check=False)
    assert proc.returncode == 5, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("export", [("rdf",), ("ead", "/xjtu")])
def test_a_device_is_refused_and_stays_a_device(home, tmp_path, export):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link-to-null"
    link.symlink_to("/dev/null")
    for target in (fifo, link, Path("/dev/full"), Path("/dev/null")):
        assert "not a regular file" in refused(home, target, *export)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link-to-null", "pipe", "site"]


def test_folders_and_missing_folders_are_refused(home, tmp_path):
    assert "a folder" in refused(home, tmp_path, "rdf")
    assert "does not exist" in refused(home, tmp_path / "no" / "such" / "out.ttl", "rdf")
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nothing")
    assert "to nothing" in refused(home, dangling, "rdf")
    assert not (tmp_path / "nothing").exists()


def test_a_regular_file_and_a_link_to_one_are_written(home, tmp_path):
    out = tmp_path / "out.ttl"
    out.write_text("old")
    run_lantai(home, "export", "rdf", "-o", str(out))
    assert "Register" in out.read_text()
    link = tmp_path / "latest.ttl"
    link.symlink_to(out)
    out.write_text("old")
    run_lantai(home, "export", "rdf", "--format", "nt", "-o", str(link))
    assert link.is_symlink() and "Register" in out.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "out"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(out) as fh:
        fh.write(b"half")
        raise RuntimeError("the export failed half way")
    assert out.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [out]
    write_atomically(out, b"new")
    assert out.read_bytes() == b"new"
    with pytest.raises(Invalid):
        write_atomically(Path("/dev/full"), b"x")


def test_the_journal_writes_its_entries_through_the_durable_helper(tmp_path):
    journal = Journal(tmp_path / "journal")
    path = journal.begin("cs-1", {"changeset": "cs-1", "objects": ["a"]})
    assert journal.pending() == [(path, {"changeset": "cs-1", "objects": ["a"]})]
    (journal.folder / ".cs-2.json.abc.part").write_text("{half")  # a crash mid-write
    assert [p.name for p, _ in journal.pending()] == ["cs-1.json"]
    assert sorted(p.name for p in journal.folder.iterdir()) == ["cs-1.json"]
