"""The MuZero network: representation h, dynamics g and prediction f behind two inference calls.

MuZero (Schrittwieser et al. 2020, section 3 and appendix F):

* ``initial_inference(o)``: ``s^0 = h(o)``, ``p^0, v^0 = f(s^0)``;
* ``recurrent_inference(s^{k-1}, a^k)``: ``s^k, r^k = g(s^{k-1}, a^k)``, ``p^k, v^k = f(s^k)``.

With ``network.stochastic`` (Stochastic MuZero, Antonoglou et al. 2022) the recurrent
step goes through an afterstate and a chance code:

* ``afterstate_inference(s^{k-1}, a^k)``: ``as^{k-1} = phi(s^{k-1}, a^k)``,
  ``Q^{k-1}, sigma^{k-1} = psi(as^{k-1})`` (afterstate value and chance-code logits);
* ``chance_inference(as^{k-1}, c^k)``: ``s^k, r^k = g(as^{k-1}, c^k)``, ``p^k, v^k = f(s^k)``;
* ``encode_chance(o_{t+k-1}, o_{t+k})``: the code ``c^k`` of the chance event between two
  observations (training only; planning samples codes from sigma).

Latent states (and afterstates) are min-max scaled to ``[0, 1]`` per sample after h and after g
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
from mzero.networks.mlp import (
    MLPAfterstateDynamics,
    MLPChanceEncoder,
    MLPDynamics,
    MLPPrediction,
    MLPRepresentation,
    mlp,
)
from mzero.networks.resnet import (
    DownsampleRepresentation,
    ResNetDynamics,
    ResNetPrediction,
    ResNetRepresentation,
    downsampled,
)
from mzero.networks.transforms import categorical_to_scalar

__all__ = [
    "AfterstateOutput",
    "ChanceCode",
    "MuZeroNetwork",
    "NetworkOutput",
    "min_max_scale",
    "scale_gradient",
]


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


class AfterstateOutput(NamedTuple):
    """What one afterstate inference returns (batch ``B``, ``C`` chance codes)."""

    latent: Tensor
    """Afterstate ``[B, *latent_shape]``, min-max scaled to [0, 1] per sample."""
    value: Tensor
    """Decoded afterstate value Q ``[B]``, from the view of the player who acted."""
    value_logits: Tensor
    """Q logits ``[B, 2S + 1]``."""
    chance_logits: Tensor
    """Logits of sigma, the distribution of the chance code, ``[B, C]``."""

    def float(self) -> AfterstateOutput:
        """The same output with every tensor in float32."""
        return AfterstateOutput(*(t.float() for t in self))


class ChanceCode(NamedTuple):
    """The encoder's code of a chance event (batch ``B``, ``C`` codes)."""

    code: Tensor
    """``[B, C]``: one-hot of the argmax in the forward pass; the gradient flows to the
    encoder's softmax (straight-through estimator)."""
    soft: Tensor
    """``[B, C]``: the encoder's softmax c^e (for the commitment loss)."""


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
    With ``config.stack_actions`` the representation also takes ``stack_actions`` int64
    ``[B, frame_stack]``, the action that led to each frame (-1 before the first), as
    planes (resnet) or inputs (mlp) of ``(a + 1) / A`` beside the frames.
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
        self.input_scale = float(config.input_scale)
        self.stack_actions = bool(config.stack_actions)
        # one action plane (resnet) or input (mlp) per stacked frame
        action_inputs = self.frame_stack if self.stack_actions else 0
        if self.num_actions < 1:
            raise InvalidArgumentError(f"num_actions: expected >= 1, got {num_actions}")
        if config.kind == "mlp":
            obs_dim = self.frame_stack * math.prod(self.obs_shape)
            self.latent_shape: tuple[int, ...] = (config.latent_dim,)
            self.representation: nn.Module = MLPRepresentation(
                obs_dim + action_inputs, config.latent_dim, config.hidden
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
            if config.downsample:
                board = (downsampled(height), downsampled(width))
                self.representation = DownsampleRepresentation(
                    self.frame_stack * channels + action_inputs, config.channels, config.blocks
                )
            else:
                board = (height, width)
                self.representation = ResNetRepresentation(
                    self.frame_stack * channels + action_inputs, config.channels, config.blocks
                )
            self.latent_shape = (config.channels, *board)
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
        self.stochastic = config.stochastic
        self.chance_codes = config.chance_codes if config.stochastic else 0
        if config.stochastic:
            if config.kind != "mlp":
                raise InvalidArgumentError(
                    f"network.kind: expected 'mlp' when network.stochastic is on, "
                    f"got {config.kind!r}"
                )
            codes = config.chance_codes
            obs_dim = self.frame_stack * math.prod(self.obs_shape)
            self.afterstate_dynamics: nn.Module = MLPAfterstateDynamics(
                config.latent_dim, self.num_actions, config.hidden
            )
            # psi: sigma over the codes and the afterstate value Q
            self.afterstate_prediction: nn.Module = MLPPrediction(
                config.latent_dim, codes, config.hidden, config.value_support
            )
            self.chance_encoder: nn.Module = MLPChanceEncoder(obs_dim, config.hidden, codes)
            # g from an afterstate: the codes are its actions
            self.dynamics = MLPDynamics(
                config.latent_dim, codes, config.hidden, config.reward_support
            )
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
        stacked = stacked.float()  # uint8 frames become float here, on the device
        if self.input_scale != 1.0:
            stacked = stacked * self.input_scale
        if self.kind == "mlp":
            return stacked.flatten(1)
        return stacked.flatten(1, 2)

    def _action_input(self, stack_actions: Tensor | None, frames: Tensor) -> Tensor:
        """``stack_actions int64 [B, stack]`` -> ``frames`` (the network input) with the
        action planes (resnet, ``[B, stack*C + stack, H, W]``) or inputs (mlp) beside them."""
        expected = (frames.shape[0], self.frame_stack)
        if stack_actions is None or tuple(stack_actions.shape) != expected:
            got = None if stack_actions is None else list(stack_actions.shape)
            raise InvalidArgumentError(
                f"stack_actions: expected int64 [B, {self.frame_stack}] (the action before "
                f"each stacked frame) with network.stack_actions on, got {got}"
            )
        planes = (stack_actions.to(frames.dtype) + 1.0) / self.num_actions  # -1 (none) -> 0
        if self.kind == "mlp":
            return torch.cat([frames, planes], dim=1)
        height, width = frames.shape[-2:]
        return torch.cat([frames, planes[:, :, None, None].expand(-1, -1, height, width)], dim=1)

    def represent(self, obs: Tensor, stack_actions: Tensor | None = None) -> Tensor:
        """``obs [B, *obs_shape]`` (or stacked) -> scaled latent state ``[B, *latent_shape]``.

        ``stack_actions`` int64 ``[B, frame_stack]``: needed with ``network.stack_actions``
        (the class docstring), ignored otherwise.
        """
        frames = self._network_input(obs)
        if self.stack_actions:
            frames = self._action_input(stack_actions, frames)
        return min_max_scale(self.representation(frames))

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

    def initial_inference(self, obs: Tensor, stack_actions: Tensor | None = None) -> NetworkOutput:
        """``obs [B, *obs_shape]`` (or stacked) -> root latent, value, policy (reward = 0).

        ``stack_actions``: as :meth:`represent`.
        """
        latent = self.represent(obs, stack_actions)
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

    def _check_step(self, latent: Tensor, action: Tensor, name: str) -> None:
        if tuple(latent.shape[1:]) != self.latent_shape:
            raise InvalidArgumentError(
                f"latent: expected shape [B, {', '.join(map(str, self.latent_shape))}], "
                f"got {list(latent.shape)}"
            )
        if action.shape[:1] != latent.shape[:1]:
            raise InvalidArgumentError(
                f"{name}: expected shape [{latent.shape[0]}], got {list(action.shape)}"
            )

    def recurrent_inference(self, latent: Tensor, action: Tensor) -> NetworkOutput:
        """``latent [B, *latent_shape]``, ``action int64 [B]`` -> s^k, r^k, v^k, p^k.

        A stochastic network steps through :meth:`afterstate_inference` and
        :meth:`chance_inference` instead."""
        if self.stochastic:
            raise InvalidArgumentError(
                "network.stochastic: a stochastic network steps with afterstate_inference "
                "and chance_inference, not recurrent_inference"
            )
        self._check_step(latent, action, "action")
        return self._state_output(min_max_scale(self.dynamics(latent, action.long())))

    def afterstate_inference(self, latent: Tensor, action: Tensor) -> AfterstateOutput:
        """``latent [B, *latent_shape]``, ``action int64 [B]`` -> afterstate, Q, sigma logits."""
        self._check_step(latent, action, "action")
        afterstate = min_max_scale(self.afterstate_dynamics(latent, action.long()))
        chance_logits, value_logits = self.afterstate_prediction(afterstate)
        return AfterstateOutput(
            latent=afterstate,
            value=categorical_to_scalar(value_logits, self.value_support, self.value_transform),
            value_logits=value_logits,
            chance_logits=chance_logits,
        )

    def chance_inference(self, afterstate: Tensor, code: Tensor) -> NetworkOutput:
        """``afterstate [B, *latent_shape]`` and a chance code (int64 ``[B]``, or one-hot
        ``[B, C]`` as :meth:`encode_chance` gives) -> s^k, r^k, v^k, p^k."""
        self._check_step(afterstate, code, "code")
        if code.dim() == 1:
            code = torch.nn.functional.one_hot(code.long(), self.chance_codes)
        return self._state_output(min_max_scale(self.dynamics.step(afterstate, code)))

    def encode_chance(self, before: Tensor, after: Tensor) -> ChanceCode:
        """The code of the chance event between two network inputs: ``before`` and
        ``after`` ``[B, *obs_shape]`` (or stacked), the observations at t and t + 1."""
        logits = self.chance_encoder(self._network_input(before), self._network_input(after))
        soft = torch.softmax(logits.float(), dim=-1)
        hard = torch.nn.functional.one_hot(soft.argmax(dim=-1), self.chance_codes).to(soft)
        return ChanceCode(code=hard + soft - soft.detach(), soft=soft)

    def _state_output(self, next_latent: Tensor) -> NetworkOutput:
        """The reward, value and policy of a scaled state reached by a dynamics step."""
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
