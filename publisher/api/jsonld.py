"""JSON-LD bodies: an object's description by its profile field names, plus repository facts.

Each content type gets its own JSON-LD context (``/api/@context/{type}``), made from the
profile (``ontology/profile.ttl``) on top of the shared prefixes of ``ontology/context.jsonld``:
the same field name may mean a different property in different types (``title`` is
``rico:title`` for records but ``schema:name`` for an exhibit), so one context for all would
be wrong. Text fields are language maps (``{"zh": …, "en": …}``), vocabulary, language and
reference fields are IRIs, and what the repository knows about the object (path, state,
access, revision, …) are terms of the Lantai namespace.

The same shapes are accepted back: a value taken from a GET can be sent in a PATCH as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pyoxigraph import Literal

from ontology import terms
from ontology.namespaces import ISO639, LT, XSD
from ontology.profile import ContentType, Field, load_profile
from repo.errors import Invalid
from repo.objects import ContentObject
from repo.ordering import stored_order

CONTEXT_FILE = Path(__file__).resolve().parents[2] / "ontology" / "context.jsonld"

# Repository facts in every body (never profile field names: see test_api).
FACT_TERMS: dict[str, object] = {
    "lt": LT,
    "api": {"@id": "lt:api", "@type": "@id"},
    "path": "lt:path",
    "contentType": "lt:contentType",
    "state": "lt:state",
    "access": "lt:access",
    "openingDate": {"@id": "lt:openingDate", "@type": "xsd:date"},
    "personalFields": {"@id": "lt:personalField", "@container": "@set"},
    "revision": {"@id": "lt:revision", "@type": "xsd:integer"},
    "created": {"@id": "lt:created", "@type": "xsd:dateTime"},
    "modified": {"@id": "lt:modified", "@type": "xsd:dateTime"},
    "owner": "lt:owner",
    "parent": {"@id": "lt:parent", "@type": "@id"},
    "public": {"@id": "lt:public", "@type": "xsd:boolean"},
    "items": {"@id": "lt:child", "@container": "@set"},
    "items_total": {"@id": "lt:childCount", "@type": "xsd:integer"},
}
MAX_VALUES = 1000  # values of one field in one request
MAX_FIELDS = 64  # field names in one request
MAX_TEXT = 100_000  # characters of one value


@lru_cache(maxsize=1)
def shared_prefixes() -> dict[str, object]:
    """The prefixes and class names of the shared context (not its field terms)."""
    ctx = json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))["@context"]
    return {k: v for k, v in ctx.items() if isinstance(v, str) or k.startswith("@")}


def term_for(f: Field) -> dict[str, object]:
    term: dict[str, object] = {"@id": f.path}
    if f.is_text:
        term["@container"] = "@language"
        return term
    if f.is_iri or f.scheme:
        term["@type"] = "@id"
    if not f.single:
        term["@container"] = "@set"
    return term


@lru_cache(maxsize=64)
def type_context(type_name: str) -> dict[str, object]:
    """The JSON-LD context of one content type."""
    ctype = load_profile().type(type_name)
    ctx: dict[str, object] = dict(shared_prefixes())
    ctx.update(FACT_TERMS)
    for f in ctype.fields.values():
        ctx[f.name] = term_for(f)
    return ctx


def compact_class(iri: str) -> str:
    for term, value in shared_prefixes().items():
        if value == iri and not term.startswith("@") and term[:1].isupper():
            return term
    return iri


def field_values(obj: ContentObject) -> dict[str, object]:
    """The description by field name, in the shapes the type's context declares."""
    ctype = obj.type
    out: dict[str, Any] = {}  # JSON: a language map, a value or a list, by field
    for q in sorted(obj.description, key=str):
        if terms.value(q.subject) != obj.iri:
            continue
        f = ctype.field_for_path(q.predicate.value)
        if f is None:
            continue
        term = q.object
        text = terms.value(term)
        literal = term if isinstance(term, Literal) else None
        if f.is_text:
            langs: dict[str, str | list[str]] = out.setdefault(f.name, {})
            lang = (literal.language if literal is not None else None) or "und"
            if lang in langs:
                prev = langs[lang]
                langs[lang] = [*prev, text] if isinstance(prev, list) else [prev, text]
            else:
                langs[lang] = text
            continue
        value: object = text
        if literal is not None and literal.datatype.value == XSD + "integer":
            value = int(text)
        if f.single:
            out[f.name] = value
        else:
            out.setdefault(f.name, []).append(value)
    for f in ctype.fields.values():  # ordered fields (an exhibit's features): stored order
        values = out.get(f.name)
        if f.ordered and isinstance(values, list) and len(values) > 1:
            rank = {t.value: n for n, t in enumerate(stored_order(obj.description, obj.iri,
                                                                  f.name))}
            values.sort(key=lambda v: rank.get(v, len(rank)))
    return out


def titles(obj: ContentObject) -> dict[str, str]:
    """``{lang: title}`` (or name) for listings."""
    out: dict[str, str] = {}
    fields = obj.fields()  # one pass over the description, not one per name
    for name in ("title", "name"):
        for text, lang in fields.get(name, []):
            out.setdefault(lang or "und", text)
        if out:
            break
    return out


# ---------------------------------------------------------------------- input
def _scalar(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        text = str(value)
        if len(text) > MAX_TEXT:
            raise Invalid(f"{name}: a value longer than {MAX_TEXT} characters")
        return text
    raise Invalid(f"{name}: expected a string, a number, a list of them, or a language map")


def _normalise(f: Field | None, base: str, text: str) -> str:
    """An IRI as GET gives it back to what the repository takes (a vocabulary code, an
    ISO 639 code)."""
    if f is None:
        return text
    if f.scheme and text.startswith(f"{base}/vocab/{f.scheme}/"):
        return text.rsplit("/", 1)[-1]
    if text.startswith(ISO639):
        return text[len(ISO639):]
    if f.is_reference and not text.startswith("/"):
        check_iri(f.name, text)
    return text


def check_iri(what: str, text: str) -> None:
    """A link given as an IRI must be one the store takes (no spaces, ``<>``, controls)."""
    from pyoxigraph import NamedNode

    try:
        NamedNode(text)
    except ValueError as exc:
        raise Invalid(f"{what}: {text[:80]!r} is not an IRI ({exc})") from None


LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8}){0,8}")


def check_tag(what: str, tag: object) -> None:
    """A language tag must be one by BCP 47's syntax before anything else looks at it (a
    newline or a space in one used to reach the store, which refused it with a 500)."""
    if not isinstance(tag, str) or not LANGUAGE_TAG.fullmatch(tag):
        raise Invalid(f"{what[:80]!r}: {str(tag)[:40]!r} is not a language tag (BCP 47, e.g. "
                      "zh, en, zh-Hant)")


def field_input(ctype: ContentType, fields: object, base: str, *,
                allow_null: bool = False) -> tuple[dict[str, object], list[str]]:
    """A ``fields`` object of a request as (mapping for the repository, names to unset).

    ``{"title": {"zh": "…", "en": null}, "begin": "1957", "creator": ["/agents/x"],
    "note@en": "…", "scope": null}``: a null (when ``allow_null``) removes the values."""
    if not isinstance(fields, Mapping):
        raise Invalid("fields: expected an object of field names and values")
    if len(fields) > MAX_FIELDS:
        raise Invalid(f"fields: more than {MAX_FIELDS} names")
    mapping: dict[str, object] = {}
    unset: list[str] = []
    count = 0
    for raw_name, value in fields.items():
        if not isinstance(raw_name, str) or not raw_name:
            raise Invalid("fields: names are strings")
        name, _, lang = raw_name.partition("@")
        if lang:
            check_tag(raw_name, lang)
        f = ctype.fields.get(name)
        if f is None:
            raise Invalid(f"{ctype.name} has no field {name!r} "
                          f"(fields: {', '.join(sorted(ctype.fields))})")
        if value is None:
            if not allow_null:
                raise Invalid(f"{raw_name}: null is only for PATCH (it removes the values)")
            unset.append(raw_name)
            continue
        if isinstance(value, Mapping):
            if lang:
                raise Invalid(f"{raw_name}: a language map goes with the plain field name")
            langs: dict[str, str | list[str]] = {}
            for tag, text in value.items():
                check_tag(f"{name}@{tag}", tag)
                if text is None:
                    if not allow_null:
                        raise Invalid(f"{name}@{tag}: null is only for PATCH")
                    unset.append(f"{name}@{tag}")
                elif isinstance(text, list):
                    langs[f"{name}@{tag}"] = [_scalar(name, t) for t in text]
                else:
                    langs[f"{name}@{tag}"] = _scalar(name, text)
            for key, v in langs.items():
                mapping[key] = v
                count += len(v) if isinstance(v, list) else 1
        elif isinstance(value, list):
            if len(value) > MAX_VALUES:
                raise Invalid(f"{raw_name}: more than {MAX_VALUES} values")
            if not value:
                if not allow_null:
                    raise Invalid(f"{raw_name}: an empty list (leave the field out)")
                unset.append(raw_name)
                continue
            mapping[raw_name] = [_normalise(f, base, _scalar(name, v)) for v in value]
            count += len(value)
        else:
            mapping[raw_name] = _normalise(f, base, _scalar(name, value))
            count += 1
        if count > MAX_VALUES:
            raise Invalid(f"fields: more than {MAX_VALUES} values")
    return mapping, unset
