"""The in-process run: self-play, the learner and evaluation taking turns, with a run directory.

:class:`Trainer` composes the parts of a run: :class:`mzero.selfplay.SelfPlay` (the
game groups), :class:`mzero.learner.Learner` (networks, optimizer, train step),
evaluation, and :class:`mzero.rundir.RunDirectory` (metrics, checkpoints, snapshots).
One loop (MuZero, Schrittwieser et al. 2020, appendix G, run synchronously):

1. :class:`mzero.selfplay.SelfPlay` plays one move in each of the B environments
   (one batched search) and puts finished games into the Rust replay buffer;
2. once ``train.min_replay`` transitions are stored, the learner takes steps until
   ``learner steps = train_ratio * (environment steps - E_0)``, with ``E_0`` the
   environment steps when ``min_replay`` was reached (so learning ramps in instead
   of taking hundreds of catch-up steps on the first games): sample a
   batch (prioritised when ``replay.alpha > 0``), refresh its targets with the
   target network when ``reanalyze`` is on (:mod:`mzero.reanalyze`, written back to
   the buffer), unroll K steps, minimise
   :func:`mzero.networks.muzero_loss` with AdamW, a learning-rate schedule and
   gradient clipping, and write the new priorities ``|v^0 - z_t|`` back;
3. every ``train.eval_interval`` environment steps, a greedy evaluation (search
   without noise, :class:`mzero.evaluate.Evaluator`): mean return over
   ``train.eval_episodes`` episodes, or for two-player games the scores against the
   game's opponents (``train.eval_opponents``: TicTacToe's minimax and random,
   Connect Four's uct:100 and random).

The run directory holds ``config.json`` (the resolved config), ``metrics.jsonl``
(one JSON object per line: ``env_steps``, ``train_steps``, ``wall_s``, losses,
``eval_return_mean`` when evaluated, and where the time went since the previous
line: ``env_steps_per_s``, ``simulations_per_s``, ``train_steps_per_s``, the share of
wall time with the network busy in self-play (``network_busy``) and the
thread-seconds per wall second in network calls, tree work, environment steps and
the learner: ``inference_share``, ``tree_share``, ``env_share``,
``learner_share``; see :mod:`mzero.throughput`), TensorBoard scalars under ``tensorboard/``,
and checkpoints ``checkpoints/last.pt`` (latest) and ``checkpoints/best.pt`` (best
evaluation), each written atomically.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import torch

import mzero
from mzero.checkpoint import CHECKPOINT_VERSION, load_checkpoint, save_checkpoint
from mzero.config import Config
from mzero.envs import make_env_from_config
from mzero.errors import InvalidArgumentError
from mzero.evaluate import Evaluator
from mzero.learner import Learner, build_network, learning_rate_factor, resolve_device
from mzero.rundir import RunDirectory
from mzero.selfplay import EpisodeStats, SelfPlay

__all__ = [
    "CHECKPOINT_VERSION",
    "Trainer",
    "build_network",
    "learning_rate_factor",
    "load_checkpoint",
    "resolve_device",
    "save_checkpoint",
    "train",
]

_TRAINING_STATE = ("optimizer", "scheduler", "target_network")
"""What a checkpoint holds only to continue training (not in kept evaluation networks)."""


class Trainer:
    """Self-play and learning for ``config`` in the run directory ``run_dir``.

    ``progress``: show a progress bar (tqdm) on stderr. Call :meth:`run`.
    """

    def __init__(self, config: Config, run_dir: str | os.PathLike[str], progress: bool = True):
        self.config = config.validate()
        for message in self.config.ignored_settings():
            logging.getLogger("mzero").warning(message)
        self.run_dir = Path(run_dir)
        self.progress = progress
        train = config.train
        self.device = resolve_device(train.device)
        if self.device.type == "cpu":
            torch.set_num_threads(train.torch_threads)
        torch.manual_seed(train.seed)
        self.rng = np.random.default_rng(train.seed)

        probe = make_env_from_config(config.env)
        self.obs_shape, self.num_actions = probe.obs_shape, probe.num_actions
        self.two_player = probe.two_player
        self.symmetries = probe.symmetries if train.augment_symmetries else None
        probe.close()
        if train.augment_symmetries and self.symmetries is None:
            raise InvalidArgumentError(
                f"train.augment_symmetries: env {config.env.id!r} defines no symmetries"
            )

        self.replay = config.to_replay_buffer(
            self.obs_shape, self.num_actions, two_player=self.two_player
        )
        self.learner = Learner(
            config,
            self.obs_shape,
            self.num_actions,
            self.two_player,
            self.device,
            self.replay,
            self.rng,
            self.symmetries,
        )
        self.network = self.learner.network
        self.target_network = self.learner.target_network
        self.selfplay: SelfPlay | None = self._make_selfplay()
        """In-process self-play; None when actors play (:class:`mzero.actors.ActorTrainer`)."""
        self.evaluator = Evaluator(config, self.two_player)

        self.env_steps = 0
        self.learning_start_env_steps: int | None = None
        """Environment steps when ``train.min_replay`` was reached (learning ramps in)."""
        self.episodes = 0
        self.best_eval: tuple[float, ...] | None = None
        self.recent: deque[EpisodeStats] = deque(maxlen=100)
        self.last_losses: dict[str, float] = {}
        self.learner_seconds = 0.0
        """Seconds in learner steps since the last metrics line."""
        self.rundir = RunDirectory(self.run_dir)
        self.resumed = False
        """True until the first metrics record of a resumed run is written."""
        self.metrics_length = 0
        """Bytes of metrics.jsonl that the snapshot resumed from had seen."""
        self.resumed_from: tuple[Path, list[str] | None] | None = None
        """The snapshot a resumed run continues from, and the kept checkpoints it lists."""
        self.pending_evaluation: dict[str, Any] | None = None
        """An evaluation in flight when the snapshot resumed from was taken (actor mode):
        ``checkpoint``, ``env_steps`` and ``seed`` of the evaluated network."""
        self.log: Any = None
        """``metrics.jsonl``, open for appending while :meth:`run` runs."""
        self.next_eval = train.eval_interval if train.eval_interval > 0 else math.inf
        self.next_log = 0
        self.next_checkpoint = train.checkpoint_interval
        self._last_log = (time.monotonic(), 0)
        """(time, train_steps) at the last metrics line."""

    def _make_selfplay(self) -> SelfPlay | None:
        return SelfPlay(self.network, self.config, self.replay, seed=self.config.train.seed)

    # -- the learner ------------------------------------------------------------------------

    @property
    def train_steps(self) -> int:
        """Learner steps so far (the learner's counter)."""
        return self.learner.train_steps

    def train_step(self) -> dict[str, float]:
        """One learner step (:meth:`mzero.learner.Learner.train_step`)."""
        return self.learner.train_step()

    def update_target_network(self) -> None:
        """Copies the network's weights into the target network (reanalysis only)."""
        self.learner.update_target_network()

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self) -> dict[str, float]:
        """Greedy evaluation (no root noise) by :class:`mzero.evaluate.Evaluator`:
        returns of a single-player game, or scores against the game's opponents
        (``train.eval_opponents``); ``eval_return_mean`` is always present."""
        return self.evaluator(self.network, seed=int(self.rng.integers(2**31)))

    def _eval_key(self, metrics: dict[str, float]) -> tuple[float, ...]:
        """Orders evaluations: the higher, the better checkpoint."""
        return self.evaluator.key(metrics)

    # -- checkpoints ------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to rebuild the network and continue the optimiser."""
        return {
            "version": CHECKPOINT_VERSION,
            "mzero_version": mzero.__version__,
            "config": self.config.to_dict(),
            "obs_shape": list(self.obs_shape),
            "num_actions": self.num_actions,
            "two_player": self.two_player,
            "network": self.network.state_dict(),
            "optimizer": self.learner.optimizer.state_dict(),
            "scheduler": self.learner.scheduler.state_dict(),
            "env_steps": self.env_steps,
            "train_steps": self.train_steps,
            "best_eval": list(self.best_eval) if self.best_eval is not None else None,
            "target_network": None
            if self.target_network is None
            else self.target_network.state_dict(),
        }

    # -- the loop ---------------------------------------------------------------------------

    def _done(self, start: float) -> bool:
        train = self.config.train
        return (
            (train.max_minutes is not None and time.monotonic() - start >= 60 * train.max_minutes)
            or (train.max_env_steps is not None and self.env_steps >= train.max_env_steps)
            or (train.max_train_steps is not None and self.train_steps >= train.max_train_steps)
        )

    def run(self) -> dict[str, float]:
        """Trains until a limit of ``config.train`` is reached; returns the last metrics.

        A fresh run needs a run directory that holds no run; a resumed one
        (:meth:`resume`) continues its own.
        """
        selfplay = self.selfplay
        if selfplay is None:
            raise InvalidArgumentError("run: this trainer has no in-process self-play")
        writer = self._open_run()
        try:
            return self._run_in_process(selfplay, writer)
        finally:
            self.rundir.release()

    def _run_in_process(self, selfplay: SelfPlay, writer: Any) -> dict[str, float]:
        """The loop of :meth:`run`: self-play, learning, evaluations and snapshots. The
        environments, the TensorBoard writer and the progress bar are closed however it
        ends."""
        bar = self._progress_bar()
        try:
            with open(self.rundir.metrics, "a", encoding="utf-8") as log:
                self.log = log
                return self._loop(selfplay, writer, bar)
        finally:
            self.log = None
            writer.close()
            if bar is not None:
                bar.close()
            selfplay.close()

    def _loop(self, selfplay: SelfPlay, writer: Any, bar: Any) -> dict[str, float]:
        """Self-play moves, learner steps, evaluations and snapshots until a limit."""
        train = self.config.train
        start = time.monotonic()
        self._last_log = (start, self.train_steps)
        last_snapshot = start
        metrics: dict[str, float] = {}
        if self.pending_evaluation is not None:
            metrics = self._metrics(start, train.temperature(self.train_steps))
            metrics |= self._evaluate_pending()
            self._write_metrics(writer, metrics)
        while not self._done(start):
            temperature = train.temperature(self.train_steps)
            finished = selfplay.step(temperature)
            self.env_steps = selfplay.env_steps
            self.episodes += len(finished)
            self.recent.extend(finished)
            self._learn(start)
            evaluated = self.env_steps >= self.next_eval
            if evaluated or self.train_steps >= self.next_log or self._done(start):
                metrics = self._metrics(start, temperature)
                if evaluated:
                    self.next_eval += train.eval_interval
                    metrics |= self.evaluate()
                    self._keep_best(metrics)
                self._log_metrics(writer, bar, metrics)
            last_snapshot = self._save_due(bar, last_snapshot)
        if train.eval_interval > 0 and "eval_return_mean" not in metrics:
            metrics = self._metrics(start, train.temperature(self.train_steps))
            metrics |= self.evaluate()
            self._keep_best(metrics)
            self._write_metrics(writer, metrics)
        self._save_final()
        return metrics

    def _evaluate_pending(self) -> dict[str, float]:
        """Evaluates the network of :attr:`pending_evaluation` (keeping ``best.pt``)."""
        pending, self.pending_evaluation = self.pending_evaluation, None
        assert pending is not None
        network = build_network(self.config, self.obs_shape, self.num_actions).to(self.device)
        network.load_state_dict(pending["checkpoint"]["network"])
        metrics = self.evaluator(network, seed=pending["seed"])
        self._keep_best(metrics, pending["checkpoint"], pending["env_steps"])
        return metrics

    def _log_metrics(self, writer: Any, bar: Any, metrics: dict[str, float]) -> None:
        """A scheduled metrics record: written, shown on the progress bar, and the next
        one due ``train.log_interval`` learner steps later."""
        self.next_log = self.train_steps + self.config.train.log_interval
        self._write_metrics(writer, metrics)
        if bar is not None:
            bar.set_postfix(_postfix(metrics), refresh=False)

    def _save_due(self, bar: Any, last_snapshot: float) -> float:
        """The loop's housekeeping: advances the progress bar, writes ``last.pt`` every
        ``train.checkpoint_interval`` learner steps and a snapshot every
        ``train.snapshot_interval`` seconds; returns the time of the last snapshot."""
        if bar is not None:
            bar.update(self.env_steps - bar.n)
        if self.train_steps >= self.next_checkpoint:
            self.next_checkpoint = self.train_steps + self.config.train.checkpoint_interval
            save_checkpoint(self.rundir.checkpoints / "last.pt", self.checkpoint())
        if time.monotonic() - last_snapshot >= self.config.train.snapshot_interval:
            self.snapshot()
            return time.monotonic()
        return last_snapshot

    def _save_final(self) -> None:
        """The end of a run: the final ``last.pt`` and a snapshot to resume from."""
        save_checkpoint(self.rundir.checkpoints / "last.pt", self.checkpoint())
        self.snapshot()

    def _write_metrics(self, writer: Any, metrics: dict[str, float]) -> None:
        """One line of ``metrics.jsonl`` (flushed) and the TensorBoard scalars; the first
        line of a resumed life says ``"resumed": true``."""
        if self.resumed:
            metrics = {"resumed": True, **metrics}
            self.resumed = False  # only the first record of a life says so
        self.log.write(json.dumps(metrics) + "\n")
        self.log.flush()
        for key, value in metrics.items():
            writer.add_scalar(_tensorboard_tag(key), value, self.env_steps)

    def _open_run(self) -> Any:
        """Checks the limits, holds the run directory and writes the config. A fresh run
        writes a first snapshot, so that it can be resumed from its first moment; a
        resumed one brings the files a killed life wrote after its snapshot back in
        step with it (:meth:`mzero.rundir.RunDirectory.rewind`) and writes ``last.pt``.
        Returns the TensorBoard writer (after a resume, the discarded stretch's
        scalars purged)."""
        train = self.config.train
        if (
            train.max_minutes is None
            and train.max_env_steps is None
            and (train.max_train_steps is None)
        ):
            raise InvalidArgumentError(
                "train: expected at least one of max_minutes, max_env_steps, max_train_steps"
            )
        self.rundir.hold()  # before the check: a second process must not race it
        if not self.resumed and self.rundir.holds_run():
            self.rundir.release()
            raise InvalidArgumentError(
                f"run_dir: {self.run_dir} already holds a run; continue it with "
                f"mzero train --resume {self.run_dir}, or choose another directory"
            )
        self.rundir.remove_temporary_files()
        self.config.save(self.rundir.config)
        if self.resumed_from is not None:
            snapshot, kept = self.resumed_from
            self.rundir.rewind(snapshot, self.metrics_length, kept, self.env_steps)
            save_checkpoint(self.rundir.checkpoints / "last.pt", self.checkpoint())
        else:
            self.snapshot()
        from torch.utils.tensorboard import SummaryWriter  # imported late: slow import

        purge_step = self.env_steps if self.resumed else None
        return SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=purge_step)

    # -- snapshots and resume ------------------------------------------------------------------

    def snapshot(self) -> None:
        """Writes a consistent snapshot of the run (:mod:`mzero.rundir`) that
        :meth:`resume` continues from; the metrics written so far (on disk first) are
        kept with it."""
        metrics_length = 0
        if self.log is not None:
            self.log.flush()
            os.fsync(self.log.fileno())
            metrics_length = self.log.tell()
        state = {
            "checkpoint": self.checkpoint(),
            "episodes": self.episodes,
            "learning_start_env_steps": self.learning_start_env_steps,
            "next_eval": self.next_eval,
            "next_log": self.next_log,
            "next_checkpoint": self.next_checkpoint,
            "reanalyze_seconds": self.learner.reanalyze_seconds,
            "recent": [(e.episode_return, e.length, e.terminated) for e in self.recent],
            "rng": self.rng.bit_generator.state,
            "selfplay_rng": (
                None if self.selfplay is None else self.selfplay.rng.bit_generator.state
            ),
            "torch_rng": torch.get_rng_state(),
            "metrics_length": metrics_length,
            "kept_checkpoints": self.rundir.kept_checkpoints(),
            **self._extra_state(),
        }
        self.rundir.write_snapshot(state, self.replay)

    def _extra_state(self) -> dict[str, Any]:
        """More state for the snapshot (subclasses)."""
        return {}

    @classmethod
    def resume(
        cls,
        run_dir: str | os.PathLike[str],
        overrides: dict[str, Any] | None = None,
        progress: bool = True,
    ) -> Trainer:
        """A trainer that continues ``run_dir`` from its latest snapshot (from the one
        before it if the latest is damaged).

        The run's ``config.json`` is used with ``overrides`` (``"SECTION.FIELD"`` ->
        value, e.g. new limits, or another number of actors) applied;
        ``train.max_minutes`` counts from the resume. Overrides of what shapes the
        stored run (:data:`mzero.config.FIXED_ON_RESUME`: the environment, the
        network, the replay's settings, the seed) raise
        :class:`~mzero.InvalidArgumentError`. Replay, learner and environment steps,
        the networks, the optimizer, the RNG states and the best evaluation continue
        from the snapshot, in either mode (in-process or actors); games that were
        being played when it was taken are lost.
        """
        from mzero.config import apply_overrides, changes_fixed_on_resume

        rundir = RunDirectory(run_dir)
        if not rundir.config.exists():
            raise InvalidArgumentError(f"resume: {rundir.path} holds no run (no config.json)")
        saved = Config.load(rundir.config)
        config = apply_overrides(saved, overrides or {})
        fixed = changes_fixed_on_resume(saved, config)
        if fixed:
            raise InvalidArgumentError(
                f"resume: {', '.join(fixed)} cannot change when a run continues (they "
                f"shape its stored games and networks); start a new run to change them"
            )
        snapshot, state, replay = _read_newest_snapshot(rundir)
        trainer = cls(config, run_dir, progress=progress)
        trainer._restore(state, replay)
        trainer.resumed_from = (snapshot, state.get("kept_checkpoints"))
        return trainer

    def _restore(self, state: dict[str, Any], replay: mzero.ReplayBuffer) -> None:
        checkpoint = state["checkpoint"]
        self.learner.load_state_dict(checkpoint | {"reanalyze_seconds": state["reanalyze_seconds"]})
        self.replay = replay
        self.learner.replay = replay
        if self.selfplay is not None:
            self.selfplay.replay = replay
        self.env_steps = checkpoint["env_steps"]
        best = checkpoint.get("best_eval")
        self.best_eval = tuple(best) if best is not None else None
        self.episodes = state["episodes"]
        self.learning_start_env_steps = state["learning_start_env_steps"]
        self.next_eval = state["next_eval"]
        self.next_log = state["next_log"]
        self.next_checkpoint = state["next_checkpoint"]
        self.recent.clear()
        self.recent.extend(EpisodeStats(r, n, terminated=t) for r, n, t in state["recent"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        if self.selfplay is not None:
            rng_state = state["selfplay_rng"]
            if rng_state is None:  # an actor run, continued in-process: new games
                seed = [self.config.train.seed, self.env_steps]
                rng_state = np.random.default_rng(seed).bit_generator.state
            self.selfplay.restart(rng_state, env_steps=self.env_steps)
        self.metrics_length = state["metrics_length"]
        self.pending_evaluation = state.get("pending_evaluation")
        self.resumed = True
        self._restore_extra(state)

    def _restore_extra(self, state: dict[str, Any]) -> None:
        """Restores what :meth:`_extra_state` saved (subclasses)."""

    def _learn(self, start: float) -> None:
        train = self.config.train
        if self.replay.positions < train.min_replay:
            return
        if self.learning_start_env_steps is None:
            # so that the target starts at the learner steps taken so far: none in a
            # fresh run, the actors' in an actor run continued in-process
            self.learning_start_env_steps = self.env_steps - round(
                self.train_steps / train.train_ratio if train.train_ratio > 0 else 0
            )
        target = train.train_ratio * (self.env_steps - self.learning_start_env_steps)
        began = time.perf_counter()
        while self.train_steps < target and not self._done(start):
            self.last_losses = self.learner.train_step()
        self.learner_seconds += time.perf_counter() - began

    def _keep_best(
        self,
        metrics: dict[str, float],
        checkpoint: dict[str, Any] | None = None,
        env_steps: int | None = None,
    ) -> None:
        """Writes ``best.pt`` if this evaluation is the best so far, and the evaluated
        network as ``env_steps_N.pt`` if ``train.keep_eval_checkpoints`` (weights only,
        at most ``train.max_eval_checkpoints``). ``checkpoint`` and ``env_steps``: of
        the evaluated network, if not the current one."""
        checkpoint = checkpoint if checkpoint is not None else self.checkpoint()
        env_steps = env_steps if env_steps is not None else self.env_steps
        if self.config.train.keep_eval_checkpoints:
            self._keep_evaluated(checkpoint, env_steps)
        key = self._eval_key(metrics)
        if self.best_eval is None or key >= self.best_eval:
            self.best_eval = key
            save_checkpoint(self.rundir.checkpoints / "best.pt", checkpoint)

    def _keep_evaluated(self, checkpoint: dict[str, Any], env_steps: int) -> None:
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

    def _metrics(self, start: float, temperature: float) -> dict[str, float]:
        metrics: dict[str, float] = {
            "env_steps": self.env_steps,
            "train_steps": self.train_steps,
            "wall_s": round(time.monotonic() - start, 3),
            "episodes": self.episodes,
            "temperature": temperature,
            "replay_transitions": len(self.replay),
        }
        if self.learner.reanalyzer is not None:
            metrics["reanalyze_s"] = round(self.learner.reanalyze_seconds, 3)
        metrics |= self._throughput()
        if self.recent:
            metrics["return_mean"] = float(np.mean([e.episode_return for e in self.recent]))
            metrics["episode_length_mean"] = float(np.mean([e.length for e in self.recent]))
        return metrics | self.last_losses

    def _throughput(self) -> dict[str, float]:
        """Rates and shares of wall time since the previous metrics line."""
        now = time.monotonic()
        since, train_steps = self._last_log
        self._last_log = (now, self.train_steps)
        wall = now - since
        counts = self._selfplay_counts()
        if wall <= 0:
            return {}
        rates = counts.rates(wall) | {
            "train_steps_per_s": (self.train_steps - train_steps) / wall,
            "learner_share": self.learner_seconds / wall,
        }
        self.learner_seconds = 0.0
        return {key: round(value, 4) for key, value in rates.items()}

    def _selfplay_counts(self) -> Any:
        """Self-play's :class:`mzero.throughput.Counts` since the previous metrics line."""
        assert self.selfplay is not None  # ActorTrainer overrides this
        return self.selfplay.throughput.take()

    def _progress_bar(self) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        total = self.config.train.max_env_steps
        return tqdm(total=total, unit="step", desc="env steps", dynamic_ncols=True)


def _read_newest_snapshot(rundir: RunDirectory) -> tuple[Path, dict[str, Any], Any]:
    """``(path, state, replay)`` of the newest snapshot that reads, falling back to the
    one before it when the newest is damaged (logged)."""
    snapshots = rundir.snapshots_newest_first()
    if not snapshots:
        raise InvalidArgumentError(
            f"resume: {rundir.path} has no snapshot (the run was stopped before its "
            f"first one); start it again into an empty directory"
        )
    damaged: list[str] = []
    for snapshot in snapshots:
        try:
            state, replay = rundir.read_snapshot(snapshot)
        except mzero.CorruptFileError as err:
            logging.getLogger("mzero").warning("resume: %s; trying the snapshot before it", err)
            damaged.append(str(err))
            continue
        return snapshot, state, replay
    raise mzero.CorruptFileError(f"resume: every snapshot is damaged: {'; '.join(damaged)}")


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


def _trainer_class(config: Config) -> type[Trainer]:
    """:class:`Trainer`, or :class:`mzero.actors.ActorTrainer` when actors play."""
    if config.actors.num_actors > 0:
        from mzero.actors import ActorTrainer  # imports Ray only when actors play

        return ActorTrainer
    return Trainer


def train(
    config: Config, run_dir: str | os.PathLike[str], progress: bool = True
) -> dict[str, float]:
    """Trains ``config`` into ``run_dir``; returns the last metrics (see :class:`Trainer`;
    with ``actors.num_actors > 0``, :class:`mzero.actors.ActorTrainer`)."""
    return _trainer_class(config)(config, run_dir, progress=progress).run()


def resume(
    run_dir: str | os.PathLike[str],
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Continues ``run_dir`` from its latest snapshot (see :meth:`Trainer.resume`), with
    actors if its config (after ``overrides``) asks for them."""
    from mzero.config import apply_overrides

    config = apply_overrides(Config.load(RunDirectory(run_dir).config), overrides or {})
    return _trainer_class(config).resume(run_dir, overrides, progress=progress).run()
