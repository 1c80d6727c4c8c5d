"""User accounts of a site: who may log in, with which roles, as which person.

Accounts live in the management graph (the working store's default graph, ``lt:User``),
never in the publication dataset: scrypt password hashes, SHA-256 of API tokens, site-wide
roles and, for a graduate reading their own records, the Person agent the account is.

Every change of an account is a changeset like any other change (author, time, message,
action; ``<user> lt:changedIn <changeset>``), whose patch leaves out the secrets (password
and token hashes: a token appears by its id only). Access can be taken back: a site role or a
local role revoked, a token revoked (``users token NAME`` replaces the previous tokens unless
``keep``), an account disabled (reversible) or removed (for good: its roles, tokens and
password go, its name stays so that past changesets still read, and it is never reused).
Nothing is cached: the API reads the account on every request, so a change counts at once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

from pyoxigraph import Literal, NamedNode, Quad

from ontology.namespaces import LT, RDF_TYPE
from ontology.terms import named, value
from preservation import audit, checkpoints
from repo.errors import Conflict, Forbidden, Invalid, NotFound
from repo.objects import lt_node, user_iri, user_name
from repo.reads import Reads
from repo.revisions import (
    Changes,
    Changeset,
    changeset_iri,
    decode_patch,
    encode_patch,
    new_changeset_id,
)
from repo.security import (
    SCOPED_ON,
    SCOPED_ROLES,
    SYSTEM,
    USERNAME,
    User,
    allowed,
    check_role,
    check_username,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from repo.site import ReadOnly, Site
from repo.store import apply_update

DISABLED, REMOVED = "disabled", "removed"
SECRET = ("passwordHash", "tokenHash", "totpSecret")

# commit(actor, action, message, changes): one changeset of object changes
Commit = Callable[[User, str, str, Changes], Changeset]


def is_manager(actor: User) -> bool:
    """May ``actor`` administer accounts (add, disable, remove, grant site roles)?"""
    return "Manager" in actor.roles


def require_manager(actor: User) -> None:
    if not is_manager(actor):
        raise Forbidden(f"{actor.name} is not a Manager")


def token_id(digest: str) -> str:
    """A token's id: the start of its SHA-256 (names the token; says nothing of it)."""
    return digest[:12]


def account_changes(cs: Changeset) -> list[tuple[str, str, str]]:
    """What an account's changeset changed, readably: ``("+"|"-", fact, value)``, e.g.
    ``("+", "role", "Reviewer")``, ``("-", "token", "3f2a9c01b7de")`` (secrets are never in
    the patch; the facts every account has, its type and name, are left out)."""
    removed, added = decode_patch(cs.patch)
    out = []
    for sign, quads in (("-", removed), ("+", added)):
        for q in quads:
            key = q.predicate.value.removeprefix(LT)
            if q.predicate != RDF_TYPE and key != "name":
                out.append((sign, key, value(q.object)))
    return sorted(out, key=lambda c: (c[1], c[0]))


class Accounts:
    """The site's accounts (a part of :class:`repo.repository.Repository`). Local roles are
    management facts of objects, changed through ``commit`` like any change of an object;
    the account itself is written here, unless the site is read-only."""

    def __init__(self, site: Site, reads: Reads, commit: Commit,
                 lock: threading.RLock) -> None:
        self.site = site
        self.reads = reads
        self.commit = commit
        self.lock = lock

    def _save_user(self, user: User, *, password: str | None = None,
                   new_api_token: bool = False, actor: User = SYSTEM,
                   action: str = "account", message: str = "",
                   status: str | None = None) -> str | None:
        """Write ``user``'s account as one changeset by ``actor``; the new token, if asked.
        ``status`` is ``disabled``, ``removed`` or "" (active); None keeps it."""
        if not self.site.writable:
            raise ReadOnly("the read-only view of the repository cannot change accounts")
        node = user_iri(user.name)
        old = set(self.site.working.quads_for_pattern(node, None, None, self.site.mgmt))
        token = None
        if password is not None:
            if len(password) < 8:
                raise Invalid("a password needs at least 8 characters")
            user.password_hash = hash_password(password)
        if new_api_token:
            token, digest = new_token()
            user.token_hashes.add(digest)
        g = self.site.mgmt
        new = {Quad(node, RDF_TYPE, lt_node("User"), g),
               Quad(node, lt_node("name"), Literal(user.name), g)}
        new |= {Quad(node, lt_node("role"), Literal(r), g) for r in user.roles}
        if user.fullname:
            new.add(Quad(node, lt_node("fullname"), Literal(user.fullname), g))
        if user.agent:
            new.add(Quad(node, lt_node("agent"), NamedNode(user.agent), g))
        if user.password_hash:
            new.add(Quad(node, lt_node("passwordHash"), Literal(user.password_hash), g))
        new |= {Quad(node, lt_node("tokenHash"), Literal(h), g) for h in user.token_hashes}
        if user.totp_secret:
            new.add(Quad(node, lt_node("totpSecret"), Literal(user.totp_secret), g))
        keep_status = [q for q in old if q.predicate == lt_node("accountStatus")]
        if status is None:
            new |= set(keep_status)
        elif status:
            new.add(Quad(node, lt_node("accountStatus"), Literal(status), g))
        new |= {q for q in old if q.predicate == lt_node("changedIn")}
        with self.lock:
            self._commit_account(actor, action, message or f"{action} {user.name}", node,
                                 old, new)
        return token

    def _commit_account(self, actor: User, action: str, message: str, node: NamedNode,
                        old: set[Quad], new: set[Quad]) -> Changeset:
        """One SPARQL update: the account's facts and the changeset that records them."""
        now = self.site.clock()
        cs = new_changeset_id(now)

        def public(quads: set[Quad]) -> set[Quad]:
            out = set()
            for q in quads:
                key = q.predicate.value.removeprefix(LT)
                if key == "tokenHash":  # recorded by id only
                    out.add(Quad(q.subject, lt_node("token"), Literal(token_id(value(q.object))),
                                 q.graph_name))
                elif key not in SECRET and key != "changedIn":
                    out.add(q)
            return out

        before, after = public(old), public(new)
        changeset = Changeset(cs, actor.name, now.isoformat(timespec="microseconds"), message,
                              action, encode_patch(before - after, after - before))
        new = new | {Quad(node, lt_node("changedIn"), changeset_iri(cs), self.site.mgmt)}
        unlinked, linked, head = audit.link(self.site.working, self.site.mgmt, changeset)
        apply_update(self.site.working, (old - new) | unlinked,
                     (new - old) | set(changeset.quads(self.site.mgmt)) | linked)
        checkpoints.checkpoint_if_due(self.site.home, self.site.base,
                                      self.site.settings.audit_checkpoint_every, head)
        return changeset

    def account_history(self, actor: User, name: str) -> list[Changeset]:
        """The changesets of an account, oldest first (Managers, or the user themself)."""
        if actor.name != name:
            require_manager(actor)
        node = user_iri(name)
        working, mgmt = self.site.working, self.site.mgmt
        if not any(True for _ in working.quads_for_pattern(node, None, None, mgmt)):
            raise NotFound(f"no user {name!r}")
        ids = sorted(value(q.object).rsplit(":", 1)[-1] for q in working.quads_for_pattern(
            node, lt_node("changedIn"), None, mgmt))
        return [Changeset.from_quads(i, list(working.quads_for_pattern(
            changeset_iri(i), None, None, mgmt))) for i in ids]

    def user(self, name: str) -> User:
        """The account, whatever its status (history and grants name it); use
        :meth:`active_user` for who may act."""
        if name == "system":
            return SYSTEM
        if not USERNAME.match(name):  # could never have been made (nor be an IRI)
            raise NotFound(f"no user {name[:40]!r}")
        node = user_iri(name)
        quads = list(self.site.working.quads_for_pattern(node, None, None, self.site.mgmt))
        if not any(q.predicate == RDF_TYPE for q in quads):
            raise NotFound(f"no user {name!r}")
        u = User(name)
        for q in quads:
            key = q.predicate.value[len(LT):] if q.predicate.value.startswith(LT) else ""
            if key == "role":
                u.roles.add(value(q.object))
            elif key == "fullname":
                u.fullname = value(q.object)
            elif key == "agent":
                u.agent = value(q.object)
            elif key == "passwordHash":
                u.password_hash = value(q.object)
            elif key == "tokenHash":
                u.token_hashes.add(value(q.object))
            elif key == "totpSecret":
                u.totp_secret = value(q.object)
        return u

    def account_status(self, name: str) -> str:
        """``active``, ``disabled`` or ``removed``."""
        self.user(name)
        for q in self.site.working.quads_for_pattern(user_iri(name), lt_node("accountStatus"),
                                                None, self.site.mgmt):
            return value(q.object)
        return "active"

    def active_user(self, name: str) -> User:
        """The user, if the account may act (neither disabled nor removed); Forbidden if not."""
        user = self.user(name)
        if not user.is_system and (status := self.account_status(name)) != "active":
            raise Forbidden(f"the account {name!r} is {status}")
        return user

    def account_list(self, actor: User) -> list[tuple[User, str]]:
        """Every account and its status (Managers only: the staff workspace's list)."""
        require_manager(actor)
        return [(u, self.account_status(u.name)) for u in self.users()]

    def local_roles(self, actor: User, name: str) -> list[tuple[str, str]]:
        """``(path, role)`` of each local role ``name`` holds, by path (Managers, or the user
        themself): what :meth:`revoke` with ``on`` takes back."""
        if actor.name != name:
            require_manager(actor)
        self.user(name)
        node, out = user_iri(name), []
        for iri in self._local_role_objects(name):
            obj = self.reads.load(iri)
            if obj is None:
                continue
            out += [(obj.path, key.removeprefix("local")) for key, holders in obj.mgmt.items()
                    if key.startswith("local") and node in holders]
        return sorted(out)

    def users(self) -> list[User]:
        names = sorted(value(q.subject) for q in self.site.working.quads_for_pattern(
            None, RDF_TYPE, lt_node("User"), self.site.mgmt))
        return [self.user(user_name(NamedNode(n))) for n in names]

    def add_user(self, actor: User, name: str, *, roles: Iterable[str] = (),
                 password: str | None = None, fullname: str = "", agent: str | None = None,
                 token: bool = False, message: str = "") -> str | None:
        """Create an account (Managers only). Returns a new API token if asked for. A name
        once used is never given again (past changesets name its account)."""
        require_manager(actor)
        check_username(name)
        if any(u.name == name for u in self.users()):
            status = self.account_status(name)
            raise Conflict(f"user {name!r} exists already" + (
                f" ({status}; a name is never reused)" if status == REMOVED else
                f" ({status}: `lantai users enable {name}`)" if status == DISABLED else ""))
        agent_iri = self.reads.resolve(agent) if agent else None
        site_roles = {check_role(r) for r in roles}
        if site_roles & set(SCOPED_ROLES):
            raise Invalid(f"{', '.join(sorted(site_roles & set(SCOPED_ROLES)))} is held on "
                          "one object: add the account, then grant it with on")
        return self._save_user(User(name, site_roles, fullname, agent_iri),
                               password=password, new_api_token=token, actor=actor,
                               action="add-user", message=message or f"add user {name}")

    def _account(self, actor: User, name: str) -> User:
        """The account ``actor`` (a Manager) changes; a removed one cannot be changed."""
        require_manager(actor)
        user = self.user(name)
        if user.is_system:
            raise Forbidden("the system account cannot be changed")
        if self.account_status(name) == REMOVED:
            raise Conflict(f"the account {name!r} was removed")
        return user

    def grant(self, actor: User, name: str, role: str, *, on: str | None = None,
              message: str = "") -> None:
        """Give a site-wide role, or a local role on a container and everything inside."""
        role = check_role(role)
        if role in SCOPED_ROLES and on is None:
            raise Invalid(f"{role} is held on one {SCOPED_ON[role]}: give it with on "
                          f"(`lantai users grant {name} {role} --on PATH`)")
        if on is None:
            target = self._account(actor, name)
            target.roles.add(role)
            self._save_user(target, actor=actor, action="grant",
                            message=message or f"grant {role} to {name}")
            return
        if self.account_status(name) == REMOVED:
            raise Conflict(f"the account {name!r} was removed")
        obj = self.reads.get(actor, on)
        if not allowed("manage", obj.state, self.reads.roles_on(actor, obj)):
            raise Forbidden(f"{actor.name} may not grant roles on {obj.path}")
        if role in SCOPED_ON and obj.type_name != SCOPED_ON[role]:
            raise Invalid(f"{role} is held on a {SCOPED_ON[role]}, not on a {obj.type_name} "
                          f"({obj.path})")
        new = obj.copy()
        new.mgmt.setdefault("local" + role, [])
        if user_iri(name) not in new.mgmt["local" + role]:
            new.mgmt["local" + role].append(user_iri(name))
        self.commit(actor, "grant", message or f"grant {role} to {name}",
                     {obj.iri: (obj, new)})

    def revoke(self, actor: User, name: str, role: str, *, on: str | None = None,
               message: str = "") -> None:
        """Take back a site-wide role, or a local role on ``on`` (a Manager there)."""
        role = check_role(role)
        if on is None:
            target = self._account(actor, name)
            if role not in target.roles:
                raise NotFound(f"{name} has no site-wide role {role}")
            target.roles.discard(role)
            self._save_user(target, actor=actor, action="revoke",
                            message=message or f"revoke {role} from {name}")
            return
        self.user(name)
        obj = self.reads.get(actor, on)
        if not allowed("manage", obj.state, self.reads.roles_on(actor, obj)):
            raise Forbidden(f"{actor.name} may not revoke roles on {obj.path}")
        holders = obj.mgmt.get("local" + role, [])
        if user_iri(name) not in holders:
            raise NotFound(f"{name} has no local role {role} on {obj.path}")
        new = obj.copy()
        new.mgmt["local" + role] = [u for u in holders if u != user_iri(name)]
        if not new.mgmt["local" + role]:
            del new.mgmt["local" + role]
        self.commit(actor, "revoke", message or f"revoke {role} from {name}",
                     {obj.iri: (obj, new)})

    def set_password(self, actor: User, name: str, password: str) -> None:
        if actor.name != name:
            require_manager(actor)
        if self.account_status(name) == REMOVED:
            raise Conflict(f"the account {name!r} was removed")
        self._save_user(self.user(name), password=password, actor=actor, action="password",
                        message=f"set the password of {name}")

    def new_token(self, actor: User, name: str, *, keep: bool = False) -> str:
        """A new API token for ``name``; the previous ones stop working unless ``keep``."""
        if actor.name != name:
            require_manager(actor)
        user = self.user(name)
        if (status := self.account_status(name)) != "active":
            raise Conflict(f"the account {name!r} is {status}: no token for it")
        revoked = sorted(token_id(h) for h in user.token_hashes)
        if not keep:
            user.token_hashes.clear()
        message = f"new token for {name}" + (
            f"; revoked {', '.join(revoked)}" if revoked and not keep else "")
        return self._save_user(user, new_api_token=True, actor=actor, action="token",
                               message=message) or ""

    def set_totp(self, actor: User, name: str, secret: str | None, *,
                 message: str = "") -> None:
        """Give ``name`` a TOTP secret (RFC 6238; a second factor at sign-in to the staff
        workspace), or take it away with None. Managers, or the user themself. The secret is
        kept like a password hash: never in a changeset's patch."""
        if actor.name != name:
            require_manager(actor)
        if (status := self.account_status(name)) != "active":
            raise Conflict(f"the account {name!r} is {status}")
        if secret is not None and not re.fullmatch(r"[A-Z2-7]{16,64}", secret):
            raise Invalid("a TOTP secret is 16 to 64 base-32 characters")
        user = self.user(name)
        user.totp_secret = secret
        self._save_user(user, actor=actor, action="totp", message=message or (
            f"two-factor sign-in set up for {name}" if secret else
            f"two-factor sign-in removed from {name}"))

    def tokens(self, actor: User, name: str) -> list[str]:
        """The ids of ``name``'s tokens (Managers, or the user themself)."""
        if actor.name != name:
            require_manager(actor)
        return sorted(token_id(h) for h in self.user(name).token_hashes)

    def revoke_token(self, actor: User, name: str, token: str, *, message: str = "") -> None:
        """Revoke one token, named by its id (``tokens``) or given itself; ``all`` for every
        token of the user. Managers, or the user themself."""
        if actor.name != name:
            require_manager(actor)
        user = self.user(name)
        if token == "all":
            gone = set(user.token_hashes)
        else:
            gone = {h for h in user.token_hashes
                    if token_id(h) == token or h == token_hash(token)}
        if not gone:
            raise NotFound(f"{name} has no token {token[:16]!r} (`lantai users tokens {name}`)")
        user.token_hashes -= gone
        ids = ", ".join(sorted(token_id(h) for h in gone))
        self._save_user(user, actor=actor, action="revoke-token",
                        message=message or f"revoke token {ids} of {name}")

    def disable(self, actor: User, name: str, *, message: str = "") -> None:
        """The account can no longer sign in or act (tokens, password and roles stay, for
        :meth:`enable`)."""
        user = self._account(actor, name)
        if actor.name == name:
            raise Conflict("a Manager cannot disable their own account")
        self._save_user(user, actor=actor, action="disable", status=DISABLED,
                        message=message or f"disable {name}")

    def enable(self, actor: User, name: str, *, message: str = "") -> None:
        user = self._account(actor, name)
        self._save_user(user, actor=actor, action="enable", status="",
                        message=message or f"enable {name}")

    def remove(self, actor: User, name: str, *, message: str = "") -> None:
        """Remove the account for good: roles, tokens, password and local roles go; the name
        and full name stay (past changesets are attributed to it) and are never reused."""
        user = self._account(actor, name)
        if actor.name == name:
            raise Conflict("a Manager cannot remove their own account")
        for iri in self._local_role_objects(name):
            obj = self.reads.load(iri)
            if obj is None:  # never: it has management facts (mypy cannot know)
                continue
            new = obj.copy()
            for key, holders in list(obj.mgmt.items()):
                if key.startswith("local") and user_iri(name) in holders:
                    rest = [u for u in holders if u != user_iri(name)]
                    if rest:
                        new.mgmt[key] = rest
                    else:
                        del new.mgmt[key]
            self.commit(actor, "revoke", f"revoke the local roles of {name} (removed)",
                         {iri: (obj, new)})
        gone = User(name, set(), user.fullname)
        self._save_user(gone, actor=actor, action="remove", status=REMOVED,
                        message=message or f"remove {name}")

    def _local_role_objects(self, name: str) -> list[str]:
        node = user_iri(name)
        return sorted({value(q.subject) for q in self.site.working.quads_for_pattern(
            None, None, node, self.site.mgmt)
            if q.predicate.value.startswith(LT + "local")})

    def authenticate(self, name: str, *, password: str | None = None,
                     token: str | None = None) -> User:
        """The user, if the password or token is right and the account active; Forbidden
        otherwise."""
        try:
            u = self.active_user(name)
        except (NotFound, Forbidden):
            raise Forbidden("wrong user name or credentials") from None
        if token is not None and token_hash(token) in u.token_hashes:
            return u
        if password is not None and u.password_hash and verify_password(password,
                                                                         u.password_hash):
            return u
        raise Forbidden("wrong user name or credentials")

    def user_for_token(self, token: str) -> User:
        """The active user whose token this is (read from the store on every call)."""
        hits = list(self.site.working.quads_for_pattern(None, lt_node("tokenHash"),
                                                   Literal(token_hash(token)), self.site.mgmt))
        if not hits:
            raise Forbidden("unknown token")
        return self.active_user(user_name(named(hits[0].subject)))

