"""A student's consent to show records of their growth record on the public student exhibit
(issue 13, item 9): recorded with time and scope, revocable, applied through the Repository.

Growth records are personal data: a record documenting a student's activity is kept closed
(``personal`` by default, so that the student may read it and the public may not). Consent is
the one way such a record reaches a public surface, and then only the record itself:

- **give** — the student themself (the account whose ``agent`` is the person), or a Manager
  on the student's written request (recorded as such), for a record that documents
  (``rico:documents``) an activity the person took part in (``rico:hasOrHadParticipant``).
  The service then acts as :data:`repo.security.SYSTEM`, every changeset message naming the
  consent (``consent #N of NAME``): the record is opened (``set_access open``), published,
  and featured in the exhibit section ``settings.growth_exhibit_section`` (made, and
  published, under the student exhibit if missing); its digital copies (instantiations, the
  IIIF scans) are opened and published with it. The projection drops links to what is not
  public, so the activity the record documents, the person and the person's other entries stay
  out of the publication dataset unless consented themselves.
- **revoke** — the record is no longer featured, its access and workflow state (and its
  copies') go back to what they were before the consent (kept in the consent's row), and the
  repository's projection removes it from the publication at once: its IRI answers 410, its
  manifest and search hits are gone at the next request.

The consents live in one SQLite database, ``{home}/growth/consent.sqlite3``, apart from the
description stores (DESIGN.md, decision 7) and never read by a public surface. History is
evidence: a revoked consent keeps its row (with who revoked it and when); giving again makes a
new row. A consent's row is written in the same SQLite transaction that is held open while the
repository applies it: if applying fails, what was applied is undone and no consent is
recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import NamedNode

from ontology.namespaces import RICO
from repo.errors import Conflict, Forbidden, Invalid, LantaiError, NotFound
from repo.objects import ContentObject
from repo.repository import Repository
from repo.security import SYSTEM, User
from repo.values import Assignment
from services.database import ServiceDatabase
from services.growth.model import CONSENT_SCOPES, Consent

SCHEMA_VERSION = 1
RECORD_TYPES = ("item", "file")  # what a student may consent to show: records, not containers
REQUEST_NOTE_MAX = 500  # the note naming a student's written request (a Manager's consent)
LIST_MAX = 1000  # the most consents one list shows

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent (
  id INTEGER PRIMARY KEY AUTOINCREMENT, person TEXT NOT NULL, record TEXT NOT NULL,
  scope TEXT NOT NULL, given_at TEXT NOT NULL, given_by TEXT NOT NULL,
  on_request TEXT NOT NULL DEFAULT '', before TEXT NOT NULL DEFAULT '{}',
  revoked_at TEXT NOT NULL DEFAULT '', revoked_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS consent_person ON consent (person, id);
-- one consent in force per record and scope (a revoked one is history, not in force)
CREATE UNIQUE INDEX IF NOT EXISTS consent_in_force ON consent (record, scope)
  WHERE revoked_at = '';
"""


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> str:
    return iso(dt.datetime.now(dt.UTC))


def _consent(row: sqlite3.Row) -> Consent:
    return Consent(id=row["id"], person=row["person"], record=row["record"], scope=row["scope"],
                   given_at=row["given_at"], given_by=row["given_by"],
                   revoked_at=row["revoked_at"], revoked_by=row["revoked_by"],
                   on_request=row["on_request"])


class ConsentStore(ServiceDatabase):
    """The consents of one site: ``ConsentStore.open(home)`` (a connection per call, see
    :mod:`services.database`)."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.folder = self.home / "growth"
        super().__init__(self.folder / "consent.sqlite3", _SCHEMA, SCHEMA_VERSION)

    @classmethod
    def open(cls, home: Path | str) -> ConsentStore:
        return cls(Path(home))

    # ------------------------------------------------------------------ reads
    def get(self, consent_id: int) -> Consent:
        with self._connect() as db:
            row = db.execute("SELECT * FROM consent WHERE id = ?", (consent_id,)).fetchone()
        if row is None:
            raise NotFound(f"no consent #{consent_id}")
        return _consent(row)

    def before(self, consent_id: int) -> dict:
        """What the consent changed, as it was before (restored on revocation)."""
        with self._connect() as db:
            row = db.execute("SELECT before FROM consent WHERE id = ?", (consent_id,)).fetchone()
        if row is None:
            raise NotFound(f"no consent #{consent_id}")
        return json.loads(row["before"])

    def consents(self, person: str, *, limit: int = LIST_MAX) -> list[Consent]:
        """A person's consents, newest first, revoked ones included (history is evidence)."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM consent WHERE person = ? ORDER BY id DESC LIMIT ?",
                              (person, limit)).fetchall()
        return [_consent(r) for r in rows]

    def in_force(self, record: str, scope: str = "exhibit") -> Consent | None:
        """The consent in force for ``record`` in ``scope`` (None: none)."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM consent WHERE record = ? AND scope = ? "
                             "AND revoked_at = ''", (record, scope)).fetchone()
        return _consent(row) if row else None

    def in_force_for(self, records: list[str], scope: str = "exhibit") -> dict[str, Consent]:
        """``{record: consent in force}`` for many records at once (one query per 500)."""
        out: dict[str, Consent] = {}
        with self._connect() as db:
            for i in range(0, len(records), 500):
                chunk = records[i:i + 500]
                marks = ", ".join("?" * len(chunk))
                for row in db.execute(f"SELECT * FROM consent WHERE scope = ? AND "
                                      f"revoked_at = '' AND record IN ({marks})",
                                      (scope, *chunk)):
                    out[row["record"]] = _consent(row)
        return out

    def recent(self, *, limit: int = 100) -> list[Consent]:
        """The latest consents of every person (the staff overview), newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM consent ORDER BY id DESC LIMIT ?",
                              (min(limit, LIST_MAX),)).fetchall()
        return [_consent(r) for r in rows]

    # ------------------------------------------------------------------ writes
    @contextmanager
    def adding(self, person: str, record: str, scope: str, given_by: str, *,
               on_request: str = "", before: dict | None = None,
               at: str = "") -> Iterator[Consent]:
        """Record a consent while the caller applies it: the row (and its number) is
        committed when the block ends and rolled back, leaving nothing, if it raises."""
        if scope not in CONSENT_SCOPES:
            raise Invalid(f"scope {scope!r}: one of {', '.join(CONSENT_SCOPES)}")
        with self._write() as db:
            if db.execute("SELECT 1 FROM consent WHERE record = ? AND scope = ? AND "
                          "revoked_at = ''", (record, scope)).fetchone():
                raise Conflict("this record is already shown on the exhibit (a consent is in "
                               "force)")
            at = at or now_utc()
            cur = db.execute(
                "INSERT INTO consent (person, record, scope, given_at, given_by, on_request, "
                "before) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (person, record, scope, at, given_by, on_request,
                 json.dumps(before or {}, ensure_ascii=False)))
            assert cur.lastrowid is not None
            yield Consent(id=cur.lastrowid, person=person, record=record, scope=scope,
                          given_at=at, given_by=given_by, on_request=on_request)

    @contextmanager
    def revoking(self, consent_id: int, revoked_by: str, *, at: str = "") -> Iterator[Consent]:
        """Mark a consent revoked while the caller undoes it (rolled back if that raises)."""
        with self._write() as db:
            row = db.execute("SELECT * FROM consent WHERE id = ?", (consent_id,)).fetchone()
            if row is None:
                raise NotFound(f"no consent #{consent_id}")
            if row["revoked_at"]:
                raise Conflict(f"consent #{consent_id} was revoked already "
                               f"({row['revoked_at']}, by {row['revoked_by']})")
            at = at or now_utc()
            db.execute("UPDATE consent SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                       (at, revoked_by, consent_id))
            consent = _consent(row)
            consent.revoked_at, consent.revoked_by = at, revoked_by
            yield consent


# ---------------------------------------------------------------------- what may be consented
@dataclass
class Candidate:
    """A record of a person's growth record: what the consent page lists."""

    record: ContentObject
    activities: list[ContentObject]  # the person's activities it documents
    consent: Consent | None = None  # the consent in force, if any
    placeable: bool = True  # False: inside a container that is not public (cannot be shown)


def _documented(repo: Repository, person: str) -> dict[str, list[str]]:
    """``{record IRI: [activity IRI, …]}``: the records documenting an activity ``person``
    took part in (one query over the working store; each object is its own named graph)."""
    check = NamedNode(person)  # an IRI, not text spliced into the query
    query = f"""SELECT DISTINCT ?rec ?act WHERE {{
        GRAPH ?act {{ ?act <{RICO}hasOrHadParticipant> <{check.value}> }}
        GRAPH ?rec {{ ?rec <{RICO}documents> ?act }} }}"""
    out: dict[str, list[str]] = {}
    for row in repo.working.query(query):  # type: ignore[union-attr]
        out.setdefault(row["rec"].value, []).append(row["act"].value)
    return out


def person_iri(repo: Repository, ref: str) -> str:
    """The Person at ``ref`` (a path or IRI); NotFound unless it is a person."""
    obj = repo.load(repo.resolve(ref))
    if obj is None or obj.deleted or obj.type_name != "person":
        raise NotFound(f"no person at {ref}")
    return obj.iri


def candidates(store: ConsentStore, repo: Repository, user: User,
               person: str) -> list[Candidate]:
    """The records documenting ``person``'s activities that ``user`` may view, by date of
    the record then title, each with the consent in force for it."""
    out = []
    documented = _documented(repo, person)
    in_force = store.in_force_for(list(documented))
    for rec_iri, acts in documented.items():
        rec = repo.load(rec_iri)
        if rec is None or rec.deleted or rec.type_name not in RECORD_TYPES:
            continue
        if not visible(repo, user, rec):
            continue
        activities = [a for a in (repo.load(i) for i in acts) if a is not None and not a.deleted]
        out.append(Candidate(rec, activities, in_force.get(rec.iri),
                             not _closed_above(repo, rec)))
    out.sort(key=lambda c: (_begin(c.record), c.record.title("zh"), c.record.iri))
    return out


def visible(repo: Repository, user: User, rec: ContentObject) -> bool:
    """May ``user`` see ``rec``: by the repository's rules (a student: their own personal
    record), or because it is public (as a consented record is: the student without a role
    could not see it in the workspace otherwise, nor withdraw it)."""
    return repo.can_view(user, rec) or repo.is_public(rec.iri)


def _begin(obj: ContentObject) -> str:
    f = obj.fields()
    return str((f.get("begin") or f.get("date") or [""])[0])


# ---------------------------------------------------------------------- who may consent
STAFF_READERS = frozenset({"Editor", "Reviewer", "Manager"})  # see anyone's consents


def is_manager(user: User) -> bool:
    return "Manager" in user.roles or user.is_system


def may_see(user: User, person: str) -> bool:
    """May ``user`` see ``person``'s consents? The student themself, and archivists."""
    return user.agent == person or bool(STAFF_READERS & set(user.roles)) or user.is_system


def consents_of(store: ConsentStore, repo: Repository, user: User, ref: str) -> list[Consent]:
    """The consents of the person at ``ref`` (path or IRI), newest first, for ``user``;
    NotFound for anyone else (whether the person has consents is personal too)."""
    person = person_iri(repo, ref)
    if not may_see(user, person):
        raise NotFound(f"no person at {ref}")
    return store.consents(person)


def _whose(repo: Repository, user: User, person: str | None, on_request: str) -> str:
    """The person a consent given by ``user`` is for: the student themself, or (a Manager)
    the person named, on their written request (which must be described)."""
    if person is not None:
        person = person_iri(repo, person)
    if user.agent and (person is None or person == user.agent):
        return user.agent
    if not is_manager(user):
        raise Forbidden("only the student themself may consent to show their records "
                        "(or a Manager on the student's written request)")
    if person is None:
        raise Invalid("say whose consent this is (the person)")
    if not on_request.strip():
        raise Invalid("a Manager gives consent only on the student's written request: "
                      "describe the request (e.g. its date and how it came)")
    if len(on_request) > REQUEST_NOTE_MAX:
        raise Invalid(f"the request's description is longer than {REQUEST_NOTE_MAX} "
                      "characters")
    return person


# ---------------------------------------------------------------------- give and revoke
def give(store: ConsentStore, repo: Repository, user: User, record_iri: str, *,
         person: str | None = None, on_request: str = "", scope: str = "exhibit") -> Consent:
    """Consent to show the record ``record_iri`` (an IRI or path) on the student exhibit."""
    person = _whose(repo, user, person, on_request)
    try:
        rec = repo.load(repo.resolve(record_iri))
    except (Invalid, NotFound):
        rec = None
    if rec is None or rec.deleted or not visible(repo, user, rec):
        raise NotFound(f"no record at {record_iri}")
    if rec.type_name not in RECORD_TYPES:
        raise Invalid(f"{rec.path} is a {rec.type_name}: consent is given for a record "
                      "(an item or a file)")
    if rec.iri not in _documented(repo, person):
        raise Forbidden(f"{rec.path} does not document an activity of this person: only "
                        "records of their own growth record may be shown by their consent")
    section_path = repo.settings.growth_exhibit_section
    if not section_path:
        raise Invalid("no exhibit section is set for growth records "
                      "(setting growth_exhibit_section): consent cannot be given")
    closed = _closed_above(repo, rec)
    if closed:
        raise Conflict(f"{rec.path} is inside {closed[-1].path}, which is not public: the "
                       "archive must place the record where it can be published first")
    section = _section(repo, section_path)
    shown_in = section or _section(repo, section_path.rstrip("/").rpartition("/")[0])
    if shown_in is not None and not repo.is_public(shown_in.iri):
        raise Conflict(f"{shown_in.path} is not public: a record shown there would be seen "
                       "nowhere on the exhibit (publish it first)")
    before = {
        "record": _facts(rec),
        "copies": {k.iri: _facts(k) for k in _copies(repo, rec)},
        "featured": section is not None and rec.iri in _features(section),
    }
    note = (f" on {person}'s written request ({on_request.strip()})"
            if user.agent != person else "")
    with store.adding(person, rec.iri, scope, user.name, on_request=on_request.strip(),
                      before=before, at=iso(repo.clock())) as consent:
        message = f"consent #{consent.id} of {user.name}{note}: shown on the student exhibit"
        try:
            _apply(repo, rec, section_path, message)
        except BaseException:
            with suppress(LantaiError):  # undo what was applied; the row is rolled back
                _restore(repo, rec.iri, before, section_path,
                         f"consent #{consent.id} of {user.name} not given: undone")
            raise
    return consent


def revoke(store: ConsentStore, repo: Repository, user: User, consent_id: int) -> Consent:
    """Withdraw a consent: the record leaves the exhibit and every public surface."""
    found = store.get(consent_id)
    if user.agent != found.person and not is_manager(user):
        raise NotFound(f"no consent #{consent_id}")  # another student's: as if none
    before = store.before(consent_id)
    with store.revoking(consent_id, user.name, at=iso(repo.clock())) as consent:
        _restore(repo, consent.record, before, repo.settings.growth_exhibit_section,
                 f"consent #{consent.id} of {consent.given_by} withdrawn by {user.name}")
    return consent


# ---------------------------------------------------------------------- through the Repository
def _facts(obj: ContentObject) -> dict[str, str]:
    """What a consent changes on an object, to put back on revocation."""
    return {"state": obj.state, "access": obj.access,
            "until": obj.opening_date.isoformat() if obj.opening_date else ""}


def _copies(repo: Repository, rec: ContentObject) -> list[ContentObject]:
    """The record's digital copies (its scans and recordings: IIIF shows them with it)."""
    kids = (repo.load(i) for i in repo.child_iris(rec.iri))
    return [k for k in kids if k is not None and not k.deleted
            and k.type_name == "instantiation"]


def _closed_above(repo: Repository, rec: ContentObject) -> list[ContentObject]:
    """The containers above ``rec`` that keep it from the public (nearest first)."""
    return [c for c in repo.ancestors(rec) if not (
        c.access == "open" and (c.state == "published" or c.type_name == "folder"))]


def _features(section: ContentObject) -> list[str]:
    return [str(v) for v in section.fields().get("feature", [])]


def _section(repo: Repository, path: str) -> ContentObject | None:
    try:
        obj = repo.load(repo.resolve(path))
    except (Invalid, NotFound):
        return None
    return obj if obj is not None and not obj.deleted else None


def _ensure_section(repo: Repository, path: str, message: str) -> ContentObject:
    """The exhibit section for consented records, made (and published) if missing."""
    found = _section(repo, path)
    if found is not None:
        if found.type_name != "section":
            raise Conflict(f"{path} is a {found.type_name}, not an exhibit section "
                           "(setting growth_exhibit_section)")
        return found
    parent, _, slug = path.rstrip("/").rpartition("/")
    exhibit = _section(repo, parent) if parent else None
    if exhibit is None or exhibit.type_name != "exhibit":
        raise Conflict(f"the student exhibit {parent or '/'} does not exist: the exhibit "
                       f"section {path} (setting growth_exhibit_section) goes inside it")
    made = repo.create(SYSTEM, exhibit.iri, "section", {
        "title": {"zh": "成长档案选展", "en": "From the growth records"},
        "text": {"zh": "经学生本人同意展出的成长档案材料；本人可随时撤回。",
                 "en": "Records from students' growth records, shown with each student's "
                       "consent, which they may withdraw at any time."},
    }, slug=slug, message=message + " (the exhibit section made)")
    repo.transition(SYSTEM, made.iri, "publish", comment=message + " (the exhibit section)")
    return repo.reads.stored(made.iri)


def _open_and_publish(repo: Repository, obj: ContentObject, message: str) -> None:
    if obj.access != "open":
        repo.set_access(SYSTEM, obj.iri, "open", message=message)
    if obj.state != "published":
        repo.transition(SYSTEM, obj.iri, "publish", comment=message)


def _apply(repo: Repository, rec: ContentObject, section_path: str, message: str) -> None:
    """Feature the record (the link is projected once the record is public), then open and
    publish its copies and the record itself, the record last."""
    section = _ensure_section(repo, section_path, message)
    if rec.iri not in _features(section):
        repo.edit(SYSTEM, section.iri, add=[Assignment("feature", None, rec.iri)],
                  message=message)
    for copy in _copies(repo, rec):
        _open_and_publish(repo, copy, message)
    _open_and_publish(repo, repo.reads.stored(rec.iri), message)


def _put_back(repo: Repository, iri: str, facts: dict[str, str], message: str) -> None:
    """Give ``iri`` back the access and state of ``facts`` (where the consent changed them:
    what others changed since is left as it is)."""
    obj = repo.load(iri)
    if obj is None or obj.deleted or not facts:
        return
    if facts["access"] != "open" and obj.access == "open":
        repo.set_access(SYSTEM, iri, facts["access"], until=facts.get("until") or None,
                        message=message)
    if facts["state"] != "published" and obj.state == "published":
        repo.transition(SYSTEM, iri, "withdraw", comment=message)
        if facts["state"] == "pending":
            repo.transition(SYSTEM, iri, "submit", comment=message)


def _restore(repo: Repository, record: str, before: dict, section_path: str,
             message: str) -> None:
    """Undo a consent: the record closed first (it leaves the publication at once), then
    its copies, then the feature the consent added."""
    _put_back(repo, record, before.get("record", {}), message)
    for iri, facts in before.get("copies", {}).items():
        _put_back(repo, iri, facts, message)
    section = _section(repo, section_path) if section_path else None
    if section is not None and not before.get("featured") and record in _features(section):
        rest = [f for f in _features(section) if f != record]
        if rest:
            repo.edit(SYSTEM, section.iri, set=[Assignment("feature", None, f) for f in rest],
                      message=message)
        else:
            repo.edit(SYSTEM, section.iri, unset=["feature"], message=message)

