"""Tools to property-test searches: hypothesis strategies, random models, invariants.

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
from mzero.testing.models import TabularModel
from mzero.testing.strategies import (
    SearchProblem,
    legal_masks,
    logits,
    rewards,
    search_configs,
    search_problems,
    tabular_models,
    values,
)

__all__ = [
    "SearchProblem",
    "TabularModel",
    "check_search_output",
    "legal_masks",
    "logits",
    "return_bounds",
    "rewards",
    "search_configs",
    "search_problems",
    "tabular_models",
    "values",
]
