"""Smoke test of an installed mzero (a built wheel): search, replay and a short training run.

    python scripts/smoke_test.py [RUN_DIR]

Run from outside the source tree, so that ``import mzero`` finds the installed package.
It checks results, not only imports: a batched search over a known model spends its
simulations and picks the best action, the replay buffer returns the targets of the
game it stored, and ``mzero.train`` runs CartPole for 400 env steps and writes a
checkpoint that ``mzero.Agent`` loads and acts with. Exits 0 when every check passes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np


def check_search() -> None:
    """Three games, three actions: action 2 leads to reward 1, the others to 0."""
    import mzero

    def recurrent(game, parent, action, node) -> tuple[np.ndarray, ...]:
        n = len(action)
        rewards = (action == 2).astype(np.float32)
        return rewards, np.zeros(n, np.float32), np.zeros((n, 3), np.float32)

    config = mzero.SearchConfig(num_simulations=32, discount=0.9)
    out = mzero.search(np.zeros(3, np.float32), np.zeros((3, 3), np.float32), recurrent, config)
    assert out.visit_counts.shape == (3, 3), out.visit_counts.shape
    assert (out.visit_counts.sum(axis=1) == 32).all(), out.visit_counts
    assert (out.action == 2).all(), out.action


def check_replay() -> None:
    """A stored game's value target at position 0 is its discounted return."""
    import mzero

    replay = mzero.ReplayBuffer(100, (4,), 2, unroll_steps=2, td_steps=10, discount=0.5)
    moves = 5
    replay.add_game(
        observations=np.arange(24, dtype=np.float32).reshape(6, 4),
        actions=np.zeros(moves, np.int64),
        rewards=np.ones(moves, np.float32),
        root_values=np.zeros(moves, np.float32),
        policies=np.full((moves, 2), 0.5, np.float32),
    )
    assert len(replay) == moves, len(replay)
    batch = replay.sample(64, seed=0)
    first = batch.position == 0
    assert first.any()
    expected = sum(0.5**i for i in range(moves))  # 1 + 0.5 + ... (terminated)
    assert np.allclose(batch.target_value[first, 0], expected), batch.target_value[first, 0]


def check_training(run_dir: Path) -> None:
    """400 env steps of the cartpole preset, then the agent of the run acts."""
    import mzero
    from mzero.config import apply_overrides, preset
    from mzero.train import train

    overrides = {
        "train.max_env_steps": 400,
        "train.num_envs": 8,
        "train.batch_size": 16,
        "train.min_replay": 100,
        "train.eval_interval": 200,
        "train.eval_episodes": 2,
        "train.learner_step": "eager",
        "search.num_simulations": 4,
        "network.act_inference": None,
    }
    metrics = train(apply_overrides(preset("cartpole"), overrides), run_dir, progress=False)
    assert metrics["env_steps"] == 400 and metrics["train_steps"] > 0, metrics
    agent = mzero.Agent.load(run_dir)
    assert agent.act(np.zeros(4, np.float32)) in (0, 1)


def main(argv: list[str]) -> int:
    import mzero

    print(f"mzero {mzero.__version__} from {Path(mzero.__file__).parent}")
    check_search()
    print("search: ok")
    check_replay()
    print("replay: ok")
    with tempfile.TemporaryDirectory() as tmp:
        check_training(Path(argv[1]) if len(argv) > 1 else Path(tmp) / "run")
    print("training: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
