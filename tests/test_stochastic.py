"""Stochastic MuZero: the afterstate network, its loss, its planning and a 2048 run."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import mzero
from mzero.cli import main
from mzero.config import Config, apply_overrides, preset
from mzero.envs.game2048 import Game2048Env
from mzero.errors import InvalidArgumentError
from mzero.learner import build_network
from mzero.networks import MuZeroNetwork, TrainingBatch, muzero_loss
from mzero.networks.loss import stochastic_unroll
from mzero.networks.transforms import scalar_to_two_hot
from mzero.planner import Planner
from mzero.train import resume, train

torch.set_num_threads(1)

OBS = (16, 4, 4)


def network(seed: int = 0, inference: str = "eager") -> MuZeroNetwork:
    config = apply_overrides(
        preset("2048"),
        {"network.hidden": (32,), "network.latent_dim": 16, "network.chance_codes": 6},
    )
    torch.manual_seed(seed)
    net = build_network(config, OBS, 4)
    net.inference = inference
    # a network that is not at its zero-initialised heads
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return net


def batch(rows: int = 3, steps: int = 3, seed: int = 0) -> TrainingBatch:
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(rows, steps + 1)
    mask[0, 2:] = 0.0  # row 0: the game ends at t + 2 (moves at t and t + 1)
    return TrainingBatch(
        observation=torch.rand(rows, 1, *OBS, generator=g),
        actions=torch.randint(0, 4, (rows, steps), generator=g),
        target_value=torch.rand(rows, steps + 1, generator=g) * 20,
        target_reward=torch.rand(rows, steps + 1, generator=g) * 4,
        target_policy=torch.softmax(torch.randn(rows, steps + 1, 4, generator=g), -1),
        mask=mask,
        weight=torch.ones(rows),
        next_observation=torch.rand(rows, steps, 1, *OBS, generator=g),
        terminated=torch.ones(rows),
    )


def test_the_afterstate_terms_follow_the_paper_and_the_mask() -> None:
    net, data = network(), batch()
    out = muzero_loss(net, data, value_weight=0.25)
    unrolled = stochastic_unroll(net, data.observation, data.actions, data.next_observation)
    # Q^k against z_{t+k}: the afterstate of the action played at t + k
    q_logits = torch.stack([a.value_logits for a in unrolled.afterstates], 1)
    target = scalar_to_two_hot(data.target_value[:, :-1], net.value_support, True)
    q_ce = -(target * torch.log_softmax(q_logits, -1)).sum(-1)
    assert torch.allclose(out.afterstate_value, q_ce.sum(1).mean(), rtol=1e-5)
    # sigma^k against the encoder's code of o_{t+k} -> o_{t+k+1}, only where a move was
    # played (row 0 has none at t + 2)
    codes = torch.stack([c.code for c in unrolled.codes], 1)
    sigma = torch.stack([a.chance_logits for a in unrolled.afterstates], 1)
    sigma_ce = -(codes * torch.log_softmax(sigma, -1)).sum(-1) * data.mask[:, :-1]
    assert torch.allclose(out.chance, sigma_ce.sum(1).mean(), rtol=1e-5)
    # beta times the commitment joins the loss
    committed = muzero_loss(net, data, value_weight=0.25, commitment_weight=2.0)
    assert torch.allclose(committed.loss - out.loss, 2.0 * out.commitment, rtol=1e-4)
    # the observations past row 0's end change nothing of sigma or the commitment
    past_end = data.next_observation.clone()
    past_end[0, 2:] = torch.rand_like(past_end[0, 2:])
    moved = muzero_loss(net, dataclasses.replace(data, next_observation=past_end), 0.25)
    assert torch.equal(moved.chance, out.chance) and torch.equal(moved.commitment, out.commitment)
    inside = data.next_observation.clone()
    inside[0, 1] = torch.rand_like(inside[0, 1])
    changed = muzero_loss(net, dataclasses.replace(data, next_observation=inside), 0.25)
    assert not torch.equal(changed.commitment, out.commitment)


def test_the_code_is_one_hot_and_trains_the_encoder_through_the_dynamics() -> None:
    net, data = network(), batch()
    code = net.encode_chance(data.observation, data.next_observation[:, 0])
    assert torch.equal(
        code.code.detach(), torch.nn.functional.one_hot(code.soft.argmax(-1), 6).float()
    )
    # no commitment and sigma's target carries no gradient: what reaches the encoder
    # comes through the dynamics (straight-through), from the later states' losses
    out = muzero_loss(net, data, 0.25, commitment_weight=0.0)
    out.loss.backward()
    grad = net.chance_encoder.net[0].weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0
    net.zero_grad()
    cut = dataclasses.replace(data, actions=data.actions[:, :0], next_observation=None)
    with pytest.raises(InvalidArgumentError, match="next_observation"):
        muzero_loss(net, cut, 0.25)


def test_the_planner_searches_with_the_networks_afterstates_and_codes() -> None:
    """The planner's callbacks (traced) give what an independent eager model gives
    ``mzero.stochastic_search``: states and afterstates in one store, codes as actions."""
    net = network(1, "trace")
    config = mzero.SearchConfig(num_simulations=24, discount=0.99, dirichlet_fraction=0.25)
    obs = np.random.default_rng(0).random((5, 1, *OBS)).astype(np.float32)
    legal = np.ones((5, 4), bool)
    legal[0, 1:] = False
    planned = Planner(net, config, 5).plan(obs, legal, seed=3)

    net.eval()
    latents: dict[tuple[int, int], torch.Tensor] = {}
    with torch.no_grad():
        root = net.initial_inference(torch.from_numpy(obs))
        for g in range(5):
            latents[(g, 0)] = root.latent[g]

        def afterstate_fn(game, parent, action, node):
            s = torch.stack([latents[(g, p)] for g, p in zip(game, parent, strict=True)])
            out = net.afterstate_inference(s, torch.from_numpy(action))
            for i, (g, n) in enumerate(zip(game, node, strict=True)):
                latents[(g, n)] = out.latent[i]
            return out.value.numpy(), out.chance_logits.numpy()

        def dynamics_fn(game, parent, code, node):
            s = torch.stack([latents[(g, p)] for g, p in zip(game, parent, strict=True)])
            out = net.chance_inference(s, torch.from_numpy(code))
            for i, (g, n) in enumerate(zip(game, node, strict=True)):
                latents[(g, n)] = out.latent[i]
            return out.reward.numpy(), out.value.numpy(), out.policy_logits.numpy()

        direct = mzero.stochastic_search(
            root.value.numpy(),
            root.policy_logits.numpy(),
            afterstate_fn,
            dynamics_fn,
            6,
            config,
            legal,
            seed=3,
        )
    np.testing.assert_array_equal(planned.visit_counts, direct.visit_counts)
    np.testing.assert_allclose(planned.root_value, direct.root_value, rtol=1e-4, atol=1e-4)
    assert planned.action[0] == 0 and planned.visit_counts[0, 1:].sum() == 0


def test_stochastic_needs_an_mlp_and_puct() -> None:
    with pytest.raises(InvalidArgumentError, match=r"network\.kind"):
        apply_overrides(preset("2048"), {"network.kind": "resnet"}).validate()
    with pytest.raises(InvalidArgumentError, match=r"search\.algorithm"):
        apply_overrides(preset("2048"), {"search.algorithm": "gumbel"}).validate()


def small_2048(**overrides: object) -> Config:
    base = {
        "network.hidden": (32,),
        "network.latent_dim": 16,
        "train.num_envs": 8,
        "train.batch_size": 16,
        "train.min_replay": 100,
        "train.segment_length": 20,
        "train.log_interval": 10,
        "train.checkpoint_interval": 20,
        "train.eval_interval": 200,
        "train.eval_episodes": 2,
        "train.train_ratio": 0.2,
        "search.num_simulations": 6,
        "reanalyze.value": True,
        "reanalyze.policy_fraction": 0.5,
    }
    return apply_overrides(preset("2048"), base | overrides)


def test_a_2048_run_learns_the_chance_model_with_reanalyze_resumes_and_plays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train(small_2048(**{"train.max_env_steps": 400}), tmp_path, progress=False)
    resume(tmp_path, {"train.max_env_steps": 640}, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    learned = [row for row in rows if "loss_chance" in row]
    assert learned and all(row["loss_commitment"] >= 0 for row in learned)
    assert rows[-1]["env_steps"] >= 640 and rows[-1]["train_steps"] > learned[0]["train_steps"]
    assert [row["env_steps"] for row in rows] == sorted(row["env_steps"] for row in rows)
    assert any("eval_return_mean" in row for row in rows)

    agent = mzero.Agent.load(tmp_path)
    assert agent.network.stochastic
    env = Game2048Env()
    observation, info = env.reset(seed=5)
    for _ in range(30):
        action = agent.act(observation, info["legal_mask"])
        assert info["legal_mask"][action]
        observation, _, done, _, info = env.step(action)
        if done:
            break

    # mzero play: the agent plays a whole game, each spawned tile shown after its move
    assert main(["play", str(tmp_path), "--show-search", "2"]) == 0
    shown = capsys.readouterr().out
    moves = shown.count("agent plays ")
    assert moves >= 10 and shown.count("  search: ") == moves
    # a tile spawns after every move, two at the start
    spawns = re.findall(r"a (2|4) appeared at row [0-3], column [0-3]", shown)
    assert len(spawns) == moves + 2
    final = re.search(r"Game over after (\d+) moves: score (\d+)", shown)
    assert final is not None and int(final.group(1)) == moves
