"""Text analysis: the one function that turns both indexed text and query text into tokens.

SQLite's FTS5 (and most engines) segment Chinese badly: ``unicode61`` makes a whole run of
Han characters one token, so 西迁 is not found inside 交通大学西迁史料. We analyse in Python
instead and hand FTS5 a stream of ready-made tokens separated by spaces:

- text is NFKC-normalised (full-width ０４２１／Ｘ → 0421/X), converted to simplified
  Chinese with OpenCC (``t2s``: 檔案 → 档案, 學 → 学, also Japanese kanji where they agree)
  and lower-cased, both when indexing and when querying, so either form finds the other;
- a run of CJK characters (Han, kana, hangul) becomes its overlapping bigrams
  (交通大学 → 交通 通大 大学), which keeps their positions, so a longer query is a phrase of
  bigrams; its single characters are appended after the stream (a one-character query
  finds them, phrases are not disturbed);
- a Latin word is folded (é → e) and Snowball-stemmed (letters → letter); digits stay;
- a reference code (档号, DA/T 13-2022) such as ``0421-XS·1957-Y-0012`` is recognised as a
  whole, also typed with ``.`` or a full stop variant for ``·``, and becomes one key token
  (``0421xs1957y0012``); the catalog also indexes the keys of every level above it.

Highlighting works on the original text: :func:`normalize_map` keeps, for each normalised
character, the offset of the original character it came from.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

import opencc
import Stemmer

# Han (with extensions and compatibility), kana, hangul, iteration marks.
CJK_RANGES = (
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3040-\u30fa\u30fc-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
    "\U00020000-\U0003134f"
)
_TOKEN = re.compile(rf"(?P<cjk>[{CJK_RANGES}]+)|(?P<word>[^\W_{CJK_RANGES}]+)")
_CJK_CHAR = re.compile(f"[{CJK_RANGES}]")

# A reference code, in normalised (lower-case) text. The category must be a known 门类 code
# (checked after matching), so that "well-to" or "this-is" are not taken for codes.
REFCODE = re.compile(
    r"(?<![0-9a-z])(?P<fonds>[0-9a-z]{4})-(?P<category>[a-z]{2})"
    r"(?:[·.・•‧](?P<year>\d{4})(?:-(?P<retention>y|d30|d10)"
    r"(?:-(?P<unit>[a-z]{2,6}))?(?:-(?P<number>\d{4})(?:-(?P<item>\d{3,4}))?)?)?)?"
    r"(?![0-9a-z·.・•‧-][0-9a-z])"
)

_local = threading.local()
_stem_lock = threading.Lock()  # lru_cache may call stem() from several threads at once


def _converter() -> opencc.OpenCC:
    conv = getattr(_local, "t2s", None)
    if conv is None:
        conv = _local.t2s = opencc.OpenCC("t2s")
    return conv


def _stemmer() -> Stemmer.Stemmer:
    """PyStemmer objects are not thread-safe: one per thread."""
    st = getattr(_local, "stemmer", None)
    if st is None:
        st = _local.stemmer = Stemmer.Stemmer("english")
    return st


@cache
def category_codes() -> frozenset[str]:
    """The record categories (门类) a reference code may name, lower-cased."""
    from ontology.profile import vocabulary_codes

    return frozenset(c.lower() for c in vocabulary_codes()["category"])


def has_cjk(text: str) -> bool:
    return _CJK_CHAR.search(text) is not None


def normalize(text: str) -> str:
    """NFKC, traditional → simplified Chinese, lower case."""
    if text.isascii():  # NFKC already, no Chinese: half of an archive's texts
        return text.lower()
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if has_cjk(text):
        text = _converter().convert(text)
    return text.lower()


def normalize_map(text: str) -> tuple[str, list[int]]:
    """:func:`normalize`, with the original offset of each normalised character.

    The whole-string conversions almost always keep the length (OpenCC t2s maps character
    to character; NFKC changes only ligatures and the like): then the map is the identity.
    Otherwise the text is normalised character by character, which loses OpenCC's rare
    phrase conversions, only for the purpose of highlighting.
    """
    norm = normalize(text)
    if len(norm) == len(text):
        return norm, list(range(len(text)))
    out: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        n = normalize(ch)
        out.append(n)
        offsets.extend([i] * len(n))
    return "".join(out), offsets


def fold(word: str) -> str:
    """Strip diacritics (Zürich → zurich) from a lower-case non-CJK word."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball English stem of a folded lower-case word; words with digits stay.
    (Cached: an archive's vocabulary is small, its texts are not.)"""
    if not word.isalpha():
        return word
    with _stem_lock:
        return _stemmer().stemWord(word)


# ------------------------------------------------------------------------- reference codes
@dataclass(frozen=True)
class CodeMatch:
    """A reference code found in normalised text: its span, key and completeness."""

    start: int
    end: int
    parts: tuple[str, ...]  # fonds, category[, year[, retention[, unit]][, number[, item]]]
    complete: bool  # a whole code (fonds-category, a unit, an item in a unit)

    @property
    def key(self) -> str:
        return "".join(self.parts)


def find_codes(norm: str) -> list[CodeMatch]:
    """Reference codes in normalised text (complete or, as typed in a query, partial)."""
    out = []
    for m in REFCODE.finditer(norm):
        if m["category"] not in category_codes():
            continue
        g = m.groupdict()
        parts = tuple(g[k] for k in ("fonds", "category", "year", "retention", "unit", "number",
                                     "item") if g[k])
        complete = g["year"] is None or (g["number"] is not None and g["retention"] is not None)
        out.append(CodeMatch(m.start(), m.end(), parts, complete))
    return out


def code_key(code: str) -> str | None:
    """The index key of a reference code as stored (``0421-XS·1957-Y-0012`` → 0421xs1957y0012)."""
    found = find_codes(normalize(code.strip()))
    return found[0].key if found else None


def whole_code(norm: str) -> tuple[str, ...] | None:
    """The parts of normalised text that is one whole reference code and nothing else
    (what :func:`find_codes` finds first in it then), else None."""
    m = REFCODE.match(norm)
    if m is None or m.end() != len(norm) or m["category"] not in category_codes():
        return None
    return tuple(p for p in m.group("fonds", "category", "year", "retention", "unit", "number",
                                    "item") if p)


def code_levels(code: str) -> list[str]:
    """Keys of the code and of every level above it (fonds, series, year, …, the code)."""
    found = find_codes(normalize(code.strip()))
    if not found:
        return []
    parts = found[0].parts
    return ["".join(parts[:n]) for n in range(1, len(parts) + 1)]


# ------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class Run:
    """A run of tokens of one script from one stretch of text, with its span."""

    kind: str  # "cjk", "word" or "code"
    tokens: tuple[str, ...]
    start: int
    end: int
    text: str  # the normalised text of the run (CJK: the characters; word: the folded word)
    complete: bool = True  # for a code: a whole code, not a level above codes (0421-XS·1957)


def runs(norm: str) -> list[Run]:
    """Split normalised text into runs: reference codes, CJK runs and words."""
    out: list[Run] = []
    pos = 0
    for code in find_codes(norm) if "-" in norm else ():
        out.extend(_plain_runs(norm, pos, code.start))
        out.append(Run("code", (code.key,), code.start, code.end, code.key, code.complete))
        pos = code.end
    out.extend(_plain_runs(norm, pos, len(norm)))
    return out


def _plain_runs(norm: str, start: int, end: int) -> list[Run]:
    out = []
    for m in _TOKEN.finditer(norm, start, end):
        if m.lastgroup == "cjk":
            s = m.group()
            grams = tuple(s[i:i + 2] for i in range(len(s) - 1)) if len(s) > 1 else (s,)
            out.append(Run("cjk", grams, m.start(), m.end(), s))
        else:
            w = fold(m.group())
            out.append(Run("word", (stem(w),), m.start(), m.end(), w))
    return out


@lru_cache(maxsize=200_000)
def word_token(word: str) -> str:
    """The index token of a word of normalised text: folded and stemmed (cached)."""
    return stem(fold(word))


@lru_cache(maxsize=65_536)
def index_tokens(text: str) -> str:
    """The token stream the index gets for ``text``: bigrams, stems and code keys in order,
    then the single CJK characters of the longer runs (for one-character queries).

    The same as joining the tokens of :func:`runs`, without building runs: this is the
    inner loop of indexing 700,000 objects. Cached: the staff and the public document of
    an object share their texts, and thousands of records share a creator's name.
    """
    norm = normalize(text)
    stream: list[str] = []
    singles: list[str] = []
    codes = find_codes(norm) if "-" in norm else ()
    pos = 0
    for code in codes:
        _plain_tokens(norm, pos, code.start, stream, singles)
        stream.append(code.key)
        pos = code.end
    _plain_tokens(norm, pos, len(norm), stream, singles)
    if singles:
        stream.extend("".join(singles))
    return " ".join(stream)


def _plain_tokens(norm: str, start: int, end: int, stream: list[str],
                  singles: list[str]) -> None:
    """The tokens of ``norm[start:end]`` (no codes) onto ``stream``; CJK runs of two or
    more characters onto ``singles`` too. ``findall`` gives (cjk, word) pairs without
    making a match object for each."""
    word_of = word_token
    for cjk, word in _TOKEN.findall(norm, start, end):
        if word:
            stream.append(word_of(word))
        elif len(cjk) > 1:
            stream.extend(map(str.__add__, cjk, cjk[1:]))  # overlapping bigrams
            singles.append(cjk)
        else:
            stream.append(cjk)


def index_texts(texts: list[str]) -> str:
    return " ".join(t for t in (index_tokens(x) for x in texts) if t)
