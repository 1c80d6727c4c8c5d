"""The catalog: fielded and full-text search over the repository (Plone's ZCatalog is the model).

Two catalogs, one code path:

- the **staff catalog** (``{home}/catalog/staff``) indexes every live object of the working
  store; searches are filtered to what the searching user may view;
- the **public catalog** (``{home}/catalog/public``) indexes exactly what the publication
  dataset holds: an object whose graph is not there is not in it, so closed, embargoed,
  personal or unpublished records cannot be found by public search.

Both are derived data: ``lantai reindex`` rebuilds them from the stores. The repository
calls :func:`attach` when it opens; the listener registered there keeps both in step with
every changeset, ingest batch and recovery.

Modules: ``analysis`` (Chinese bigrams, simplified/traditional, stemming, reference codes),
``documents`` (what is indexed, from either store), ``query`` (the search box language),
``index`` (tantivy), ``facets``, ``snippets``, ``search`` (the API), ``maintenance``
(listener, rebuild), ``ingestion`` and ``ingest_worker`` (a bulk ingest's documents, in a
second process), ``batch_text`` (an ingest's batch read as N-Quads text), ``cli``
(``lantai search``, ``lantai reindex``).
"""

from __future__ import annotations

import importlib
import sys

from repo.catalog.documents import Document, register_text_source
from repo.catalog.index import CatalogIndex
from repo.catalog.maintenance import (
    AUTO_REBUILD_LIMIT,
    Maintainer,
    catalog_path,
    count_objects,
)
from repo.catalog.search import Catalog, Hit, Results


def attach(repository) -> None:
    """Open (or create) the site's two catalogs and keep them in step with ``repository``.

    A catalog that is missing or of an older schema is created; if the site already has
    objects it is rebuilt at once when the site is small, otherwise marked incomplete
    (searches say so) until ``lantai reindex``.
    """
    modules = _load_text_sources()
    home = repository.home
    fresh = [not CatalogIndex.usable(catalog_path(home, public)) for public in (False, True)]
    staff = CatalogIndex.open(catalog_path(home, False), create=True)
    public = CatalogIndex.open(catalog_path(home, True), create=True)
    m = Maintainer(repository, staff, public)
    repository.listeners.append(m)
    for module in modules:  # after the maintainer: they may re-index through it
        if hasattr(module, "attach"):
            module.attach(repository)
    n = count_objects(repository, AUTO_REBUILD_LIMIT + 1) if any(fresh) else 0
    if 0 < n <= AUTO_REBUILD_LIMIT:
        m.rebuild(staff=fresh[0], public=fresh[1])
    elif n:
        for index, is_fresh in ((staff, fresh[0]), (public, fresh[1])):
            if is_fresh:
                index.mark_complete(False)
        print("lantai: the catalog is new and the site is large: run `lantai reindex`",
              file=sys.stderr)
    m.replay()  # what a process that died had changed but not committed


# Modules that register text sources (documents.register_text_source) when imported: the
# OCR of page scans and the transcripts of recordings (iiif.texts). Imported when a catalog
# is attached, so every process that indexes indexes the same text; a module's
# ``attach(repository)``, if it has one, is called after the maintainer is attached.
TEXT_SOURCE_MODULES = ("iiif.texts",)


def _load_text_sources() -> list:
    return [importlib.import_module(name) for name in TEXT_SOURCE_MODULES]


def maintainer(repository) -> Maintainer:
    """The listener attached to ``repository`` (for rebuilding and same-process search)."""
    for listener in repository.listeners:
        if isinstance(listener, Maintainer):
            return listener
    raise RuntimeError("the catalog is not attached to this repository")


__all__ = ["Catalog", "CatalogIndex", "Document", "Hit", "Maintainer", "Results", "attach",
           "maintainer", "register_text_source"]
