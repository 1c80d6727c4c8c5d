"""From what an archivist types to RDF terms, and back.

``title@zh=西迁`` becomes ``"西迁"@zh``; ``begin=1956-08`` an ``xsd:gYearMonth``;
``category=XS`` the concept ``{base}/vocab/category/XS``; ``creator=/agents/xjtu`` the IRI of
that object. Every rejection says which field, which value and what is expected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import NamedTuple

import langcodes
from pyoxigraph import Literal, NamedNode

from ontology import terms
from ontology.namespaces import ISO639, RDF_LANGSTRING, XSD
from ontology.profile import ContentType, Field, vocabulary_codes
from repo.errors import Invalid

LANG_TAG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*\Z")  # shape only: see language_tag
# RFC 3987: what an IRI may hold, besides %XX escapes: unreserved, reserved and ucschar
# characters (no spaces, controls, <>"{}|\^`, surrogates, private-use or non-characters)
_IRI_CHARS = re.compile(
    r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    r"\U00010000-\U0001fffd\U00020000-\U0002fffd\U00030000-\U0003fffd"
    r"\U00040000-\U0004fffd\U00050000-\U0005fffd\U00060000-\U0006fffd"
    r"\U00070000-\U0007fffd\U00080000-\U0008fffd\U00090000-\U0009fffd"
    r"\U000a0000-\U000afffd\U000b0000-\U000bfffd\U000c0000-\U000cfffd"
    r"\U000d0000-\U000dfffd\U000e1000-\U000efffd]*\Z")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
CJK_LANGS = {"zh", "ja", "ko"}
LATIN_LANGS = {"en", "fr", "de", "es", "it", "la", "pt", "nl"}


@lru_cache(maxsize=4096)
def language_tag(code: str | None) -> str | None:
    """A language code as its BCP 47 tag, or None when the language registry (IANA, via
    langcodes) does not know it: ISO 639-1 (``bo``), ISO 639-2/B and /T as EAD writes them
    (``chi``/``zho`` → ``zh``, ``tib``/``bod`` → ``bo``, ``mon`` → ``mn``, ``uig`` → ``ug``)
    and BCP 47 tags (``zh-Hant``). A well-formed but unknown code (``xyz``) is refused: a
    regular expression cannot tell, which is how ``bo`` was once refused and ``xyz`` taken."""
    if not code or not LANG_TAG.match(code.strip().replace("_", "-")):
        return None
    if code.strip().lower() == "und":
        return "und"  # undetermined: a registered code that langcodes reads as no language
    try:
        lang = langcodes.Language.get(code.strip().replace("_", "-"))
    except (langcodes.LanguageTagError, ValueError):
        return None
    if not lang.language or not re.fullmatch(r"[a-z]{2,3}", lang.language) \
            or not lang.is_valid():
        return None
    return lang.to_tag()


def iso639_2b(code: str | None) -> str | None:
    """A language code as its ISO 639-2/B code (``zh``, ``zho`` → ``chi``; ``bo`` → ``tib``;
    ``mn`` → ``mon``; ``ug`` → ``uig``), the form id.loc.gov's ISO 639-2 IRIs and EAD
    ``@langcode`` use; None for a code the registry does not know."""
    tag = language_tag(code)
    if tag is None:
        return None
    try:
        return langcodes.Language.get(tag).to_alpha3(variant="B")
    except LookupError:
        return None


def is_language_tag(tag: str | None) -> bool:
    """Is ``tag`` a language tag of a registered language (``bo``, ``zh-Hant``; not ``xyz``)?"""
    return language_tag(tag) is not None


class Assignment(NamedTuple):
    """One ``field[@lang]=value`` from the command line or the API (a named tuple: a bulk
    ingest makes hundreds of thousands, and a frozen dataclass costs 3x as much to make)."""

    field: str
    lang: str | None
    value: str

    @classmethod
    def parse(cls, text: str) -> Assignment:
        name, sep, value = text.partition("=")
        if not sep:
            raise Invalid(f"{text!r}: expected FIELD=VALUE or FIELD@LANG=VALUE")
        name, _, lang = name.strip().partition("@")
        return cls(name, lang or None, value)


def assignments_from_mapping(fields: Mapping[str, object]) -> list[Assignment]:
    """``{"title": {"zh": …, "en": …}, "creator": ["/agents/a"]}`` → assignments."""
    out: list[Assignment] = []
    for name, value in fields.items():
        name, _, lang = name.partition("@")
        if isinstance(value, Mapping):
            out.extend(Assignment(name, str(k), str(v)) for k, v in value.items())
        elif isinstance(value, list | tuple):
            out.extend(Assignment(name, lang or None, str(v)) for v in value)
        elif value is not None:
            out.append(Assignment(name, lang or None, str(value)))
    return out


def check_text(what: str, text: str) -> str:
    """Refuse text that is not Unicode text: lone surrogates (from a badly decoded file or
    argument) cannot be stored, and would fail deep inside a write."""
    if _SURROGATE.search(text):
        raise Invalid(f"{what}: the value holds a lone surrogate (not valid Unicode text)")
    return text


def check_iri(what: str, text: str) -> NamedNode:
    """An absolute IRI as RFC 3987 allows it, or :class:`Invalid` naming the field.

    Checked here, at the value layer, so that a bad IRI is a clear refusal before any store
    is touched (it used to raise ValueError inside a write)."""
    check_text(what, text)
    bad = _IRI_CHARS.match(text) is None or _BAD_ESCAPE.search(text) is not None
    if bad or not _SCHEME.match(text):
        raise Invalid(f"{what}: {text!r} is not an IRI (RFC 3987: an absolute IRI without "
                      "spaces, controls or any of <>\"{}|\\^`)")
    try:
        return NamedNode(text)
    except ValueError as exc:
        raise Invalid(f"{what}: {text!r} is not an IRI ({exc})") from None


def parse_date(text: str, what: str) -> Literal:
    """YYYY, YYYY-MM or YYYY-MM-DD as xsd:gYear, xsd:gYearMonth or xsd:date."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}", text):
            return Literal(text, datatype=NamedNode(XSD + "gYear"))
        if re.fullmatch(r"\d{4}-\d{2}", text):
            dt.date(int(text[:4]), int(text[5:7]), 1)
            return Literal(text, datatype=NamedNode(XSD + "gYearMonth"))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            dt.date.fromisoformat(text)
            return Literal(text, datatype=NamedNode(XSD + "date"))
    except ValueError:
        pass
    raise Invalid(f"{what}: {text!r} is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)")


def check_script(what: str, text: str, lang: str) -> None:
    """A value tagged Chinese must be in CJK script; one tagged English must be in Latin."""
    primary = lang.split("-")[0].lower()
    if primary in CJK_LANGS and not CJK.search(text):
        raise Invalid(f"{what}@{lang}: {text!r} has no CJK characters; is it @en?")
    if primary in LATIN_LANGS:
        if text.isascii():  # no CJK at all: only a letter is needed (the common case, fast)
            cjk, latin = 0, 1 if LATIN.search(text) else 0
        else:
            cjk, latin = len(CJK.findall(text)), len(LATIN.findall(text))
        if latin == 0 or cjk > latin:
            raise Invalid(f"{what}@{lang}: {text!r} looks like Chinese text; use @zh")


# Terms of values that repeat across an archive (categories, retention periods, languages,
# dates, formats…): to_term is a pure function of (type, field, language, value, base) for
# every field but text (rarely repeated) and links (resolved against the current tree).
_TERMS: dict[tuple, tuple[ContentType, tuple[Field, Literal | NamedNode]]] = {}
_TERMS_MAX = 100_000


def to_term(
    ctype: ContentType,
    a: Assignment,
    *,
    base: str,
    resolve: Callable[[str], str],
) -> tuple[Field, Literal | NamedNode]:
    """Turn an assignment into the field it sets and the RDF term it stores."""
    key = (id(ctype), ctype.name, a.field, a.lang, a.value, base)
    hit = _TERMS.get(key)
    if hit is not None:
        return hit[1]
    out = _to_term(ctype, a, base=base, resolve=resolve)
    f = out[0]
    if not (f.is_text or f.is_reference or a.lang is not None):
        if len(_TERMS) >= _TERMS_MAX:
            _TERMS.clear()
        _TERMS[key] = (ctype, out)  # holding the type keeps its id from being reused
    return out


def _to_term(
    ctype: ContentType,
    a: Assignment,
    *,
    base: str,
    resolve: Callable[[str], str],
) -> tuple[Field, Literal | NamedNode]:
    f = ctype.fields.get(a.field)
    if f is None:
        known = ", ".join(sorted(ctype.fields))
        raise Invalid(f"{ctype.name} has no field {a.field!r} (fields: {known})")
    what = a.field
    check_text(what, a.lang or "")
    value = check_text(what, a.value).strip()
    if not value:
        raise Invalid(f"{what}: empty value")
    if f.is_text or (a.lang is not None and RDF_LANGSTRING in f.datatypes):
        if a.lang is None:
            raise Invalid(f"{what} needs a language: {what}@zh=… or {what}@en=…")
        if a.lang != a.lang.strip() or not is_language_tag(a.lang):  # "en\n" is no tag
            raise Invalid(f"{what}@{a.lang!r}: {a.lang!r} is not a language tag of a known "
                          "language (BCP 47, e.g. zh, en, bo, mn, ug)")
        check_script(what, value, a.lang)
        return f, Literal(value, language=a.lang.lower())
    if a.lang is not None:
        raise Invalid(f"{what} takes no language tag (got @{a.lang})")
    if f.scheme:
        codes = vocabulary_codes().get(f.scheme, {})
        # codes as the scheme spells them: category and retention upper case (typed in
        # either case), access and strand lower case
        code = value if value in codes else value.upper()
        if code not in codes:
            raise Invalid(f"{what}: {value!r} is not in the {f.scheme} scheme ({', '.join(codes)})")
        return f, NamedNode(f"{base}/vocab/{f.scheme}/{code}")
    if XSD + "string" in f.datatypes and len(f.datatypes) > 1:
        # free text as typed (`date` also takes text@lang, and typed dates from importers)
        return f, Literal(value)
    if f.path.endswith(("hasOrHadLanguage", "hasOrHadAllMembersWithLanguage")):
        iso = iso639_2b(value)
        if iso is None:
            raise Invalid(f"{what}: {value!r} is not an ISO 639 code of a known "
                          "language (e.g. zh, chi, bo, tib, mn, ug)")
        return f, NamedNode(ISO639 + iso)
    if f.is_reference:
        if value.startswith(("http://", "https://")):
            check_iri(what, value)
        return f, check_iri(what, resolve(value))
    if f.is_iri:
        return f, check_iri(what, value)
    if f.is_date:
        return f, parse_date(value, what)
    if f.datatypes == (XSD + "integer",):
        if not re.fullmatch(r"[0-9]{1,9}", value):
            raise Invalid(f"{what}: {value!r} is not a whole number")
        return f, Literal(value, datatype=NamedNode(XSD + "integer"))
    if f.pattern is not None and not f.pattern.search(value):
        raise Invalid(f"{what}: {value!r} does not match {f.pattern.pattern}")
    return f, Literal(value)


def display(term: terms.Term, base: str = "") -> str:
    """A term as an archivist reads it: the text, a vocabulary code, or the IRI."""
    if isinstance(term, Literal):
        return term.value
    iri = terms.value(term)
    if base and iri.startswith(base + "/vocab/"):
        return iri.rsplit("/", 1)[-1]
    if iri.startswith(ISO639):
        return iri[len(ISO639):]
    return iri


def language_of(term: object) -> str | None:
    return term.language if isinstance(term, Literal) and term.language else None


def is_lang_literal(term: object) -> bool:
    return isinstance(term, Literal) and term.datatype.value == RDF_LANGSTRING


def group(values: Iterable[tuple[str, object]]) -> dict[str, list]:
    out: dict[str, list] = {}
    for k, v in values:
        out.setdefault(k, []).append(v)
    return out
