"""mzero.search with algorithm="gumbel": mctx equality, policy improvement, invariants."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings

import mzero
from mzero.testing import TabularModel, check_search_output, search_configs, search_problems


@settings(max_examples=100, deadline=None)
@given(search_problems(configs=search_configs(algorithm="gumbel")))
def test_gumbel_invariants(problem) -> None:
    out = problem.run()
    check_search_output(out, problem.config, problem.legal_mask, problem.value_bounds())


def _bandit(q: np.ndarray, logits: np.ndarray):
    """A one-step bandit: arm a gives reward q[a] then value 0 (a terminal state)."""

    def model(game, parent, action, node):
        n = len(game)
        at_root = parent == 0
        reward = np.where(at_root, q[game, action], 0.0).astype(np.float32)
        return reward, np.zeros(n, np.float32), np.zeros((n, q.shape[1]), np.float32)

    return model


def test_improved_policy_is_an_improvement_on_bandits() -> None:
    rng = np.random.default_rng(0)
    b, a = 500, 6
    q = rng.uniform(0, 1, size=(b, a)).astype(np.float32)
    logits = rng.normal(0, 1.5, size=(b, a)).astype(np.float32)
    prior = np.exp(logits - logits.max(1, keepdims=True))
    prior /= prior.sum(1, keepdims=True)
    v_prior = (prior * q).sum(1).astype(np.float32)  # the consistent root value
    for num_simulations in (a, 16, 64):
        config = mzero.SearchConfig(
            algorithm="gumbel",
            num_simulations=num_simulations,
            max_considered_actions=a,
            discount=1.0,
        )
        out = mzero.search(v_prior, logits, _bandit(q, logits), config, seed=1)
        # Every arm is visited (n >= A), so completed Q is exact and sigma is monotone.
        assert np.all(out.visit_counts > 0)
        np.testing.assert_allclose(out.q_values, q, rtol=1e-6)
        improved = (out.policy * q).sum(1)
        assert np.all(improved >= v_prior - 1e-5)
        assert improved.mean() > v_prior.mean() + 0.05


def test_gumbel_action_improves_on_the_prior_in_expectation() -> None:
    # Gumbel-top-k with sequential halving: E[q(action)] >= E_prior[q] for any budget.
    rng = np.random.default_rng(1)
    a = 8
    q = np.tile(rng.uniform(0, 1, size=a).astype(np.float32), (4000, 1))
    logits = np.tile(rng.normal(0, 1, size=a).astype(np.float32), (4000, 1))
    prior = np.exp(logits[0] - logits[0].max())
    prior /= prior.sum()
    for num_simulations, k in ((2, 2), (4, 4), (16, 8)):
        config = mzero.SearchConfig(
            algorithm="gumbel",
            num_simulations=num_simulations,
            max_considered_actions=k,
            discount=1.0,
        )
        out = mzero.search(np.zeros(4000, np.float32), logits, _bandit(q, logits), config, seed=2)
        # sd of the mean of 4000 draws of a [0, 1] variable <= 0.008
        assert q[0, out.action].mean() >= float(prior @ q[0]) + 0.02


def test_with_enough_budget_gumbel_picks_the_best_arm() -> None:
    # The final action still carries the Gumbel noise; with 400 simulations the
    # sigma of the best arm (q = 1 vs <= 0.5) outweighs it by ~8 nats.
    rng = np.random.default_rng(3)
    b, a = 300, 8
    q = rng.uniform(0, 0.5, size=(b, a)).astype(np.float32)
    best = rng.integers(0, a, size=b)
    q[np.arange(b), best] = 1.0
    logits = rng.normal(0, 1, size=(b, a)).astype(np.float32)
    config = mzero.SearchConfig(algorithm="gumbel", num_simulations=400, discount=1.0)
    out = mzero.search(np.zeros(b, np.float32), logits, _bandit(q, logits), config, seed=4)
    assert np.array_equal(out.action, best)
    assert np.array_equal(np.argmax(out.policy, 1), best)


def test_gumbel_noise_is_seeded_and_off_at_scale_zero() -> None:
    model = TabularModel.random(np.random.default_rng(5), 6, 5)
    roots = np.arange(6)
    outs = {}
    for seed in (0, 0, 1):
        for scale in (0.0, 1.0):
            v, lg = model.reset(roots)
            config = mzero.SearchConfig(algorithm="gumbel", num_simulations=12, gumbel_scale=scale)
            outs.setdefault((seed, scale), []).append(mzero.search(v, lg, model, config, seed=seed))
    same = outs[(0, 1.0)]
    assert np.array_equal(same[0].visit_counts, same[1].visit_counts)
    assert not np.array_equal(outs[(0, 1.0)][0].visit_counts, outs[(1, 1.0)][0].visit_counts)
    # Without noise the seed does not matter.
    assert np.array_equal(outs[(0, 0.0)][0].visit_counts, outs[(1, 0.0)][0].visit_counts)


def test_sequential_halving_visits_the_top_k_by_logits_first() -> None:
    # With gumbel_scale = 0 and a flat model, the first k simulations visit the k
    # actions with the largest logits, once each.
    a, k = 6, 3
    logits = np.array([[0.1, 3.0, -1.0, 2.0, 0.5, 1.0]], np.float32)
    seen = []

    def model(game, parent, action, node):
        if parent[0] == 0:
            seen.append(int(action[0]))
        return np.zeros(1, np.float32), np.zeros(1, np.float32), np.zeros((1, a), np.float32)

    config = mzero.SearchConfig(
        algorithm="gumbel", num_simulations=3, max_considered_actions=k, gumbel_scale=0.0
    )
    mzero.search(np.zeros(1, np.float32), logits, model, config)
    assert seen == [1, 3, 5]


# ---------------------------------------------------------------------------
# Equality with mctx (the paper authors' implementation), gumbel_scale = 0.
# ---------------------------------------------------------------------------


@functools.cache
def _mctx_policy(num_simulations: int, k: int, g: float, c_visit: float, c_scale: float):
    """A jitted mctx ``gumbel_muzero_policy`` over a tabular model (gumbel_scale = 0)."""
    jax = pytest.importorskip("jax")
    mctx = pytest.importorskip("mctx")
    jnp = jax.numpy
    qtransform = functools.partial(
        mctx.qtransform_completed_by_mix_value, value_scale=c_scale, maxvisit_init=c_visit
    )

    @jax.jit
    def run(next_state, reward, value, logits, roots, invalid):
        def recurrent_fn(params, rng_key, action, state):
            nxt = next_state[state, action]
            out = mctx.RecurrentFnOutput(
                reward=reward[state, action],
                discount=jnp.full(state.shape, g, dtype=jnp.float32),
                prior_logits=logits[nxt],
                value=value[nxt],
            )
            return out, nxt

        root = mctx.RootFnOutput(prior_logits=logits[roots], value=value[roots], embedding=roots)
        policy = mctx.gumbel_muzero_policy(
            params=(),
            rng_key=jax.random.PRNGKey(0),
            root=root,
            recurrent_fn=recurrent_fn,
            num_simulations=num_simulations,
            invalid_actions=invalid,
            max_num_considered_actions=k,
            gumbel_scale=0.0,
            qtransform=qtransform,
        )
        summary = policy.search_tree.summary()
        return (
            summary.visit_counts,
            policy.action_weights,
            policy.action,
            summary.value,
            summary.qvalues,
        )

    return run


def _mctx_search(model: TabularModel, roots, legal, config: mzero.SearchConfig):
    g = -config.discount if config.two_player else config.discount
    run = _mctx_policy(
        config.num_simulations, config.max_considered_actions, g, config.c_visit, config.c_scale
    )
    outs = run(
        model.next_state.astype(np.int32),
        model.reward,
        model.value,
        model.logits,
        np.asarray(roots, np.int32),
        ~legal,
    )
    visits, policy, action, value, qvalues = (np.asarray(x) for x in outs)
    return visits.astype(np.int32), policy, action, value, qvalues


@pytest.mark.parametrize(
    ("num_actions", "num_simulations", "k", "two_player", "c_visit", "c_scale"),
    [
        (4, 8, 4, False, 50.0, 0.1),
        (6, 20, 4, True, 50.0, 0.1),
        (9, 32, 16, False, 50.0, 0.1),
        (5, 50, 2, True, 10.0, 1.0),
        (3, 64, 3, False, 50.0, 0.1),
        (5, 1, 1, False, 50.0, 0.1),
        (1, 6, 16, True, 50.0, 0.1),
        (7, 100, 5, False, 50.0, 0.1),
    ],
)
def test_gumbel_equals_mctx_without_noise(
    num_actions, num_simulations, k, two_player, c_visit, c_scale
) -> None:
    pytest.importorskip("mctx")
    rng = np.random.default_rng(num_actions * 100 + num_simulations)
    batch, compared = 8, 0
    for _ in range(6):
        model = TabularModel.random(rng, 10, num_actions, value_range=(-2.0, 2.0))
        roots = rng.integers(0, 10, size=batch)
        legal = rng.random((batch, num_actions)) < 0.7
        legal[np.arange(batch), rng.integers(0, num_actions, size=batch)] = True
        config = mzero.SearchConfig(
            algorithm="gumbel",
            num_simulations=num_simulations,
            max_considered_actions=k,
            gumbel_scale=0.0,
            two_player=two_player,
            discount=0.95,
            c_visit=c_visit,
            c_scale=c_scale,
        )
        v, lg = model.reset(roots)
        out = mzero.search(v, lg, model, config, legal)
        visits, policy, action, value, qvalues = _mctx_search(model, roots, legal, config)
        assert np.array_equal(out.visit_counts, visits)
        assert np.array_equal(out.action, action)
        # mctx computes in float32 and sigma scales the rescaled Q by up to
        # (c_visit + N) * c_scale, so its policy carries ~1e-5 of rounding.
        np.testing.assert_allclose(out.policy, policy, atol=1e-4)
        np.testing.assert_allclose(out.root_value, value, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(out.q_values, qvalues, rtol=1e-5, atol=1e-5)
        compared += batch
    assert compared == 48
