"""The catalog: fielded and full-text search over the repository (placeholder).

``attach(repository)`` is called by every :class:`~repo.repository.Repository` when it opens;
it registers a listener that keeps the catalog in step with each changeset.
"""

from __future__ import annotations


def attach(repository) -> None:
    """Keep the catalog in step with ``repository`` (no catalog yet: nothing to do)."""
