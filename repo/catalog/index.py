"""One catalog on disk: a tantivy index of pre-analysed documents.

Why tantivy rather than SQLite FTS5 (``python -m bench.search --fts5``: 722,231 synthetic
objects on this 2-core machine, the very same token streams and field weights in both; see
docs/benchmarks.md, "Search"): FTS5 must score every match before it can return the best
20, and counting facets joins every matching row, so broad queries (a single character or
a common word: 30,000–220,000 matches) took 150–690 ms, p99 813 ms over the query set.
Tantivy prunes top-k ranking, counts facets over column-stored fast fields and releases the
GIL: p50 2.4 ms, p99 25 ms for the same queries with snippets and facets (年: 15 ms). Builds
are alike (87 s, 71 s: the Python analysis dominates); the index is 184 MB with the stored
texts, FTS5's 339 MB without them.

Each text field holds the token stream of :mod:`repo.catalog.analysis` and is split on
whitespace only: tantivy never sees raw Chinese. Facets are counted over fast fields
(columns): ``fkey`` joins category, type, access and state so that one aggregation counts
four facets; sorting uses fast fields too. The original texts a hit
shows (titles, notes, names) are one stored JSON blob per document.

A catalog is written by one process at a time (tantivy's writer lock; the repository's
own store lock already makes the repository single-writer) and read by any number: a
reader reloads to the last commit before each search.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import tantivy

from repo.catalog.analysis import code_levels, index_texts, normalize, whole_code, word_token
from repo.catalog.documents import Document, digest_of
from repo.catalog.query import FIELDS, ParsedQuery, Unit

SCHEMA_VERSION = 3  # 3: a folder's contents, sorted (parent, position, modified, title sorts)
VERSION_FILE = "lantai-catalog.json"
BOOSTS = {"title": 8.0, "refcode": 30.0, "refpath": 1.5, "agents": 4.0, "places": 3.0,
          "subjects": 3.0, "body": 1.0, "extra": 0.7}
KEYWORD_FIELDS = ("iri", "type", "state", "access", "category", "language", "owner",
                  "ancestors", "parent")
# position and modified (and the type, state and title columns) sort a folder's contents
# without reading every child (Plone's folder_contents is a catalog query, for the same reason)
INT_FIELDS = ("year", "date_lo", "date_hi", "position", "modified")
FAST_KEYWORDS = ("language", "fkey", "type", "state")
TITLE_SORTS = ("titlesort_zh", "titlesort_en")
ROOT_PARENT = "/"  # the parent keyword of the objects at the top of the tree
FKEY_PARTS = ("category", "type", "access", "state")  # one column for four facets
NO_DATE_LO, NO_DATE_HI = 99_999_999, 0
NO_CODE_LO, NO_CODE_HI = "\uffff", ""


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    for name in FIELDS:
        sb.add_text_field(name, stored=False, tokenizer_name="whitespace")
    for name in KEYWORD_FIELDS:
        sb.add_text_field(name, stored=False, fast=name in FAST_KEYWORDS, tokenizer_name="raw")
    # category|type|access|state: one terms aggregation counts four facets
    sb.add_text_field("fkey", stored=False, fast=True, tokenizer_name="raw")
    for name in INT_FIELDS:
        sb.add_integer_field(name, stored=False, indexed=True, fast=True)
    sb.add_text_field("refsort_lo", stored=False, fast=True, tokenizer_name="raw")
    sb.add_text_field("refsort_hi", stored=False, fast=True, tokenizer_name="raw")
    for name in TITLE_SORTS:
        sb.add_text_field(name, stored=False, fast=True, tokenizer_name="raw")
    sb.add_bytes_field("data", stored=True, indexed=False, fast=False)
    return sb.build()


SCHEMA = _schema()


@lru_cache(maxsize=8192)
def refcode_tokens(code: str) -> tuple[str, str]:
    """(exact key, keys of every level above and the code's parts) for the two code fields.

    A code as the archive writes it (``0421-JX·2021-D10-0031``: one whole code, nothing
    around it) is read once, by one match: its parts are its levels' pieces and, each
    stemmed, its words (the separators are not word characters). Every code of an ingest
    is new, so this runs for every record and file (15,764 at scale 0.05)."""
    if code.strip() == code:
        parts = whole_code(normalize(code))
        if parts is not None:
            levels = ["".join(parts[:n]) for n in range(1, len(parts) + 1)]
            return levels[-1], " ".join([*levels, *map(word_token, parts)])
    return refcode_tokens_analysed(code)


def refcode_tokens_analysed(code: str) -> tuple[str, str]:
    """:func:`refcode_tokens` of any text, by the analysis (what the one match must give)."""
    levels = code_levels(code)
    if not levels:
        return "", index_texts([code])
    parts = index_texts([normalize(code).replace("·", " ").replace("-", " ")])
    return levels[-1], " ".join([*levels, parts])


def to_tantivy(doc: Document, encoded: bytes | None = None) -> tantivy.Document:
    """``encoded``: ``doc.encoded()`` when the caller has it already (its digest too).

    Runs for every document of an ingest, most of them page scans with no text at all:
    a text field is analysed only when the document has something for it (names are short
    and met again, :func:`_names_stream`; notes and OCR are long, each text is cached)."""
    t = tantivy.Document()
    add = t.add_text
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
    add("parent", doc.ancestors[0] if doc.ancestors else ROOT_PARENT)
    t.add_integer("position", doc.position)
    t.add_integer("modified", modified_number(doc.modified))
    for name, lang in zip(TITLE_SORTS, ("zh", "en"), strict=True):
        add(name, title_sort_key(doc, lang))
    if doc.year is not None:
        t.add_integer("year", doc.year)
    date = doc.date
    t.add_integer("date_lo", date if date is not None else NO_DATE_LO)
    t.add_integer("date_hi", date if date is not None else NO_DATE_HI)
    refcode = doc.refcode
    if refcode:
        sort_code = refcode.replace("·", ".")
        add("refsort_lo", sort_code)
        add("refsort_hi", sort_code)
    else:
        add("refsort_lo", NO_CODE_LO)
        add("refsort_hi", NO_CODE_HI)
    if doc.titles:
        stream = _names_stream(tuple([text for text, _ in doc.titles]))
        if stream:
            add("title", stream)
    if refcode:
        exact, levels = refcode_tokens(refcode)
        if exact:
            add("refcode", exact)
        if levels:
            add("refpath", levels)
    for name, names in (("agents", doc.agents), ("places", doc.places),
                        ("subjects", doc.subjects)):
        if names:
            stream = _names_stream(tuple(names))
            if stream:
                add(name, stream)
    if doc.texts:
        stream = index_texts([text for group in doc.texts.values() for text in group])
        if stream:
            add("body", stream)
    if doc.extra:
        stream = index_texts(doc.extra)
        if stream:
            add("extra", stream)
    t.add_bytes("data", encoded if encoded is not None else doc.encoded())
    return t


def modified_number(iso: str) -> int:
    """``2026-11-25T21:05:01.123456`` → 20261125210501123456 // 1000 (sortable, fits i64)."""
    digits = "".join(c for c in iso if c.isdigit())
    return int(digits[:17].ljust(17, "0")) if digits else 0


def title_sort_key(doc: Document, lang: str) -> str:
    """The title in ``lang`` (else in any language), case-folded: a folder sorted by title.
    Objects without a title sort last."""
    title = doc.title(lang) or (doc.titles[0][0] if doc.titles else "")
    return title.casefold() if title else NO_CODE_LO


@lru_cache(maxsize=16_384)
def _names_stream(names: tuple[str, ...]) -> str:
    """:func:`index_texts` of titles or names, kept: an object's staff and public
    documents share them, thousands of records the names of their creator."""
    return index_texts(list(names))


def data_of(doc: Document) -> dict:
    """What a lookup returns for a document: its stored data and digest."""
    encoded = doc.encoded()
    return {**doc.data(), "digest": digest_of(encoded)}


# ------------------------------------------------------------------------- queries
def _unit_query(unit: Unit) -> tantivy.Query:
    subs = []
    for name in unit.fields:
        if unit.kind == "phrase":
            q = tantivy.Query.phrase_query(SCHEMA, name, list(unit.tokens))
        elif unit.kind == "prefix":
            q = tantivy.Query.regex_query(SCHEMA, name, _regex_escape(unit.tokens[0]) + ".*")
        else:
            q = tantivy.Query.term_query(SCHEMA, name, unit.tokens[0])
        subs.append((tantivy.Occur.Should, tantivy.Query.boost_query(q, BOOSTS[name])))
    return subs[0][1] if len(subs) == 1 else tantivy.Query.boolean_query(subs)


def _regex_escape(token: str) -> str:
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\-&~#@<>\"" else c for c in token)


def text_query(pq: ParsedQuery) -> tantivy.Query | None:
    """The parsed query as a tantivy query (None: no text, everything matches)."""
    must = []
    for group in pq.groups:
        if len(group) == 1:
            must.append((tantivy.Occur.Must, _unit_query(group[0])))
        else:
            must.append((tantivy.Occur.Must, tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, _unit_query(u)) for u in group])))
    if not must:
        return None
    must += [(tantivy.Occur.MustNot, _unit_query(u)) for u in pq.excluded]
    return tantivy.Query.boolean_query(must) if len(must) > 1 else must[0][1]


def keyword_query(name: str, values: Iterable[str]) -> tantivy.Query:
    values = list(values)
    if len(values) == 1:
        return tantivy.Query.term_query(SCHEMA, name, values[0])
    return tantivy.Query.term_set_query(SCHEMA, name, values)


def int_range_query(name: str, lo: int | None, hi: int | None) -> tantivy.Query:
    # the inverted index (the postings of the years in range) beats scanning the column of
    # all 700,000 documents, and the query runs three times (ranking and two facet counts)
    return tantivy.Query.range_query(SCHEMA, name, tantivy.FieldType.Integer, lo, hi,
                                     use_inverted_index=True)


def combine(text: tantivy.Query | None, filters: list[tantivy.Query],
            excluded: Sequence[tantivy.Query] = ()) -> tantivy.Query:
    """Text (scored) AND filters (not scored) AND NOT excluded."""
    clauses = []
    if text is not None:
        clauses.append((tantivy.Occur.Must, text))
    clauses += [(tantivy.Occur.Must, tantivy.Query.const_score_query(f, 0.0)) for f in filters]
    if not clauses:
        clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
    clauses += [(tantivy.Occur.MustNot, q) for q in excluded]
    if len(clauses) == 1:
        return clauses[0][1]
    return tantivy.Query.boolean_query(clauses)


# ------------------------------------------------------------------------- the index
class CatalogIndex:
    """A tantivy index in ``path`` with Lantai's schema."""

    def __init__(self, path: Path, index: tantivy.Index) -> None:
        self.path = path
        self.index = index

    # -- opening
    @classmethod
    def open(cls, path: Path, *, create: bool = False) -> CatalogIndex:
        """Open (or, with ``create``, create or re-create on a schema change) the index."""
        path = Path(path)
        if not cls.usable(path):
            if not create:
                raise FileNotFoundError(f"no catalog at {path}; run `lantai reindex`")
            if path.exists():
                shutil.rmtree(path)
            path.mkdir(parents=True)
            index = tantivy.Index(SCHEMA, path=str(path), reuse=False)
            (path / VERSION_FILE).write_text(json.dumps({"schema": SCHEMA_VERSION}) + "\n",
                                             encoding="utf-8")
            return cls(path, index)
        return cls(path, tantivy.Index(SCHEMA, path=str(path), reuse=True))

    @staticmethod
    def usable(path: Path) -> bool:
        """Does ``path`` hold an index of this schema version?"""
        try:
            meta = json.loads((Path(path) / VERSION_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return meta.get("schema") == SCHEMA_VERSION and (Path(path) / "meta.json").exists()

    @property
    def complete(self) -> bool:
        """False while a catalog made for a site that had objects awaits `lantai reindex`."""
        try:
            meta = json.loads((self.path / VERSION_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return bool(meta.get("complete", True))

    def mark_complete(self, complete: bool) -> None:
        meta = {"schema": SCHEMA_VERSION, "complete": complete}
        tmp = self.path / (VERSION_FILE + ".tmp")
        tmp.write_text(json.dumps(meta) + "\n", encoding="utf-8")
        tmp.replace(self.path / VERSION_FILE)

    def generation(self) -> tuple[int, int, int]:
        """Changes with every commit (tantivy rewrites meta.json): keys what is precomputed."""
        try:
            st = (self.path / "meta.json").stat()
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def searcher(self) -> tantivy.Searcher:
        self.index.reload()
        return self.index.searcher()

    def count(self) -> int:
        return self.searcher().num_docs

    # -- reading
    def lookup(self, iris: Iterable[str]) -> dict[str, dict]:
        """The stored data of the documents with these IRIs (those indexed)."""
        iris = list(dict.fromkeys(iris))
        if not iris:
            return {}
        searcher = self.searcher()
        out: dict[str, dict] = {}
        for i in range(0, len(iris), 4096):
            chunk = iris[i:i + 4096]
            result = searcher.search(keyword_query("iri", chunk), len(chunk) * 2, count=False)
            for _, address in result.hits:
                data = load_data(searcher.doc(address))
                out[data["iri"]] = data
        return out

    def all_iris(self) -> set[str]:
        searcher = self.searcher()
        n = searcher.num_docs
        if not n:
            return set()
        result = searcher.search(tantivy.Query.all_query(), n, count=False)
        return {load_data(searcher.doc(a))["iri"] for _, a in result.hits}

    # -- writing
    @contextmanager
    def writer(self, *, heap: int = 32_000_000, threads: int = 1) -> Iterator[Writer]:
        """A batch of changes, committed at the end (rolled back on an exception)."""
        w = self.index.writer(heap_size=heap, num_threads=threads)
        batch = Writer(w)
        try:
            yield batch
        except BaseException:
            w.rollback()
            raise
        else:
            if batch.changed:
                w.commit()
            w.wait_merging_threads()
        finally:
            batch._w = None  # the writer (and its lock) go with the last reference
            del w


class Writer:
    def __init__(self, writer: tantivy.IndexWriter) -> None:
        self._w: tantivy.IndexWriter | None = writer
        self.changed = False

    @property
    def _open(self) -> tantivy.IndexWriter:
        if self._w is None:
            raise RuntimeError("this catalog batch is already committed")
        return self._w

    def delete(self, iri: str) -> None:
        self._open.delete_documents_by_term("iri", iri)
        self.changed = True

    def put(self, doc: Document, *, replace: bool = True, encoded: bytes | None = None) -> None:
        if replace:
            self._open.delete_documents_by_term("iri", doc.iri)
        self._open.add_document(to_tantivy(doc, encoded))
        self.changed = True

    def clear(self) -> None:
        self._open.delete_all_documents()
        self.changed = True


def load_data(doc: tantivy.Document) -> dict:
    data = doc.get_first("data")
    if data is None:
        raise ValueError("a catalog document without its stored data")
    raw = bytes(data)
    return {**json.loads(raw.decode("utf-8")), "digest": digest_of(raw)}


__all__ = ["SCHEMA", "CatalogIndex", "combine", "text_query"]
