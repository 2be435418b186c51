"""2048 as a single-player gymnasium environment, in numpy (no external package).

Encoding (fixed; agents and tests depend on it):

* board: 4x4 cells holding tile exponents: 0 for an empty cell, ``k`` for a tile ``2**k``
  (``self.board``, int ``[4, 4]``; cell ``row * 4 + col``, row 0 on top);
* observation: uint8 ``[16, 4, 4]`` of 0s and 1s (a quarter of float32's bytes in the
  replay buffer and through Ray; the network's device makes them float), the
  Stochastic MuZero paper's one-hot planes of
  tile exponents: plane ``k`` marks the cells holding ``2**k``, plane 0 the empty cells,
  plane 15 tiles of ``2**15`` (and, were one ever made, larger); every cell is hot in
  exactly one plane;
* action: 0 up, 1 right, 2 down, 3 left: every tile slides that way as far as it can,
  and two equal tiles meeting merge into one of twice the value; each tile merges at
  most once per move, the pair nearest the wall first (a row ``2 2 2 2`` moved left
  gives ``4 4 . .``, ``4 4 8 .`` gives ``8 8 . .``);
* legal actions: the moves that change the board, ``info["legal_mask"]`` (bool ``[4]``);
  the episode terminates when none is left;
* chance: after every legal move a tile spawns in a uniformly random empty cell, a 2
  with probability 0.9 and a 4 with 0.1; a reset places two such tiles. The draws come
  from the generator that ``reset(seed=...)`` seeds, so a seed fixes the episode for a
  given sequence of actions. ``info["chance"]`` lists the spawns that happened as
  ``(cell, value)`` pairs (two after a reset, one after a move);
* reward: the sum of the tiles the move made by merging (two 4s merging gives 8);
* ``info["max_tile"]``: the largest tile on the board; ``info["score"]``: the rewards
  of the episode so far;
* an illegal move (one that changes nothing) ends the episode: reward 0,
  ``terminated=True``, ``info["illegal_move"] = True``. Agents that respect the legal
  mask never see this;
* stepping a finished episode raises :class:`mzero.InvalidArgumentError`; call reset.

The game does not stop at 2048: it goes on until no move is legal.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mzero.errors import InvalidArgumentError

__all__ = ["ACTIONS", "NUM_PLANES", "Game2048Env", "slide_line"]

ACTIONS: tuple[str, ...] = ("up", "right", "down", "left")
"""The action names by id."""

NUM_PLANES = 16
"""Observation planes: exponents 0 (empty) to 15 (``2**15``)."""

_SIZE = 4
_CELLS = np.arange(_SIZE * _SIZE).reshape(_SIZE, _SIZE)
_LINES: tuple[tuple[tuple[int, ...], ...], ...] = tuple(
    tuple(tuple(int(c) for c in line) for line in lines)
    for lines in (
        _CELLS.T,  # up: each column, top cell first
        _CELLS[:, ::-1],  # right: each row, rightmost cell first
        _CELLS[::-1].T,  # down: each column, bottom cell first
        _CELLS,  # left: each row, leftmost cell first
    )
)
"""``_LINES[action]``: the 4 lines of cell indices, each from the cell the tiles slide
towards."""


@functools.cache
def slide_line(line: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """A line of exponents slid towards its index 0: (the new line, the merged tiles' sum).

    ``slide_line((1, 1, 1, 1)) == ((2, 2, 0, 0), 8)``: each tile merges at most once.
    """
    tiles = [t for t in line if t]
    out: list[int] = []
    reward = 0
    i = 0
    while i < len(tiles):
        if i + 1 < len(tiles) and tiles[i] == tiles[i + 1]:
            out.append(tiles[i] + 1)
            reward += 2 ** (tiles[i] + 1)
            i += 2
        else:
            out.append(tiles[i])
            i += 1
    return (*out, *(0,) * (len(line) - len(out))), reward


def _moved(cells: list[int], action: int) -> tuple[list[int], int]:
    """``cells`` (16 exponents) after ``action``, and the move's reward."""
    after = list(cells)
    reward = 0
    for line in _LINES[action]:
        slid, gained = slide_line(tuple(cells[c] for c in line))
        reward += gained
        for c, e in zip(line, slid, strict=True):
            after[c] = e
    return after, reward


class Game2048Env(gym.Env[np.ndarray, np.int64]):
    """2048 on a 4x4 board (see the module docstring for the encoding)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "human"], "render_fps": 4}
    two_player: ClassVar[bool] = False
    """Read by :class:`mzero.envs.GymAdapter`: one player."""
    action_names: ClassVar[tuple[str, ...]] = ACTIONS
    """The actions' names by id (``mzero play`` shows them)."""

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise InvalidArgumentError(
                f"render_mode: expected one of ansi, human or None, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 1, (NUM_PLANES, _SIZE, _SIZE), np.uint8)
        self.action_space = spaces.Discrete(len(ACTIONS))
        self._cells = [0] * (_SIZE * _SIZE)
        self._mask = np.zeros(len(ACTIONS), dtype=bool)
        self.score = 0
        """The rewards of the episode so far."""
        self.done = True
        """The episode is over (no legal move, or an illegal one); reset starts another."""

    @property
    def board(self) -> np.ndarray:
        """int64 ``[4, 4]``: the tile exponents (0 empty, ``k`` for ``2**k``)."""
        return np.array(self._cells, dtype=np.int64).reshape(_SIZE, _SIZE)

    def set_board(self, board: Any) -> None:
        """Puts the exponents ``board`` (``[4, 4]``, 0 for empty) on the board, e.g. to
        set up a position after a reset; the episode goes on if a move is legal."""
        cells = np.asarray(board, dtype=np.int64).reshape(-1)
        if cells.shape != (_SIZE * _SIZE,) or (cells < 0).any():
            raise InvalidArgumentError(
                f"board: expected [4, 4] exponents >= 0, got {np.asarray(board).tolist()!r}"
            )
        self._cells = [int(e) for e in cells]
        self._mask = self._legal()
        self.done = not self._mask.any()

    def legal_mask(self) -> np.ndarray:
        """bool ``[4]``: the moves that change the board; all False once the episode is over."""
        return self._mask.copy() if not self.done else np.zeros(len(ACTIONS), dtype=bool)

    def max_tile(self) -> int:
        """The largest tile on the board (0 if empty)."""
        top = max(self._cells)
        return 2**top if top else 0

    def observation(self) -> np.ndarray:
        """uint8 ``[16, 4, 4]``: the one-hot planes of the tile exponents."""
        obs = np.zeros((NUM_PLANES, _SIZE * _SIZE), dtype=np.uint8)
        planes = np.minimum(np.array(self._cells), NUM_PLANES - 1)
        obs[planes, np.arange(_SIZE * _SIZE)] = 1.0
        return obs.reshape(NUM_PLANES, _SIZE, _SIZE)

    def _legal(self) -> np.ndarray:
        return np.array(
            [_moved(self._cells, a)[0] != self._cells for a in range(len(ACTIONS))], dtype=bool
        )

    def _spawn(self) -> tuple[int, int]:
        """A 2 (p = 0.9) or a 4 in a uniformly random empty cell: (cell, value)."""
        empty = [c for c, e in enumerate(self._cells) if e == 0]
        cell = empty[int(self.np_random.integers(len(empty)))]
        exponent = 1 if self.np_random.random() < 0.9 else 2
        self._cells[cell] = exponent
        return cell, 2**exponent

    def _info(self, chance: list[tuple[int, int]], **extra: Any) -> dict[str, Any]:
        return {
            "legal_mask": self.legal_mask(),
            "chance": chance,
            "max_tile": self.max_tile(),
            "score": self.score,
            **extra,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """An empty board with two spawned tiles (seeded by ``seed``)."""
        super().reset(seed=seed)
        self._cells = [0] * (_SIZE * _SIZE)
        self.score = 0
        chance = [self._spawn(), self._spawn()]
        self._mask = self._legal()
        self.done = not self._mask.any()
        if self.render_mode == "human":
            print(self.render_text())
        return self.observation(), self._info(chance)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Slides the tiles (0 up, 1 right, 2 down, 3 left), then spawns one."""
        if self.done:
            raise InvalidArgumentError("step: the episode is over; call reset() first")
        if (
            isinstance(action, (bool, np.bool_))
            or not isinstance(action, (int, np.integer))
            or not 0 <= int(action) < len(ACTIONS)
        ):
            raise InvalidArgumentError(f"action: expected an integer in 0..3, got {action!r}")
        action = int(action)
        if not self._mask[action]:
            self.done = True
            return self.observation(), 0.0, True, False, self._info([], illegal_move=True)
        self._cells, reward = _moved(self._cells, action)
        self.score += reward
        chance = [self._spawn()]
        self._mask = self._legal()
        self.done = not self._mask.any()
        if self.render_mode == "human":
            print(self.render_text())
        return self.observation(), float(reward), self.done, False, self._info(chance)

    def render_text(self) -> str:
        """The board as text: tile values, ``.`` for empty cells."""
        rows = [
            " ".join(f"{2**e if e else '.':>5}" for e in self._cells[r * _SIZE : (r + 1) * _SIZE])
            for r in range(_SIZE)
        ]
        return "\n".join(rows) + f"\nscore {self.score}\n"

    def render(self) -> str | None:
        """``ansi``: returns the board as text; ``human``: prints it."""
        if self.render_mode == "ansi":
            return self.render_text()
        if self.render_mode == "human":
            print(self.render_text())
        return None
