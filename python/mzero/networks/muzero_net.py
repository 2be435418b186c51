"""The MuZero network: representation h, dynamics g and prediction f behind two inference calls.

MuZero (Schrittwieser et al. 2020, section 3 and appendix F):

* ``initial_inference(o)``: ``s^0 = h(o)``, ``p^0, v^0 = f(s^0)``;
* ``recurrent_inference(s^{k-1}, a^k)``: ``s^k, r^k = g(s^{k-1}, a^k)``, ``p^k, v^k = f(s^k)``.

Latent states are min-max scaled to ``[0, 1]`` per sample after h and after g
(appendix G: "we scale the hidden state to the same range as the action input").
Values and rewards are categorical over ``[-S, S]`` on the h-transformed scale, or
on the raw scale with ``network.value_transform = False``
(:mod:`mzero.networks.transforms`); both logits and decoded scalars are returned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from mzero.config import NetworkConfig
from mzero.errors import InvalidArgumentError
from mzero.networks.mlp import MLPDynamics, MLPPrediction, MLPRepresentation, mlp
from mzero.networks.resnet import ResNetDynamics, ResNetPrediction, ResNetRepresentation
from mzero.networks.transforms import categorical_to_scalar

__all__ = ["MuZeroNetwork", "NetworkOutput", "min_max_scale", "scale_gradient"]


class NetworkOutput(NamedTuple):
    """What one inference returns, batch of ``B`` (``A`` actions, supports ``S`` and ``R``)."""

    latent: Tensor
    """Latent state ``[B, *latent_shape]``, min-max scaled to [0, 1] per sample."""
    value: Tensor
    """Decoded value ``[B]``, from the view of the player to move."""
    reward: Tensor
    """Decoded reward ``[B]`` of the transition into this state (zeros at the root)."""
    policy_logits: Tensor
    """Policy logits ``[B, A]``."""
    value_logits: Tensor
    """Value logits ``[B, 2S + 1]``."""
    reward_logits: Tensor | None
    """Reward logits ``[B, 2R + 1]``; ``None`` at initial inference."""

    def float(self) -> NetworkOutput:
        """The same output with every tensor in float32 (after a lower-precision autocast)."""
        return NetworkOutput(*(None if t is None else t.float() for t in self))


def scale_gradient(x: Tensor, scale: float | Tensor) -> Tensor:
    """Identity in the forward pass; multiplies the gradient by ``scale`` in the backward pass.

    ``scale`` is a float or a tensor that broadcasts against ``x`` (one scale per slice).
    """
    return x * scale + x.detach() * (1.0 - scale)


def min_max_scale(latent: Tensor, eps: float = 1e-5) -> Tensor:
    """``(s - min s) / (max s - min s)`` per sample over all but the batch axis; shape kept.

    A sample whose range is below ``eps`` is divided by ``range + eps`` instead.
    """
    flat = latent.flatten(1)
    low = flat.min(dim=1, keepdim=True).values
    span = flat.max(dim=1, keepdim=True).values - low
    span = torch.where(span < eps, span + eps, span)
    return ((flat - low) / span).view_as(latent)


class MuZeroNetwork(nn.Module):
    """h, g and f for observations of shape ``obs_shape`` and ``num_actions`` discrete actions.

    ``config.kind == "mlp"`` flattens any observation; ``"resnet"`` needs ``obs_shape ==
    (C, H, W)``. Observations are ``[B, *obs_shape]`` or, stacked, ``[B, frame_stack,
    *obs_shape]`` (the frames are concatenated along the first observation axis).
    ``action_planes`` ``[A, P, H, W]``: how the resnet dynamics draws each action on
    the board (a game's own, e.g. Connect Four's columns; :mod:`mzero.networks.resnet`).
    """

    def __init__(
        self,
        obs_shape: Sequence[int],
        num_actions: int,
        config: NetworkConfig,
        frame_stack: int = 1,
        action_planes: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.obs_shape = tuple(int(d) for d in obs_shape)
        self.num_actions = int(num_actions)
        self.frame_stack = int(frame_stack)
        self.value_support = config.value_support
        self.reward_support = config.reward_support
        self.value_transform = config.value_transform
        if self.num_actions < 1:
            raise InvalidArgumentError(f"num_actions: expected >= 1, got {num_actions}")
        if config.kind == "mlp":
            obs_dim = self.frame_stack * math.prod(self.obs_shape)
            self.latent_shape: tuple[int, ...] = (config.latent_dim,)
            self.representation: nn.Module = MLPRepresentation(
                obs_dim, config.latent_dim, config.hidden
            )
            self.dynamics: MLPDynamics | ResNetDynamics = MLPDynamics(
                config.latent_dim, self.num_actions, config.hidden, config.reward_support
            )
            self.prediction: nn.Module = MLPPrediction(
                config.latent_dim, self.num_actions, config.hidden, config.value_support
            )
        elif config.kind == "resnet":
            if len(self.obs_shape) != 3:
                raise InvalidArgumentError(
                    f"obs_shape: the resnet network expects (C, H, W), got {self.obs_shape}"
                )
            channels, height, width = self.obs_shape
            board = (height, width)
            self.latent_shape = (config.channels, height, width)
            self.representation = ResNetRepresentation(
                self.frame_stack * channels, config.channels, config.blocks
            )
            self.dynamics = ResNetDynamics(
                config.channels,
                self.num_actions,
                board,
                config.blocks,
                config.head_channels,
                config.hidden,
                config.reward_support,
                action_planes,
            )
            self.prediction = ResNetPrediction(
                config.channels,
                self.num_actions,
                board,
                config.head_channels,
                config.hidden,
                config.value_support,
            )
        else:
            raise InvalidArgumentError(
                f"network.kind: expected 'mlp' or 'resnet', got {config.kind!r}"
            )
        self.kind = config.kind
        # how planning runs this network (mzero.planner); learning ignores them
        self.inference = config.inference
        self.inference_dtype = config.inference_dtype
        self.projection_dim = config.projection_dim
        if config.projection_dim > 0:
            # EfficientZero's SimSiam-style heads: a projection of any latent state and,
            # on the dynamics side only, a predictor on top of it
            latent_size = math.prod(self.latent_shape)
            width = max(config.projection_dim, 64)
            self.projection: nn.Module | None = mlp(latent_size, (width,), config.projection_dim)
            self.projection_predictor: nn.Module | None = mlp(
                config.projection_dim, (width,), config.projection_dim
            )
        else:
            self.projection = None
            self.projection_predictor = None

    @property
    def device(self) -> torch.device:
        """The device of the parameters."""
        return next(self.parameters()).device

    def _network_input(self, obs: Tensor) -> Tensor:
        """``[B, *obs]`` or ``[B, stack, *obs]`` -> ``[B, D]`` (mlp) or ``[B, stack*C, H, W]``."""
        shape = tuple(obs.shape)
        if shape[1:] == self.obs_shape and self.frame_stack == 1:
            stacked = obs.unsqueeze(1)
        elif shape[1:] == (self.frame_stack, *self.obs_shape):
            stacked = obs
        else:
            raise InvalidArgumentError(
                f"obs: expected shape [B, {self.frame_stack}, "
                f"{', '.join(map(str, self.obs_shape))}]"
                + (
                    f" or [B, {', '.join(map(str, self.obs_shape))}]"
                    if self.frame_stack == 1
                    else ""
                )
                + f", got {list(shape)}"
            )
        stacked = stacked.float()
        if self.kind == "mlp":
            return stacked.flatten(1)
        return stacked.flatten(1, 2)

    def represent(self, obs: Tensor) -> Tensor:
        """``obs [B, *obs_shape]`` (or stacked) -> scaled latent state ``[B, *latent_shape]``."""
        return min_max_scale(self.representation(self._network_input(obs)))

    def project(self, latent: Tensor, predictor: bool) -> Tensor:
        """``latent [B, *latent_shape]`` -> ``[B, projection_dim]`` (consistency loss).

        ``predictor=True`` adds the predictor head (the dynamics side of the loss).
        """
        if self.projection is None or self.projection_predictor is None:
            raise InvalidArgumentError(
                "network.projection_dim: expected > 0 for the consistency loss, got 0"
            )
        z = self.projection(latent.flatten(1))
        return self.projection_predictor(z) if predictor else z

    def initial_inference(self, obs: Tensor) -> NetworkOutput:
        """``obs [B, *obs_shape]`` (or stacked) -> root latent, value, policy (reward = 0)."""
        latent = self.represent(obs)
        policy_logits, value_logits = self.prediction(latent)
        value = categorical_to_scalar(value_logits, self.value_support, self.value_transform)
        return NetworkOutput(
            latent=latent,
            value=value,
            reward=torch.zeros_like(value),
            policy_logits=policy_logits,
            value_logits=value_logits,
            reward_logits=None,
        )

    def recurrent_inference(self, latent: Tensor, action: Tensor) -> NetworkOutput:
        """``latent [B, *latent_shape]``, ``action int64 [B]`` -> s^k, r^k, v^k, p^k."""
        if tuple(latent.shape[1:]) != self.latent_shape:
            raise InvalidArgumentError(
                f"latent: expected shape [B, {', '.join(map(str, self.latent_shape))}], "
                f"got {list(latent.shape)}"
            )
        if action.shape != latent.shape[:1]:
            raise InvalidArgumentError(
                f"action: expected shape [{latent.shape[0]}], got {list(action.shape)}"
            )
        next_latent = min_max_scale(self.dynamics(latent, action.long()))
        reward_logits = self.dynamics.reward(next_latent)
        policy_logits, value_logits = self.prediction(next_latent)
        return NetworkOutput(
            latent=next_latent,
            value=categorical_to_scalar(value_logits, self.value_support, self.value_transform),
            reward=categorical_to_scalar(reward_logits, self.reward_support, self.value_transform),
            policy_logits=policy_logits,
            value_logits=value_logits,
            reward_logits=reward_logits,
        )
