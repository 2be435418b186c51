"""One run, many processes: self-play actors on Ray, the learner in the driver.

``mzero train PRESET --actors N`` (``actors.num_actors = N``) runs
:class:`ActorTrainer`, the training loop of :class:`mzero.train.Trainer` with the
experience source :class:`RayExperience` and the evaluations of
:class:`AsyncEvaluation`: the actor-learner split of Acme and muzero-general:

* **Self-play actors.** N :class:`SelfPlayActor` Ray actors each play
  ``train.num_envs`` games (:class:`mzero.selfplay.SelfPlay`) with their own copy of
  the network, on the CPU, ``actors.steps_per_task`` moves per task. A task returns
  the games that finished (numpy arrays, through Ray's object store), their episode
  statistics, its throughput counters and the weights version it played with.
* **The learner** (the driver process) owns the Rust replay buffer and the
  :class:`mzero.learner.Learner`, inserts the actors' games and trains continuously.
  Every ``actors.weight_sync_interval`` learner steps it puts the weights into the
  object store once and tells every actor; an actor loads the newest version between
  two tasks, so neither side waits for the other.
* **Rate limiter.** :class:`mzero.ratelimit.SampleToInsertRatio` keeps the learner
  steps per inserted env step near ``train.train_ratio``: the learner pauses when it
  is ahead, and actors get no new task while it is behind (in-process, the same
  limiter runs in lock step).
* **Reanalyze workers** (``actors.reanalyze_workers = M``, ``--reanalyze-workers M``):
  M :class:`ReanalyzeActor` processes compute the fresh targets of sampled batches
  (:mod:`mzero.reanalyze`) with their copy of the target network, which the learner
  publishes whenever it refreshes it. The learner samples ahead, two batches per
  worker, writes the fresh targets back to the buffer and trains on them as they
  come back, so reanalysis no longer takes the learner's time.
* **Evaluation** runs in its own :class:`EvaluationActor` on a copy of the weights
  (:class:`AsyncEvaluation`),
  so it never stalls the learner; its result is logged when it arrives and
  ``best.pt`` is the network that was evaluated.
* **Faults.** Actors restart after their process dies (``max_restarts=-1``): the
  driver counts ``actor_restarts``, drops that actor's unfinished games, sends it the
  weights again and carries on. A reanalyze worker likewise: its batches in flight
  are dropped, it is counted in ``actor_restarts`` and gets the target network
  again. The evaluation actor too: its evaluation in flight is sent again to the
  restarted process (same network, env steps and seed), so it is not lost. Actors
  and workers that do not start within :data:`ACTOR_START_TIMEOUT_S` (a cluster
  without ``actors.actor_cpus`` free CPUs for each) stop the run with an
  :class:`InvalidArgumentError` that names the CPUs asked and the cluster's.
* **Where Ray listens.** A local Ray instance (no ``actors.ray_address``) listens on
  127.0.0.1 and shares the driver's fate: it stops with the run, also when the driver
  is killed. Ray authenticates no one by default, so joining a cluster at an address
  that is not on loopback logs a warning (CVE-2023-48022; ``docs/distributed.md``
  says how to keep a cluster private). Ray's usage statistics are off
  (``RAY_USAGE_STATS_ENABLED=0``) unless the user set that variable.

Snapshots and ``--resume`` work as in-process (:mod:`mzero.rundir`); games in
flight on the actors are lost, an evaluation in flight is kept
(``pending_evaluation``) and runs first in the resumed run. ``metrics.jsonl`` adds
``samples_per_insert`` (learner steps per transition inserted after
``train.min_replay``, so far: the rate limiter's own count), ``weight_lag`` (learner
steps between the weights the learner has and those the last tasks played with,
mean) and ``actor_restarts``; the throughput shares sum the actors' thread-seconds.

Ray is an optional dependency: ``pip install 'mzero[ray]'``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from mzero.config import Config
from mzero.errors import InvalidArgumentError
from mzero.evaluate import Evaluator
from mzero.experience import Experience, learn_paced
from mzero.learner import build_network
from mzero.ratelimit import SampleToInsertRatio
from mzero.reanalyze import Reanalysis, Reanalyzer
from mzero.selfplay import EpisodeStats, SelfPlay
from mzero.throughput import Throughput
from mzero.train import Trainer

__all__ = [
    "ActorTrainer",
    "AsyncEvaluation",
    "EvaluationActor",
    "RayExperience",
    "ReanalyzeActor",
    "SelfPlayActor",
]

log = logging.getLogger("mzero")


def _ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise InvalidArgumentError(
            "actors.num_actors: self-play actors need Ray: pip install 'mzero[ray]'"
        ) from err
    return ray


ACTOR_START_TIMEOUT_S = 120.0
"""Seconds the self-play actors and reanalyze workers have to start (Ray places them on
nodes with ``actors.actor_cpus`` free CPUs each) before the run stops with an error."""

USAGE_STATS_ENV_VAR = "RAY_USAGE_STATS_ENABLED"


def _usage_stats_off() -> None:
    """Ray's usage statistics off (``RAY_USAGE_STATS_ENABLED=0``) in this process and the
    Ray processes it starts, unless the user set the variable: their choice stands."""
    os.environ.setdefault(USAGE_STATS_ENV_VAR, "0")


def _is_loopback(address: str) -> bool:
    """Whether a Ray address (``host:port``, ``ray://host:port``, ``[v6]:port``, a bare
    host) names this machine's loopback; ``auto`` and host names other than
    ``localhost`` do not."""
    host = address.split("://", 1)[-1]
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warn_if_exposed(address: str) -> None:
    """Logs a warning when ``actors.ray_address`` is not on loopback: Ray authenticates
    no one unless its token authentication is on (``RAY_AUTH_MODE=token``), so whoever
    reaches the cluster's ports can run code on it."""
    if _is_loopback(address) or os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        return
    log.warning(
        "actors.ray_address %s is not a loopback address. Ray has no authentication by "
        "default: anyone who can reach the cluster's ports can run code on it "
        "(CVE-2023-48022). Keep the cluster on a private network or VPN behind a "
        "firewall, never expose its ports to the internet, or turn on Ray's token "
        "authentication (RAY_AUTH_MODE=token); see docs/distributed.md",
        address,
    )


def _wait_started(
    ray: Any, actors: list[Any], ready: list[Any], setting: str, what: str, cpus: float
) -> Any:
    """``ray.get(ready)`` within :data:`ACTOR_START_TIMEOUT_S`: the answers of freshly
    created ``actors``. Past it (Ray finds no node with ``cpus`` free CPUs for one, or
    starts it too slowly) it raises :class:`InvalidArgumentError` naming ``setting``, the
    actors' CPUs and the cluster's."""
    try:
        return ray.get(ready, timeout=ACTOR_START_TIMEOUT_S)
    except ray.exceptions.GetTimeoutError:
        total = ray.cluster_resources().get("CPU", 0.0)
        free = ray.available_resources().get("CPU", 0.0)
        raise InvalidArgumentError(
            f"{setting}: {len(actors)} {what} did not start within "
            f"{ACTOR_START_TIMEOUT_S:g} s; the Ray cluster has {total:g} CPUs ({free:g} "
            f"free), each actor asks actors.actor_cpus={cpus:g}"
        ) from None


_WATCHDOG = """
import os, signal, sys
root, driver = sys.argv[1].rstrip("/") + "/", int(sys.argv[2])
sys.stdin.read()  # returns at end of file: the driver is ending, however it ends
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        continue
    mine = int(pid) in (os.getpid(), driver)  # a driver ending normally exits by itself
    if not mine and any(link.startswith(root) for link in links):
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
"""


def _keep_ray_on_loopback() -> None:
    """Ray's single-machine mode (its default on macOS and Windows): every service binds
    to 127.0.0.1, in this process and in the processes it starts. Without it Ray
    rewrites a 127.0.0.1 address to the machine's own address."""
    from ray._private import ray_constants

    os.environ[ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def _start_watchdog() -> str | None:
    """Makes a local Ray share the driver's fate, on Linux: a small process that
    waits for the driver's end (its pipe closes, SIGKILL included) and then kills
    every process with a file open in the returned directory, a fresh one for Ray's
    files (``ray.init(_temp_dir=...)``). Ray stops its raylet and workers itself; its
    dashboard and runtime-env agents outlive a killed driver otherwise. Started before
    Ray, so that a driver killed while Ray starts leaves nothing behind either. None
    (no watchdog) without ``/proc``."""
    if not os.path.isdir("/proc"):
        return None
    root = tempfile.mkdtemp(prefix="mzero-ray-", dir=os.environ.get("RAY_TMPDIR"))
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, root, str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _WATCHDOGS.append(watchdog)  # its pipe stays open while the driver lives
    return root


_WATCHDOGS: list[subprocess.Popen[bytes]] = []


class _GameSink:
    """Stands in for the replay buffer in an actor: keeps ``add_game``'s arguments."""

    def __init__(self) -> None:
        self.games: list[dict[str, Any]] = []

    def add_game(self, **game: Any) -> None:
        self.games.append(game)

    def take(self) -> list[dict[str, Any]]:
        games, self.games = self.games, []
        return games


def _cpu_state(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights, detached from the training network."""
    return {k: v.detach().to("cpu", copy=True) for k, v in network.state_dict().items()}


def actor_seed(seed: int, index: int, resumed_at: int = 0, pid: int | None = None) -> int:
    """The seed of self-play actor ``index`` of a run seeded ``seed``: a fresh run's actors
    get ``(seed, index)``; a run resumed at ``resumed_at`` env steps and an actor Ray
    restarted in process ``pid`` mix those in (as in-process self-play mixes the env
    steps in on resume)."""
    entropy = [seed, index]
    if resumed_at > 0 or pid is not None:
        entropy.append(resumed_at)
    if pid is not None:
        entropy.append(pid)
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


class SelfPlayActor:
    """Self-play of ``train.num_envs`` games in a Ray actor process (module docstring).

    ``seed`` and ``index`` seed its games (:func:`actor_seed`); in a resumed run the env
    steps it resumed at are mixed in, and a restarted actor mixes in its process id, so
    that neither replays the games of an earlier life.
    """

    def __init__(
        self,
        config: dict[str, Any],
        obs_shape: tuple[int, ...],
        num_actions: int,
        seed: int,
        index: int,
        resumed_at: int = 0,
    ) -> None:
        torch.set_num_threads(1)
        self.config = Config.from_dict(config)
        self.network = build_network(self.config, tuple(obs_shape), num_actions)
        self.sink = _GameSink()
        with warnings.catch_warnings():  # Ray deprecates an attribute it reads inside
            warnings.simplefilter("ignore", DeprecationWarning)
            restarted = _ray().get_runtime_context().was_current_actor_reconstructed
        seed = actor_seed(seed, index, resumed_at, os.getpid() if restarted else None)
        torch.manual_seed(seed)
        self.selfplay = SelfPlay(self.network, self.config, self.sink, seed=seed)
        self.version = -1
        """Learner steps of the weights played with; -1 before the first weights."""

    def where(self) -> tuple[str, int]:
        """``(node id, process id)`` of the actor (for monitoring and fault tests)."""
        return _ray().get_runtime_context().get_node_id(), os.getpid()

    def set_weights(self, version: int, weights: dict[str, torch.Tensor]) -> None:
        """Plays with ``weights`` from now on, unless a newer version came first."""
        if version > self.version:
            self.network.load_state_dict(weights)
            self.version = version

    def play(self, steps: int, temperature: float) -> dict[str, Any]:
        """``steps`` self-play moves of every game: the finished games (``add_game``
        arguments), their :class:`EpisodeStats`, the env steps played, the throughput
        counters and the weights version."""
        stats: list[EpisodeStats] = []
        before = self.selfplay.env_steps
        for _ in range(steps):
            stats.extend(self.selfplay.step(temperature))
        counts = self.selfplay.throughput.take()
        return {
            "games": self.sink.take(),
            "stats": [(s.episode_return, s.length, s.terminated) for s in stats],
            "env_steps": self.selfplay.env_steps - before,
            "counts": {
                "env_steps": counts.env_steps,
                "simulations": counts.simulations,
                "network_busy_s": counts.network_busy_s,
                "inference_s": counts.inference_s,
                "tree_s": counts.tree_s,
                "env_s": counts.env_s,
            },
            "version": self.version,
            "pid": os.getpid(),
        }

    def close(self) -> None:
        """Closes the environments."""
        self.selfplay.close()


class EvaluationActor:
    """Greedy evaluation (:class:`mzero.evaluate.Evaluator`) in its own process."""

    def __init__(
        self, config: dict[str, Any], obs_shape: tuple[int, ...], num_actions: int, two_player: bool
    ) -> None:
        torch.set_num_threads(1)
        self.config = Config.from_dict(config)
        self.network = build_network(self.config, tuple(obs_shape), num_actions)
        self.evaluator = Evaluator(self.config, two_player)

    def pid(self) -> int:
        """The actor's process id (for fault tests)."""
        return os.getpid()

    def evaluate(self, weights: dict[str, torch.Tensor], seed: int) -> tuple[dict[str, float], int]:
        """The evaluation metrics of ``weights``, and the process id that computed them
        (a new one: the actor was restarted)."""
        self.network.load_state_dict(weights)
        return self.evaluator(self.network, seed), os.getpid()


class ReanalyzeActor:
    """Reanalyze (:class:`mzero.reanalyze.Reanalyzer`) of sampled batches in its own
    process, with its copy of the learner's target network."""

    def __init__(
        self, config: dict[str, Any], obs_shape: tuple[int, ...], num_actions: int, two_player: bool
    ) -> None:
        torch.set_num_threads(1)
        self.config = Config.from_dict(config)
        network = build_network(self.config, tuple(obs_shape), num_actions)
        self.target_network = network.eval().requires_grad_(False)
        self.reanalyzer = Reanalyzer(self.target_network, self.config, two_player)
        self.version = -1
        """Learner steps of the target network; -1 before the first one."""

    def pid(self) -> int:
        """The worker's process id (for fault tests)."""
        return os.getpid()

    def set_target(self, version: int, weights: dict[str, torch.Tensor]) -> None:
        """Reanalyses with ``weights`` from now on, unless a newer version came first."""
        if version > self.version:
            self.target_network.load_state_dict(weights)
            self.version = version

    def reanalyze(self, sample: Any, seed: int) -> Reanalysis | None:
        """The fresh targets of ``sample`` (a :class:`mzero.SampleBatch` sampled with
        ``reanalysis=True``); None before the first target network (a restarted
        process), so that no batch is reanalysed by untrained weights."""
        if self.version < 0:
            return None
        return self.reanalyzer(sample, np.random.default_rng(seed))


def _start_ray(config: Config) -> tuple[Any, bool]:
    """``(ray, started_here)``: joins ``actors.ray_address`` (with a warning if it is not
    on loopback) or starts a local Ray; Ray's usage statistics off unless the user
    chose (``RAY_USAGE_STATS_ENABLED``). A Ray already initialised is used as it is."""
    ray = _ray()
    address = config.actors.ray_address
    if ray.is_initialized():
        return ray, False
    _usage_stats_off()
    if address is not None:
        _warn_if_exposed(address)
        kwargs: dict[str, Any] = {}
        if address.split(":")[0] in ("127.0.0.1", "localhost"):
            # a cluster on this machine's loopback: the driver's node is there too
            _keep_ray_on_loopback()
            kwargs["_node_ip_address"] = "127.0.0.1"
        ray.init(address=address, log_to_driver=False, **kwargs)
        return ray, True
    _keep_ray_on_loopback()
    actors = config.actors
    cpus = max(os.cpu_count() or 1, actors.num_actors + actors.reanalyze_workers + 1)
    root = _start_watchdog()
    ray.init(
        address="local",  # a new instance, even where RAY_ADDRESS names another
        num_cpus=cpus,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
        **({} if root is None else {"_temp_dir": root}),
    )
    return ray, True


class RayExperience:
    """The experience source of an actor run (:class:`mzero.experience.ExperienceSource`):
    the self-play actors and the reanalyze workers on Ray (module docstring).

    :meth:`start` starts Ray (or joins ``actors.ray_address``), the actors and the
    workers; :meth:`close` stops them, and Ray if it started it. Its limiter counts
    the transitions of finished games and keeps ``train.train_ratio`` learner steps per
    transition in a band of ``actors.rate_error_buffer`` (default: one task's worth for
    every actor).
    """

    def __init__(self, trainer: Trainer) -> None:
        config = trainer.config
        actors, train = config.actors, config.train
        if actors.num_actors < 1:
            raise InvalidArgumentError(
                f"actors.num_actors: expected >= 1 for ActorTrainer, got {actors.num_actors}"
            )
        self.config = config
        self.obs_shape, self.num_actions = trainer.obs_shape, trainer.num_actions
        self.two_player = trainer.two_player
        self.learner = trainer.learner
        self.replay = trainer.replay
        task = actors.steps_per_task * train.num_envs
        error_buffer = actors.rate_error_buffer or max(
            1.0, train.train_ratio * task * actors.num_actors
        )
        self.limiter = SampleToInsertRatio(train.train_ratio, train.min_replay, error_buffer)
        self.throughput = Throughput()
        self.actor_restarts = 0
        self.resumed_at = 0
        """Env steps of the snapshot this run resumed from (0: a fresh run): the actors'
        seeds take it in (:func:`actor_seed`)."""
        self.weight_lags: list[int] = []
        self.actor_places: dict[int, tuple[str, int]] = {}
        """Actor index -> (node id, process id), as last seen (monitoring, fault tests)."""
        self.ray: Any = None
        self.fleet: _Fleet | None = None
        """The self-play actors, from :meth:`start` to :meth:`stop`."""
        self.reanalysis: _ReanalysisPool | None = None
        """The reanalyze workers (``actors.reanalyze_workers``), from :meth:`start` to
        :meth:`stop`."""
        self._started_ray = False
        self._unconfirmed = False
        """Actors and workers started but not yet seen running."""

    @property
    def network(self) -> torch.nn.Module:
        return self.learner.network

    @property
    def train_steps(self) -> int:
        return self.learner.train_steps

    def start(self) -> None:
        self.ray, self._started_ray = _start_ray(self.config)
        self.fleet = _Fleet(self.ray, self)
        if self.config.actors.reanalyze_workers > 0:
            self.reanalysis = _ReanalysisPool(self.ray, self)
        # waited for at the first step: the actors, workers and evaluation start together
        self._unconfirmed = True

    def step(self, temperature: float, learner_busy: bool) -> Experience:
        fleet = self._fleet()
        if self._unconfirmed:  # a cluster without room fails here
            fleet.wait_started()
            if self.reanalysis is not None:
                self.reanalysis.wait_started()
            self._unconfirmed = False
        fleet.dispatch(temperature)
        # nothing learned: wait a little for the actors (briefly while reanalysed
        # batches are due)
        wait = 0.0 if learner_busy else 0.005 if self.reanalysis is not None else 0.05
        experience = Experience()
        for result in fleet.collect(timeout=wait):
            experience.episodes.extend(self._insert(result, fleet.version))
            experience.env_steps += result["env_steps"]
        return experience

    def _fleet(self) -> _Fleet:
        if self.fleet is None:
            raise InvalidArgumentError("RayExperience: not started (or stopped)")
        return self.fleet

    def _insert(self, result: dict[str, Any], version: int) -> list[EpisodeStats]:
        """Puts an actor task's finished games into the replay buffer and counts them;
        returns their statistics."""
        transitions = 0
        for game in result["games"]:
            self.replay.add_game(**game)
            # the positions it adds to be sampled: a segment's own, or the game's moves
            segment = game["segment"]
            transitions += len(game["actions"]) if segment is None else segment[1] - segment[0]
        # the limiter counts what the learner can sample: transitions of finished games
        self.limiter.inserted(transitions)
        self.throughput.add(**result["counts"])
        if result["version"] >= 0:
            self.weight_lags.append(version - result["version"])
        return [EpisodeStats(r, n, terminated=t) for r, n, t in result["stats"]]

    def begin_learning(self, env_steps: int, learning_start: int, train_steps: int) -> None:
        pass  # the limiter counted every transition from the start

    def learn(self, learner: Any, more: Callable[[], bool]) -> tuple[int, dict[str, float]]:
        """Up to 8 learner steps while the limiter allows; with reanalyze workers, on
        the batches they finished."""
        if self.reanalysis is not None:
            return self.reanalysis.learn(learner, self.limiter, more)
        return learn_paced(self.limiter, learner, more, most=8)

    def publish(self, train_steps: int, network: torch.nn.Module) -> None:
        """Sends the weights to the actors every ``actors.weight_sync_interval`` steps."""
        fleet = self._fleet()
        if train_steps - fleet.version >= self.config.actors.weight_sync_interval:
            fleet.publish(train_steps, network)

    def take_counts(self) -> Throughput:
        return self.throughput.take()

    def metrics(self) -> dict[str, float]:
        metrics: dict[str, float] = {"samples_per_insert": round(self.limiter.ratio, 4)}
        if self.weight_lags:
            metrics["weight_lag"] = float(np.mean(self.weight_lags))
            self.weight_lags.clear()
        metrics["actor_restarts"] = self.actor_restarts
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {
            "selfplay_rng": None,
            "limiter": self.limiter.state_dict(),
            "actor_restarts": self.actor_restarts,
        }

    def load_state_dict(self, state: dict[str, Any], env_steps: int) -> None:
        self.resumed_at = env_steps
        if "limiter" in state:
            self.limiter.load_state_dict(state["limiter"])
            self.actor_restarts = state["actor_restarts"]
        else:  # an in-process run continued with actors: start balanced
            stored, train = self.replay.positions, self.config.train
            balanced = max(0, round((stored - train.min_replay) * train.train_ratio))
            self.limiter.load_state_dict({"inserts": stored, "samples": balanced})

    def stop(self) -> None:
        """Stops the actors and workers (their games and batches in flight are dropped)."""
        fleet, self.fleet = self.fleet, None
        pool, self.reanalysis = self.reanalysis, None
        try:
            if fleet is not None:
                fleet.kill()
        finally:
            if pool is not None:
                pool.kill()

    def close(self) -> None:
        """:meth:`stop`, and Ray shut down if :meth:`start` started it."""
        try:
            self.stop()
        finally:
            if self._started_ray:
                self._started_ray = False
                self.ray.shutdown()


class ActorTrainer(Trainer):
    """The training loop of :class:`mzero.train.Trainer` with self-play in Ray actors
    (:class:`RayExperience`) and evaluations in an :class:`EvaluationActor`
    (:class:`AsyncEvaluation`); module docstring.

    Same constructor, run directory, snapshots and :meth:`resume` as
    :class:`mzero.train.Trainer`; :meth:`run` starts Ray (or joins
    ``actors.ray_address``), the actors and the evaluation actor, and stops them
    when it returns, however it ends.
    """

    experience: RayExperience

    def _make_experience(self) -> RayExperience:
        return RayExperience(self)

    def _make_evaluation(self) -> AsyncEvaluation:
        return AsyncEvaluation(self.experience.ray, self)

    @property
    def actor_restarts(self) -> int:
        """Deaths of actors, workers and the evaluation actor, over the run's lives."""
        return self.experience.actor_restarts

    @actor_restarts.setter
    def actor_restarts(self, value: int) -> None:
        self.experience.actor_restarts = value

    @property
    def actor_places(self) -> dict[int, tuple[str, int]]:
        """Actor index -> (node id, process id), as last seen."""
        return self.experience.actor_places

    @property
    def reanalysis(self) -> _ReanalysisPool | None:
        """The reanalyze workers while :meth:`run` runs."""
        return self.experience.reanalysis

    @property
    def limiter(self) -> SampleToInsertRatio:
        return self.experience.limiter


class _Fleet:
    """The self-play actors of a run and their tasks in flight."""

    def __init__(self, ray: Any, trainer: RayExperience) -> None:
        config = trainer.config
        self.ray = ray
        self.trainer = trainer
        self.steps_per_task = config.actors.steps_per_task
        self.task_size = config.actors.steps_per_task * config.train.num_envs
        remote = ray.remote(SelfPlayActor).options(
            max_restarts=-1,
            max_task_retries=0,
            num_cpus=config.actors.actor_cpus,
            scheduling_strategy="SPREAD",  # across the cluster's nodes
        )
        args = (config.to_dict(), trainer.obs_shape, trainer.num_actions)
        self.actors = [
            remote.remote(*args, seed=config.train.seed, index=i, resumed_at=trainer.resumed_at)
            for i in range(config.actors.num_actors)
        ]
        self.version = -1
        self.weights: Any = None
        self.publish(trainer.train_steps, trainer.network)
        self.places = [a.where.remote() for a in self.actors]
        """Where each actor runs, once it started (:meth:`wait_started`)."""
        self.pending: dict[Any, int] = {}
        """Task result -> actor index."""
        self.idle = list(range(len(self.actors)))

    def wait_started(self) -> None:
        """Waits until every actor started (:data:`ACTOR_START_TIMEOUT_S` at most, then
        :class:`InvalidArgumentError`) and notes where each runs."""
        places = _wait_started(
            self.ray,
            self.actors,
            self.places,
            "actors.num_actors",
            "self-play actors",
            self.trainer.config.actors.actor_cpus,
        )
        self.trainer.actor_places = dict(enumerate(places))

    def publish(self, version: int, network: torch.nn.Module) -> None:
        """Puts the weights into the object store once; every actor loads them
        between two tasks."""
        self.version = version
        self.weights = self.ray.put(_cpu_state(network))
        for actor in self.actors:
            actor.set_weights.remote(version, self.weights)

    def dispatch(self, temperature: float) -> None:
        """Hands idle actors a task while the rate limiter lets them insert (counting
        the tasks in flight)."""
        limiter = self.trainer.limiter
        while self.idle and limiter.can_insert(self.task_size * (len(self.pending) + 1)):
            i = self.idle.pop()
            self.pending[self.actors[i].play.remote(self.steps_per_task, temperature)] = i

    def collect(self, timeout: float) -> list[dict[str, Any]]:
        """The results of the tasks that finished within ``timeout`` seconds; an actor
        whose process died is counted in ``actor_restarts`` and sent the weights again
        (Ray restarts it; its unfinished games are lost)."""
        ready, _ = self.ray.wait(list(self.pending), num_returns=1, timeout=timeout)
        results = []
        errors = (self.ray.exceptions.RayActorError, self.ray.exceptions.ActorUnavailableError)
        for ref in ready:
            i = self.pending.pop(ref)
            self.idle.append(i)
            try:
                result = self.ray.get(ref)  # ready (ray.wait): returns at once
            except errors:
                result = None
            node, known_pid = self.trainer.actor_places[i]
            # died during this task, or between tasks (a new process answered); the
            # tasks that fail while it restarts (pid -1) are the same death
            if known_pid >= 0 and (result is None or result["pid"] != known_pid):
                self.trainer.actor_restarts += 1
                log.warning("self-play actor %d died; Ray restarts it", i)
                self.actors[i].set_weights.remote(self.version, self.weights)
            self.trainer.actor_places[i] = (node, -1 if result is None else result["pid"])
            if result is not None:
                results.append(result)
        return results

    def kill(self) -> None:
        """Stops every actor (their unfinished games are dropped)."""
        for actor in self.actors:
            self.ray.kill(actor)


def _owned(reanalysis: Reanalysis) -> Reanalysis:
    """``reanalysis`` with writable copies of its arrays: those Ray hands over are
    read-only views of its object store, which torch must not wrap."""
    arrays = {
        f.name: np.array(getattr(reanalysis, f.name))
        for f in dataclasses.fields(reanalysis)
        if isinstance(getattr(reanalysis, f.name), np.ndarray)
    }
    return dataclasses.replace(reanalysis, **arrays)


class _ReanalysisPool:
    """The reanalyze workers of a run and the sampled batches in flight to them."""

    def __init__(self, ray: Any, trainer: RayExperience) -> None:
        config = trainer.config
        self.ray = ray
        self.trainer = trainer
        remote = ray.remote(ReanalyzeActor).options(
            max_restarts=-1, max_task_retries=0, num_cpus=config.actors.actor_cpus
        )
        args = (config.to_dict(), trainer.obs_shape, trainer.num_actions, trainer.two_player)
        self.workers = [remote.remote(*args) for _ in range(config.actors.reanalyze_workers)]
        self.pids = [w.pid.remote() for w in self.workers]
        """The workers' process ids, once they started (:meth:`wait_started`)."""
        self.version = -1
        self.weights: Any = None
        learner = trainer.learner
        if learner.target_update_due():
            learner.update_target_network()
        self.publish(learner.train_steps, learner.target_network)
        self.pending: dict[Any, tuple[Any, int]] = {}
        """Result -> (the sampled batch, the worker index)."""
        self.next_worker = 0

    def wait_started(self) -> None:
        """Waits until every worker started (:data:`ACTOR_START_TIMEOUT_S` at most, then
        :class:`InvalidArgumentError`)."""
        _wait_started(
            self.ray,
            self.workers,
            self.pids,
            "actors.reanalyze_workers",
            "reanalyze workers",
            self.trainer.config.actors.actor_cpus,
        )

    def publish(self, version: int, target_network: torch.nn.Module | None) -> None:
        """Puts the target network into the object store once and tells every worker."""
        if target_network is None:
            raise InvalidArgumentError("reanalyze: expected it on with actors.reanalyze_workers")
        self.version = version
        self.weights = self.ray.put(_cpu_state(target_network))
        for worker in self.workers:
            worker.set_target.remote(version, self.weights)

    def has_room(self) -> bool:
        """Fewer than two batches per worker in flight (one being reanalysed, one queued)."""
        return len(self.pending) < 2 * len(self.workers)

    def submit(self, sample: Any, seed: int) -> None:
        """Sends ``sample`` to the next worker, round robin."""
        i = self.next_worker
        self.next_worker = (i + 1) % len(self.workers)
        self.pending[self.workers[i].reanalyze.remote(sample, seed)] = (sample, i)

    def finished(self) -> list[tuple[Any, Reanalysis]]:
        """The batches reanalysed so far, with their fresh targets. A batch whose worker
        died is dropped; the worker is counted in ``actor_restarts`` and sent the target
        network again (Ray restarts it)."""
        if not self.pending:
            return []
        ready, _ = self.ray.wait(list(self.pending), num_returns=len(self.pending), timeout=0)
        done = []
        errors = (self.ray.exceptions.RayActorError, self.ray.exceptions.ActorUnavailableError)
        for ref in ready:
            sample, i = self.pending.pop(ref)
            try:
                reanalysis = self.ray.get(ref)  # ready (ray.wait): returns at once
            except errors:
                self.trainer.actor_restarts += 1
                log.warning("reanalyze worker %d died; Ray restarts it", i)
                self.workers[i].set_target.remote(self.version, self.weights)
                continue
            if reanalysis is not None:
                done.append((sample, _owned(reanalysis)))
        return done

    def learn(
        self, learner: Any, limiter: SampleToInsertRatio, more: Callable[[], bool]
    ) -> tuple[int, dict[str, float]]:
        """Learner steps on the batches the workers finished (the target network
        published again when it is refreshed); then samples ahead for them while
        ``limiter`` allows (a batch counts as sampled when it is drawn). Returns the
        steps taken and the last losses."""
        steps, losses = 0, {}
        for sample, reanalysis in self.finished():
            if not more():
                break
            losses = learner.learn(learner.take_reanalysis(sample, reanalysis))
            steps += 1
            if learner.target_update_due():
                learner.update_target_network()
                self.publish(learner.train_steps, learner.target_network)
        while self.has_room() and limiter.can_sample() and more():
            self.submit(learner.sample(), int(learner.rng.integers(2**63)))
            limiter.sampled()
        return steps, losses

    def kill(self) -> None:
        """Stops every worker (the batches in flight are dropped)."""
        for worker in self.workers:
            self.ray.kill(worker)


class AsyncEvaluation:
    """Evaluations in an :class:`EvaluationActor`, one at a time, on copies of the weights.

    Ray restarts the actor after its process dies (``max_restarts=-1``); the evaluation
    it was running is sent again, with the same network and seed, so it is not lost. A
    death is counted in the trainer's ``actor_restarts``: noticed by a failed evaluation,
    or, between two evaluations, by a new process id.
    """

    def __init__(self, ray: Any, trainer: ActorTrainer) -> None:
        self.ray = ray
        self.trainer = trainer
        config = trainer.config
        self.actor = (
            ray.remote(EvaluationActor)
            .options(num_cpus=0, max_restarts=-1, max_task_retries=0)
            .remote(config.to_dict(), trainer.obs_shape, trainer.num_actions, trainer.two_player)
        )
        self.running: tuple[Any, dict[str, Any]] | None = None
        """(result, the evaluation: :meth:`pending`'s dict)."""
        self.pid: int | None = None
        """Process id of the actor at its last evaluation; None before the first."""
        self.failed = False
        """The last evaluation failed (its process died, already counted)."""
        self.env_steps: int | None = None
        """Env steps of the network of the last result."""
        self.closed = False

    @property
    def idle(self) -> bool:
        return self.running is None

    def submit(self, evaluation: dict[str, Any] | None = None) -> None:
        """Evaluates ``evaluation`` (:meth:`pending`'s dict, e.g. a snapshot's), or by
        default a copy of the current network at the current env steps."""
        if evaluation is None:
            trainer = self.trainer
            checkpoint = trainer.checkpoint() | {"network": _cpu_state(trainer.network)}
            seed = int(trainer.rng.integers(2**31))
            evaluation = {"checkpoint": checkpoint, "env_steps": trainer.env_steps, "seed": seed}
        network = evaluation["checkpoint"]["network"]
        ref = self.actor.evaluate.remote(network, evaluation["seed"])
        self.running = (ref, evaluation)

    def pending(self) -> dict[str, Any] | None:
        """The evaluation in flight, for a snapshot: ``{"checkpoint": the evaluated
        network's checkpoint, "env_steps": its env steps, "seed": the evaluation's
        seed}``; None when idle."""
        return None if self.running is None else self.running[1]

    def poll(self) -> dict[str, float] | None:
        """The metrics of the running evaluation if it finished (and ``best.pt`` kept
        if it was the best), else None. An evaluation whose process died is counted in
        ``actor_restarts`` and sent again to the restarted actor."""
        if self.running is None or not self.ray.wait([self.running[0]], timeout=0)[0]:
            return None
        ref, evaluation = self.running
        errors = (self.ray.exceptions.RayActorError, self.ray.exceptions.ActorUnavailableError)
        try:
            metrics, pid = self.ray.get(ref)  # ready (ray.wait): returns at once
        except errors:
            # failures in a row (tasks sent while Ray restarts it) are the same death
            if not self.failed:
                self._died(evaluation)
            self.failed = True
            self.submit(evaluation)
            return None
        if self.pid is not None and pid != self.pid and not self.failed:
            self._died(None)  # between two evaluations
        self.pid, self.failed = pid, False
        self.running = None
        self.env_steps = evaluation["env_steps"]
        self.trainer._keep_best(metrics, evaluation["checkpoint"], evaluation["env_steps"])
        return metrics

    def _died(self, evaluation: dict[str, Any] | None) -> None:
        self.trainer.actor_restarts += 1
        if evaluation is None:
            log.warning("evaluation actor died; Ray restarted it")
        else:
            log.warning(
                "evaluation actor died; Ray restarts it and the evaluation at %d env steps "
                "runs again",
                evaluation["env_steps"],
            )

    def close(self) -> None:
        """Stops the actor (an evaluation in flight is dropped)."""
        if not self.closed:
            self.closed = True
            self.ray.kill(self.actor)
