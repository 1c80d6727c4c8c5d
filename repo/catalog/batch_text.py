"""A batch of a bulk ingest read as N-Quads text, without making a ``Quad`` of each line.

The catalog's second process (:mod:`repo.catalog.ingestion`) is handed each batch as the
N-Quads text the ingest bulk-loads. Parsing it into pyoxigraph quads and grouping them took
2.2 s of CPU at scale 0.05, because every part of every quad becomes a new Python object;
split and grouped as text it takes 0.85 s. The text is the one Oxigraph's serializer wrote
(``<subject> <predicate> OBJECT <graph> .``, one statement a line); :func:`canonical` checks
that on a sample of every batch and has Oxigraph rewrite anything written otherwise, and a
graph with an escape, a blank node or a quoted triple is read from its quads, so what the
builders get is always what ``documents.own_statements`` reads from a store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pyoxigraph import Quad, RdfFormat, parse

from ontology import terms
from ontology.namespaces import LT
from repo.catalog.documents import IRI, LITERAL, Statement, own_statements


class TextGraph:
    """A description graph of a batch, kept as its N-Quads lines.

    The builders read the object's own statements straight from the text
    (:meth:`own_statements`), which costs what reading them from quads does (0.3 s for
    the 55,761 graphs of scale 0.05) without making the quads first (parsing them took
    most of 2.2 s). The quads are made (by Oxigraph, once) only when the graph is
    iterated: by a look-up of a text source or a ``read_object``.

    Lines are read as ``<subject> <predicate> OBJECT <graph> .``; a graph whose text is
    not that plain (an escape, a blank node, a quoted triple: never written for an
    ingest's objects) is read from its quads, so the statements are always those
    ``documents.own_statements`` reads from a store."""

    __slots__ = ("_quads", "_same", "_statements", "lines", "plain", "tail")

    def __init__(self, name: str, lines: list[str], plain: bool | None) -> None:
        self.lines = lines
        self.tail = len(name) + 5  # " <{name}> ." ends every line
        self.plain = plain  # no escape (_plain); None: not known (the batch's text has one)
        self._quads: list[Quad] | None = None
        self._statements: tuple[str, list[Statement]] | None = None  # the last asked for
        self._same: TextGraph | None = None

    def share(self, staff: TextGraph) -> None:
        """A public graph with the same statements as the object's working graph (most
        are: only personal fields differ) reads them from it: 19,600 graphs not read
        twice at scale 0.05. Their order is the working graph's, as the two stores of
        ``lantai reindex`` give the same statements in the same order."""
        if len(self.lines) == len(staff.lines) and set(self.lines) == set(staff.lines):
            self._same = staff

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[Quad]:
        if self._quads is None:
            self._quads = list(quads_of("\n".join(self.lines)))
        return iter(self._quads)

    def own_statements(self, iri: str) -> list[Statement]:
        if self._same is not None:
            return self._same.own_statements(iri)
        if self._statements is None or self._statements[0] != iri:
            self._statements = (iri, self._read_statements(iri))
        return self._statements[1]

    def _read_statements(self, iri: str) -> list[Statement]:
        if self.plain is None:
            self.plain = _plain("\n".join(self.lines))
        if not self.plain:
            return own_statements(iri, list(self))
        subject = f"<{iri}>"
        head = subject + " <"
        start = len(head)
        cut = -self.tail
        rows: list[Statement] = []
        for line in self.lines:
            if not line.startswith(head):
                if line.startswith(subject):  # other white space than one space
                    return own_statements(iri, list(self))
                continue
            # "predicate> OBJECT": the predicate ends at the first "> " (no spaces in IRIs)
            predicate, _, term = line[start:cut].partition("> ")
            kind = term[:1]
            if term.endswith(" "):  # other white space than one space
                return own_statements(iri, list(self))
            if kind == "<" and term.endswith(">") and not term.startswith("<<"):
                rows.append((predicate, IRI, term[1:-1], ""))
            elif kind == '"':
                close = term.rindex('"')
                tag = term[close + 1:]  # @lang, ^^<datatype> or nothing
                rows.append((predicate, LITERAL, term[1:close],
                             tag[1:].lower() if tag.startswith("@") else ""))
            else:  # a blank node, a quoted triple: as a store would give them
                return own_statements(iri, list(self))
        return rows


@dataclass
class Batch:
    """One batch of an ingest, as the indexer reads it from the N-Quads of the two stores."""

    iris: list[str] = field(default_factory=list)  # its objects, in the order of the text
    # every subject of the management graph -> the values of FACT_KEYS it has
    facts: dict[str, dict[str, str]] = field(default_factory=dict)
    graphs: dict[str, TextGraph] = field(default_factory=dict)  # descriptions, by name
    mgmt: list[str] = field(default_factory=list)  # the management facts' lines (triples)
    public: dict[str, TextGraph] = field(default_factory=dict)  # public graphs, by name


# what Facts are made of (an ingested object has one changeset: changedIn is its only one)
FACT_KEYS = ("type", "state", "access", "path", "owner", "parent", "position", "changedIn")


class BatchReader:
    """Reads a batch from its text with string operations, making no ``Quad``.

    Parsing the batches of scale 0.05 into pyoxigraph quads and grouping them by graph
    took 2.2 s of CPU; split and grouped as text, the same batches take 0.85 s. The
    description lines are grouped by graph by their last term (:class:`TextGraph` reads
    the statements from them); the facts a document needs of the management facts
    (N-Triples, about 9 statements an object) are read from their lines with one short
    look at each. A value
    with an escape in it (never seen: paths and type names are plain) is read by Oxigraph
    from its line. The lines stay: the store view parses what a look-up asks for
    (:class:`_Overlay`)."""

    def read(self, description_nq: str, management_nt: str, public_nq: str) -> Batch:
        batch = Batch()
        description_nq, public_nq = canonical(description_nq), canonical(public_nq)
        management_nt = canonical(management_nt)
        batch.graphs = _by_graph(description_nq, _plain(description_nq))
        batch.public = _by_graph(public_nq, _plain(public_nq))
        batch.mgmt = [line for line in management_nt.split("\n") if line]  # not splitlines: U+2028…
        batch.facts = self._management(batch.mgmt)
        batch.iris = [s for s, found in batch.facts.items() if "type" in found]
        return batch

    def _management(self, lines: list[str]) -> dict[str, dict[str, str]]:
        """The first value of each of FACT_KEYS (as ContentObject reads them) by subject,
        for every subject of the management lines. A subject's lines usually follow each
        other: its ``<subject> <LT`` prefix is made once for them."""
        facts: dict[str, dict[str, str]] = {}
        wanted = frozenset(FACT_KEYS)
        cut = -2  # " ." ends every line
        head = "\0"
        start = 0
        found: dict[str, str] = {}
        for line in lines:
            if not line.startswith(head):
                if not line.startswith("<"):  # a blank node (never written): not an object
                    head = "\0"
                    continue
                subject = line[1:line.index("> ")]
                head = f"<{subject}> <{LT}"
                start = len(head)
                found = facts.setdefault(subject, {})
                if not line.startswith(head):  # not a Lantai predicate
                    continue
            end = line.find("> ", start)
            key = line[start:end]
            if key in wanted and key not in found:
                term = line[end + 2:cut]
                if term.startswith("<") and term.endswith(">") and "\\" not in term:
                    found[key] = term[1:-1]
                else:
                    found[key] = self._value(term, line)
        return facts

    @staticmethod
    def _value(term: str, line: str) -> str:
        """The value of an N-Quads term as written: an IRI or a literal's lexical form."""
        if "\\" not in term and not term.endswith(" "):
            if term.startswith("<") and term.endswith(">"):
                return term[1:-1]
            if term.startswith('"'):
                return term[1:term.rindex('"')]
        return terms.value(next(iter(quads_of(line))).object)


def canonical(text: str, sample: int = 64) -> str:
    """The text as Oxigraph writes N-Quads (a statement a line, one space between terms,
    the same escapes), on which reading it as text depends. The ingest's batches are
    written so (their first lines are checked: all 809,000 lines of scale 0.05 are as
    ``f"{quad} ."`` makes them); another text is rewritten so, by Oxigraph."""
    lines = text.split("\n", sample)[:sample]
    if lines and lines[-1] == "":
        lines.pop()
    if [f"{q} ." for q in quads_of("\n".join(lines))] == lines:
        return text
    return "".join(f"{q} .\n" for q in quads_of(text))


def _plain(text: str) -> bool:
    """No escape anywhere (one scan of the text, in C: 2 ms a batch; blank nodes and
    quoted triples are noticed where a statement is read, scanning for them took 20)."""
    return "\\" not in text


def _by_graph(text: str, plain: bool) -> dict[str, TextGraph]:
    """The lines ``… <graph> .`` of ``text`` by graph. An object's lines follow each other:
    a line ending as the one before is of the same graph, which is looked up only when it
    changes. A line not of that form (a triple: never written for an ingest's objects'
    descriptions) makes Oxigraph group the lines."""
    groups: dict[str, list[str]] = {}
    tail = "\0"
    group: list[str] = []
    for line in text.split("\n"):
        if line.endswith(tail):
            group.append(line)
        elif line.endswith("> ."):
            name = line[line.rindex(" <") + 2:-3]
            tail = f" <{name}> ."
            group = groups.setdefault(name, [])
            group.append(line)
        elif line:
            return _by_graph_parsed(text)
    known = True if plain else None  # else each graph looks at its own lines when read
    return {name: TextGraph(name, group, known) for name, group in groups.items()}


def _by_graph_parsed(text: str) -> dict[str, TextGraph]:
    groups: dict[str, list[str]] = {}
    for q in quads_of(text):
        if hasattr(q.graph_name, "value"):  # a triple is no object's description
            groups.setdefault(q.graph_name.value, []).append(f"{q} .")
    return {name: TextGraph(name, group, False) for name, group in groups.items()}


def quads_of(text: str) -> Iterable[Quad]:
    """The quads of N-Quads ``text`` (parsed by Oxigraph)."""
    if not text:
        return ()
    return parse(input=text.encode("utf-8"), format=RdfFormat.N_QUADS)


__all__ = ["FACT_KEYS", "Batch", "BatchReader", "TextGraph", "canonical", "quads_of"]
