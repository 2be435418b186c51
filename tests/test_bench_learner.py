"""Smoke test of benches/bench_learner.py: it runs and writes its JSON (no timing is asserted)."""

from __future__ import annotations

from conftest import RunBench


def test_quick_run_writes_the_documented_json(run_bench: RunBench) -> None:
    _, report = run_bench("bench_learner.py", "--quick", "--preset", "tictactoe")
    assert report["benchmark"] == "learner" and report["quick"] is True
    assert report["preset"] == "tictactoe" and report["batch_size"] == 256
    rows = {row["learner_dtype"]: row for row in report["rows"]}
    assert set(rows) == {"float32", "bfloat16"}
    assert rows["float32"]["ratio_to_float32"] == 1.0
    assert all(row["steps_per_second"] > 0 and len(row["repeats"]) == 1 for row in rows.values())
