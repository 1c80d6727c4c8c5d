"""The serving benchmarks run, for a second, on the demo archive, so that they cannot rot:
``bench.publisher`` (every SPARQL query class against ``oxigraph serve-read-only``, cold
starts) and ``bench.mixed`` (the mixed load against today's server: here the code of HEAD,
exported as the benchmark exports any commit). Real servers, real client processes; the
figures are not judged (a loaded machine), their presence and the answers are."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import PROJECT, require

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmarks' out folder: both build (once) and keep the demo site there."""
    return tmp_path_factory.mktemp("bench-out")


def run_bench(module: str, out: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", module, "--scale", "0", "--out", str(out),
                           *args], cwd=PROJECT, capture_output=True, text=True, timeout=800)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    name = module.rsplit(".", 1)[-1]
    written = sorted(out.glob(f"{name}-*.json"))
    assert written, proc.stdout
    return json.loads(written[-1].read_text())


@pytest.mark.timeout(900)
def test_the_publisher_bench_measures_every_query_class_on_both_servers(out):
    from bench.publisher import CLASSES

    require(shutil.which("oxigraph", path=str(Path(sys.executable).parent)),
            "the oxigraph CLI (PyPI oxigraph, the test extra)")
    result = run_bench("bench.publisher", out, "--duration", "0.5", "--rounds", "1",
                       "--cold", "1", "--clients", "1", "--clients", "2")
    assert {(r["class"], r["clients"]) for r in result["rows"]} == {
        (c[0], n) for c in CLASSES for n in (1, 2)}
    for row in result["rows"]:
        assert row["ours"]["requests"] > 0 and row["anchor"]["requests"] > 0, row
        assert row["ours"]["cpu_ms_per_query"] and row["anchor"]["cpu_ms_per_query"], row
        # the same question gets the same answer from both (rows or triples)
        assert row["answers"]["ours"] == row["answers"]["anchor"], row
    for side in ("ours", "anchor"):
        assert result["cold_start"][side]["first_answer_s"] > 0
        assert result["memory"][side]["after_load"]["rss_mb"] > 0
    assert not list(out.glob("work-publisher"))  # its scratch space goes


@pytest.mark.timeout(900)
def test_the_mixed_bench_sends_every_kind_to_both_servers(out):
    from bench.mixed import WEIGHTS

    result = run_bench("bench.mixed", out, "--clients", "3", "--duration", "2",
                       "--rounds", "1", "--today", "HEAD")
    for side in ("ours", "anchor"):
        assert all(result[side]["sent"][kind] for kind in WEIGHTS), result[side]
        assert result[side]["rps"] > 0 and result[side]["cores"] > 0
        assert result["memory_after_load"][side]["processes"] >= 1
    assert "HEAD" in result["today"]
