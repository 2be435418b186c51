"""Smoke test of benches/bench_reanalyze.py: it runs and writes its JSON (no timing is asserted)."""

from __future__ import annotations

from conftest import RunBench


def test_quick_run_writes_the_documented_json(run_bench: RunBench) -> None:
    _, report = run_bench("bench_reanalyze.py", "--quick")
    assert report["benchmark"] == "reanalyze" and report["quick"] is True
    searched = [r["positions_searched"] for r in report["results"]]
    # values only searches nothing; the fractions search about f of the 1,536 positions
    assert searched[0] == 0 and 0 < searched[1] < searched[2] < searched[3] <= 256 * 6
    assert all(r["median_ms"] > 0 for r in report["results"])
