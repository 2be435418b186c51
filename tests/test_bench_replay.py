"""Smoke test of benches/bench_replay.py: it runs and writes its JSON (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benches" / "bench_replay.py"


def test_quick_run_writes_the_documented_json(tmp_path: Path) -> None:
    out = tmp_path / "replay.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "sample med ms" in result.stdout
    report = json.loads(out.read_text())
    assert report["benchmark"] == "replay" and report["quick"] is True
    names = [r["scenario"]["name"] for r in report["results"]]
    assert names == [
        "cartpole_prioritized",
        "cartpole_uniform",
        "cartpole_prioritized_td50",
        "frames_4x96x96_prioritized",
    ]
    for r in report["results"]:
        assert r["batch_size"] == 256 and r["unroll_steps"] == 5
        assert r["stored_transitions"] > 0 and r["nbytes"] > 0
        assert r["add_game"]["transitions_per_s"] > 0
        assert r["sample_reanalysis"]["median_ms"] > 0 and r["update_values"]["values"] > 0
        assert 0 < r["sample"]["median_ms"] <= r["sample"]["p90_ms"]
        assert r["update_priorities"]["median_ms"] > 0
    frames = report["results"][3]
    assert frames["observation_shape"] == [256, 4, 96, 96]
    assert report["results"][0]["observation_shape"] == [256, 1, 4]
