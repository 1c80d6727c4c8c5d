"""The application factory: one Flask app per site home, made of blueprints.

Every public blueprint reads the publication dataset only (DESIGN.md, decision 2), through
``app.extensions["lantai.dataset"]`` (a :class:`~publisher.dataset.PublicDataset`). The REST
API is the exception: it goes through the repository, as staff do, with a user's token.

Blueprints, one job each:

- ``pages``       home, record and agent pages
- ``linkeddata``  content negotiation on ``/id/…``, VoID, dumps, sitemap, robots.txt
- ``sparql``      the SPARQL 1.1 Protocol endpoint and its query page
- ``exhibits``    the exhibits of the special collections
- ``search``      the public search page over the public catalog
- ``api``         the REST API for archivists and programs (``/api/…``)
- ``iiif.image_api``, ``iiif.presentation_api``, ``iiif.search_api``: IIIF Image 3,
  Presentation 3 and Content Search 2 (package :mod:`iiif`)

Record pages are extended through two hooks other parts register on the app (the way the IIIF
part adds a viewer and a manifest link without the pages knowing about IIIF):

- ``app.extensions["lantai.record_links"]``: callables ``(iri) -> [(rel, type, href)]``,
  rendered as ``<link>`` elements and HTTP ``Link`` headers;
- ``app.extensions["lantai.record_panels"]``: callables ``(iri, lang) -> Markup | None``,
  rendered in the record page's media area.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from publisher import caching, i18n, ratelimit, requestlog
from publisher.dataset import install_store_retry, is_replica, open_dataset
from repo.config import read_settings
from repo.errors import LantaiError

BLUEPRINTS = (
    "publisher.pages",
    "publisher.linkeddata",
    "publisher.sparql",
    "publisher.exhibits",
    "publisher.search",
    "publisher.api",
    "iiif.image_api",
    "iiif.presentation_api",
    "iiif.search_api",
)
REPOSITORY_BLUEPRINTS = ("publisher.api",)  # they need the repository: not on a replica home


def create_app(home: Path | str, **config) -> Flask:
    """The site at ``home`` as a WSGI application; ``config`` overrides Flask settings
    (``REQUEST_LOG=True`` writes one JSON line per request to standard error). A flood from
    one client gets 429 (``publisher.ratelimit``; settings ``rate_limit``, ``rate_limit_burst``)."""
    home = Path(home)
    settings = read_settings(home)
    app = Flask(__name__)
    app.config.update(LANTAI_HOME=home, BASE=settings.base, SETTINGS=settings,
                      JSON_AS_ASCII=False, **config)
    if isinstance(app.json, DefaultJSONProvider):  # Flask's own, unless an app sets another
        app.json.ensure_ascii = False
    i18n.init_app(app)  # page texts from the message catalogs, in the visitor's language
    app.extensions["lantai.dataset"] = dataset = open_dataset(home, settings)
    if hasattr(dataset, "init_app"):  # the publication in an engine: 503 when it is down
        dataset.init_app(app)
    install_store_retry(app)  # a page that met a writer's compaction is served again, once
    app.extensions["lantai.record_links"] = []
    app.extensions["lantai.record_panels"] = []
    # a replica home (a web worker on another machine: settings, the public catalog, the
    # derivatives, the publication in an external engine; docs/deploy.md) has no repository:
    # it serves the public surfaces only, and the API, staff and request routes are 404
    replica = is_replica(home)
    if replica and not settings.publication_endpoint:
        raise LantaiError(f"{home} has no working store: a replica home reads the publication "
                          "from an engine (set publication_endpoint; docs/deploy.md)")
    app.config["LANTAI_REPLICA"] = replica
    for name in BLUEPRINTS:
        if replica and name in REPOSITORY_BLUEPRINTS:
            continue
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app)

    if not replica:
        import staff  # the staff workspace at /staff/ (after the API: it shares its handles)

        staff.init_app(app)
        import services.requests  # 查档: the request form, /verify, the JSON channel

        services.requests.init_app(app)
    caching.install(app)  # ETags from the publication generation; 304 before the view
    ratelimit.install(app)  # inside the request log, so refused floods are logged too
    if app.config.get("REQUEST_LOG"):
        requestlog.configure()
        wrapped = requestlog.RequestLog(app.wsgi_app)
        app.wsgi_app = wrapped  # type: ignore[method-assign]  # Flask's documented middleware

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
