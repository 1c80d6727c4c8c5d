"""The search box language, parsed into an engine-neutral form.

What people type, and what it means::

    西迁 校史            both words (AND), anywhere (titles, notes, names, places, …)
    "westward move"      a phrase (Chinese runs are always phrases of their bigrams)
    档案 OR 檔案          either
    -照片                 not
    title:西迁            in one field: title (题名), refcode (档号), agent (责任者),
                         place (地点), subject (主题), text (内容提要 and notes), extra (OCR…)
    reloc*               a word prefix (Latin script)
    0421-XS·1957-Y-0012  a reference code, exactly (also with "." for "·");
                         a partial code (0421-XS·1957, …-Y) or a code with * finds all below

Analysis is :mod:`repo.catalog.analysis`, exactly as at index time. The parser also keeps
what to mark in snippets (:class:`Highlight`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from repo.catalog.analysis import Run, normalize, runs

FIELDS = ("title", "refcode", "refpath", "agents", "places", "subjects", "body", "extra")
DEFAULT_FIELDS = FIELDS
FIELD_ALIASES = {
    "title": ("title",), "题名": ("title",), "name": ("title", "agents"),
    "refcode": ("refcode", "refpath"), "档号": ("refcode", "refpath"), "code": ("refcode",),
    "agent": ("agents",), "creator": ("agents",), "person": ("agents",), "责任者": ("agents",),
    "place": ("places",), "地点": ("places",),
    "subject": ("subjects",), "主题": ("subjects",),
    "text": ("body",), "scope": ("body",), "note": ("body",), "内容": ("body",),
    "extra": ("extra",), "ocr": ("extra",), "transcript": ("extra",), "全文": ("extra",),
}
STOPWORDS = frozenset({"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in",
                       "into", "is", "it", "of", "on", "or", "the", "to", "with"})
_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "『": '"', "』": '"',
                         "＂": '"', "：": ":", "－": "-", "　": " "})
_CHUNK = re.compile(r'(?P<neg>-)?(?:(?P<field>[^\s:"]+):)?(?:"(?P<phrase>[^"]*)"?|(?P<word>\S+))')


@dataclass(frozen=True)
class Unit:
    """One thing to match: a term, a phrase (tokens in a row) or a prefix, in some fields."""

    tokens: tuple[str, ...]
    kind: str = "term"  # term | phrase | prefix
    fields: tuple[str, ...] = DEFAULT_FIELDS


@dataclass
class Highlight:
    """What to mark in a snippet: CJK strings, word stems and prefixes, code keys."""

    strings: set[str] = field(default_factory=set)
    stems: set[str] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    code_prefixes: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.strings or self.stems or self.prefixes or self.codes
                    or self.code_prefixes)


@dataclass
class ParsedQuery:
    """Groups are ANDed; the units of a group are ORed; ``excluded`` units must not match."""

    groups: list[list[Unit]] = field(default_factory=list)
    excluded: list[Unit] = field(default_factory=list)
    highlight: Highlight = field(default_factory=Highlight)

    @property
    def empty(self) -> bool:
        return not self.groups


def _units(text: str, fields: tuple[str, ...] | None, *, quoted: bool,
           star: bool, hl: Highlight | None) -> list[Unit]:
    """The units of one chunk: a code, a phrase of its tokens, or its runs one by one."""
    found = runs(normalize(text))
    if not found:
        return []
    out: list[Unit] = []
    plain: list[Run] = []
    for run in found:
        if run.kind == "code":
            partial = star or not run.complete
            code_fields: tuple[str, ...] = ("refpath",) if partial else ("refcode",)
            if fields is not None and not set(fields) & {"refcode", "refpath"}:
                code_fields = fields
            out.append(Unit(run.tokens, "term", code_fields))
            if hl is not None:
                (hl.code_prefixes if partial else hl.codes).add(run.tokens[0])
        else:
            plain.append(run)
    if not plain:
        return out
    fields = fields or DEFAULT_FIELDS
    if star and len(plain) == 1 and plain[0].kind == "word":
        out.append(Unit(plain[0].tokens, "prefix", fields))
        if hl is not None:
            hl.prefixes.add(plain[0].text)
        return out
    single_cjk = any(r.kind == "cjk" and len(r.text) == 1 for r in plain)
    if len(plain) > 1 and (single_cjk or (not quoted and _mixed(plain))):
        groups = [[r] for r in plain]  # "1957年": each run on its own
    else:
        groups = [plain]
    for group in groups:
        tokens = tuple(t for r in group for t in r.tokens)
        out.append(Unit(tokens, "phrase" if len(tokens) > 1 else "term", fields))
        if hl is not None:
            for r in group:
                if r.kind == "cjk":
                    hl.strings.add(r.text)
                else:
                    hl.stems.add(r.tokens[0])
    return out


def _mixed(plain: list[Run]) -> bool:
    """CJK next to Latin or digits in one chunk: match each run, not the exact sequence."""
    kinds = {r.kind for r in plain}
    return len(kinds) > 1


def parse(text: str) -> ParsedQuery:
    """Parse a search box query. Never raises: anything unparsable is searched as text."""
    pq = ParsedQuery()
    text = (text or "").translate(_QUOTES).strip()
    pending_or = False
    for m in _CHUNK.finditer(text):
        word = m["word"]
        if word == "OR" and not m["neg"] and not m["field"]:
            pending_or = True
            continue
        raw = m["phrase"] if m["phrase"] is not None else word
        fields: tuple[str, ...] | None = None
        if m["field"]:
            alias = FIELD_ALIASES.get(m["field"].lower()) or FIELD_ALIASES.get(m["field"])
            if alias is None:  # not a field: the colon is part of the text
                raw = m["field"] + ":" + (raw or "")
            else:
                fields = alias
        if raw is None:
            continue
        quoted = m["phrase"] is not None
        star = not quoted and raw.endswith("*")
        raw = raw.rstrip("*") if star else raw
        negate = bool(m["neg"])
        units = _units(raw, fields, quoted=quoted, star=star,
                       hl=None if negate else pq.highlight)
        if not units:
            continue
        if negate:
            pq.excluded.extend(units)
            pending_or = False
            continue
        if pending_or and pq.groups:
            # "a OR b": b's units join a's group (a multi-unit b is its own AND, kept simple:
            # each unit becomes an alternative)
            pq.groups[-1].extend(units)
        else:
            pq.groups.extend([u] for u in units)
        pending_or = False
    _drop_stopwords(pq)
    return pq


def _drop_stopwords(pq: ParsedQuery) -> None:
    """English stop words alone in a group are dropped when other words remain."""
    def is_stop(group: list[Unit]) -> bool:
        return len(group) == 1 and group[0].kind == "term" and \
            group[0].fields == DEFAULT_FIELDS and group[0].tokens[0] in STOPWORDS
    kept = [g for g in pq.groups if not is_stop(g)]
    if kept and len(kept) < len(pq.groups):
        dropped = {g[0].tokens[0] for g in pq.groups if is_stop(g)}
        remaining = {t for g in kept for u in g for t in u.tokens}
        pq.highlight.stems -= dropped - remaining
        pq.groups = kept
