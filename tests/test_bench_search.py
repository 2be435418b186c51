"""The search benchmark runs and writes its JSON (timings are not asserted)."""

from __future__ import annotations

from conftest import RunBench


def test_bench_search_quick_writes_json(run_bench: RunBench) -> None:
    _, report = run_bench("bench_search.py", "--quick")
    assert report["benchmark"] == "search" and report["quick"] is True
    rows = report["results"]
    assert {(r["algorithm"], r["callback"]) for r in rows} == {
        (a, c) for a in ("muzero", "gumbel") for c in ("constant", "mlp")
    } | {("stochastic", "tabular")}  # --quick: chance trees without the mctx row
    (chance,) = [r for r in rows if r["algorithm"] == "stochastic"]
    assert chance["num_chance_outcomes"] == 6 and chance["num_simulations"] == 50
    for r in rows:
        assert r["median_sims_per_s"] > 0 and r["median_seconds"] > 0
        assert 0.0 <= r["median_callback_share"] <= 1.0
        assert r["repeats"] >= 2
        assert r["batch"] * r["num_simulations"] > 0
