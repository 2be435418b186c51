"""MLP representation, dynamics and prediction functions for vector observations.

The three functions of MuZero (Schrittwieser et al. 2020, section 3) as MLPs:

* representation ``h``: observation ``[B, D]`` -> latent state ``[B, L]``;
* dynamics ``g``: (latent ``[B, L]``, action ``[B]``) -> next latent ``[B, L]`` and
  reward logits ``[B, 2R + 1]``;
* prediction ``f``: latent ``[B, L]`` -> policy logits ``[B, A]`` and value logits
  ``[B, 2S + 1]``.

Stochastic MuZero (Antonoglou et al. 2022) adds the afterstate dynamics ``phi`` (latent,
action -> afterstate ``[B, L]``), the chance encoder ``e`` (observations on each side of a
chance event -> code logits ``[B, C]``) and reuses the other two: the afterstate
prediction ``psi`` is an :class:`MLPPrediction` over C codes (sigma and Q), and the
dynamics from an afterstate is an :class:`MLPDynamics` whose actions are the C codes.

Hidden layers are Linear -> LayerNorm -> ReLU. The last layers of the policy, value
and reward heads start at zero (as LightZero's ``last_linear_layer_init_zero``), so an
untrained network predicts a uniform policy and 0 for values and rewards: its first
searches spread their visits instead of following a random prior.
The min-max scaling of latent states lives in :class:`mzero.networks.MuZeroNetwork`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "MLPAfterstateDynamics",
    "MLPChanceEncoder",
    "MLPDynamics",
    "MLPPrediction",
    "MLPRepresentation",
    "mlp",
]


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, *, zero_last: bool = False) -> nn.Module:
    """``in_dim`` -> (Linear, LayerNorm, ReLU) per hidden size -> Linear -> ``out_dim``."""
    layers: list[nn.Module] = []
    width = in_dim
    for size in hidden:
        layers += [nn.Linear(width, size), nn.LayerNorm(size), nn.ReLU()]
        width = size
    last = nn.Linear(width, out_dim)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)


class MLPRepresentation(nn.Module):
    """h: flattened observation ``[B, D]`` -> latent state ``[B, L]`` (before scaling)."""

    def __init__(self, obs_dim: int, latent_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, latent_dim)

    def forward(self, obs: Tensor) -> Tensor:
        """``obs [B, D]`` -> ``[B, L]``."""
        return self.net(obs)


class MLPDynamics(nn.Module):
    """g: (latent ``[B, L]``, action ``[B]``) -> next latent ``[B, L]``; plus its reward head.

    The next latent state is ``s + mlp([s, onehot(a)])`` (a residual step). The
    caller min-max scales it, then reads the reward logits ``[B, 2R + 1]`` from the
    scaled state with :meth:`reward`.
    """

    def __init__(
        self, latent_dim: int, num_actions: int, hidden: Sequence[int], reward_support: int
    ) -> None:
        super().__init__()
        self.num_actions = num_actions
        self.transition = mlp(latent_dim + num_actions, hidden, latent_dim)
        self.reward_head = mlp(latent_dim, hidden, 2 * reward_support + 1, zero_last=True)

    def forward(self, latent: Tensor, action: Tensor) -> Tensor:
        """``latent [B, L]``, ``action int64 [B]`` -> next latent ``[B, L]`` (before scaling)."""
        onehot = nn.functional.one_hot(action, self.num_actions).to(latent.dtype)
        return self.step(latent, onehot)

    def step(self, latent: Tensor, onehot: Tensor) -> Tensor:
        """``latent [B, L]``, a one-hot (or soft) action ``[B, A]`` -> next latent ``[B, L]``.

        Stochastic MuZero's dynamics takes its chance code this way, so that the
        encoder's straight-through gradient reaches it."""
        return latent + self.transition(torch.cat([latent, onehot.to(latent.dtype)], dim=-1))

    def reward(self, next_latent: Tensor) -> Tensor:
        """``next_latent [B, L]`` -> reward logits ``[B, 2R + 1]``."""
        return self.reward_head(next_latent)


class MLPPrediction(nn.Module):
    """f: latent ``[B, L]`` -> (policy logits ``[B, A]``, value logits ``[B, 2S + 1]``)."""

    def __init__(
        self, latent_dim: int, num_actions: int, hidden: Sequence[int], value_support: int
    ) -> None:
        super().__init__()
        self.policy_head = mlp(latent_dim, hidden, num_actions, zero_last=True)
        self.value_head = mlp(latent_dim, hidden, 2 * value_support + 1, zero_last=True)

    def forward(self, latent: Tensor) -> tuple[Tensor, Tensor]:
        """``latent [B, L]`` -> (policy logits ``[B, A]``, value logits ``[B, 2S + 1]``)."""
        return self.policy_head(latent), self.value_head(latent)


class MLPAfterstateDynamics(nn.Module):
    """phi: (latent ``[B, L]``, action ``[B]``) -> afterstate ``[B, L]`` (before scaling).

    ``s + mlp([s, onehot(a)])``, as :class:`MLPDynamics` without a reward: in Stochastic
    MuZero the reward comes with the chance outcome, on the dynamics from the afterstate.
    """

    def __init__(self, latent_dim: int, num_actions: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.num_actions = num_actions
        self.transition = mlp(latent_dim + num_actions, hidden, latent_dim)

    def forward(self, latent: Tensor, action: Tensor) -> Tensor:
        """``latent [B, L]``, ``action int64 [B]`` -> afterstate ``[B, L]``."""
        onehot = nn.functional.one_hot(action, self.num_actions).to(latent.dtype)
        return latent + self.transition(torch.cat([latent, onehot], dim=-1))


class MLPChanceEncoder(nn.Module):
    """e: the observations before and after a chance event ``[B, 2D]`` -> code logits ``[B, C]``."""

    def __init__(self, obs_dim: int, hidden: Sequence[int], codes: int) -> None:
        super().__init__()
        self.net = mlp(2 * obs_dim, hidden, codes)

    def forward(self, before: Tensor, after: Tensor) -> Tensor:
        """``before [B, D]``, ``after [B, D]`` -> logits ``[B, C]``."""
        return self.net(torch.cat([before, after], dim=-1))
