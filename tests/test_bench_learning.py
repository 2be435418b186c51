"""benches/bench_learning.py (a preset over seeds) and benches/learning_table.py (the
learning tables of the README and of docs/results.md, generated from its JSON)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BENCHES

sys.path.insert(0, str(BENCHES))
import learning_table

README = BENCHES.parent / "README.md"
RESULTS = BENCHES.parent / "docs" / "results.md"


def test_two_seeds_are_trained_scored_and_summarised(tmp_path: Path) -> None:
    tiny = ["--train.num-envs", "8", "--train.min-replay", "100", "--train.batch-size", "16"]
    tiny += ["--search.num-simulations", "4", "--train.eval-interval", "200"]
    tiny += ["--train.eval-episodes", "2", "--train.learner-step", "eager"]
    tiny += ["--network.act-inference", "none"]  # mzero eval: no compiling either
    args = ["cartpole", "--seeds", "3", "4", "--env-steps", "400", "--episodes", "3"]
    args += ["--target", "0", "--pass-score", "1e9", "--runs", str(tmp_path / "runs")]
    args += ["--random-episodes", "20"]
    out = tmp_path / "learning.json"
    command = [sys.executable, str(BENCHES / "bench_learning.py"), *args, "--out", str(out)]
    done = subprocess.run([*command, "--", *tiny], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    stdout, report = done.stdout, json.loads(out.read_text())
    assert report["benchmark"] == "learning" and report["preset"] == "cartpole"
    assert report["stop"] == {"minutes": None, "env_steps": 400} and report["overrides"] == tiny
    assert report["host"]["cpus"] >= 1 and report["host"]["cpu"]
    rows = report["rows"]
    assert [row["seed"] for row in rows] == [3, 4]
    for row in rows:
        assert row["env_steps"] >= 400 and row["train_steps"] > 0
        assert row["eval"]["episodes"] == 3 and row["score"] == row["eval"]["return_mean"]
        assert row["min"] <= row["score"] and not row["passed"]  # nobody scores 1e9
        # the first evaluation in training (at 200 env steps) reaches a target of 0
        lines = Path(row["run_dir"], "metrics.jsonl").read_text().splitlines()
        metrics = [json.loads(line) for line in lines]
        first = next(m for m in metrics if "eval_return_mean" in m)
        assert row["first_at_target"]["env_steps"] == first["env_steps"]
    summary = report["summary"]
    scores = sorted(row["score"] for row in rows)
    assert summary["score_median"] == pytest.approx(sum(scores) / 2)
    assert summary["score_worst"] == scores[0]
    assert (summary["seeds"], summary["passed"], summary["reached_target"]) == (2, 0, 2)
    assert "0/2 seeds" in stdout
    # a uniformly random policy balances a CartPole for about 22 steps
    baseline = report["random_policy"]
    assert baseline["episodes"] == 20 and 10 <= baseline["mean"] <= 40
    assert baseline["min"] <= baseline["mean"] <= baseline["max"]
    assert summary["score_median_over_random"] == pytest.approx(
        summary["score_median"] / baseline["mean"]
    )


def _report() -> dict:
    row = {"seed": 0, "score": 500.0, "min": 480.0, "env_steps": 9000, "train_steps": 4000}
    row |= {"wall_s": 600.0, "first_at_target": {"env_steps": 5000, "minutes": 1.25}}
    missed = row | {"seed": 1, "score": 300.0, "min": 20.0, "first_at_target": None}
    summary = {"target": 475.0, "pass_score": 495.0, "passed": 1, "seeds": 2}
    summary |= {"score_median": 400.0, "score_worst": 300.0}
    summary |= {"first_at_target_env_steps_median": 7000}
    return {
        "preset": "cartpole",
        "stop": {"minutes": 10.0, "env_steps": None},
        "overrides": ["--train.lr", "0.001"],
        "eval": {"episodes": 20, "seed": 12345},
        "rows": [row, missed],
        "summary": summary,
        "host": {"cpus": 2, "cpu": "Some CPU"},
        "parallel": 2,
        "date": "2026-12-07T06:00:00+00:00",
        "commit": "0123456789abcdef",
    }


def test_a_table_shows_every_seed_and_the_command_that_measured_it() -> None:
    table = learning_table.render(_report())
    assert table.startswith(
        "`python benches/bench_learning.py cartpole --seeds 0 1 --minutes 10 --target 475 "
        "--pass-score 495 -- --train.lr 0.001`"
    )
    assert "| 0 | 500.00 (480) | 5,000, 1.2 | 9,000 | 4,000 | 10.0 |" in table
    assert "| 1 | 300.00 (20) | not reached |" in table
    assert "1 of 2 seeds >= 495; median 400.00, worst 300.00" in table
    assert "commit 0123456789ab." in table
    assert "random" not in table
    # with a random policy's baseline: in the command and under the table
    report = _report()
    report["random_policy"] = {"episodes": 200, "seed": 12345, "mean": 1000.0}
    report["parallel"] = 1
    report["summary"]["score_median_over_random"] = 0.4
    table = learning_table.render(report)
    assert "--pass-score 495 --parallel 1 --random-episodes 200 -- --train.lr 0.001`" in table
    assert "random legal policy: mean 1000.00 over 200 episodes; the median above is 0.40" in table


def test_a_table_typed_over_by_hand_is_found_and_regenerated(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text(json.dumps(_report()))
    page = tmp_path / "page.md"
    marker = f"<!-- learning-table: {tmp_path / 'report.json'} -->"
    page.write_text(f"# results\n\n{marker}\nold numbers\n<!-- /learning-table -->\nafter\n")
    assert learning_table.main(["--check", str(page)]) == 1
    assert learning_table.main(["--write", str(page)]) == 0
    assert learning_table.main(["--check", str(page)]) == 0
    text = page.read_text()
    assert "old numbers" not in text and "| 1 | 300.00 (20) |" in text
    assert text.endswith("<!-- /learning-table -->\nafter\n")


def test_several_pages_are_checked_and_each_stale_one_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "report.json").write_text(json.dumps(_report()))
    marker = f"<!-- learning-table: {tmp_path / 'report.json'} -->"
    pages = [tmp_path / "fresh.md", tmp_path / "stale.md"]
    for page in pages:
        page.write_text(f"{marker}\nold\n<!-- /learning-table -->\n")
    assert learning_table.main(["--write", str(pages[0])]) == 0
    assert learning_table.main(["--check", *map(str, pages)]) == 1
    assert "stale.md" in capsys.readouterr().err
    assert learning_table.main(["--write", *map(str, pages)]) == 0
    assert learning_table.main(["--check", *map(str, pages)]) == 0


def test_the_learning_tables_of_the_readme_and_the_docs_are_generated_from_their_json() -> None:
    for page in (README, RESULTS):
        assert learning_table.BLOCK.search(page.read_text()), f"{page} has no learning table"
    assert learning_table.main(["--check", str(README), str(RESULTS)]) == 0
