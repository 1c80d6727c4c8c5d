"""File identity is set by media ingest only (issue 10, item 2).

An instantiation's ``digest`` is what the public surfaces serve: the IIIF image, its OCR
text and search hits, a recording, a transcript are all found by it. An Editor who
PATCHed a public scan's digest to the digest of a closed file (any staff user can read it)
published the closed image and its text without any right to open it. So the fields the
profile marks ``lt:setByIngest`` (digest, media type, size, duration, the file a page was
derived from) are written only by the code that stores the bytes itself
(:func:`iiif.media.ingest_media`, the demo loader), inside
:meth:`repo.repository.Repository.ingesting_files`. Anywhere else, through the one door
every write takes:

- an **edit** (field edits, importer statements, revert) may not change them at all;
- a **new object** may name a digest only if every other object that holds that file is
  public already or one the user may open to the public (Reviewer, Manager): a file nobody
  else describes (just stored by the caller) is fine, a closed one is not.

The refusal is :class:`~repo.errors.Forbidden` and says the same whether or not the file is
held by a record the user may not see.
"""

from __future__ import annotations

from collections.abc import Callable

from pyoxigraph import Literal, NamedNode, Quad

from repo.errors import Forbidden
from repo.files import DIGEST
from repo.objects import ContentObject


def ingest_values(obj: ContentObject) -> set[Quad]:
    """The object's statements of fields set by ingest."""
    paths = {f.path for f in obj.type.fields.values() if f.set_by_ingest}
    if not paths:
        return set()
    return {q for q in obj.description if q.subject == obj.node and q.predicate.value in paths}


def check_edit(before: ContentObject, after: ContentObject) -> None:
    """Refuse a change of any field set by ingest."""
    old, new = ingest_values(before), ingest_values(after)
    if old == new:
        return
    changed = {q.predicate.value for q in old ^ new}
    names = sorted(f.name for f in after.type.fields.values() if f.path in changed)
    raise Forbidden(f"{after.path or after.iri}: {', '.join(names)} name(s) the stored file; "
                    "only media ingest sets them (lantai ingest media), they cannot be edited")


def check_new(obj: ContentObject, holders: Callable[[Quad], list[str]],
              may_publish: Callable[[str], bool]) -> None:
    """Refuse a new object naming a file that another object holds and the user may not
    publish. ``holders(q)`` are the objects whose descriptions hold the statement's value on
    the same property; ``may_publish(iri)`` says whether that object is public or the user
    may open it."""
    for q in ingest_values(obj):
        if not (isinstance(q.object, Literal) and DIGEST.match(q.object.value)):
            continue
        for iri in holders(q):
            if iri != obj.iri and not may_publish(iri):
                raise Forbidden(f"digest {q.object.value}: not a file you may attach here; "
                                "attach files with lantai ingest media")


def holders_in(store, q: Quad) -> list[str]:
    """The objects (graph names, without a fragment) whose description holds ``q``'s value
    on ``q``'s property."""
    out = set()
    for hit in store.quads_for_pattern(None, q.predicate, q.object, None):
        if isinstance(hit.graph_name, NamedNode):
            out.add(hit.graph_name.value.split("#", 1)[0])
    return sorted(out)


__all__ = ["check_edit", "check_new", "holders_in", "ingest_values"]
