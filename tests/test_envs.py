"""The gymnasium adapter and the environment registry."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import mzero
from mzero.config import EnvConfig, preset
from mzero.envs import GymAdapter, make_env, make_env_from_config


def test_cartpole_through_the_adapter() -> None:
    env = make_env("CartPole-v1")
    assert env.num_actions == 2
    assert env.obs_shape == (4,)
    assert env.two_player is False
    obs, mask = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (4,)
    assert mask.dtype == bool and mask.tolist() == [True, True]
    steps = 0
    while True:
        step = env.step(steps % 2)
        steps += 1
        assert step.observation.dtype == np.float32 and step.observation.shape == (4,)
        assert step.reward == 1.0
        assert step.legal_mask.all()
        if step.terminated or step.truncated:
            break
    assert 1 <= steps <= 500
    env.close()


def test_seeded_resets_repeat() -> None:
    a, b = make_env("cartpole"), make_env("CartPole-v1")
    np.testing.assert_array_equal(a.reset(seed=7)[0], b.reset(seed=7)[0])
    assert a.step(1).observation.tolist() == b.step(1).observation.tolist()


def test_time_limit_from_the_config_truncates() -> None:
    env = make_env_from_config(EnvConfig(id="CartPole-v1", max_episode_steps=5))
    env.reset(seed=0)
    steps = [env.step(i % 2) for i in range(5)]
    assert not any(s.terminated or s.truncated for s in steps[:-1])
    assert steps[-1].truncated


def test_tictactoe_through_the_adapter_carries_the_legal_mask() -> None:
    env = make_env_from_config(preset("tictactoe").env)
    assert (env.num_actions, env.obs_shape, env.two_player) == (9, (3, 3, 3), True)
    obs, mask = env.reset()
    assert mask.all() and (obs[2] == 1).all()
    step = env.step(4)
    assert not step.legal_mask[4] and step.legal_mask.sum() == 8
    assert gymnasium.make("mzero/TicTacToe-v0").unwrapped.two_player is True


def test_a_continuous_action_env_is_refused_by_name() -> None:
    with pytest.raises(
        mzero.InvalidArgumentError,
        match=r"env 'Pendulum-v1': expected a Discrete action space, got Box",
    ):
        make_env("Pendulum-v1")


def test_a_non_box_observation_is_refused() -> None:
    with pytest.raises(
        mzero.InvalidArgumentError, match="expected a Box observation space, got Discrete"
    ):
        make_env("FrozenLake-v1")


def test_an_unknown_id_names_the_choices() -> None:
    with pytest.raises(mzero.InvalidArgumentError, match=r"env\.id: cannot make .*'Nope-v0'"):
        make_env("Nope-v0")


def test_actions_out_of_range_are_refused() -> None:
    env = make_env("cartpole")
    env.reset(seed=0)
    with pytest.raises(mzero.InvalidArgumentError, match=r"action: expected an integer in 0\.\.1"):
        env.step(2)


def test_discrete_spaces_with_a_start_are_shifted() -> None:
    class Shifted(gymnasium.Env):
        observation_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), dtype=np.float64)
        action_space = gymnasium.spaces.Discrete(3, start=5)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return np.zeros(2), {}

        def step(self, action):
            return np.full(2, action, dtype=np.float64), 0.0, False, False, {}

    env = GymAdapter(Shifted())
    assert env.num_actions == 3
    env.reset()
    obs = env.step(0).observation
    assert obs.dtype == np.float32 and obs.tolist() == [5.0, 5.0]


def test_every_preset_environment_can_be_made() -> None:
    for name in ("cartpole", "tictactoe"):
        env = make_env_from_config(preset(name).env)
        obs, mask = env.reset(seed=0)
        assert obs.shape == env.obs_shape and mask.shape == (env.num_actions,)
        env.close()
