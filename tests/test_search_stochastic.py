"""mzero.stochastic_search: chance nodes, mctx equality, hand-computed trees, invariants."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings

import mzero
from mzero.testing import (
    StochasticTabularModel,
    check_search_output,
    search_configs,
    stochastic_search_problems,
)
from mzero.testing.mctx_reference import mctx_stochastic_policy, mctx_tables


@settings(max_examples=60, deadline=None)
@given(stochastic_search_problems(configs=search_configs(algorithm="muzero", max_simulations=24)))
def test_stochastic_invariants(problem) -> None:
    out = problem.run()
    check_search_output(out, problem.config, problem.legal_mask, problem.value_bounds())
    # One or two batched calls per simulation, together covering the batch.
    calls = problem.model.afterstate_calls + problem.model.dynamics_calls
    n = problem.config.num_simulations
    assert n <= calls <= 2 * n
    assert problem.model.afterstate_calls >= 1


def _chain_model(codes: int) -> StochasticTabularModel:
    """One state, one action: afterstate value 0.4, codes with rewards 1, 0, ..."""
    rewards = np.zeros((1, 1, codes), np.float32)
    rewards[0, 0, 0] = 1.0
    return StochasticTabularModel(
        np.zeros((1, 1, codes), np.int64),
        rewards,
        [[0.4]],
        np.zeros((1, 1, codes), np.float32),
        [2.0],
        [[0.0]],
    )


@pytest.mark.parametrize("two_player", [False, True])
def test_backup_through_afterstates_by_hand(two_player) -> None:
    # Root (value 0.1) -> action 0 -> afterstate (0.4) -> code 0 -> state (r 1, v 2).
    model = _chain_model(1)
    g = -0.5 if two_player else 0.5
    config = mzero.SearchConfig(num_simulations=2, discount=0.5, two_player=two_player)
    v, lg = model.reset([0])
    v[:] = 0.1
    out = mzero.stochastic_search(v, lg, model.afterstate, model.dynamics, 1, config)
    chance_return = 1.0 + g * 2.0  # reward and discount on the chance edge only
    np.testing.assert_allclose(out.q_values, [[(0.4 + chance_return) / 2]], rtol=1e-6)
    np.testing.assert_allclose(out.root_value, [(0.1 + 0.4 + chance_return) / 3], rtol=1e-6)
    assert (model.afterstate_calls, model.dynamics_calls) == (1, 1)


def test_chance_nodes_select_prior_over_visits_plus_one() -> None:
    # One action, so every simulation after the first passes the root's afterstate
    # (node 1), whose codes have priors 0.5, 0.3, 0.2. P / (N + 1) picks code 0
    # (new: node 2), 1 (new: node 3), 0 again (0.25 > 0.2 > 0.15: on to node 2, whose
    # afterstate becomes node 4), then 2 (0.5/3 < 0.2: new, node 5).
    model = _chain_model(3)
    model.code_logits[0, 0] = np.log([0.5, 0.3, 0.2]).astype(np.float32)
    calls: list[tuple[str, int, int, int]] = []

    def afterstate(game, parent, action, node):
        calls.append(("afterstate", int(parent[0]), int(action[0]), int(node[0])))
        return model.afterstate(game, parent, action, node)

    def dynamics(game, parent, code, node):
        calls.append(("dynamics", int(parent[0]), int(code[0]), int(node[0])))
        return model.dynamics(game, parent, code, node)

    v, lg = model.reset([0])
    mzero.stochastic_search(v, lg, afterstate, dynamics, 3, mzero.SearchConfig(num_simulations=5))
    assert calls == [
        ("afterstate", 0, 0, 1),
        ("dynamics", 1, 0, 2),
        ("dynamics", 1, 1, 3),
        ("afterstate", 2, 0, 4),
        ("dynamics", 1, 2, 5),
    ]


def test_mixed_batches_give_each_game_what_it_gets_alone() -> None:
    rng = np.random.default_rng(7)
    model = StochasticTabularModel.random(rng, 6, 3, 3)
    roots = np.array([0, 1, 2, 3, 4, 5])
    config = mzero.SearchConfig(num_simulations=20, discount=0.9)
    v, lg = model.reset(roots)
    together = mzero.stochastic_search(v, lg, model.afterstate, model.dynamics, 3, config)
    for i, r in enumerate(roots):
        v, lg = model.reset([r])
        alone = mzero.stochastic_search(v, lg, model.afterstate, model.dynamics, 3, config)
        assert np.array_equal(alone.visit_counts[0], together.visit_counts[i])
        assert alone.root_value[0] == together.root_value[i]


def test_errors_name_the_argument() -> None:
    model = StochasticTabularModel.random(np.random.default_rng(0), 3, 2, 2)
    v, lg = model.reset([0, 1])
    config = mzero.SearchConfig(num_simulations=4)
    run = functools.partial(mzero.stochastic_search, v, lg)
    with pytest.raises(mzero.InvalidArgumentError, match="num_chance_outcomes"):
        run(model.afterstate, model.dynamics, 0, config)
    with pytest.raises(mzero.InvalidTypeError, match="afterstate_fn"):
        run(None, model.dynamics, 2, config)
    with pytest.raises(mzero.InvalidArgumentError, match="algorithm"):
        run(model.afterstate, model.dynamics, 2, mzero.SearchConfig(algorithm="gumbel"))
    with pytest.raises(mzero.InvalidArgumentError, match="afterstate_fn output logits"):
        run(model.afterstate, model.dynamics, 3, config)

    def bad_dynamics(game, parent, code, node):
        r, val, lg = model.dynamics(game, parent, code, node)
        return r, val * np.nan, lg

    with pytest.raises(mzero.InvalidArgumentError, match="dynamics_fn output value"):
        run(model.afterstate, bad_dynamics, 2, config)
    with pytest.raises(mzero.InvalidArgumentError, match="root_logits"):
        mzero.stochastic_search(v, lg[:, :1].ravel(), model.afterstate, model.dynamics, 2, config)


# ---------------------------------------------------------------------------
# Equality with mctx.stochastic_muzero_policy (dirichlet_fraction 0, temperature 0).
# ---------------------------------------------------------------------------


def _compare(model: StochasticTabularModel, roots, legal, config: mzero.SearchConfig, key: int):
    """Per game: visit counts equal, root value close, and the action equal (mctx
    breaks ties in the top visit count at random: then ours must be one of them)."""
    jax = pytest.importorskip("jax")
    pytest.importorskip("mctx")
    g = -config.discount if config.two_player else config.discount
    run = mctx_stochastic_policy(config.num_simulations, model.num_actions)
    outs = run(
        *mctx_tables(model, roots),
        ~legal,
        jax.random.PRNGKey(key),
        np.float32(g),
        np.float32(config.pb_c_init),
    )
    visits, action, value, qvalues = (np.asarray(x) for x in outs)
    v, lg = model.reset(roots)
    out = mzero.stochastic_search(
        v, lg, model.afterstate, model.dynamics, model.num_chance_outcomes, config, legal
    )
    same_visits = np.all(out.visit_counts == visits.astype(np.int32), axis=1)
    same_value = np.isclose(out.root_value, value, rtol=1e-5, atol=1e-5)
    same_q = np.all(np.isclose(out.q_values, qvalues, rtol=1e-5, atol=1e-5), axis=1)
    top = visits.max(axis=1, keepdims=True)
    tied = (visits == top).sum(axis=1) > 1
    same_action = (out.action == action) | tied
    return same_visits & same_value & same_q & same_action


# (two_player, pb_c_init, discount): one shape, A = 5, C = 3, 40 simulations, so
# one jit compilation (about 10 s on two cores) serves every setting.
_SETTINGS = [(False, 1.25, 0.95), (True, 1.25, 0.95), (False, 2.0, 1.0), (True, 0.5, 0.9)]


def test_stochastic_equals_mctx_without_noise() -> None:
    pytest.importorskip("mctx")
    a, c, n, batch = 5, 3, 40, 64
    rng = np.random.default_rng(34)
    equal = compared = 0
    for two_player, pb_c_init, discount in _SETTINGS:
        config = mzero.SearchConfig(
            num_simulations=n, discount=discount, two_player=two_player, pb_c_init=pb_c_init
        )
        for trial in range(4):
            model = StochasticTabularModel.random(rng, 12, a, c, value_range=(-2.0, 2.0))
            roots = rng.integers(0, 12, size=batch)
            legal = rng.random((batch, a)) < 0.7
            legal[np.arange(batch), rng.integers(0, a, size=batch)] = True
            same = _compare(model, roots, legal, config, trial)
            equal += int(same.sum())
            compared += batch
    fraction = equal / compared
    print(f"stochastic vs mctx: {equal}/{compared} games equal ({fraction:.2%})")
    assert compared == 1024
    assert fraction >= 0.99, f"{equal}/{compared} games equal mctx"
