"""mzero.learner: the learner's state round-trips exactly through state_dict."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

import mzero
from mzero.config import apply_overrides, preset
from mzero.learner import Learner

torch.set_num_threads(1)


def _replay(config) -> mzero.ReplayBuffer:
    replay = mzero.ReplayBuffer(
        1000, (4,), 2, unroll_steps=config.train.unroll_steps, td_steps=config.train.td_steps
    )
    rng = np.random.default_rng(0)
    for _ in range(6):
        t = 20
        replay.add_game(
            rng.random((t + 1, 4), dtype=np.float32),
            rng.integers(0, 2, size=t),
            np.ones(t, np.float32),
            rng.random(t, dtype=np.float32),
            np.full((t, 2), 0.5, np.float32),
            terminated=True,
        )
    return replay


def test_a_learner_restored_from_its_state_dict_takes_the_same_steps(tmp_path: Path) -> None:
    config = apply_overrides(
        preset("cartpole"),
        {"train.batch_size": 8, "reanalyze.value": True, "reanalyze.target_update_interval": 2},
    )
    torch.manual_seed(0)
    cpu = torch.device("cpu")
    first = Learner(config, (4,), 2, False, cpu, _replay(config), np.random.default_rng(1))
    for _ in range(3):
        first.train_step()
    # through bytes, as a snapshot goes (a live state_dict shares the optimizer's tensors)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert state["train_steps"] == 3 and state["target_network"] is not None
    first.replay.save(tmp_path / "replay.bin")  # with the priorities and targets written back

    torch.manual_seed(99)  # another initialisation: everything must come from the state
    replay = mzero.ReplayBuffer.load(tmp_path / "replay.bin")
    second = Learner(config, (4,), 2, False, cpu, replay, np.random.default_rng(1))
    second.load_state_dict(state)
    second.rng.bit_generator.state = first.rng.bit_generator.state
    assert second.train_steps == 3
    for _ in range(2):  # the second step refreshes the target network (interval 2)
        assert first.train_step() == second.train_step()  # losses, grad norm, lr
    for p, q in zip(first.network.parameters(), second.network.parameters(), strict=True):
        assert torch.equal(p, q)
    assert first.target_network is not None and second.target_network is not None
    for p, q in zip(
        first.target_network.parameters(), second.target_network.parameters(), strict=True
    ):
        assert torch.equal(p, q)


def test_learner_dtype_bfloat16_runs_the_unroll_in_bfloat16(monkeypatch) -> None:
    from mzero import learner as learner_module

    seen = []
    real_loss = learner_module.muzero_loss

    def spy(*args, **kwargs):
        seen.append(kwargs.get("autocast_dtype"))
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(learner_module, "muzero_loss", spy)
    cpu = torch.device("cpu")
    losses = {}
    for dtype in ("float32", "bfloat16"):
        config = apply_overrides(
            preset("cartpole"), {"train.batch_size": 8, "train.learner_dtype": dtype}
        )
        torch.manual_seed(0)
        learner = Learner(config, (4,), 2, False, cpu, _replay(config), np.random.default_rng(1))
        losses[dtype] = learner.train_step()["loss"]
        assert all(p.dtype == torch.float32 for p in learner.network.parameters())
    assert seen == [None, torch.bfloat16]
    assert losses["bfloat16"] == pytest.approx(losses["float32"], rel=3e-2)
