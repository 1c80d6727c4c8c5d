"""Application factory and the first public pages (home, record pages, health).

Pages are bilingual: ``?lang=zh|en`` chooses, a cookie remembers, Chinese is the default.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, abort, make_response, render_template, request
from pyoxigraph import Literal, NamedNode

from ontology.namespaces import RDF, RICO, RST, SCHEMA
from publisher.dataset import PublicDataset
from repo.config import read_settings

LANGS = ("zh", "en")


def create_app(home: Path | str) -> Flask:
    home = Path(home)
    settings = read_settings(home)
    app = Flask(__name__)
    app.config["LANTAI_HOME"] = home
    app.config["BASE"] = settings.base
    dataset = PublicDataset(home)

    def lang() -> str:
        chosen = request.args.get("lang") or request.cookies.get("lang") or "zh"
        return chosen if chosen in LANGS else "zh"

    def label(store, node: NamedNode, want: str) -> str:
        texts = {}
        for pred in (RICO + "title", RICO + "name", SCHEMA + "name"):
            for q in store.quads_for_pattern(node, NamedNode(pred), None, None):
                if isinstance(q.object, Literal):
                    texts.setdefault(q.object.language or "", q.object.value)
        return texts.get(want) or next(iter(texts.values()), node.value)

    def render(template: str, **kw):
        resp = make_response(render_template(template, lang=lang(), site=settings, **kw))
        if request.args.get("lang") in LANGS:
            resp.set_cookie("lang", request.args["lang"], max_age=365 * 24 * 3600,
                            samesite="Lax")
        return resp

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/")
    def home_page():
        store = dataset.store
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

    @app.get("/id/<kind>/<key>")
    def record_page(kind: str, key: str):
        store = dataset.store
        node = NamedNode(f"{settings.base}/id/{kind}/{key}")
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
                inside = target.value.startswith(settings.base + "/id/")
                rows.append((pred, label(store, target, want) if inside else target.value,
                             target.value if inside else None))
        return render("record.html", title=label(store, node, want), iri=node.value, rows=rows)

    @app.errorhandler(404)
    def not_found(_exc):
        return render("404.html"), 404

    return app
