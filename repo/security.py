"""Users, roles and permissions.

Roles (Plone's): Reader, Contributor, Editor, Reviewer, Manager, granted site-wide or as
*local roles* on a container, which apply to everything inside it; Owner is the creator of
an object. What a role may do depends on the workflow state, as in Plone's workflows:
``PERMISSIONS[permission][state]`` is the set of roles allowed. Passwords are hashed with
scrypt; API tokens are random and only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from repo.errors import Invalid

ALL_ROLES = ("Reader", "Contributor", "Editor", "Reviewer", "Manager")
# Roles a service gives on one object, which grant nothing in the content tree (no
# PERMISSIONS entry names them): a FilingOfficer holds it on the corporate body of their
# filing unit, and services.filing lets them file for that unit only (issue 13).
SCOPED_ROLES = ("FilingOfficer",)
SCOPED_ON = {"FilingOfficer": "corporatebody"}  # the type of object a scoped role is held on
STAFF = frozenset(ALL_ROLES) | {"Owner"}
_ANY_STATE = ("private", "pending", "published")


def _every_state(roles: set[str]) -> dict[str, frozenset[str]]:
    return {s: frozenset(roles) for s in _ANY_STATE}


PERMISSIONS: dict[str, dict[str, frozenset[str]]] = {
    # see the object (in the working store; the public reads the publication dataset)
    "view": _every_state(set(STAFF)),
    # add an object inside this container
    "add": _every_state({"Owner", "Contributor", "Editor", "Manager"}),
    # change the description, revert to a revision
    "modify": {
        "private": frozenset({"Owner", "Editor", "Manager"}),
        "pending": frozenset({"Editor", "Reviewer", "Manager"}),
        "published": frozenset({"Editor", "Manager"}),
    },
    # delete or move away
    "delete": {
        "private": frozenset({"Owner", "Editor", "Manager"}),
        "pending": frozenset({"Editor", "Manager"}),
        "published": frozenset({"Manager"}),
    },
    # make access stricter (restricted, personal, a later embargo, personal fields)
    "restrict": _every_state({"Editor", "Reviewer", "Manager"}),
    # open a record to the public (open, an earlier embargo end)
    "open": _every_state({"Reviewer", "Manager"}),
    # grant local roles
    "manage": _every_state({"Manager"}),
}

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,31}$")


def allowed(permission: str, state: str, roles: set[str]) -> bool:
    return bool(PERMISSIONS[permission][state] & roles)


def sees_everything(user_roles: set[str]) -> bool:
    """Do these site-wide roles let one view every object in every state? Only such a user
    may give a new object's key: "that key is taken" would otherwise tell anyone else that
    an object they may not see exists (issue 10, item 12)."""
    return all(allowed("view", state, user_roles) for state in _ANY_STATE)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        again = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt),
                               n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(again.hex(), digest)


def new_token() -> tuple[str, str]:
    """A fresh API token and the hash that is stored."""
    token = "lt_" + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_username(name: str) -> str:
    if not USERNAME.match(name):
        raise Invalid(f"user name {name!r}: 2–32 lowercase letters, digits, '.', '_' or '-'")
    return name


def check_role(role: str) -> str:
    for r in (*ALL_ROLES, *SCOPED_ROLES):
        if r.lower() == role.lower():
            return r
    raise Invalid(f"unknown role {role!r} (roles: {', '.join((*ALL_ROLES, *SCOPED_ROLES))})")


@dataclass
class User:
    """A person who works in the repository (or a graduate who reads their own records)."""

    name: str
    roles: set[str] = field(default_factory=set)
    fullname: str = ""
    agent: str | None = None  # the Person agent this user is (for personal records)
    password_hash: str | None = None
    token_hashes: set[str] = field(default_factory=set)
    totp_secret: str | None = None  # base-32 TOTP secret (staff sign-in's second factor)

    @property
    def is_system(self) -> bool:
        return self.name == "system"


SYSTEM = User("system", {"Manager"}, "Lantai (automatic)")
