"""Filing units and their officers.

A filing unit is a department: a corporate body of the repository (``corporatebody``),
marked as a unit in the filing store with a short code and the address its notices go to.
An officer is an account holding the FilingOfficer role on that corporate body
(``lantai users grant NAME FilingOfficer --on PATH``; :data:`repo.security.SCOPED_ROLES`):
the role grants nothing in the content tree, and every page and command of the filing loop
asks :func:`units_of` which units a user files for. Archivists (Editor, Reviewer, Manager,
site-wide) see every unit.
"""

from __future__ import annotations

from pyoxigraph import NamedNode

from repo.errors import Forbidden, Invalid
from repo.objects import lt_node, user_iri
from repo.repository import Repository
from repo.security import User
from services.filing.model import OFFICER_ROLE, Unit
from services.filing.store import FilingStore

ARCHIVISTS = frozenset({"Editor", "Reviewer", "Manager"})  # site-wide: run the loop


def is_archivist(user: User) -> bool:
    """May ``user`` plan, review and see every unit (a site-wide archivist's role)?"""
    return bool(ARCHIVISTS & set(user.roles)) or user.is_system


def add_unit(repo: Repository, store: FilingStore, user: User, agent: str, code: str, *,
             email: str = "") -> Unit:
    """Mark the corporate body at ``agent`` (a path or IRI) as the filing unit ``code``."""
    if not is_archivist(user):
        raise Forbidden(f"{user.name} may not add filing units")
    obj = repo.get(user, agent)
    if obj.type_name != "corporatebody":
        raise Invalid(f"{obj.path} is a {obj.type_name}: a filing unit is a corporate body")
    return store.add_unit(Unit(agent=obj.iri, code=code, name_zh=obj.title("zh"),
                               name_en=obj.title("en"), email=email))


def appoint(repo: Repository, store: FilingStore, actor: User, name: str, code: str) -> None:
    """Make the account ``name`` an officer of the unit ``code`` (a Manager's act)."""
    unit = store.unit(code)
    repo.grant(actor, name, OFFICER_ROLE, on=unit.agent,
               message=f"{name} files for {unit.code}")


def units_of(repo: Repository, store: FilingStore, user: User) -> list[Unit]:
    """The units ``user`` files for (every unit for an archivist)."""
    if is_archivist(user):
        return store.units()
    return officer_of(repo, store, user)


def officer_of(repo: Repository, store: FilingStore, user: User) -> list[Unit]:
    """The units ``user`` holds the FilingOfficer role on (an archivist's site-wide role
    counts not: the officer's pages let an archivist look, and only an officer act)."""
    if not is_officer(repo, user):
        return []
    held = {q.subject.value for q in repo.working.quads_for_pattern(
        None, lt_node("local" + OFFICER_ROLE), user_iri(user.name), repo.mgmt)
        if isinstance(q.subject, NamedNode)}
    return [u for u in store.units() if u.agent in held]


def is_officer(repo: Repository, user: User) -> bool:
    """Does ``user`` hold the FilingOfficer role anywhere? (One index lookup: the menu asks
    it on every staff page.)"""
    return next(repo.working.quads_for_pattern(
        None, lt_node("local" + OFFICER_ROLE), user_iri(user.name), repo.mgmt), None) is not None


def require_unit(repo: Repository, store: FilingStore, user: User, code: str) -> Unit:
    """The unit ``code`` if ``user`` files for it or is an archivist; else NotFound-like
    Forbidden (an officer learns nothing of another unit but that it is not theirs)."""
    for unit in units_of(repo, store, user):
        if unit.code == code:
            return unit
    raise Forbidden(f"{user.name} does not file for the unit {code!r}")
