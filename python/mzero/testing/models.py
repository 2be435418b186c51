"""A random deterministic tabular model usable as ``recurrent_fn``."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["TabularModel"]


class TabularModel:
    """A deterministic MDP used as a perfect model by :func:`mzero.search`.

    States are integers ``0..S-1``. Stepping state ``s`` with action ``a`` gives
    state ``next_state[s, a]`` and reward ``reward[s, a]``; the network's value of
    ``s`` is ``value[s]`` and its prior logits ``logits[s]``. The model remembers the
    state of every ``(node, game)`` of the current search, exactly as a real model
    keeps ``latent[node, game]``.

    Args:
        next_state: int ``[S, A]`` in ``[0, S)``.
        reward: float32 ``[S, A]``.
        value: float32 ``[S]``.
        logits: float32 ``[S, A]``.
    """

    def __init__(
        self,
        next_state: npt.ArrayLike,
        reward: npt.ArrayLike,
        value: npt.ArrayLike,
        logits: npt.ArrayLike,
    ) -> None:
        self.next_state = np.asarray(next_state, dtype=np.int64)
        self.reward = np.asarray(reward, dtype=np.float32)
        self.value = np.asarray(value, dtype=np.float32)
        self.logits = np.asarray(logits, dtype=np.float32)
        num_states, num_actions = self.next_state.shape
        if self.reward.shape != (num_states, num_actions) or self.logits.shape != (
            num_states,
            num_actions,
        ):
            raise ValueError("reward and logits must have the shape [S, A] of next_state")
        if self.value.shape != (num_states,):
            raise ValueError("value must have shape [S]")
        if np.any(self.next_state < 0) or np.any(self.next_state >= num_states):
            raise ValueError("next_state must hold states in [0, S)")
        self._states = np.zeros((1, 0), dtype=np.int64)
        self.calls = 0

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        num_states: int,
        num_actions: int,
        *,
        reward_range: tuple[float, float] = (-1.0, 1.0),
        value_range: tuple[float, float] = (-1.0, 1.0),
        logit_scale: float = 2.0,
    ) -> TabularModel:
        """A model with uniform random transitions, rewards, values and logits."""
        return cls(
            rng.integers(0, num_states, size=(num_states, num_actions)),
            rng.uniform(*reward_range, size=(num_states, num_actions)),
            rng.uniform(*value_range, size=num_states),
            rng.uniform(-logit_scale, logit_scale, size=(num_states, num_actions)),
        )

    @property
    def num_states(self) -> int:
        return int(self.next_state.shape[0])

    @property
    def num_actions(self) -> int:
        return int(self.next_state.shape[1])

    def reset(
        self, states: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Starts a search from root ``states`` (int ``[B]``).

        Returns ``(root_value float32 [B], root_logits float32 [B, A])``.
        """
        roots = np.asarray(states, dtype=np.int64)
        self._states = roots[None, :].copy()
        self.calls = 0
        return self.value[roots].copy(), self.logits[roots].copy()

    def __call__(
        self,
        game: npt.NDArray[np.int64],
        parent: npt.NDArray[np.int64],
        action: npt.NDArray[np.int64],
        node: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """``recurrent_fn``: steps ``(game, parent)`` with ``action``, stores the new state."""
        self.calls += 1
        top = int(node.max()) + 1
        if top > self._states.shape[0]:
            grown = np.zeros((max(top, 2 * self._states.shape[0]), self._states.shape[1]), np.int64)
            grown[: self._states.shape[0]] = self._states
            self._states = grown
        parents = self._states[parent, game]
        children = self.next_state[parents, action]
        self._states[node, game] = children
        return (
            self.reward[parents, action].copy(),
            self.value[children].copy(),
            self.logits[children].copy(),
        )

    def state_of(self, node: int, game: int) -> int:
        """The state stored under ``(node, game)`` in the current search."""
        return int(self._states[node, game])

    def optimal_q(self, discount: float, *, iterations: int = 10_000) -> npt.NDArray[np.float64]:
        """``Q*[S, A]`` of the single-player MDP by value iteration."""
        reward = self.reward.astype(np.float64)
        v = np.zeros(self.num_states)
        for _ in range(iterations):
            q = reward + discount * v[self.next_state]
            new_v = q.max(axis=1)
            if np.max(np.abs(new_v - v)) < 1e-12:
                break
            v = new_v
        return reward + discount * v[self.next_state]
