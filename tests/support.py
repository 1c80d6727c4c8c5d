"""Helpers shared by the test modules (imported as ``support``; fixtures are in conftest.py).

Everything here works on real Oxigraph stores on disk: a site is ``Repository.init`` in a
temporary folder, and a snapshot is every quad of the working and publication stores.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

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
             users: bool = True, **kw) -> Site:
    clock = clock or Clock()
    repo, token = Repository.init(home, BASE, clock=clock, **kw)
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
    exe = Path(sys.executable).with_name("lantai")
    return str(exe) if exe.exists() else "lantai"


def run_python(script: str, *, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a Python script in a new interpreter with the project importable."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=PROJECT)
