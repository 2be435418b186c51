"""Board symmetries and the learner's augmentation (mzero.symmetry)."""

from __future__ import annotations

import itertools
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import mzero
from mzero.config import apply_overrides, preset
from mzero.envs import GymAdapter, TicTacToeEnv, make_env
from mzero.networks import TrainingBatch
from mzero.symmetry import Symmetries
from mzero.train import Trainer

TTT = Symmetries.dihedral(3, 3, 3)


def play_random_game(
    seed: int,
) -> tuple[list[np.ndarray], list[int], list[float], list[np.ndarray]]:
    """A uniformly random TicTacToe game: observations o_0..o_T, actions, rewards, legal masks."""
    rng = np.random.default_rng(seed)
    env = make_env("tictactoe")
    observation, mask = env.reset()
    observations, actions, rewards, masks = [observation], [], [], [mask]
    while True:
        action = int(rng.choice(np.flatnonzero(mask)))
        step = env.step(action)
        observations.append(step.observation)
        actions.append(action)
        rewards.append(step.reward)
        masks.append(step.legal_mask)
        mask = step.legal_mask
        if step.terminated:
            return observations, actions, rewards, masks


def test_the_dihedral_group_of_a_square_board() -> None:
    assert TTT.size == 8
    assert np.array_equal(TTT.policy[0], np.arange(9))  # identity first
    assert len({tuple(row) for row in TTT.policy}) == 8  # all distinct
    # closed under composition: the image of an image is an image
    images = {tuple(row) for row in TTT.policy}
    for f, g in itertools.product(TTT.policy, repeat=2):
        assert tuple(f[g]) in images
    # the action map inverts the policy map
    for g in range(8):
        assert np.array_equal(TTT.action[g][TTT.policy[g]], np.arange(9))
    # a quarter turn of [[0,1,2],[3,4,5],[6,7,8]] (counter-clockwise, np.rot90)
    assert TTT.policy[1].tolist() == [2, 5, 8, 1, 4, 7, 0, 3, 6]
    # every plane of the observation moves the same way
    assert np.array_equal(
        TTT.observation[1], np.concatenate([TTT.policy[1] + 9 * p for p in range(3)])
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_a_mapped_game_is_a_game_of_the_mapped_moves(seed: int) -> None:
    """Replaying action[g][a] on a fresh board shows the mapped observations and masks."""
    observations, actions, rewards, masks = play_random_game(seed)
    for g in range(TTT.size):
        env = make_env("tictactoe")
        observation, _ = env.reset()
        assert np.array_equal(
            observation.reshape(-1), observations[0].reshape(-1)[TTT.observation[g]]
        )
        for t, action in enumerate(actions):
            mapped = int(TTT.action[g][action])
            assert masks[t][TTT.policy[g]][mapped] == masks[t][action]
            step = env.step(mapped)
            assert step.reward == rewards[t]
            image = observations[t + 1].reshape(-1)[TTT.observation[g]]
            assert np.array_equal(step.observation.reshape(-1), image)
            assert np.array_equal(step.legal_mask, masks[t + 1][TTT.policy[g]])


def game_buffer(
    games: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
) -> mzero.ReplayBuffer:
    replay = mzero.ReplayBuffer(
        100, (3, 3, 3), 9, unroll_steps=3, td_steps=9, discount=1.0, two_player=True, stack=2
    )
    for observations, actions, rewards, policies in games:
        values = np.linspace(-0.5, 0.5, len(actions)).astype(np.float32)
        replay.add_game(observations, actions, rewards, values, policies)
    return replay


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 7), st.integers(0, 2**32 - 1))
def test_augmenting_a_batch_equals_sampling_the_mapped_game(
    game_seed: int, g: int, seed: int
) -> None:
    """The image of a sampled batch is the same sample from the buffer of the mapped game."""
    observations, actions, rewards, _ = play_random_game(game_seed)
    rng = np.random.default_rng(game_seed)
    policies = rng.dirichlet(np.ones(9), size=len(actions)).astype(np.float32)
    obs = np.stack(observations)
    original = (obs, np.array(actions), np.array(rewards, np.float32), policies)
    mapped = (
        obs.reshape(len(obs), -1)[:, TTT.observation[g]].reshape(obs.shape),
        TTT.action[g][np.array(actions)],
        np.array(rewards, np.float32),
        policies[:, TTT.policy[g]],
    )
    sample = game_buffer([original]).sample(16, seed, next_observations=True)
    expected = TrainingBatch.from_sample(
        game_buffer([mapped]).sample(16, seed, next_observations=True)
    )
    batch = TrainingBatch.from_sample(sample)
    augmented = TTT.augment(batch, torch.full((16,), g, dtype=torch.int64))
    # actions past the end of the game are uniformly random draws, not the game's
    played = batch.mask[:, :-1].bool()
    assert torch.equal(augmented.actions[played], expected.actions[played])
    for name in (
        "observation",
        "next_observation",
        "observation_actions",  # the actions before stacked frames: mapped, -1 kept
        "next_observation_actions",
        "target_value",
        "target_reward",
        "target_policy",
        "mask",
        "weight",
    ):
        assert torch.equal(getattr(augmented, name), getattr(expected, name)), name


def test_each_row_takes_its_own_symmetry() -> None:
    observations, actions, rewards, _ = play_random_game(7)
    policies = np.full((len(actions), 9), 1 / 9, np.float32)
    policies[:, 0] += 0.1
    policies /= policies.sum(axis=1, keepdims=True)
    game = (np.stack(observations), np.array(actions), np.array(rewards, np.float32), policies)
    batch = TrainingBatch.from_sample(game_buffer([game]).sample(8, 3))
    g = torch.arange(8)
    augmented = TTT.augment(batch, g)
    for row in range(8):
        single = TTT.augment(
            TrainingBatch(**{name: getattr(batch, name)[row : row + 1] for name in _fields(batch)}),
            g[row : row + 1],
        )
        assert torch.equal(augmented.observation[row], single.observation[0])
        assert torch.equal(augmented.target_policy[row], single.target_policy[0])
        assert torch.equal(augmented.actions[row], single.actions[0])
    # the identity leaves the row alone; the others move the corner's extra mass
    assert torch.equal(augmented.target_policy[0], batch.target_policy[0])
    corners = {int(TTT.action[k][0]) for k in range(8)}
    assert corners == {0, 2, 6, 8}


def _fields(batch: TrainingBatch) -> list[str]:
    return [name for name in batch.__dataclass_fields__ if getattr(batch, name) is not None]


def test_bad_symmetries_and_arguments_are_rejected() -> None:
    with pytest.raises(mzero.InvalidArgumentError, match=r"observation: expected .* permutations"):
        Symmetries(np.array([[0, 0, 1]]), np.array([[0, 1, 2]]))
    with pytest.raises(mzero.InvalidArgumentError, match="policy: expected"):
        Symmetries(np.array([[0, 1]]), np.array([0, 1]))
    with pytest.raises(mzero.InvalidArgumentError, match="policy: expected integers"):
        Symmetries(np.array([[0, 1]]), np.array([[0.0, 1.0]]))
    swap = Symmetries([[0, 1], [1, 0]], [[1, 0], [0, 1]])  # lists are taken as int64 tables
    assert swap.observation.dtype == np.int64 and swap.action.tolist() == [[1, 0], [0, 1]]
    with pytest.raises(mzero.InvalidArgumentError, match="the same number of symmetries"):
        Symmetries(np.array([[0, 1]]), np.array([[0, 1], [1, 0]]))
    with pytest.raises(mzero.InvalidArgumentError, match="square board"):
        Symmetries.dihedral(1, 3, 4)
    observations, actions, rewards, _ = play_random_game(1)
    policies = np.full((len(actions), 9), 1 / 9, np.float32)
    game = (np.stack(observations), np.array(actions), np.array(rewards, np.float32), policies)
    batch = TrainingBatch.from_sample(game_buffer([game]).sample(4, 0))
    with pytest.raises(mzero.InvalidArgumentError, match=r"g: expected shape \[4\]"):
        TTT.augment(batch, torch.zeros(3, dtype=torch.int64))
    with pytest.raises(
        mzero.InvalidArgumentError, match=r"batch\.target_policy: expected 4 actions"
    ):
        Symmetries.dihedral(1, 2, 2).augment(batch, torch.zeros(4, dtype=torch.int64))


def test_the_learner_augments_only_games_with_symmetries(tmp_path: Path) -> None:
    overrides = {
        "train.augment_symmetries": True,
        "train.num_envs": 4,
        "train.batch_size": 16,
        "train.min_replay": 50,
        "train.max_train_steps": 5,
        "train.eval_interval": 0,
        "search.num_simulations": 4,
    }
    with pytest.raises(
        mzero.InvalidArgumentError, match=r"train\.augment_symmetries: env 'CartPole-v1' defines no"
    ):
        Trainer(
            apply_overrides(preset("cartpole"), overrides), tmp_path / "cartpole", progress=False
        )
    trainer = Trainer(
        apply_overrides(preset("tictactoe"), overrides), tmp_path / "ttt", progress=False
    )
    assert trainer.symmetries is not None and trainer.symmetries.size == 8
    metrics = trainer.run()
    assert trainer.train_steps == 5
    assert np.isfinite(metrics["loss"])


class _WrongSymmetries(gymnasium.Env):
    """A 3x3 board game whose symmetries are those of a 2x2 board."""

    symmetries = Symmetries.dihedral(1, 2, 2)
    observation_space = gymnasium.spaces.Box(0.0, 1.0, (3, 3, 3), dtype=np.float32)
    action_space = gymnasium.spaces.Discrete(9)


def test_an_environment_with_mismatched_symmetries_is_refused() -> None:
    with pytest.raises(
        mzero.InvalidArgumentError, match="symmetries map 4 observation numbers and 4"
    ):
        GymAdapter(_WrongSymmetries(), name="wrong")
    assert GymAdapter(TicTacToeEnv()).symmetries is TicTacToeEnv.symmetries
