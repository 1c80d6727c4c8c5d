"""The REST API's routes: content by path (or IRI) and the ``@`` endpoints on it.

``/api/{path}`` is the object at that path of the content tree (``/api/`` the site root);
``/api/@iri?iri=…`` the object with that IRI. After the object's path come its endpoints:
``@children``, ``@workflow[/{action}]``, ``@history[/{n}]``, ``@access``, ``@move``,
``@search``. Every operation calls the same :class:`~repo.repository.Repository` method as
the ``lantai`` command does, as the user whose token came with the request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pyoxigraph import NamedNode
from werkzeug.exceptions import HTTPException

from ontology.profile import load_profile
from publisher.api import jsonld
from publisher.api.http import (
    ApiError,
    bearer_token,
    body_bool,
    body_list,
    body_str,
    check_if_match,
    entity_tag,
    from_repository_error,
    json_body,
    not_modified,
    paging,
    problem,
    query_bool,
    query_int,
    unauthorized,
)
from publisher.api.services import (
    IRI,
    META,
    OBJECT,
    OWN,
    PATH,
    ROOT,
    SERVICES,
    Doc,
    Service,
    SlugPath,
    registered,
    service,
)
from publisher.api.sessions import ApiSite
from repo.errors import Forbidden, Invalid, LantaiError, NotFound
from repo.handles import retry_races
from repo.objects import ContentObject
from repo.repository import Repository
from repo.security import ALL_ROLES, User
from repo.workflow import TRANSITIONS, available

bp = Blueprint("api", __name__)


@bp.record_once
def _add_converter(state) -> None:  # runs before the routes below are added
    state.app.url_map.converters["slugpath"] = SlugPath


EXTENSION = "lantai.api"
T = TypeVar("T")


def init_app(app: Flask) -> None:
    """Give the app its API handles, and JSON errors under /api for what never reaches the
    API's own handlers (a method routing refuses, an unexpected failure). Elsewhere the
    handler registered before (another blueprint's, or Flask's page) still answers."""
    check_settings(app)
    app.extensions[EXTENSION] = ApiSite(app)

    def json_error(code: int, message: str | None = None) -> None:
        from werkzeug.exceptions import default_exceptions

        cls = default_exceptions[code]
        before = app.error_handler_spec.get(None, {}).get(code, {}).get(cls)

        def handler(exc: HTTPException):
            if request.path == "/api" or request.path.startswith("/api/"):
                return routing_problem(code, message or exc.description or exc.name,
                                       getattr(exc, "valid_methods", None))
            return before(exc) if before is not None else exc

        app.register_error_handler(code, handler)

    json_error(404)
    json_error(405)
    json_error(500, "the server failed on this request; it is logged")


def routing_problem(code: int, message: str, allowed: list[str] | None) -> Response:
    """A URL no service is registered for (404; 400 for ``.`` or ``..`` segments), or a
    method it is not registered for (405 with ``Allow``)."""
    if code == 404:
        if any(s in (".", "..") for s in request.path.split("/")):
            return problem(400, "'.' and '..' are not path segments here")
        return problem(404, f"no object or endpoint at {request.path[:200]}")
    if code == 405 and allowed:
        return problem(405, f"{request.method[:20]} is not allowed here (allowed: "
                       f"{', '.join(allowed)})", headers={"Allow": ", ".join(allowed)})
    return problem(code, message)


def site() -> ApiSite:
    return current_app.extensions[EXTENSION]


# ---------------------------------------------------------------------- URLs
def api_root() -> str:
    """``{base}/api``: every URL the API gives out starts from the site's base IRI, never
    from the request's Host header (which anyone can forge, and which a cache or a proxy
    in front may differ on)."""
    return current_app.config["BASE"].rstrip("/") + "/api"


def object_url(obj: ContentObject) -> str:
    if obj.path and not obj.deleted:
        return api_root() + obj.path
    from urllib.parse import quote

    return f"{api_root()}/@iri?iri={quote(obj.iri, safe='')}"


def context_url(type_name: str) -> str:
    return f"{api_root()}/@context/{type_name}"


# ---------------------------------------------------------------------- who is asking
def authenticated(repo: Repository) -> User:
    token = bearer_token()
    if token is None:
        raise unauthorized("this API needs a token: Authorization: Bearer <token> "
                           "(`lantai users token NAME` makes one)")
    try:
        return repo.user_for_token(token)
    except (Forbidden, NotFound):
        raise unauthorized("unknown or revoked token", invalid=True) from None


def on_reader(fn: Callable[[Repository], T]) -> T:
    """Run ``fn`` on the read-only view; again on a fresh one if a writer compacted away a
    table file the view was about to read (RocksDB calls that corruption; it is a race)."""
    return retry_races(lambda: fn(site().reader()), site().forget_reader, attempts=3)


def reading(fn: Callable[[Repository, User], Response]) -> Response:
    return on_reader(lambda reader: fn(reader, authenticated(reader)))


def writing(fn: Callable[[Repository, User], Response], ref: str | None = None,
            *, any_state: bool = False) -> Response:
    """Authenticate on the read-only view (no lock taken for a bad token, nor for an
    object that is not there), then do the change with the repository opened for this
    request only, where everything is checked again."""
    def precheck(reader: Repository) -> None:
        user = authenticated(reader)
        if ref is not None and ref.strip() not in ("", "/"):
            if any_state:
                reader._load_any(user, ref)
            else:
                reader.get(user, ref)

    on_reader(precheck)
    with site().writer() as repo:  # the token again: revoked meanwhile is revoked
        return fn(repo, authenticated(repo))


def require_if_match() -> bool:
    """Writes without If-Match get 428 when the site's settings (``api_require_if_match``
    in ``lantai.toml``) say so; the app config ``LANTAI_API_REQUIRE_IF_MATCH`` overrides."""
    settings = current_app.config.get("SETTINGS")
    default = getattr(settings, "api_require_if_match", False)
    return current_app.config.get("LANTAI_API_REQUIRE_IF_MATCH", default) is True


def check_settings(app: Flask) -> None:
    """Refuse to start with ``api_require_if_match = "yes"`` or the like: a safety setting
    that is silently off because of its spelling would be worse than none."""
    settings = app.config.get("SETTINGS")
    for name, value in (("api_require_if_match",
                         getattr(settings, "api_require_if_match", False)),
                        ("LANTAI_API_REQUIRE_IF_MATCH",
                         app.config.get("LANTAI_API_REQUIRE_IF_MATCH", False))):
        if not isinstance(value, bool):
            raise LantaiError(f"{name} = {value!r}: true or false (lantai.toml)")


# ---------------------------------------------------------------------- bodies
def has_site_role(user: User) -> bool:
    return bool(set(user.roles) & set(ALL_ROLES))


def child_page(repo: Repository, user: User, iri: str, page: int, size: int
               ) -> tuple[list[ContentObject], int]:
    """One page of the children ``user`` may view, in tree order, and how many there are.
    Anyone with a site-wide role may view everything, so only that page is loaded."""
    kids = repo.child_iris(iri)
    start = (page - 1) * size
    if not has_site_role(user):  # every child is loaded to check it: keep them, not reload
        visible = [o for i in kids if (o := repo.load(i)) is not None and repo.can_view(user, o)]
        return visible[start:start + size], len(visible)
    objs = [o for i in kids[start:start + size] if (o := repo.load(i)) is not None]
    return objs, len(kids)


def summary(repo: Repository, obj: ContentObject) -> dict:
    return {"@id": obj.iri, "api": object_url(obj), "path": obj.path,
            "contentType": obj.type_name, "title": jsonld.titles(obj), "state": obj.state,
            "access": obj.access, "revision": obj.revision}


def batching(url: str, page: int, size: int, total: int) -> dict:
    last = max(1, (total + size - 1) // size)
    sep = "&" if "?" in url else "?"

    def at(n: int) -> str:
        return f"{url}{sep}page={n}&size={size}"

    out = {"@id": at(page), "first": at(1), "last": at(last), "page": page, "size": size,
           "pages": last}
    if page > 1:
        out["prev"] = at(min(page - 1, last))
    if page < last:
        out["next"] = at(page + 1)
    return out


def object_body(repo: Repository, user: User, obj: ContentObject, *,
                page: int = 1, size: int = 50) -> tuple[dict, str]:
    """The object as JSON-LD and its entity tag."""
    url = object_url(obj)
    body: dict = {"@context": context_url(obj.type_name), "@id": obj.iri,
                  "@type": jsonld.compact_class(obj.type.rdf_class)}
    body.update(jsonld.field_values(obj))
    parent = None
    if obj.parent and obj.parent != repo.root_iri:
        p = repo.load(obj.parent)
        parent = p.iri if p is not None else obj.parent
    public = repo.public.contains_named_graph(NamedNode(obj.iri))
    kids, total = child_page(repo, user, obj.iri, page, size)
    body.update({
        "api": url, "path": obj.path, "contentType": obj.type_name, "state": obj.state,
        "access": obj.access,
        "openingDate": obj.opening_date.isoformat() if obj.opening_date else None,
        "personalFields": sorted(obj.personal_fields), "revision": obj.revision,
        "created": obj.created or None, "modified": obj.modified or None, "owner": obj.owner,
        "parent": parent, "public": public,
        "items": [summary(repo, k) for k in kids], "items_total": total,
        "batching": batching(url, page, size, total),
        "@components": {name: f"{url}/@{name}" for name in
                        ("children", "workflow", "history", "access", "move", "search")},
    })
    volatile = [obj.path, public, total, page, size, [(k.iri, k.revision, k.path) for k in kids]]
    return body, entity_tag(obj.revision, volatile)


def send(body: dict, status: int = 200, *, etag: str | None = None,
         headers: dict | None = None) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    if etag:
        resp.headers["ETag"] = etag
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


def send_object(repo: Repository, user: User, obj: ContentObject, status: int = 200,
                *, headers: dict | None = None, conditional: bool = False) -> Response:
    page, size = paging()
    body, etag = object_body(repo, user, obj, page=page, size=size)
    if conditional and not_modified(etag):
        resp = Response(status=304)
        resp.headers["ETag"] = etag
        resp.headers["Cache-Control"] = "private, no-cache"
        return resp
    return send(body, status, etag=etag, headers=headers)


# ---------------------------------------------------------------------- the object
@service("GET", "", on=(ROOT, *OBJECT), name="get", doc=Doc(
    "Read an object", "The object as JSON-LD: its description by the profile's field names, "
    "repository facts and a page of its children (at the root: who you are and the top-level "
    "objects). ETag is its revision.", "content", (200, "The object (JSON-LD)", "Object"),
    ok_at_root=(200, "The root: who you are, the top-level objects", "Root"),
    params=("page", "size", "IfNoneMatch")))
def get_object(ref: str) -> Response:
    def run(repo: Repository, user: User) -> Response:
        if repo.resolve(ref) == repo.root_iri:
            return site_root(repo, user)
        return send_object(repo, user, repo.get(user, ref), conditional=True)
    return reading(run)


def site_root(repo: Repository, user: User) -> Response:
    page, size = paging()
    kids, total = child_page(repo, user, repo.root_iri, page, size)
    url = api_root() + "/"
    body = {"@context": {"lt": jsonld.LT, "items": {"@id": "lt:child", "@container": "@set"}},
            "@id": repo.root_iri, "api": url, "path": "/", "user": user.name,
            "roles": sorted(user.roles),
            "items": [summary(repo, k) for k in kids], "items_total": total,
            "batching": batching(url, page, size, total),
            "@components": {"search": f"{api_root()}/@search", "types": f"{api_root()}/@types",
                            "openapi": f"{api_root()}/openapi.json"}}
    etag = entity_tag(0, [total, page, size, [(k.iri, k.revision, k.path) for k in kids]])
    if not_modified(etag):
        return Response(status=304, headers={"ETag": etag})
    return send(body, etag=etag)


@service("POST", "", on=(ROOT, *OBJECT), name="create", doc=Doc(
    "Create a child", "Create an object inside this one (at the root: fonds, collections, "
    "folders, agents, exhibits).", "content", (201, "Created; Location names it", "Object"),
    errors="write", params=("page", "size"), body="Create"))
def create_child(ref: str) -> Response:
    data = json_body(required=True)
    type_name = body_str(data, "type", default=data.get("contentType"), required=True, limit=64)
    profile = load_profile()
    if type_name not in profile.types:
        raise Invalid(f"no content type {type_name!r} (types: {', '.join(sorted(profile.types))})")
    slug = body_str(data, "slug", limit=64)
    key = body_str(data, "key", limit=64)
    level = body_str(data, "access", limit=32)
    until = body_str(data, "until", limit=32)
    message = body_str(data, "message") or ""
    personal = body_list(data, "personal")

    def run(repo: Repository, user: User) -> Response:
        mapping, _ = jsonld.field_input(profile.type(type_name), data.get("fields") or {},
                                        repo.base)
        obj = repo.create(user, ref, type_name, mapping, slug=slug, key=key, access=level,
                          until=until, personal_fields=personal, message=message)
        return send_object(repo, user, obj, 201, headers={"Location": object_url(obj)})
    return writing(run, ref)


@service("PATCH", "", on=OBJECT, name="edit", doc=Doc(
    "Change fields", "Set (a null removes), add or unset field values. If-Match with the ETag "
    "you read: a stale one gets 412.", "content", (200, "The object after the change",
                                                    "Object"),
    errors="write", params=("IfMatch", "page", "size"), body="Patch"))
def edit_object(ref: str) -> Response:
    data = json_body(required=True)
    message = body_str(data, "message") or ""
    unset = body_list(data, "unset")

    def run(repo: Repository, user: User) -> Response:
        obj = repo.get(user, ref)
        check_if_match(obj.revision, required=require_if_match())
        sets, nulls = jsonld.field_input(obj.type, data.get("fields") or {}, repo.base,
                                         allow_null=True)
        adds, _ = jsonld.field_input(obj.type, data.get("add") or {}, repo.base)
        from repo.values import assignments_from_mapping

        new = repo.edit(user, obj.iri, set=sets, add=assignments_from_mapping(adds),
                        unset=[*unset, *nulls], expected_revision=obj.revision,
                        message=message)
        return send_object(repo, user, new)
    return writing(run, ref)


@service("DELETE", "", on=OBJECT, name="delete", doc=Doc(
    "Delete", "Delete the object (with recursive=true, what is inside too). Its IRI stays a "
    "tombstone and is never reused.", "content",
    (200, "What was deleted (tombstones keep the IRIs)", "Deleted"), errors="write",
    params=("IfMatch", "recursive", "message")))
def delete_object(ref: str) -> Response:
    recursive = query_bool("recursive")
    message = request.args.get("message", "")
    if len(message) > 1000:
        raise ApiError(400, "message is longer than 1000 characters")

    def run(repo: Repository, user: User) -> Response:
        obj = repo.get(user, ref)
        check_if_match(obj.revision, required=require_if_match())
        gone = repo.delete(user, obj.iri, recursive=recursive, message=message)
        return send({"deleted": gone, "count": len(gone)})
    return writing(run, ref)


# ---------------------------------------------------------------------- endpoints
@service("GET", "/@children", on=(ROOT, *OBJECT), name="children", doc=Doc(
    "Children", "The children the user may view, in order, paged.", "content",
    (200, "A page of objects", "Listing"), params=("page", "size", "IfNoneMatch")))
def children(ref: str) -> Response:
    def run(repo: Repository, user: User) -> Response:
        iri = repo.resolve(ref)
        if iri != repo.root_iri:
            obj = repo.get(user, ref)
            url = object_url(obj) + "/@children"
        else:
            url = api_root() + "/@children"
        page, size = paging()
        kids, total = child_page(repo, user, iri, page, size)
        etag = entity_tag(0, [iri, total, page, size, [(k.iri, k.revision, k.path) for k in kids]])
        if not_modified(etag):
            return Response(status=304, headers={"ETag": etag})
        return send({"@id": url, "items": [summary(repo, k) for k in kids],
                     "items_total": total, "batching": batching(url, page, size, total)},
                    etag=etag)
    return reading(run)


@service("GET", "/@workflow", on=OBJECT, name="workflow", doc=Doc(
    "Workflow state", "State, the transitions this user may take, and the workflow history.",
    "workflow", (200, "Workflow", "Workflow")))
def workflow_info(ref: str) -> Response:
    def run(repo: Repository, user: User) -> Response:
        obj = repo.get(user, ref)
        url = object_url(obj) + "/@workflow"
        roles = repo.roles_on(user, obj)
        history = [{"revision": r.number, "action": r.action, "author": r.author,
                    "time": r.time, "comment": r.message}
                   for r in repo.history(user, obj.iri)
                   if r.action in TRANSITIONS or r.action == "create"]
        body = {"@id": url, "state": obj.state,
                "transitions": [{"@id": f"{url}/{t.name}", "name": t.name,
                                 "title": {"zh": t.title_zh, "en": t.title_en},
                                 "target": t.target} for t in available(obj.state, roles)],
                "history": history}
        return send(body, etag=entity_tag(obj.revision))
    return reading(run)


@service("POST", "/@workflow/<action>", on=OBJECT, name="transition", doc=Doc(
    "Take a transition", "submit, retract, publish, reject or withdraw, with a comment for the "
    "history. Publishing makes the object public (the publication dataset) if it is open and "
    "its containers are published.", "workflow", (200, "The object after the change",
                                                  "Object"),
    errors="write", params=("IfMatch", "page", "size"), body="Transition",
    body_required=False))
def workflow_transition(ref: str, action: str) -> Response:
    if action not in TRANSITIONS:
        raise ApiError(404, f"no transition {action!r} (transitions: {', '.join(TRANSITIONS)})")
    data = json_body()
    comment = body_str(data, "comment") or ""
    recursive = body_bool(data, "recursive")

    def run(repo: Repository, user: User) -> Response:
        obj = repo.get(user, ref)
        check_if_match(obj.revision, required=require_if_match())
        changed = repo.transition(user, obj.iri, action, comment=comment, recursive=recursive)
        now = repo.load(obj.iri)
        if now is None:  # a transition keeps the object (a deleted one, its tombstone)
            raise NotFound(f"{obj.iri}: gone during the transition")
        page, size = paging()
        body, etag = object_body(repo, user, now, page=page, size=size)
        body["changed"] = [summary(repo, o) for o in changed]
        return send(body, etag=etag)
    return writing(run, ref)


@service("GET", "/@history", on=OBJECT, name="history", doc=Doc(
    "Revisions", "Who changed what, when and why (by IRI also of a deleted object, for "
    "Editors).", "history", (200, "Revisions", "History")))
def history_list(ref: str) -> Response:
    def run(repo: Repository, user: User) -> Response:
        obj = repo._load_any(user, ref)
        url = object_url(obj) + "/@history"
        items = [{"@id": f"{url}/{r.number}", "revision": r.number, "time": r.time,
                  "author": r.author, "action": r.action, "message": r.message}
                 for r in repo.history(user, obj.iri)]
        return send({"@id": url, "revision": obj.revision, "items": items},
                    etag=entity_tag(obj.revision))
    return reading(run)


@service("GET", "/@history/<int(min=1):n>", on=OBJECT, name="revision", doc=Doc(
    "One revision", "The revision and its difference from the previous one.", "history",
    (200, "Revision", "Revision")))
def history_entry(ref: str, n: int) -> Response:
    def run(repo: Repository, user: User) -> Response:
        obj = repo._load_any(user, ref)
        revs = repo.history(user, obj.iri)
        if not 1 <= n <= len(revs):
            raise NotFound(f"{obj.path or obj.iri} has revisions 1–{len(revs)}, not {n}")
        r = revs[n - 1]
        diff = repo.diff(user, obj.iri, n - 1, n)
        url = object_url(obj) + "/@history"
        body = {"@id": f"{url}/{n}", "revision": n, "time": r.time,
                "author": r.author, "action": r.action, "message": r.message,
                "previous": f"{url}/{n - 1}" if n > 1 else None,
                "diff": [{"op": "add" if d.sign == "+" else "remove", "field": d.what,
                          "value": d.value} for d in diff]}
        return send(body, etag=entity_tag(obj.revision))
    return reading(run)


@service("POST", "/@history/<int(min=1):n>", on=OBJECT, name="revert", doc=Doc(
    "Revert or restore", "Make the description what it was at revision n (a new revision; "
    "nothing is lost). By IRI it restores a deleted object, as private.", "history",
    (200, "The object after the change", "Object"), errors="write",
    params=("IfMatch", "page", "size"), body="Revert", body_required=False))
def history_revert(ref: str, n: int) -> Response:
    data = json_body()
    message = body_str(data, "message") or ""

    def run(repo: Repository, user: User) -> Response:
        obj = repo._load_any(user, ref)
        check_if_match(obj.revision, required=require_if_match())
        new = repo.revert(user, obj.iri, n, message=message)
        return send_object(repo, user, new, headers={"Content-Location": object_url(new)})
    return writing(run, ref, any_state=True)


def access_body(obj: ContentObject) -> dict:
    return {"access": obj.access,
            "until": obj.opening_date.isoformat() if obj.opening_date else None,
            "personalFields": sorted(obj.personal_fields),
            "byDefault": bool(obj.mgmt.get("accessByDefault")),
            "levels": ["open", "restricted", "personal", "embargoed"]}


@service("GET", "/@access", on=OBJECT, name="access", doc=Doc(
    "Access rule", "open, restricted, personal or embargoed (until), and the fields marked "
    "personal.", "access", (200, "Access", "Access")))
def access_info(ref: str) -> Response:
    def run(repo: Repository, user: User) -> Response:
        obj = repo.get(user, ref)
        body = {"@id": object_url(obj) + "/@access", **access_body(obj)}
        return send(body, etag=entity_tag(obj.revision))
    return reading(run)


@service("POST", "/@access", on=OBJECT, name="setAccess", doc=Doc(
    "Change the access rule", "Opening needs a Reviewer; restricting an Editor.", "access",
    (200, "Access", "Access"), errors="write", params=("IfMatch",), body="AccessChange"))
def access_change(ref: str) -> Response:
    data = json_body(required=True)
    level = body_str(data, "level", default=data.get("access"), limit=32)
    until = body_str(data, "until", limit=32)
    personal = body_list(data, "personal")
    not_personal = body_list(data, "notPersonal")
    message = body_str(data, "message") or ""

    def run(repo: Repository, user: User) -> Response:
        obj = repo.get(user, ref)
        check_if_match(obj.revision, required=require_if_match())
        new = repo.set_access(user, obj.iri, level, until=until, personal=personal,
                              not_personal=not_personal, message=message)
        body = {"@id": object_url(new) + "/@access", **access_body(new)}
        return send(body, etag=entity_tag(new.revision))
    return writing(run, ref)


@service("POST", "/@move", on=OBJECT, name="move", doc=Doc(
    "Move or rename", "Into another container (its IRI stays; its path changes).", "content",
    (200, "The object after the change", "Object"), errors="write",
    params=("IfMatch", "page", "size"), body="Move"))
def move_object(ref: str) -> Response:
    data = json_body(required=True)
    target = body_str(data, "target", required=True, limit=2000)
    if not target.startswith("/"):
        jsonld.check_iri("target", target)
    slug = body_str(data, "slug", limit=64)
    position = data.get("position")
    if position is not None and (not isinstance(position, int) or isinstance(position, bool)
                                 or not 0 <= position <= 10**9):
        raise ApiError(400, "'position' must be a whole number ≥ 0")
    message = body_str(data, "message") or ""

    def run(repo: Repository, user: User) -> Response:
        obj = repo.get(user, ref)
        check_if_match(obj.revision, required=require_if_match())
        new = repo.move(user, obj.iri, target, slug=slug, position=position, message=message)
        return send_object(repo, user, new, headers={"Content-Location": object_url(new)})
    return writing(run, ref)


@service("GET", "/@search", on=(ROOT, *OBJECT), name="search", doc=Doc(
    "Search the staff catalog", "Words, phrases, reference codes, field:word; filtered to what "
    "the user may view (inside an object: what is inside it).", "search",
    (200, "Results", "SearchResults"), params=("search",)))
def search(ref: str) -> Response:
    from repo.catalog.facets import FACETS, FILTER_ALIASES
    from repo.catalog.search import Catalog

    query = request.args.get("q", "")
    if len(query) > 1000:
        raise ApiError(400, "q is longer than 1000 characters")
    sort = request.args.get("sort", "relevance")
    page = query_int("page", 1, 1, 10_000)
    size = query_int("size", 20, 0, 500)
    names = set(FACETS) | set(FILTER_ALIASES)
    filters: dict[str, list[str]] = {}
    for name in request.args:
        if name in ("q", "sort", "page", "size"):
            continue
        if name not in names:
            raise Invalid(f"no filter {name!r} (filters: {', '.join([*FACETS, 'within'])})")
        values = [v for v in request.args.getlist(name) if v]
        if any(len(v) > 64 for v in values):
            raise ApiError(400, f"{name}: a filter value is at most 64 characters")
        if values:
            filters[name] = values[:50]

    def run(repo: Repository, user: User) -> Response:
        if ref != "/":
            obj = repo.get(user, ref)
            filters.setdefault("within", []).append(obj.iri)
            url = object_url(obj) + "/@search"
        else:
            url = api_root() + "/@search"
        try:
            catalog = Catalog.open(repo.home, public=False, repository=repo)
        except LantaiError as exc:
            raise ApiError(503, exc.message, headers={"Retry-After": "60"}) from None
        try:
            results = catalog.search(query, filters=filters, sort=sort, page=page, size=size,
                                     user=user)
        except (ValueError, OverflowError) as exc:
            raise Invalid(f"cannot search for that: {exc}") from None
        items = []
        for h in results.hits:
            hit = {"@id": h.iri, "api": f"{api_root()}{h.path}" if h.path else None,
                   "path": h.path, "title": {k: v for k, v in (("zh", h.title_zh),
                                                               ("en", h.title_en)) if v},
                   "contentType": h.type, "year": h.year, "refcode": h.refcode or None,
                   "category": h.category or None, "state": h.state, "access": h.access,
                   "score": h.score, "snippet": h.snippet_html}
            items.append(hit)
        body = {"@id": url, "query": query, "sort": results.sort, "items": items,
                "items_total": results.total, "complete": results.complete,
                "batching": batching(search_url(url), page, max(size, 1), results.total),
                "facets": {k: [{"value": v, "count": c} for v, c in vs]
                           for k, vs in results.facets.items()}}
        return send(body)
    return reading(run)


def search_url(url: str) -> str:
    """``url`` with this request's query and filters (not its page and size), for the
    search's page links."""
    from urllib.parse import urlencode

    query = [(k, v) for k, vs in request.args.lists() if k not in ("page", "size", "iri")
             for v in vs]
    return f"{url}?{urlencode(query)}" if query else url


@service("GET", "/@types", on=ROOT, name="types", doc=Doc(
    "Content types", "Types, where each may be placed, and their fields.", "meta",
    (200, "Types", "Types")))
def types_list(ref: str) -> Response:
    def run(repo: Repository, user: User) -> Response:
        out = []
        for t in load_profile().types.values():
            out.append({"name": t.name, "title": {"zh": t.label_zh, "en": t.label_en},
                        "class": t.rdf_class, "allowedIn": sorted(t.allowed_in),
                        "context": context_url(t.name),
                        "fields": [{"name": f.name, "property": f.path, "text": f.is_text,
                                    "reference": f.is_reference, "vocabulary": f.scheme,
                                    "required": f.min_count > 0, "multiple": not f.single,
                                    "personal": f.personal, "description": f.description}
                                   for f in t.fields.values()]})
        return send({"@id": api_root() + "/@types", "items": out})
    return reading(run)


# ---------------------------------------------------------------------- routing
@service("GET", "/openapi.json", on=META, name="openapi", doc=Doc(
    "This document", "The OpenAPI 3.1 description of this API, made from its registered "
    "services.", "meta", (200, "OpenAPI 3.1", None), errors="meta", public=True))
def openapi_document(ref: None) -> Response:
    from publisher.api.openapi import document

    resp = jsonify(document(api_root(), SERVICES, require_if_match=require_if_match()))
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@service("GET", "/@context/<type_name>", on=META, name="context", doc=Doc(
    "JSON-LD context of a content type", "Made from the SHACL profile.", "meta",
    (200, "A JSON-LD context", None), errors="meta", public=True))
def type_context(ref: None, type_name: str) -> Response:
    if type_name not in load_profile().types:
        raise ApiError(404, f"no content type {type_name!r}")
    resp = jsonify({"@context": jsonld.type_context(type_name)})
    resp.mimetype = "application/ld+json"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


def reference(where: str, path: str | None) -> str | None:
    """The object a request is about: ``/`` at the root, ``/{path}``, or ``?iri=``."""
    if where == ROOT:
        return "/"
    if where == PATH and path is not None:
        return "/" + path
    if where == IRI:
        iri = request.args.get("iri", "")
        if not iri.startswith(("http://", "https://")) or len(iri) > 2000 or \
                not valid_iri(iri):
            raise ApiError(400, "@iri needs ?iri= with an absolute http(s) IRI")
        return iri
    return None


def valid_iri(iri: str) -> bool:
    """Is ``iri`` an IRI the store takes (no spaces, ``<>``, control characters…)?"""
    try:
        NamedNode(iri)
    except ValueError:
        return False
    return True


def check_query(svc: Service, where: str) -> None:
    """A 400 for a query parameter the service does not take (a typo such as ``?sise=10``
    is worth noticing), and for a bad page before anything is changed."""
    from publisher.api.openapi import query_names

    allowed = query_names(svc) | ({"iri"} if where == IRI else set())
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise ApiError(400, f"unknown parameter {unknown[0][:40]!r} here"
                       + (f" (parameters: {', '.join(sorted(allowed))})" if allowed else ""))
    if {"page", "size"} <= allowed and svc.name != "search":
        paging()


def view(svc: Service, where: str) -> Callable[..., Response]:
    """The Flask view of one service at one place: who is asking (401 before anything else
    is looked at), the query, then the handler; our errors as JSON problems."""
    def run(path: str | None = None, **values) -> Response:
        try:
            if not svc.doc.public:
                on_reader(authenticated)
            ref = reference(where, path)
            check_query(svc, where)
            return svc.handler(ref, **values)
        except ApiError as exc:
            return problem(exc.status, exc.message, error=exc.error, headers=exc.headers)
        except LantaiError as exc:
            return from_repository_error(exc)
    return run


from publisher.api import users  # noqa: E402,F401  (its services, before the rules are made)

for _svc, _where in registered():
    if _where == OWN:  # served by its own package's blueprint
        continue
    bp.add_url_rule(_svc.rule(_where), endpoint=_svc.operation_id(_where),
                    view_func=view(_svc, _where), methods=[_svc.method])


@bp.route("/api", methods=["GET", "POST"], strict_slashes=False, endpoint="api_bare")
def api_bare():
    """``/api`` → ``/api/`` under the base IRI (routing's own redirect would name the Host
    the request came with)."""
    query = request.query_string.decode("latin-1")
    location = api_root() + "/" + (f"?{query}" if query else "")
    return Response(status=308, headers={"Location": location})
