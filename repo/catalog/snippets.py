"""Highlighted snippets, computed on the original text (not the token stream).

The index only knows bigrams and stems; people read the text as written. So the matches
are found again in the original: the text is normalised with an offset map
(:func:`~repo.catalog.analysis.normalize_map`), CJK query strings are found as substrings,
words by their stems, reference codes by their keys; each match is mapped back to the
original characters. The snippet is HTML-safe by construction: every piece of text is
escaped, and only ``<mark>`` … ``</mark>`` is added around matches.
"""

from __future__ import annotations

import html
import re

from repo.catalog.analysis import CJK_RANGES, find_codes, fold, normalize_map, stem
from repo.catalog.query import Highlight

ELLIPSIS = "…"
_WORD = re.compile(rf"[^\W_{CJK_RANGES}]+")


def matches(text: str, hl: Highlight) -> list[tuple[int, int]]:
    """Spans (start, end) of ``text`` (original offsets) that the query matched, merged."""
    if not text or not hl:
        return []
    norm, offsets = normalize_map(text)
    spans: list[tuple[int, int]] = []
    for s in hl.strings:
        start = norm.find(s)
        while start >= 0:
            spans.append((start, start + len(s)))
            start = norm.find(s, start + 1)
    if hl.codes or hl.code_prefixes:
        for code in find_codes(norm):
            if code.key in hl.codes or any(code.key.startswith(p) for p in hl.code_prefixes):
                spans.append((code.start, code.end))
    if hl.stems or hl.prefixes:
        # A stem is a prefix of the words it comes from (letters → letter): only words that
        # start like a stem are stemmed.
        starts = tuple({s[:3] for s in hl.stems} | set(hl.prefixes))
        for m in _WORD.finditer(norm):
            word = fold(m.group())
            if not word.startswith(starts):
                continue
            if stem(word) in hl.stems or word.startswith(tuple(hl.prefixes)):
                spans.append((m.start(), m.end()))
    if not spans:
        return []
    spans.sort()
    merged: list[list[int]] = []
    for begin, end in spans:
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return [(offsets[begin], offsets[end - 1] + 1) for begin, end in merged]


def render(text: str, spans: list[tuple[int, int]], *, start: int = 0,
           end: int | None = None) -> str:
    """``text[start:end]`` escaped, with ``<mark>`` around the spans."""
    end = len(text) if end is None else end
    out: list[str] = []
    pos = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        out.append(html.escape(text[pos:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    return "".join(out)


def snippet(text: str, hl: Highlight, *, width: int = 120) -> tuple[str, int]:
    """An HTML snippet of at most about ``width`` characters around the first matches, and
    how many matches the text has."""
    spans = matches(text, hl)
    if len(text) <= width:
        return render(text, spans), len(spans)
    first = spans[0][0] if spans else 0
    start = max(0, first - width // 4)
    end = min(len(text), start + width)
    start = max(0, end - width)
    html_text = render(text, spans, start=start, end=end)
    if start > 0:
        html_text = ELLIPSIS + html_text
    if end < len(text):
        html_text += ELLIPSIS
    return html_text, len(spans)


def best_snippet(fields: list[tuple[str, str]], hl: Highlight, *, width: int = 120,
                 fallback: tuple[str, ...] = ("scope", "note")) -> tuple[str, str]:
    """(field, snippet) of the first text, in the order given, that has a match. If none
    has (the title matched, and it is shown anyway), the first text of a ``fallback``
    field, unmarked."""
    for name, text in fields:
        if not text:
            continue
        html_text, n = snippet(text, hl, width=width)
        if n:
            return name, html_text
    for name, text in fields:
        if text and name in fallback:
            return name, snippet(text, Highlight(), width=width)[0]
    return "", ""
