"""Sending items and correcting returned ones, from the officer's pages (issue 13, items 3
and 4 from the unit's side).

Three ways in, per task of the unit's published plan, each handed to
:mod:`services.filing.intake` whole: one item by a form (the fields below, files by a
multiple file input), a spreadsheet (XLSX or CSV) with the files it names, a BagIt bag as a
ZIP. The upload is written to a folder of its own under ``{home}/filing/incoming/`` (the
names the officer's files had: a spreadsheet names them so), read from there, and removed
whatever happened; intake stages what it accepts into the receiving area and stores the
submission only if every row is fine, so a refused upload leaves nothing and the answer
page says so, row by row.

A returned item is corrected on its own page: the form comes prefilled with what was sent,
the files are kept unless unticked, new files are added, and :func:`services.filing.review.
resubmit` checks it again (:func:`services.filing.intake.check_item`) before it is received
again. Every body is bounded (``filing_upload_max_mb``; 413 before it is read).
"""

from __future__ import annotations

import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from ontology.profile import ContentType, Field
from repo.errors import Conflict, Invalid, LantaiError
from repo.repository import Repository
from repo.security import User
from services.filing import intake, review
from services.filing.model import FiledFile, Item, Submission, Task
from services.filing.officer import (
    Access,
    access,
    bp,
    filing,
    item_of,
    task_of,
    title_of,
    word,
)
from staff import formdata, web

MB = 1 << 20
MAX_FILES = 10_100  # files in one upload (a spreadsheet of filing_max_rows rows and a few more)
MAX_NAME = 240  # bytes of a file name (file systems take 255)
# the form's fields, in its order (profile field names, as ``lantai add --set`` spells them);
# a correction shows these and whatever else the item was sent with
FORM_KEYS = ("title@zh", "title@en", "date", "creator", "subject", "documents", "scope@zh",
             "note@zh")
LANG_WORDS = {"zh": lambda: _("Chinese"), "en": lambda: _("English")}
UPLOADS = frozenset({"staff.filing_officer.send_item", "staff.filing_officer.send_sheet",
                     "staff.filing_officer.send_bag", "staff.filing_officer.resubmit"})


def bound_upload() -> Response | None:
    """Before anything reads an upload's body: at most the site's limit (and a megabyte for
    the form's other fields), refused with 413 from the declared length."""
    if request.endpoint not in UPLOADS:
        return None
    settings = current_app.config["SETTINGS"]
    limit = settings.filing_upload_max_mb * MB + MB
    request.max_content_length = limit
    request.max_form_parts = MAX_FILES + 100
    if request.content_length is not None and request.content_length > limit:
        return web.error_page(413, _("The upload is larger than this site accepts "
                                     "(%(mb)s MB). Nothing was stored.",
                                     mb=settings.filing_upload_max_mb))
    return None


def item_type() -> ContentType:
    """The content type whose fields an item is sent with (the profile's ``item``)."""
    return web.api_site().reader().profile.type("item")


# ---------------------------------------------------------------------- the form's fields
@dataclass
class FormField:
    key: str  # title@zh
    label: str
    hint: str
    values: list[str]
    multiline: bool
    repeatable: bool
    required: bool


def form_fields(values: dict[str, list[str]], zh: bool) -> list[FormField]:
    """The controls of the item form (``FORM_KEYS``, then the item's other keys)."""
    ctype = item_type()
    out = []
    for key in dict.fromkeys((*FORM_KEYS, *values)):
        f: Field | None = formdata.key_field(ctype, key)
        if f is None or f.set_by_ingest:
            continue
        lab_zh, lab_en, hint = formdata.labels(f)
        lang = key.partition("@")[2]
        label = lab_zh if zh else lab_en
        if lang:
            label += f" ({LANG_WORDS[lang]() if lang in LANG_WORDS else lang})"
        repeatable = ((f.max_count is None or f.max_count > 1)
                      and not (f.is_text and f.unique_lang))
        have = values.get(key, [])
        rows = [*have, ""] if repeatable else (have[:1] or [""])
        out.append(FormField(key, label, hint, rows, f.is_text and f.name not in
                             formdata.SHORT_TEXT, repeatable, f.min_count > 0 and
                             key in ("title@zh",)))
    return out


def fields_from_form(allowed: tuple[str, ...]) -> dict[str, list[str]]:
    """What the form sent, for the allowed keys (profile field names; blank rows dropped;
    each value and the number of values bounded by the staff forms' limits)."""
    sent = formdata.from_form(item_type(), request.form)
    return {k: v for k, v in sent.items() if k in allowed}


# ---------------------------------------------------------------------- uploads
def safe_name(raw: str) -> str:
    """The name a browser gave a file, as a plain name in one folder (Chinese names kept: a
    spreadsheet names its files so); anything else is refused."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1].strip())
    if (not name or name in (".", "..") or name.startswith(".")
            or len(name.encode("utf-8")) > MAX_NAME
            or any(ord(c) < 32 or c in "\x7f:*?\"<>|" for c in name)):
        raise Invalid(_("A file name cannot be used: %(name)s", name=raw[:80]))
    return name


def chosen(field: str) -> list[FileStorage]:
    """The files of a file input (a browser sends one empty part when none was chosen)."""
    return [f for f in request.files.getlist(field) if f.filename]


@contextmanager
def incoming() -> Iterator[Path]:
    """A folder of its own for one upload, removed afterwards whatever happened."""
    # the site's working folder for temporaries, not the receiving area: what is there is
    # plaintext only while the upload is checked (the receiving area is sealed)
    base = Path(current_app.config["LANTAI_HOME"]) / "tmp" / "filing-incoming"
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def save(folder: Path, files: list[FileStorage]) -> list[Path]:
    """Write the uploaded files into ``folder`` under their names (each name once)."""
    if len(files) > MAX_FILES:
        raise Invalid(_("At most %(n)d files in one upload.", n=MAX_FILES))
    folder.mkdir(exist_ok=True)
    out: list[Path] = []
    for f in files:
        target = folder / safe_name(f.filename or "")
        if target.exists():
            raise Invalid(_("Two files are named %(name)s: each file needs a name of its own.",
                            name=target.name))
        f.save(target)
        out.append(target)
    return out


# ---------------------------------------------------------------------- the task's page
def sendable(acc: Access, task: Task) -> None:
    """Items go to a task of a published plan (not a draft, not a closed year)."""
    plan = filing().plan(task.year)
    if plan is None or plan.state == "draft":
        raise Conflict(_("The %(year)d plan is not published yet: nothing can be sent to it.",
                         year=task.year))
    if plan.state == "closed":
        raise Conflict(_("The %(year)d plan is closed: nothing more is received for it.",
                         year=task.year))


@bp.get("/unit/<code>/tasks/<int:task_id>")
def task(code: str, task_id: int) -> Response:
    """A task and the three ways to send items to it."""
    acc = access(code)
    t = task_of(acc, task_id)
    plan = filing().plan(t.year)
    if acc.acts and (plan is None or plan.state == "draft"):
        from repo.errors import NotFound

        raise NotFound(_("There is no such task of this unit."))  # not published to the unit
    return task_page(acc, t)


def task_page(acc: Access, t: Task, status: int = 200, **extra) -> Response:
    plan = filing().plan(t.year)
    progress = filing().unit_progress(t.year, acc.unit.code).get(t.id, {})
    return web.render("filing/officer_task.html", status, acc=acc, unit=acc.unit, task=t,
                      plan=plan, progress=progress, word=word,
                      fields=form_fields(extra.pop("values", {}), web.current_lang() == "zh"),
                      max_mb=current_app.config["SETTINGS"].filing_upload_max_mb,
                      max_rows=current_app.config["SETTINGS"].filing_max_rows, **extra)


@dataclass
class Row:
    """One row of the answer: its number, whether it was fine, what was wrong."""

    row: int
    ok: bool
    messages: list[str]


def answer(acc: Access, t: Task, channel: str, source: str,
           result: intake.IntakeResult) -> Response:
    """The answer page: stored (200) or refused (422), with the reasons that refuse the
    whole upload (wrong columns, a bad bag …) and each row's answer."""
    rows = [Row(int(r.row), bool(r.ok), [str(m) for m in r.messages]) for r in result.rows]
    sub: Submission | None = result.submission
    return web.render("filing/officer_result.html", 200 if sub is not None else 422,
                      acc=acc, unit=acc.unit, task=t, channel=channel, source=source,
                      rows=rows, sub=sub, refused=[r for r in rows if not r.ok],
                      problems=[str(p) for p in result.problems],
                      word=word, title_of=title_of)


@bp.post("/unit/<code>/tasks/<int:task_id>/item")
def send_item(code: str, task_id: int) -> Response:
    """One item from the form, with its files."""
    acc = access(code, act=True)
    t = task_of(acc, task_id)
    sendable(acc, t)
    fields = fields_from_form(FORM_KEYS)
    store = filing()
    with incoming() as folder:
        paths = save(folder, chosen("files"))

        def run(repo: Repository, user: User) -> intake.IntakeResult:
            return intake.form_submission(store, repo, user, code, t.id, fields, paths)
        result = web.reading(run)
    return answer(acc, t, "form", _("the form"), result)


@bp.post("/unit/<code>/tasks/<int:task_id>/sheet")
def send_sheet(code: str, task_id: int) -> Response:
    """A spreadsheet (XLSX or CSV) describing items, with the files it names."""
    acc = access(code, act=True)
    t = task_of(acc, task_id)
    sendable(acc, t)
    sheets = chosen("sheet")
    if len(sheets) != 1:
        raise Invalid(_("Choose one spreadsheet (XLSX or CSV)."))
    files = chosen("files")
    store = filing()
    with incoming() as folder:
        (sheet,) = save(folder, sheets)
        # the files it names: one ZIP of them as it is, else a folder of their own (".files":
        # no name an officer sends starts with a dot)
        if len(files) == 1 and (files[0].filename or "").lower().endswith(".zip"):
            (named,) = save(folder / ".files", files)
        else:
            save(folder / ".files", files)
            named = folder / ".files"

        def run(repo: Repository, user: User) -> intake.IntakeResult:
            return intake.read_upload(store, repo, user, code, sheet, task_id=t.id,
                                               year=t.year, files=named)
        result = web.reading(run)
    return answer(acc, t, "spreadsheet", sheet.name, result)


@bp.post("/unit/<code>/tasks/<int:task_id>/bag")
def send_bag(code: str, task_id: int) -> Response:
    """A BagIt bag, zipped."""
    acc = access(code, act=True)
    t = task_of(acc, task_id)
    sendable(acc, t)
    bags = chosen("bag")
    if len(bags) != 1:
        raise Invalid(_("Choose one ZIP file holding a BagIt bag."))
    store = filing()
    with incoming() as folder:
        (bag,) = save(folder, bags)
        if bag.suffix.lower() != ".zip":
            raise Invalid(_("A bag is sent as a ZIP file (.zip)."))

        def run(repo: Repository, user: User) -> intake.IntakeResult:
            return intake.read_upload(store, repo, user, code, bag, task_id=t.id,
                                               year=t.year)
        result = web.reading(run)
    return answer(acc, t, "bag", bag.name, result)


# ---------------------------------------------------------------------- an item, corrected
def item_page(acc: Access, it: Item, sub: Submission, status: int = 200, **extra) -> Response:
    """An item's page (``officer.item``): fields, files, state, the archivist's note; the
    correction form when it is returned and the user is the unit's officer."""
    task = filing().task(sub.task) if sub.task is not None else None
    steps = [s for s in filing().history(sub.id) if s.item in (None, it.id)]
    values = extra.pop("values", it.fields)
    return web.render("filing/officer_item.html", status, acc=acc, unit=acc.unit, item=it,
                      sub=sub, task=task, steps=steps, word=word, title_of=title_of,
                      fields=form_fields(values, web.current_lang() == "zh"),
                      correcting=it.state == "returned" and acc.acts,
                      withdrawable=it.state in ("received", "returned") and acc.acts,
                      max_mb=current_app.config["SETTINGS"].filing_upload_max_mb, **extra)


@bp.post("/unit/<code>/items/<int:item_id>/resubmit")
def resubmit(code: str, item_id: int) -> Response:
    """The corrected item: fields from the form, the files kept and the files added."""
    acc = access(code, act=True)
    it, sub = item_of(acc, item_id)
    if it.state != "returned":
        raise Conflict(_("Only a returned item is corrected and sent again; this one is "
                         "%(state)s.", state=word(it.state)))
    if sub.task is not None:
        sendable(acc, filing().task(sub.task))
    fields = fields_from_form(tuple(dict.fromkeys((*FORM_KEYS, *it.fields))))
    keep = set(request.form.getlist("keep"))
    note = request.form.get("note", "").strip()[:2000]
    kept = [f for f in it.files if f.sha256 in keep]
    store = filing()
    added: list[FiledFile] = []
    with incoming() as folder:
        added = [store.put_file(p) for p in save(folder, chosen("files"))]

    def run(repo: Repository, user: User) -> Item:
        return review.resubmit(store, repo, user, it.id, fields, [*kept, *added],
                              note=note)
    try:
        web.reading(run)
    except LantaiError as exc:
        store.discard(added)
        problems = exc.problems if isinstance(exc, Invalid) else [exc.message]
        return item_page(acc, it, sub, exc.http_status if 400 <= exc.http_status < 500
                         else 422, values=fields, problems=problems)
    return redirect(url_for(".item", code=code, item_id=it.id))
