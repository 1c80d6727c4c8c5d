"""Typed access to pyoxigraph terms and query results.

pyoxigraph types a quad's subject as ``NamedNode | BlankNode | Triple`` and a query's result
as ``QuerySolutions | QueryBoolean | QueryTriples``, because RDF-star and three query forms
exist. Lantai stores no quoted triples and knows which form each of its own queries has, so
these functions narrow the types once, here, and fail loudly if that ever stops being true
(a quoted triple from a hostile import is a bug to see, not a value to print).
"""

from __future__ import annotations

from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    QueryBoolean,
    QuerySolutions,
    QueryTriples,
    Triple,
)

Term = NamedNode | BlankNode | Literal | Triple | DefaultGraph


# made once: ``A | B`` written inside a function builds a new union on every call, which
# cost three times the rest of value() in a loop over quads
_VALUED = (NamedNode, BlankNode, Literal)


def value(term: Term | None) -> str:
    """The IRI, blank node id or lexical form of ``term`` (``""`` for the default graph)."""
    if isinstance(term, _VALUED):
        return term.value
    if isinstance(term, DefaultGraph):
        return ""
    raise TypeError(f"expected an IRI, blank node or literal, got {term!r}")


def named(term: Term | None) -> NamedNode:
    """``term`` as a ``NamedNode``: for subjects and graph names that are IRIs by
    construction (every description graph is named by its object's IRI)."""
    if isinstance(term, NamedNode):
        return term
    raise TypeError(f"expected an IRI, got {term!r}")


def solutions(result: QuerySolutions | QueryBoolean | QueryTriples) -> QuerySolutions:
    """The rows of a SELECT query's result."""
    if isinstance(result, QuerySolutions):
        return result
    raise TypeError(f"expected the solutions of a SELECT query, got {type(result).__name__}")


def triples(result: QuerySolutions | QueryBoolean | QueryTriples) -> QueryTriples:
    """The triples of a CONSTRUCT or DESCRIBE query's result."""
    if isinstance(result, QueryTriples):
        return result
    raise TypeError(f"expected the triples of a graph query, got {type(result).__name__}")


def boolean(result: QuerySolutions | QueryBoolean | QueryTriples) -> bool:
    """The answer of an ASK query."""
    if isinstance(result, QueryBoolean):
        return bool(result)
    raise TypeError(f"expected the answer of an ASK query, got {type(result).__name__}")
