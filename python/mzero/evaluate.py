"""Greedy evaluation: the network plans with search (no noise) and plays its best move.

* :func:`evaluate_returns`: episode returns of a single-player environment, all
  episodes played at once as one search batch;
* :func:`evaluate_against`: two-player games against a fixed opponent (e.g.
  :class:`mzero.envs.MinimaxPlayer`), the agent's moves of all games batched.

The search config is built with ``explore=False``
(:meth:`mzero.config.SearchSettings.search_config_kwargs`): no root Dirichlet noise
(PUCT) and ``gumbel_scale = 0`` (Gumbel MuZero), so evaluation is deterministic
whatever the search seeds. The chosen move is the search's ``action``: PUCT, the most
visits (lowest index on ties); Gumbel MuZero, the sequential-halving winner among the
top ``max_considered_actions`` logits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mzero.config import Config
from mzero.envs import Environment, make_env_from_config
from mzero.envs.players import Player, result_for
from mzero.errors import InvalidArgumentError
from mzero.networks import MuZeroNetwork
from mzero.planner import Planner
from mzero.selfplay import GameRecord

__all__ = ["evaluate_against", "evaluate_returns"]

_SEED_BOUND = 2**63


def _planner(network: MuZeroNetwork, config: Config, two_player: bool, games: int) -> Planner:
    """A planner without exploration noise (no Dirichlet noise, gumbel_scale 0)."""
    search_config = config.search.to_search_config(two_player=two_player, explore=False)
    return Planner(network, search_config, games)


def evaluate_returns(
    network: MuZeroNetwork,
    config: Config,
    episodes: int,
    seed: int = 0,
    env_factory: Callable[[], Environment] | None = None,
) -> list[float]:
    """Returns of ``episodes`` greedy episodes (seeded resets ``seed``, ``seed + 1``, ...)."""
    if episodes < 1:
        raise InvalidArgumentError(f"episodes: expected >= 1, got {episodes}")
    factory = env_factory or (lambda: make_env_from_config(config.env))
    envs = [factory() for _ in range(episodes)]
    if envs[0].two_player:
        raise InvalidArgumentError(
            f"env {config.env.id!r}: two-player games are evaluated with evaluate_against"
        )
    planner = _planner(network, config, False, episodes)
    stack = config.env.frame_stack
    games = []
    for i, env in enumerate(envs):
        obs, mask = env.reset(seed=seed + i)
        games.append(GameRecord(observations=[obs], legal_mask=mask))
    returns = [0.0] * episodes
    active = list(range(episodes))
    rng = np.random.default_rng(seed)
    while active:
        observations = np.stack([games[i].stacked(stack) for i in active])
        legal_mask = np.stack([games[i].legal_mask for i in active])
        out = planner.plan(observations, legal_mask, seed=int(rng.integers(_SEED_BOUND)))
        still_active = []
        for row, i in enumerate(active):
            step = envs[i].step(int(out.action[row]))
            returns[i] += step.reward
            games[i].observations = [*games[i].observations[-stack:], step.observation]
            games[i].legal_mask = step.legal_mask
            if not (step.terminated or step.truncated):
                still_active.append(i)
        active = still_active
    for env in envs:
        env.close()
    return returns


def evaluate_against(
    network: MuZeroNetwork,
    config: Config,
    opponent: Player,
    games: int,
    agent_first: bool,
    seed: int = 0,
    env_factory: Callable[[], Environment] | None = None,
) -> list[int]:
    """Results of ``games`` two-player games against ``opponent``, from the agent's view.

    +1: the agent won, 0: a draw, -1: the agent lost. The agent moves first in every
    game if ``agent_first``, else second. Rewards are from the view of the player who
    just moved (the two-player convention of :mod:`mzero.envs`).
    """
    if games < 1:
        raise InvalidArgumentError(f"games: expected >= 1, got {games}")
    factory = env_factory or (lambda: make_env_from_config(config.env))
    envs = [factory() for _ in range(games)]
    if not envs[0].two_player:
        raise InvalidArgumentError(f"env {config.env.id!r}: expected a two-player game")
    planner = _planner(network, config, True, games)
    stack = config.env.frame_stack
    records = []
    for env in envs:
        obs, mask = env.reset()
        records.append(GameRecord(observations=[obs], legal_mask=mask))
    results = [0] * games
    active = list(range(games))
    agent_to_move = agent_first
    rng = np.random.default_rng(seed)
    while active:
        # all active games are at the same move number, so the same side is to move
        if agent_to_move:
            observations = np.stack([records[i].stacked(stack) for i in active])
            legal_mask = np.stack([records[i].legal_mask for i in active])
            out = planner.plan(observations, legal_mask, seed=int(rng.integers(_SEED_BOUND)))
            actions = [int(a) for a in out.action]
        else:
            actions = [
                opponent.act(records[i].observations[-1], records[i].legal_mask) for i in active
            ]
        still_active = []
        for i, action in zip(active, actions, strict=True):
            step = envs[i].step(action)
            records[i].observations = [*records[i].observations[-stack:], step.observation]
            records[i].legal_mask = step.legal_mask
            if step.terminated or step.truncated:
                results[i] = result_for(step.reward, mover_is_player=agent_to_move)
            else:
                still_active.append(i)
        active = still_active
        agent_to_move = not agent_to_move
    for env in envs:
        env.close()
    return results
