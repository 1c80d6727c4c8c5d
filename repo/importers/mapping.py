"""EAD component records → repository objects (RiC-O descriptions), per the mapping table.

Each component becomes one object of the content type its ``@level`` maps to (see
``ontology/mappings/ead2002.yaml``), placed in its parent's object, in document order. Its
description holds what it says of itself (title, dates, notes, links to agents and places)
and, in its own graph, the nodes rico-converter would make: the primary instantiation
``#i1`` (unitid, extent, physical location, custodial history), the digital instantiations
``#dao-N``/``#daogrp-N``, and nodes for notes and access points that RiC-O models as
things of their own. Agents and places are found or created (``repo.importers.agents``).

Reference codes: a unitid that is a valid DA/T 13-2022 code (档号) in its place — right
level, right fonds, not used elsewhere — becomes the object's ``refcode``; every other
unitid (the Archives nationales' cotes, box numbers, other systems' codes) is kept as
``rico:identifier`` of the primary instantiation, as rico-converter does, and is never
checked as a 档号.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode

from ontology.mappings import load
from ontology.namespaces import ISO639, RDF_TYPE, RICO
from repo import refcodes
from repo.errors import Invalid, LantaiError
from repo.importers import lang as languages
from repo.importers.agents import AgentIndex, new_key, slugify
from repo.importers.dates import earliest, latest, literal
from repo.importers.ead import Component, Header, Name, Text
from repo.importers.safexml import fail
from repo.repository import NewObject, Repository
from repo.values import iso639_2b

DC_FORMAT = NamedNode("http://purl.org/dc/elements/1.1/format")
RDFS_SEEALSO = NamedNode("http://www.w3.org/2000/01/rdf-schema#seeAlso")
UNTITLED = {"zh": "[无题名]", "ja": "[無題]", "fr": "[sans titre]", "en": "[untitled]"}
_SLUG_CHARS = re.compile(r"[^a-z0-9._-]+")

# what an importer adds to a description: (subject, predicate, object), as NewObject takes
Statement = tuple[NamedNode, NamedNode, NamedNode | Literal]


def rico(local: str) -> NamedNode:
    return NamedNode(RICO + local)


@dataclass
class Placed:
    """A component already turned into an object: what its children need to know."""

    iri: str
    type: str
    fonds_code: str | None
    path: str = ""
    child_slugs: set[str] = field(default_factory=set)


@dataclass
class Target:
    """Where the finding aid goes (``--into``) and the 档号 context found there."""

    iri: str
    type: str  # "root" for the site root
    path: str = ""  # "" for the site root
    fonds_code: str | None = None
    category: str | None = None
    retention: str | None = None


class EadMapper:
    """Turns one file's records into :class:`NewObject` s (agents and places first)."""

    def __init__(self, repo: Repository, target: Target, index: AgentIndex, source: str,
                 tick: Callable[[], None] | None = None) -> None:
        self.repo = repo
        self.target = target
        self.index = index
        self.source = source
        self.tick = tick
        self.map = load("ead2002")
        self.header = Header()
        self.placed: dict[int, Placed] = {}
        self.codes: set[str] = set()
        self.warnings: list[str] = []
        self.created: dict[str, int] = {}
        self.lines: dict[str, int] = {}  # path of a new object → line of its component
        self.top_slugs: set[str] = set()  # (a file may hold several archdesc)
        self.internal_components = 0  # arrived closed: marked audience="internal"
        self.staff_notes = 0  # internal notes kept staff-only

    # ------------------------------------------------------------------ driving
    def objects(self, records: Iterable[Header | Component]) -> Iterator[NewObject]:
        for rec in records:
            if isinstance(rec, Header):
                self.header = rec
                continue
            try:
                yield from self.component(rec)
            except LantaiError as exc:
                raise fail(self.source, rec.line, exc.message) from None
            if self.tick:
                self.tick()

    def warn(self, comp: Component, text: str) -> None:
        self.warnings.append(f"{self.source}:{comp.line}: {text}")

    # ------------------------------------------------------------------ one component
    def component(self, comp: Component) -> Iterator[NewObject]:
        parent = self.placed.get(comp.parent) if comp.parent is not None else None
        container = parent.type if parent else self.target.type
        type_name = self._type(comp, container)
        ctype = self.repo.profile.type(type_name)
        key = new_key()
        iri = self.repo.iri_for(ctype.kind, key)
        node = NamedNode(iri)
        st: list[Statement] = []
        todo: list[NewObject] = []
        fields = ctype.fields

        # level kept for the way back when the type does not say it
        level = comp.level or ""
        if type_name == "otherlevel" and (level not in ("", "otherlevel") or comp.otherlevel):
            lvl = NamedNode(iri + "#level")
            st += [(lvl, RDF_TYPE, rico("RecordSetType")), (lvl, rico("identifier"),
                                                            Literal(level or "otherlevel")),
                   (lvl, rico("isRecordSetTypeOf"), node)]
            if comp.otherlevel:
                st.append((lvl, rico("name"), Literal(comp.otherlevel)))

        # titles, one per language
        titles = _merge(comp.titles, " ; ")
        if not titles and fields["title"].min_count:
            titles = [self._supplied_title(comp)]
        st += [(node, rico("title"), Literal(t.value, language=t.lang)) for t in titles]

        # unitids: a valid 档号 fills refcode, the others go to the instantiation
        fonds_code = parent.fonds_code if parent else self.target.fonds_code
        i1: list[Statement] = []
        inst = NamedNode(iri + "#i1")
        refcode = None
        kept = 0
        for unitid in comp.unitids:
            if refcode is None and "refcode" in fields and self._refcode_ok(
                    unitid, type_name, fonds_code):
                refcode = refcodes.parse(unitid)
                code = str(refcode)
                self.codes.add(code)
                st.append((node, rico("identifier"), Literal(code)))
                if type_name == "fonds":
                    fonds_code = refcode.fonds
            else:
                i1.append((inst, rico("identifier"), Literal(unitid)))
                if comp.parent is None:  # the collection's own identifier (not only #i1's)
                    kept += 1
                    st += self._record_identifier(iri, node, unitid, kept)

        st += self._dates(comp, node, iri)
        st += self._languages(comp, node, type_name)

        # origination, repository
        for name in comp.origination:
            agent_iri, new = self._agent(name, comp)
            todo += new
            if agent_iri:
                st.append((node, rico("hasOrganicProvenance"), NamedNode(agent_iri)))
        for n, text in enumerate(comp.origination_text, start=1):
            o = NamedNode(f"{iri}#origination-{n}")
            st += [(o, RDF_TYPE, rico("Agent")), (o, rico("name"), _lit(text)),
                   (o, rico("isOrganicProvenanceOf"), node)]
        for name in comp.repository:
            agent_iri, new = self._agent(name, comp)
            todo += new
            if agent_iri:
                st.append((node, rico("hasOrHadHolder"), NamedNode(agent_iri)))

        # notes with a field, notes on the instantiation, notes as nodes
        notes_map, inst_map, nodes_map = (self.map["notes"], self.map["instantiation"],
                                          self.map["note_nodes"])
        staff, closed_by = self._staff_notes(comp, fields)
        by_field: dict[str, list[Text]] = {}
        for element, texts in comp.notes.items():
            if element in notes_map:
                by_field.setdefault(notes_map[element], []).extend(texts)
            elif element in inst_map:
                i1 += [(inst, rico(inst_map[element]), _lit(t)) for t in _merge(texts, "\n\n")]
            elif element in nodes_map:
                spec = nodes_map[element]
                for n, t in enumerate(texts, start=1):
                    nn = NamedNode(f"{iri}#{element}-{n}")
                    st += [(nn, RDF_TYPE, rico(spec["class"])),
                           (nn, rico(spec.get("text", "generalDescription")), _lit(t)),
                           (nn, rico(spec["link"]), node)]
                    if spec.get("form"):
                        st.append((nn, rico("hasDocumentaryFormType"),
                                   NamedNode(self.map["finding_aid_form"])))
        for field_name, texts in staff.items():  # stripped from the public view
            path = NamedNode(fields[field_name].path)
            st += [(node, path, _lit(t)) for t in _merge(texts, "\n\n")]
        for field_name, texts in by_field.items():
            if field_name in fields and field_name not in staff:
                path = NamedNode(fields[field_name].path)
                st += [(node, path, _lit(t)) for t in _merge(texts, "\n\n")]
                continue
            # a note the type has no field for (accruals on an item: RiC-O says record
            # sets only) is kept as a node, found again on export by its fragment
            element = next(e for e, f in notes_map.items() if f == field_name)
            for n, t in enumerate(_merge(texts, "\n\n"), start=1):
                nn = NamedNode(f"{iri}#{element}-{n}")
                st += [(nn, RDF_TYPE, rico("Thing")), (nn, rico("generalDescription"), _lit(t)),
                       (nn, rico("isRelatedTo"), node)]

        # physical description and location → the primary instantiation
        i1 += [(inst, rico("instantiationExtent"), _lit(t)) for t in comp.extents]
        i1 += [(inst, rico("physicalCharacteristicsNote"), _lit(t)) for t in comp.physdesc]
        i1 += [(inst, rico("carrierExtent"), _lit(t)) for t in comp.dimensions]
        for n, t in enumerate(comp.physlocs, start=1):
            p = NamedNode(f"{iri}#physloc-{n}")
            i1 += [(inst, rico("hasOrHadLocation"), p), (p, RDF_TYPE, rico("Place")),
                   (p, rico("name"), _lit(t))]
        for n, (kind, label) in enumerate(comp.containers, start=1):
            p = NamedNode(f"{iri}#container-{n}")
            i1 += [(inst, rico("hasOrHadLocation"), p), (p, RDF_TYPE, rico("Place")),
                   (p, rico("name"), Literal(label))]
            if kind:
                i1.append((p, rico("type"), Literal(kind)))

        # access points
        subjects: list[str] = []
        concepts = self.map["concepts"]
        counters: dict[str, int] = {}
        for name in comp.access:
            if name.element in self.map["agents"] or name.element in self.map["places"]:
                agent_iri, new = self._agent(name, comp)
                todo += new
                if agent_iri and agent_iri not in subjects:
                    subjects.append(agent_iri)
                continue
            spec = concepts.get(name.element, {"class": "Thing", "link": "isOrWasSubjectOf"})
            counters[name.element] = counters.get(name.element, 0) + 1
            c = NamedNode(f"{iri}#{name.element}-{counters[name.element]}")
            link = spec.get("link_record", spec["link"]) if ctype.rdf_class == RICO + \
                "Record" else spec["link"]
            st += [(c, RDF_TYPE, rico(spec["class"])), (c, rico("name"),
                                                        Literal(name.text, language=name.lang)),
                   (c, rico(link), node)]
            if name.authfilenumber:
                st.append((c, rico("identifier"), Literal(name.authfilenumber)))
        st += [(node, rico("hasOrHadSubject"), NamedNode(s)) for s in subjects]

        # digital objects → digital instantiations derived from #i1 (rico-converter)
        dao_map = self.map["dao"]
        for n, dao in enumerate(comp.daos, start=1):
            d = NamedNode(f"{iri}#{dao.kind}-{n}")
            st += [(d, RDF_TYPE, rico("Instantiation")),
                   (d, rico("isOrWasDigitalInstantiationOf"), node),
                   (d, rico("isOrWasDerivedFromInstantiation"), inst),
                   (d, rico("hasProductionTechniqueType"),
                    NamedNode(dao_map["production_technique"])),
                   (d, DC_FORMAT, Literal(dao.mime, language="en"))]
            for href in dao.hrefs:
                st.append((d, rico("identifier"), Literal(href)))
                if re.match(r"^https?://\S+$", href):
                    st.append((d, RDFS_SEEALSO, NamedNode(href)))
            if dao.title:
                st.append((d, rico("title"), _lit(self._text(dao.title, comp))))
            st += [(d, rico("generalDescription"), _lit(t)) for t in _merge(dao.desc, "\n\n")]
        if i1 or comp.daos:
            i1 = [(inst, RDF_TYPE, rico("Instantiation")),
                  (inst, rico("isOrWasInstantiationOf"), node), *i1]
        st += i1

        # the finding aid itself, on the top object
        if comp.parent is None:
            st += self._finding_aid(iri, node)

        slug = self._slug(comp, parent, key, refcode, titles)
        parent_ref = parent.iri if parent else self.target.iri
        self.placed[comp.ordinal] = Placed(iri, type_name, fonds_code,
                                           path=(parent.path if parent else self.target.path)
                                           + "/" + slug)
        self.lines[self.placed[comp.ordinal].path] = comp.line
        self.created[type_name] = self.created.get(type_name, 0) + 1
        access = None
        if comp.internal or closed_by:
            access = "restricted"
            self.internal_components += 1
            if not comp.internal:
                self.warn(comp, f"{', '.join(closed_by)} marked audience=\"internal\": "
                                "the component arrived closed (restricted)")
        yield from todo
        yield NewObject(parent_ref, type_name, {}, slug=slug, key=key, statements=tuple(st),
                        access=access, personal_fields=tuple(staff))

    # ------------------------------------------------------------------ parts
    def _record_identifier(self, iri: str, node: NamedNode, unitid: str, n: int
                           ) -> list[Statement]:
        """``{iri}#unitid-N``: a unitid as an identifier of the record set itself."""
        spec = self.map["record_identifier"]
        idn = NamedNode(f"{iri}#unitid-{n}")
        return [(idn, RDF_TYPE, rico(spec["class"])), (idn, rico(spec["text"]), Literal(unitid)),
                (idn, rico(spec["link"]), node)]

    def _staff_notes(self, comp: Component, fields: dict) -> tuple[dict[str, list[Text]],
                                                                     list[str]]:
        """Internal notes by the field that keeps them staff-only, and what could not be.

        A note's field is marked personal on the object (``lt:personalField``), so the
        public view never has it (``repo.publication``); a note that has no field of its
        own on this type (acqinfo, custodhist…: nodes, which are public with the object)
        goes to the general note field. Open notes of a field used so are kept as nodes
        ``#{element}-N`` instead, so that they stay public. When the type has no field for
        a note at all, the component is closed instead."""
        staff: dict[str, list[Text]] = {}
        unkept: list[str] = []
        for element, texts in comp.internal_notes.items():
            name = self.map["notes"].get(element)
            if name not in fields:
                name = "note" if "note" in fields else None
            if name is None:
                unkept.append(element)
            else:
                staff.setdefault(name, []).extend(texts)
        if staff:
            self.staff_notes += comp.internal_note_count
        return staff, [*comp.internal_parts, *unkept]

    def _type(self, comp: Component, container: str) -> str:
        levels = self.map["levels"]
        wanted = levels.get(comp.level or "", levels.get(comp.level.lower() if comp.level
                                                         else "", self.map["fallback"]))
        if comp.level and comp.level.lower() not in levels:
            self.warn(comp, f"level {comp.level!r} is not an EAD 2002 level; "
                      f"imported as {self.map['fallback']}")
        profile = self.repo.profile
        if container in profile.type(wanted).allowed_in:
            return wanted
        fallback = self.map["fallback"]
        where = "/" if container == "root" else f"a {container}"
        self.warn(comp, f"a {wanted} cannot be placed in {where}; imported as {fallback} "
                        f"(the level is kept for export)")
        if container not in profile.type(fallback).allowed_in:
            raise Invalid(f"nothing from a finding aid can be placed in a {container}")
        return fallback

    def _text(self, value: str, comp: Component) -> Text:
        tag, _ = languages.choose(value, None, self.header.languages)
        return Text(value, tag)

    def _supplied_title(self, comp: Component) -> Text:
        for candidate in (*comp.unitids, *(d.text for d in comp.dates if d.text)):
            return self._text(candidate, comp)
        lang = self.header.default_lang or "en"
        primary = lang.split("-")[0]
        return Text(UNTITLED.get(primary, UNTITLED["en"]), primary if primary in UNTITLED
                    else "en")

    def _refcode_ok(self, unitid: str, type_name: str, fonds_code: str | None) -> bool:
        """Is this unitid a 档号 that fits here (and is not used by another object)?"""
        try:
            rc = refcodes.check(unitid, type_name=type_name, fonds=fonds_code,
                                category=self.target.category,
                                retention=self.target.retention)
        except Invalid:
            return False
        code = str(rc)
        used = next(self.repo.working.quads_for_pattern(None, rico("identifier"),
                                                        Literal(code), None), None)
        return code not in self.codes and used is None

    def _dates(self, comp: Component, node: NamedNode, iri: str) -> list[Statement]:
        st: list[Statement] = []
        begin = end = None
        singles: list[str] = []
        texts: dict[str, list[str]] = {}
        for d in comp.dates:
            if d.normal and d.normal.single:
                if d.normal.single not in singles:
                    singles.append(d.normal.single)
            elif d.normal:
                begin, end = earliest(begin, d.normal.begin), latest(end, d.normal.end)
            if d.text:
                texts.setdefault(d.lang, [])
                if d.text not in texts[d.lang]:
                    texts[d.lang].append(d.text)
        if begin and end:
            st += [(node, rico("beginningDate"), literal(begin)),
                   (node, rico("endDate"), literal(end))]
        st += [(node, rico("date"), literal(s)) for s in singles]
        for tag, values in texts.items():
            for v in values:
                st.append((node, rico("date"), Literal(v, language=tag)
                           if tag != languages.NO_TEXT else Literal(v)))
        if len(comp.dates) > 1:  # keep each unitdate as written, for the way back
            for n, d in enumerate(comp.dates, start=1):
                dn = NamedNode(f"{iri}#unitdate-{n}")
                st += [(dn, RDF_TYPE, rico("Date")), (dn, rico("isDateAssociatedWith"), node)]
                if d.text:
                    st.append((dn, rico("expressedDate"), Literal(d.text, language=d.lang)
                               if d.lang != languages.NO_TEXT else Literal(d.text)))
                if d.normal:
                    st.append((dn, rico("normalizedDateValue"), Literal(d.normal.text)))
                if d.type:
                    st.append((dn, rico("dateQualifier"), Literal(d.type)))
        return st

    def _languages(self, comp: Component, node: NamedNode, type_name: str) -> list[Statement]:
        fields = self.repo.profile.type(type_name).fields
        prop = "materialLanguage" if "materialLanguage" in fields else "language"
        path = NamedNode(fields[prop].path)
        out: list[Statement] = []
        seen: set[str] = set()
        for given in comp.languages:
            code = iso639_2b(given)
            if code is None:
                self.warn(comp, f"langmaterial: {given!r} is not an ISO 639 code of a known "
                                "language; not kept")
            elif code not in seen:
                seen.add(code)
                out.append((node, path, NamedNode(ISO639 + code)))
        return out

    def _agent(self, name: Name, comp: Component) -> tuple[str | None, list[NewObject]]:
        type_name = self.map["agents"].get(name.element) or self.map["places"].get(
            name.element) or "corporatebody"
        lang = name.lang
        if not languages.fits(name.text, lang):
            lang = self._text(name.text, comp).lang
        if lang == languages.NO_TEXT:
            lang = "und"
        return self.index.get_or_create(type_name, name.text, lang, name.authfilenumber)

    def _finding_aid(self, iri: str, node: NamedNode) -> list[Statement]:
        h = self.header
        fa = NamedNode(iri + "#findingaid")
        st: list[Statement] = [(fa, RDF_TYPE, rico("Record")),
              (fa, rico("hasDocumentaryFormType"), NamedNode(self.map["finding_aid_form"])),
              (fa, rico("describesOrDescribed"), node)]
        if h.eadid:
            st.append((fa, rico("identifier"), Literal(h.eadid)))
        st += [(fa, rico("title"), _lit(t)) for t in _merge(h.titles, " : ")]
        for tag in h.languages:
            st.append((fa, rico("hasOrHadLanguage"),
                       NamedNode(ISO639 + languages.iso639_2(tag))))
        return st

    def _slug(self, comp: Component, parent: Placed | None, key: str,
              refcode: refcodes.RefCode | None, titles: list[Text]) -> str:
        candidates = [str(refcode) if refcode else None, *comp.unitids,
                      *(t.value for t in titles if t.lang.startswith("en")), comp.id]
        if comp.parent is None and self.header.eadid:
            candidates.insert(0, self.header.eadid)
        base = key
        for c in candidates:
            if c:
                s = slugify(c, "")
                s = _SLUG_CHARS.sub("-", s).strip("-._")[:56]
                if s:
                    base = s
                    break
        taken = parent.child_slugs if parent else self.top_slugs
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        return slug


def _lit(t: Text) -> Literal:
    if t.lang == languages.NO_TEXT:
        return Literal(t.value, language="zxx")
    return Literal(t.value, language=t.lang)


def _merge(texts: Iterable[Text], sep: str) -> list[Text]:
    """One text per language (the profile allows one), in first-seen order."""
    out: dict[str, list[str]] = {}
    for t in texts:
        values = out.setdefault(t.lang, [])
        if t.value not in values:
            values.append(t.value)
    return [Text(sep.join(v), tag) for tag, v in out.items()]
