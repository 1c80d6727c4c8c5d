"""Helpers for the tests of the public tier reading an external engine (external/reader.py).

``sync_engine(engine, home)`` makes the engine hold exactly the site's publication, as the
mirror's full sync does (``lantai engine sync --full``: every graph replaced, graphs the site
no longer has dropped, then the generation), through the real client
(:class:`external.protocol.Engine`). ``replica(home, dest, engine)`` makes a replica home
(``lantai engine replica``) reading that engine.
"""

from __future__ import annotations

import os
import tomllib
from contextlib import contextmanager
from pathlib import Path

import tomli_w
from pyoxigraph import Store

from external.protocol import Engine
from external.replica import make_replica
from repo.store import read_generation


def client(engine) -> Engine:
    """Our client of a test engine (tests/engine_support.Engine)."""
    return Engine(engine.query_url, engine.update_url, engine.gsp_url, engine.user,
                  engine.password)


def sync_engine(engine, home: Path, base: str) -> None:
    """The engine holds the publication of the site at ``home``, and its generation."""
    store = Store.read_only(str(Path(home) / "publication"))
    graphs: dict[str, list] = {}
    for q in store:
        graphs.setdefault(q.graph_name.value, []).append(q.triple)
    del store
    c = client(engine)
    try:
        stale = c.graphs(base + "/id/") - set(graphs)
        c.drop_graphs(sorted(stale))
        c.replace_graphs(graphs)
        c.set_generation(read_generation(home))
    finally:
        c.close()


def set_settings(home: Path, **values) -> None:
    path = Path(home) / "lantai.toml"
    data = tomllib.loads(path.read_text("utf-8"))
    data.update(values)
    path.write_text(tomli_w.dumps(data), "utf-8")


def replica(home: Path, dest: Path, engine) -> Path:
    """A replica home of ``home`` at ``dest`` reading ``engine`` (its key file beside it)."""
    set_settings(home, **engine.settings())
    make_replica(home, dest)
    key = Path(str(Path(home).resolve()) + ".key")
    if key.exists():
        Path(str(dest.resolve()) + ".key").write_bytes(key.read_bytes())
        os.chmod(str(dest.resolve()) + ".key", 0o600)
    return dest


@contextmanager
def engine_password(engine):
    """``LANTAI_ENGINE_PASSWORD`` for the length of a block (a reader of an authenticated
    engine in this process)."""
    before = os.environ.get("LANTAI_ENGINE_PASSWORD")
    os.environ.update(engine.env())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LANTAI_ENGINE_PASSWORD", None)
        else:
            os.environ["LANTAI_ENGINE_PASSWORD"] = before
