"""A media ingest killed with SIGKILL leaves no files behind (issue 10, item 13).

The real ``lantai ingest media`` runs in a subprocess and is killed (SIGKILL: no ``except``,
no ``finally``) after it stored the original and made its derivatives and before it wrote
the descriptions (``LANTAI_TEST_INGEST_PAUSE`` holds it there). The next open of the site
removes those files, says so on stderr, and touches nothing a description names; the files
of an ingest that is still running are left alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
from pathlib import Path

from PIL import Image
from support import ITEM, lantai_env, lantai_executable, run_lantai, run_python
from test_media_ingest import state

from repo.files import FileStore
from repo.sweep import MARKERS, IngestMarker


def stored(home: Path, tmp_path: Path, name: str, colour: str) -> tuple[str, Path]:
    png = tmp_path / f"{name}.png"
    Image.new("RGB", (300, 200), colour).save(png)
    store = FileStore.for_site(home)
    digest = store.put(png)
    return digest, store.stored_path(digest)


def test_the_next_open_removes_what_a_killed_ingest_stored(site, tmp_path):
    home = site.home
    kept, kept_path = stored(home, tmp_path, "kept", "white")  # named by a description
    site.repo.create(site.admin, ITEM, "instantiation",
                     {"title": {"en": "Kept"}, "mime": "image/png", "width": "300",
                      "height": "200", "digest": kept}, slug="kept")
    site.close()
    before = state(home)
    scan = tmp_path / "scan.png"
    Image.new("RGB", (320, 240), (120, 80, 150)).save(scan)
    proc = subprocess.Popen(
        [lantai_executable(), "--home", str(home), "ingest", "media", ITEM, str(scan)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env=lantai_env(LANTAI_TEST_INGEST_PAUSE="120"))
    try:
        line = proc.stderr.readline()  # the pause: everything is stored, nothing described
        assert "test pause" in line, line + proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    left = state(home)
    assert left[2] != before[2] and left[3] != before[3], "the ingest stored nothing?"
    assert list((home / MARKERS).glob("*.jsonl"))
    opened = run_lantai(home, "tree")
    assert "removed" in opened.stderr and "interrupted media ingest" in opened.stderr
    assert state(home) == before  # files, derivatives, both stores: as before the ingest
    files = FileStore.for_site(home)  # the kept file went into its record's OCFL object
    assert kept in files and files.verify(kept) and files.stored_path(kept) != kept_path
    assert not list((home / MARKERS).glob("*"))
    again = run_lantai(home, "tree")
    assert "removed" not in again.stderr


def test_a_running_ingest_keeps_its_files_and_a_named_file_is_kept(site, tmp_path):
    """A marker whose ingest is alive (its lock held, here by this process) is not swept;
    a dead one's paths go unless a description names their digest."""
    home = site.home
    named, named_path = stored(home, tmp_path, "named", "white")
    site.repo.create(site.admin, ITEM, "instantiation",
                     {"title": {"en": "Named"}, "mime": "image/png", "width": "300",
                      "height": "200", "digest": named}, slug="named")
    orphan, orphan_path = stored(home, tmp_path, "orphan", "black")
    derived = home / "derivatives" / orphan.removeprefix("sha256:")
    derived.mkdir(parents=True)
    (derived / "thumb.jpg").write_bytes(b"a thumbnail")
    site.close()
    with IngestMarker(home) as live:
        live.will_create(orphan, orphan_path)
        opened = run_lantai(home, "tree")
        assert orphan_path.is_file() and "removed" not in opened.stderr
    # a process that dies after its commit (named) and before it (orphan)
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from repo.sweep import IngestMarker
        m = IngestMarker(Path({str(home)!r}))
        m.will_create({named!r}, Path({str(named_path)!r}))
        m.will_create({orphan!r}, Path({str(orphan_path)!r}), Path({str(derived)!r}))
        os._exit(9)
    """)
    assert run_python(script).returncode == 9
    opened = run_lantai(home, "tree")
    assert not orphan_path.exists() and not derived.exists(), opened.stderr
    files = FileStore.for_site(home)  # the named file went into its record's OCFL object
    assert named in files and files.verify(named) and orphan not in files
    assert orphan not in set(files.digests())  # struck from the index too
    assert "removed 2 file(s)" in opened.stderr, opened.stderr
