"""``lantai serve``: the public tier on every core (issue 15, item 1).

Owned by the `workers` part of issue 15. Agreed interface: ``serve(home, *, host, port,
workers, threads, quiet)`` runs a production WSGI server from the package registry with
``workers`` processes (0: one per core; settings ``serve_workers``), sharing nothing but the
read-only stores, catalogs and derivatives on disk, and around them the SPARQL engine's
processes: ``with publisher.sparql_engine.engine_for_serving(home, settings): …``.
"""
