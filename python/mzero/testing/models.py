"""Random tabular models: deterministic (``recurrent_fn``) and with chance nodes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["StochasticTabularModel", "TabularModel"]


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


class StochasticTabularModel:
    """A random MDP with chance nodes, for :func:`mzero.stochastic_search`.

    States are ``0..S-1``; the afterstate of ``(s, a)`` is ``s * A + a``. Its value is
    ``afterstate_value[s, a]`` and its chance codes have logits ``code_logits[s, a]``;
    code ``c`` leads to state ``next_state[s, a, c]`` with reward ``reward[s, a, c]``.
    A state's value is ``value[s]`` and its prior logits ``logits[s]``. The model keeps
    the state or afterstate of every ``(node, game)`` of the current search, as a real
    model keeps ``latent[node, game]``; :meth:`afterstate` and :meth:`dynamics` are
    the search's ``afterstate_fn`` and ``dynamics_fn``.

    Args:
        next_state: int ``[S, A, C]`` in ``[0, S)``.
        reward: float32 ``[S, A, C]``.
        afterstate_value: float32 ``[S, A]``.
        code_logits: float32 ``[S, A, C]``.
        value: float32 ``[S]``.
        logits: float32 ``[S, A]``.
    """

    def __init__(
        self,
        next_state: npt.ArrayLike,
        reward: npt.ArrayLike,
        afterstate_value: npt.ArrayLike,
        code_logits: npt.ArrayLike,
        value: npt.ArrayLike,
        logits: npt.ArrayLike,
    ) -> None:
        self.next_state = np.asarray(next_state, dtype=np.int64)
        self.reward = np.asarray(reward, dtype=np.float32)
        self.afterstate_value = np.asarray(afterstate_value, dtype=np.float32)
        self.code_logits = np.asarray(code_logits, dtype=np.float32)
        self.value = np.asarray(value, dtype=np.float32)
        self.logits = np.asarray(logits, dtype=np.float32)
        if self.next_state.ndim != 3:
            raise ValueError("next_state must have shape [S, A, C]")
        s, a, c = self.next_state.shape
        for name, shape in (
            ("reward", (s, a, c)),
            ("afterstate_value", (s, a)),
            ("code_logits", (s, a, c)),
            ("value", (s,)),
            ("logits", (s, a)),
        ):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must have shape {list(shape)} (next_state is [S, A, C])")
        if np.any(self.next_state < 0) or np.any(self.next_state >= s):
            raise ValueError("next_state must hold states in [0, S)")
        self._latent = np.zeros((1, 0), dtype=np.int64)
        self.afterstate_calls = 0
        self.dynamics_calls = 0

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        num_states: int,
        num_actions: int,
        num_chance_outcomes: int,
        *,
        reward_range: tuple[float, float] = (-1.0, 1.0),
        value_range: tuple[float, float] = (-1.0, 1.0),
        logit_scale: float = 2.0,
    ) -> StochasticTabularModel:
        """A model with uniform random transitions, rewards, values and logits."""
        s, a, c = num_states, num_actions, num_chance_outcomes
        return cls(
            rng.integers(0, s, size=(s, a, c)),
            rng.uniform(*reward_range, size=(s, a, c)),
            rng.uniform(*value_range, size=(s, a)),
            rng.uniform(-logit_scale, logit_scale, size=(s, a, c)),
            rng.uniform(*value_range, size=s),
            rng.uniform(-logit_scale, logit_scale, size=(s, a)),
        )

    @property
    def num_states(self) -> int:
        return int(self.next_state.shape[0])

    @property
    def num_actions(self) -> int:
        return int(self.next_state.shape[1])

    @property
    def num_chance_outcomes(self) -> int:
        return int(self.next_state.shape[2])

    def reset(
        self, states: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Starts a search from root ``states`` (int ``[B]``).

        Returns ``(root_value float32 [B], root_logits float32 [B, A])``.
        """
        roots = np.asarray(states, dtype=np.int64)
        self._latent = roots[None, :].copy()
        self.afterstate_calls = self.dynamics_calls = 0
        return self.value[roots].copy(), self.logits[roots].copy()

    def _store(
        self, node: npt.NDArray[np.int64], game: npt.NDArray[np.int64], x: np.ndarray
    ) -> None:
        top = int(node.max()) + 1
        if top > self._latent.shape[0]:
            grown = np.zeros((max(top, 2 * self._latent.shape[0]), self._latent.shape[1]), np.int64)
            grown[: self._latent.shape[0]] = self._latent
            self._latent = grown
        self._latent[node, game] = x

    def afterstate(
        self,
        game: npt.NDArray[np.int64],
        parent: npt.NDArray[np.int64],
        action: npt.NDArray[np.int64],
        node: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """``afterstate_fn``: ``(value [N], code_logits [N, C])`` of ``(state, action)``."""
        self.afterstate_calls += 1
        states = self._latent[parent, game]
        self._store(node, game, states * self.num_actions + action)
        return self.afterstate_value[states, action].copy(), self.code_logits[states, action].copy()

    def dynamics(
        self,
        game: npt.NDArray[np.int64],
        parent: npt.NDArray[np.int64],
        code: npt.NDArray[np.int64],
        node: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """``dynamics_fn``: ``(reward [N], value [N], logits [N, A])`` of ``(afterstate, code)``."""
        self.dynamics_calls += 1
        after = self._latent[parent, game]
        s, a = after // self.num_actions, after % self.num_actions
        nxt = self.next_state[s, a, code]
        self._store(node, game, nxt)
        return self.reward[s, a, code].copy(), self.value[nxt].copy(), self.logits[nxt].copy()

    def latent_of(self, node: int, game: int) -> int:
        """The state (decision node) or afterstate ``s * A + a`` (chance node) of a node."""
        return int(self._latent[node, game])
