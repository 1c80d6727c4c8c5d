"""SPARQL at the engine's speed (issue 15, item 2).

Owned by the `sparql` part of issue 15. Agreed interface: ``engine_for_serving(home,
settings)`` — a context manager that ``publisher.server.serve`` enters before its workers
start and leaves after they stop (whatever the engine needs on the machine: a Rust
``oxigraph serve-read-only`` process, nothing at all, …).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def engine_for_serving(home: Path, settings: Any) -> Iterator[None]:
    yield
