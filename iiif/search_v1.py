"""IIIF Content Search 1.0 answers, for the viewers that speak only 1.0 (Mirador 4, the
Universal Viewer), made from the same hits as Content Search 2.0 (:mod:`iiif.search_api`).

Search 1.0 answers in the Presentation 2 vocabulary (https://iiif.io/api/search/1.0/):

- a search is an ``sc:AnnotationList`` whose ``resources`` are ``oa:Annotation`` s (the
  matching OCR lines and transcript cues: ``resource`` a ``cnt:ContentAsText`` with ``chars``,
  ``on`` the canvas ``#xywh=`` or ``#t=``) and whose ``hits`` are ``search:Hit`` s, one per
  match, naming its annotation with ``match``, ``before`` and ``after`` (what viewers show as
  the snippet); paged results have a ``within`` ``sc:Layer`` (``total``, ``first``, ``last``),
  ``next``, ``prev`` and ``startIndex``; ignored parameters are listed in the layer;
- autocomplete is a ``search:TermList`` of ``terms`` with ``match``, ``url`` and ``count``.

The annotations are the same resources, with the same ids, as in 2.0. Their motivation is
``sc:painting``, what 1.0 viewers expect of text transcribed from the canvas (Presentation 3
calls it ``supplementing``; 2 had no such word); ``motivation=painting`` (or none) finds them.
This module only shapes answers: which records and pages answer is decided by the caller,
from the publication dataset alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

CONTEXT = "http://iiif.io/api/search/1/context.json"
PRESENTATION2_CONTEXT = "http://iiif.io/api/presentation/2/context.json"
SEARCH_PROFILE = "http://iiif.io/api/search/1/search"
AUTOCOMPLETE_PROFILE = "http://iiif.io/api/search/1/autocomplete"
MOTIVATIONS = frozenset({"painting", "sc:painting"})  # what ``motivation`` finds our text by


class Unit(Protocol):
    """What a hit needs (read-only, so the frozen dataclass of search_api fits)."""

    @property
    def id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def language(self) -> str: ...


Spans = Sequence[tuple[int, int]]
Selector = Callable[[str, int, int], dict]


def service(search_url: str, autocomplete_url: str) -> dict:
    """The manifest's ``service`` entry for 1.0, with the Presentation 3 ``@type`` names
    for older services (SearchService1, AutoCompleteService1) and the 1.0 profiles."""
    return {"@context": CONTEXT, "@id": search_url, "@type": "SearchService1",
            "profile": SEARCH_PROFILE,
            "service": [{"@id": autocomplete_url, "@type": "AutoCompleteService1",
                         "profile": AUTOCOMPLETE_PROFILE}]}


def annotation(unit: Unit) -> dict:
    resource: dict = {"@type": "cnt:ContentAsText", "chars": unit.text}
    if unit.language:
        resource["language"] = unit.language
    return {"@id": unit.id, "@type": "oa:Annotation", "motivation": "sc:painting",
            "resource": resource, "on": unit.target}


def annotation_list(page_id: str, shown: Sequence[tuple[Unit, Spans]], selector: Selector, *,
                    total: int, start: int, first: str | None = None, last: str | None = None,
                    next_: str | None = None, prev: str | None = None,
                    ignored: Sequence[str] = ()) -> dict:
    """One page of results. ``first``/``last`` are given when there are several pages."""
    out: dict = {"@context": [PRESENTATION2_CONTEXT, CONTEXT], "@id": page_id,
                 "@type": "sc:AnnotationList"}
    if first is not None or ignored:
        layer: dict = {"@type": "sc:Layer", "total": total}
        if first is not None:
            layer.update(first=first, last=last)
        if ignored:
            layer["ignored"] = list(ignored)
        out["within"] = layer
    if next_:
        out["next"] = next_
    if prev:
        out["prev"] = prev
    if first is not None:
        out["startIndex"] = start
    out["resources"] = [annotation(u) for u, _ in shown]
    hits = []
    for unit, found in shown:
        for s, e in found:
            sel = selector(unit.text, s, e)
            hits.append({"@type": "search:Hit", "annotations": [unit.id],
                         "match": sel["exact"], "before": sel["prefix"],
                         "after": sel["suffix"]})
    out["hits"] = hits
    return out


def term_list(list_id: str, terms: Sequence[tuple[str, int]], search_url: Callable[[str], str],
              ignored: Sequence[str] = ()) -> dict:
    out: dict = {"@context": CONTEXT, "@id": list_id, "@type": "search:TermList"}
    if ignored:
        out["ignored"] = list(ignored)
    out["terms"] = [{"match": term, "url": search_url(term), "count": n} for term, n in terms]
    return out


__all__ = ["AUTOCOMPLETE_PROFILE", "CONTEXT", "MOTIVATIONS", "SEARCH_PROFILE", "annotation",
           "annotation_list", "service", "term_list"]
