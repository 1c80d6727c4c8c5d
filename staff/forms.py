"""Adding and editing records through forms generated from the profile (issue 11, items 3, 10).

``/staff/add/<path>?type=T`` and ``/staff/edit/<path>`` show every field of the content type
(:mod:`staff.formdata` makes the controls from ``ontology/profile.ttl``) and save through
``Repository.create`` and ``Repository.edit``, the operations the CLI and the REST API call:
the repository checks permission and validates, and its refusals are shown next to the fields
they concern, with what the user typed kept.

Concurrency: the edit form carries the revision it started from. A save against a newer
revision does not reach the repository's edit: it answers 409 with both versions field by
field (theirs as stored, yours as typed) and the form again, filled with your changes on top
of theirs and the new revision, so that nothing either side wrote is lost. The repository's
``expected_revision`` guards the same rule inside the write lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ontology.profile import ContentType, Profile
from repo import dates
from repo.errors import Conflict, Invalid, LantaiError, NotFound
from repo.objects import ACCESS_LEVELS, ContentObject
from repo.repository import Repository
from repo.security import User, allowed, sees_everything
from staff import formdata, lookup, web
from staff.formdata import Errors, Values

bp = Blueprint("forms", __name__)


def type_names_of(profile: Profile):
    return lambda cls: [t.name for t in profile.types_of_class(cls)]


class Links:
    """The objects a form's link fields name, each read once per request: the form shows a
    link as the object's path with its title beside it, when the user may view it (else as
    the IRI the record holds, and no title)."""

    def __init__(self, repo: Repository, user: User, lang: str) -> None:
        self.repo, self.user, self.lang = repo, user, lang
        self.everything = sees_everything(set(user.roles))
        self.titles: dict[str, str] = {}  # by path (as the form shows it)

    def path_of(self, iri: str) -> str:
        if not self.repo.is_repository_object(iri):
            return iri
        obj = self.repo.load(iri)
        if obj is None or obj.deleted or not obj.path or not (
                self.everything or self.repo.can_view(self.user, obj)):
            return iri
        self.titles[obj.path] = obj.title(self.lang)
        return obj.path

    def typed(self, values: Values, ctype: ContentType) -> dict[str, str]:
        """Titles for the links as typed (paths or IRIs) that name an object one may view."""
        for key, vals in values.items():
            f = ctype.fields.get(key)
            if f is None or not f.is_reference:
                continue
            for v in vals:
                if v in self.titles:
                    continue
                try:
                    self.titles[v] = self.repo.get(self.user, v).title(self.lang)
                except LantaiError:
                    continue
        return self.titles


@dataclass
class Page:
    """What the form template needs besides the values."""

    ctype: ContentType
    obj: ContentObject | None = None
    trail: tuple[ContentObject, ...] = ()
    container: ContentObject | None = None
    container_path: str = ""
    may_edit: bool = True
    revision: int = 0


def render_form(page: Page, values: Values, errors: Errors | None = None, *, status: int = 200,
                more: tuple[str, ...] = (), saved: bool = False, titles: dict | None = None,
                extra: dict | None = None, template: str = "staff/form.html") -> Response:
    profile = web.api_site().reader().profile
    controls = formdata.controls(page.ctype, type_names_of(profile))
    return web.render(
        template, status, page=page, ctype=page.ctype, obj=page.obj, trail=page.trail,
        controls=controls, values=values, errors=errors or Errors(), more=more,
        rows=formdata.rows, languages=formdata.languages, saved=saved, titles=titles or {},
        access_levels=ACCESS_LEVELS, personal=page.obj.personal_fields if page.obj else (),
        t=texts(), urls={"objects": url_for("staff.lookup.objects"),
                         "date": url_for("staff.lookup.date"),
                         "refcode": url_for("staff.lookup.refcode")},
        **(extra or {}))


def texts() -> dict[str, str]:
    """The texts every control repeats, translated once per page (not once per control)."""
    return {
        "required": _("required"), "personal": _("personal data"),
        "ingest": _("set by media ingest"), "several": _("several values allowed"),
        "more": _("Add another"), "check": _("Check"), "zh": _("Chinese"), "en": _("English"),
        "other_lang": _("Another language (tag, e.g. bo, mn, ug)"),
        "other_text": _("Text in that language"),
        "links": _("Type a few letters of a title or name and pick a suggestion, or type a "
                   "path (/agents/…) or an IRI."),
        "dates": _("Dates as you write them, e.g. %(forms)s", forms=dates.FORMS),
    }


def _more() -> tuple[str, ...]:
    """Keys the user asked for another row of (the no-script "add another" button)."""
    return tuple(request.form.getlist("_more"))


# ---------------------------------------------------------------------- edit
@bp.get("/edit/<path:path>")
def edit(path: str) -> Response:
    def read(repo: Repository, user: User) -> Response:
        obj = repo.get(user, "/" + path)
        links = Links(repo, user, web.current_lang())
        values = formdata.from_object(obj, repo.base, links.path_of)
        page = Page(obj.type, obj, tuple(reversed(repo.ancestors(obj))),
                    may_edit=allowed("modify", obj.state, repo.roles_on(user, obj)),
                    revision=obj.revision)
        return render_form(page, values, saved=request.args.get("saved") == "1",
                           titles=links.titles)
    return web.reading(read)


@bp.post("/edit/<path:path>")
def save(path: str) -> Response:
    started = _revision(request.form.get("revision", ""))

    def write(repo: Repository, user: User) -> Response:
        obj = repo.get(user, "/" + path)
        page = Page(obj.type, obj, tuple(reversed(repo.ancestors(obj))), revision=obj.revision)
        if not allowed("modify", obj.state, repo.roles_on(user, obj)):  # before reading input
            repo.edit(user, obj.iri, set=[])  # the repository's own refusal (403)
        mine = formdata.from_form(obj.type, request.form)
        if not 0 < started <= obj.revision:
            raise Invalid(f"revision {started}: {obj.path} has revisions 1–{obj.revision}")
        base_obj = obj if started == obj.revision else ContentObject(
            obj.iri, obj.mgmt, {q for q in repo.state_at(obj, started) if q.graph_name == obj.node})
        links = Links(repo, user, web.current_lang())
        base = formdata.from_object(base_obj, repo.base, links.path_of)
        date_errors = formdata.normalise_dates(obj.type, mine, base)
        if started != obj.revision:
            return conflict(repo, user, obj, page, base, mine, links, started)
        titles = links.typed(mine, obj.type)
        if _more() or date_errors or "_check" in request.form:
            return _again(repo, user, page, mine, date_errors, titles)
        sets, unsets = formdata.changes(obj.type, base, mine)
        try:
            repo.edit(user, obj.iri, set=sets, unset=unsets, expected_revision=started,
                      message=request.form.get("message", "")[:2000])
        except (Invalid, Conflict, NotFound) as exc:
            return render_form(page, mine, formdata.place(exc, obj.type, mine, obj.path),
                               status=_status(exc), titles=titles)
        return redirect(web.object_url("staff.forms.edit", obj, saved=1), 303)
    return web.writing(write)


def _again(repo: Repository, user: User, page: Page, mine: Values, date_errors: dict[str, str],
           titles: dict, extra: dict | None = None) -> Response:
    """The form again, not saved: another row asked for, the reference code to check (the
    buttons that work without script), or a date that cannot be read."""
    errors = Errors()
    for name, message in date_errors.items():
        errors.add(name, message)
    note = None
    if "_check" in request.form:
        where = page.obj.path if page.obj else page.container_path
        note = lookup.refcode_note(repo, user, where, page.ctype.name, new=page.obj is None)
    return render_form(page, mine, errors, status=422 if date_errors else 200, more=_more(),
                       titles=titles, extra={**(extra or {}), "refcode_note": note})


def _status(exc: LantaiError) -> int:
    """A link to no object is a value the form cannot take (422), not a missing page."""
    return 422 if isinstance(exc, NotFound) else exc.http_status


def _revision(text: str) -> int:
    if not text.isdigit() or len(text) > 9:
        abort(web.error_page(400, _("The form does not say which revision it started from. "
                                    "Nothing was changed: reload the page and edit again.")))
    return int(text)


def conflict(repo: Repository, user: User, obj: ContentObject, page: Page, base: Values,
             mine: Values, links: Links, started: int) -> Response:
    """Someone saved since this form was opened: theirs and yours, field by field, and the
    form filled with yours on top of theirs (a field you did not change shows theirs)."""
    theirs = formdata.from_object(obj, repo.base, links.path_of)
    rows = []
    merged: Values = {k: list(v) for k, v in theirs.items()}
    for key in sorted(set(base) | set(theirs) | set(mine)):
        f = formdata.key_field(obj.type, key)
        if f is None or f.set_by_ingest:
            continue
        b, t, m = base.get(key, []), theirs.get(key, []), mine.get(key, [])
        they, you = not formdata.same(f, b, t), not formdata.same(f, b, m)
        if you:
            merged[key] = list(m)
            if not m:
                merged.pop(key, None)
        if they or you:
            rows.append({"key": key, "theirs": t, "yours": m, "they": they, "you": you,
                         "both": they and you and not formdata.same(f, t, m)})
    since = repo.history(user, obj.iri)[started:]
    return render_form(page, merged, status=409, titles=links.typed(merged, obj.type),
                       template="staff/form_conflict.html",
                       extra={"conflicts": rows, "since": since, "started": started})


# ---------------------------------------------------------------------- add
def _new_type(repo: Repository, container: ContentObject | None) -> ContentType | None:
    name = request.args.get("type", "")
    allowed_here = container.type_name if container else "root"
    t = repo.profile.types.get(name)
    return t if t is not None and allowed_here in t.allowed_in else None


def _container(repo: Repository, user: User, path: str) -> ContentObject | None:
    if not path.strip("/"):
        return None
    return repo.get(user, "/" + path)


@bp.get("/add/", defaults={"path": ""})
@bp.get("/add/<path:path>")
def add(path: str) -> Response:
    def read(repo: Repository, user: User) -> Response:
        container = _container(repo, user, path)
        ctype = _new_type(repo, container)
        if ctype is None:
            return _choose_type(repo, container, path)
        page = _add_page(repo, ctype, container, path)
        return render_form(page, {})
    return web.reading(read)


def _add_page(repo: Repository, ctype: ContentType, container: ContentObject | None,
              path: str) -> Page:
    trail = (*reversed(repo.ancestors(container)), container) if container else ()
    return Page(ctype, None, trail, container, "/" + path.strip("/"))


def _choose_type(repo: Repository, container: ContentObject | None, path: str) -> Response:
    here = container.type_name if container else "root"
    types = [t for t in repo.profile.types.values() if here in t.allowed_in]
    status = 400 if request.args.get("type") else 200
    return web.render("staff/form_types.html", status, container=container, types=types,
                      path=path, asked=request.args.get("type", ""))


@bp.post("/add/", defaults={"path": ""})
@bp.post("/add/<path:path>")
def create(path: str) -> Response:
    def write(repo: Repository, user: User) -> Response:
        container = _container(repo, user, path)
        ctype = _new_type(repo, container)
        if ctype is None:
            raise Invalid(_("Choose a content type that may be placed here."))
        page = _add_page(repo, ctype, container, path)
        mine = formdata.from_form(ctype, request.form)
        date_errors = formdata.normalise_dates(ctype, mine, {})
        titles = Links(repo, user, web.current_lang()).typed(mine, ctype)
        extra = {"slug": request.form.get("slug", "").strip()[:64],
                 "access": request.form.get("access", ""), "until": request.form.get("until", "")}
        if _more() or date_errors or "_check" in request.form:
            return _again(repo, user, page, mine, date_errors, titles, extra)
        try:
            obj = repo.create(user, page.container_path, ctype.name,
                              formdata.assignments(ctype, mine),
                              slug=extra["slug"] or None, access=extra["access"] or None,
                              until=extra["until"] or None,
                              message=request.form.get("message", "")[:2000])
        except (Invalid, Conflict, NotFound) as exc:
            errors = formdata.place(exc, ctype, mine)
            return render_form(page, mine, errors, status=_status(exc), titles=titles,
                               extra=extra)
        return redirect(web.object_url("staff.forms.edit", obj, saved=1), 303)
    return web.writing(write)
