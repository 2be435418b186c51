"""Type stubs of the Rust extension ``mzero._core``."""

__version__: str

# --- replay (python/mzero/replay.py is the documented API) -------------------

import os
from typing import Any

import numpy as np

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
    ) -> int: ...
    def sample(self, batch_size: int, seed: int) -> dict[str, np.ndarray]: ...
    def update_priorities(self, index: np.ndarray, priorities: np.ndarray) -> None: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    @staticmethod
    def load(path: str | os.PathLike[str]) -> ReplayBuffer: ...
    def __len__(self) -> int: ...
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
