"""Browsing the content tree (issue 11, item 2): a folder's contents, the tree, reordering
and bulk actions.

A folder's children come from the staff catalog one page at a time
(:meth:`repo.catalog.Catalog.contents`, sorted by a column of the index), so a folder of
10,000 children opens as fast as one of 10; the tree beside it shows containers only and
loads a branch when it is opened (htmx; without JavaScript every branch is a link). Every
change goes through the repository's own operation (``reorder``, ``transition``, ``move``,
``set_access``, ``delete``), one object at a time, each refused or done with the
repository's reason; what is shown as possible follows the same permission table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from flask import Blueprint, abort, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ontology.profile import load_profile
from repo.catalog.search import CONTENTS_SORTS, Catalog, Hit
from repo.errors import Invalid, LantaiError
from repo.objects import ACCESS_LEVELS, ContentObject
from repo.repository import Repository
from repo.security import User, allowed
from staff import web

bp = Blueprint("browse", __name__)

SIZES = (25, 50, 100)
TREE_SIZE = 30  # containers shown per branch of the tree (the rest: "more" links to the folder)
BULK_ACTIONS = ("submit", "publish", "move", "access", "delete")
BULK_MAX = 500  # objects in one bulk action
PATH_MARKER = "--path--"  # a row's tab links: made once, the row's path put in (slugs need
# no quoting), rather than url_for and a translated label six times a row


@dataclass
class Row:
    """One child as the folder view lists it."""

    iri: str
    path: str
    title: str
    type: str
    type_label: str
    state: str
    refcode: str
    modified: str

    @property
    def key(self) -> str:
        """The object's ``kind-key`` (from its IRI): an HTML id."""
        return "o-" + self.iri.split("/id/", 1)[-1].replace("/", "-")

    @property
    def url_path(self) -> str:
        return self.path.strip("/")


@cache
def containers() -> frozenset[str]:
    """The content types that may hold others (what the tree shows)."""
    return frozenset(t for ct in load_profile().types.values() for t in ct.allowed_in) - {"root"}


def addable(container: str) -> list[tuple[str, str]]:
    """``(type, label)`` of the types the profile allows inside a ``container`` type."""
    zh = web.current_lang() == "zh"
    return [(ct.name, ct.label_zh if zh else ct.label_en)
            for ct in load_profile().types.values() if container in ct.allowed_in]


def row(hit: Hit, lang: str) -> Row:
    ctype = load_profile().types.get(hit.type)
    label = (ctype.label_zh if lang == "zh" else ctype.label_en) if ctype else hit.type
    title = (hit.title_zh if lang == "zh" else hit.title_en) or hit.title_zh or hit.title_en
    return Row(hit.iri, hit.path, title or hit.path.rsplit("/", 1)[-1], hit.type, label,
               hit.state, hit.refcode, hit.modified[:16].replace("T", " "))


def catalog(repo: Repository) -> Catalog:
    """The staff catalog (filtered by the permissions ``repo`` reads)."""
    return Catalog.open(repo.home, public=False, repository=repo)


def choice(name: str, options: tuple, default):
    """A query argument that must be one of ``options`` (else a 400 page)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    for option in options:
        if str(option) == raw:
            return option
    abort(web.error_page(400, _("%(name)s: one of %(options)s", name=name,
                                options=", ".join(map(str, options)))))


def page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        abort(web.error_page(400, _("page: a whole number from 1")))
    return int(raw)


def folder_and_trail(repo: Repository, user: User, path: str
                     ) -> tuple[ContentObject | None, list[ContentObject]]:
    """The object at ``path`` (None: the top of the tree) and its containers, outermost first."""
    if not path.strip("/"):
        return None, []
    obj = repo.get(user, "/" + path.strip("/"))
    return obj, list(reversed(repo.ancestors(obj)))


# ---------------------------------------------------------------------- the folder view
@bp.get("/browse/", defaults={"path": ""})
@bp.get("/browse/<path:path>")
def folder(path: str) -> Response:
    lang = web.current_lang()
    sort = choice("sort", tuple(CONTENTS_SORTS), "position")
    direction = choice("dir", ("asc", "desc"), "asc")
    size = choice("size", SIZES, SIZES[0])
    page = page_number()

    def run(repo: Repository, user: User) -> dict:
        obj, trail = folder_and_trail(repo, user, path)
        cat = catalog(repo)
        results = cat.contents(obj.iri if obj else None, user=user, sort=sort,
                               descending=direction == "desc", page=page, size=size, lang=lang)
        roles = repo.roles_on(user, obj)
        state = obj.state if obj else "private"
        container = obj.type_name if obj else "root"
        # the tree: the top and the branches down to this folder (whose own children are
        # the table: its branch loads when opened)
        branches: list[tuple[str | None, dict]] = [(None, tree_branch(cat, user, None, lang))]
        for above in trail:
            branches.append((above.iri, tree_branch(cat, user, above.iri, lang)))
        return {
            "obj": obj, "trail": trail, "rows": [row(h, lang) for h in results.hits],
            "results": results, "sort": sort, "direction": direction, "size": size,
            "page": page, "pages": max(results.pages, 1), "sizes": SIZES,
            "sorts": list(CONTENTS_SORTS), "branches": dict(branches),
            "open_iris": {a.iri for a in trail} | ({obj.iri} if obj else set()),
            "may_add": allowed("add", state, roles),
            "add_types": addable(container) if allowed("add", state, roles) else [],
            # controls are offered by the same table the repository checks (it refuses
            # what a local role on one child does not allow, with its reason)
            "may_change": bool(roles & {"Owner", "Contributor", "Editor", "Reviewer",
                                        "Manager"}),
            "may_reorder": allowed("add", state, roles) and sort == "position"
            and direction == "asc" and results.complete,
            "offset": (page - 1) * size,
            "actions": BULK_ACTIONS, "access_levels": ACCESS_LEVELS,
            "folder_path": web.object_path(obj) if obj else "",
            "row_tabs": [(label, href) for _e, label, href in web.tabs(PATH_MARKER)[1:]],
            "path_marker": PATH_MARKER,
        }
    ctx = web.reading(run)
    return web.render("staff/browse.html", **ctx)


def tree_branch(cat: Catalog, user: User, parent_iri: str | None, lang: str) -> dict:
    """The containers directly inside ``parent_iri`` (first :data:`TREE_SIZE`, tree order)."""
    results = cat.contents(parent_iri, user=user, size=TREE_SIZE, lang=lang,
                           types=containers())
    return {"rows": [row(h, lang) for h in results.hits], "total": results.total}


@bp.get("/tree/", defaults={"path": ""})
@bp.get("/tree/<path:path>")
def tree(path: str) -> Response:
    """One branch of the tree, for htmx to put in place; a browser without it (or anyone
    asking for the page) goes to the folder view."""
    if not request.headers.get("HX-Request"):
        return redirect(url_for("staff.browse.folder", path=path))
    lang = web.current_lang()

    def run(repo: Repository, user: User) -> dict:
        obj, _trail = folder_and_trail(repo, user, path)
        return {"branch": tree_branch(catalog(repo), user, obj.iri if obj else None, lang),
                "parent_path": web.object_path(obj) if obj else "", "open_iris": set(),
                "branches": {}}
    return web.render("staff/browse_tree.html", **web.reading(run))


# ---------------------------------------------------------------------- reordering
@bp.post("/reorder/<path:path>")
def reorder(path: str) -> Response:
    """Place a child at a position among its siblings, 1 first (``index``: an up or down
    button's value; else ``to``, the number typed)."""
    raw = request.form.get("index") or request.form.get("to", "")
    if not raw.lstrip("-").isdigit() or len(raw) > 9:
        return web.error_page(400, _("position: a whole number from 1"))
    index = max(int(raw), 1) - 1

    def run(repo: Repository, user: User) -> str:
        moved = repo.reorder(user, "/" + path.strip("/"), index)
        parent = moved.path.rsplit("/", 1)[0]
        return parent.strip("/")
    parent = web.writing(run)
    back = request.form.get("back", "")
    return redirect(web.safe_next(back, url_for("staff.browse.folder", path=parent)), 303)


# ---------------------------------------------------------------------- bulk actions
@dataclass
class Outcome:
    path: str
    title: str
    done: bool
    reason: str
    status: int = 200


def bulk_request() -> dict:
    """The bulk action the form asks for, checked (a 400 page for anything else)."""
    form = request.form
    action = form.get("action", "")
    if action not in BULK_ACTIONS:
        abort(web.error_page(400, _("Choose an action: %(options)s",
                                    options=", ".join(BULK_ACTIONS))))
    selected = list(dict.fromkeys(v for v in form.getlist("sel") if v))
    if not selected:
        abort(web.error_page(400, _("Select at least one object.")))
    if len(selected) > BULK_MAX or any(len(v) > 2000 for v in selected):
        abort(web.error_page(413, _("At most %(n)d objects at a time.", n=BULK_MAX)))
    target = form.get("target", "").strip()
    level = form.get("level", "")
    until = form.get("until", "").strip()
    if action == "move" and not target:
        abort(web.error_page(400, _("Moving needs the path of the container to move to.")))
    if action == "access" and level not in ACCESS_LEVELS:
        abort(web.error_page(400, _("Choose an access level.")))
    if action == "access" and level == "embargoed" and not until:
        abort(web.error_page(400, _("An embargo needs the date it ends.")))
    if any(len(v) > 2000 for v in (target, until)):
        abort(web.error_page(413, _("A value is too long.")))
    return {"action": action, "selected": selected, "target": target, "level": level,
            "until": until, "recursive": form.get("recursive") == "1"}


def apply(repo: Repository, user: User, req: dict, ref: str) -> None:
    """One object of a bulk action, through the repository's own operation."""
    action = req["action"]
    if action in ("submit", "publish"):
        repo.transition(user, ref, action)
    elif action == "move":
        repo.move(user, ref, req["target"])
    elif action == "access":
        repo.set_access(user, ref, req["level"], until=req["until"] or None)
    elif action == "delete":
        repo.delete(user, ref, recursive=req["recursive"])
    else:  # pragma: no cover - bulk_request allows only BULK_ACTIONS
        raise Invalid(f"no action {action}")


@bp.post("/bulk/", defaults={"path": ""})
@bp.post("/bulk/<path:path>")
def bulk(path: str) -> Response:
    """First post: one confirmation page (what, how many); the confirmed post: each object
    through the repository, then the list of what was done and what was refused, and why."""
    req = bulk_request()
    lang = web.current_lang()

    def look(repo: Repository, user: User) -> dict:
        obj, trail = folder_and_trail(repo, user, path)
        objects = []
        for ref in req["selected"]:
            try:
                found = repo.get(user, ref)
            except LantaiError:
                continue  # gone or not visible: not counted, not named
            objects.append(found)
        return {"obj": obj, "trail": trail, "objects": objects}
    ctx = web.reading(look)
    if not ctx["objects"]:
        return web.error_page(404, _("None of the selected objects was found."))
    if request.form.get("confirm") != "1":
        return web.render("staff/browse_confirm.html", req=req, lang_code=lang,
                          folder_path=path.strip("/"), **ctx)

    def run(repo: Repository, user: User) -> list[Outcome]:
        out = []
        for o in ctx["objects"]:
            try:
                apply(repo, user, req, o.iri)
                out.append(Outcome(o.path, o.title(lang), True, ""))
            except LantaiError as exc:
                out.append(Outcome(o.path, o.title(lang), False, exc.message,
                                   exc.http_status))
        return out
    outcomes = web.writing(run)
    # nothing done: the first refusal's status (a Reader's bulk delete is a 403)
    status = 200 if any(o.done for o in outcomes) else outcomes[0].status
    return web.render("staff/browse_result.html", status, req=req, outcomes=outcomes,
                      folder_path=path.strip("/"), **ctx)
