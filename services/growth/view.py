"""What the timeline page and the PDF show of a growth record: the strands' labels (from the
SKOS scheme), the entries by strand, dates in words, and each entry's span on a timeline.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from functools import lru_cache

from babel.lists import format_list

from ontology.profile import vocabulary_codes
from publisher.i18n import date_range
from services.growth.model import STRANDS, Entry

OTHER = "other"  # the group of entries without a strand
_ISO = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


def strand_labels(lang: str) -> dict[str, str]:
    """``{strand code: label}`` in ``lang`` (zh or en), from the scheme's prefLabels."""
    labels = vocabulary_codes().get("strand", {})
    return {code: labels.get(code, {}).get(lang) or labels.get(code, {}).get("en") or code
            for code in STRANDS}


def sections(entries: list[Entry]) -> list[tuple[str, list[Entry]]]:
    """The entries by strand in the scheme's order, those without one last (:data:`OTHER`);
    strands without entries are left out."""
    out = [(s, [e for e in entries if e.strand == s]) for s in STRANDS]
    out.append((OTHER, [e for e in entries if e.strand not in STRANDS]))
    return [(s, es) for s, es in out if es]


def group_of(entry: Entry) -> str:
    return entry.strand if entry.strand in STRANDS else OTHER


def places_text(places: list[str], lang: str) -> str:
    """Place names as a list is written in ``lang`` (CLDR's list patterns through Babel:
    西安、上海和北京; Xi'an, Shanghai and Beijing)."""
    return format_list(places, locale="zh" if lang == "zh" else "en")


def when_text(entry: Entry, lang: str) -> str:
    """The entry's dates in words, e.g. ``2020年2月—2020年4月`` / ``February 2020 – April
    2020`` ("" when undated)."""
    return _range_text(entry.begin or entry.end, entry.end, lang)


@lru_cache(maxsize=4096)
def _range_text(begin: str, end: str, lang: str) -> str:
    """Babel writes each date from CLDR patterns (~0.2 ms); a record's dates repeat (the
    same months), and a date's words never change."""
    return date_range(begin, end, lang) or ""


def _bounds(iso: str) -> tuple[dt.date, dt.date] | None:
    """The first and the last day a date of year, month or day precision covers."""
    m = _ISO.match(iso or "")
    if m is None:
        return None
    try:
        year = int(m[1])
        if m[3]:
            day = dt.date(year, int(m[2]), int(m[3]))
            return day, day
        if m[2]:
            month = int(m[2])
            return (dt.date(year, month, 1),
                    dt.date(year, month, calendar.monthrange(year, month)[1]))
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    except ValueError:
        return None


def span(entry: Entry) -> tuple[str, str] | None:
    """Where the entry sits on a timeline: ``(start, "")`` for one day, ``(start, end)``
    (end exclusive) for a period; None when it has no usable date."""
    first = _bounds(entry.begin or entry.end)
    if first is None:
        return None
    last = _bounds(entry.end) if entry.end else None
    start, stop = first[0], (last or first)[1]
    if stop < start:
        stop = first[1]
    if start == stop:
        return start.isoformat(), ""
    return start.isoformat(), (stop + dt.timedelta(days=1)).isoformat()
