"""Opponents for any built-in board game, by name: ``random``, ``minimax``, ``uct:N``.

* ``random``: uniform among the legal moves;
* ``minimax``: perfect play, TicTacToe only;
* ``uct:N``: plain UCT (Kocsis and Szepesvari 2006) with ``N`` random-rollout
  simulations a move, for any game that can rebuild its position from an
  observation (``from_observation``; the built-ins). "Plain" means exactly this, so
  that ``uct:400`` has the same strength wherever it is used:

  - UCB1 over mean results in [-1, 1] (from the view of the player who chose the
    move), with c = 1.4;
  - one untried move expanded per simulation, chosen uniformly;
  - uniformly random rollouts to the end of the game;
  - the most-visited move is played (the lowest action on ties).

Every opponent has the agent's signature ``act(observation, legal_mask) -> int``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from mzero.envs.players import MinimaxPlayer, Player, RandomPlayer
from mzero.envs.registry import BUILTIN_GAMES
from mzero.envs.tictactoe import TicTacToeEnv
from mzero.errors import InvalidArgumentError

__all__ = ["UCB_C", "UCTPlayer", "make_opponent"]

UCB_C = 1.4
"""The exploration constant c of UCB1."""


class _Node:
    __slots__ = ("children", "total", "untried", "visits")

    def __init__(self, untried: list[int]) -> None:
        self.children: dict[int, _Node] = {}
        self.untried = untried
        self.visits = 0
        self.total = 0.0
        """Sum of results from the view of the player who moved into this node."""


def _legal(env: Any) -> list[int]:
    return np.flatnonzero(env.legal_mask()).tolist()


class UCTPlayer:
    """Plain UCT with ``simulations`` random-rollout simulations a move (module docstring)."""

    def __init__(self, game: type[Any], simulations: int, seed: int = 0) -> None:
        if simulations < 1:
            raise InvalidArgumentError(f"simulations: expected >= 1, got {simulations}")
        self.game = game
        self.simulations = simulations
        self.rng = np.random.default_rng(seed)

    def act(self, observation: np.ndarray, legal_mask: np.ndarray | None = None) -> int:
        """The most-visited move after the simulations, from the mover's ``observation``."""
        root_env = self.game.from_observation(observation)
        legal = _legal(root_env)
        if legal_mask is not None:
            legal = [a for a in legal if legal_mask[a]]
        if not legal:
            raise InvalidArgumentError("observation: the game is over; no legal move")
        root = _Node(list(legal))
        for _ in range(self.simulations):
            self._simulate(root, copy.deepcopy(root_env))
        best = max(root.children.items(), key=lambda item: (item[1].visits, -item[0]))
        return int(best[0])

    def _simulate(self, root: _Node, env: Any) -> None:
        path = [root]
        node = root
        result = None  # from the view of the player who made the last move
        # selection: through fully expanded nodes by UCB1
        while not node.untried and node.children:
            log_n = math.log(node.visits)
            action, node = max(
                node.children.items(),
                key=lambda item: (
                    item[1].total / item[1].visits + UCB_C * math.sqrt(log_n / item[1].visits)
                ),
            )
            result = self._play(env, action)
            path.append(node)
            if result is not None:
                break
        # expansion: one untried move, chosen uniformly
        if result is None and node.untried:
            action = node.untried.pop(int(self.rng.integers(len(node.untried))))
            result = self._play(env, action)
            child = _Node([] if result is not None else _legal(env))
            node.children[action] = child
            path.append(child)
        # rollout: uniformly random moves to the end
        sign = 1.0
        while result is None:
            moves = _legal(env)
            result = self._play(env, moves[int(self.rng.integers(len(moves)))])
            sign = -sign
        # ``result`` is from the view of the rollout's last mover; the path's last node
        # was entered by the mover ``sign`` flips away from it
        value = result * sign
        for node in reversed(path):
            node.visits += 1
            node.total += value
            value = -value

    @staticmethod
    def _play(env: Any, action: int) -> float | None:
        """Plays ``action``; the mover's result (+1, 0, -1) if the game ended, else None."""
        _, reward, terminated, _, _ = env.step(action)
        return float(reward) if terminated else None


def make_opponent(name: str, env_id: str, seed: int = 0) -> Player:
    """The opponent ``name`` (``random``, ``minimax``, ``uct:N``) for the game ``env_id``."""
    game = BUILTIN_GAMES.get(env_id)
    if name == "random":
        return RandomPlayer(seed)
    if name == "minimax":
        if game is not TicTacToeEnv:
            raise InvalidArgumentError(
                f"opponent: minimax plays TicTacToe only, not {env_id!r}; try uct:N"
            )
        return MinimaxPlayer(seed)
    if name.startswith("uct:") and name[4:].isdigit() and int(name[4:]) >= 1:
        if game is None:
            raise InvalidArgumentError(
                f"opponent: uct:N needs a game that rebuilds its position from an "
                f"observation (tictactoe, connect4), not {env_id!r}"
            )
        return UCTPlayer(game, int(name[4:]), seed)
    raise InvalidArgumentError(
        f"opponent: expected random, minimax (tictactoe) or uct:N with N >= 1, got {name!r}"
    )
