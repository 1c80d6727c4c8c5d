"""ETags from the publication generation, and 304 before the view (issue 15, item 4).

Every anonymous GET/HEAD of a public surface (pages, linked data in every format, VoID, the
sitemap, exhibits, search, SPARQL by GET, IIIF manifests, collections, ``info.json``, tiles,
Content Search) that answers 200 carries a weak ETag computed from what its body is a
function of:

- the **publication generation** as this request sees it (``dataset.generation()``, read
  once per request; every change to the publication dataset moves it, so a record closed,
  withdrawn or changed gives every public URL a new ETag);
- for search, the public catalog's commit stamp as well (the catalog is updated by a listener
  *after* the generation moves: a page rendered between the two must not keep the new
  generation's ETag once the catalog has caught up);
- the URL (host, scheme, path and query), the negotiated inputs (``Accept``,
  ``Accept-Language``, the ``lang`` cookie: the response says ``Vary: Accept,
  Accept-Language, Cookie``), and a digest of the site's settings and the code's version
  (the same in every worker process, so any worker can answer another's ETag).

``If-None-Match`` naming the current ETag gets ``304`` *before the view runs*: no store
lookup, no template. That is what makes revalidation cheap enough to do on every request,
which is how a shared cache in front (nginx, ``deploy/nginx/lantai.conf``) keeps closure: it
stores the body, but may not serve it without asking (``Cache-Control: public, no-cache``). A
record closed since has a new generation, so the cached ETag no longer matches, the view runs
and answers 404/410.

The IIIF Image API (tiles, ``info.json``) is not tagged here: it has better validators of its
own (``iiif/image_api.py``: the image's digest, its pyramid's version and the region, checked
*after* the public lookup and before any rendering, so they survive publication changes that
do not touch the image), under the same policy (``iiif/caching.py``).

nginx does not store ``no-cache`` answers at all (and before 1.23 lets ``Cache-Control`` win
over ``X-Accel-Expires``): :class:`NginxExpiry` adds ``X-Accel-Expires: @1`` — a validity that
ended in 1970 — to every anonymous ``public, no-cache`` answer that has an ETag (ours, the
IIIF routes', the dumps'), which tells nginx alone to store it and revalidate it on every
hit; nginx does not pass that header on to clients.

Not cached, no ETag: other methods, requests with ``Authorization`` or any cookie but
``lang`` (a session), ``?lang=`` (the answer sets the cookie), the staff workspace, the REST
API, the services (查档, growth records), responses other than 200, responses that set a
cookie or say ``private``/``no-store``, and responses that carry their own ETag (the dumps).
A forged ``If-None-Match`` gets a 304 without a body for any URL, existing or not, closed or
never there: it tells nothing.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

from flask import Flask, Response, current_app, g, request
from werkzeug.http import parse_cookie

from repo.store import read_generation

# Blueprints whose GET answers are functions of the publication (and, for search, the catalog).
PUBLIC = frozenset({"pages", "linkeddata", "exhibits", "search", "sparql",
                    "iiif_presentation_api", "iiif_search_api"})
CATALOG_READERS = frozenset({"search"})
CACHE_CONTROL = "public, no-cache"
NGINX_EXPIRES = "@1"  # X-Accel-Expires: stored by nginx, stale at once: revalidated every hit
VARY = ("Accept", "Accept-Language", "Cookie")
ALLOWED_COOKIES = frozenset({"lang"})


def install(app: Flask) -> None:
    """Answer conditional requests of public surfaces before their views; tag their 200s."""
    settings = app.config["SETTINGS"]
    try:
        version = metadata.version("lantai")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        version = "0"
    app.extensions["lantai.cache_salt"] = hashlib.sha256(
        f"{version}\0{settings!r}".encode()).hexdigest()
    app.before_request(_not_modified)
    app.after_request(_tag)
    app.wsgi_app = NginxExpiry(app.wsgi_app)  # type: ignore[method-assign]  # WSGI middleware


def generation() -> str:
    """The publication generation this request sees (part `workers`/`reader` give the
    dataset a ``generation()``; a dataset without one is the embedded store's file)."""
    dataset = current_app.extensions["lantai.dataset"]
    read = getattr(dataset, "generation", None)
    if callable(read):
        return str(read())
    return read_generation(current_app.config["LANTAI_HOME"])


def catalog_stamp() -> str:
    """The public catalog's last commit (tantivy rewrites ``meta.json`` on each one)."""
    from repo.catalog import catalog_path

    try:
        st = (catalog_path(Path(current_app.config["LANTAI_HOME"]), True) / "meta.json").stat()
    except OSError:
        return "none"
    return f"{st.st_mtime_ns}-{st.st_size}-{st.st_ino}"


def cacheable_request() -> bool:
    """An anonymous GET/HEAD of a public surface, without a session or a language to set."""
    if request.method not in ("GET", "HEAD") or request.blueprint not in PUBLIC:
        return False
    if "Authorization" in request.headers or "lang" in request.args:
        return False
    return set(request.cookies) <= ALLOWED_COOKIES


def anonymous(environ: dict) -> bool:
    """A GET/HEAD without Authorization and without a cookie but the language."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or "HTTP_AUTHORIZATION" in environ:
        return False
    return set(parse_cookie(environ.get("HTTP_COOKIE", ""))) <= ALLOWED_COOKIES


def entity_tag() -> str:
    """This request's ETag (opaque, weak): see the module's docstring for what goes in."""
    parts = [current_app.extensions["lantai.cache_salt"], generation(),
             catalog_stamp() if request.blueprint in CATALOG_READERS else "",
             request.scheme, request.host, request.path,
             request.query_string.decode("latin-1"),
             request.headers.get("Accept", ""), request.headers.get("Accept-Language", ""),
             request.cookies.get("lang", "")]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _not_modified() -> Response | None:
    if not cacheable_request():
        return None
    g.lantai_etag = tag = entity_tag()
    if request.if_none_match.contains_weak(tag):  # If-None-Match compares weakly (RFC 9110)
        resp = Response(status=304)
        resp.set_etag(tag, weak=True)
        _policy(resp)
        return resp
    return None


def _policy(resp: Response) -> None:
    resp.headers["Cache-Control"] = CACHE_CONTROL
    resp.vary.update(VARY)


def _tag(resp: Response) -> Response:
    tag = g.get("lantai_etag")
    if tag is None or resp.status_code != 200 or "ETag" in resp.headers:
        return resp
    if "Set-Cookie" in resp.headers:
        return resp
    if any(word in resp.headers.get("Cache-Control", "").lower()
           for word in ("private", "no-store")):
        return resp
    resp.set_etag(tag, weak=True)
    _policy(resp)
    return resp


class NginxExpiry:
    """WSGI middleware: ``X-Accel-Expires: @1`` on anonymous answers (200/304) that say
    ``public, no-cache`` and carry an ETag, and set no cookie — the standard header said in
    nginx's words (see the module's docstring). Outside every other middleware of the app but
    the rate limiter and the request log, so that it sees the IIIF tile fast path too."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response):
        if not anonymous(environ):
            return self.wsgi_app(environ, start_response)

        def start(status: str, headers: list[tuple[str, str]], exc_info=None):
            if status[:3] in ("200", "304") and _revalidated_answer(headers):
                headers = [*headers, ("X-Accel-Expires", NGINX_EXPIRES)]
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def _revalidated_answer(headers: list[tuple[str, str]]) -> bool:
    names = {name.lower(): value for name, value in headers}
    control = {word.strip() for word in names.get("cache-control", "").lower().split(",")}
    return ("etag" in names and "set-cookie" not in names and "x-accel-expires" not in names
            and {"public", "no-cache"} <= control and not {"private", "no-store"} & control)
