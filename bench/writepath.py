"""How fast can a batch of quads the repository holds in Python reach an on-disk store?

    python -m bench.writepath FILE.nq [--chunk 80000]

``Repository._ingest_batch`` formats every quad as N-Quads text in Python (``quad_nq``), joins
the lines and hands the text to ``Store.bulk_load``, which parses it again. This compares that
with the alternatives pyoxigraph offers, each into a fresh on-disk store, on the quads of FILE
(for example the ``descriptions.nq`` a ``bench.ingest --keep`` run leaves), written in chunks
of ``--chunk`` quads as the ingest writes one batch at a time:

- ``text``: ``quad_nq`` + ``"\\n".join`` + ``bulk_load(input=bytes)`` (what the repository does)
- ``serialize``: ``pyoxigraph.serialize(quads, format=N_QUADS)`` (in Rust) + ``bulk_load``
- ``bulk_extend``: ``Store.bulk_extend(quads)``, no text at all
- ``extend``: ``Store.extend(quads)``, one transaction per chunk
- ``path``: one ``bulk_load(path=FILE)`` of the whole file (the benchmark's anchor)
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from pyoxigraph import DefaultGraph, RdfFormat, Store, parse, serialize


def quad_nq(q) -> str:  # as repo/store.py has it
    g = "" if isinstance(q.graph_name, DefaultGraph) else f" {q.graph_name}"
    return f"{q.subject} {q.predicate} {q.object}{g} ."


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.writepath", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, help="an N-Quads file")
    p.add_argument("--chunk", type=int, default=80_000, help="quads per write (default 80000)")
    a = p.parse_args()
    quads = list(parse(path=str(a.file), format=RdfFormat.N_QUADS))
    chunks = [quads[i:i + a.chunk] for i in range(0, len(quads), a.chunk)]
    print(f"{len(quads):,} quads in {len(chunks)} chunks")

    def text(store: Store, chunk: list) -> None:
        store.bulk_load(input="\n".join(quad_nq(q) for q in chunk).encode(),
                        format=RdfFormat.N_QUADS)

    def rust_serialize(store: Store, chunk: list) -> None:
        store.bulk_load(input=serialize(chunk, format=RdfFormat.N_QUADS),
                        format=RdfFormat.N_QUADS)

    ways = {"text": text, "serialize": rust_serialize,
            "bulk_extend": lambda s, c: s.bulk_extend(c), "extend": lambda s, c: s.extend(c)}
    tmp = Path(tempfile.mkdtemp(prefix="lantai-writepath-"))
    try:
        for name, write in ways.items():
            store = Store(str(tmp / name))
            t = time.perf_counter()
            for chunk in chunks:
                write(store, chunk)
            store.flush()
            dt = time.perf_counter() - t
            assert len(store) == len(quads)
            print(f"{name:12} {dt:7.2f} s  {len(quads) / dt:10,.0f} quads/s")
            del store
        store = Store(str(tmp / "path"))
        t = time.perf_counter()
        store.bulk_load(path=str(a.file), format=RdfFormat.N_QUADS)
        store.flush()
        dt = time.perf_counter() - t
        print(f"{'path':12} {dt:7.2f} s  {len(quads) / dt:10,.0f} quads/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
