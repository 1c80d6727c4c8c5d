"""Linked data: every public IRI dereferences; VoID, dumps, sitemap and robots.txt.

``{base}/id/{kind}/{key}`` answers HTML to browsers and RDF to programs, chosen by the
``Accept`` header (q-values honoured, ``Vary: Accept``) or by an extension (``.ttl``,
``.jsonld``, ``.rdf``, ``.nt``); ``Link`` headers name the alternates. The RDF of an object is
its named graph in the publication dataset, nothing more.

What is not public answers exactly as what never existed (the same 404, no title, no hint),
except an IRI that was public once and was withdrawn: that one is 410 Gone (the repository
keeps the list outside the publication store, see :mod:`repo.gone`).

VoID counts and the dumps are computed once per publication generation (COUNT is a full scan
in Oxigraph), the dumps written to ``{home}/dumps/`` through a temporary file and a rename.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, cast
from xml.sax.saxutils import escape as xml_escape

from flask import Blueprint, Response, abort, current_app, request, send_file
from pyoxigraph import NamedNode, RdfFormat, Store, Triple, serialize

from ontology import terms
from ontology.namespaces import DCTERMS, LT, PREFIXES, RDF, RICO, SCHEMA, SKOS
from publisher.dataset import public_store, read_generation
from publisher.gone import absent
from publisher.i18n import ui_text

bp = Blueprint("linkeddata", __name__)

CONTEXT_FILE = Path(__file__).resolve().parent.parent / "ontology" / "context.jsonld"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TURTLE_PREFIXES = {k: v for k, v in PREFIXES.items() if k != "lt"}  # for served Turtle


@dataclass(frozen=True)
class Format:
    ext: str
    media_type: str
    aliases: tuple[str, ...] = ()


HTML = Format("html", "text/html", ("application/xhtml+xml",))
FORMATS = (
    HTML,
    Format("ttl", "text/turtle", ("application/x-turtle",)),
    Format("jsonld", "application/ld+json", ("application/json",)),
    Format("rdf", "application/rdf+xml", ("application/xml", "text/xml")),
    Format("nt", "application/n-triples", ("text/plain",)),
)
BY_EXT = {f.ext: f for f in FORMATS}
RDF_FORMATS = {"ttl": RdfFormat.TURTLE, "rdf": RdfFormat.RDF_XML, "nt": RdfFormat.N_TRIPLES}


# ------------------------------------------------------------------ content negotiation
def parse_accept(header: str) -> list[tuple[str, float]]:
    """``[(media range, q)]`` of an Accept header; malformed parts are skipped."""
    out = []
    for part in header.split(",")[:64]:
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+*-]+|\*/\*", media):
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value.strip())))
                except ValueError:
                    q = 0.0
        out.append((media, q))
    return out


def negotiate(header: str | None, offers=FORMATS) -> Format | None:
    """The offer the client prefers (most specific matching range decides its q; ties go to
    the server's order, HTML first). None when nothing offered is acceptable."""
    if not header or not header.strip():
        return offers[0]
    ranges = parse_accept(header)
    if not ranges:
        return offers[0]
    best, best_q = None, 0.0
    for offer in offers:
        q, specificity = 0.0, -1
        for media in (offer.media_type, *offer.aliases):
            family = media.split("/")[0] + "/*"
            for rng, rq in ranges:
                spec = 2 if rng == media else 1 if rng == family else 0 if rng == "*/*" else -1
                if spec > specificity:
                    q, specificity = rq, spec
                elif spec == specificity and spec >= 0:
                    q = max(q, rq)
        if q > best_q:
            best, best_q = offer, q
    return best


def not_acceptable(offers=FORMATS) -> Response:
    supported = ", ".join(f.media_type for f in offers)
    return Response(f"406 Not Acceptable: supported media types are {supported}\n", 406,
                    content_type="text/plain; charset=utf-8", headers={"Vary": "Accept"})


# ------------------------------------------------------------------ RDF of one object
def object_triples(store: Store, iri: str) -> list:
    node = NamedNode(iri)
    return [q.triple for q in store.quads_for_pattern(None, None, None, node)]


def extension_triples(iri: str) -> list:
    """What ``app.extensions["lantai.record_statements"]`` adds to the served document of
    ``iri`` (e.g. ``<record> rdfs:seeAlso <IIIF manifest>``): facts that depend on other
    objects, so they are added where the document is served, not stored in the publication
    dataset. Each hook gives ``(subject, predicate, object)`` tuples or Triples; a broken hook
    is logged and skipped, the record's own graph is still served."""
    out = []
    for hook in current_app.extensions.get("lantai.record_statements", []):
        try:
            for t in hook(iri) or []:
                out.append(t if isinstance(t, Triple) else Triple(*t))
        except Exception:
            current_app.logger.exception("record_statements hook failed for %s", iri)
    return out


@cache
def jsonld_context() -> dict:
    return json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))["@context"]


def to_jsonld(triples: list) -> bytes:
    """Compact JSON-LD with the profile's context (rdflib does the compaction)."""
    import rdflib

    g = rdflib.Graph()
    g.parse(data=serialize(triples, format=RdfFormat.N_TRIPLES) or b"", format="nt")
    return g.serialize(format="json-ld", context=jsonld_context(), indent=2).encode("utf-8")


def serialize_triples(triples: list, ext: str) -> bytes:
    if ext == "jsonld":
        return to_jsonld(triples)
    prefixes = TURTLE_PREFIXES if ext == "ttl" else None
    return serialize(sorted(triples, key=str), format=RDF_FORMATS[ext],
                     prefixes=prefixes) or b""


def alternates(iri: str) -> list[tuple[str, str, str]]:
    """(rel, type, href) of every representation of ``iri``."""
    out = [("alternate", f.media_type, f"{iri}.{f.ext}") for f in FORMATS if f is not HTML]
    out.append(("canonical", "", iri))
    for hook in current_app.extensions.get("lantai.record_links", []):
        try:
            out.extend(hook(iri) or [])
        except Exception:  # a broken extension must not take the record page down
            current_app.logger.exception("record_links hook failed for %s", iri)
    return out


def quoted_string(value: str) -> str:
    """An RFC 9110 ``quoted-string``: ``"`` and ``\\`` escaped as quoted-pairs, control
    characters dropped. A media type with parameters (the IIIF profile,
    ``application/ld+json;profile="…"``) is only a valid Link ``type`` this way (RFC 8288)."""
    value = "".join(c for c in value if c == "\t" or (ord(c) >= 0x20 and ord(c) != 0x7F))
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def link_header(links: list[tuple[str, str, str]]) -> str:
    parts = []
    for rel, mtype, href in links:
        href = href.replace(">", "%3E").replace("\r", "").replace("\n", "")
        part = f"<{href}>; rel={quoted_string(rel)}"
        if mtype:
            part += f"; type={quoted_string(mtype)}"
        parts.append(part)
    return ", ".join(parts)


@bp.get("/id/<kind>/<path:key>")
def dereference(kind: str, key: str):
    base = current_app.config["BASE"]
    stem, dot, ext = key.rpartition(".")
    if not dot:
        stem, ext = key, ""
    if not _NAME.match(kind) or not _NAME.match(stem) or (ext and ext not in BY_EXT):
        abort(404)
    iri = f"{base}/id/{kind}/{stem}"
    store = public_store()
    if not store.contains_named_graph(NamedNode(iri)):
        absent(iri)
    links = alternates(iri)
    fmt: Format | None
    if ext:
        fmt = BY_EXT[ext]
    else:
        fmt = negotiate(request.headers.get("Accept"))
        if fmt is None:
            return not_acceptable()
    if fmt is HTML:
        from publisher.pages import object_page

        resp = object_page(iri, links, store)
    else:
        triples = object_triples(store, iri) + extension_triples(iri)
        body = serialize_triples(triples, fmt.ext)
        ctype = fmt.media_type + ("; charset=utf-8" if fmt.ext != "rdf" else "")
        resp = Response(body, 200, content_type=ctype)
        resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Link"] = link_header(links)
    if not ext:
        resp.headers["Vary"] = "Accept"
        resp.headers["Content-Location"] = f"{request.script_root}/id/{kind}/{stem}" + (
            f".{fmt.ext}" if fmt is not HTML else "")
    return resp


# ------------------------------------------------------------------ per-generation facts
_stats_lock = threading.Lock()
_stats: dict[str, tuple[str, dict]] = {}

VOCABULARIES = {
    "rico": RICO, "skos": SKOS, "schema": SCHEMA, "lt": LT, "dcterms": DCTERMS,
}


def dataset_stats(home: Path, store: Store) -> dict:
    """Counts for VoID, computed once per publication generation."""
    generation = read_generation(home)
    with _stats_lock:
        cached = _stats.get(str(home))
        if cached and cached[0] == generation:
            return cached[1]
        triples = 0
        predicates: set[str] = set()
        subjects: set[str] = set()
        for q in store:
            triples += 1
            predicates.add(q.predicate.value)
            subjects.add(str(q.subject))
        classes: dict[str, int] = {}
        for q in store.quads_for_pattern(None, NamedNode(RDF + "type"), None, None):
            if q.subject == q.graph_name:
                cls = terms.value(q.object)
                classes[cls] = classes.get(cls, 0) + 1
        entities = sum(1 for _ in store.named_graphs())
        namespaces = {v for v in VOCABULARIES.values() if v != LT}
        for iri in predicates | set(classes):
            for ns in (RICO, SKOS, SCHEMA, DCTERMS, RDF):
                if iri.startswith(ns):
                    namespaces.add(ns)
        stats = {"triples": triples, "entities": entities, "classes": classes,
                 "properties": len(predicates), "distinct_subjects": len(subjects),
                 "vocabularies": sorted(namespaces | {LT})}
        _stats[str(home)] = (generation, stats)
        return stats


DATASET_DESCRIPTION = ui_text("The public archival descriptions (RiC-O 1.1)")


def _void_turtle(base: str, stats: dict, settings) -> str:
    def lit(text: str) -> str:  # a JSON string is a valid Turtle string literal
        return json.dumps(text, ensure_ascii=False)  # 中文 readable, not \\u escapes
    lines = [
        "@prefix void: <http://rdfs.org/ns/void#> .",
        "@prefix dcterms: <http://purl.org/dc/terms/> .",
        "@prefix foaf: <http://xmlns.com/foaf/0.1/> .",
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .",
        "",
        f"<{base}/.well-known/void> a void:DatasetDescription ;",
        f"    dcterms:title {lit('VoID description of ' + settings.site_name_en)}@en ;",
        f"    foaf:primaryTopic <{base}/.well-known/void#dataset> .",
        "",
        f"<{base}/.well-known/void#dataset> a void:Dataset ;",
        f"    dcterms:title {lit(settings.site_name_zh)}@zh, {lit(settings.site_name_en)}@en ;",
        "    dcterms:description " + ", ".join(
            f"{lit(text)}@{code}" for code, text in DATASET_DESCRIPTION.both().items()) + " ;",
        f"    foaf:homepage <{base}/> ;",
        f"    void:sparqlEndpoint <{base}/sparql> ;",
        f"    void:dataDump <{base}/dumps/lantai.nq.gz>, <{base}/dumps/lantai.ttl.gz> ;",
        f"    void:uriSpace {lit(base + '/id/')} ;",
        "    void:feature <http://www.w3.org/ns/formats/Turtle>, "
        "<http://www.w3.org/ns/formats/JSON-LD>, <http://www.w3.org/ns/formats/RDF_XML>, "
        "<http://www.w3.org/ns/formats/N-Triples>, <http://www.w3.org/ns/formats/N-Quads> ;",
        "    void:vocabulary " + ", ".join(f"<{v}>" for v in stats["vocabularies"]) + " ;",
        f"    void:triples {stats['triples']} ;",
        f"    void:entities {stats['entities']} ;",
        f"    void:classes {len(stats['classes'])} ;",
        f"    void:properties {stats['properties']} ;",
        f"    void:distinctSubjects {stats['distinct_subjects']} ;",
    ]
    partitions = [f"[ void:class <{c}> ; void:entities {n} ]"
                  for c, n in sorted(stats["classes"].items())]
    if partitions:
        lines.append("    void:classPartition " + ", ".join(partitions) + " ;")
    lines[-1] = lines[-1][:-2] + " ."
    return "\n".join(lines) + "\n"


@bp.get("/.well-known/void")
@bp.get("/.well-known/void.<ext>")
def void(ext: str | None = None):
    home = current_app.config["LANTAI_HOME"]
    base = current_app.config["BASE"]
    store = public_store()
    offers = tuple(f for f in FORMATS if f is not HTML)
    if ext:
        if ext not in BY_EXT or ext == "html":
            abort(404)
        fmt = BY_EXT[ext]
    as_text = False
    if not ext:
        accept = request.headers.get("Accept") or ""
        if "text/html" in accept and negotiate(accept) is HTML:
            # a browser (the home page links here): Turtle shown as text, not downloaded
            fmt, as_text = offers[0], True
        else:
            chosen = negotiate(accept, offers) if accept else offers[0]
            if chosen is None:
                return not_acceptable(offers)
            fmt = chosen
    ttl = _void_turtle(base, dataset_stats(home, store), current_app.config["SETTINGS"])
    if fmt.ext == "ttl":
        body = ttl.encode("utf-8")
    else:
        from pyoxigraph import parse

        triples = list(parse(ttl.encode("utf-8"), format=RdfFormat.TURTLE))
        body = serialize_triples(triples, fmt.ext)
    media_type = "text/plain" if as_text else fmt.media_type
    resp = Response(body, 200, content_type=media_type + (
        "; charset=utf-8" if fmt.ext != "rdf" else ""))
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Link"] = link_header(
        [("alternate", f.media_type, f"{base}/.well-known/void.{f.ext}") for f in offers])
    if not ext:
        resp.headers["Vary"] = "Accept"
    return resp


# ------------------------------------------------------------------ dumps
DUMPS = {"lantai.nq.gz": "nq", "lantai.ttl.gz": "ttl"}
_dump_lock = threading.Lock()


def ensure_dump(home: Path, store: Store, name: str) -> tuple[Path, str]:
    """The dump ``name`` of the current publication generation (written if missing), and
    its ETag. Written to a temporary file and renamed, so a reader never sees half a file."""
    generation = read_generation(home)
    folder = home / "dumps"
    path = folder / name
    stamp = folder / (name + ".generation")
    etag = hashlib.sha256(f"{name}:{generation}".encode()).hexdigest()[:32]
    with _dump_lock:
        try:
            if path.exists() and stamp.read_text(encoding="utf-8") == generation:
                return path, etag
        except FileNotFoundError:
            pass
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as raw, gzip.GzipFile(
                    filename=name[:-3], mode="wb", fileobj=raw, compresslevel=5, mtime=0) as gz:
                out = cast(IO[bytes], gz)  # a GzipFile is a binary file; typeshed says otherwise
                if DUMPS[name] == "nq":
                    store.dump(out, format=RdfFormat.N_QUADS)
                else:
                    serialize((q.triple for q in store), out, format=RdfFormat.TURTLE,
                              prefixes=TURTLE_PREFIXES)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        stamp.write_text(generation, encoding="utf-8")
        return path, etag


@bp.get("/dumps/<name>")
def dump(name: str):
    if name not in DUMPS:
        abort(404)
    home = current_app.config["LANTAI_HOME"]
    path, etag = ensure_dump(home, public_store(), name)
    resp = send_file(path, mimetype="application/gzip", as_attachment=True, download_name=name,
                     etag=etag, conditional=True, max_age=0)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


# ------------------------------------------------------------------ sitemap, robots
SITEMAP_MAX = 50_000
_sitemap_lock = threading.Lock()
_sitemap: dict[str, tuple[str, list[str]]] = {}


def public_pages(home: Path, store: Store, base: str) -> list[str]:
    """Every page to list: the home page and each public object, sorted (once per generation)."""
    generation = read_generation(home)
    with _sitemap_lock:
        cached = _sitemap.get(str(home))
        if cached and cached[0] == generation:
            return cached[1]
        prefix = base + "/id/"
        iris = sorted(g.value for g in store.named_graphs()
                      if isinstance(g, NamedNode) and g.value.startswith(prefix))
        urls = [base + "/", *iris, *exhibit_pages(store, base)]
        _sitemap[str(home)] = (generation, urls)
        return urls


def exhibit_pages(store: Store, base: str) -> list[str]:
    """The readers' pages of public exhibits and their sections (``publisher.exhibits``)."""
    if "exhibits.exhibit_page" not in current_app.view_functions:
        return []
    prefix = base + "/id/exhibit/"
    out = [base + "/exhibits/"]
    for q in store.quads_for_pattern(None, NamedNode(RDF + "type"),
                                     NamedNode(SCHEMA + "ExhibitionEvent"), None):
        if q.subject != q.graph_name or not terms.value(q.subject).startswith(prefix):
            continue
        key = terms.value(q.subject)[len(prefix):]
        out.append(f"{base}/exhibits/{key}")
        for part in store.quads_for_pattern(None, NamedNode(SCHEMA + "isPartOf"), q.subject,
                                            None):
            if part.subject == part.graph_name and terms.value(part.subject).startswith(prefix):
                out.append(f"{base}/exhibits/{key}/{terms.value(part.subject)[len(prefix):]}")
    return sorted(set(out))


def _xml(body: str) -> Response:
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + body, 200,
                    content_type="application/xml; charset=utf-8")


def _urlset(urls: list[str]) -> Response:
    items = "".join(f"<url><loc>{xml_escape(u)}</loc></url>\n" for u in urls)
    return _xml('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                + items + "</urlset>\n")


@bp.get("/sitemap.xml")
def sitemap():
    base = current_app.config["BASE"]
    urls = public_pages(current_app.config["LANTAI_HOME"], public_store(), base)
    if len(urls) <= SITEMAP_MAX:
        return _urlset(urls)
    parts = -(-len(urls) // SITEMAP_MAX)
    items = "".join(f"<sitemap><loc>{base}/sitemap-{n}.xml</loc></sitemap>\n"
                    for n in range(1, parts + 1))
    return _xml('<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                + items + "</sitemapindex>\n")


@bp.get("/sitemap-<int:n>.xml")
def sitemap_part(n: int):
    urls = public_pages(current_app.config["LANTAI_HOME"], public_store(),
                        current_app.config["BASE"])
    if len(urls) <= SITEMAP_MAX or n < 1 or (n - 1) * SITEMAP_MAX >= len(urls):
        abort(404)
    return _urlset(urls[(n - 1) * SITEMAP_MAX:n * SITEMAP_MAX])


@bp.get("/robots.txt")
def robots():
    base = current_app.config["BASE"]
    text = ("User-agent: *\n"
            "Disallow: /api/\n"
            "Disallow: /sparql\n"
            "Disallow: /dumps/\n"
            "Allow: /\n"
            f"Sitemap: {base}/sitemap.xml\n")
    return Response(text, 200, content_type="text/plain; charset=utf-8")
