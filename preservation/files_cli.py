"""`lantai files` (issue 14; being built)."""

from __future__ import annotations

import click


@click.group(name="files")
def files_group() -> None:
    """The file store (an OCFL 1.1 storage root): migrate, list objects and versions."""
