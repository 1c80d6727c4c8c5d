"""The repository listener that writes the publication dataset's changes to the engine.

Owned by the `mirror` part of issue 15. Agreed interface: ``attach(repository)`` (called by
``Repository.__init__`` for a writable site whose settings name ``publication_endpoint``;
idempotent), ``sync(repository, *, full=False, progress=None) -> SyncReport`` (``lantai engine
sync``: the pending graphs, or every graph with ``full``), ``pending(home) -> list[str]``.
"""
