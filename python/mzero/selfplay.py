"""Self-play: B environments stepped together, planned by one batched search per step.

One step of :class:`SelfPlay` (DESIGN.md, "Data flow of one self-play step"):

1. stack the B current observations ``[B, stack, *obs_shape]`` and run
   ``initial_inference`` once: root latent, value ``[B]`` and logits ``[B, A]``;
2. call ``mzero.search`` once for the batch. Its ``recurrent_fn(game, parent, action,
   node)`` gathers the parents' latents from one preallocated tensor
   ``latent[num_simulations + 1, B, *latent_shape]`` on the network's device
   (node 0 is the root, simulation k expands node k + 1), runs
   ``recurrent_inference`` and writes the children's latents back;
3. pick the actions. PUCT (``search.algorithm = "muzero"``): sample the visit
   counts with ``mzero.select_action`` at the scheduled temperature, or take the
   most-visited action after ``train.temperature_moves`` moves of a game (Dirichlet
   noise at the root comes from the search config's ``dirichlet_fraction``).
   Gumbel MuZero (``"gumbel"``): play the search's own ``action``, the winner of
   sequential halving among Gumbel-top-k actions (Danihelka et al. 2022; mctx's
   ``gumbel_muzero_policy``). Its Gumbel noise, scaled by ``search.gumbel_scale``,
   is the exploration: temperatures and ``train.temperature_moves`` do not apply;
4. step every environment and record (observation, action, reward, search value,
   search policy); a finished game goes into the replay buffer whole and its
   environment starts a new one.

The :class:`Planner` (steps 1-2) is shared by self-play, evaluation and the agent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import mzero
from mzero.config import Config
from mzero.envs import Environment, make_env_from_config
from mzero.networks import MuZeroNetwork
from mzero.planner import Planner

__all__ = ["EpisodeStats", "GameRecord", "Planner", "SelfPlay"]

_SEED_BOUND = 2**63


@dataclass
class GameRecord:
    """One game in progress: the arrays ``ReplayBuffer.add_game`` takes, as lists."""

    observations: list[np.ndarray]
    """o_0 .. o_t so far, each float32 ``obs_shape``."""
    legal_mask: np.ndarray
    """bool ``[A]``: legal actions at the latest observation."""
    actions: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    root_values: list[float] = field(default_factory=list)
    policies: list[np.ndarray] = field(default_factory=list)
    legal_masks: list[np.ndarray] = field(default_factory=list)
    """bool ``[A]`` per move: the legal actions where it was chosen (for a reanalysis)."""

    def stacked(self, stack: int) -> np.ndarray:
        """The last ``stack`` observations ``[stack, *obs_shape]``; frames before o_0 repeat o_0."""
        frames = self.observations[-stack:]
        frames = [frames[0]] * (stack - len(frames)) + frames
        return np.stack(frames)

    def __len__(self) -> int:
        return len(self.actions)


@dataclass(frozen=True)
class EpisodeStats:
    """A finished self-play game."""

    episode_return: float
    """Sum of rewards; two-player games: the first player's result (+1, 0, -1)."""
    length: int
    """Moves played."""
    terminated: bool
    """False if the episode was truncated (e.g. by a time limit)."""


class SelfPlay:
    """B environments (``config.train.num_envs``) played by one network and one batched search.

    Finished games go to ``replay.add_game`` (an :class:`mzero.ReplayBuffer`); truncated
    games bootstrap from the network's value of their last observation.
    ``env_factory`` defaults to the config's environment.
    """

    def __init__(
        self,
        network: MuZeroNetwork,
        config: Config,
        replay: Any,
        seed: int = 0,
        env_factory: Callable[[], Environment] | None = None,
    ) -> None:
        factory = env_factory or (lambda: make_env_from_config(config.env))
        self.config = config
        self.replay = replay
        self.num_games = config.train.num_envs
        self.stack = config.env.frame_stack
        self.envs = [factory() for _ in range(self.num_games)]
        self.two_player = self.envs[0].two_player
        self.planner = Planner(
            network,
            config.search.to_search_config(two_player=self.two_player, explore=True),
            self.num_games,
        )
        self.rng = np.random.default_rng(seed)
        self.env_steps = 0
        self.games = [self._new_game(env) for env in self.envs]

    def _new_game(self, env: Environment) -> GameRecord:
        obs, mask = env.reset(seed=int(self.rng.integers(_SEED_BOUND)))
        return GameRecord(observations=[obs], legal_mask=mask)

    def step(self, temperature: float) -> list[EpisodeStats]:
        """Plays one move in every game; returns the games that finished.

        ``temperature`` is the visit-count temperature of PUCT self-play; Gumbel
        self-play ignores it and plays the search's ``action`` (module docstring, step 3).
        """
        observations = np.stack([game.stacked(self.stack) for game in self.games])
        legal_mask = np.stack([game.legal_mask for game in self.games])
        out = self.planner.plan(observations, legal_mask, seed=int(self.rng.integers(_SEED_BOUND)))
        if self.config.search.algorithm == "gumbel":
            # Gumbel MuZero acts with the sequential-halving winner; the Gumbel noise
            # drawn by the search (gumbel_scale) is its exploration, not a temperature
            actions = np.asarray(out.action, dtype=np.int64)
        else:
            actions = mzero.select_action(out.visit_counts, temperature, self.rng)
            drop = self.config.train.temperature_moves
            if drop is not None:
                # past the first ``drop`` moves of a game: the most-visited action
                greedy = np.array([len(game) >= drop for game in self.games])
                if greedy.any():
                    actions[greedy] = mzero.select_action(out.visit_counts[greedy], 0.0)

        finished: list[tuple[int, bool]] = []
        for i, (env, game) in enumerate(zip(self.envs, self.games, strict=True)):
            action = int(actions[i])
            step = env.step(action)
            game.actions.append(action)
            game.rewards.append(step.reward)
            game.root_values.append(float(out.root_value[i]))
            game.policies.append(np.array(out.policy[i], dtype=np.float32))
            game.legal_masks.append(game.legal_mask)
            game.observations.append(step.observation)
            game.legal_mask = step.legal_mask
            if step.terminated or step.truncated:
                finished.append((i, step.terminated))
        self.env_steps += self.num_games
        return self._finish(finished)

    def _finish(self, finished: list[tuple[int, bool]]) -> list[EpisodeStats]:
        truncated = [i for i, terminated in finished if not terminated]
        bootstrap = dict.fromkeys(truncated, 0.0)
        if truncated:
            last = np.stack([self.games[i].stacked(self.stack) for i in truncated])
            bootstrap = dict(zip(truncated, self.planner.value(last).tolist(), strict=True))
        stats = []
        for i, terminated in finished:
            game = self.games[i]
            self.replay.add_game(
                np.stack(game.observations).astype(np.float32, copy=False),
                np.asarray(game.actions, dtype=np.int64),
                np.asarray(game.rewards, dtype=np.float32),
                np.asarray(game.root_values, dtype=np.float32),
                np.stack(game.policies),
                terminated=terminated,
                bootstrap_value=bootstrap.get(i, 0.0),
                legal_masks=np.stack(game.legal_masks).astype(bool, copy=False),
            )
            stats.append(EpisodeStats(self._episode_return(game), len(game), terminated=terminated))
            self.games[i] = self._new_game(self.envs[i])
        return stats

    def _episode_return(self, game: GameRecord) -> float:
        if not self.two_player:
            return float(math.fsum(game.rewards))
        # the last mover's reward, seen from the first player (who moves at even steps)
        last = game.rewards[-1]
        return last if (len(game) - 1) % 2 == 0 else -last

    def close(self) -> None:
        """Closes every environment."""
        for env in self.envs:
            env.close()
