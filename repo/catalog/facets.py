"""Facets and filters: category (门类), year and decade, level/type, access, state, language.

Counting a facet over a broad query is exactly what Oxigraph is slow at (a GROUP BY over
2 M triples ≈ 1 s, DESIGN.md). The catalog keeps the facets in tantivy *fast fields*
(columns, one value per document) and counts with tantivy's terms aggregation over the
documents the query matches: a column scan in Rust, about 1–5 ms per request for 220,000
matches, three requests in parallel (see ``FACET_GROUPS``).

Filters use the same fields, so a facet value can be clicked back as a filter:
``{"category": "XS", "decade": 1950}`` or ``category=XS`` on the command line. Several
values of one filter are alternatives (OR); different filters all apply (AND).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import tantivy

from repo.catalog.index import int_range_query, keyword_query
from repo.errors import Invalid
from repo.values import iso639_2b


@dataclass(frozen=True)
class Facet:
    name: str
    numeric: bool = False
    by_value: bool = False  # order buckets by value (years) rather than by count


FACETS: dict[str, Facet] = {f.name: f for f in (
    Facet("category"),
    Facet("decade", numeric=True, by_value=True),
    Facet("year", numeric=True, by_value=True),
    Facet("type"),
    Facet("access"),
    Facet("state"),
    Facet("language"),
)}
FILTER_ALIASES = {"level": "type", "门类": "category", "lang": "language", "年度": "year",
                  "within": "within", "in": "within"}

# How the facets are counted: category, type, access and state are one column (``fkey``,
# their values joined), so one terms aggregation counts all four; decades are summed from
# the years. Three requests run side by side with the ranking (tantivy releases the GIL).
FACET_GROUPS: tuple[dict, ...] = (
    {"fkey": {"terms": {"field": "fkey", "size": 65000}}},
    {"year": {"terms": {"field": "year", "size": 1000}}},
    {"language": {"terms": {"field": "language", "size": 500}}},
)
_FKEY = ("category", "type", "access", "state")


def read_aggregation(result: dict) -> dict[str, list[tuple[str | int, int]]]:
    """Facet counts ``{name: [(value, count), …]}`` from the aggregation results."""
    counts: dict[str, dict] = {name: {} for name in FACETS}
    for b in (result.get("fkey") or {}).get("buckets", []):
        n = int(b["doc_count"])
        for name, value in zip(_FKEY, str(b["key"]).split("|"), strict=False):
            if value:
                counts[name][value] = counts[name].get(value, 0) + n
    for b in (result.get("year") or {}).get("buckets", []):
        year, n = int(b["key"]), int(b["doc_count"])
        counts["year"][year] = n
        counts["decade"][year // 10 * 10] = counts["decade"].get(year // 10 * 10, 0) + n
    for b in (result.get("language") or {}).get("buckets", []):
        counts["language"][str(b["key"])] = int(b["doc_count"])
    out: dict[str, list[tuple[str | int, int]]] = {}
    for name, f in FACETS.items():
        values = list(counts[name].items())
        values.sort(key=(lambda v: v[0]) if f.by_value else (lambda v: (-v[1], str(v[0]))))
        out[name] = values
    return out


def _values(value: object) -> list[str]:
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v) for v in value]
    return [str(value)]


def _year_range(text: str) -> tuple[int | None, int | None]:
    """1957 · 1950-1959 · 1950- · -1949 · 1950s."""
    text = text.strip()
    m = re.fullmatch(r"(\d{4})s", text)
    if m:
        return int(m.group(1)), int(m.group(1)) + 9
    m = re.fullmatch(r"(\d{4})?\s*(?:-|–|\.\.)\s*(\d{4})?", text)
    if m and (m.group(1) or m.group(2)):
        return (int(m.group(1)) if m.group(1) else None,
                int(m.group(2)) if m.group(2) else None)
    if re.fullmatch(r"\d{4}", text):
        return int(text), int(text)
    raise Invalid(f"year filter {text!r}: use 1957, 1950-1959, 1950- or -1949")


def filter_queries(filters: Mapping[str, object] | None) -> list[tantivy.Query]:
    """Tantivy queries for ``{"category": "XS", "year": "1950-1959", …}``."""
    out: list[tantivy.Query] = []
    for raw_name, value in (filters or {}).items():
        if value is None or value == "" or value == []:
            continue
        name = FILTER_ALIASES.get(raw_name, raw_name)
        values = _values(value)
        if name == "category":
            out.append(keyword_query("category", [v.upper() for v in values]))
        elif name == "language":
            out.append(keyword_query("language",
                                     [iso639_2b(v) or v.lower() for v in values]))
        elif name in ("type", "access", "state"):
            out.append(keyword_query(name, [v.lower() for v in values]))
        elif name == "within":
            out.append(keyword_query("ancestors", values))
        elif name in ("year", "decade"):
            alternatives = []
            for v in values:
                lo: int | None
                hi: int | None
                if name == "decade":
                    d = int(re.sub(r"s$", "", v.strip()))
                    lo, hi = d // 10 * 10, d // 10 * 10 + 9
                else:
                    lo, hi = _year_range(v)
                alternatives.append(int_range_query("year", lo, hi))
            out.append(alternatives[0] if len(alternatives) == 1 else tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, q) for q in alternatives]))
        else:
            known = ", ".join([*FACETS, "within"])
            raise Invalid(f"no filter {raw_name!r} (filters: {known})")
    return out


def label(name: str, value: str | int, lang: str = "zh") -> str:
    """A facet value for people: 学生 / Students for XS, 案卷 / File for file, 1950s …"""
    from ontology.profile import load_profile, vocabulary_codes

    if name == "category":
        labels = vocabulary_codes().get("category", {}).get(str(value), {})
        return labels.get(lang) or labels.get("en") or str(value)
    if name == "type":
        try:
            t = load_profile().type(str(value))
        except KeyError:
            return str(value)
        return t.label_zh if lang == "zh" else t.label_en
    if name == "decade":
        return f"{value}年代" if lang == "zh" else f"{value}s"
    if name in ("access", "state"):
        codes = vocabulary_codes().get("access", {}) if name == "access" else {}
        return codes.get(str(value), {}).get(lang) or str(value)
    return str(value)
