"""An item's files (``/staff/files/<path>``): its page scans, PDFs, recordings and
transcripts, their derivatives and OCR, uploads, page order and the viewer.

Uploads end in :func:`iiif.media.ingest_media`, the code ``lantai ingest media`` runs, as the
signed-in user: the same checks (by content), the same all-or-nothing batch, the same
permissions and revisions. Before that they are staged (:mod:`staff.staging`): the browser
sends each file in parts (``staff/static/files.js``: one part up to 100 MB, 8 MB parts
above, resumable after a dropped connection), and a file whose first bytes are not what its
name says is refused with 415 before the rest is sent. Without JavaScript the same page
posts an ordinary multipart form, bounded by the same size limit.

Derivatives of records that are not public are shown through this blueprint only
(``/staff/files/-/derivative/…``, behind the session and the repository's ``can_view``);
a public record's page embeds the public IIIF viewer. Pages are reordered with
:meth:`Repository.reorder`, which also orders the manifest's canvases.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from flask import Blueprint, Flask, current_app, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from iiif import jobs
from iiif.derivative_files import DerivativeFiles
from iiif.derivatives import derivatives_folder
from preservation.crypt import DecryptionError
from publisher.i18n import lang as current_lang
from repo.building import KEY
from repo.errors import Invalid, LantaiError, NotFound
from repo.files import FileStore
from repo.files_http import send_stored
from repo.objects import ContentObject
from repo.repository import Repository
from repo.security import User, allowed
from staff import auth, web
from staff.staging import HEAD, Staging, Upload

bp = Blueprint("files", __name__)
T = TypeVar("T")
PER_PAGE = 50  # instantiations listed at once (an item may hold hundreds of pages)
MAX_FILES = 100  # files in one upload form or one ingest
EXTENSION = "lantai.staff.staging"
MB = 1 << 20
DERIVATIVES = {"thumb": "thumb.jpg", "poster": "poster.jpg"}
PATH_MARKER = "--key--"  # a URL made once per page, each row's key put in (keys need no quoting)
# endpoints whose request bodies are uploads: bounded by the site's upload limit before the
# guard (which reads the form for its CSRF token) parses anything
UPLOAD_ENDPOINTS = {"staff.files.upload_form", "staff.files.part",
                    "staff.transfer.import_file"}


def staging() -> Staging:
    return current_app.extensions[EXTENSION]


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    app.extensions[EXTENSION] = Staging(app.config["LANTAI_HOME"],
                                        max_bytes=settings.staff_upload_max_mb * MB)
    app.before_request(bound_uploads)
    app.jinja_env.globals["staff_failed_jobs"] = failed_jobs


def failed_jobs(limit: int = 20) -> list[dict]:
    """For the dashboard (``staff/_failed_jobs.html``): derivative and OCR jobs that failed
    and have not worked since, on files of records the user may view, newest first."""
    def run(repo: Repository, user: User) -> list[dict]:
        out = []
        for f in jobs.failures(repo.home, limit=limit * 5):
            try:
                obj = repo.get(user, f.target) if f.target else None
            except LantaiError:
                continue  # gone since, or not for this user
            if obj is None:
                continue
            record = obj
            if obj.type_name == "instantiation" and obj.parent:
                record = repo.load(obj.parent) or obj
            out.append({"job": f.job, "message": f.message, "at": f.at,
                        "attempts": f.attempts, "path": record.path,
                        "title": record.title(current_lang()) or record.path,
                        "url": web.object_url("staff.files.files", record)})
            if len(out) >= limit:
                break
        return out
    return web.reading(run)


def bound_uploads() -> Response | None:
    """Before anything reads the body of an upload: at most the site's limit (a few KB more
    for a multipart form's other fields), refused with 413 from the declared length."""
    if request.endpoint not in UPLOAD_ENDPOINTS:
        return None
    limit = staging().max_bytes
    if request.endpoint != "staff.files.part":
        limit = limit * min(MAX_FILES, 4) + MB  # a form may carry several files
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        return web.error_page(413, _("The upload is larger than this site accepts "
                                     "(%(mb)s MB). Nothing was stored.",
                                     mb=limit // MB))
    return None


# ---------------------------------------------------------------------- the page
@dataclass
class FileRow:
    """One instantiation as the page shows it."""

    obj: ContentObject
    key: str
    mime: str
    digest: str
    thumb: str | None  # a staff URL
    derivatives: str  # ready, missing, none (no derivatives for this kind)
    ocr: str  # done, failed, missing, none
    failure: str = ""
    derived: bool = False  # a PDF's page or a transcript: part of another file
    title: str = ""  # in the page's language (worked out once: the page shows it twice)
    original: str = ""  # the staff URL of the original


def _rows(repo: Repository, user: User, record: ContentObject, page: int
          ) -> tuple[list[FileRow], int]:
    from iiif import ocr
    from repo.catalog.search import Catalog

    # one page from the staff catalog (filtered by what the user may view, as the folder view
    # is): an item with a thousand pages is listed as fast as one with ten
    found = Catalog.open(repo.home, public=False, repository=repo).contents(
        record.iri, user=user, types=["instantiation"], page=page + 1, size=PER_PAGE)
    if found.complete:
        total, iris, checked = found.total, [h.iri for h in found.hits], True
    else:  # the catalog awaits `lantai reindex`: the tree itself, each object checked
        every = repo.child_iris(record.iri)
        total, iris, checked = len(every), every[page * PER_PAGE:(page + 1) * PER_PAGE], False
    lang = current_lang()
    original_url = url_for("staff.files.original", key=PATH_MARKER)  # once, not per row
    rows: list[FileRow] = []
    for iri in iris:
        obj = repo.load(iri)
        if obj is None or obj.deleted or obj.type_name != "instantiation" \
                or not (checked or repo.can_view(user, obj)):
            continue
        fields = obj.fields(repo.base)
        mime = str((fields.get("mime") or [""])[0])
        digest = str((fields.get("digest") or [""])[0])
        key = iri.rsplit("/", 1)[-1]
        folder = derivatives_folder(repo.home, digest) if digest else None
        thumb, state, text = None, "none", "none"
        if folder is not None and mime.startswith("image/"):
            ready = (folder / "thumb.jpg").is_file()
            state = "ready" if ready and (folder / "pyramid.tif").is_file() else "missing"
            thumb = url_for("staff.files.derivative", key=key, kind="thumb") \
                if ready else None
            text = "done" if ocr.has_ocr(repo.home, digest) else "missing"
        elif folder is not None and mime.startswith(("audio/", "video/")):
            ready = (folder / "poster.jpg").is_file()
            state = "ready" if ready else "missing"
            thumb = url_for("staff.files.derivative", key=key, kind="poster") \
                if ready else None
        rows.append(FileRow(obj, key, mime, digest, thumb, state, text,
                            derived=bool(fields.get("derivedFrom")),
                            title=obj.title(lang) or obj.slug,
                            original=original_url.replace(PATH_MARKER, key)))
    failed = {(f.digest): f for f in jobs.failures(
        repo.home, digests=[r.digest for r in rows if r.digest], limit=PER_PAGE)}
    for r in rows:
        if r.digest in failed:
            r.failure = failed[r.digest].message
            if r.ocr != "done":
                r.ocr = "failed"
    return rows, total


def _viewer(repo: Repository, record: ContentObject) -> dict:
    """The public viewer of a public, digitised record: its manifest, the viewer's script and
    words (the public pages' markup has an inline style, which the staff CSP refuses)."""
    if not repo.is_public(record.iri):
        return {}
    from iiif import viewer_asset
    from iiif.presentation_api import VIEWER_WORDS, manifest_url_for

    manifest = manifest_url_for(record.iri)
    if manifest is None:
        return {}
    lang = current_lang()
    return {"manifest": manifest,
            "viewer_script": viewer_asset.script_url(current_app),
            "viewer_words": json.dumps({k: t.in_lang(lang) for k, t in VIEWER_WORDS.items()},
                                       ensure_ascii=False)}


def page_context(repo: Repository, user: User, path: str, page: int = 0) -> dict:
    record = repo.get(user, path)
    if record.type_name not in ("item", "file"):
        raise NotFound(f"{record.path} is a {record.type_name}: files belong to an item or "
                       "a file")
    rows, total = _rows(repo, user, record, page)
    roles = repo.roles_on(user, record)
    return {"obj": record, "trail": repo.ancestors(record)[::-1], "rows": rows,
            "page": page, "pages": max(1, -(-total // PER_PAGE)),
            "may_add": allowed("add", record.state, roles),
            "may_move": any(allowed("delete", r.obj.state, repo.roles_on(user, r.obj))
                            for r in rows[:1]),
            "max_mb": staging().max_bytes // MB, **_viewer(repo, record)}


# The viewer (Clover IIIF) makes an empty <style> element and fills it through the CSSOM,
# which a Content-Security-Policy does not govern; the element itself needs style-src to
# allow it. The hash of the empty string allows an empty element and nothing else.
EMPTY_STYLE = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"


def with_viewer(resp: Response) -> Response:
    """The workspace's policy, with the one exception the viewer needs (on its page only)."""
    auth.no_store(resp)
    policy = resp.headers["Content-Security-Policy"]
    resp.headers["Content-Security-Policy"] = policy.replace(
        "style-src 'self'", f"style-src 'self' {EMPTY_STYLE}", 1)
    return resp


@bp.get("/files/<path:path>")
def files(path: str) -> Response:
    page = request.args.get("page", "0")
    page_no = int(page) if page.isdigit() and len(page) < 7 else 0
    context = web.reading(lambda repo, user: page_context(repo, user, path, page_no))
    resp = web.render("staff/files.html", **context)
    return with_viewer(resp) if context.get("viewer_script") else resp


# ---------------------------------------------------------------------- derivatives
@bp.get("/files/-/derivative/<key>/<kind>")
def derivative(key: str, kind: str) -> Response:
    """A thumbnail or poster of an instantiation the user may view (public or not)."""
    if not KEY.match(key) or kind not in DERIVATIVES:
        return web.error_page(404, _("No such file."))

    def run(repo: Repository, user: User) -> Path:
        obj = repo.get(user, repo.iri_for("instantiation", key))
        digest = str((obj.fields(repo.base).get("digest") or [""])[0])
        if not digest:
            raise NotFound("no file")
        return derivatives_folder(repo.home, digest) / DERIVATIVES[kind]
    target = web.reading(run)
    try:  # sealed on a site whose files are: read as plaintext (iiif.derivative_files)
        data = DerivativeFiles.for_site(current_app.config["LANTAI_HOME"]).read_bytes(target)
    except (OSError, DecryptionError):
        return web.error_page(404, _("This derivative has not been made (yet)."))
    resp = Response(data, mimetype="image/jpeg")
    resp.cache_control.max_age = 0
    resp.set_etag(hashlib.sha256(data).hexdigest()[:32])
    return resp.make_conditional(request)


@bp.get("/files/-/original/<key>")
def original(key: str) -> Response:
    """The stored original of an instantiation the user may view, as a download."""
    if not KEY.match(key):
        return web.error_page(404, _("No such file."))

    def run(repo: Repository, user: User) -> tuple[Path, str, str, str]:
        obj = repo.get(user, repo.iri_for("instantiation", key))
        fields = obj.fields(repo.base)
        digest = str((fields.get("digest") or [""])[0])
        if not digest:
            raise NotFound("no file")
        return (repo.home, digest,
                str((fields.get("mime") or ["application/octet-stream"])[0]), obj.slug)
    home, digest, mime, name = web.reading(run)
    # the plaintext, streamed (decrypted chunk by chunk when sealed); ranges answered
    with FileStore.for_site(home) as files:
        if digest not in files:
            return web.error_page(404, _("The original is missing from the file store."))
        return send_stored(files, digest, request, mimetype=mime, as_attachment=True,
                           download_name=name)


# ---------------------------------------------------------------------- ingest
def _ingest(path: str, staged: list[Path]) -> dict:
    """``lantai ingest media PATH FILE...`` as the signed-in user."""
    from iiif.media import ingest_media

    def run(repo: Repository, user: User) -> dict:
        result = ingest_media(repo, user, path, staged)
        return {"record": result.path, "manifest": result.manifest,
                "attached": [{"file": Path(a.file).name, "path": a.path, "mime": a.mime}
                             for a in result.attached]}
    return web.writing(run)


@bp.post("/files/<path:path>")
def upload_form(path: str) -> Response:
    """The page's plain form (no JavaScript): several files, one all-or-nothing ingest."""
    sent = [f for f in request.files.getlist("files") if f and f.filename]
    if not sent:
        return web.error_page(400, _("Choose one or more files to upload."))
    if len(sent) > MAX_FILES:
        return web.error_page(413, _("At most %(n)s files at once.", n=MAX_FILES))
    uploads: list[Upload] = []
    try:
        for f in sent:
            uploads.append(_stage(f, path))
        result = _ingest(path, [u.file for u in uploads])
    finally:
        for u in uploads:
            staging().remove(u)
    context = web.reading(lambda repo, user: page_context(repo, user, path))
    return web.render("staff/files.html", 201, result=result, **context)


def _stage(f: FileStorage, path: str) -> Upload:
    size = _stream_size(f)
    upload = staging().begin(web.username(), path, f.filename or "", size)
    try:
        staging().append(upload, 0, f.stream, size)  # type: ignore[arg-type]
    except BaseException:
        staging().remove(upload)
        raise
    return upload


def _stream_size(f: FileStorage) -> int:
    stream = f.stream
    with contextlib.suppress(AttributeError, OSError):
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
        return end - here
    raise Invalid(f"{f.filename}: its size cannot be told")


# ---------------------------------------------------------------------- resumable uploads
def _json(fn: Callable[[], T], status: int = 200) -> Response:
    """A JSON answer for the upload script; a refusal as ``{"error": …}`` with its status."""
    try:
        resp = jsonify(fn())
        resp.status_code = status
        return resp
    except LantaiError as exc:
        resp = jsonify({"error": exc.message})
        resp.status_code = exc.http_status if 400 <= exc.http_status < 600 else 400
        return resp


@bp.post("/files/-/uploads")
def begin() -> Response:
    """Start an upload: form fields ``path`` (the record), ``name`` and ``size``."""
    form = request.form

    def run() -> dict:
        path, size = form.get("path", "")[:2000], form.get("size", "")
        if not size.isdigit() or len(size) > 15:
            raise Invalid("size: a number of bytes")
        web.reading(lambda repo, user: repo.get(user, path))  # a record the user may see
        return staging().begin(web.username(), path, form.get("name", ""), int(size)).as_json()
    return _json(run, 201)


@bp.get("/files/-/uploads/<upload_id>")
def status(upload_id: str) -> Response:
    """How much of an upload arrived (the client resumes from there)."""
    return _json(lambda: staging().get(web.username(), upload_id).as_json())


@bp.put("/files/-/uploads/<upload_id>")
def part(upload_id: str) -> Response:
    """One part of an upload; ``Upload-Offset`` says where it starts."""
    def run() -> dict:
        upload = staging().get(web.username(), upload_id)
        offset = request.headers.get("Upload-Offset", "")
        if not offset.isdigit() or len(offset) > 15:
            raise Invalid("Upload-Offset: the byte offset this part starts at")
        received = staging().append(upload, int(offset), request.stream,  # type: ignore[arg-type]
                                    request.content_length)
        return {**upload.as_json(), "received": received}
    return _json(run)


@bp.delete("/files/-/uploads/<upload_id>")
def cancel(upload_id: str) -> Response:
    def run() -> dict:
        staging().remove(staging().get(web.username(), upload_id))
        return {"cancelled": upload_id}
    return _json(run)


@bp.post("/files/-/ingest")
def ingest() -> Response:
    """Ingest complete uploads (a file and its companions: a recording's transcripts) into
    their record, all or nothing; the staged copies go whatever happens."""
    ids = request.form.getlist("upload")[:MAX_FILES]

    def run() -> dict:
        if not ids:
            raise Invalid("no uploads given")
        uploads = [staging().get(web.username(), i) for i in ids]
        records = {u.record for u in uploads}
        if len(records) != 1:
            raise Invalid("uploads for different records cannot be ingested together")
        for u in uploads:
            if not u.complete:
                raise Invalid(f"{u.name}: {u.received} of {u.size} bytes arrived")
            with u.file.open("rb") as fh:
                from iiif.media import check_upload

                check_upload(u.name, fh.read(HEAD))
        try:
            return _ingest(records.pop(), [u.file for u in uploads])
        finally:
            for u in uploads:
                staging().remove(u)
    return _json(run)


# ---------------------------------------------------------------------- page order
@bp.post("/files/-/order")
def reorder() -> Response:
    """Move a page up or down among its record's files (one Repository.reorder;
    the manifest's canvases follow, through ``schema:position``)."""
    path, key, direction = (request.form.get(k, "")[:2000] for k in ("path", "key", "dir"))
    if direction not in ("up", "down") or not KEY.match(key):
        return web.error_page(400, _("Say which page to move, and up or down."))

    def run(repo: Repository, user: User) -> None:
        record = repo.get(user, path)
        iris = repo.child_iris(record.iri)
        me = repo.iri_for("instantiation", key)
        if me not in iris:
            raise NotFound(f"{key} is not a file of {record.path}")
        i = iris.index(me)
        j = i - 1 if direction == "up" else i + 1
        if not 0 <= j < len(iris):
            return
        repo.reorder(user, repo.get(user, me).path, j,
                     message=f"reorder the files of {record.path}")
    web.writing(run)
    return redirect(web.object_url("staff.files.files", path) + f"#f-{key}", code=303)
