"""Where self-play's time goes: env steps/s, simulations/s and the share of each kind of work.

Self-play's game groups run on several threads at once, so two kinds of figure are kept:

* thread-seconds per kind of work (network inference, tree work in Rust, environment
  stepping with the game records): summed over the groups, so with k groups in flight
  their shares of wall time can add up to more than 1;
* the network's busy time: the wall time during which at least one group is inside a
  network call (:class:`BusyClock`, the union of the calls), so "the network is busy
  90% of the time" means what it says.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, fields

__all__ = ["BusyClock", "Throughput"]


class BusyClock:
    """The wall time during which at least one of several threads is busy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._since = 0.0
        self._busy = 0.0

    def start(self) -> float:
        """A call starts; returns its start time (for :meth:`stop`)."""
        now = time.perf_counter()
        with self._lock:
            if self._active == 0:
                self._since = now
            self._active += 1
        return now

    def stop(self, start: float) -> float:
        """The call begun at ``start`` ends; returns its duration in seconds."""
        now = time.perf_counter()
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self._busy += now - self._since
        return now - start

    def take(self) -> float:
        """Busy seconds since the last ``take`` (calls in progress count up to now)."""
        now = time.perf_counter()
        with self._lock:
            busy = self._busy
            if self._active > 0:
                busy += now - self._since
                self._since = now
            self._busy = 0.0
        return busy


@dataclass
class Throughput:
    """Self-play counters since the last :meth:`take` (thread-safe)."""

    wall_s: float = 0.0
    """Wall seconds inside ``SelfPlay.step``."""
    env_steps: int = 0
    simulations: int = 0
    network_busy_s: float = 0.0
    """Wall seconds with at least one network call running."""
    inference_s: float = 0.0
    """Thread-seconds in network calls (root and recurrent inference)."""
    tree_s: float = 0.0
    """Thread-seconds in the search outside the network calls (Rust tree work)."""
    env_s: float = 0.0
    """Thread-seconds stepping environments and recording the moves."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        """Adds to the named counters."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def add_group(self, inference_s: float, tree_s: float, env_s: float) -> None:
        """One group's move: seconds in the network, in the tree, in the environments."""
        self.add(inference_s=inference_s, tree_s=tree_s, env_s=env_s)

    def take(self) -> Throughput:
        """A copy of the counters; they start again from zero."""
        with self._lock:
            names = [f.name for f in fields(self) if not f.name.startswith("_")]
            copy = Throughput(**{name: getattr(self, name) for name in names})
            for name in names:
                setattr(self, name, type(getattr(self, name))())
        return copy

    def rates(self, wall_s: float | None = None) -> dict[str, float]:
        """Per-second rates and shares of ``wall_s`` (default: self-play's own wall time).

        ``env_steps_per_s``, ``simulations_per_s``, ``network_busy`` (fraction of the
        wall time with a network call running), ``inference_share``, ``tree_share``
        and ``env_share`` (thread-seconds per wall second).
        """
        wall = self.wall_s if wall_s is None else wall_s
        if wall <= 0:
            return {}
        return {
            "env_steps_per_s": self.env_steps / wall,
            "simulations_per_s": self.simulations / wall,
            "network_busy": self.network_busy_s / wall,
            "inference_share": self.inference_s / wall,
            "tree_share": self.tree_s / wall,
            "env_share": self.env_s / wall,
        }
