"""Staff search (issue 11, item 8): the staff catalog with its facets, filtered to what the
signed-in user may view.

The very search ``lantai search`` and the REST API's ``@search`` run
(:meth:`repo.catalog.Catalog.search` on the staff catalog, given the user); results link to
the objects' staff pages. Facet values are links that add (or, when chosen, remove) a filter.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, abort, request
from flask_babel import gettext as _

from publisher.search import marked
from repo.catalog.facets import FACETS, FILTER_ALIASES, label
from repo.catalog.search import SORTS, Catalog, Hit
from repo.errors import Invalid
from repo.repository import Repository
from repo.security import User
from staff import web

bp = Blueprint("search", __name__)

SIZES = (20, 50, 100)
SHOWN_FACETS = ("category", "decade", "type", "state", "access", "language")
PER_FACET = 12  # values shown per facet


def arguments() -> tuple[str, dict[str, list[str]], str, int, int]:
    """``(q, filters, sort, page, size)`` from the query string, checked (else a 400 page)."""
    args = request.args
    q = args.get("q", "")
    if len(q) > 1000:
        abort(web.error_page(400, _("The search words are longer than 1000 characters.")))
    sort = args.get("sort") or "relevance"
    if sort not in SORTS:
        abort(web.error_page(400, _("sort: one of %(options)s", options=", ".join(SORTS))))
    numbers = {}
    for name, default, top in (("page", 1, 10_000), ("size", SIZES[0], max(SIZES))):
        raw = args.get(name) or str(default)
        if not raw.isdigit() or not 1 <= int(raw) <= top:
            abort(web.error_page(400, _("%(name)s: a whole number from 1 to %(top)d",
                                        name=name, top=top)))
        numbers[name] = int(raw)
    filters: dict[str, list[str]] = {}
    for name in args:
        if name in ("q", "sort", "page", "size", "lang"):
            continue
        if name not in FACETS and name not in FILTER_ALIASES:
            abort(web.error_page(400, _("There is no filter %(name)s.", name=name)))
        values = [v for v in args.getlist(name) if v]
        if len(values) > 50 or any(len(v) > 2000 for v in values):
            abort(web.error_page(400, _("Too many or too long filter values.")))
        if values:
            filters[FILTER_ALIASES.get(name, name)] = values
    return q, filters, sort, numbers["page"], numbers["size"]


def href(q: str, filters: dict[str, list[str]], sort: str, size: int, **change) -> str:
    """This search's URL with ``change`` applied (page 1 unless a page is given)."""
    pairs: list[tuple[str, str | int]] = [("q", q)] if q else []
    for name, values in filters.items():
        pairs += [(name, v) for v in values]
    if sort != "relevance":
        pairs.append(("sort", sort))
    if size != SIZES[0]:
        pairs.append(("size", size))
    if change.get("page", 1) != 1:
        pairs.append(("page", change["page"]))
    return "?" + urlencode(pairs)


def toggled(filters: dict[str, list[str]], name: str, value: str) -> dict[str, list[str]]:
    """``filters`` with ``name=value`` added, or removed if it was there."""
    out = {k: list(v) for k, v in filters.items()}
    values = out.setdefault(name, [])
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    return {k: v for k, v in out.items() if v}


@bp.get("/search")
def search() -> Response:
    q, filters, sort, page, size = arguments()
    lang = web.current_lang()

    def run(repo: Repository, user: User) -> dict:
        within = [repo.get(user, ref) for ref in filters.get("within", [])]  # 404 if not visible
        try:
            results = Catalog.open(repo.home, public=False, repository=repo).search(
                q, filters={**filters, "within": [o.iri for o in within]}, sort=sort,
                page=page, size=size, user=user)
        except (ValueError, OverflowError) as exc:
            raise Invalid(f"cannot search for that: {exc}") from None
        return {"results": results, "within": within}
    found = web.reading(run)
    results = found["results"]
    facets = []
    for name in SHOWN_FACETS:
        chosen = filters.get(name, [])
        values = [{"label": label(name, v, lang), "count": n,
                   "selected": str(v) in chosen,
                   "href": href(q, toggled(filters, name, str(v)), sort, size)}
                  for v, n in results.facets.get(name, [])[:PER_FACET]]
        if values:
            facets.append({"name": name, "values": values})
    return web.render(
        "staff/search.html", q=q, results=results, hits=[view(h, lang) for h in results.hits],
        facets=facets, filters=filters, sort=sort, sorts=list(SORTS), size=size, sizes=SIZES,
        page=page, pages=max(results.pages, 1), within=found["within"],
        prev_href=href(q, filters, sort, size, page=page - 1) if page > 1 else None,
        next_href=href(q, filters, sort, size, page=page + 1) if page < results.pages else None,
        clear_href=href(q, {}, sort, size) if filters else None)


def view(hit: Hit, lang: str) -> dict:
    """A hit as the page shows it (titles and snippet escaped, ``<mark>`` kept)."""
    first, second = ((hit.title_zh_html, hit.title_en_html) if lang == "zh"
                     else (hit.title_en_html, hit.title_zh_html))
    return {"title": marked(first or second) if (first or second) else hit.path,
            "path": hit.path.strip("/"), "refcode": hit.refcode, "type": label("type", hit.type,
                                                                              lang),
            "state": hit.state, "access": hit.access, "year": hit.year,
            "snippet": marked(hit.snippet_html)}
