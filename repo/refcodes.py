"""Reference codes (档号) after DA/T 13-2022 《档号编制规则》.

A reference code names a unit by its place in the archive, from the fonds down::

    0421                          全宗号  fonds (4 letters or digits)
    0421-XS                       全宗号-门类代码  category series
    0421-XS·1957-Y-0012           …·年度-保管期限-案卷号  a file (案卷) or an item kept singly (件)
    0421-XS·1957-Y-BGS-0012       … with an organisation/problem code (机构/问题代码)
    0421-XS·1957-Y-0012-003       …-卷内件号  an item in a file

Separators are '-' between levels and '·' (U+00B7) between the category and the year, as the
standard prescribes. ``parse`` checks the form, ``check`` checks it against the object's
context (the fonds it is in, its category and retention), and ``next_code`` numbers new units.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ontology.profile import vocabulary_codes
from repo.errors import Invalid

PATTERN = re.compile(
    r"^(?P<fonds>[A-Z0-9]{4})"
    r"(?:-(?P<category>[A-Z]{2})"
    r"(?:·(?P<year>\d{4})-(?P<retention>Y|D30|D10)(?:-(?P<unit>[A-Z]{2,6}))?-(?P<number>\d{4})"
    r"(?:-(?P<item>\d{3,4}))?)?)?$"
)


@dataclass(frozen=True)
class RefCode:
    fonds: str
    category: str | None = None
    year: str | None = None
    retention: str | None = None
    unit: str | None = None
    number: str | None = None
    item: str | None = None

    def __str__(self) -> str:
        code = self.fonds
        if self.category:
            code += f"-{self.category}"
        if self.year:
            code += f"·{self.year}-{self.retention}"
            if self.unit:
                code += f"-{self.unit}"
            code += f"-{self.number}"
            if self.item:
                code += f"-{self.item}"
        return code

    @property
    def level(self) -> str:
        if self.item:
            return "item-in-file"
        if self.number:
            return "unit"
        return "series" if self.category else "fonds"


def parse(code: str) -> RefCode:
    """Parse a reference code, or say exactly what is wrong with it."""
    normalised = code.strip().replace("・", "·").replace("･", "·")
    m = PATTERN.match(normalised)
    if not m:
        hint = ""
        if "." in normalised and "·" not in normalised:
            hint = " (the year follows the category after '·', U+00B7, not '.')"
        raise Invalid(f"reference code {code!r} is not of the form "
                      f"FONDS[-CC[·YYYY-RET[-UNIT]-NNNN[-NNN]]], e.g. 0421-XS·1957-Y-0012{hint}")
    rc = RefCode(**m.groupdict())
    if rc.category and rc.category not in vocabulary_codes()["category"]:
        raise Invalid(f"reference code {code!r}: {rc.category} is not a record category")
    return rc


def check(code: str, *, type_name: str, fonds: str | None, category: str | None,
          retention: str | None) -> RefCode:
    """Check a code against its object: its level, the fonds it is in, category, retention."""
    rc = parse(code)
    expected_levels = {
        "fonds": {"fonds"}, "collection": {"fonds", "series"}, "series": {"series"},
        "file": {"unit"}, "item": {"unit", "item-in-file"},
    }.get(type_name, {"fonds", "series", "unit", "item-in-file"})
    if rc.level not in expected_levels:
        raise Invalid(f"reference code {code!r} is a {rc.level} code; a {type_name} needs "
                      f"{' or '.join(sorted(expected_levels))}")
    if fonds and rc.fonds != fonds:
        raise Invalid(f"reference code {code!r} names fonds {rc.fonds}, but it is in fonds {fonds}")
    if category and rc.category and rc.category != category:
        raise Invalid(f"reference code {code!r} has category {rc.category}, "
                      f"the record's is {category}")
    if retention and rc.retention and rc.retention != retention:
        raise Invalid(f"reference code {code!r} has retention {rc.retention}, "
                      f"the record's is {retention}")
    return rc


def next_code(*, parent_code: RefCode | None, fonds: str, category: str, year: str,
              retention: str, taken: Callable[[str], bool], in_file: bool,
              hints: dict[str, int] | None = None) -> str:
    """The first free number for a new file or item (or an item in a file).

    ``hints`` remembers where the last search stopped, per prefix, so numbering the
    thousands of files of one series in a bulk import is linear, not quadratic.
    """
    if in_file and parent_code is not None and parent_code.number:
        def make(n: int) -> str:
            return str(RefCode(**{**parent_code.__dict__, "item": f"{n:03d}"}))
        prefix = str(parent_code)
    else:
        def make(n: int) -> str:
            return str(RefCode(fonds, category, year, retention, None, f"{n:04d}"))
        prefix = f"{fonds}-{category}·{year}-{retention}"
    hints = {} if hints is None else hints
    for n in range(hints.get(prefix, 1), 10000):
        code = make(n)
        if not taken(code):
            hints[prefix] = n + 1
            return code
    raise Invalid(f"no free reference code number left under {prefix} (9999 used)")
