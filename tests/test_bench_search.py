"""The search benchmark times whole searches of the size it reports (timings are not
asserted: speed is read from its JSON, not from tests)."""

from __future__ import annotations

import pytest

from conftest import RunBench


def test_bench_search_times_whole_batched_searches(run_bench: RunBench) -> None:
    _, report = run_bench("bench_search.py", "--quick")
    assert report["benchmark"] == "search" and report["quick"] is True
    rows = report["results"]
    assert {(r["algorithm"], r["callback"]) for r in rows} == {
        (a, c) for a in ("muzero", "gumbel") for c in ("constant", "mlp")
    } | {("stochastic", "tabular")}  # --quick: chance trees without the mctx row
    (chance,) = [r for r in rows if r["algorithm"] == "stochastic"]
    assert chance["num_chance_outcomes"] == 6 and chance["num_simulations"] == 50
    for r in rows:
        if r["algorithm"] != "stochastic":
            # a timed search made one batched model call per simulation and gave every
            # root all its simulations: the rate counts work that was done
            sims = r["num_simulations"]
            assert r["callback_calls"] == sims and r["root_visits"] == [sims, sims], r
        assert r["median_sims_per_s"] * r["median_seconds"] == (
            pytest.approx(r["batch"] * r["num_simulations"])
        )
        assert 0.0 <= r["median_callback_share"] <= 1.0 and r["repeats"] >= 2
