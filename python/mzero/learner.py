"""MuZero's learner: the network, its target network, the optimizer and one training step.

:class:`Learner` is the part of a run that learns (MuZero, Schrittwieser et al. 2020,
appendix G): it samples unrolled batches from the replay buffer it is given (prioritised
when ``replay.alpha > 0``), refreshes their targets with the target network when
Reanalyze is on (:mod:`mzero.reanalyze`, written back to the buffer), minimises
:func:`mzero.networks.muzero_loss` with Adam (AdamW's decoupled weight decay, or
the papers' L2 regularisation: ``train.weight_decay_mode``), a learning-rate schedule
and gradient clipping, and writes the new priorities back. It knows nothing of self-play,
evaluation or the run directory, so the in-process loop (:class:`mzero.train.Trainer`)
and a distributed one can both compose it; its whole state is :meth:`state_dict`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from mzero.config import Config, TrainConfig, autocast_dtype
from mzero.envs.registry import game_class
from mzero.errors import InvalidArgumentError
from mzero.networks import LossOutput, MuZeroNetwork, TrainingBatch, muzero_loss
from mzero.reanalyze import Reanalysis, Reanalyzer

__all__ = ["Learner", "build_network", "compile_loss", "learning_rate_factor", "resolve_device"]

_SEED_BOUND = 2**63


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; other names are passed to torch."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError(f"train.device: {name!r} requested but CUDA is not available")
    return device


def build_network(config: Config, obs_shape: tuple[int, ...], num_actions: int) -> MuZeroNetwork:
    """The network of ``config.network`` for observations ``obs_shape`` and ``num_actions``;
    a board game's ``action_planes`` (its class attribute, if any) feed the resnet dynamics."""
    planes = getattr(game_class(config.env.id), "action_planes", None)
    return MuZeroNetwork(
        obs_shape, num_actions, config.network, config.env.frame_stack, action_planes=planes
    )


def compile_loss(
    loss: Callable[[TrainingBatch], LossOutput], device: torch.device
) -> Callable[[TrainingBatch], LossOutput]:
    """``loss`` through torch.compile: one graph of the unroll and its losses, whose
    backward AOTAutograd compiles too. The shapes are static (a run's batch size and K
    never change). On the CPU Inductor's C++ wrapper calls the kernels (less Python
    per step); other devices get Inductor's defaults."""
    options = {"cpp_wrapper": True} if device.type == "cpu" else None
    return torch.compile(loss, dynamic=False, options=options)


def learning_rate_factor(train: TrainConfig) -> Callable[[int], float]:
    """Multiplier of ``train.lr`` after ``step`` learner steps (for ``LambdaLR``).

    Linear warm-up over ``lr_warmup_steps``, then ``lr_schedule``: constant, cosine
    decay to ``lr_min`` over ``lr_decay_steps`` (held there afterwards), or
    exponential ``lr_decay_rate ** (step / lr_decay_steps)`` floored at ``lr_min``.
    """
    floor = train.lr_min / train.lr if train.lr > 0 else 0.0

    def factor(step: int) -> float:
        if step < train.lr_warmup_steps:
            return (step + 1) / train.lr_warmup_steps
        decayed = step - train.lr_warmup_steps
        if train.lr_schedule == "cosine":
            progress = min(decayed / train.lr_decay_steps, 1.0)
            return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
        if train.lr_schedule == "exponential":
            return max(train.lr_decay_rate ** (decayed / train.lr_decay_steps), floor)
        return 1.0

    return factor


class Learner:
    """Network, target network, optimizer, scheduler and :meth:`train_step` for ``config``.

    ``replay`` is the :class:`mzero.ReplayBuffer` it samples from and writes priorities
    and reanalysed targets to; ``rng`` (a ``numpy.random.Generator``) seeds its samples
    and symmetries; ``symmetries`` (or None) augments each batch.
    """

    def __init__(
        self,
        config: Config,
        obs_shape: tuple[int, ...],
        num_actions: int,
        two_player: bool,
        device: torch.device,
        replay: Any,
        rng: np.random.Generator,
        symmetries: Any = None,
    ) -> None:
        train = config.train
        self.config = config
        self.device = device
        self.replay = replay
        self.rng = rng
        self.symmetries = symmetries
        self.network = build_network(config, obs_shape, num_actions).to(device)
        compiled = train.learner_step == "compile"
        # l2: Adam's weight_decay adds c * theta to the gradient, the gradient of the
        # papers' c/2 ||theta||^2 term; decoupled: AdamW
        adam = torch.optim.Adam if train.weight_decay_mode == "l2" else torch.optim.AdamW
        params = list(self.network.parameters())
        try:  # one fused kernel for the whole update where this torch has one
            self.optimizer = adam(
                params, lr=train.lr, weight_decay=train.weight_decay, fused=compiled or None
            )
        except RuntimeError:  # torch < 2.4 fuses on CUDA only
            self.optimizer = adam(params, lr=train.lr, weight_decay=train.weight_decay)
        self._loss: Callable[[TrainingBatch], LossOutput] = self._eager_loss
        if compiled:
            self._loss = compile_loss(self._eager_loss, device)
        self._compiled_once = not compiled
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, learning_rate_factor(train)
        )
        self.target_network: MuZeroNetwork | None = None
        self.reanalyzer: Reanalyzer | None = None
        if config.reanalyze.enabled:
            self.target_network = copy.deepcopy(self.network).eval().requires_grad_(False)
            self.reanalyzer = Reanalyzer(self.target_network, config, two_player)
        self.train_steps = 0
        self.reanalyze_seconds = 0.0
        """Seconds spent reanalysing so far."""

    def train_step(self) -> dict[str, float]:
        """One gradient step on a sampled batch, reanalysed here when reanalysis is on;
        returns the loss terms and learning rate."""
        sample = self.sample()
        if self.reanalyzer is not None:
            if self.target_update_due():
                self.update_target_network()
            sample = self.take_reanalysis(sample, self.reanalyzer(sample, self.rng))
        return self.learn(sample)

    def sample(self) -> Any:
        """A batch from the replay buffer (a :class:`mzero.SampleBatch`), with what
        reanalysis needs when it is on."""
        train = self.config.train
        return self.replay.sample(
            train.batch_size,
            int(self.rng.integers(_SEED_BOUND)),
            # the consistency targets and a stochastic network's chance codes
            next_observations=train.consistency_weight > 0 or self.network.stochastic,
            reanalysis=self.config.reanalyze.enabled,
        )

    def target_update_due(self) -> bool:
        """Whether the target network is refreshed before this step's reanalysis: every
        ``reanalyze.target_update_interval`` learner steps, from step 0."""
        return self.train_steps % self.config.reanalyze.target_update_interval == 0

    def take_reanalysis(self, sample: Any, reanalysis: Reanalysis) -> Any:
        """Writes the fresh targets of ``sample`` back to the buffer; returns ``sample``
        with them. ``reanalysis`` may come from another process."""
        reanalysis.write_back(self.replay)
        self.reanalyze_seconds += reanalysis.seconds
        return reanalysis.apply(sample)

    def learn(self, sample: Any) -> dict[str, float]:
        """One gradient step on ``sample``; returns the loss terms and learning rate."""
        train = self.config.train
        consistency = train.consistency_weight > 0
        batch = TrainingBatch.from_sample(sample, self.device)
        if self.symmetries is not None:
            g = self.rng.integers(self.symmetries.size, size=train.batch_size)
            batch = self.symmetries.augment(batch, torch.from_numpy(g).to(self.device))
        self.network.train()
        self.optimizer.zero_grad(set_to_none=True)
        out = self._loss_and_backward(batch)
        grad_norm = torch.nn.utils.clip_grad_norm_(
            self.network.parameters(), train.grad_clip if train.grad_clip else math.inf
        )
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        if self.config.replay.alpha > 0:
            priorities = out.priorities.float().cpu().numpy() + 1e-6
            self.replay.update_priorities(sample.index, priorities)
        self.train_steps += 1
        losses = {
            "loss": float(out.loss.detach()),
            "loss_policy": float(out.policy),
            "loss_value": float(out.value),
            "loss_reward": float(out.reward),
            "grad_norm": float(grad_norm),
            "lr": float(lr),
        }
        if consistency:
            losses["loss_consistency"] = float(out.consistency)
        if self.network.stochastic:
            losses["loss_afterstate_value"] = float(out.afterstate_value)
            losses["loss_chance"] = float(out.chance)
            losses["loss_commitment"] = float(out.commitment)
        return losses

    def _eager_loss(self, batch: TrainingBatch) -> LossOutput:
        """:func:`muzero_loss` of ``batch`` with the config's weights."""
        train = self.config.train
        return muzero_loss(
            self.network,
            batch,
            train.value_loss_weight,
            absorbing=train.absorbing,
            reward_weight=train.reward_loss_weight,
            consistency_weight=train.consistency_weight,
            autocast_dtype=autocast_dtype(train.learner_dtype),
            commitment_weight=train.commitment_weight,
        )

    def _loss_and_backward(self, batch: TrainingBatch) -> LossOutput:
        """The loss of ``batch`` (compiled or eager) with its gradients accumulated."""
        if self._compiled_once:
            out = self._loss(batch)
            out.loss.backward()
            return out
        try:  # the first call compiles the forward and backward graphs
            out = self._loss(batch)
            out.loss.backward()
        except Exception as error:  # inductor's errors have no common base class
            raise InvalidArgumentError(
                "train.learner_step: 'compile' could not compile the learner step "
                f"(torch.compile needs a working C++ compiler on the CPU): {error}"
            ) from error
        self._compiled_once = True
        return out

    def update_target_network(self) -> None:
        """Copies the network's weights into the target network (reanalysis only)."""
        if self.target_network is not None:
            self.target_network.load_state_dict(self.network.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """The networks, optimizer, scheduler and counters (tensors and plain values)."""
        return {
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "target_network": None
            if self.target_network is None
            else self.target_network.state_dict(),
            "train_steps": self.train_steps,
            "reanalyze_seconds": self.reanalyze_seconds,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned (``reanalyze_seconds`` optional)."""
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.target_network is not None and state.get("target_network") is not None:
            self.target_network.load_state_dict(state["target_network"])
        self.train_steps = state["train_steps"]
        self.reanalyze_seconds = state.get("reanalyze_seconds", 0.0)
