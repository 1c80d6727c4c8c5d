"""The growth records' demo (issue 13, item 10): the three pilot graduates of 2020 of the demo
archive (``repo/demo/archive.yaml``: persons, their activities in the four strands and the
records that document them) get student accounts, and one of them has consented to show three
items on the student exhibit.

- 苏明哲 Su Mingzhe (``sumingzhe``), 标兵毕业生, School of Energy and Power Engineering;
- 方嘉怡 Fang Jiayi (``fangjiayi``), 国奖毕业生, School of Electrical Engineering: she has
  consented to three items (her innovation project, her volunteer service and her National
  Scholarship certificates), shown in the section ``growth_exhibit_section`` of the student
  exhibit; her Party record stays hers;
- 贺云舟 He Yunzhou (``heyunzhou``), 钱学森荣誉毕业生, Qian Xuesen College.

A student account has no site role and is the Person (``agent``): the existing rule lets the
person described read their own personal records, and nothing else. The passwords are made
here at random and printed once by ``lantai demo``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from repo.errors import NotFound
from repo.repository import Repository
from repo.security import User


@dataclass(frozen=True)
class Graduate:
    account: str
    person: str  # path of the Person in the demo archive
    fullname: str
    title_zh: str  # the honour the pilot is about
    consented: tuple[str, ...] = ()  # paths of the records shown on the exhibit


GRADUATES: tuple[Graduate, ...] = (
    Graduate("sumingzhe", "/agents/su-mingzhe", "苏明哲 Su Mingzhe", "标兵毕业生"),
    Graduate("fangjiayi", "/agents/fang-jiayi", "方嘉怡 Fang Jiayi", "国奖毕业生",
             consented=("/xjtu/xs/growth/fang-project-2019",
                        "/xjtu/xs/growth/fang-volunteer-2019",
                        "/xjtu/xs/growth/fang-scholarship-2018")),
    Graduate("heyunzhou", "/agents/he-yunzhou", "贺云舟 He Yunzhou", "钱学森荣誉毕业生"),
)


@dataclass
class GrowthDemo:
    """What :func:`load_demo_growth` made: new accounts' passwords (shown once) and the
    records consented to."""

    passwords: dict[str, str] = field(default_factory=dict)
    consented: list[str] = field(default_factory=list)


def load_demo_growth(home: Path, repo: Repository, user: User) -> GrowthDemo:
    """Make the graduates' accounts (those missing) as ``user`` (the Manager loading the
    demo). Idempotent: an existing account is left as it is."""
    made = GrowthDemo()
    accounts = {u.name for u in repo.users()}
    for grad in GRADUATES:
        try:
            repo.resolve(grad.person)
        except NotFound:
            continue  # the archive was not loaded (or the person was deleted)
        if grad.account in accounts:
            continue
        password = secrets.token_urlsafe(12)
        repo.add_user(user, grad.account, fullname=grad.fullname, agent=grad.person,
                      password=password,
                      message=f"demo: the pilot graduate {grad.fullname} ({grad.title_zh})")
        made.passwords[grad.account] = password
    _consents(home, repo, made)
    return made


def _consents(home: Path, repo: Repository, made: GrowthDemo) -> None:
    """The graduates' consents, given by the graduates themselves through the consent part
    (which opens, publishes and features each record as the system, naming the consent):
    only for a graduate who has never consented (a withdrawn consent stays withdrawn)."""
    from services.growth import consent

    store = consent.ConsentStore.open(home)
    try:
        for grad in GRADUATES:
            if not grad.consented or grad.account not in {u.name for u in repo.users()}:
                continue
            person = repo.resolve(grad.person)
            if store.consents(person):
                continue
            student = repo.user(grad.account)
            for path in grad.consented:
                consent.give(store, repo, student, path)
                made.consented.append(path)
    finally:
        store.close()


__all__ = ["GRADUATES", "Graduate", "GrowthDemo", "load_demo_growth"]
