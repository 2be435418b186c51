"""benches/bench_learner.py times learner steps that were taken (no timing is asserted)."""

from __future__ import annotations

from conftest import RunBench


def test_quick_run_writes_the_documented_json(run_bench: RunBench) -> None:
    args = ["--quick", "--preset", "tictactoe", "--dtypes", "float32", "bfloat16"]
    _, report = run_bench("bench_learner.py", *args, "--learner-steps", "eager")
    assert report["benchmark"] == "learner" and report["quick"] is True
    assert report["preset"] == "tictactoe" and report["batch_size"] == 256
    assert report["machine"]["cpu"]
    rows = {(row["learner_dtype"], row["learner_step"]): row for row in report["rows"]}
    assert set(rows) == {("float32", "eager"), ("bfloat16", "eager")}
    assert rows["float32", "eager"]["ratio_to_first"] == 1.0
    assert all(row["steps_per_second"] > 0 and len(row["repeats"]) == 1 for row in rows.values())
    assert all(row["first_step_s"] > 0 for row in rows.values())
    # the timed steps were learner steps taken: the first (compiling) one, then per
    # repeat one warm-up and the --quick 2 timed steps
    assert all(row["learner_steps"] == 1 + 1 * (1 + 2) for row in rows.values())
