"""Reanalyze: fresh value and policy targets from a target network, written back by
(game id, position), and the learner's target network."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import mzero
from mzero.config import Config, apply_overrides, preset
from mzero.envs import make_env
from mzero.planner import Planner
from mzero.reanalyze import Reanalyzer
from mzero.train import Trainer, build_network, load_checkpoint
from test_selfplay import cut_like_selfplay

torch.set_num_threads(1)


def config(**overrides: object) -> Config:
    base = {
        "train.num_envs": 4,
        "train.batch_size": 16,
        "train.td_steps": 4,
        "train.unroll_steps": 3,
        "search.num_simulations": 6,
    }
    return apply_overrides(preset("tictactoe"), base | overrides)


def filled_buffer(cfg: Config, games: int = 12, seed: int = 0) -> mzero.ReplayBuffer:
    """Random TicTacToe games (legal moves, uniform policies over them) in a buffer."""
    rng = np.random.default_rng(seed)
    env = make_env("tictactoe")
    buf = mzero.ReplayBuffer(
        1000,
        env.obs_shape,
        env.num_actions,
        unroll_steps=cfg.train.unroll_steps,
        td_steps=cfg.train.td_steps,
        discount=cfg.search.discount,
        two_player=True,
    )
    for g in range(games):
        obs, mask = env.reset(seed=g)
        observations, actions, rewards, masks = [obs], [], [], []
        while True:
            action = int(rng.choice(np.flatnonzero(mask)))
            step = env.step(action)
            actions.append(action)
            rewards.append(step.reward)
            masks.append(mask)
            observations.append(step.observation)
            mask = step.legal_mask
            if step.terminated or step.truncated:
                break
        masks_arr = np.stack(masks)
        policies = masks_arr / masks_arr.sum(1, keepdims=True)
        buf.add_game(
            np.stack(observations).astype(np.float32),
            np.array(actions, np.int64),
            np.array(rewards, np.float32),
            rng.uniform(-1, 1, len(actions)).astype(np.float32),  # stale values
            policies.astype(np.float32),
            # every third game cut off, bootstrapping from a stale value at o_T
            terminated=g % 3 != 0,
            bootstrap_value=0.5,
            legal_masks=masks_arr,
        )
    return buf


def network(cfg: Config, seed: int = 0) -> mzero.networks.MuZeroNetwork:
    torch.manual_seed(seed)
    env = make_env("tictactoe")
    return build_network(cfg, env.obs_shape, env.num_actions).eval()


def test_fresh_values_bootstrap_from_the_target_network() -> None:
    cfg = config(**{"reanalyze.value": True})
    buf, net = filled_buffer(cfg), network(cfg)
    sample = buf.sample(64, 3, reanalysis=True)
    out = Reanalyzer(net, cfg, two_player=True)(sample, np.random.default_rng(0))

    # recompute each target by walking the game in the buffer's own records: the
    # stored rewards from t+k to the cut, and the network's value where the walk ends
    planner = Planner(net, cfg.search.to_search_config(two_player=True, explore=False), 1)
    g = -cfg.search.discount
    for b in range(64):
        for k in range(cfg.train.unroll_steps + 1):
            if sample.mask[b, k] == 0:
                assert out.target_value[b, k] == 0
                continue
            p = sample.bootstrap_position[b, k]
            if p < 0:  # terminated within the horizon: nothing to refresh
                assert out.target_value[b, k] == pytest.approx(sample.target_value[b, k])
                continue
            v = planner.value(sample.bootstrap_observation[b, k][None])[0]
            steps = p - (sample.position[b] + k)
            expected = sample.reward_sum[b, k] + g**steps * v
            assert out.target_value[b, k] == pytest.approx(expected, abs=1e-5)
    assert not np.allclose(out.target_value, sample.target_value)  # the values were stale
    # the policies were not reanalysed
    np.testing.assert_array_equal(out.target_policy, sample.target_policy)
    assert len(out.policy) == 0


def test_written_back_values_give_the_same_targets_later() -> None:
    cfg = config(**{"reanalyze.value": True})
    buf, net = filled_buffer(cfg), network(cfg)
    sample = buf.sample(64, 3, reanalysis=True)
    out = Reanalyzer(net, cfg, two_player=True)(sample, np.random.default_rng(0))
    out.write_back(buf)
    # the same rows, sampled again from the buffer: their targets use the fresh values
    again = buf.sample(64, 3)
    np.testing.assert_allclose(again.target_value, out.target_value, atol=1e-5)
    assert len(out.value) == int((sample.bootstrap_position >= 0).sum())


def test_a_segmented_game_reanalyses_to_the_whole_games_values() -> None:
    """Segments of 2 positions carry td_steps + K = 7 moves: every fresh value target of
    a sampled position is the one the whole game gets (docs/design.md, "Segments")."""
    cfg = config(**{"reanalyze.value": True})
    net, rng, env = network(cfg), np.random.default_rng(4), make_env("tictactoe")
    kwargs = dict(
        capacity=1000,
        obs_shape=env.obs_shape,
        num_actions=env.num_actions,
        unroll_steps=cfg.train.unroll_steps,
        td_steps=cfg.train.td_steps,
        discount=cfg.search.discount,
        two_player=True,
    )
    reference, segmented = mzero.ReplayBuffer(**kwargs), mzero.ReplayBuffer(**kwargs)
    offsets = {}
    for game in range(3):
        obs, mask = env.reset(seed=game)
        observations, actions, rewards, masks = [obs], [], [], []
        ended = False
        while not ended:
            actions.append(int(rng.choice(np.flatnonzero(mask))))
            masks.append(mask)
            step = env.step(actions[-1])
            rewards.append(step.reward)
            observations.append(step.observation)
            mask, ended = step.legal_mask, step.terminated or step.truncated
        legal = np.stack(masks)
        whole = {
            "observations": np.stack(observations).astype(np.float32),
            "actions": np.array(actions, np.int64),
            "rewards": np.array(rewards, np.float32),
            "root_values": rng.uniform(-1, 1, len(actions)).astype(np.float32),
            "policies": (legal / legal.sum(1, keepdims=True)).astype(np.float32),
            "terminated": True,
            "bootstrap_value": 0.0,
            "legal_masks": legal,
        }
        first = len(reference)
        reference.add_game(**whole)
        carry = cfg.train.td_steps + cfg.train.unroll_steps
        for offset, piece in cut_like_selfplay(whole, 2, carry, 0):
            offsets[segmented.add_game(**piece)] = first + offset
    assert segmented.positions == len(reference)
    reanalyzer = Reanalyzer(net, cfg, two_player=True)
    targets = []
    for buf, game_offset in ((reference, None), (segmented, offsets)):
        sample = buf.sample(400, 5, reanalysis=True)
        out = reanalyzer(sample, np.random.default_rng(0))
        by_index = {}
        for b, (g, t) in enumerate(zip(sample.game_id, sample.position, strict=True)):
            base = sample.index[b] - t if game_offset is None else game_offset[int(g)]
            by_index.setdefault(int(base + t), out.target_value[b])
        targets.append(by_index)
    whole_targets, segment_targets = targets
    assert sorted(segment_targets) == sorted(whole_targets) == list(range(len(reference)))
    for position, value in segment_targets.items():
        np.testing.assert_allclose(value, whole_targets[position], atol=1e-5)


def test_fresh_policies_come_from_a_search_over_the_legal_actions() -> None:
    cfg = config(**{"reanalyze.policy_fraction": 1.0})
    buf, net = filled_buffer(cfg), network(cfg)
    sample = buf.sample(32, 5, reanalysis=True)
    out = Reanalyzer(net, cfg, two_player=True)(sample, np.random.default_rng(1))
    alive = sample.mask > 0
    assert len(out.policy) == int(alive.sum())
    # every position inside its game was searched: new policies, zero on illegal moves
    assert not np.allclose(out.target_policy[alive], sample.target_policy[alive])
    assert np.all(out.target_policy[alive][~sample.legal_mask[alive]] == 0)
    np.testing.assert_allclose(out.target_policy[alive].sum(-1), 1, atol=1e-5)
    np.testing.assert_array_equal(out.target_policy[~alive], sample.target_policy[~alive])
    # the same search, run directly on the positions' own stacks
    rows, steps = np.nonzero(alive)
    stacks = np.concatenate([sample.observation[:, None], sample.next_observation], axis=1)
    search = cfg.search.to_search_config(two_player=True, explore=True)
    search = mzero.SearchConfig(**{**search.__dict__, "num_simulations": 6})
    rng = np.random.default_rng(1)
    rng.choice(len(rows), size=len(rows), replace=False)  # the reanalyzer's draw
    direct = Planner(net, search, len(rows)).plan(
        stacks[rows, steps], sample.legal_mask[rows, steps], seed=int(rng.integers(2**63))
    )
    np.testing.assert_allclose(out.target_policy[rows, steps], direct.policy, atol=1e-6)
    # written back by (game id, position); a position sampled twice keeps its last search
    out.write_back(buf)
    last = {
        (g, p): policy
        for g, p, policy in zip(out.policy_game_id, out.policy_position, out.policy, strict=True)
    }
    again = buf.sample(32, 5)
    for b, k in zip(rows, steps, strict=True):
        key = (again.game_id[b], again.position[b] + k)
        np.testing.assert_allclose(again.target_policy[b, k], last[key], atol=1e-6)


def test_a_fraction_of_the_positions_is_searched() -> None:
    cfg = config(**{"reanalyze.policy_fraction": 0.25})
    buf, net = filled_buffer(cfg), network(cfg)
    sample = buf.sample(40, 2, reanalysis=True)
    out = Reanalyzer(net, cfg, two_player=True)(sample, np.random.default_rng(0))
    assert len(out.policy) == round(0.25 * (sample.mask > 0).sum())
    changed = np.any(out.target_policy != sample.target_policy, axis=-1)
    assert 0 < changed.sum() <= len(out.policy)


def test_a_plain_batch_is_refused() -> None:
    cfg = config(**{"reanalyze.value": True})
    buf, net = filled_buffer(cfg), network(cfg)
    with pytest.raises(mzero.InvalidArgumentError, match="reanalysis=True"):
        Reanalyzer(net, cfg, two_player=True)(buf.sample(4, 0), np.random.default_rng(0))


def test_the_learner_keeps_a_target_network(tmp_path: Path) -> None:
    cfg = apply_overrides(
        preset("cartpole"),
        {
            "train.num_envs": 8,
            "train.batch_size": 16,
            "train.min_replay": 100,
            "train.max_env_steps": 400,
            "train.eval_interval": 0,
            "train.train_ratio": 0.5,
            "search.num_simulations": 6,
            "reanalyze.value": True,
            "reanalyze.policy_fraction": 0.5,
            "reanalyze.target_update_interval": 7,
        },
    )
    trainer = Trainer(cfg, tmp_path, progress=False)
    assert trainer.target_network is not None
    updates = []
    learner = trainer.learner
    original = learner.update_target_network
    learner.update_target_network = lambda: (updates.append(learner.train_steps), original())[1]
    metrics = trainer.run()
    assert trainer.train_steps > 14
    assert updates == list(range(0, trainer.train_steps, 7))
    assert metrics["reanalyze_s"] > 0
    # the target network holds the weights of its last refresh, not the latest ones
    target = trainer.target_network.state_dict()
    assert any(
        not torch.equal(t, p)
        for t, p in zip(target.values(), trainer.network.state_dict().values(), strict=True)
    )
    checkpoint = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    for name, tensor in checkpoint["target_network"].items():
        torch.testing.assert_close(tensor, target[name])
    # without reanalysis there is none
    plain = Trainer(
        apply_overrides(cfg, {"reanalyze.value": False, "reanalyze.policy_fraction": 0.0}),
        tmp_path / "plain",
        progress=False,
    )
    assert plain.target_network is None and plain.learner.reanalyzer is None


def test_batches_and_results_cross_process_boundaries() -> None:
    # a reanalysis worker receives sampled batches and returns results: both pickle
    cfg = config(**{"reanalyze.value": True, "reanalyze.policy_fraction": 0.5})
    buf, net = filled_buffer(cfg), network(cfg)
    sample = pickle.loads(pickle.dumps(buf.sample(16, 0, reanalysis=True)))
    out = Reanalyzer(net, cfg, two_player=True)(sample, np.random.default_rng(0))
    back = pickle.loads(pickle.dumps(out))
    np.testing.assert_array_equal(back.target_value, out.target_value)
    np.testing.assert_array_equal(back.policy, out.policy)
    back.write_back(buf)


def test_a_reanalyze_worker_gives_the_learners_targets() -> None:
    # ReanalyzeActor is what a Ray worker process runs; here it runs in this process
    from mzero.actors import ReanalyzeActor, _cpu_state

    cfg = config(**{"reanalyze.value": True, "reanalyze.policy_fraction": 0.5})
    buf, net = filled_buffer(cfg), network(cfg, seed=3)
    sample = buf.sample(16, 0, reanalysis=True)
    worker = ReanalyzeActor(cfg.to_dict(), (3, 3, 3), 9, two_player=True)
    assert worker.reanalyze(sample, 7) is None  # no target network yet: nothing reanalysed
    worker.set_target(5, _cpu_state(net))
    worker.set_target(4, _cpu_state(network(cfg, seed=4)))  # an older version is ignored
    remote = worker.reanalyze(pickle.loads(pickle.dumps(sample)), 7)
    local = Reanalyzer(net, cfg, two_player=True)(sample, np.random.default_rng(7))
    assert remote is not None
    for name in ("target_value", "target_policy", "value", "policy", "value_game_id"):
        np.testing.assert_array_equal(getattr(remote, name), getattr(local, name))


def test_reanalyze_workers_need_actors_and_reanalysis() -> None:
    with pytest.raises(mzero.InvalidArgumentError, match=r"actors\.reanalyze_workers.*num_actors"):
        apply_overrides(preset("cartpole-efficient"), {"actors.reanalyze_workers": 1})
    needs_reanalysis = r"actors\.reanalyze_workers.*reanalyze is on"
    with pytest.raises(mzero.InvalidArgumentError, match=needs_reanalysis):
        apply_overrides(preset("cartpole"), {"actors.num_actors": 1, "actors.reanalyze_workers": 1})
