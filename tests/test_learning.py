"""End-to-end learning (slow, deselected by default; run with ``pytest -m slow``).

The preset CartPole run, cut to 30,000 environment steps (about 3 minutes on
the 2-core machine), must leave an agent that balances: ``mzero.Agent.load``
takes the best-evaluated checkpoint, whose network and search config play 20
fresh greedy episodes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mzero
from mzero.config import apply_overrides, preset
from mzero.evaluate import evaluate_returns
from mzero.train import train

pytestmark = pytest.mark.slow


def test_cartpole_preset_learns_to_balance(tmp_path: Path) -> None:
    config = apply_overrides(preset("cartpole"), {"train.max_env_steps": 30_000})
    train(config, tmp_path, progress=False)
    agent = mzero.Agent.load(tmp_path)
    assert agent.checkpoint_path is not None and agent.checkpoint_path.name == "best.pt"
    # the agent's network and search config, its 20 episodes played as one search batch
    returns = evaluate_returns(agent.network, agent.config, 20, seed=10_000)
    # a random policy averages about 22; the 10-minute bar is 475
    assert np.mean(returns) >= 300, returns
