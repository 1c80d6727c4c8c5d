"""Reading EAD 2002 finding aids as a stream of component records.

``read`` walks a file once with ``iterparse`` and yields a :class:`Header` and then one
:class:`Component` per ``archdesc``/``c``/``c01``…``c12``, in document order, each as soon
as everything it says is known: before its first child component (EAD puts a component's
own description before its children), or at its end. Read elements are freed as it goes,
so memory stays bounded however large the file. Namespaced (``urn:isbn:1-931666-22-9``)
and un-namespaced files read the same.

EAD lets ``archdesc`` carry notes after its ``dsc`` (and real files do that in ``c`` too).
Since a component must exist before its children, ``scan`` (a first, cheap pass that also
counts components for the progress bar and finds syntax errors before anything is
written) collects such late notes, and ``read`` applies them when the component is yielded.

Material marked ``audience="internal"`` is kept apart: a component marked so (or one that
has a did element, an access point or a digital object marked so) says ``internal``; a note
marked so (on itself, a paragraph, or an enclosing ``descgrp``) goes to ``internal_notes``,
never to ``notes``, so the mapping can keep it staff-only.

The records are plain data; ``repo.importers.mapping`` turns them into repository objects,
and the round-trip tests compare records read from an original and from our export.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lxml import etree

from ontology.mappings import load
from repo.importers import lang as languages
from repo.importers.dates import Normal, parse_normal, parse_text
from repo.importers.safexml import attr, clear, fail, fromstring, iterparse, local, text_of

EAD_NS = "urn:isbn:1-931666-22-9"
EAD3_NS = "http://ead3.archivists.org/schema/"
COMPONENTS = frozenset({"archdesc", "c", *(f"c{n:02d}" for n in range(1, 13))})
NAME_ELEMENTS = frozenset({"persname", "corpname", "famname", "name", "geogname", "subject",
                           "genreform", "occupation", "function"})
BLOCKS = frozenset({"p", "list", "chronlist", "table", "blockquote", "address", "note",
                    "legalstatus"})


@dataclass(frozen=True)
class Text:
    """A text in one language (a BCP 47 tag; ``zxx`` for no linguistic content)."""

    value: str
    lang: str


@dataclass(frozen=True)
class UnitDate:
    text: str
    lang: str
    normal: Normal | None
    type: str | None = None


@dataclass(frozen=True)
class Name:
    """A name in an access point, an origination or a repository."""

    element: str  # persname, corpname, famname, geogname, subject, genreform, …
    text: str
    lang: str
    authfilenumber: str | None = None
    source: str | None = None


@dataclass
class Dao:
    kind: str  # "dao" or "daogrp"
    hrefs: list[str]
    title: str | None = None
    desc: list[Text] = field(default_factory=list)

    @property
    def mime(self) -> str:
        guess = mimetypes.guess_type(self.hrefs[0].split("#")[0])[0] if self.hrefs else None
        return guess or load("ead2002")["dao"]["format"]


@dataclass
class Header:
    """What the eadheader says about the finding aid itself."""

    eadid: str | None = None
    titles: list[Text] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)  # BCP 47, language of description
    namespaced: bool = False

    @property
    def default_lang(self) -> str | None:
        return self.languages[0] if self.languages else None


@dataclass
class Component:
    """One unit of description: the archdesc or a c, with what it says about itself."""

    ordinal: int
    parent: int | None  # ordinal of the parent component (None for the archdesc)
    depth: int
    level: str
    otherlevel: str | None = None
    id: str | None = None
    line: int = 0
    titles: list[Text] = field(default_factory=list)
    unitids: list[str] = field(default_factory=list)
    dates: list[UnitDate] = field(default_factory=list)
    extents: list[Text] = field(default_factory=list)
    physdesc: list[Text] = field(default_factory=list)
    dimensions: list[Text] = field(default_factory=list)
    physlocs: list[Text] = field(default_factory=list)
    containers: list[tuple[str, str]] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)  # ISO 639-2 codes of the material
    origination: list[Name] = field(default_factory=list)
    origination_text: list[Text] = field(default_factory=list)
    repository: list[Name] = field(default_factory=list)
    notes: dict[str, list[Text]] = field(default_factory=dict)
    access: list[Name] = field(default_factory=list)
    daos: list[Dao] = field(default_factory=list)
    internal: bool = False  # the component itself is audience="internal"
    internal_parts: list[str] = field(default_factory=list)  # other elements marked so
    internal_notes: dict[str, list[Text]] = field(default_factory=dict)
    internal_note_count: int = 0  # internal note elements (each may hold several languages)

    def note(self, element: str, texts: list[Text], internal: bool = False) -> None:
        if texts:
            (self.internal_notes if internal else self.notes).setdefault(
                element, []).extend(texts)
            self.internal_note_count += internal


@dataclass
class Scan:
    """What the first pass learnt: the size, and notes that come after child components."""

    components: int = 0
    late: dict[int, list[bytes]] = field(default_factory=dict)
    namespaced: bool = False


# ---------------------------------------------------------------------- helpers
def marked_internal(elem: etree._Element) -> bool:
    """Is ``elem`` itself marked ``audience="internal"`` (not for the public)?"""
    return (elem.get("audience") or "").strip().lower() == "internal"


def _component_internal(elem: etree._Element) -> bool:
    """A component marked internal, or inside a ``dsc`` marked so (read at its start tag)."""
    parent = elem.getparent()
    return marked_internal(elem) or (parent is not None and local(parent.tag) == "dsc"
                                     and marked_internal(parent))


def is_internal(elem: etree._Element) -> bool:
    """Is ``elem``, or anything inside it, marked ``audience="internal"``? (One internal
    paragraph makes its whole note internal: a note is kept or published as one text.)"""
    return any(marked_internal(node) for node in elem.iter() if isinstance(node.tag, str))


@cache
def _known_notes() -> frozenset[str]:
    m = load("ead2002")
    return frozenset({*m["notes"], *m["note_nodes"], *m["instantiation"]} - {
        "unitid", "extent", "physdesc", "dimensions", "physloc"})


def explicit_lang(elem: etree._Element) -> str | None:
    """A language an element states for itself (xml:lang, @lang, @langcode, @altrender)."""
    for name in ("lang", "langcode"):
        tag = languages.normalise(attr(elem, name))
        if tag:
            return tag
    alt = elem.get("altrender")
    if alt and languages.is_language_code(alt):
        return languages.normalise(alt)
    return None


class _Context:
    """The language hints in force while reading one file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.header = Header()
        self.overruled = 0  # explicit tags that did not fit their text

    def hints(self, inherited: str | None, comp: Component | None = None) -> list[str]:
        """The languages a text may be in: its ancestors', then the languages of
        description. Never the material's (``langmaterial``): an English description of
        Chinese letters is in English; the script of each text decides among these."""
        out = [inherited, *self.header.languages]
        return [h for h in dict.fromkeys(out) if h]

    def text(self, value: str, explicit: str | None, inherited: str | None,
             comp: Component | None = None) -> Text:
        tag, overruled = languages.choose(value, explicit, self.hints(inherited, comp))
        self.overruled += overruled
        return Text(value, tag)


def _inherited(elem: etree._Element) -> str | None:
    """The nearest language stated by the element or an ancestor still in memory."""
    node: etree._Element | None = elem
    while node is not None:
        tag = explicit_lang(node)
        if tag:
            return tag
        node = node.getparent()
    return None


def _paragraphs(elem: etree._Element) -> list[tuple[str, etree._Element]]:
    """The text blocks of a note: paragraphs, list items, chronology entries, rows."""
    out: list[tuple[str, etree._Element]] = []
    for child in elem:
        name = local(child.tag)
        if name in ("head", "thead"):
            continue
        if name in ("list", "chronlist", "table", "tgroup", "tbody", "defitem"):
            out.extend(_paragraphs(child))
        elif name in ("item", "chronitem", "row", "p", "blockquote", "address", "note",
                      "legalstatus", "label"):
            nested = [c for c in child if local(c.tag) in ("list", "chronlist", "p")]
            if name in ("p", "note", "blockquote") and nested and not (child.text or "").strip():
                out.extend(_paragraphs(child))
            else:
                text = text_of(child)
                if text:
                    out.append((text, child))
        elif local(elem.tag) not in NAME_ELEMENTS and name in _known_notes():
            out.extend(_paragraphs(child))  # a note nested in a note
        else:
            text = text_of(child)
            if text:
                out.append((text, child))
    if not out:
        text = text_of(elem)
        if text:
            out.append((text, elem))
    elif elem.text and elem.text.strip():
        out.insert(0, (" ".join(elem.text.split()), elem))
    return out


def note_texts(elem: etree._Element, ctx: _Context, comp: Component | None) -> list[Text]:
    """A note as one text per language (its paragraphs joined by blank lines)."""
    base = _inherited(elem)
    by_lang: dict[str, list[str]] = {}
    for text, node in _paragraphs(elem):
        explicit = explicit_lang(node) if node is not elem else None
        t = ctx.text(text, explicit or base, None, comp)
        by_lang.setdefault(t.lang, []).append(text)
    return [Text("\n\n".join(parts), tag) for tag, parts in by_lang.items()]


def _name(elem: etree._Element, ctx: _Context, comp: Component) -> Name | None:
    text = text_of(elem)
    if not text:
        return None
    t = ctx.text(text, _inherited(elem), None, comp)
    return Name(local(elem.tag), text, t.lang, attr(elem, "authfilenumber") or None,
                attr(elem, "source") or None)


def _names_in(elem: etree._Element, ctx: _Context, comp: Component) -> list[Name]:
    out = []
    for node in elem.iter():
        if node is not elem and local(node.tag) in NAME_ELEMENTS:
            name = _name(node, ctx, comp)
            if name is not None:
                out.append(name)
    return out


def _unitdate(elem: etree._Element, ctx: _Context, comp: Component) -> UnitDate | None:
    text = text_of(elem)
    raw = attr(elem, "normal")
    normal = parse_normal(raw) if raw else (parse_text(text) if text else None)
    if not text and normal is None:
        return None  # an empty unitdate: nothing (rico-converter case 6)
    # a date as written is not checked for its script: like rico-converter, it is in the
    # language of the description ("1995-1997"@fr), or what the text shows
    lang = _inherited(elem) or next(iter(ctx.hints(None, comp)), None) or (
        languages.by_script(text) if text else languages.NO_TEXT)
    return UnitDate(text, lang, normal, elem.get("type"))


def _dao(elem: etree._Element, ctx: _Context, comp: Component) -> Dao | None:
    name = local(elem.tag)
    hrefs: list[str] = []
    title = attr(elem, "title")
    desc: list[Text] = []
    for node in elem.iter():
        n = local(node.tag)
        href = attr(node, "href") if n in ("dao", "daoloc", "extptrloc", "extrefloc") else None
        if href:
            hrefs.append(href.strip())
            title = title or attr(node, "title")
        elif n == "daodesc":
            desc.extend(note_texts(node, ctx, comp))
    if not hrefs:
        return None
    return Dao("daogrp" if name == "daogrp" else "dao", hrefs, title, desc)


# ---------------------------------------------------------------------- the did
def _did(did: etree._Element, ctx: _Context, comp: Component, internal: bool = False) -> None:
    for node in did.iter():
        code = attr(node, "langcode") if local(node.tag) == "language" else None
        if code:
            comp.languages.append(code.strip().lower())
    if internal or marked_internal(did):
        comp.internal_parts.append("did")
    for child in did:
        name = local(child.tag)
        if name not in ("abstract", "note") and is_internal(child):
            comp.internal_parts.append(f"did/{name}")
        if name == "unittitle":
            text = text_of(child)
            if text:
                comp.titles.append(ctx.text(text, _inherited(child), None, comp))
            for node in child.iter():
                if local(node.tag) == "unitdate":
                    d = _unitdate(node, ctx, comp)
                    if d:
                        comp.dates.append(d)
            comp.access.extend(_names_in(child, ctx, comp))
        elif name == "unitid":
            text = text_of(child)
            if text:
                comp.unitids.append(text)
        elif name == "unitdate":
            d = _unitdate(child, ctx, comp)
            if d:
                comp.dates.append(d)
        elif name == "physdesc":
            _physdesc(child, ctx, comp)
        elif name == "origination":
            names = [n for n in _names_in(child, ctx, comp)
                     if n.element in ("persname", "corpname", "famname", "name")]
            if names:
                comp.origination.extend(names)
            elif text_of(child):
                comp.origination_text.append(ctx.text(text_of(child), _inherited(child), None,
                                                      comp))
        elif name == "repository":
            names = [n for n in _names_in(child, ctx, comp) if n.element == "corpname"]
            if not names and text_of(child):
                t = ctx.text(text_of(child), _inherited(child), None, comp)
                names = [Name("corpname", t.value, t.lang)]
            comp.repository.extend(names)
        elif name == "physloc":
            text = text_of(child)
            if text:
                comp.physlocs.append(ctx.text(text, _inherited(child), None, comp))
        elif name == "container":
            text = text_of(child)
            if text:
                comp.containers.append((child.get("type") or "", text))
        elif name in ("dao", "daogrp"):
            dao = _dao(child, ctx, comp)
            if dao:
                comp.daos.append(dao)
        elif name in ("abstract",):
            comp.note("scopecontent", note_texts(child, ctx, comp), is_internal(child))
        elif name == "note":
            comp.note("note", note_texts(child, ctx, comp), is_internal(child))


def _physdesc(elem: etree._Element, ctx: _Context, comp: Component) -> None:
    loose: list[str] = [elem.text.strip()] if elem.text and elem.text.strip() else []
    for child in elem:
        name = local(child.tag)
        text = text_of(child)
        if name == "extent" and text:
            comp.extents.append(ctx.text(text, _inherited(child), None, comp))
        elif name == "dimensions" and text:
            comp.dimensions.append(ctx.text(text, _inherited(child), None, comp))
        elif name == "genreform" and text:
            n = _name(child, ctx, comp)
            if n:
                comp.access.append(n)
        elif text:
            loose.append(text)
        if child.tail and child.tail.strip():
            loose.append(child.tail.strip())
    if loose:
        comp.physdesc.append(ctx.text(" ".join(loose), _inherited(elem), None, comp))


# ---------------------------------------------------------------------- children
def _child(elem: etree._Element, ctx: _Context, comp: Component,
           internal: bool = False) -> None:
    """Read one direct child of a component (did, a note, controlaccess, dao…);
    ``internal``: an enclosing ``descgrp`` is marked ``audience="internal"``."""
    name = local(elem.tag)
    if name == "did":
        _did(elem, ctx, comp, internal)
    elif name == "descgrp":
        internal = internal or marked_internal(elem)
        for child in elem:
            _child(child, ctx, comp, internal)
    elif name in _known_notes():
        comp.note(name, note_texts(elem, ctx, comp), internal or is_internal(elem))
    elif name in ("controlaccess", "dao", "daogrp"):
        if internal or is_internal(elem):
            comp.internal_parts.append(name)
        if name == "controlaccess":
            comp.access.extend(n for n in _names_in(elem, ctx, comp) if n.element != "title")
        else:
            d = _dao(elem, ctx, comp)
            if d:
                comp.daos.append(d)


def _header(elem: etree._Element, ctx: _Context) -> None:
    h = ctx.header
    for node in elem.iter():
        name = local(node.tag)
        if name == "eadid" and text_of(node):
            h.eadid = text_of(node)
        elif name == "language" and (parent := node.getparent()) is not None \
                and local(parent.tag) == "langusage":
            tag = languages.normalise(attr(node, "langcode")) or languages.normalise(
                text_of(node))
            if tag and tag not in h.languages:
                h.languages.append(tag)
    lang = _inherited(elem)
    if lang and lang not in h.languages:
        h.languages.insert(0, lang)
    for node in elem.iter():
        if local(node.tag) == "titleproper" and text_of(node):
            h.titles.append(ctx.text(text_of(node), _inherited(node), None))


def _check_root(elem: etree._Element, source: str) -> bool:
    ns, _, name = elem.tag.rpartition("}") if isinstance(elem.tag, str) else ("", "", "")
    ns = ns.lstrip("{")
    if ns == EAD3_NS:
        raise fail(source, elem.sourceline, "EAD3 is not supported (only EAD 2002)")
    if name != "ead" or ns not in ("", EAD_NS):
        what = f"<{name}>" + (f" in namespace {ns}" if ns else "")
        raise fail(source, elem.sourceline, f"not an EAD 2002 finding aid: the root is {what}")
    return ns == EAD_NS


# ---------------------------------------------------------------------- passes
def _no_entities(elem: etree._Element, source: str) -> None:
    """An entity reference the parser did not expand (its DTD is not loaded) would vanish
    from the text: refuse the file instead of importing it silently changed."""
    ent = next(elem.iter(etree.Entity), None)
    if ent is not None:
        where = ent.getparent()
        raise fail(source, where.sourceline if where is not None else elem.sourceline,
                   f"entity {ent.text} is not expanded (DTDs are not loaded); "
                   "write the character itself (UTF-8)")


def scan(path: Path, display: str | None = None) -> Scan:
    """First pass: is it EAD, is it well-formed, how many components, any late notes."""
    source = display or str(path)
    out = Scan()
    stack: list[tuple[etree._Element, int, bool]] = []  # (element, ordinal, has child comp)
    first = True
    for event, elem in iterparse(path, ("start", "end"), source):
        name = local(elem.tag)
        if event == "start":
            if first:
                out.namespaced = _check_root(elem, source)
                first = False
            if name in COMPONENTS:
                if stack:
                    el, n, _ = stack[-1]
                    stack[-1] = (el, n, True)
                stack.append((elem, out.components, False))
                out.components += 1
            continue
        if name in COMPONENTS:
            stack.pop()
            clear(elem)
            continue
        parent = elem.getparent()
        if (stack and parent is stack[-1][0]) or name == "eadheader":
            _no_entities(elem, source)
            if stack and stack[-1][2] and name not in ("dsc", "thead", "head"):
                out.late.setdefault(stack[-1][1], []).append(etree.tostring(elem))
            clear(elem)
        elif stack and name == "dsc":
            clear(elem)
    if out.components == 0:
        raise fail(source, 1, "no archdesc: not an EAD finding aid")
    return out


def read(path: Path, late: dict[int, list[bytes]] | None = None,
         display: str | None = None, ctx: _Context | None = None
         ) -> Iterator[Header | Component]:
    """Second pass: the header, then every component in document order (see module doc).

    Pass a :func:`context` to learn afterwards how many language tags were overruled."""
    source = display or str(path)
    ctx = ctx or _Context(source)
    late = late or {}
    stack: list[tuple[etree._Element, Component, bool]] = []  # (element, record, yielded)
    ordinal = 0
    first = True

    def ready(i: int) -> Component:
        el, comp, _ = stack[i]
        for data in late.get(comp.ordinal, ()):
            _child(fromstring(data, source), ctx, comp)
        stack[i] = (el, comp, True)
        return comp

    for event, elem in iterparse(path, ("start", "end"), source):
        name = local(elem.tag)
        if event == "start":
            if first:
                ctx.header.namespaced = _check_root(elem, source)
                first = False
            if name in COMPONENTS:
                if stack and not stack[-1][2]:
                    yield ready(len(stack) - 1)
                level = (elem.get("level") or "").strip()
                comp = Component(ordinal, stack[-1][1].ordinal if stack else None, len(stack),
                                 level, elem.get("otherlevel"), elem.get("id"),
                                 elem.sourceline or 0,
                                 internal=_component_internal(elem))
                if name == "archdesc" and ordinal == 0:
                    yield ctx.header
                stack.append((elem, comp, False))
                ordinal += 1
            continue
        if name in COMPONENTS:
            if not stack[-1][2]:
                yield ready(len(stack) - 1)
            stack.pop()
            clear(elem)
            continue
        if name == "eadheader":
            _header(elem, ctx)
            clear(elem)
            continue
        parent = elem.getparent()
        if stack and parent is stack[-1][0]:
            _, comp, done = stack[-1]
            if not done:
                _child(elem, ctx, comp)
            clear(elem)
        elif stack and name == "dsc":
            clear(elem)


def context(source: str) -> _Context:
    """A reading context (language hints, counters) to pass to :func:`read`."""
    return _Context(source)


def level_of(comp: Component) -> str:
    """The EAD level name (``otherlevel`` values and missing levels kept apart)."""
    return comp.level or ""
