"""``lantai filing submit UNIT FILE`` (issue 13's contract): answers per row; a file with any
refused row exits non-zero with a one-line reason and leaves nothing in the receiving area.
Run as a user runs it: the real executable in a subprocess."""

from __future__ import annotations

import json

import pytest
from intake_support import (
    filing_site,
    good_rows,
    make_bag,
    receiving_files,
    write_files,
    write_xlsx,
)
from support import run_lantai

from services.filing.store import FilingStore


@pytest.fixture
def home(site):
    f = filing_site(site)
    f.store.close()
    site.close()  # the command opens the repository itself
    return site.home, f.jx


def test_a_good_spreadsheet_is_filed(home, tmp_path):
    home, jx = home
    write_files(tmp_path, ["r1.pdf", "r2.pdf", "r3.pdf"])
    sheet = write_xlsx(tmp_path / "items.xlsx", good_rows(3))
    proc = run_lantai(home, "filing", "submit", "energy", str(sheet), "--task", str(jx),
                      user="officer")
    lines = proc.stdout.splitlines()
    assert lines[:3] == ["row 1: ok", "row 2: ok", "row 3: ok"]
    assert lines[3].startswith("SUB-2026-") and lines[3].endswith(
        ": 3 item(s) received for energy")
    store = FilingStore.open(home)
    try:
        [sub] = store.submissions(year=2026)
        assert len(sub.items) == 3 and len(receiving_files(store)) == 3
    finally:
        store.close()


def test_a_refused_row_exits_non_zero_and_stores_nothing(home, tmp_path):
    home, jx = home
    write_files(tmp_path, ["r1.pdf", "r2.pdf", "r3.pdf"])
    rows = good_rows(3)
    rows[2][3] = ""  # no teacher
    (tmp_path / "r3.pdf").write_bytes(b"<html><body>not a pdf</body></html>")
    sheet = write_xlsx(tmp_path / "items.xlsx", rows)
    proc = run_lantai(home, "filing", "submit", "energy", str(sheet), "--task", str(jx),
                      user="officer", check=False)
    assert proc.returncode == 5, proc.stderr
    assert proc.stdout.splitlines() == [
        "row 1: ok",
        "row 2: a responsible person (责任者: an agent by path or name) is required for JX",
        "row 3: file r3.pdf: its bytes are .html, not .pdf (a renamed file is not accepted)",
    ]
    assert proc.stderr.splitlines()[-1] == ("lantai: error: 2 of 3 row(s) refused (row 2, "
                                            "3): nothing was filed")
    store = FilingStore.open(home)
    try:
        assert store.submissions(year=2026) == [] and receiving_files(store) == []
    finally:
        store.close()


def test_json_answers_rows_and_submission(home, tmp_path):
    home, jx = home
    bag = make_bag(tmp_path / "bag", good_rows(2), ["r1.pdf", "r2.pdf"])
    proc = run_lantai(home, "filing", "submit", "energy", str(bag), "--task", str(jx),
                      "--json", user="officer")
    answer = json.loads(proc.stdout)
    assert answer["ok"] is True and answer["problems"] == []
    assert answer["rows"] == [{"row": 1, "ok": True, "messages": []},
                              {"row": 2, "ok": True, "messages": []}]
    sub = answer["submission"]
    assert sub["channel"] == "bag" and sub["unit"] == "energy" and sub["task"] == jx
    assert [i["files"][0]["name"] for i in sub["items"]] == ["r1.pdf", "r2.pdf"]
    # a broken bag: one JSON object still, and the exit code
    (bag / "data" / "r1.pdf").write_bytes(b"%PDF-1.4 changed")
    proc = run_lantai(home, "filing", "submit", "energy", str(bag), "--task", str(jx),
                      "--json", user="officer", check=False)
    assert proc.returncode == 5
    answer = json.loads(proc.stdout)
    assert answer["ok"] is False and answer["submission"] is None
    assert "is not valid" in answer["problems"][0]
    assert proc.stderr.startswith("lantai: error: bag bag is not valid")  # no bar with --json
    assert proc.stderr.count("\n") == 1


def test_another_units_officer_is_forbidden(home, tmp_path):
    home, jx = home
    write_files(tmp_path, ["r1.pdf"])
    sheet = write_xlsx(tmp_path / "items.xlsx", good_rows(1))
    proc = run_lantai(home, "filing", "submit", "energy", str(sheet), "--task", str(jx),
                      user="officer2", check=False)
    assert proc.returncode == 4
    assert proc.stderr.strip() == "lantai: error: officer2 does not file for the unit 'energy'"
