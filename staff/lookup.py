"""What the forms ask while the archivist types (htmx fragments, never a whole page).

- ``/staff/lookup/objects?field=creator&type=file&creator=张``: the agents, places or records
  a link field may name, found in the staff catalog (the index ``lantai search`` uses,
  filtered to what the user may view), as ``<option>`` elements of a ``<datalist>``;
- ``/staff/lookup/refcode`` (POST, the form's fields): the reference code the repository
  would give, or what it says of the one typed (``Repository.refcode_for``);
- ``/staff/lookup/date?field=date&date=1956年8月``: how :mod:`repo.dates` reads a date.

Without script none of these is needed: a link is typed as a path or an IRI, and the
repository checks the code and the dates when the form is saved.
"""

from __future__ import annotations

import re

from flask import Blueprint, request
from flask_babel import gettext as _
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from repo import dates
from repo.catalog import Catalog
from repo.errors import LantaiError
from repo.repository import Repository
from repo.security import User
from staff import formdata, web

bp = Blueprint("lookup", __name__, url_prefix="/lookup")

SUGGESTIONS = 12
MAX_QUERY = 100
REFCODE_FIELDS = ("refcode", "category", "retention", "begin", "date")
_QUERY_NOISE = re.compile(r"[\"':()*\\\-+^~\[\]{}!]")


def fragment(html: str, status: int = 200) -> Response:
    return Response(html, status, mimetype="text/html")


def catalog_query(text: str) -> str:
    """The search-box query for what was typed: its words in titles and names, the last
    (Latin) word as a prefix, since it is still being typed."""
    words = _QUERY_NOISE.sub(" ", text[:MAX_QUERY]).split()
    if not words:
        return ""
    parts = [f"name:{w}" for w in words[:-1]]
    last = words[-1]
    parts.append(f"name:{last}*" if last.isascii() and last.isalnum() else f"name:{last}")
    return " ".join(parts)


@bp.get("/objects")
def objects() -> Response:
    """``<option>`` elements for a link field's datalist."""
    field_name = request.args.get("field", "")
    text = request.args.get(field_name, "") if field_name else request.args.get("q", "")
    text = text.strip()

    def find(repo: Repository, user: User) -> Response:
        ctype = repo.profile.types.get(request.args.get("type", ""))
        f = ctype.fields.get(field_name) if ctype else None
        if f is None or not f.is_reference:
            return fragment(escape(_("No such link field.")), 400)
        if not text or text.startswith(("/", "http://", "https://")):
            return fragment("")  # a path or an IRI is typed, not searched
        kinds = [t.name for c in f.classes for t in repo.profile.types_of_class(c)]
        query = catalog_query(text)
        if not query:
            return fragment("")
        try:
            catalog = Catalog.open(repo.home, public=False, repository=repo)
        except (LantaiError, OSError, ValueError):  # being rebuilt (`lantai reindex`)
            return fragment(escape(_("Suggestions are not available just now: type a path.")),
                            503)
        results = catalog.search(query, filters={"type": kinds}, user=user, size=SUGGESTIONS,
                                 facets=False)
        options = []
        for hit in results.hits:
            title = " · ".join(t for t in (hit.title_zh, hit.title_en) if t) or hit.path
            options.append(f'<option value="{escape(hit.path)}">{escape(title)} '
                           f'({escape(hit.type)})</option>')
        return fragment("\n".join(options))
    return web.reading(find)


@bp.post("/refcode")
def refcode() -> Response:
    """What the repository says of the reference code in the form (a fragment)."""
    path, type_name = request.args.get("path", "/"), request.args.get("type", "")
    new = request.args.get("new") == "1"
    return fragment(web.reading(lambda repo, user: refcode_note(repo, user, path, type_name,
                                                                new=new)))


def refcode_note(repo: Repository, user: User, path: str, type_name: str, *,
                 new: bool) -> Markup:
    """The repository's answer as one line of escaped HTML: the code it would give, the
    code typed as it would store it, or why not."""
    ctype = repo.profile.types.get(type_name)
    if ctype is None or "refcode" not in ctype.fields:
        return escape(_("This type has no reference code."))
    mine = formdata.from_form(ctype, request.form)
    formdata.normalise_dates(ctype, mine, mine)
    sets = [a for a in formdata.assignments(ctype, mine) if a.field in REFCODE_FIELDS]
    try:
        code = repo.refcode_for(user, path or "/", sets, new_type=type_name if new else None)
    except LantaiError as exc:
        return Markup('<span class="error">%s</span>') % exc.message
    if code is None:
        return escape(_("No code will be given yet: it needs the fonds code, the category, "
                        "the retention period and a year."))
    if mine.get("refcode"):
        return Markup('<span class="ok">%s</span>') % _("%(code)s fits and is free.", code=code)
    return escape(_("Will be given: %(code)s", code=code))


@bp.get("/date")
def date() -> Response:
    """How a date typed in a form is read (normalised beginning and end)."""
    text = request.args.get(request.args.get("field", "date"), "")[:dates.MAX_LENGTH + 1]
    if not text.strip():
        return fragment("")
    try:
        d = dates.parse(text)
    except LantaiError as exc:
        return fragment(f'<span class="error">{escape(exc.message)}</span>')
    span = d.begin if d.begin == d.end else f"{d.begin} – {d.end}"
    notes = [_("approximate")] if d.approximate else []
    notes += [_("uncertain")] if d.uncertain else []
    return fragment(str(escape(f"→ {span}" + (f" ({', '.join(notes)})" if notes else ""))))
