"""Greedy evaluation: the network plans with search (no noise) and plays its best move.

* :func:`evaluate_returns`: episode returns of a single-player environment, all
  episodes played at once as one search batch;
* :func:`evaluate_against`: two-player games against a fixed opponent (e.g.
  :class:`mzero.envs.MinimaxPlayer`), the agent's moves of all games batched;
* :func:`score_against`: the score (win 1, draw 0.5) against an opponent by name,
  half the games moving first;
* :class:`Evaluator`: what training evaluates, chosen per environment: returns of a
  single-player game, scores against the game's opponents (``train.eval_opponents``).

The search config is built with ``explore=False``
(:meth:`mzero.config.SearchSettings.search_config_kwargs`): no root Dirichlet noise
(PUCT) and ``gumbel_scale = 0`` (Gumbel MuZero), so evaluation is deterministic
whatever the search seeds. The chosen move is the search's ``action``: PUCT, the most
visits (lowest index on ties); Gumbel MuZero, the sequential-halving winner among the
top ``max_considered_actions`` logits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mzero.config import Config
from mzero.envs import Environment, GymAdapter, make_env_from_config
from mzero.envs.opponents import default_eval_opponents, make_opponent
from mzero.envs.players import Player, result_for
from mzero.errors import InvalidArgumentError
from mzero.networks import MuZeroNetwork
from mzero.planner import Planner
from mzero.selfplay import GameRecord, stack_inputs

__all__ = ["Evaluator", "evaluate_against", "evaluate_returns", "score", "score_against"]

_SEED_BOUND = 2**63


def _planner(network: MuZeroNetwork, config: Config, two_player: bool, games: int) -> Planner:
    """A planner without exploration noise (no Dirichlet noise, gumbel_scale 0)."""
    search_config = config.search.to_search_config(two_player=two_player, explore=False)
    return Planner(network, search_config, games)


def _plan(planner: Planner, games: list[GameRecord], stack: int, rng: np.random.Generator) -> Any:
    """One greedy search of ``games`` from their stacked frames (and the actions before
    them, for a network that sees those)."""
    observations, stack_actions = stack_inputs(games, stack, planner.network.stack_actions)
    legal_mask = np.stack([game.legal_mask for game in games])
    seed = int(rng.integers(_SEED_BOUND))
    return planner.plan(observations, legal_mask, seed=seed, stack_actions=stack_actions)


def _record(game: GameRecord, action: int, observation: np.ndarray, stack: int) -> None:
    """Adds a move to ``game``, keeping the last ``stack`` moves and frames after them."""
    game.observations = [*game.observations[-stack:], observation]
    game.actions = [*game.actions[-(stack - 1) :], action] if stack > 1 else [action]


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
    factory = env_factory or (lambda: make_env_from_config(config.env, evaluation=True))
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
        out = _plan(planner, [games[i] for i in active], stack, rng)
        still_active = []
        for row, i in enumerate(active):
            step = envs[i].step(int(out.action[row]))
            returns[i] += step.reward
            _record(games[i], int(out.action[row]), step.observation, stack)
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
    factory = env_factory or (lambda: make_env_from_config(config.env, evaluation=True))
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
            out = _plan(planner, [records[i] for i in active], stack, rng)
            actions = [int(a) for a in out.action]
        else:
            actions = [_opponent_move(opponent, records[i], envs[i]) for i in active]
        still_active = []
        for i, action in zip(active, actions, strict=True):
            step = envs[i].step(action)
            _record(records[i], action, step.observation, stack)
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


def _opponent_move(opponent: Player, record: GameRecord, env: Environment) -> int:
    """The opponent's move; players with ``wants_state`` also get the game itself."""
    if getattr(opponent, "wants_state", False):
        state = env.env.unwrapped if isinstance(env, GymAdapter) else None
        return opponent.act(record.observations[-1], record.legal_mask, state=state)  # type: ignore[call-arg]
    return opponent.act(record.observations[-1], record.legal_mask)


def score(results: list[int]) -> float:
    """The score of ``results`` (+1 win, 0 draw, -1 loss): wins count 1, draws 0.5."""
    return (results.count(1) + 0.5 * results.count(0)) / len(results)


def score_against(
    network: MuZeroNetwork, config: Config, name: str, games: int, seed: int = 0
) -> dict[str, Any]:
    """``games`` games against the opponent ``name``, the first ``games // 2`` with the
    agent moving first: ``score_first``, ``score_second``, ``score`` (all games) and the
    results of each side (``first``, ``second``: lists of +1/0/-1)."""
    if games < 2:
        raise InvalidArgumentError(f"games: expected >= 2 (half moving first), got {games}")
    sides: dict[str, list[int]] = {}
    for side, first, count in (("first", True, games // 2), ("second", False, games - games // 2)):
        offset = 0 if first else 1
        opponent = make_opponent(name, config.env.id, seed=seed + offset)
        sides[side] = evaluate_against(
            network, config, opponent, count, first, seed=seed + 2 + offset
        )
    return {
        "score_first": score(sides["first"]),
        "score_second": score(sides["second"]),
        "score": score(sides["first"] + sides["second"]),
        **sides,
    }


def opponent_slug(name: str) -> str:
    """The opponent ``name`` in metric names: ``uct:100`` -> ``uct100``."""
    return name.replace(":", "")


def eval_opponent_names(config: Config) -> tuple[str, ...]:
    """The opponents a two-player run is evaluated against: ``train.eval_opponents``,
    else the game's own (:func:`default_eval_opponents`)."""
    return config.train.eval_opponents or default_eval_opponents(config.env.id)


class Evaluator:
    """Greedy evaluation during training, chosen per environment.

    Single-player games: ``eval_return_mean`` and ``eval_return_min`` of
    ``train.eval_episodes`` episodes. Two-player games: for each opponent of
    ``train.eval_opponents`` (default: the game's own, :func:`default_eval_opponents`)
    ``eval_episodes`` games, half moving first, reported as ``eval_<opponent>_score``
    (win 1, draw 0.5), ``eval_<opponent>_score_first``, ``eval_<opponent>_score_second``,
    ``eval_<opponent>_losses`` (a count) and ``eval_<opponent>_win_rate``, where
    ``<opponent>`` is the name without its colon (``uct100``); ``eval_return_mean`` is
    the mean result (+1, 0, -1) against the first opponent.
    """

    def __init__(self, config: Config, two_player: bool) -> None:
        self.config = config
        self.two_player = two_player
        self.opponents: tuple[str, ...] = ()
        if two_player:
            self.opponents = eval_opponent_names(config)
            for name in self.opponents:  # unknown names fail now, not after an hour
                try:
                    make_opponent(name, config.env.id)
                except InvalidArgumentError as err:
                    raise InvalidArgumentError(f"train.eval_opponents: {err}") from err
            if config.train.eval_episodes < 2:
                raise InvalidArgumentError(
                    "train.eval_episodes: expected >= 2 for a two-player game "
                    f"(half moving first), got {config.train.eval_episodes}"
                )

    def __call__(self, network: MuZeroNetwork, seed: int) -> dict[str, float]:
        """One evaluation of ``network``; ``seed`` seeds the episodes and the opponents."""
        episodes = self.config.train.eval_episodes
        if not self.two_player:
            returns = evaluate_returns(network, self.config, episodes, seed=seed)
            return {"eval_return_mean": float(np.mean(returns)), "eval_return_min": min(returns)}
        metrics: dict[str, float] = {}
        for k, name in enumerate(self.opponents):
            scores = score_against(network, self.config, name, episodes, seed=seed + 4 * k)
            results = scores["first"] + scores["second"]
            slug = opponent_slug(name)
            if k == 0:
                metrics["eval_return_mean"] = float(np.mean(results))
            metrics |= {
                f"eval_{slug}_score": scores["score"],
                f"eval_{slug}_score_first": scores["score_first"],
                f"eval_{slug}_score_second": scores["score_second"],
                f"eval_{slug}_losses": float(results.count(-1)),
                f"eval_{slug}_win_rate": results.count(1) / len(results),
            }
        return metrics

    def key(self, metrics: dict[str, float]) -> tuple[float, ...]:
        """Orders evaluations, the higher the better: the return, or the scores against
        the opponents in order."""
        if not self.two_player:
            return (metrics["eval_return_mean"],)
        return tuple(metrics[f"eval_{opponent_slug(name)}_score"] for name in self.opponents)
