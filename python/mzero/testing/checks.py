"""Invariants every search output satisfies."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mzero.search import SearchConfig, SearchOutput

__all__ = ["check_search_output", "return_bounds"]


def return_bounds(
    reward_range: tuple[float, float],
    value_range: tuple[float, float],
    discount: float,
    *,
    two_player: bool = False,
    depth: int,
) -> tuple[float, float]:
    """Bounds of every backed-up return of at most ``depth`` steps.

    A return of ``k`` steps is ``r_1 + g r_2 + ... + g^(k-1) r_k + g^k v`` with
    ``g = -discount`` in two-player games; by interval arithmetic
    ``I_0 = value_range`` and ``I_(k+1) = reward_range + g * I_k``. Root values and Q
    values are means of such returns, so they lie in the hull of ``I_0 .. I_depth``.
    """
    g = -discount if two_player else discount
    lo, hi = float(value_range[0]), float(value_range[1])
    all_lo, all_hi = lo, hi
    for _ in range(depth):
        a, b = g * lo, g * hi
        lo, hi = reward_range[0] + min(a, b), reward_range[1] + max(a, b)
        all_lo, all_hi = min(all_lo, lo), max(all_hi, hi)
    return all_lo, all_hi


def check_search_output(
    out: SearchOutput,
    config: SearchConfig,
    legal_mask: npt.NDArray[np.bool_] | None = None,
    value_bounds: tuple[float, float] | None = None,
    *,
    atol: float = 1e-5,
) -> None:
    """Asserts the invariants of a search result.

    Raises ``AssertionError`` naming the first broken one.

    Checked: dtypes and shapes; visit counts sum to ``num_simulations`` and are 0
    on illegal actions; the policy is a distribution that is 0 on illegal actions
    (for ``"muzero"`` it equals ``visit_counts / num_simulations``); the action is
    legal (for ``"muzero"`` the most visited, lowest index on ties); Q is 0 where
    unvisited; with ``value_bounds``, the root value and the visited Q values lie
    within them (see :func:`return_bounds`).
    """
    visits, policy, q, v, action = (
        out.visit_counts,
        out.policy,
        out.q_values,
        out.root_value,
        out.action,
    )
    assert visits.dtype == np.int32, f"visit_counts dtype {visits.dtype}"
    assert policy.dtype == np.float32, f"policy dtype {policy.dtype}"
    assert q.dtype == np.float32, f"q_values dtype {q.dtype}"
    assert v.dtype == np.float32, f"root_value dtype {v.dtype}"
    assert action.dtype == np.int64, f"action dtype {action.dtype}"
    assert visits.ndim == 2, f"visit_counts shape {visits.shape}"
    batch, num_actions = visits.shape
    for name, arr, shape in (
        ("policy", policy, (batch, num_actions)),
        ("q_values", q, (batch, num_actions)),
        ("root_value", v, (batch,)),
        ("action", action, (batch,)),
    ):
        assert arr.shape == shape, f"{name} shape {arr.shape}, expected {shape}"
    legal = np.ones_like(visits, dtype=bool) if legal_mask is None else np.asarray(legal_mask)
    sums = visits.sum(axis=1)
    assert np.all(sums == config.num_simulations), f"visit counts sum to {sums}"
    assert np.all(visits[~legal] == 0), "an illegal action was visited"
    assert np.all(policy >= 0), "negative policy"
    assert np.all(policy[~legal] == 0), "policy mass on an illegal action"
    assert np.allclose(policy.sum(axis=1), 1.0, atol=atol), f"policy sums {policy.sum(axis=1)}"
    assert np.all(np.isfinite(q)) and np.all(np.isfinite(v)), "non-finite values"
    assert np.all(q[visits == 0] == 0), "Q of an unvisited action is not 0"
    assert np.all((action >= 0) & (action < num_actions)), f"action out of range: {action}"
    assert np.all(legal[np.arange(batch), action]), "an illegal action was chosen"
    if config.algorithm == "muzero":
        assert np.allclose(policy, visits / config.num_simulations, atol=atol), (
            "policy is not visit_counts / num_simulations"
        )
        assert np.array_equal(action, np.argmax(visits, axis=1)), "action is not argmax visits"
    else:
        chosen = visits[np.arange(batch), action]
        assert np.all(chosen == visits.max(axis=1)), "gumbel action is not among the most visited"
    if value_bounds is not None:
        lo, hi = value_bounds
        assert np.all(v >= lo - atol) and np.all(v <= hi + atol), (
            f"root value {v} not in {value_bounds}"
        )
        visited = q[visits > 0]
        assert np.all(visited >= lo - atol) and np.all(visited <= hi + atol), (
            f"Q values {visited} not in {value_bounds}"
        )
