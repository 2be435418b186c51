"""The K-step MuZero loss: against a plain reference, masks, weights, gradient scales."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import mzero
from mzero.config import NetworkConfig
from mzero.networks import MuZeroNetwork, TrainingBatch, muzero_loss, unroll
from mzero.networks.transforms import h, scalar_to_two_hot
from test_transforms import reference_two_hot  # the one plain-Python two-hot reference

torch.set_num_threads(1)

B, K, A = 6, 3, 2
CONFIG = NetworkConfig(kind="mlp", latent_dim=8, hidden=(16,), value_support=4, reward_support=2)


def network() -> MuZeroNetwork:
    torch.manual_seed(1)
    net = MuZeroNetwork((4,), A, CONFIG)
    # move the zero-initialised value and reward layers away from zero so that every
    # term of the loss depends on every part of the network
    with torch.no_grad():
        for param in net.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return net


def batch(seed: int = 0, mask: list[list[float]] | None = None) -> TrainingBatch:
    g = torch.Generator().manual_seed(seed)
    if mask is None:
        # games ending inside the unroll: rows have 4, 3, 2, 1, 4, 4 valid steps
        lengths = [4, 3, 2, 1, 4, 4]
        mask = [[1.0 if k < n else 0.0 for k in range(K + 1)] for n in lengths]
    policy = torch.rand(B, K + 1, A, generator=g)
    return TrainingBatch(
        observation=torch.randn(B, 1, 4, generator=g),
        actions=torch.randint(0, A, (B, K), generator=g),
        target_value=torch.randn(B, K + 1, generator=g) * 20,
        target_reward=torch.rand(B, K + 1, generator=g) * 3,
        target_policy=policy / policy.sum(-1, keepdim=True),
        mask=torch.tensor(mask),
        weight=torch.rand(B, generator=g) + 0.5,
        # rows 1 and 3 come from games cut off by a time limit
        terminated=torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0]),
    )


def cross_entropy(logits: list[float], target: list[float]) -> float:
    top = max(logits)
    log_z = top + math.log(sum(math.exp(v - top) for v in logits))
    return -sum(t * (v - log_z) for t, v in zip(target, logits, strict=True))


def reference_loss(
    net: MuZeroNetwork,
    b: TrainingBatch,
    value_weight: float,
    absorbing: bool,
    reward_weight: float = 1.0,
) -> dict[str, float]:
    """The loss written out per sample and step in plain Python from the unrolled outputs."""
    with torch.no_grad():
        outputs = unroll(net, b.observation, b.actions)
    totals = {"loss": 0.0, "policy": 0.0, "value": 0.0, "reward": 0.0}
    for i in range(B):
        sample = {"policy": 0.0, "value": 0.0, "reward": 0.0}
        # past the end: trained only for a terminated game, when states are absorbing
        absorbed = absorbing and (b.terminated is None or b.terminated[i] > 0)
        for k in range(K + 1):
            out = outputs[k]
            if b.mask[i, k] > 0:
                sample["policy"] += cross_entropy(
                    out.policy_logits[i].tolist(), b.target_policy[i, k].tolist()
                )
            if absorbed or b.mask[i, k] > 0:
                z = h(b.target_value[i, k].double()).item()
                sample["value"] += cross_entropy(
                    out.value_logits[i].tolist(), reference_two_hot(z, CONFIG.value_support)
                )
            if k > 0 and (absorbed or b.mask[i, k - 1] > 0):
                u = h(b.target_reward[i, k].double()).item()
                sample["reward"] += cross_entropy(
                    out.reward_logits[i].tolist(), reference_two_hot(u, CONFIG.reward_support)
                )
        weighted = (
            sample["policy"] + value_weight * sample["value"] + reward_weight * sample["reward"]
        )
        totals["loss"] += b.weight[i].item() * weighted / B
        for key in ("policy", "value", "reward"):
            totals[key] += sample[key] / B
    return totals


def grads(net: MuZeroNetwork, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    net.zero_grad()
    loss.backward()
    return {
        name: torch.zeros_like(p) if p.grad is None else p.grad.clone()
        for name, p in net.named_parameters()
    }


@pytest.mark.parametrize("absorbing", [True, False])
@pytest.mark.parametrize(("value_weight", "reward_weight"), [(0.25, 1.0), (1.0, 1.0), (0.25, 4.0)])
def test_loss_matches_the_plain_reference(
    value_weight: float, reward_weight: float, absorbing: bool
) -> None:
    net, b = network(), batch()
    out = muzero_loss(
        net, b, value_weight=value_weight, absorbing=absorbing, reward_weight=reward_weight
    )
    expected = reference_loss(net, b, value_weight, absorbing, reward_weight)
    assert out.loss.item() == pytest.approx(expected["loss"], rel=1e-5)
    assert out.policy.item() == pytest.approx(expected["policy"], rel=1e-5)
    assert out.value.item() == pytest.approx(expected["value"], rel=1e-5)
    assert out.reward.item() == pytest.approx(expected["reward"], rel=1e-5)
    assert out.loss.requires_grad
    assert not out.policy.requires_grad


def test_reward_weight_scales_only_the_reward_gradient() -> None:
    net, b = network(), batch()
    base = grads(net, muzero_loss(net, b, reward_weight=1.0).loss)
    without = grads(net, muzero_loss(net, b, reward_weight=0.0).loss)
    doubled = grads(net, muzero_loss(net, b, reward_weight=2.0).loss)
    reward_head = [name for name in base if name.startswith("dynamics.reward")]
    prediction = [name for name in base if name.startswith("prediction.")]
    assert reward_head and prediction
    for name in base:
        # the loss is linear in the weight: base - without is the reward term's gradient
        torch.testing.assert_close(doubled[name], 2 * base[name] - without[name])
    for name in reward_head:
        assert base[name].abs().sum() > 0
        assert without[name].abs().sum() == 0
    # f reads the latent states, not the rewards: its gradient does not move
    for name in prediction:
        torch.testing.assert_close(without[name], base[name])


def test_priorities_are_the_root_value_error() -> None:
    net, b = network(), batch()
    out = muzero_loss(net, b)
    with torch.no_grad():
        v0 = net.initial_inference(b.observation).value
    torch.testing.assert_close(out.priorities, (v0 - b.target_value[:, 0]).abs())
    assert out.priorities.shape == (B,)
    assert not out.priorities.requires_grad


def test_without_absorbing_states_masked_steps_contribute_nothing() -> None:
    net, b = network(), batch()
    base = muzero_loss(net, b, absorbing=False)
    base_grads = grads(net, base.loss)

    # garbage in every target that a mask excludes
    state_off = b.mask == 0
    reward_off = torch.cat([torch.ones(B, 1, dtype=torch.bool), state_off[:, :-1]], dim=1)
    noise = torch.Generator().manual_seed(9)
    policy = torch.rand(B, K + 1, A, generator=noise)
    changed = TrainingBatch(
        observation=b.observation,
        actions=b.actions,
        target_value=torch.where(state_off, 1e3 * torch.rand(B, K + 1), b.target_value),
        target_reward=torch.where(reward_off, -50.0, b.target_reward),
        target_policy=torch.where(state_off[..., None], policy, b.target_policy),
        mask=b.mask,
        weight=b.weight,
    )
    assert not torch.equal(changed.target_value, b.target_value)  # something did change
    out = muzero_loss(net, changed, absorbing=False)
    assert out.loss.item() == pytest.approx(base.loss.item(), rel=1e-6)
    for name, grad in grads(net, out.loss).items():
        torch.testing.assert_close(grad, base_grads[name], msg=name)


def test_absorbing_states_train_value_and_reward_but_not_policy() -> None:
    net, b = network(), batch()
    base = muzero_loss(net, b, absorbing=True)
    past_end = b.mask == 0
    noise = torch.rand(B, K + 1, A, generator=torch.Generator().manual_seed(3))
    other_policy = TrainingBatch(
        **{**b.__dict__, "target_policy": torch.where(past_end[..., None], noise, b.target_policy)}
    )
    assert muzero_loss(net, other_policy).loss.item() == pytest.approx(base.loss.item(), rel=1e-6)
    other_value = TrainingBatch(
        **{**b.__dict__, "target_value": torch.where(past_end, 30.0, b.target_value)}
    )
    assert muzero_loss(net, other_value).value.item() != pytest.approx(base.value.item(), rel=1e-4)
    other_reward = TrainingBatch(**{**b.__dict__, "target_reward": b.target_reward.clone()})
    other_reward.target_reward[2, 3:] += 2.0  # row 2 (terminated) ends after two steps
    assert muzero_loss(net, other_reward).reward.item() != pytest.approx(
        base.reward.item(), rel=1e-4
    )


def test_past_the_end_of_a_truncated_game_nothing_is_trained() -> None:
    net, b = network(), batch()
    truncated_past_end = (b.mask == 0) & (b.terminated[:, None] == 0)
    assert truncated_past_end.any()
    base = muzero_loss(net, b, absorbing=True)
    base_grads = grads(net, base.loss)
    reward_off = torch.cat([torch.zeros(B, 1, dtype=torch.bool), truncated_past_end[:, :-1]], 1)
    changed = TrainingBatch(
        **{
            **b.__dict__,
            "target_value": torch.where(truncated_past_end, 500.0, b.target_value),
            "target_reward": torch.where(reward_off, -40.0, b.target_reward),
        }
    )
    out = muzero_loss(net, changed, absorbing=True)
    assert out.loss.item() == pytest.approx(base.loss.item(), rel=1e-6)
    for name, grad in grads(net, out.loss).items():
        torch.testing.assert_close(grad, base_grads[name], msg=name)
    # the same rows taken as terminated: their absorbing targets count
    as_terminated = TrainingBatch(**{**changed.__dict__, "terminated": torch.ones(B)})
    base_terminated = TrainingBatch(**{**b.__dict__, "terminated": torch.ones(B)})
    assert muzero_loss(net, as_terminated).loss.item() != pytest.approx(
        muzero_loss(net, base_terminated).loss.item(), rel=1e-4
    )


@pytest.mark.parametrize("absorbing", [True, False])
def test_the_final_reward_of_a_game_counts(absorbing: bool) -> None:
    # row 3 has one valid position (mask [1, 0, 0, 0]): its step-1 reward is the
    # reward of the last move and must be trained
    net, b = network(), batch()
    base = muzero_loss(net, b, absorbing=absorbing).reward.item()
    changed = TrainingBatch(**{**b.__dict__, "target_reward": b.target_reward.clone()})
    changed.target_reward[3, 1] += 2.0
    assert muzero_loss(net, changed, absorbing=absorbing).reward.item() != pytest.approx(
        base, rel=1e-6
    )


def test_importance_weights_scale_each_sample() -> None:
    net, b = network(), batch()
    unit = TrainingBatch(**{**b.__dict__, "weight": torch.ones(B)})
    doubled = TrainingBatch(**{**b.__dict__, "weight": torch.full((B,), 2.0)})
    assert muzero_loss(net, doubled).loss.item() == pytest.approx(
        2 * muzero_loss(net, unit).loss.item(), rel=1e-6
    )
    only_first = TrainingBatch(**{**b.__dict__, "weight": torch.eye(B)[0]})
    first_row = TrainingBatch(**{k: None if v is None else v[:1] for k, v in unit.__dict__.items()})
    assert muzero_loss(net, only_first).loss.item() == pytest.approx(
        muzero_loss(net, first_row).loss.item() / B, rel=1e-5
    )


def test_recurrent_steps_have_their_gradient_scaled_by_one_over_k() -> None:
    # only step K counts (value and policy; its reward is masked by mask[K-1] = 0)
    net = network()
    b = batch(mask=[[0.0] * K + [1.0]] * B)
    out = muzero_loss(net, b, value_weight=1.0, absorbing=False)
    got = grads(net, out.loss)

    outputs = unroll(net, b.observation, b.actions)
    last = outputs[K]
    value_target = scalar_to_two_hot(b.target_value[:, K], CONFIG.value_support)
    term = -(b.target_policy[:, K] * torch.log_softmax(last.policy_logits, -1)).sum(-1)
    term = term - (value_target * torch.log_softmax(last.value_logits, -1)).sum(-1)
    unscaled = (b.weight * term).mean()
    assert out.loss.item() == pytest.approx(unscaled.item(), rel=1e-5)  # forward unchanged
    expected = grads(net, unscaled)
    for name, grad in got.items():
        torch.testing.assert_close(grad, expected[name] / K, msg=name)


def test_gradient_into_the_dynamics_is_halved_per_step() -> None:
    # the value at step 2 reaches the representation only through s^1, whose
    # gradient is scaled by 0.5 (and through s^0 -> s^1 unscaled)
    net, b = network(), batch()
    names = [n for n, _ in net.named_parameters() if n.startswith("representation.")]

    def representation_grads(scale: float) -> dict[str, torch.Tensor]:
        outputs = unroll(net, b.observation, b.actions, dynamics_gradient_scale=scale)
        g = grads(net, outputs[2].value.sum())
        return {n: g[n] for n in names}

    halved, full = representation_grads(0.5), representation_grads(1.0)
    assert any(v.abs().sum() > 0 for v in full.values())
    for name in names:
        torch.testing.assert_close(halved[name], 0.5 * full[name], msg=name)


@pytest.mark.parametrize("autocast_dtype", [None, torch.bfloat16])
def test_training_on_one_batch_lowers_the_loss(autocast_dtype: torch.dtype | None) -> None:
    net, b = network(), batch()
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = muzero_loss(net, b).loss.item()
    for _ in range(100):
        optimiser.zero_grad()
        muzero_loss(net, b, autocast_dtype=autocast_dtype).loss.backward()
        optimiser.step()
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert muzero_loss(net, b).loss.item() < 0.5 * first


def test_training_batch_from_replay_sample_arrays() -> None:
    rng = np.random.default_rng(0)
    sample = SimpleNamespace(
        observation=rng.random((B, 1, 4), dtype=np.float32),
        actions=rng.integers(0, A, (B, K)),
        target_value=rng.random((B, K + 1), dtype=np.float32),
        target_reward=rng.random((B, K + 1), dtype=np.float32),
        target_policy=np.full((B, K + 1, A), 0.5, dtype=np.float32),
        mask=np.ones((B, K + 1), dtype=np.float32),
        weight=np.ones(B, dtype=np.float32),
        terminated=np.array([True, False] * (B // 2)),
        game_id=np.zeros(B, dtype=np.int64),
    )
    b = TrainingBatch.from_sample(sample)
    assert b.terminated is not None
    np.testing.assert_array_equal(b.terminated.numpy(), sample.terminated.astype(np.float32))
    assert b.actions.dtype == torch.int64
    assert b.observation.dtype == torch.float32
    np.testing.assert_array_equal(b.observation.numpy(), sample.observation)
    np.testing.assert_array_equal(b.actions.numpy(), sample.actions)
    out = muzero_loss(network(), b)
    assert torch.isfinite(out.loss)


# -- the consistency loss (EfficientZero) --------------------------------------------------

PROJECTED = NetworkConfig(
    kind="mlp", latent_dim=8, hidden=(16,), value_support=4, reward_support=2, projection_dim=5
)


def consistency_setup() -> tuple[MuZeroNetwork, TrainingBatch]:
    torch.manual_seed(2)
    net = MuZeroNetwork((4,), A, PROJECTED)
    g = torch.Generator().manual_seed(3)
    b = batch()
    b = TrainingBatch(**{**vars(b), "next_observation": torch.randn(B, K, 1, 4, generator=g)})
    return net, b


def test_consistency_is_the_negative_cosine_to_the_real_next_states() -> None:
    net, b = consistency_setup()
    outputs = unroll(net, b.observation, b.actions)
    with torch.no_grad():
        expected = torch.zeros(B, K)
        for row in range(B):
            for k in range(1, K + 1):
                prediction = net.project(outputs[k].latent[row : row + 1], predictor=True)[0]
                target = net.project(net.represent(b.next_observation[row, k - 1]), False)[0]
                expected[row, k - 1] = -torch.dot(prediction, target) / (
                    prediction.norm() * target.norm()
                )
    loss = muzero_loss(net, b, consistency_weight=1.0)
    # step k counts while o_{t+k} is real: t + k <= T, the action into it was played
    # (mask[k - 1]); the step onto the game's last observation o_T counts, as in
    # EfficientZero; past it o_T only stands in
    inside = b.mask[:, :-1]
    assert (inside.sum() > b.mask[:, 1:].sum()).item()
    expected_mean = (expected * inside).sum(1).mean()
    assert loss.consistency.item() == pytest.approx(expected_mean.item(), rel=1e-5)
    # the term adds to the loss with its weight (and importance weights)
    base = muzero_loss(net, b)
    assert base.consistency.item() == 0.0
    added = (b.weight * (expected * inside).sum(1)).mean().item()
    assert loss.loss.item() == pytest.approx(base.loss.item() + added, rel=1e-5)


def test_consistency_targets_carry_no_gradient() -> None:
    net, b = consistency_setup()
    # o_t does not reach the representation through the consistency term's target side:
    # with only that term, the gradient wrt the next observations is zero
    b.next_observation.requires_grad_(True)
    out = muzero_loss(net, b, value_weight=0.0, consistency_weight=1.0)
    out.loss.backward()
    assert b.next_observation.grad is None or b.next_observation.grad.abs().max() == 0
    assert net.projection_predictor[0].weight.grad.abs().max() > 0


def test_consistency_needs_next_observations_and_a_projection() -> None:
    net, b = consistency_setup()
    no_next = TrainingBatch(**{**vars(b), "next_observation": None})
    with pytest.raises(mzero.InvalidArgumentError, match=r"batch\.next_observation"):
        muzero_loss(net, no_next, consistency_weight=1.0)
    with pytest.raises(mzero.InvalidArgumentError, match=r"network\.projection_dim"):
        muzero_loss(network(), b, consistency_weight=1.0)


@pytest.mark.parametrize("consistency_weight", [0.0, 1.0])
def test_a_bfloat16_unroll_gives_float32_losses_near_the_float32_ones(
    consistency_weight: float,
) -> None:
    net, b = consistency_setup()
    with torch.no_grad():  # off the zero-initialised heads, as network() does
        for param in net.parameters():
            param.add_(0.1 * torch.randn_like(param))
    exact = muzero_loss(net, b, consistency_weight=consistency_weight)
    low = muzero_loss(net, b, consistency_weight=consistency_weight, autocast_dtype=torch.bfloat16)
    assert low.loss.dtype == low.priorities.dtype == torch.float32
    for term in ("loss", "policy", "value", "reward", "consistency", "priorities"):
        assert torch.allclose(getattr(low, term), getattr(exact, term), rtol=3e-2, atol=3e-3), term
    assert low.loss.item() != exact.loss.item()  # the network did run in bfloat16
    exact_grads, low_grads = grads(net, exact.loss), grads(net, low.loss)
    for name, g in low_grads.items():
        assert g.dtype == torch.float32, name  # the weights' gradients stay float32
        assert torch.nn.functional.cosine_similarity(
            g.flatten(), exact_grads[name].flatten(), dim=0
        ) > 0.99 or (g.abs().max() == exact_grads[name].abs().max() == 0), name
