"""The shipped nginx configuration, cache on, in front of two Lantai workers (issue 15, 3-4).

A real nginx (Debian's) runs ``deploy/nginx/lantai.conf`` itself — only its ports and
folders rewritten, and ``X-Cache-Status`` added — in front of ``lantai serve --workers 2``
(two worker processes behind one port) on the demo archive, whose base IRI is nginx's
address. Then:

- the leak crawl of ``tests/test_leaks.py`` passes through nginx (its tests are imported
  here and run against this set-up: the ``demo_server*`` fixtures below point them at it);
- answers are stored and served from the cache (``REVALIDATED``: the worker said 304 without
  rendering, as its request log shows), for pages, linked data, manifests and tiles;
- a record closed by ``lantai`` is 404/410 through nginx at the very next request, in HTML,
  JSON-LD, Turtle and as a IIIF manifest, and its parent's page no longer names it;
- a session cookie or Authorization bypasses the cache; the language cookie does not.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from proxy_support import nginx, nginx_binary
from support import PROJECT, free_port, run_lantai, start_lantai_serve

# The leak crawl and its checks, run against nginx (not copied: the fixtures below redirect
# them). Imported first, so that they run before the tests below close a record.
from test_leaks import (  # noqa: F401  (collected by pytest from this module)
    crawl,
    test_closed_objects_answer_like_nothing_there,
    test_no_canary_in_the_request_log,
    test_no_canary_on_any_public_surface,
    test_no_link_to_a_closed_object,
    test_sparql_finds_no_canary,
    test_the_crawl_reaches_the_public_surfaces,
    test_the_crawl_reaches_the_request_pages,
)

# slow; the first test builds the demo, two workers and nginx, then crawls (minutes under load)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CONF = PROJECT / "deploy" / "nginx" / "lantai.conf"
RECORD = "admission-letter-1956"  # a demo record with scans (a manifest, tiles)
FROM_CACHE = {"HIT", "REVALIDATED"}


def site_config(*, port: int, workers: list[int], cache: Path) -> str:
    """``deploy/nginx/lantai.conf`` with this machine's ports and folders: each rewrite must
    find its line exactly once (a changed config fails here, not silently)."""
    text = CONF.read_text(encoding="utf-8")
    rewrites = [
        (r"(?m)^    server 127\.0\.0\.1:5000;$",
         "\n".join(f"    server 127.0.0.1:{p};" for p in workers)),
        (r"/var/cache/nginx/lantai-tiles\b", str(cache / "tiles")),
        (r"/var/cache/nginx/lantai(?=\s)", str(cache / "pages")),
        (r"(?m)^    listen 80;$", f"    listen 127.0.0.1:{port};"),
        (r"(?m)^    server_name archive\.example\.edu;", "    server_name 127.0.0.1;"),
        (r"root /opt/lantai/publisher;", f"root {PROJECT / 'publisher'};"),
        (r"(?m)^    gzip on;$",
         "    gzip on;\n    add_header X-Cache-Status $upstream_cache_status always;"),
    ]
    for pattern, replacement in rewrites:
        text, n = re.subn(pattern, replacement, text)
        assert n == 1, f"{CONF}: {pattern!r} found {n} times"
    return text


@dataclass
class Proxied:
    url: str  # nginx: the site's base IRI
    home: Path
    workers: list[str]  # the upstream addresses
    logs: list[Path]

    def log_lines(self) -> list[dict]:
        """The workers' request logs (their other output, the start line, left out)."""
        lines = []
        for log in self.logs:
            for line in log.read_text("utf-8", errors="replace").splitlines():
                if line.startswith("{"):
                    lines.append(json.loads(line))
        return lines


def load_demo_site(home: Path, base: str) -> None:
    """The demo archive with its record requests, filing loop and growth records, as
    ``lantai demo`` makes it (and as the leak crawl's ``demo_server`` has it)."""
    from repo.demo import load_demo
    from repo.repository import Repository
    from services.filing.demo import load_demo_filing
    from services.growth.demo import load_demo_growth
    from services.requests.demo import load_demo_requests

    repo, _token = Repository.init(home, base)
    try:
        admin = repo.user("admin")
        load_demo(repo, admin)
        load_demo_requests(home, repo, admin)
        load_demo_filing(home, repo, admin)
        load_demo_growth(home, repo, admin)
    finally:
        repo.close()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory) -> Iterator[Proxied]:
    nginx_binary()
    root = tmp_path_factory.mktemp("nginx")
    port = free_port()
    home = root / "home"
    load_demo_site(home, f"http://127.0.0.1:{port}")
    # two workers: `lantai serve --workers 2`, two processes behind one port (one upstream
    # address, as the shipped configuration has it)
    with contextlib.ExitStack() as stack:
        worker_port = free_port()
        log_path = root / "workers.log"
        log = stack.enter_context(open(log_path, "a", encoding="utf-8"))
        proc = start_lantai_serve(home, worker_port, log, "--workers", "2", wait=90)
        stack.callback(_stop, proc)
        urls, logs = [f"http://127.0.0.1:{worker_port}"], [log_path]
        conf = site_config(port=port, workers=[worker_port], cache=root / "nginx" / "cache")
        url = stack.enter_context(nginx(root / "nginx", conf, port))
        yield Proxied(url, home, urls, logs)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# The leak crawl's fixtures, pointed at nginx.
@pytest.fixture(scope="module")
def demo_server(proxied: Proxied) -> str:
    return proxied.url


@pytest.fixture(scope="module")
def demo_server_home(proxied: Proxied) -> Path:
    return proxied.home


@pytest.fixture
def demo_server_log(proxied: Proxied, tmp_path: Path) -> Path:
    """The workers' request log, as one file of JSON lines (without the server's own)."""
    merged = tmp_path / "request.log"
    merged.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n"
                              for line in proxied.log_lines()), encoding="utf-8")
    return merged


# ---------------------------------------------------------------------- the cache
def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=60, allow_redirects=False)


def settled_log(proxied: Proxied, quiet: float = 0.3, wait: float = 5) -> list[dict]:
    """The workers' request-log lines once no new one came for ``quiet`` seconds (a worker
    writes its line after the body is sent, a moment after the client has it)."""
    deadline = time.monotonic() + wait
    lines = proxied.log_lines()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        again = proxied.log_lines()
        if len(again) == len(lines):
            break
        lines = again
    return lines


def record_urls(proxied: Proxied) -> dict[str, tuple[str, dict[str, str]]]:
    base = f"{proxied.url}/id/record/{RECORD}"
    return {
        "html": (base, {"Accept": "text/html"}),
        "jsonld": (base, {"Accept": "application/ld+json"}),
        "jsonld-ext": (base + ".jsonld", {}),
        "turtle": (base + ".ttl", {}),
        "turtle-accept": (base, {"Accept": "text/turtle"}),
        "manifest": (f"{proxied.url}/iiif/manifest/record/{RECORD}", {}),
    }


def test_answers_are_served_from_the_cache_after_a_304(proxied: Proxied):
    manifest = get(f"{proxied.url}/iiif/manifest/record/{RECORD}")
    assert manifest.status_code == 200
    image = re.findall(r"/iiif/3/([A-Za-z0-9_-]+)", manifest.text)[0]
    urls = [(u, h) for u, h in record_urls(proxied).values()] + [
        (f"{proxied.url}/iiif/3/{image}/info.json", {}),
        (f"{proxied.url}/iiif/3/{image}/0,0,256,256/256,/0/default.jpg", {}),
        (f"{proxied.url}/search?q=1956", {}),
        (f"{proxied.url}/", {"Accept-Language": "en"}),
    ]
    for url, headers in urls:
        first = get(url, **headers)
        assert first.status_code == 200, url
        assert first.headers["ETag"], url  # ours (weak), or the IIIF routes' own
        assert "X-Accel-Expires" not in first.headers  # nginx keeps it to itself
        before = len(settled_log(proxied))
        second = get(url, **headers)
        assert second.status_code == 200
        assert second.headers["X-Cache-Status"] in FROM_CACHE, (url, second.headers)
        assert second.content == first.content
        assert second.headers["ETag"] == first.headers["ETag"]
        asked = settled_log(proxied)[before:]  # what a worker was asked: a revalidation
        assert [line["status"] for line in asked] == [304], (url, asked)


def test_both_workers_answer(proxied: Proxied):
    """nginx's connections reach both worker processes (their pids in the request log)."""
    from concurrent.futures import ThreadPoolExecutor

    def ask(n: int) -> int:
        return get(f"{proxied.url}/sparql?query=ASK%7B%7D&n={n}-{time.monotonic_ns()}").status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(ask, range(48))) == {200}
    workers = {line.get("worker") for line in settled_log(proxied)}
    assert len(workers - {None}) >= 2, workers


def test_sessions_bypass_the_cache_and_the_language_does_not(proxied: Proxied):
    url = f"{proxied.url}/id/record/{RECORD}"
    for headers in ({"Cookie": "lantai_staff=abc"}, {"Authorization": "Bearer nothing"},
                    {"Cookie": "lang=en; lantai_request=1"}):
        for _ in range(2):
            resp = get(url, Accept="text/html", **headers)
            assert resp.headers["X-Cache-Status"] == "BYPASS", headers
            assert "ETag" not in resp.headers  # Lantai does not tag them either
    english = [get(url, Accept="text/html", Cookie="lang=en") for _ in range(2)]
    chinese = get(url, Accept="text/html", Cookie="lang=zh")
    assert english[1].headers["X-Cache-Status"] in FROM_CACHE
    assert english[1].content == english[0].content != chinese.content
    assert english[0].headers["ETag"] != chinese.headers["ETag"]


def test_a_record_closed_by_lantai_is_gone_at_the_next_request(proxied: Proxied):
    """Warm the cache for every format of a record, close it with `lantai access`, then the
    very next request for each is 404/410: nginx never sends what it stored without asking."""
    urls = record_urls(proxied)
    parent_url = None
    for name, (url, headers) in urls.items():
        for _ in range(2):
            resp = get(url, **headers)
        assert resp.status_code == 200, name
        assert resp.headers["X-Cache-Status"] in FROM_CACHE, (name, resp.headers)
        if name == "html":
            parents = re.findall(r'href="([^"]+)"[^>]*>[^<]*</a></li>\s*<li aria-current',
                                 resp.text)
            parent_url = parents[-1] if parents else None
    assert parent_url, "the record page names its parent (breadcrumbs)"
    parent = get(parent_url, Accept="text/html")
    parent = get(parent_url, Accept="text/html")
    assert f"/id/record/{RECORD}" in parent.text
    assert parent.headers["X-Cache-Status"] in FROM_CACHE

    run_lantai(proxied.home, "access", f"{proxied.url}/id/record/{RECORD}", "restricted")

    for name, (url, headers) in urls.items():
        resp = get(url, **headers)
        assert resp.status_code in (404, 410), (name, resp.status_code, resp.headers)
        assert "ETag" not in resp.headers
    parent = get(parent_url, Accept="text/html")
    assert parent.status_code == 200
    assert f"/id/record/{RECORD}" not in parent.text
    assert parent.headers["X-Cache-Status"] not in FROM_CACHE  # rendered again: it changed
