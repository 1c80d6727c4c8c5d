"""A client of a SPARQL 1.1 engine: Protocol (query), Update and Graph Store Protocol.

Owned by the `mirror` part of issue 15. Agreed interface (build to these names):

- ``Engine.from_settings(settings) -> Engine | None`` (None when ``publication_endpoint`` is
  empty); ``Engine(query_url, update_url="", gsp_url="", user="", password="",
  timeout=30.0)``.
- ``engine.select(query) -> list[dict[str, pyoxigraph term]]`` and
  ``engine.query(query, *, accept=...) -> bytes`` (raw answer, bounded size);
  ``engine.ask(query) -> bool``; ``engine.update(sparql_update)``;
  ``engine.put_graph(iri, quads_or_triples)``, ``engine.delete_graph(iri)`` (GSP when
  ``gsp_url`` is set, else SPARQL Update ``DROP SILENT GRAPH`` / ``INSERT DATA``);
  ``engine.generation() -> str`` ("" when none); ``engine.set_generation(value)``.
- :class:`EngineError` (a ``LantaiError``): one line naming the engine and what failed.

The publication's generation lives in the engine itself, in graph :data:`STATE_GRAPH`
(``<urn:lantai:publication-state> <urn:lantai:generation> "…"``), so web workers on other
machines learn that the publication changed from the engine alone.
"""

from __future__ import annotations

STATE_GRAPH = "urn:lantai:publication-state"
GENERATION = "urn:lantai:generation"
