"""Fixtures: a fresh site on disk, a controllable clock, users for each role, a small tree.

The site (``site`` fixture) is a real Lantai home in ``tmp_path`` with base
``https://archive.example.edu``, users ``reader``, ``contributor``, ``editor``, ``reviewer``,
``manager`` (each with that site-wide role), ``nobody`` (no role) and the ``admin`` Manager,
and this tree (all private, created by admin)::

    /agents                          folder
    /agents/zhang-san                person (birthDate is personal data by the profile)
    /agents/xian                     place
    /xjtu                            fonds    0421
    /xjtu/students                   series   0421-XS (category XS, retention Y)
    /xjtu/admin                      series   0421-XZ
    /xjtu/students/register-1957     file     0421-XS·1957-Y-0001 (numbered by the repository)
    /xjtu/students/register-1957/page-1   item  about zhang-san
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# bench/ is not installed: tests that use its site builders import it from the project (before,
# only the tests that happened to run earlier put it on the path, so a test run alone failed)
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from support import REFERENCE, Clock, Site, free_port, new_site, require, served

_KEY_VARIABLES = ("LANTAI_KEY_FILE", "LANTAI_MASTER_KEY", "LANTAI_MASTER_KEY_FILE")


@pytest.fixture(autouse=True)
def _master_key_variables_restored():
    """``--key-file FILE`` sets ``LANTAI_KEY_FILE`` for the rest of its process (what a
    one-shot command wants); a test that runs the CLI in this process must not leave it to
    the tests after it (CI failed so: a later site found another site's key)."""
    before = {name: os.environ.get(name) for name in _KEY_VARIABLES}
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def site(tmp_path: Path, clock: Clock) -> Site:
    s = new_site(tmp_path / "site", clock)
    yield s
    s.close()


@pytest.fixture
def empty_site(tmp_path: Path, clock: Clock) -> Site:
    """A site with the users but no content."""
    s = new_site(tmp_path / "site", clock, tree=False)
    yield s
    s.close()


@pytest.fixture(scope="session")
def reference() -> Path:
    require((REFERENCE / "RiC-O_1-1.ttl").exists(),
            f"shared reference data not found at {REFERENCE} "
            "(CI always has ../shared/reference; a bare clone does not)")
    return REFERENCE


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory) -> str:
    """The demo archive served over real HTTP by waitress, as ``lantai serve`` does.

    Yields the server's URL, which is also the site's base IRI, so every ``/id/…`` IRI of the
    demo dereferences on this server. One server for the whole session: tests must not write
    to it (they make their own site for that). ``demo_server_home`` gives its home.

    The site has the demo record requests too (``lantai demo`` makes them), and the server
    writes its request log, as ``lantai serve`` does, to the file ``demo_server_log`` gives
    (the leak tests read it).
    """
    from publisher import requestlog
    from publisher.app import create_app
    from repo.demo import load_demo
    from repo.repository import Repository
    from services.filing.demo import load_demo_filing
    from services.growth.demo import load_demo_growth
    from services.requests.demo import load_demo_requests

    home = tmp_path_factory.mktemp("demo-server") / "home"
    port = free_port()
    repo, _token = Repository.init(home, f"http://127.0.0.1:{port}")
    try:
        load_demo(repo, repo.user("admin"))
        load_demo_requests(home, repo, repo.user("admin"))
        # as `lantai demo` does: the filing loop of 2026 and the pilot graduates (one has
        # consented to show three records: the leak tests crawl them)
        load_demo_filing(home, repo, repo.user("admin"))
        load_demo_growth(home, repo, repo.user("admin"))
    finally:
        repo.close()
    log_path = home.with_name("request.log")
    with open(log_path, "a", encoding="utf-8", buffering=1) as log:
        # the log's lines to the file (and not to stderr: create_app's configure() leaves a
        # logger that has a handler alone)
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(message)s"))
        requestlog.log.addHandler(handler)
        requestlog.log.setLevel(logging.INFO)
        requestlog.log.propagate = False
        try:
            with served(create_app(home, REQUEST_LOG=True), port, threads=8) as url:
                _DEMO_HOMES[url] = home
                yield url
        finally:
            requestlog.log.removeHandler(handler)


_DEMO_HOMES: dict[str, Path] = {}


@pytest.fixture(scope="session")
def demo_server_home(demo_server: str) -> Path:
    return _DEMO_HOMES[demo_server]


@pytest.fixture(scope="session")
def demo_server_log(demo_server_home: Path) -> Path:
    """The demo server's request log (one JSON line per request, as ``lantai serve``)."""
    return demo_server_home.with_name("request.log")


@pytest.fixture
def smtp():
    """A real SMTP server on loopback that keeps what it receives (tests/smtp_support.py)."""
    from smtp_support import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()
