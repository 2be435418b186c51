"""mzero.learner: the learner's state round-trips exactly through state_dict."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import numpy as np
import pytest
import torch

import mzero
from mzero.config import apply_overrides, preset
from mzero.learner import Learner
from mzero.networks import TrainingBatch

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


@pytest.mark.compiled_learner
def test_the_compiled_learner_step_takes_the_eager_steps_losses_and_gradients() -> None:
    """train.learner_step = compile: same losses and gradients as eager on fixed batches
    (float32; compiled kernels fuse and reorder sums, so equal to 1e-5 relative)."""
    overrides = {
        "train.batch_size": 16,
        "train.unroll_steps": 2,
        "network.hidden": (16,),
        "network.latent_dim": 8,
        "network.projection_dim": 8,
        "train.consistency_weight": 2.0,
    }
    cpu = torch.device("cpu")
    learners = {}
    for step in ("eager", "compile"):
        config = apply_overrides(preset("cartpole"), {**overrides, "train.learner_step": step})
        torch.manual_seed(0)
        learners[step] = Learner(
            config, (4,), 2, False, cpu, _replay(config), np.random.default_rng(1)
        )
    eager, compiled = learners["eager"], learners["compile"]
    assert eager._loss == eager._eager_loss and compiled._loss != compiled._eager_loss
    for _ in range(3):  # the same batches (same rng), the networks moving together
        sample = eager.sample()
        assert np.array_equal(sample.observation, compiled.sample().observation)
        batch = TrainingBatch.from_sample(sample)
        for learner in (eager, compiled):
            learner.optimizer.zero_grad(set_to_none=True)
        out_eager = eager._loss_and_backward(batch)
        out_compiled = compiled._loss_and_backward(batch)
        for name in ("loss", "policy", "value", "reward", "consistency", "priorities"):
            torch.testing.assert_close(
                getattr(out_compiled, name).detach(),
                getattr(out_eager, name).detach(),
                rtol=1e-5,
                atol=1e-6,
            )
        for (name, p), q in zip(
            eager.network.named_parameters(), compiled.network.parameters(), strict=True
        ):
            assert p.grad is not None and q.grad is not None, name
            torch.testing.assert_close(q.grad, p.grad, rtol=1e-5, atol=1e-6, msg=name)
        for learner in (eager, compiled):
            learner.optimizer.step()
        assert float(out_eager.consistency) != 0.0
    # a whole step, and a snapshot of the compiled learner resumes in eager mode
    before = [p.detach().clone() for p in compiled.network.parameters()]
    assert np.isfinite(compiled.train_step()["loss"]) and compiled.train_steps == 1
    after = list(compiled.network.parameters())
    assert any(not torch.equal(p, q) for p, q in zip(before, after, strict=True))
    eager.load_state_dict(compiled.state_dict())
    assert eager.train_steps == 1 and np.isfinite(eager.train_step()["loss"])


@pytest.mark.parametrize("mode", ["l2", "decoupled"])
def test_weight_decay_modes_take_the_papers_l2_step_or_adamws(mode: str) -> None:
    """l2: one step equals Adam on loss + c/2 ||theta||^2 (the MuZero pseudocode's
    weight_decay * l2_loss); decoupled: AdamW's step, theta shrunk by lr * c."""
    c, lr = 0.05, 1e-2  # a large c, so that the two kinds differ clearly
    config = apply_overrides(
        preset("cartpole"),
        {
            "train.batch_size": 8,
            "train.grad_clip": None,
            "train.weight_decay": c,
            "train.weight_decay_mode": mode,
            "train.lr": lr,
        },
    )
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    learner = Learner(config, (4,), 2, False, cpu, _replay(config), np.random.default_rng(1))
    reference = copy.deepcopy(learner.network)
    sample = learner.sample()
    learner.learn(sample)

    params = list(reference.parameters())
    loss = learner._eager_loss.__func__(_WithNetwork(learner, reference), _batch(sample)).loss
    if mode == "l2":
        loss = loss + c / 2 * sum((p * p).sum() for p in params)
        optimizer = torch.optim.Adam(params, lr=lr, weight_decay=0.0)
    else:
        optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=c)
    loss.backward()
    optimizer.step()
    for p, q in zip(learner.network.parameters(), params, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


class _WithNetwork:
    """``learner`` with another network (to call its loss on a reference copy)."""

    def __init__(self, learner: Learner, network: torch.nn.Module) -> None:
        self.config, self.network = learner.config, network


def _batch(sample) -> TrainingBatch:
    return TrainingBatch.from_sample(sample)


def test_a_learner_step_that_cannot_compile_says_which_setting(monkeypatch) -> None:
    from mzero import learner as learner_module

    def no_compiler(loss, device):
        def compiled(batch):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")

        return compiled

    monkeypatch.setattr(learner_module, "compile_loss", no_compiler)
    config = apply_overrides(
        preset("cartpole"), {"train.batch_size": 8, "train.learner_step": "compile"}
    )
    cpu = torch.device("cpu")
    learner = Learner(config, (4,), 2, False, cpu, _replay(config), np.random.default_rng(1))
    before = [p.detach().clone() for p in learner.network.parameters()]
    with pytest.raises(mzero.InvalidArgumentError, match=r"train\.learner_step.*C\+\+ compiler"):
        learner.train_step()
    assert learner.train_steps == 0
    assert all(torch.equal(p, q) for p, q in zip(before, learner.network.parameters(), strict=True))
