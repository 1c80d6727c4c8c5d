"""A person's growth record, read from what the working store says in RiC-O (issue 13, item 6).

The entries are the activities (and events) whose description says ``rico:hasOrHadParticipant``
the person; each with its strand (``rico:hasActivityType``, a concept of the ``strand``
scheme), dates, places and note, and the records that document it (``rico:documents`` from
the record to the activity), each with its 档号, access, workflow state and first scan.

Speed (issue 13: a record of 300 entries renders in ≤ 100 ms): the descriptions come from
two SPARQL queries over the working store (the activities' and the records' graphs, then
their management facts), not one store read per object; what the reader may view is
then decided by the repository's own rule (:meth:`repo.reads.Reads.can_view`), on a
:class:`~repo.reads.Reads` whose object cache is seeded with what the queries read and
kept for this one call (the containers above 300 records are a handful: each is read
once, not once per record). Nothing here writes, so a snapshot is what it reads.

Who may see whose record: staff (an account with a site-wide role) anyone's, a student
(an account whose ``agent`` is a Person) only their own; anyone else is told there is no
such record (404, whether the person exists or not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pyoxigraph import Literal, NamedNode, Quad

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

# (%(person)s and %s are filled with NamedNode terms: IRIs checked by pyoxigraph, written
# in SPARQL syntax by their str())
_OBJECTS = f"""PREFIX rico: <{RICO}>
SELECT ?g ?s ?p ?o WHERE {{
  {{ GRAPH ?g {{ ?g rico:hasOrHadParticipant %(person)s }} }}
  UNION
  {{ GRAPH ?a {{ ?a rico:hasOrHadParticipant %(person)s }}
     GRAPH ?g {{ ?g rico:documents ?a }} }}
  GRAPH ?g {{ ?s ?p ?o }}
}}"""

_MGMT = f"""PREFIX lt: <{LT}>
SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ %s }} ?s ?p ?o }}"""

_SCANS = f"""PREFIX lt: <{LT}>
PREFIX dct: <http://purl.org/dc/terms/>
SELECT ?r ?i ?pos WHERE {{
  VALUES ?r {{ %s }}
  ?i lt:parent ?r ; lt:type "instantiation" .
  OPTIONAL {{ ?i lt:position ?pos }}
  FILTER NOT EXISTS {{ ?i lt:deletedIn ?gone }}
  GRAPH ?i {{ ?i dct:format ?mime }}
  FILTER(STRSTARTS(STR(?mime), "image/"))
}}"""

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
    in ``lang``. NotFound when ``user`` may not see this person's record at all."""
    person = record_person(repo, user, person_ref)
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
    """The activities of ``person`` and the records documenting them, built from two
    queries (descriptions, then management facts) and put in ``reads``' cache."""
    working = repo.site.working
    graphs: dict[str, set[Quad]] = {}
    for row in solutions(working.query(_OBJECTS % {"person": NamedNode(person)})):
        g = value(row["g"])
        graphs.setdefault(g, set()).add(Quad(row["s"], row["p"], row["o"], NamedNode(g)))
    if not graphs:
        return {}
    mgmt: dict[str, dict[str, list]] = {iri: {} for iri in graphs}
    subjects = _values(graphs)
    for row in solutions(working.query(_MGMT % subjects)):
        p = value(row["p"])
        if p.startswith(LT):
            mgmt[value(row["s"])].setdefault(p[len(LT):], []).append(row["o"])
    out = {}
    objects = reads.cache.running()
    for iri, quads in graphs.items():
        if "type" not in mgmt[iri]:
            continue  # a graph that is not an object's (none is, by construction)
        out[iri] = objects[iri] = ContentObject(iri, mgmt[iri], quads)
    return out


def _first_scans(repo: Repository, reads: Reads, user: User,
                 records: list[str]) -> dict[str, str]:
    """``{record IRI: key of its first image instantiation}`` that ``user`` may view."""
    if not records:
        return {}
    found: dict[str, list[tuple[int, str]]] = {}
    query = _SCANS % _values(records)
    for row in solutions(repo.site.working.query(query)):
        pos = row["pos"]
        found.setdefault(value(row["r"]), []).append(
            (int(value(pos)) if pos is not None else 0, value(row["i"])))
    out = {}
    for record, scans in found.items():
        for _pos, iri in sorted(scans):
            inst = reads.load(iri)
            if inst is not None and not inst.deleted and reads.can_view(user, inst):
                out[record] = iri.rsplit("/", 1)[-1]
                break
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
