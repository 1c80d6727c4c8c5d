"""The REST API for the repository, in the style of plone.restapi (see docs/api.md).

Modules: ``routes`` (the blueprint and its handlers), ``sessions`` (opening the repository
per write and a read-only view for reads, so ``lantai`` commands run while the server is
up), ``jsonld`` (bodies and contexts), ``http`` (errors, tokens, ETags, bodies, paging),
``openapi`` (the document at ``/api/openapi.json``).
"""

from publisher.api.routes import bp, init_app

__all__ = ["bp", "init_app"]
