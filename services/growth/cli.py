"""``lantai growth …``: students' growth records from the command line.

Imports only :mod:`repo.cli_support` (like every command module) and this package.
"""

from __future__ import annotations

import click


@click.group("growth")
def growth_group() -> None:
    """Students' growth records (成长档案): show, export as PDF, consent."""
