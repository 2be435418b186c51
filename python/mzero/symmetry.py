"""Symmetries of a game, used to augment learner batches.

A board game whose rules do not change under rotations and reflections of the board
gives the learner the same lesson eight times over: AlphaGo Zero (Silver et al.
2017) trains on a random one of the 8 dihedral images of each position. Here a
symmetry ``g`` is two index maps:

* ``observation[g]``, int64 ``[N]`` over one flattened frame of ``N`` numbers: the
  image of a frame ``x`` is ``x[observation[g]]``;
* ``policy[g]``, int64 ``[A]`` over the actions: the image of a policy (any vector
  over the actions) ``p`` is ``p[policy[g]]``. An action ``a`` becomes
  ``action[g][a]``, the inverse map, so that ``image(p)[action[g][a]] == p[a]``.

:meth:`Symmetries.augment` maps each row of a :class:`mzero.networks.TrainingBatch`
by its own random symmetry: observations, actions and search policies move;
values, rewards, masks and weights stay.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from mzero.errors import InvalidArgumentError

if TYPE_CHECKING:
    from mzero.networks import TrainingBatch

__all__ = ["Symmetries"]


@dataclass(frozen=True)
class Symmetries:
    """``G`` symmetries of a game with ``A`` actions and frames of ``N`` numbers."""

    observation: np.ndarray
    """int64 ``[G, N]``: the image of a flattened frame ``x`` under g is ``x[observation[g]]``."""
    policy: np.ndarray
    """int64 ``[G, A]``: the image of a vector over the actions ``p`` is ``p[policy[g]]``."""
    action: np.ndarray = field(init=False, repr=False, compare=False)
    """int64 ``[G, A]``: action ``a`` becomes ``action[g][a]`` (the inverse of ``policy``)."""

    def __post_init__(self) -> None:
        for name in ("observation", "policy"):
            table = np.asarray(getattr(self, name))
            if table.dtype.kind not in "iu":
                raise InvalidArgumentError(f"{name}: expected integers, got dtype {table.dtype}")
            table = table.astype(np.int64)
            object.__setattr__(self, name, table)  # frozen: set once, here and below
            if table.ndim != 2 or any(sorted(row) != list(range(table.shape[1])) for row in table):
                raise InvalidArgumentError(
                    f"{name}: expected [G, n] rows that are permutations of 0..n-1, "
                    f"got shape {list(table.shape)}"
                )
        if self.observation.shape[0] != self.policy.shape[0]:
            raise InvalidArgumentError(
                f"observation, policy: expected the same number of symmetries, got "
                f"{self.observation.shape[0]} and {self.policy.shape[0]}"
            )
        action = np.empty_like(self.policy)
        rows = np.arange(self.policy.shape[0])[:, None]
        action[rows, self.policy] = np.arange(self.policy.shape[1])[None, :]
        object.__setattr__(self, "action", action)

    @classmethod
    def dihedral(cls, planes: int, height: int, width: int) -> Symmetries:
        """The 8 rotations and reflections of a square board (``height == width``).

        Frames are ``[planes, height, width]``, actions ``row * width + col``; every
        plane moves with the board. Index 0 is the identity.
        """
        if height != width or height < 1 or planes < 1:
            raise InvalidArgumentError(
                f"planes, height, width: expected a square board with planes >= 1, "
                f"got {planes}, {height}, {width}"
            )
        cells = np.arange(height * width).reshape(height, width)
        images = [np.rot90(cells, k) for k in range(4)]
        images += [image.T for image in images]
        policy = np.stack([image.reshape(-1) for image in images])
        offsets = (np.arange(planes) * height * width)[:, None]
        observation = np.stack([(offsets + row[None, :]).reshape(-1) for row in policy])
        return cls(observation, policy)

    @property
    def size(self) -> int:
        """``G``, the number of symmetries (the identity included)."""
        return int(self.policy.shape[0])

    def augment(self, batch: TrainingBatch, g: Tensor) -> TrainingBatch:
        """Row ``b`` of ``batch`` under symmetry ``g[b]`` (int64 ``[B]``, on the batch's device).

        Observations (and next observations) ``[B, ..., *obs]`` are mapped frame by
        frame, actions ``[B, K]`` (and the actions before stacked frames, -1 kept)
        through :attr:`action`, search policies ``[B, K+1, A]`` through :attr:`policy`.
        """
        rows, num_actions = batch.actions.shape[0], self.policy.shape[1]
        if g.shape != (rows,):
            raise InvalidArgumentError(f"g: expected shape [{rows}], got {list(g.shape)}")
        if batch.target_policy.shape[-1] != num_actions:
            raise InvalidArgumentError(
                f"batch.target_policy: expected {num_actions} actions, "
                f"got {batch.target_policy.shape[-1]}"
            )
        device = batch.actions.device
        observation = torch.from_numpy(self.observation).to(device)[g]  # [B, N]
        policy = torch.from_numpy(self.policy).to(device)[g]  # [B, A]
        action = torch.from_numpy(self.action).to(device)[g]  # [B, A]
        return dataclasses.replace(
            batch,
            observation=self._frames(batch.observation, observation),
            next_observation=None
            if batch.next_observation is None
            else self._frames(batch.next_observation, observation),
            actions=torch.gather(action, 1, batch.actions),
            observation_actions=self._stack_actions(batch.observation_actions, action),
            next_observation_actions=self._stack_actions(batch.next_observation_actions, action),
            target_policy=torch.gather(
                batch.target_policy, 2, policy[:, None, :].expand_as(batch.target_policy)
            ),
        )

    @staticmethod
    def _stack_actions(actions: Tensor | None, action: Tensor) -> Tensor | None:
        """``actions`` int64 ``[B, ...]`` (-1: none) mapped by row through ``action [B, A]``."""
        if actions is None:
            return None
        flat = actions.reshape(actions.shape[0], -1)
        mapped = torch.gather(action, 1, flat.clamp(min=0))
        return torch.where(flat < 0, flat, mapped).view_as(actions)

    def _frames(self, frames: Tensor, index: Tensor) -> Tensor:
        """``frames [B, ..., *obs]``, ``index [B, N]``: each frame of row b gathered by index[b]."""
        size = self.observation.shape[1]
        if frames.numel() % (frames.shape[0] * size):
            raise InvalidArgumentError(
                f"observation: expected frames of {size} numbers, got shape {list(frames.shape)}"
            )
        flat = frames.reshape(frames.shape[0], -1, size)
        return torch.gather(flat, 2, index[:, None, :].expand_as(flat)).view_as(frames)
