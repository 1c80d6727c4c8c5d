"""History of an object (issue 11, item 5): revisions, a readable diff, revert and undelete.

``/staff/history/<path>`` lists the revisions (who, when, why, what action) and, with
``?a=N&b=M``, the difference between two of them as a table: the field's label, the old
values and the new ones side by side, values named by their labels (a vocabulary term by its
label, a linked record by its title, an account by its name) rather than raw IRIs. "Compare
with last published" is ``a`` = ``Repository.last_published`` (``?a=published``: worked out
when asked, so lists such as the review queue need not read every history). Revert (a POST of the
revision number) is ``Repository.revert``; the objects deleted inside a container are listed
on its history page with a button each: ``Repository.undelete`` (``/staff/history/`` shows
those deleted at the top of the tree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from flask import Blueprint, redirect, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ontology.profile import vocabulary_codes
from publisher.i18n import UIText, ui_ptext
from publisher.i18n import lang as current_lang
from repo.errors import Forbidden, Invalid, LantaiError
from repo.objects import ContentObject
from repo.repository import Repository
from repo.security import User, allowed
from repo.versions import DiffLine
from staff import web

bp = Blueprint("history", __name__)

DELETED_ROWS = 50
USER_PREFIX = "urn:lantai:user:"


@dataclass(frozen=True)
class Row:
    """One field of a diff: its label and the values before and after, as labels."""

    label: str
    old: tuple[str, ...]
    new: tuple[str, ...]


def _management_labels() -> dict[str, str]:
    """Labels of the management facts a revision records (message ids, translated)."""
    return {
        "state": _("Workflow state"), "access": _("Access rule"),
        "openingDate": _("Embargoed until"), "accessByDefault": _("Access by the default rule"),
        "personalField": _("Personal field"), "owner": _("Owner"), "parent": _("Container"),
        "slug": _("Name in the path"), "type": _("Type"),
        "localReader": _("Local Reader"), "localContributor": _("Local Contributor"),
        "localEditor": _("Local Editor"), "localReviewer": _("Local Reviewer"),
        "localManager": _("Local Manager"),
    }


class Labeller:
    """Turns a diff's field names and values into what a person reads."""

    LANGS: ClassVar[dict[str, UIText]] = {"zh": ui_ptext("language", "Chinese"),
                                          "en": ui_ptext("language", "English")}

    def __init__(self, repo: Repository, user: User, obj: ContentObject, lang: str) -> None:
        self.repo, self.user, self.obj, self.lang = repo, user, obj, lang
        self.vocab_base = repo.base + "/vocab/"
        self.management = _management_labels()

    def field(self, what: str) -> str:
        name, _sep, tag = what.partition("@")
        if name in self.management:
            label = self.management[name]
        else:
            f = self.obj.type.fields.get(name)
            label = f.label(self.lang) if f is not None else name
        name_of = self.LANGS.get(tag)
        return f"{label} ({name_of.in_lang(self.lang) if name_of else tag})" if tag else label

    def value(self, what: str, text: str) -> str:
        name = what.partition("@")[0]
        if name == "personalField":
            f = self.obj.type.fields.get(text)
            return f.label(self.lang) if f is not None else text
        if name == "state":
            return _(text)
        if text.startswith(USER_PREFIX):
            return text[len(USER_PREFIX):]
        if text.startswith(self.vocab_base):
            scheme, _sep, code = text[len(self.vocab_base):].partition("/")
            labels = vocabulary_codes().get(scheme, {}).get(code)
            return labels.get(self.lang, code) if labels else text
        if text.startswith(self.repo.base + "/id/") or text == self.repo.root_iri:
            return self._record(text)
        return text

    def _record(self, iri: str) -> str:
        if iri == self.repo.root_iri:
            return _("The top of the archive")
        obj = self.repo.load(iri.split("#", 1)[0])
        if obj is None or obj.deleted or not self.repo.can_view(self.user, obj):
            return iri
        return f"{obj.title(self.lang) or obj.slug} ({obj.path})"

    def rows(self, lines: list[DiffLine]) -> list[Row]:
        grouped: dict[str, tuple[list[str], list[str]]] = {}
        for line in lines:
            old, new = grouped.setdefault(line.what, ([], []))
            (old if line.sign == "-" else new).append(self.value(line.what, line.value))
        return [Row(self.field(what), tuple(old), tuple(new))
                for what, (old, new) in sorted(grouped.items())]


def _number(name: str) -> int | None:
    text = request.args.get(name) or request.form.get(name)
    if text is None or text == "":
        return None
    if not text.isdigit() or len(text) > 9:
        raise Invalid(_("A revision is a number, not %(text)s", text=text[:40]))
    return int(text)


def _context(repo: Repository, user: User, path: str, a: int | None, b: int | None) -> dict:
    deleted = repo.deleted_inside(user, path or "/", limit=DELETED_ROWS)
    if not path:
        return {"obj": None, "deleted": deleted}
    obj = repo.get(user, path)
    revisions = list(reversed(repo.history(user, path)))
    published = repo.last_published(user, path)
    rows = None
    if a is not None:
        b = obj.revision if b is None else b
        if a > b:
            a, b = b, a
        rows = Labeller(repo, user, obj, current_lang()).rows(repo.diff(user, path, a, b))
    return {
        "obj": obj, "trail": list(reversed(repo.ancestors(obj))), "revisions": revisions,
        "published": published, "a": a, "b": b, "rows": rows, "deleted": deleted,
        "may_revert": allowed("modify", obj.state, repo.roles_on(user, obj)),
    }


def _page(path: str, status: int = 200, **extra) -> Response:
    published = request.args.get("a") == "published"  # "compare with last published"
    a, b = (None if published else _number("a")), _number("b")
    def run(repo: Repository, user: User) -> dict:
        first = a
        if published and path:
            first = repo.last_published(user, path)
            if first is None:
                raise Invalid(_("This record was never published"))
        return _context(repo, user, path, first, b)
    ctx = web.reading(run)
    return web.render("staff/history.html", status, done=request.args.get("done", ""),
                      **ctx, **extra)


@bp.get("/history/", defaults={"path": ""})
@bp.get("/history/<path:path>")
def history(path: str) -> Response:
    try:
        return _page(path)
    except Invalid as exc:
        return web.error_page(exc.http_status, exc.message)


def _back(path: str, message: str) -> Response:
    return redirect(web.object_url("staff.history.history", path, done=message), 303)


@bp.post("/history/<path:path>")
def revert(path: str) -> Response:
    """Revert to the revision posted (a new revision; nothing is lost)."""
    try:
        number = _number("revision")
        if number is None:
            raise Invalid(_("Choose a revision"))
        obj = web.writing(lambda repo, user: repo.revert(user, path, number))
    except Forbidden:
        raise
    except LantaiError as exc:
        return _page(path, exc.http_status, error=exc.message)
    return _back(path, _("Reverted to revision %(n)d: now at revision %(now)d", n=number,
                         now=obj.revision))


@bp.post("/undelete/", defaults={"path": ""})
@bp.post("/undelete/<path:path>")
def undelete(path: str) -> Response:
    """Bring back an object deleted inside this container (its IRI posted as ``iri``)."""
    iri = request.form.get("iri", "")
    try:
        if not iri.startswith(("http://", "https://")) or len(iri) > 2000:
            raise Invalid(_("Choose a deleted object"))
        restored = web.writing(lambda repo, user: repo.undelete(user, iri))
    except Forbidden:
        raise
    except LantaiError as exc:
        return _page(path, exc.http_status, error=exc.message)
    return _back(path, _("Restored %(path)s (%(n)d object(s)), as private",
                         path=restored[0].path, n=len(restored)))
