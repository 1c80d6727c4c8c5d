"""Slow requests must not stall the site (issue 10, item 7): SPARQL queries and IIIF renders
pass bounded pools (``publisher.busy``); past the queue the answer is an immediate 503 with
``Retry-After``, past a client's share 429; record pages stay fast meanwhile.

A demo site of our own, over real HTTP (``lantai serve`` in its own process for the load
test; waitress in this process for the refusals).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from support import free_port, served, start_lantai_serve

from bench.stall import HEAVY, build_demo, measure, percentile
from publisher.busy import gates
from repo.config import read_settings, write_settings

SCAN = "notes-p1-jpg"  # a published, open page scan of the demo (800 × 1130)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Iterator[tuple[Path, int]]:
    """The demo archive, heavy queries stopped after 3 s; its port is reserved for it."""
    home = tmp_path_factory.mktemp("load") / "home"
    port = free_port()
    build_demo(home, f"http://127.0.0.1:{port}", timeout=3.0)
    yield home, port


def with_settings(home: Path, **values) -> None:
    write_settings(home, dataclasses.replace(read_settings(home), **values))


@pytest.mark.slow
def test_record_pages_stay_fast_while_20_clients_send_heavy_queries(demo_home, tmp_path):
    home, port = demo_home
    with_settings(home, sparql_timeout=3.0, sparql_workers=2, expensive_queue=4,
                  expensive_per_client=2)
    with (tmp_path / "serve.log").open("w+") as log:
        server = start_lantai_serve(home, port, log, "--quiet")
        try:
            for _attempt in range(2):  # a shared machine's neighbours can spoil one run
                result = measure(f"http://127.0.0.1:{port}", clients=20, pages=300)
                print("\n".join(result.lines()))
                idle99, loaded99 = percentile(result.idle, 99), percentile(result.loaded, 99)
                if loaded99 <= max(100.0, 2 * idle99):
                    break
        finally:
            server.terminate()
            server.wait(timeout=30)
    # the goal is 100 ms; on a shared machine already slower than that idle, twice idle (the
    # old server answered in seconds: every thread was waiting for a query)
    assert loaded99 <= max(100.0, 2 * idle99), result.lines()
    assert percentile(result.loaded, 50) <= 1.5 * percentile(result.idle, 50) + 10
    assert result.healthz_ms < 500
    refused = result.statuses[429] + result.statuses[503]
    assert refused and result.statuses["retry-after"] >= refused - result.statuses[503]


@pytest.fixture
def small_pools(demo_home) -> Iterator[tuple[str, object]]:
    """The demo on waitress in this process, one query worker, a queue of one."""
    from publisher.app import create_app

    home, _port = demo_home
    with_settings(home, sparql_timeout=3.0, sparql_workers=1, expensive_queue=1,
                  expensive_per_client=8, render_threads=1)
    app = create_app(home)
    with served(app, threads=12) as url:
        yield url, app
    app.extensions["lantai.sparql_pool"].close()


def heavy_at_once(url: str, count: int) -> list[requests.Response]:
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def one() -> None:
        resp = requests.post(url + "/sparql", data={"query": HEAVY}, timeout=60)
        with lock:
            answers.append(resp)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    return answers


def test_a_full_pool_answers_503_at_once_with_retry_after(small_pools):
    """One runs, one waits, the rest are refused at once (not after the time limit)."""
    site_url, _app = small_pools
    started = time.monotonic()
    answers = heavy_at_once(site_url, 5)
    refused = [r for r in answers if "busy" in r.text]
    assert len(refused) == 3, [r.text for r in answers]
    for r in refused:
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
    assert time.monotonic() - started < 12  # the queued one ran after the first: 2 × 3 s
    assert requests.get(site_url + "/sparql", params={"query": "ASK {}"},
                        timeout=30).json()["boolean"] is True


def test_one_client_gets_only_its_share(demo_home):
    from publisher.app import create_app

    home, _port = demo_home
    with_settings(home, sparql_timeout=3.0, sparql_workers=4, expensive_queue=4,
                  expensive_per_client=2)
    app = create_app(home)
    try:
        with served(app, threads=16) as url:
            answers = heavy_at_once(url, 4)
    finally:
        app.extensions["lantai.sparql_pool"].close()
    codes = sorted(r.status_code for r in answers)
    assert codes.count(429) == 2, [r.text for r in answers]
    shared = [r for r in answers if r.status_code == 429]
    assert all("expensive_per_client" in r.text and r.headers["Retry-After"] for r in shared)


def test_renders_wait_in_a_bounded_pool(small_pools):
    """With the render pool and its queue taken, a render is 503 at once; stored tiles and
    pages are still served; once freed, the render is made."""
    site_url, app = small_pools
    render = f"{site_url}/iiif/3/{SCAN}/full/333,/0/gray.png"
    tile = f"{site_url}/iiif/3/{SCAN}/0,0,256,256/256,/0/default.jpg"
    assert requests.get(tile, timeout=30).status_code == 200  # derivatives made
    gate = gates(app)["render"]
    hold, held = threading.Event(), []

    def holder() -> None:  # other clients' renders, in the real gate of the serving app
        with gate.enter(f"client-{threading.get_ident()}"):
            held.append(1)
            hold.wait(30)

    threads = [threading.Thread(target=holder) for _ in range(gate.capacity)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while len(held) < gate.size and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # the rest are queued
        started = time.monotonic()
        resp = requests.get(render, timeout=30)
        assert resp.status_code == 503 and int(resp.headers["Retry-After"]) >= 1, resp.text
        assert "busy" in resp.text
        assert time.monotonic() - started < 1
        assert requests.get(tile, timeout=30).status_code == 200
        assert requests.get(site_url + "/healthz", timeout=30).status_code == 200
    finally:
        hold.set()
        for t in threads:
            t.join()
    ok = requests.get(render, timeout=30)
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "image/png"
