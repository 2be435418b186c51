"""Type stubs of the Rust extension ``mzero._core``."""

__version__: str

# --- search (python/mzero/search.py wraps these) ---
from typing import Any

import numpy as np
import numpy.typing as npt

def check_search_config(config: Any) -> None:
    """Validates the fields of an mzero.SearchConfig; raises naming the first bad field."""

def search(
    root_value: npt.NDArray[np.float32],
    root_logits: npt.NDArray[np.float32],
    recurrent_fn: Any,
    config: Any,
    legal_mask: npt.NDArray[np.bool_] | None = None,
    seed: int | None = None,
) -> tuple[
    npt.NDArray[np.int32],
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    npt.NDArray[np.int64],
]:
    """Runs the batched search; returns (visit_counts, policy, root_value, q_values, action)."""
