"""Atari 2600 games through the Arcade Learning Environment: ``make_env("ALE/Pong-v5")``.

:func:`make_atari` builds an ``ALE/<Game>-v5`` id of ``ale-py`` (whose wheels ship the
ROMs) with the emulator's own frame skip off, and preprocesses it with gymnasium's
:class:`~gymnasium.wrappers.AtariPreprocessing`:

* a step repeats the action for ``frame_skip`` frames (default 4) and sums their rewards
  (unclipped); the observation is the pixel-wise maximum of the last two frames, resized
  to ``screen_size x screen_size`` (default 84) with OpenCV's area interpolation,
  grayscale (default) or RGB: uint8 ``[C, H, W]``, C = 1 or 3, channels first;
* a reset plays 1 to ``noop_max`` (default 30) random no-op actions (Mnih et al. 2015);
* the ALE repeats the previous action instead of the chosen one with probability
  ``sticky_actions`` (default 0.25) at every frame (Machado et al. 2018);
* actions are the game's minimal set (Pong: 6) or, with ``full_action_space``, all 18;
* an episode is truncated after ``max_frames`` emulator frames (default 108_000, 30
  minutes at 60 Hz, ale-py's default for v5 ids; the reset's no-ops count);
* ``episodic_life``: losing a life terminates the episode, and the next reset starts a
  new game (gymnasium's ``terminal_on_life_loss``). For training only: evaluation
  should play whole games (Machado et al. 2018 advise against it altogether).

Atari is an optional dependency: ``pip install 'mzero[atari]'`` (ale-py and OpenCV).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from mzero.errors import InvalidArgumentError

__all__ = ["PREFIX", "ChannelsFirst", "make_atari"]

PREFIX = "ALE/"
"""Environment ids ``ALE/<Game>-v5`` name Atari games."""


class ChannelsFirst(gymnasium.ObservationWrapper[np.ndarray, Any, Any]):
    """Observations ``[H, W, C]`` (uint8 or bool) -> uint8 ``[C, H, W]`` (contiguous)."""

    def __init__(self, env: gymnasium.Env[Any, Any]) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 3:
            raise InvalidArgumentError(
                f"env: expected a Box observation space [H, W, C], got {space}"
            )
        self.observation_space = spaces.Box(
            np.moveaxis(space.low, -1, 0).astype(np.uint8),
            np.moveaxis(space.high, -1, 0).astype(np.uint8),
            dtype=np.uint8,
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """uint8 ``[C, H, W]`` from ``[H, W, C]``."""
        return np.ascontiguousarray(np.moveaxis(observation, -1, 0), dtype=np.uint8)


def _ale_py() -> Any:
    try:
        import ale_py
        import cv2  # noqa: F401  (AtariPreprocessing resizes with it)
    except ImportError as err:
        raise InvalidArgumentError(
            f"env.id: Atari games need ale-py and OpenCV ({err.name} is missing): "
            "pip install 'mzero[atari]'"
        ) from err
    return ale_py


def make_atari(
    env_id: str,
    *,
    frame_skip: int = 4,
    sticky_actions: float = 0.25,
    full_action_space: bool = False,
    max_frames: int | None = 108_000,
    noop_max: int = 30,
    grayscale: bool = True,
    screen_size: int = 84,
    episodic_life: bool = False,
    **kwargs: Any,
) -> gymnasium.Env[np.ndarray, Any]:
    """The Atari game ``env_id`` (``ALE/<Game>-v5``) with uint8 ``[C, screen_size,
    screen_size]`` observations, C = 1 if ``grayscale`` else 3 (see the module docstring).

    ``max_frames`` None plays without a cap; ``kwargs`` (such as ``mode``, ``difficulty``)
    go to ``gymnasium.make``. Raises :class:`InvalidArgumentError` naming the argument
    that is out of range, or the extra to install when ale-py or OpenCV is missing.
    """
    checks = (
        (frame_skip >= 1, "frame_skip", "a positive integer", frame_skip),
        (0.0 <= sticky_actions <= 1.0, "sticky_actions", "a probability in [0, 1]", sticky_actions),
        (
            max_frames is None or max_frames >= 1,
            "max_frames",
            "a positive integer or None",
            max_frames,
        ),
        (noop_max >= 0, "noop_max", "an integer >= 0", noop_max),
        (screen_size >= 1, "screen_size", "a positive integer", screen_size),
    )
    for ok, name, expected, got in checks:
        if not ok:
            raise InvalidArgumentError(f"{name}: expected {expected}, got {got!r}")
    ale_py = _ale_py()
    gymnasium.register_envs(ale_py)
    try:
        env = gymnasium.make(
            env_id,
            frameskip=1,  # AtariPreprocessing skips frames (and max-pools the last two)
            repeat_action_probability=float(sticky_actions),
            full_action_space=bool(full_action_space),
            max_num_frames_per_episode=max_frames,
            obs_type="grayscale" if grayscale else "rgb",
            **kwargs,
        )
    except gymnasium.error.Error as err:
        raise InvalidArgumentError(
            f"env.id: cannot make Atari game {env_id!r} ({err}); expected an id "
            f"{PREFIX}<Game>-v5 such as {PREFIX}Pong-v5"
        ) from err
    env = gymnasium.wrappers.AtariPreprocessing(
        env,
        noop_max=noop_max,
        frame_skip=frame_skip,
        screen_size=screen_size,
        terminal_on_life_loss=bool(episodic_life),
        grayscale_obs=bool(grayscale),
        grayscale_newaxis=True,
    )
    return ChannelsFirst(env)
