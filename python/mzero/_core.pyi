"""Type stubs of the Rust extension ``mzero._core``."""

import os
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

# --- replay (python/mzero/replay.py is the documented API) -------------------

class ReplayBuffer:
    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        num_actions: int,
        unroll_steps: int,
        td_steps: int,
        discount: float,
        two_player: bool,
        alpha: float,
        beta: float,
        stack: int,
        obs_dtype: str | None,
    ) -> None: ...
    def add_game(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        root_values: np.ndarray,
        policies: np.ndarray,
        terminated: bool,
        bootstrap_value: float,
        priorities: np.ndarray | None,
        legal_masks: np.ndarray | None = None,
        segment: tuple[int, int] | None = None,
    ) -> int: ...
    def sample(
        self,
        batch_size: int,
        seed: int,
        next_observations: bool | None = None,
        reanalysis: bool | None = None,
    ) -> dict[str, np.ndarray]: ...
    def update_priorities(self, index: np.ndarray, priorities: np.ndarray) -> None: ...
    def update_values(
        self, game_id: np.ndarray, position: np.ndarray, values: np.ndarray
    ) -> None: ...
    def update_policies(
        self, game_id: np.ndarray, position: np.ndarray, policies: np.ndarray
    ) -> None: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    def _panic_while_writing(self) -> None: ...
    @staticmethod
    def load(path: str | os.PathLike[str]) -> ReplayBuffer: ...
    def __len__(self) -> int: ...
    @property
    def positions(self) -> int: ...
    def priorities(self) -> tuple[np.ndarray, np.ndarray]: ...
    def config(self) -> dict[str, Any]: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def num_games(self) -> int: ...
    @property
    def max_priority(self) -> float: ...
    @property
    def obs_dtype(self) -> str | None: ...

# --- search (python/mzero/search.py wraps these) ---

def check_search_config(config: Any) -> None:
    """Validates the fields of an mzero.SearchConfig; raises naming the first bad field."""

def search(
    root_value: npt.NDArray[np.float32],
    root_logits: npt.NDArray[np.float32],
    recurrent_fn: Any,
    config: Any,
    legal_mask: npt.NDArray[np.bool_] | None = None,
    seed: int | None = None,
    first_game: int | None = None,
) -> tuple[
    npt.NDArray[np.int32],
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    npt.NDArray[np.int64],
]:
    """Runs the batched search; returns (visit_counts, policy, root_value, q_values, action)."""

def stochastic_search(
    root_value: npt.NDArray[np.float32],
    root_logits: npt.NDArray[np.float32],
    afterstate_fn: Any,
    dynamics_fn: Any,
    num_chance_outcomes: int,
    config: Any,
    legal_mask: npt.NDArray[np.bool_] | None = None,
    seed: int | None = None,
    first_game: int | None = None,
) -> tuple[
    npt.NDArray[np.int32],
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    npt.NDArray[np.int64],
]:
    """Runs the batched Stochastic MuZero search; returns (visit_counts, policy,
    root_value, q_values, action)."""
