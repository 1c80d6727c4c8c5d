"""Namespaces used by Lantai, as plain IRI strings and pyoxigraph ``NamedNode`` makers.

``LT`` is Lantai's own namespace. It names repository state (workflow, access, revisions)
and appears only in the working store's management graph, never in the publication dataset.
"""

from __future__ import annotations

from pyoxigraph import NamedNode

RICO = "https://www.ica.org/standards/RiC/ontology#"
RST = "https://www.ica.org/standards/RiC/vocabularies/recordSetTypes#"
DFT = "https://www.ica.org/standards/RiC/vocabularies/documentaryFormTypes#"
LT = "https://w3id.org/lantai/ns#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SH = "http://www.w3.org/ns/shacl#"
PROV = "http://www.w3.org/ns/prov#"
DCTERMS = "http://purl.org/dc/terms/"
SCHEMA = "http://schema.org/"
ISO639 = "http://id.loc.gov/vocabulary/iso639-2/"

PREFIXES: dict[str, str] = {
    "rico": RICO,
    "ric-rst": RST,
    "ric-dft": DFT,
    "lt": LT,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "skos": SKOS,
    "prov": PROV,
    "dcterms": DCTERMS,
    "schema": SCHEMA,
}

RDF_TYPE = NamedNode(RDF + "type")
RDF_LANGSTRING = RDF + "langString"


def lt(local: str) -> NamedNode:
    """A term of Lantai's management namespace."""
    return NamedNode(LT + local)


def rico(local: str) -> NamedNode:
    """A RiC-O 1.1 term."""
    return NamedNode(RICO + local)


def shorten(iri: str) -> str:
    """``rico:title`` for a known namespace, ``<iri>`` otherwise: for humans reading diffs."""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and "/" not in iri[len(ns):] and "#" not in iri[len(ns):]:
            return f"{prefix}:{iri[len(ns):]}"
    return f"<{iri}>"
