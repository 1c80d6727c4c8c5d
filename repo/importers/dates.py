"""Normalised dates in finding aids (ISO 8601 in ``@normal`` / ``@standardDate``) as RDF.

rico-converter's rules, which are followed here: a range ``a/b`` gives a beginning and an
end date, a single date (or a range whose two ends are equal) a typed ``rico:date``; with
no ``@normal``, a text that is itself ISO (``1888``, ``1926-1986``) is read the same way.
Datatypes follow the precision: ``xsd:gYear``, ``xsd:gYearMonth`` or ``xsd:date``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pyoxigraph import Literal, NamedNode

from ontology.namespaces import XSD

_ISO = re.compile(r"^(?P<y>[+-]?\d{4})(?:-?(?P<m>\d{2})(?:-?(?P<d>\d{2}))?)?(?:T[\d:.Z+-]*)?$")
_TEXT_RANGE = re.compile(r"^\s*(\d{4})\s*[-–—/]\s*(\d{4})\s*$")


@dataclass(frozen=True)
class Normal:
    """A parsed normalised date: a single date or a range (lexical ISO forms)."""

    begin: str | None
    end: str | None
    single: str | None

    @property
    def text(self) -> str:
        return self.single if self.single else f"{self.begin}/{self.end}"


def iso(value: str) -> str | None:
    """One ISO 8601 date (``1956``, ``1956-08``, ``19560801``) in extended form, or None."""
    m = _ISO.match(value.strip())
    if not m:
        return None
    y, mo, d = m.group("y"), m.group("m"), m.group("d")
    if y.startswith(("+", "-")) or y == "0000":
        return None
    try:
        if d:
            dt.date(int(y), int(mo), int(d))
            return f"{y}-{mo}-{d}"
        if mo:
            dt.date(int(y), int(mo), 1)
            return f"{y}-{mo}"
    except ValueError:
        return None
    return y


def parse_normal(value: str | None) -> Normal | None:
    """``1995-01-01 / 1997-12-31`` → a range; ``1928-10-11`` → a single date; else None."""
    if not value or not value.strip():
        return None
    parts = [p.strip() for p in value.split("/")]
    if len(parts) == 1:
        one = iso(parts[0])
        return Normal(None, None, one) if one else None
    if len(parts) != 2:
        return None
    begin, end = iso(parts[0]), iso(parts[1])
    if not begin or not end:
        return None
    if begin == end:
        return Normal(None, None, begin)
    if begin[:len(end)] > end[:len(begin)]:
        return None  # the end before the beginning: keep the text only
    return Normal(begin, end, None)


def parse_text(text: str) -> Normal | None:
    """A date text that is ISO itself (rico-converter's cases 2 and 4), else None."""
    m = _TEXT_RANGE.match(text)
    if m:
        return parse_normal(f"{m.group(1)}/{m.group(2)}")
    one = iso(text)
    return Normal(None, None, one) if one else None


def literal(value: str) -> Literal:
    """An ISO date as a literal with the datatype of its precision."""
    kind = {4: "gYear", 7: "gYearMonth"}.get(len(value), "date")
    return Literal(value, datatype=NamedNode(XSD + kind))


def earliest(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if a[:len(b)] <= b[:len(a)] else b


def latest(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if a[:len(b)] >= b[:len(a)] else b
