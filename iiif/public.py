"""Which images the public may see: an Image API identifier → a stored original, or nothing.

An identifier is the key of an image instantiation, the last segment of
``{base}/id/instantiation/{key}``. It is served only if that instantiation is in the
publication dataset (published, open, nothing closed above it), with a ``sha256:``
digest (``rico:identifier``) and an ``image/*`` format (``dcterms:format``). Everything
else (closed or unpublished objects, guessed keys, digests, ``..``, encoded slashes,
anything outside the key syntax) is ``None``: the API answers 404, the same as for an
identifier that never existed, so nothing can be learnt about closed material.

Lookups are cached per publication generation: a tile request costs a dictionary look-up,
and a change of the publication dataset (a record closed, say) is seen on the next
request, as everywhere else on the public site.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from pyoxigraph import NamedNode, Store

from ontology import terms
from repo.building import KEY
from repo.files import DIGEST

RICO = "https://www.ica.org/standards/RiC/ontology#"
DCTERMS = "http://purl.org/dc/terms/"
_MIME = re.compile(r"^image/[a-z0-9.+-]+$")
_CACHE_MAX = 10_000


@dataclass(frozen=True)
class PublicImage:
    """A public image instantiation: its IRI, the original's digest and what it says."""

    key: str
    iri: str
    digest: str
    mime: str
    width: int | None = None
    height: int | None = None


def instantiation_iri(base: str, key: str) -> str:
    return f"{base}/id/instantiation/{key}"


def lookup(store: Store, base: str, key: str) -> PublicImage | None:
    """The public image with instantiation key ``key`` in ``store``, or ``None``."""
    if not isinstance(key, str) or KEY.match(key) is None:
        return None
    iri = instantiation_iri(base, key)
    node = NamedNode(iri)
    graph = node  # each object's description is the named graph named by its IRI
    values: dict[str, list[str]] = {}
    for prop in ("identifier", "width", "height"):
        values[prop] = [terms.value(q.object) for q in
                        store.quads_for_pattern(node, NamedNode(RICO + prop), None, graph)]
    values["format"] = [terms.value(q.object) for q in
                        store.quads_for_pattern(node, NamedNode(DCTERMS + "format"), None,
                                                graph)]
    digests = [d for d in values["identifier"] if DIGEST.match(d)]
    mimes = [m for m in values["format"] if _MIME.match(m)]
    if len(digests) != 1 or not mimes:
        return None
    return PublicImage(key, iri, digests[0], mimes[0], _int(values["width"]),
                       _int(values["height"]))


def _int(values: list[str]) -> int | None:
    for v in values:
        if v.isdigit():
            return int(v)
    return None


class PublicImages:
    """:func:`lookup` with a cache that is dropped whenever the publication generation moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._cache: dict[str, PublicImage | None] = {}

    def get(self, store: Store | Callable[[], Store], generation: str, base: str,
            key: str) -> PublicImage | None:
        """``store`` may be a callable, called only when the answer is not cached (the
        tile fast path then never touches the store)."""
        with self._lock:
            if generation != self._generation:
                self._cache.clear()
                self._generation = generation
            if key in self._cache:
                return self._cache[key]
        found = lookup(store() if callable(store) else store, base, key)
        with self._lock:
            if generation == self._generation:
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
                self._cache[key] = found
        return found


__all__ = ["PublicImage", "PublicImages", "instantiation_iri", "lookup"]
