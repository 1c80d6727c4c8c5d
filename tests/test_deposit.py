"""The deposit (preservation/deposit.py) and the migration into OCFL (preservation/migrate.py):
real sites, real file store, every storage root checked by ocfl-py's validator."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import FILE, ITEM, Site, lantai_env, lantai_executable, new_site

from preservation import crypt
from preservation.deposit import FILES_JSON, DepositListener, storage_root
from preservation.ocfl_check import validate_root
from repo.cli import main
from repo.config import read_settings, write_settings
from repo.files import FileStore
from repo.repository import Repository

JPEG = "image/jpeg"


def _valid(home: Path) -> None:
    ok, messages = validate_root(home / "files")
    assert ok and messages == [], messages


def _put(site: Site, data: bytes) -> str:
    with FileStore.for_site(site.home) as store:
        return store.put(data)


def _scan(site: Site, parent: str, slug: str, digest: str, mime: str = JPEG):
    with site.repo.ingesting_files():
        return site.repo.create(site.admin, parent, "instantiation",
                                {"title": {"en": f"scan {slug}"}, "digest": digest,
                                 "mime": mime}, slug=slug)


def _info(site: Site, digest: str):
    with FileStore.for_site(site.home) as store:
        return store.info(digest)


def test_a_file_goes_into_the_object_of_its_record_sealed(site: Site) -> None:
    digest = _put(site, b"page one of the 1957 register" * 100)
    assert _info(site, digest).object_id is None  # staged until a changeset names it
    _scan(site, ITEM, "scan-1", digest)
    record = site.iris[ITEM]
    root = storage_root(site.home)
    assert list(root.objects()) == [record]
    assert set(root.logical_state(record)) == {"scan-1/content.jpg", FILES_JSON}
    stored = root.content_path(record, "scan-1/content.jpg")
    assert stored.read_bytes()[:4] == crypt.MAGIC  # sealed: the key opens it, nothing else
    info = _info(site, digest)
    assert info.object_id == record and site.home / "files" / info.content_path == stored
    assert not list((site.home / "preservation" / "staging").rglob("*/*"))
    with FileStore.for_site(site.home) as store:
        assert store.open(digest).read() == b"page one of the 1957 register" * 100
        assert store.verify(digest)
    listing = json.loads(root.content_path(record, FILES_JSON).read_bytes())
    [row] = listing["files"]
    assert row["digest"] == digest and row["sealed"] and row["mediaType"] == JPEG
    assert row["path"] == "scan-1/content.jpg" and row["keyringName"] == digest
    assert "scan scan-1" not in json.dumps(listing)  # no description text in the object
    _valid(site.home)


def test_replacing_adding_and_removing_make_versions_and_keep_the_old(site: Site) -> None:
    record = site.iris[ITEM]
    root = storage_root(site.home)
    first = _put(site, b"first scan")
    inst = _scan(site, ITEM, "scan-1", first)
    assert root.head(record) == 1
    # a change that names no other file: no version
    site.repo.edit(site.admin, inst.path, set={"title": {"en": "renamed"}})
    assert root.head(record) == 1
    second = _put(site, b"second scan, better light")
    with site.repo.ingesting_files():
        site.repo.edit(site.admin, inst.path, set={"digest": second})
    assert root.head(record) == 2
    with FileStore.for_site(site.home) as store:
        assert store.open(second).read() == b"second scan, better light"
        assert store.open(first).read() == b"first scan"  # v1 keeps the first file
    other = _scan(site, ITEM, "scan-2", _put(site, b"the back of the page"))
    assert root.head(record) == 3 and "scan-2/content.jpg" in root.logical_state(record)
    site.repo.delete(site.admin, other.path)
    assert root.head(record) == 4
    assert "scan-2/content.jpg" not in root.logical_state(record)
    assert "scan-2/content.jpg" in root.logical_state(record, 3)
    _valid(site.home)


def test_a_deleted_record_keeps_its_object(site: Site) -> None:
    record = site.iris[ITEM]
    _scan(site, ITEM, "scan-1", _put(site, b"kept"))
    root = storage_root(site.home)
    state = root.logical_state(record)
    site.repo.delete(site.admin, ITEM, recursive=True)
    assert root.has_object(record) and root.logical_state(record) == state
    _valid(site.home)


def test_the_same_file_in_two_records(site: Site) -> None:
    digest = _put(site, b"one scan filed twice")
    _scan(site, ITEM, "scan", digest)
    _scan(site, FILE, "scan", digest)
    root = storage_root(site.home)
    for record in (site.iris[ITEM], site.iris[FILE]):
        assert set(root.logical_state(record)) == {"scan/content.jpg", FILES_JSON}
    assert _info(site, digest).object_id == site.iris[ITEM]  # the first one holds it
    _valid(site.home)


def test_a_failed_deposit_loses_nothing_and_is_retried(site: Site) -> None:
    record = site.iris[ITEM]
    root = storage_root(site.home)
    # an obstacle where the object's folders would go: the deposit cannot write
    obstacle = root.root / root.object_path(record).relative_to(root.root).parts[0]
    obstacle.write_bytes(b"in the way")
    digest = _put(site, b"must not be lost")
    _scan(site, ITEM, "scan-1", digest)  # the changeset commits all the same
    assert not root.has_object(record)
    assert _info(site, digest).object_id is None  # still staged
    assert (site.home / "preservation" / "deposit-pending").exists()
    obstacle.unlink()
    site.repo.edit(site.admin, FILE, set={"title": {"en": "any later change"}})  # retries
    assert root.has_object(record) and _info(site, digest).object_id == record
    assert not (site.home / "preservation" / "deposit-pending").exists()
    _valid(site.home)


def test_the_cli_deposit_retries_and_lists_objects_files_and_versions(site: Site) -> None:
    record = site.iris[ITEM]
    root = storage_root(site.home)
    obstacle = root.root / root.object_path(record).relative_to(root.root).parts[0]
    obstacle.write_bytes(b"in the way")
    digest = _put(site, b"retry me")
    _scan(site, ITEM, "scan-1", digest)
    obstacle.unlink()
    # without the marker the next open does not retry: the command does, from the staging
    (site.home / "preservation" / "deposit-pending").unlink()
    site.close()
    runner = CliRunner()
    home = ["--home", str(site.home)]
    result = runner.invoke(main, [*home, "files", "deposit"])
    assert result.exit_code == 0, result.output
    assert "1 file(s) deposited in 1 new version(s)" in result.output
    result = runner.invoke(main, [*home, "files", "objects", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["id"], r["head"], r["files"]) for r in rows] == [(record, 1, 2)]
    result = runner.invoke(main, [*home, "files", "show", record, "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert {f["path"] for f in shown["files"]} == {"scan-1/content.jpg", FILES_JSON}
    result = runner.invoke(main, [*home, "files", "versions", record])
    assert result.exit_code == 0 and result.output.startswith("v1  ")
    result = runner.invoke(main, [*home, "files", "show", "https://nowhere.example/x"])
    assert result.exit_code == 3
    result = runner.invoke(main, [*home, "--user", "editor", "files", "objects"])
    assert result.exit_code == 4


def test_a_bulk_ingest_writes_one_version_per_record(site: Site) -> None:
    from repo.ingest import NewObject

    digests = [_put(site, f"scan {i}".encode()) for i in range(12)]
    records = [FILE, ITEM]
    specs = [NewObject(parent=records[i % 2], type="instantiation",
                       fields={"title": {"en": f"scan {i}"}, "digest": d, "mime": JPEG},
                       slug=f"s{i}") for i, d in enumerate(digests)]
    with site.repo.ingesting_files():
        site.repo.ingest(site.admin, specs, message="bulk", batch_size=4)
    root = storage_root(site.home)
    for record in records:
        assert root.head(site.iris[record]) == 1
        assert len(root.logical_state(site.iris[record])) == 7  # six scans + files.json
    assert all(_info(site, d).object_id for d in digests)
    _valid(site.home)


def _old_layout_site(home: Path, n: int, *, extra: int = 1) -> tuple[Site, dict[str, bytes]]:
    """A site laid out as before OCFL: files/sha256/ab/cd/<hex>, unsealed, no index."""
    site = new_site(home)
    site.repo.listeners[:] = [x for x in site.repo.listeners
                              if not isinstance(x, DepositListener)]
    shutil.rmtree(home / "files")
    contents: dict[str, bytes] = {}
    for i in range(n + extra):
        data = f"old scan {i}".encode() * 50
        hexd = hashlib.sha256(data).hexdigest()
        path = home / "files" / "sha256" / hexd[:2] / hexd[2:4] / hexd
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        contents[f"sha256:{hexd}"] = data
    (home / "files" / "tmp").mkdir()
    for i, digest in enumerate(list(contents)[:n]):
        _scan(site, ITEM if i % 2 else FILE, f"old-{i}", digest)
    (home / "preservation" / "index.sqlite3").unlink(missing_ok=True)
    site.close()
    write_settings(home, dataclasses.replace(read_settings(home), files_encrypted=False))
    return site, contents


def _all_there(home: Path, contents: dict[str, bytes], named: int) -> None:
    assert not (home / "files" / "sha256").exists() and not (home / "files" / "tmp").exists()
    _valid(home)
    with FileStore.for_site(home) as store:
        for i, (digest, data) in enumerate(contents.items()):
            assert store.open(digest).read() == data
            info = store.info(digest)
            assert (info.object_id is not None) == (i < named)  # unnamed: kept in staging


def test_an_old_site_is_migrated_when_it_opens(tmp_path: Path) -> None:
    site, contents = _old_layout_site(tmp_path / "site", 6)
    repo = Repository.open(site.home)
    try:
        root = storage_root(site.home)
        assert sorted(root.objects()) == sorted([site.iris[ITEM], site.iris[FILE]])
    finally:
        repo.close()
    _all_there(site.home, contents, 6)


def test_lantai_files_migrate_encrypt_seals_every_file(tmp_path: Path) -> None:
    site, contents = _old_layout_site(tmp_path / "site", 4)
    result = CliRunner().invoke(main, ["--home", str(site.home), "files", "migrate",
                                       "--encrypt"])
    assert result.exit_code == 0, result.output
    _all_there(site.home, contents, 4)
    root = storage_root(site.home)
    for record in (site.iris[ITEM], site.iris[FILE]):
        for logical in root.logical_state(record):
            if logical != FILES_JSON:
                assert root.content_path(record, logical).read_bytes()[:4] == crypt.MAGIC


@pytest.mark.parametrize("trial", range(2))
def test_a_killed_migration_runs_again_to_the_end(tmp_path: Path, trial: int) -> None:
    site, contents = _old_layout_site(tmp_path / "site", 120, extra=5)
    env = lantai_env()
    cmd = [lantai_executable(), "--home", str(site.home), "files", "migrate", "--encrypt"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    # kill it once it has started moving files (a different moment in each trial)
    while time.monotonic() < deadline and proc.poll() is None:
        migrating = site.home / "preservation" / "migrating"
        staged = list((site.home / "preservation" / "staging").rglob("*/*"))
        if len(staged) > 20 + 40 * trial or (trial and migrating.exists()
                                             and len(staged) > 60):
            break
        time.sleep(0.02)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and (site.home / "files" / "sha256").exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    _all_there(site.home, contents, 120)


def test_a_deposit_killed_midway_is_finished_by_the_next_open(site: Site) -> None:
    """What kill -9 during a deposit leaves: the changeset committed, its file staged, the
    marker standing (written before the deposit starts)."""
    site.repo.listeners[:] = [x for x in site.repo.listeners
                              if not isinstance(x, DepositListener)]
    digest = _put(site, b"committed, not yet deposited")
    _scan(site, ITEM, "scan-1", digest)
    (site.home / "preservation" / "deposit-pending").write_bytes(b"")
    assert _info(site, digest).object_id is None
    site.reopen()
    assert _info(site, digest).object_id == site.iris[ITEM]
    assert not (site.home / "preservation" / "deposit-pending").exists()
    _valid(site.home)


def test_a_site_named_by_a_relative_path_deposits(site: Site, monkeypatch) -> None:
    """`lantai --home rel demo` once failed every deposit: the index kept content paths with
    the relative root inside them, and the deposit put the root in front again."""
    item, admin = site.iris[ITEM], site.admin
    site.close()
    monkeypatch.chdir(site.home.parent)
    relative = Path(site.home.name)
    repo = Repository.open(relative)
    try:
        with FileStore.for_site(relative) as store:
            digest = store.put(b"a scan put through a relative home")
        with repo.ingesting_files():
            repo.create(admin, item, "instantiation", {"title": {"en": "scan"}, "digest": digest,
                                                       "mime": JPEG}, slug="scan-rel")
    finally:
        repo.close()
    with FileStore.for_site(relative) as store:
        info = store.info(digest)
        assert info.object_id == item
        assert store.open(digest).read() == b"a scan put through a relative home"
    _valid(site.home)
