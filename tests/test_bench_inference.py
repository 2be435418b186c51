"""Smoke test of benches/bench_inference.py: it runs and writes its JSON (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benches" / "bench_inference.py"


def test_quick_run_writes_the_documented_json(tmp_path: Path) -> None:
    out = tmp_path / "inference.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "2 threads / 1" in result.stdout
    report = json.loads(out.read_text())
    assert report["benchmark"] == "inference" and report["quick"] is True
    [row] = report["results"]
    assert row["inference"] == "trace" and row["games"] == 8
    assert len(row["ms_per_call"]) == len(row["two_thread_ratio"]) == 2
    assert row["ms_per_call_median"] > 0 and row["two_thread_ratio_median"] > 0
