"""Review (issue 13, item 4): the archivist accepts a received item into the tree or returns
it with a rectification note; the officer corrects a returned item and sends it again.

Accepting is the one moment an item leaves the receiving area, and it happens only through
the :class:`~repo.repository.Repository`, as the archivist:

- the record (``item``, or ``file`` when asked) is created under the task's series with the
  item's fields, the task's category and retention, **provenance** (rico:hasOrganicProvenance)
  the unit's corporate body and the **accession event** of its submission
  (rico:isAssociatedWithEvent); the repository numbers its 档号 (``repo/refcodes.py``) and
  gives the default access rule; it is born private (workflow state), so nothing reaches the
  publication dataset until the archivist publishes it through the normal workflow;
- the accession (归档接收) is one ``event`` per submission under ``/accessions`` (created when
  missing), named "归档接收 SUB-… <unit>", dated the day of the first acceptance, with the
  unit's corporate body as participant; later items of the submission link to the same one;
- the files are ingested from the receiving area: scans, PDFs and recordings through
  :func:`iiif.media.ingest_media` (what ``lantai ingest media`` and the staff uploads run;
  OCR is left to ``lantai ocr`` or the on-demand route, so that accepting a thousand pages
  does not take hours), other documents (DOCX, XLSX, OFD …) as instantiations with their
  digest and type through :meth:`Repository.ingest` inside ``ingesting_files``.

All or nothing per item: if the create, the ingest or the store's decision fails, what this
acceptance created is deleted again (tombstones: the IRIs are never reused) and the item
stays ``received``. The repository's write lock is held throughout (one writer per site), so
two archivists cannot accept the same item twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from publisher.i18n import UIText, ui_text
from repo.errors import Conflict, Forbidden, Invalid, LantaiError, NotFound
from repo.objects import ContentObject
from repo.repository import Repository
from repo.security import User
from services.filing.model import FiledFile, Item, Submission, Task, Unit
from services.filing.store import FilingStore
from services.filing.units import is_archivist, require_unit
from services.requests.delivery import bilingual

ACCESSIONS = "/accessions"  # the folder the accession events live in
# texts written into descriptions, notices and mails, from the catalogs (both languages)
ACCESSIONS_TITLE = ui_text("Accessions")
ACCESSION_NAME = ui_text("Accession %(submission)s %(unit)s")
ACCESSION_NOTE = ui_text("Filed by %(unit)s (%(channel)s: %(source)s), sent %(sent)s by "
                         "%(by)s")
ACCEPTED_SUBJECT = ui_text("Accepted: %(submission)s, %(n)s item(s)")
ACCEPTED_BODY = ui_text("%(n)s item(s) of %(submission)s were accepted into the archive "
                        "(reference codes %(codes)s).")
RETURNED_SUBJECT = ui_text("Rectification: %(submission)s, row %(row)s")
RETURNED_BODY = ui_text("%(unit)s:\n\nRow %(row)s of %(submission)s (“%(title)s”) was returned "
                        "for correction. Please correct it and send it again.\n"
                        "What to correct: %(note)s\n\n— %(by)s")
RECORD_TYPES = ("item", "file")
MAX_NOTE = 2000  # characters of a rectification note
MAX_NAME = 120  # characters of a file name on the new record
# fields the acceptance sets itself: an officer's value for them is not taken
SET_BY_ACCEPTANCE = frozenset({"refcode", "category", "retention", "provenance", "event"})
# what ingest_media takes (scans, PDFs, recordings); everything else is a document
_MEDIA_KINDS = frozenset({"image/jpeg", "image/png", "image/tiff", "application/pdf", "av"})
_DOCUMENT_MIMES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "doc": "application/msword", "xls": "application/vnd.ms-excel",
    "ofd": "application/ofd", "txt": "text/plain", "csv": "text/csv",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
_MIME = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass
class BulkResult:
    """What "accept all" did: the items accepted and, per item refused, why."""

    accepted: list[Item] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (item id, message)


def both_languages(text: UIText, **values: object) -> str:
    """A notice's body: the Chinese, then the English (once, if they are the same)."""
    return "\n\n".join(dict.fromkeys(text.in_lang(lang, **values) for lang in ("zh", "en")))


def described(text: UIText, **values: object) -> dict[str, str]:
    """A text for a description, per language: English always, Chinese once the catalog
    has it (the profile wants CJK script in a value tagged @zh: an untranslated message is
    not Chinese). A value may itself be per language (``{"zh": …, "en": …}``)."""
    def pick(lang: str) -> dict[str, object]:
        return {k: v[lang] if isinstance(v, dict) else v for k, v in values.items()}
    out = {"en": text.in_lang("en", **pick("en"))}
    if text.in_lang("zh") != text.in_lang("en"):
        out["zh"] = text.in_lang("zh", **pick("zh"))
    return out


# ---------------------------------------------------------------------- who and what
def require_archivist(user: User) -> None:
    if not is_archivist(user):
        raise Forbidden(f"{user.name} does not review submissions (archivists only)")


def _context(store: FilingStore, item: Item) -> tuple[Submission, Task | None, Unit]:
    sub = store.submission(item.submission)
    task = store.task(sub.task) if sub.task is not None else None
    return sub, task, store.unit(sub.unit)


def record_fields(item: Item, task: Task, unit: Unit, event: str | None) -> dict:
    """What ``Repository.create`` gets: the officer's fields, then what acceptance sets."""
    out: dict[str, object] = {k: v for k, v in item.fields.items()
                              if k.partition("@")[0] not in SET_BY_ACCEPTANCE}
    out["category"] = task.category
    out["retention"] = task.retention
    out["provenance"] = [unit.agent]
    if event is not None:
        out["event"] = [event]
    return out


def item_title(item: Item) -> str:
    """The item's title for messages (Chinese first), bounded."""
    for key in ("title@zh", "title", "title@en"):
        for v in item.fields.get(key, []):
            if v.strip():
                return v.strip()[:200]
    return f"#{item.row}"


# ---------------------------------------------------------------------- accept
def accept(store: FilingStore, repo: Repository, user: User, item_id: int, *,
           type_name: str = "item") -> Item:
    """Accept a received item into the tree (see the module's docstring); the item, now
    ``accepted`` with its record's IRI and 档号."""
    require_archivist(user)
    if type_name not in RECORD_TYPES:
        raise Invalid(f"an accepted item becomes an item or a file, not a {type_name!r}")
    item = store.item(item_id)
    if item.state != "received":
        raise Conflict(f"item {item_id} is {item.state}: only a received item is accepted")
    sub, task, unit = _context(store, item)
    if task is None:
        raise Invalid(f"{sub.id} names no task of the plan: there is no series to accept "
                      "it into")
    # the 档号 it would get, asked before anything is written (a record without one is
    # not accepted: the task's series must be in a fonds, the item must have a date)
    code = repo.refcode_for(user, task.series, record_fields(item, task, unit, None),
                            new_type=type_name)
    if not code:
        raise Invalid(f"item {item_id}: no reference code can be given (the series "
                      f"{task.series} must be in a fonds with a reference code, and the item "
                      "needs a date)")
    created: list[str] = []
    try:
        event = _accession(repo, user, sub, unit, created)
        record = repo.create(user, task.series, type_name,
                             record_fields(item, task, unit, event),
                             message=f"accept {sub.id} item {item.id} (row {item.row}) "
                                     f"from {unit.code}")
        created.append(record.iri)
        if item.files:
            _attach(store, repo, user, record, item.files)
        refcode = repo.builder.field_value(record, "refcode") or ""
        return store.decide(item_id, "accepted", actor=user.name, record=record.iri,
                            refcode=refcode, note=f"{refcode} {record.path}".strip())
    except BaseException:
        _undo(repo, user, created, f"{sub.id} item {item.id}")
        raise


def accept_all(store: FilingStore, repo: Repository, user: User, sub_id: str, *,
               type_name: str = "item") -> BulkResult:
    """Accept every received item of a submission, each all or nothing: one that fails
    stays received with its reason reported, the others go on. The unit gets one notice."""
    require_archivist(user)
    sub = store.submission(sub_id)
    result = BulkResult()
    for item in sub.items:
        if item.state != "received":
            continue
        try:
            result.accepted.append(accept(store, repo, user, item.id, type_name=type_name))
        except LantaiError as exc:
            result.failed.append((item.id, exc.message))
    if result.accepted:
        codes = ", ".join(i.refcode for i in result.accepted[:20])
        values = {"submission": sub.id, "n": len(result.accepted),
                  "codes": codes + (" …" if len(result.accepted) > 20 else "")}
        store.add_notice(sub.unit, sub.year, "accepted", bilingual(ACCEPTED_SUBJECT, **values),
                         both_languages(ACCEPTED_BODY, **values))
    return result


def _accession(repo: Repository, user: User, sub: Submission, unit: Unit,
               created: list[str]) -> str:
    """The IRI of the submission's accession event, made (with its folder) if missing."""
    folder = repo.reads.at_path(ACCESSIONS)
    if folder is None:
        made = repo.create(user, "/", "folder", {"title": described(ACCESSIONS_TITLE)},
                           slug=ACCESSIONS.strip("/"),
                           message="the folder of accessions from filing units")
        created.append(made.iri)
    elif repo.get(user, folder).type_name != "folder":
        raise Conflict(f"{ACCESSIONS} is not a folder: accession events cannot be placed")
    path = f"{ACCESSIONS}/{sub.id.lower()}"
    found = repo.reads.at_path(path)
    if found is not None:
        return found
    event = repo.create(user, ACCESSIONS, "event", {
        "name": described(ACCESSION_NAME, submission=sub.id,
                          unit={"zh": unit.name_zh, "en": unit.name_en or unit.code}),
        "date": repo.clock().date().isoformat(),
        "participant": [unit.agent],
        "note": described(ACCESSION_NOTE, unit=unit.code, channel=sub.channel,
                          source=sub.source[:200], sent=sub.created, by=sub.created_by),
    }, slug=sub.id.lower(), message=f"accession of {sub.id} from {unit.code}")
    created.append(event.iri)
    return event.iri


def _undo(repo: Repository, user: User, created: list[str], what: str) -> None:
    """Delete what a failed acceptance created, newest first (the record before its event,
    which it links to). What cannot be deleted stays, and the original error is raised."""
    for iri in reversed(created):
        with contextlib.suppress(LantaiError):
            repo.delete(user, iri, recursive=True,
                        message=f"undo the acceptance of {what}: it failed")


# ---------------------------------------------------------------------- files
def safe_name(name: str, taken: set[str]) -> str:
    """A file name for the new record: the officer's base name, without path, controls or
    separators, bounded, unique among ``taken`` (which it joins)."""
    name = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name)
    name = "".join(c for c in name if c.isprintable() and c not in '/\\:*?"<>|').strip(". ")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = ext[:10]
    stem = stem[:MAX_NAME - len(ext) - 1] or "file"
    out, n = f"{stem}.{ext}" if ext else stem, 1
    while out.lower() in taken:
        n += 1
        out = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
    taken.add(out.lower())
    return out


def _attach(store: FilingStore, repo: Repository, user: User, record: ContentObject,
            files: list[FiledFile]) -> None:
    """Ingest an item's files from the receiving area onto its new record."""
    from iiif.media import BY_EXTENSION

    (repo.home / "tmp").mkdir(exist_ok=True)
    # the plaintext copies the ingest reads: in {home}/tmp (mode 0700), gone on leaving
    with tempfile.TemporaryDirectory(dir=repo.home / "tmp", prefix="accept-") as tmp:
        taken: set[str] = set()
        media: list[Path] = []
        documents: list[tuple[Path, FiledFile]] = []
        for f in files:
            if not store.has_file(f.sha256):
                raise NotFound(f"{f.name}: not in the receiving area any more")
            target = Path(tmp) / safe_name(f.name, taken)
            with store.open_file(f.sha256) as src, target.open("xb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            target.chmod(0o600)
            ext = target.suffix.lower().lstrip(".")
            if BY_EXTENSION.get(ext) in _MEDIA_KINDS:
                media.append(target)
            else:
                documents.append((target, f))
        if media:
            from iiif.media import ingest_media

            ingest_media(repo, user, record.path, media, ocr=False)
        if documents:
            attach_documents(repo, user, record, documents)


def document_mime(path: Path, declared: str = "") -> str:
    """The media type a document is described with: what intake found in its bytes, else
    what its extension says, else ``application/octet-stream``."""
    if declared and _MIME.match(declared):
        return declared
    ext = path.suffix.lower().lstrip(".")
    guess = _DOCUMENT_MIMES.get(ext) or mimetypes.guess_type(path.name)[0] or ""
    return guess if _MIME.match(guess) else "application/octet-stream"


def attach_documents(repo: Repository, user: User, record: ContentObject,
                     documents: list[tuple[Path, FiledFile]],
                     *, hook: Callable[[], None] | None = None) -> None:
    """Attach born-digital documents (no images to tile) as instantiations, all or nothing:
    the bytes go into the file store first (named in an ingest marker, as the media ingest
    does, so a killed process leaves nothing the next open does not sweep), then one
    :meth:`Repository.ingest` describes them; on failure the bytes this call added go."""
    from repo.files import FileStore
    from repo.ingest import NewObject
    from repo.sweep import IngestMarker

    files_store = FileStore.for_site(repo.home)
    taken = {k.path.rsplit("/", 1)[-1] for k in repo.children(user, record.path)}
    added: list[str] = []
    specs: list[NewObject] = []
    marker = IngestMarker(repo.home)
    try:
        for path, filed in documents:
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            digest = f"sha256:{h.hexdigest()}"
            if digest not in files_store and digest not in added:
                marker.will_create(digest)  # before the copy: a sweep discards it if unnamed
                added.append(digest)
            if files_store.put(path) != digest:
                raise Invalid(f"{path.name} changed while it was being stored; try again")
            slug = re.sub(r"[^a-z0-9._-]+", "-", path.name.lower()).strip("-.")[:60] or "doc"
            base, n = slug, 1
            while slug in taken or not re.match(r"^[a-z0-9]", slug):
                n += 1
                slug = f"doc-{base}-{n}"[:64]
            taken.add(slug)
            specs.append(NewObject(
                parent=record.path, type="instantiation",
                fields={"mime": document_mime(path, filed.mime), "digest": digest,
                        # a file name is in no language; tagged @zh only when it has
                        # Chinese in it (the profile refuses @zh text without any)
                        "title": {"zh" if CJK.search(path.name) else "en": path.name},
                        "extent": f"{path.stat().st_size} bytes"},
                slug=slug, state=record.state))
        if hook is not None:
            hook()
        with repo.ingesting_files():
            repo.ingest(user, specs,
                        message=f"attach {len(specs)} document(s) to {record.path}")
    except BaseException:
        for digest in added:  # staged, never deposited: nothing else names them
            with contextlib.suppress(OSError, LantaiError):
                files_store.discard(digest)
        raise
    finally:
        marker.close()
        files_store.close()


# ---------------------------------------------------------------------- return
def check_note(note: str) -> str:
    """A rectification note: required, at most :data:`MAX_NOTE` characters, text only."""
    note = (note or "").strip()
    if not note:
        raise Invalid("a returned item needs a rectification note (what to correct)")
    if len(note) > MAX_NOTE:
        raise Invalid(f"a rectification note has at most {MAX_NOTE} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t\r" for c in note):
        raise Invalid("a rectification note is text: no control characters")
    return note.replace("\r\n", "\n")


def return_item(store: FilingStore, repo: Repository, user: User, item_id: int, note: str,
                *, problems: list[str] | None = None) -> Item:
    """Return a received item with its rectification note: a notice to the unit in the
    workspace and an e-mail to its address when it has one. A mail that cannot be sent is
    appended to ``problems`` (the caller shows it); the return counts all the same."""
    from services.requests.mail import MailError, send

    require_archivist(user)
    note = check_note(note)
    item = store.item(item_id)
    sub, _task, unit = _context(store, item)
    done = store.decide(item_id, "returned", actor=user.name, note=note)
    values = {"submission": sub.id, "row": item.row, "title": item_title(item),
              "note": note, "by": user.fullname or user.name}
    subject = bilingual(RETURNED_SUBJECT, **values)
    body = "\n\n".join(dict.fromkeys(
        RETURNED_BODY.in_lang(lang, unit=name, **values)
        for lang, name in (("zh", unit.name_zh), ("en", unit.name_en or unit.name_zh))))
    store.add_notice(unit.code, sub.year, "rectification", subject, body)
    if unit.email:
        try:
            send(repo.settings, unit.email, subject, body)
        except MailError as exc:
            if problems is not None:
                problems.append(exc.message)
    return done


# ---------------------------------------------------------------------- resubmit
def resubmit(store: FilingStore, repo: Repository, user: User, item_id: int,
             fields: dict[str, list[str]], files: list[FiledFile] | None = None, *,
             note: str = "") -> Item:
    """The unit's officer sends a returned item again, corrected: ``fields`` replace the
    item's; ``files`` (staged in the receiving area already) replace its files, ``None``
    keeps them. Checked as a submission is (:func:`check`); refused → Invalid with every
    message, and newly staged files that no item names are removed."""
    item = store.item(item_id)
    sub, task, _unit = _context(store, item)
    require_unit(repo, store, user, sub.unit)
    if item.state != "returned":
        raise Conflict(f"item {item_id} is {item.state}: only a returned item is sent again")
    kept = item.files if files is None else files
    problems = check(repo, user, task.category if task else "", fields, kept)
    problems += [f"{f.name}: not in the receiving area" for f in kept
                 if not store.has_file(f.sha256)]
    if problems:
        if files is not None:
            store.discard([f for f in files if f.sha256 not in {g.sha256 for g in item.files}])
        raise Invalid("; ".join(problems), problems=problems)
    if len(note) > MAX_NOTE:
        raise Invalid(f"a note has at most {MAX_NOTE} characters")
    done = store.resubmit(item_id, fields, kept, actor=user.name, note=note.strip())
    if files is not None:  # files replaced: the old ones go unless another item names them
        store.discard([f for f in item.files if f.sha256 not in {g.sha256 for g in kept}])
    return done


def check(repo: Repository, user: User, category: str, fields: dict[str, list[str]],
          files: list[FiledFile]) -> list[str]:
    """The checks of a submission (:func:`services.filing.intake.check_item`), as the
    officer: a link to what they may not see is answered as absent, as at submission."""
    from services.filing.intake import check_item

    return list(check_item(repo, category, fields, files, user=user))
