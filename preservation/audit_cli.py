"""`lantai audit` (issue 14; being built)."""

from __future__ import annotations

import click


@click.group(name="audit")
def audit_group() -> None:
    """The history's hash chain: verify that no past change was edited or removed."""
