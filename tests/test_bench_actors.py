"""Smoke test of benches/bench_actors.py in-process (no Ray): it runs, prints its table
and writes its JSON (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benches" / "bench_actors.py"


def test_an_in_process_run_writes_the_documented_json(tmp_path: Path) -> None:
    out = tmp_path / "actors.json"
    command = [sys.executable, str(BENCH), "--actors", "0", "--seconds", "20", "--repeats", "1"]
    result = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "| actors | env steps/s | learner steps/s |" in result.stdout
    report = json.loads(out.read_text())
    (row,) = report["rows"]
    assert row["actors"] == 0 and row["repeats"] == 1
    assert row["env_steps_per_s"] > 0 and row["train_steps_per_s"] > 0
    # in-process learning keeps train.train_ratio (0.25) from the first learner step on
    assert 0.1 < row["train_steps_per_env_step"] <= 0.25
