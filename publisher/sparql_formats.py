"""Answer formats of the SPARQL endpoint: which one a client asked for, and writing it.

Two families: SELECT and ASK answers (SPARQL JSON, XML, CSV, TSV) and graphs from CONSTRUCT
and DESCRIBE (Turtle, N-Triples, JSON-LD, RDF/XML, N-Quads, TriG). A client chooses by the
``format`` (or ``output``) parameter, a short name or a media type, else by ``Accept`` with
q-values; with neither, JSON for solutions and Turtle for graphs. A ``format`` of the other
family than the query's answer is mapped (:func:`choose`), never refused.

SELECT answers are written here rather than by pyoxigraph's ``QuerySolutions.serialize``:
that call consumes the whole iterator, so it cannot stop at ``sparql_max_rows``; we take at
most ``max_rows + 1`` solutions and write those. Graphs go through ``pyoxigraph.serialize``.
This module runs in the query worker processes, so it imports neither Flask nor the app.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from pyoxigraph import BlankNode, DefaultGraph, Literal, NamedNode, Quad, RdfFormat, Triple

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


@dataclass(frozen=True)
class Format:
    name: str  # the `format` parameter's short name
    media_type: str  # what Content-Type says
    aliases: tuple[str, ...]  # other media types a client may ask for
    extension: str  # of a downloaded file


RESULT_FORMATS = (
    Format("json", "application/sparql-results+json", ("application/json",), "srj"),
    Format("xml", "application/sparql-results+xml", ("application/xml", "text/xml"), "srx"),
    Format("csv", "text/csv", (), "csv"),
    Format("tsv", "text/tab-separated-values", (), "tsv"),
)
GRAPH_FORMATS = (
    Format("ttl", "text/turtle", ("application/x-turtle",), "ttl"),
    Format("nt", "application/n-triples", ("text/plain",), "nt"),
    Format("jsonld", "application/ld+json", ("application/json",), "jsonld"),
    Format("rdfxml", "application/rdf+xml", ("application/xml", "text/xml"), "rdf"),
    Format("nq", "application/n-quads", (), "nq"),
    Format("trig", "application/trig", (), "trig"),
)
RDF_FORMATS = {
    "ttl": RdfFormat.TURTLE, "nt": RdfFormat.N_TRIPLES, "jsonld": RdfFormat.JSON_LD,
    "rdfxml": RdfFormat.RDF_XML, "nq": RdfFormat.N_QUADS, "trig": RdfFormat.TRIG,
}
# short names clients commonly send (Fuseki's output=json, Virtuoso's format=turtle, …)
SYNONYMS = {"turtle": "ttl", "ntriples": "nt", "n-triples": "nt", "json-ld": "jsonld",
            "rdf": "rdfxml", "rdf/xml": "rdfxml", "nquads": "nq", "n-quads": "nq",
            "srj": "json", "srx": "xml", "text": "tsv"}
BY_NAME = {f.name: f for f in RESULT_FORMATS + GRAPH_FORMATS}
SUPPORTED = ", ".join(f.name for f in RESULT_FORMATS + GRAPH_FORMATS)


class NotAcceptable(Exception):
    """No supported format fits what the client asked for (HTTP 406)."""


@dataclass(frozen=True)
class Choice:
    """The format to use for each kind of answer (the query's kind is known only once run)."""

    results: str | None  # for SELECT / ASK
    graph: str | None  # for CONSTRUCT / DESCRIBE
    asked: str  # what the client asked for, for the 406 message


def _by_param(value: str) -> Choice:
    key = value.strip().lower()
    key = SYNONYMS.get(key, key)
    if key in BY_NAME:
        fmt = BY_NAME[key]
        is_results = fmt in RESULT_FORMATS
        return Choice(key if is_results else None, None if is_results else key, value)
    # a media type: it may fit one format of each family (application/json, application/xml)
    results = next((f.name for f in RESULT_FORMATS if key in (f.media_type, *f.aliases)), None)
    graph = next((f.name for f in GRAPH_FORMATS if key in (f.media_type, *f.aliases)), None)
    if results is None and graph is None:
        raise NotAcceptable(f"unknown format {value!r}; supported: {SUPPORTED}")
    return Choice(results, graph, value)


def _by_accept(accept) -> Choice:
    """``accept`` is werkzeug's MIMEAccept; q-values and wildcards count, first listed wins ties."""
    def best(formats: tuple[Format, ...]) -> str | None:
        offers = [m for f in formats for m in (f.media_type, *f.aliases)]
        match = accept.best_match(offers)
        return next((f.name for f in formats if match in (f.media_type, *f.aliases)), None)

    if not accept:  # no Accept header: the defaults
        return Choice("json", "ttl", "")
    return Choice(best(RESULT_FORMATS), best(GRAPH_FORMATS), accept.to_header())


# the same syntax in the other family: what `format=xml` or `format=json` means for a graph
COUNTERPART = {"json": "jsonld", "xml": "rdfxml", "jsonld": "json", "rdfxml": "xml"}


def choose(format_param: str | None, accept) -> Choice:
    """The formats to answer in; raises :class:`NotAcceptable` for an unknown ``format``.

    ``format`` names one family, but the query's form decides which family the answer is in,
    and clients send one ``format`` whatever the form (SPARQLWrapper sends ``format=xml`` for
    a CONSTRUCT, the query page offers every download): for the other family it maps to the
    same syntax (XML ↔ RDF/XML, JSON ↔ JSON-LD), else to the default (JSON, Turtle). It
    overrides ``Accept``, which a browser following a download link fills with HTML."""
    if not format_param:
        return _by_accept(accept)
    named = _by_param(format_param)
    return Choice(named.results or COUNTERPART.get(named.graph or "", "json"),
                  named.graph or COUNTERPART.get(named.results or "", "ttl"), format_param)


def not_acceptable(choice: Choice, kind: str) -> str:
    names = RESULT_FORMATS if kind == "results" else GRAPH_FORMATS
    what = "SELECT and ASK answers" if kind == "results" else "CONSTRUCT and DESCRIBE answers"
    return (f"no supported format fits {choice.asked!r}: {what} come as "
            + ", ".join(f"{f.name} ({f.media_type})" for f in names))


# ------------------------------------------------------------------ SELECT / ASK answers

def _json_term(term) -> dict:
    if isinstance(term, NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, Triple):  # SPARQL 1.2 / RDF-star
        return {"type": "triple", "value": {"subject": _json_term(term.subject),
                                            "predicate": _json_term(term.predicate),
                                            "object": _json_term(term.object)}}
    raise TypeError(f"unexpected term {term!r}")


def _xml_term(term) -> str:
    if isinstance(term, NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            return (f"<literal datatype={quoteattr(term.datatype.value)}>"
                    f"{escape(term.value)}</literal>")
        return f"<literal>{escape(term.value)}</literal>"
    if isinstance(term, Triple):
        return (f"<triple><subject>{_xml_term(term.subject)}</subject>"
                f"<predicate>{_xml_term(term.predicate)}</predicate>"
                f"<object>{_xml_term(term.object)}</object></triple>")
    raise TypeError(f"unexpected term {term!r}")


def _csv_term(term) -> str:
    if term is None:
        return ""
    if isinstance(term, BlankNode):
        return "_:" + term.value
    if isinstance(term, (NamedNode, Literal)):
        return term.value
    return str(term)


def _tsv_term(term) -> str:
    # N-Triples syntax (pyoxigraph's str) escapes tab and newline inside literals
    return "" if term is None else str(term)


def write_solutions(fmt: str, variables: list[str], rows: list[list]) -> bytes:
    """A SELECT answer; ``rows`` hold a term or None (unbound) per variable."""
    if fmt == "json":
        bindings = [{v: _json_term(t) for v, t in zip(variables, row, strict=True) if t is not None}
                    for row in rows]
        return json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}},
                          ensure_ascii=False).encode()
    if fmt == "xml":
        out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">',
               "<head>", *(f"<variable name={quoteattr(v)}/>" for v in variables),
               "</head><results>"]
        for row in rows:
            out.append("<result>")
            out.extend(f"<binding name={quoteattr(v)}>{_xml_term(t)}</binding>"
                       for v, t in zip(variables, row, strict=True) if t is not None)
            out.append("</result>")
        out.append("</results></sparql>\n")
        return "\n".join(out).encode()
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(variables)
        writer.writerows([_csv_term(t) for t in row] for row in rows)
        return buf.getvalue().encode()
    if fmt == "tsv":
        lines = ["\t".join("?" + v for v in variables)]
        lines.extend("\t".join(_tsv_term(t) for t in row) for row in rows)
        return ("\n".join(lines) + "\n").encode()
    raise ValueError(fmt)


def write_boolean(fmt: str, value: bool) -> bytes:
    """An ASK answer (CSV and TSV: one column named after nothing, as Jena and Oxigraph do)."""
    if fmt == "json":
        return json.dumps({"head": {}, "boolean": value}).encode()
    if fmt == "xml":
        return ('<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
                f"<head/><boolean>{'true' if value else 'false'}</boolean></sparql>\n").encode()
    if fmt == "csv":
        return f"_askResult\r\n{'true' if value else 'false'}\r\n".encode()
    if fmt == "tsv":
        return f"?_askResult\n{'true' if value else 'false'}\n".encode()
    raise ValueError(fmt)


def write_graph(fmt: str, triples: list[Triple], prefixes: dict[str, str]) -> bytes:
    """A CONSTRUCT or DESCRIBE answer; N-Quads and TriG put it in the default graph."""
    from pyoxigraph import serialize

    rdf_format = RDF_FORMATS[fmt]
    data: list[Triple] | list[Quad] = triples
    if fmt in ("nq", "trig"):
        data = [Quad(t.subject, t.predicate, t.object, DefaultGraph()) for t in triples]
    if fmt in ("ttl", "trig", "rdfxml"):
        return serialize(data, format=rdf_format, prefixes=prefixes) or b""
    return serialize(data, format=rdf_format) or b""
