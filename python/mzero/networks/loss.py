"""The MuZero loss over a K-step unroll of a replay batch.

MuZero (Schrittwieser et al. 2020, equation 1 and the appendix pseudocode)::

    l = sum_{k=0..K} l^p(pi_{t+k}, p^k) + w_v l^v(z_{t+k}, v^k) + w_r l^r(u_{t+k}, r^k)

(``w_r`` is 1 in the papers; LightZero exposes it as ``reward_loss_weight``)

* the network is unrolled from ``s^0 = h(o_t)`` through ``s^k = g(s^{k-1}, a_{t+k-1})``;
  the gradient into each latent state is halved (``scale_gradient(s^k, 0.5)``);
* each recurrent step's loss has its gradient scaled by ``1/K`` (the forward value
  is unchanged, as in the pseudocode's ``scale_gradient(l, 1/K)``);
* policy: cross-entropy against the search policy; value and reward:
  cross-entropy against the two-hot encoding of ``h(target)`` on their supports
  (of ``target`` itself when the network's ``value_transform`` is off);
* states past the end of a game (``mask[k] = 0``): past the end of a *terminated*
  game, with ``absorbing=True`` (the MuZero pseudocode: "states past the end of
  games are treated as absorbing states"), their value and reward are trained
  towards the replay's targets there (0) and only their policy is masked. Past the
  end of a *truncated* game (``terminated[b]`` false: a time limit cut it off)
  nothing is known, so nothing is trained there; with ``absorbing=False`` neither
  kind is. Untrained steps contribute nothing: the value and policy of step k count
  iff ``mask[k]``, the reward of step k >= 1 iff ``mask[k-1]`` (the action into step
  k was played; this keeps the final reward of a game);
* optionally (``consistency_weight > 0``, EfficientZero), the negative cosine
  similarity between the projected s^k and the projected representation of the
  real o_{t+k}, for every k with t + k <= T (the step onto the game's last
  observation included, as EfficientZero keeps it), with the same 1/K gradient
  scale;
* Stochastic MuZero (``network.stochastic``, Antonoglou et al. 2022, section 4): each
  recurrent step k goes through the afterstate ``as^k = phi(s^k, a_{t+k})`` and the
  code ``c_{t+k+1} = e(o_{t+k}, o_{t+k+1})`` of the real chance event (one-hot,
  straight-through), ``s^{k+1} = g(as^k, c_{t+k+1})``; three terms join the loss for
  every k < K: the afterstate value ``l^Q(z_{t+k}, Q^k)`` (value support, weighted
  and masked like the value of step k), the code distribution ``l^sigma(c_{t+k+1}, sigma^k)``
  (cross-entropy against the code, no gradient into the target) and the commitment
  ``beta ||c_{t+k+1} - c^e_{t+k+1}||^2`` (into the encoder), the last two for every k
  with t + k < T (a move was played there); all with the 1/K gradient scale;
* prioritised replay: each sample's loss is multiplied by its importance weight,
  and its new priority is ``|v^0 - z_t|`` (appendix G).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from mzero.errors import InvalidArgumentError
from mzero.networks.muzero_net import (
    AfterstateOutput,
    ChanceCode,
    MuZeroNetwork,
    NetworkOutput,
    scale_gradient,
)
from mzero.networks.transforms import scalar_to_two_hot

__all__ = [
    "LossOutput",
    "TrainingBatch",
    "consistency_loss",
    "muzero_loss",
    "stochastic_unroll",
    "unroll",
]

DYNAMICS_GRADIENT_SCALE = 0.5
"""Gradient scale into each latent state between unroll steps (MuZero appendix G)."""


@dataclass(frozen=True)
class TrainingBatch:
    """A replay batch as torch tensors (``B`` positions, ``K`` unroll steps, ``A`` actions)."""

    observation: Tensor
    """float32 ``[B, stack, *obs_shape]`` at position t (uint8 frames converted on the
    device, not scaled: the network scales its input)."""
    actions: Tensor
    """int64 ``[B, K]``: a_t .. a_{t+K-1}."""
    target_value: Tensor
    """float32 ``[B, K + 1]``: z_{t+k}."""
    target_reward: Tensor
    """float32 ``[B, K + 1]``: u_{t+k} (index 0 unused)."""
    target_policy: Tensor
    """float32 ``[B, K + 1, A]``: search policies pi_{t+k}."""
    mask: Tensor
    """float32 ``[B, K + 1]``: 1 where t + k is inside the game."""
    weight: Tensor
    """float32 ``[B]``: importance-sampling weights."""
    next_observation: Tensor | None = None
    """float32 ``[B, K, stack, *obs_shape]``: the stacks ending at o_{t+1} .. o_{t+K}
    (consistency targets), or ``None``."""
    terminated: Tensor | None = None
    """float32 ``[B]``: 1 where the row's game terminated (absorbing past its end), 0
    where it was truncated (nothing trained past its end); ``None``: every row
    terminated."""
    observation_actions: Tensor | None = None
    """int64 ``[B, stack]``: the action that led to each frame of ``observation`` (-1
    before the first); what a network with ``stack_actions`` needs beside the frames."""
    next_observation_actions: Tensor | None = None
    """int64 ``[B, K, stack]``: the same for ``next_observation``."""

    @classmethod
    def from_sample(cls, sample: Any, device: torch.device | str = "cpu") -> TrainingBatch:
        """From the numpy arrays of ``mzero.ReplayBuffer.sample`` (attributes of the same names)."""

        def tensor(name: str, dtype: torch.dtype) -> Tensor:
            # uploaded as stored (uint8 frames as 8 bits), converted on the device
            array = np.ascontiguousarray(getattr(sample, name))
            return torch.from_numpy(array).to(device=device, non_blocking=True).to(dtype)

        def optional(name: str, dtype: torch.dtype) -> Tensor | None:
            return None if getattr(sample, name, None) is None else tensor(name, dtype)

        return cls(
            next_observation=optional("next_observation", torch.float32),
            observation=tensor("observation", torch.float32),
            observation_actions=optional("observation_actions", torch.int64),
            next_observation_actions=optional("next_observation_actions", torch.int64),
            actions=tensor("actions", torch.int64),
            target_value=tensor("target_value", torch.float32),
            target_reward=tensor("target_reward", torch.float32),
            target_policy=tensor("target_policy", torch.float32),
            mask=tensor("mask", torch.float32),
            weight=tensor("weight", torch.float32),
            terminated=tensor("terminated", torch.float32),
        )


class LossOutput(NamedTuple):
    """The loss to minimise and its parts (means over the batch, sums over the unroll)."""

    loss: Tensor
    """Scalar: ``mean_b weight_b sum_k (l^p + w_v l^v + w_r l^r)``, differentiable."""
    policy: Tensor
    """Scalar, detached: policy cross-entropy."""
    value: Tensor
    """Scalar, detached: value cross-entropy (before ``value_weight``)."""
    reward: Tensor
    """Scalar, detached: reward cross-entropy."""
    priorities: Tensor
    """``[B]``, detached: ``|v^0 - z_t|``, the new replay priorities."""
    consistency: Tensor
    """Scalar, detached: the consistency loss (before its weight); 0 when off."""
    afterstate_value: Tensor
    """Scalar, detached: the afterstates' value cross-entropy (stochastic; else 0)."""
    chance: Tensor
    """Scalar, detached: sigma's cross-entropy against the codes (stochastic; else 0)."""
    commitment: Tensor
    """Scalar, detached: the commitment loss before its weight (stochastic; else 0)."""


def unroll(
    network: MuZeroNetwork,
    observation: Tensor,
    actions: Tensor,
    dynamics_gradient_scale: float = DYNAMICS_GRADIENT_SCALE,
    observation_actions: Tensor | None = None,
) -> list[NetworkOutput]:
    """``[initial_inference(o_t), recurrent step 1, ..., recurrent step K]``.

    ``observation [B, stack, *obs_shape]`` (or ``[B, *obs_shape]``), ``actions int64 [B, K]``,
    ``observation_actions int64 [B, stack]`` (a network with ``stack_actions``).
    The latent state carried from step k to k + 1 has its gradient scaled by
    ``dynamics_gradient_scale``.
    """
    outputs = [network.initial_inference(observation, observation_actions)]
    latent = outputs[0].latent
    for k in range(actions.shape[1]):
        out = network.recurrent_inference(latent, actions[:, k])
        outputs.append(out)
        latent = scale_gradient(out.latent, dynamics_gradient_scale)
    return outputs


class StochasticUnroll(NamedTuple):
    """:func:`stochastic_unroll`'s outputs (K steps)."""

    states: list[NetworkOutput]
    """K + 1 state outputs: initial inference, then one per chance step."""
    afterstates: list[AfterstateOutput]
    """K afterstate outputs: ``as^k`` for k = 0 .. K - 1."""
    codes: list[ChanceCode]
    """K encoder codes: ``c_{t+k+1}``."""


def stochastic_unroll(
    network: MuZeroNetwork,
    observation: Tensor,
    actions: Tensor,
    next_observation: Tensor,
    dynamics_gradient_scale: float = DYNAMICS_GRADIENT_SCALE,
    observation_actions: Tensor | None = None,
) -> StochasticUnroll:
    """Stochastic MuZero's unroll through afterstates and the encoder's codes.

    ``observation [B, stack, *obs_shape]``, ``actions int64 [B, K]``,
    ``next_observation [B, K, stack, *obs_shape]`` (the stacks ending at o_{t+1} ..
    o_{t+K}). The state carried from step k to k + 1 has its gradient scaled by
    ``dynamics_gradient_scale``, as in :func:`unroll` (``observation_actions`` too).
    """
    states = [network.initial_inference(observation, observation_actions)]
    afterstates: list[AfterstateOutput] = []
    codes: list[ChanceCode] = []
    latent = states[0].latent
    before = observation
    for k in range(actions.shape[1]):
        after = next_observation[:, k]
        afterstate = network.afterstate_inference(latent, actions[:, k])
        code = network.encode_chance(before, after)
        state = network.chance_inference(afterstate.latent, code.code.to(afterstate.latent))
        afterstates.append(afterstate)
        codes.append(code)
        states.append(state)
        latent = scale_gradient(state.latent, dynamics_gradient_scale)
        before = after
    return StochasticUnroll(states, afterstates, codes)


def _cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """``-sum_i target_i log softmax(logits)_i`` over the last axis."""
    return -(target * torch.log_softmax(logits, dim=-1)).sum(dim=-1)


def consistency_loss(
    network: MuZeroNetwork, outputs: list[NetworkOutput], batch: TrainingBatch
) -> Tensor:
    """``[B, K]``: ``-cos(P(proj(s^k)), proj(h(o_{t+k})))`` (EfficientZero's SimSiam loss).

    The target side (the representation of the real next observations) carries no
    gradient; ``P`` is the predictor head. Needs ``batch.next_observation``.
    """
    if batch.next_observation is None:
        raise InvalidArgumentError(
            "batch.next_observation: expected the next observations for the consistency "
            "loss (ReplayBuffer.sample(..., next_observations=True)), got None"
        )
    num_rows, num_steps = batch.actions.shape
    with torch.no_grad():
        next_obs = batch.next_observation.flatten(0, 1)  # [B*K, stack, *obs]
        next_actions = batch.next_observation_actions
        if next_actions is not None:
            next_actions = next_actions.flatten(0, 1)  # [B*K, stack]
        target = network.project(network.represent(next_obs, next_actions), predictor=False)
        target = torch.nn.functional.normalize(target, dim=-1).view(num_rows, num_steps, -1)
    latents = torch.stack([o.latent for o in outputs[1:]], dim=1).flatten(0, 1)
    prediction = network.project(latents, predictor=True)
    prediction = torch.nn.functional.normalize(prediction, dim=-1).view(num_rows, num_steps, -1)
    return -(prediction * target).sum(dim=-1)


def muzero_loss(
    network: MuZeroNetwork,
    batch: TrainingBatch,
    value_weight: float = 0.25,
    absorbing: bool = True,
    reward_weight: float = 1.0,
    consistency_weight: float = 0.0,
    autocast_dtype: torch.dtype | None = None,
    commitment_weight: float = 0.0,
) -> LossOutput:
    """The K-step MuZero loss of ``batch`` (see the module docstring for every term).

    ``absorbing``: how states past the end of a game count (module docstring).
    ``value_weight``, ``reward_weight``: ``w_v`` and ``w_r`` of the module docstring.
    ``consistency_weight > 0`` adds :func:`consistency_loss` for steps inside the game.
    ``autocast_dtype`` (say ``torch.bfloat16``): the network calls run under
    torch.autocast in that precision; the losses are taken in float32 either way.
    ``commitment_weight``: beta of a stochastic network's commitment loss.
    """
    num_steps = batch.actions.shape[1]
    device_type = batch.observation.device.type
    chance: StochasticUnroll | None = None
    with torch.autocast(device_type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        if network.stochastic:
            if batch.next_observation is None:
                raise InvalidArgumentError(
                    "batch.next_observation: expected the next observations for a "
                    "stochastic network's chance codes, got None"
                )
            chance = stochastic_unroll(
                network,
                batch.observation,
                batch.actions,
                batch.next_observation,
                observation_actions=batch.observation_actions,
            )
            outputs = chance.states
        else:
            outputs = unroll(
                network,
                batch.observation,
                batch.actions,
                observation_actions=batch.observation_actions,
            )
        if consistency_weight > 0 and num_steps > 0:
            step_consistency = consistency_loss(network, outputs, batch).float()
    outputs = [o.float() for o in outputs]  # the losses are taken in float32

    policy_logits = torch.stack([o.policy_logits for o in outputs], dim=1)  # [B, K+1, A]
    value_logits = torch.stack([o.value_logits for o in outputs], dim=1)  # [B, K+1, 2S+1]
    policy_ce = _cross_entropy(policy_logits, batch.target_policy)  # [B, K+1]
    value_ce = _cross_entropy(
        value_logits,
        scalar_to_two_hot(batch.target_value, network.value_support, network.value_transform),
    )
    reward_ce = torch.zeros_like(value_ce)
    if num_steps > 0:
        reward_logits = torch.stack([o.reward_logits for o in outputs[1:]], dim=1)  # [B, K, 2R+1]
        reward_target = scalar_to_two_hot(
            batch.target_reward[:, 1:], network.reward_support, network.value_transform
        )
        reward_ce = torch.cat(
            [reward_ce[:, :1], _cross_entropy(reward_logits, reward_target)], dim=1
        )

    state_mask = batch.mask
    reward_mask = torch.cat([torch.zeros_like(state_mask[:, :1]), state_mask[:, :-1]], dim=1)
    value_mask = state_mask
    if absorbing:
        # past the end of a terminated game: value and reward 0 are real targets
        absorbed = (
            torch.ones_like(state_mask[:, :1])
            if batch.terminated is None
            else batch.terminated[:, None].to(state_mask.dtype)
        )
        value_mask = torch.maximum(value_mask, absorbed)
        reward_mask = torch.maximum(reward_mask, absorbed)
        reward_mask[:, 0] = 0.0
    policy_ce = policy_ce * state_mask
    value_ce = value_ce * value_mask
    reward_ce = reward_ce * reward_mask

    # gradient scale 1 for the initial step and 1/K for each recurrent step
    step_scale = torch.full((num_steps + 1,), 1.0 / max(num_steps, 1), device=policy_ce.device)
    step_scale[0] = 1.0
    consistency = torch.zeros_like(value_ce)
    if consistency_weight > 0 and num_steps > 0:
        # o_{t+k} is real while t + k <= T (mask[k - 1]): the step onto o_T counts
        step_consistency = step_consistency * state_mask[:, :-1]
        consistency = torch.cat([consistency[:, :1], step_consistency], dim=1)
    # Stochastic MuZero's terms of step k < K sit at index k + 1 (the recurrent steps)
    afterstate_ce = torch.zeros_like(value_ce)
    chance_ce = torch.zeros_like(value_ce)
    commitment = torch.zeros_like(value_ce)
    if chance is not None and num_steps > 0:
        moved = state_mask[:, :-1]  # a move was played at t + k
        q_logits = torch.stack([a.value_logits.float() for a in chance.afterstates], dim=1)
        q_target = scalar_to_two_hot(
            batch.target_value[:, :-1], network.value_support, network.value_transform
        )
        sigma_logits = torch.stack([a.chance_logits.float() for a in chance.afterstates], dim=1)
        soft = torch.stack([c.soft for c in chance.codes], dim=1)  # [B, K, C]
        hard = torch.nn.functional.one_hot(soft.argmax(dim=-1), soft.shape[-1]).to(soft)
        step_q = _cross_entropy(q_logits, q_target) * value_mask[:, :-1]
        step_sigma = _cross_entropy(sigma_logits, hard) * moved
        step_commit = ((hard - soft) ** 2).sum(dim=-1) * moved
        afterstate_ce = torch.cat([afterstate_ce[:, :1], step_q], dim=1)
        chance_ce = torch.cat([chance_ce[:, :1], step_sigma], dim=1)
        commitment = torch.cat([commitment[:, :1], step_commit], dim=1)
    per_step = scale_gradient(
        policy_ce
        + value_weight * value_ce
        + reward_weight * reward_ce
        + consistency_weight * consistency
        + value_weight * afterstate_ce
        + chance_ce
        + commitment_weight * commitment,
        step_scale,
    )
    loss = (batch.weight * per_step.sum(dim=1)).mean()

    priorities = (outputs[0].value.detach() - batch.target_value[:, 0]).abs()
    return LossOutput(
        loss=loss,
        policy=policy_ce.detach().sum(dim=1).mean(),
        value=value_ce.detach().sum(dim=1).mean(),
        reward=reward_ce.detach().sum(dim=1).mean(),
        priorities=priorities,
        consistency=consistency.detach().sum(dim=1).mean(),
        afterstate_value=afterstate_ce.detach().sum(dim=1).mean(),
        chance=chance_ce.detach().sum(dim=1).mean(),
        commitment=commitment.detach().sum(dim=1).mean(),
    )
