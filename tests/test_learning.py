"""End-to-end learning (slow, deselected by default; run with ``pytest -m slow``).

The preset CartPole run, cut to 30,000 environment steps (about 3 minutes on
the 2-core machine), must leave an agent that balances: ``mzero.Agent.load``
takes the best-evaluated checkpoint, which plays 20 fresh greedy episodes.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import pytest

import mzero
from mzero.config import apply_overrides, preset
from mzero.train import train

pytestmark = pytest.mark.slow


def test_cartpole_preset_learns_to_balance(tmp_path: Path) -> None:
    config = apply_overrides(preset("cartpole"), {"train.max_env_steps": 30_000})
    train(config, tmp_path, progress=False)
    agent = mzero.Agent.load(tmp_path)
    env = gymnasium.make("CartPole-v1")
    returns = []
    for episode in range(20):
        observation, _ = env.reset(seed=10_000 + episode)
        agent.reset()
        done, total = False, 0.0
        while not done:
            observation, reward, terminated, truncated, _ = env.step(agent.act(observation))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    # a random policy averages about 22; the 10-minute bar is 475
    assert np.mean(returns) >= 300, returns
