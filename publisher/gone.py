"""404 Not Found or 410 Gone: what every public surface answers for an IRI it does not serve.

An IRI that was public once and was withdrawn or deleted (its tombstone is in
``{home}/publication.gone``, see :mod:`repo.gone`) is 410 Gone on every surface that names it
(linked data in every format, IIIF manifests, collections and images); anything else is 404.
The bodies are the same for every IRI, so the answer says no more than the status.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

from flask import abort, current_app

from repo.gone import GONE_FILE, read_gone

_gone_cache: dict[str, tuple[tuple[int, int], set[str]]] = {}


def gone_iris(home: Path) -> set[str]:
    """The withdrawn IRIs (re-read when the file changes)."""
    path = home / GONE_FILE
    try:
        stamp = path.stat()
        key = (stamp.st_mtime_ns, stamp.st_size)
    except FileNotFoundError:
        return set()
    cached = _gone_cache.get(str(home))
    if cached and cached[0] == key:
        return cached[1]
    gone = read_gone(home)
    _gone_cache[str(home)] = (key, gone)
    return gone


def is_gone(iri: str) -> bool:
    return iri in gone_iris(current_app.config["LANTAI_HOME"])


def absent(iri: str) -> NoReturn:
    """Abort with 410 for a withdrawn IRI, else 404."""
    abort(410 if is_gone(iri) else 404)
