"""The replay buffer: whole games in, unrolled MuZero training batches out.

Storage, target computation, prioritized sampling and persistence run in Rust
(``mzero._core.ReplayBuffer``); this module gives them the contract's Python
signature and wraps a sampled batch in :class:`SampleBatch`.

Targets (MuZero, Schrittwieser et al. 2020, appendix G), with ``g = discount``
(``-discount`` when ``two_player``: values are from the view of the player to
move), ``n = td_steps`` and ``K = unroll_steps``, for a position ``t`` of a game
of length ``T``::

    z_t = sum_{i<m} g^i u_{t+i+1} + g^m v_{t+m},   m = min(n, T - t)
          v_{t+m} = root_values[t+m] if t+m < T; at the end (t+m = T) it is
          bootstrap_value (the value of o_T, T - t steps ahead) if the game was
          truncated, else 0
    target_value[k]  = z_{t+k}             if t+k < T  else 0     (k = 0..K)
    target_reward[k] = u_{t+k}             if 1 <= k and t+k <= T else 0
    target_policy[k] = policies[t+k]       if t+k < T  else 0
    mask[k]          = 1                   if t+k < T  else 0
    terminated       = the game ended in a terminal state (per row)
    actions[k]       = a_{t+k}             if t+k < T  else uniform in [0, A)  (k < K)
    observation      = o_{t-stack+1} .. o_t, frames before o_0 repeat o_0
    observation_actions = the action that led to each of those frames: a_{q-1} for
                       o_q, -1 for o_0 (MuZero's action planes beside the frames)

The targets are computed when a batch is sampled, from the stored root values,
which a reanalysis may have refreshed (:meth:`ReplayBuffer.update_values`,
:meth:`ReplayBuffer.update_policies`). Past the end of a terminated game the
states are absorbing (value and reward 0 are real targets); past the end of a
truncated game nothing is known, and ``terminated`` lets the loss tell the two apart.

Prioritized sampling (Schaul et al. 2016): positions are drawn independently,
with probability ``P(i) = p_i^alpha / sum_j p_j^alpha`` (uniform when
``alpha = 0``), and weighted by ``w_i = (N P(i))^-beta / max_j w_j`` over the
batch, with ``N`` the positions that may be sampled (:attr:`ReplayBuffer.positions`).

Segments (``add_game(..., segment=(start, stop))``): a piece of a longer game is
stored with the frames before it that its stacks need and the ``td_steps + K``
moves after it that its targets reach; only positions ``start .. stop-1`` are
sampled, so every target is the one the whole game gives (EfficientZero's game
segments; ``train.segment_length``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from mzero import _core
from mzero.errors import InvalidTypeError

__all__ = ["ReplayBuffer", "SampleBatch"]


@dataclass(frozen=True)
class SampleBatch:
    """One sampled batch: fresh, C-contiguous numpy arrays ready for ``torch.from_numpy``.

    ``B`` is the batch size, ``K`` the buffer's ``unroll_steps``, ``A`` its
    ``num_actions``.
    """

    observation: np.ndarray
    """``[B, stack, *obs_shape]``, the buffer's dtype: frames ``o_{t-stack+1} .. o_t``."""
    observation_actions: np.ndarray
    """int64 ``[B, stack]``: the action that led to each frame of ``observation``,
    ``a_{q-1}`` for ``o_q`` and -1 for ``o_0`` and the copies of it before the start."""
    actions: np.ndarray
    """int64 ``[B, K]``: ``a_t .. a_{t+K-1}``, uniformly random past the end of the game."""
    target_value: np.ndarray
    """float32 ``[B, K+1]``: n-step values ``z_{t+k}``, 0 past the end."""
    target_reward: np.ndarray
    """float32 ``[B, K+1]``: 0, then ``u_{t+k}`` (0 past the end)."""
    target_policy: np.ndarray
    """float32 ``[B, K+1, A]``: search policies ``pi_{t+k}``, 0 past the end."""
    mask: np.ndarray
    """float32 ``[B, K+1]``: 1 where ``t+k < T``, else 0."""
    terminated: np.ndarray
    """bool ``[B]``: the row's game ended in a terminal state, so the states past its end
    are absorbing (value and reward 0); False for a truncated game (a time limit), past
    whose end nothing is known and nothing should be trained."""
    weight: np.ndarray
    """float32 ``[B]``: importance weights, at most 1; all 1 when ``alpha = 0``."""
    game_id: np.ndarray
    """int64 ``[B]``: the id ``add_game`` returned for each row's game."""
    position: np.ndarray
    """int64 ``[B]``: the position ``t`` within the stored game (a segment counts from its
    first stored position)."""
    index: np.ndarray
    """int64 ``[B]``: the global transition id, for :meth:`ReplayBuffer.update_priorities`."""
    next_observation: np.ndarray | None = None
    """With ``sample(..., next_observations=True)``: ``[B, K, stack, *obs_shape]``, row
    ``k - 1`` the stack ending at ``o_{t+k}`` (``o_T``, the game's last observation,
    past the end); the targets of a latent consistency loss. Otherwise ``None``.
    ``sample(..., reanalysis=True)`` always adds it: the stacks at ``t+k`` a re-search
    starts from are ``observation`` (``k = 0``) and ``next_observation`` (``k >= 1``)."""
    next_observation_actions: np.ndarray | None = None
    """With ``next_observation``: int64 ``[B, K, stack]``, the actions that led to its
    frames (as ``observation_actions``)."""
    bootstrap_observation: np.ndarray | None = None
    """With ``reanalysis=True``: ``[B, K+1, stack, *obs_shape]``, row ``(b, k)`` the stack
    ending at ``o_{t+k+m}``, ``m = min(n, T-t-k)``: the observation whose value
    bootstraps ``z_{t+k}`` (``o_T`` where none does)."""
    bootstrap_observation_actions: np.ndarray | None = None
    """With ``reanalysis=True``: int64 ``[B, K+1, stack]``, the actions that led to the
    frames of ``bootstrap_observation``."""
    bootstrap_position: np.ndarray | None = None
    """With ``reanalysis=True``: int64 ``[B, K+1]``: ``t+k+m`` (``T``: a truncated game's
    ``bootstrap_value``), or -1 where no value bootstraps (the game terminated within
    the horizon, or ``t+k >= T``). Write fresh values back at these positions."""
    reward_sum: np.ndarray | None = None
    """With ``reanalysis=True``: float32 ``[B, K+1]``: ``sum_{i<m} g^i u_{t+k+i+1}``."""
    bootstrap_discount: np.ndarray | None = None
    """With ``reanalysis=True``: float32 ``[B, K+1]``: ``g^m`` where a value bootstraps,
    else 0. For the stored values, ``target_value = reward_sum + bootstrap_discount * v``
    (float32 rounding aside): a reanalysis puts fresh values in place of ``v``."""
    legal_mask: np.ndarray | None = None
    """With ``reanalysis=True``: bool ``[B, K+1, A]``: the legal actions at ``t+k`` (as
    given to ``add_game``; every action past the end)."""


def _dtype_name(obs_dtype: Any) -> str | None:
    if obs_dtype is None:
        return None
    try:
        name = np.dtype(obs_dtype).name
    except TypeError as err:
        raise InvalidTypeError(
            f"obs_dtype: expected None, float32 or uint8, got {obs_dtype!r}"
        ) from err
    if name not in ("float32", "uint8"):
        raise InvalidTypeError(f"obs_dtype: expected None, float32 or uint8, got {name}")
    return name


def _as_array(name: str, values: Any, kinds: str, dtype: type, expected: str) -> np.ndarray:
    """`values` as a numpy array of `dtype`, if its dtype is of one of `kinds` (numpy kind codes).

    Priorities and indices have no fixed dtype in the contract: any real (or
    integer) array is accepted and cast; values that overflow become inf and are
    refused by the buffer.
    """
    array = np.asarray(values)
    if array.dtype.kind not in kinds and array.size > 0:
        raise InvalidTypeError(f"{name}: expected {expected}, got dtype {array.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        return array.astype(dtype, copy=False)


class ReplayBuffer:
    """A MuZero replay buffer of whole games, with prioritized unrolled sampling.

    Args:
        capacity: transitions kept. When a game does not fit, the oldest whole
            games leave first (FIFO). A game longer than ``capacity`` is refused.
        obs_shape: the shape of one observation ``o_t``.
        num_actions: ``A``.
        unroll_steps: ``K``, the dynamics unroll length of a sample.
        td_steps: ``n``, the bootstrap horizon of the value target.
        discount: in ``[0, 1]``.
        two_player: players alternate; the effective discount is ``-discount``.
        alpha: priority exponent; 0 samples positions uniformly.
        beta: importance-sampling exponent of the weights.
        stack: frames per sampled observation.
        obs_dtype: ``float32`` or ``uint8`` (e.g. image frames), kept as given.
            ``None`` (the default): the first game fixes it. A later game of
            another dtype raises :class:`~mzero.InvalidTypeError` naming
            ``observations``.

    Transitions get global ids (``index``) 0, 1, 2, ... in order of arrival,
    never reused: game ``g`` of length ``T`` holds ids ``first .. first+T-1``.
    Games get ids 0, 1, 2, ... from :meth:`add_game`.

    Thread safety: ``add_game``, ``sample``, ``update_priorities`` and ``save``
    may be called from several threads at once; the GIL is released while the
    buffer works (sampling, adding, saving), and concurrent samples run in
    parallel.

    Errors: bad values or shapes raise :class:`~mzero.InvalidArgumentError`, a
    wrong dtype or type :class:`~mzero.InvalidTypeError` (both are
    ``ValueError``), each naming the argument; the buffer is then unchanged.
    """

    __slots__ = ("_core",)

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...] | int,
        num_actions: int,
        unroll_steps: int = 5,
        td_steps: int = 10,
        discount: float = 0.997,
        two_player: bool = False,
        alpha: float = 0.0,
        beta: float = 1.0,
        stack: int = 1,
        *,
        obs_dtype: Any = None,
    ) -> None:
        if isinstance(obs_shape, (int, np.integer)):
            obs_shape = (int(obs_shape),)
        self._core = _core.ReplayBuffer(
            capacity,
            obs_shape,
            num_actions,
            unroll_steps,
            td_steps,
            discount,
            two_player,
            alpha,
            beta,
            stack,
            _dtype_name(obs_dtype),
        )

    def add_game(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        root_values: np.ndarray,
        policies: np.ndarray,
        terminated: bool = True,
        bootstrap_value: float = 0.0,
        priorities: np.ndarray | None = None,
        legal_masks: np.ndarray | None = None,
        segment: tuple[int, int] | None = None,
    ) -> int:
        """Stores one game and returns its id (0, 1, 2, ... in order of arrival).

        Args:
            observations: float32 or uint8 ``[T+1, *obs_shape]``: ``o_0 .. o_T``.
            actions: int64 ``[T]``: ``a_0 .. a_{T-1}``, each in ``[0, A)``.
            rewards: float32 ``[T]``: ``u_1 .. u_T`` (``u_{t+1}`` follows ``a_t``).
            root_values: float32 ``[T]``: the search value at each position.
            policies: float32 ``[T, A]``: the search policy at each position;
                non-negative rows summing to 1 within 1e-3.
            terminated: the game reached a terminal state; else it was truncated
                and ``bootstrap_value`` (the value of ``o_T``) bootstraps past ``T``.
            bootstrap_value: see ``terminated``.
            priorities: ``[T]`` real numbers (cast to float32), finite and > 0;
                ``None`` gives every transition the largest priority stored once
                the oldest games made room (1 when empty), as EfficientZero does.
            legal_masks: bool ``[T, A]``: the legal actions at each position, each row
                with at least one; a reanalysis searches only these. ``None``: every
                action is always legal.
            segment: ``(start, stop)``, ``0 <= start < stop <= T``: only positions
                ``start .. stop-1`` are sampled; the others are stored for their
                targets (a segment of a longer game with the frames before it and the
                ``td_steps + K`` steps after it, as EfficientZero's game segments
                carry them). ``None``: every position is sampled.

        ``T >= 1`` and ``T <= capacity``. Every value is checked (finite, in
        range, shapes consistent) before anything is stored.
        """
        if priorities is not None:
            priorities = _as_array("priorities", priorities, "fiub", np.float32, "real numbers")
        return self._core.add_game(
            observations,
            actions,
            rewards,
            root_values,
            policies,
            terminated,
            bootstrap_value,
            priorities,
            legal_masks,
            segment,
        )

    def sample(
        self,
        batch_size: int,
        seed: int,
        next_observations: bool = False,
        reanalysis: bool = False,
    ) -> SampleBatch:
        """Samples ``batch_size`` positions (with replacement) and their unrolled targets.

        The same buffer state and ``seed`` (an int in ``[0, 2**64)``) give the
        same batch. ``next_observations=True`` adds
        :attr:`SampleBatch.next_observation` to the same rows and targets;
        ``reanalysis=True`` adds it and what a reanalysis needs
        (``bootstrap_observation``, ``bootstrap_position``, ``reward_sum``,
        ``bootstrap_discount``, ``legal_mask``). Raises
        :class:`~mzero.InvalidArgumentError` on an empty buffer.
        """
        return SampleBatch(**self._core.sample(batch_size, seed, next_observations, reanalysis))

    def update_values(self, game_id: np.ndarray, position: np.ndarray, values: np.ndarray) -> None:
        """Writes reanalysed values back: ``v`` of game ``game_id[i]`` at ``position[i]``.

        Later samples bootstrap their n-step targets from these values. Position ``T``
        of a truncated game sets its ``bootstrap_value`` (a terminated game has none).
        Args are ``[N]`` integers (cast to int64), integers and real numbers (cast to
        float32, finite). Rows of evicted games are skipped; a repeated row takes its
        last value; an id never issued or a position outside the game raises, and the
        buffer is then unchanged.
        """
        self._core.update_values(
            _as_array("game_id", game_id, "iu", np.int64, "integers"),
            _as_array("position", position, "iu", np.int64, "integers"),
            _as_array("values", values, "fiub", np.float32, "real numbers"),
        )

    def update_policies(
        self, game_id: np.ndarray, position: np.ndarray, policies: np.ndarray
    ) -> None:
        """Writes reanalysed policy targets back: ``pi`` of game ``game_id[i]`` at ``position[i]``.

        ``policies`` is ``[N, A]`` (cast to float32), rows non-negative and summing to 1;
        positions are in ``[0, T)``. Rows of evicted games are skipped; bad input raises
        and leaves the buffer unchanged.
        """
        self._core.update_policies(
            _as_array("game_id", game_id, "iu", np.int64, "integers"),
            _as_array("position", position, "iu", np.int64, "integers"),
            _as_array("policies", policies, "fiub", np.float32, "real numbers"),
        )

    def update_priorities(self, index: np.ndarray, priorities: np.ndarray) -> None:
        """Sets the priority of transition ``index[i]`` to ``priorities[i]``.

        Args:
            index: integers ``[N]`` (cast to int64), ids from
                :attr:`SampleBatch.index` (any id issued so far is accepted; one
                never issued raises).
            priorities: real numbers ``[N]`` (cast to float32), finite and > 0.

        Ids of transitions evicted since they were sampled are skipped; a
        repeated id takes its last priority. New games default to the largest
        stored priority (:attr:`max_priority`), which falls when the errors do.
        """
        self._core.update_priorities(
            _as_array("index", index, "iu", np.int64, "integers"),
            _as_array("priorities", priorities, "fiub", np.float32, "real numbers"),
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes a snapshot to ``path``, replacing any file there atomically.

        The snapshot (versioned binary format, CRC-32 checksum) is written to a
        temporary file beside ``path``, flushed to disk and renamed into place:
        a crash mid-save leaves the previous file intact (and may leave a
        ``.<name>.<pid>.<n>.tmp`` file behind, which is never read).
        """
        self._core.save(os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReplayBuffer:
        """Reads a snapshot written by :meth:`save`.

        Raises :class:`~mzero.CorruptFileError` if the file is truncated,
        corrupt or of another format version (never returns partial data), and
        :class:`~mzero.MZeroIOError` if it cannot be read.
        """
        buffer = cls.__new__(cls)
        buffer._core = _core.ReplayBuffer.load(os.fspath(path))
        return buffer

    def __len__(self) -> int:
        """Transitions stored (capacity counts these)."""
        return len(self._core)

    @property
    def positions(self) -> int:
        """Positions that may be sampled: ``len(self)`` less the positions stored
        around segments (``add_game``'s ``segment``)."""
        return self._core.positions

    @property
    def nbytes(self) -> int:
        """Bytes of memory held by the buffer; bounded by a multiple of ``capacity``."""
        return self._core.nbytes

    @property
    def num_games(self) -> int:
        """Games stored."""
        return self._core.num_games

    @property
    def max_priority(self) -> float:
        """The largest stored priority (1 when empty): new games' default."""
        return self._core.max_priority

    @property
    def obs_dtype(self) -> np.dtype | None:
        """The observation dtype, ``None`` until fixed by the first game."""
        name = self._core.obs_dtype
        return None if name is None else np.dtype(name)

    def priorities(self) -> tuple[np.ndarray, np.ndarray]:
        """``(index int64 [N], priority float32 [N])`` of the stored transitions, oldest first."""
        return self._core.priorities()

    def config(self) -> dict[str, Any]:
        """The constructor's arguments (without ``obs_dtype``; see :attr:`obs_dtype`)."""
        return self._core.config()

    def __repr__(self) -> str:
        c = self.config()
        return (
            f"ReplayBuffer(len={len(self)}/{c['capacity']}, games={self.num_games}, "
            f"obs_shape={c['obs_shape']}, obs_dtype={self._core.obs_dtype}, "
            f"num_actions={c['num_actions']}, nbytes={self.nbytes})"
        )
