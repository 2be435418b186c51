"""Smoke test of benches/bench_actors.py in-process (no Ray): it runs, prints its table
and writes its JSON (no timing is asserted)."""

from __future__ import annotations

from conftest import RunBench


def test_an_in_process_run_writes_the_documented_json(run_bench: RunBench) -> None:
    stdout, report = run_bench(
        "bench_actors.py",
        *("--actors", "0", "--seconds", "10", "--repeats", "1"),
        *("--learner-step", "eager"),  # 10 s: no time to compile the learner
    )
    assert "| actors | env steps/s | learner steps/s |" in stdout
    (row,) = report["rows"]
    assert row["actors"] == 0 and row["repeats"] == 1
    assert row["env_steps_per_s"] > 0 and row["train_steps_per_s"] > 0
    # in-process learning keeps train.train_ratio (0.25) from the first learner step on:
    # over the timed window, which starts there, whatever the machine's load (the whole
    # run's ratio also counts the min_replay warm-up, a larger share on a loaded machine)
    assert 0.2 < row["train_steps_per_s"] / row["env_steps_per_s"] < 0.3
    assert 0 < row["train_steps_per_env_step"] <= 0.25
