"""EAC-CPF authority records → person, corporate body and family objects in /agents.

One file describes one agent. Its names (with their dates of use) become the agent's
``name`` (one per language, the authorised form first) and ``rico:AgentName`` nodes of its
graph (as rico-converter does); existence dates become birth/death dates (persons) or
beginning/end dates; the biographical history becomes ``history``; places and occupations
are linked or kept as nodes; relations to other agents and to records become links when
the other end is in the repository, and otherwise nodes that the agent imported later
links back to (see ``ontology/mappings/eac-cpf.yaml``).

An agent already in the repository (an EAD import may have created it from an
``authfilenumber``, which is the EAC ``recordId``) is updated in one edit; a new one is
created in one ingest. Either way the file is applied completely or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from pyoxigraph import Literal, NamedNode

from ontology import terms
from ontology.mappings import load
from ontology.namespaces import RDF_TYPE, RICO
from repo.errors import Invalid, LantaiError
from repo.importers import lang as languages
from repo.importers.agents import AgentIndex, Entry, new_key, slugify
from repo.importers.dates import iso, literal
from repo.importers.safexml import attr, check_prolog, fail, local, parser_options, text_of
from repo.repository import NewObject, Repository
from repo.security import User
from repo.values import Assignment

EAC_NS = "urn:isbn:1-931666-33-4"


@dataclass
class AgentRecord:
    """What an EAC-CPF file says, as plain data."""

    type: str
    record_id: str | None
    other_ids: list[str] = field(default_factory=list)
    names: list[dict] = field(default_factory=list)  # text, lang, authorized, from, to, type
    exist_from: str | None = None
    exist_to: str | None = None
    history: list[tuple[str, str]] = field(default_factory=list)  # (text, lang)
    places: list[tuple[str, str]] = field(default_factory=list)
    occupations: list[tuple[str, str]] = field(default_factory=list)
    cpf_relations: list[dict] = field(default_factory=list)
    resource_relations: list[dict] = field(default_factory=list)
    line: int = 1


@dataclass
class Report:
    source: str
    path: str = ""
    type: str = ""
    action: str = "created"
    objects: int = 0
    warnings: list[str] = field(default_factory=list)


def parse(path: Path, display: str | None = None) -> etree._Element:
    """The whole record (authority records are small), parsed with the safe options."""
    source = display or str(path)
    if not path.is_file():
        raise Invalid(f"{source}: no such file")
    check_prolog(path, source)
    try:
        root = etree.parse(str(path), etree.XMLParser(**parser_options())).getroot()
    except etree.XMLSyntaxError as exc:
        raise fail(source, exc.lineno, str(exc.msg or exc)) from None
    ns = root.tag.rpartition("}")[0].lstrip("{") if isinstance(root.tag, str) else ""
    if local(root.tag) != "eac-cpf" or ns not in ("", EAC_NS):
        raise fail(source, root.sourceline, f"not an EAC-CPF record: the root is "
                   f"<{local(root.tag)}>")
    return root


def _children(elem: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in elem.iter() if local(c.tag) == name]


def _first(elem: etree._Element, name: str) -> etree._Element | None:
    return next(iter(_children(elem, name)), None)


def _date(elem: etree._Element | None) -> str | None:
    if elem is None:
        return None
    return iso(attr(elem, "standardDate") or "") or iso(text_of(elem))


def read(root: etree._Element, source: str) -> AgentRecord:
    """An EAC-CPF document as an :class:`AgentRecord`."""
    m = load("eac-cpf")
    etype = _first(root, "entityType")
    entity = text_of(etype) if etype is not None else ""
    type_name = m["entity_types"].get(entity)
    if type_name is None:
        raise fail(source, etype.sourceline if etype is not None else 1,
                   f"entityType {entity!r}: person, corporateBody or family")
    decl = _first(root, "languageDeclaration")
    declared = _first(decl, "language") if decl is not None else None
    default = languages.normalise(attr(declared, "languageCode")) \
        if declared is not None else None
    hints = [default] if default else []
    for ne in _children(root, "nameEntry"):  # the names' own languages hint at the others
        stated = languages.normalise(attr(ne, "lang"))
        if stated and stated not in hints:
            hints.append(stated)
    rec_id = _first(root, "recordId")
    rec = AgentRecord(type_name, text_of(rec_id) if rec_id is not None else None,
                      line=root.sourceline or 1)
    for e in _children(root, "entityId"):
        if text_of(e):
            rec.other_ids.append(text_of(e))

    def tag(text: str, elem: etree._Element) -> str:
        explicit = languages.normalise(attr(elem, "lang"))
        return languages.choose(text, explicit, hints)[0]

    for ne in _children(root, "nameEntry"):
        parts = [text_of(p) for p in _children(ne, "part") if text_of(p)]
        if not parts:
            continue
        text = ", ".join(parts)
        local_type = ne.get("localType") or ""
        authorized = bool(re.search(r"autori|authori|preferred|préfér", local_type, re.I)) or \
            any(local(a.tag) == "authorizedForm" for a in ne)
        use = _first(ne, "useDates")
        rec.names.append({"text": text, "lang": tag(text, ne), "authorized": authorized,
                          "from": _date(_first(use, "fromDate")) if use is not None else None,
                          "to": _date(_first(use, "toDate")) if use is not None else None,
                          "type": local_type})
    if not rec.names:
        raise fail(source, rec.line, "no nameEntry: an agent needs a name")
    rec.names.sort(key=lambda n: not n["authorized"])
    exist = _first(root, "existDates")
    if exist is not None:
        rng = _first(exist, "dateRange")
        if rng is not None:
            rec.exist_from, rec.exist_to = _date(_first(rng, "fromDate")), _date(
                _first(rng, "toDate"))
        elif _first(exist, "date") is not None:
            rec.exist_from = _date(_first(exist, "date"))
    for bh in _children(root, "biogHist"):  # paragraphs grouped by their language
        paras = [p for p in bh if local(p.tag) in ("p", "chronList") and text_of(p)]
        by_lang: dict[str, list[str]] = {}
        for p in paras or [bh]:
            explicit = languages.normalise(attr(p, "lang") or attr(bh, "lang"))
            lang = languages.choose(text_of(p), explicit, hints)[0]
            by_lang.setdefault(lang, []).append(text_of(p))
        rec.history += [("\n\n".join(v), lang) for lang, v in by_lang.items() if any(v)]
    for pe in _children(root, "placeEntry"):
        if text_of(pe):
            rec.places.append((text_of(pe), tag(text_of(pe), pe)))
    for oc in _children(root, "occupation"):
        term = _first(oc, "term")
        if term is not None and text_of(term):
            rec.occupations.append((text_of(term), tag(text_of(term), term)))
    for rel in _children(root, "cpfRelation"):
        entry = _first(rel, "relationEntry")
        rec.cpf_relations.append({"type": rel.get("cpfRelationType") or "",
                                  "href": (attr(rel, "href") or "").strip(),
                                  "name": text_of(entry) if entry is not None else "",
                                  "role": attr(rel, "role") or ""})
    for rel in _children(root, "resourceRelation"):
        entry = _first(rel, "relationEntry")
        rec.resource_relations.append({"type": rel.get("resourceRelationType") or "",
                                       "href": (attr(rel, "href") or "").strip(),
                                       "name": text_of(entry) if entry is not None else ""})
    return rec


def _group(type_name: str) -> str:
    return "person" if type_name == "person" else "group"


def _record_object(repo: Repository, href: str) -> str | None:
    """A record object a resourceRelation points at: by IRI, path or identifier."""
    if not href:
        return None
    iri = None
    if href.startswith(("http://", "https://", "/")):
        try:
            iri = repo.resolve(href)
        except LantaiError:
            iri = None
    if iri is None:
        q = next(repo.working.quads_for_pattern(None, NamedNode(RICO + "identifier"),
                                                Literal(href), None), None)
        if q is not None:
            iri = terms.value(q.subject).split("#", 1)[0]
    if iri and repo.class_of(iri) in (RICO + "RecordSet", RICO + "Record",
                                      RICO + "RecordResource"):
        return iri
    return None


def import_eac(repo: Repository, user: User, path: Path | str, *,
               index: AgentIndex | None = None, message: str | None = None,
               display: str | None = None) -> Report:
    """Import one EAC-CPF file: create the agent, or update the one already there.
    ``display``: the file's name in messages (an upload's, not where it was staged)."""
    path = Path(path)
    source = display or str(path)
    rec = read(parse(path, source), source)
    index = index or AgentIndex(repo)
    m = load("eac-cpf")
    report = Report(source, type=rec.type)
    ids = [i for i in (rec.record_id, *rec.other_ids) if i]
    existing = None
    for i in ids:
        existing = index.find(rec.type, rec.names[0]["text"], i)
        if existing is not None:
            break
    if existing is None:
        existing = index.find(rec.type, rec.names[0]["text"], None)
    if existing is not None and existing.type not in ("person", "corporatebody", "family"):
        existing = None
    if existing is not None and existing.type != rec.type:
        report.warnings.append(f"{source}:{rec.line}: {existing.iri} is a {existing.type}; "
                               f"the record says {rec.type} (kept {existing.type})")
    type_name = existing.type if existing else rec.type
    key = new_key()  # used when the agent is new
    iri = existing.iri if existing else repo.iri_for(repo.profile.type(type_name).kind, key)
    node = NamedNode(iri)
    sets: list[Assignment] = []
    st: list[tuple] = []

    seen_langs = set()
    for n, name in enumerate(rec.names, start=1):
        if name["lang"] not in seen_langs:
            seen_langs.add(name["lang"])
            sets.append(Assignment("name", name["lang"], name["text"]))
        an = NamedNode(f"{iri}#name-{n}")
        st += [(an, RDF_TYPE, NamedNode(RICO + "AgentName")),
               (an, NamedNode(RICO + "textualValue"), Literal(name["text"],
                                                             language=name["lang"])),
               (an, NamedNode(RICO + "isOrWasAgentNameOf"), node)]
        if name["from"]:
            st.append((an, NamedNode(RICO + "usedFromDate"), literal(name["from"])))
        if name["to"]:
            st.append((an, NamedNode(RICO + "usedToDate"), literal(name["to"])))
        if name["type"]:
            st.append((an, NamedNode(RICO + "type"), Literal(name["type"])))
    dates = m["exist_dates"][type_name]
    if rec.exist_from:
        sets.append(Assignment(dates["from"], None, rec.exist_from))
    if rec.exist_to:
        sets.append(Assignment(dates["to"], None, rec.exist_to))
    hist: dict[str, list[str]] = {}
    for text, tag in rec.history:
        hist.setdefault(tag, []).append(text)
    sets += [Assignment("history", tag, "\n\n".join(v)) for tag, v in hist.items()]
    adds = [Assignment("identifier", None, i) for i in ids]

    for n, (text, tag) in enumerate(rec.places, start=1):
        found = index.find("place", text, None)
        if found is not None:
            adds.append(Assignment("place", None, found.iri))
        else:
            p = NamedNode(f"{iri}#place-{n}")
            st += [(p, RDF_TYPE, NamedNode(RICO + "Place")),
                   (p, NamedNode(RICO + "name"), Literal(text, language=tag)),
                   (p, NamedNode(RICO + "isPlaceAssociatedWithAgent"), node)]
    for n, (text, tag) in enumerate(rec.occupations, start=1):
        o = NamedNode(f"{iri}#occupation-{n}")
        st += [(o, RDF_TYPE, NamedNode(RICO + "OccupationType")),
               (o, NamedNode(RICO + "name"), Literal(text, language=tag)),
               (o, NamedNode(RICO + "isOrWasOccupationTypeOf"), node)]

    # relations to agents: a link if the other end is here, else a node to link back to
    fields = repo.profile.type(type_name).fields
    for n, rel in enumerate(rec.cpf_relations, start=1):
        href = rel["href"]
        if rel["type"] == "identity":
            if re.match(r"^https?://\S+$", href):
                adds.append(Assignment(m["identity"], None, href))
            continue
        other = index.find("corporatebody", rel["name"], href or None) or index.find(
            "person", rel["name"], href or None) or index.find("family", rel["name"], None)
        kinds = m["relations"].get(rel["type"], m["relations"][""])
        if other is not None and other.iri != iri:
            pair = f"{_group(type_name)}>{_group(other.type)}"
            fname = kinds.get(pair, kinds["any"])
            if fname in fields:
                adds.append(Assignment(fname, None, other.iri))
                continue
        r = NamedNode(f"{iri}#relation-{n}")
        st += [(r, RDF_TYPE, NamedNode(RICO + "Agent")),
               (r, NamedNode(RICO + "isAgentAssociatedWithAgent"), node),
               (r, NamedNode(RICO + "type"), Literal(rel["type"] or "associative"))]
        if rel["name"]:
            tag = languages.choose(rel["name"], None, [rec.names[0]["lang"]])[0]
            st.append((r, NamedNode(RICO + "name"), Literal(rel["name"], language=tag)))
        if href:
            st.append((r, NamedNode(RICO + "identifier"), Literal(href)))
    # agents imported earlier that named this one: link back with the inverse field
    for i in ids:
        for q in repo.working.quads_for_pattern(None, NamedNode(RICO + "identifier"),
                                                Literal(i), None):
            subject = terms.value(q.subject)
            if "#relation-" not in subject:
                continue
            other_iri = subject.split("#", 1)[0]
            naming = repo.load(other_iri)
            if naming is None or naming.deleted or other_iri == iri:
                continue
            kind = next((terms.value(x.object) for x in naming.description
                         if terms.value(x.subject) == subject
                         and x.predicate.value == RICO + "type"), "associative")
            kinds = m["relations"].get(kind, m["relations"][""])
            fname = kinds.get(f"{_group(naming.type_name)}>{_group(type_name)}", kinds["any"])
            inverse = m["inverse"].get(fname, "associatedWith")
            if inverse in fields:
                adds.append(Assignment(inverse, None, other_iri))
    for n, rel in enumerate(rec.resource_relations, start=1):
        spec = m["resource_relations"].get(rel["type"], m["resource_relations"][""])
        target = _record_object(repo, rel["href"])
        if target is not None:
            adds.append(Assignment(spec["field"], None, target))
            continue
        r = NamedNode(f"{iri}#resource-{n}")
        st += [(r, RDF_TYPE, NamedNode(RICO + "RecordResource")),
               (r, NamedNode(RICO + spec["node_link"]), node)]
        if rel["name"]:
            tag = languages.choose(rel["name"], None, [rec.names[0]["lang"]])[0]
            st.append((r, NamedNode(RICO + "title"), Literal(rel["name"], language=tag)))
        if rel["href"]:
            st.append((r, NamedNode(RICO + "identifier"), Literal(rel["href"])))

    adds = list({(a.field, a.value): a for a in adds}.values())
    msg = message or f"import {Path(source).name} (EAC-CPF)"
    try:
        if existing is not None:
            obj = repo.get(user, iri)
            have = {(f, v if isinstance(v, str) else v[0]) for f, vs in
                    obj.fields(repo.base).items() for v in vs}
            adds = [a for a in adds if (a.field, a.value) not in have]
            try:
                obj = repo.edit(user, iri, set=sets, add=adds, message=msg,
                                statements=tuple(st))
            except Invalid as exc:
                if not exc.message.endswith("nothing to change"):
                    raise
            report.action, report.objects = "updated", 1
            report.path = obj.path
            return report
        folder, todo = index.folder("agents")
        slug = slugify(rec.names[0]["text"], key)
        taken = index.taken_slugs(folder)
        base, k = slug, 2
        while slug in taken:
            slug, k = f"{base}-{k}", k + 1
        todo.append(NewObject(folder, type_name, sets + adds, slug=slug, key=key,
                              statements=tuple(st)))
        created = repo.ingest(user, todo, message=msg)
    except LantaiError as exc:
        index.rollback()
        raise type(exc)(f"{source}:{rec.line}: {exc.message}") from None
    taken.add(slug)
    index.remember(Entry(iri, type_name), type_name, rec.names[0]["text"],
                    rec.record_id)
    for i in rec.other_ids:
        index.by_id.setdefault(i, Entry(iri, type_name))
    index.commit()
    report.objects = len(created)
    made = repo.load(iri)
    if made is None:  # repo.ingest above created it
        raise LantaiError(f"{source}: {iri} was created but cannot be read back")
    report.path = made.path
    return report
