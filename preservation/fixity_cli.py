"""`lantai fixity` (issue 14; being built)."""

from __future__ import annotations

import click


@click.command(name="fixity")
def fixity_cmd() -> None:
    """Read stored files and compare them with their digests (OCFL inventories)."""
    raise click.UsageError("not built yet")
