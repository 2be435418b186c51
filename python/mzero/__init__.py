"""mzero: MuZero for Python with a Rust engine.

Batched Monte Carlo Tree Search and the replay buffer run in Rust
(``mzero._core``); networks, self-play, the learner and the command line are
Python. See https://arxiv.org/abs/1911.08265 (MuZero) and
https://openreview.net/forum?id=bERaNdoegnO (Gumbel MuZero).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from mzero.config import Config
from mzero.errors import (
    CorruptFileError,
    InvalidArgumentError,
    InvalidTypeError,
    MZeroError,
    MZeroIOError,
)
from mzero.replay import ReplayBuffer, SampleBatch
from mzero.search import SearchConfig, SearchOutput, search, select_action, stochastic_search

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mzero.agent import Agent


def __getattr__(name: str) -> object:
    # torch-dependent names load on first use, so `import mzero` stays light
    if name == "Agent":
        from mzero.agent import Agent

        return Agent
    raise AttributeError(f"module 'mzero' has no attribute {name!r}")


try:
    __version__ = version("mzero")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "Agent",
    "Config",
    "CorruptFileError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "MZeroError",
    "MZeroIOError",
    "ReplayBuffer",
    "SampleBatch",
    "SearchConfig",
    "SearchOutput",
    "__version__",
    "search",
    "select_action",
    "stochastic_search",
]
