"""The OCFL 1.1 writer (preservation/ocfl.py), checked by ocfl-py's validator after every step."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from preservation.ocfl import LAYOUT, OcflError, StorageRoot, sha256_file
from preservation.ocfl_check import validate_object, validate_root
from repo.errors import Invalid, NotFound

OID = "https://archive.example.edu/id/file/7Q2ZK9"
USER = ("Lantai", "https://archive.example.edu/")


def _valid(root: StorageRoot) -> None:
    ok, messages = validate_root(root.root)
    assert ok and messages == [], messages
    for object_id in root.objects():
        ok, messages = validate_object(root.object_path(object_id))
        assert ok and messages == [], messages


def _file(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def test_a_new_root_is_laid_out_with_the_0004_extension(tmp_path: Path) -> None:
    root = StorageRoot(tmp_path / "files")
    assert (tmp_path / "files" / "0=ocfl_1.1").read_text() == "ocfl_1.1\n"
    assert json.loads((tmp_path / "files" / "ocfl_layout.json").read_text())["extension"] == LAYOUT
    config = json.loads((tmp_path / "files" / "extensions" / LAYOUT / "config.json").read_text())
    assert (config["digestAlgorithm"], config["tupleSize"], config["numberOfTuples"]) == \
        ("sha256", 3, 3)
    path = root.object_path(OID)
    digest = hashlib.sha256(OID.encode()).hexdigest()
    assert path.relative_to(root.root).parts == (digest[:3], digest[3:6], digest[6:9], digest)
    _valid(root)
    StorageRoot(tmp_path / "files")  # opens again


def test_a_folder_that_is_neither_empty_nor_a_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "files" / "sha256").mkdir(parents=True)
    with pytest.raises(OcflError, match="neither empty nor an OCFL storage root"):
        StorageRoot(tmp_path / "files")
    assert list((tmp_path / "files").iterdir()) == [tmp_path / "files" / "sha256"]


def test_a_root_with_another_layout_is_refused(tmp_path: Path) -> None:
    StorageRoot(tmp_path / "files")
    (tmp_path / "files" / "ocfl_layout.json").write_text(
        json.dumps({"extension": "0002-flat-direct-storage-layout", "description": "x"}))
    with pytest.raises(OcflError, match="0002"):
        StorageRoot(tmp_path / "files")


def test_versions_removals_and_the_same_content_under_two_names(tmp_path: Path) -> None:
    src = tmp_path / "src"
    root = StorageRoot(tmp_path / "files")
    scan = _file(src, "scan.tif", b"first scan")
    listing = _file(src, "files.json", b'{"n": 1}')
    assert root.add_version(OID, {"p1/scan.tif": scan, "p2/copy.tif": scan,
                                  "lantai/files.json": listing},
                            message="deposit", user=USER) == 1
    inventory = root.inventory(OID)
    assert inventory is not None and inventory["head"] == "v1"
    # the same bytes under two names are stored once
    assert inventory["manifest"][sha256_file(scan)] == ["v1/content/p1/scan.tif"]
    assert not (root.object_path(OID) / "v1" / "content" / "p2").exists()
    _valid(root)

    rescan = _file(src, "rescan.tif", b"second scan, better light")
    assert root.add_version(OID, {"p1/scan.tif": rescan}, remove=["p2/copy.tif"],
                            message="replaced", user=USER) == 2
    assert root.logical_state(OID) == {"p1/scan.tif": sha256_file(rescan),
                                       "lantai/files.json": sha256_file(listing)}
    assert set(root.logical_state(OID, 1)) == {"p1/scan.tif", "p2/copy.tif", "lantai/files.json"}
    # the old version keeps the old file
    assert root.content_path(OID, "p1/scan.tif", 1).read_bytes() == b"first scan"
    assert root.content_path(OID, "p1/scan.tif").read_bytes() == b"second scan, better light"
    assert root.content_path(OID, "lantai/files.json").read_bytes() == b'{"n": 1}'
    _valid(root)

    # back to the first scan: a new version, but its content is not stored again
    assert root.add_version(OID, {"p1/scan.tif": scan, "p3/扫描 件.tif": scan}, user=USER) == 3
    assert not (root.object_path(OID) / "v3" / "content").exists()
    assert root.content_path(OID, "p3/扫描 件.tif") == root.content_path(OID, "p1/scan.tif", 1)
    # nothing changed: no version
    assert root.add_version(OID, {"p1/scan.tif": scan}, user=USER) == 3
    assert root.head(OID) == 3 and [v["version"] for v in root.versions(OID)] == [1, 2, 3]
    _valid(root)

    other = "https://archive.example.edu/id/item/ZZZ"
    root.add_version(other, {"a/b.txt": listing}, user=USER)
    assert sorted(root.objects()) == sorted([OID, other])
    assert root.inventory("https://archive.example.edu/id/none") is None
    with pytest.raises(NotFound):
        root.content_path(OID, "p2/copy.tif")
    with pytest.raises(NotFound):
        root.logical_state(OID, 9)
    _valid(root)


def test_move_links_the_sources_and_removes_them_only_after_the_commit(tmp_path: Path) -> None:
    root = StorageRoot(tmp_path / "files")
    staged = _file(tmp_path / "staging", "ab", b"staged bytes")
    assert root.add_version(OID, {"x/a.bin": staged}, move=True, user=USER) == 1
    assert not staged.exists()
    assert root.content_path(OID, "x/a.bin").read_bytes() == b"staged bytes"
    # a version that cannot be written leaves its sources where they were
    staged2 = _file(tmp_path / "staging", "cd", b"more")
    with pytest.raises(Invalid):
        root.add_version(OID, {"x/a.bin/inner": staged2}, move=True, user=USER)
    assert staged2.read_bytes() == b"more" and root.head(OID) == 1
    with pytest.raises(FileNotFoundError):
        root.add_version(OID, {"y/b.bin": staged2, "y/c.bin": tmp_path / "missing"}, move=True,
                         user=USER)
    assert staged2.exists() and root.head(OID) == 1
    assert not list((tmp_path / "tmp" / "ocfl").glob("build-*"))
    _valid(root)


@pytest.mark.parametrize("bad", ["", "/abs", "a//b", "a/../b", "./a", "a/", "..", "a\x00b"])
def test_bad_logical_paths_are_refused(tmp_path: Path, bad: str) -> None:
    root = StorageRoot(tmp_path / "files")
    src = _file(tmp_path, "f", b"x")
    with pytest.raises(Invalid):
        root.add_version(OID, {bad: src}, user=USER)
    assert not root.has_object(OID)


def test_recover_rolls_a_version_forward_when_the_root_inventory_was_not_replaced(
        tmp_path: Path) -> None:
    """The state a crash between the version's rename and the root inventory leaves."""
    root = StorageRoot(tmp_path / "files")
    root.add_version(OID, {"a": _file(tmp_path / "s", "1", b"one")}, user=USER)
    target = root.object_path(OID)
    before = ((target / "inventory.json").read_bytes(),
              (target / "inventory.json.sha256").read_bytes())
    root.add_version(OID, {"a": _file(tmp_path / "s", "2", b"two")}, user=USER)
    # put the old root inventory back and leave a marker, as the crash would have
    (target / "inventory.json").write_bytes(before[0])
    (target / "inventory.json.sha256").write_bytes(before[1])
    (root.work / "pending").mkdir(parents=True, exist_ok=True)
    (root.work / "pending" / f"{target.name}.json").write_text(
        json.dumps({"object": str(target.relative_to(root.root))}))
    assert not validate_root(root.root)[0]
    assert root.recover() == [str(target.relative_to(root.root))]
    assert root.head(OID) == 2
    _valid(root)
    assert root.recover() == []


_WRITER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from preservation.ocfl import StorageRoot
    home = Path(sys.argv[1])
    root = StorageRoot(home / "files")
    n = 0
    while True:
        n += 1
        # a fresh name each time: a source moved by hard link must never be rewritten in place
        src = home / "src" / f"{os.getpid()}-{n}"
        src.write_bytes(os.urandom(200_000) + str(n).encode())
        oid = f"https://archive.example.edu/id/file/{n % 3}"
        root.add_version(oid, {f"i{n % 4}/scan.tif": src, "lantai/files.json": src},
                         move=n % 2 == 0, user=("Lantai", "https://archive.example.edu/"))
""")


def _kill_trials(tmp_path: Path, trials: int) -> None:
    rng = random.Random(14)
    home = tmp_path / "home"
    (home / "src").mkdir(parents=True)
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    heads: dict[str, int] = {}
    for _ in range(trials):
        proc = subprocess.Popen([sys.executable, str(script), str(home)],
                                cwd=Path(__file__).resolve().parents[1])
        time.sleep(0.4 + rng.random() * 0.6)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        root = StorageRoot(home / "files")
        root.recover()
        _valid(root)
        assert not list(root.work.glob("build-*"))
        for object_id in root.objects():  # heads never go back
            assert root.head(object_id) >= heads.get(object_id, 0)
            heads[object_id] = root.head(object_id)
            for logical in root.logical_state(object_id):
                path = root.content_path(object_id, logical)
                assert sha256_file(path) == root.logical_state(object_id)[logical]


def test_kill_9_while_writing_leaves_every_object_valid(tmp_path: Path) -> None:
    _kill_trials(tmp_path, 4)


@pytest.mark.slow
@pytest.mark.long  # 30 kills: over 300 s on a loaded machine (pytest -m long)
@pytest.mark.timeout(1800)
def test_kill_9_while_writing_leaves_every_object_valid_many_times(tmp_path: Path) -> None:
    _kill_trials(tmp_path, 30)
