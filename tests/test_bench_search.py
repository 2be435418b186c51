"""The search benchmark runs and writes its JSON (timings are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_search_quick_writes_json(tmp_path) -> None:
    out = tmp_path / "search.json"
    subprocess.run(
        [sys.executable, str(ROOT / "benches" / "bench_search.py"), "--quick", "--out", str(out)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    report = json.loads(out.read_text())
    assert report["benchmark"] == "search" and report["quick"] is True
    rows = report["results"]
    assert {(r["algorithm"], r["callback"]) for r in rows} == {
        (a, c) for a in ("muzero", "gumbel") for c in ("constant", "mlp")
    }
    for r in rows:
        assert r["median_sims_per_s"] > 0 and r["median_seconds"] > 0
        assert 0.0 <= r["median_callback_share"] <= 1.0
        assert r["repeats"] >= 2
        assert r["batch"] * r["num_simulations"] > 0
