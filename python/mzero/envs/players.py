"""Fixed TicTacToe opponents (perfect minimax, uniform random), a game loop and
an exhaustive check of a deterministic player against every line of play.

Every player has the agent's signature ``act(observation, legal_mask) -> int``
on the :mod:`~mzero.envs.tictactoe` encoding, so evaluation can seat an agent or
a player on either side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal, Protocol

import numpy as np

from mzero.envs.tictactoe import LINES, TicTacToeEnv
from mzero.errors import InvalidArgumentError

__all__ = [
    "MinimaxPlayer",
    "Player",
    "RandomPlayer",
    "every_line",
    "minimax_value",
    "optimal_actions",
    "play_game",
    "result_for",
]

_LINE_MASKS = tuple(sum(1 << cell for cell in line) for line in LINES)
_FULL = (1 << 9) - 1


class Player(Protocol):
    """Anything that picks a move from the mover's view."""

    def act(self, observation: np.ndarray, legal_mask: np.ndarray | None = None) -> int:
        """``observation`` float32 [3, 3, 3], ``legal_mask`` bool [9] -> an action in 0..8."""
        ...


def _has_line(stones: int) -> bool:
    return any(stones & line == line for line in _LINE_MASKS)


@cache
def minimax_value(mine: int, theirs: int) -> int:
    """Game value for the player to move under perfect play: +1 win, 0 draw, -1 loss.

    ``mine`` and ``theirs`` are 9-bit boards (bit ``row * 3 + col``) of the mover's
    and the opponent's stones (negamax over the at most 5478 reachable positions).
    """
    if _has_line(theirs):
        return -1
    empty = _FULL & ~(mine | theirs)
    if empty == 0:
        return 0
    return max(-minimax_value(theirs, mine | (1 << c)) for c in range(9) if empty >> c & 1)


def _bits(plane: np.ndarray) -> int:
    cells = np.flatnonzero(np.asarray(plane).reshape(9) > 0.5)
    return sum(1 << int(c) for c in cells)


def optimal_actions(observation: np.ndarray) -> list[int]:
    """The moves that keep the mover's minimax value, from an observation [3, 3, 3]."""
    mine, theirs = _bits(observation[0]), _bits(observation[1])
    empty = [c for c in range(9) if not (mine | theirs) >> c & 1]
    values = {c: -minimax_value(theirs, mine | (1 << c)) for c in empty}
    best = max(values.values())
    return [c for c in empty if values[c] == best]


@dataclass
class MinimaxPlayer:
    """Perfect play, uniform among the optimal moves (seeded)."""

    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def act(self, observation: np.ndarray, legal_mask: np.ndarray | None = None) -> int:
        """An optimal move of the player to move in ``observation``."""
        return int(self.rng.choice(optimal_actions(observation)))


@dataclass
class RandomPlayer:
    """Uniform among the legal moves (the empty cells if no mask is given), seeded."""

    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def act(self, observation: np.ndarray, legal_mask: np.ndarray | None = None) -> int:
        """A uniformly random legal move."""
        if legal_mask is None:
            legal_mask = (observation[0] + observation[1]).reshape(9) < 0.5
        return int(self.rng.choice(np.flatnonzero(legal_mask)))


def result_for(reward: float, mover_is_player: bool) -> int:
    """A finished game's result from a player's view: 1 win, 0 draw, -1 loss.

    ``reward`` is the last step's, from the view of the player who moved (the
    two-player convention of :mod:`mzero.envs`).
    """
    mover_result = int(np.sign(reward))
    return mover_result if mover_is_player else -mover_result


def play_game(
    first: Player | Callable[[np.ndarray, np.ndarray], int],
    second: Player | Callable[[np.ndarray, np.ndarray], int],
    env: TicTacToeEnv | None = None,
) -> int:
    """Plays one game; returns 1 if ``first`` wins, -1 if ``second`` wins, 0 for a draw.

    A player is an object with ``act`` or a callable ``(observation, legal_mask) -> int``.
    An illegal move loses the game for its player.
    """
    env = env or TicTacToeEnv()
    observation, info = env.reset()
    players = [first, second]
    while True:
        mover = info["to_play"]
        player = players[mover]
        act = player.act if hasattr(player, "act") else player
        observation, reward, terminated, _, info = env.step(act(observation, info["legal_mask"]))
        if terminated:
            return result_for(reward, mover_is_player=mover == 0)


def every_line(
    player: Player | Callable[[np.ndarray, np.ndarray], int],
    player_first: bool,
    opponent: Literal["optimal", "any"] = "optimal",
) -> list[int]:
    """Results of every game ``player`` can play against ``opponent``, from its view.

    ``player`` must choose by the position alone (deterministic, no memory: e.g. a
    greedy :class:`mzero.Agent` with ``frame_stack = 1``); it is asked once per
    position. The opponent branches over every move that keeps its minimax value
    (``"optimal"``: every game a :class:`MinimaxPlayer` can play) or over every legal
    move (``"any"``). One result per complete game: 1 win, 0 draw, -1 loss; an
    illegal move by ``player`` is a loss.
    """
    if opponent not in ("optimal", "any"):
        raise InvalidArgumentError(f"opponent: expected 'optimal' or 'any', got {opponent!r}")
    act = player.act if hasattr(player, "act") else player
    moves: dict[bytes, int] = {}
    results: list[int] = []
    player_side = 0 if player_first else 1

    def explore(env: TicTacToeEnv) -> None:
        observation, legal = env.observation(), env.legal_mask()
        if env.to_play == player_side:
            key = observation.tobytes()
            if key not in moves:
                moves[key] = int(act(observation, legal))
            choices = [moves[key]]
        elif opponent == "optimal":
            choices = optimal_actions(observation)
        else:
            choices = [int(a) for a in np.flatnonzero(legal)]
        for action in choices:
            child = TicTacToeEnv()
            child.board[:], child.to_play = env.board, env.to_play
            _, reward, terminated, _, _ = child.step(action)
            if terminated:
                results.append(result_for(reward, mover_is_player=env.to_play == player_side))
            else:
                explore(child)

    start = TicTacToeEnv()
    start.reset()
    explore(start)
    return results
