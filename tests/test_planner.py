"""mzero.planner: traced, compiled and eager inference agree, follow the weights, run in bf16."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import mzero
from mzero.config import NetworkConfig
from mzero.errors import InvalidArgumentError
from mzero.networks import MuZeroNetwork
from mzero.planner import Planner

SEARCH = mzero.SearchConfig(num_simulations=6, dirichlet_fraction=0.25)


def _network(kind: str, inference: str, dtype: str = "float32") -> MuZeroNetwork:
    config = NetworkConfig(
        kind=kind, hidden=(16,), latent_dim=8, channels=4, blocks=1, head_channels=2
    )
    config = dataclasses.replace(config, inference=inference, inference_dtype=dtype)
    obs_shape = (4,) if kind == "mlp" else (2, 3, 3)
    torch.manual_seed(0)
    net = MuZeroNetwork(obs_shape, 3, config, frame_stack=2)
    # the heads start at zero; random weights make every output informative
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.5)
    return net


def _plan(net: MuZeroNetwork, batch: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    obs = rng.random((batch, net.frame_stack, *net.obs_shape), dtype=np.float32)
    planner = Planner(net, SEARCH, max_games=batch)
    out = planner.plan(obs, seed=seed)
    return out.visit_counts, out.policy, out.root_value, out.q_values, planner.value(obs)


@pytest.mark.parametrize(
    ("kind", "inference"),
    # compile on the MLP, as the cartpole presets act; the ResNet's compiled step is the
    # same module through the same path, and compiling it took 19 s of the test command
    [("mlp", "trace"), ("mlp", "compile"), ("resnet", "trace")],
)
def test_traced_inference_computes_what_eager_inference_computes(kind, inference) -> None:
    traced, eager = _network(kind, inference), _network(kind, "eager")
    eager.load_state_dict(traced.state_dict())
    for batch in (1, 3, 7):  # traced with 2 games, compiled with 4: other sizes must follow
        for a, b in zip(_plan(traced, batch, batch), _plan(eager, batch, batch), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("inference", ["trace", "compile"])
def test_the_traced_steps_follow_the_weights_as_they_learn(inference) -> None:
    traced, eager = _network("mlp", inference), _network("mlp", "eager")
    eager.load_state_dict(traced.state_dict())
    before = _plan(traced, 4)
    for net in (traced, eager):  # one identical optimizer step on each
        optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
        out = net.initial_inference(torch.ones(2, 2, 4))
        (out.value.sum() + out.policy_logits.square().sum()).backward()
        optimizer.step()
    after = _plan(traced, 4)
    assert not np.allclose(before[2], after[2])
    for a, b in zip(after, _plan(eager, 4), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # load_state_dict writes into the same parameters: the traced steps see it
    traced.load_state_dict(_network("mlp", "eager").state_dict())
    for a, b in zip(_plan(traced, 4), before, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("inference", ["trace", "compile"])
def test_planners_on_two_threads_compute_what_they_compute_alone(inference) -> None:
    # self-play's game groups call the shared steps of one network from their threads
    import concurrent.futures

    net = _network("mlp", inference)
    rng = np.random.default_rng(4)
    batches = [rng.random((n, 2, 4), dtype=np.float32) for n in (3, 5)]
    planners = [Planner(net, SEARCH, len(obs)) for obs in batches]
    alone = [p.plan(obs, seed=5).visit_counts for p, obs in zip(planners, batches, strict=True)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for _ in range(5):
            futures = [
                pool.submit(p.search, obs, None, 5)
                for p, obs in zip(planners, batches, strict=True)
            ]
            for future, expected in zip(futures, alone, strict=True):
                np.testing.assert_array_equal(future.result().visit_counts, expected)


def test_compile_without_a_compiler_names_the_setting(monkeypatch) -> None:
    import torch._inductor.config as inductor

    monkeypatch.setattr(inductor.cpp, "cxx", ("/nonexistent/c++",))
    monkeypatch.setattr(inductor, "force_disable_caches", True)
    torch._dynamo.reset()
    expected = r"network\.inference: 'compile'.*C\+\+ compiler"
    with pytest.raises(InvalidArgumentError, match=expected):
        _plan(_network("mlp", "compile"), 2)
    torch._dynamo.reset()


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_low_precision_inference_is_close_to_float32(dtype) -> None:
    low, full = _network("mlp", "trace", dtype), _network("mlp", "eager")
    full.load_state_dict(low.state_dict())
    rng = np.random.default_rng(1)
    obs = rng.random((5, 2, 4), dtype=np.float32)
    value_low, logits_low = Planner(low, SEARCH, 5).initial_inference(obs)
    value_full, logits_full = Planner(full, SEARCH, 5).initial_inference(obs)
    assert value_low.dtype == np.float32 and logits_low.dtype == np.float32
    assert not np.array_equal(logits_low, logits_full)  # it did run in low precision
    np.testing.assert_allclose(logits_low, logits_full, atol=0.1, rtol=0.05)
    np.testing.assert_allclose(value_low, value_full, atol=0.1, rtol=0.05)
    out = Planner(low, SEARCH, 5).plan(obs)
    assert out.visit_counts.sum(axis=1).tolist() == [SEARCH.num_simulations] * 5


def test_a_search_of_a_part_matches_the_whole_batch() -> None:
    # Planner.search with first_game: self-play's groups reproduce one search per game
    net = _network("mlp", "trace")
    rng = np.random.default_rng(2)
    obs = rng.random((6, 2, 4), dtype=np.float32)
    whole = Planner(net, SEARCH, 6).plan(obs, seed=3)
    part = Planner(net, SEARCH, 4).search(obs[2:], seed=3, first_game=2)
    np.testing.assert_array_equal(part.visit_counts, whole.visit_counts[2:])
    np.testing.assert_allclose(part.policy, whole.policy[2:], rtol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_planning_waits_on_the_device_only_through_its_event() -> None:
    # sync debug mode "error" raises on any implicit synchronisation (.cpu(), .item()):
    # a recurrent call copies through pinned buffers and waits on one event
    net = _network("mlp", "trace").to("cuda")
    eager = _network("mlp", "eager")
    eager.load_state_dict(net.state_dict())
    rng = np.random.default_rng(4)
    obs = rng.random((8, 2, 4), dtype=np.float32)
    planner = Planner(net, SEARCH, 8)
    assert planner._ids_host.is_pinned() and planner._out_host.is_pinned()
    torch.cuda.set_sync_debug_mode("error")
    try:
        out = planner.plan(obs, seed=1)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    ref = Planner(eager, SEARCH, 8).plan(obs, seed=1)
    np.testing.assert_allclose(out.root_value, ref.root_value, rtol=1e-4, atol=1e-5)


def test_stack_frames_repeats_the_first_frame_for_lists_and_deques() -> None:
    from collections import deque

    from mzero.planner import stack_frames

    frames = [np.full(2, i, np.float32) for i in range(4)]
    assert stack_frames(frames[:1], 3).tolist() == [[0, 0]] * 3
    assert stack_frames(frames, 2).tolist() == [[2, 2], [3, 3]]
    window = deque(frames[:2], maxlen=3)
    assert stack_frames(window, 3).tolist() == [[0, 0], [0, 0], [1, 1]]
    window.extend(frames[2:])
    assert stack_frames(window, 3).tolist() == [[1, 1], [2, 2], [3, 3]]
