"""Floods of requests: one client over the site's rate limit gets 429 with ``Retry-After``,
others keep being served, ``/healthz`` is never limited, and the limit is the site's setting.
Real HTTP to a waitress server of a real site."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support import served

from publisher.ratelimit import RateLimit
from repo.config import read_settings, write_settings


@pytest.fixture
def limited(site):
    site.close()
    settings = read_settings(site.home)
    write_settings(site.home, dataclasses.replace(settings, rate_limit=5.0, rate_limit_burst=10,
                                                  rate_limit_exempt=""))
    with served(site.home, threads=8) as url:
        yield url


def test_a_flood_gets_429_and_the_server_stays_up(limited):
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: requests.get(limited + "/robots.txt", timeout=30),
                                range(40)))
    codes = [r.status_code for r in answers]
    assert codes.count(200) >= 10 and codes.count(200) <= 14, codes  # the burst, and a little
    refused = [r for r in answers if r.status_code == 429]
    assert len(refused) >= 25
    for r in refused:
        assert int(r.headers["Retry-After"]) >= 1
        assert "too many requests" in r.text and "请求过于频繁" in r.text
    # monitors still see the truth, and the client is served again after waiting
    assert requests.get(limited + "/healthz", timeout=10).status_code == 200
    time.sleep(1.2)
    assert requests.get(limited + "/robots.txt", timeout=10).status_code == 200


def test_a_forged_forwarded_for_does_not_escape_the_limit(limited):
    codes = [requests.get(limited + "/robots.txt", timeout=10,
                          headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
             for n in range(30)]
    assert 429 in codes


def test_behind_a_trusted_proxy_each_client_has_its_own_bucket():
    seen = []

    def app(environ, start_response):
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    limit = RateLimit(app, rate=1, burst=2, trusted_proxies="10.9.9.9", exempt="7.7.7.7")

    def call(remote, forwarded=""):
        status = []
        env = {"PATH_INFO": "/x", "REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": forwarded}
        b"".join(limit(env, lambda s, h, e=None: status.append(s)))
        return int(status[0].split()[0])

    # through the proxy: two clients, two buckets (the proxy appends the real address last)
    assert [call("10.9.9.9", f"6.6.6.6, 1.1.1.{n % 2}") for n in range(4)] == [200] * 4
    assert call("10.9.9.9", "1.1.1.0") == 429
    # anyone else's X-Forwarded-For is ignored: their own address is the bucket
    assert [call("2.2.2.2", f"3.3.3.{n}") for n in range(3)] == [200, 200, 429]
    # exempt clients are never limited, but a trusted proxy's clients are
    assert {call("7.7.7.7") for _ in range(10)} == {200}
    assert call("10.9.9.9", "7.7.7.7") == 200


def test_the_machine_itself_is_exempt_by_default(site):
    """Benchmarks, tests and monitors on the server's own machine are not limited."""
    site.close()
    settings = read_settings(site.home)
    assert settings.rate_limit > 0 and "127.0.0.1" in settings.rate_limit_exempt.split()
    write_settings(site.home, dataclasses.replace(settings, rate_limit=1.0, rate_limit_burst=1))
    with served(site.home, threads=8) as url:
        codes = {requests.get(url + "/robots.txt", timeout=10).status_code for _ in range(20)}
        assert codes == {200}


def test_zero_turns_the_limit_off(site):
    site.close()
    settings = read_settings(site.home)
    write_settings(site.home, dataclasses.replace(settings, rate_limit=0.0, rate_limit_burst=1,
                                                  rate_limit_exempt=""))
    with served(site.home, threads=8) as url:
        codes = {requests.get(url + "/robots.txt", timeout=10).status_code for _ in range(20)}
        assert codes == {200}


TAKER = """
import sys
from pathlib import Path
from publisher.shared_limits import SharedBuckets
buckets = SharedBuckets(Path(sys.argv[1]))
print(sum(buckets.take(sys.argv[2], 1000.0, 5.0, 10) == 0 for _ in range(20)))
"""


def test_worker_processes_share_one_allowance(tmp_path):
    """Under ``lantai serve --workers N`` every worker takes from the same buckets (a file
    shared by the processes): two processes asking 20 times each at the same instant get
    the client's burst of 10 between them, not 10 each; another client has its own."""
    import subprocess
    import sys
    from pathlib import Path

    from support import lantai_env

    from publisher.shared_limits import SharedBuckets

    path = tmp_path / "limits"
    env = lantai_env(PYTHONPATH=str(Path(__file__).parents[1]))
    takers = [subprocess.Popen([sys.executable, "-c", TAKER, str(path), "203.0.113.7"],
                               stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    served_each = [int(t.communicate(timeout=60)[0]) for t in takers]
    assert sum(served_each) == 10, served_each
    buckets = SharedBuckets(path)
    assert buckets.take("203.0.113.7", 1000.0, 5.0, 10) > 0  # still empty at that instant
    assert buckets.take("198.51.100.1", 1000.0, 5.0, 10) == 0  # another client: its own
    assert buckets.take("203.0.113.7", 1001.0, 5.0, 10) == 0  # a second later: 5 more
    buckets.close()


def test_a_full_table_forgets_its_oldest_clients(tmp_path):
    from publisher.shared_limits import PROBE, SLOTS, SharedBuckets

    buckets = SharedBuckets(tmp_path / "limits")
    for n in range(SLOTS + PROBE * 4):  # more clients than slots: no error, each served
        assert buckets.take(f"client-{n}", float(n), 1.0, 1) == 0
    buckets.close()
