"""A move may not open what the mover may not open (issue 10: `move` published a closed scan).

An object is public when it is published and open and every container above it is open
(and published, unless a folder). So moving changes what is public without touching a
single access rule: a scan published inside a closed record, or a fonds inside a closed
folder, became public the moment it was moved under an open parent, by a user with only the
right to move it (an Editor may move any private folder), never the right to open it.

The rule is the one file identity follows (:mod:`repo.file_identity`): what becomes public
through a write needs the right to open it. :func:`check_move` lists what the move would
make public that is not public now and refuses the move unless the user may ``open`` every
one of those objects (Reviewer, Manager, here or above).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from repo import access as access_rules
from repo.errors import Forbidden
from repo.objects import ContentObject
from repo.publication import NEVER_PUBLIC_TYPES
from repo.security import User, allowed


class Tree(Protocol):
    """What :func:`check_move` reads of the repository."""

    def load(self, iri: str) -> ContentObject | None: ...
    def child_iris(self, iri: str) -> list[str]: ...
    def is_public(self, iri: str) -> bool: ...
    def roles_on(self, user: User, obj: ContentObject | None) -> set[str]: ...
    def inside_public(self, container_iri: str | None) -> bool: ...


def _passes(obj: ContentObject) -> bool:
    """Does ``obj`` let what is inside it be public (open; published unless a folder)?"""
    return (not obj.deleted and access_rules.is_open(obj)
            and (obj.state == "published" or obj.type_name in NEVER_PUBLIC_TYPES))


def _public_itself(obj: ContentObject) -> bool:
    return (not obj.deleted and obj.type_name not in NEVER_PUBLIC_TYPES
            and obj.state == "published" and access_rules.is_open(obj))


def newly_public(tree: Tree, obj: ContentObject, target_iri: str) -> Iterator[ContentObject]:
    """``obj`` and what is inside it that would be public under ``target_iri`` and is not
    public now."""
    if not tree.inside_public(target_iri):
        return

    def visit(o: ContentObject) -> Iterator[ContentObject]:
        if _public_itself(o) and not tree.is_public(o.iri):
            yield o
        if _passes(o):
            for iri in tree.child_iris(o.iri):
                kid = tree.load(iri)
                if kid is not None:
                    yield from visit(kid)

    yield from visit(obj)


def check_move(tree: Tree, user: User, obj: ContentObject, target_iri: str,
               new_path: str) -> None:
    """Refuse the move if it would make public an object ``user`` may not open."""
    for o in newly_public(tree, obj, target_iri):
        if not allowed("open", o.state, tree.roles_on(user, o)):
            raise Forbidden(f"moving {obj.path} to {new_path} would make {o.path} public; "
                            f"{user.name} may not open it to the public")


__all__ = ["check_move", "newly_public"]
