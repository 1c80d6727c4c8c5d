"""A person's growth record, read from what the working store says in RiC-O (issue 13, item 6).

The entries are the activities (and events) whose description says ``rico:hasOrHadParticipant``
the person; each with its strand (``rico:hasActivityType``, a concept of the ``strand``
scheme), dates, places and note, and the records that document it (``rico:documents`` from
the record to the activity), each with its 档号, access, workflow state and first scan.

Speed (issue 13: a record of 300 entries renders in ≤ 100 ms): what an object costs is
the store's index seeks and the terms decoded, so each object is read once, by index
lookups (its description graph, its management facts); measured on disk, the same data
through SPARQL (a UNION of the two links joined with ``GRAPH ?g { ?s ?p ?o }``, or
``VALUES``) cost as much or more. What the reader may view is then decided by the
repository's own rule (:meth:`repo.reads.Reads.can_view`) on a
:class:`~repo.reads.Reads` whose object cache is seeded with those objects and kept for
this one call (the containers above 300 records are a handful: each is read once). On the
workspace's read-only snapshot the finished record is kept until the store changes
(:func:`growth_record`). Figures: ``bench/growth.py``, docs/growth.md.

Who may see whose record: staff (an account with a site-wide role) anyone's, a student
(an account whose ``agent`` is a Person) only their own; anyone else is told there is no
such record (404, whether the person exists or not).
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable

from pyoxigraph import Literal, NamedNode

from ontology.namespaces import LT, RICO
from ontology.terms import solutions, value
from repo.errors import NotFound
from repo.objects import ContentObject
from repo.reads import IngestCache, Reads
from repo.repository import Repository
from repo.security import ALL_ROLES, User
from services.growth.model import STRANDS, Entry, Evidence

PERSON = RICO + "Person"
DCT_FORMAT = "http://purl.org/dc/terms/format"
ENTRY_TYPES = ("activity", "event")
EVIDENCE_TYPES = ("item", "file")
NO_RECORD = "no growth record here"  # one message, whether the person exists or not
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$")  # a key, as it is in IRIs
MAX_REF = 2000  # characters of a person reference (a path, an IRI or a key)

# (%s are filled with NamedNode terms: IRIs checked by pyoxigraph, written in SPARQL
# syntax by their str())
_PEOPLE = f"""PREFIX rico: <{RICO}>
PREFIX lt: <{LT}>
SELECT ?p (SAMPLE(?zh) AS ?name_zh) (SAMPLE(?en) AS ?name_en) (SAMPLE(?any) AS ?name) WHERE {{
  {{ SELECT DISTINCT ?p WHERE {{
      GRAPH ?a {{ ?a rico:hasActivityType ?strand ; rico:hasOrHadParticipant ?p }}
      FILTER(STRSTARTS(STR(?strand), %(strands)s))
  }} LIMIT %(limit)d }}
  ?p lt:type "person" .
  FILTER NOT EXISTS {{ ?p lt:deletedIn ?gone }}
  GRAPH ?p {{ ?p rico:name ?any }}
  OPTIONAL {{ GRAPH ?p {{ ?p rico:name ?zh FILTER(LANGMATCHES(LANG(?zh), "zh")) }} }}
  OPTIONAL {{ GRAPH ?p {{ ?p rico:name ?en FILTER(LANGMATCHES(LANG(?en), "en")) }} }}
}} GROUP BY ?p"""

_NAMES = f"""PREFIX rico: <{RICO}>
SELECT ?x ?name WHERE {{ VALUES ?x {{ %s }} GRAPH ?x {{ ?x rico:name ?name }} }}"""


# ---------------------------------------------------------------------- who
def is_staff(user: User) -> bool:
    """An account with a site-wide role of the tree (not a scoped one)."""
    return bool(set(user.roles) & set(ALL_ROLES))


def person_of(repo: Repository, user: User) -> str | None:
    """The Person IRI the account is (its ``agent``, when that is a live Person), or None."""
    if not user.agent:
        return None
    return user.agent if repo.class_of(user.agent) == PERSON else None


def is_student(repo: Repository, user: User) -> bool:
    """An account with no site-wide role whose agent is a Person: it sees its own growth
    record only (and lands on it after signing in)."""
    return not is_staff(user) and person_of(repo, user) is not None


def person_iri(repo: Repository, ref: str) -> str:
    """The IRI of the person ``ref`` names: an IRI, a path (``/agents/…``) or a key (the
    last part of the person's IRI). NotFound (one message for all) if it is not a live
    person."""
    ref = ref.strip()
    if not ref or len(ref) > MAX_REF or any(ord(c) < 32 for c in ref):
        raise NotFound(NO_RECORD)
    try:
        if ref.startswith(("http://", "https://", "/")):
            iri = repo.resolve(ref)
        elif KEY.match(ref):
            iri = repo.iri_for("agent", ref)
        else:
            raise NotFound(NO_RECORD)
    except (NotFound, ValueError):
        raise NotFound(NO_RECORD) from None
    except Exception as exc:  # Invalid (a malformed path or IRI): the same answer
        if getattr(exc, "http_status", 500) < 500:
            raise NotFound(NO_RECORD) from None
        raise
    if repo.class_of(iri) != PERSON:
        raise NotFound(NO_RECORD)
    return iri


def record_person(repo: Repository, user: User, ref: str) -> str:
    """The person whose growth record ``user`` asks for with ``ref``: staff may ask for
    anyone's, a student for their own only; NotFound otherwise (the same as for a person
    who does not exist: a student learns nothing of other students)."""
    if is_staff(user):
        return person_iri(repo, ref)
    own = person_of(repo, user)
    if own is None:
        raise NotFound(NO_RECORD)
    if person_iri(repo, ref) != own:
        raise NotFound(NO_RECORD)
    return own


def people_with_records(repo: Repository, lang: str, *, limit: int = 500
                        ) -> list[tuple[str, str]]:
    """``(IRI, name)`` of people who took part in an activity of a strand (at most
    ``limit``), by name: the staff's index of growth records (staff see every person)."""
    strands = Literal(repo.base + "/vocab/strand/")
    query = _PEOPLE % {"strands": str(strands), "limit": max(1, int(limit))}
    out = []
    for row in solutions(repo.site.working.query(query)):
        names = {"zh": row["name_zh"], "en": row["name_en"], "": row["name"]}
        texts = {k: value(v) for k, v in names.items() if v is not None}
        out.append((value(row["p"]), _in_lang(texts, lang)))
    return sorted(out, key=lambda pair: (pair[1], pair[0]))


# ---------------------------------------------------------------------- the record
def growth_record(repo: Repository, user: User, person_ref: str, *,
                  lang: str = "zh") -> list[Entry]:
    """The growth record of the person ``person_ref`` as ``user`` may see it: the entries
    (sorted by date, undated last), each with the evidence ``user`` may view. Place names
    in ``lang``. NotFound when ``user`` may not see this person's record at all.

    On a read-only snapshot (the workspace's reader) the answer is kept for that snapshot:
    it cannot change until the store does, and then the workspace reads a new snapshot
    (a new ``repo``). The entries are shared between callers: read them, do not change
    them."""
    person = record_person(repo, user, person_ref)
    key = (person, user.name, frozenset(user.roles), user.agent or "", lang)
    kept = _snapshot_cache(repo)
    if kept is not None:
        with _CACHE_LOCK:
            if key in kept:
                kept.move_to_end(key)
                return list(kept[key])
    entries = _build(repo, user, person, lang)
    if kept is not None:
        with _CACHE_LOCK:
            kept[key] = entries
            while len(kept) > CACHE_SIZE:
                kept.popitem(last=False)
    return list(entries)


CACHE_SIZE = 64  # growth records kept per snapshot (the last asked for)
_CACHE_LOCK = threading.Lock()
_CACHES: weakref.WeakKeyDictionary[Repository, OrderedDict[tuple, list[Entry]]] = (
    weakref.WeakKeyDictionary())


def _snapshot_cache(repo: Repository) -> OrderedDict[tuple, list[Entry]] | None:
    """The records kept for ``repo``'s snapshot; None for a repository open for writing
    (its store changes under it)."""
    if repo.site.writable:
        return None
    with _CACHE_LOCK:
        found = _CACHES.get(repo)
        if found is None:
            found = _CACHES[repo] = OrderedDict()
        return found


def _build(repo: Repository, user: User, person: str, lang: str) -> list[Entry]:
    reads = _request_reads(repo)
    objects = _read_objects(repo, reads, person)
    entries: list[Entry] = []
    documents: dict[str, list[ContentObject]] = {}
    for obj in objects.values():
        if obj.type_name in EVIDENCE_TYPES:
            for target in _links(obj, RICO + "documents"):
                documents.setdefault(target, []).append(obj)
    visible = {iri: obj for iri, obj in objects.items()
               if not obj.deleted and reads.can_view(user, obj)}
    records = sorted({r.iri for rs in documents.values() for r in rs if r.iri in visible})
    scans = _first_scans(repo, reads, user, records)
    places = _place_names(repo, reads, user, visible.values(), lang)
    strand_base = repo.base + "/vocab/strand/"
    for obj in visible.values():
        if obj.type_name not in ENTRY_TYPES or person not in _links(obj, RICO +
                                                                  "hasOrHadParticipant"):
            continue
        strand = next((t[len(strand_base):] for t in _links(obj, RICO + "hasActivityType")
                       if t.startswith(strand_base)), "")
        evidence = [_evidence(r, scans.get(r.iri, "")) for r in
                    sorted(documents.get(obj.iri, []), key=lambda r: r.path)
                    if r.iri in visible]
        entries.append(Entry(
            iri=obj.iri, path=obj.path, title=_texts(obj, RICO + "name"),
            strand=strand if strand in STRANDS else "",
            begin=_one(obj, RICO + "beginningDate"), end=_one(obj, RICO + "endDate"),
            places=[places[p] for p in _links(obj, RICO + "isAssociatedWithPlace")
                    if p in places],
            note=_texts(obj, RICO + "generalDescription"), evidence=evidence))
    entries.sort(key=_when)
    return entries


def _when(entry: Entry) -> tuple:
    """Sort key: by beginning (or end) date, undated last, then by title."""
    date = entry.begin or entry.end
    return (date == "", date, entry.title.get("zh") or next(iter(entry.title.values()), ""),
            entry.iri)


def _request_reads(repo: Repository) -> Reads:
    """The repository's reads with an object cache of their own for this one call (the
    repository's own cache is for bulk ingests and stays off): ``can_view`` is the same
    rule, and each container above the records is read once."""
    cache = IngestCache()
    cache.clear(active=True)
    return Reads(repo.site, cache)


def _read_objects(repo: Repository, reads: Reads, person: str) -> dict[str, ContentObject]:
    """The activities of ``person`` and the records documenting them, read by index
    lookups (one for the activities, one per activity for its records, one per object for
    its description graph and one for its management facts) and put in ``reads``' cache.

    Measured (bench/growth.py, 300 entries, on disk): the same data through SPARQL — a
    UNION of the two links joined with ``GRAPH ?g { ?s ?p ?o }``, or ``VALUES ?g`` — cost
    2–4 times as much CPU as these lookups; what an object costs is its index seeks."""
    working, mgmt_graph = repo.site.working, repo.site.mgmt
    participant, documents = NamedNode(RICO + "hasOrHadParticipant"), NamedNode(
        RICO + "documents")
    activities = [q.subject for q in working.quads_for_pattern(None, participant,
                                                                NamedNode(person), None)
                  if q.subject == q.graph_name]
    wanted: dict[str, NamedNode] = {}
    for a in activities:
        wanted[value(a)] = a  # type: ignore[assignment]
        for q in working.quads_for_pattern(None, documents, a, None):
            if q.subject == q.graph_name:
                wanted[value(q.subject)] = q.subject  # type: ignore[assignment]
    out = {}
    objects = reads.cache.running()
    for iri, node in wanted.items():
        mgmt: dict[str, list] = {}
        for q in working.quads_for_pattern(node, None, None, mgmt_graph):
            p = q.predicate.value
            if p.startswith(LT):
                mgmt.setdefault(p[len(LT):], []).append(q.object)
        if "type" not in mgmt:
            continue
        out[iri] = objects[iri] = ContentObject(
            iri, mgmt, set(working.quads_for_pattern(None, None, None, node)))
    return out


def _first_scans(repo: Repository, reads: Reads, user: User,
                 records: list[str]) -> dict[str, str]:
    """``{record IRI: key of its first image instantiation}`` that ``user`` may view (an
    instantiation's graph says what it is a copy of: one lookup per record)."""
    working = repo.site.working
    of = NamedNode(RICO + "isOrWasDigitalInstantiationOf")
    out = {}
    for record in records:
        found = []
        for q in working.quads_for_pattern(None, of, NamedNode(record), None):
            if q.subject != q.graph_name:
                continue
            inst = reads.load(value(q.subject))
            if inst is None or inst.deleted or inst.type_name != "instantiation":
                continue
            mime = _one(inst, DCT_FORMAT)
            if mime.startswith("image/") and reads.can_view(user, inst):
                found.append((inst.position, inst.iri))
        if found:
            out[record] = min(found)[1].rsplit("/", 1)[-1]
    return out


def _place_names(repo: Repository, reads: Reads, user: User,
                 objects: Iterable[ContentObject], lang: str) -> dict[str, str]:
    """Names of the places the entries name, in ``lang``, of places ``user`` may view or
    the public may (a published place's name is on the public site anyway)."""
    wanted = {p for obj in objects if obj.type_name in ENTRY_TYPES
              for p in _links(obj, RICO + "isAssociatedWithPlace")}
    if not wanted:
        return {}
    names: dict[str, dict[str, str]] = {}
    query = _NAMES % _values(sorted(wanted))
    for row in solutions(repo.site.working.query(query)):
        name = row["name"]
        if isinstance(name, Literal):
            names.setdefault(value(row["x"]), {})[name.language or ""] = name.value
    out = {}
    for iri, texts in names.items():
        place = reads.load(iri)
        if place is None or place.deleted:
            continue
        if reads.can_view(user, place) or reads.is_public(iri):
            out[iri] = _in_lang(texts, lang)
    return out


def _evidence(record: ContentObject, image: str) -> Evidence:
    return Evidence(iri=record.iri, path=record.path, title=_texts(record, RICO + "title"),
                    refcode=_one(record, RICO + "identifier"), access=record.access,
                    state=record.state, image=image)


# ---------------------------------------------------------------------- statements
def _values(iris: Iterable[str]) -> str:
    """IRIs for a VALUES clause (each checked by pyoxigraph, written by it)."""
    return " ".join(str(NamedNode(i)) for i in iris)


def _links(obj: ContentObject, predicate: str) -> list[str]:
    """The IRIs ``obj`` links to by ``predicate``, in a stable order."""
    return sorted(q.object.value for q in obj.description
                  if q.predicate.value == predicate and q.subject.value == obj.iri  # type: ignore[union-attr]
                  and isinstance(q.object, NamedNode))


def _one(obj: ContentObject, predicate: str) -> str:
    for q in obj.description:
        if (q.predicate.value == predicate and isinstance(q.object, Literal)
                and q.subject.value == obj.iri):  # type: ignore[union-attr]
            return q.object.value
    return ""


def _texts(obj: ContentObject, predicate: str) -> dict[str, str]:
    """``{language: text}`` of a language-tagged field (``""``: a text without a tag)."""
    out: dict[str, str] = {}
    for q in obj.description:
        if (q.predicate.value == predicate and isinstance(q.object, Literal)
                and q.subject.value == obj.iri):  # type: ignore[union-attr]
            out[(q.object.language or "").split("-")[0]] = q.object.value
    return dict(sorted(out.items()))


def _in_lang(texts: dict[str, str], lang: str) -> str:
    """The text in ``lang``, else Chinese, else English, else any."""
    for tag in (lang, "zh", "en"):
        if texts.get(tag):
            return texts[tag]
    return next(iter(texts.values()), "")


def in_lang(texts: dict[str, str], lang: str) -> str:
    """What the pages and the PDF show of a ``{language: text}`` field."""
    return _in_lang(texts, lang)


__all__ = ["growth_record", "in_lang", "is_staff", "is_student", "people_with_records",
           "person_iri", "person_of", "record_person"]
