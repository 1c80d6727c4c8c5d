"""Repository → EAD 2002 (namespaced, valid against the EAD 2002 schema).

The export walks the tree below one object (depth first, in tree order) and writes it with
lxml's incremental writer, so a finding aid of any size is written in bounded memory. The
mapping table ``ontology/mappings/ead2002.yaml`` is read backwards: each field, each node of
the object's own graph (``#i1``, ``#dao-N``, ``#acqinfo-N``…) goes back to the element it
came from. Objects created in Lantai (not imported) export the same way.

EAD 2002 has no language attribute on titles or paragraphs. Text in the finding aid's
language of description (its ``langusage``) is written plain; text in another language is
written as a repeated element with ``@altrender`` holding its BCP 47 tag (``zh``, ``en``,
``ja``), which the importer reads back. The output validates against the schema because
``altrender`` is allowed on every element. Restricted and personal components, and notes in
fields marked personal (staff-only), are written with ``audience="internal"``, which the
importer reads back as closed and staff-only.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.sax.saxutils import quoteattr

from lxml import etree
from pyoxigraph import Literal

from ontology import terms
from ontology.mappings import load
from ontology.namespaces import ISO639, RICO
from repo.errors import Invalid
from repo.importers import lang as languages
from repo.objects import ContentObject
from repo.repository import Repository
from repo.security import User

EAD_NS = "urn:isbn:1-931666-22-9"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{EAD_NS} http://www.loc.gov/ead/ead.xsd"
DC_FORMAT = "http://purl.org/dc/elements/1.1/format"
_FRAGMENT = re.compile(r"^(?P<kind>[a-z]+)(?:-(?P<n>\d+))?$")


NSMAP = {None: EAD_NS, "xlink": XLINK}


def E(name: str) -> str:
    return f"{{{EAD_NS}}}{name}"


def new(name: str, attrib: dict[str, str] | None = None) -> etree._Element:
    """A free-standing EAD element (its children inherit the namespace map)."""
    return etree.Element(E(name), attrib or {}, nsmap=NSMAP)


@dataclass
class Node:
    """Statements about one subject of an object's graph, by predicate."""

    values: dict[str, list] = field(default_factory=lambda: defaultdict(list))

    def get(self, prop: str) -> list:
        return self.values.get(prop, [])

    def texts(self, prop: str) -> list[Literal]:
        return [v for v in self.get(prop) if isinstance(v, Literal)]


@dataclass
class View:
    """An object's description split into its own statements and its nodes' (by fragment)."""

    own: Node
    nodes: dict[str, Node]  # fragment → statements

    @classmethod
    def of(cls, obj: ContentObject) -> View:
        own, nodes = Node(), dict[str, Node]()
        prefix = obj.iri + "#"
        for q in obj.description:
            s, p = terms.value(q.subject), q.predicate.value
            if s == obj.iri:
                own.values[p].append(q.object)
            elif s.startswith(prefix):
                nodes.setdefault(s[len(prefix):], Node()).values[p].append(q.object)
        return cls(own, nodes)

    def numbered(self, kind: str) -> list[tuple[str, Node]]:
        """Nodes ``#{kind}-N`` in N order."""
        out = []
        for frag, node in self.nodes.items():
            m = _FRAGMENT.match(frag)
            if m and m.group("kind") == kind and m.group("n"):
                out.append((int(m.group("n")), frag, node))
        return [(f, n) for _, f, n in sorted(out)]


def _rico(local: str) -> str:
    return RICO + local


class EadWriter:
    """Writes the subtree below one object as an EAD 2002 document."""

    def __init__(self, repo: Repository, user: User, *, progress: Callable[[], None] | None
                 = None) -> None:
        self.repo = repo
        self.user = user
        self.map = load("ead2002")
        self.progress = progress
        self.default_lang = "zh"
        self._agents: dict[str, tuple[str, dict[str, str], str | None]] = {}
        levels = {"otherlevel": "otherlevel"}
        for level, type_name in self.map["levels"].items():
            levels.setdefault(type_name, level or "otherlevel")
        self.type_levels = levels
        self.note_fields: dict[str, str] = {}
        for element, field_name in self.map["notes"].items():
            self.note_fields.setdefault(field_name, element)

    # ------------------------------------------------------------------ helpers
    def _lang_attr(self, lit: Literal) -> dict[str, str]:
        tag = lit.language or ""
        if not tag or tag == self.default_lang or tag == languages.NO_TEXT:
            return {}
        return {"altrender": tag}

    def _ordered(self, lits: Iterable[Literal]) -> list[Literal]:
        """Default language first, then the others by tag (stable output)."""
        return sorted(lits, key=lambda t: (t.language != self.default_lang, t.language or "",
                                           t.value))

    def _agent(self, iri: str) -> tuple[str, dict[str, str], str | None]:
        """(element, names by language, authority number) of an agent or place object."""
        if iri not in self._agents:
            obj = self.repo.load(iri)
            element = {"person": "persname", "corporatebody": "corpname", "family": "famname",
                       "place": "geogname"}.get(obj.type_name if obj else "", "name")
            names: dict[str, str] = {}
            ident = None
            if obj is not None:
                for q in obj.description:
                    if terms.value(q.subject) != iri:
                        continue
                    if q.predicate.value == _rico("name") and isinstance(q.object, Literal):
                        names.setdefault(q.object.language or "", q.object.value)
                    elif q.predicate.value == _rico("identifier"):
                        ident = ident or terms.value(q.object)
            self._agents[iri] = (element, names, ident)
        return self._agents[iri]

    def _name_el(self, iri: str) -> etree._Element:
        element, names, ident = self._agent(iri)
        lang = self.default_lang if self.default_lang in names else next(iter(sorted(names)),
                                                                          "")
        el = new(element)
        el.text = names.get(lang, iri)
        if ident:
            el.set("authfilenumber", ident)
        if lang and lang != self.default_lang and lang not in ("und", languages.NO_TEXT):
            el.set("altrender", lang)
        return el

    @staticmethod
    def _paras(parent: etree._Element, text: str) -> None:
        for para in [p for p in text.split("\n\n") if p.strip()] or [text]:
            p = etree.SubElement(parent, E("p"))
            p.text = para

    def _note(self, element: str, lits: Iterable[Literal], *,
              internal: bool = False) -> list[etree._Element]:
        out = []
        for lit in self._ordered(lits):
            el = new(element, self._lang_attr(lit))
            if internal:  # a staff-only field (marked personal): not for the public
                el.set("audience", "internal")
            self._paras(el, lit.value)
            out.append(el)
        return out

    # ------------------------------------------------------------------ one component
    def level(self, obj: ContentObject, view: View) -> tuple[str, str | None]:
        lvl = view.nodes.get("level")
        if lvl is not None:
            level = next((v.value for v in lvl.get(_rico("identifier"))), "otherlevel")
            other = next((v.value for v in lvl.get(_rico("name"))), None)
            return level, other
        return self.type_levels.get(obj.type_name, "otherlevel"), None

    def did(self, obj: ContentObject, view: View) -> etree._Element:
        own, i1 = view.own, view.nodes.get("i1", Node())
        did = new("did")
        spec = self.map["record_identifier"]
        unitids = [lit.value for lit in own.texts(_rico("identifier"))]  # the 档号
        unitids += [lit.value for _, node in view.numbered("unitid")  # the record set's
                    for lit in node.texts(_rico(spec["text"]))]
        unitids += sorted(lit.value for lit in i1.texts(_rico("identifier")))
        for value in dict.fromkeys(unitids):
            etree.SubElement(did, E("unitid")).text = value
        titles = self._ordered(own.texts(_rico("title")))
        for lit in titles:
            etree.SubElement(did, E("unittitle"), self._lang_attr(lit)).text = lit.value
        self._unitdates(did, own, view)
        self._physdesc(did, own, i1)
        langs = sorted({v.value[len(ISO639):] for p in ("hasOrHadAllMembersWithLanguage",
                                                       "hasOrHadLanguage")
                        for v in own.get(_rico(p)) if v.value.startswith(ISO639)})
        if langs:
            lm = etree.SubElement(did, E("langmaterial"))
            for code in langs:
                etree.SubElement(lm, E("language"), langcode=code)
        origins = [v.value for v in own.get(_rico("hasOrganicProvenance"))] + [
            v.value for v in own.get(_rico("hasCreator"))]
        if origins:
            og = etree.SubElement(did, E("origination"))
            for iri in sorted(dict.fromkeys(origins)):
                og.append(self._name_el(iri))
        for _, node in view.numbered("origination"):
            for lit in node.texts(_rico("name")):
                etree.SubElement(did, E("origination"), self._lang_attr(lit)).text = lit.value
        for v in sorted(own.get(_rico("hasOrHadHolder")), key=lambda v: v.value):
            rep = etree.SubElement(did, E("repository"))
            el = self._name_el(v.value)
            if el.tag != E("corpname"):
                el.tag = E("corpname")
            rep.append(el)
        for _, node in view.numbered("physloc"):
            for lit in node.texts(_rico("name")):
                etree.SubElement(did, E("physloc"), self._lang_attr(lit)).text = lit.value
        for _, node in view.numbered("container"):
            kinds = node.texts(_rico("type"))
            attrs = {"type": kinds[0].value} if kinds else {}
            for lit in node.texts(_rico("name")):
                etree.SubElement(did, E("container"), attrs).text = lit.value
        if len(did) == 0:
            etree.SubElement(did, E("unittitle"))
        return did

    def _unitdates(self, did: etree._Element, own: Node, view: View) -> None:
        written = view.numbered("unitdate")
        if written:
            for _, node in written:
                attrs = {}
                normal = next((v.value for v in node.texts(_rico("normalizedDateValue"))), None)
                if normal:
                    attrs["normal"] = normal
                qual = next((v.value for v in node.texts(_rico("dateQualifier"))), None)
                if qual:
                    attrs["type"] = qual
                text = next(iter(node.texts(_rico("expressedDate"))), None)
                if text is not None:
                    attrs.update(self._lang_attr(text))
                el = etree.SubElement(did, E("unitdate"), attrs)
                el.text = text.value if text is not None else (normal or "")
            return
        begin = next((v.value for v in own.texts(_rico("beginningDate"))), None)
        end = next((v.value for v in own.texts(_rico("endDate"))), None)
        dates = own.texts(_rico("date"))
        typed = sorted(v.value for v in dates if v.datatype.value.startswith(
            "http://www.w3.org/2001/XMLSchema#g") or v.datatype.value.endswith("#date"))
        texts = self._ordered(v for v in dates if v.language or v.datatype.value.endswith(
            "#string"))
        span = f"{begin}/{end}" if begin and end else begin or end
        normals = ([span] if span else []) + typed
        for i, lit in enumerate(texts):
            attrs = {"normal": normals[i]} if i < len(normals) and i == 0 else {}
            attrs.update(self._lang_attr(lit))
            etree.SubElement(did, E("unitdate"), attrs).text = lit.value
        for extra in normals[1 if texts else 0:]:
            etree.SubElement(did, E("unitdate"), normal=extra).text = extra

    def _physdesc(self, did: etree._Element, own: Node, i1: Node) -> None:
        extents = self._ordered([*i1.texts(_rico("instantiationExtent")),
                                 *own.texts(_rico("recordResourceExtent"))])
        dims = self._ordered(i1.texts(_rico("carrierExtent")))
        if extents or dims:
            pd = etree.SubElement(did, E("physdesc"))
            for lit in extents:
                etree.SubElement(pd, E("extent"), self._lang_attr(lit)).text = lit.value
            for lit in dims:
                etree.SubElement(pd, E("dimensions"), self._lang_attr(lit)).text = lit.value
        for lit in self._ordered(i1.texts(_rico("physicalCharacteristicsNote"))):
            etree.SubElement(did, E("physdesc"), self._lang_attr(lit)).text = lit.value

    def content(self, obj: ContentObject, view: View) -> list[etree._Element]:
        """The component's did and notes, in schema order (did first)."""
        own = view.own
        out = [self.did(obj, view)]
        fields = obj.type.fields
        for field_name, element in self.note_fields.items():
            f = fields.get(field_name)
            if f is not None:
                out += self._note(element, own.texts(f.path),
                                  internal=field_name in obj.personal_fields)
            for _, node in view.numbered(element):  # the type had no field for it
                out += self._note(element, node.texts(_rico("generalDescription")))
        i1 = view.nodes.get("i1", Node())
        out += self._note("custodhist", i1.texts(_rico("history")))
        for element, spec in self.map["note_nodes"].items():
            for _, node in view.numbered(element):
                out += self._note(element, node.texts(_rico(spec.get("text",
                                                                     "generalDescription"))))
        out += self._controlaccess(own, view)
        out += self._daos(view)
        return out

    def _controlaccess(self, own: Node, view: View) -> list[etree._Element]:
        ca = new("controlaccess")
        for v in sorted(own.get(_rico("hasOrHadSubject")), key=lambda v: v.value):
            ca.append(self._name_el(v.value))
        for element in (*self.map["concepts"], "name"):
            for _, node in view.numbered(element):
                for lit in node.texts(_rico("name")):
                    el = etree.SubElement(ca, E(element), self._lang_attr(lit))
                    el.text = lit.value
                    ident = next((v.value for v in node.texts(_rico("identifier"))), None)
                    if ident:
                        el.set("authfilenumber", ident)
        return [ca] if len(ca) else []

    def _daos(self, view: View) -> list[etree._Element]:
        found = [(int(f.split("-")[1]), f, n) for f, n in view.nodes.items()
                 if re.fullmatch(r"dao(grp)?-\d+", f)]
        out = []
        for _, frag, node in sorted(found):
            hrefs = sorted(v.value for v in node.texts(_rico("identifier")))
            title = next(iter(node.texts(_rico("title"))), None)
            desc = self._ordered(node.texts(_rico("generalDescription")))
            if frag.startswith("daogrp"):
                el = new("daogrp", {f"{{{XLINK}}}type": "extended"})
                if title is not None:
                    el.set(f"{{{XLINK}}}title", title.value)
            else:
                el = new("dao", {f"{{{XLINK}}}type": "simple",
                                              f"{{{XLINK}}}href": hrefs[0] if hrefs else ""})
                if title is not None:
                    el.set(f"{{{XLINK}}}title", title.value)
            if desc:
                dd = etree.SubElement(el, E("daodesc"))
                for lit in desc:
                    for para in lit.value.split("\n\n"):
                        etree.SubElement(dd, E("p"), self._lang_attr(lit)).text = para
            if frag.startswith("daogrp"):
                for href in hrefs:
                    etree.SubElement(el, E("daoloc"), {f"{{{XLINK}}}type": "locator",
                                                       f"{{{XLINK}}}href": href})
            out.append(el)
        return out

    # ------------------------------------------------------------------ the document
    def header(self, top: ContentObject, view: View) -> etree._Element:
        fa = view.nodes.get("findingaid", Node())
        langs = [v.value[len(ISO639):] for v in fa.get(_rico("hasOrHadLanguage"))
                 if v.value.startswith(ISO639)]
        if langs:
            first = languages.normalise(sorted(langs)[0]) or "zh"
            self.default_lang = first if len(langs) == 1 else self._main_lang(top, langs)
        else:
            tagged = [t.language for t in view.own.texts(_rico("title")) if t.language]
            self.default_lang = "zh" if "zh" in tagged or not tagged else sorted(tagged)[0]
            langs = [code for code in [languages.iso639_2(self.default_lang)] if code]
        h = new("eadheader", {"langencoding": "iso639-2b", "dateencoding": "iso8601"})
        eadid = next((v.value for v in fa.texts(_rico("identifier"))), None) or next(
            (v.value for v in view.own.texts(_rico("identifier"))), None) or \
            top.iri.rsplit("/", 1)[-1]
        etree.SubElement(h, E("eadid")).text = eadid
        ts = etree.SubElement(etree.SubElement(h, E("filedesc")), E("titlestmt"))
        titles = self._ordered(fa.texts(_rico("title")) or view.own.texts(_rico("title")))
        for lit in titles or [Literal(top.slug)]:
            etree.SubElement(ts, E("titleproper"), self._lang_attr(lit)).text = lit.value
        lu = etree.SubElement(etree.SubElement(h, E("profiledesc")), E("langusage"))
        for code in sorted(set(langs), key=lambda c: (languages.normalise(c) !=
                                                      self.default_lang, c)):
            etree.SubElement(lu, E("language"), langcode=code)
        return h

    @staticmethod
    def _main_lang(top: ContentObject, codes: list[str]) -> str:
        """The language of description when there are several (RDF keeps no order):
        Chinese if it is one of them (this is a Chinese archive), else the first by code."""
        tags = sorted(languages.normalise(c) or c for c in codes)
        return "zh" if "zh" in tags else tags[0]

    def write(self, ref: str, out: IO[bytes]) -> int:
        """Write the subtree at ``ref`` to ``out``; returns the number of components.

        Start and end tags of the tree are written by hand and each component's own content
        as a small serialised subtree, so only one component is in memory at a time."""
        top = self.repo.get(self.user, ref)
        if top.type.rdf_class not in RECORD_CLASSES:
            raise Invalid(f"{top.path} is a {top.type_name}: only records and record sets "
                          "can be exported as EAD")
        view = View.of(top)
        out.write(b"<?xml version='1.0' encoding='utf-8'?>\n")
        out.write(f'<ead xmlns="{EAD_NS}" xmlns:xlink="{XLINK}" xmlns:xsi="{XSI}" '
                  f'xsi:schemaLocation="{SCHEMA_LOCATION}">'.encode())
        out.write(_bytes(self.header(top, view)))
        out.write(self._start("archdesc", top, view))
        for el in self.content(top, view):
            out.write(_bytes(el))
        self._tick()
        count = 1
        kids = self._children(top.iri)
        if kids:
            out.write(b"<dsc>")
            for kid in kids:
                count += self._component(out, kid)
            out.write(b"</dsc>")
        out.write(b"</archdesc></ead>\n")
        return count

    def _start(self, name: str, obj: ContentObject, view: View) -> bytes:
        level, other = self.level(obj, view)
        attrs = f" level={quoteattr(level)}" + (f" otherlevel={quoteattr(other)}"
                                                 if other else "")
        if obj.access in CLOSED_FOR_GOOD:  # staff only, whatever the date: not for the public
            attrs += ' audience="internal"'
        return f"<{name}{attrs}>".encode()

    def _tick(self) -> None:
        if self.progress:
            self.progress()

    def _children(self, iri: str) -> list[ContentObject]:
        out = []
        for kid in self.repo.child_iris(iri):
            obj = self.repo.load(kid)
            if obj is None or obj.deleted or not self.repo.can_view(self.user, obj):
                continue
            if obj.type.rdf_class in RECORD_CLASSES:
                out.append(obj)
        return out

    def _component(self, out: IO[bytes], obj: ContentObject) -> int:
        view = View.of(obj)
        out.write(self._start("c", obj, view))
        for el in self.content(obj, view):
            out.write(_bytes(el))
        self._tick()
        count = 1
        for kid in self._children(obj.iri):
            count += self._component(out, kid)
        out.write(b"</c>")
        return count


_DECLS = f' xmlns="{EAD_NS}" xmlns:xlink="{XLINK}"'.encode()
RECORD_CLASSES = (RICO + "RecordSet", RICO + "Record", RICO + "RecordResource")
# access rules exported as audience="internal" (an embargo opens by date: a re-import
# recomputes it from the dates, as for any new record)
CLOSED_FOR_GOOD = frozenset({"restricted", "personal"})


def _bytes(el: etree._Element) -> bytes:
    """A subtree without the namespace declarations the enclosing <ead> already makes."""
    return etree.tostring(el, encoding="utf-8").replace(_DECLS, b"", 1)


def export_ead(repo: Repository, user: User, ref: str, out: IO[bytes] | Path | str, *,
               progress: Callable[[], None] | None = None) -> int:
    """Write the subtree at ``ref`` as EAD 2002 to a binary stream or a file path."""
    writer = EadWriter(repo, user, progress=progress)
    if isinstance(out, str | Path):
        path = Path(out)
        tmp = path.with_name(path.name + ".part")
        with tmp.open("wb") as fh:
            n = writer.write(ref, fh)
        tmp.replace(path)
        return n
    return writer.write(ref, out)


__all__ = ["EadWriter", "View", "export_ead"]
