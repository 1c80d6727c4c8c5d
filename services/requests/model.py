"""What a record request (查档申请) is: its kinds, states, channels, and the request itself.

A request moves through these states (``STATES``)::

    unverified ──(e-mail code)──▶ submitted ──(assigned to a person)──▶ in_progress
         │                            │                                    │
         └──▶ withdrawn               └───────────▶ refused ◀──────────────┤
                                                                           ▼
                                         fulfilled (copy issued and/or posted) ──▶ closed

``closed`` (and ``refused``, ``withdrawn``) are final; after the retention period their
personal data is purged and the request keeps only what the statistics need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("transcript", "graduation", "degree", "enrolment", "other")
LANGUAGES = ("zh", "en")
DELIVERIES = ("electronic", "post", "both")
CHANNELS = ("web", "email", "wechat", "staff")
ID_TYPES = ("resident_id", "passport", "hk_macau_permit", "taiwan_permit", "other")
STATES = ("unverified", "submitted", "in_progress", "fulfilled", "closed", "refused",
          "withdrawn")
OPEN_STATES = ("submitted", "in_progress")
FINAL_STATES = ("closed", "refused", "withdrawn")

# the fields of a request that are personal data: sealed with the site key, never indexed
PERSONAL_FIELDS = ("name", "student_number", "department", "id_type", "id_number", "email",
                   "phone", "address", "purpose", "other_text")


@dataclass
class Personal:
    """Who asks, and how to reach them: stored sealed (AES-256-GCM), purged after retention."""

    name: str = ""
    student_number: str = ""
    department: str = ""
    id_type: str = "resident_id"
    id_number: str = ""
    email: str = ""
    phone: str = ""
    address: str = ""  # postal address (delivery by post)
    purpose: str = ""  # why (a visa, a job, further study)
    other_text: str = ""  # what, when the kind is "other"

    def masked_id(self) -> str:
        """The identity number as staff see it in lists: the first 4 and last 4 characters."""
        n = self.id_number
        return n if len(n) <= 8 else n[:4] + "*" * (len(n) - 8) + n[-4:]


@dataclass
class Request:
    """One request: the open facts (kind, state, workroom, times) and the sealed personal
    part (``personal`` is None once purged, or when the caller did not unseal it)."""

    id: str  # the request number: not guessable (see store.new_number)
    status: str
    kind: str
    languages: tuple[str, ...]
    copies: int
    delivery: str
    channel: str
    created: str  # ISO 8601 UTC, to the second
    updated: str
    due: str  # the target time (urgent requests have a shorter one)
    year_from: int | None = None  # years of study
    year_to: int | None = None
    urgent: bool = False
    workroom: str = ""
    assignee: str = ""
    person: str = ""  # IRI of the matched person in the repository
    closed: str = ""
    purged: str = ""
    email_verified: bool = False
    personal: Personal | None = None
    has_id_image: bool = False
    selections: list[Selection] = field(default_factory=list)


@dataclass
class Selection:
    """A record chosen for the certified copy, and which of its pages (1-based; empty: all)."""

    record: str  # IRI
    pages: tuple[int, ...] = ()


@dataclass
class Event:
    """One step in a request's history (also every staff view: action ``viewed``)."""

    at: str
    actor: str  # an account name, or "requester", or "system"
    action: str  # created, verified, viewed, assigned, transferred, matched, selected, issued,
    #              revoked, dispatched, refused, withdrawn, closed, purged, mailed, downloaded
    note: str = ""


@dataclass
class Copy:
    """A certified copy as issued: what verification shows (no personal data in it)."""

    code: str  # the short verification code printed on every page
    request_id: str
    language: str
    sha256: str  # of the signed PDF as issued
    pages: int
    records: list[dict] = field(default_factory=list)  # {"iri", "refcode", "title"}
    signed_at: str = ""
    signer: str = ""  # the certificate's subject
    issued_by: str = ""  # the account
    revoked: str = ""  # when; empty if in force
    revoked_reason: str = ""


@dataclass
class Dispatch:
    """A postal dispatch with its tracking number."""

    at: str
    carrier: str
    tracking: str
    by: str
