"""mzero.search with algorithm="muzero": the PUCT contract of docs/design.md, inputs, errors."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mzero
from mzero.search import select_action_with_uniforms
from mzero.testing import (
    TabularModel,
    check_search_output,
    search_configs,
    search_problems,
)

# ---------------------------------------------------------------------------
# An independent plain-Python transcription of the PUCT semantics of docs/design.md.
# ---------------------------------------------------------------------------


class _Node:
    def __init__(self, state: int, reward: float, priors: list[float]) -> None:
        self.state = state
        self.reward = reward
        self.priors = priors
        self.visits = 0
        self.value_sum = 0.0
        self.children: dict[int, _Node] = {}


def _softmax(logits: list[float], legal: list[bool]) -> list[float]:
    top = max(x for x, ok in zip(logits, legal, strict=True) if ok)
    exps = [math.exp(x - top) if ok else 0.0 for x, ok in zip(logits, legal, strict=True)]
    total = 0.0
    for e in exps:
        total += e
    inv = 1.0 / total
    return [e * inv for e in exps]


def reference_puct(
    model: TabularModel, root_state: int, legal: list[bool], config: mzero.SearchConfig
) -> tuple[list[int], float, list[float], int]:
    """(visit_counts, root_value, q_values, action) of one game, in float64."""
    g = -config.discount if config.two_player else config.discount
    num_actions = model.num_actions
    every = [True] * num_actions
    logits = [float(x) for x in model.logits[root_state]]
    root = _Node(root_state, 0.0, _softmax(logits, legal))
    root.visits = 1
    root.value_sum = float(model.value[root_state])
    lo, hi = math.inf, -math.inf

    def q_of(child: _Node) -> float:
        return child.reward + g * (child.value_sum / child.visits)

    for _ in range(config.num_simulations):
        node, path = root, [root]
        while True:
            n = node.visits
            pb_c = config.pb_c_init + math.log((n + config.pb_c_base + 1.0) / config.pb_c_base)
            best, best_score = -1, -math.inf
            for a in range(num_actions):
                if node is root and not legal[a]:
                    continue
                child = node.children.get(a)
                n_sa = child.visits if child is not None else 0
                qn = 0.0
                if child is not None and hi > lo:
                    qn = (q_of(child) - lo) / (hi - lo)
                score = qn + node.priors[a] * math.sqrt(n) / (1.0 + n_sa) * pb_c
                if best < 0 or score > best_score:
                    best, best_score = a, score
            if best not in node.children:
                break
            node = node.children[best]
            path.append(node)
        state = int(model.next_state[node.state, best])
        leaf = _Node(
            state,
            float(model.reward[node.state, best]),
            _softmax([float(x) for x in model.logits[state]], every),
        )
        node.children[best] = leaf
        ret = float(model.value[state])
        leaf.visits += 1
        leaf.value_sum += ret
        child = leaf
        for parent in reversed(path):
            ret = child.reward + g * ret
            parent.visits += 1
            parent.value_sum += ret
            q = q_of(child)
            lo, hi = min(lo, q), max(hi, q)
            child = parent
    visits = [root.children[a].visits if a in root.children else 0 for a in range(num_actions)]
    qs = [q_of(root.children[a]) if a in root.children else 0.0 for a in range(num_actions)]
    action = max(range(num_actions), key=lambda a: (visits[a], -a))
    return visits, root.value_sum / root.visits, qs, action


@settings(max_examples=150, deadline=None)
@given(
    search_problems(
        configs=search_configs(algorithm="muzero", dirichlet_fraction=0.0, max_simulations=40)
    )
)
def test_puct_equals_the_plain_python_transcription(problem) -> None:
    out = problem.run()
    for game, state in enumerate(problem.roots):
        visits, value, qs, action = reference_puct(
            problem.model, int(state), list(problem.legal_mask[game]), problem.config
        )
        assert out.visit_counts[game].tolist() == visits
        assert out.action[game] == action
        np.testing.assert_allclose(out.root_value[game], value, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(out.q_values[game], qs, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(
            out.policy[game], np.asarray(visits) / problem.config.num_simulations, atol=1e-7
        )


def test_puct_reference_agrees_on_larger_searches() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        model = TabularModel.random(rng, 12, 7, value_range=(-3.0, 3.0))
        config = mzero.SearchConfig(num_simulations=200, two_player=bool(rng.integers(2)))
        roots = rng.integers(0, 12, size=3)
        legal = rng.random((3, 7)) < 0.7
        legal[:, 0] = True
        root_value, root_logits = model.reset(roots)
        out = mzero.search(root_value, root_logits, model, config, legal)
        for game, state in enumerate(roots):
            visits, _, _, action = reference_puct(model, int(state), list(legal[game]), config)
            assert out.visit_counts[game].tolist() == visits
            assert out.action[game] == action


@settings(max_examples=100, deadline=None)
@given(search_problems())
def test_invariants_hold_for_any_settings(problem) -> None:
    out = problem.run()
    check_search_output(out, problem.config, problem.legal_mask, problem.value_bounds())
    assert problem.model.calls == problem.config.num_simulations


@settings(max_examples=40, deadline=None)
@given(search_problems(max_batch=5), st.integers(0, 2**32))
def test_a_game_does_not_depend_on_the_other_games(problem, other_seed) -> None:
    out = problem.run()
    rng = np.random.default_rng(other_seed)
    b = len(problem.roots)
    keep = int(rng.integers(b))
    # Replace every other game by a different root and mask; game `keep` keeps its index.
    roots = rng.integers(0, problem.model.num_states, size=b)
    roots[keep] = problem.roots[keep]
    mask = rng.random(problem.legal_mask.shape) < 0.5
    mask[:, 0] = True
    mask[keep] = problem.legal_mask[keep]
    root_value, root_logits = problem.model.reset(roots)
    other = mzero.search(root_value, root_logits, problem.model, problem.config, mask, problem.seed)
    for name in ("visit_counts", "policy", "q_values", "root_value", "action"):
        assert np.array_equal(getattr(out, name)[keep], getattr(other, name)[keep]), name


@pytest.mark.parametrize("algorithm", ["muzero", "gumbel"])
def test_a_population_searched_in_parts_matches_one_search(algorithm) -> None:
    # Self-play's game groups: each part passes the index of its first game, so every
    # game draws the same root noise as in one search of the whole population.
    model = TabularModel.random(np.random.default_rng(3), 9, 5)
    roots = np.arange(11) % 9
    config = mzero.SearchConfig(num_simulations=24, algorithm=algorithm, dirichlet_fraction=0.5)
    whole = mzero.search(*model.reset(roots), model, config, seed=21)
    for split in (1, 4, 10):
        parts = [
            mzero.search(*model.reset(roots[:split]), model, config, seed=21),
            mzero.search(*model.reset(roots[split:]), model, config, seed=21, first_game=split),
        ]
        for name in ("visit_counts", "policy", "q_values", "root_value", "action"):
            joined = np.concatenate([getattr(part, name) for part in parts])
            assert np.array_equal(joined, getattr(whole, name)), (split, name)
    # the offset matters: without it the second part reuses the first part's noise
    shifted = mzero.search(*model.reset(roots[4:]), model, config, seed=21, first_game=4)
    unshifted = mzero.search(*model.reset(roots[4:]), model, config, seed=21)
    assert not np.array_equal(shifted.policy, unshifted.policy)


@pytest.mark.parametrize(
    ("first_game", "error"),
    [
        (-1, mzero.InvalidArgumentError),
        (True, mzero.InvalidTypeError),
        (1.0, mzero.InvalidTypeError),
    ],
)
def test_first_game_is_checked(first_game, error) -> None:
    model = TabularModel.random(np.random.default_rng(0), 3, 2)
    with pytest.raises(error, match="first_game"):
        mzero.search(*model.reset([0]), model, mzero.SearchConfig(), first_game=first_game)


def test_select_action_with_uniforms_is_select_action_with_the_draw_made_outside() -> None:
    counts = np.random.default_rng(0).integers(0, 6, size=(50, 4))
    counts[:, 2] += 1
    for temperature in (0.0, 0.5, 1.0, 3.0):
        rng = np.random.default_rng(9)
        expected = mzero.select_action(counts, temperature, rng)
        uniforms = np.random.default_rng(9).random(50) if temperature else None
        got = select_action_with_uniforms(counts, temperature, uniforms)
        np.testing.assert_array_equal(got, expected)
        # and rng advanced exactly by that draw
        if temperature:
            reference = np.random.default_rng(9)
            reference.random(50)
            assert rng.random() == reference.random()
    with pytest.raises(mzero.InvalidArgumentError, match="uniforms"):
        select_action_with_uniforms(counts, 1.0, np.full(50, 1.5))


_THREADS_SCRIPT = """
import numpy as np, mzero, sys
from mzero.testing import TabularModel
model = TabularModel.random(np.random.default_rng(1), 10, 6)
roots = np.arange(1100) % 10  # >= 1024 games: the parallel path
out = []
for algorithm in ("muzero", "gumbel"):
    config = mzero.SearchConfig(num_simulations=30, algorithm=algorithm, dirichlet_fraction=0.25)
    v, l = model.reset(roots)
    r = mzero.search(v, l, model, config, seed=5)
    out += [r.visit_counts, r.policy, r.q_values, r.root_value, r.action]
np.savez(sys.argv[1], *out)
"""


def test_same_seed_same_result_for_any_thread_count(tmp_path) -> None:
    results = []
    for threads in (1, 2, 3):
        path = tmp_path / f"t{threads}.npz"
        env = {**os.environ, "RAYON_NUM_THREADS": str(threads)}
        subprocess.run(
            [sys.executable, "-c", _THREADS_SCRIPT, str(path)], env=env, check=True, timeout=120
        )
        with np.load(path) as data:
            results.append([data[k] for k in sorted(data.files)])
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert np.array_equal(a, b)


def test_perfect_model_and_enough_simulations_find_the_optimal_action() -> None:
    # Exact dynamics, rewards and values (V*), uninformative priors.
    discount, checked = 0.5, 0
    for seed in range(15):
        model = TabularModel.random(np.random.default_rng(seed), 6, 3)
        model.logits[:] = 0.0
        q = model.optimal_q(discount)
        model.value[:] = q.max(axis=1)
        roots = np.arange(6)
        root_value, root_logits = model.reset(roots)
        config = mzero.SearchConfig(num_simulations=200, discount=discount)
        out = mzero.search(root_value, root_logits, model, config)
        for s in roots:
            ordered = np.sort(q[s])[::-1]
            if ordered[0] - ordered[1] < 0.05:
                continue  # a near-tie: either answer is fine
            checked += 1
            assert q[s, out.action[s]] == ordered[0], (seed, s, q[s], out.visit_counts[s])
    assert checked > 50


def test_two_player_negates_the_discount() -> None:
    model = TabularModel([[0]], [[0.25]], [1.0], [[0.0]])
    root_value, root_logits = model.reset([0])
    for two_player, q in ((False, 0.25 + 1.0), (True, 0.25 - 1.0)):
        config = mzero.SearchConfig(num_simulations=1, discount=1.0, two_player=two_player)
        out = mzero.search(root_value, root_logits, model, config)
        assert out.q_values[0, 0] == pytest.approx(q)
        assert out.root_value[0] == pytest.approx((1.0 + q) / 2)


def test_dirichlet_noise_is_uniform_over_legal_actions_and_seeded() -> None:
    # With fraction 1 and one simulation, the first action is the argmax of the noise:
    # uniform over the legal actions for a symmetric Dirichlet.
    b, a = 3000, 5
    legal = np.ones((b, a), dtype=bool)
    legal[:, 1] = False
    logits = np.tile(np.array([5.0, 0.0, 0.0, 0.0, 0.0], np.float32), (b, 1))
    config = mzero.SearchConfig(num_simulations=1, dirichlet_fraction=1.0, dirichlet_alpha=0.3)

    def model(game, parent, action, node):
        n = len(game)
        return np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros((n, a), np.float32)

    out = mzero.search(np.zeros(b, np.float32), logits, model, config, legal, seed=3)
    counts = np.bincount(out.action, minlength=a)
    assert counts[1] == 0
    # Each legal action: 750 expected, sd ~ 24.
    assert np.all(np.abs(counts[[0, 2, 3, 4]] - b / 4) < 120), counts
    again = mzero.search(np.zeros(b, np.float32), logits, model, config, legal, seed=3)
    assert np.array_equal(out.action, again.action)
    other = mzero.search(np.zeros(b, np.float32), logits, model, config, legal, seed=4)
    assert not np.array_equal(out.action, other.action)


def test_outputs_are_fresh_arrays() -> None:
    fields = ("visit_counts", "policy", "root_value", "q_values", "action")
    model = TabularModel.random(np.random.default_rng(0), 4, 3)
    config = mzero.SearchConfig(num_simulations=8)
    first = mzero.search(*model.reset([0, 1]), model, config)
    kept = {k: getattr(first, k).copy() for k in fields}
    second = mzero.search(*model.reset([2, 3]), model, config)
    # the second search (other roots) wrote other results, and the first call's arrays
    # still hold theirs: they are not views of memory the search reuses
    assert not np.array_equal(second.policy, kept["policy"])
    assert not np.array_equal(second.root_value, kept["root_value"])
    for k in fields:
        np.testing.assert_array_equal(getattr(first, k), kept[k], err_msg=k)
    arrays = [getattr(out, k) for out in (first, second) for k in fields]
    for i, a in enumerate(arrays):
        assert a.flags.writeable and a.flags.c_contiguous
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)
    # writing into a result changes neither the search's state nor the next results
    for k in fields:
        getattr(first, k)[...] = -1
    third = mzero.search(*model.reset([2, 3]), model, config)
    for k in fields:
        np.testing.assert_array_equal(getattr(third, k), getattr(second, k), err_msg=k)


def test_float64_inputs_and_outputs_are_accepted() -> None:
    model = TabularModel.random(np.random.default_rng(0), 4, 3)
    root_value, root_logits = model.reset([0, 1])

    def model64(*args):
        return tuple(x.astype(np.float64) for x in model(*args))

    config = mzero.SearchConfig(num_simulations=10)
    out64 = mzero.search(
        root_value.astype(np.float64), root_logits.astype(np.float64), model64, config
    )
    root_value, root_logits = model.reset([0, 1])
    out32 = mzero.search(root_value, root_logits, model, config)
    assert np.array_equal(out64.visit_counts, out32.visit_counts)


def test_callback_receives_int64_arrays_with_dense_node_ids() -> None:
    seen = []

    def model(game, parent, action, node):
        seen.append((game.copy(), parent.copy(), action.copy(), node.copy()))
        for x in (game, parent, action, node):
            assert x.dtype == np.int64 and x.shape == (2,)
        return np.zeros(2, np.float32), np.zeros(2, np.float32), np.zeros((2, 3), np.float32)

    mzero.search(
        np.zeros(2, np.float32),
        np.zeros((2, 3), np.float32),
        model,
        mzero.SearchConfig(num_simulations=4),
    )
    assert [s[3].tolist() for s in seen] == [[1, 1], [2, 2], [3, 3], [4, 4]]
    assert all(s[0].tolist() == [0, 1] for s in seen)
    for k, (_, parent, _, node) in enumerate(seen):
        assert np.all(parent < node) and np.all(parent <= k)


# ---------------------------------------------------------------------------
# Bad input: every case raises the documented error, naming the argument.
# ---------------------------------------------------------------------------

B, A = 2, 3


def _ok_model(game, parent, action, node):
    n = len(game)
    return np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros((n, A), np.float32)


def _run(**overrides):
    args = {
        "root_value": np.zeros(B, np.float32),
        "root_logits": np.zeros((B, A), np.float32),
        "recurrent_fn": _ok_model,
        "config": mzero.SearchConfig(num_simulations=3),
        "legal_mask": None,
        "seed": 0,
    }
    args.update(overrides)
    return mzero.search(**args)


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"root_value": np.zeros((B, 1), np.float32)}, ValueError, "root_value: expected shape"),
        (
            {"root_value": np.zeros(0, np.float32), "root_logits": np.zeros((0, A), np.float32)},
            ValueError,
            "root_value",
        ),
        ({"root_value": [0.0, 0.0]}, TypeError, "root_value: expected a numpy.ndarray"),
        ({"root_value": np.zeros(B, np.int32)}, TypeError, "root_value: expected dtype float32"),
        (
            {"root_value": np.array([0.0, np.nan], np.float32)},
            ValueError,
            "root_value: expected finite",
        ),
        (
            {"root_logits": np.zeros((B + 1, A), np.float32)},
            ValueError,
            r"root_logits: expected shape \[B, A\]",
        ),
        ({"root_logits": np.zeros(A, np.float32)}, ValueError, "root_logits: expected shape"),
        ({"root_logits": np.zeros((B, 0), np.float32)}, ValueError, "root_logits"),
        (
            {"root_logits": np.full((B, A), np.inf, np.float32)},
            ValueError,
            "root_logits: expected finite",
        ),
        ({"root_logits": np.zeros((B, A), np.float16)}, TypeError, "root_logits: expected dtype"),
        ({"legal_mask": np.ones((B, A + 1), bool)}, ValueError, "legal_mask: expected shape"),
        ({"legal_mask": np.ones((B, A), np.int8)}, TypeError, "legal_mask: expected dtype bool"),
        (
            {"legal_mask": np.array([[True, False, False], [False, False, False]])},
            ValueError,
            "legal_mask: expected at least one legal action in every row, got none in row 1",
        ),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"recurrent_fn": 3}, TypeError, "recurrent_fn: expected a callable"),
        ({"config": {"num_simulations": 3}}, TypeError, "config"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(overrides, error, match) -> None:
    calls = []

    def model(*args):
        calls.append(1)
        return _ok_model(*args)

    overrides.setdefault("recurrent_fn", model)
    with pytest.raises(error, match=match):
        _run(**overrides)
    assert not calls, "validation must happen before any work"


def _returning(reward=None, value=None, logits=None, result=None):
    def model(game, parent, action, node):
        if result is not None:
            return result
        r, v, lg = _ok_model(game, parent, action, node)
        return (
            r if reward is None else reward,
            v if value is None else value,
            lg if logits is None else logits,
        )

    return model


@pytest.mark.parametrize(
    ("model", "error", "match"),
    [
        (
            _returning(reward=np.zeros(B + 1, np.float32)),
            ValueError,
            r"recurrent_fn output reward: expected shape \[N\] = \[2\], got \[3\]",
        ),
        (
            _returning(value=np.zeros((B, 1), np.float32)),
            ValueError,
            "recurrent_fn output value: expected shape",
        ),
        (
            _returning(logits=np.zeros((B, A + 1), np.float32)),
            ValueError,
            r"recurrent_fn output logits: expected shape \[N, A\]",
        ),
        (
            _returning(logits=np.zeros((B, A), np.int64)),
            TypeError,
            "recurrent_fn output logits: expected dtype float32",
        ),
        (
            _returning(reward=[0.0, 0.0]),
            TypeError,
            "recurrent_fn output reward: expected a numpy.ndarray",
        ),
        (
            _returning(value=np.array([0.0, np.nan], np.float32)),
            ValueError,
            "recurrent_fn output value: expected finite values, got NaN at flat index 1",
        ),
        (
            _returning(logits=np.full((B, A), -np.inf, np.float32)),
            ValueError,
            "recurrent_fn output logits: expected finite",
        ),
        (
            _returning(result=[np.zeros(B, np.float32)] * 3),
            TypeError,
            "recurrent_fn: expected to return a tuple",
        ),
        (
            _returning(result=(np.zeros(B, np.float32),) * 2),
            TypeError,
            "recurrent_fn: expected to return a tuple",
        ),
    ],
)
def test_bad_callback_outputs_raise_naming_the_output(model, error, match) -> None:
    with pytest.raises(error, match=match):
        _run(recurrent_fn=model)


def test_an_exception_in_recurrent_fn_propagates_unchanged() -> None:
    class ModelError(RuntimeError):
        pass

    raised = ModelError("inside the model")

    def model(game, parent, action, node):
        if node[0] == 2:
            raise raised
        return _ok_model(game, parent, action, node)

    with pytest.raises(ModelError) as info:
        _run(recurrent_fn=model)
    assert info.value is raised
    # The engine is still usable afterwards.
    assert _run().visit_counts.sum() == B * 3


def test_errors_are_mzero_errors() -> None:
    with pytest.raises(mzero.InvalidArgumentError):
        _run(root_value=np.zeros((B, 1), np.float32))
    with pytest.raises(mzero.InvalidTypeError):
        _run(root_value=np.zeros(B, np.int32))


# ---------------------------------------------------------------------------
# SearchConfig
# ---------------------------------------------------------------------------


def test_search_config_defaults_match_the_contract() -> None:
    c = mzero.SearchConfig()
    assert (
        c.num_simulations,
        c.discount,
        c.pb_c_init,
        c.pb_c_base,
        c.dirichlet_alpha,
        c.dirichlet_fraction,
        c.two_player,
        c.algorithm,
        c.max_considered_actions,
        c.gumbel_scale,
        c.c_visit,
        c.c_scale,
    ) == (50, 0.997, 1.25, 19652.0, 0.3, 0.0, False, "muzero", 16, 1.0, 50.0, 0.1)


def test_search_config_is_frozen_and_keyword_only() -> None:
    c = mzero.SearchConfig()
    with pytest.raises(FrozenInstanceError):
        c.num_simulations = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        mzero.SearchConfig(10)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("num_simulations", 0, ValueError),
        ("num_simulations", -5, ValueError),
        ("num_simulations", 2.0, TypeError),
        ("num_simulations", True, TypeError),
        ("discount", 1.5, ValueError),
        ("discount", float("nan"), ValueError),
        ("discount", "0.9", TypeError),
        ("pb_c_init", -1.0, ValueError),
        ("pb_c_base", 0.0, ValueError),
        ("dirichlet_alpha", 0.0, ValueError),
        ("dirichlet_fraction", -0.1, ValueError),
        ("two_player", 1, TypeError),
        ("algorithm", "alphazero", ValueError),
        ("algorithm", 1, TypeError),
        ("max_considered_actions", 0, ValueError),
        ("gumbel_scale", -1.0, ValueError),
        ("c_visit", float("inf"), ValueError),
        ("c_scale", -0.5, ValueError),
    ],
)
def test_search_config_validates_every_field(field, value, error) -> None:
    with pytest.raises(error, match=field):
        mzero.SearchConfig(**{field: value})


def test_search_config_normalises_numbers() -> None:
    c = mzero.SearchConfig(num_simulations=np.int64(7), discount=1, two_player=np.bool_(True))
    assert type(c.num_simulations) is int and type(c.discount) is float and c.two_player is True


# ---------------------------------------------------------------------------
# select_action
# ---------------------------------------------------------------------------


def test_select_action_temperature_zero_is_argmax_lowest_index() -> None:
    assert mzero.select_action(np.array([1, 5, 5, 0]), 0.0) == 1
    batch = mzero.select_action(np.array([[3, 0, 3], [0, 0, 1]]), 0)
    assert batch.tolist() == [0, 2] and batch.dtype == np.int64


def test_select_action_samples_proportionally_to_counts_power() -> None:
    rng = np.random.default_rng(0)
    counts = np.tile(np.array([1, 0, 3]), (20000, 1))
    for temperature, expected in ((1.0, [0.25, 0.0, 0.75]), (0.5, [0.1, 0.0, 0.9])):
        actions = mzero.select_action(counts, temperature, rng)
        freq = np.bincount(actions, minlength=3) / len(actions)
        np.testing.assert_allclose(freq, expected, atol=0.015)
    # Tiny temperatures behave like argmax without overflow.
    assert np.all(mzero.select_action(counts[:100], 1e-6, rng) == 2)
    # Reproducible with a seed.
    assert np.array_equal(
        mzero.select_action(counts[:50], 1.0, 7), mzero.select_action(counts[:50], 1.0, 7)
    )


@pytest.mark.parametrize(
    ("counts", "temperature", "error"),
    [
        (np.array([0, 0]), 1.0, ValueError),
        (np.array([-1, 3]), 1.0, ValueError),
        (np.zeros((2, 2, 2)), 1.0, ValueError),
        (np.array([], dtype=np.int64), 1.0, ValueError),
        (np.array([1, 2]), -1.0, ValueError),
        (np.array([1, 2]), float("nan"), ValueError),
        (np.array(["a", "b"]), 1.0, TypeError),
        (np.array([1, 2]), "hot", TypeError),
    ],
)
def test_select_action_validates(counts, temperature, error) -> None:
    with pytest.raises(error):
        mzero.select_action(counts, temperature, 0)


def test_non_contiguous_inputs_and_outputs_are_read_correctly() -> None:
    model = TabularModel.random(np.random.default_rng(2), 5, 4)
    root_value, root_logits = model.reset([0, 3, 4])
    config = mzero.SearchConfig(num_simulations=12)
    expected = mzero.search(root_value, root_logits, model, config)

    def strided(*args):
        reward, value, logits = model(*args)
        wide = np.zeros((logits.shape[0], 2 * logits.shape[1]), np.float32)
        wide[:, ::2] = logits
        return reward, value, wide[:, ::2]  # a non-contiguous view

    root_value, root_logits = model.reset([0, 3, 4])
    got = mzero.search(
        np.repeat(root_value, 2)[::2], np.asfortranarray(root_logits), strided, config
    )
    assert np.array_equal(got.visit_counts, expected.visit_counts)
    np.testing.assert_array_equal(got.q_values, expected.q_values)


def test_a_search_inside_recurrent_fn_works() -> None:
    inner_results = []

    def model(game, parent, action, node):
        inner = mzero.search(
            np.zeros(1, np.float32),
            np.zeros((1, 2), np.float32),
            _ok_model_a2,
            mzero.SearchConfig(num_simulations=4),
        )
        inner_results.append(inner.visit_counts.sum())
        return _ok_model(game, parent, action, node)

    out = _run(recurrent_fn=model)
    assert out.visit_counts.sum() == B * 3
    assert inner_results == [4, 4, 4]


def _ok_model_a2(game, parent, action, node):
    n = len(game)
    return np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros((n, 2), np.float32)
