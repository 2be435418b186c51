"""Batched Monte Carlo Tree Search: MuZero's PUCT, Gumbel MuZero and Stochastic MuZero, run in Rust.

``search`` plans for ``B`` games at once. Rust owns ``B`` trees of
``num_simulations + 1`` nodes; per simulation it selects one leaf per game (on
several threads, without the GIL) and calls ``recurrent_fn`` once for the whole
batch. The latent states never enter Rust: node 0 is the root and the node
expanded by simulation ``k`` has id ``k + 1`` in every game, so the caller keeps
``latent[node, game, ...]`` and gathers ``latent[parent, game]``.

``stochastic_search`` plans with chance nodes (Stochastic MuZero): an action leads
to an afterstate, whose chance node picks one of ``C`` codes; per simulation each
game's leaf needs either the afterstate model or the dynamics, and each of the two
is called once for the games that need it.

References: MuZero, Schrittwieser et al. 2020 (https://arxiv.org/abs/1911.08265),
appendix B; Gumbel MuZero, Danihelka et al. 2022
(https://openreview.net/forum?id=bERaNdoegnO); Stochastic MuZero, Antonoglou et al.
2022 (https://openreview.net/forum?id=X6D9bAHhBQ1). The exact semantics are in
docs/design.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Literal

import numpy as np
import numpy.typing as npt

from mzero import _core
from mzero.errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "AfterstateFn",
    "DynamicsFn",
    "RecurrentFn",
    "SearchConfig",
    "SearchOutput",
    "search",
    "select_action",
    "select_action_with_uniforms",
    "stochastic_search",
]

RecurrentFn = Callable[
    [npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
    tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]],
]
"""``(game, parent, action, node) -> (reward, value, logits)``.

Inputs are int64 ``[N]`` (``N = B``, one leaf per game): the model steps the latent
state of ``(game, parent)`` with ``action``, stores the new latent under
``(game, node)`` and returns ``reward`` float32 ``[N]``, ``value`` float32 ``[N]``
and ``logits`` float32 ``[N, A]`` (float64 is accepted and rounded to float32).
"""

AfterstateFn = Callable[
    [npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
    tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
]
"""``(game, parent, action, node) -> (value, code_logits)``, for :func:`stochastic_search`.

Inputs are int64 ``[N]``, ``1 <= N <= B``: the games whose leaf this simulation
hangs below a decision node. The model maps the state of ``(game, parent)`` and
``action`` to an afterstate, stores it under ``(game, node)`` and returns its
``value`` float32 ``[N]`` and the logits of the chance codes ``code_logits``
float32 ``[N, C]``.
"""

DynamicsFn = Callable[
    [npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
    tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]],
]
"""``(game, parent, code, node) -> (reward, value, logits)``, for :func:`stochastic_search`.

Inputs are int64 ``[N]``, ``1 <= N <= B``: the games whose leaf this simulation
hangs below a chance node. The model maps the afterstate of ``(game, parent)`` and
chance ``code`` in ``[0, C)`` to the next state, stores it under ``(game, node)``
and returns ``reward`` float32 ``[N]``, ``value`` float32 ``[N]`` and action
``logits`` float32 ``[N, A]``.
"""

_INT_FIELDS = ("num_simulations", "max_considered_actions")
_FLOAT_FIELDS = (
    "discount",
    "pb_c_init",
    "pb_c_base",
    "dirichlet_alpha",
    "dirichlet_fraction",
    "gumbel_scale",
    "c_visit",
    "c_scale",
)


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """Settings of :func:`search`; validated on construction (errors name the field)."""

    num_simulations: int = 50
    """Simulations per search, one ``recurrent_fn`` call each (>= 1)."""
    discount: float = 0.997
    """Discount gamma in [0, 1]."""
    pb_c_init: float = 1.25
    """PUCT's c1 (MuZero appendix B)."""
    pb_c_base: float = 19652.0
    """PUCT's c2."""
    dirichlet_alpha: float = 0.3
    """Concentration of the root Dirichlet noise (``"muzero"`` only)."""
    dirichlet_fraction: float = 0.0
    """Weight of the root Dirichlet noise in [0, 1]; 0 turns it off (``"muzero"`` only)."""
    two_player: bool = False
    """Values are from the view of the player to move: the effective discount is -discount."""
    algorithm: Literal["muzero", "gumbel"] = "muzero"
    """``"muzero"`` (PUCT) or ``"gumbel"`` (Gumbel MuZero)."""
    max_considered_actions: int = 16
    """Gumbel: actions sampled at the root by Gumbel-top-k (>= 1)."""
    gumbel_scale: float = 1.0
    """Gumbel: scale of the root Gumbel noise (>= 0); 0 makes the search deterministic."""
    c_visit: float = 50.0
    """Gumbel: ``c_visit`` of ``sigma(q) = (c_visit + max_b N(b)) * c_scale * q``."""
    c_scale: float = 0.1
    """Gumbel: ``c_scale`` of ``sigma``."""

    def __post_init__(self) -> None:
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral):
                raise InvalidTypeError(f"{name}: expected an int, got {type(value).__name__}")
            object.__setattr__(self, name, int(value))
        for name in _FLOAT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real):
                raise InvalidTypeError(f"{name}: expected a float, got {type(value).__name__}")
            object.__setattr__(self, name, float(value))
        if not isinstance(self.two_player, (bool, np.bool_)):
            raise InvalidTypeError(
                f"two_player: expected a bool, got {type(self.two_player).__name__}"
            )
        object.__setattr__(self, "two_player", bool(self.two_player))
        if not isinstance(self.algorithm, str):
            raise InvalidTypeError(
                f"algorithm: expected a str, got {type(self.algorithm).__name__}"
            )
        _core.check_search_config(self)


@dataclass(frozen=True)
class SearchOutput:
    """The result of :func:`search` (fresh arrays, owned by the caller)."""

    visit_counts: npt.NDArray[np.int32]
    """``[B, A]`` visits of each root child; each row sums to ``num_simulations``."""
    policy: npt.NDArray[np.float32]
    """``[B, A]`` policy target: visit distribution (muzero) or improved policy (gumbel)."""
    root_value: npt.NDArray[np.float32]
    """``[B]`` ``W(root) / N(root)``."""
    q_values: npt.NDArray[np.float32]
    """``[B, A]`` ``Q(root, a)``; 0 where unvisited."""
    action: npt.NDArray[np.int64]
    """``[B]`` argmax of visit_counts, lowest index on ties (gumbel: its own final rule)."""


def search(
    root_value: npt.NDArray[np.float32],
    root_logits: npt.NDArray[np.float32],
    recurrent_fn: RecurrentFn,
    config: SearchConfig,
    legal_mask: npt.NDArray[np.bool_] | None = None,
    seed: int = 0,
    first_game: int = 0,
) -> SearchOutput:
    """Plans ``B`` games at once with ``config.num_simulations`` simulations each.

    Args:
        root_value: float32 ``[B]``, the network's value of each root.
        root_logits: float32 ``[B, A]``, the prior logits of each root.
        recurrent_fn: the model, called once per simulation with the whole batch;
            see :data:`RecurrentFn`. An exception it raises propagates unchanged.
        config: a :class:`SearchConfig`.
        legal_mask: bool ``[B, A]``, legal actions at the root (interior nodes
            consider every action); every row needs one. ``None``: all legal.
        seed: seeds the root noise (Dirichlet or Gumbel); game ``i`` draws from
            its own stream of ``(seed, i)``, so results depend neither on the
            thread count nor on the other games.
        first_game: the index of this batch's first game in a larger population that
            is searched in parts (self-play's game groups): game ``i`` draws from the
            stream of ``(seed, first_game + i)``, so each part gives its games exactly
            what one search of the whole population would. ``recurrent_fn`` still
            sees the games numbered ``0..B``.

    float64 arrays are accepted and rounded to float32. Bad shapes, dtypes, NaN or
    inf raise :class:`mzero.InvalidArgumentError` (a ValueError) or
    :class:`mzero.InvalidTypeError` (a TypeError) naming the argument.
    """
    if not isinstance(config, SearchConfig):
        raise InvalidTypeError(
            f"config: expected an mzero.SearchConfig, got {type(config).__name__}"
        )
    visit_counts, policy, value, q_values, action = _core.search(
        root_value, root_logits, recurrent_fn, config, legal_mask, seed, first_game
    )
    return SearchOutput(
        visit_counts=visit_counts,
        policy=policy,
        root_value=value,
        q_values=q_values,
        action=action,
    )


def stochastic_search(
    root_value: npt.NDArray[np.float32],
    root_logits: npt.NDArray[np.float32],
    afterstate_fn: AfterstateFn,
    dynamics_fn: DynamicsFn,
    num_chance_outcomes: int,
    config: SearchConfig,
    legal_mask: npt.NDArray[np.bool_] | None = None,
    seed: int = 0,
    first_game: int = 0,
) -> SearchOutput:
    """Stochastic MuZero: plans ``B`` games with decision and chance nodes.

    The semantics are those of ``mctx.stochastic_muzero_policy`` (docs/design.md):
    decision nodes select by PUCT with Q normalised per node by its own value and
    its children's Q (mctx's ``qtransform_by_parent_and_siblings``; ties to the
    lowest action); chance nodes take the code maximising ``P(c) / (N(c) + 1)``;
    edges into afterstates carry reward 0 and discount 1, edges out of them the
    dynamics' reward and the discount (``-discount`` when ``two_player``).

    Per simulation, the games whose leaf hangs below a decision node go to one call
    of ``afterstate_fn``, those below a chance node to one call of ``dynamics_fn``
    (afterstate first; a kind with no leaves is not called), so one simulation makes
    one or two batched calls that together cover the ``B`` games. Node ids are as
    for :func:`search`: node 0 is the root and simulation ``k`` expands node
    ``k + 1``, a state or an afterstate, so one ``latent[node, game]`` store (or one
    for states and one for afterstates) serves both models.

    Args:
        root_value: float32 ``[B]``, the network's value of each root state.
        root_logits: float32 ``[B, A]``, the prior logits of each root.
        afterstate_fn: see :data:`AfterstateFn`.
        dynamics_fn: see :data:`DynamicsFn`.
        num_chance_outcomes: ``C >= 1``, the number of chance codes.
        config: a :class:`SearchConfig` with ``algorithm="muzero"`` (Dirichlet root
            noise as for :func:`search`; the Gumbel fields are unused).
        legal_mask: bool ``[B, A]``, legal actions at the root; ``None``: all legal.
        seed: seeds the root Dirichlet noise, per game as for :func:`search`.
        first_game: as for :func:`search`.

    Returns:
        A :class:`SearchOutput`: ``visit_counts`` int32 ``[B, A]`` (rows sum to
        ``num_simulations``), ``policy`` float32 ``[B, A]`` (the visit
        distribution), ``root_value`` float32 ``[B]``, ``q_values`` float32
        ``[B, A]`` (the afterstates' values, 0 where unvisited) and ``action`` int64
        ``[B]`` (the most visited, lowest index on ties).

    Bad shapes, dtypes, NaN or inf raise :class:`mzero.InvalidArgumentError` or
    :class:`mzero.InvalidTypeError` naming the argument (a callback's output as
    ``afterstate_fn output logits``, ``dynamics_fn output reward``, ...).
    """
    if not isinstance(config, SearchConfig):
        raise InvalidTypeError(
            f"config: expected an mzero.SearchConfig, got {type(config).__name__}"
        )
    visit_counts, policy, value, q_values, action = _core.stochastic_search(
        root_value,
        root_logits,
        afterstate_fn,
        dynamics_fn,
        num_chance_outcomes,
        config,
        legal_mask,
        seed,
        first_game,
    )
    return SearchOutput(
        visit_counts=visit_counts,
        policy=policy,
        root_value=value,
        q_values=q_values,
        action=action,
    )


def select_action(
    visit_counts: npt.ArrayLike,
    temperature: float,
    rng: np.random.Generator | int | None = None,
) -> npt.NDArray[np.int64]:
    """Samples actions with probability proportional to ``N(a) ** (1 / temperature)``.

    Args:
        visit_counts: non-negative counts ``[A]`` or ``[B, A]``, every row with a
            positive count.
        temperature: >= 0; 0 takes the argmax (lowest index on ties).
        rng: a ``numpy.random.Generator`` (or a seed for one). At temperature > 0 it
            draws ``rng.random(rows)`` once; at 0 nothing.

    Returns:
        int64 ``[]`` for ``[A]`` input, ``[B]`` for ``[B, A]``.
    """
    counts, rows = _check_counts(visit_counts)
    _check_temperature(temperature)
    uniforms = None
    if temperature != 0:
        generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        uniforms = generator.random(rows.shape[0])
    return _select(rows, temperature, uniforms).reshape(counts.shape[:-1])


def select_action_with_uniforms(
    visit_counts: npt.ArrayLike, temperature: float, uniforms: npt.ArrayLike | None
) -> npt.NDArray[np.int64]:
    """:func:`select_action` with its uniforms drawn by the caller.

    ``uniforms`` is float ``[B]`` in [0, 1), one per row (``None`` at temperature 0):
    ``select_action(counts, t, rng)`` equals ``select_action_with_uniforms(counts, t,
    rng.random(B))``, so rows can be chosen in groups with the uniforms of one draw.
    """
    counts, rows = _check_counts(visit_counts)
    _check_temperature(temperature)
    u = None
    if temperature != 0:
        u = np.asarray(uniforms, dtype=np.float64)
        if u.shape != (rows.shape[0],) or not np.all((u >= 0) & (u < 1)):
            raise InvalidArgumentError(
                f"uniforms: expected {rows.shape[0]} numbers in [0, 1), got shape {list(u.shape)}"
            )
    return _select(rows, temperature, u).reshape(counts.shape[:-1])


def _check_counts(visit_counts: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, rows [B, A] float64)``, checked."""
    counts = np.asarray(visit_counts)
    if counts.dtype == np.bool_ or not (
        np.issubdtype(counts.dtype, np.integer) or np.issubdtype(counts.dtype, np.floating)
    ):
        raise InvalidTypeError(
            f"visit_counts: expected an integer or float array, got dtype {counts.dtype}"
        )
    if counts.ndim not in (1, 2) or counts.shape[-1] == 0:
        raise InvalidArgumentError(
            f"visit_counts: expected shape [A] or [B, A] with A >= 1, got {list(counts.shape)}"
        )
    rows = counts.reshape(-1, counts.shape[-1]).astype(np.float64)
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise InvalidArgumentError("visit_counts: expected finite values >= 0")
    if np.any(rows.sum(axis=1) <= 0):
        raise InvalidArgumentError("visit_counts: expected a positive count in every row")
    return counts, rows


def _check_temperature(temperature: float) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, Real):
        raise InvalidTypeError(f"temperature: expected a float, got {type(temperature).__name__}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise InvalidArgumentError(f"temperature: expected a finite number >= 0, got {temperature}")


def _select(rows: np.ndarray, temperature: float, u: np.ndarray | None) -> npt.NDArray[np.int64]:
    """The rows' actions: argmax at temperature 0, else inverse-CDF sampling with ``u``."""
    if temperature == 0 or u is None:
        return np.argmax(rows, axis=1).astype(np.int64)
    # N^(1/T) in log space: exp((ln N - max ln N) / T) cannot overflow for small T.
    with np.errstate(divide="ignore"):
        log_counts = np.log(rows)
    scaled = (log_counts - log_counts.max(axis=1, keepdims=True)) / temperature
    probs = np.exp(scaled)
    probs /= probs.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(probs, axis=1)
    chosen = np.minimum((cumulative <= u[:, None]).sum(axis=1), rows.shape[1] - 1)
    # Never land on a zero count through rounding at the top of the cumsum.
    chosen = np.where(rows[np.arange(rows.shape[0]), chosen] > 0, chosen, np.argmax(rows, 1))
    return chosen.astype(np.int64)
