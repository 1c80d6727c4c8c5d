"""What the filing loop is made of: filing units, the year's plan and its tasks, special
topics, submissions and their items, the history of every step, notices.

The loop (通知归档 → 跟踪进度 → 整改反馈): the archive publishes a year's **plan** (one
**task** per unit and expected material: category 门类, target series, retention, expected
count or list, due date; a **topic** gathers tasks across units for a special theme); a
unit's filing officer sends **submissions** (one form, a spreadsheet or a BagIt bag), each
of **items** with files, into a receiving area; the archivist accepts each item into the
tree (it becomes a record with its 档号) or returns it with a rectification note; the
officer corrects a returned item and sends it again (the same item, one more attempt).

The rates, per unit, category and topic (issue 13; :mod:`services.filing.rates`):

- ``expected``             the sum of the tasks' expected counts
- ``submitted``            items sent (an item counts once however often it is resent)
- ``returned``             items returned at least once
- ``accepted``             items accepted into the tree
- ``accepted_first_time``  items accepted without ever being returned
- ``filing_rate``          accepted ÷ expected (立卷归档率)
- ``quality_rate``         accepted_first_time ÷ accepted (安全合格率)
"""

from __future__ import annotations

from dataclasses import dataclass, field

PLAN_STATES = ("draft", "published", "closed")
CHANNELS = ("form", "spreadsheet", "bag")
# an item: received (waiting for the archivist) → accepted | returned; returned → received
# (the officer corrected it and sent it again) | withdrawn (the officer took it back)
ITEM_STATES = ("received", "returned", "accepted", "withdrawn")
ITEM_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("accepted", "returned", "withdrawn"),
    "returned": ("received", "withdrawn"),
    "accepted": (),
    "withdrawn": (),
}
RETENTIONS = ("Y", "D30", "D10")
NOTICE_KINDS = ("plan", "rectification", "reminder", "accepted")
OFFICER_ROLE = "FilingOfficer"  # repo.security.SCOPED_ROLES: held on the unit's corporate body


@dataclass
class Unit:
    """A department that files: a corporate body of the repository marked as a filing unit."""

    agent: str  # the corporate body's IRI
    code: str  # short and stable: used in CLI commands and URLs (e.g. "energy")
    name_zh: str
    name_en: str = ""
    email: str = ""  # where notices go (the unit's filing office)


@dataclass
class Topic:
    """A special topic (专题) of a year: its tasks gather expected material across units."""

    id: str  # e.g. "2026-excellent-engineers"
    year: int
    name_zh: str
    name_en: str = ""
    note: str = ""


@dataclass
class Task:
    """One line of a unit's plan: what it must file this year, where it goes, by when."""

    id: int
    year: int
    unit: str  # unit code
    category: str  # the record category code (门类), e.g. "JX"
    series: str  # the path of the container accepted items go into
    retention: str  # "Y", "D30", "D10"
    title_zh: str  # what is expected, e.g. "本学期教学档案"
    title_en: str = ""
    expected: int = 0  # how many items
    expected_list: list[str] = field(default_factory=list)  # or which (titles)
    due: str = ""  # ISO date
    topic: str = ""  # a topic id, or ""


@dataclass
class Plan:
    year: int
    state: str = "draft"
    published_at: str = ""
    notice: str = ""  # the text sent with the plan


@dataclass
class PlanChange:
    """One line of a plan's history: what changed in it (after publication, the units
    concerned are notified of each change)."""

    year: int
    at: str
    actor: str
    action: str  # published, task added, task changed, task removed, notice edited
    task: int | None = None
    unit: str = ""
    note: str = ""


@dataclass
class FiledFile:
    """A file sent with an item, kept in the receiving area by its SHA-256."""

    name: str
    sha256: str
    size: int
    mime: str = ""


@dataclass
class Item:
    """One item of a submission: the description the officer gave (profile field names, as
    in ``lantai add --set``: ``title@zh``, ``date``, ``creator`` …) and its files."""

    id: int
    submission: str
    row: int  # its row in the spreadsheet (or position in the form or bag), from 1
    fields: dict[str, list[str]]
    files: list[FiledFile] = field(default_factory=list)
    state: str = "received"
    note: str = ""  # the archivist's rectification note while returned
    attempts: int = 1  # times sent
    returned_ever: bool = False
    record: str = ""  # the record's IRI once accepted
    refcode: str = ""  # its 档号 once accepted


@dataclass
class Submission:
    id: str  # "SUB-2026-K7QW3XZP"
    year: int
    unit: str  # unit code
    task: int | None
    channel: str
    source: str  # the form, or the spreadsheet's or bag's name
    created: str
    created_by: str
    items: list[Item] = field(default_factory=list)


@dataclass
class Step:
    """One step of a submission's history (who did what, when, with which note)."""

    at: str
    actor: str
    action: str  # submitted, accepted, returned, resubmitted, withdrawn, …
    item: int | None = None
    note: str = ""


@dataclass
class Notice:
    """A message to a unit: shown in the workspace, and e-mailed when the unit has an address."""

    id: int
    unit: str
    year: int
    at: str
    kind: str
    subject: str
    body: str
    read_at: str = ""
