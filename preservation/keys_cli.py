"""`lantai keys` (issue 14; being built)."""

from __future__ import annotations

import click


@click.group(name="keys")
def keys_group() -> None:
    """The site master key: make a new one, check one, rotate to another."""
