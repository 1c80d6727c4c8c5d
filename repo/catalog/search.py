"""Searching a catalog: the Python API the publisher and the command line use.

::

    from repo.catalog import Catalog

    public = Catalog.open(home, public=True)            # publication dataset only
    r = public.search("西迁", filters={"category": "XS"}, sort="date", page=1, size=20)
    r.total, r.hits[0].title_zh, r.hits[0].snippet_html, r.facets["decade"]

    staff = Catalog.for_repository(repo)                # working store, every live object
    staff.search("学籍", user=repo.user("reader"))      # only what that user may view

The public catalog needs no repository (the web server reads it as it reads the
publication dataset). The staff catalog filters by permission, which needs the
repository: users with a site-wide role see everything (every role may view in every
state); anyone else sees what they have a local role on (and everything inside it), what
they own, and the personal records about themselves, each of those checked with
``Repository.can_view``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tantivy
from pyoxigraph import NamedNode

from repo.catalog import facets as facet_defs
from repo.catalog.index import (
    ROOT_PARENT,
    CatalogIndex,
    combine,
    keyword_query,
    load_data,
    text_query,
)
from repo.catalog.maintenance import catalog_path, flush_pending
from repo.catalog.query import parse
from repo.catalog.snippets import best_snippet, render
from repo.catalog.snippets import matches as match_spans
from repo.errors import Invalid, LantaiError
from repo.security import ALL_ROLES, User

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """Threads that count facets while the calling thread ranks (tantivy releases the GIL)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lantai-facets")
        return _POOL


SORTS = {
    "relevance": None,
    "date": ("date_lo", tantivy.Order.Asc),
    "-date": ("date_hi", tantivy.Order.Desc),
    "refcode": ("refsort_lo", tantivy.Order.Asc),
    "-refcode": ("refsort_hi", tantivy.Order.Desc),
}
SORT_ALIASES = {"date-desc": "-date", "newest": "-date", "oldest": "date", "code": "refcode",
                "score": "relevance", "rank": "relevance"}
MAX_SIZE = 500
# a folder's contents (:meth:`Catalog.contents`): key -> (ascending, descending) sort column;
# "title" is per language (titlesort_zh, titlesort_en)
CONTENTS_SORTS = {
    "position": ("position", "position"),
    "title": ("titlesort_{lang}", "titlesort_{lang}"),
    "refcode": ("refsort_lo", "refsort_hi"),
    "type": ("type", "type"),
    "state": ("state", "state"),
    "modified": ("modified", "modified"),
}


@dataclass
class Hit:
    """One result. ``snippet_html`` and the ``*_html`` titles are escaped HTML with
    ``<mark>`` around what matched; everything else is plain text."""

    iri: str
    path: str
    title_zh: str
    title_en: str
    type: str
    year: int | None
    refcode: str
    category: str
    state: str
    access: str
    score: float
    snippet_html: str
    snippet_field: str
    title_zh_html: str
    title_en_html: str
    titles: list[tuple[str, str]] = field(default_factory=list)
    position: int = 0
    modified: str = ""


@dataclass
class Results:
    query: str
    total: int
    page: int
    size: int
    sort: str
    hits: list[Hit]
    facets: dict[str, list[tuple[str | int, int]]]
    complete: bool = True  # False: the catalog awaits `lantai reindex`

    @property
    def pages(self) -> int:
        return (self.total + self.size - 1) // self.size if self.size else 0

    def to_json(self) -> dict:
        data = asdict(self)
        data["pages"] = self.pages
        data["facets"] = {k: [list(v) for v in vs] for k, vs in self.facets.items()}
        for h in data["hits"]:
            h["titles"] = [list(t) for t in h["titles"]]
        return data


class Catalog:
    """A catalog opened for searching (the staff or the public one)."""

    def __init__(self, index: CatalogIndex, *, public: bool, repository=None) -> None:
        self.index = index
        self.public = public
        self.repo = repository
        self._generation: tuple[int, int, int] | None = None
        self._complete = True
        self._browse: dict[tuple, tuple[int, tuple[Hit, ...], dict]] = {}
        self._listing: tuple[tantivy.Searcher, bool] | None = None  # see _snapshot

    @classmethod
    def open(cls, home: Path | str, *, public: bool = False, repository=None) -> Catalog:
        """Open a site's catalog for reading (no repository needed for the public one)."""
        path = catalog_path(Path(home), public)
        try:
            index = CatalogIndex.open(path)
        except FileNotFoundError:
            raise LantaiError(f"no {'public' if public else 'staff'} catalog in {home}; "
                              "run `lantai reindex`") from None
        return cls(index, public=public, repository=repository)

    @classmethod
    def for_repository(cls, repository, *, public: bool = False) -> Catalog:
        """The catalog the repository keeps in step (same process, same index objects)."""
        from repo.catalog import maintainer

        m = maintainer(repository)
        return cls(m.public if public else m.staff, public=public, repository=repository)

    # ------------------------------------------------------------------ searching
    def search(self, query: str = "", *, filters: Mapping[str, object] | None = None,
               sort: str = "relevance", page: int = 1, size: int = 20,
               user: User | None = None, facets: bool = True,
               snippet_width: int = 120) -> Results:
        """Search. ``filters`` as in :mod:`repo.catalog.facets`; ``sort`` relevance, date,
        -date (newest first), refcode or -refcode; pages count from 1."""
        sort = SORT_ALIASES.get(sort, sort)
        if sort not in SORTS:
            raise Invalid(f"sort {sort!r}: one of {', '.join(SORTS)}")
        if page < 1 or not 0 <= size <= MAX_SIZE:
            raise Invalid(f"page from 1, size 0–{MAX_SIZE}")
        flush_pending(self.index.path)  # changes this process made are committed first
        pq = parse(query)
        clauses = facet_defs.filter_queries(filters)
        if not self.public:
            visible = self._visibility(user)
            if visible is not None:
                clauses.append(visible)
        text = text_query(pq)
        q = combine(text, clauses)
        if pq.empty and sort == "relevance":
            sort = "refcode"  # nothing to rank by: archival order
        generation = self.index.generation()
        if generation != self._generation:
            self._generation, self._complete = generation, self.index.complete
            self._browse.clear()
        # Browsing everything (no words, no filters) is the same for everyone until the next
        # commit: its facets and pages are computed once per commit.
        browse = (sort, page, size, facets) if text is None and not clauses else None
        if browse is not None and browse in self._browse:
            total, kept, counted = self._browse[browse]
            return Results(query=query, total=total, page=page, size=size, sort=sort,
                           hits=list(kept), facets=counted, complete=self._complete)
        searcher = self.index.searcher()
        pending = [_pool().submit(searcher.aggregate, q, group)
                   for group in facet_defs.FACET_GROUPS] if facets else []
        order = SORTS[sort]
        kwargs: dict = {"count": True, "offset": (page - 1) * size}
        if order is not None:
            kwargs.update(order_by_field=order[0], order=order[1])
        result = searcher.search(q, max(size, 1), **kwargs)
        hits: list[Hit] = []
        for key, address in result.hits[:size]:
            data = load_data(searcher.doc(address))
            hits.append(self._hit(data, key if order is None else 0.0, pq.highlight,
                                  snippet_width))
        merged: dict = {}
        for future in pending:
            merged.update(future.result())
        counted = facet_defs.read_aggregation(merged) if facets else {}
        total = result.count or 0  # type: ignore[attr-defined]  # missing from tantivy's stub
        if browse is not None:
            if len(self._browse) > 64:
                self._browse.clear()
            self._browse[browse] = (total, tuple(hits), counted)
        return Results(query=query, total=total, page=page, size=size, sort=sort,
                       hits=hits, facets=counted, complete=self._complete)

    def _hit(self, data: dict, score: float, hl, width: int) -> Hit:
        titles, zh, en = _titles(data)
        candidates: list[tuple[str, str]] = []
        for name in ("scope", "note"):
            candidates += [(name, t) for t in data.get("texts", {}).get(name, [])]
        candidates += [("extra", t) for t in data.get("extra", [])]
        for name in ("agents", "subjects", "places"):
            if data.get(name):
                candidates.append((name, " · ".join(dict.fromkeys(data[name]))))
        if data.get("refcode"):
            candidates.append(("refcode", data["refcode"]))
        candidates += [("title", t) for t, _ in titles if t not in (zh, en)]
        snippet_field, snippet_html = best_snippet(candidates, hl, width=width)
        return Hit(
            iri=data["iri"], path=data.get("path", ""), title_zh=zh, title_en=en,
            type=data.get("type", ""), year=data.get("year"), refcode=data.get("refcode", ""),
            category=data.get("category", ""), state=data.get("state", ""),
            access=data.get("access", ""), score=float(score), snippet_html=snippet_html,
            snippet_field=snippet_field,
            title_zh_html=render(zh, match_spans(zh, hl)),
            title_en_html=render(en, match_spans(en, hl)), titles=titles,
            position=int(data.get("position") or 0), modified=data.get("modified") or "")

    # ------------------------------------------------------------------ a folder's contents
    def contents(self, parent_iri: str | None, *, user: User | None, sort: str = "position",
                 descending: bool = False, page: int = 1, size: int = 25, lang: str = "zh",
                 types: Iterable[str] = ()) -> Results:
        """One page of what is directly inside ``parent_iri`` (None: the top of the tree)
        that ``user`` may view, sorted by one of :data:`CONTENTS_SORTS`; ``types`` keeps
        only those content types (the tree shows containers). Only the page is read: a
        folder of 10,000 children answers as fast as one of 10."""
        if sort not in CONTENTS_SORTS:
            raise Invalid(f"sort {sort!r}: one of {', '.join(CONTENTS_SORTS)}")
        if page < 1 or not 1 <= size <= MAX_SIZE:
            raise Invalid(f"page from 1, size 1–{MAX_SIZE}")
        if lang not in ("zh", "en"):
            raise Invalid(f"language {lang!r}: zh or en")
        searcher, complete = self._snapshot()
        clauses = [keyword_query("parent", [parent_iri or ROOT_PARENT])]
        types = sorted(types)
        if types:
            clauses.append(keyword_query("type", types))
        if not self.public:
            visible = self._visibility(user)
            if visible is not None:
                clauses.append(visible)
        q = combine(None, clauses)
        offset, limit, backwards = (page - 1) * size, size, False
        if page > 1 and sort in ("title", "refcode"):
            # tantivy turns every skipped text key back into its text (≈ 50 µs each): past
            # the middle, the page is read from the other end (a title sort's last page of
            # 10,000 took 210 ms forwards, 3 ms backwards; the middle stays the slowest)
            total = searcher.search(q, 1, count=True).count or 0  # type: ignore[attr-defined]
            if offset >= total:
                offset, limit = 0, 0
            elif offset + size > total // 2:
                backwards, descending = True, not descending
                offset, limit = max(total - offset - size, 0), min(size, total - offset)
        column = CONTENTS_SORTS[sort][1 if descending else 0].format(lang=lang)
        order = tantivy.Order.Desc if descending else tantivy.Order.Asc
        result = searcher.search(q, max(limit, 1), count=True, offset=offset,
                                 order_by_field=column, order=order)
        found = result.hits[:limit]
        hits = [_listed(load_data(searcher.doc(address)))
                for _, address in (reversed(found) if backwards else found)]
        total = result.count or 0  # type: ignore[attr-defined]  # missing from tantivy's stub
        return Results(query="", total=total, page=page, size=size, sort=sort, hits=hits,
                       facets={}, complete=complete)

    def _snapshot(self) -> tuple[tantivy.Searcher, bool]:
        """The searcher (and completeness) the listings of this Catalog read: made once, so
        that a page's several listings (a folder and the tree's branches) cost one reload
        (≈ 4 ms) and one look at the version file, and agree with each other. A Catalog
        opened per request (as the staff pages and the API do) so reads one commit."""
        if self._listing is None:
            flush_pending(self.index.path)  # changes this process made are committed first
            self._listing = (self.index.searcher(), self.index.complete)
        return self._listing

    # ------------------------------------------------------------------ worklists
    def by_change(self, *, user: User, state: str, owner: str | None = None,
                  within: Iterable[str] | None = None, newest: bool = False,
                  limit: int = 20) -> list[str] | None:
        """IRIs of the objects in ``state`` that ``user`` may view (owned by ``owner``;
        inside or one of the containers ``within``), by their last change, oldest first
        (``newest``: newest first): the dashboard's drafts and review queue, without reading
        every such object. None while the catalog awaits ``lantai reindex``."""
        if not self.index.complete:
            return None
        flush_pending(self.index.path)
        clauses = [keyword_query("state", [state])]
        if owner is not None:
            clauses.append(keyword_query("owner", [owner]))
        if within is not None:
            inside = sorted(within)
            if not inside:
                return []
            clauses.append(tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, keyword_query("iri", inside)),
                 (tantivy.Occur.Should, keyword_query("ancestors", inside))]))
        if not self.public:
            visible = self._visibility(user)
            if visible is not None:
                clauses.append(visible)
        searcher = self.index.searcher()
        result = searcher.search(combine(None, clauses), max(limit, 1), order_by_field="modified",
                                 order=tantivy.Order.Desc if newest else tantivy.Order.Asc)
        return [load_data(searcher.doc(address))["iri"] for _, address in result.hits[:limit]]

    # ------------------------------------------------------------------ permissions
    def _visibility(self, user: User | None) -> tantivy.Query | None:
        """None if ``user`` may view everything, else the filter of what they may view."""
        if user is None:
            raise Invalid("staff search needs a user (or search the public catalog)")
        if set(user.roles) & set(ALL_ROLES):
            return None  # every role may view every state (repo.security.PERMISSIONS)
        repo = self.repo
        if repo is None:
            raise Invalid("staff search for a user without a site-wide role needs the "
                          "repository (Catalog.for_repository)")
        from repo.objects import ROLES, lt_node, user_iri

        granted: set[str] = set()
        for role in ROLES:
            for q in repo.working.quads_for_pattern(None, lt_node("local" + role),
                                                    user_iri(user.name), repo.mgmt):
                obj = repo.load(q.subject.value)
                if obj is not None and not obj.deleted:
                    granted.add(obj.iri)
        personal: set[str] = set()
        if user.agent:
            for q in repo.working.quads_for_pattern(None, None, NamedNode(user.agent), None):
                g = q.graph_name
                if not isinstance(g, NamedNode) or g == repo.mgmt:
                    continue
                for iri in [g.value, *repo.descendant_iris(g.value)]:
                    obj = repo.load(iri)
                    if obj is not None and not obj.deleted and repo.can_view(user, obj):
                        personal.add(iri)
        alternatives = [keyword_query("owner", [user.name])]
        if granted:
            alternatives += [keyword_query("iri", sorted(granted)),
                             keyword_query("ancestors", sorted(granted))]
        if personal:
            alternatives.append(keyword_query("iri", sorted(personal)))
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in alternatives])


def _listed(data: dict) -> Hit:
    """A document as a folder lists it: no words were searched, so no snippet or marks."""
    titles, zh, en = _titles(data)
    return Hit(iri=data["iri"], path=data.get("path", ""), title_zh=zh, title_en=en,
               type=data.get("type", ""), year=data.get("year"),
               refcode=data.get("refcode", ""), category=data.get("category", ""),
               state=data.get("state", ""), access=data.get("access", ""), score=0.0,
               snippet_html="", snippet_field="", title_zh_html="", title_en_html="",
               titles=titles, position=int(data.get("position") or 0),
               modified=data.get("modified") or "")


def _titles(data: dict) -> tuple[list, str, str]:
    """(every title, the Chinese one, the English one); a title in another language (or
    none) stands in for the Chinese one when there is neither."""
    titles = [tuple(t) for t in data.get("titles", [])]
    zh = next((t for t, lang in titles if lang.split("-")[0] == "zh"), "")
    en = next((t for t, lang in titles if lang.split("-")[0] == "en"), "")
    if not zh and not en and titles:
        zh = titles[0][0]
    return titles, zh, en
