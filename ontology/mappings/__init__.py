"""EAD 2002 / EAC-CPF ↔ RiC-O mappings, kept as data (``ead2002.yaml``, ``eac-cpf.yaml``).

The importers and the exporter read the same tables, so a mapping changes in one place and
both directions follow. ``load`` parses a table once.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

HERE = Path(__file__).parent


@cache
def load(name: str) -> dict:
    """The mapping table ``name`` (``ead2002`` or ``eac-cpf``) as plain dicts and lists."""
    with (HERE / f"{name}.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)
