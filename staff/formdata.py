"""What the add and edit forms are made of: the profile's fields as controls, a record's values
as the form shows them, what the form sent, and what to tell the repository.

Nothing here knows a content type by name: every control comes from the field's shape in
``ontology/profile.ttl`` (language-tagged text, vocabulary, link to another object, date,
plain value, set by media ingest), so a field added to the profile appears in the forms
without a line of UI code. Values travel as ``{key: [value, …]}``, the key being the field
name, with ``@lang`` for language-tagged text (``title@zh``), the same spelling as
``lantai add --set title@zh=…``. An edit sends the repository only what changed from the
revision the form started from, so a save never rewrites what the user did not touch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ontology.profile import ContentType, Field, vocabulary_codes
from repo import dates
from repo.errors import Invalid, LantaiError
from repo.objects import ContentObject
from repo.values import CJK, Assignment

Values = dict[str, list[str]]
MAIN_LANGS = ("zh", "en")
MAX_VALUE = 20_000  # characters in one value (a scope note is long; a megabyte is not one)
MAX_ROWS = 200  # values of one field in one form
SHORT_TEXT = ("title", "name", "extent")  # one line; other text fields are paragraphs


@dataclass(frozen=True)
class Control:
    """One field of a content type as the form shows it."""

    field: Field
    kind: str  # text | vocabulary | reference | date | written-date | plain | ingest
    label_zh: str
    label_en: str
    hint: str
    options: tuple[tuple[str, str, str], ...] = ()  # vocabulary: (code, zh, en)
    classes: tuple[str, ...] = ()  # reference: the content types it may name

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def required(self) -> bool:
        return self.field.min_count > 0

    @property
    def repeatable(self) -> bool:
        return self.field.max_count is None or self.field.max_count > 1

    @property
    def several(self) -> bool:
        """Several rows (a text field: several values in one language)."""
        return self.repeatable and not (self.kind == "text" and self.field.unique_lang)

    @property
    def multiline(self) -> bool:
        return self.kind == "text" and self.name not in SHORT_TEXT

    def label(self, zh: bool) -> str:
        return self.label_zh if zh else self.label_en


def labels(f: Field) -> tuple[str, str, str]:
    """(zh, en, hint) from the shape's ``sh:description`` ("题名 Title, one per language"):
    the Chinese words before the first space, the English words up to a comma or a
    bracket; the field name when the shape says nothing."""
    desc = f.description.strip()
    if desc and CJK.match(desc):
        zh, _, rest = desc.partition(" ")
        en = re.split(r"[,(（;]| e\.g\.", rest, maxsplit=1)[0].strip() or f.name
        return zh, en, desc
    plain = f.name[:1].upper() + re.sub(r"(?<=[a-z])(?=[A-Z])", " ", f.name[1:]).lower()
    return plain, plain, desc


def controls(ctype: ContentType, type_names_of_class: Callable[[str], list[str]]) -> list[Control]:
    """The controls of a content type, in the profile's order of its fields."""
    out = []
    for f in ctype.fields.values():
        zh, en, hint = labels(f)
        if f.set_by_ingest:
            kind = "ingest"
        elif f.is_text:
            kind = "text"
        elif f.scheme:
            kind = "vocabulary"
        elif f.is_reference:
            kind = "reference"
        elif f.is_date and len(f.datatypes) > 1 and any(d.endswith("#string") for d in f.datatypes):
            kind = "written-date"
        elif f.is_date:
            kind = "date"
        else:
            kind = "plain"
        options: tuple[tuple[str, str, str], ...] = ()
        if f.scheme:
            options = tuple((code, lab.get("zh", code), lab.get("en", code))
                            for code, lab in vocabulary_codes().get(f.scheme, {}).items())
        classes = tuple(dict.fromkeys(t for c in f.classes for t in type_names_of_class(c)))
        out.append(Control(f, kind, zh, en, hint, options, classes if f.is_reference else ()))
    return out


# ---------------------------------------------------------------------- values
def from_object(obj: ContentObject, base: str, path_of: Callable[[str], str]) -> Values:
    """A record's values as the form shows them (links as paths where they are ours)."""
    out: Values = {}
    for name, values in obj.fields(base).items():
        f = obj.type.fields.get(name)
        if f is None:
            continue
        for v in values:
            if f.is_text:
                text, lang = v
                out.setdefault(f"{name}@{lang}", []).append(text)
            else:
                out.setdefault(name, []).append(path_of(v) if f.is_reference else v)
    return out


def key_field(ctype: ContentType, key: str) -> Field | None:
    return ctype.fields.get(key.partition("@")[0])


def from_form(ctype: ContentType, form: Mapping[str, object]) -> Values:
    """What the form sent, for the fields of ``ctype`` that a person may set: blank rows
    dropped, the "another language" row (``_lang.title`` + ``_text.title``) as
    ``title@<tag>``. Too long or too many values are :class:`Invalid`."""
    getlist = form.getlist  # type: ignore[attr-defined]  # a werkzeug MultiDict
    out: Values = {}
    for key in form:
        f = key_field(ctype, key)
        if f is None or f.set_by_ingest or (f.is_text and "@" not in key):
            continue
        values = [str(v).strip() for v in getlist(key)]
        _check_sizes(f, values)
        kept = [v for v in values if v]
        if kept:
            out.setdefault(key, []).extend(kept)
    for f in ctype.fields.values():
        tags, texts = getlist(f"_lang.{f.name}"), getlist(f"_text.{f.name}")
        _check_sizes(f, texts)
        for tag, text in zip(tags, texts, strict=False):
            tag, text = str(tag).strip()[:40], str(text).strip()
            if tag and text:
                out.setdefault(f"{f.name}@{tag}", []).append(text)
    return out


def _check_sizes(f: Field, values: list[str]) -> None:
    if len(values) > MAX_ROWS:
        raise Invalid(f"{f.name}: more than {MAX_ROWS} values in one form")
    for v in values:
        if len(v) > MAX_VALUE:
            raise Invalid(f"{f.name}: a value longer than {MAX_VALUE} characters")


def normalise_dates(ctype: ContentType, mine: Values, base: Values) -> dict[str, str]:
    """Dates typed the way archivists write them (``1956年8月``, ``约1950``, ``1956/1958``):
    a beginning or end field takes the normalised form (:mod:`repo.dates`); a date as
    written with no beginning and end given fills them. Returns errors by field: a date as
    written that was changed and cannot be read, with no beginning and end to go by."""
    errors: dict[str, str] = {}
    for key, values in list(mine.items()):
        f = ctype.fields.get(key)
        if f is None or not f.is_date or key == "date" or f.max_count != 1:
            continue
        parsed = [dates.parse_or_none(v) for v in values]
        mine[key] = [_pick(key, p) if p is not None else v for v, p in zip(values, parsed,
                                                                          strict=True)]
    if not {"date", "begin", "end"} <= set(ctype.fields) or not mine.get("date"):
        return errors
    if mine.get("begin") or mine.get("end"):
        return errors
    read = [dates.parse_or_none(v) for v in mine["date"]]
    known = [p for p in read if p is not None]
    if known:
        mine["begin"] = [min(p.begin for p in known)]
        mine["end"] = [max((p.end for p in known), key=lambda e: e + "-99")]
    elif mine.get("date") != base.get("date"):
        errors["date"] = str(_cannot_read(mine["date"][0]))
    return errors


def _pick(name: str, p: dates.ParsedDate) -> str:
    if name == "end":
        return p.end
    if name == "begin" or p.begin == p.end:
        return p.begin
    return p.written


def _cannot_read(text: str) -> str:
    try:
        dates.parse(text)
    except Invalid as exc:
        return exc.message + "; or give the beginning and end dates yourself"
    return ""


def changes(ctype: ContentType, base: Values, mine: Values) -> tuple[list[Assignment], list[str]]:
    """What to tell ``Repository.edit``: the keys whose values differ from ``base`` are
    set (``set``) or, emptied, removed (``unset``)."""
    sets: list[Assignment] = []
    unsets: list[str] = []
    for key in sorted(set(base) | set(mine)):
        f = key_field(ctype, key)
        if f is None or f.set_by_ingest or same(f, base.get(key, []), mine.get(key, [])):
            continue
        name, _, lang = key.partition("@")
        if mine.get(key):
            sets += [Assignment(name, lang or None, v) for v in mine[key]]
        else:
            unsets.append(key)
    return sets, unsets


def assignments(ctype: ContentType, mine: Values) -> list[Assignment]:
    """Every value, for ``Repository.create``."""
    return changes(ctype, {}, mine)[0]


def same(f: Field, a: list[str], b: list[str]) -> bool:
    return a == b if f.ordered else sorted(a) == sorted(b)


# ---------------------------------------------------------------------- errors
@dataclass
class Errors:
    """The repository's refusals, placed next to the fields they concern."""

    by_field: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.by_field or self.general)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.by_field.setdefault(name, []).append(message)


_LEADING = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9]*)(?:@\S*)?"
                      r"(?::|(?: \S+)? (?:is|takes|needs|has|must) )")


def place(exc: LantaiError, ctype: ContentType, mine: Values, path: str = "") -> Errors:
    """Which field a refusal is about: the field it starts with (``title@zh: …``,
    ``begin 1958 is after end 1956``), a reference code, or the field holding the value
    it quotes (``no object at /agents/x``); else the form as a whole."""
    errors = Errors()
    problems = exc.problems if isinstance(exc, Invalid) else [exc.message]
    for problem in problems:
        text = problem
        if path and text.startswith(path + ": "):
            text = text[len(path) + 2:]
        errors.add(_field_of(text, ctype, mine), text)
    return errors


def _field_of(text: str, ctype: ContentType, mine: Values) -> str | None:
    m = _LEADING.match(text)
    if m and m.group("name") in ctype.fields:
        return m.group("name")
    if text.startswith("reference code") and "refcode" in ctype.fields:
        return "refcode"
    for key, values in mine.items():
        for v in values:
            if len(v) > 1 and (f"'{v}'" in text or text.endswith(" " + v)
                               or text.endswith(" /" + v.strip("/"))):
                return key.partition("@")[0]
    return None


def languages(values: Values, name: str) -> list[str]:
    """The languages a text field shows: Chinese and English first, then any other it has."""
    others = sorted({k.partition("@")[2] for k in values if k.partition("@")[0] == name}
                    - set(MAIN_LANGS))
    return [*MAIN_LANGS, *others]


def rows(c: Control, values: Values, key: str, more: Iterable[str] = ()) -> list[str]:
    """The rows of a control: its values; a repeatable one (for text: several values in one
    language) gets one empty row more, two when the user asked for another without script."""
    have = values.get(key, [])
    if not c.several:
        return have or [""]
    return [*have, "", *([""] if key in more else [])]
