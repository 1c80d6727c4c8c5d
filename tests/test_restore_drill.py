"""The restore drill (issue 14, item 4): the demo site is served by `lantai serve` and edited
without pause by another writer while `lantai backup` sends it to a real second endpoint
(`rclone serve restic`); the snapshot is restored into a new home on this machine, and the
restore proves itself (stores, files, catalog, the server answering there)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
import requests
from support import free_port, rclone_restic, require, run_lantai, start_lantai_serve

from repo.repository import Repository

PLACE = "/places/xian"


@pytest.mark.slow
@pytest.mark.subprocess
def test_restore_drill(tmp_path: Path):
    from repo.demo import load_demo
    from services.requests.demo import load_demo_requests

    require(shutil.which("restic"), "restic is not installed (Debian package restic)")
    port = free_port()
    home = tmp_path / "site"
    repo, _token = Repository.init(home, f"http://127.0.0.1:{port}")
    try:
        load_demo(repo, repo.user("admin"))
        load_demo_requests(home, repo, repo.user("admin"))
    finally:
        repo.close()
    password = tmp_path / "restic-password"
    password.write_text("drill password\n")

    stop = threading.Event()
    edits: list[tuple[float, str]] = []
    failures: list[BaseException] = []

    def keep_editing() -> None:  # another writer, as the REST API is: open, edit, close
        i = 0
        while not stop.is_set():
            i += 1
            name = f"Xi'an, edit {i}"
            try:
                with Repository.open(home, wait=60) as writer:
                    writer.edit(writer.user("admin"), PLACE,
                                set={"name": {"zh": "西安", "en": name}})
                edits.append((time.monotonic(), name))
            except BaseException as exc:
                failures.append(exc)
                return
            stop.wait(0.2)  # a busy archivist, not a loop that never lets the lock go

    with open(tmp_path / "serve.log", "w") as log, rclone_restic(tmp_path / "campus-b") as url:
        server = start_lantai_serve(home, port, log, "--quiet", wait=120)
        editor = threading.Thread(target=keep_editing, daemon=True)
        try:
            run_lantai(home, "backup", "init", "--repo", url, "--password-file", str(password))
            editor.start()
            while not edits and not failures:
                time.sleep(0.05)
            started = time.monotonic()
            done = run_lantai(home, "backup", "--repo", url, "--password-file", str(password),
                              timeout=300)
            finished = time.monotonic()
            print(f"backup under edits: {finished - started:.1f} s, {len(edits)} edits so far")
            snapshot = done.stdout.strip()
            # the site kept serving and taking edits while it was backed up
            assert requests.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
            while not [t for t, _ in edits if t > finished] and not failures:
                time.sleep(0.05)
        finally:
            stop.set()
            editor.join(timeout=120)
            server.terminate()
            server.wait(timeout=30)
        assert not failures, failures
        during = [name for t, name in edits if started < t < finished]
        assert during, "no edit was made while the backup ran"

        new = tmp_path / "restored"
        key = home.with_name(home.name + ".key")
        proof = run_lantai(new, "restore", snapshot, "--repo", url, "--password-file",
                           str(password), "--home", str(new),
                           *(["--key-file", str(key)] if key.exists() else []), timeout=300)
    out = proof.stdout
    assert "restore proved" in out
    for check in ("working store", "publication store", "OCFL root", "files:", "catalog:",
                  "server: `lantai serve` answers / and /id/"):
        assert check in out, out
    # the restored site holds one of the states the live site went through, whole
    with Repository.open(new) as restored:
        text = " ".join(str(q) for q in restored.get(restored.user("admin"), PLACE).description)
    assert any(f'"{name}"@en' in text for _t, name in edits), text
