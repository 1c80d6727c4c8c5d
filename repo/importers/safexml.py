"""Reading XML that may be hostile: streamed, with no DTD, no entity expansion, no network.

Finding aids arrive from other systems and from strangers. lxml is told never to load a DTD,
never to resolve an entity and never to touch the network, and a document type declaration
with an internal subset that declares entities (the XXE and "billion laughs" attacks) is
refused before parsing starts. Files are read with ``iterparse`` so memory does not grow with
the file. Every problem becomes one :class:`~repo.errors.Invalid` saying ``FILE:LINE: why``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from lxml import etree

from repo.errors import Invalid

XLINK = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
_PROLOG_BYTES = 1 << 16
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
_ROOT_START = re.compile(rb"<[A-Za-z_]")


def fail(source: str | Path, line: int | None, reason: str) -> Invalid:
    """The one-line error: ``FILE:LINE: reason``."""
    return Invalid(f"{source}:{line or 1}: {reason}")


def check_prolog(path: Path, display: str | None = None) -> None:
    """Refuse a document type declaration that declares entities (XXE, billion laughs).

    A plain ``<!DOCTYPE ead SYSTEM "ead.dtd">`` (as the Archives nationales write) is
    accepted: the DTD is not loaded, so nothing it says is used.
    """
    with path.open("rb") as fh:
        head = fh.read(_PROLOG_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16: look at it as UTF-8
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    m = _DOCTYPE.search(head)
    if m is None:
        return
    # the declaration ends at the first '>' after its internal subset (if it has one)
    rest = head[m.start():]
    bracket = rest.find(b"[")
    close = rest.find(b">")
    if bracket != -1 and (close == -1 or bracket < close):
        subset_end = rest.find(b"]", bracket)
        subset = rest[bracket:subset_end if subset_end != -1 else len(rest)]
        if _ENTITY_DECL.search(subset) or subset_end == -1:
            line = head[:m.start()].count(b"\n") + 1
            raise fail(display or path, line, "the document type declaration declares "
                       "entities; "
                       "entity expansion is refused (XXE / billion laughs)")
    before_root = _ROOT_START.search(head, m.end())
    if before_root is None and len(head) == _PROLOG_BYTES:
        raise fail(display or path, 1, "the document type declaration is too long")


def parser_options() -> dict:
    """The options every parse in Lantai uses: nothing is fetched, nothing is expanded."""
    return {"resolve_entities": False, "no_network": True, "load_dtd": False,
            "huge_tree": False, "dtd_validation": False, "remove_comments": True,
            "remove_pis": True, "recover": False}


def iterparse(path: Path, events: tuple[Literal["start", "end"], ...] = ("start", "end"),
              display: str | None = None) -> Iterator[tuple[str, etree._Element]]:
    """``lxml.etree.iterparse`` made safe; syntax errors become ``FILE:LINE: why``."""
    name = display or str(path)
    if not path.is_file():
        raise Invalid(f"{name}: no such file")
    check_prolog(path, name)
    try:
        yield from etree.iterparse(str(path), events=events, **parser_options())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else 1)
        msg = str(exc.msg or exc).split(", line ")[0]
        if "Entity" in msg and "not defined" in msg:
            msg += " (entities are not expanded and DTDs are not loaded; use UTF-8 text)"
        raise fail(name, line, msg) from None


def fromstring(data: bytes, source: str = "<data>") -> etree._Element:
    """Parse a small XML fragment with the same safe options."""
    try:
        return etree.fromstring(data, etree.XMLParser(**parser_options()))
    except etree.XMLSyntaxError as exc:
        raise fail(source, exc.lineno, str(exc.msg or exc)) from None


def local(tag: object) -> str:
    """An element's name without its namespace (``{urn:…}c`` → ``c``); '' for comments."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def attr(elem: etree._Element, name: str) -> str | None:
    """An attribute in no namespace, or else in XLink's (EAD 2002 schema) or XML's."""
    value = elem.get(name)
    if value is None:
        value = elem.get(f"{{{XLINK}}}{name}")
    if value is None and name == "lang":
        value = elem.get(f"{{{XML_NS}}}lang")
    return value


def clear(elem: etree._Element) -> None:
    """Free an element that has been read, and the siblings before it (iterparse idiom)."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def text_of(elem: etree._Element) -> str:
    """All the text inside an element, whitespace collapsed."""
    return " ".join("".join(elem.itertext()).split())
