"""`lantai backup`, `lantai restore`, `lantai repair` (issue 14; being built)."""

from __future__ import annotations

import click


@click.group(name="backup", invoke_without_command=True)
def backup_cmd() -> None:
    """Send a consistent snapshot of the site to a restic repository."""


@click.command(name="restore")
def restore_cmd() -> None:
    """Restore a snapshot into an empty folder and prove it."""
    raise click.UsageError("not built yet")


@click.command(name="repair")
def repair_cmd() -> None:
    """Restore damaged files from the backup."""
    raise click.UsageError("not built yet")
