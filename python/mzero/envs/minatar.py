"""MinAtar games (Young and Tian 2019): ``make_env("MinAtar/Breakout-v1")``.

MinAtar reimplements five Atari games on a 10x10 grid whose channels each show one kind
of object: ``Asterix`` (4 channels), ``Breakout`` (4), ``Freeway`` (7), ``Seaquest``
(10), ``SpaceInvaders`` (6). The ids are the ``minatar`` package's gymnasium ones:
``MinAtar/<Game>-v1``, which plays the game's minimal action set (Breakout: 3 actions;
minatar's deprecated ``-v0`` ids play all 6). The observation, bool ``[10, 10, C]`` in
MinAtar, comes back as uint8 ``[C, 10, 10]`` of 0s and 1s. MinAtar's own defaults stay:
sticky actions with probability 0.1 and difficulty ramping; ``make_env`` passes keyword
arguments through (``sticky_action_prob=0.0``, ``difficulty_ramping=False``).

MinAtar is an optional dependency: ``pip install 'mzero[minatar]'``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from mzero.envs.atari import ChannelsFirst
from mzero.errors import InvalidArgumentError

__all__ = ["GAMES", "PREFIX", "make_minatar"]

PREFIX = "MinAtar/"
"""Environment ids ``MinAtar/<Game>-v1`` name MinAtar games."""

GAMES: dict[str, int] = {
    "Asterix": 4,
    "Breakout": 4,
    "Freeway": 7,
    "Seaquest": 10,
    "SpaceInvaders": 6,
}
"""The MinAtar games by their id's name -> their number of channels C."""


def _register() -> None:
    try:
        import minatar.gym
    except ImportError as err:
        raise InvalidArgumentError(
            "env.id: MinAtar games need the minatar package: pip install 'mzero[minatar]'"
        ) from err
    # gymnasium >= 1.0 no longer loads minatar's plugin entry point by itself
    if f"{PREFIX}Breakout-v1" not in gymnasium.registry:
        minatar.gym.register_envs()


class Seed32(gymnasium.Wrapper[np.ndarray, Any, np.ndarray, Any]):
    """Maps any non-negative reset seed to one below ``2**32`` (MinAtar seeds numpy's
    legacy ``RandomState``, which refuses larger ones; self-play seeds games with 63
    bits): ``SeedSequence(seed)``'s first 32-bit word, so nearby seeds stay apart."""

    def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
        if seed is not None:
            seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
        return self.env.reset(seed=seed, options=options)


def make_minatar(env_id: str, **kwargs: Any) -> gymnasium.Env[np.ndarray, Any]:
    """The MinAtar game ``env_id`` (``MinAtar/<Game>-v1``) with uint8
    ``[C, 10, 10]`` observations; ``kwargs`` go to ``gymnasium.make``.

    Raises :class:`InvalidArgumentError` for an unknown game, or naming the extra to
    install when minatar is missing.
    """
    _register()
    try:
        env = gymnasium.make(env_id, **kwargs)
    except gymnasium.error.Error as err:
        raise InvalidArgumentError(
            f"env.id: cannot make MinAtar game {env_id!r} ({err}); expected "
            f"{PREFIX}<Game>-v1 with <Game> one of {', '.join(GAMES)}"
        ) from err
    return ChannelsFirst(Seed32(env))
