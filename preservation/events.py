"""PREMIS-style preservation events per OCFL object (``{home}/preservation/events.sqlite3``).

What was done to the files of a record — checked (fixity), ingested, replaced, recovered from
the backup — is evidence a repository of record must keep, the way Archivematica keeps PREMIS
events. They live here, beside the description stores and never in them: an event names a
file that may be closed or personal, so events are staff-only and never reach the publication
dataset (nothing here writes to any store).

Event types are the Library of Congress PREMIS vocabulary
(``http://id.loc.gov/vocabulary/preservation/eventType/``); a repair from the backup is
``rec`` (recovery) there, ``rep`` being *replication*. Outcomes are the LoC ``eventOutcome``
terms (``suc``, ``fai``, ``war``). :func:`premis_graph` exports an object's events as PREMIS 3
RDF (``http://www.loc.gov/premis/rdf/v3/``) in Turtle or JSON-LD.

Each fixity check carries the id of its run (``run``), so "the failures still open" are those
of each object's latest check (:meth:`EventLog.open_failures`), not every failure ever seen.
"""

from __future__ import annotations

import importlib.metadata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox

from services.database import ServiceDatabase

FILE = "events.sqlite3"
EVENT_TYPES = "http://id.loc.gov/vocabulary/preservation/eventType/"
OUTCOMES = "http://id.loc.gov/vocabulary/preservation/eventOutcome/"
PREMIS = "http://www.loc.gov/premis/rdf/v3/"
AGENT_ROLES = "http://id.loc.gov/vocabulary/preservation/eventRelatedAgentRole/"
HASH_FUNCTIONS = "http://id.loc.gov/vocabulary/preservation/cryptographicHashFunctions/"

# our names → the LoC event type codes
TYPES = {
    "fixity": "fix",        # fixity check
    "ingestion": "ing",
    "replacement": "mod",   # modification: a file replaced by a new version
    "repair": "rec",        # recovery (from the backup)
    "replication": "rep",   # a copy sent off-site
    "migration": "mig",
    "encryption": "enc",
    "deletion": "del",
    "validation": "val",
}
OUTCOME_CODES = {"success": "suc", "failure": "fai", "warning": "war"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id      TEXT PRIMARY KEY,
    type    TEXT NOT NULL,
    at      TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT '',
    object  TEXT,
    path    TEXT,
    digest  TEXT,
    agent   TEXT NOT NULL,
    user    TEXT,
    run     TEXT
);
CREATE INDEX IF NOT EXISTS events_object ON events (object, at);
CREATE INDEX IF NOT EXISTS events_failures ON events (outcome, at);
CREATE INDEX IF NOT EXISTS events_run ON events (run);
"""


def agent() -> str:
    """The software that acted, as PREMIS wants it named: ``Lantai <version>``."""
    try:
        return f"Lantai {importlib.metadata.version('lantai')}"
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        return "Lantai"


def type_iri(kind: str) -> str:
    """The LoC event type IRI of one of :data:`TYPES` (or of a LoC code given as is)."""
    code = TYPES.get(kind, kind)
    if code not in TYPES.values() and not (len(code) == 3 and code.isalpha()):
        raise ValueError(f"unknown event type {kind!r}")
    return EVENT_TYPES + code


@dataclass(frozen=True)
class Event:
    id: str
    type: str         # the LoC event type IRI
    at: str           # ISO 8601 UTC
    outcome: str      # success | failure | warning
    detail: str
    object: str | None   # the OCFL object id (the record's IRI)
    path: str | None     # the logical path of the file, when about one file
    digest: str | None   # sha256:<hex> the inventory names for that file
    agent: str
    user: str | None
    run: str | None

    @property
    def kind(self) -> str:
        """Our short name of the type (``fixity``, ``repair``…), or the LoC code."""
        code = self.type.removeprefix(EVENT_TYPES)
        return next((k for k, c in TYPES.items() if c == code), code)

    @property
    def iri(self) -> str:
        return f"urn:uuid:{self.id}"


class EventLog(ServiceDatabase):
    """The site's preservation events (append-only: an event is never changed or removed)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA, 1)

    @classmethod
    def for_site(cls, home: Path) -> EventLog:
        return cls(Path(home) / "preservation" / FILE)

    def record(self, kind: str, outcome: str, *, object_id: str | None = None,
               path: str | None = None, digest: str | None = None, detail: str = "",
               user: str | None = None, run: str | None = None,
               at: datetime | None = None) -> Event:
        """Keep one event; returns it."""
        return self.record_many([dict(kind=kind, outcome=outcome, object_id=object_id,
                                      path=path, digest=digest, detail=detail, user=user,
                                      run=run, at=at)])[0]

    def record_many(self, items: list[dict]) -> list[Event]:
        """Keep several events in one transaction (a fixity run writes one per object)."""
        made = [self._event(**item) for item in items]
        with self._write() as db:
            db.executemany(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.id, e.type, e.at, e.outcome, e.detail, e.object, e.path, e.digest,
                  e.agent, e.user, e.run) for e in made])
        return made

    @staticmethod
    def _event(*, kind: str, outcome: str, object_id: str | None = None,
               path: str | None = None, digest: str | None = None, detail: str = "",
               user: str | None = None, run: str | None = None,
               at: datetime | None = None) -> Event:
        if outcome not in OUTCOME_CODES:
            raise ValueError(f"unknown outcome {outcome!r} (success, failure, warning)")
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
        return Event(str(uuid.uuid4()), type_iri(kind), when, outcome, detail, object_id,
                     path, digest, agent(), user, run)

    def _select(self, where: str, args: tuple, tail: str = "ORDER BY at, id") -> list[Event]:
        with self._connect() as db:
            rows = db.execute(f"SELECT id, type, at, outcome, detail, object, path, digest, "
                              f"agent, user, run FROM events e WHERE {where} {tail}",
                              args).fetchall()
        return [Event(*row) for row in rows]

    def for_object(self, object_id: str) -> list[Event]:
        """Every event of one OCFL object, oldest first."""
        return self._select("object = ?", (object_id,))

    def failures(self, since: datetime | str | None = None, *,
                 limit: int | None = None) -> list[Event]:
        """Failed events (of any type) since a time, newest first."""
        stamp = since.astimezone(UTC).isoformat() if isinstance(since, datetime) else since
        tail = "ORDER BY at DESC, id" + (f" LIMIT {int(limit)}" if limit else "")
        return self._select("outcome = 'failure' AND at >= ?", (stamp or "",), tail)

    def open_failures(self, limit: int = 100) -> list[Event]:
        """Fixity failures not since cleared: those of each object's latest fixity run, unless
        a later successful repair of the object followed. What the dashboard shows."""
        fix, rec = type_iri("fixity"), type_iri("repair")
        return self._select(
            """outcome = 'failure' AND type = ? AND run = (
                   SELECT l.run FROM events l WHERE l.object IS e.object AND l.type = ?
                   ORDER BY l.at DESC LIMIT 1)
               AND NOT EXISTS (SELECT 1 FROM events r WHERE r.object IS e.object
                   AND r.type = ? AND r.outcome = 'success' AND r.at > e.at)""",
            (fix, fix, rec), f"ORDER BY at DESC, id LIMIT {int(limit)}")

    def last_run(self) -> dict | None:
        """The latest fixity run: when, objects checked, failures (the dashboard's summary)."""
        with self._connect() as db:
            row = db.execute("SELECT run, MAX(at) FROM events WHERE type = ? AND run IS NOT NULL",
                             (type_iri("fixity"),)).fetchone()
            if row is None or row[0] is None:
                return None
            counts = db.execute(
                "SELECT COUNT(DISTINCT object), SUM(outcome = 'failure'), MIN(at) "
                "FROM events WHERE run = ?", (row[0],)).fetchone()
        return {"run": row[0], "at": counts[2], "objects": counts[0], "failures": counts[1] or 0}

    def __iter__(self) -> Iterator[Event]:
        return iter(self._select("1", ()))


# ----------------------------------------------------------- one call, for other parts


def record(home: Path, *, event_type: str, outcome: str, object_id: str | None = None,
           file: str | None = None, digest: str | None = None, detail: str = "",
           user: str | None = None, run: str | None = None) -> Event:
    """Keep one event of the site at ``home`` (``lantai repair``, the deposit…): opens the
    log, writes, lets it go. ``event_type`` is one of :data:`TYPES` or a LoC code."""
    log = EventLog.for_site(home)
    try:
        return log.record(event_type, outcome, object_id=object_id, path=file, digest=digest,
                          detail=detail, user=user, run=run)
    finally:
        log.close()


def for_object(home: Path, object_id: str) -> list[Event]:
    """Every event of one object of the site at ``home``, oldest first."""
    log = EventLog.for_site(home)
    try:
        return log.for_object(object_id)
    finally:
        log.close()


def failures(home: Path, since: datetime | str | None = None) -> list[Event]:
    """The site's failed events since a time, newest first."""
    log = EventLog.for_site(home)
    try:
        return log.failures(since)
    finally:
        log.close()


_RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
_XSD_DATETIME = ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime")


def _p(name: str) -> ox.NamedNode:
    return ox.NamedNode(PREMIS + name)


def premis_graph(events: list[Event]) -> list[ox.Triple]:
    """The events as PREMIS 3 RDF: each a ``premis:Event`` typed also by its LoC event type,
    with its time (``prov:endedAtTime``), outcome (LoC ``eventOutcome``), outcome note, the
    object it concerns (``prov:used``: a ``premis:IntellectualEntity`` named by the OCFL id),
    the file (``premis:File`` with its original name = logical path and its sha256 fixity),
    the executing software and the implementing user (LoC agent roles ``exe``/``imp``)."""
    prov = "http://www.w3.org/ns/prov#"
    label = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
    triples: list[ox.Triple] = []
    for e in events:
        ev = ox.NamedNode(e.iri)
        add = triples.append
        add(ox.Triple(ev, _RDF_TYPE, _p("Event")))
        add(ox.Triple(ev, _RDF_TYPE, ox.NamedNode(e.type)))
        add(ox.Triple(ev, ox.NamedNode(prov + "endedAtTime"),
                      ox.Literal(e.at, datatype=_XSD_DATETIME)))
        add(ox.Triple(ev, _p("outcome"), ox.NamedNode(OUTCOMES + OUTCOME_CODES[e.outcome])))
        if e.detail:
            add(ox.Triple(ev, _p("outcomeNote"), ox.Literal(e.detail)))
        software = ox.NamedNode("urn:lantai:agent:" + e.agent.replace(" ", ":"))
        add(ox.Triple(ev, ox.NamedNode(AGENT_ROLES + "exe"), software))
        add(ox.Triple(software, _RDF_TYPE, _p("SoftwareAgent")))
        add(ox.Triple(software, label, ox.Literal(e.agent)))
        if e.user:
            person = ox.BlankNode()
            add(ox.Triple(ev, ox.NamedNode(AGENT_ROLES + "imp"), person))
            add(ox.Triple(person, _RDF_TYPE, _p("Person")))
            add(ox.Triple(person, label, ox.Literal(e.user)))
        if e.object:
            obj = ox.NamedNode(e.object)
            add(ox.Triple(ev, ox.NamedNode(prov + "used"), obj))
            add(ox.Triple(obj, _RDF_TYPE, _p("IntellectualEntity")))
        if e.path:
            file = ox.BlankNode()
            add(ox.Triple(ev, ox.NamedNode(prov + "used"), file))
            add(ox.Triple(file, _RDF_TYPE, _p("File")))
            add(ox.Triple(file, _p("originalName"), ox.Literal(e.path)))
            if e.object:
                add(ox.Triple(file, ox.NamedNode("http://purl.org/dc/terms/isPartOf"),
                              ox.NamedNode(e.object)))
            if e.digest and e.digest.startswith("sha256:"):
                fixity = ox.BlankNode()
                add(ox.Triple(file, _p("fixity"), fixity))
                add(ox.Triple(fixity, _RDF_TYPE, ox.NamedNode(HASH_FUNCTIONS + "sha256")))
                add(ox.Triple(fixity, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#value"),
                              ox.Literal(e.digest.removeprefix("sha256:"))))
    return triples


FORMATS = {"turtle": ox.RdfFormat.TURTLE, "jsonld": ox.RdfFormat.JSON_LD}
MEDIA_TYPES = {"turtle": "text/turtle", "jsonld": "application/ld+json"}
PREFIXES = {
    "premis": PREMIS,
    "prov": "http://www.w3.org/ns/prov#",
    "eventType": EVENT_TYPES,
    "eventOutcome": OUTCOMES,
    "agentRole": AGENT_ROLES,
    "hash": HASH_FUNCTIONS,
    "dct": "http://purl.org/dc/terms/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def export(events: list[Event], fmt: str = "turtle") -> bytes:
    """The events as PREMIS 3 RDF in Turtle (``turtle``) or JSON-LD (``jsonld``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (turtle, jsonld)")
    data = ox.serialize(premis_graph(events), format=FORMATS[fmt],
                        prefixes=PREFIXES if fmt == "turtle" else None)
    assert data is not None
    return data


__all__ = ["EVENT_TYPES", "TYPES", "Event", "EventLog", "agent", "export", "failures",
           "for_object", "premis_graph", "record", "type_iri"]
