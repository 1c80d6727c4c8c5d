"""``lantai engine status|sync|check`` (owned by the `mirror` part of issue 15)."""

from __future__ import annotations

import click


@click.group("engine")
def engine_group() -> None:
    """The publication dataset in an external SPARQL 1.1 engine (settings
    publication_endpoint …; see docs/deploy.md)."""
