"""``lantai serve --workers 2``: a real server of several processes (issue 15, item 1).

A real ``lantai serve`` subprocess on a free port: two distinct worker processes answer
(the request log names the worker of each line); a record closed by ``lantai`` in another
process is gone from the very next request on every worker; SIGTERM stops every process the
server started; a port in use is one line and an exit code other than 0.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from support import FILE, FONDS, free_port, new_site, run_lantai, start_lantai_serve


@pytest.fixture(scope="module")
def published_site(tmp_path_factory) -> tuple[Path, str]:
    """A small site with its tree published and open; the path of the file's record page."""
    site = new_site(tmp_path_factory.mktemp("workers") / "site")
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    page = urlsplit(site.iris[FILE]).path
    site.close()
    return site.home, page


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def answers(url: str, n: int, log: Path) -> tuple[list[int], set[int]]:
    """``n`` requests, each on a new connection; their statuses and the workers that answered
    (read from the request log)."""
    before = len(log.read_text().splitlines())
    statuses = [requests.get(url, headers={"Accept": "text/html", "Connection": "close"},
                             timeout=30).status_code for _ in range(n)]
    time.sleep(0.3)  # the log line is written once the body was sent
    workers = set()
    for line in log.read_text().splitlines()[before:]:
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("path") == urlsplit(url).path:
                workers.add(entry["worker"])
    return statuses, workers


def test_two_workers_answer_see_a_close_at_once_and_stop_together(published_site, tmp_path):
    home, page = published_site
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w+") as log:
        server = start_lantai_serve(home, port, log, "--workers", "2", wait=120)
        try:
            url = f"http://127.0.0.1:{port}{page}"
            seen: set[int] = set()
            for _ in range(10):  # new connections go to either worker; both must answer
                statuses, workers = answers(url, 10, log_path)
                assert set(statuses) == {200}, statuses
                seen |= workers
                if len(seen) >= 2:
                    break
            assert len(seen) == 2 and server.pid not in seen, seen
            assert seen <= descendants(server.pid)
            run_lantai(home, "access", FILE, "restricted")  # another process closes it
            statuses, workers = answers(url, 30, log_path)
            assert all(s in (404, 410) for s in statuses), statuses  # every request, at once
            assert len(workers) == 2, f"only {workers} answered after the close"
            processes = descendants(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
    assert server.returncode is not None
    deadline = time.monotonic() + 10
    while any(alive(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [p for p in processes if alive(p)]
    assert not left, f"processes left after SIGTERM: {left}"


def test_workers_die_with_a_killed_server(published_site, tmp_path):
    """SIGKILL cannot be passed on by the serving process: its workers (and what they
    started) must not be left serving the port."""
    home, _page = published_site
    port = free_port()
    with (tmp_path / "serve.log").open("w+") as log:
        server = start_lantai_serve(home, port, log, "--workers", "2", "--quiet", wait=120)
        processes = descendants(server.pid)
        server.kill()
        server.wait(timeout=30)
    assert len(processes) >= 2
    deadline = time.monotonic() + 15
    while any(alive(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in processes if alive(p)], "workers outlived their killed server"


def test_a_port_in_use_is_one_line(published_site):
    home, _page = published_site
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_lantai(home, "serve", "--port", str(port), "--workers", "2", check=False,
                            timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "in use" in lines[0], lines


def test_workers_must_be_a_sane_number(published_site):
    home, _page = published_site
    result = run_lantai(home, "serve", "--workers", "-1", check=False)
    assert result.returncode == 2 and "--workers" in result.stderr


@pytest.mark.slow
def test_the_leak_crawl_passes_against_two_workers(tmp_path):
    """The leak crawl of tests/test_leaks.py (its canaries planted in closed records and in
    the demo's requests) over every public surface of the demo, served by two workers."""
    from test_leaks import (
        check_closed_objects_answer_like_nothing_there,
        check_no_canary,
        check_no_link_to_a_closed_object,
        check_sparql_finds_no_canary,
        crawl_site,
    )

    home, port = tmp_path / "demo", free_port()
    origin = f"http://127.0.0.1:{port}"
    run_lantai(home, "init", "--base", origin)
    run_lantai(home, "demo", timeout=600)
    with (tmp_path / "serve.log").open("w+") as log:
        server = start_lantai_serve(home, port, log, "--workers", "2", "--quiet", wait=120)
        try:
            pages = crawl_site(origin, home)
            assert len(pages) > 50, f"the crawl reached only {len(pages)} URLs"
            check_no_canary(pages)
            check_no_link_to_a_closed_object(pages, origin, home)
            check_closed_objects_answer_like_nothing_there(origin, home)
            check_sparql_finds_no_canary(origin)
        finally:
            server.terminate()
            server.wait(timeout=60)
