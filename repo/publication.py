"""The public view of an object, and the publication dataset built from those views.

An object is public when it is published and open, and so is every container above it
(folders, which are never published, need only be open). Its public view is its
description minus personal fields (those the profile marks personal and those the archivist
marked on this object) and minus links to objects that are not public, so that not even the
IRI of a closed record reaches the public. The view is a pure function of the working
store: ``lantai publish --rebuild`` recomputes every view and must give the same dataset.
"""

from __future__ import annotations

from collections.abc import Callable

from pyoxigraph import NamedNode, Quad

from ontology.profile import ContentType
from repo.objects import ContentObject

NEVER_PUBLIC_TYPES = frozenset({"folder"})


_PERSONAL: dict[tuple[str, frozenset[str]], frozenset[str]] = {}


def _personal_paths(ctype: ContentType, marked: frozenset[str]) -> frozenset[str]:
    """Predicates stripped from the public view: fields the profile marks personal and
    those the archivist marked on this object (computed once per type and marking; the
    profile is one per process)."""
    key = (ctype.name, marked)
    paths = _PERSONAL.get(key)
    if paths is None:
        paths = _PERSONAL[key] = frozenset(f.path for f in ctype.fields.values()
                                           if f.personal or f.name in marked)
    return paths


def public_view(
    obj: ContentObject,
    *,
    is_public: Callable[[str], bool],
    is_repository_object: Callable[[str], bool],
) -> set[Quad]:
    """What the publication dataset holds for ``obj`` (empty when it is not public)."""
    if obj.deleted or not is_public(obj.iri):
        return set()
    personal_paths = _personal_paths(obj.type, obj.personal_fields)
    node = NamedNode(obj.iri)
    out = set()
    for q in obj.description:
        if q.predicate.value in personal_paths and q.subject == node:
            continue
        o = q.object
        if isinstance(o, NamedNode) and is_repository_object(o.value) and not is_public(o.value):
            continue
        out.add(q)
    return out
