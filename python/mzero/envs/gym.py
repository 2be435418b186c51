"""An adapter from any gymnasium environment with Discrete actions and a Box observation.

Self-play and evaluation talk to environments through one small protocol,
:class:`Environment`: ``reset(seed) -> (observation, legal_mask)``,
``step(action) -> Step(observation, reward, terminated, truncated, legal_mask)``,
plus ``num_actions``, ``obs_shape`` and ``two_player``. :class:`GymAdapter`
provides it for a gymnasium environment:

* observations come back as arrays of shape ``obs_shape`` (no rescaling) and of dtype
  ``obs_dtype``: uint8 when the observation space is uint8 (image frames, which stay
  8-bit through self-play, the replay and Ray until the network's device converts
  them), float32 otherwise;
* the legal mask is ``info["legal_mask"]`` when the environment provides one
  (TicTacToe does), else all actions are legal;
* actions are ``0 .. num_actions - 1`` (a ``Discrete(n, start)`` space is shifted);
* ``two_player`` is the environment's ``two_player`` attribute (default False):
  rewards are then from the view of the player who just moved;
* ``symmetries`` is the environment's ``symmetries`` attribute (a
  :class:`mzero.symmetry.Symmetries`, default None): maps of the board under which
  the rules do not change, for augmenting learner batches.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Protocol

import gymnasium
import numpy as np
from gymnasium import spaces

from mzero.errors import InvalidArgumentError
from mzero.symmetry import Symmetries

__all__ = ["Environment", "GymAdapter", "Step"]


class Step(NamedTuple):
    """The result of one environment step."""

    observation: np.ndarray
    """``obs_dtype`` ``obs_shape``: the next observation (the mover's view in two-player
    games)."""
    reward: float
    """Reward of the transition (two-player: from the view of the player who moved)."""
    terminated: bool
    """The game ended (no bootstrap)."""
    truncated: bool
    """The episode was cut short, e.g. by a time limit (bootstrap from the value)."""
    legal_mask: np.ndarray
    """bool ``[num_actions]``: legal actions at the next observation."""


class Environment(Protocol):
    """What self-play, evaluation and the agent need from an environment."""

    num_actions: int
    obs_shape: tuple[int, ...]
    obs_dtype: np.dtype
    two_player: bool

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Starts an episode: (observation ``obs_dtype`` ``obs_shape``, legal_mask bool [A])."""
        ...

    def step(self, action: int) -> Step:
        """Plays ``action`` in ``0 .. num_actions - 1``."""
        ...

    def close(self) -> None:
        """Releases the environment's resources."""
        ...


class GymAdapter:
    """:class:`Environment` over a ``gymnasium.Env`` (see the module docstring)."""

    def __init__(self, env: gymnasium.Env[Any, Any], name: str | None = None) -> None:
        name = name or (env.spec.id if env.spec is not None else type(env.unwrapped).__name__)
        if not isinstance(env.action_space, spaces.Discrete):
            raise InvalidArgumentError(
                f"env {name!r}: expected a Discrete action space, got {env.action_space}"
            )
        if not isinstance(env.observation_space, spaces.Box):
            raise InvalidArgumentError(
                f"env {name!r}: expected a Box observation space, got {env.observation_space}"
            )
        self.env = env
        self.name = name
        self.num_actions = int(env.action_space.n)
        self.action_start = int(env.action_space.start)
        self.obs_shape: tuple[int, ...] = tuple(int(d) for d in env.observation_space.shape)
        self.obs_dtype = np.dtype(
            np.uint8 if env.observation_space.dtype == np.uint8 else np.float32
        )
        self.two_player = bool(getattr(env.unwrapped, "two_player", False))
        self.symmetries: Symmetries | None = getattr(env.unwrapped, "symmetries", None)
        if self.symmetries is not None and (
            self.symmetries.observation.shape[1] != math.prod(self.obs_shape)
            or self.symmetries.policy.shape[1] != self.num_actions
        ):
            raise InvalidArgumentError(
                f"env {name!r}: its symmetries map {self.symmetries.observation.shape[1]} "
                f"observation numbers and {self.symmetries.policy.shape[1]} actions, expected "
                f"{math.prod(self.obs_shape)} and {self.num_actions}"
            )

    def _legal_mask(self, info: dict[str, Any]) -> np.ndarray:
        mask = info.get("legal_mask")
        if mask is None:
            return np.ones(self.num_actions, dtype=bool)
        return np.array(mask, dtype=bool).reshape(self.num_actions)

    def _observation(self, obs: Any) -> np.ndarray:
        return np.asarray(obs, dtype=self.obs_dtype).reshape(self.obs_shape)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Starts an episode (seeded if ``seed`` is given)."""
        obs, info = self.env.reset(seed=seed)
        return self._observation(obs), self._legal_mask(info)

    def step(self, action: int) -> Step:
        """Plays ``action`` in ``0 .. num_actions - 1``."""
        if not 0 <= int(action) < self.num_actions:
            raise InvalidArgumentError(
                f"action: expected an integer in 0..{self.num_actions - 1}, got {action!r}"
            )
        obs, reward, terminated, truncated, info = self.env.step(int(action) + self.action_start)
        return Step(
            self._observation(obs),
            float(reward),
            bool(terminated),
            bool(truncated),
            self._legal_mask(info),
        )

    def close(self) -> None:
        """Closes the wrapped environment."""
        self.env.close()

    def __repr__(self) -> str:
        return (
            f"GymAdapter({self.name!r}, obs_shape={self.obs_shape}, obs_dtype={self.obs_dtype}, "
            f"num_actions={self.num_actions}, two_player={self.two_player})"
        )
