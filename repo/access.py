"""Access rules, independent of the workflow.

- ``open``: the public may see it (once it is also published);
- ``restricted``: staff only;
- ``personal``: personal data: staff and the person described (a user linked to an agent
  the record is about), never the public;
- ``embargoed``: closed until its opening date, then released by ``Repository.release_due``,
  which opens it in a changeset of its own (so the release is in the history).

A record's default rule is an embargo until its creation date plus the configured period
(25 years: the general rule of the PRC Archives Law); when that date has passed already, it
is open. Access is inherited: a closed container closes everything inside it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from ontology import terms
from ontology.namespaces import RICO
from repo.objects import ContentObject

EMBARGO_BY_DEFAULT = frozenset({"file", "item"})  # containers describe, records are closed


def latest_date(obj: ContentObject) -> dt.date | None:
    """The last day of the record's own dates (end, else beginning, else a year in ``date``)."""
    values: dict[str, str] = {}
    for q in obj.description:
        if terms.value(q.subject) == obj.iri and q.predicate.value in (
            RICO + "endDate", RICO + "beginningDate", RICO + "date"
        ):
            values[q.predicate.value.rsplit("#", 1)[-1]] = terms.value(q.object)
    for key in ("endDate", "beginningDate", "date"):
        text = values.get(key)
        if not text:
            continue
        m = re.search(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text)
        if not m:
            continue
        year = int(m.group(1))
        month = int(m.group(2) or 12)
        day = int(m.group(3) or calendar.monthrange(year, month)[1])
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    return None


def add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def default_rule(obj: ContentObject, today: dt.date, years: int) -> tuple[str, dt.date | None]:
    """The access rule a new object gets when the archivist gives none."""
    if obj.type_name not in EMBARGO_BY_DEFAULT:
        return "open", None
    formed = latest_date(obj) or today
    opening = add_years(formed, years)
    return ("open", opening) if opening <= today else ("embargoed", opening)


def is_open(obj: ContentObject) -> bool:
    """Open by its own rule (ancestors are checked by the caller)."""
    return obj.access == "open"
