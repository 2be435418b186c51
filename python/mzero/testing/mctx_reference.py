"""``mctx.stochastic_muzero_policy`` over a :class:`StochasticTabularModel`'s tables.

The reference that :func:`mzero.stochastic_search` is compared with (the tests) and
timed against (``benches/bench_search.py``): mctx, jitted, on the same tables, its
root noise off and its action the argmax of the visit counts. Needs ``jax`` and
``mctx``, imported on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from mzero.testing.models import StochasticTabularModel

__all__ = ["mctx_stochastic_policy", "mctx_tables"]


def mctx_tables(model: StochasticTabularModel, roots: np.ndarray) -> tuple[np.ndarray, ...]:
    """The model's arrays in the order :func:`mctx_stochastic_policy`'s function takes
    them: next_state int32 ``[S, A, C]``, reward ``[S, A, C]``, afterstate value
    ``[S, A]``, code logits ``[S, A, C]``, value ``[S]``, action logits ``[S, A]``,
    roots int32 ``[B]``."""
    return (
        model.next_state.astype(np.int32),
        model.reward,
        model.afterstate_value,
        model.code_logits,
        model.value,
        model.logits,
        np.asarray(roots, np.int32),
    )


@functools.cache
def mctx_stochastic_policy(num_simulations: int, num_actions: int) -> Callable[..., Any]:
    """A jitted ``run(*mctx_tables(model, roots), invalid, key, discount, pb_c_init)``.

    ``invalid`` is bool ``[B, A]`` (True: illegal at the root), ``key`` a jax PRNG key,
    ``discount`` the discount of every chance edge (negative for two players). Returns
    mctx's visit counts ``[B, A]``, action ``[B]``, root value ``[B]`` and Q values
    ``[B, A]``. Afterstates are numbered ``state * num_actions + action``.
    """
    import jax
    import mctx

    jnp = jax.numpy

    @jax.jit
    def run(
        next_state: Any,
        reward: Any,
        as_value: Any,
        code_logits: Any,
        value: Any,
        logits: Any,
        roots: Any,
        invalid: Any,
        key: Any,
        discount: Any,
        pb_c_init: Any,
    ) -> tuple[Any, Any, Any, Any]:
        def decision_fn(params: Any, rng_key: Any, action: Any, state: Any) -> Any:
            out = mctx.DecisionRecurrentFnOutput(
                chance_logits=code_logits[state, action], afterstate_value=as_value[state, action]
            )
            return out, state * num_actions + action

        def chance_fn(params: Any, rng_key: Any, code: Any, afterstate: Any) -> Any:
            s, a = afterstate // num_actions, afterstate % num_actions
            nxt = next_state[s, a, code]
            out = mctx.ChanceRecurrentFnOutput(
                action_logits=logits[nxt],
                value=value[nxt],
                reward=reward[s, a, code],
                discount=jnp.full(nxt.shape, discount, dtype=jnp.float32),
            )
            return out, nxt

        root = mctx.RootFnOutput(prior_logits=logits[roots], value=value[roots], embedding=roots)
        policy = mctx.stochastic_muzero_policy(
            params=(),
            rng_key=key,
            root=root,
            decision_recurrent_fn=decision_fn,
            chance_recurrent_fn=chance_fn,
            num_simulations=num_simulations,
            invalid_actions=invalid,
            dirichlet_fraction=0.0,
            pb_c_init=pb_c_init,
            temperature=0.0,
        )
        summary = policy.search_tree.summary()
        return summary.visit_counts, policy.action, summary.value, summary.qvalues

    return run
