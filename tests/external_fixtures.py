"""The engines the tests of the mirror write to: ``tests/engine_support.py``'s (part
`engines`), by name; an engine that part has not landed yet is skipped (and fails under CI,
as any missing engine does).

``NAMES`` the engines (pytest parameters); ``running(name, tmp, port=None)`` the context
manager yielding an ``engine_support.Engine`` (a port given: a restart of the same engine,
its files in ``tmp`` — kept by the one before with ``keep=True`` — on the port it had).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import engine_support
import pytest

NAMES = engine_support.ENGINES


@contextlib.contextmanager
def running(name: str, tmp: Path, port: int | None = None, *, keep: bool = False
            ) -> Iterator[engine_support.Engine]:
    try:
        manager = engine_support.start_engine(name, tmp, port=port, keep=keep)
        engine = manager.__enter__()
    except engine_support.EngineStartError as exc:
        if "not there yet" in str(exc) and not os.environ.get("CI"):
            pytest.skip(str(exc))
        raise
    try:
        yield engine
    except BaseException as exc:
        if not manager.__exit__(type(exc), exc, exc.__traceback__):
            raise
    else:
        manager.__exit__(None, None, None)


def port_of(engine: engine_support.Engine) -> int:
    from urllib.parse import urlsplit

    port = urlsplit(engine.query_url).port
    assert port is not None
    return port
