"""Pixel environments: Atari through ale-py (mzero.envs.atari) and MinAtar
(mzero.envs.minatar) give uint8 [C, H, W] observations and honour their options."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import numpy as np
import pytest

import mzero
from mzero.config import EnvConfig
from mzero.envs import make_env, make_env_from_config
from mzero.envs.minatar import GAMES

needs_ale = pytest.mark.skipif(
    importlib.util.find_spec("ale_py") is None or importlib.util.find_spec("cv2") is None,
    reason="needs the atari extra (ale-py, OpenCV)",
)
needs_minatar = pytest.mark.skipif(
    importlib.util.find_spec("minatar") is None, reason="needs the minatar extra"
)

MINATAR_ACTIONS = {"Asterix": 5, "Breakout": 3, "Freeway": 3, "Seaquest": 6, "SpaceInvaders": 4}
"""The size of each MinAtar game's minimal action set (the -v1 ids)."""


def _raw_reset(env: Any, seed: int) -> np.ndarray:
    """The observation of the gymnasium env behind a GymAdapter, as make_env built it."""
    obs, _ = env.env.reset(seed=seed)
    return obs


# MinAtar


@needs_minatar
@pytest.mark.parametrize("game", sorted(GAMES))
def test_every_minatar_game_gives_uint8_channels_first_grids(game: str) -> None:
    env = make_env(f"MinAtar/{game}-v1")
    channels = GAMES[game]
    assert env.obs_shape == (channels, 10, 10)
    assert env.num_actions == MINATAR_ACTIONS[game]
    obs = _raw_reset(env, seed=0)
    assert obs.dtype == np.uint8 and obs.shape == (channels, 10, 10)
    # channel c is MinAtar's bool plane [:, :, c]
    np.testing.assert_array_equal(obs, np.moveaxis(env.env.unwrapped.game.state(), -1, 0))
    rng = np.random.default_rng(0)
    for _ in range(20):
        obs, *_ = env.env.step(int(rng.integers(env.num_actions)))
        assert obs.dtype == np.uint8 and obs.shape == (channels, 10, 10)
        assert set(np.unique(obs)) <= {0, 1} and obs.sum() > 0
    obs, _ = env.reset(seed=1)
    step = env.step(0)
    assert obs.shape == step.observation.shape == (channels, 10, 10)
    assert set(np.unique(step.observation)) <= {0, 1}
    env.close()


@needs_minatar
def test_minatar_options_pass_through_and_unknown_games_are_refused() -> None:
    env = make_env("MinAtar/Breakout-v1")
    assert env.env.unwrapped.game.sticky_action_prob == pytest.approx(0.1)  # MinAtar's default
    env = make_env("MinAtar/Breakout-v1", sticky_action_prob=0.0)
    assert env.env.unwrapped.game.sticky_action_prob == 0.0
    env = make_env("MinAtar/Breakout-v1", max_episode_steps=3)
    env.reset(seed=0)
    assert [env.step(0).truncated for _ in range(3)] == [False, False, True]
    with pytest.raises(mzero.InvalidArgumentError, match=r"env\.id.*MinAtar/Pong-v1.*Breakout"):
        make_env("MinAtar/Pong-v1")


# Atari


@needs_ale
def test_atari_default_is_grayscale_84_by_84_with_the_minimal_action_set() -> None:
    import cv2

    env = make_env("ALE/Pong-v5")
    assert env.obs_shape == (1, 84, 84) and env.num_actions == 6
    obs = _raw_reset(env, seed=0)
    assert obs.dtype == np.uint8 and obs.shape == (1, 84, 84) and obs.flags.c_contiguous
    # after a reset the observation is the current screen, resized
    screen = env.env.unwrapped.ale.getScreenGrayscale()
    expected = cv2.resize(screen, (84, 84), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(obs[0], expected)
    step = env.step(1)
    assert step.observation.shape == (1, 84, 84) and step.observation.max() > 0
    env.close()


@needs_ale
def test_atari_rgb_other_size_and_the_full_action_set() -> None:
    import cv2

    env = make_env("ALE/Pong-v5", grayscale=False, screen_size=64, full_action_space=True)
    assert env.obs_shape == (3, 64, 64) and env.num_actions == 18
    obs = _raw_reset(env, seed=0)
    assert obs.dtype == np.uint8 and obs.shape == (3, 64, 64)
    screen = env.env.unwrapped.ale.getScreenRGB()
    expected = cv2.resize(screen, (64, 64), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(obs, np.moveaxis(expected, -1, 0))  # R, G, B planes
    env.close()


@needs_ale
def test_atari_frame_cap_and_step_limit_truncate_episodes() -> None:
    # 100 frames at 4 frames a step, no no-op starts: the 25th step is the last
    env = make_env("ALE/Pong-v5", max_frames=100, noop_max=0)
    assert env.env.unwrapped.ale.getInt("max_num_frames_per_episode") == 100
    env.reset(seed=0)
    steps = [env.step(0) for _ in range(25)]
    assert [s.truncated for s in steps] == [False] * 24 + [True]
    assert not any(s.terminated for s in steps)
    assert env.env.unwrapped.ale.getEpisodeFrameNumber() == 100
    # max_episode_steps counts agent steps, outside the frame skip
    env = make_env("ALE/Pong-v5", max_episode_steps=3)
    env.reset(seed=0)
    assert [env.step(0).truncated for _ in range(3)] == [False, False, True]
    assert make_env("ALE/Pong-v5").env.unwrapped.ale.getInt("max_num_frames_per_episode") == 108_000
    uncapped = make_env("ALE/Pong-v5", max_frames=None)
    assert uncapped.env.unwrapped.ale.getInt("max_num_frames_per_episode") == 0  # no cap


@needs_ale
@pytest.mark.parametrize("episodic_life", [False, True])
def test_atari_episodic_life_ends_the_episode_at_a_lost_life(episodic_life: bool) -> None:
    env = make_env("ALE/Breakout-v5", episodic_life=episodic_life)
    ale = env.env.unwrapped.ale
    env.reset(seed=0)
    assert ale.lives() == 5
    rng = np.random.default_rng(0)
    for _ in range(2_000):
        step = env.step(int(rng.integers(env.num_actions)))
        if ale.lives() < 5 or step.terminated:
            break
    assert ale.lives() == 4  # one life lost, the game goes on
    assert step.terminated is episodic_life


@needs_ale
def test_atari_sticky_action_probability_reaches_the_emulator() -> None:
    env = make_env("ALE/Pong-v5")
    assert env.env.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    env = make_env("ALE/Pong-v5", sticky_actions=0.0)
    assert env.env.unwrapped.ale.getFloat("repeat_action_probability") == 0.0
    assert env.env.get_wrapper_attr("frame_skip") == 4
    assert env.env.unwrapped._frameskip == 1  # the wrapper skips frames, not the emulator


@needs_ale
def test_the_config_options_reach_the_atari_environment() -> None:
    config = EnvConfig(
        id="ALE/Breakout-v5",
        atari_frame_skip=2,
        atari_sticky_actions=0.0,
        atari_full_action_space=True,
        atari_max_frames=1_000,
        atari_noop_max=0,
        atari_grayscale=False,
        atari_screen_size=32,
        episodic_life=True,
    )
    config.validate()
    env = make_env_from_config(config)
    assert env.obs_shape == (3, 32, 32) and env.num_actions == 18
    inner = env.env
    assert inner.get_wrapper_attr("frame_skip") == 2
    assert inner.get_wrapper_attr("noop_max") == 0
    assert inner.get_wrapper_attr("terminal_on_life_loss") is True
    assert inner.unwrapped.ale.getFloat("repeat_action_probability") == 0.0
    assert inner.unwrapped.ale.getInt("max_num_frames_per_episode") == 1_000
    # evaluation plays whole games
    evaluated = make_env_from_config(config, evaluation=True)
    assert evaluated.env.get_wrapper_attr("terminal_on_life_loss") is False


@needs_ale
def test_bad_atari_arguments_and_games_are_refused_by_name() -> None:
    for kwargs, name in [
        ({"frame_skip": 0}, "frame_skip"),
        ({"sticky_actions": 1.5}, "sticky_actions"),
        ({"max_frames": 0}, "max_frames"),
        ({"noop_max": -1}, "noop_max"),
        ({"screen_size": 0}, "screen_size"),
    ]:
        with pytest.raises(mzero.InvalidArgumentError, match=rf"^{name}: expected"):
            make_env("ALE/Pong-v5", **kwargs)
    with pytest.raises(mzero.InvalidArgumentError, match=r"env\.id.*ALE/NoSuchGame-v5"):
        make_env("ALE/NoSuchGame-v5")


# Config and missing packages


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("atari_frame_skip", 0),
        ("atari_sticky_actions", -0.1),
        ("atari_sticky_actions", 1.01),
        ("atari_max_frames", 0),
        ("atari_noop_max", -1),
        ("atari_screen_size", 0),
    ],
)
def test_config_validation_names_the_atari_field(field: str, value: Any) -> None:
    with pytest.raises(mzero.InvalidArgumentError, match=rf"env\.{field}: expected"):
        EnvConfig(id="ALE/Pong-v5", **{field: value}).validate()


def test_the_atari_defaults_follow_machado_et_al() -> None:
    config = EnvConfig()
    config.validate()
    assert (config.atari_frame_skip, config.atari_sticky_actions, config.atari_noop_max) == (
        4,
        0.25,
        30,
    )
    assert (config.atari_max_frames, config.atari_screen_size) == (108_000, 84)
    assert config.atari_grayscale and not config.atari_full_action_space
    assert not config.episodic_life
    EnvConfig(atari_max_frames=None).validate()


@pytest.mark.parametrize(
    ("env_id", "module", "extra"),
    [
        ("ALE/Pong-v5", "ale_py", "atari"),
        ("ALE/Pong-v5", "cv2", "atari"),
        ("MinAtar/Breakout-v1", "minatar.gym", "minatar"),
    ],
)
def test_a_missing_package_names_the_extra_to_install(
    env_id: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # the import then fails
    with pytest.raises(mzero.InvalidArgumentError, match=rf"pip install 'mzero\[{extra}\]'"):
        make_env(env_id)


def test_minatar_takes_self_plays_63_bit_seeds_and_replays_a_seed() -> None:
    pytest.importorskip("minatar")
    env = make_env("MinAtar/Breakout-v1")
    first = [env.reset(seed=2**62 + 5)[0]]
    first += [env.step(1).observation for _ in range(20)]
    again = [env.reset(seed=2**62 + 5)[0]]
    again += [env.step(1).observation for _ in range(20)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
