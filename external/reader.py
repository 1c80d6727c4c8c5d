"""What the public surfaces read when the publication lives in an external engine.

Owned by the `reader` part of issue 15. Agreed interface: ``RemoteDataset(home, settings)``
with the same face as :class:`publisher.dataset.PublicDataset` — ``.store`` (an object with
the calls the publisher makes on a pyoxigraph ``Store``: ``query``, ``quads_for_pattern``,
``contains``, ``named_graphs``, ``contains_named_graph``), ``.generation()`` (read once per
request), ``.forget()``, ``.close()``.
"""
