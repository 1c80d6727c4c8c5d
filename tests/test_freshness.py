"""Freshness of the publication without directory scans (issue 15, item 1).

The public dataset is keyed on the publication generation alone, read once per request; the
writer flushes the publication store *before* it bumps the generation (``repo.store.announce``),
so a reader that opens after it read a generation sees everything that generation announced.
Real stores, a real writer in another process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from pyoxigraph import Store
from support import FILE, FONDS, Site, lantai_env

from publisher.app import create_app
from publisher.dataset import PublicDataset
from repo.store import read_generation


def published(site: Site) -> str:
    """Publish the tree; the path of the file's record page."""
    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    return urlsplit(site.iris[FILE]).path


def test_a_record_page_reads_the_generation_once_and_scans_no_store(site, monkeypatch):
    """Two to four reads of the store per record page used to cost two to four directory
    scans of the store's folder (29 % of the web process): now one read of the generation
    file per request, no scan, and no reopen while nothing changed."""
    page = published(site)
    site.close()
    app = create_app(site.home)
    dataset: PublicDataset = app.extensions["lantai.dataset"]
    client = app.test_client()
    assert client.get(page).status_code == 200  # warm: the store opened once
    scanned: list[str] = []
    real_scandir, real_listdir = os.scandir, os.listdir

    def scandir(path=".", *args, **kw):
        scanned.append(str(path))
        return real_scandir(path, *args, **kw)

    def listdir(path=".", *args, **kw):
        scanned.append(str(path))
        return real_listdir(path, *args, **kw)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
    opens, reads = dataset.opens, dataset.generation_reads
    for _ in range(3):
        r = client.get(page, headers={"Accept": "text/html"})
        assert r.status_code == 200 and b"register" in r.data.lower()
    stores = [p for p in scanned if Path(p).resolve().is_relative_to(site.home.resolve())]
    assert not stores, f"a record page looked into the site's folders: {stores}"
    assert dataset.opens == opens  # nothing changed: the snapshot is kept
    assert dataset.generation_reads - reads == 3  # once per request, not per use


def test_every_request_sees_the_generation_of_its_start(site):
    """A change announced while a request runs is seen by the next request, not half-way
    through this one (a page reads one snapshot)."""
    page = published(site)
    app = create_app(site.home)
    dataset: PublicDataset = app.extensions["lantai.dataset"]
    with app.test_request_context(page):
        before = dataset.generation()
        site.repo.set_access(site.admin, FILE, "restricted")
        assert dataset.generation() == before  # the same request: the same generation
    assert dataset.generation() == read_generation(site.home) != before
    site.close()
    assert app.test_client().get(page).status_code in (404, 410)  # the next request: gone


CHURN = """
import sys
from pathlib import Path
from repo.handles import WriteHandle
from repo.store import announce
home = Path(sys.argv[1])
for i in range(int(sys.argv[2])):
    with WriteHandle(home / "publication") as handle:
        handle.store.update(
            f'INSERT DATA {{ GRAPH <http://g/{i}> {{ <http://x/{i}> <http://p> "{i}" }} }}')
        announce(handle.store, home, str(i + 1))
"""


def test_a_reader_never_sees_less_than_the_generation_it_read(tmp_path):
    """The race that once forced a scan per use: a reader that read generation *n* and then
    opened the store must see the *n* writes announced, while the writer (another process)
    keeps writing, flushing and closing (which compacts). A writer that announces before it
    writes fails this at once; one that announces before it flushes, only now and then (a
    reader must open between the flush's manifest edit and its log deletion: none did in
    80 writes here, but that race is why the scans were there)."""
    home = tmp_path / "home"
    home.mkdir()
    Store(str(home / "publication"))  # created; let go at once
    n = 80
    writer = subprocess.Popen([sys.executable, "-c", CHURN, str(home), str(n)],
                              env=lantai_env(PYTHONPATH=str(Path(__file__).parents[1])))
    dataset = PublicDataset(home)
    behind: list[tuple[int, int]] = []
    reads = 0
    try:
        while writer.poll() is None:
            announced = int(read_generation(home) or 0)
            seen = dataset.read(lambda store: sum(1 for _ in store.named_graphs()))
            reads += 1
            if seen < announced:
                behind.append((announced, seen))
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0
    assert reads > 10 and not behind, f"{len(behind)} of {reads} reads were stale: {behind[:5]}"
    assert dataset.read(lambda store: sum(1 for _ in store.named_graphs())) == n


READER = """
import sys, time
from pathlib import Path
from publisher.dataset import PublicDataset
dataset = PublicDataset(Path(sys.argv[1]))
reads = errors = 0
end = time.monotonic() + float(sys.argv[2])
query = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
while time.monotonic() < end:
    try:
        dataset.read(lambda store: list(store.query(query)))
        reads += 1
    except Exception as exc:
        errors += 1
        print("error:", str(exc)[:200], flush=True)
print(reads, errors, dataset.opens, flush=True)
"""


def test_readers_in_another_process_keep_working_while_the_store_is_compacted(site):
    """``Store.optimize`` rewrites the publication store's table files under the web
    workers' read-only snapshots: a read that meets a removed file is served again on a fresh
    snapshot, and the compaction's new generation makes readers reopen on the new files."""
    published(site)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(site.home), "12"],
                              stdout=subprocess.PIPE, text=True,
                              env=lantai_env(PYTHONPATH=str(Path(__file__).parents[1])))
    try:
        time.sleep(3)  # the reader has opened the store
        generations = set()
        for n in range(8):  # writes between compactions: there is always something to rewrite
            level = "restricted" if n % 2 == 0 else "open"
            site.repo.set_access(site.admin, FILE, level)
            assert site.repo.optimize_publication() >= 0
            generations.add(read_generation(site.home))
    finally:
        out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0, out
    reads, errors, opens = (int(x) for x in out.strip().splitlines()[-1].split())
    assert errors == 0 and reads > 10, out
    assert len(generations) == 8 and opens > 1  # every compaction was announced, and seen


def test_lantai_publish_optimize(site):
    from support import run_lantai

    published(site)
    site.close()
    done = run_lantai(site.home, "publish", "--optimize")
    assert "compacted" in done.stdout
    refused = run_lantai(site.home, "--user", "editor", "publish", "--optimize", check=False)
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1
    assert run_lantai(site.home, "publish", "--optimize", "x", check=False).returncode == 2
