"""Reading a submission's spreadsheet (XLSX with openpyxl, CSV with the csv module) into rows
of profile fields and file names — bounded, and refusing what must not be read.

The first row names the columns: profile fields as ``lantai add --set`` takes them
(``title@zh``, ``title@en``, ``date``, ``creator``, ``retention``, ``scope@zh`` …), or their
Chinese labels (:data:`LABELS`: 题名, 日期, 责任者, 保管期限, 备注 …), and ``file``/``文件``
(file names separated by ``;``). Rows are numbered as items: row 1 is the first row under
the header (the spreadsheet's line 2); blank rows are skipped.

Refused as a whole (a :class:`SheetError` with one clear line): .xlsm/.xls/.xlsb or a
workbook holding macros, a file that is not XLSX or CSV, a CSV in another encoding than
UTF-8 (with or without BOM) or GB18030/GBK, unknown or missing columns, more rows than the
site's ``filing_max_rows`` (counted while streaming: a 100,000-row file is never read into
memory). Refused per row (messages on the row): a formula, a cell longer than
:data:`MAX_CELL`, a value in a column without a header.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from defusedxml import DefusedXmlException, ElementTree
from openpyxl.utils.exceptions import InvalidFileException

from ontology.profile import ContentType

MAX_CELL = 4000  # characters in one cell
MAX_COLUMNS = 64
MAX_XLSX_UNPACKED = 512 * 1024 * 1024  # what a workbook's parts may unpack to, together
FILE_COLUMN = "file"
SPLIT = (";", "；")  # between file names, and between links or codes in one cell

# Chinese column labels → profile fields (the words of DA/T 22 归档文件目录 and common forms)
LABELS: dict[str, str] = {
    "题名": "title@zh", "标题": "title@zh", "文件题名": "title@zh", "英文题名": "title@en",
    "日期": "date", "形成日期": "date", "文件日期": "date", "时间": "date",
    "起始日期": "begin", "开始日期": "begin", "终止日期": "end", "结束日期": "end",
    "责任者": "creator", "任课教师": "creator", "负责人": "creator", "作者": "creator",
    "保管期限": "retention", "档号": "refcode", "门类": "category",
    "备注": "note@zh", "附注": "note@zh", "内容提要": "scope@zh", "摘要": "scope@zh",
    "数量": "extent@zh", "页数": "extent@zh", "主题": "subject", "地点": "place",
    "语种": "language", "关联活动": "documents", "活动": "documents",
    "文件": FILE_COLUMN, "附件": FILE_COLUMN, "文件名": FILE_COLUMN, "电子文件": FILE_COLUMN,
    "files": FILE_COLUMN,
}
SPREADSHEET_SUFFIXES = (".xlsx", ".csv")
REFUSED_SUFFIXES = {".xlsm": "a workbook with macros (.xlsm) is not accepted: save it as .xlsx",
                    ".xltm": "a template with macros (.xltm) is not accepted: save it as .xlsx",
                    ".xls": "the old Excel format (.xls) is not accepted: save it as .xlsx",
                    ".xlsb": "a binary workbook (.xlsb) is not accepted: save it as .xlsx",
                    ".ods": "an OpenDocument sheet is not accepted: save it as .xlsx or .csv"}


class SheetError(Exception):
    """The spreadsheet is refused as a whole (one line: what is wrong and what is expected)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class RawRow:
    """One row as read: its number (from 1, under the header), its fields, its file names,
    and what is wrong with it already (formulas, oversized cells)."""

    number: int
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@dataclass
class Sheet:
    columns: list[str]  # the profile fields the header names ("" for an ignored column)
    rows: list[RawRow]
    encoding: str = ""  # a CSV's


# ---------------------------------------------------------------------------- the header
def _known_fields(ctype: ContentType) -> dict[str, bool]:
    """Field names a column may carry → whether it is language-tagged text."""
    return {f.name: f.is_text for f in ctype.fields.values() if not f.set_by_ingest}


def map_header(cells: list[str], ctype: ContentType, *, required: tuple[str, ...]) -> list[str]:
    """The field each column carries; refused (SheetError) with what was found and what
    was expected when a column is unknown, repeated, or a required one is missing."""
    known = _known_fields(ctype)
    while cells and not cells[-1].strip():
        cells = cells[:-1]
    if not cells:
        raise SheetError("the first row is empty: it must name the columns")
    if len(cells) > MAX_COLUMNS:
        raise SheetError(f"{len(cells)} columns: at most {MAX_COLUMNS}")
    columns: list[str] = []
    unknown: list[str] = []
    for raw in cells:
        text = unicodedata.normalize("NFKC", raw).strip().lstrip("\ufeff")
        if not text:
            columns.append("")
            continue
        name = LABELS.get(text) or LABELS.get(text.lower()) or text
        base, _, lang = name.partition("@")
        if name.lower() in (FILE_COLUMN, "文件"):
            columns.append(FILE_COLUMN)
        elif base in known and (lang != "") == known[base]:
            columns.append(name)
        else:
            unknown.append(text if base not in known or lang else f"{text} (needs @zh or @en)")
            columns.append("")
    named = [c for c in columns if c]
    repeated = sorted({c for c in named if named.count(c) > 1})
    found = ", ".join(c.strip() for c in cells if c.strip())
    expected = _expected(ctype, required)
    if unknown:
        raise SheetError(f"unknown column(s): {', '.join(unknown)}; found: {found}; "
                         f"expected: {expected}")
    if repeated:
        raise SheetError(f"column(s) named twice: {', '.join(repeated)}; found: {found}")
    bases = {c.partition("@")[0] for c in named}
    missing = [r for r in required if (FILE_COLUMN if r == "files" else r) not in bases]
    if missing:
        words = ", ".join(FILE_COLUMN if m == "files" else (m + "@zh" if m == "title" else m)
                          for m in missing)
        raise SheetError(f"missing required column(s): {words}; found: {found}; "
                         f"expected: {expected}")
    return columns


def _expected(ctype: ContentType, required: tuple[str, ...]) -> str:
    need = [FILE_COLUMN if r == "files" else (r + "@zh" if r == "title" else r)
            for r in required]
    optional = [f"{n}@zh" if text else n for n, text in _known_fields(ctype).items()
                if n not in required][:12]
    return (f"required {', '.join(need)}; optional {', '.join(optional)} …; "
            f"or their Chinese labels ({', '.join(list(LABELS)[:8])} …)")


# ---------------------------------------------------------------------------- rows
def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _split(text: str) -> list[str]:
    for sep in SPLIT[1:]:
        text = text.replace(sep, SPLIT[0])
    return [p.strip() for p in text.split(SPLIT[0]) if p.strip()]


def make_row(number: int, columns: list[str], cells: list[tuple[str, bool]],
             multi: set[str]) -> RawRow | None:
    """A row from its cells ``(text, is_formula)``; None when it is blank."""
    if not any(text for text, formula in cells) and not any(f for _, f in cells):
        return None
    row = RawRow(number)
    for i, (text, formula) in enumerate(cells):
        column = columns[i] if i < len(columns) else ""
        label = column or f"column {i + 1}"
        if formula:
            row.messages.append(f"{label}: a formula is not accepted (paste the value)")
            continue
        if not text:
            continue
        if len(text) > MAX_CELL:
            row.messages.append(f"{label}: {len(text)} characters, at most {MAX_CELL}")
            continue
        if not column:
            row.messages.append(f"column {i + 1}: a value in a column without a header")
            continue
        if column == FILE_COLUMN:
            row.files.extend(_split(text))
        elif column.partition("@")[0] in multi:
            row.fields.setdefault(column, []).extend(_split(text))
        else:
            row.fields.setdefault(column, []).append(text)
    return row


def _too_many(max_rows: int) -> SheetError:
    return SheetError(f"more than {max_rows} rows: split the file (the site takes at most "
                      f"{max_rows} rows in one submission)")


# ---------------------------------------------------------------------------- XLSX
def _check_workbook_package(path: Path) -> None:
    """A workbook is a ZIP: its parts must unpack to a bounded size and hold no macros."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise SheetError(f"{path.name}: not a readable XLSX workbook ({exc})") from None
    if sum(i.file_size for i in infos) > MAX_XLSX_UNPACKED:
        raise SheetError(f"{path.name}: the workbook unpacks to more than "
                         f"{MAX_XLSX_UNPACKED >> 20} MB")
    names = {i.filename.lower() for i in infos}
    if any(n.endswith("vbaproject.bin") for n in names):
        raise SheetError(f"{path.name}: the workbook holds macros (VBA): save it as a plain "
                         ".xlsx without macros")
    if "xl/workbook.xml" not in names:
        raise SheetError(f"{path.name}: not an XLSX workbook (no xl/workbook.xml)")


_ROW_MARKS = (b"<row", b":row ", b":row>")  # <row …>, and <x:row …> with a prefix
_NS_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _first_sheet_part(z: zipfile.ZipFile) -> str | None:
    """The ZIP member of the workbook's first sheet (workbook.xml → its relationships)."""
    try:
        book = ElementTree.fromstring(z.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError, DefusedXmlException):
        return None
    first = next((e for e in book.iter() if e.tag.endswith("}sheet")), None)
    rid = first.get(_NS_R) if first is not None else None
    for rel in rels:
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return None


def count_rows(path: Path) -> int | None:
    """How many rows the first sheet holds, counted in its XML bytes as they stream (a
    fraction of a second for 100,000 rows, where openpyxl parses the whole sheet to open
    one that does not declare its size). Row elements are counted, blank ones too."""
    with zipfile.ZipFile(path) as z:
        part = _first_sheet_part(z)
        if part is None:
            return None
        count, tail = 0, b""
        with z.open(part) as src:
            while chunk := src.read(1 << 20):
                data = tail + chunk
                tail = data[-8:]
                count += sum(data.count(m) - tail.count(m) for m in _ROW_MARKS)
        count += sum(tail.count(m) for m in _ROW_MARKS)
        return count


def read_xlsx(path: Path, ctype: ContentType, *, required: tuple[str, ...], max_rows: int,
              multi: set[str]) -> Sheet:
    _check_workbook_package(path)
    try:
        rows_there = count_rows(path)
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise SheetError(f"{path.name}: not a readable XLSX workbook ({exc})") from None
    if rows_there is not None and rows_there - 1 > max_rows:
        raise _too_many(max_rows)  # refused before openpyxl reads a row
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False, keep_links=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise SheetError(f"{path.name}: not a readable XLSX workbook ({exc})") from None
    try:
        if not wb.worksheets:
            raise SheetError(f"{path.name}: the workbook has no sheet")
        ws = wb.worksheets[0]  # its declared size is not trusted: the rows were counted
        rows: list[RawRow] = []
        columns: list[str] | None = None
        count = 0
        for line, cells in enumerate(ws.iter_rows(max_col=MAX_COLUMNS + 1), start=1):
            pairs = [(_cell_text(c.value), getattr(c, "data_type", "") == "f") for c in cells]
            if columns is None:
                if any(f for _, f in pairs):
                    raise SheetError("the header row holds a formula: name the columns in "
                                     "plain text")
                columns = map_header([t for t, _ in pairs], ctype, required=required)
                continue
            row = make_row(line - 1, columns, pairs, multi)
            if row is None:
                continue
            count += 1
            if count > max_rows:
                raise _too_many(max_rows)
            rows.append(row)
        if columns is None:
            raise SheetError(f"{path.name}: the sheet is empty")
        return Sheet(columns, rows)
    finally:
        wb.close()


# ---------------------------------------------------------------------------- CSV
ENCODINGS = ("utf-8-sig", "gb18030")


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) or GB18030 (which GBK is part of), by decoding the
    whole file strictly, a chunk at a time; anything else is refused. GB18030 decodes
    some byte sequences of other encodings too, so its text must also look like Chinese or
    English text (no private-use or unassigned characters, no C1 controls)."""
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        try:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    text = decoder.decode(chunk)
                    if "\x00" in text:
                        raise SheetError(f"{path.name}: holds NUL bytes: not a text file")
                    if encoding == "gb18030" and not _plausible(text):
                        raise UnicodeDecodeError(encoding, b"", 0, 1, "implausible text")
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise SheetError(f"{path.name}: not UTF-8 or GB18030/GBK text (save the CSV as "
                     "UTF-8, e.g. \"CSV UTF-8\" in Excel)")


def _plausible(text: str) -> bool:
    for ch in text:
        if ch < "\x80":
            continue
        cat = unicodedata.category(ch)
        if cat in ("Co", "Cn", "Cc", "Cs"):  # private use, unassigned, C1 control, surrogate
            return False
    return True


def read_csv(path: Path, ctype: ContentType, *, required: tuple[str, ...], max_rows: int,
             multi: set[str]) -> Sheet:
    encoding = detect_encoding(path)
    rows: list[RawRow] = []
    columns: list[str] | None = None
    count = 0
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="", errors="strict")
        reader = csv.reader(text)
        try:
            for line_cells in _lines(reader):
                line, cells = line_cells
                if columns is None:
                    columns = map_header(cells, ctype, required=required)
                    continue
                row = make_row(line, columns, [(c.strip(), False) for c in cells], multi)
                if row is None:
                    continue
                count += 1
                if count > max_rows:
                    raise _too_many(max_rows)
                rows.append(row)
        except csv.Error as exc:
            raise SheetError(f"{path.name}: not a readable CSV file at line "
                             f"{reader.line_num} ({exc})") from None
    if columns is None:
        raise SheetError(f"{path.name}: the file is empty")
    return Sheet(columns, rows, encoding)


def _lines(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """(row number under the header, cells); the header is number 0."""
    for number, cells in enumerate(reader):
        if len(cells) > MAX_COLUMNS + 1:
            cells = cells[:MAX_COLUMNS + 1]
        yield number, cells


# ---------------------------------------------------------------------------- either
def is_spreadsheet(path: Path) -> bool:
    return path.suffix.lower() in SPREADSHEET_SUFFIXES or path.suffix.lower() in REFUSED_SUFFIXES


def read_sheet(path: Path, ctype: ContentType, *, required: tuple[str, ...], max_rows: int,
               multi: set[str]) -> Sheet:
    """Read an .xlsx or .csv file (SheetError for anything refused as a whole)."""
    suffix = path.suffix.lower()
    if suffix in REFUSED_SUFFIXES:
        raise SheetError(f"{path.name}: {REFUSED_SUFFIXES[suffix]}")
    if suffix == ".xlsx":
        return read_xlsx(path, ctype, required=required, max_rows=max_rows, multi=multi)
    if suffix == ".csv":
        return read_csv(path, ctype, required=required, max_rows=max_rows, multi=multi)
    raise SheetError(f"{path.name}: not a spreadsheet (.xlsx or .csv)")
