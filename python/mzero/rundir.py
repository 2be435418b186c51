"""The run directory: config, metrics log, checkpoints and the snapshots that ``--resume`` reads.

Layout of ``RUN/``:

* ``config.json``: the resolved config (written atomically);
* ``metrics.jsonl``: one JSON object per line;
* ``tensorboard/``: TensorBoard scalars;
* ``checkpoints/last.pt``, ``checkpoints/best.pt``: the network for ``mzero eval``;
  ``checkpoints/env_steps_N.pt``: each evaluated network, with
  ``train.keep_eval_checkpoints``;
* ``evals.jsonl``: the scores of ``mzero eval --opponent`` (:mod:`mzero.evals`);
* ``.lock`` and ``.lock.pid``: the lock a training process holds on the directory for
  its whole life (:meth:`RunDirectory.hold`), and that process's id;
* ``snapshots/NNNNNNNN/``: everything needed to continue the run after a crash:
  ``trainer.pt`` (network, target network, optimizer, scheduler, counters, RNG
  states, the best evaluation, the length of ``metrics.jsonl`` when it was taken)
  and ``replay.bin`` (the replay buffer).

A snapshot is written into a hidden temporary directory, every file flushed to disk,
and then renamed to its number in one step, so that a crash at any moment leaves
either the complete new snapshot or none of it: :meth:`RunDirectory.latest_snapshot`
only ever sees complete ones. Older snapshots are removed once a newer one is in
place.
"""

from __future__ import annotations

import os
import pickle
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout

from mzero.errors import CorruptFileError, InvalidArgumentError, MZeroIOError

__all__ = ["SNAPSHOT_VERSION", "RunDirectory", "read_torch_file"]

SNAPSHOT_VERSION = 1
"""Format version of ``trainer.pt`` in a snapshot."""

_STATE = "trainer.pt"
_REPLAY = "replay.bin"


def read_torch_file(
    path: str | os.PathLike[str], label: str, map_location: torch.device | str = "cpu"
) -> Any:
    """``torch.load(path, weights_only=True)``; a damaged or foreign file raises
    :class:`mzero.CorruptFileError` (``label: cannot read PATH: ...``). A missing file
    raises ``FileNotFoundError`` for the caller to report."""
    try:
        with warnings.catch_warnings():
            # torch.save writes protocol 2; another protocol means a foreign or damaged
            # file, which the except clause reports as such
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, ValueError) as err:
        raise CorruptFileError(f"{label}: cannot read {path}: {err}") from err


def _fsync_dir(path: Path) -> None:
    """Flushes a directory entry (a rename or a new file) to disk, where the OS allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class RunDirectory:
    """Paths and crash-safe snapshots of one run directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.config = self.path / "config.json"
        self.metrics = self.path / "metrics.jsonl"
        self.checkpoints = self.path / "checkpoints"
        self.snapshots = self.path / "snapshots"
        self._lock: FileLock | None = None

    def hold(self) -> None:
        """Holds the directory for this process until :meth:`release` or the process
        ends (an OS file lock on ``.lock``: a killed process leaves nothing that blocks
        the next run). Another process's hold raises
        :class:`~mzero.InvalidArgumentError` naming its process id, before anything
        here changes: two processes on one run would cut each other's metrics and
        delete each other's snapshots."""
        if self._lock is not None:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.path / ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            try:
                holder = f"process {(self.path / '.lock.pid').read_text().strip()}"
            except OSError:
                holder = "another process"
            raise InvalidArgumentError(
                f"run_dir: {self.path} is in use by {holder}; wait for it to end or "
                f"choose another directory"
            ) from None
        (self.path / ".lock.pid").write_text(f"{os.getpid()}\n", encoding="utf-8")
        self._lock = lock  # the hold lasts as long as this reference

    def release(self) -> None:
        """Ends :meth:`hold` (if held)."""
        if self._lock is not None:
            self._lock.release(force=True)
            self._lock = None

    def holds_run(self) -> bool:
        """Whether a run has written here (a config, metrics, checkpoints or snapshots)."""
        return any(
            p.exists() for p in (self.config, self.metrics, self.checkpoints, self.snapshots)
        )

    def latest_snapshot(self) -> Path | None:
        """The newest complete snapshot directory, or None."""
        if not self.snapshots.is_dir():
            return None
        numbered = [p for p in self.snapshots.iterdir() if p.is_dir() and p.name.isdigit()]
        return max(numbered, key=lambda p: int(p.name), default=None)

    def write_snapshot(self, state: dict[str, Any], replay: Any) -> Path:
        """Writes ``state`` (torch-saveable) and ``replay`` as the next snapshot; returns it."""
        latest = self.latest_snapshot()
        number = int(latest.name) + 1 if latest is not None else 0
        final = self.snapshots / f"{number:08d}"
        tmp = self.snapshots / f".{number:08d}.{os.getpid()}.tmp"
        try:
            self.snapshots.mkdir(parents=True, exist_ok=True)
            for stale in self.snapshots.glob(".*.tmp"):  # left by a crash mid-snapshot
                shutil.rmtree(stale, ignore_errors=True)
            tmp.mkdir()
            replay.save(tmp / _REPLAY)
            with open(tmp / _STATE, "wb") as f:
                torch.save({"version": SNAPSHOT_VERSION, **state}, f)
                f.flush()
                os.fsync(f.fileno())
            _fsync_dir(tmp)
            os.replace(tmp, final)
            _fsync_dir(self.snapshots)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise MZeroIOError(f"snapshot: cannot write {final}: {err}") from err
        for old in self.snapshots.iterdir():
            if old.is_dir() and old.name.isdigit() and int(old.name) < number:
                shutil.rmtree(old, ignore_errors=True)
        return final

    def read_snapshot(self, path: Path) -> tuple[dict[str, Any], Any]:
        """``(state, replay buffer)`` of the snapshot at ``path``.

        A damaged or foreign file raises :class:`mzero.CorruptFileError` naming it.
        """
        from mzero.replay import ReplayBuffer

        state_path = path / _STATE
        try:
            state = read_torch_file(state_path, "snapshot")
        except FileNotFoundError as err:
            raise CorruptFileError(f"snapshot: {state_path} is missing") from err
        if not isinstance(state, dict) or state.get("version") != SNAPSHOT_VERSION:
            raise CorruptFileError(
                f"snapshot: {state_path} is not an mzero snapshot of version {SNAPSHOT_VERSION}"
            )
        replay = ReplayBuffer.load(path / _REPLAY)
        return state, replay

    def truncate_metrics(self, length: int) -> None:
        """Cuts ``metrics.jsonl`` back to its first ``length`` bytes (lines a killed life
        wrote after its last snapshot), so that the log reads as one run."""
        if not self.metrics.exists():
            return
        try:
            with open(self.metrics, "r+b") as f:
                f.truncate(min(length, f.seek(0, os.SEEK_END)))
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise MZeroIOError(f"metrics: cannot truncate {self.metrics}: {err}") from err
