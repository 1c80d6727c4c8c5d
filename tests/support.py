"""Helpers shared by the test modules (imported as ``support``; fixtures are in conftest.py).

Everything here works on real Oxigraph stores on disk: a site is ``Repository.init`` in a
temporary folder, and a snapshot is every quad of the working and publication stores. Sites
are served over real HTTP with ``served`` (waitress in a thread) or ``start_lantai_serve``
(its own process), on a ``free_port`` chosen before the site is made (it is in the base IRI).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import gc
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
from pyoxigraph import Store

from repo.repository import Repository
from repo.security import User

BASE = "https://archive.example.edu"
START = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
PROJECT = Path(__file__).resolve().parents[1]

# The small tree every site starts with.
FONDS = "/xjtu"
SERIES = "/xjtu/students"
OTHER_SERIES = "/xjtu/admin"
FILE = "/xjtu/students/register-1957"
ITEM = "/xjtu/students/register-1957/page-1"
AGENTS = "/agents"
PERSON = "/agents/zhang-san"
PLACE = "/agents/xian"

ROLE_USERS = {"Reader": "reader", "Contributor": "contributor", "Editor": "editor",
              "Reviewer": "reviewer", "Manager": "manager"}


class Clock:
    """A controllable UTC clock. Each reading moves it one second on, so that the changesets
    of a test keep their order; ``advance`` and ``set`` jump (forwards only)."""

    def __init__(self, start: dt.datetime = START, tick: dt.timedelta = dt.timedelta(seconds=1)):
        self.now = start
        self.tick = tick

    def __call__(self) -> dt.datetime:
        t = self.now
        self.now += self.tick
        return t

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)

    def set(self, when: dt.datetime | dt.date) -> None:
        if not isinstance(when, dt.datetime):
            when = dt.datetime(when.year, when.month, when.day, 12, tzinfo=dt.UTC)
        assert when >= self.now, "the test clock only moves forwards"
        self.now = when

    def today(self) -> dt.date:
        return self.now.date()


def dump(store: Store) -> list[str]:
    """Every quad of a store, as sorted N-Quads lines."""
    return sorted(str(q) for q in store)


def snapshot(repo: Repository) -> tuple[list[str], list[str]]:
    """The whole state of a site: working store and publication dataset."""
    return dump(repo.working), dump(repo.public)


def read_only_snapshot(home: Path) -> tuple[list[str], list[str]]:
    """A snapshot of a site no process of ours holds (for CLI and crash tests)."""
    working = Store.read_only(str(home / "working"))
    public = Store.read_only(str(home / "publication"))
    try:
        return dump(working), dump(public)
    finally:
        del working, public
        gc.collect()


@dataclass
class Site:
    """A site in a temporary home, with its clock and the standard users and tree."""

    home: Path
    clock: Clock
    repo: Repository | None
    token: str = ""
    iris: dict[str, str] = field(default_factory=dict)

    @property
    def admin(self) -> User:
        return self.repo.user("admin")

    def user(self, name: str) -> User:
        return self.repo.user(name)

    def role(self, role: str) -> User:
        return self.repo.user(ROLE_USERS[role])

    def snapshot(self) -> tuple[list[str], list[str]]:
        return snapshot(self.repo)

    def close(self) -> None:
        if self.repo is not None:
            self.repo.close()
        self.repo = None
        gc.collect()  # the stores' locks go with the last reference

    def reopen(self, **kw) -> Repository:
        """Close the stores and open the site again, as a new process would."""
        self.close()
        self.repo = Repository.open(self.home, clock=self.clock, wait=0, **kw)
        return self.repo


def new_site(home: Path, clock: Clock | None = None, *, tree: bool = True,
             users: bool = True, base: str = BASE, **kw) -> Site:
    """A site in ``home`` with the standard users and tree; ``base`` is its base IRI (give
    ``http://127.0.0.1:PORT`` to serve it on that port with ``served``)."""
    clock = clock or Clock()
    repo, token = Repository.init(home, base, clock=clock, **kw)
    site = Site(home, clock, repo, token)
    if users:
        admin = repo.user("admin")
        for role, name in ROLE_USERS.items():
            repo.add_user(admin, name, roles=[role], fullname=f"The {role.lower()}")
        repo.add_user(admin, "nobody", roles=[], fullname="No role at all")
    if tree:
        build_tree(site)
    return site


def build_tree(site: Site) -> None:
    """fonds → series → file → item, a second series, and an agents folder with a person."""
    repo, admin = site.repo, site.repo.user("admin")
    made = [
        repo.create(admin, "/", "folder", {"title": {"zh": "人物与地点", "en": "Agents"}},
                    slug="agents", key="agents"),
        repo.create(admin, AGENTS, "person",
                    {"name": {"zh": "张三", "en": "Zhang San"}, "birthDate": "1935-05-04",
                     "history": {"zh": "1956年随校西迁。", "en": "Moved west with the school."}},
                    slug="zhang-san", key="zhang-san"),
        repo.create(admin, AGENTS, "place", {"name": {"zh": "西安", "en": "Xi'an"}},
                    slug="xian", key="xian"),
        repo.create(admin, "/", "fonds",
                    {"title": {"zh": "西安交通大学全宗", "en": "Xi'an Jiaotong University fonds"},
                     "refcode": "0421", "begin": "1896"}, slug="xjtu", key="xjtu"),
        repo.create(admin, FONDS, "series",
                    {"title": {"zh": "学生类", "en": "Students"}, "category": "XS",
                     "retention": "Y", "refcode": "0421-XS"}, slug="students", key="students"),
        repo.create(admin, FONDS, "series",
                    {"title": {"zh": "行政类", "en": "Administration"}, "category": "XZ",
                     "retention": "D30", "refcode": "0421-XZ"}, slug="admin", key="admin"),
        repo.create(admin, SERIES, "file",
                    {"title": {"zh": "1957年新生名册", "en": "Register of freshmen 1957"},
                     "begin": "1957", "place": PLACE},
                    slug="register-1957", key="register-1957"),
        repo.create(admin, FILE, "item",
                    {"title": {"zh": "名册第一页", "en": "Register, page one"},
                     "begin": "1957-09-01", "subject": PERSON, "language": "zh"},
                    slug="page-1", key="page-1"),
    ]
    site.iris.update({o.path: o.iri for o in made})


# ---------------------------------------------------------------------- subprocesses
def lantai_executable() -> str:
    """The ``lantai`` script installed beside this interpreter (else the one on PATH)."""
    exe = Path(sys.executable).with_name("lantai")
    return str(exe) if exe.exists() else "lantai"


def lantai_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would change how ``lantai`` behaves behind
    a test's back: LANTAI_HOME and LANTAI_USER (a developer's own site and user), COLUMNS and
    LINES (a terminal's size, which would wrap output); then ``extra`` on top."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LANTAI_HOME", "LANTAI_USER", "COLUMNS", "LINES")}
    env.update(extra)
    return env


def run_lantai(home: os.PathLike | str, *args: str, user: str | None = None,
               stdin: str | None = None, check: bool = True,
               timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``lantai --home HOME [--user USER] ARGS…`` as a user would: the real executable,
    in a subprocess with ``lantai_env()``, ``stdin`` as its input; stdout and stderr are
    captured as text. With ``check`` (the default) the exit code must be 0 (the assertion
    shows the arguments and stderr); pass ``check=False`` to examine a failure."""
    cmd = [lantai_executable(), "--home", str(home), *(["--user", user] if user else []), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, input=stdin, env=lantai_env(),
                          timeout=timeout)
    if check:
        assert proc.returncode == 0, f"lantai {args}: exit {proc.returncode}: {proc.stderr}"
    return proc


def run_python(script: str, *, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a Python script in a new interpreter with the project importable."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=PROJECT)


# ---------------------------------------------------------------------- missing tools and data
def require(condition: object, why: str) -> None:
    """Skip the test, saying ``why``, unless ``condition`` holds: for a tool or reference file
    this machine may lack. Under CI (``CI`` set) it is a failure instead: CI installs every
    tool and has ``../shared/reference``, so a skip there would hide a test that never ran."""
    import pytest

    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (a failure under CI, where it must be there)", pytrace=False)
    pytest.skip(why)


# ---------------------------------------------------------------------- servers
def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (the system picks it). Make a site
    whose base IRI is ``http://127.0.0.1:PORT`` with it, then serve the site on that port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(app_or_home, port: int | None = None, *, threads: int = 4) -> Iterator[str]:
    """Serve a WSGI app, or the site in a home (``create_app(home)``), with waitress in a
    daemon thread of this process, as ``lantai serve`` does; yields its URL
    (``http://127.0.0.1:PORT``, on a free port unless given) and closes the server at the
    end. The server listens before the URL is yielded."""
    from waitress.server import create_server

    if isinstance(app_or_home, str | os.PathLike):
        from publisher.app import create_app

        app_or_home = create_app(app_or_home)
    port = port or free_port()
    # poll() as `lantai serve` does: select() cannot watch descriptors past 1024, which a
    # long test run's process reaches (its loop then died and every request timed out)
    deadline = time.monotonic() + 10
    while True:
        try:
            server = create_server(app_or_home, host="127.0.0.1", port=port, threads=threads,
                                   asyncore_use_poll=True)
            break
        except OSError as exc:  # the same port served again: the last server's socket may
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:  # linger a moment
                raise
            time.sleep(0.2)
    closing = threading.Event()
    died: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except (OSError, ValueError) as exc:  # the socket closed by server.close() is fine
            if not closing.is_set():
                died.append(exc)
                raise

    loop = threading.Thread(target=run, daemon=True)
    loop.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        closing.set()
        # the request threads first: one that finishes after the server closed writes its
        # wake-up byte to the closed trigger's descriptor number — which a later connection
        # of this process may have taken ("xHTTP/1.1 200 OK" seen by a later test)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        for channel in list(server._map.values()):
            if channel is not server and channel is not server.trigger:
                with contextlib.suppress(OSError):
                    channel.close()
        server.close()
        loop.join(timeout=5)
    assert not died, f"the test server's loop ended early: {died[0]!r}"


def start_lantai_serve(home: Path, port: int, log, *args: str,
                       wait: float = 90) -> subprocess.Popen:
    """Start ``lantai --home HOME serve --port PORT ARGS…`` as its own process, its stdout and
    stderr (the request log) to the open file ``log``, and return once ``/healthz`` answers.
    Raises RuntimeError, with the log, if the process exits or does not answer within
    ``wait`` seconds (then it is stopped). The caller terminates the process."""
    proc = subprocess.Popen([lantai_executable(), "--home", str(home), "serve",
                             "--port", str(port), *args], stdout=log, stderr=log,
                            env=lantai_env())
    deadline = time.monotonic() + wait
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return proc
        except requests.ConnectionError:
            if proc.poll() is not None:
                why = f"exited with code {proc.returncode}"
            elif time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                why = f"did not answer /healthz within {wait:g} s"
            else:
                time.sleep(0.1)
                continue
        raise RuntimeError(f"lantai serve on port {port} {why}; its log:\n"
                           + Path(log.name).read_text(errors="replace"))


# ---------------------------------------------------------------------- backups (issue 14)
@contextlib.contextmanager
def rclone_restic(folder: Path, *, wait: float = 20) -> Iterator[str]:
    """A real second backup endpoint: ``rclone serve restic`` (restic's REST protocol)
    serving ``folder`` on a free port of 127.0.0.1, as the other campus's server would.
    Yields the restic repository URL (``rest:http://127.0.0.1:PORT/``; the repository in
    it is not made yet: ``restic init``) and stops the server at the end. Needs rclone and
    restic (under CI their absence fails the test)."""
    import shutil

    require(shutil.which("rclone"), "rclone is not installed (Debian package rclone)")
    require(shutil.which("restic"), "restic is not installed (Debian package restic)")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(["rclone", "serve", "restic", "--addr", f"127.0.0.1:{port}",
                             str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    raise RuntimeError(f"rclone serve restic did not start: {tail}") from None
                time.sleep(0.05)
        yield f"rest:http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``folder`` (a disk that fills up); needs root (CI
    runs as root: it installs packages)."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    require(proc.returncode == 0, f"cannot mount a small tmpfs ({proc.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
