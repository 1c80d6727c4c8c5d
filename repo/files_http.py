"""A stored original sent over HTTP: the plaintext, streamed, with Range requests.

A sealed original has no plaintext file to hand to ``send_file`` (and a decrypted copy would
be the whole recording on disk in the clear), so the response streams
:meth:`repo.files.FileStore.open` — a seekable reader that decrypts only the chunks a range
covers. ``send_file`` given a file object knows no size and so answers no Range request; this
tells Werkzeug the plaintext size, and its ``make_conditional`` does the rest (206, 416,
``If-None-Match`` on the digest as ETag). Surfaces (staff downloads, IIIF media) share it.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import wrap_file

from repo.files import FileStore


def send_stored(files: FileStore, digest: str, request: Request, *, mimetype: str,
                download_name: str | None = None, as_attachment: bool = False,
                max_age: int = 0) -> Response:
    """The plaintext of ``digest`` as a response to ``request`` (NotFound from the store
    when it is not there: the caller answers 404)."""
    size = files.size(digest)
    fh = files.open(digest)
    try:
        resp = Response(wrap_file(request.environ, fh), mimetype=mimetype,
                        direct_passthrough=True)
        resp.content_length = size
        if download_name is not None:
            resp.headers.set("Content-Disposition",
                             "attachment" if as_attachment else "inline",
                             **_filename(download_name))
        resp.cache_control.no_cache = True
        if max_age > 0:
            resp.cache_control.no_cache = None
            resp.cache_control.private = True
            resp.cache_control.max_age = max_age
        resp.set_etag(digest.removeprefix("sha256:"))
        return resp.make_conditional(request.environ, accept_ranges=True,
                                     complete_length=size)
    except BaseException:  # RequestedRangeNotSatisfiable (416) among them
        fh.close()
        raise


def _filename(name: str) -> dict[str, str]:
    """``filename`` (ASCII) and ``filename*`` (UTF-8) as RFC 6266 wants them."""
    import unicodedata
    from urllib.parse import quote

    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        return {"filename": simple or "download",
                "filename*": "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")}
    return {"filename": name}


__all__ = ["send_stored"]
