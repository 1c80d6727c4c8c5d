"""``lantai serve`` as a user runs it: a real process, and ``lantai`` commands beside it.

The server never holds the working store, so commands keep working while it runs; what they
publish is visible to the server's next request, without a restart. Every request leaves one
JSON line in the log.
"""

from __future__ import annotations

import html
import json
import time

import pytest
import requests
from support import free_port, run_lantai, start_lantai_serve


@pytest.fixture
def served(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    home = tmp_path / "site"
    run_lantai(home, "init", "--base", base)
    log = (tmp_path / "requests.log").open("w+")
    server = start_lantai_serve(home, port, log)
    yield home, base, log
    server.terminate()
    server.wait(timeout=10)
    log.close()


def test_commands_work_while_the_server_runs(served):
    home, base, _log = served
    added = json.loads(run_lantai(home, "add", "/", "fonds", "--name", "xjtu", "--set",
                                  "title@zh=西安交通大学档案", "--set", "title@en=XJTU Archives",
                                  "--set", "refcode=0421", "--json").stdout)
    page = added["iri"]
    assert page.startswith(base + "/id/")
    assert requests.get(page, timeout=10).status_code == 404  # private: not public yet
    run_lantai(home, "publish", "/xjtu")
    resp = requests.get(page, timeout=10)
    assert resp.status_code == 200 and "西安交通大学档案" in resp.text
    run_lantai(home, "edit", "/xjtu", "--set", "title@en=Xi'an Jiaotong University Archives")
    english = html.unescape(requests.get(page + "?lang=en", timeout=10).text)
    assert "Xi'an Jiaotong University Archives" in english
    run_lantai(home, "transition", "/xjtu", "withdraw")
    assert requests.get(page, timeout=10).status_code in (404, 410)


def test_one_json_line_per_request(served):
    _home, base, log = served
    requests.get(base + "/healthz", timeout=10)
    requests.get(base + "/no/such/page", timeout=10)
    time.sleep(0.3)
    log.seek(0)
    lines = [json.loads(line) for line in log.read().splitlines() if line.startswith("{")]
    by_path = {entry["path"]: entry for entry in lines}
    assert by_path["/healthz"]["status"] == 200 and by_path["/healthz"]["method"] == "GET"
    assert by_path["/no/such/page"]["status"] == 404
    assert all(isinstance(entry["ms"], float | int) for entry in lines)


@pytest.mark.subprocess
def test_the_server_keeps_answering_with_descriptors_past_1024(tmp_path):
    """A big site's stores hold hundreds of open files. waitress's default loop uses
    select(), which cannot watch a descriptor numbered 1024 or more: its loop ended and every
    later request waited for ever (what made the staff browser tests time out late in a long
    run). ``lantai serve`` polls instead: started with 1,100 descriptors already open, it
    still answers."""
    import subprocess
    import sys

    from support import lantai_env

    home, port = tmp_path / "site", free_port()
    run_lantai(home, "init", "--base", f"http://127.0.0.1:{port}")
    script = ("import os, sys; held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)];"
              "from repo.cli import main; sys.argv = ['lantai', '--home', sys.argv[1], "
              "'serve', '--port', sys.argv[2], '--quiet']; main()")
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen([sys.executable, "-c", script, str(home), str(port)],
                            stdout=log, stderr=log, env=lantai_env())
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200, log.seek(0) or log.read()
        for _ in range(3):  # new connections get new, higher descriptors: still served
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).ok
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
