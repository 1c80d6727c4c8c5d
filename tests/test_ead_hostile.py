"""Hostile and broken files: one line naming file and line, non-zero exit, nothing written.

XXE, billion laughs, parameter entities, undefined entities, truncated files, files that
are not EAD (or are EAD3), and a file whose component N fails validation after earlier
batches were written: the repository (working store and publication dataset) is byte for
byte what it was before.
"""

from __future__ import annotations

import subprocess
import tracemalloc
from pathlib import Path

import pytest
from support import lantai_executable, read_only_snapshot

from repo import ingest as ingest_module
from repo import repository as repository_module
from repo.errors import Invalid
from repo.importers import ead
from repo.importers.run import import_ead

HOSTILE = Path(__file__).parent / "fixtures" / "ead" / "hostile"
CASES = {
    "xxe.xml": (2, "entities"),
    "billion-laughs.xml": (2, "entities"),
    "parameter-entity.xml": (2, "entities"),
    "undefined-entity.xml": (4, "&eacute;"),
    "truncated.xml": (9, ""),
    "not-ead.xml": (2, "not an EAD 2002 finding aid"),
    "ead3.xml": (2, "EAD3"),
    "garbage.xml": (1, ""),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_files_are_refused_and_nothing_is_written(site, name):
    line, words = CASES[name]
    before = site.snapshot()
    path = HOSTILE / name
    with pytest.raises(Invalid) as err:
        import_ead(site.repo, site.admin, path)
    message = err.value.message
    assert message.startswith(f"{path}:{line}: "), message
    assert words in message and "\n" not in message
    assert site.snapshot() == before


def test_missing_file(site):
    with pytest.raises(Invalid, match="no such file"):
        import_ead(site.repo, site.admin, HOSTILE / "nothing-here.xml")


def test_cli_one_line_error_and_exit_code(site):
    site.close()
    before = read_only_snapshot(site.home)
    run = subprocess.run([lantai_executable(), "import", "ead", str(HOSTILE / "xxe.xml")],
                         capture_output=True, text=True, timeout=120,
                         env={"LANTAI_HOME": str(site.home), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 5
    errors = [ln for ln in run.stderr.splitlines() if ln.startswith("lantai: error:")]
    assert errors == [f"lantai: error: {HOSTILE / 'xxe.xml'}:2: the document type declaration "
                      "declares entities; entity expansion is refused (XXE / billion laughs)"]
    assert "root:" not in run.stdout + run.stderr  # /etc/passwd was never read
    assert read_only_snapshot(site.home) == before


def _many(path: Path, n: int, bad: int | None = None) -> Path:
    """A finding aid with n items; item number ``bad`` is marked for the failing check."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<ead><eadheader><eadid>MANY</eadid>'
             '</eadheader><archdesc level="fonds"><did><unittitle>Many</unittitle></did><dsc>']
    for i in range(n):
        title = "BOOM" if i == bad else f"Item {i}"
        parts.append(f'<c level="item"><did><unittitle>{title}</unittitle>'
                     f'<unitdate normal="1950">1950</unitdate></did></c>\n')
    parts.append("</dsc></archdesc></ead>\n")
    path.write_text("".join(parts), encoding="utf-8")
    return path


def test_a_failing_component_rolls_back_every_batch(site, tmp_path, monkeypatch):
    """Component 25 of 30 fails validation after two batches of 10 were written."""
    path = _many(tmp_path / "many.xml", 30, bad=25)
    real = repository_module.validate

    def validate(obj, class_of, *, vocab_base):
        if any(getattr(q.object, "value", "") == "BOOM" for q in obj.description):
            raise Invalid(f"{obj.path}: title is BOOM")
        return real(obj, class_of, vocab_base=vocab_base)

    monkeypatch.setattr(repository_module, "validate", validate)
    monkeypatch.setattr(ingest_module, "validate", validate)  # the bulk path checks there
    before = site.snapshot()
    with pytest.raises(Invalid) as err:
        import_ead(site.repo, site.admin, path, batch_size=10)
    message = err.value.message
    del err  # its traceback holds the repository (and so the store's lock)
    assert message.startswith(f"{path}:")
    line = int(message.split(":")[1])
    assert "BOOM" in path.read_text().splitlines()[line - 1]  # the line of component 25
    assert site.snapshot() == before
    site.reopen()  # and nothing comes back after a restart (no journal left behind)
    assert site.snapshot() == before
    monkeypatch.setattr(repository_module, "validate", real)
    monkeypatch.setattr(ingest_module, "validate", real)
    report = import_ead(site.repo, site.admin, path, batch_size=10)
    assert report.components == 31


def test_reading_is_streamed_in_bounded_memory(tmp_path):
    """12,000 components (~1.5 MB): the reader's peak allocation stays far below the file's
    parsed size (a whole lxml tree of it takes tens of MB)."""
    path = _many(tmp_path / "big.xml", 12000)
    tracemalloc.start()
    found = ead.scan(path)
    n = sum(1 for r in ead.read(path, found.late) if isinstance(r, ead.Component))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == found.components == 12001
    assert peak < 8 * 1024 * 1024, peak
