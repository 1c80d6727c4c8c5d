"""Public pages: the home page, the page of every public object, and the 404 and 410 pages.

An object's page is the HTML representation of its IRI (``publisher.linkeddata`` negotiates
and calls :func:`object_page`): records and record sets, agents (what they created or appear
in, the interviews they gave), places, events, exhibits and digital instantiations. Each page
embeds schema.org JSON-LD for search engines, and calls the record-page hooks of
``publisher.app`` (links in ``<head>`` and ``Link``; panels in the media area).

Pages read only the publication dataset, through :class:`~publisher.describe.Describer`.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, request
from flask_babel import gettext
from markupsafe import Markup
from pyoxigraph import NamedNode, Store

from ontology import terms
from ontology.namespaces import RDF, RICO, RST, SCHEMA
from publisher.dataset import public_store
from publisher.describe import (
    AGENT_CLASSES,
    FORWARD_ORDER,
    RELATIONS,
    Described,
    Describer,
    Ref,
    pick,
)
from publisher.i18n import lang, render

bp = Blueprint("pages", __name__)

PER_PAGE = 50


def lang_url(code: str) -> str:
    """The same page in the other language: a query-only relative URL, so that a page never
    echoes the path it was asked for (the 404 of a closed IRI is byte-for-byte the 404 of one
    that never existed)."""
    from urllib.parse import urlencode

    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return "?" + urlencode([*args, ("lang", code)])


def page(template: str, status: int = 200, **context) -> Response:
    """``i18n.render`` with the helpers every page of this blueprint uses."""
    return render(template, status=status, lang_url=lang_url, **context)


def describer(store: Store | None = None) -> Describer:
    """A describer of the publication dataset (``store``: the handle the request already has)."""
    return Describer(store if store is not None else public_store(), current_app.config["BASE"])


# ------------------------------------------------------------------ home
@bp.get("/")
def home_page():
    d = describer()
    store = d.store
    want = lang()

    def of_type(pred: str, obj: str, top_only: bool = False) -> list[Ref]:
        refs = []
        for q in store.quads_for_pattern(None, NamedNode(pred), NamedNode(obj), None):
            if q.subject != q.graph_name:
                continue
            node = terms.named(q.subject)  # an object's own graph is named by its IRI
            if top_only and d.parent_of(node) is not None:
                continue
            ref = d.ref(node.value)
            if ref is not None:
                refs.append(ref)
        return sorted(refs, key=lambda r: (r.label(want), r.iri))

    def exhibit_href(ref: Ref) -> str:
        # the reader's exhibit page, not the exhibit's IRI (whose HTML is a bare record page)
        if "exhibits.exhibit_page" in current_app.view_functions:
            return "/exhibits/" + ref.iri.rsplit("/", 1)[-1]
        return ref.iri

    groups = [
        ("fonds", gettext("Fonds"),
         [(r, r.iri) for r in of_type(RICO + "hasRecordSetType", RST + "Fonds")]),
        ("collections", gettext("Collections"),
         [(r, r.iri) for r in of_type(RICO + "hasRecordSetType", RST + "Collection")]),
        ("exhibits", gettext("Exhibits"),
         [(r, exhibit_href(r)) for r in of_type(RDF + "type", SCHEMA + "ExhibitionEvent",
                                                top_only=True)]),
    ]
    return page("home.html", groups=groups)


# ------------------------------------------------------------------ object pages
def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 else 1


def object_page(iri: str, links: list[tuple[str, str, str]],
                store: Store | None = None) -> Response:
    """The HTML page of a public object (the caller has checked, in ``store``, that it is
    public)."""
    want = lang()
    described = describer(store).describe(iri, page=_page_number(), per_page=PER_PAGE)
    if described is None:  # withdrawn between the check and now: as if never there
        abort(404)
    panels = []
    for hook in current_app.extensions.get("lantai.record_panels", []):
        try:
            panel = hook(iri, want)
        except Exception:  # one broken panel must not take the page down
            current_app.logger.exception("record_panels hook failed for %s", iri)
            continue
        if panel:
            panels.append(Markup(panel))
    template = "agent.html" if described.is_agent else "record.html"
    exhibit = exhibit_url(described)
    site = current_app.config["SETTINGS"]
    return page(template, d=described, links=links, panels=panels, per_page=PER_PAGE,
                exhibit_url=exhibit, relations=RELATIONS, forward=FORWARD_ORDER, pick=pick,
                jsonld=schema_org_script(described, current_app.config["BASE"], site))


def exhibit_url(d: Described) -> str | None:
    """The reader's page of an exhibit or exhibit section (``publisher.exhibits``), if any."""
    if d.kind != "exhibit" or "exhibits.exhibit_page" not in current_app.view_functions:
        return None
    if SCHEMA + "ExhibitionEvent" in d.classes:
        return f"/exhibits/{d.key}"
    if d.parents and d.parents[-1].iri.startswith(current_app.config["BASE"] + "/id/exhibit/"):
        return f"/exhibits/{d.parents[-1].iri.rsplit('/', 1)[-1]}/{d.key}"
    return None


# ------------------------------------------------------------------ schema.org
def _multi(texts: dict[str, str]):
    values = [{"@value": v, "@language": k} if k else v for k, v in sorted(texts.items()) if v]
    return values[0] if len(values) == 1 else values or None


def _schema_type(classes) -> str:
    """The schema.org type of an object with these RDF classes (first match wins)."""
    classes = set(classes)
    if RICO + "Person" in classes:
        return "Person"
    if classes & AGENT_CLASSES:
        return "Organization"
    if RICO + "Place" in classes:
        return "Place"
    if classes & {RICO + "Event", RICO + "Activity"}:
        return "Event"
    if SCHEMA + "ExhibitionEvent" in classes:
        return "ExhibitionEvent"
    if RICO + "Instantiation" in classes:
        return "MediaObject"
    if SCHEMA + "CreativeWork" in classes:
        return "CreativeWork"
    return "ArchiveComponent"


_REF_TYPES = ("Person", "Organization", "Place", "Event")  # typed when named from another page


def _ref_node(ref: Ref) -> dict:
    node: dict = {"@id": ref.iri, "name": _multi(ref.labels) or ref.iri}
    kind = _schema_type(ref.classes)
    if kind in _REF_TYPES:
        node["@type"] = kind
    if ref.local:
        node["url"] = ref.iri
    return node


def schema_org(d: Described, base: str, site) -> dict:
    """schema.org JSON-LD of a page (what search engines read)."""
    kind = _schema_type(d.classes)
    out: dict = {"@context": "https://schema.org", "@type": kind, "@id": d.iri, "url": d.iri,
                 "name": _multi(d.titles) or d.key}
    if d.refcode:
        out["identifier"] = d.refcode
    description = d.scope or d.description
    if description:
        out["description"] = _multi(description)
    if kind in ("ArchiveComponent", "CreativeWork", "MediaObject"):
        out["holdingArchive" if kind == "ArchiveComponent" else "provider"] = {
            "@type": "ArchiveOrganization", "@id": base + "/", "url": base + "/",
            "name": [{"@value": site.site_name_zh, "@language": "zh"},
                     {"@value": site.site_name_en, "@language": "en"}]}
        if d.begin or d.end:
            out["temporalCoverage"] = f"{d.begin or '..'}/{d.end}" if d.end else d.begin
        if d.date_text:
            out["dateCreated"] = d.begin or d.date_text
        creators = d.links.get(RICO + "hasCreator", [])
        if creators:
            out["creator"] = [_ref_node(r) for r in creators]
        about = d.links.get(RICO + "hasOrHadSubject", []) + d.links.get(SCHEMA + "about", [])
        if about:
            out["about"] = [_ref_node(r) for r in about]
        places = d.links.get(RICO + "isAssociatedWithPlace", [])
        if places:
            out["contentLocation"] = [_ref_node(r) for r in places]
        if d.parents:
            out["isPartOf"] = _ref_node(d.parents[-1])
        if d.extent:
            out["materialExtent"] = _multi(d.extent)
        if d.instantiations:
            out["associatedMedia"] = [
                {"@type": "MediaObject", "@id": i.iri, "url": i.iri,
                 "encodingFormat": i.media_type or None, "name": _multi(i.labels)}
                for i in d.instantiations]
        if d.media_type:
            out["encodingFormat"] = d.media_type
    elif kind == "Event" or kind == "ExhibitionEvent":
        if d.begin:
            out["startDate"] = d.begin
        if d.end:
            out["endDate"] = d.end
        places = d.links.get(RICO + "isAssociatedWithPlace", [])
        if places:
            out["location"] = [_ref_node(r) for r in places]
    elif kind in ("Person", "Organization"):
        places = d.links.get(RICO + "isAgentAssociatedWithPlace", [])
        if places:
            out["homeLocation" if kind == "Person" else "location"] = [
                _ref_node(r) for r in places]
    return {k: v for k, v in out.items() if v is not None}


def schema_org_script(d: Described, base: str, site) -> Markup:
    """The ``<script type="application/ld+json">`` element, safe to embed in HTML."""
    text = json.dumps(schema_org(d, base, site), ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/ld+json">{text}</script>')


# ------------------------------------------------------------------ errors
@bp.app_errorhandler(404)
def not_found(_exc):
    """The same page for every missing, closed, embargoed or unpublished thing."""
    return page("404.html", status=404)


@bp.app_errorhandler(410)
def gone(_exc):
    """Withdrawn from publication: no title, no reason, nothing else."""
    return page("410.html", status=410)
