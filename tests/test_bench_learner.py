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


def test_profile_keeps_the_ops_that_took_the_steps_time(run_bench: RunBench) -> None:
    args = ["--quick", "--preset", "tictactoe", "--learner-steps", "eager", "--profile", "2"]
    _, report = run_bench("bench_learner.py", *args)
    (row,) = report["rows"]
    assert report["profile_steps"] == 2
    # the 2 profiled steps are learner steps too
    assert row["learner_steps"] == 1 + 1 * (1 + 2) + 2
    ops = row["profile"]
    assert 0 < len(ops) <= 12
    shares = [op["share"] for op in ops]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1.0 + 1e-9
    # an MLP's step is matrix products: one of them is among its costliest ops
    assert any(op["op"] in ("aten::addmm", "aten::mm") for op in ops), ops
    assert all(op["self_ms_per_step"] > 0 and op["calls_per_step"] > 0 for op in ops)
