"""Opponents for any board game, by name: ``random``, ``minimax``, ``uct:N``, ``alphabeta:D``.

* ``random``: uniform among the legal moves;
* ``minimax``: perfect play, TicTacToe only;
* ``uct:N``: plain UCT (Kocsis and Szepesvari 2006) with ``N`` random-rollout
  simulations a move, for any game whose position it can copy: the built-ins
  rebuild theirs from an observation (``from_observation``), and OpenSpiel games
  hand their environment over (``act(..., state=env)``, which evaluation does for
  players with ``wants_state``). "Plain" means exactly this, so that ``uct:400``
  has the same strength wherever it is used:

  - UCB1 over mean results in [-1, 1] (from the view of the player who chose the
    move), with c = 1.4;
  - one untried move expanded per simulation, chosen uniformly;
  - uniformly random rollouts to the end of the game;
  - the most-visited move is played (the lowest action on ties).

* ``alphabeta:D``: depth-limited negamax with alpha-beta pruning, ``D`` plies deep,
  for the same games as ``uct:N``: a won game is worth +1 (sooner wins score a little
  higher, later losses a little less badly), a position at the depth limit 0, and
  ties between the best moves are broken uniformly. It never misses a win or a
  forced loss within its horizon and knows nothing beyond it.

Every opponent has the agent's signature ``act(observation, legal_mask) -> int``;
:class:`UCTPlayer` also takes ``state``, the game itself, to copy.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from mzero.envs.players import MinimaxPlayer, Player, RandomPlayer
from mzero.envs.registry import game_class
from mzero.envs.tictactoe import TicTacToeEnv
from mzero.errors import InvalidArgumentError

__all__ = ["UCB_C", "AlphaBetaPlayer", "UCTPlayer", "default_eval_opponents", "make_opponent"]

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


class _SearchOpponent:
    """An opponent that searches copies of the position: from ``state`` (the game's
    environment, unwrapped) when evaluation passes it, else rebuilt from the mover's
    observation by ``game.from_observation``."""

    wants_state = True
    """Evaluation passes the game's environment as ``state`` (OpenSpiel needs it)."""

    def __init__(self, game: type[Any] | None, seed: int) -> None:
        """``game``: a class with ``from_observation``, or None to play only from ``state``."""
        self.game = game
        self.rng = np.random.default_rng(seed)

    def _root_and_legal(
        self, observation: np.ndarray, legal_mask: np.ndarray | None, state: Any
    ) -> tuple[Any, list[int]]:
        """A copy of the position to search and its legal moves (within ``legal_mask``)."""
        if state is not None:
            root = copy.deepcopy(state)
        elif self.game is not None:
            root = self.game.from_observation(observation)
        else:
            raise InvalidArgumentError(
                "state: this game cannot be rebuilt from an observation; pass its environment"
            )
        legal = _legal(root)
        if legal_mask is not None:
            legal = [a for a in legal if legal_mask[a]]
        if not legal:
            raise InvalidArgumentError("observation: the game is over; no legal move")
        return root, legal


class AlphaBetaPlayer(_SearchOpponent):
    """Depth-limited negamax with alpha-beta pruning (module docstring)."""

    def __init__(self, game: type[Any] | None, depth: int, seed: int = 0) -> None:
        """``game``: a class with ``from_observation``, or None to play only from ``state``."""
        if depth < 1:
            raise InvalidArgumentError(f"depth: expected >= 1, got {depth}")
        super().__init__(game, seed)
        self.depth = depth

    def act(
        self, observation: np.ndarray, legal_mask: np.ndarray | None = None, state: Any = None
    ) -> int:
        """A uniformly chosen best move within ``depth`` plies."""
        root, legal = self._root_and_legal(observation, legal_mask, state)
        values = {}
        for action in legal:
            # each root move gets an exact value (a full window), so ties are real ties
            values[action] = self._value_after(root, action, self.depth - 1, -2.0, 2.0)
        best = max(values.values())
        tied = [a for a, v in values.items() if v == best]
        return int(tied[int(self.rng.integers(len(tied)))])

    def _value_after(self, env: Any, action: int, depth: int, alpha: float, beta: float) -> float:
        """The value of ``action`` for its mover, searching ``depth`` more plies; exact
        inside the mover's window (``alpha``, ``beta``), a bound outside it."""
        child = copy.deepcopy(env)
        _, reward, terminated, _, _ = child.step(action)
        if terminated:
            # a win scores +1 and up to 0.01 more the sooner it comes
            return float(reward) * (1.0 + 0.01 * depth / (self.depth + 1))
        if depth == 0:
            return 0.0
        # the reply's mover maximises its own value inside the negated window
        best, reply_alpha, reply_beta = -2.0, -beta, -alpha
        for reply in _legal(child):
            best = max(best, self._value_after(child, reply, depth - 1, reply_alpha, reply_beta))
            reply_alpha = max(reply_alpha, best)
            if reply_alpha >= reply_beta:
                break
        return -best


class UCTPlayer(_SearchOpponent):
    """Plain UCT with ``simulations`` random-rollout simulations a move (module docstring)."""

    def __init__(self, game: type[Any] | None, simulations: int, seed: int = 0) -> None:
        """``game``: a class with ``from_observation``, or None to play only from ``state``."""
        if simulations < 1:
            raise InvalidArgumentError(f"simulations: expected >= 1, got {simulations}")
        super().__init__(game, seed)
        self.simulations = simulations

    def act(
        self, observation: np.ndarray, legal_mask: np.ndarray | None = None, state: Any = None
    ) -> int:
        """The most-visited move after the simulations from the mover's ``observation``,
        or from a copy of ``state`` (the game's environment, unwrapped) when given."""
        root_env, legal = self._root_and_legal(observation, legal_mask, state)
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
    """The opponent ``name`` (``random``, ``minimax``, ``uct:N``, ``alphabeta:D``) for the
    game ``env_id``."""
    game = game_class(env_id)
    if name == "random":
        return RandomPlayer(seed)
    if name == "minimax":
        if game is not TicTacToeEnv:
            raise InvalidArgumentError(
                f"opponent: minimax plays TicTacToe only, not {env_id!r}; try uct:N"
            )
        return MinimaxPlayer(seed)
    kind, _, number = name.partition(":")
    if kind in ("uct", "alphabeta") and number.isdigit() and int(number) >= 1:
        if game is None:
            raise InvalidArgumentError(
                f"opponent: {kind}:N needs a board game whose position it can copy "
                f"(tictactoe, connect4, openspiel:GAME), not {env_id!r}"
            )
        rebuildable = game if hasattr(game, "from_observation") else None
        player = UCTPlayer if kind == "uct" else AlphaBetaPlayer
        return player(rebuildable, int(number), seed)
    raise InvalidArgumentError(
        "opponent: expected random, minimax (tictactoe), uct:N or alphabeta:D with N, D >= 1, "
        f"got {name!r}"
    )


def default_eval_opponents(env_id: str) -> tuple[str, ...]:
    """The opponents that training evaluates the game ``env_id`` against, strongest
    first: its class's ``eval_opponents`` (TicTacToe: minimax, random; Connect Four
    and OpenSpiel games: uct:100, random), else ``("random",)``."""
    return tuple(getattr(game_class(env_id), "eval_opponents", ("random",)))
