"""What a growth record is made of: the four strands, an entry (one activity the person took
part in) and the evidence for it (the records that document the activity), and a consent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# the SKOS scheme {base}/vocab/strand (ontology/vocabularies.ttl), in the order shown
STRANDS = ("research", "practice", "party", "honours")
CONSENT_SCOPES = ("exhibit",)  # where a consented item may be shown: the student exhibit


@dataclass
class Evidence:
    """A record documenting an activity (``rico:documents``)."""

    iri: str
    path: str
    title: dict[str, str]  # language → text
    refcode: str = ""
    access: str = ""  # open, restricted, personal, embargoed
    state: str = ""  # private, pending, published
    image: str = ""  # a IIIF image service id of its first scan, if any ("" none)


@dataclass
class Entry:
    """One activity of the person's growth record."""

    iri: str
    path: str
    title: dict[str, str]  # language → text
    strand: str  # one of STRANDS ("" when the activity has none)
    begin: str = ""  # ISO date (or year, year-month)
    end: str = ""
    places: list[str] = field(default_factory=list)  # place names (in the reader's language)
    note: dict[str, str] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class Consent:
    """A student's consent to show one record on the student exhibit."""

    id: int
    person: str  # the Person agent's IRI
    record: str  # the record's IRI
    scope: str  # one of CONSENT_SCOPES
    given_at: str
    given_by: str  # the account that gave it
    revoked_at: str = ""
    revoked_by: str = ""
    on_request: str = ""  # given by a Manager: the student's written request it follows

    @property
    def active(self) -> bool:
        return not self.revoked_at
