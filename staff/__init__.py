"""The staff workspace at ``/staff/``: archivists work through the web.

Server-rendered pages (Jinja templates under ``staff/templates/staff/``), with htmx (from the
npm registry, served by us) for the parts that update in place. One blueprint per job,
nested in the ``staff`` blueprint, whose guard (:func:`staff.auth.guard`) stands in front of
every one of them:

- ``auth``       sign-in (password, TOTP), sign-out
- ``dashboard``  the start page: recent changes, drafts, review queue, embargoes, failed jobs
- ``files``      an item's files: uploads (staged, resumable), derivatives, OCR, page order
- ``transfer``   import EAD / EAC-CPF files; export a subtree as EAD or RDF
- ``forms``      add and edit forms generated from the profile; edit conflicts
- ``lookup``     what the forms ask while one types: links, reference codes, dates
- ``accounts``   account administration (Managers) and "my account" (password, second factor)
- ``browse``     the content tree, a folder's contents (paged, sorted), reorder, bulk actions
- ``search``     the staff catalog with its facets, filtered to what the user may view
- ``workflow``   an object's workflow and access (``/access/``), sharing, the review queue
- ``history``    an object's revisions, diffs, revert; undelete inside a container
- ``preservation`` fixity failures and each object's PREMIS events (Managers)

Every page reads and writes through :mod:`staff.web` (the repository's one door, as the
signed-in user); no page holds a rule of its own. Staff pages are never cached by a shared
cache and carry a Content-Security-Policy that allows no inline script.
"""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask
from werkzeug.wrappers import Response

from repo.errors import Busy, LantaiError
from services import filing, growth
from staff import auth, web

# the staff's own pages, in menu order (each module has a ``bp``; ``init_app`` if it needs one)
PARTS = (
    "staff.auth",
    "staff.dashboard",
    "staff.files",
    "staff.transfer",
    "staff.forms",
    "staff.lookup",
    "staff.accounts",
    "staff.browse",
    "staff.search",
    "staff.workflow",
    "staff.history",
    "staff.preservation",  # fixity failures and PREMIS events (issue 14)
    "services.requests.staff",  # 查档: request handling (issue 12)
    "services.requests.statistics",  # 查档: statistics (issue 12)
    *filing.STAFF_PARTS,  # the filing loop (issue 13)
    *growth.STAFF_PARTS,  # growth records (issue 13)
)

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates",
               static_folder="static", static_url_path="/static")
bp.before_request(auth.guard)
bp.after_request(auth.no_store)


@bp.errorhandler(LantaiError)
def repository_error(exc: LantaiError) -> Response:
    """The repository refused (403, 404, 409, 422, 503): its one-line reason, as a page."""
    status = exc.http_status if 400 <= exc.http_status < 600 else 400
    if isinstance(exc, Busy):
        status = 503
    return web.error_page(status, exc.message)


_nested: set[str] = set()  # parts already nested in ``bp`` (Flask allows it once per blueprint)


def init_app(app: Flask) -> None:
    """Register the workspace on the site's app (after the REST API, whose handles it uses).
    A process may make several apps (tests, ``lantai serve`` reloading): the parts are nested
    in the module's blueprint once, and every app gets all of them."""
    for name in PARTS:
        module = importlib.import_module(name)
        if name not in _nested:
            bp.register_blueprint(module.bp)
            _nested.add(name)
        if hasattr(module, "init_app"):
            module.init_app(app)
    app.register_blueprint(bp)
