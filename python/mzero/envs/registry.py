"""Environment ids and presets -> environments.

``make_env(id)`` accepts a built-in game (``tictactoe``, ``connect4``, the single-player
``2048``: :mod:`mzero.envs.game2048`), a short alias
(``cartpole`` -> ``CartPole-v1``), an OpenSpiel game (``openspiel:GAME``, such as
``openspiel:hex(board_size=5)``; :mod:`mzero.envs.openspiel`), an Atari game
(``ALE/Pong-v5``; :mod:`mzero.envs.atari`), a MinAtar game (``MinAtar/Breakout-v1``;
:mod:`mzero.envs.minatar`) or any registered gymnasium id, and returns a
:class:`~mzero.envs.gym.GymAdapter`. The built-in
TicTacToe is also registered with gymnasium as ``mzero/TicTacToe-v0``, Connect Four
as ``mzero/ConnectFour-v0``, 2048 as ``mzero/2048-v0``.
"""

from __future__ import annotations

from typing import Any

import gymnasium

from mzero.config import EnvConfig
from mzero.envs.atari import PREFIX as ATARI_PREFIX
from mzero.envs.atari import make_atari
from mzero.envs.connect4 import ConnectFourEnv
from mzero.envs.gym import GymAdapter
from mzero.envs.minatar import PREFIX as MINATAR_PREFIX
from mzero.envs.minatar import make_minatar
from mzero.envs.openspiel import PREFIX as OPENSPIEL_PREFIX
from mzero.envs.openspiel import OpenSpielEnv
from mzero.envs.tictactoe import TicTacToeEnv
from mzero.errors import InvalidArgumentError

__all__ = [
    "ALIASES",
    "BUILTIN",
    "BUILTIN_GAMES",
    "game_class",
    "make_board_game",
    "make_env",
    "make_env_from_config",
    "make_playable_game",
]

BUILTIN: dict[str, str] = {
    "tictactoe": "mzero/TicTacToe-v0",
    "connect4": "mzero/ConnectFour-v0",
    "2048": "mzero/2048-v0",
}
"""Built-in games: name -> gymnasium id (2048 is single-player, not a board game of
:data:`BUILTIN_GAMES`: it has no opponents; ``mzero play`` shows the agent playing it)."""

BUILTIN_GAMES: dict[str, type[Any]] = {
    "tictactoe": TicTacToeEnv,
    BUILTIN["tictactoe"]: TicTacToeEnv,
    "connect4": ConnectFourEnv,
    BUILTIN["connect4"]: ConnectFourEnv,
}
"""Built-in board games by either id -> their class (which stays in-process in self-play
and rebuilds positions from observations for search opponents)."""


def game_class(env_id: str) -> type[Any] | None:
    """The board-game class of ``env_id``: a built-in's, :class:`OpenSpielEnv` for
    ``openspiel:GAME``, else None."""
    if env_id.startswith(OPENSPIEL_PREFIX):
        return OpenSpielEnv
    return BUILTIN_GAMES.get(env_id)


def make_board_game(env_id: str) -> Any | None:
    """A fresh board game ``env_id`` as its own gymnasium class (with ``render_text``,
    ``legal_mask`` and copyable state), or None if ``env_id`` is not a board game."""
    game = game_class(env_id)
    if game is OpenSpielEnv:
        return OpenSpielEnv(env_id[len(OPENSPIEL_PREFIX) :])
    return game() if game is not None else None


def make_playable_game(env_id: str) -> Any | None:
    """What ``mzero play`` plays: a board game (:func:`make_board_game`) or the built-in
    2048 (both with ``render_text`` and chance outcomes in ``info["chance"]``); None
    for anything else."""
    if env_id in ("2048", BUILTIN["2048"]):
        from mzero.envs.game2048 import Game2048Env

        return Game2048Env()
    return make_board_game(env_id)


ALIASES: dict[str, str] = {"cartpole": "CartPole-v1"}
"""Short names (the preset names) -> gymnasium ids."""

if BUILTIN["tictactoe"] not in gymnasium.registry:
    gymnasium.register(BUILTIN["tictactoe"], entry_point="mzero.envs.tictactoe:TicTacToeEnv")
if BUILTIN["connect4"] not in gymnasium.registry:
    gymnasium.register(BUILTIN["connect4"], entry_point="mzero.envs.connect4:ConnectFourEnv")
if BUILTIN["2048"] not in gymnasium.registry:
    gymnasium.register(BUILTIN["2048"], entry_point="mzero.envs.game2048:Game2048Env")


def make_env(env_id: str, max_episode_steps: int | None = None, **kwargs: Any) -> GymAdapter:
    """The environment ``env_id`` (built-in, alias or gymnasium id) behind a :class:`GymAdapter`.

    ``max_episode_steps`` adds or replaces a time limit (in agent steps); ``kwargs`` go to
    ``gymnasium.make``, or for ``ALE/`` ids to :func:`~mzero.envs.atari.make_atari` (its
    options ``frame_skip``, ``sticky_actions``, ``full_action_space``, ``max_frames``,
    ``noop_max``, ``grayscale``, ``screen_size``, ``episodic_life``, then
    ``gymnasium.make``'s).
    """
    if env_id.startswith((OPENSPIEL_PREFIX, ATARI_PREFIX, MINATAR_PREFIX)):
        env: gymnasium.Env[Any, Any]
        if env_id.startswith(ATARI_PREFIX):
            env = make_atari(env_id, **kwargs)
        elif env_id.startswith(MINATAR_PREFIX):
            env = make_minatar(env_id, **kwargs)
        else:
            env = OpenSpielEnv(env_id[len(OPENSPIEL_PREFIX) :], **kwargs)
        if max_episode_steps is not None:
            env = gymnasium.wrappers.TimeLimit(env, max_episode_steps)
        return GymAdapter(env, name=env_id)
    gym_id = BUILTIN.get(env_id) or ALIASES.get(env_id) or env_id
    try:
        env = gymnasium.make(gym_id, max_episode_steps=max_episode_steps, **kwargs)
    except gymnasium.error.Error as err:
        raise InvalidArgumentError(
            f"env.id: cannot make environment {env_id!r} ({err}); expected a gymnasium id "
            f"or one of {', '.join(sorted({*BUILTIN, *ALIASES}))}"
        ) from err
    try:
        return GymAdapter(env, name=env_id)
    except InvalidArgumentError:
        env.close()
        raise


def make_env_from_config(
    config: EnvConfig, *, evaluation: bool = False, **kwargs: Any
) -> GymAdapter:
    """``make_env(config.id, config.max_episode_steps, **kwargs)``, with the config's
    ``atari_*`` options and ``episodic_life`` for ``ALE/`` ids.

    ``evaluation`` leaves out the training-only option ``episodic_life``: evaluation
    plays whole games.
    """
    if config.id.startswith(ATARI_PREFIX):
        kwargs = {
            "frame_skip": config.atari_frame_skip,
            "sticky_actions": config.atari_sticky_actions,
            "full_action_space": config.atari_full_action_space,
            "max_frames": config.atari_max_frames,
            "noop_max": config.atari_noop_max,
            "grayscale": config.atari_grayscale,
            "screen_size": config.atari_screen_size,
            "episodic_life": config.episodic_life and not evaluation,
            **kwargs,
        }
    return make_env(config.id, config.max_episode_steps, **kwargs)
