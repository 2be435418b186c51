"""The base of two-player board games as gymnasium environments, seen by the player to move.

What every board game of :mod:`mzero.envs` shares (TicTacToe, Connect Four, OpenSpiel):

* players alternate; ``self.to_play`` is 0 when the first player is to move, and
  ``info`` holds ``legal_mask`` and ``to_play`` after every reset and step;
* the reward is from the view of the player who just moved;
* an action must be an integer in ``0 .. num_actions - 1``; a move the rules forbid
  ends the game as a loss for its player: reward -1, ``terminated=True``,
  ``info["illegal_move"] = True``;
* stepping a finished game raises :class:`mzero.InvalidArgumentError`; call reset;
* render modes ``ansi`` (returns :meth:`render_text`) and ``human`` (prints it after
  every move).

A game implements ``legal_mask``, ``observation``, ``render_text``, ``reset`` and
``step``; its ``step`` starts with :meth:`_checked_action` and ends with
:meth:`_illegal_move` or :meth:`_moved`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from mzero.errors import InvalidArgumentError

__all__ = ["BoardGameEnv"]


class BoardGameEnv(gym.Env[np.ndarray, np.int64]):
    """Two alternating players on a board (see the module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "human"], "render_fps": 1}
    two_player: ClassVar[bool] = True
    """Read by :class:`mzero.envs.GymAdapter`: rewards and values alternate sides."""
    eval_opponents: ClassVar[tuple[str, ...]] = ("uct:100", "random")
    """Training evaluates against these by default (``train.eval_opponents``)."""

    action_space: gym.spaces.Discrete

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise InvalidArgumentError(
                f"render_mode: expected one of ansi, human or None, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.to_play = 0
        """The player to move: 0 first, 1 second (after the end: the last mover's opponent)."""
        self.done = False
        """The game is over: a win, a draw, or an illegal move."""

    def legal_mask(self) -> np.ndarray:
        """bool ``[num_actions]``: the legal moves; all False once the game is over."""
        raise NotImplementedError

    def observation(self) -> np.ndarray:
        """float32: the position seen by the player to move."""
        raise NotImplementedError

    def render_text(self) -> str:
        """The position as text."""
        raise NotImplementedError

    def _info(self, **extra: Any) -> dict[str, Any]:
        return {"legal_mask": self.legal_mask(), "to_play": self.to_play, **extra}

    def _checked_action(self, action: Any) -> int:
        """``action`` as an int, once the game is known to go on and the action in range."""
        if self.done:
            raise InvalidArgumentError("step: the game is over; call reset() first")
        n = int(self.action_space.n)
        if (
            isinstance(action, (bool, np.bool_))
            or not isinstance(action, (int, np.integer))
            or not 0 <= int(action) < n
        ):
            raise InvalidArgumentError(f"action: expected an integer in 0..{n - 1}, got {action!r}")
        return int(action)

    def _illegal_move(self) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """The step of a move the rules forbid: its mover loses and the game ends."""
        self.done = True
        self.to_play = 1 - self.to_play
        return self.observation(), -1.0, True, False, self._info(illegal_move=True)

    def _moved(self, reward: float) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """The step of a legal move, once ``done`` and ``to_play`` are updated."""
        if self.render_mode == "human":
            print(self.render_text())
        return self.observation(), reward, self.done, False, self._info()

    def render(self) -> str | None:
        """``ansi``: returns the position as text; ``human``: prints it."""
        if self.render_mode == "ansi":
            return self.render_text()
        if self.render_mode == "human":
            print(self.render_text())
        return None
