"""mzero.evals, ``mzero eval --checkpoint all`` and ``mzero plot --opponent``: score curves."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import torch

import mzero
from mzero.cli import main
from mzero.evals import kept_checkpoints, read_evals, record_eval
from mzero.plot import read_score_curve
from test_opponents import train_tiny_connect4


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    return train_tiny_connect4(tmp_path_factory.mktemp("c4") / "run")


@pytest.fixture
def run_with_kept(trained_run: Path, tmp_path: Path) -> Path:
    """The trained run with two kept networks, as ``train.keep_eval_checkpoints`` keeps
    them: the last one written as if at env steps 40 and 100."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    for steps in (100, 40):
        state["env_steps"] = steps
        torch.save(state, run / "checkpoints" / f"env_steps_{steps:09d}.pt")
    return run


def _entry(steps: int, score: float, games: int = 2, opponent: str = "uct:2") -> dict:
    return {
        "env_steps": steps,
        "checkpoint": f"env_steps_{steps:09d}.pt",
        "opponent": opponent,
        "games": games,
        "seed": 1,
        "num_simulations": 2,
        "score_first": score,
        "score_second": score,
        "score": score,
    }


def test_eval_all_scores_every_kept_network_and_records_the_curve(run_with_kept, capsys) -> None:
    run = run_with_kept
    assert [p.name for p in kept_checkpoints(run)] == [
        "env_steps_000000040.pt",
        "env_steps_000000100.pt",
    ]
    command = ["eval", str(run), "--checkpoint", "all", "--opponent", "uct:2", "--games", "2"]
    assert main(command) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["env_steps"] for line in lines] == [40, 100]
    assert all(line["opponent"] == "uct:2" and line["games"] == 2 for line in lines)
    recorded = read_evals(run)
    assert [(e["env_steps"], e["score"]) for e in recorded] == [
        (line["env_steps"], line["score"]) for line in lines
    ]
    assert main(command) == 0  # the same evaluation again replaces its lines
    assert len(read_evals(run)) == 2
    assert main([*command[:-1], "4"]) == 0  # more games: new lines
    assert len(read_evals(run)) == 4
    # one checkpoint scored by name is a point of the same curve
    assert main(["eval", str(run), "--checkpoint", "last", "--opponent", "random"]) == 0
    assert [e["opponent"] for e in read_evals(run)][-1] == "random"

    curve = read_score_curve(run, "uct:2")
    assert curve.env_steps == [40.0, 100.0] and curve.metric == "score vs uct:2"
    uct = [e for e in read_evals(run) if e["opponent"] == "uct:2"]
    pooled = {  # the 2-game and the 4-game evaluation of each network, weighted by games
        steps: sum(e["score"] * e["games"] for e in uct if e["env_steps"] == steps) / 6
        for steps in (40, 100)
    }
    assert curve.returns == pytest.approx([pooled[40], pooled[100]])
    # another search budget is another curve, and the default is the agent's (2 here)
    assert main([*command, "--num-simulations", "3"]) == 0
    assert read_score_curve(run, "uct:2").returns == pytest.approx(curve.returns)
    three = [e["score"] for e in read_evals(run) if e["num_simulations"] == 3]
    assert read_score_curve(run, "uct:2", num_simulations=3).returns == three
    assert "(3 simulations)" in read_score_curve(run, "uct:2", num_simulations=3).label
    out = run / "curve.png"
    plot = ["plot", str(run), "--opponent", "uct:2", "--opponent", "random", "-o", str(out)]
    assert main(plot) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_all_refuses_what_it_cannot_do(trained_run: Path, run_with_kept: Path, capsys) -> None:
    assert main(["eval", str(run_with_kept), "--checkpoint", "all"]) == 2
    assert "--checkpoint all: expected --opponent NAME" in capsys.readouterr().err
    assert main(["eval", str(trained_run), "--checkpoint", "all", "--opponent", "random"]) == 2
    assert "train.keep_eval_checkpoints" in capsys.readouterr().err
    with pytest.raises(mzero.InvalidArgumentError, match="no evaluation against 'uct:9'"):
        read_score_curve(run_with_kept, "uct:9")
    with pytest.raises(mzero.InvalidArgumentError, match="--num-simulations: expected >= 1"):
        read_score_curve(run_with_kept, "uct:9", num_simulations=0)
    assert not (run_with_kept / "evals.jsonl").exists()  # nothing written on the way


def test_records_from_threads_side_by_side_are_all_kept(tmp_path: Path) -> None:
    threads = [
        threading.Thread(target=record_eval, args=(tmp_path, _entry(steps, 0.5)))
        for steps in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e["env_steps"] for e in read_evals(tmp_path)) == list(range(16))
    with pytest.raises(mzero.InvalidArgumentError, match="entry: expected the keys seed"):
        record_eval(tmp_path, {k: v for k, v in _entry(1, 0.5).items() if k != "seed"})


def test_a_corrupt_evals_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "evals.jsonl").write_text('{"env_steps": 1}\nnot json\n')
    with pytest.raises(mzero.CorruptFileError, match=r"evals\.jsonl: line 2"):
        read_evals(tmp_path)
