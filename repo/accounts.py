"""User accounts of a site: who may log in, with which roles, as which person.

Accounts live in the management graph (the working store's default graph, ``lt:User``),
never in the publication dataset: scrypt password hashes, SHA-256 of API tokens, site-wide
roles and, for a graduate reading their own records, the Person agent the account is.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyoxigraph import Literal, NamedNode, Quad

from ontology.namespaces import LT, RDF_TYPE
from repo.errors import Conflict, Forbidden, Invalid, NotFound
from repo.objects import lt_node, user_iri, user_name
from repo.security import (
    SYSTEM,
    User,
    allowed,
    check_role,
    check_username,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from repo.store import apply_update


class Accounts:
    """The user-account half of :class:`repo.repository.Repository` (a mixin)."""
    def _save_user(self, user: User, *, password: str | None = None,
                   new_api_token: bool = False) -> str | None:
        node = user_iri(user.name)
        old = list(self.working.quads_for_pattern(node, None, None, self.mgmt))
        token = None
        if password is not None:
            if len(password) < 8:
                raise Invalid("a password needs at least 8 characters")
            user.password_hash = hash_password(password)
        if new_api_token:
            token, digest = new_token()
            user.token_hashes.add(digest)
        g = self.mgmt
        new = [Quad(node, RDF_TYPE, lt_node("User"), g),
               Quad(node, lt_node("name"), Literal(user.name), g)]
        new += [Quad(node, lt_node("role"), Literal(r), g) for r in sorted(user.roles)]
        if user.fullname:
            new.append(Quad(node, lt_node("fullname"), Literal(user.fullname), g))
        if user.agent:
            new.append(Quad(node, lt_node("agent"), NamedNode(user.agent), g))
        if user.password_hash:
            new.append(Quad(node, lt_node("passwordHash"), Literal(user.password_hash), g))
        new += [Quad(node, lt_node("tokenHash"), Literal(h), g) for h in sorted(user.token_hashes)]
        with self._lock:
            apply_update(self.working, set(old) - set(new), set(new) - set(old))
        return token

    def user(self, name: str) -> User:
        if name == "system":
            return SYSTEM
        node = user_iri(name)
        quads = list(self.working.quads_for_pattern(node, None, None, self.mgmt))
        if not quads:
            raise NotFound(f"no user {name!r}")
        u = User(name)
        for q in quads:
            key = q.predicate.value[len(LT):] if q.predicate.value.startswith(LT) else ""
            if key == "role":
                u.roles.add(q.object.value)
            elif key == "fullname":
                u.fullname = q.object.value
            elif key == "agent":
                u.agent = q.object.value
            elif key == "passwordHash":
                u.password_hash = q.object.value
            elif key == "tokenHash":
                u.token_hashes.add(q.object.value)
        return u

    def users(self) -> list[User]:
        names = sorted(q.subject.value for q in self.working.quads_for_pattern(
            None, RDF_TYPE, lt_node("User"), self.mgmt))
        return [self.user(user_name(NamedNode(n))) for n in names]

    def add_user(self, actor: User, name: str, *, roles: Iterable[str] = (),
                 password: str | None = None, fullname: str = "", agent: str | None = None,
                 token: bool = False) -> str | None:
        """Create an account (Managers only). Returns a new API token if asked for."""
        self._require_manager(actor)
        check_username(name)
        if any(u.name == name for u in self.users()):
            raise Conflict(f"user {name!r} exists already")
        agent_iri = self.resolve(agent) if agent else None
        return self._save_user(User(name, {check_role(r) for r in roles}, fullname, agent_iri),
                               password=password, new_api_token=token)

    def grant(self, actor: User, name: str, role: str, *, on: str | None = None) -> None:
        """Give a site-wide role, or a local role on a container and everything inside."""
        role = check_role(role)
        target = self.user(name)
        if on is None:
            self._require_manager(actor)
            target.roles.add(role)
            self._save_user(target)
            return
        obj = self.get(actor, on)
        if not allowed("manage", obj.state, self.roles_on(actor, obj)):
            raise Forbidden(f"{actor.name} may not grant roles on {obj.path}")
        new = obj.copy()
        new.mgmt.setdefault("local" + role, [])
        if user_iri(name) not in new.mgmt["local" + role]:
            new.mgmt["local" + role].append(user_iri(name))
        self._commit(actor, "grant", f"grant {role} to {name}", {obj.iri: (obj, new)})

    def set_password(self, actor: User, name: str, password: str) -> None:
        if actor.name != name:
            self._require_manager(actor)
        self._save_user(self.user(name), password=password)

    def new_token(self, actor: User, name: str) -> str:
        if actor.name != name:
            self._require_manager(actor)
        return self._save_user(self.user(name), new_api_token=True) or ""

    def authenticate(self, name: str, *, password: str | None = None,
                     token: str | None = None) -> User:
        """The user, if the password or token is right; Forbidden otherwise."""
        try:
            u = self.user(name)
        except NotFound:
            raise Forbidden("wrong user name or credentials") from None
        if token is not None and token_hash(token) in u.token_hashes:
            return u
        if password is not None and u.password_hash and verify_password(password,
                                                                         u.password_hash):
            return u
        raise Forbidden("wrong user name or credentials")

    def user_for_token(self, token: str) -> User:
        hits = list(self.working.quads_for_pattern(None, lt_node("tokenHash"),
                                                   Literal(token_hash(token)), self.mgmt))
        if not hits:
            raise Forbidden("unknown token")
        return self.user(user_name(hits[0].subject))

    def _require_manager(self, actor: User) -> None:
        if "Manager" not in actor.roles:
            raise Forbidden(f"{actor.name} is not a Manager")
