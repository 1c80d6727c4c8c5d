"""The demo requests (issue 12, item 9, and the contract): ``lantai demo`` — the real
executable — makes a handful of requests in every state, among them a fulfilled one with an
issued certified copy; ``lantai requests list --json`` lists them without personal data;
``lantai requests copy`` writes the PDF and ``lantai signing ca`` the certificates that
validate it (pyHanko's CLI, the validator a relying party would run).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import free_port, require, run_lantai

from repo.demo import ARCHIVE_YAML
from services.requests.demo import DEMO_REQUESTS, TRANSCRIPT, request_canaries
from services.requests.model import CHANNELS, STATES
from services.requests.store import RequestStore

pytestmark = pytest.mark.slow
# the pyHanko CLI installed beside this interpreter (the project's environment), else on PATH
PYHANKO = (shutil.which("pyhanko", path=str(Path(sys.executable).parent))
           or shutil.which("pyhanko"))


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("requests-demo") / "site"
    run_lantai(home, "init", "--base", f"http://127.0.0.1:{free_port()}")
    made = run_lantai(home, "demo", timeout=300)
    assert f"{len(DEMO_REQUESTS)} demo request(s) made" in made.stdout
    return home


def listed(home: Path) -> tuple[list[dict], str]:
    proc = run_lantai(home, "requests", "list", "--json")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()], proc.stdout


def test_the_demo_has_a_request_in_every_state(demo_home: Path):
    rows, text = listed(demo_home)
    assert len(rows) == len(DEMO_REQUESTS)
    assert {r["status"] for r in rows} == set(STATES)
    assert {r["channel"] for r in rows} == set(CHANNELS)
    store = RequestStore.open(demo_home)
    assert {r["workroom"] for r in rows} == set(store.settings.requests_workrooms)
    for row in rows:
        assert {"id", "status", "type", "workroom"} <= row.keys()
        assert store.get(row["id"]).kind == row["type"]
    leaked = [c for c in request_canaries() if c in text]
    assert not leaked, f"personal values in `requests list --json`: {leaked}"


def test_loading_the_demo_again_makes_no_request(demo_home: Path):
    again = run_lantai(demo_home, "demo", timeout=300)
    assert "0 demo request(s) made" in again.stdout
    assert len(listed(demo_home)[0]) == len(DEMO_REQUESTS)


def test_the_urgent_request_is_overdue_and_the_posted_one_has_its_tracking(demo_home: Path):
    store = RequestStore.open(demo_home)
    overdue, _ = store.query(overdue=True)
    assert [r.urgent for r in overdue] == [True]
    (closed,), _ = store.query(status="closed")
    assert closed.delivery == "post"
    assert [d.tracking for d in store.dispatches(closed.id)] == ["EA100000005CN"]
    assert "CANARY-REQ-ADDR-0005" in store.get(closed.id, unseal=True).personal.address


def test_the_fulfilled_request_is_the_graduates_transcript(demo_home: Path):
    store = RequestStore.open(demo_home)
    (req,), _ = store.query(status="fulfilled")
    req = store.get(req.id, unseal=True)
    assert req.personal.name == "赵思远"
    assert req.person.endswith("/id/agent/zhao-siyuan")
    assert [s.record.rsplit("/", 1)[-1] for s in req.selections] == [TRANSCRIPT.rsplit("/")[-1]]
    copies = store.copies_of(req.id)
    assert [c.language for c in copies] == ["en"]
    assert all(c.records and c.records[0]["refcode"] == "0421-XS·2021-Y-0001" for c in copies)
    steps = [e.action for e in store.history(req.id)]
    for step in ("created", "submitted", "transferred", "assigned", "in_progress", "matched",
                 "selected", "issued", "fulfilled"):
        assert step in steps, (step, steps)


def test_no_requesters_value_in_clear_anywhere_in_the_site(demo_home: Path):
    """Sealed in the request store, and nowhere else: not in the stores, catalog, files.
    (But for what the archive itself describes: 赵思远 and her student number are in her
    records, which are closed, not public.)"""
    described = ARCHIVE_YAML.read_text(encoding="utf-8")
    planted = [c.encode("utf-8") for c in request_canaries() if c not in described]
    assert len(planted) >= 6 * 5
    found = []
    for path in demo_home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [(str(path.relative_to(demo_home)), c) for c in planted if c in data]
    assert not found, found


def test_the_issued_copy_is_written_and_validates(demo_home: Path, tmp_path: Path):
    require(PYHANKO, "the pyHanko CLI is not installed (pip install pyhanko-cli)")
    (req,), _ = RequestStore.open(demo_home).query(status="fulfilled")
    pdf, ca = tmp_path / "copy.pdf", tmp_path / "ca.pem"
    run_lantai(demo_home, "requests", "copy", req.id, "-o", str(pdf))
    run_lantai(demo_home, "signing", "ca", "-o", str(ca))
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert b"-----BEGIN CERTIFICATE-----" in ca.read_bytes()
    check = subprocess.run([str(PYHANKO), "sign", "validate", "--pretty-print",
                            "--trust", str(ca), "--trust-replace", str(pdf)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    for said in ("The signer's certificate is trusted.", "The signature covers the entire file.",
                 "The signature is judged VALID."):
        assert said in check.stdout, (said, check.stdout)
    missing = run_lantai(demo_home, "requests", "copy", "CD2026-AAAA-BBBB-CCCC-DDDD", "-o",
                         str(tmp_path / "none.pdf"), check=False)
    assert missing.returncode != 0 and not (tmp_path / "none.pdf").exists()
