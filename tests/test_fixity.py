"""`lantai fixity` (issue 14, item 5): damage injected into a real OCFL storage root is caught
and named — object, logical path, problem — every time.

The objects are written by ocfl-py (an OCFL writer that is not ours, placed in the 0004 layout
the site uses, which ocfl-py cannot place itself), sealed with the site's keyring like the
file store seals originals, and checked with ocfl-py's validator before any damage is done:
so the test's idea of a healthy object is the spec's, not our own writer's.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path

import ocfl
import pytest
from click.testing import CliRunner
from ocfl.validator import Validator

from preservation import crypt, fixity
from preservation.events import EventLog, type_iri
from preservation.keyring import Keyring
from repo.cli import main

LAYOUT = "0004-hashed-n-tuple-storage-layout"


def init_root(root: Path) -> None:
    """An empty OCFL 1.1 storage root with the 0004 layout (sha256, 3 × 3)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "0=ocfl_1.1").write_text("ocfl_1.1\n")
    (root / "ocfl_layout.json").write_text(json.dumps(
        {"extension": LAYOUT, "description": "Hashed N-tuple Storage Layout"}))
    ext = root / "extensions" / LAYOUT
    ext.mkdir(parents=True, exist_ok=True)
    (ext / "config.json").write_text(json.dumps(
        {"extensionName": LAYOUT, "digestAlgorithm": "sha256", "tupleSize": 3,
         "numberOfTuples": 3, "shortObjectRoot": False}))


def object_folder(root: Path, object_id: str) -> Path:
    h = hashlib.sha256(object_id.encode()).hexdigest()
    return root / h[0:3] / h[3:6] / h[6:9] / h


def add_object(tmp: Path, root: Path, object_id: str, files: dict[str, bytes],
               keyring: Keyring | None, versions: int = 1) -> Path:
    """An object holding ``files`` (logical path → plaintext), sealed when a keyring is
    given, with ``lantai/files.json``; ``versions`` > 1 replaces the first file each time."""
    work = tmp / "work" / hashlib.sha256(object_id.encode()).hexdigest()[:12]
    src = work / "src"
    obj_dir = work / "obj"
    for v in range(versions):
        shutil.rmtree(src, ignore_errors=True)
        entries = []
        for n, (logical, plain) in enumerate(files.items()):
            if v and n == 0:
                plain = plain + f" version {v + 1}".encode()
            digest = "sha256:" + hashlib.sha256(plain).hexdigest()
            data = plain
            if keyring is not None:
                data = crypt.seal_bytes(plain, keyring.data_key(digest, create=True))
            (src / logical).parent.mkdir(parents=True, exist_ok=True)
            (src / logical).write_bytes(data)
            # as preservation/deposit.py writes it
            entries.append({"instantiation": f"{object_id}/{n}", "digest": digest,
                            "size": len(plain), "mediaType": "application/octet-stream",
                            "path": logical, "sealed": keyring is not None,
                            "keyringName": digest if keyring is not None else None})
        (src / "lantai").mkdir(parents=True, exist_ok=True)
        (src / "lantai" / "files.json").write_text(json.dumps({"files": entries}))
        meta = ocfl.VersionMetadata(message=f"version {v + 1}", name="Lantai",
                                    address="mailto:archive@example.org")
        if v == 0:
            ocfl.Object(identifier=object_id, digest_algorithm="sha256").create(
                srcdir=str(src), metadata=meta, objdir=str(obj_dir))
        else:
            ocfl.Object(identifier=object_id, digest_algorithm="sha256").add_version_with_content(
                objdir=str(obj_dir), srcdir=str(src), metadata=meta)
    target = object_folder(root, object_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(obj_dir), str(target))
    return target


def validate(root: Path, folder: Path) -> None:
    """ocfl-py's validator on one object (errors fail the test)."""
    validator = Validator(check_digests=True)
    assert validator.validate_object(str(folder)), str(validator.log)


@pytest.fixture
def keyring(tmp_path, monkeypatch):
    home = tmp_path / "site"
    home.mkdir()
    monkeypatch.setenv("LANTAI_KEY_FILE", str(tmp_path / "site.key"))
    from preservation import keys
    keys.site_master_key(home, create=True)
    ring = Keyring.open(home)
    yield ring
    ring.close()


@pytest.fixture
def store(tmp_path, keyring) -> tuple[Path, dict[str, dict[str, bytes]]]:
    """A site folder whose file store holds sealed objects (one with three versions) and
    plain ones, and a staged file, all healthy."""
    home = tmp_path / "site"
    root = home / "files"
    init_root(root)
    rng = random.Random(7)
    objects: dict[str, dict[str, bytes]] = {}
    for i in range(8):
        oid = f"https://archive.example.org/id/file/F{i:03d}"
        files = {f"img{j}/page-{j}.tif": rng.randbytes(rng.randrange(1, 200_000))
                 for j in range(3)}
        add_object(tmp_path, root, oid, files, keyring if i % 2 == 0 else None,
                   versions=3 if i == 0 else 1)
        objects[oid] = files
    staged = rng.randbytes(70_000)
    hexd = hashlib.sha256(staged).hexdigest()
    where = home / "preservation" / "staging" / hexd[:2] / hexd
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_bytes(crypt.seal_bytes(staged, keyring.data_key("sha256:" + hexd, create=True)))
    for oid in objects:
        validate(root, object_folder(root, oid))
    return home, objects


def test_a_healthy_store_checks_and_every_object_gets_an_event(store, keyring):
    home, objects = store
    report = fixity.check(home, deep=True, keyring=keyring, user="admin")
    assert report.ok, [p.line() for p in report.problems]
    assert report.objects == len(objects)
    # 8 objects × (3 files + files.json), F000 three times over (sealed anew in each
    # version: a new nonce, new bytes), and the staged file
    assert report.files == 7 * 4 + 3 * 4 + 1
    log = EventLog.for_site(home)
    for oid in objects:
        events = log.for_object(oid)
        assert [(e.type, e.outcome, e.run) for e in events] == [
            (type_iri("fixity"), "success", report.run)]
        assert "every sealed chunk opens" in events[0].detail
        assert events[0].user == "admin" and events[0].agent.startswith("Lantai ")
    assert log.open_failures() == []


def test_shares_cover_every_object_once(store):
    home, objects = store
    seen: list[int] = []
    for k in range(1, 8):
        seen.append(fixity.check(home, share=(k, 7), record=False).objects)
    assert sum(seen) == len(objects)
    again = [fixity.check(home, share=(k, 7), record=False).objects for k in range(1, 8)]
    assert again == seen  # stable: the same objects in the same share


def test_parse_share():
    assert fixity.parse_share("3/7") == (3, 7)
    for bad in ("0/7", "8/7", "x", "1/", "/7", "1/0"):
        with pytest.raises(ValueError):
            fixity.parse_share(bad)


# ------------------------------------------------------------------------- injections


def _content_files(home: Path) -> list[tuple[str, str, Path]]:
    """(object id, logical path, stored file) for every content file of the head versions
    (not files.json, which names the others)."""
    found = []
    root = home / "files"
    for inv_path in sorted(root.glob("*/*/*/*/inventory.json")):
        inv = json.loads(inv_path.read_text())
        head = inv["versions"][inv["head"]]["state"]
        for digest, logicals in head.items():
            for logical in logicals:
                if logical == "lantai/files.json":
                    continue
                found.append((inv["id"], logical, inv_path.parent / inv["manifest"][digest][0]))
    return found


def flip_bit(rng, target) -> str:
    _, _, path = target
    data = bytearray(path.read_bytes())
    i = rng.randrange(len(data))
    data[i] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    return fixity.CHANGED


def truncate(rng, target) -> str:
    _, _, path = target
    size = path.stat().st_size
    os.truncate(path, rng.randrange(size))
    return fixity.TRUNCATED


def delete(rng, target) -> str:
    target[2].unlink()
    return fixity.MISSING


INJECTIONS = [flip_bit, truncate, delete]


def test_one_hundred_random_injections_are_each_caught_and_named(store, keyring):
    """100 trials on one site: each damages one file (or two, swapped, or an inventory) of
    the healthy root, runs the check, wants exactly that damage named, and undoes it."""
    home, _ = store
    rng = random.Random(2026)
    kinds = ["flip", "truncate", "delete", "swap", "inventory", "extra"]
    caught: dict[str, int] = {}
    saved: dict[Path, bytes | None] = {}

    def keep(*paths: Path) -> None:
        for path in paths:
            saved[path] = path.read_bytes() if path.exists() else None

    for trial in range(100):
        for path, data in saved.items():  # undo the last trial's damage
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
        saved.clear()
        kind = kinds[trial % len(kinds)] if trial < 60 else rng.choice(kinds)
        targets = _content_files(home)
        expected: set[tuple[str | None, str, str]]
        if kind in ("flip", "truncate", "delete"):
            target = rng.choice(targets)
            keep(target[2])
            problem = {"flip": flip_bit, "truncate": truncate, "delete": delete}[kind](rng, target)
            expected = {(target[0], target[1], problem)}
        elif kind == "swap":
            a, b = rng.sample(targets, 2)
            keep(a[2], b[2])
            da, db = a[2].read_bytes(), b[2].read_bytes()
            if da == db:
                continue
            a[2].write_bytes(db)
            b[2].write_bytes(da)
            expected = {(a[0], a[1], fixity.SWAPPED), (b[0], b[1], fixity.SWAPPED)}
        elif kind == "inventory":
            oid = rng.choice(targets)[0]
            inv = object_folder(home / "files", oid) / "inventory.json"
            keep(inv, inv.parent / "inventory.json.sha256")
            doc = json.loads(inv.read_text())
            digest = next(iter(doc["manifest"]))
            doc["manifest"][digest.replace(digest[-1], "0" if digest[-1] != "0" else "1")] = \
                doc["manifest"].pop(digest)
            inv.write_text(json.dumps(doc))
            if rng.random() < 0.5:  # the sidecar forged too: the head version's copy differs
                (inv.parent / "inventory.json.sha256").write_text(
                    hashlib.sha256(inv.read_bytes()).hexdigest() + " inventory.json\n")
            expected = {(oid, "inventory.json", fixity.INVENTORY)}
        else:  # a file slipped into a version's content folder
            oid = rng.choice(targets)[0]
            folder = object_folder(home / "files", oid)
            extra = folder / "v1" / "content" / f"stray-{trial}.bin"
            keep(extra)
            extra.write_bytes(rng.randbytes(100))
            expected = {(oid, f"v1/content/stray-{trial}.bin", fixity.EXTRA)}
        report = fixity.check(home, deep=True, keyring=keyring, record=False)
        got = {(p.object_id, p.path, p.problem) for p in report.problems}
        assert got == expected, (trial, kind, [p.line() for p in report.problems])
        caught[kind] = caught.get(kind, 0) + 1
    assert sum(caught.values()) >= 95 and set(caught) == set(kinds), caught


def test_a_damaged_staged_file_is_named(store, keyring):
    home, _ = store
    staged = next(p for p in (home / "preservation" / "staging").rglob("*") if p.is_file())
    data = bytearray(staged.read_bytes())
    data[100] ^= 4
    staged.write_bytes(bytes(data))
    report = fixity.check(home, deep=True, keyring=keyring, record=False)
    assert [(p.object_id, p.problem) for p in report.problems] == [(None, fixity.UNOPENED)]
    assert report.problems[0].path == staged.relative_to(home).as_posix()


def test_the_command_exits_non_zero_naming_each_damaged_file(store):
    home, _ = store
    targets = _content_files(home)
    targets[0][2].unlink()
    rng = random.Random(1)
    flip_bit(rng, targets[5])
    runner = CliRunner()
    result = runner.invoke(main, ["--home", str(home), "fixity"])
    assert result.exit_code == 1, result.output
    assert f"{targets[0][0]} {targets[0][1]}: missing" in result.stdout
    assert f"{targets[5][0]} {targets[5][1]}: changed" in result.stdout
    result = runner.invoke(main, ["--home", str(home), "fixity", "--json"])
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and len(doc["problems"]) == 2, doc["problems"]
    # the dashboard's list: the two failures, until a check passes again
    log = EventLog.for_site(home)
    assert {(e.object, e.path) for e in log.open_failures()} == {
        (targets[0][0], targets[0][1]), (targets[5][0], targets[5][1])}


def test_the_command_exits_zero_on_a_healthy_share(store):
    home, _ = store
    result = CliRunner().invoke(main, ["--home", str(home), "fixity", "--share", "2/3"])
    assert result.exit_code == 0, result.output
    bad = CliRunner().invoke(main, ["--home", str(home), "fixity", "--share", "4/3"])
    assert bad.exit_code == 2


def test_without_the_key_sealed_files_are_still_checked(store, monkeypatch):
    """No key at hand (the off-site copy's keeper): the stored bytes' digests still check,
    and a sealed staged file cut short is told by its header's size."""
    home, _ = store
    monkeypatch.setenv("LANTAI_KEY_FILE", str(home.parent / "no-such.key"))
    assert fixity.check(home, record=False).ok
    staged = next(p for p in (home / "preservation" / "staging").rglob("*") if p.is_file())
    os.truncate(staged, staged.stat().st_size - 100)
    target = _content_files(home)[0]
    os.truncate(target[2], 1000)
    report = fixity.check(home, record=False)
    assert {(p.object_id, p.path, p.problem) for p in report.problems} == {
        (None, staged.relative_to(home).as_posix(), fixity.TRUNCATED),
        (target[0], target[1], fixity.TRUNCATED)}
    result = CliRunner().invoke(main, ["--home", str(home), "fixity", "--deep"])
    assert result.exit_code == 1 and "no such key file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_deep_catches_what_a_consistent_forgery_of_the_inventories_hides(store, keyring):
    """Someone with the disk but not the key replaces a sealed file and rewrites every
    inventory and sidecar to match: the plain check passes (the OCFL object is valid), the
    deep one does not — the file does not open under its data key."""
    home, _ = store
    oid, logical, path = next(t for t in _content_files(home) if t[2].read_bytes()[:4]
                              == crypt.MAGIC)
    folder = object_folder(home / "files", oid)
    old = hashlib.sha256(path.read_bytes()).hexdigest()
    forged = crypt.seal_bytes(b"forged content", crypt.new_data_key())
    path.write_bytes(forged)
    new = hashlib.sha256(forged).hexdigest()
    for inv in [folder / "inventory.json", *folder.glob("v*/inventory.json")]:
        text = inv.read_text().replace(old, new)
        inv.write_text(text)
        (inv.parent / "inventory.json.sha256").write_text(
            hashlib.sha256(text.encode()).hexdigest() + " inventory.json\n")
    validate(home / "files", folder)  # a valid OCFL object to any OCFL tool
    assert fixity.check(home, record=False).ok
    report = fixity.check(home, deep=True, keyring=keyring, record=False)
    assert [(p.object_id, p.path, p.problem) for p in report.problems] == [
        (oid, logical, fixity.UNOPENED)]


def test_a_real_site_files_deposited_then_damaged(site):
    """The whole way: files put in the file store, named by a changeset, deposited into the
    record's OCFL object by the deposit listener; `lantai fixity --deep` finds them intact,
    then names the one whose bit flipped, and a staged file not yet named is checked too."""
    from support import ITEM

    from preservation.deposit import storage_root
    from repo.files import FileStore

    with FileStore.for_site(site.home) as files:
        first = files.put(b"page one of the 1957 register" * 1000)
        second = files.put(b"page two of the 1957 register" * 1000)
        staged = files.put(b"a scan not yet described" * 100)
    with site.repo.ingesting_files():
        for slug, digest in (("scan-1", first), ("scan-2", second)):
            site.repo.create(site.admin, ITEM, "instantiation",
                             {"title": {"en": slug}, "digest": digest, "mime": "image/jpeg"},
                             slug=slug)
    record = site.iris[ITEM]
    root = storage_root(site.home)
    result = CliRunner().invoke(main, ["--home", str(site.home), "fixity", "--deep", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["objects"] == 1 and doc["deep"]
    # every content file of the object (two scans, files.json in each of two versions: one
    # changeset each) and the staged file
    stored = sum(len(ps) for ps in root.inventory(record)["manifest"].values())
    assert stored == 4 and doc["files"] == stored + 1
    assert staged.removeprefix("sha256:") not in json.dumps(doc["problems"])
    victim = root.content_path(record, "scan-2/content.jpg")
    flip_bit(random.Random(3), (record, "scan-2/content.jpg", victim))
    result = CliRunner().invoke(main, ["--home", str(site.home), "fixity"])
    assert result.exit_code == 1
    assert f"{record} scan-2/content.jpg: changed" in result.stdout
    assert [(e.object, e.path) for e in EventLog.for_site(site.home).open_failures()] == [
        (record, "scan-2/content.jpg")]
