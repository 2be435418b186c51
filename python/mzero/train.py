"""The training loop: self-play, the learner and evaluation taking turns, with a run directory.

:class:`Trainer` runs one loop (MuZero, Schrittwieser et al. 2020, appendix G), for
in-process runs and for runs with self-play actors on Ray alike, composed of:

* an experience source (:mod:`mzero.experience`): in-process
  :class:`mzero.selfplay.SelfPlay` (:class:`mzero.experience.InProcessExperience`),
  or the Ray actors and reanalyze workers (:class:`mzero.actors.RayExperience`,
  :class:`mzero.actors.ActorTrainer`);
* the learner (:class:`mzero.learner.Learner`: networks, optimizer, train step),
  paced by the source's :class:`mzero.ratelimit.SampleToInsertRatio`;
* the evaluations: :class:`SyncEvaluation` in this process, or
  :class:`mzero.actors.AsyncEvaluation` in a Ray actor, both ``submit`` / ``poll``;
* the run recorder (:class:`mzero.recorder.RunRecorder`: metrics, TensorBoard, the
  progress bar, checkpoints) and the snapshots of :class:`mzero.rundir.RunDirectory`.

One turn of the loop:

1. the source plays: in-process, one move in each of the B environments (one batched
   search), finished games into the Rust replay buffer;
2. once ``train.min_replay`` transitions are stored, the learner takes steps while the
   limiter allows. In-process it runs in lock step: the learner catches up to
   ``learner steps = train_ratio * (environment steps - E_0)``, with ``E_0`` the
   environment steps when ``min_replay`` was reached (so learning ramps in instead
   of taking hundreds of catch-up steps on the first games). A step samples a
   batch (prioritised when ``replay.alpha > 0``), refreshes its targets with the
   target network when ``reanalyze`` is on (:mod:`mzero.reanalyze`, written back to
   the buffer), unrolls K steps, minimises
   :func:`mzero.networks.muzero_loss` with AdamW, a learning-rate schedule and
   gradient clipping, and writes the new priorities ``|v^0 - z_t|`` back;
3. every ``train.eval_interval`` environment steps, a greedy evaluation (search
   without noise, :class:`mzero.evaluate.Evaluator`): mean return over
   ``train.eval_episodes`` episodes, or for two-player games the scores against the
   game's opponents (``train.eval_opponents``: TicTacToe's minimax and random,
   Connect Four's uct:100 and random);
4. metrics lines, ``last.pt`` and snapshots when due.

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

import contextlib
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
from mzero.experience import ExperienceSource, InProcessExperience, learning_start
from mzero.learner import Learner, build_network, learning_rate_factor, resolve_device
from mzero.recorder import RunRecorder
from mzero.rundir import RunDirectory
from mzero.selfplay import EpisodeStats, SelfPlay

__all__ = [
    "CHECKPOINT_VERSION",
    "SyncEvaluation",
    "Trainer",
    "build_network",
    "learning_rate_factor",
    "load_checkpoint",
    "resolve_device",
    "save_checkpoint",
    "train",
]


class SyncEvaluation:
    """Evaluations in the training process: :meth:`submit` evaluates at once and the
    next :meth:`poll` returns the metrics (the interface of
    :class:`mzero.actors.AsyncEvaluation`, which evaluates in a Ray actor)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.result: dict[str, float] | None = None
        self.env_steps: int | None = None
        """Env steps of the network of the last result."""

    @property
    def idle(self) -> bool:
        return True

    def submit(self, evaluation: dict[str, Any] | None = None) -> None:
        """Evaluates ``evaluation`` (a snapshot's ``pending_evaluation``: its network,
        env steps and seed), or by default the current network, and keeps ``best.pt``."""
        trainer = self.trainer
        if evaluation is None:
            self.result = trainer.evaluate()
            self.env_steps = trainer.env_steps
            trainer._keep_best(self.result)
            return
        network = build_network(trainer.config, trainer.obs_shape, trainer.num_actions)
        network = network.to(trainer.device)
        network.load_state_dict(evaluation["checkpoint"]["network"])
        self.result = trainer.evaluator(network, seed=evaluation["seed"])
        self.env_steps = evaluation["env_steps"]
        trainer._keep_best(self.result, evaluation["checkpoint"], evaluation["env_steps"])

    def poll(self) -> dict[str, float] | None:
        """The metrics of the last :meth:`submit`, once."""
        result, self.result = self.result, None
        return result

    def pending(self) -> dict[str, Any] | None:
        """None: nothing is ever in flight."""
        return None

    def close(self) -> None:
        pass


class Trainer:
    """Self-play and learning for ``config`` in the run directory ``run_dir``.

    ``progress``: show a progress bar (tqdm) on stderr. Call :meth:`run`. Self-play runs
    in this process (:attr:`selfplay`); :class:`mzero.actors.ActorTrainer` is the same
    loop with self-play actors on Ray.
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
        self.obs_dtype = probe.obs_dtype
        self.two_player = probe.two_player
        self.symmetries = probe.symmetries if train.augment_symmetries else None
        probe.close()
        if train.augment_symmetries and self.symmetries is None:
            raise InvalidArgumentError(
                f"train.augment_symmetries: env {config.env.id!r} defines no symmetries"
            )

        self.replay = config.to_replay_buffer(
            self.obs_shape, self.num_actions, two_player=self.two_player, obs_dtype=self.obs_dtype
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
        self.evaluator = Evaluator(config, self.two_player)
        self.recorder = RunRecorder(self.run_dir, self.config, progress)
        self.rundir = self.recorder.rundir

        self.env_steps = 0
        self.learning_start_env_steps: int | None = None
        """Environment steps when ``train.min_replay`` was reached (learning ramps in)."""
        self._pacing = False
        """Whether the experience source was told that learning began (this life)."""
        self.episodes = 0
        self.recent: deque[EpisodeStats] = deque(maxlen=100)
        self.last_losses: dict[str, float] = {}
        self.learner_seconds = 0.0
        """Seconds in learner steps since the last metrics line."""
        self.metrics_length = 0
        """Bytes of metrics.jsonl that the snapshot resumed from had seen."""
        self.resumed_from: tuple[Path, list[str] | None] | None = None
        """The snapshot a resumed run continues from, and the kept checkpoints it lists."""
        self.pending_evaluation: dict[str, Any] | None = None
        """An evaluation in flight when the snapshot resumed from was taken (actor mode):
        ``checkpoint``, ``env_steps`` and ``seed`` of the evaluated network."""
        self.evaluation: Any = None
        """The evaluations (:class:`SyncEvaluation`, or in actor mode
        :class:`mzero.actors.AsyncEvaluation`) while :meth:`run` runs with
        ``train.eval_interval``."""
        self.next_eval = train.eval_interval if train.eval_interval > 0 else math.inf
        self.next_log = 0
        self.next_checkpoint = train.checkpoint_interval
        self._last_log = (time.monotonic(), 0)
        """(time, train_steps) at the last metrics line."""
        self.experience: ExperienceSource = self._make_experience()

    def _make_experience(self) -> ExperienceSource:
        """The source of games: in-process self-play (:attr:`selfplay`)."""
        source = InProcessExperience(self.network, self.config, self.replay)
        self.selfplay: SelfPlay = source.selfplay
        """The in-process self-play."""
        return source

    def _make_evaluation(self) -> Any:
        """The evaluations of this mode: in-process, at once."""
        return SyncEvaluation(self)

    # -- what the recorder holds ------------------------------------------------------------

    @property
    def resumed(self) -> bool:
        """True until the first metrics record of a resumed run is written."""
        return self.recorder.resumed

    @resumed.setter
    def resumed(self, value: bool) -> None:
        self.recorder.resumed = value

    @property
    def log(self) -> Any:
        """``metrics.jsonl``, open for appending while :meth:`run` runs."""
        return self.recorder.log

    @log.setter
    def log(self, value: Any) -> None:
        self.recorder.log = value

    @property
    def best_eval(self) -> tuple[float, ...] | None:
        return self.recorder.best_eval

    @best_eval.setter
    def best_eval(self, value: tuple[float, ...] | None) -> None:
        self.recorder.best_eval = value

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

    def _start_evaluation(self) -> Any:
        """The evaluations, also as :attr:`evaluation` (None without
        ``train.eval_interval``). A resumed run first evaluates the evaluation that was
        in flight at its snapshot (``pending_evaluation``), with its own network, env
        steps and seed."""
        if self.config.train.eval_interval <= 0:
            return None
        self.evaluation = self._make_evaluation()
        pending, self.pending_evaluation = self.pending_evaluation, None
        if pending is not None:
            self.evaluation.submit(pending)
        return self.evaluation

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
        self.recorder.keep_best(self._eval_key(metrics), checkpoint, env_steps)

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
        (:meth:`resume`) continues its own. However it ends, the environments, the
        actors (and a Ray started here), the metrics file, the TensorBoard writer and the
        progress bar are closed and the directory is let go of.
        """
        with contextlib.ExitStack() as stack:
            stack.callback(self.experience.close)
            stack.callback(self.recorder.close)
            self._open_run()
            self.recorder.open_log()
            self.experience.start()
            stack.callback(self._close_evaluation)
            return self._loop()
        raise AssertionError("unreachable")  # (for type checkers)

    def _close_evaluation(self) -> None:
        evaluation, self.evaluation = self.evaluation, None
        if evaluation is not None:
            evaluation.close()

    def _loop(self) -> dict[str, float]:
        """Games from the experience source, learner steps, evaluations and snapshots
        until a limit; the final evaluation, ``last.pt`` and snapshot."""
        train = self.config.train
        start = time.monotonic()
        self._last_log = (start, self.train_steps)
        last_snapshot = start
        metrics: dict[str, float] = {}
        evaluation = self._start_evaluation()
        evaluated = evaluation.poll() if evaluation is not None else None
        if evaluated is not None:  # the snapshot's evaluation, evaluated at once
            metrics = self._metrics(start, train.temperature(self.train_steps)) | evaluated
            self.recorder.write(metrics, self.env_steps)
        learned = False
        while not self._done(start):
            temperature = train.temperature(self.train_steps)
            experience = self.experience.step(temperature, learner_busy=learned)
            self.env_steps += experience.env_steps
            self.episodes += len(experience.episodes)
            self.recent.extend(experience.episodes)
            learned = self._learn(start)
            self.experience.publish(self.train_steps, self.network)
            evaluated = None
            if evaluation is not None:
                evaluated = evaluation.poll()
                if evaluation.idle and self.env_steps >= self.next_eval:
                    self.next_eval += train.eval_interval
                    evaluation.submit()
                    evaluated = evaluated or evaluation.poll()
            if evaluated is not None or self.train_steps >= self.next_log or self._done(start):
                metrics = self._metrics(start, temperature) | (evaluated or {})
                self.next_log = self.train_steps + train.log_interval
                self.recorder.write(metrics, self.env_steps)
                self.recorder.show(metrics)
            last_snapshot = self._save_due(last_snapshot)
        # the end: self-play stops, and the final network is evaluated here (an
        # evaluation in flight gives way to it)
        self.experience.stop()
        final_evaluated = evaluation is not None and evaluation.env_steps == self.env_steps
        self._close_evaluation()
        if train.eval_interval > 0 and not ("eval_return_mean" in metrics and final_evaluated):
            metrics = self._metrics(start, train.temperature(self.train_steps))
            metrics |= self.evaluate()
            self._keep_best(metrics)
            self.recorder.write(metrics, self.env_steps)
        self.recorder.save_last(self.checkpoint())
        self.snapshot()
        return metrics

    def _learn(self, start: float) -> bool:
        """Learner steps once the replay holds ``train.min_replay`` transitions, paced by
        the experience source's limiter; whether any was taken."""
        train = self.config.train
        if self.replay.positions < train.min_replay:
            return False
        if self.learning_start_env_steps is None:
            self.learning_start_env_steps = learning_start(
                self.env_steps, self.train_steps, train.train_ratio
            )
        if not self._pacing:
            self.experience.begin_learning(
                self.env_steps, self.learning_start_env_steps, self.train_steps
            )
            self._pacing = True
        began = time.perf_counter()
        steps, losses = self.experience.learn(self.learner, lambda: not self._done(start))
        if steps:
            self.last_losses = losses
        self.learner_seconds += time.perf_counter() - began
        return steps > 0

    def _save_due(self, last_snapshot: float) -> float:
        """The loop's housekeeping: advances the progress bar, writes ``last.pt`` every
        ``train.checkpoint_interval`` learner steps and a snapshot every
        ``train.snapshot_interval`` seconds; returns the time of the last snapshot."""
        self.recorder.show({}, self.env_steps)
        if self.train_steps >= self.next_checkpoint:
            self.next_checkpoint = self.train_steps + self.config.train.checkpoint_interval
            self.recorder.save_last(self.checkpoint())
        if time.monotonic() - last_snapshot >= self.config.train.snapshot_interval:
            self.snapshot()
            return time.monotonic()
        return last_snapshot

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
            self.recorder.save_last(self.checkpoint())
        else:
            self.snapshot()
        return self.recorder.open_writer(self.env_steps)

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
        return metrics | self.last_losses | self.experience.metrics()

    def _throughput(self) -> dict[str, float]:
        """Rates and shares of wall time since the previous metrics line."""
        now = time.monotonic()
        since, train_steps = self._last_log
        self._last_log = (now, self.train_steps)
        wall = now - since
        counts = self.experience.take_counts()
        if wall <= 0:
            return {}
        rates = counts.rates(wall) | {
            "train_steps_per_s": (self.train_steps - train_steps) / wall,
            "learner_share": self.learner_seconds / wall,
        }
        self.learner_seconds = 0.0
        return {key: round(value, 4) for key, value in rates.items()}

    # -- snapshots and resume ------------------------------------------------------------------

    def snapshot(self) -> None:
        """Writes a consistent snapshot of the run (:mod:`mzero.rundir`) that
        :meth:`resume` continues from; the metrics written so far (on disk first) are
        kept with it."""
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
            "torch_rng": torch.get_rng_state(),
            "metrics_length": self.recorder.metrics_length(),
            "kept_checkpoints": self.rundir.kept_checkpoints(),
            "pending_evaluation": self._evaluation_in_flight(),
            **self.experience.state_dict(),
        }
        self.rundir.write_snapshot(state, self.replay)

    def _evaluation_in_flight(self) -> dict[str, Any] | None:
        """The evaluation in flight (actor mode), or a resumed one not yet sent: kept in
        snapshots, to be evaluated first by a resumed run."""
        if self.evaluation is not None:
            return self.evaluation.pending()
        return self.pending_evaluation

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
        self.experience.replay = replay
        self.env_steps = checkpoint["env_steps"]
        best = checkpoint.get("best_eval")
        self.best_eval = tuple(best) if best is not None else None
        self.episodes = state["episodes"]
        self.learning_start_env_steps = state["learning_start_env_steps"]
        if self.experience.limiter.lock_step and "limiter" in state:
            # an actor run continued in-process: E_0 is derived at the next learner step,
            # so that the target starts at the learner steps taken
            self.learning_start_env_steps = None
        self.next_eval = state["next_eval"]
        self.next_log = state["next_log"]
        self.next_checkpoint = state["next_checkpoint"]
        self.recent.clear()
        self.recent.extend(EpisodeStats(r, n, terminated=t) for r, n, t in state["recent"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.experience.load_state_dict(state, self.env_steps)
        self.metrics_length = state["metrics_length"]
        self.pending_evaluation = state.get("pending_evaluation")
        self.resumed = True


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
