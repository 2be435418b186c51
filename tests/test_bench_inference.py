"""benches/bench_inference.py times a traced step that computes what the plain network
computes (no timing is asserted)."""

from __future__ import annotations

from conftest import RunBench


def test_quick_run_writes_the_documented_json(run_bench: RunBench) -> None:
    stdout, report = run_bench("bench_inference.py", "--quick")
    assert "2 threads / 1" in stdout
    assert report["benchmark"] == "inference" and report["quick"] is True
    [row] = report["results"]
    assert row["inference"] == "trace" and row["games"] == 8
    assert len(row["ms_per_call"]) == len(row["two_thread_ratio"]) == 2
    assert row["ms_per_call_median"] > 0 and row["two_thread_ratio_median"] > 0
    # the traced step it times computes what the plain network computes
    assert row["max_abs_diff_to_eager"] < 1e-5
