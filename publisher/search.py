"""The public search page: ``/search?q=&page=&sort=&category=&decade=&type=&language=``.

It searches the *public* catalog (``repo.catalog``), which indexes exactly what the
publication dataset holds, so a closed record cannot be found here: its words never reached
that index. Facets are links that add or remove one filter (several values of one facet are
alternatives), so the page works without JavaScript and with the keyboard. Snippets come
from the catalog already escaped with ``<mark>`` around the matches; they are escaped again
here except for those marks, so nothing else in a stored text can become markup. Bad input
(an unknown filter, a page out of range, a query too long) gets a 400 page that says what
was wrong; a missing catalog a 503; never a 500.
"""

from __future__ import annotations

import html
import re
import threading
from urllib.parse import urlencode

from babel.lists import format_list
from flask import Blueprint, current_app, request
from flask_babel import gettext
from markupsafe import Markup
from pyoxigraph import NamedNode, Store

from ontology import terms
from ontology.namespaces import SCHEMA
from publisher.dataset import public_store
from publisher.i18n import lang, render, ui_ptext
from repo.catalog import Catalog
from repo.catalog import facets as facet_defs
from repo.errors import LantaiError

bp = Blueprint("search", __name__)

PAGE_SIZE = 20
MAX_PAGE = 500  # deep paging is linear in the index: no one reads page 501
MAX_QUERY = 500
FACETS = ("category", "decade", "type", "language")  # all public records are open/published
FACET_LIMIT = 12
SORTS = ("relevance", "date", "-date")
MARK = re.compile(r"(</?mark>)")
LANGUAGE_LABELS = {"chi": ui_ptext("language", "Chinese"), "zho": ui_ptext("language", "Chinese"),
                   "eng": ui_ptext("language", "English"), "jpn": ui_ptext("language", "Japanese"),
                   "rus": ui_ptext("language", "Russian"), "fre": ui_ptext("language", "French"),
                   "ger": ui_ptext("language", "German")}
IS_PART_OF = NamedNode(SCHEMA + "isPartOf")
_lock = threading.Lock()


class BadRequest(Exception):
    """A search the page cannot run; the message is in the visitor's language."""


def marked(fragment: str) -> Markup:
    """Escape everything in a catalog snippet except its ``<mark>`` tags."""
    out = []
    for part in MARK.split(fragment or ""):
        out.append(part if part in ("<mark>", "</mark>") else html.escape(html.unescape(part)))
    text = "".join(out)
    if text.count("<mark>") != text.count("</mark>"):  # never leave a mark open
        text = html.escape(html.unescape(MARK.sub("", fragment or "")))
    return Markup(text)


def catalog() -> Catalog:
    """The public catalog, opened once per application."""
    with _lock:
        cat = current_app.extensions.get("lantai.public_catalog")
        if cat is None:
            cat = Catalog.open(current_app.config["LANTAI_HOME"], public=True)
            current_app.extensions["lantai.public_catalog"] = cat
        return cat


def facet_label(name: str, value, want: str) -> str:
    if name == "language":
        label = LANGUAGE_LABELS.get(str(value))
        return label.in_lang(want) if label else str(value)
    return facet_defs.label(name, value, want)


def read_params() -> tuple[str, int, str, dict[str, list[str]]]:
    args = request.args
    q = args.get("q", "").strip()
    if len(q) > MAX_QUERY:
        raise BadRequest(gettext("q: at most %(count)s characters", count=MAX_QUERY))
    raw_page = args.get("page", "1").strip() or "1"
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
        raise BadRequest(gettext("page: a whole number from 1 to %(last)s", last=MAX_PAGE))
    sort = args.get("sort", "relevance") or "relevance"
    if sort not in SORTS:
        raise BadRequest(gettext("sort: one of %(choices)s",
                                 choices=format_list(list(SORTS), style="or", locale=lang())))
    filters: dict[str, list[str]] = {}
    for name in FACETS:
        values = [v.strip() for v in args.getlist(name) if v.strip()]
        if len(values) > 20 or any(len(v) > 40 for v in values):
            raise BadRequest(gettext("%(name)s: too many or too long values", name=name))
        if name == "decade" and any(not re.fullmatch(r"\d{4}s?", v) for v in values):
            raise BadRequest(gettext("decade: a year such as 1950"))
        if values:
            filters[name] = list(dict.fromkeys(values))
    return q, int(raw_page), sort, filters


def url(q: str, sort: str, filters: dict[str, list[str]], page: int = 1) -> str:
    pairs: list[tuple[str, str]] = []
    if q:
        pairs.append(("q", q))
    for name in FACETS:
        pairs += [(name, v) for v in filters.get(name, [])]
    if sort != "relevance":
        pairs.append(("sort", sort))
    if page > 1:
        pairs.append(("page", str(page)))
    return "/search" + ("?" + urlencode(pairs) if pairs else "")


def toggled(filters: dict[str, list[str]], name: str, value: str) -> dict[str, list[str]]:
    out = {k: list(v) for k, v in filters.items()}
    values = out.setdefault(name, [])
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    return out


def page_window(page: int, pages: int) -> list[int]:
    last = min(pages, MAX_PAGE)
    around = set(range(max(1, page - 2), min(last, page + 2) + 1)) | {1, last}
    return sorted(p for p in around if p >= 1)


def hit_href(iri: str, type_name: str, store: Store | None = None) -> str:
    """Where a hit leads: exhibits and their sections to their exhibit pages, the rest to
    their own pages (``/id/…``, relative so the link works behind any proxy)."""
    base = current_app.config["BASE"]
    key = iri.rsplit("/", 1)[-1]
    if type_name == "exhibit":
        return f"/exhibits/{key}"
    if type_name == "section":
        store = store if store is not None else public_store()
        parent = next(store.quads_for_pattern(NamedNode(iri), IS_PART_OF, None, None), None)
        if parent is not None:
            return f"/exhibits/{terms.value(parent.object).rsplit('/', 1)[-1]}/{key}"
    return iri[len(base):] if iri.startswith(base + "/") else iri


@bp.get("/search")
def search_page():
    want = lang()
    try:
        q, page, sort, filters = read_params()
    except BadRequest as exc:
        return render("search.html", status=400, error=str(exc),
                      q=request.args.get("q", "")[:MAX_QUERY], header_query="", results=None)
    try:
        results = catalog().search(q, filters=filters, sort=sort, page=page, size=PAGE_SIZE,
                                   snippet_width=160)
    except LantaiError as exc:
        status = 503 if "catalog" in exc.message and "reindex" in exc.message else 400
        return render("search.html", status=status, error=exc.message, q=q, header_query=q,
                      results=None)
    # one handle for the whole page, and only when a section's exhibit must be looked up
    store = public_store() if any(h.type == "section" for h in results.hits) else None
    shown_hits = results.hits
    dataset = current_app.extensions["lantai.dataset"]
    if hasattr(dataset, "sparql_pool"):  # the publication in an engine (external/): this
        # catalog may be a replica's copy shipped before a close; a hit shows only while its
        # object is still published (one round trip for the page's hits)
        store = public_store()
        published = dataset.store.published([h.iri for h in results.hits])
        shown_hits = [h for h in results.hits if h.iri in published]
    elif results.hits:  # the catalog commits after the publication moved (up to about a
        # second later): in between, a record just closed must not show by its title here
        store = public_store()
        shown_hits = [h for h in results.hits if store.contains_named_graph(NamedNode(h.iri))]
    hits = []
    for h in shown_hits:
        zh_html, en_html = marked(h.title_zh_html), marked(h.title_en_html)
        title, title_lang = ((zh_html, "zh") if want == "zh" else (en_html, "en"))
        if not title:
            title, title_lang = (en_html, "en") if want == "zh" else (zh_html, "zh")
        hits.append({
            "href": hit_href(h.iri, h.type, store),
            "title": title or Markup.escape(h.iri), "title_lang": title_lang,
            "snippet": marked(h.snippet_html), "refcode": h.refcode, "year": h.year,
            "type": facet_label("type", h.type, want) if h.type else "",
            "category": facet_label("category", h.category, want) if h.category else "",
        })
    facets = []
    for name in FACETS:
        buckets = results.facets.get(name) or []
        chosen = filters.get(name, [])
        if name not in ("decade", "year"):
            buckets = sorted(buckets, key=lambda b: (-b[1], str(b[0])))
        shown = [b for b in buckets if b[1] > 0][:FACET_LIMIT]
        shown += [(v, 0) for v in chosen if v not in {str(b[0]) for b in shown}]
        if not shown:
            continue
        facets.append({"name": name, "values": [{
            "label": facet_label(name, value, want), "count": count,
            "selected": str(value) in chosen,
            "href": url(q, sort, toggled(filters, name, str(value))),
        } for value, count in shown]})
    pages = min(results.pages, MAX_PAGE)
    paging = [{"n": n, "href": url(q, sort, filters, n)} for n in page_window(page, pages)]
    return render(
        "search.html", q=q, header_query=q, results=results, hits=hits, facets=facets,
        sort=sort, sorts=SORTS, filters=filters, page=page, pages=pages, paging=paging,
        prev_href=url(q, sort, filters, page - 1) if page > 1 else "",
        next_href=url(q, sort, filters, page + 1) if page < pages else "",
        clear_href=url(q, sort, {}) if filters else "", error="")
