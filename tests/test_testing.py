"""mzero.testing: the public strategies, models and invariant checks."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mzero
from mzero.testing import (
    TabularModel,
    check_search_output,
    legal_masks,
    logits,
    return_bounds,
    search_configs,
    search_problems,
    tabular_models,
    values,
)


@given(legal_masks(4, 3), logits(4, 3, scale=2.0), values(4, min_value=-0.5, max_value=0.5))
def test_input_strategies_respect_their_contracts(mask, lg, v) -> None:
    assert mask.dtype == np.bool_ and mask.shape == (4, 3) and mask.any(axis=1).all()
    assert lg.dtype == np.float32 and lg.shape == (4, 3) and np.all(np.abs(lg) <= 2.0)
    assert v.dtype == np.float32 and v.shape == (4,) and np.all(np.abs(v) <= 0.5)


@given(search_configs())
def test_search_configs_are_valid(config) -> None:
    assert isinstance(config, mzero.SearchConfig)
    assert config.algorithm in ("muzero", "gumbel")


@settings(deadline=None)
@given(tabular_models(3), st.data())
def test_tabular_model_tracks_the_state_of_every_node(model, data) -> None:
    roots = data.draw(st.lists(st.integers(0, model.num_states - 1), min_size=2, max_size=2))
    model.reset(roots)
    game = np.array([0, 1])
    reward, value, lg = model(game, np.array([0, 0]), np.array([2, 1]), np.array([1, 1]))
    s0, s1 = model.next_state[roots[0], 2], model.next_state[roots[1], 1]
    assert (model.state_of(1, 0), model.state_of(1, 1)) == (s0, s1)
    assert value.tolist() == [model.value[s0], model.value[s1]]
    assert reward.tolist() == [model.reward[roots[0], 2], model.reward[roots[1], 1]]
    assert np.array_equal(lg, model.logits[[s0, s1]])
    # A later node steps from node 1.
    model(game, np.array([1, 0]), np.array([0, 0]), np.array([5, 5]))
    assert model.state_of(5, 0) == model.next_state[s0, 0]


def test_tabular_model_rejects_inconsistent_tables() -> None:
    with pytest.raises(ValueError, match="next_state"):
        TabularModel([[0, 3]], [[0.0, 0.0]], [0.0], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="shape"):
        TabularModel([[0, 0]], [[0.0]], [0.0], [[0.0, 0.0]])


def test_optimal_q_solves_a_two_state_chain() -> None:
    # State 0: action 0 stays (r=0), action 1 goes to 1 (r=1); state 1 loops with r=0.
    model = TabularModel([[0, 1], [1, 1]], [[0.0, 1.0], [0.0, 0.0]], [0, 0], [[0, 0], [0, 0]])
    q = model.optimal_q(0.5)
    np.testing.assert_allclose(q, [[0.5, 1.0], [0.0, 0.0]])


def test_return_bounds_by_brute_force() -> None:
    r, v = (-1.0, 0.5), (0.0, 2.0)
    for g, two_player in ((0.9, False), (0.9, True)):
        lo, hi = return_bounds(r, v, g, two_player=two_player, depth=3)
        sign = -g if two_player else g
        rets = []
        for k in range(4):
            for rs in itertools.product(r, repeat=k):
                for vv in v:
                    rets.append(sum(sign**i * x for i, x in enumerate(rs)) + sign**k * vv)
        assert lo == pytest.approx(min(rets)) and hi == pytest.approx(max(rets))


@settings(max_examples=30, deadline=None)
@given(search_problems())
def test_check_search_output_catches_broken_outputs(problem) -> None:
    out = problem.run()
    check_search_output(out, problem.config, problem.legal_mask, problem.value_bounds())
    broken_visits = out.visit_counts.copy()
    broken_visits[0, 0] += 1
    broken = [
        dataclasses.replace(out, visit_counts=broken_visits),
        dataclasses.replace(out, policy=out.policy * 2),
        dataclasses.replace(out, action=out.action.astype(np.int32)),
        dataclasses.replace(out, root_value=out.root_value + 100.0),
    ]
    if (out.visit_counts == 0).any():
        q = out.q_values.copy()
        q[out.visit_counts == 0] = 0.5
        broken.append(dataclasses.replace(out, q_values=q))
    for bad in broken:
        with pytest.raises(AssertionError):
            check_search_output(bad, problem.config, problem.legal_mask, problem.value_bounds())
