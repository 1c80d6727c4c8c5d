"""What a submitted item must be: the category's required metadata, a description the
profile accepts, and files that are what they claim to be.

The required metadata per category (门类) is data, here in :data:`REQUIRED` (documented in
``docs/filing.md``): every category needs a title and a date; teaching (JX) and research
(KY) records need their responsible person (``creator``: an agent of the repository, given
by path or IRI, or matched by its name); audiovisual (SX) records need their files.
The description is then checked by the profile's own validation (:mod:`repo.validation`),
on an unsaved object built by the repository's :class:`repo.building.Builder` as
``Repository.create`` will build it at acceptance, so an item that passes here is not
refused there for its values. Files: the real type from the
bytes (puremagic; the ZIP-based formats by their members) must match the extension and be
an archival type of :data:`FILE_TYPES`.

Every message is one line, names the field or file, and is in English (the CLI prints it;
the pages show it as it is).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import puremagic
from pyoxigraph import Literal, NamedNode, Quad

from ontology.profile import Field
from repo import dates
from repo.building import Builder
from repo.errors import LantaiError
from repo.objects import ContentObject
from repo.reads import IngestCache
from repo.repository import Repository
from repo.security import User
from repo.validation import problems
from repo.values import Assignment, check_text
from services.filing.model import FiledFile
from services.filing.sealed import plain_copy

# ---------------------------------------------------------------------------- the rules
# Fields every item needs, and more per category. ``title`` is met by a title in any
# language; ``files`` by at least one file. Files are not required everywhere: many units
# hand their paper originals over and file the catalogue online (the files come with the
# digitisation); audiovisual records are their files. Change the table, not the code.
REQUIRED_ALL: tuple[str, ...] = ("title", "date")
REQUIRED: dict[str, tuple[str, ...]] = {
    "JX": ("creator",),  # teaching: the responsible teacher (任课教师)
    "KY": ("creator",),  # research: the project leader (项目负责人)
    "SX": ("files",),  # audiovisual (声像): the recordings and photographs themselves
}
FIELD_WORDS = {"title": "a title (题名)", "date": "a date (日期)",
               "creator": "a responsible person (责任者: an agent by path or name)",
               "files": "at least one file (文件)"}

# Archival file types: extension → the type it must be, by its bytes.
FILE_TYPES: dict[str, str] = {
    "pdf": "application/pdf", "ofd": "application/ofd",
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
    "tif": "image/tiff", "tiff": "image/tiff",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "mp3": "audio/mpeg", "wav": "audio/wav", "mp4": "video/mp4",
}
# the extensions puremagic may report for each type (it knows several per type)
_SAME = {"jpg": {"jpg", "jpeg", "jpe", "jfif"}, "jpeg": {"jpg", "jpeg", "jpe", "jfif"},
         "tif": {"tif", "tiff"}, "tiff": {"tif", "tiff"}, "mp4": {"mp4", "m4v", "m4a", "mov",
                                                                   "3gp", "f4v"}}
# ZIP-based formats: told apart by the member every such file has
_ZIP_MEMBERS = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "ofd": "OFD.xml"}
MAX_NAME = 255
MAX_VALUE = 4000  # characters in one value (a spreadsheet's cell)


def required_for(category: str) -> tuple[str, ...]:
    """What an item of ``category`` must have (see :data:`REQUIRED`)."""
    extra = REQUIRED.get(category.upper(), ())
    return REQUIRED_ALL + tuple(r for r in extra if r not in REQUIRED_ALL)


# ---------------------------------------------------------------------------- files
def file_problem(name: str, path: Path, *, max_bytes: int) -> tuple[str | None, str]:
    """``(message, mime)``: ``message`` is None when ``path`` (sent as ``name``) is an
    allowed archival type whose bytes agree with its extension and its size is bounded."""
    if not name or len(name) > MAX_NAME or "\x00" in name:
        return f"file {name[:60]!r}: not a usable file name", ""
    if path.is_symlink() or not path.is_file():
        return f"file {name}: not found", ""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    mime = FILE_TYPES.get(ext)
    if mime is None:
        allowed = ", ".join(sorted({e for e in FILE_TYPES}))
        return (f"file {name}: .{ext or '(none)'} is not an archival file type "
                f"(allowed: {allowed})"), ""
    size = path.stat().st_size
    if size == 0:
        return f"file {name}: empty", ""
    if size > max_bytes:
        return f"file {name}: {size} bytes, more than the {max_bytes} allowed", ""
    found = real_type(path, ext)
    ok = found == ext if ext in _ZIP_MEMBERS else found in _SAME.get(ext, {ext})
    if not ok:
        what = f".{found}" if found else "unknown"
        return (f"file {name}: its bytes are {what}, not .{ext} (a renamed file is not "
                "accepted)"), ""
    return None, mime


@cache
def _signatures() -> dict[str, list[tuple[int, bytes]]]:
    """puremagic's own header signatures of the allowed types, by extension: a file whose
    head matches one of its claimed type's signatures is that type for puremagic too,
    found without trying its 1,400 others (about 5 ms a file: 25 s for 5,000 files).
    Signatures shorter than 3 bytes are left out (``\\xff\\xd8`` would say little), and
    RIFF's four bytes too (WAV is told by ``WAVE`` at offset 8; AVI is RIFF as well)."""
    table: dict[str, list[tuple[int, bytes]]] = {}
    for entry in puremagic.magic_header_array:
        ext = entry.extension.lstrip(".").lower()
        if len(entry.byte_match) < 3 or entry.offset < 0 or entry.byte_match == b"RIFF":
            continue
        for claim in FILE_TYPES:
            if ext in _SAME.get(claim, {claim}):
                table.setdefault(claim, []).append((entry.offset, entry.byte_match))
    return table


def _is_claimed_type(path: Path, ext: str) -> bool:
    """Does the head of ``path`` carry a signature of ``ext`` (the fast path)?"""
    signatures = _signatures().get(ext, [])
    if not signatures:
        return False
    with open(path, "rb") as f:
        head = f.read(1024)
    return any(head[o:o + len(sig)] == sig for o, sig in signatures)


def real_type(path: Path, claim: str = "") -> str:
    """The type of a file from its bytes: an extension without the dot (``pdf``, ``jpg``,
    ``docx``, ``ofd``…), or "" when it is not recognised. ZIP-based formats are told apart
    by their members (puremagic reports every OOXML type for any ZIP). With ``claim``, a
    file carrying one of that type's signatures is answered at once."""
    if claim in _ZIP_MEMBERS:
        with open(path, "rb") as f:
            if f.read(4) == b"PK\x03\x04":
                return _zip_kind(path)
    elif claim and _is_claimed_type(path, claim):
        return claim
    try:
        results = puremagic.magic_file(str(path))
    except (puremagic.PureError, OSError, ValueError):
        results = []
    exts = [r.extension.lstrip(".").lower() for r in results]
    if exts and (exts[0] in ("zip", "jar", "odt") or {"docx", "xlsx"} & set(exts)):
        return _zip_kind(path)
    if claim and claim in _SAME.get(claim, {claim}) and any(
            e in _SAME.get(claim, {claim}) for e in exts):
        return claim  # one of puremagic's answers, if not its first
    return exts[0] if exts else ""


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return ""
    for ext, member in _ZIP_MEMBERS.items():
        if member in names:
            if ext == "xlsx" and any(n.lower().endswith("vbaproject.bin") for n in names):
                return "xlsm"  # macros: not an archival spreadsheet
            return ext
    return "zip"


def receiving_path(home: Path, sha256: str) -> Path | None:
    """Where the receiving area keeps the bytes of ``sha256`` (the layout of
    :class:`services.filing.store.FilingStore`), or None when they are not there."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        return None
    path = Path(home) / "filing" / "receiving" / sha256[:2] / sha256
    return path if path.is_file() else None


# ---------------------------------------------------------------------------- a file sent
@dataclass(frozen=True)
class Sent:
    """A file as sent: the name it was sent under and where its bytes are now."""

    name: str
    path: Path


FileLike = Sent | Path | FiledFile


def as_sent(files: Iterable[FileLike]) -> list[Sent | FiledFile]:
    return [Sent(f.name, f) if isinstance(f, Path) else f for f in files]


# ---------------------------------------------------------------------------- descriptions
class Checker:
    """Checks items for one user against one repository; keeps what it looked up (agents
    by name) for the next row: a 5,000-row spreadsheet names the same teachers again and
    again."""

    def __init__(self, repo: Repository, user: User | None = None) -> None:
        self.repo = repo
        self.user = user
        self.builder = Builder(repo.site, repo.reads, IngestCache())
        self.max_bytes = repo.settings.filing_upload_max_mb * 1024 * 1024
        self._names: dict[str, list[str]] | None = None
        self._seen: dict[tuple[str, frozenset[str]], str | None] = {}
        self._references: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        ctype = repo.profile.type("item")
        creator = ctype.fields["creator"]
        self._agent_classes = set(creator.classes)

    # -- agents by name
    def _agent_names(self) -> dict[str, list[str]]:
        """Every agent's name (any language) → its IRIs: one pass over the name statements."""
        if self._names is None:
            names: dict[str, list[str]] = {}
            path = self.repo.profile.type("person").fields["name"].path
            for q in self.repo.working.quads_for_pattern(None, NamedNode(path), None, None):
                if isinstance(q.object, Literal) and isinstance(q.subject, NamedNode) \
                        and q.graph_name == q.subject:
                    names.setdefault(q.object.value.strip(), []).append(q.subject.value)
            self._names = names
        return self._names

    def _visible(self, iri: str, classes: set[str]) -> str | None:
        """``iri`` if it is an object of ``classes`` the user may view — in the working
        store, or public (an officer holds no view role: what they link to is what the
        public sees); a hidden one is answered as absent."""
        key = (iri, frozenset(classes))
        if key not in self._seen:
            obj = self.repo.load(iri)
            ok = (obj is not None and not obj.deleted
                  and (not classes or obj.type.rdf_class in classes)
                  and (self.user is None or self.repo.can_view(self.user, obj)
                       or self.repo.is_public(iri)))
            self._seen[key] = iri if ok else None
        return self._seen[key]

    def reference(self, key: str, f: Field, value: str) -> tuple[str | None, str | None]:
        """``(iri, message)``: a linked object given by path or IRI, or an agent by name
        (kept for the next row: a spreadsheet names the same teachers again and again)."""
        value = value.strip()
        known = self._references.get((key, value))
        if known is None:
            known = self._references[(key, value)] = self._reference(key, f, value)
        return known

    def _reference(self, key: str, f: Field, value: str) -> tuple[str | None, str | None]:
        classes = set(f.classes)
        agents = bool(classes) and classes <= self._agent_classes
        if value.startswith(("/", "http://", "https://")):
            try:
                iri: str | None = self.repo.resolve(value)
            except LantaiError:
                iri = None
            found = self._visible(iri, classes) if iri else None
            if found is None:
                what = "agent" if agents else "object"
                return None, f"{key}: no {what} of the repository at {value}"
            return found, None
        if not agents:
            return None, f"{key}: {value!r} is not a path (/…) or IRI of the repository"
        matches = sorted({i for i in self._agent_names().get(value, [])
                          if self._visible(i, classes)})
        if not matches:
            return None, (f"{key}: no agent of the repository is named {value!r} "
                          "(give its path, e.g. /agents/…)")
        if len(matches) > 1:
            return None, (f"{key}: {len(matches)} agents are named {value!r}; give the path "
                          "of the one meant")
        return matches[0], None

    # -- one item
    def check(self, category: str, fields: dict[str, list[str]],
              files: Sequence[Sent | FiledFile], *, type_name: str = "item",
              files_named: bool = False) -> tuple[list[str], dict[str, list[str]], list[str]]:
        """``(messages, fields, mimes)``: the messages (empty: fine), the fields as they
        will be stored (agents named by name replaced by their IRI) and each file's type.
        ``files_named``: files were named but not found (said already: not "required")."""
        messages: list[str] = []
        ctype = self.repo.profile.type(type_name)
        stored: dict[str, list[str]] = {}
        assignments: list[Assignment] = []
        for key, values in fields.items():
            name, _, lang = key.partition("@")
            f = ctype.fields.get(name)
            if f is None or f.set_by_ingest:
                messages.append(f"{key}: not a field of an archival {type_name}")
                continue
            for v in values:
                try:
                    check_text(key, v)
                except LantaiError as exc:
                    messages.append(exc.message)
                    continue
                v = v.strip()
                if not v:
                    continue
                if len(v) > MAX_VALUE:
                    messages.append(f"{key}: {len(v)} characters, at most {MAX_VALUE}")
                    continue
                if f.is_reference:
                    iri, problem = self.reference(key, f, v)
                    if problem:
                        messages.append(problem)
                        continue
                    v = iri or v
                stored.setdefault(key, []).append(v)
                assignments.append(Assignment(name, lang or None, v))
        messages.extend(self._dates(stored, assignments))
        present = {k.partition("@")[0] for k, v in stored.items() if v}
        for need in required_for(category):
            if need == "files":
                if not files and not files_named:
                    messages.append(f"{FIELD_WORDS['files']} is required for {category}")
            elif need not in present and not any(m.startswith(f"{need}") for m in messages):
                word = FIELD_WORDS.get(need, need)
                messages.append(f"{word} is required for {category}")
        messages.extend(self._profile_problems(ctype.name, category, assignments))
        mimes: list[str] = []
        for sent in files:
            if isinstance(sent, FiledFile):  # in the receiving area: its bytes are there
                path = receiving_path(self.repo.home, sent.sha256)
                if path is None:
                    messages.append(f"file {sent.name[:120]}: not in the receiving area")
                    mimes.append("")
                    continue
                # sealed at rest on an encrypted site: checked from a plaintext copy
                with plain_copy(self.repo.home, path, sent.sha256) as plain:
                    problem, mime = file_problem(sent.name, plain, max_bytes=self.max_bytes)
            else:
                problem, mime = file_problem(sent.name, sent.path, max_bytes=self.max_bytes)
            if problem:
                messages.append(problem)
            mimes.append(mime)
        return _unique(messages), stored, mimes

    @staticmethod
    def _dates(stored: dict[str, list[str]], assignments: list[Assignment]) -> list[str]:
        """The date as written must be one this archive reads (:func:`repo.dates.parse`:
        the 档号's year and the rates' year come from it); its normalised ``begin`` and
        ``end`` are filled in when not given, as the staff forms do."""
        written = stored.get("date", [])
        if not written:
            return []
        if len(written) > 1:
            return [f"date: one date, not {len(written)}"]
        try:
            parsed = dates.parse(written[0])
        except LantaiError as exc:
            return [exc.message]
        for name, value in (("begin", parsed.begin), ("end", parsed.end)):
            if name not in stored:
                stored[name] = [value]
                assignments.append(Assignment(name, None, value))
        return []

    def _profile_problems(self, type_name: str, category: str,
                          assignments: list[Assignment]) -> list[str]:
        """The profile's validation of the description ``Repository.create`` would build
        (values one at a time, so that every bad value is named, not only the first).
        Links were checked against what the user may see already (:meth:`reference`)."""
        obj = ContentObject("urn:lantai:unsaved", {"type": [Literal(type_name)]})
        obj.description = set()
        found: list[str] = []
        try:  # all at once; one at a time only to name every bad value
            self.builder.apply_assignments(obj, assignments, replace=False)
        except LantaiError:
            obj.description = set()
            for a in assignments:
                try:
                    self.builder.apply_assignments(obj, [a], replace=False)
                except LantaiError as exc:
                    found.append(exc.message)
        cat = f"{self.repo.base}/vocab/category/{category}"
        if "category" in obj.type.fields and not any(
                q.predicate.value == obj.type.fields["category"].path for q in obj.description):
            obj.description.add(Quad(obj.node, NamedNode(obj.type.fields["category"].path),
                                     NamedNode(cat), obj.node))
        found.extend(p for p in problems(obj, self.repo.class_of, vocab_base=self.repo.base)
                     if not p.startswith("title is required"))  # said above, in its words
        return found


def _unique(messages: list[str]) -> list[str]:
    return list(dict.fromkeys(messages))


def check_item(repo: Repository, category: str, fields: dict[str, list[str]],
               files: Iterable[FileLike], *, user: User | None = None,
               type_name: str = "item") -> list[str]:
    """The messages for one item (empty: it may be filed): the category's required
    metadata, the profile's validation, the files' real types. ``files`` are paths (named
    by their own names), :class:`Sent` (a name and where the bytes are) or files in the
    receiving area (:class:`FiledFile`: its bytes there are checked under its name — a
    resubmission's new files as well as the kept ones). With ``user``, a linked object the
    user may neither view nor see in public is answered as absent."""
    messages, _, _ = Checker(repo, user).check(category, fields, as_sent(files),
                                               type_name=type_name)
    return messages
