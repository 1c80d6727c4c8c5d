"""Import and export in the workspace: ``/staff/import`` and ``/staff/export/<path>``.

Import runs what ``lantai import ead|eac FILE`` runs (:func:`repo.importers.run.import_ead`,
:func:`repo.importers.eac.import_eac`) as the signed-in user, on the uploaded file staged
under the site home: the same hostile-XML refusals (no DTD, no entities, no network), the
same all-or-nothing ingest, the same one-line errors ``FILE:LINE: reason`` (naming the
uploaded file, not where it was staged). The upload is bounded by ``staff_upload_max_mb``
before the form is read (:func:`staff.files.bound_uploads`).

Export writes what ``lantai export ead`` and ``lantai export rdf --under`` write, from the
read-only view, as the user: only what the user may view is in it.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _

from repo.errors import Invalid
from repo.exporters.rdf import FORMATS, MEDIA_TYPES
from repo.repository import Repository
from repo.security import User
from staff import web
from staff.staging import clean_name

bp = Blueprint("transfer", __name__)
KINDS = ("ead", "eac")
XML_START = (b"<?xml", b"<", b"\xef\xbb\xbf<", b"\xff\xfe", b"\xfe\xff")


@bp.get("/import")
def import_form() -> Response:
    into = request.args.get("into", "/")[:2000]
    return web.render("staff/import.html", into=into, kind="ead")


@bp.post("/import")
def import_file() -> Response:
    """One EAD 2002 or EAC-CPF file, imported completely or not at all."""
    kind = request.form.get("kind", "ead")
    into = request.form.get("into", "/")[:2000] or "/"
    message = request.form.get("message", "")[:500].strip() or None
    sent = request.files.get("file")
    if kind not in KINDS:
        return web.error_page(400, _("Say whether the file is a finding aid (EAD) or an "
                                     "authority record (EAC-CPF)."))
    if sent is None or not sent.filename:
        return web.error_page(400, _("Choose a file to import."))
    name = clean_name(sent.filename)
    folder = Path(current_app.config["LANTAI_HOME"]) / "staff" / "uploads" / (
        "import-" + secrets.token_urlsafe(12))
    folder.mkdir(parents=True)
    staged = folder / name
    try:
        sent.save(staged)
        with staged.open("rb") as fh:
            head = fh.read(16).lstrip()
        if not head.startswith(XML_START):
            raise Invalid(f"{name}:1: not an XML file")
        result = web.writing(lambda repo, user: _run(repo, user, kind, staged, name, into,
                                                     message))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return web.render("staff/import.html", 201, into=into, kind=kind, result=result)


def _run(repo: Repository, user: User, kind: str, path: Path, name: str, into: str,
         message: str | None) -> dict:
    from repo.importers.agents import AgentIndex

    index = AgentIndex(repo)
    if kind == "ead":
        from repo.importers.run import import_ead

        report = import_ead(repo, user, path, into=into, index=index, message=message,
                            display=name)
        return {"source": name, "top": report.top, "components": report.components,
                "objects": report.objects, "created": sorted(report.created.items()),
                "warnings": report.warnings[:20], "more": max(0, len(report.warnings) - 20),
                "internal": report.internal}
    from repo.importers.eac import import_eac

    eac = import_eac(repo, user, path, index=index, message=message, display=name)
    return {"source": name, "top": eac.path, "objects": eac.objects, "action": eac.action,
            "type": eac.type, "warnings": eac.warnings[:20],
            "more": max(0, len(eac.warnings) - 20)}


# ---------------------------------------------------------------------- export
@bp.get("/export/<path:path>")
def export(path: str) -> Response:
    """The export choices of an object, or (``?format=``) the download itself."""
    fmt = request.args.get("format")
    if fmt is None:
        def page(repo: Repository, user: User) -> dict:
            obj = repo.get(user, path)
            return {"obj": obj, "trail": repo.ancestors(obj)[::-1], "formats": FORMATS,
                    "ead": obj.type.rdf_class.endswith(("RecordSet", "Record",
                                                        "RecordResource"))}
        return web.render("staff/export.html", **web.reading(page))
    if fmt != "ead" and fmt not in FORMATS:
        return web.error_page(400, _("Unknown export format."))
    data, slug = web.reading(lambda repo, user: _export(repo, user, path, fmt))
    ext = {"ead": "xml", "jsonld": "jsonld"}.get(fmt, fmt)
    mime = "application/xml" if fmt == "ead" else MEDIA_TYPES[fmt]
    resp = Response(data, mimetype=mime)
    resp.headers["Content-Disposition"] = f'attachment; filename="{slug}.{ext}"'
    return resp


def _export(repo: Repository, user: User, path: str, fmt: str) -> tuple[bytes, str]:
    obj = repo.get(user, path)
    if fmt == "ead":
        import io

        from repo.exporters.ead import export_ead

        buf = io.BytesIO()
        export_ead(repo, user, obj.path, buf)
        return buf.getvalue(), obj.slug
    from repo.exporters.rdf import subtree_rdf

    return subtree_rdf(repo, user, obj.path, fmt), obj.slug
