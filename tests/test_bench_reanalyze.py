"""Smoke test of benches/bench_reanalyze.py: it runs and writes its JSON (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benches" / "bench_reanalyze.py"


def test_quick_run_writes_the_documented_json(tmp_path: Path) -> None:
    out = tmp_path / "reanalyze.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["benchmark"] == "reanalyze" and report["quick"] is True
    searched = [r["positions_searched"] for r in report["results"]]
    # values only searches nothing; the fractions search about f of the 1,536 positions
    assert searched[0] == 0 and 0 < searched[1] < searched[2] < searched[3] <= 256 * 6
    assert all(r["median_ms"] > 0 for r in report["results"])
