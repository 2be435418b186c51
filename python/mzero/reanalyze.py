"""Reanalyze: fresh value and policy targets from a target network.

Value and policy targets go stale as the network improves: the root values and search
policies in the replay buffer were computed by the network that played the game.
MuZero Reanalyze (Schrittwieser et al. 2021) and EfficientZero (Ye et al. 2021)
recompute them when a batch is sampled, with a *target network*, a copy of the
network refreshed every ``reanalyze.target_update_interval`` learner steps:

* **values**: the replay buffer samples with ``reanalysis=True`` and hands over, for
  every unrolled position ``t+k``, the observation stack whose value bootstraps
  ``z_{t+k}`` (``bootstrap_observation``), the discounted reward sum and the bootstrap
  discount, so that ``z = reward_sum + bootstrap_discount * v`` with ``v`` the target
  network's value of that observation (EfficientZero: no search for the values);
* **policies**: a fraction ``reanalyze.policy_fraction`` of the positions inside
  their game is searched again from its own observation stack, with the target
  network, the self-play search settings (root noise included, as in EfficientZero)
  and the stored legal actions, through one batched ``mzero.search``; the search
  policies become the targets.

The fresh values and policies are written back to the buffer by (game id, position)
(:meth:`Reanalysis.write_back`), so they persist and later samples and priorities
follow them. :class:`Reanalyzer` needs only a network, the config and numpy batches:
it runs the same in the learner's process or in a separate worker that receives
sampled batches and returns :class:`Reanalysis` results.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from mzero.config import Config
from mzero.errors import InvalidArgumentError
from mzero.networks import MuZeroNetwork
from mzero.planner import Planner

__all__ = ["Reanalysis", "Reanalyzer"]

_SEED_BOUND = 2**63


@dataclass(frozen=True)
class Reanalysis:
    """Fresh targets of one sampled batch (``B`` rows, ``K`` unroll steps, ``A`` actions)."""

    target_value: np.ndarray
    """float32 ``[B, K+1]``: the n-step targets with the target network's bootstraps."""
    target_policy: np.ndarray
    """float32 ``[B, K+1, A]``: the sampled policies, re-searched rows replaced."""
    value_game_id: np.ndarray
    """int64 ``[N]``: write-back rows of the fresh values: game ids ..."""
    value_position: np.ndarray
    """int64 ``[N]``: ... positions (``T`` for a truncated game's bootstrap) ..."""
    value: np.ndarray
    """float32 ``[N]``: ... and the target network's values there."""
    policy_game_id: np.ndarray
    """int64 ``[M]``: write-back rows of the re-searched policies: game ids ..."""
    policy_position: np.ndarray
    """int64 ``[M]``: ... positions ..."""
    policy: np.ndarray
    """float32 ``[M, A]``: ... and the new search policies."""
    seconds: float
    """Wall time of the reanalysis."""

    def apply(self, sample: Any) -> Any:
        """``sample`` (a :class:`mzero.SampleBatch`) with the fresh targets."""
        return dataclasses.replace(
            sample, target_value=self.target_value, target_policy=self.target_policy
        )

    def write_back(self, replay: Any) -> None:
        """Stores the fresh values and policies in ``replay`` (an :class:`mzero.ReplayBuffer`)."""
        if len(self.value):
            replay.update_values(self.value_game_id, self.value_position, self.value)
        if len(self.policy):
            replay.update_policies(self.policy_game_id, self.policy_position, self.policy)


def _no_rows(*row_shape: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An empty write-back: game ids, positions and rows of ``row_shape``."""
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, *row_shape), np.float32)


class Reanalyzer:
    """Recomputes the targets of sampled batches with ``target_network``.

    ``config.reanalyze`` says what is refreshed; ``two_player`` comes from the
    environment. The network is used for inference only (eval mode, no gradients).
    """

    def __init__(self, target_network: MuZeroNetwork, config: Config, two_player: bool) -> None:
        self.network = target_network
        self.settings = config.reanalyze
        search = dataclasses.replace(
            config.search,
            num_simulations=self.settings.num_simulations or config.search.num_simulations,
        )
        # explore=True: the re-search adds the self-play root noise (PUCT: Dirichlet;
        # Gumbel: its Gumbel noise), as EfficientZero's reanalysis does (its
        # _prepare_policy_re prepares the roots with root_exploration_fraction and
        # Dirichlet noises, like self-play); MuZero Reanalyze does not say otherwise
        self.search_config = search.to_search_config(two_player=two_player, explore=True)
        self._planner: Planner | None = None

    def _planner_for(self, games: int) -> Planner:
        if self._planner is None or self._planner.max_games < games:
            self._planner = Planner(self.network, self.search_config, games)
        return self._planner

    def __call__(self, sample: Any, rng: np.random.Generator) -> Reanalysis:
        """Fresh targets for ``sample`` (from ``ReplayBuffer.sample(..., reanalysis=True)``)."""
        if sample.bootstrap_position is None or sample.next_observation is None:
            raise InvalidArgumentError(
                "sample: expected a batch sampled with reanalysis=True "
                "(bootstrap observations, legal masks and next observations), got a plain batch"
            )
        start = time.perf_counter()
        target_value, value_rows = sample.target_value, _no_rows()
        if self.settings.value:
            target_value, value_rows = self._values(sample)
        target_policy, policy_rows = sample.target_policy, _no_rows(sample.target_policy.shape[-1])
        if self.settings.policy_fraction > 0:
            target_policy, policy_rows = self._policies(sample, rng)
        return Reanalysis(
            target_value,
            target_policy,
            *value_rows,
            *policy_rows,
            seconds=time.perf_counter() - start,
        )

    def _values(self, sample: Any) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """``z = reward_sum + bootstrap_discount * v`` with ``v`` from the target network."""
        rows, steps = np.nonzero(sample.bootstrap_position >= 0)
        values = np.zeros(sample.target_value.shape, np.float32)
        fresh = np.empty(0, np.float32)
        if len(rows):
            actions = None
            if self.network.stack_actions:
                actions = sample.bootstrap_observation_actions[rows, steps]
            fresh = self._planner_for(1).value(sample.bootstrap_observation[rows, steps], actions)
            values[rows, steps] = fresh
        target = (sample.reward_sum + sample.bootstrap_discount * values).astype(np.float32)
        positions = sample.bootstrap_position[rows, steps]
        return target, (sample.game_id[rows], positions, fresh)

    def _policies(
        self, sample: Any, rng: np.random.Generator
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Re-searches ``policy_fraction`` of the positions inside their game."""
        rows, steps = np.nonzero(sample.mask > 0)
        count = round(self.settings.policy_fraction * len(rows))
        if count == 0:
            return sample.target_policy, _no_rows(sample.target_policy.shape[-1])
        target = sample.target_policy.copy()
        chosen = np.sort(rng.choice(len(rows), size=count, replace=False))
        rows, steps = rows[chosen], steps[chosen]
        # the stack at t+k: observation for k = 0, next_observation[k-1] for k >= 1
        before = np.maximum(steps - 1, 0)
        stacks = np.where(
            (steps == 0).reshape(-1, *([1] * (sample.observation.ndim - 1))),
            sample.observation[rows],
            sample.next_observation[rows, before],
        )
        actions = None
        if self.network.stack_actions:
            actions = np.where(
                (steps == 0)[:, None],
                sample.observation_actions[rows],
                sample.next_observation_actions[rows, before],
            )
        out = self._planner_for(count).plan(
            stacks,
            sample.legal_mask[rows, steps],
            seed=int(rng.integers(_SEED_BOUND)),
            stack_actions=actions,
        )
        target[rows, steps] = out.policy
        return target, (sample.game_id[rows], sample.position[rows] + steps, out.policy)
