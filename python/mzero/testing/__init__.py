"""Tools to property-test searches: hypothesis strategies, random models, invariants.

Chance trees (:func:`mzero.stochastic_search`): :class:`StochasticTabularModel`,
:func:`stochastic_tabular_models` and :func:`stochastic_search_problems`;
``mzero.testing.mctx_reference`` runs ``mctx.stochastic_muzero_policy`` on the same
tables (needs jax and mctx).

Needs ``hypothesis`` (in the ``test`` extra); ``import mzero`` does not import it.

>>> from hypothesis import given
>>> from mzero.testing import check_search_output, search_problems
>>> @given(search_problems())
... def test_my_settings(problem):
...     out = problem.run()
...     check_search_output(out, problem.config, problem.legal_mask, problem.value_bounds())
"""

from __future__ import annotations

from mzero.testing.checks import check_search_output, return_bounds
from mzero.testing.models import StochasticTabularModel, TabularModel
from mzero.testing.strategies import (
    SearchProblem,
    StochasticSearchProblem,
    legal_masks,
    logits,
    rewards,
    search_configs,
    search_problems,
    stochastic_search_problems,
    stochastic_tabular_models,
    tabular_models,
    values,
)

__all__ = [
    "SearchProblem",
    "StochasticSearchProblem",
    "StochasticTabularModel",
    "TabularModel",
    "check_search_output",
    "legal_masks",
    "logits",
    "return_bounds",
    "rewards",
    "search_configs",
    "search_problems",
    "stochastic_search_problems",
    "stochastic_tabular_models",
    "tabular_models",
    "values",
]
