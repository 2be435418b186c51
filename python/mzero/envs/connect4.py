"""Connect Four as a two-player gymnasium environment, seen by the player to move.

Encoding (fixed, so that outside code can play the agent):

* board: 6 rows x 7 columns; row 0 is the top row, and a dropped stone lands in the
  lowest empty row of its column;
* observation: float32 ``[3, 6, 7]``: ``[0]`` stones of the player to move, ``[1]``
  the opponent's stones, ``[2]`` all ones when the first player is to move, else zeros;
* action: the column, ``0..6``; legal while the column is not full
  (:meth:`ConnectFourEnv.legal_mask`, also ``info["legal_mask"]``; all False once the
  game is over); ``info["to_play"]`` is 0 when the first player is to move;
* reward: from the view of the player who just moved: +1 for the move that connects
  four (a row, a column or a diagonal), 0 otherwise (a draw when the board is full);
* an illegal move (a full column) ends the game as a loss for its player: reward -1,
  ``terminated=True``, ``info["illegal_move"] = True``;
* the rules are the same on the left-right mirrored board:
  :attr:`ConnectFourEnv.symmetries` holds the two maps (:mod:`mzero.symmetry`);
* :attr:`ConnectFourEnv.action_planes` draws each action on the board for a
  convolutional dynamics network: ones on the action's column;
* stepping a finished game raises :class:`mzero.InvalidArgumentError`; call reset.

The position is kept as two bitboards (the usual layout: bit ``7 * col + r`` is row
``r`` counted from the bottom of column ``col``, with a spare bit on top of each
column), so that a move and its four-in-a-row test are a few integer operations.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from mzero.envs.board import BoardGameEnv
from mzero.errors import InvalidArgumentError
from mzero.symmetry import Symmetries

__all__ = ["COLUMNS", "ROWS", "ConnectFourEnv", "connects_four"]

ROWS = 6
COLUMNS = 7
_HEIGHT = ROWS + 1  # bits per column: the spare top bit stops lines wrapping around
_BOTTOM = sum(1 << (_HEIGHT * c) for c in range(COLUMNS))
_FULL = _BOTTOM * ((1 << ROWS) - 1)
# bit index of each cell of the [6, 7] board, row 0 on top
_BIT_OF_CELL = np.array(
    [[_HEIGHT * col + (ROWS - 1 - row) for col in range(COLUMNS)] for row in range(ROWS)]
)


def _cells(stones: int) -> np.ndarray:
    """bool ``[6, 7]`` (row 0 on top): the cells of the bitboard ``stones``."""
    bits = np.unpackbits(
        np.frombuffer(stones.to_bytes(8, "little"), dtype=np.uint8), bitorder="little"
    )
    return bits[_BIT_OF_CELL].astype(bool)


def connects_four(stones: int) -> bool:
    """Whether the bitboard ``stones`` holds four in a row in any direction."""
    for shift in (1, _HEIGHT, _HEIGHT - 1, _HEIGHT + 1):  # vertical, horizontal, diagonals
        pairs = stones & (stones >> shift)
        if pairs & (pairs >> (2 * shift)):
            return True
    return False


def _mirror() -> Symmetries:
    cells = np.arange(3 * ROWS * COLUMNS).reshape(3, ROWS, COLUMNS)
    return Symmetries(
        observation=np.stack([cells.reshape(-1), cells[:, :, ::-1].reshape(-1)]),
        policy=np.stack([np.arange(COLUMNS), np.arange(COLUMNS)[::-1]]),
    )


def _column_planes() -> np.ndarray:
    planes = np.zeros((COLUMNS, 1, ROWS, COLUMNS), dtype=np.float32)
    for column in range(COLUMNS):
        planes[column, 0, :, column] = 1.0
    return planes


class ConnectFourEnv(BoardGameEnv):
    """Connect Four for two alternating players (see the module docstring for the encoding)."""

    symmetries: ClassVar[Symmetries] = _mirror()
    """Identity and the left-right mirror (read by :class:`mzero.envs.GymAdapter`)."""

    action_planes: ClassVar[np.ndarray] = _column_planes()
    """float32 ``[7, 1, 6, 7]``: action ``c`` as one plane with ones on column ``c``, the
    input of the ResNet dynamics (:func:`mzero.learner.build_network`). A convolution
    sees at every cell whether the stone drops into its own column, which seven
    constant one-hot planes cannot show it."""

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode)
        self.observation_space = spaces.Box(0.0, 1.0, (3, ROWS, COLUMNS), dtype=np.float32)
        self.action_space = spaces.Discrete(COLUMNS)
        self.stones = [0, 0]
        """Bitboards of the first and the second player."""
        self.heights = [0] * COLUMNS
        """Stones in each column."""

    @classmethod
    def from_observation(cls, observation: np.ndarray) -> ConnectFourEnv:
        """The game in the position of ``observation`` ``[3, 6, 7]`` (for search opponents)."""
        obs = np.asarray(observation)
        if obs.shape != (3, ROWS, COLUMNS):
            raise InvalidArgumentError(f"observation: expected shape [3, 6, 7], got {obs.shape}")
        env = cls()
        env.reset()
        env.to_play = 0 if obs[2, 0, 0] > 0.5 else 1
        for plane, player in ((0, env.to_play), (1, 1 - env.to_play)):
            rows, cols = np.nonzero(obs[plane] > 0.5)
            for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
                env.stones[player] |= 1 << (_HEIGHT * col + (ROWS - 1 - row))
        occupied = (obs[0] + obs[1]) > 0.5
        env.heights = [int(occupied[:, c].sum()) for c in range(COLUMNS)]
        won = connects_four(env.stones[0]) or connects_four(env.stones[1])
        env.done = won or (env.stones[0] | env.stones[1]) == _FULL
        return env

    def legal_mask(self) -> np.ndarray:
        """bool ``[7]``: True on the columns that are not full; all False once the game is over."""
        if self.done:
            return np.zeros(COLUMNS, dtype=bool)
        return np.array([h < ROWS for h in self.heights], dtype=bool)

    def board(self) -> np.ndarray:
        """int8 ``[6, 7]``, row 0 on top: +1 for the first player's stones, -1 for the second's."""
        return _cells(self.stones[0]).astype(np.int8) - _cells(self.stones[1]).astype(np.int8)

    def observation(self) -> np.ndarray:
        """float32 ``[3, 6, 7]``: own stones, opponent stones, first-player-to-move plane."""
        obs = np.empty((3, ROWS, COLUMNS), dtype=np.float32)
        obs[0] = _cells(self.stones[self.to_play])
        obs[1] = _cells(self.stones[1 - self.to_play])
        obs[2] = 1.0 if self.to_play == 0 else 0.0
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Empties the board; the first player moves. The game has no randomness."""
        super().reset(seed=seed)
        self.stones = [0, 0]
        self.heights = [0] * COLUMNS
        self.to_play = 0
        self.done = False
        return self.observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Drops the mover's stone into column ``action``; returns the next player's view."""
        col = self._checked_action(action)
        if self.heights[col] == ROWS:
            return self._illegal_move()
        self.stones[self.to_play] |= 1 << (_HEIGHT * col + self.heights[col])
        self.heights[col] += 1
        won = connects_four(self.stones[self.to_play])
        self.done = won or (self.stones[0] | self.stones[1]) == _FULL
        self.to_play = 1 - self.to_play
        return self._moved(1.0 if won else 0.0)

    def render_text(self) -> str:
        """The board as text, row 0 on top: X first player, O second, the column numbers below."""
        symbols = {1: "X", -1: "O", 0: "."}
        rows = [" ".join(symbols[int(v)] for v in row) for row in self.board()]
        return "\n".join(rows) + "\n" + " ".join(str(c) for c in range(COLUMNS)) + "\n"
