"""What a run writes as it goes: metrics, TensorBoard, the progress bar, checkpoints.

:class:`RunRecorder` serves the training loop (:class:`mzero.train.Trainer`) in both
modes. It holds the run directory (:class:`mzero.rundir.RunDirectory`) and writes:

* ``metrics.jsonl``: one JSON object per line, flushed; the first line of a resumed
  life says ``"resumed": true``; the same values as TensorBoard scalars under
  ``tensorboard/`` (CleanRL-style tags), and the main ones on the progress bar;
* ``checkpoints/last.pt`` and ``checkpoints/best.pt`` (the best evaluation so far), and
  with ``train.keep_eval_checkpoints`` each evaluated network as ``env_steps_N.pt``
  (weights only, at most ``train.max_eval_checkpoints``, spread over the run).

:meth:`RunRecorder.close` closes the metrics file, the TensorBoard writer and the
progress bar and lets go of the directory, whatever state the run is in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mzero.checkpoint import save_checkpoint
from mzero.config import Config
from mzero.rundir import RunDirectory

__all__ = ["RunRecorder"]

_TRAINING_STATE = ("optimizer", "scheduler", "target_network")
"""What a checkpoint holds only to continue training (not in kept evaluation networks)."""


class RunRecorder:
    """The files, writer and progress bar of one run directory (module docstring)."""

    def __init__(self, run_dir: str | os.PathLike[str], config: Config, progress: bool) -> None:
        self.run_dir = Path(run_dir)
        self.rundir = RunDirectory(self.run_dir)
        self.config = config
        self.progress = progress
        self.log: Any = None
        """``metrics.jsonl``, open for appending while a run runs."""
        self.writer: Any = None
        """The TensorBoard writer, while a run runs."""
        self.bar: Any = None
        """The progress bar (``progress``), while a run runs."""
        self.resumed = False
        """True until the first metrics record of a resumed life is written."""
        self.best_eval: tuple[float, ...] | None = None
        """The key of the best evaluation so far (:meth:`mzero.evaluate.Evaluator.key`)."""

    # -- opening and closing ------------------------------------------------------------------

    def open_writer(self, env_steps: int) -> Any:
        """The TensorBoard writer (after a resume, the scalars past ``env_steps`` that
        a killed life wrote are purged)."""
        from torch.utils.tensorboard import SummaryWriter  # imported late: slow import

        purge_step = env_steps if self.resumed else None
        self.writer = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=purge_step)
        return self.writer

    def open_log(self) -> None:
        """Opens ``metrics.jsonl`` for appending, and the progress bar."""
        self.log = open(self.rundir.metrics, "a", encoding="utf-8")  # noqa: SIM115 (closed by close)
        if self.progress:
            from tqdm import tqdm

            total = self.config.train.max_env_steps
            self.bar = tqdm(total=total, unit="step", desc="env steps", dynamic_ncols=True)

    def close(self) -> None:
        """Closes the metrics file, the writer and the progress bar and releases the
        directory; each is closed even if closing another fails."""
        try:
            if self.log is not None:
                log, self.log = self.log, None
                log.close()
        finally:
            try:
                if self.writer is not None:
                    writer, self.writer = self.writer, None
                    writer.close()
            finally:
                try:
                    if self.bar is not None:
                        bar, self.bar = self.bar, None
                        bar.close()
                finally:
                    self.rundir.release()

    # -- metrics --------------------------------------------------------------------------------

    def write(self, metrics: dict[str, float], env_steps: int) -> None:
        """One line of ``metrics.jsonl`` (flushed) and the TensorBoard scalars; the first
        line of a resumed life says ``"resumed": true``."""
        if self.resumed:
            metrics = {"resumed": True, **metrics}
            self.resumed = False  # only the first record of a life says so
        self.log.write(json.dumps(metrics) + "\n")
        self.log.flush()
        if self.writer is not None:
            for key, value in metrics.items():
                self.writer.add_scalar(_tensorboard_tag(key), value, env_steps)

    def show(self, metrics: dict[str, float], env_steps: int | None = None) -> None:
        """The main metrics on the progress bar; ``env_steps``: advances it."""
        if self.bar is None:
            return
        if metrics:
            self.bar.set_postfix(_postfix(metrics), refresh=False)
        if env_steps is not None:
            self.bar.update(env_steps - self.bar.n)

    def metrics_length(self) -> int:
        """Bytes of ``metrics.jsonl`` written so far, on disk (0 while it is closed)."""
        if self.log is None:
            return 0
        self.log.flush()
        os.fsync(self.log.fileno())
        return self.log.tell()

    # -- checkpoints ----------------------------------------------------------------------------

    def save_last(self, checkpoint: dict[str, Any]) -> None:
        """``checkpoints/last.pt``."""
        save_checkpoint(self.rundir.checkpoints / "last.pt", checkpoint)

    def keep_best(self, key: tuple[float, ...], checkpoint: dict[str, Any], env_steps: int) -> None:
        """Writes ``best.pt`` if ``key`` is the best evaluation so far, and the evaluated
        network as ``env_steps_N.pt`` if ``train.keep_eval_checkpoints``."""
        if self.config.train.keep_eval_checkpoints:
            self.keep_evaluated(checkpoint, env_steps)
        if self.best_eval is None or key >= self.best_eval:
            self.best_eval = key
            save_checkpoint(self.rundir.checkpoints / "best.pt", checkpoint)

    def keep_evaluated(self, checkpoint: dict[str, Any], env_steps: int) -> None:
        """Keeps the evaluated network as ``env_steps_N.pt``, without the optimizer's
        state. Past ``train.max_eval_checkpoints``, the networks whose removal leaves
        the smallest gap in env steps go (never the first or the newest), so that
        those kept stay spread over the run."""
        weights = {k: v for k, v in checkpoint.items() if k not in _TRAINING_STATE}
        save_checkpoint(self.rundir.checkpoints / f"env_steps_{env_steps:09d}.pt", weights)
        kept = self.rundir.kept_checkpoints()
        steps = [int(name.removeprefix("env_steps_").removesuffix(".pt")) for name in kept]
        while len(kept) > self.config.train.max_eval_checkpoints:
            i = min(range(1, len(kept) - 1), key=lambda i: steps[i + 1] - steps[i - 1])
            (self.rundir.checkpoints / kept.pop(i)).unlink(missing_ok=True)
            steps.pop(i)


def _tensorboard_tag(key: str) -> str:
    """CleanRL-style tags: ``losses/...``, ``eval/...``, ``charts/...``."""
    if key.startswith("loss") or key in ("grad_norm", "lr"):
        return f"losses/{key}"
    if key.startswith("eval_"):
        return f"eval/{key[5:]}"
    return f"charts/{key}"


_SHOWN: dict[str, str] = {
    "return_mean": "return",
    "eval_return_mean": "eval",
    "train_steps": "learner",
    "loss": "loss",
    "env_steps_per_s": "env/s",
    "train_steps_per_s": "learner/s",
    "samples_per_insert": "spi",
    "weight_lag": "lag",
    "actor_restarts": "restarts",
}
"""Metrics on the progress bar -> their short labels (the last three in actor mode)."""


def _postfix(metrics: dict[str, float]) -> dict[str, str]:
    return {label: f"{metrics[key]:.4g}" for key, label in _SHOWN.items() if key in metrics}
