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
  states, the best evaluation, the kept checkpoints, the length of ``metrics.jsonl``
  when it was taken), ``replay.bin`` (the replay buffer) and ``best.pt`` (a hard link
  to, or copy of, ``checkpoints/best.pt`` as it was then, if there was one).

A snapshot is written into a hidden temporary directory, every file flushed to disk,
and then renamed to its number in one step, so that a crash at any moment leaves
either the complete new snapshot or none of it: :meth:`RunDirectory.snapshots_newest_first`
only ever sees complete ones. The two newest are kept, so that a resume can fall
back to the older when the newer one is damaged.

On resume (:meth:`RunDirectory.rewind`), the files written after the snapshot are
brought back in step with it: ``best.pt`` is the snapshot's, kept checkpoints it does
not list are removed, and lines of ``evals.jsonl`` about networks of later
environment steps are dropped, as are the lines of ``metrics.jsonl`` after its length.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout

from mzero.checkpoint import atomic_write, fsync_directory, read_torch_file
from mzero.errors import CorruptFileError, InvalidArgumentError, MZeroIOError

__all__ = ["SNAPSHOT_VERSION", "RunDirectory"]

SNAPSHOT_VERSION = 1
"""Format version of ``trainer.pt`` in a snapshot."""

_STATE = "trainer.pt"
_REPLAY = "replay.bin"
_BEST = "best.pt"
_KEPT_SNAPSHOTS = 2
"""Snapshots kept: the newest, and the one before it to fall back to."""


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

    def snapshots_newest_first(self) -> list[Path]:
        """The complete snapshot directories, newest first."""
        if not self.snapshots.is_dir():
            return []
        numbered = [p for p in self.snapshots.iterdir() if p.is_dir() and p.name.isdigit()]
        return sorted(numbered, key=lambda p: int(p.name), reverse=True)

    def latest_snapshot(self) -> Path | None:
        """The newest complete snapshot directory, or None."""
        return next(iter(self.snapshots_newest_first()), None)

    def kept_checkpoints(self) -> list[str]:
        """The names of the networks kept at evaluations (``env_steps_N.pt``), sorted."""
        if not self.checkpoints.is_dir():
            return []
        return sorted(p.name for p in self.checkpoints.glob("env_steps_*.pt"))

    def remove_temporary_files(self) -> None:
        """Removes what interrupted atomic writes left behind (``.NAME.*.tmp``): call it
        while holding the directory, so that no other process is writing them."""
        for directory in (self.path, self.checkpoints, self.snapshots):
            if directory.is_dir():
                for stale in directory.glob(".*.tmp"):
                    if stale.is_dir():
                        shutil.rmtree(stale, ignore_errors=True)
                    else:
                        stale.unlink(missing_ok=True)

    def write_snapshot(self, state: dict[str, Any], replay: Any) -> Path:
        """Writes ``state`` (torch-saveable), ``replay`` and the current ``best.pt`` as
        the next snapshot; returns it."""
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
            best = self.checkpoints / _BEST
            if best.exists():
                # best.pt is only ever replaced by a rename: the link keeps this version
                _link_or_copy(best, tmp / _BEST)
            with open(tmp / _STATE, "wb") as f:
                torch.save({"version": SNAPSHOT_VERSION, **state}, f)
                f.flush()
                os.fsync(f.fileno())
            fsync_directory(tmp)
            os.replace(tmp, final)
            fsync_directory(self.snapshots)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise MZeroIOError(f"snapshot: cannot write {final}: {err}") from err
        for old in self.snapshots_newest_first()[_KEPT_SNAPSHOTS:]:
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
        wrote after its last snapshot), and further back to the end of its last
        complete line, so that the log reads as one run."""
        if not self.metrics.exists():
            return
        try:
            with open(self.metrics, "r+b") as f:
                f.seek(0)
                kept = f.read(length)
                f.truncate(kept.rfind(b"\n") + 1)
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise MZeroIOError(f"metrics: cannot truncate {self.metrics}: {err}") from err

    def rewind(
        self,
        snapshot: Path,
        metrics_length: int,
        kept_checkpoints: list[str] | None,
        env_steps: int,
    ) -> None:
        """Brings the files a killed life wrote after ``snapshot`` back in step with it
        (module docstring): ``metrics.jsonl`` back to ``metrics_length`` bytes,
        ``best.pt`` the snapshot's, the kept checkpoints those of ``kept_checkpoints``,
        ``evals.jsonl`` without networks past ``env_steps``. ``kept_checkpoints`` None
        (a snapshot that did not list them): every kept checkpoint stays."""
        self.truncate_metrics(metrics_length)
        best, saved_best = self.checkpoints / _BEST, snapshot / _BEST
        try:
            if saved_best.exists():
                # (a rename between two links of one file does nothing: skip it)
                if not (best.exists() and best.samefile(saved_best)):
                    self.checkpoints.mkdir(parents=True, exist_ok=True)
                    tmp = self.checkpoints / f".{_BEST}.{os.getpid()}.tmp"
                    _link_or_copy(saved_best, tmp)
                    os.replace(tmp, best)
            else:
                best.unlink(missing_ok=True)
            if kept_checkpoints is not None:
                for name in set(self.kept_checkpoints()) - set(kept_checkpoints):
                    (self.checkpoints / name).unlink()
        except OSError as err:
            raise MZeroIOError(f"resume: cannot restore {self.checkpoints}: {err}") from err
        self._drop_later_evals(env_steps)

    def _drop_later_evals(self, env_steps: int) -> None:
        """Drops the lines of ``evals.jsonl`` about networks past ``env_steps``."""
        from mzero.evals import EVALS_FILE, read_evals

        path = self.path / EVALS_FILE
        entries = read_evals(self.path)
        kept = [e for e in entries if e.get("env_steps", 0) <= env_steps]
        if len(kept) == len(entries):
            return
        logging.getLogger("mzero").info(
            "resume: %d lines of %s were about networks after the snapshot; dropped",
            len(entries) - len(kept),
            path,
        )
        lines = "".join(json.dumps(e) + "\n" for e in kept)
        try:
            atomic_write(path, lambda f: f.write(lines), mode="w")
        except OSError as err:
            raise MZeroIOError(f"resume: cannot rewrite {path}: {err}") from err


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link ``target`` to ``source``, or a copy where links are not possible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
