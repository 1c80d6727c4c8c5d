"""What every staff page uses: who is signed in, the repository's one door, rendering.

The staff workspace holds no rule of its own (issue 11, item 11): a page reads through the
same read-only view of the working store as the REST API (``reading``) and changes anything
only inside ``writing``, which opens the :class:`~repo.repository.Repository` for this one
request, as the same user read again from the store (so a role or account revoked a moment
ago counts), and calls the operation the ``lantai`` command calls. Permissions, validation,
revisions and publication are the repository's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Response, current_app, g, make_response, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from publisher.api.sessions import ApiSite
from publisher.i18n import LANGS
from publisher.i18n import lang as current_lang
from repo.handles import retry_races
from repo.objects import ContentObject
from repo.repository import Repository
from repo.security import ALL_ROLES, User
from staff.sessions import Session

T = TypeVar("T")


def api_site() -> ApiSite:
    """The handles on the site the REST API uses too (one write lock per process)."""
    return current_app.extensions["lantai.api"]


def session() -> Session | None:
    return g.get("staff_session")


def username() -> str:
    """The signed-in account's name (pages behind the sign-in guard only)."""
    s = session()
    assert s is not None and s.username is not None, "behind the sign-in guard"
    return s.username


def reading(fn: Callable[[Repository, User], T]) -> T:
    """Run ``fn(reader, user)`` on the read-only view of the working store; again on a
    fresh view if a writer's compaction removed a file the view was reading."""
    site = api_site()

    def run(reader: Repository) -> T:
        return fn(reader, reader.active_user(username()))
    return retry_races(lambda: run(site.reader()), site.forget_reader, attempts=3)


def writing(fn: Callable[[Repository, User], T]) -> T:
    """Run ``fn(repo, user)`` with the repository open for writing for this request."""
    return writing_as(username(), fn)


def writing_as(name: str, fn: Callable[[Repository, User], T]) -> T:
    """``writing`` as the account ``name`` (sign-in, before the session is made)."""
    with api_site().writer() as repo:
        return fn(repo, repo.active_user(name))


# ---------------------------------------------------------------------- URLs
def object_path(obj: ContentObject | str) -> str:
    """The path of an object in staff URLs, without the leading slash (``""``: the root)."""
    path = obj if isinstance(obj, str) else obj.path
    return (path or "/").strip("/")


def object_url(endpoint: str, obj: ContentObject | str, **args) -> str:
    """``object_url("staff.browse.folder", obj)`` → ``/staff/browse/xjtu/students``."""
    return url_for(endpoint, path=object_path(obj), **args)


def safe_next(target: str | None, default: str = "/staff/") -> str:
    """Where to go after signing in: a path of the workspace, never another site
    (``//evil.example``, ``https://…``, ``/\\evil``, control characters: the default)."""
    if not target or len(target) > 2000 or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/staff/")
            or target.startswith("//") or "\\" in target):
        return default
    return target


# ---------------------------------------------------------------------- pages
def render(template: str, status: int = 200, /, **context) -> Response:
    """A staff page in the user's language (the same choice as the public site's).

    ``template`` and ``status`` are positional only, so that a template variable named
    ``status`` (an account's status) is a variable, not the HTTP status: it once made
    the status line ``0 active``."""
    chosen = current_lang()
    settings = current_app.config["SETTINGS"]
    s = session()
    resp = make_response(render_template(
        template, lang=chosen, zh=chosen == "zh", site=settings,
        site_name=settings.site_name_zh if chosen == "zh" else settings.site_name_en,
        csrf_token=s.csrf if s else "", signed_in_as=s.username if s else None,
        lang_url=lang_url, menu=menu() if s and s.username else [], tabs=tabs,
        object_url=object_url, root_url=root_url, current_endpoint=request.endpoint,
        **context), status)
    if request.args.get("lang") in LANGS:
        resp.set_cookie("lang", request.args["lang"], max_age=365 * 24 * 3600,
                        samesite="Lax", path="/")
    return resp


# The workspace's menu and an object's tabs, by endpoint: an entry shows only once the part
# that serves it is registered (a part adds itself to ``staff.PARTS``; no template changes).
MENU: tuple[tuple[str, str], ...] = (
    ("staff.dashboard.home", "Dashboard"),
    ("staff.browse.folder", "Browse"),
    ("staff.search.search", "Search"),
    ("staff.workflow.review", "Review queue"),
    ("staff.transfer.import_form", "Import"),
    ("staff.accounts.accounts", "Accounts"),
    ("staff.requests.queue", "Requests"),
    ("staff.request_stats.statistics", "Request statistics"),
    ("staff.filing_officer.start", "Filing"),
    ("staff.filing_dashboard.home", "Filing progress"),
    ("staff.filing_planning.plans_page", "Filing plans"),
    ("staff.filing_planning.units_page", "Filing units"),
    ("staff.growth.index", "Growth records"),
    ("staff.growth.mine", "My growth record"),
    ("staff.growth_consent.mine", "Exhibit consents"),
)
TABS = (
    ("staff.browse.folder", "Contents"),
    ("staff.forms.edit", "Edit"),
    ("staff.files.files", "Files"),
    ("staff.workflow.access", "Access"),
    ("staff.workflow.sharing", "Sharing"),
    ("staff.history.history", "History"),
    ("staff.transfer.export", "Export"),
)


def links(entries: tuple[tuple[str, str], ...], **args) -> list[tuple[str, str, str]]:
    """``(endpoint, label, url)`` of the entries whose endpoint exists (labels translated)."""
    rules = current_app.view_functions
    out = []
    for endpoint, label in entries:
        if endpoint in rules:
            try:
                out.append((endpoint, _(label), url_for(endpoint, **args)))
            except BuildError:
                continue
    return out


# endpoint → whether the signed-in user may use it (a part that is not for everyone registers
# the repository's own test here, so that others see no link to what would answer 403)
MENU_FOR: dict[str, Callable[[User], bool]] = {}


def works_in_the_tree(user: User) -> bool:
    """Does ``user`` work in the content tree? Not a graduate or student whose account is
    tied to a person and holds no site role: they read their own records through their
    pages (growth record, requests), and browse, search, review and import would show them
    empty or refused pages."""
    return bool(set(user.roles) & set(ALL_ROLES)) or not user.agent


for _endpoint in ("staff.browse.folder", "staff.search.search", "staff.workflow.review",
                  "staff.transfer.import_form"):
    MENU_FOR[_endpoint] = works_in_the_tree


def menu() -> list[tuple[str, str, str]]:
    user = g.get("staff_user")
    return [e for e in links(MENU) if e[0] not in MENU_FOR
            or (user is not None and MENU_FOR[e[0]](user))]


def tabs(obj: ContentObject | str) -> list[tuple[str, str, str]]:
    """The tabs of an object's pages (contents only for containers)."""
    return links(TABS, path=object_path(obj))


def root_url() -> str:
    """The top of the content tree in the workspace (the dashboard until browsing exists)."""
    found = links((("staff.browse.folder", "Browse"),), path="")
    return found[0][2] if found else url_for("staff.dashboard.home")


def lang_url(code: str) -> str:
    """This page in the other language (a query-only relative URL)."""
    from urllib.parse import urlencode

    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return "?" + urlencode([*args, ("lang", code)])


def error_page(status: int, message: str) -> Response:
    """A refusal as a page: the status, what happened and what to do, nothing else."""
    titles = {400: _("The request was refused"), 401: _("Please sign in"),
              403: _("Not allowed"), 404: _("Not found"), 405: _("Not allowed"),
              409: _("Conflict"), 413: _("Too large"), 415: _("Unsupported file"),
              422: _("Not valid"), 429: _("Too many attempts"), 503: _("Busy")}
    resp = render("staff/error.html", status, title=titles.get(status, _("Error")),
                  message=message, code=status)
    if status == 503:
        resp.headers["Retry-After"] = "1"
    return resp
