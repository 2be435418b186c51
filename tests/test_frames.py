"""uint8 frames end to end: environments, self-play, the replay buffer and the learner
keep 8 bits; the network's device converts and scales them (``network.input_scale``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces

import mzero
from mzero.config import Config, NetworkConfig, apply_overrides, preset
from mzero.envs import make_env
from mzero.networks import MuZeroNetwork
from mzero.train import Trainer

FRAMES_ID = "mzero-test/Frames-v0"


class Frames(gymnasium.Env[np.ndarray, np.int64]):
    """8-bit frames ``[1, 6, 6]`` whose pixels count the steps (times 20, plus noise);
    12 steps an episode, reward 1 for the action equal to the step count mod 3."""

    observation_space = spaces.Box(0, 255, (1, 6, 6), np.uint8)
    action_space = spaces.Discrete(3)

    def _frame(self) -> np.ndarray:
        noise = self.np_random.integers(0, 20, size=(1, 6, 6))
        return (self.t * 20 + noise).astype(np.uint8)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._frame(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = float(int(action) == self.t % 3)
        self.t += 1
        return self._frame(), reward, self.t >= 12, False, {}


if FRAMES_ID not in gymnasium.registry:
    gymnasium.register(FRAMES_ID, entry_point=Frames)


def test_uint8_observation_spaces_give_uint8_observations() -> None:
    env = make_env(FRAMES_ID)
    observation, _ = env.reset(seed=0)
    assert env.obs_dtype == np.uint8 and observation.dtype == np.uint8
    assert env.step(0).observation.dtype == np.uint8
    cartpole = make_env("CartPole-v1")
    assert cartpole.obs_dtype == np.float32 and cartpole.reset(seed=0)[0].dtype == np.float32


def test_frames_stay_8_bit_until_the_network_scales_them(tmp_path: Path, monkeypatch) -> None:
    config = apply_overrides(
        preset("cartpole"),
        {
            "env.id": FRAMES_ID,
            "env.frame_stack": 2,
            "network.kind": "resnet",
            "network.channels": 8,
            "network.blocks": 1,
            "network.hidden": (16,),
            "network.input_scale": 1 / 255,
            "network.inference": "eager",
            "network.act_inference": None,
            "train.num_envs": 4,
            "train.batch_size": 8,
            "train.min_replay": 40,
            "train.max_env_steps": 200,
            "train.eval_interval": 100,
            "train.eval_episodes": 2,
            "train.segment_length": 5,
            "train.learner_step": "eager",
            "search.num_simulations": 4,
            "reanalyze.value": True,
        },
    )
    seen: list[tuple[torch.dtype, float, float]] = []
    network_input = MuZeroNetwork._network_input

    def spy(self: MuZeroNetwork, obs: torch.Tensor) -> torch.Tensor:
        scaled = network_input(self, obs)
        seen.append((obs.dtype, float(obs.max()), float(scaled.max())))
        return scaled

    monkeypatch.setattr(MuZeroNetwork, "_network_input", spy)
    trainer = Trainer(config, tmp_path, progress=False)
    metrics = trainer.run()
    assert metrics["train_steps"] > 0 and "eval_return_mean" in metrics
    # the replay keeps one byte per pixel; its samples are the frames as played
    assert trainer.replay.obs_dtype == np.uint8
    sample = trainer.replay.sample(8, 0, next_observations=True)
    assert sample.observation.dtype == np.uint8 and sample.observation.max() > 1
    # planning hands the network uint8 frames, the learner their integer values as
    # floats (converted on the device); the network scales both into [0, 1]
    planning = [s for s in seen if s[0] == torch.uint8]
    learning = [s for s in seen if s[0] == torch.float32]
    assert planning and learning
    assert max(s[1] for s in learning) > 1.0 and all(s[1] == int(s[1]) for s in learning)
    assert all(s[2] <= 1.0 for s in seen) and max(s[2] for s in seen) > 0.2

    agent = mzero.Agent.load(tmp_path)
    env = make_env(FRAMES_ID)
    observation, _ = env.reset(seed=1)
    assert 0 <= agent.act(observation) < 3


def test_input_scale_is_checked() -> None:
    with pytest.raises(mzero.InvalidArgumentError, match=r"network\.input_scale"):
        Config(network=NetworkConfig(input_scale=0.0)).validate()


def test_the_minatar_preset_trains_on_its_8_bit_grids(tmp_path: Path) -> None:
    pytest.importorskip("minatar")
    config = apply_overrides(
        preset("minatar"),
        {
            "train.num_envs": 4,
            "train.batch_size": 8,
            "train.min_replay": 50,
            "train.max_env_steps": 200,
            "train.eval_interval": 0,
            "train.learner_step": "eager",
            "search.num_simulations": 4,
        },
    )
    trainer = Trainer(config, tmp_path, progress=False)
    metrics = trainer.run()
    assert metrics["train_steps"] > 0 and trainer.replay.obs_dtype == np.uint8
    # Breakout's four channels (paddle, ball, trail, bricks) on the 10 x 10 grid
    assert trainer.obs_shape == (4, 10, 10) and trainer.network.latent_shape == (16, 10, 10)


@pytest.mark.parametrize("stack_actions", [False, True])
def test_sampled_stacks_are_the_stacks_self_play_fed_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stack_actions: bool
) -> None:
    """Frames are stored once and stacked at sample time: every stack the learner samples
    (and every next-observation stack inside a game) is byte for byte one that self-play
    fed the network, across game starts (o_0 repeated before the game), segments, time
    limits and a save and load of the buffer. Each frame of :class:`Frames` is unique
    (36 noisy pixels), so a stack from the wrong game or step would not be found. With
    ``network.stack_actions`` the actions before the frames are assembled at sample time
    too, and each (stack, actions) pair sampled is one self-play fed."""
    from mzero.planner import Planner
    from mzero.replay import ReplayBuffer

    config = apply_overrides(
        preset("cartpole"),
        {
            "env.id": FRAMES_ID,
            "env.frame_stack": 3,
            "env.max_episode_steps": 9,  # games of 12 steps are cut at 9
            "network.kind": "resnet",
            "network.channels": 4,
            "network.blocks": 1,
            "network.hidden": (8,),
            "network.inference": "eager",
            "train.num_envs": 3,
            "train.batch_size": 8,
            "train.min_replay": 30,
            "train.max_env_steps": 150,
            "train.eval_interval": 0,
            "train.segment_length": 4,
            "train.learner_step": "eager",
            "search.num_simulations": 2,
            "network.stack_actions": stack_actions,
        },
    )
    fed: set[bytes] = set()
    search = Planner.search

    def key(stack: np.ndarray, actions: np.ndarray | None) -> bytes:
        return stack.tobytes() + (b"" if actions is None else actions.astype(np.int64).tobytes())

    def spy(self: Planner, observations: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        assert observations.dtype == np.uint8
        actions = kwargs.get("stack_actions")
        assert (actions is not None) == stack_actions
        for i, stack in enumerate(observations):
            fed.add(key(stack, None if actions is None else actions[i]))
        return search(self, observations, *args, **kwargs)

    monkeypatch.setattr(Planner, "search", spy)
    trainer = Trainer(config, tmp_path, progress=False)
    trainer.run()
    replay = trainer.replay
    sample = replay.sample(256, 7, next_observations=True)
    assert sample.observation.shape == (256, 3, 1, 6, 6)
    actions = sample.observation_actions if stack_actions else [None] * 256
    assert all(key(row, a) in fed for row, a in zip(sample.observation, actions, strict=True))
    inside = sample.mask[:, 1:] > 0  # o_{t+k} with t + k < T was searched in self-play
    assert inside.any() and (~inside).any()
    for b, k in np.argwhere(inside):
        a = sample.next_observation_actions[b, k] if stack_actions else None
        assert key(sample.next_observation[b, k], a) in fed
    # game starts: the first frames repeat o_0, with no action before them
    starts = sample.position == 0
    assert starts.any()
    for row in sample.observation[starts]:
        assert np.array_equal(row[0], row[2]) and np.array_equal(row[1], row[2])
    assert (sample.observation_actions[starts] == -1).all()
    later = sample.position >= 3
    assert (sample.observation_actions[later] >= 0).all()
    if stack_actions:
        # the learner trains the network on the same pairs: the sampled actions reach it
        batch = mzero.networks.TrainingBatch.from_sample(sample)
        with torch.no_grad():
            latent = trainer.network.represent(batch.observation, batch.observation_actions)
            other = trainer.network.represent(batch.observation, batch.observation_actions.flip(1))
        assert not torch.equal(latent, other)

    replay.save(tmp_path / "replay.bin")
    loaded = ReplayBuffer.load(tmp_path / "replay.bin")
    again = loaded.sample(256, 7, next_observations=True)
    assert np.array_equal(again.observation, sample.observation)
    assert np.array_equal(again.next_observation, sample.next_observation)
    assert np.array_equal(again.observation_actions, sample.observation_actions)
    assert np.array_equal(again.next_observation_actions, sample.next_observation_actions)


def test_an_atari_run_plays_learns_snapshots_resumes_and_evaluates(tmp_path: Path) -> None:
    """The ``atari`` preset shrunk to seconds (a small network, 48 x 48 frames, games cut
    at 400 frames): self-play on Pong, learner steps with the consistency loss and
    Reanalyze, a snapshot, a resumed second life and evaluations."""
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    from mzero.train import resume, train

    small = {
        "env.atari_max_frames": 400,
        "env.atari_screen_size": 48,
        "network.channels": 8,
        "network.head_channels": 4,
        "network.hidden": (8,),
        "network.projection_dim": 16,
        "network.value_support": 10,
        "network.reward_support": 2,
        "train.num_envs": 2,
        "train.batch_size": 8,
        "train.min_replay": 40,
        "train.max_env_steps": 120,
        "train.segment_length": 20,
        "train.train_ratio": 0.2,
        "train.eval_interval": 100,
        "train.eval_episodes": 1,
        "train.learner_step": "eager",
        "search.num_simulations": 2,
        "reanalyze.num_simulations": 2,
    }
    train(apply_overrides(preset("atari"), small), tmp_path, progress=False)
    assert list((tmp_path / "snapshots").iterdir())
    resume(tmp_path, {"train.max_env_steps": 200}, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["env_steps"] >= 200 and rows[-1]["train_steps"] > 0
    assert "loss_consistency" in rows[-1]
    assert sum("eval_return_mean" in row for row in rows) >= 2
    agent = mzero.Agent.load(tmp_path)
    env = make_env("ALE/Pong-v5", screen_size=48, max_frames=400)
    observation, _ = env.reset(seed=3)
    assert observation.dtype == np.uint8 and 0 <= agent.act(observation) < env.num_actions


def test_a_run_whose_network_sees_the_actions_trains_reanalyses_and_acts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``network.stack_actions`` through every path that builds a network input: self-play
    and its bootstrap values, the learner with the consistency loss, Reanalyze of values
    and policies, the evaluations and :class:`mzero.Agent` (its own last action, or the
    one it is told, before each frame)."""
    from mzero.planner import Planner

    config = apply_overrides(
        preset("cartpole"),
        {
            "env.id": FRAMES_ID,
            "env.frame_stack": 2,
            "env.max_episode_steps": 9,
            "network.kind": "resnet",
            "network.channels": 4,
            "network.blocks": 1,
            "network.hidden": (8,),
            "network.input_scale": 1 / 255,
            "network.projection_dim": 16,
            "network.stack_actions": True,
            "network.inference": "eager",
            "network.act_inference": None,
            "train.num_envs": 3,
            "train.batch_size": 8,
            "train.min_replay": 30,
            "train.max_env_steps": 120,
            "train.eval_interval": 60,
            "train.eval_episodes": 2,
            "train.segment_length": 4,
            "train.consistency_weight": 1.0,
            "train.learner_step": "eager",
            "search.num_simulations": 3,
            "reanalyze.value": True,
            "reanalyze.policy_fraction": 0.5,
        },
    )
    trainer = Trainer(config, tmp_path, progress=False)
    metrics = trainer.run()
    assert metrics["train_steps"] > 0 and "eval_return_mean" in metrics
    assert metrics["loss_consistency"] != 0.0

    agent = mzero.Agent.load(tmp_path)
    seen: list[list[int]] = []
    plan = Planner.plan

    def spy(self: Planner, *args: Any, stack_actions: np.ndarray | None = None, **kw: Any) -> Any:
        seen.append(stack_actions[0].tolist())
        return plan(self, *args, stack_actions=stack_actions, **kw)

    monkeypatch.setattr(Planner, "plan", spy)
    env = make_env(FRAMES_ID)
    observation, _ = env.reset(seed=1)
    first = agent.act(observation)
    second = agent.act(env.step(first).observation)
    agent.act(env.step(2).observation, previous_action=2)
    assert seen == [[-1, -1], [-1, first], [first, 2]]
    agent.reset()
    agent.act(observation)
    assert seen[-1] == [-1, -1] and 0 <= second < 3
    with pytest.raises(mzero.InvalidArgumentError, match=r"previous_action: expected an action"):
        agent.act(observation, previous_action=3)
