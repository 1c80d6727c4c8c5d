"""The publication dataset in an external SPARQL 1.1 engine (issue 15, item 3).

One machine's embedded Oxigraph store is the default. A provincial archive network, or a
busy launch, puts the publication dataset in an engine that scales past one machine —
Virtuoso, Apache Jena Fuseki, GraphDB, Amazon Neptune, or ``oxigraph serve`` — and runs web
workers on several machines that share nothing but that engine, a copy of the public catalog
index and the derivative store (docs/deploy.md).

The local publication store stays the source of truth (the repository projects into it, as
before); the engine is a replica written through standard protocols only, so any SPARQL 1.1
engine can hold it:

- :mod:`external.protocol`  the client: SPARQL 1.1 Protocol (query), Update, Graph Store
  Protocol (PUT/DELETE of a graph), with authentication, timeouts and bounded answers;
- :mod:`external.mirror`    the repository listener: after each changeset (and a rebuild)
  the graphs it changed are written to the engine, then the engine's generation; a failure
  is kept in a pending list and retried (a record closed must leave the engine);
- :mod:`external.reader`    what the public surfaces read in external mode: a store with the
  calls the publisher uses (``query``, ``quads_for_pattern``, ``contains``,
  ``named_graphs``) over the Protocol, fresh once per request by the engine's generation;
- :mod:`external.cli`       ``lantai engine status|sync|check``.

Settings (repo/config.py): ``publication_endpoint``, ``publication_update_endpoint``,
``publication_gsp_endpoint``, ``publication_engine_user``; the password only from the
environment (``LANTAI_ENGINE_PASSWORD``).
"""
