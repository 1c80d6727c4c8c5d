"""The compiled form of the SHACL shapes: checks an object's description in microseconds.

It checks what the shapes say (cardinality, datatype, language uniqueness, pattern, node
kind, the class of a linked object, vocabulary membership) plus what SHACL cannot say well
(the script of a language-tagged value, beginning before end). ``tests/test_shapes.py`` runs
pySHACL over the same data to prove the two agree.
"""

from __future__ import annotations

from collections.abc import Callable

from pyoxigraph import Literal, NamedNode

from ontology.namespaces import XSD
from ontology.profile import ContentType, vocabulary_codes
from repo.errors import Invalid
from repo.objects import STRUCTURAL, ContentObject
from repo.values import check_script, is_language_tag


def _date_key(lit: Literal) -> str:
    return lit.value  # ISO forms of the same precision sort as strings; mixed precision by prefix


def problems(
    obj: ContentObject,
    class_of: Callable[[str], str | None],
    *,
    vocab_base: str,
) -> list[str]:
    """Everything wrong with ``obj``'s description; empty when it conforms."""
    ctype: ContentType = obj.type
    found: list[str] = []
    by_path: dict[str, list] = {}
    node = NamedNode(obj.iri)  # terms compared as terms: no string made per quad
    for q in obj.description:
        if q.graph_name != node:
            found.append(f"statement outside the object's graph: {q}")
            continue
        if q.subject != node:
            continue  # auxiliary nodes (e.g. from EAD import) are checked by their own rules
        p = q.predicate.value
        if p in STRUCTURAL:
            continue
        by_path.setdefault(p, []).append(q.object)
    for path in by_path:
        if ctype.field_for_path(path) is None:
            found.append(f"{ctype.name} cannot have {path}")
    for f in ctype.fields.values():
        values = by_path.get(f.path, [])
        if len(values) < f.min_count:
            found.append(f"{f.name} is required for a {ctype.name}")
        if f.max_count is not None and len(values) > f.max_count:
            found.append(f"{f.name} takes at most {f.max_count} value(s), got {len(values)}")
        langs: list[str] = []
        for v in values:
            if f.is_iri:
                if not isinstance(v, NamedNode):
                    found.append(f"{f.name}: {v} must be an IRI")
                    continue
                if f.pattern is not None and not f.pattern.search(v.value):
                    found.append(f"{f.name}: {v.value} does not match {f.pattern.pattern}")
                prefix = f"{vocab_base}/vocab/{f.scheme}/"
                if f.scheme and (not v.value.startswith(prefix)
                                 or v.value[len(prefix):] not in vocabulary_codes()[f.scheme]):
                    found.append(f"{f.name}: {v.value} is not in the {f.scheme} scheme")
                elif f.is_reference:
                    cls = class_of(v.value)
                    if cls is None:
                        found.append(f"{f.name}: {v.value} is not an object of this repository")
                    elif cls not in f.classes:
                        wanted = " or ".join(c.rsplit("#", 1)[-1] for c in f.classes)
                        found.append(f"{f.name}: {v.value} is a {cls.rsplit('#', 1)[-1]}, "
                                     f"expected {wanted}")
                continue
            if not isinstance(v, Literal):
                found.append(f"{f.name}: {v} must be a literal")
                continue
            if f.datatypes and v.datatype.value not in f.datatypes:
                found.append(f"{f.name}: {v.value!r} has datatype {v.datatype.value}")
                continue
            if f.is_text:
                lang = v.language
                if lang is None or not is_language_tag(lang):
                    found.append(f"{f.name}: bad language tag {lang!r}")
                if lang is not None:
                    try:
                        check_script(f.name, v.value, lang)
                    except Invalid as exc:
                        found.append(exc.message)
                    langs.append(lang)
            if f.pattern is not None and not f.pattern.search(v.value):
                found.append(f"{f.name}: {v.value!r} does not match {f.pattern.pattern}")
        if f.unique_lang and len(langs) != len(set(langs)):
            found.append(f"{f.name}: more than one value in the same language")
    begin = (by_path.get(_rico("beginningDate")) or [None])[0]
    end = (by_path.get(_rico("endDate")) or [None])[0]
    if isinstance(begin, Literal) and isinstance(end, Literal):
        n = min(len(begin.value), len(end.value))
        if _date_key(begin)[:n] > _date_key(end)[:n]:
            found.append(f"begin {begin.value} is after end {end.value}")
    return found


def _rico(local: str) -> str:
    return "https://www.ica.org/standards/RiC/ontology#" + local


def check(obj: ContentObject, class_of: Callable[[str], str | None], *, vocab_base: str) -> None:
    """Raise :class:`Invalid` with a one-line summary if ``obj`` does not conform."""
    found = problems(obj, class_of, vocab_base=vocab_base)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise Invalid(f"{obj.path or obj.iri}: {found[0]}{more}", problems=found)


XSD_STRING = XSD + "string"
