"""OpenSpiel games as gymnasium environments: ``make_env("openspiel:GAME")``.

``GAME`` is an OpenSpiel game string, parameters as OpenSpiel writes them:
``openspiel:connect_four``, ``openspiel:hex(board_size=5)``, ``openspiel:2048``,
``openspiel:backgammon``. mzero plays the games it can model: one player, or two
zero-sum ones; sequential moves; perfect information; no chance, or chance events
with explicit outcomes (OpenSpiel's ``DETERMINISTIC`` and ``EXPLICIT_STOCHASTIC``
chance modes). Others are refused with an error that names the property. The encoding:

* observation: ``state.observation_tensor(player)`` of the player to move, float32 in
  OpenSpiel's ``observation_tensor_shape()`` (after the game ends: of the player who
  would have moved next, i.e. the last mover's opponent);
* action: OpenSpiel's action id, ``0 .. num_distinct_actions() - 1``; ``info["legal_mask"]``
  masks the illegal ones, and an illegal action loses, as in the built-in games;
* reward: the change in the mover's OpenSpiel return (``state.returns()``) over the
  move and the chance events after it, so a win/loss/draw game gives +1/-1/0 on its
  last move, from the mover's view, and ``openspiel:2048`` the merged tiles;
* chance: the environment plays chance nodes itself. After a move, and at a reset (the
  first tiles of 2048, backgammon's opening roll), while the state is a chance node it
  samples an outcome from ``state.chance_outcomes()`` with the generator that
  ``reset(seed=...)`` seeds, and applies it. ``info["chance"]`` lists the outcomes
  that happened, as OpenSpiel's strings (``"chance outcome 1 (roll: 21)"``), in chance
  games only. A copy (``copy.deepcopy``) draws its own outcomes;
* one-player games (``openspiel:2048``): ``two_player`` is False, ``to_play`` stays 0,
  and an illegal action ends the episode with reward 0;
* two-player convention: players alternate. A game without chance whose mover moves
  again (Dots and Boxes after closing a box) raises :class:`mzero.InvalidArgumentError`
  at that move, because mzero's two-player search and value targets flip sides at
  every step. In a game with chance the move is let through and flagged
  (``info["moved_again"] = True``): backgammon's doubles give the roller a second
  action. Search and value targets still count it as the opponent's, so they are
  off at those moves until mzero's search knows whose turn it is.

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
        (game.num_players() in (1, 2), f"1 or 2 players, it has {game.num_players()}"),
        (
            game.num_players() == 1 or kind.utility == pyspiel.GameType.Utility.ZERO_SUM,
            f"zero-sum, it is {kind.utility}",
        ),
        (
            kind.dynamics == pyspiel.GameType.Dynamics.SEQUENTIAL,
            f"sequential moves, it has {kind.dynamics}",
        ),
        (
            kind.information == pyspiel.GameType.Information.PERFECT_INFORMATION,
            f"perfect information, it has {kind.information}",
        ),
        (
            kind.chance_mode
            in (
                pyspiel.GameType.ChanceMode.DETERMINISTIC,
                pyspiel.GameType.ChanceMode.EXPLICIT_STOCHASTIC,
            ),
            f"no chance events or ones with explicit outcomes, it has {kind.chance_mode}",
        ),
        (kind.provides_observation_tensor, "an observation tensor, it provides none"),
    )
    for ok, expected in checks:
        if not ok:
            return f"expected {expected}"
    return None


class OpenSpielEnv(BoardGameEnv):
    """An OpenSpiel one-player or two-player zero-sum game, chance nodes played by the
    environment (see the module docstring for the encoding)."""

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
        self.two_player = self.game.num_players() == 2  # type: ignore[misc]
        """Read by :class:`mzero.envs.GymAdapter`: False for one-player games (2048)."""
        self.has_chance = (
            self.game.get_type().chance_mode == pyspiel.GameType.ChanceMode.EXPLICIT_STOCHASTIC
        )
        """The game has chance nodes, which the environment samples."""
        shape = tuple(self.game.observation_tensor_shape())
        self.observation_space = spaces.Box(-np.inf, np.inf, shape, dtype=np.float32)
        self.action_space = spaces.Discrete(self.game.num_distinct_actions())
        self.state = self.game.new_initial_state()

    def __deepcopy__(self, memo: dict[int, Any]) -> OpenSpielEnv:
        clone = copy.copy(self)
        clone.state = self.state.clone()
        if self._np_random is not None:  # its own chance draws; the original's are kept
            clone._np_random = self._np_random.spawn(1)[0]
        return clone

    def legal_mask(self) -> np.ndarray:
        """bool ``[num_actions]``: OpenSpiel's legal actions; all False once the game is over."""
        mask = np.zeros(self.action_space.n, dtype=bool)
        if not self.done and not self.state.is_chance_node():
            mask[self.state.legal_actions()] = True
        return mask

    def observation(self) -> np.ndarray:
        """float32: the observation tensor of the player to move."""
        tensor = np.asarray(self.state.observation_tensor(self.to_play), dtype=np.float32)
        return tensor.reshape(self.observation_space.shape)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The initial position, after its chance events (seeded by ``seed``)."""
        super().reset(seed=seed)
        self.state = self.game.new_initial_state()
        chance = self._play_chance()
        self.done = bool(self.state.is_terminal())
        self.to_play = 0 if self.done else int(self.state.current_player())
        return self.observation(), self._info(**self._chance_info(chance))

    def _play_chance(self) -> list[str]:
        """Samples and applies chance outcomes while the state is a chance node; their
        strings."""
        happened = []
        while self.state.is_chance_node():
            outcomes, probs = zip(*self.state.chance_outcomes(), strict=True)
            cumulative = np.cumsum(probs)
            u = self.np_random.random() * cumulative[-1]
            i = min(int(np.searchsorted(cumulative, u, side="right")), len(outcomes) - 1)
            player = self.state.current_player()
            happened.append(self.state.action_to_string(player, outcomes[i]))
            self.state.apply_action(outcomes[i])
        return happened

    def _chance_info(self, chance: list[str]) -> dict[str, Any]:
        return {"chance": chance} if self.has_chance else {}

    def _illegal_move(self) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.two_player:
            observation, reward, terminated, truncated, info = super()._illegal_move()
        else:
            self.done = True  # one player: no opponent to win, the episode just ends
            observation, reward, terminated, truncated = self.observation(), 0.0, True, False
            info = self._info(illegal_move=True)
        return observation, reward, terminated, truncated, info | self._chance_info([])

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Plays OpenSpiel action ``action`` for the player to move; returns the next view."""
        action = self._checked_action(action)
        mover = self.to_play
        if action not in self.state.legal_actions():
            return self._illegal_move()  # an illegal move loses, as in the built-in games
        before = self.state.returns()[mover]
        self.state.apply_action(action)
        chance = self._play_chance()
        reward = float(self.state.returns()[mover] - before)
        terminated = self.done = bool(self.state.is_terminal())
        extra = self._chance_info(chance)
        if not self.two_player:
            self.to_play = 0
        elif terminated:
            self.to_play = 1 - mover
        else:
            self.to_play = int(self.state.current_player())
            if self.to_play == mover:
                if not self.has_chance:
                    raise InvalidArgumentError(
                        f"env.id: in the OpenSpiel game {self.game_string!r} player {mover} "
                        "moved twice in a row; mzero's two-player search assumes alternating "
                        "moves"
                    )
                extra["moved_again"] = True
        observation, reward, terminated, truncated, info = self._moved(reward)
        return observation, reward, terminated, truncated, info | extra

    def render_text(self) -> str:
        """OpenSpiel's own text of the position."""
        return str(self.state) + "\n"
