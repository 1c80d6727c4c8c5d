"""The catalog's fast paths give exactly what the plain ones give.

Indexing an ingest runs the analysis, the document builder and the JSON encoder for every
object, so each has a fast path (orjson, one regular expression match for a reference
code, one pass over an object's statements). Each is compared here with the plain way
(the code it replaced, kept below as the reference) over many generated inputs: the
documents, token streams and stored bytes must be the same, byte for byte.
"""

from __future__ import annotations

import itertools
import json
import random

import pytest

from ontology.namespaces import ISO639, RDF_TYPE, RDFS, RICO, SCHEMA
from repo.catalog import documents
from repo.catalog.analysis import category_codes, index_tokens, normalize, runs
from repo.catalog.documents import (
    AGENT_CLASSES,
    AGENT_LINKS,
    CATEGORY,
    DATE_PREDICATES,
    HAS_RECORD_SET_TYPE,
    IDENTIFIER,
    IRI,
    LANGUAGE,
    LITERAL,
    OTHER,
    PLACE_CLASSES,
    PLACE_LINKS,
    STRUCTURAL_PARENT,
    SUBJECT_LINKS,
    TEXT_PREDICATES,
    TITLE_PREDICATES,
    Builder,
    Document,
    Facts,
    Source,
    describe,
    parse_date,
    public_facts,
    type_from_statements,
)
from repo.catalog.index import (
    NO_CODE_HI,
    NO_CODE_LO,
    NO_DATE_HI,
    NO_DATE_LO,
    _names_stream,
    index_texts,
    modified_number,
    refcode_tokens,
    refcode_tokens_analysed,
    title_sort_key,
    to_tantivy,
)

_RDF_TYPE = RDF_TYPE.value


# ------------------------------------------------------------------------- stored JSON
def _json_bytes(doc: Document) -> bytes:
    return json.dumps(doc.data(), ensure_ascii=False, separators=(",", ":")).encode()


def test_the_stored_json_is_what_json_writes_for_every_character():
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for i in range(0, len(chars), 4096):
        text = "".join(chars[i:i + 4096])
        doc = Document(iri="https://x/id/r/1", type="item", state="published", access="open",
                       titles=[(text, "zh")], texts={"scope": [text, "\"\\\n\t"]},
                       agents=[text[:7]], year=1957, date=19570100, owner=text[-3:])
        assert doc.encoded() == _json_bytes(doc), f"characters from U+{ord(chars[i]):04X}"


def test_what_orjson_refuses_is_written_or_refused_as_json_does():
    huge = Document(iri="i", type="item", state="s", access="a", year=2 ** 70)
    assert huge.encoded() == _json_bytes(huge)
    lone = Document(iri="i", type="item", state="s", access="a", titles=[("\ud800", "zh")])
    with pytest.raises(UnicodeEncodeError):
        _json_bytes(lone)
    with pytest.raises(UnicodeEncodeError):
        lone.encoded()


# ------------------------------------------------------------------------- analysis
def _codes() -> list[str]:
    cats = [*sorted(category_codes())[:4], "qq"]
    out = []
    for fonds, cat, sep, rest in itertools.product(
            ["0421", "AB12", "ａｂ１２", "ACTS"], [c.upper() for c in cats] + [cats[0].lower()],
            ["·", ".", "・", "•", "‧", "-", " "],
            ["", "1957", "1957-Y", "1957-D30-0012", "1957-d10-KJ-0012-003", "1957-Y-0012-0007",
             "1957-X-0012", "1957-Y-ABCDEFG", "1957-Y-0012-12", "1957-Y-SERIES-0012",
             "1957-D30-FILES"]):
        code = f"{fonds}-{cat}" + (sep + rest if rest else "")
        out += [code, f" {code}", f"{code}号", f"见{code}", f"{code}-", code.lower()]
    return out


def test_a_reference_code_read_by_one_match_gives_the_analysed_tokens():
    codes = _codes()
    assert len(codes) > 5000
    refcode_tokens.cache_clear()
    fast = 0
    for code in codes:
        assert refcode_tokens(code) == refcode_tokens_analysed(code), code
        fast += bool(refcode_tokens(code)[0])
    assert fast > 1000  # the fast path was taken (and so compared) many times
    # words of a code are stemmed like any word (acts → act, series → seri)
    assert refcode_tokens("ACTS-XS·1957-Y-SERIES-0012")[1].split()[-6:] == [
        "act", "xs", "1957", "y", "seri", "0012"]


_ALPHABET = ("交通大学西迁檔案學校東京の歴史・ロシア한국"  # CJK, traditional, kana, hangul
             "abcXYZéüÅß0123456789 -·.,;'\"_/()　ＡＢ１２ﬁ\n\t" + "𠀀𠀁")


def _random_texts(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        pieces = [rnd.choice(_ALPHABET) for _ in range(rnd.randint(0, 30))]
        if rnd.random() < 0.3:
            pieces.insert(rnd.randint(0, len(pieces)), rnd.choice(_codes()))
        if rnd.random() < 0.2:
            pieces.append(" Letters of the Université, 1957 well-known")
        out.append("".join(pieces))
    return out


def test_index_tokens_are_the_runs_tokens_for_any_text():
    for text in _random_texts(3000, 7):
        found = runs(normalize(text))
        stream = [t for r in found for t in r.tokens]
        stream += [c for r in found if r.kind == "cjk" and len(r.text) > 1 for c in r.text]
        assert index_tokens(text) == " ".join(stream), repr(text)


def test_ascii_text_is_normalised_as_before():
    import unicodedata

    for text in ["Letters OF 1957", "", "ﬁ".encode().decode("ascii", "ignore"), "A-b·c"[:3],
                 "\x00\x7f MiXeD"]:
        expected = unicodedata.normalize("NFKC", text).lower()
        assert normalize(text) == expected


# ------------------------------------------------------------------------- documents
def _old_to_tantivy_fields(doc: Document) -> dict:
    """The fields the replaced to_tantivy gave (in the same order)."""
    out: dict[str, list] = {}

    def add(name, value):
        out.setdefault(name, []).append(value)

    add("iri", doc.iri)
    add("type", doc.type)
    add("state", doc.state)
    add("access", doc.access)
    add("fkey", "|".join((doc.category, doc.type, doc.access, doc.state)))
    if doc.category:
        add("category", doc.category)
    for lang in doc.languages:
        add("language", lang)
    if doc.owner:
        add("owner", doc.owner)
    for a in doc.ancestors:
        add("ancestors", a)
    # schema 3: a folder's contents, sorted (the staff workspace's folder view)
    add("parent", doc.ancestors[0] if doc.ancestors else "/")
    add("position", doc.position)
    add("modified", modified_number(doc.modified))
    for lang in ("zh", "en"):
        add(f"titlesort_{lang}", title_sort_key(doc, lang))
    if doc.year is not None:
        add("year", doc.year)
    add("date_lo", doc.date if doc.date is not None else NO_DATE_LO)
    add("date_hi", doc.date if doc.date is not None else NO_DATE_HI)
    sort_code = doc.refcode.replace("·", ".") if doc.refcode else ""
    add("refsort_lo", sort_code or NO_CODE_LO)
    add("refsort_hi", sort_code or NO_CODE_HI)
    exact, levels = refcode_tokens_analysed(doc.refcode) if doc.refcode else ("", "")
    body = [text for group in doc.texts.values() for text in group]
    for name, stream in (("title", _names_stream(tuple(t for t, _ in doc.titles))
                          if doc.titles else ""),
                         ("refcode", exact), ("refpath", levels),
                         ("agents", _names_stream(tuple(doc.agents)) if doc.agents else ""),
                         ("places", _names_stream(tuple(doc.places)) if doc.places else ""),
                         ("subjects", _names_stream(tuple(doc.subjects))
                          if doc.subjects else ""),
                         ("body", index_texts(body) if body else ""),
                         ("extra", index_texts(doc.extra) if doc.extra else "")):
        if stream:
            add(name, stream)
    add("data", doc.encoded())
    return out


def test_the_tantivy_document_has_the_fields_it_always_had():
    rnd = random.Random(3)
    texts = _random_texts(400, 11)
    codes = _codes()
    for i in range(1500):
        pick = lambda k: [rnd.choice(texts) for _ in range(rnd.randint(0, k))]  # noqa: E731
        doc = Document(
            iri=f"https://x/id/record/{i}", type=rnd.choice(["item", "file", "instantiation"]),
            state="published", access=rnd.choice(["open", "closed"]),
            path=rnd.choice(["", "/a/b"]), owner=rnd.choice(["", "admin"]),
            titles=[(t, rnd.choice(["zh", "en", ""])) for t in pick(3)],
            refcode=rnd.choice(["", *codes[:: 37]]),
            texts={g: pick(2) for g in rnd.sample(["scope", "note"], rnd.randint(0, 2))},
            agents=pick(3), places=pick(2), subjects=pick(2), extra=pick(1),
            category=rnd.choice(["", "XS", "JX"]), year=rnd.choice([None, 1957]),
            date=rnd.choice([None, 19570100]), languages=rnd.sample(["chi", "eng"], 1),
            ancestors=[f"https://x/id/recordset/{j}" for j in range(rnd.randint(0, 3))],
            position=rnd.randint(-3, 3), modified=rnd.choice(["", "2026-11-25T21:05:01.123456"]))
        assert to_tantivy(doc).to_dict() == _old_to_tantivy_fields(doc), doc


# the builder as it was, one look at the statements after another
def _old_own(rows):
    category = ""
    dates: dict = {}
    for p, kind, v, _ in rows:
        if p == CATEGORY:
            category = v.rsplit("/", 1)[-1]
        elif p in DATE_PREDICATES and kind == LITERAL:
            d = parse_date(v)
            if d:
                dates[p] = d
    for p in DATE_PREDICATES:
        if p in dates:
            return category, dates[p][0], dates[p][1]
    return category, None, None


class _OldBuilder(Builder):
    def _own(self, iri, graph):
        return _old_own(self.statements(iri, graph))

    def build(self, iri):
        graph = self._graph(iri)
        if graph is None:
            return None
        facts = self.source.facts(iri, graph)
        if facts is None:
            return None
        doc = Document(iri=iri, type=facts.type, state=facts.state, access=facts.access,
                       path=facts.path, owner=facts.owner)
        langs: set[str] = set()
        own = sorted(self.statements(iri, graph), key=lambda s: (s[0], s[2]))
        for p, kind, v, lang in own:
            if kind == LITERAL:
                if p in TITLE_PREDICATES:
                    doc.titles.append((v, lang))
                elif p in TEXT_PREDICATES:
                    doc.texts.setdefault(TEXT_PREDICATES[p], []).append(v)
                elif p == IDENTIFIER and not v.startswith("sha256:"):
                    doc.refcode = v
                continue
            if kind != IRI:
                continue
            if p == LANGUAGE and v.startswith(ISO639):
                langs.add(v[len(ISO639):])
            elif p in AGENT_LINKS or p in SUBJECT_LINKS or p in PLACE_LINKS:
                names, cls = self._linked(v)
                if not names:
                    continue
                if p in PLACE_LINKS or (p in SUBJECT_LINKS and cls in PLACE_CLASSES):
                    doc.places.extend(names)
                if p in AGENT_LINKS or (p in SUBJECT_LINKS and cls in AGENT_CLASSES):
                    doc.agents.extend(names)
                if p in SUBJECT_LINKS:
                    doc.subjects.extend(names)
        doc.titles.sort(key=lambda t: (t[1] != "zh", t[1] != "en", t[1], t[0]))
        doc.languages = sorted(langs)
        category, year, date = self._own(iri, graph)
        up_cat, up_year, up_date, ancestors = self._chain(iri, facts.parent)
        doc.category = category or up_cat
        doc.year = year if year is not None else up_year
        doc.date = date if date is not None else up_date
        doc.ancestors = ancestors
        return doc


class _Graph(list):
    """A graph that tells its statements (as a bulk ingest's do): a new list each time,
    as a store gives them."""

    def __init__(self, rows):
        super().__init__()
        self.rows = rows

    def own_statements(self, iri):
        return list(self.rows)


class _Source(Source):
    def __init__(self, graphs, facts):
        self.graphs, self.facts_of = graphs, facts

    def graph(self, iri):
        return self.graphs.get(iri)

    def facts(self, iri, graph):
        return self.facts_of.get(iri)


_PREDICATES = [*TITLE_PREDICATES, *TEXT_PREDICATES, *DATE_PREDICATES, IDENTIFIER, LANGUAGE,
               *AGENT_LINKS, *SUBJECT_LINKS, *PLACE_LINKS, CATEGORY, _RDF_TYPE,
               HAS_RECORD_SET_TYPE, *STRUCTURAL_PARENT, RICO + "other", SCHEMA + "width"]
_CLASSES = [RICO + "Record", RICO + "RecordSet", *AGENT_CLASSES, *PLACE_CLASSES]


def _random_archive(rnd: random.Random, n: int):
    """Objects with random statements (every predicate the builder reads, any kind of
    value, repeated), linked to each other, some without facts or graph."""
    iris = [f"https://x/id/o/{i}" for i in range(n)]
    values = ["1957-01-02", "1956年8月", "no date", "1960", "sha256:" + "0" * 64,
              "0421-XS·1957-Y-0012", "0421-XS·1957-Y-0013", "", "张三", "Zhang San", "學校",
              ISO639 + "chi", ISO639 + "eng", "https://x/vocab/category/XS",
              "https://x/vocab/category/JX", RICO + "RecordSetType/Series", *_CLASSES]
    graphs, facts = {}, {}
    for i, iri in enumerate(iris):
        rows = []
        for _ in range(rnd.randint(0, 14)):
            p = rnd.choice(_PREDICATES)
            kind = rnd.choice([IRI, LITERAL, LITERAL, OTHER])
            if p in AGENT_LINKS | SUBJECT_LINKS | PLACE_LINKS and rnd.random() < 0.7:
                v, kind = rnd.choice(iris), IRI
            else:
                v = rnd.choice(values)
            rows.append((p, kind, v, rnd.choice(["", "zh", "en", "zh-hant", "fr"])
                         if kind == LITERAL else ""))
        if rnd.random() < 0.95:
            graphs[iri] = _Graph(rows)
        if rnd.random() < 0.9:
            parent = rnd.choice([None, *iris[:i]]) if i else None
            facts[iri] = Facts(rnd.choice(["item", "file", "series"]), "published", "open",
                               "", rnd.choice(["", "admin"]), parent)
    return iris, graphs, facts


def test_one_pass_over_the_statements_builds_the_documents_the_builder_built():
    rnd = random.Random(5)
    built = 0
    for _ in range(40):
        iris, graphs, facts = _random_archive(rnd, 120)
        new = Builder(_Source(graphs, facts), base="https://x")
        old = _OldBuilder(_Source(graphs, facts), base="https://x")
        for iri in rnd.sample(iris, len(iris)):
            a, b = new.build(iri), old.build(iri)
            assert a == b
            if a is not None:
                assert a.encoded() == b.encoded()
                built += 1
    assert built > 3000


def test_the_description_of_statements_is_what_the_successive_looks_found():
    rnd = random.Random(9)
    _, graphs, _ = _random_archive(rnd, 3000)
    for graph in graphs.values():
        rows = graph.own_statements("")
        d = describe(rows)
        assert (d.category, d.year, d.date) == _old_own(rows)
        assert public_facts(rows) == Facts(
            type_from_statements(rows), "published", "open", "", "",
            next((v for p, _, v, _ in rows if p in STRUCTURAL_PARENT), None))
        assert describe(rows) is d  # read once
        again = list(rows)
        assert describe(again) == d and describe(again) is not d  # a new list: read again


def test_a_document_does_not_share_lists_with_its_twin():
    rows = [(RDFS + "label", LITERAL, "档案", "zh"), (RICO + "scopeAndContent", LITERAL, "x", ""),
            (LANGUAGE, IRI, ISO639 + "chi", "")]
    graph = _Graph(rows)
    graph.own_statements = lambda iri, _rows=rows: _rows  # one list, as a shared graph's
    src = _Source({"a": graph}, {"a": Facts("item", "published", "open")})
    one = Builder(src, base="https://x").build("a")
    two = Builder(src, base="https://x").build("a")
    one.titles.append(("x", "en"))
    one.texts["scope"].append("y")
    one.languages.append("eng")
    assert two.titles == [("档案", "zh")] and two.texts == {"scope": ["x"]}
    assert two.languages == ["chi"]
    assert documents.describe(rows).titles == [("档案", "zh")]
