"""Smoke test of benches/bench_learner.py: it runs and writes its JSON (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benches" / "bench_learner.py"


def test_quick_run_writes_the_documented_json(tmp_path: Path) -> None:
    out = tmp_path / "learner.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--preset", "tictactoe", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["benchmark"] == "learner" and report["quick"] is True
    assert report["preset"] == "tictactoe" and report["batch_size"] == 256
    rows = {row["learner_dtype"]: row for row in report["rows"]}
    assert set(rows) == {"float32", "bfloat16"}
    assert rows["float32"]["ratio_to_float32"] == 1.0
    assert all(row["steps_per_second"] > 0 and len(row["repeats"]) == 1 for row in rows.values())
