"""How long caches may keep what the IIIF routes answer: not at all without asking again.

A scan, recording or record can be closed, embargoed or withdrawn at any moment, and from
then on it must be gone from every public surface (DESIGN.md, decision 2). A ``max-age``
would let browsers and proxies go on showing it for that long, so every answer under
``/iiif/`` (images and info.json, manifests and collections, media, annotations, search)
is ``Cache-Control: public, no-cache`` with an ``ETag``: a cache may keep the bytes but must
revalidate before each use; the route checks the publication dataset first, so a closed
object answers 404 and a public one a cheap 304. Errors are ``no-store``.

The one place that decides: :func:`init_app` installs it on the app for every route under
``/iiif/`` (a route that forgets is corrected here), and :data:`REVALIDATE` is what the
tile fast path (:class:`iiif.image_api.TileFastPath`, which answers without Flask) sends.
"""

from __future__ import annotations

from flask import Flask, Response, request

REVALIDATE = "public, no-cache"  # keep, but ask again before each use (a 304 is cheap)
NO_STORE = "no-store"  # errors: nothing to keep
PREFIX = "/iiif/"


def revalidated(response: Response) -> Response:
    """``response`` with the IIIF cache policy: :data:`REVALIDATE` and an ETag for answers,
    answered 304 when the client's copy is still current; :data:`NO_STORE` for errors."""
    if response.status_code >= 400:
        response.headers["Cache-Control"] = NO_STORE
        return response
    response.headers["Cache-Control"] = REVALIDATE
    if (response.status_code == 200 and "ETag" not in response.headers
            and not response.direct_passthrough and not response.is_streamed):
        response.add_etag()  # a hash of the body: routes that made none still revalidate
        response.make_conditional(request)
    return response


def init_app(app: Flask) -> None:
    """Apply :func:`revalidated` to every answer under ``/iiif/`` (once per app)."""
    if app.extensions.get("iiif.caching"):
        return
    app.extensions["iiif.caching"] = True

    @app.after_request
    def _iiif_cache_policy(response: Response) -> Response:
        if request.path.startswith(PREFIX):
            return revalidated(response)
        return response


__all__ = ["NO_STORE", "REVALIDATE", "init_app", "revalidated"]
