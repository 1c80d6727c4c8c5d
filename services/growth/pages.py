"""Growth records in the staff workspace (issue 13, items 7 and 8): ``/staff/growth/…``.

- ``/staff/growth/``              staff: the people with a growth record, and a look-up;
                                  a student is sent to their own
- ``/staff/growth/me``            the signed-in student's own record
- ``/staff/growth/<person key>``  one person's record (staff: anyone's; a student: 404 for
                                  anyone but themself, the same as for no such person)
- ``…/pdf``                       the record as a PDF signed with the archive's seal
- ``/staff/growth/view/<path>``   a read-only page of an activity or record the user may
                                  view (what a student's links lead to: the workspace's edit
                                  pages are for staff)

The record page is a timeline (vis-timeline from npm, served from ``/staff/static/vendor/``;
groups are the four strands, labelled from the SKOS scheme) over a plain list of the same
entries, which is the page without JavaScript, for screen readers and for printing. The
strand checkboxes filter both: as a GET form without JavaScript (the page comes with
the other strands' sections hidden), live with it (``static/growth.js``). The timeline's
data is a JSON block (never executed, so the Content-Security-Policy's ``script-src
'self'`` allows it); every text goes into the page through Jinja's escaping or
``textContent``, never as HTML.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, current_app, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from repo.errors import NotFound
from repo.repository import Repository
from repo.security import User
from services.growth import records, view
from services.growth.model import STRANDS, Entry
from staff import dashboard, web

bp = Blueprint("growth", __name__, url_prefix="/growth", template_folder="templates",
               static_folder="static", static_url_path="/static")

MAX_PERSONS = 500  # people listed on the index page
PATH_SAFE = "!$&'()*+,/:;=@"  # what werkzeug's converters leave unquoted in a path
SHOWN_FIELDS = ("refcode", "date", "begin", "end", "scope", "extent", "note")


def _lang() -> str:
    return web.current_lang()


def _no_record() -> Response:
    return web.error_page(404, _("There is no growth record here."))


# ---------------------------------------------------------------------- the menu
def _is_staff(user: User) -> bool:
    return records.is_staff(user)


def _has_person(user: User) -> bool:
    return bool(user.agent)


web.MENU_FOR["staff.growth.index"] = _is_staff
web.MENU_FOR["staff.growth.mine"] = _has_person


def start(repo: Repository, user: User) -> str | None:
    """Where a student lands after signing in: their growth record (staff.dashboard)."""
    return url_for("staff.growth.mine") if records.is_student(repo, user) else None


dashboard.START.append(start)


# ---------------------------------------------------------------------- pages
@bp.get("/")
def index() -> Response:
    def run(repo: Repository, user: User) -> Response:
        if records.is_student(repo, user):
            return redirect(url_for("staff.growth.mine"))
        if not records.is_staff(user):
            return _no_record()
        wanted = request.args.get("person", "").strip()[:records.MAX_REF]
        if wanted:
            try:
                iri = records.person_iri(repo, wanted)
            except NotFound:
                return web.render("growth/index.html", 404, people=_people(repo),
                                  person=wanted, error=_("No person found for this."))
            return redirect(url_for("staff.growth.person", key=_key(iri)))
        return web.render("growth/index.html", people=_people(repo), person="")
    return web.reading(run)


def _people(repo: Repository) -> list[tuple[str, str]]:
    return [(name, _key(iri)) for iri, name in
            records.people_with_records(repo, _lang(), limit=MAX_PERSONS)]


def _key(iri: str) -> str:
    return iri.rsplit("/", 1)[-1]


@bp.get("/me")
def mine() -> Response:
    def run(repo: Repository, user: User) -> Response:
        person = records.person_of(repo, user)
        if person is None:
            return web.error_page(404, _("This account is not tied to a person, so it has no "
                                         "growth record."))
        return _record_page(repo, user, person, own=True)
    return web.reading(run)


@bp.get("/<key>")
def person(key: str) -> Response:
    def run(repo: Repository, user: User) -> Response:
        try:
            iri = records.record_person(repo, user, key)
        except NotFound:
            return _no_record()
        return _record_page(repo, user, iri, own=iri == records.person_of(repo, user))
    return web.reading(run)


def _selected() -> tuple[str, ...]:
    """The strands asked for (``?strand=research&strand=party``; none given: all)."""
    asked = [s for s in request.args.getlist("strand")[:10] if s in (*STRANDS, view.OTHER)]
    return tuple(asked) if asked else (*STRANDS, view.OTHER)


def _record_page(repo: Repository, user: User, person: str, *, own: bool) -> Response:
    from services.growth.pdf import person_name

    lang = _lang()
    entries = records.growth_record(repo, user, person, lang=lang)
    chosen = _selected()
    shown = [e for e in entries if view.group_of(e) in chosen]
    labels = view.strand_labels(lang)
    groups = [(code, labels[code]) for code in STRANDS] + [(view.OTHER, _("Other"))]
    staff = records.is_staff(user)
    links = _Links(staff)
    pdf_url = (url_for("staff.growth.my_pdf") if own
               else url_for("staff.growth.person_pdf", key=_key(person)))
    data = {
        "lang": lang,
        "groups": [{"id": code, "label": label} for code, label in groups
                   if any(view.group_of(e) == code for e in entries)],
        "hidden": [code for code, _label in groups if code not in chosen],
        "items": [item for e in entries if (item := _item(e, lang, links)) is not None],
        "words": {"current": _("now"), "time": _("time")},
    }
    return web.render(
        "growth/record.html", name=person_name(repo, person, lang), own=own, staff=staff,
        shown=len(shown), total=len(entries), sections=view.sections(entries), labels=labels,
        groups=groups, chosen=chosen, data=data, links=links, when=view.when_text,
        text=records.in_lang, places=view.places_text, pdf_url=pdf_url,
        person_key=_key(person))


class _Links:
    """Where an entry and its records lead: staff to the edit pages, a student to the
    read-only view; scans to the workspace's thumbnails (which check ``can_view`` again).
    Each URL is built once with a marker and filled in per row (``url_for`` for 900 links
    was a third of the page's time), the path quoted as the routing's converters do."""

    MARK = "--growth-mark--"

    def __init__(self, staff: bool) -> None:
        views = current_app.view_functions
        endpoint = ("staff.forms.edit" if staff and "staff.forms.edit" in views
                    else "staff.growth.view")
        self._object = url_for(endpoint, path=self.MARK)
        self._thumb = (url_for("staff.files.derivative", key=self.MARK, kind="thumb")
                       if "staff.files.derivative" in views else "")

    def object(self, path: str) -> str:
        return self._object.replace(self.MARK, quote(web.object_path(path), safe=PATH_SAFE))

    def thumb(self, key: str) -> str:
        if not key or not self._thumb:
            return ""
        return self._thumb.replace(self.MARK, quote(key, safe=PATH_SAFE))


def _item(entry: Entry, lang: str, links: _Links) -> dict | None:
    """One entry as a timeline item (None when it has no date to sit at)."""
    where = view.span(entry)
    if where is None:
        return None
    start, end = where
    item = {"id": entry.iri, "group": view.group_of(entry),
            "title": records.in_lang(entry.title, lang), "start": start,
            "url": links.object(entry.path), "records": len(entry.evidence),
            "image": next((links.thumb(ev.image) for ev in entry.evidence if ev.image), "")}
    if end:
        item["end"] = end
    return item


# ---------------------------------------------------------------------- the PDF
@bp.get("/me/pdf")
def my_pdf() -> Response:
    def run(repo: Repository, user: User) -> Response:
        person = records.person_of(repo, user)
        if person is None:
            return _no_record()
        return _pdf(repo, user, person)
    return web.reading(run)


@bp.get("/<key>/pdf")
def person_pdf(key: str) -> Response:
    def run(repo: Repository, user: User) -> Response:
        try:
            iri = records.record_person(repo, user, key)
        except NotFound:
            return _no_record()
        return _pdf(repo, user, iri)
    return web.reading(run)


def _pdf(repo: Repository, user: User, person: str) -> Response:
    from flask import make_response

    from services.growth.pdf import growth_pdf

    asked = request.args.get("lang", "")
    lang = asked if asked in ("zh", "en") else _lang()
    data = growth_pdf(repo, user, person, lang)
    resp = make_response(data)
    resp.headers["Content-Type"] = "application/pdf"
    resp.headers["Content-Disposition"] = (
        f'attachment; filename="growth-record-{_key(person)}-{lang}.pdf"')
    return resp


# ---------------------------------------------------------------------- read-only view
@bp.get("/view/<path:path>", endpoint="view")
def view_object(path: str) -> Response:
    """An activity or a record the user may view, read-only (404 otherwise: can_view)."""
    def run(repo: Repository, user: User) -> Response:
        obj = repo.get(user, "/" + path)
        lang = _lang()
        fields = obj.fields(repo.base)
        title = obj.title(lang)
        shown = []
        for name in SHOWN_FIELDS:
            for v in fields.get(name, []):
                if isinstance(v, tuple):
                    if v[1].split("-")[0] not in (lang, "") and any(
                            isinstance(x, tuple) and x[1].split("-")[0] == lang
                            for x in fields[name]):
                        continue
                    v = v[0]
                shown.append((name, str(v)))
        scans = [(kid.title(lang), _Links(False).thumb(_key(kid.iri)))
                 for kid in repo.children(user, obj.path) if kid.type_name == "instantiation"]
        strand = next((v for v in fields.get("strand", [])), "")
        return web.render("growth/view.html", obj=obj, title=title, shown=shown, scans=scans,
                          strand=view.strand_labels(lang).get(str(strand).rsplit("/", 1)[-1],
                                                             ""),
                          staff=records.is_staff(user))
    return web.reading(run)

