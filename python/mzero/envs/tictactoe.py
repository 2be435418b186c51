"""TicTacToe as a two-player gymnasium environment, seen by the player to move.

Encoding (fixed; agents and tests depend on it):

* observation: float32 ``[3, 3, 3]``, planes of the 3x3 board:
  ``[0]`` stones of the player to move, ``[1]`` stones of the opponent,
  ``[2]`` all ones when the first player is to move, all zeros otherwise;
* action: ``row * 3 + col`` in ``0..8``;
* legal actions: :meth:`TicTacToeEnv.legal_mask` (bool ``[9]``, the empty cells;
  all False once the game is over), also in ``info["legal_mask"]``;
* players alternate; ``info["to_play"]`` is 0 when the first player is to move;
* reward: from the view of the player who just moved: +1 for a win, 0 otherwise
  (a draw or a game still going);
* an illegal move (an occupied cell) ends the game as a loss for its player:
  reward -1, ``terminated=True``, ``info["illegal_move"] = True``. Agents that
  respect the legal mask never see this;
* the rules are the same on every rotated or reflected board:
  :attr:`TicTacToeEnv.symmetries` holds the 8 maps (:mod:`mzero.symmetry`);
* stepping a finished game raises :class:`mzero.InvalidArgumentError`; call reset.

The board is ``self.board``: int8 ``[3, 3]`` with +1 for the first player's stones,
-1 for the second's, 0 for empty cells.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from mzero.envs.board import BoardGameEnv
from mzero.errors import InvalidArgumentError
from mzero.symmetry import Symmetries

__all__ = ["LINES", "TicTacToeEnv", "winner"]

LINES: tuple[tuple[int, int, int], ...] = (
    (0, 1, 2),
    (3, 4, 5),
    (6, 7, 8),
    (0, 3, 6),
    (1, 4, 7),
    (2, 5, 8),
    (0, 4, 8),
    (2, 4, 6),
)
"""The eight winning lines as cell indices ``row * 3 + col``."""


def winner(board: np.ndarray) -> int:
    """+1 or -1 if that player has three in a line on ``board`` (int8 [3, 3]), else 0."""
    cells = board.reshape(9)
    for a, b, c in LINES:
        total = int(cells[a]) + int(cells[b]) + int(cells[c])
        if total in (3, -3):
            return total // 3
    return 0


class TicTacToeEnv(BoardGameEnv):
    """TicTacToe for two alternating players (see the module docstring for the encoding)."""

    eval_opponents: ClassVar[tuple[str, ...]] = ("minimax", "random")
    """Training evaluates against these by default (``train.eval_opponents``)."""
    symmetries: ClassVar[Symmetries] = Symmetries.dihedral(3, 3, 3)
    """The board's 8 rotations and reflections (read by :class:`mzero.envs.GymAdapter`)."""

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode)
        self.observation_space = spaces.Box(0.0, 1.0, (3, 3, 3), dtype=np.float32)
        self.action_space = spaces.Discrete(9)
        self.board = np.zeros((3, 3), dtype=np.int8)

    @property
    def _stone(self) -> int:
        """The stone of the player to move: +1 (first player) or -1."""
        return 1 if self.to_play == 0 else -1

    @classmethod
    def from_observation(cls, observation: np.ndarray) -> TicTacToeEnv:
        """The game in the position of ``observation`` ``[3, 3, 3]`` (for search opponents)."""
        obs = np.asarray(observation)
        if obs.shape != (3, 3, 3):
            raise InvalidArgumentError(f"observation: expected shape [3, 3, 3], got {obs.shape}")
        env = cls()
        env.reset()
        env.to_play = 0 if obs[2, 0, 0] > 0.5 else 1
        own = 1 if env.to_play == 0 else -1
        env.board[obs[0] > 0.5] = own
        env.board[obs[1] > 0.5] = -own
        env.done = winner(env.board) != 0 or not (env.board == 0).any()
        return env

    @staticmethod
    def every_line_report(
        move: Callable[[np.ndarray, np.ndarray], int],
    ) -> dict[str, list[int]]:
        """The whole game tree walked for a player ``move(observation, legal_mask)`` that
        chooses by the position alone: the results (+1, 0, -1) of every game against
        every optimal opponent line and every legal one, moving first and second
        (``every_optimal_line_first``, ..., ``every_legal_line_second``)."""
        from mzero.envs.players import every_line

        return {
            f"every_{name}_line_{side}": every_line(move, side == "first", opponent)
            for name, opponent in (("optimal", "optimal"), ("legal", "any"))
            for side in ("first", "second")
        }

    def legal_mask(self) -> np.ndarray:
        """bool ``[9]``: True on the empty cells; all False once the game is over."""
        if self.done:
            return np.zeros(9, dtype=bool)
        return self.board.reshape(9) == 0

    def observation(self) -> np.ndarray:
        """float32 ``[3, 3, 3]``: own stones, opponent stones, first-player-to-move plane."""
        obs = np.empty((3, 3, 3), dtype=np.float32)
        obs[0] = self.board == self._stone
        obs[1] = self.board == -self._stone
        obs[2] = 1.0 if self.to_play == 0 else 0.0
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Empties the board; the first player moves. The game has no randomness."""
        super().reset(seed=seed)
        self.board[:] = 0
        self.to_play = 0
        self.done = False
        return self.observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Places the mover's stone on cell ``action``; returns the next player's view."""
        row, col = divmod(self._checked_action(action), 3)
        if self.board[row, col] != 0:
            return self._illegal_move()
        self.board[row, col] = self._stone
        won = winner(self.board) != 0
        self.done = won or not (self.board == 0).any()
        self.to_play = 1 - self.to_play
        return self._moved(1.0 if won else 0.0)

    def render_text(self) -> str:
        """The board as text: X for the first player, O for the second, cell numbers elsewhere."""
        symbols = {1: "X", -1: "O"}
        rows = []
        for r in range(3):
            cells = [symbols.get(int(self.board[r, c]), str(r * 3 + c)) for c in range(3)]
            rows.append(" " + " | ".join(cells))
        return "\n---+---+---\n".join(rows) + "\n"
