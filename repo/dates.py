"""Dates as archivists write them, read into a normalised beginning and end.

Finding aids and registers say ``1957-09``, ``1956/1958``, ``约1950``, ``1956年8月``,
``一九五六年``, ``1950年代`` or ``1956年8月至1957年6月``. The profile keeps the date as written
(``date``) beside a normalised ``begin`` and ``end`` (xsd:gYear, gYearMonth or date), which
sorting, facets, reference codes and the 25-year embargo rule read. :func:`parse` is the one
reading of those forms: the staff forms fill ``begin``/``end`` from it, and the command line
and importers can call it for the same answer. What it cannot read is :class:`Invalid`, with
the forms it knows, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from repo.errors import Invalid
from repo.importers.dates import iso
from repo.values import Assignment

FORMS = "1957, 1957-09, 1957-09-01, 1956/1958, 约1950, 1956年8月, 1950年代, 1956年8月至1957年6月"
MAX_LENGTH = 100

_CN_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_CN_TENS = re.compile(r"([一二三]?)十([一二三四五六七八九]?)")
_APPROX = re.compile(r"^(?:约|大约|约在|大概|circa|ca\.?|c\.)\s*(.+?)$"
                     r"|^(.+?)\s*(?:年?左右|前后|~)$", re.IGNORECASE)
_UNCERTAIN = re.compile(r"^(.+?)\s*[?？]$")
_SEPARATOR = re.compile(r"\s*(?:/|–|—|－|-{1,2}|～|~|至|到)\s*")
_CN_DATE = re.compile(r"^(\d{4})\s*年(?:\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*[日号])?)?$")
_CN_MONTH_ONLY = re.compile(r"^(\d{1,2})\s*月(?:\s*(\d{1,2})\s*[日号])?$")
_DECADE = re.compile(r"^(?:(?:20|二十)世纪)?(\d{2,4})\s*(?:年代|s)$")
_DOTTED = re.compile(r"^(\d{4})[.．](\d{1,2})(?:[.．](\d{1,2}))?$")


@dataclass(frozen=True)
class ParsedDate:
    """A date as written, and its normalised beginning and end (ISO lexical forms)."""

    written: str
    begin: str
    end: str
    approximate: bool = False
    uncertain: bool = False

    def assignments(self) -> list[Assignment]:
        """``date``/``begin``/``end`` values for a create or edit."""
        return [Assignment("date", None, self.written), Assignment("begin", None, self.begin),
                Assignment("end", None, self.end)]


def _chinese_numbers(text: str) -> str:
    """一九五六年八月 → 1956年8月; 十二月 → 12月 (years digit by digit, months and days as
    numbers up to thirty-one)."""
    def tens(m: re.Match[str]) -> str:
        high = "一二三".index(m.group(1)) + 1 if m.group(1) else 1
        low = "一二三四五六七八九".index(m.group(2)) + 1 if m.group(2) else 0
        return str(high * 10 + low)
    return _CN_TENS.sub(tens, text).translate(_CN_DIGITS)


def _one(text: str, *, year_hint: str | None = None) -> str | None:
    """One point in time (a year, a month or a day) as an ISO form, or None."""
    text = text.strip()
    if m := _CN_DATE.match(text):
        y, mo, d = m.groups()
        return iso(y + (f"-{int(mo):02d}" if mo else "") + (f"-{int(d):02d}" if d else ""))
    if year_hint and (m := _CN_MONTH_ONLY.match(text)):  # 1956年8月至12月
        mo, d = m.groups()
        return iso(f"{year_hint}-{int(mo):02d}" + (f"-{int(d):02d}" if d else ""))
    if m := _DOTTED.match(text):
        y, mo, d = m.groups()
        return iso(f"{y}-{int(mo):02d}" + (f"-{int(d):02d}" if d else ""))
    if re.fullmatch(r"\d{4}(?:-\d{2}(?:-\d{2})?)?", text):
        return iso(text)
    return None


def _decade(text: str) -> tuple[str, str] | None:
    m = _DECADE.match(text.strip())
    if not m:
        return None
    digits = m.group(1)
    if len(digits) == 2:  # 50年代 / 二十世纪50年代: the 1900s
        digits = "19" + digits
    if len(digits) != 4 or not digits.endswith("0"):
        return None
    return digits, str(int(digits) + 9)


def parse(text: str) -> ParsedDate:
    """Read a date as written; :class:`Invalid` (saying which forms are read) otherwise."""
    written = " ".join(text.split())
    if not written:
        raise Invalid("date: empty value")
    if len(written) > MAX_LENGTH:
        raise Invalid(f"date: longer than {MAX_LENGTH} characters")
    plain = _chinese_numbers(written)
    approximate = uncertain = False
    if m := _UNCERTAIN.match(plain):
        plain, uncertain = m.group(1), True
    if m := _APPROX.match(plain):
        plain, approximate = (m.group(1) or m.group(2)).strip(), True
    span = _span(plain)
    if span is None:
        raise Invalid(f"date: {written!r} is not a date this archive reads (forms: {FORMS})")
    begin, end = span
    if begin[:len(end)] > end[:len(begin)]:
        raise Invalid(f"date: {written!r} ends before it begins")
    return ParsedDate(written, begin, end, approximate, uncertain)


def _span(plain: str) -> tuple[str, str] | None:
    if (one := _one(plain)) is not None:
        return one, one
    if (decade := _decade(plain)) is not None:
        return decade
    for sep in _SEPARATOR.finditer(plain):  # 1956/1958, 1956-08/1957-06: each split tried
        span = _range(plain[:sep.start()].strip(), plain[sep.end():].strip())
        if span is not None:
            return span
    return None


def _range(left: str, right: str) -> tuple[str, str] | None:
    if not left or not right:
        return None
    if right.endswith("年") and re.fullmatch(r"\d{4}", left):  # 1956—1958年
        left += "年"
    begin = _one(left)
    if begin is None:
        left_decade = _decade(left)
        begin = left_decade[0] if left_decade else None
    if begin is None:
        return None
    end = _one(right, year_hint=begin[:4])
    if end is None:
        right_decade = _decade(right)
        end = right_decade[1] if right_decade else None
    return (begin, end) if end is not None else None


def parse_or_none(text: str) -> ParsedDate | None:
    """:func:`parse`, or None for what it cannot read (a hint while typing)."""
    try:
        return parse(text)
    except Invalid:
        return None
