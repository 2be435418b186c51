"""Hypothesis strategies for search inputs, configs and random models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mzero.search import SearchConfig, SearchOutput, search, stochastic_search
from mzero.testing.checks import return_bounds
from mzero.testing.models import StochasticTabularModel, TabularModel

__all__ = [
    "SearchProblem",
    "StochasticSearchProblem",
    "legal_masks",
    "logits",
    "rewards",
    "search_configs",
    "search_problems",
    "stochastic_search_problems",
    "stochastic_tabular_models",
    "tabular_models",
    "values",
]


def _floats(min_value: float, max_value: float) -> st.SearchStrategy[float]:
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, width=32)


def logits(
    batch_size: int, num_actions: int, *, scale: float = 5.0
) -> st.SearchStrategy[npt.NDArray[np.float32]]:
    """Prior logits, float32 ``[batch_size, num_actions]`` in ``[-scale, scale]``."""
    return hnp.arrays(np.float32, (batch_size, num_actions), elements=_floats(-scale, scale))


def values(
    batch_size: int, *, min_value: float = -1.0, max_value: float = 1.0
) -> st.SearchStrategy[npt.NDArray[np.float32]]:
    """Values, float32 ``[batch_size]`` in ``[min_value, max_value]``."""
    return hnp.arrays(np.float32, (batch_size,), elements=_floats(min_value, max_value))


def rewards(
    batch_size: int, *, min_value: float = -1.0, max_value: float = 1.0
) -> st.SearchStrategy[npt.NDArray[np.float32]]:
    """Rewards, float32 ``[batch_size]`` in ``[min_value, max_value]``."""
    return values(batch_size, min_value=min_value, max_value=max_value)


@st.composite
def legal_masks(draw: st.DrawFn, batch_size: int, num_actions: int) -> npt.NDArray[np.bool_]:
    """Root legal masks, bool ``[batch_size, num_actions]``, each row with a legal action."""
    mask = draw(hnp.arrays(np.bool_, (batch_size, num_actions)))
    for row in range(batch_size):
        if not mask[row].any():
            mask[row, draw(st.integers(0, num_actions - 1))] = True
    return mask


@st.composite
def tabular_models(
    draw: st.DrawFn,
    num_actions: int | st.SearchStrategy[int] | None = None,
    *,
    max_states: int = 8,
    reward_range: tuple[float, float] = (-1.0, 1.0),
    value_range: tuple[float, float] = (-1.0, 1.0),
    logit_scale: float = 3.0,
) -> TabularModel:
    """Random deterministic :class:`TabularModel` (usable as ``recurrent_fn``).

    ``num_actions``: an int, a strategy, or ``None`` for 1 to 6.
    """
    if num_actions is None:
        num_actions = st.integers(1, 6)
    a = draw(num_actions) if isinstance(num_actions, st.SearchStrategy) else num_actions
    s = draw(st.integers(1, max_states))
    return TabularModel(
        draw(hnp.arrays(np.int64, (s, a), elements=st.integers(0, s - 1))),
        draw(hnp.arrays(np.float32, (s, a), elements=_floats(*reward_range))),
        draw(hnp.arrays(np.float32, (s,), elements=_floats(*value_range))),
        draw(hnp.arrays(np.float32, (s, a), elements=_floats(-logit_scale, logit_scale))),
    )


def search_configs(
    *,
    algorithm: str | None = None,
    max_simulations: int = 32,
    **fixed: object,
) -> st.SearchStrategy[SearchConfig]:
    """Valid :class:`SearchConfig` values; keyword arguments pin fields."""
    fields: dict[str, st.SearchStrategy[object]] = {
        "num_simulations": st.integers(1, max_simulations),
        "discount": st.sampled_from([0.0, 0.5, 0.9, 0.997, 1.0]),
        "pb_c_init": st.sampled_from([0.5, 1.25, 2.0]),
        "pb_c_base": st.sampled_from([10.0, 19652.0]),
        "dirichlet_alpha": st.sampled_from([0.03, 0.3, 1.0]),
        "dirichlet_fraction": st.sampled_from([0.0, 0.25]),
        "two_player": st.booleans(),
        "algorithm": st.sampled_from(["muzero", "gumbel"])
        if algorithm is None
        else st.just(algorithm),
        "max_considered_actions": st.integers(1, 8),
        "gumbel_scale": st.sampled_from([0.0, 1.0]),
        "c_visit": st.sampled_from([10.0, 50.0]),
        "c_scale": st.sampled_from([0.1, 1.0]),
    }
    for name, value in fixed.items():
        fields[name] = st.just(value)
    return st.builds(SearchConfig, **fields)  # type: ignore[arg-type]


@dataclass
class SearchProblem:
    """A complete search input: a model, its root states, a legal mask and a config."""

    model: TabularModel
    roots: npt.NDArray[np.int64]
    legal_mask: npt.NDArray[np.bool_]
    config: SearchConfig
    seed: int
    reward_range: tuple[float, float]
    value_range: tuple[float, float]

    def run(self) -> SearchOutput:
        """Searches from the roots with the model as ``recurrent_fn``."""
        root_value, root_logits = self.model.reset(self.roots)
        return search(root_value, root_logits, self.model, self.config, self.legal_mask, self.seed)

    def value_bounds(self) -> tuple[float, float]:
        """Bounds that the root value and Q values must respect (:func:`return_bounds`)."""
        return return_bounds(
            self.reward_range,
            self.value_range,
            self.config.discount,
            two_player=self.config.two_player,
            depth=self.config.num_simulations,
        )


@st.composite
def search_problems(
    draw: st.DrawFn,
    *,
    max_batch: int = 4,
    max_actions: int = 6,
    configs: st.SearchStrategy[SearchConfig] | None = None,
    reward_range: tuple[float, float] = (-1.0, 1.0),
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> SearchProblem:
    """A random :class:`SearchProblem`."""
    a = draw(st.integers(1, max_actions))
    model = draw(tabular_models(a, reward_range=reward_range, value_range=value_range))
    b = draw(st.integers(1, max_batch))
    roots = draw(hnp.arrays(np.int64, (b,), elements=st.integers(0, model.num_states - 1)))
    return SearchProblem(
        model=model,
        roots=roots,
        legal_mask=draw(legal_masks(b, a)),
        config=draw(configs if configs is not None else search_configs()),
        seed=draw(st.integers(0, 2**32)),
        reward_range=reward_range,
        value_range=value_range,
    )


def _size(
    draw: st.DrawFn, value: int | st.SearchStrategy[int] | None, default: st.SearchStrategy[int]
) -> int:
    if value is None:
        value = default
    return draw(value) if isinstance(value, st.SearchStrategy) else value


@st.composite
def stochastic_tabular_models(
    draw: st.DrawFn,
    num_actions: int | st.SearchStrategy[int] | None = None,
    num_chance_outcomes: int | st.SearchStrategy[int] | None = None,
    *,
    num_states: int | st.SearchStrategy[int] | None = None,
    max_states: int = 8,
    reward_range: tuple[float, float] = (-1.0, 1.0),
    value_range: tuple[float, float] = (-1.0, 1.0),
    logit_scale: float = 3.0,
) -> StochasticTabularModel:
    """Random :class:`StochasticTabularModel` (chance trees for :func:`mzero.stochastic_search`).

    ``num_actions`` (``A``), ``num_chance_outcomes`` (``C``) and ``num_states``
    (``S``): an int, a strategy, or ``None`` for 1 to 6, 1 to 4 and 1 to
    ``max_states``. Afterstate values lie in ``value_range`` like state values, so
    :func:`return_bounds` bounds the search's returns.
    """
    a = _size(draw, num_actions, st.integers(1, 6))
    c = _size(draw, num_chance_outcomes, st.integers(1, 4))
    s = _size(draw, num_states, st.integers(1, max_states))

    def floats(shape: tuple[int, ...], lo: float, hi: float) -> npt.NDArray[np.float32]:
        return draw(hnp.arrays(np.float32, shape, elements=_floats(lo, hi)))

    return StochasticTabularModel(
        draw(hnp.arrays(np.int64, (s, a, c), elements=st.integers(0, s - 1))),
        floats((s, a, c), *reward_range),
        floats((s, a), *value_range),
        floats((s, a, c), -logit_scale, logit_scale),
        floats((s,), *value_range),
        floats((s, a), -logit_scale, logit_scale),
    )


@dataclass
class StochasticSearchProblem:
    """A complete :func:`mzero.stochastic_search` input: a chance model, roots, mask, config."""

    model: StochasticTabularModel
    roots: npt.NDArray[np.int64]
    legal_mask: npt.NDArray[np.bool_]
    config: SearchConfig
    seed: int
    reward_range: tuple[float, float]
    value_range: tuple[float, float]

    def run(self) -> SearchOutput:
        """Searches from the roots with the model's afterstate and dynamics functions."""
        root_value, root_logits = self.model.reset(self.roots)
        return stochastic_search(
            root_value,
            root_logits,
            self.model.afterstate,
            self.model.dynamics,
            self.model.num_chance_outcomes,
            self.config,
            self.legal_mask,
            self.seed,
        )

    def value_bounds(self) -> tuple[float, float]:
        """Bounds that the root value and Q values must respect (:func:`return_bounds`):
        only chance edges add a reward and a discount."""
        return return_bounds(
            self.reward_range,
            self.value_range,
            self.config.discount,
            two_player=self.config.two_player,
            depth=self.config.num_simulations,
        )


@st.composite
def stochastic_search_problems(
    draw: st.DrawFn,
    *,
    max_batch: int = 4,
    max_actions: int = 6,
    max_chance_outcomes: int = 4,
    configs: st.SearchStrategy[SearchConfig] | None = None,
    reward_range: tuple[float, float] = (-1.0, 1.0),
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> StochasticSearchProblem:
    """A random :class:`StochasticSearchProblem` (``algorithm="muzero"`` configs)."""
    a = draw(st.integers(1, max_actions))
    c = draw(st.integers(1, max_chance_outcomes))
    model = draw(
        stochastic_tabular_models(a, c, reward_range=reward_range, value_range=value_range)
    )
    b = draw(st.integers(1, max_batch))
    roots = draw(hnp.arrays(np.int64, (b,), elements=st.integers(0, model.num_states - 1)))
    return StochasticSearchProblem(
        model=model,
        roots=roots,
        legal_mask=draw(legal_masks(b, a)),
        config=draw(configs if configs is not None else search_configs(algorithm="muzero")),
        seed=draw(st.integers(0, 2**32)),
        reward_range=reward_range,
        value_range=value_range,
    )
