"""OpenSpiel games as gymnasium environments: ``make_env("openspiel:GAME")``.

``GAME`` is an OpenSpiel game string, parameters as OpenSpiel writes them:
``openspiel:connect_four``, ``openspiel:hex(board_size=5)``. mzero plays the games it
can model: two players, zero-sum, sequential moves, perfect information and no
chance (OpenSpiel's ``DETERMINISTIC`` chance mode); others are refused with an
error that names the property. The encoding:

* observation: ``state.observation_tensor(player)`` of the player to move, float32 in
  OpenSpiel's ``observation_tensor_shape()`` (after the game ends: of the player who
  would have moved next, i.e. the last mover's opponent);
* action: OpenSpiel's action id, ``0 .. num_distinct_actions() - 1``; ``info["legal_mask"]``
  masks the illegal ones, and an illegal action loses, as in the built-in games;
* reward: the change in the mover's OpenSpiel return (``state.returns()``), so a
  win/loss/draw game gives +1/-1/0 on its last move, from the mover's view;
* two-player convention: players alternate. A game whose mover moves again (Dots and
  Boxes after closing a box) raises :class:`mzero.InvalidArgumentError` at that move,
  because mzero's two-player search and value targets flip sides at every step.

Search opponents (``uct:N``) copy the environment (``copy.deepcopy`` clones the
OpenSpiel state); OpenSpiel observations need not determine the position.

OpenSpiel is an optional dependency: ``pip install mzero[openspiel]``.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

import numpy as np
from gymnasium import spaces

from mzero.envs.board import BoardGameEnv
from mzero.errors import InvalidArgumentError

__all__ = ["PREFIX", "OpenSpielEnv"]

PREFIX = "openspiel:"
"""Environment ids ``openspiel:GAME`` name OpenSpiel games."""


def _pyspiel() -> Any:
    try:
        import pyspiel
    except ImportError as err:
        raise InvalidArgumentError(
            "env.id: OpenSpiel games need the open_spiel package: pip install 'mzero[openspiel]'"
        ) from err
    return pyspiel


def _refusal(pyspiel: Any, game: Any) -> str | None:
    """Why mzero cannot play ``game``, or None."""
    kind = game.get_type()
    checks = (
        (game.num_players() == 2, f"2 players, it has {game.num_players()}"),
        (kind.utility == pyspiel.GameType.Utility.ZERO_SUM, f"zero-sum, it is {kind.utility}"),
        (
            kind.dynamics == pyspiel.GameType.Dynamics.SEQUENTIAL,
            f"sequential moves, it has {kind.dynamics}",
        ),
        (
            kind.information == pyspiel.GameType.Information.PERFECT_INFORMATION,
            f"perfect information, it has {kind.information}",
        ),
        (
            kind.chance_mode == pyspiel.GameType.ChanceMode.DETERMINISTIC,
            f"no chance events, it has {kind.chance_mode}",
        ),
        (kind.provides_observation_tensor, "an observation tensor, it provides none"),
    )
    for ok, expected in checks:
        if not ok:
            return f"expected {expected}"
    return None


class OpenSpielEnv(BoardGameEnv):
    """An OpenSpiel two-player zero-sum game (see the module docstring for the encoding)."""

    def __init__(self, game: str, render_mode: str | None = None) -> None:
        super().__init__(render_mode)
        pyspiel = _pyspiel()
        name = game.split("(", 1)[0]
        names = pyspiel.registered_names()
        if name not in names:
            close = difflib.get_close_matches(name, names, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise InvalidArgumentError(
                f"env.id: OpenSpiel has no game {name!r} (pyspiel.registered_names() lists "
                f"them){hint}"
            )
        try:
            self.game = pyspiel.load_game(game)
        except pyspiel.SpielError as err:
            message = str(err).splitlines()[0]
            raise InvalidArgumentError(
                f"env.id: OpenSpiel cannot load {game!r} ({message}); expected a game string "
                "such as connect_four or hex(board_size=5)"
            ) from err
        refusal = _refusal(pyspiel, self.game)
        if refusal is not None:
            raise InvalidArgumentError(
                f"env.id: mzero cannot play the OpenSpiel game {game!r}: {refusal}"
            )
        self.game_string = game
        shape = tuple(self.game.observation_tensor_shape())
        self.observation_space = spaces.Box(-np.inf, np.inf, shape, dtype=np.float32)
        self.action_space = spaces.Discrete(self.game.num_distinct_actions())
        self.state = self.game.new_initial_state()

    def __deepcopy__(self, memo: dict[int, Any]) -> OpenSpielEnv:
        clone = copy.copy(self)
        clone.state = self.state.clone()
        return clone

    def legal_mask(self) -> np.ndarray:
        """bool ``[num_actions]``: OpenSpiel's legal actions; all False once the game is over."""
        mask = np.zeros(self.action_space.n, dtype=bool)
        if not self.done:
            mask[self.state.legal_actions()] = True
        return mask

    def observation(self) -> np.ndarray:
        """float32: the observation tensor of the player to move."""
        tensor = np.asarray(self.state.observation_tensor(self.to_play), dtype=np.float32)
        return tensor.reshape(self.observation_space.shape)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The initial position (these games have no randomness)."""
        super().reset(seed=seed)
        self.state = self.game.new_initial_state()
        self.to_play = int(self.state.current_player())
        self.done = False
        return self.observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Plays OpenSpiel action ``action`` for the player to move; returns the next view."""
        action = self._checked_action(action)
        mover = self.to_play
        if action not in self.state.legal_actions():
            return self._illegal_move()  # an illegal move loses, as in the built-in games
        before = self.state.returns()[mover]
        self.state.apply_action(action)
        reward = float(self.state.returns()[mover] - before)
        terminated = self.done = bool(self.state.is_terminal())
        if terminated:
            self.to_play = 1 - mover
        else:
            self.to_play = int(self.state.current_player())
            if self.to_play == mover:
                raise InvalidArgumentError(
                    f"env.id: in the OpenSpiel game {self.game_string!r} player {mover} moved "
                    "twice in a row; mzero's two-player search assumes alternating moves"
                )
        return self._moved(reward)

    def render_text(self) -> str:
        """OpenSpiel's own text of the position."""
        return str(self.state) + "\n"
