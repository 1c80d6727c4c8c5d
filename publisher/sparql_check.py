"""Which queries the endpoint runs, decided on the parsed query, in the query worker.

The endpoint must never fetch from the network: ``SERVICE`` would make the server POST to
any address it is given, echo the answer or the error, and scan ports. A regex over the
query text cannot decide that (a comment ended by ``\\r``, an escaped ``\\#`` in a local
name and the like read differently to a regex and to the engine), so two layers:

1. **The engine cannot reach the network.** Each query worker leaves the host's network at
   start (a network namespace of its own, :func:`isolate`): a ``SERVICE`` the check below
   missed fails to connect, whatever the query text says.
2. **The parsed query is checked** (:func:`check`) so the client gets a clear answer: rdflib's
   SPARQL parser reads the query and a ``ServiceGraphPattern`` anywhere in the tree (subquery,
   ``OPTIONAL``, ``UNION``, ``EXISTS``…) is a 400; an Update is a 405. Line ends are
   normalised first, and the engine runs the normalised text, so both read the same comments.
   What rdflib cannot read (a few syntax corners, very long groups) is refused when its text
   names ``service`` at all (escapes undone); where the worker could not leave the network
   (no namespaces), that rule applies to every query, parsed or not.

This module runs in the query worker processes: no Flask.
"""

from __future__ import annotations

import ctypes
import re

SERVICE_REFUSED = ("SERVICE (federated query) is not allowed: this endpoint does not fetch "
                   "from other servers")
UPDATE_REFUSED = ("SPARQL Update is not allowed: this endpoint serves the publication "
                  "dataset read-only")
MAX_PARSED_CHARS = 20_000  # rdflib's parser recurses per triple; past this it is not tried
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_POSITION = re.compile(r"error at (\d+):(\d+)")


class Refusal(Exception):
    """The query is not run: ``status`` (400 or 405) and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def isolate() -> bool:
    """Move this process into a network namespace of its own (no interface but a loopback
    that is down): nothing it runs can connect anywhere. True if that worked. Call it while
    the process has one thread (a user namespace requires it)."""
    try:
        unshare = ctypes.CDLL(None, use_errno=True).unshare
    except (OSError, AttributeError):
        return False
    return any(unshare(flags) == 0 for flags in (_CLONE_NEWNET, _CLONE_NEWUSER | _CLONE_NEWNET))


def normalise(query: str) -> str:
    """``\\r\\n`` and a lone ``\\r`` become ``\\n``: SPARQL ends a comment at either, and
    parsers disagree on a lone ``\\r``; the engine is given this text too."""
    return query.replace("\r\n", "\n").replace("\r", "\n")


def check(query: str, isolated: bool) -> None:
    """Raise :class:`Refusal` for an Update or a query with ``SERVICE`` anywhere.

    ``query`` is already :func:`normalise`\\ d. Malformed queries pass: the engine reports
    them, with the position."""
    tree = _parse(query)
    if tree == "update":
        raise Refusal(405, UPDATE_REFUSED)
    if tree is not None and "ServiceGraphPattern" in _names(tree):
        raise Refusal(400, SERVICE_REFUSED)
    if (tree is None or not isolated) and "service" in _unescape(query).lower():
        raise Refusal(400, SERVICE_REFUSED + " (this query names it and could not be checked "
                                             "further: leave the word out)")


def _parse(query: str):
    """rdflib's parse tree, ``"update"`` for an Update, None if rdflib cannot read it."""
    if len(query) > MAX_PARSED_CHARS:
        return None
    from rdflib.plugins.sparql.parser import parseQuery, parseUpdate

    try:
        return parseQuery(query)
    except Exception:  # pyparsing's errors, RecursionError: rdflib cannot read it
        pass
    try:
        parseUpdate(query)
    except Exception:
        return None
    return "update"


def _names(tree) -> set[str]:
    """The names of every rule in rdflib's parse tree (``CompValue.name``)."""
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parserutils import CompValue

    names, stack = set(), [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, CompValue):
            names.add(node.name)
            stack.extend(node.values())
        elif isinstance(node, ParseResults | list | tuple):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
    return names


def _unescape(query: str) -> str:
    """SPARQL's ``\\uXXXX`` and ``\\UXXXXXXXX`` escapes, undone (they apply before parsing)."""
    def char(m: re.Match) -> str:
        code = int(m.group(1) or m.group(2), 16)
        return chr(code) if code <= 0x10FFFF else ""

    return _ESCAPE.sub(char, query)


def malformed(query: str, error: str) -> str:
    """A short 400 message for a query the engine could not parse: where, and the line with
    a caret under the spot (the engine's own wording names its grammar's rules)."""
    found = _POSITION.search(error)
    if not found:
        return "malformed query: check its syntax"
    line, column = int(found.group(1)), int(found.group(2))
    lines = query.split("\n")
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    start = max(0, column - 60)
    shown = text[start:start + 100].replace("\t", " ")
    return (f"malformed query: syntax error at line {line}, column {column}\n"
            f"  {shown}\n  {' ' * max(0, column - 1 - start)}^")


# ------------------------------------------------------------------ bounded by construction

_IRI = r"<[^<>\"{}|^`\\\s]*>"
_PNAME = r"[A-Za-z][A-Za-z0-9_.-]*:[A-Za-z0-9_][A-Za-z0-9_.-]*|[A-Za-z][A-Za-z0-9_.-]*:"
_CONST = rf"(?:{_IRI}|{_PNAME})"
_VAR = r"[?$][A-Za-z0-9_]+"
_LITERAL = rf"\"[^\"\\\n\r]*\"(?:@[A-Za-z]+(?:-[A-Za-z0-9]+)*|\^\^{_CONST})?"
_PROLOGUE = rf"(?:\s*(?:PREFIX\s+(?:[A-Za-z][A-Za-z0-9_.-]*)?:\s*{_IRI}|BASE\s+{_IRI}))*\s*"
_PATTERN = (rf"\{{\s*{_CONST}\s+(?:{_VAR}|{_CONST}|a)\s+(?:{_VAR}|{_CONST}|{_LITERAL})"
            rf"\s*\.?\s*\}}")
_BOUNDED = re.compile(
    _PROLOGUE + "(?:"
    rf"SELECT\s+(?:\*|{_VAR}(?:\s+{_VAR})*)\s+(?:WHERE\s*)?{_PATTERN}"
    rf"(?:\s*LIMIT\s+\d{{1,9}})?(?:\s*OFFSET\s+(?P<offset>\d{{1,9}}))?(?:\s*LIMIT\s+\d{{1,9}})?"
    rf"|ASK\s*(?:WHERE\s*)?{_PATTERN}"
    rf"|DESCRIBE\s+{_CONST}(?:\s+WHERE\s*\{{\s*\}})?"
    r")\s*", re.IGNORECASE)


def bounded(query: str, max_rows: int) -> bool:
    """Whether ``query`` costs at most about ``max_rows`` steps of the engine, whatever the
    data: then it may run in the web worker itself, with no process between (issue 15).

    Decided on the text by a grammar far narrower than SPARQL's — one triple pattern whose
    subject is a constant (``SELECT … { <x> ?p ?o }``, ``ASK``), or ``DESCRIBE <x>`` — so a
    match is certain and anything else simply takes the killable path: such a query is one
    scan of the subject's index, read lazily, and the writer takes at most ``max_rows + 1``
    solutions (``OFFSET`` past ``max_rows`` does not match; nor do ``DISTINCT``, ``ORDER
    BY``, comments, escapes or ``SERVICE``, which the grammar cannot spell)."""
    if len(query) > 4000 or "\\" in query:
        return False
    found = _BOUNDED.fullmatch(query)
    return found is not None and int(found.group("offset") or 0) <= max_rows
