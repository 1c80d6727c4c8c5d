"""One-stop filing's input (一站式归档): one item from the web form, or many from a
spreadsheet (XLSX, CSV) with its files, or from a BagIt bag (a folder or a ZIP) — checked
row by row, stored all or nothing.

:func:`read_upload` and :func:`form_submission` answer an :class:`IntakeResult`: per row
ok or its messages, and the stored :class:`~services.filing.model.Submission` — or None
when anything was refused, in which case nothing is stored and nothing is left in the
receiving area (every row is checked before any file is staged; a failure while staging
discards what was staged). The checks: :mod:`services.filing.checks` (the category's
required metadata, the profile's validation, the files' real types); reading:
:mod:`services.filing.spreadsheet` and :mod:`services.filing.bags`.

Who may: the unit's officers and the archivists (:func:`services.filing.units.require_unit`);
a task given must be the unit's.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from repo.errors import Forbidden, Invalid
from repo.repository import Repository
from repo.security import User
from services.filing import bags, spreadsheet
from services.filing.checks import Checker, FileLike, Sent, as_sent, check_item, required_for
from services.filing.model import FiledFile, Item, Submission, Task
from services.filing.spreadsheet import MAX_CELL, SheetError
from services.filing.store import FilingStore
from services.filing.units import require_unit

Progress = Callable[[str, int, int], None]  # (what, done, total)
MAX_FORM_FIELDS = 64
MAX_VALUES = 50  # values of one field in one item


@dataclass
class RowReport:
    """One row's answer: ok, or what is wrong (one line per message)."""

    row: int
    ok: bool
    messages: list[str] = field(default_factory=list)


@dataclass
class IntakeResult:
    """What became of an upload: the stored submission (None when refused), the rows'
    answers, and the reasons that refuse the whole file (wrong columns, a bad bag …)."""

    submission: Submission | None
    rows: list[RowReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.submission is not None

    @property
    def reason(self) -> str:
        """One line saying why nothing was stored ("" when it was)."""
        if self.ok:
            return ""
        if self.problems:
            return self.problems[0]
        bad = [r.row for r in self.rows if not r.ok]
        shown = ", ".join(str(n) for n in bad[:10]) + (" …" if len(bad) > 10 else "")
        return (f"{len(bad)} of {len(self.rows)} row(s) refused (row {shown}): nothing was "
                "filed")

    def as_json(self) -> dict[str, Any]:
        sub = self.submission
        return {
            "ok": self.ok,
            "problems": self.problems,
            "rows": [{"row": r.row, "ok": r.ok, "messages": r.messages} for r in self.rows],
            "submission": None if sub is None else {
                "id": sub.id, "year": sub.year, "unit": sub.unit, "task": sub.task,
                "channel": sub.channel, "source": sub.source, "created": sub.created,
                "created_by": sub.created_by,
                "items": [{"id": i.id, "row": i.row, "state": i.state, "fields": i.fields,
                           "files": [f.__dict__ for f in i.files]} for i in sub.items],
            },
        }


class Upload(Protocol):
    """A file from a web form (werkzeug's FileStorage has these)."""

    filename: str | None

    def save(self, dst: str) -> None: ...


# ---------------------------------------------------------------------------- helpers

def _work_folder(store: FilingStore) -> Path:
    """Where an intake unpacks and checks what was sent: ``{home}/tmp`` (plaintext only while
    it is checked, removed afterwards), never the receiving area, which is sealed."""
    folder = store.home / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder

def _task_and_year(store: FilingStore, unit: str, task_id: int | None,
                   year: int | None) -> tuple[Task | None, int]:
    task = None
    if task_id is not None:
        task = store.task(task_id)
        if task.unit != unit:
            raise Forbidden(f"task {task_id} is not a task of {unit}")
        if year is not None and year != task.year:
            raise Invalid(f"task {task_id} is of {task.year}, not {year}")
        return task, task.year
    if year is None:
        import datetime as dt
        year = dt.date.today().year
    if not 1900 <= year <= 2200:
        raise Invalid(f"year {year}: not a filing year")
    return None, year


def _multi_fields(repo: Repository) -> set[str]:
    """Fields whose cells may hold several values separated by ';' (links and codes)."""
    return {f.name for f in repo.profile.type("item").fields.values() if f.is_iri}


def _locate(base: Path, name: str) -> Path | None:
    """The file ``name`` (a relative path) inside ``base`` (resolved); None if it is not
    there or would be outside ``base`` or is reached through a symbolic link."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name \
            or ".." in Path(name).parts:
        return None
    p = base / name
    try:
        if p.is_symlink() or not p.is_file():
            return None
        if "/" in name and not p.resolve().is_relative_to(base):  # a folder on the way
            return None
    except OSError:
        return None
    return p


def _stage_and_store(store: FilingStore, sub: Submission,
                     items: list[tuple[int, dict[str, list[str]], list[Sent], list[str]]],
                     progress: Progress | None) -> Submission:
    """Copy every file into the receiving area, then record the submission in one
    transaction; on any failure what was staged is discarded."""
    staged: list[FiledFile] = []
    total = sum(len(files) for _, _, files, _ in items)
    try:
        for number, fields, files, mimes in items:
            filed = []
            for sent, mime in zip(files, mimes, strict=True):
                f = store.put_file(sent.path)
                f.name, f.mime = sent.name, mime
                staged.append(f)
                filed.append(f)
                if progress:
                    progress("staging", len(staged), total)
            sub.items.append(Item(id=0, submission="", row=number, fields=fields,
                                  files=filed))
        return store.add_submission(sub)
    except BaseException:
        store.discard(staged)
        raise


# ---------------------------------------------------------------------------- spreadsheets
def _check_sheet(checker: Checker, sheet: spreadsheet.Sheet, base: Path, task: Task | None,
                 progress: Progress | None, *, unnamed: set[str] | None = None
                 ) -> tuple[list[RowReport], list[tuple[int, dict, list[Sent], list[str]]]]:
    reports: list[RowReport] = []
    good: list[tuple[int, dict, list[Sent], list[str]]] = []
    root = base.resolve()
    for done, raw in enumerate(sheet.rows, start=1):
        messages = list(raw.messages)
        fields = dict(raw.fields)
        category = task.category if task else ""
        given = fields.pop("category", [])
        if task and given and given != [task.category]:
            messages.append(f"category {given[0]}: the task files {task.category} records")
        if not task:
            category = given[0] if len(given) == 1 else ""
            if not category:
                messages.append("category: one record category (门类) is required "
                                "when no task is given")
        sents: list[Sent] = []
        for name in raw.files:
            found = _locate(root, name)
            if found is None:
                messages.append(f"file {name[:120]}: not found (it must be beside the "
                                "spreadsheet, in the ZIP or in the bag's data/)")
            else:
                sents.append(Sent(name, found))
                if unnamed is not None:
                    unnamed.discard(str(found))
        if category:
            problems, stored, mimes = checker.check(category, fields, sents,
                                                    files_named=bool(raw.files))
            messages.extend(problems)
            if not task:
                stored["category"] = [category]
        else:
            stored, mimes = fields, []
        reports.append(RowReport(raw.number, not messages, messages))
        if not messages:
            good.append((raw.number, stored, sents, mimes))
        if progress:
            progress("checking", done, len(sheet.rows))
    return reports, good


def _spreadsheet_intake(store: FilingStore, repo: Repository, user: User, unit: str,
                        task: Task | None, year: int, sheet_path: Path, base: Path,
                        channel: str, source: str, progress: Progress | None,
                        *, bag_data: Path | None = None) -> IntakeResult:
    checker = Checker(repo, user)
    required = required_for(task.category) if task else ("title", "date", "category")
    try:
        sheet = spreadsheet.read_sheet(sheet_path, repo.profile.type("item"),
                                       required=required,
                                       max_rows=repo.settings.filing_max_rows,
                                       multi=_multi_fields(repo))
    except SheetError as exc:
        return IntakeResult(None, problems=[exc.message])
    if not sheet.rows:
        return IntakeResult(None, problems=[f"{sheet_path.name}: no rows under the header"])
    unnamed: set[str] | None = None
    if bag_data is not None:  # every payload file must belong to a row
        unnamed = {str(p) for p in bag_data.resolve().rglob("*")
                   if p.is_file() and p != sheet_path.resolve()}
    reports, good = _check_sheet(checker, sheet, base, task, progress, unnamed=unnamed)
    problems = []
    if unnamed:
        names = sorted(str(Path(p).relative_to(bag_data.resolve())) for p in unnamed
                       if bag_data is not None)
        problems.append(f"the bag holds {len(names)} file(s) no row names: "
                        f"{', '.join(names[:5])}{' …' if len(names) > 5 else ''}")
    if problems or not all(r.ok for r in reports):
        return IntakeResult(None, reports, problems)
    sub = Submission(id="", year=year, unit=unit, task=task.id if task else None,
                     channel=channel, source=source[:200], created="", created_by=user.name)
    return IntakeResult(_stage_and_store(store, sub, good, progress), reports)


def read_upload(store: FilingStore, repo: Repository, user: User, unit_code: str,
                path: Path | str, *, task_id: int | None = None, year: int | None = None,
                files: Path | str | None = None,
                progress: Progress | None = None) -> IntakeResult:
    """Read, check and (when every row is fine) store one upload of the unit ``unit_code``.

    ``path`` is an .xlsx or .csv spreadsheet (the files it names are looked up in
    ``files`` — a folder or a ZIP — or else beside it), a BagIt bag folder, or a ZIP holding
    a bag or a spreadsheet with its files. Raises Forbidden/NotFound/Invalid for who and
    which task; answers everything about the content in the result."""
    unit = require_unit(repo, store, user, unit_code)
    task, year = _task_and_year(store, unit.code, task_id, year)
    path = Path(path)
    limit = repo.settings.filing_upload_max_mb * 1024 * 1024 * 2
    work = Path(tempfile.mkdtemp(prefix="intake-", dir=_work_folder(store)))
    try:
        if path.is_dir():
            if not bags.is_bag(path):
                return IntakeResult(None, problems=[
                    f"{path.name}: a folder must be a BagIt bag (bagit.txt is missing)"])
            return _bag_intake(store, repo, user, unit.code, task, year, path, path.name,
                               progress)
        if not path.is_file():
            return IntakeResult(None, problems=[f"{path.name}: no such file"])
        if path.suffix.lower() == ".zip":
            try:
                root = bags.package_root(bags.unzip(path, work / "zip", limit=limit))
            except bags.PackageError as exc:
                return IntakeResult(None, problems=[exc.message])
            if bags.is_bag(root):
                return _bag_intake(store, repo, user, unit.code, task, year, root, path.name,
                                   progress)
            sheets = sorted(p for p in root.iterdir()
                            if p.is_file() and spreadsheet.is_spreadsheet(p))
            if len(sheets) != 1:
                return IntakeResult(None, problems=[
                    f"{path.name}: neither a BagIt bag nor one spreadsheet with its files "
                    f"(found {len(sheets)} spreadsheets at the top)"])
            return _spreadsheet_intake(store, repo, user, unit.code, task, year, sheets[0],
                                       root, "spreadsheet", path.name, progress)
        if not spreadsheet.is_spreadsheet(path):
            return IntakeResult(None, problems=[
                f"{path.name}: not a spreadsheet (.xlsx, .csv), a BagIt bag or a ZIP"])
        base = path.parent
        if files is not None:
            files = Path(files)
            if files.is_dir():
                base = files
            else:
                try:
                    base = bags.package_root(bags.unzip(files, work / "files", limit=limit))
                except bags.PackageError as exc:
                    return IntakeResult(None, problems=[exc.message])
        return _spreadsheet_intake(store, repo, user, unit.code, task, year, path, base,
                                   "spreadsheet", path.name, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bag_intake(store: FilingStore, repo: Repository, user: User, unit: str,
                task: Task | None, year: int, folder: Path, source: str,
                progress: Progress | None) -> IntakeResult:
    try:
        bags.validate_bag(folder)
        metadata = bags.bag_metadata(folder)
    except bags.PackageError as exc:
        return IntakeResult(None, problems=[exc.message])
    return _spreadsheet_intake(store, repo, user, unit, task, year, metadata,
                               folder / "data", "bag", source, progress,
                               bag_data=folder / "data")


# ---------------------------------------------------------------------------- the form
def _form_fields(fields: Mapping[str, object]) -> tuple[dict[str, list[str]], list[str]]:
    """The form's values as lists of strings, bounded."""
    out: dict[str, list[str]] = {}
    messages: list[str] = []
    if len(fields) > MAX_FORM_FIELDS:
        return {}, [f"{len(fields)} fields: at most {MAX_FORM_FIELDS}"]
    for key, value in fields.items():
        values = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
        if len(values) > MAX_VALUES:
            messages.append(f"{key}: {len(values)} values, at most {MAX_VALUES}")
            continue
        kept = []
        for v in values:
            v = str(v).strip()
            if len(v) > MAX_CELL:
                messages.append(f"{key}: {len(v)} characters, at most {MAX_CELL}")
            elif v:
                kept.append(v)
        if kept:
            out[str(key)[:64]] = kept
    return out, messages


def _save_uploads(files: Iterable[FileLike | Upload], folder: Path) -> list[Sent | FiledFile]:
    """Files of the form as :class:`Sent` (uploads saved into ``folder`` under their own
    names, made safe)."""
    out: list[Sent | FiledFile] = []
    for n, f in enumerate(files):
        if isinstance(f, Sent | Path | FiledFile):
            out.extend(as_sent([f]))
            continue
        name = Path((f.filename or "").replace("\\", "/")).name.strip()
        if not name:
            continue  # an empty file input
        dest = folder / f"{n:04d}"
        dest.mkdir(parents=True, exist_ok=True)
        f.save(str(dest / "upload"))
        out.append(Sent(name, dest / "upload"))
    return out


def form_submission(store: FilingStore, repo: Repository, user: User, unit_code: str,
                    task_id: int | None, fields: Mapping[str, object],
                    files: Iterable[FileLike | Upload]) -> IntakeResult:
    """One item from the web form: ``fields`` as profile field names (``title@zh`` …; a
    value or a list), ``files`` as paths, :class:`Sent` or uploads (``filename``,
    ``save``). Checked like a spreadsheet's row; stored only when fine."""
    unit = require_unit(repo, store, user, unit_code)
    task, year = _task_and_year(store, unit.code, task_id, None)
    work = Path(tempfile.mkdtemp(prefix="form-", dir=_work_folder(store)))
    try:
        values, messages = _form_fields(fields)
        sents = _save_uploads(files, work)
        given = values.pop("category", [])
        category = task.category if task else (given[0] if len(given) == 1 else "")
        if task and given and given != [task.category]:
            messages.append(f"category {given[0]}: the task files {task.category} records")
        if not category:
            messages.append("category: one record category (门类) is required when no task "
                            "is given")
            problems, stored, mimes = [], values, []  # type: list[str], dict, list[str]
        else:
            problems, stored, mimes = Checker(repo, user).check(category, values, sents)
        messages.extend(problems)
        if any(isinstance(s, FiledFile) for s in sents):
            messages.append("a new item's files must be sent with it")
        report = RowReport(1, not messages, messages)
        if messages:
            return IntakeResult(None, [report])
        if not task:
            stored["category"] = [category]
        sub = Submission(id="", year=year, unit=unit.code, task=task.id if task else None,
                         channel="form", source="form", created="", created_by=user.name)
        plain = [s for s in sents if isinstance(s, Sent)]
        return IntakeResult(_stage_and_store(store, sub, [(1, stored, plain, mimes)], None),
                            [report])
    finally:
        shutil.rmtree(work, ignore_errors=True)


__all__ = ["IntakeResult", "RowReport", "Sent", "check_item", "form_submission",
           "read_upload"]
