"""MuZeroNetwork: shapes, latent scaling, zero-initialised heads, gradients, input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mzero
from mzero.config import NetworkConfig, apply_overrides, preset
from mzero.envs.connect4 import ConnectFourEnv
from mzero.learner import build_network
from mzero.networks import MuZeroNetwork, min_max_scale, scale_gradient
from mzero.networks.transforms import h_inverse

torch.set_num_threads(1)

MLP = NetworkConfig(kind="mlp", latent_dim=16, hidden=(32,), value_support=5, reward_support=3)
RESNET = NetworkConfig(
    kind="resnet", channels=8, blocks=1, head_channels=4, hidden=(16,), value_support=2
)

CASES = [
    pytest.param(MLP, (4,), 2, id="mlp-cartpole"),
    pytest.param(RESNET, (3, 3, 3), 9, id="resnet-tictactoe"),
    pytest.param(RESNET, (2, 4, 5), 6, id="resnet-action-planes"),
]


def make(config: NetworkConfig, obs_shape: tuple[int, ...], actions: int, stack: int = 1):
    torch.manual_seed(0)
    return MuZeroNetwork(obs_shape, actions, config, frame_stack=stack)


@pytest.mark.parametrize(("config", "obs_shape", "actions"), CASES)
def test_inference_shapes(config: NetworkConfig, obs_shape: tuple, actions: int) -> None:
    net = make(config, obs_shape, actions)
    batch = 5
    s = 2 * config.value_support + 1
    r = 2 * config.reward_support + 1
    out = net.initial_inference(torch.rand(batch, *obs_shape))
    assert out.latent.shape == (batch, *net.latent_shape)
    assert out.value.shape == (batch,)
    assert out.reward.shape == (batch,)
    assert torch.all(out.reward == 0)
    assert out.policy_logits.shape == (batch, actions)
    assert out.value_logits.shape == (batch, s)
    assert out.reward_logits is None

    step = net.recurrent_inference(out.latent, torch.arange(batch) % actions)
    assert step.latent.shape == out.latent.shape
    assert step.value.shape == step.reward.shape == (batch,)
    assert step.policy_logits.shape == (batch, actions)
    assert step.value_logits.shape == (batch, s)
    assert step.reward_logits is not None
    assert step.reward_logits.shape == (batch, r)


@pytest.mark.parametrize(("config", "obs_shape", "actions"), CASES)
def test_latent_states_are_min_max_scaled_per_sample(
    config: NetworkConfig, obs_shape: tuple, actions: int
) -> None:
    net = make(config, obs_shape, actions)
    out = net.initial_inference(torch.randn(4, *obs_shape) * 10)
    step = net.recurrent_inference(out.latent, torch.zeros(4, dtype=torch.int64))
    for latent in (out.latent, step.latent):
        flat = latent.flatten(1)
        torch.testing.assert_close(flat.min(dim=1).values, torch.zeros(4))
        torch.testing.assert_close(flat.max(dim=1).values, torch.ones(4))


def test_min_max_scale_of_a_constant_state_is_finite() -> None:
    scaled = min_max_scale(torch.full((2, 3), 7.0))
    assert torch.all(scaled == 0)
    x = torch.tensor([[1.0, 3.0, 2.0], [-4.0, 0.0, 4.0]])
    torch.testing.assert_close(min_max_scale(x), torch.tensor([[0.0, 1.0, 0.5], [0.0, 0.5, 1.0]]))


@pytest.mark.parametrize(("config", "obs_shape", "actions"), CASES)
def test_untrained_policy_is_uniform_and_value_and_reward_are_zero(
    config: NetworkConfig, obs_shape: tuple, actions: int
) -> None:
    # the last layers of the policy, value and reward heads start at zero: uniform logits
    net = make(config, obs_shape, actions)
    out = net.initial_inference(torch.rand(3, *obs_shape))
    step = net.recurrent_inference(out.latent, torch.ones(3, dtype=torch.int64))
    assert out.value.abs().max().item() < 1e-6
    assert step.value.abs().max().item() < 1e-6
    assert step.reward.abs().max().item() < 1e-6
    # a uniform prior: the first searches follow no random preference
    assert out.policy_logits.abs().max().item() == 0
    assert step.policy_logits.abs().max().item() == 0


@pytest.mark.parametrize(("config", "obs_shape", "actions"), CASES)
def test_gradients_reach_every_parameter(
    config: NetworkConfig, obs_shape: tuple, actions: int
) -> None:
    net = make(config, obs_shape, actions)
    obs = torch.rand(6, *obs_shape)
    action = torch.arange(6) % actions
    weights = {}

    def objective() -> torch.Tensor:
        out = net.initial_inference(obs)
        step = net.recurrent_inference(out.latent, action)
        heads = {
            "p0": out.policy_logits,
            "v0": out.value_logits,
            "p1": step.policy_logits,
            "v1": step.value_logits,
            "r1": step.reward_logits,
        }
        for key, t in heads.items():
            weights.setdefault(key, torch.randn_like(t))
        return sum((t * weights[key]).sum() for key, t in heads.items())

    # the zero-initialised last layers of the value and reward heads pass no gradient
    # back at first; one SGD step later every parameter receives one
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    objective().backward()
    optimiser.step()
    optimiser.zero_grad()
    objective().backward()
    for name, param in net.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum().item() > 0, name


@pytest.mark.parametrize(("config", "obs_shape", "actions"), CASES)
def test_rows_of_a_batch_are_independent_in_eval_mode(
    config: NetworkConfig, obs_shape: tuple, actions: int
) -> None:
    net = make(config, obs_shape, actions).eval()
    obs = torch.rand(4, *obs_shape)
    action = torch.arange(4) % actions
    with torch.no_grad():
        full = net.initial_inference(obs)
        full_step = net.recurrent_inference(full.latent, action)
        for i in range(4):
            one = net.initial_inference(obs[i : i + 1])
            one_step = net.recurrent_inference(one.latent, action[i : i + 1])
            torch.testing.assert_close(one.latent[0], full.latent[i])
            torch.testing.assert_close(one_step.policy_logits[0], full_step.policy_logits[i])


@pytest.mark.parametrize(("config", "obs_shape", "actions"), CASES)
def test_every_action_leads_to_a_different_state(
    config: NetworkConfig, obs_shape: tuple, actions: int
) -> None:
    net = make(config, obs_shape, actions).eval()
    with torch.no_grad():
        root = net.initial_inference(torch.rand(1, *obs_shape)).latent
        latent = root.repeat(actions, *([1] * len(net.latent_shape)))
        nxt = net.recurrent_inference(latent, torch.arange(actions)).latent.flatten(1)
    distances = torch.cdist(nxt, nxt)
    off_diagonal = distances[~torch.eye(actions, dtype=torch.bool)]
    assert off_diagonal.min().item() > 1e-4


def test_frame_stack_uses_every_frame() -> None:
    net = make(MLP, (4,), 2, stack=3).eval()
    obs = torch.rand(2, 3, 4)
    changed = obs.clone()
    changed[:, 0] += 1.0  # the oldest frame
    with torch.no_grad():
        a = net.initial_inference(obs).latent
        b = net.initial_inference(changed).latent
    assert (a - b).abs().max().item() > 1e-4
    with pytest.raises(mzero.InvalidArgumentError, match=r"obs: expected shape \[B, 3, 4\]"):
        net.initial_inference(torch.rand(2, 4))


@pytest.mark.parametrize(
    ("config", "obs_shape"), [(MLP, (4,)), (RESNET, (2, 4, 5))], ids=["mlp", "resnet"]
)
def test_stack_actions_feed_the_representation(config: NetworkConfig, obs_shape: tuple) -> None:
    """With ``stack_actions`` each stacked frame comes with the action before it, as a
    plane (resnet) or an input (mlp) of (a + 1) / A; -1 (no action) is 0."""
    config = NetworkConfig(**{**config.__dict__, "stack_actions": True})
    net = make(config, obs_shape, 3, stack=2).eval()
    obs = torch.rand(4, 2, *obs_shape)
    actions = torch.tensor([[-1, 0], [0, 1], [1, 2], [2, 2]])
    with torch.no_grad():
        latent = net.represent(obs, actions)
        for changed in ([[-1, 1], [0, 1], [1, 2], [2, 2]], [[-1, 0], [2, 1], [1, 2], [2, 2]]):
            other = net.represent(obs, torch.tensor(changed))
            # the row whose older or newer action changed, and only it, moves
            moved = (latent - other).flatten(1).abs().amax(dim=1) > 1e-6
            assert moved.tolist() == [row != actions.tolist()[i] for i, row in enumerate(changed)]
    # the inputs the representation sees: frames, then one plane (or input) per frame
    seen = []
    net.representation.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    net.represent(obs, actions)
    planes = seen[0][:, -2:].reshape(4, 2, -1)  # [B, 2, H*W] (resnet) or [B, 2, 1] (mlp)
    expected = (actions.float() + 1) / 3
    assert torch.equal(planes.amax(dim=2), expected) and torch.equal(planes.amin(dim=2), expected)
    with pytest.raises(mzero.InvalidArgumentError, match=r"stack_actions: expected int64 \[B, 2\]"):
        net.initial_inference(obs)
    with pytest.raises(mzero.InvalidArgumentError, match=r"got \[4, 3\]"):
        net.initial_inference(obs, torch.zeros(4, 3, dtype=torch.int64))


def test_unstacked_and_stack_of_one_agree() -> None:
    net = make(RESNET, (3, 3, 3), 9).eval()
    obs = torch.rand(2, 3, 3, 3)
    with torch.no_grad():
        torch.testing.assert_close(
            net.initial_inference(obs).latent, net.initial_inference(obs[:, None]).latent
        )


def test_bad_shapes_are_named() -> None:
    net = make(MLP, (4,), 2)
    with pytest.raises(mzero.InvalidArgumentError, match="obs: expected shape"):
        net.initial_inference(torch.rand(2, 5))
    latent = net.initial_inference(torch.rand(2, 4)).latent
    with pytest.raises(mzero.InvalidArgumentError, match=r"latent: expected shape \[B, 16\]"):
        net.recurrent_inference(latent[:, :3], torch.zeros(2, dtype=torch.int64))
    with pytest.raises(mzero.InvalidArgumentError, match=r"action: expected shape \[2\]"):
        net.recurrent_inference(latent, torch.zeros(3, dtype=torch.int64))
    with pytest.raises(mzero.InvalidArgumentError, match=r"obs_shape: the resnet network"):
        MuZeroNetwork((4,), 2, RESNET)


def test_scale_gradient_is_identity_forward_and_scales_backward() -> None:
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = scale_gradient(x, 0.5)
    torch.testing.assert_close(y, x.detach())
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.5, 1.0, 1.5]))


def test_scale_gradient_broadcasts_a_tensor_of_scales() -> None:
    x = torch.ones(2, 3, requires_grad=True)
    scale_gradient(x, torch.tensor([1.0, 0.5, 0.0])).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([[1.0, 0.5, 0.0]] * 2))


def test_network_moves_to_a_device_and_reports_it() -> None:
    net = make(MLP, (4,), 2)
    assert net.device == torch.device("cpu")
    if torch.cuda.is_available():
        net = net.to("cuda")
        out = net.initial_inference(torch.rand(2, 4, device="cuda"))
        assert out.value.device.type == "cuda"


@pytest.mark.parametrize("transform", [True, False])
def test_value_transform_decides_how_heads_decode(transform: bool) -> None:
    config = NetworkConfig(
        kind="mlp", latent_dim=8, hidden=(8,), value_support=1, reward_support=1,
        value_transform=transform,
    )  # fmt: skip
    net = make(config, (3, 3, 3), 9)
    probs = torch.tensor([0.1, 0.2, 0.7])  # expectation 0.6 on the atoms -1, 0, 1
    with torch.no_grad():  # the heads' last layers are zero: their bias alone sets the logits
        net.prediction.value_head[-1].bias.copy_(probs.log())
        net.dynamics.reward_head[-1].bias.copy_(probs.log())
    out = net.initial_inference(torch.rand(2, 3, 3, 3))
    step = net.recurrent_inference(out.latent, torch.zeros(2, dtype=torch.int64))
    expected = 0.6 if not transform else h_inverse(torch.tensor(0.6)).item()
    assert out.value.tolist() == pytest.approx([expected] * 2, rel=1e-5)
    assert step.reward.tolist() == pytest.approx([expected] * 2, rel=1e-5)


def test_a_games_action_planes_feed_the_resnet_dynamics() -> None:
    # Connect Four draws action c as ones on column c; the dynamics' first convolution
    # reads the latent channels and then that one plane
    planes = ConnectFourEnv.action_planes
    assert planes.shape == (7, 1, 6, 7) and planes.dtype == np.float32
    for column in range(7):
        assert np.flatnonzero(planes[column, 0].any(axis=0)).tolist() == [column]
        assert planes[column, 0, :, column].tolist() == [1.0] * 6
    config = apply_overrides(
        preset("connect4"), {"network.kind": "resnet", "network.channels": 8, "network.blocks": 1}
    )
    net = build_network(config, (3, 6, 7), 7).eval()
    assert net.dynamics.transition[0].in_channels == 8 + 1
    assert "dynamics.action_table" not in net.state_dict()  # it comes from the game
    action = torch.tensor([0, 3, 6, 3])
    expected = torch.from_numpy(planes)[action]
    torch.testing.assert_close(net.dynamics.action_planes(action, torch.float32), expected)
    with torch.no_grad():
        latent = net.initial_inference(torch.rand(4, 3, 6, 7)).latent
        stepped = net.recurrent_inference(latent, action).latent
        # the same step by hand: the transition convolution over [latent, column plane]
        x = torch.relu(latent + net.dynamics.transition(torch.cat([latent, expected], dim=1)))
        by_hand = min_max_scale(net.dynamics.blocks(x))
    torch.testing.assert_close(stepped, by_hand)
    # a game without planes keeps the default encoding (TicTacToe: one plane, its cell)
    tictactoe = apply_overrides(preset("tictactoe"), {"network.kind": "resnet"})
    dynamics = build_network(tictactoe, (3, 3, 3), 9).dynamics
    assert dynamics.action_table is None and dynamics.transition[0].in_channels == 32 + 1
    with pytest.raises(mzero.InvalidArgumentError, match=r"action_planes: expected \[7, P, 6, 7\]"):
        MuZeroNetwork((3, 6, 7), 7, RESNET, action_planes=np.zeros((7, 1, 3, 3), np.float32))


@pytest.mark.parametrize(("size", "side"), [(96, 6), (84, 6), (10, 1)])
def test_the_atari_representation_downsamples_frames_to_a_sixteenth(size: int, side: int) -> None:
    from mzero.networks.resnet import DownsampleRepresentation, downsampled

    assert downsampled(size) == side
    h = DownsampleRepresentation(4, 16, 1).eval()
    with torch.no_grad():
        assert h(torch.rand(2, 4, size, size)).shape == (2, 16, side, side)


def test_a_downsampling_network_plans_on_the_small_latent() -> None:
    config = NetworkConfig(kind="resnet", channels=8, blocks=1, hidden=(16,), downsample=True)
    net = MuZeroNetwork((1, 84, 84), 6, config, frame_stack=4).eval()
    frames = torch.randint(0, 256, (3, 4, 1, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        root = net.initial_inference(frames)
        step = net.recurrent_inference(root.latent, torch.tensor([0, 3, 5]))
    assert net.latent_shape == (8, 6, 6) and root.latent.shape == (3, 8, 6, 6)
    assert step.latent.shape == (3, 8, 6, 6) and step.policy_logits.shape == (3, 6)
    # different actions lead to different next states
    assert not torch.allclose(step.latent[0], step.latent[1])
    with pytest.raises(mzero.InvalidArgumentError, match=r"network\.downsample"):
        NetworkConfig(kind="mlp", downsample=True).validate()
