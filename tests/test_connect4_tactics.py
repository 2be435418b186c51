"""benches/connect4_tactics.py: its win and threat finders, and a run on a tiny trained run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from conftest import BENCHES, RunBench
from mzero.config import apply_overrides, preset
from mzero.envs.connect4 import ConnectFourEnv
from mzero.train import train

spec = importlib.util.spec_from_file_location("connect4_tactics", BENCHES / "connect4_tactics.py")
assert spec is not None and spec.loader is not None
tactics = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tactics)


def test_wins_in_one_and_threats_are_found() -> None:
    env = ConnectFourEnv()
    env.reset()
    # first player: columns 0, 1, 2 on the bottom row; second player: 0, 1, 2 on row 2
    for column in (0, 0, 1, 1, 2, 2):
        env.step(column)
    assert tactics.winning_moves(env) == [3]  # the first player completes the row
    env.step(6)  # the first player plays elsewhere
    # the second player to move: a stone in column 3 lands on the bottom row, below
    # its three, so it has no win; the first player threatens column 3
    assert tactics.winning_moves(env) == []
    assert tactics.threats(env) == [3]


def test_a_trained_run_is_scored(tmp_path: Path, run_bench: RunBench) -> None:
    config = apply_overrides(
        preset("connect4"),
        {
            "train.max_env_steps": 256,
            "train.num_envs": 16,
            "train.batch_size": 16,
            "train.min_replay": 64,
            "train.eval_interval": 0,
            "train.torch_threads": 1,
            "search.num_simulations": 4,
        },
    )
    train(config, tmp_path / "run", progress=False)
    stdout, report = run_bench("connect4_tactics.py", str(tmp_path / "run"), "--positions", "5")
    assert report == json.loads(stdout.splitlines()[-1])
    assert 0 <= report["wins_in_one_taken"] <= 5 and 0 <= report["single_threats_blocked"] <= 5
    assert -1.0 <= report["reward_mean_winning_moves"] <= 1.0
