"""``support.require``: a skip that says why on a developer's machine, a failure under CI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support import PROJECT

PROBE = """
from support import require

def test_needs_a_tool():
    require(False, "the frobnicator is not installed")
"""


@pytest.mark.subprocess
@pytest.mark.parametrize(("ci", "outcome"), [("", "1 skipped"), ("1", "1 failed")])
def test_require_skips_locally_and_fails_under_ci(tmp_path, ci, outcome):
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(PROJECT / "tests")}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                        "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert outcome in r.stdout, r.stdout + r.stderr
    assert "the frobnicator is not installed" in r.stdout
