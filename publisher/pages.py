"""Public pages: the home page, record pages, agent pages, and the not-found page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app
from pyoxigraph import Literal, NamedNode

from ontology.namespaces import RDF, RICO, RST, SCHEMA
from publisher.dataset import public_store
from publisher.i18n import lang, render

bp = Blueprint("pages", __name__)


def label(store, node: NamedNode, want: str) -> str:
    texts = {}
    for pred in (RICO + "title", RICO + "name", SCHEMA + "name"):
        for q in store.quads_for_pattern(node, NamedNode(pred), None, None):
            if isinstance(q.object, Literal):
                texts.setdefault(q.object.language or "", q.object.value)
    return texts.get(want) or next(iter(texts.values()), node.value)


@bp.get("/")
def home_page():
    store = public_store()
    want = lang()
    groups = []
    for rst, title_zh, title_en in ((RST + "Fonds", "全宗", "Fonds"),
                                    (RST + "Collection", "专题", "Collections")):
        items = sorted(
            (label(store, q.subject, want), q.subject.value)
            for q in store.quads_for_pattern(None, NamedNode(RICO + "hasRecordSetType"),
                                             NamedNode(rst), None))
        groups.append((title_zh if want == "zh" else title_en, items))
    exhibits = sorted(
        (label(store, q.subject, want), q.subject.value)
        for q in store.quads_for_pattern(None, NamedNode(RDF + "type"),
                                         NamedNode(SCHEMA + "ExhibitionEvent"), None))
    groups.append(("展览" if want == "zh" else "Exhibits", exhibits))
    return render("home.html", groups=groups)


@bp.get("/id/<kind>/<key>")
def record_page(kind: str, key: str):
    store = public_store()
    base = current_app.config["BASE"]
    node = NamedNode(f"{base}/id/{kind}/{key}")
    if not store.contains_named_graph(node):
        abort(404)
    want = lang()
    rows = []
    for q in sorted(store.quads_for_pattern(node, None, None, node), key=str):
        pred = q.predicate.value.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        if isinstance(q.object, Literal):
            if q.object.language and q.object.language != want:
                continue
            rows.append((pred, q.object.value, None))
        else:
            target = q.object
            inside = target.value.startswith(base + "/id/")
            rows.append((pred, label(store, target, want) if inside else target.value,
                         target.value if inside else None))
    return render("record.html", title=label(store, node, want), iri=node.value, rows=rows)


@bp.app_errorhandler(404)
def not_found(_exc):
    return render("404.html", status=404)
