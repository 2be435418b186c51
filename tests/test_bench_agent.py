"""benches/bench_agent.py times whole searches, the same moves in every inference mode
(no timing is asserted)."""

from __future__ import annotations

from conftest import RunBench


def test_quick_run_writes_the_documented_json(run_bench: RunBench) -> None:
    stdout, report = run_bench("bench_agent.py", "--quick", "--modes", "trace", "eager")
    assert "ms/move" in stdout
    assert report["benchmark"] == "agent" and report["quick"] is True
    assert report["preset"] == "cartpole" and report["simulations"] == 50
    assert [row["inference"] for row in report["rows"]] == ["trace", "eager"]
    for row in report["rows"]:
        assert len(row["repeats"]) == 1 and row["ms_per_move"] == row["repeats"][0] > 0
        assert row["first_move_s"] > 0
        # every timed move was a whole search of the reported size
        assert row["root_visits"] == [report["simulations"]] and len(row["actions"]) == 5
    # the modes time the same work: the traced and the eager network pick the same moves
    trace, eager = report["rows"]
    assert trace["actions"] == eager["actions"]
