"""`lantai repair --repo REPO [FILES…]`: damaged content of the OCFL root put back from the
newest snapshot that holds a good copy, checked against the inventory (real restic
repository, the site's real OCFL storage root, ocfl-py's validator after the repair)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support import BASE, require

from preservation import events
from preservation.ocfl import StorageRoot
from preservation.ocfl_check import validate_root
from preservation.repair import find_damaged
from repo.cli import main
from repo.repository import Repository

RECORD = BASE + "/id/file/register-1957"
OTHER = BASE + "/id/file/oral-history-01"


def lantai(*args: str, home: Path) -> Result:
    return CliRunner().invoke(main, ["--home", str(home), *args], catch_exceptions=False)


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, str, Path]:
    """A site whose file store is an OCFL root with two objects, one of two versions, and
    a restic repository holding one backup of it."""
    require(shutil.which("restic"), "restic is not installed (Debian package restic)")
    home = tmp_path / "site"
    Repository.init(home, BASE)[0].close()
    files = home / "files"
    if files.exists() and not StorageRoot.is_root(files):  # the layout before OCFL, empty
        assert not [p for p in files.rglob("*") if p.is_file()]
        shutil.rmtree(files)
    root = StorageRoot(files)
    src = tmp_path / "src"
    src.mkdir()
    for name, size in (("page-1.tif", 70_000), ("page-2.tif", 3), ("oh-01.ogg", 200_000)):
        (src / name).write_bytes(bytes((i * 7 + len(name)) % 251 for i in range(size)))
    root.add_version(RECORD, {"scan-1/page-1.tif": src / "page-1.tif"})
    root.add_version(RECORD, {"scan-2/page-2.tif": src / "page-2.tif"})
    root.add_version(OTHER, {"audio/oh-01.ogg": src / "oh-01.ogg"})
    password = tmp_path / "password"
    password.write_text("repair drill\n")
    repo = tmp_path / "repo"
    assert lantai("backup", "init", "--repo", str(repo), "--password-file", str(password),
                  home=home).exit_code == 0
    result = lantai("backup", "--repo", str(repo), "--password-file", str(password), home=home)
    assert result.exit_code == 0, result.output
    return home, str(repo), password


def content(home: Path, object_id: str, logical: str) -> Path:
    return StorageRoot(home / "files").content_path(object_id, logical)


def test_repair_puts_back_flipped_truncated_and_missing_files(site):
    home, repo, password = site
    flipped = content(home, RECORD, "scan-1/page-1.tif")
    truncated = content(home, RECORD, "scan-2/page-2.tif")
    missing = content(home, OTHER, "audio/oh-01.ogg")
    good = {p: p.read_bytes() for p in (flipped, truncated, missing)}
    for p in good:
        p.chmod(0o644)
    data = bytearray(flipped.read_bytes())
    data[12345] ^= 0x10
    flipped.write_bytes(bytes(data))
    truncated.write_bytes(good[truncated][:1])
    missing.unlink()
    assert {d.rel for d in find_damaged(home)} == \
        {p.relative_to(home / "files").as_posix() for p in good}

    result = lantai("repair", "--repo", repo, "--password-file", str(password), "--json",
                    home=home)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["repaired"]) == 3
    for path, data in good.items():
        assert path.read_bytes() == data
    assert find_damaged(home) == []
    repairs = [e for e in events.for_object(home, RECORD) if e.kind == "repair"]
    assert sorted(e.path for e in repairs) == ["scan-1/page-1.tif", "scan-2/page-2.tif"]
    assert all(e.outcome == "success" and "snapshot" in e.detail for e in repairs)
    ok, problems = validate_root(home / "files")
    assert ok, problems
    again = lantai("repair", "--repo", repo, "--password-file", str(password), home=home)
    assert again.exit_code == 0 and "nothing to repair" in again.stdout


def test_repair_of_named_files_only_and_a_file_no_backup_holds(site, tmp_path):
    home, repo, password = site
    one = content(home, RECORD, "scan-1/page-1.tif")
    two = content(home, OTHER, "audio/oh-01.ogg")
    for p in (one, two):
        p.chmod(0o644)
        p.write_bytes(b"damaged")
    rel = one.relative_to(home).as_posix()
    result = lantai("repair", "--repo", repo, "--password-file", str(password), rel,
                    home=home)
    assert result.exit_code == 0, result.output
    assert [d.rel for d in find_damaged(home)] == \
        [two.relative_to(home / "files").as_posix()]
    # a version added after the last backup, then damaged: no snapshot has it
    new = tmp_path / "page-3.tif"
    new.write_bytes(b"new scan" * 1000)
    StorageRoot(home / "files").add_version(RECORD, {"scan-3/page-3.tif": new})
    three = content(home, RECORD, "scan-3/page-3.tif")
    three.chmod(0o644)
    three.write_bytes(b"x")
    result = lantai("repair", "--repo", repo, "--password-file", str(password), home=home)
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("lantai: error: no good copy in any snapshot of")
    assert "scan-3/page-3.tif" in result.stderr
    assert two.read_bytes() != b"damaged"  # the one a snapshot holds was put back
    assert three.read_bytes() == b"x"  # never replaced by bytes that do not check
