"""`lantai backup`, `restore`, `repair` and `backup forget` against real restic repositories:
a local path and `rclone serve restic` (restic's REST protocol on 127.0.0.1), on a real site
with the demo archive. Every error case checks that nothing was overwritten."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support import BASE, rclone_restic, read_only_snapshot, require, small_disk

from preservation.backup import TEXT_DERIVATIVES, keep_options
from repo.cli import main
from repo.errors import Invalid
from repo.repository import Repository

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def password(tmp_path_factory) -> Path:
    require(shutil.which("restic"), "restic is not installed (Debian package restic)")
    path = tmp_path_factory.mktemp("secrets") / "restic-password"
    path.write_text(PASSWORD + "\n")
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """A site with the demo archive (files, the catalog, request data in SQLite)."""
    from repo.demo import load_demo
    from services.requests.demo import load_demo_requests

    home = tmp_path_factory.mktemp("backup") / "site"
    repo, _token = Repository.init(home, BASE)
    try:
        admin = repo.user("admin")
        load_demo(repo, admin)
        load_demo_requests(home, repo, admin)
    finally:
        repo.close()
    return home


def lantai(*args: str, home: Path | None = None) -> Result:
    return CliRunner().invoke(main, [*(["--home", str(home)] if home else []), *args],
                              catch_exceptions=False)


def init_repo(repo: str, password: Path) -> None:
    result = lantai("backup", "init", "--repo", repo, "--password-file", str(password))
    assert result.exit_code == 0, result.output


def backup(home: Path, repo: str, password: Path) -> dict:
    result = lantai("backup", "--repo", repo, "--password-file", str(password), "--json",
                    home=home)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


def test_backup_to_rest_server_then_restore_proves_itself(demo, password, tmp_path):
    with rclone_restic(tmp_path / "campus-b") as repo:
        init_repo(repo, password)
        result = lantai("backup", "--repo", repo, "--password-file", str(password), home=demo)
        assert result.exit_code == 0, result.output
        snapshot = result.stdout.strip()
        assert len(snapshot) >= 8 and all(c in "0123456789abcdef" for c in snapshot)
        assert "master key is NOT in the backup" in result.stderr
        listed = lantai("backup", "snapshots", "--repo", repo, "--password-file",
                        str(password), "--json", home=demo)
        [snap] = json.loads(listed.stdout)
        assert snap["id"].startswith(snapshot)
        assert snap["site"] == (demo / "preservation" / "site-id").read_text().strip()
        key_id = demo / "preservation" / "key-id"  # recorded when the site was first keyed
        assert snap["key"] == (key_id.read_text().strip() if key_id.exists() else None)

        new = tmp_path / "restored"
        result = lantai("restore", snapshot, "--repo", repo, "--password-file", str(password),
                        "--home", str(new), "--no-serve", "--key-file",
                        str(demo.with_name("site.key")))
        assert result.exit_code == 0, result.output
        assert "restore proved" in result.stdout
        for check in ("working store", "publication store", "OCFL root", "files:",
                      "catalog:"):
            assert check in result.stdout
    # the restored site is whole: same settings, requests database, signing keys
    assert (new / "lantai.toml").read_bytes() == (demo / "lantai.toml").read_bytes()
    assert (new / "requests" / "requests.sqlite3").exists()
    assert sorted(p.name for p in (new / "signing").iterdir() if p.name != ".lock") == \
        sorted(p.name for p in (demo / "signing").iterdir() if p.name != ".lock")
    # never in a backup: the master key, derivatives, the snapshot folder itself
    key = demo.with_name("site.key").read_bytes().strip()
    for path in new.rglob("*"):
        if path.is_file():
            assert key not in path.read_bytes(), path
    # derivatives: the texts (OCR lines) are kept, pyramids and thumbnails made again
    def texts(home: Path) -> list[str]:
        return sorted(str(p.relative_to(home)) for p in (home / "derivatives").rglob("*")
                      if p.is_file() and p.name.endswith(TEXT_DERIVATIVES))
    assert texts(demo) and texts(new) == texts(demo)
    assert sorted(p for p in (new / "derivatives").rglob("*") if p.is_file()) == \
        sorted(new / t for t in texts(new))
    assert not (new / "tmp" / "backup").exists()
    assert not (demo / "tmp" / "backup").exists()


def test_second_backup_of_an_unchanged_site_adds_almost_nothing(demo, password, tmp_path):
    repo = str(tmp_path / "repo")
    init_repo(repo, password)
    first = backup(demo, repo, password)
    second = backup(demo, repo, password)
    assert first["snapshot"] != second["snapshot"]
    stored = sum(1 for p in (demo / "files").rglob("*") if p.is_file())
    # new: only the stores' fresh MANIFEST/OPTIONS/log names of the new checkpoints
    assert second["files_new"] <= 10, second
    assert second["files_unmodified"] >= stored  # the originals were not read again
    assert second["bytes_added"] < first["bytes_added"] / 4, (first, second)
    # writers waited only while the snapshot folder was made, not while restic ran
    assert 0 < second["locked_seconds"] < second["seconds"]


def test_restore_refuses_a_folder_that_is_not_empty_and_a_live_site(demo, password,
                                                                    tmp_path):
    repo = str(tmp_path / "repo")
    init_repo(repo, password)
    snapshot = backup(demo, repo, password)["snapshot"]
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    before, live = listing(target), listing(demo)
    for home in (target, demo):
        result = lantai("restore", snapshot, "--repo", repo, "--password-file", str(password),
                        "--home", str(home), "--no-serve")
        assert result.exit_code == 6
        assert "nothing was touched" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert "live Lantai site" in result.stderr
    assert listing(target) == before and listing(demo) == live


def test_wrong_password_and_missing_repository_are_one_line_errors(demo, password,
                                                                   tmp_path):
    repo = str(tmp_path / "repo")
    init_repo(repo, password)
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    result = lantai("backup", "--repo", repo, "--password-file", str(wrong), home=demo)
    assert result.exit_code == 1
    assert result.stderr.strip() == \
        f"lantai: error: wrong restic password for the repository {repo}"
    result = lantai("restore", "latest", "--repo", repo, "--password-file", str(wrong),
                    "--home", str(tmp_path / "new"))
    assert result.exit_code == 1 and "wrong restic password" in result.stderr
    assert not (tmp_path / "new").exists()
    result = lantai("backup", "--repo", str(tmp_path / "nothing"), "--password-file",
                    str(password), home=demo)
    assert result.exit_code == 3 and "no restic repository" in result.stderr
    assert not (demo / "tmp" / "backup").exists()


def test_corrupted_repository_restores_nothing(demo, password, tmp_path):
    repo = tmp_path / "repo"
    init_repo(str(repo), password)
    snapshot = backup(demo, str(repo), password)["snapshot"]
    packs = [p for p in (repo / "data").rglob("*") if p.is_file()]
    assert packs
    for pack in packs:  # flip bytes in the middle of every pack file
        os.chmod(pack, 0o644)
        data = bytearray(pack.read_bytes())
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0xFF
        pack.write_bytes(bytes(data))
    target = tmp_path / "new"
    result = lantai("restore", snapshot, "--repo", str(repo), "--password-file",
                    str(password), "--home", str(target), "--no-serve")
    assert result.exit_code == 1
    assert "damaged" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if ".restoring-" in p.name]


def test_snapshot_of_another_site_is_told_apart(demo, password, tmp_path):
    repo = str(tmp_path / "repo")
    init_repo(repo, password)
    other = tmp_path / "other"
    Repository.init(other, "https://other.example.edu")[0].close()
    theirs = backup(other, repo, password)["snapshot"]
    ours = backup(demo, repo, password)["snapshot"]
    listed = lantai("backup", "snapshots", "--repo", repo, "--password-file", str(password),
                    "--json", home=demo)
    assert [s["short_id"] for s in json.loads(listed.stdout)] == [ours]
    live = listing(demo)
    result = lantai("restore", theirs, "--repo", repo, "--password-file", str(password),
                    "--home", str(demo), "--no-serve")
    assert result.exit_code == 6 and "live Lantai site" in result.stderr
    assert listing(demo) == live


def test_a_full_disk_is_a_clear_error_and_nothing_is_left(demo, password, tmp_path):
    repo = str(tmp_path / "repo")
    init_repo(repo, password)
    snapshot = backup(demo, repo, password)["snapshot"]
    with small_disk(tmp_path / "small", "2m") as disk:
        result = lantai("restore", snapshot, "--repo", repo, "--password-file",
                        str(password), "--home", str(disk / "new"), "--no-serve")
        assert result.exit_code == 1
        assert "MiB free; nothing was restored" in result.stderr, result.stderr
        assert list(disk.iterdir()) == []
    # a backup repository on a disk that fills up: the backup fails, the site is unharmed
    with small_disk(tmp_path / "tiny", "1m") as disk:
        subprocess.run(["restic", "init", "-r", str(disk / "repo"), "--password-file",
                        str(password)], check=True, capture_output=True)
        live, quads = listing(demo), read_only_snapshot(demo)
        result = lantai("backup", "--repo", str(disk / "repo"), "--password-file",
                        str(password), home=demo)
        assert result.exit_code == 1
        assert "no space left on device" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (demo / "tmp" / "backup").exists()
        # opening the stores rewrites RocksDB's own files (CURRENT, LOG): their quads count
        assert read_only_snapshot(demo) == quads
        moving = ("tmp/", "working/", "publication/")
        after = listing(demo)
        assert {k: v for k, v in after.items() if not k.startswith(moving)} == \
            {k: v for k, v in live.items() if not k.startswith(moving)}


def test_forget_applies_the_retention_setting(demo, password, tmp_path):
    repo = str(tmp_path / "repo")
    init_repo(repo, password)
    made = [backup(demo, repo, password)["snapshot"] for _ in range(3)]
    result = lantai("backup", "forget", "--repo", repo, "--password-file", str(password),
                    "--keep", "--keep-last 2", "--json", home=demo)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["removed"] == 1
    # the setting (--keep-daily 7 --keep-weekly 5 --keep-monthly 12): one a day, the newest
    result = lantai("backup", "forget", "--repo", repo, "--password-file", str(password),
                    "--prune", home=demo)
    assert result.exit_code == 0, result.output
    listed = lantai("backup", "snapshots", "--repo", repo, "--password-file", str(password),
                    "--json", home=demo)
    assert [s["short_id"] for s in json.loads(listed.stdout)] == [made[-1]]
    result = lantai("backup", "forget", "--repo", repo, "--password-file", str(password),
                    "--keep", "--prune-everything", home=demo)
    assert result.exit_code == 5


def test_keep_options_accept_only_keep_options():
    assert keep_options("--keep-daily 7 --keep-weekly 5") == ["--keep-daily", "7",
                                                               "--keep-weekly", "5"]
    assert keep_options("--keep-within=30d") == ["--keep-within=30d"]
    for bad in ("", "--keep-daily", "--host x", "--keep-daily 7 --prune"):
        with pytest.raises(Invalid):
            keep_options(bad)
