"""One request in the staff workspace: its page, its identity-document image, the page
thumbnails of the records selected for the copy, and the search that matches the requester
to a person in the repository and finds the records to copy.

Every response here that shows the requester's personal data records a ``viewed`` event
(the page, the identity image); thumbnails show the repository's records (read as the staff
user: closed records included), not the request's personal data, and are not recorded. The
search is a POST (a name or a student number typed into a GET would land in the request log).
"""

from __future__ import annotations

import importlib
import io
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from flask import abort, request, url_for
from flask_babel import gettext as _
from PIL import Image
from werkzeug.wrappers import Response

from repo.catalog import Catalog
from repo.errors import LantaiError, NotFound
from repo.repository import Repository
from repo.security import User
from services.requests.model import Request
from services.requests.staff import bp, clock, may_handle, store, workrooms
from services.requests.staff_words import id_word, word
from staff import web
from staff.lookup import catalog_query

MAX_NUMBER = 64  # characters of a request number in a URL
MAX_QUERY = 100
FOUND = 12  # persons and records shown by the search, each
THUMB_PX = 240
RECORD_TYPES = ("file", "item")
_NOISE = re.compile(r"[\"':()*\\\-+^~\[\]{}!]")
_YEARS = re.compile(r"^\s*(\d{4})\s*(?:[-–—~至]\s*(\d{4}))?\s*$")

# what a "done" code in the URL after an action says (the URL carries only the code)
DONE = {
    "created": "The request was entered.", "taken": "You have taken the request.",
    "assigned": "The request was assigned.", "transferred": "The request was transferred.",
    "urgent": "The request is flagged urgent.", "not-urgent": "The request is not urgent.",
    "matched": "The requester was matched.", "selected": "The selection was saved.",
    "issued": "The certified copy was issued and e-mailed to the requester.",
    "issued-kept": "The certified copy was issued.",
    "issued-mail-failed": "The certified copy was issued and kept, but the e-mail could not "
                          "be sent: send the link again later or deliver it another way.",
    "refused": "The request was refused.", "dispatched": "The postal dispatch was recorded.",
    "fulfilled": "The request is fulfilled.", "closed": "The request is closed.",
    "reopened": "The request is open again.", "revoked": "The copy was revoked.",
}


def optional(name: str) -> ModuleType | None:
    """A part of the service built by another part of issue 12 (``pages``, ``certify``,
    ``delivery``), or None while it is not there yet."""
    try:
        return importlib.import_module(f"services.requests.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"services.requests.{name}":
            raise
        return None


def number_of(text: str) -> str:
    if len(text) > MAX_NUMBER:
        raise NotFound(_("No such request."))
    return text


# ---------------------------------------------------------------------- the page
@dataclass
class Chosen:
    """A record selected for the copy, as the page shows it."""

    position: int
    iri: str
    title: str
    refcode: str
    access: str
    pages: tuple[int, ...]
    page_count: int | None = None  # None: the page list is not available
    thumbs: list[dict] = field(default_factory=list)  # {"n", "label", "url", "chosen"}
    missing: bool = False  # gone, or not visible to this user


def describe(repo: Repository, user: User, req: Request) -> dict:
    """What the page shows from the repository: the matched person, the chosen records."""
    lang = web.current_lang()
    pages = optional("pages")
    person = None
    if req.person:
        try:
            obj = repo.get(user, req.person)
            person = {"iri": obj.iri, "title": obj.title(lang), "path": obj.path}
        except LantaiError:
            person = {"iri": req.person, "title": req.person, "path": ""}
    chosen = []
    for position, s in enumerate(req.selections):
        try:
            obj = repo.get(user, s.record)
        except LantaiError:
            chosen.append(Chosen(position, s.record, s.record, "", "", s.pages, missing=True))
            continue
        c = Chosen(position, obj.iri, obj.title(lang),
                   " ".join(str(v) for v in obj.fields().get("refcode", [])), obj.access,
                   s.pages)
        if pages is not None:
            found = pages.record_pages(repo, user, obj.iri)
            c.page_count = len(found)
            c.thumbs = [{"n": p.number, "label": getattr(p, "label", "") or str(p.number),
                         "chosen": not s.pages or p.number in s.pages,
                         "url": url_for(".thumb", number=req.id, position=position,
                                        page=p.number)} for p in found]
        chosen.append(c)
    handlers = [u.name for u in repo.users()
                if may_handle(u) and repo.account_status(u.name) == "active"]
    return {"person": person, "chosen": chosen, "handlers": handlers}


def page(number: str, status: int = 200, **extra: Any) -> Response:
    """The request's page; recorded as a view of its personal data."""
    from services.requests.staff_actions import ACTION_STATES, may_revoke

    number = number_of(number)
    req = store().get(number, unseal=True)
    me = web.username()
    store().viewed(number, me, extra.pop("what", "request page"))
    done = request.args.get("done", "")
    return web.render(
        "staff_requests/request.html", status, req=req, p=req.personal, word=word,
        id_word=id_word,
        clock=clock(req), history=store().history(number), copies=store().copies_of(number),
        dispatches=store().dispatches(number), workrooms=workrooms(), me=me,
        done=_(DONE[done]) if done in DONE else "",
        can={a: req.status in states for a, states in ACTION_STATES.items()},
        may_revoke=may_revoke(), certify_ready=optional("certify") is not None,
        **web.reading(lambda repo, user: describe(repo, user, req)), **extra)


@bp.get("/<number>")
def show(number: str) -> Response:
    return page(number)


# ---------------------------------------------------------------------- identity image
@bp.get("/<number>/id-image")
def id_image(number: str) -> Response:
    """The identity-document image as sent (sealed on disk), recorded as a view."""
    number = number_of(number)
    req = store().get(number)
    if not req.has_id_image:
        raise NotFound(_("This request has no identity-document image."))
    data = store().id_image(number)
    store().viewed(number, web.username(), "identity document")
    try:
        with Image.open(io.BytesIO(data)) as im:
            mime = Image.MIME.get(im.format or "", "application/octet-stream")
    except (OSError, ValueError, Image.DecompressionBombError):
        mime = "application/octet-stream"
    resp = Response(data, mimetype=mime)
    resp.headers["Content-Disposition"] = "inline"
    return resp


# ---------------------------------------------------------------------- thumbnails
@bp.get("/<number>/selection/<int:position>/<int:page>.jpg")
def thumb(number: str, position: int, page: int) -> Response:
    """A page of a selected record, small (the records may be closed: staff see them)."""
    pages = optional("pages")
    req = store().get(number_of(number))
    if pages is None or not 0 <= position < len(req.selections):
        abort(404)
    record = req.selections[position].record

    def run(repo: Repository, user: User) -> bytes:
        for p in pages.record_pages(repo, user, record):
            if p.number == page:
                return pages.page_jpeg(repo, user, p, THUMB_PX)
        raise NotFound(_("The record has no page %(n)d.", n=page))
    return Response(web.reading(run), mimetype="image/jpeg")


# ---------------------------------------------------------------------- the search
def find_records(repo: Repository, user: User, text: str, years: str) -> dict:
    """Persons by name and records by any words (student number, name), with the years of
    study as a filter on the records, in the staff catalog as the user may view it."""
    text = text.strip()[:MAX_QUERY]
    out: dict = {"persons": [], "records": [], "searched": bool(text)}
    if not text:
        return out
    try:
        catalog = Catalog.open(repo.home, public=False, repository=repo)
    except (LantaiError, OSError, ValueError):  # being rebuilt (`lantai reindex`)
        out["unavailable"] = True
        return out
    lang = web.current_lang()
    person_query = catalog_query(text)
    if person_query:
        hits = catalog.search(person_query, filters={"type": ["person"]}, user=user,
                              size=FOUND, facets=False).hits
        out["persons"] = [{"iri": h.iri, "path": h.path, "title": _title(h, lang)}
                          for h in hits]
    words = " ".join(_NOISE.sub(" ", text).split())
    filters: dict[str, object] = {"type": list(RECORD_TYPES)}
    m = _YEARS.match(years)
    if m:
        filters["year"] = f"{m.group(1)}-{m.group(2) or m.group(1)}"
    if words:
        hits = catalog.search(words, filters=filters, user=user, size=FOUND,
                              facets=False).hits
        out["records"] = [{"iri": h.iri, "path": h.path, "title": _title(h, lang),
                           "refcode": h.refcode, "year": h.year, "access": h.access}
                          for h in hits]
    return out


def _title(hit: Any, lang: str) -> str:
    first, second = (hit.title_zh, hit.title_en) if lang == "zh" else (hit.title_en,
                                                                       hit.title_zh)
    return first or second or hit.path


@bp.post("/<number>/find")
def find(number: str) -> Response:
    """The search: its results alone for the page's script (htmx), else the whole page."""
    number = number_of(number)
    text = request.form.get("q", "")[:MAX_QUERY]
    years = request.form.get("years", "")[:20]
    from services.requests.staff_actions import ACTION_STATES

    req = store().get(number)  # an unknown number is 404 before anything is searched
    found = web.reading(lambda repo, user: find_records(repo, user, text, years))
    if request.headers.get("HX-Request"):
        return web.render("staff_requests/_found.html", req=req, found=found, word=word,
                          can={a: req.status in s for a, s in ACTION_STATES.items()})
    return page(number, found=found, q=text, years=years, what="request page (search)")
