"""The API's account services (Managers only): list accounts, and take access back.

``/api/@users[/{name}]``: revoke a site-wide or local role or a token, disable, enable,
remove, and the account's history. The same :class:`~repo.repository.Repository` methods as
``lantai users`` (one door: Manager checks, a changeset for every change); the next request
of the user concerned is answered with the change in force (accounts are read on every
request, nothing is cached).
"""

from __future__ import annotations

from flask import Response, request

from publisher.api.http import ApiError, body_str, json_body
from publisher.api.jsonld import check_iri
from publisher.api.routes import api_root, reading, send, writing
from publisher.api.services import META, Doc, service
from repo.errors import Forbidden, NotFound
from repo.repository import Repository
from repo.security import USERNAME, User


def account_body(repo: Repository, user: User) -> dict:
    return {"@id": f"{api_root()}/@users/{user.name}", "name": user.name,
            "fullname": user.fullname, "status": repo.account_status(user.name),
            "roles": sorted(user.roles), "tokens": repo.tokens(SITE_MANAGER, user.name)}


SITE_MANAGER = User("system", {"Manager"})  # reads token ids for a Manager's listing


def manager(user: User) -> User:
    if "Manager" not in user.roles:
        raise Forbidden(f"{user.name} is not a Manager")
    return user


def known(name: str) -> str:
    if not USERNAME.match(name):
        raise NotFound(f"no user {name[:40]!r}")
    return name


def message_of(data: dict) -> str:
    return body_str(data, "message") or ""


@service("GET", "/@users", on=META, name="users", doc=Doc(
    "Accounts", "Every account: status, site-wide roles, token ids (Managers only).", "users",
    (200, "Accounts", "Accounts")))
def users_list(ref: None) -> Response:
    def run(repo: Repository, user: User) -> Response:
        manager(user)
        return send({"@id": f"{api_root()}/@users",
                     "items": [account_body(repo, u) for u in repo.users()]})
    return reading(run)


@service("GET", "/@users/<name>", on=META, name="account", doc=Doc(
    "An account", "Status, site-wide roles and token ids (Managers only).", "users",
    (200, "The account", "Account")))
def account(ref: None, name: str) -> Response:
    def run(repo: Repository, user: User) -> Response:
        manager(user)
        return send(account_body(repo, repo.user(known(name))))
    return reading(run)


@service("GET", "/@users/<name>/@history", on=META, name="accountHistory", doc=Doc(
    "Changes of an account", "Who granted, revoked, disabled… when and why.", "users",
    (200, "The account's changesets", "AccountHistory")))
def account_history(ref: None, name: str) -> Response:
    def run(repo: Repository, user: User) -> Response:
        items = [{"time": cs.time, "author": cs.author, "action": cs.action,
                  "message": cs.message}
                 for cs in repo.account_history(manager(user), known(name))]
        return send({"@id": f"{api_root()}/@users/{name}/@history", "items": items})
    return reading(run)


@service("POST", "/@users/<name>/@revoke", on=META, name="revoke", doc=Doc(
    "Revoke a role or a token", "A site-wide role (`role`), a local role (`role` and `on`, a "
    "path or IRI) or a token (`token`: its id, or `all`).", "users",
    (200, "The account after the change", "Account"), errors="write", body="Revoke"))
def revoke(ref: None, name: str) -> Response:
    data = json_body(required=True)
    role = body_str(data, "role", limit=32)
    on = body_str(data, "on", limit=2000)
    if on is not None and not on.startswith("/"):
        check_iri("on", on)
    token = body_str(data, "token", limit=200)
    message = message_of(data)
    if (role is None) == (token is None) or (token is not None and on is not None):
        raise ApiError(400, "give either 'role' (with 'on' for a local role) or 'token'")

    def run(repo: Repository, user: User) -> Response:
        if token is not None:
            repo.revoke_token(manager(user), known(name), token, message=message)
        elif role is not None:  # one of the two, checked above
            repo.revoke(manager(user), known(name), role, on=on, message=message)
        return send(account_body(repo, repo.user(name)))
    return writing(run)


def status_change(name: str, change: str) -> Response:
    message = message_of(json_body())

    def run(repo: Repository, user: User) -> Response:
        getattr(repo, change)(manager(user), known(name), message=message)
        return send(account_body(repo, repo.user(name)))
    return writing(run)


@service("POST", "/@users/<name>/@disable", on=META, name="disable", doc=Doc(
    "Disable an account", "It can no longer sign in or act; its roles and tokens stay for "
    "@enable.", "users", (200, "The account after the change", "Account"), errors="write",
    body="Message", body_required=False))
def disable(ref: None, name: str) -> Response:
    return status_change(name, "disable")


@service("POST", "/@users/<name>/@enable", on=META, name="enable", doc=Doc(
    "Enable an account", "Undo @disable.", "users",
    (200, "The account after the change", "Account"), errors="write", body="Message",
    body_required=False))
def enable(ref: None, name: str) -> Response:
    return status_change(name, "enable")


@service("DELETE", "/@users/<name>", on=META, name="removeUser", doc=Doc(
    "Remove an account", "For good: roles, local roles, tokens and password go; the name "
    "stays in the history and is never given again.", "users",
    (200, "The removed account", "Account"), errors="write", params=("message",)))
def remove(ref: None, name: str) -> Response:
    message = request.args.get("message", "")
    if len(message) > 1000:
        raise ApiError(400, "message is longer than 1000 characters")

    def run(repo: Repository, user: User) -> Response:
        repo.remove(manager(user), known(name), message=message)
        return send(account_body(repo, repo.user(name)))
    return writing(run)
