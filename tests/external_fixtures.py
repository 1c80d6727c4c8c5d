"""The engines the tests of the mirror write to: ``tests/engine_support.py``'s (part
`engines`) when it has them, else an ``oxigraph serve`` started here (the same interface).

``engine_params()`` gives the pytest parameters (each engine a name); ``running(name, tmp)``
the context manager yielding an ``engine_support.Engine``-like object with ``query_url``,
``update_url``, ``gsp_url``, ``user``, ``password`` and ``settings()``.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import engine_support
import requests
from support import free_port, require

HAS_SUPPORT = hasattr(engine_support, "start_engine")
NAMES = tuple(getattr(engine_support, "ENGINES", ("oxigraph",))) if HAS_SUPPORT \
    else ("oxigraph",)


@dataclass(frozen=True)
class LocalEngine:
    name: str
    query_url: str
    update_url: str
    gsp_url: str
    user: str = ""
    password: str = ""

    def settings(self) -> dict:
        return {"publication_endpoint": self.query_url,
                "publication_update_endpoint": self.update_url,
                "publication_gsp_endpoint": self.gsp_url,
                "publication_engine_user": self.user}


@contextlib.contextmanager
def local_oxigraph(tmp: Path, port: int | None = None) -> Iterator[LocalEngine]:
    """``oxigraph serve`` on a free port (or ``port``: a restart on the same one), stopped
    whatever happens."""
    binary = Path(sys.executable).parent / "oxigraph"
    require(binary.exists(), "the oxigraph CLI (PyPI oxigraph) is not installed")
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    (tmp / "oxigraph").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([str(binary), "serve", "--location", str(tmp / "oxigraph"),
                             "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/query", params={"query": "ASK {}"}, timeout=2)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("oxigraph serve did not start: "
                                       + (proc.stderr.read() if proc.stderr else b"")
                                       .decode("utf-8", "replace")[:500]) from None
                time.sleep(0.05)
        yield LocalEngine("oxigraph", base + "/query", base + "/update", base + "/store")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def running(name: str, tmp: Path):
    if HAS_SUPPORT:
        return engine_support.start_engine(name, tmp)
    return local_oxigraph(tmp)
