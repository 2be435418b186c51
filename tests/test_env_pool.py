"""mzero.envs.pool: environments stepped in worker processes give what in-process ones give."""

from __future__ import annotations

import functools
import os
import signal

import numpy as np
import pytest
import torch

from mzero.config import preset
from mzero.envs import make_env
from mzero.envs.pool import EnvPool, LocalEnvs
from mzero.selfplay import SelfPlay

torch.set_num_threads(1)

CARTPOLE = functools.partial(make_env, "cartpole")


def _assert_same_steps(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.observation, y.observation)
        np.testing.assert_array_equal(x.legal_mask, y.legal_mask)
        assert (x.reward, x.terminated, x.truncated) == (y.reward, y.terminated, y.truncated)


def test_a_pool_steps_and_resets_like_local_environments() -> None:
    local = LocalEnvs([CARTPOLE() for _ in range(5)])
    pool = EnvPool(CARTPOLE, 5, workers=2)
    try:
        assert [len(s) for s in pool.shares] == [2, 3] or [len(s) for s in pool.shares] == [3, 2]
        assert (pool.num_actions, pool.obs_shape, pool.two_player) == (2, (4,), False)
        requests = [(i, 100 + i) for i in range(5)]
        for (o1, m1), (o2, m2) in zip(local.reset(requests), pool.reset(requests), strict=True):
            np.testing.assert_array_equal(o1, o2)
            np.testing.assert_array_equal(m1, m2)
        rng = np.random.default_rng(0)
        ended = 0
        for t in range(40):
            actions = rng.integers(0, 2, size=5).tolist()
            steps = local.step(actions)
            _assert_same_steps(steps, pool.step(actions))
            done = [(i, t) for i, s in enumerate(steps) if s.terminated or s.truncated]
            ended += len(done)
            for (o1, _), (o2, _) in zip(local.reset(done), pool.reset(done), strict=True):
                np.testing.assert_array_equal(o1, o2)
        assert ended > 0
        # a reset of some environments, answered in the order asked
        some = [(4, 7), (0, 8)]
        for (o1, _), (o2, _) in zip(local.reset(some), pool.reset(some), strict=True):
            np.testing.assert_array_equal(o1, o2)
    finally:
        pool.close()
        local.close()


def _fails_to_build() -> None:
    raise ValueError("no such simulator")


class _RaisesOnStep:
    num_actions, obs_shape, obs_dtype, two_player = 2, (1,), np.dtype(np.float32), False

    def reset(self, seed=None):
        return np.zeros(1, np.float32), np.ones(2, bool)

    def step(self, action):
        raise KeyError(f"bad action {action}")

    def close(self) -> None:
        pass


def test_pool_errors_name_what_went_wrong() -> None:
    with pytest.raises(Exception, match="env_factory: worker processes need a picklable"):
        EnvPool(lambda: CARTPOLE(), 2, workers=1)
    with pytest.raises(ValueError, match="no such simulator"):
        EnvPool(_fails_to_build, 2, workers=1)
    pool = EnvPool(_RaisesOnStep, 2, workers=2)
    try:
        with pytest.raises(KeyError, match="bad action 1"):
            pool.step([1, 1])
        # both workers answered: the next request is not read a stale answer
        with pytest.raises(KeyError, match="bad action 0"):
            pool.step([0, 0])
        assert len(pool.reset([(1, 0), (0, 0)])) == 2
        with pytest.raises(Exception, match="actions: expected 2 actions"):
            pool.step([1])
    finally:
        pool.close()


def test_a_killed_worker_is_reported() -> None:
    pool = EnvPool(CARTPOLE, 2, workers=2)
    try:
        pool.reset([(0, 1), (1, 2)])
        os.kill(pool._processes[1].pid, signal.SIGKILL)
        pool._processes[1].join()
        with pytest.raises(RuntimeError, match=r"env worker mzero-env-worker-1 stopped"):
            pool.step([0, 1])
    finally:
        pool.close()
    assert not any(p.is_alive() for p in pool._processes)


def test_self_play_with_env_workers_plays_the_games_of_in_process_stepping() -> None:
    from test_selfplay import RecordingReplay, cartpole_network

    games = {}
    for workers in (0, 2):
        config = preset("cartpole")
        config.train.num_envs, config.train.pipeline = 6, 2
        config.search.num_simulations = 4
        config.env.workers = workers
        replay = RecordingReplay()
        play = SelfPlay(cartpole_network(), config, replay, seed=3)
        if workers:
            assert all(isinstance(envs, EnvPool) for envs in play.env_groups)
            with pytest.raises(AttributeError, match="worker processes"):
                _ = play.envs
        for _ in range(25):
            play.step(temperature=1.0)
        play.close()
        games[workers] = replay.games
    assert len(games[2]) == len(games[0]) >= 3
    for a, b in zip(games[0], games[2], strict=True):
        np.testing.assert_array_equal(a["observations"], b["observations"])
        np.testing.assert_array_equal(a["actions"], b["actions"])


def test_built_in_board_games_step_in_process() -> None:
    from test_selfplay import RecordingReplay, tictactoe_network

    config = preset("tictactoe")
    config.train.num_envs, config.env.workers = 2, 4
    play = SelfPlay(tictactoe_network(), config, RecordingReplay(), seed=0)
    assert all(isinstance(envs, LocalEnvs) for envs in play.env_groups)
    assert len(play.envs) == 2
    play.close()
