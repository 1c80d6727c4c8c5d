"""``lantai keys rotate``: every data key re-wrapped and every sealed secret re-sealed under a
new master key, no content re-encrypted; the old key opens nothing afterwards; a rotation
killed (SIGKILL) at any moment leaves a site that opens with one key or the other, and running
the same command again finishes it with nothing lost.

Real everything: the site is made by ``lantai init --key-file``, requests, identity images and
certified copies by the request store, the signing keys by ``lantai init``, sealed originals
by the file store; rotation runs as the real ``lantai`` executable
in a subprocess when it is killed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import lantai_env, lantai_executable

from preservation import keys
from preservation.keyring import Keyring
from repo.cli import main
from repo.files import FileStore
from services.requests import signing
from services.requests.model import Copy, Personal
from services.requests.store import RequestStore, iso, now_utc

# kills in the default run (CI); LANTAI_ROTATION_KILLS raises it (20 were run by hand for the
# issue), and the slow test runs 100
DEFAULT_KILLS = int(os.environ.get("LANTAI_ROTATION_KILLS", "3"))


def _cli(*args: str, key: Path | None = None):
    """``lantai ARGS`` in this process (``--key-file`` sets LANTAI_KEY_FILE: restored by the
    ``env`` fixture / context around each call)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("LANTAI_KEY_FILE", raising=False)
        mp.delenv("LANTAI_MASTER_KEY", raising=False)
        mp.delenv("LANTAI_MASTER_KEY_FILE", raising=False)
        full = (["--key-file", str(key)] if key else []) + list(args)
        return CliRunner().invoke(main, full, catch_exceptions=False)


def _using(key: Path):
    """A context in which the site's key is ``key`` (as LANTAI_KEY_FILE)."""
    mp = pytest.MonkeyPatch()
    mp.delenv("LANTAI_MASTER_KEY", raising=False)
    mp.delenv("LANTAI_MASTER_KEY_FILE", raising=False)
    mp.setenv("LANTAI_KEY_FILE", str(key))
    return mp


def make_site(folder: Path, *, requests: int = 3, originals: int = 2,
              data_keys: int = 0) -> dict:
    """A keyed site in ``folder/site`` with sealed secrets of every kind; returns what it
    holds (in clear, to compare after the rotation)."""
    folder.mkdir(parents=True, exist_ok=True)
    k1, k2 = folder / "old.key", folder / "new.key"
    assert _cli("keys", "new", "-o", str(k1)).exit_code == 0
    assert _cli("keys", "new", "-o", str(k2)).exit_code == 0
    home = folder / "site"
    result = _cli("--home", str(home), "init", "--base", "https://archive.example.edu",
                  key=k1)
    assert result.exit_code == 0, result.output
    held: dict = {"home": home, "old": k1, "new": k2, "requests": {}, "images": {},
                  "copies": {}, "originals": {}, "data_keys": {}}
    mp = _using(k1)
    try:
        store = RequestStore.open(home)
        for i in range(requests):
            personal = Personal(name=f"赵思远{i}", student_number=f"S{i:05d}",
                                id_number=f"61010219990101{i:04d}", email=f"Zhao{i}@Example.org",
                                purpose="visa")
            req = store.create(kind="transcript", languages=("zh",), copies=1,
                               delivery="electronic", channel="web", personal=personal,
                               verified=True)
            held["requests"][req.id] = personal
            if i % 2 == 0:
                image = os.urandom(200) + f"id image {i}".encode()
                store.set_id_image(req.id, image)
                held["images"][req.id] = image
                pdf = f"%PDF-1.7 certified copy {i}".encode()
                code = f"V-2222-3333-{i:04d}".replace("0", "A").replace("1", "B")
                store.add_copy(Copy(code=code, request_id=req.id, language="zh",
                                    sha256=hashlib.sha256(pdf).hexdigest(), pages=1,
                                    signed_at=iso(now_utc()), signer="CN=test",
                                    issued_by="archivist"), pdf)
                held["copies"][code] = pdf
        held["link"] = store.new_link(next(iter(held["copies"]))) if held["copies"] else None
        store.close()
        with FileStore.for_site(home) as files:  # sealed originals, as ingest stores them
            for i in range(originals):
                plain = os.urandom(150_000 + i)
                digest = files.put(plain)
                raw = files.stored_path(digest).read_bytes()
                assert plain[:64] not in raw  # sealed on disk
                sealed = hashlib.sha256(raw).digest()
                held["originals"][digest] = (plain, sealed)
        ring = Keyring.open(home)
        for i in range(data_keys):
            name = f"derivative:{i:064x}/pyramid.tif"
            held["data_keys"][name] = ring.data_key(name, create=True)
        for name in held["originals"]:
            held["data_keys"][name] = ring.data_key(name)
        ring.close()
        held["signer"] = signing.load_signer(home).subject
    finally:
        mp.undo()
    return held


def opens_with(held: dict, key_file: Path) -> None:
    """Everything the site holds opens with ``key_file``, through the code that uses it."""
    home = held["home"]
    mp = _using(key_file)
    try:
        assert keys.site_master_key(home)
        store = RequestStore.open(home)
        for rid, personal in held["requests"].items():
            assert store.get(rid, unseal=True).personal == personal
            assert store.for_requester(rid, personal.email.upper()) is not None  # lookup hash
            assert rid in store.with_id_number(personal.id_number)
        for rid, image in held["images"].items():
            assert store.id_image(rid) == image
        for code, pdf in held["copies"].items():
            assert store.copy_pdf(code) == pdf
        store.close()
        ring = Keyring.open(home)
        assert set(ring.wrapped_by()) == {keys.key_id(keys.read_key_file(key_file))}
        for name, data_key in held["data_keys"].items():
            assert ring.data_key(name) == data_key
        with FileStore.for_site(home) as files:
            for digest, (plain, sealed) in held["originals"].items():
                raw = files.stored_path(digest).read_bytes()
                assert hashlib.sha256(raw).digest() == sealed  # content not re-encrypted
                with files.open(digest) as f:
                    assert f.read() == plain
        ring.close()
        assert signing.load_signer(home).subject == held["signer"]
    finally:
        mp.undo()


def opens_nothing_with(held: dict, key_file: Path) -> None:
    """The other key: refused by the site, and no sealed value opens with it."""
    home = held["home"]
    master = keys.read_key_file(key_file)
    mp = _using(key_file)
    try:
        with pytest.raises(keys.MasterKeyError, match="is not this site's key"):
            keys.site_master_key(home)
        with pytest.raises(keys.MasterKeyError):
            RequestStore.open(home)
        with FileStore.for_site(home) as files, pytest.raises(keys.MasterKeyError):
            files.open(next(iter(held["originals"])))
        signing._cache.clear()  # as a new process: the signer is cached once unsealed
        with pytest.raises(keys.MasterKeyError):
            signing.load_signer(home)
    finally:
        mp.undo()
    personal = keys.subkey(master, "requests/personal")
    db = sqlite3.connect(home / "requests" / "requests.sqlite3")
    for rid, blob in db.execute("SELECT id, personal FROM request"):
        with pytest.raises(keys.MasterKeyError):
            keys.unseal(personal, blob, f"request/{rid}")
    db.close()
    for rid in held["images"]:
        with pytest.raises(keys.MasterKeyError):
            keys.unseal(personal, (home / "requests" / "files" / f"{rid}.idimage").read_bytes(),
                        f"idimage/{rid}")
    ring = Keyring(home / "preservation" / "keyring.sqlite3", master)
    for name in held["data_keys"]:
        with pytest.raises(keys.MasterKeyError):
            ring.data_key(name)
    ring.close()


def test_rotate_round_trip_through_the_cli(tmp_path):
    held = make_site(tmp_path, requests=3, originals=2, data_keys=5)
    home, old, new = held["home"], held["old"], held["new"]
    opens_with(held, old)
    old_id = keys.key_id(keys.read_key_file(old))
    new_id = keys.key_id(keys.read_key_file(new))

    check = _cli("--home", str(home), "keys", "check", key=old)
    assert check.exit_code == 0, check.output
    assert f"key {old_id} opens" in check.output and "wraps 7 data key(s)" in check.output

    result = _cli("--home", str(home), "keys", "rotate", "--new-key-file", str(new), key=old)
    assert result.exit_code == 0, result.output
    assert f"now opens with key {new_id} (was {old_id})" in result.output
    assert "7 data key(s) re-wrapped, 3 request(s), 4 request file(s), 2 signing file(s)" \
        in result.output
    assert "1 download link(s)" in result.output
    assert old.exists() and new.exists()  # neither key file is ever deleted
    assert keys.recorded_key_id(home) == new_id
    assert not (home / keys.ROTATION_JOURNAL).exists()

    opens_with(held, new)
    opens_nothing_with(held, old)
    check = _cli("--home", str(home), "keys", "check", key=new)
    assert check.exit_code == 0 and "wraps 7 data key(s)" in check.output
    wrong = _cli("--home", str(home), "keys", "check", key=old)
    assert wrong.exit_code != 0
    assert old_id in wrong.output and new_id in wrong.output

    again = _cli("--home", str(home), "keys", "rotate", "--new-key-file", str(new), key=old)
    assert again.exit_code == 0 and "nothing to do" in again.output
    opens_with(held, new)


def test_rotate_needs_the_sites_key_and_a_new_one(tmp_path):
    held = make_site(tmp_path, requests=1, originals=1)
    home, old, new = held["home"], held["old"], held["new"]
    third = tmp_path / "third.key"
    assert _cli("keys", "new", "-o", str(third)).exit_code == 0
    wrong = _cli("--home", str(home), "keys", "rotate", "--new-key-file", str(new), key=third)
    assert wrong.exit_code == 1
    assert "is not this site's key" in wrong.output
    same = _cli("--home", str(home), "keys", "rotate", "--new-key-file", str(old), key=old)
    assert same.exit_code == 1 and "the new key is the old key" in same.output
    missing = _cli("--home", str(home), "keys", "rotate", "--new-key-file",
                   str(tmp_path / "nope.key"), key=old)
    assert missing.exit_code == 1 and "no such key file" in missing.output
    inside = home / "new.key"
    shutil.copy(new, inside)
    within = _cli("--home", str(home), "keys", "rotate", "--new-key-file", str(inside), key=old)
    assert within.exit_code == 1 and "inside the site folder" in within.output
    no_new = _cli("--home", str(home), "keys", "rotate", key=old)
    assert no_new.exit_code == 2  # both keys must be given
    opens_with(held, old)  # nothing changed by any of these
    assert not (home / keys.ROTATION_JOURNAL).exists()


def test_what_a_server_still_holding_the_old_key_sealed_is_rekeyed_by_running_it_again(
        tmp_path):
    held = make_site(tmp_path, requests=1, originals=1)
    home, old, new = held["home"], held["old"], held["new"]
    mp = _using(old)
    try:
        stale = RequestStore.open(home)  # a server started before the rotation
    finally:
        mp.undo()
    assert _cli("--home", str(home), "keys", "rotate", "--new-key-file", str(new),
                key=old).exit_code == 0
    late = Personal(name="钱七", id_number="610102200001019999", email="qian@example.org")
    req = stale.create(kind="transcript", languages=("zh",), copies=1, delivery="electronic",
                       channel="web", personal=late, verified=True)
    stale.close()
    held["requests"][req.id] = late
    ring = Keyring(home / "preservation" / "keyring.sqlite3", keys.read_key_file(old))
    held["data_keys"]["derivative:late/pyramid.tif"] = ring.data_key(
        "derivative:late/pyramid.tif", create=True)
    ring.close()
    mp = _using(new)
    try:
        fresh = RequestStore.open(home)
        code = next(iter(held["copies"]))
        link = fresh.new_link(code)  # made under the new key: must survive the second pass
        fresh.close()
    finally:
        mp.undo()
    check = _cli("--home", str(home), "keys", "check", key=new)
    assert check.exit_code == 1 and "1 by key" in check.output and "rotate" in check.output
    again = _cli("--home", str(home), "keys", "rotate", "--new-key-file", str(new), key=old)
    assert again.exit_code == 0, again.output
    assert "1 data key(s) re-wrapped, 1 request(s)" in again.output
    assert "download link" not in again.output
    opens_with(held, new)
    mp = _using(new)
    try:
        store = RequestStore.open(home)
        assert store.use_link(link).code == code
        store.close()
    finally:
        mp.undo()
    assert _cli("--home", str(home), "keys", "check", key=new).exit_code == 0


# ---------------------------------------------------------------------- killed, then finished
def _state(held: dict) -> str:
    """After a kill: "old", "new" or "mid" (journal there, values under either key); every
    sealed value opens with one of the two keys, and the site opens with at least one."""
    home = held["home"]
    old, new = keys.read_key_file(held["old"]), keys.read_key_file(held["new"])
    ids = {keys.key_id(old): old, keys.key_id(new): new}
    opened = []
    for key_file in (held["old"], held["new"]):
        mp = _using(key_file)
        try:
            keys.site_master_key(home)
            opened.append(key_file)
        except keys.MasterKeyError:
            pass
        finally:
            mp.undo()
    assert opened, "the site opens with neither key"
    db = sqlite3.connect(home / "preservation" / "keyring.sqlite3")
    for name, wrapped, kek in db.execute("SELECT name, wrapped, kek FROM data_keys"):
        assert keys.unseal(keys.subkey(ids[kek], "files/kek"), wrapped, name) \
            == held["data_keys"][name]
    db.close()

    def opens(blob: bytes, label: str, context: str) -> bytes:
        for master in (old, new):
            try:
                return keys.unseal(keys.subkey(master, label), blob, context)
            except keys.MasterKeyError:
                continue
        raise AssertionError(f"{context} opens with neither key")

    db = sqlite3.connect(home / "requests" / "requests.sqlite3")
    for rid, blob in db.execute("SELECT id, personal FROM request"):
        got = json.loads(opens(blob, "requests/personal", f"request/{rid}"))
        assert got["id_number"] == held["requests"][rid].id_number
    db.close()
    for rid, image in held["images"].items():
        path = home / "requests" / "files" / f"{rid}.idimage"
        assert opens(path.read_bytes(), "requests/personal", f"idimage/{rid}") == image
    for path in (home / "signing").glob("*.sealed"):
        opens(path.read_bytes(), "signing/seal", f"signing/{path.name}")
    journal = (home / keys.ROTATION_JOURNAL).exists()
    return "mid" if journal else ("old" if held["old"] in opened else "new")


def _rotate_proc(held: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [lantai_executable(), "--home", str(held["home"]), "--key-file", str(held["old"]),
         "keys", "rotate", "--new-key-file", str(held["new"])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=lantai_env())


def _kill_trials(tmp_path: Path, trials: int) -> dict[str, int]:
    template = make_site(tmp_path / "template", requests=80, originals=2, data_keys=3000)
    # how long a whole rotation takes here, start to end, and when its journal appears (the
    # start-up of `lantai` is most of the time: half the kills fall after the journal)
    timing = tmp_path / "timing"
    shutil.copytree(tmp_path / "template", timing)
    t0 = time.monotonic()
    proc = _rotate_proc({**template, "home": timing / "site", "old": timing / "old.key",
                         "new": timing / "new.key"})
    journal = timing / "site" / keys.ROTATION_JOURNAL
    began = None
    while proc.poll() is None:
        if began is None and journal.exists():
            began = time.monotonic() - t0
        time.sleep(0.005)
    whole = time.monotonic() - t0
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    began = began if began is not None else whole / 2
    print(f"a whole rotation: {whole:.2f} s, its journal after {began:.2f} s")
    rng = random.Random(1414)
    seen: dict[str, int] = {"old": 0, "mid": 0, "new": 0}
    for trial in range(trials):
        folder = tmp_path / f"trial{trial}"
        shutil.copytree(tmp_path / "template", folder)
        held = {**template, "home": folder / "site", "old": folder / "old.key",
                "new": folder / "new.key"}
        proc = _rotate_proc(held)
        if trial % 2:
            time.sleep(rng.uniform(0.2, whole))
        else:  # inside the rotation itself: from its journal on
            started = time.monotonic()
            while not (held["home"] / keys.ROTATION_JOURNAL).exists() and \
                    proc.poll() is None and time.monotonic() - started < 60:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, max(0.05, whole - began)))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        seen[_state(held)] += 1
        finish = _rotate_proc(held)
        _out, err = finish.communicate(timeout=120)
        assert finish.returncode == 0, f"trial {trial}: {err.decode()}"
        opens_with(held, held["new"])
        opens_nothing_with(held, held["old"])
        shutil.rmtree(folder)
    return seen


@pytest.mark.subprocess
@pytest.mark.timeout(120 + 40 * DEFAULT_KILLS)  # a trial is two lantai processes and checks
def test_rotation_killed_at_random_points_then_finished(tmp_path):
    seen = _kill_trials(tmp_path, DEFAULT_KILLS)
    print(f"rotation killed {DEFAULT_KILLS} times, left the site: {seen}")
    assert sum(seen.values()) == DEFAULT_KILLS


@pytest.mark.slow
@pytest.mark.long  # ~30 minutes: pytest -m long
@pytest.mark.subprocess
@pytest.mark.timeout(120 + 40 * 100)
def test_rotation_killed_100_times(tmp_path):
    seen = _kill_trials(tmp_path, 100)
    print(f"rotation killed 100 times, left the site: {seen}")
    assert seen["mid"] > 10, seen  # most kills landed inside the rotation itself
