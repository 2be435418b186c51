"""benches/bench_replay.py: it fills each buffer to capacity, stores each frame once, and
writes its JSON (no timing is asserted)."""

from __future__ import annotations

import math

from conftest import RunBench


def test_quick_run_writes_the_documented_json(run_bench: RunBench) -> None:
    stdout, report = run_bench("bench_replay.py", "--quick")
    assert "sample med ms" in stdout
    assert report["benchmark"] == "replay" and report["quick"] is True
    names = [r["scenario"]["name"] for r in report["results"]]
    assert names == [
        "cartpole_prioritized",
        "cartpole_uniform",
        "cartpole_prioritized_td50",
        "frames_4x96x96_prioritized",
        "frames_4x84x84_uniform",
    ]
    for r in report["results"]:
        assert r["batch_size"] == 256 and r["unroll_steps"] == 5
        scenario = r["scenario"]
        # filled to capacity with whole games
        assert r["stored_transitions"] == scenario["capacity"]
        # each frame stored once, not once per stack it appears in: the bytes per stored
        # transition are one frame's and little more (issue 33's bound, 1.1 x + 128)
        frame = math.prod(scenario["obs_shape"]) * (1 if scenario["dtype"] == "uint8" else 4)
        per_transition = r["bytes_per_transition"]
        assert per_transition == r["nbytes"] / r["stored_transitions"]
        assert frame <= per_transition <= 1.1 * frame + 128, (scenario["name"], per_transition)
        assert r["add_game"]["transitions_per_s"] > 0
        assert r["sample_reanalysis"]["median_ms"] > 0 and r["update_values"]["values"] > 0
        assert 0 < r["sample"]["median_ms"] <= r["sample"]["p90_ms"]
        assert r["update_priorities"]["median_ms"] > 0
    frames = report["results"][3]
    assert frames["observation_shape"] == [256, 4, 96, 96]
    assert report["results"][4]["observation_shape"] == [256, 4, 84, 84]
    assert report["results"][0]["observation_shape"] == [256, 1, 4]
