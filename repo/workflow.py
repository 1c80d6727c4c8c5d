"""The publication workflow: private → pending review → published, and back.

Like Plone's simple publication workflow. Transitions are guarded by role: a contributor
submits, a reviewer publishes or rejects, a reviewer or manager withdraws. The roles a user
has on an object (global + local, inherited down the tree, plus Owner) are computed by
``repo.security``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transition:
    name: str
    source: tuple[str, ...]
    target: str
    roles: frozenset[str]
    title_zh: str
    title_en: str


TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    Transition("submit", ("private",), "pending",
               frozenset({"Owner", "Contributor", "Editor", "Manager"}),
               "提交审核", "Submit for review"),
    Transition("retract", ("pending",), "private",
               frozenset({"Owner", "Editor", "Manager"}), "撤回", "Retract"),
    Transition("publish", ("pending", "private"), "published",
               frozenset({"Reviewer", "Manager"}), "发布", "Publish"),
    Transition("reject", ("pending",), "private",
               frozenset({"Reviewer", "Manager"}), "退回", "Reject"),
    Transition("withdraw", ("published",), "private",
               frozenset({"Reviewer", "Manager"}), "撤销发布", "Withdraw"),
)}

INITIAL_STATE = "private"


def available(state: str, roles: set[str]) -> list[Transition]:
    """Transitions a user with ``roles`` may take from ``state``."""
    return [t for t in TRANSITIONS.values() if state in t.source and roles & t.roles]
