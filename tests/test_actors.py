"""Self-play actors on Ray: a real two-node cluster, actors (self-play and evaluation)
killed with SIGKILL, a driver killed with SIGKILL, what a local run listens on, actors
that cannot start, the warning for a cluster off loopback and Ray's usage statistics."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from mzero import actors  # noqa: E402
from mzero.actors import ActorTrainer, _cpu_state  # noqa: E402
from mzero.config import apply_overrides, preset  # noqa: E402
from mzero.errors import InvalidArgumentError  # noqa: E402
from mzero.reanalyze import Reanalysis, Reanalyzer  # noqa: E402
from mzero.recorder import _postfix  # noqa: E402
from mzero.train import _trainer_class  # noqa: E402

SMALL = {
    "train.num_envs": 8,
    "train.batch_size": 32,
    "train.min_replay": 200,
    "train.log_interval": 10,
    "train.eval_interval": 1_000,
    "train.eval_episodes": 2,
    "search.num_simulations": 8,
    "actors.steps_per_task": 2,
}


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node, both on 127.0.0.1, started by the test.

    Ray rewrites a 127.0.0.1 cluster address to the machine's own address unless
    clusters are "not enabled" (its setting for single-machine macOS and Windows):
    that setting keeps every address on loopback, in this process and its children.
    """
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    patch = pytest.MonkeyPatch()
    patch.setenv(ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR, "0")
    patch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    cluster.add_node(num_cpus=2, node_ip_address="127.0.0.1")
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()
    patch.undo()


def test_actors_on_two_nodes_survive_killed_actors(cluster, tmp_path: Path) -> None:
    config = apply_overrides(
        preset("cartpole"),
        SMALL
        | {
            "train.max_env_steps": 2_500,
            "actors.num_actors": 2,
            "actors.ray_address": cluster.address,
        },
    )
    trainer = ActorTrainer(config, tmp_path, progress=False)
    assert not hasattr(trainer, "selfplay")  # self-play runs in the actors
    outcome: dict[str, object] = {}
    thread = threading.Thread(target=lambda: outcome.update(metrics=trainer.run()))
    thread.start()
    deadline = time.monotonic() + 240
    while not trainer.actor_places and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    places = dict(trainer.actor_places)
    assert len(places) == 2
    # SPREAD scheduling: one actor on each node
    assert len({node for node, _ in places.values()}) == 2
    evaluation = trainer.evaluation
    assert evaluation is not None
    evaluation_pid = ray.get(evaluation.actor.pid.remote())
    while trainer.env_steps < 600 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(places[0][1], signal.SIGKILL)
    # the evaluation actor too, while it evaluates: the evaluation is sent again to the
    # restarted process (the run is held open until that one has answered)
    while evaluation.running is None and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    trainer.config.train.max_env_steps = 10**9
    killed_at = trainer.env_steps
    os.kill(evaluation_pid, signal.SIGKILL)
    deadline = time.monotonic() + 240
    while (
        evaluation.pid in (None, evaluation_pid)
        and thread.is_alive()
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    trainer.config.train.max_env_steps = 2_500
    thread.join(timeout=300)
    assert not thread.is_alive()
    metrics = outcome["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["actor_restarts"] == 2
    assert metrics["env_steps"] >= 2_500
    assert metrics["train_steps"] > 0 and "eval_return_mean" in metrics
    # the rate limiter kept the learner near train_ratio learner steps per env step
    assert 0.5 * 0.25 <= metrics["samples_per_insert"] <= 1.5 * 0.25
    # the progress bar shows the actor fields and the throughput too
    assert {"env/s", "learner/s", "spi", "restarts"} <= set(_postfix(metrics))
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    # the evaluation actor's results after its death (the last line is the driver's own)
    assert [x for x in lines[:-1] if "eval_return_mean" in x and x["env_steps"] >= killed_at]
    lags = [line["weight_lag"] for line in lines if "weight_lag" in line]
    assert lags and min(lags) >= 0
    assert (tmp_path / "checkpoints" / "best.pt").exists()
    assert trainer.rundir.latest_snapshot() is not None
    assert ray.is_initialized() is False  # the trainer disconnected what it connected

    # a snapshot taken while an evaluation was in flight (written here, by a resumed
    # trainer that pretends to evaluate): the resumed run evaluates it first, with its
    # own network and env steps
    stopped = ActorTrainer.resume(tmp_path, progress=False)
    pending = {
        "checkpoint": stopped.checkpoint() | {"network": _cpu_state(stopped.network)},
        "env_steps": 1_234,
        "seed": 5,
    }
    stopped.pending_evaluation = pending
    with open(tmp_path / "metrics.jsonl", "a", encoding="utf-8") as stopped.log:
        stopped.snapshot()
    stopped.log = None

    # resumed with actors: replay, counters and the limiter continue from the snapshot
    # (the run is held open until the snapshot's evaluation is in)
    before = len(lines)
    limit = metrics["env_steps"] + 1_500
    overrides = {"train.max_env_steps": 10**9, "train.keep_eval_checkpoints": True}
    resumed = ActorTrainer.resume(tmp_path, overrides, progress=False)
    assert _trainer_class(resumed.config) is ActorTrainer  # as mzero.train.resume picks
    thread = threading.Thread(target=lambda: outcome.update(again=resumed.run()))
    thread.start()
    kept_path = tmp_path / "checkpoints" / "env_steps_000001234.pt"
    deadline = time.monotonic() + 240
    while not kept_path.exists() and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    resumed.config.train.max_env_steps = limit
    thread.join(timeout=300)
    assert not thread.is_alive()
    again = outcome["again"]
    assert isinstance(again, dict)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    first = lines[before]
    assert first["resumed"] is True and first["env_steps"] >= metrics["env_steps"]
    assert first["train_steps"] >= metrics["train_steps"]
    assert first["replay_transitions"] >= metrics["replay_transitions"]
    assert again["env_steps"] >= limit
    assert again["actor_restarts"] == metrics["actor_restarts"]  # counted over the lives
    kept = torch.load(kept_path, weights_only=True)
    for name, weights in pending["checkpoint"]["network"].items():
        assert torch.equal(kept["network"][name], weights)


def test_reanalyze_workers_compute_the_learners_targets(
    cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the driver may not reanalyse: every fresh target comes from the worker process
    def refuse(*args: object) -> None:
        raise AssertionError("the driver reanalysed a batch")

    written_back = []
    write_back = Reanalysis.write_back
    monkeypatch.setattr(Reanalyzer, "__call__", refuse)
    monkeypatch.setattr(
        Reanalysis,
        "write_back",
        lambda self, replay: (written_back.append(len(self.policy)), write_back(self, replay)),
    )
    config = apply_overrides(
        preset("cartpole-efficient"),
        SMALL
        | {
            "train.max_env_steps": 1_000,
            "train.eval_interval": 0,
            "reanalyze.num_simulations": 4,
            "reanalyze.target_update_interval": 20,
            "actors.num_actors": 1,
            "actors.reanalyze_workers": 1,
            "actors.ray_address": cluster.address,
        },
    )
    trainer = ActorTrainer(config, tmp_path, progress=False)
    outcome: dict[str, object] = {}
    thread = threading.Thread(target=lambda: outcome.update(metrics=trainer.run()))
    thread.start()
    deadline = time.monotonic() + 240
    while trainer.train_steps < 100 and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    # a killed worker loses its batches in flight; Ray restarts it and the run goes on
    pool = trainer.reanalysis
    assert pool is not None
    os.kill(ray.get(pool.workers[0].pid.remote()), signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()
    metrics = outcome["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["actor_restarts"] >= 1
    assert metrics["train_steps"] > 200 and metrics["reanalyze_s"] > 0
    # one write-back per learner step, each with re-searched policies
    assert len(written_back) == metrics["train_steps"] and min(written_back) > 0
    assert 0.5 * 1.0 <= metrics["samples_per_insert"] <= 1.5 * 1.0  # train_ratio 1


def test_stochastic_muzero_and_8_bit_observations_train_with_an_actor(
    cluster, tmp_path: Path
) -> None:
    config = apply_overrides(
        preset("2048"),
        SMALL
        | {
            "network.hidden": (32,),
            "network.latent_dim": 16,
            "train.min_replay": 100,
            "train.segment_length": 20,
            "train.max_env_steps": 300,
            "train.eval_interval": 0,
            "train.learner_step": "eager",
            "actors.num_actors": 1,
            "actors.ray_address": cluster.address,
        },
    )
    trainer = ActorTrainer(config, tmp_path, progress=False)
    metrics = trainer.run()
    # the actor plays with chance nodes (Reanalyze with them: test_stochastic.py), the
    # learner trains the afterstate terms
    assert metrics["train_steps"] > 0
    assert metrics["loss_commitment"] >= 0 and "loss_afterstate_value" in metrics
    # 2048's 8-bit planes came through Ray's object store as they are
    assert trainer.replay.obs_dtype == np.uint8 and len(trainer.replay) > 0


def test_minatar_frames_train_a_resnet_with_an_actor_and_resume(
    cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Image observations on Ray: the actor's games reach the driver through the object
    store as uint8 ``[C, 10, 10]`` frames (MinAtar Breakout's 0/1 planes), fill a uint8
    replay and train the convolutional network; a resumed run (replay from the
    snapshot) takes the actor's frames again."""
    pytest.importorskip("minatar")
    received: list[np.ndarray] = []
    insert = actors.RayExperience._insert

    def spy(self: actors.RayExperience, result: dict[str, Any], version: int) -> Any:
        received.extend(game["observations"] for game in result["games"])
        return insert(self, result, version)

    monkeypatch.setattr(actors.RayExperience, "_insert", spy)
    config = apply_overrides(
        preset("minatar"),
        SMALL
        | {
            "env.max_episode_steps": 60,
            "network.channels": 4,
            "network.head_channels": 2,
            "network.hidden": (16,),
            "network.value_support": 5,
            "train.batch_size": 16,
            "train.min_replay": 100,
            "train.segment_length": 20,
            "train.max_env_steps": 300,
            "train.eval_interval": 0,
            "search.num_simulations": 4,
            "actors.num_actors": 1,
            "actors.ray_address": cluster.address,
        },
    )
    trainer = ActorTrainer(config, tmp_path, progress=False)
    metrics = trainer.run()
    assert metrics["env_steps"] >= 300 and metrics["train_steps"] > 0
    # Breakout's four planes, kept as 8 bits from the actor's environments to the replay
    assert trainer.obs_shape == (4, 10, 10) and trainer.replay.obs_dtype == np.uint8
    assert received and all(o.dtype == np.uint8 and o.shape[1:] == (4, 10, 10) for o in received)
    # 0/1 planes, channels first: every frame's plane 0 is the paddle, one cell of the
    # bottom row
    frames = np.concatenate(received)
    assert frames.max() == 1
    assert (frames[:, 0, 9].sum(axis=1) == 1).all() and frames[:, 0, :9].max() == 0
    sample = trainer.replay.sample(8, 0)
    assert sample.observation.dtype == np.uint8 and sample.observation.shape == (8, 1, 4, 10, 10)
    # the learner trained the convolutional network on the 10 x 10 board
    assert config.network.kind == "resnet" and trainer.network.latent_shape == (4, 10, 10)

    stored = len(trainer.replay)
    received.clear()
    resumed = ActorTrainer.resume(tmp_path, {"train.max_env_steps": 450}, progress=False)
    assert len(resumed.replay) == stored and resumed.replay.obs_dtype == np.uint8
    again = resumed.run()
    assert again["env_steps"] >= 450 and again["train_steps"] > metrics["train_steps"]
    assert received and all(o.dtype == np.uint8 for o in received)
    assert len(resumed.replay) > stored


def test_actor_seeds_differ_after_a_resume_and_a_restart() -> None:
    """A fresh run's actors keep their seeds (seed, index); a resumed run's actors and a
    restarted actor get others, so none replays the game seeds of an earlier life."""
    fresh = {actors.actor_seed(0, i) for i in range(4)}
    assert len(fresh) == 4 and actors.actor_seed(0, 0) == actors.actor_seed(0, 0, 0, None)
    later = {actors.actor_seed(0, i, resumed_at=5_000) for i in range(4)}
    other = {actors.actor_seed(0, i, resumed_at=6_000) for i in range(4)}
    restarted = {actors.actor_seed(0, i, pid=1234) for i in range(4)}
    assert len(fresh | later | other | restarted) == 16


def test_actor_mode_needs_actors_and_in_process_never_imports_ray(tmp_path: Path) -> None:
    config = apply_overrides(preset("cartpole"), SMALL | {"train.max_env_steps": 16})
    with pytest.raises(InvalidArgumentError, match=r"actors\.num_actors: expected >= 1"):
        ActorTrainer(config, tmp_path / "a", progress=False)
    code = (
        "import sys; from mzero.config import apply_overrides, preset; from mzero.train import "
        "train; train(apply_overrides(preset('cartpole'), {'train.max_env_steps': 16, "
        "'train.num_envs': 8, 'train.eval_interval': 0, 'search.num_simulations': 4}), "
        f"{str(tmp_path / 'b')!r}, progress=False); print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_actors_that_cannot_start_stop_the_run_with_an_error(
    cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no node of the cluster (1 and 2 CPUs) has room for an actor that asks for 4
    monkeypatch.setattr(actors, "ACTOR_START_TIMEOUT_S", 1.0)
    config = apply_overrides(
        preset("cartpole"),
        SMALL
        | {
            "train.max_env_steps": 100,
            "actors.num_actors": 1,
            "actors.actor_cpus": 4,
            "actors.ray_address": cluster.address,
        },
    )
    trainer = ActorTrainer(config, tmp_path, progress=False)
    message = (
        r"actors\.num_actors: 1 self-play actors did not start within 1 s; the Ray cluster "
        r"has 3 CPUs \(\d+ free\), each actor asks actors\.actor_cpus=4"
    )
    with pytest.raises(InvalidArgumentError, match=message):
        trainer.run()
    assert ray.is_initialized() is False


def test_a_failing_actor_run_shuts_ray_down_and_lets_go_of_the_directory(
    cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = apply_overrides(
        preset("cartpole"),
        SMALL
        | {
            "train.max_env_steps": 10**6,
            "train.eval_interval": 0,
            "actors.num_actors": 1,
            "actors.ray_address": cluster.address,
        },
    )
    trainer = ActorTrainer(config, tmp_path, progress=False)

    def fail(*args: object) -> None:
        raise RuntimeError("the learner failed")

    monkeypatch.setattr(trainer.learner, "train_step", fail)
    with pytest.raises(RuntimeError, match="the learner failed"):
        trainer.run()
    assert ray.is_initialized() is False
    assert trainer.experience.fleet is None and trainer.recorder.writer is None
    rundir = trainer.rundir.__class__(tmp_path)
    rundir.hold()  # released
    rundir.release()


class _FakeRay:
    """Just enough of Ray for :class:`mzero.actors.AsyncEvaluation`: the evaluations
    sent, and the answers that :meth:`get` gives in turn (an exception is raised)."""

    exceptions = ray.exceptions

    def __init__(self) -> None:
        self.options: dict[str, object] = {}
        self.sent: list[tuple[dict[str, torch.Tensor], int]] = []
        self.answers: list[object] = []
        fake = self

        class Actor:
            class evaluate:  # noqa: N801 (Ray's method.remote)
                @staticmethod
                def remote(weights: dict[str, torch.Tensor], seed: int) -> int:
                    fake.sent.append((weights, seed))
                    return len(fake.sent)

        class Remote:
            def options(self, **options: object) -> Remote:
                fake.options = options
                return self

            def remote(self, *args: object) -> Actor:
                return Actor()

        self.remote = lambda cls: Remote()

    def wait(self, refs: list[object], timeout: float) -> tuple[list[object], list[object]]:
        return refs, []

    def get(self, ref: object) -> object:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_an_evaluation_survives_its_process_and_a_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = apply_overrides(preset("cartpole"), SMALL | {"actors.num_actors": 1})
    trainer = ActorTrainer(config, tmp_path, progress=False)
    kept: list[tuple[dict[str, float], dict[str, object], int]] = []
    monkeypatch.setattr(trainer, "_keep_best", lambda *args: kept.append(args))
    fake = _FakeRay()
    # resumed from a snapshot taken while an evaluation was in flight: it goes first
    network = _cpu_state(trainer.network)
    pending = {"checkpoint": trainer.checkpoint() | {"network": network}, "env_steps": 1_234}
    trainer.pending_evaluation = pending | {"seed": 5}
    trainer.experience.ray = fake
    evaluation = trainer._start_evaluation()
    assert evaluation is not None and trainer.evaluation is evaluation
    assert fake.options == {"num_cpus": 0, "max_restarts": -1, "max_task_retries": 0}
    assert trainer.pending_evaluation is None and fake.sent == [(network, 5)]

    # a snapshot keeps the evaluation in flight (torch-saveable, weights only)
    buffer = io.BytesIO()
    torch.save(trainer._evaluation_in_flight(), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    assert saved["env_steps"] == 1_234 and saved["seed"] == 5
    for name, weights in network.items():
        assert torch.equal(saved["checkpoint"]["network"][name], weights)

    # its process dies: counted once, sent again with the same network and seed
    fake.answers = [ray.exceptions.RayActorError(), ray.exceptions.RayActorError()]
    with caplog.at_level(logging.WARNING, logger="mzero"):
        assert evaluation.poll() is None
        assert evaluation.poll() is None  # failed again while Ray restarts it: same death
    assert "evaluation actor died" in caplog.text
    assert trainer.actor_restarts == 1 and fake.sent == [(network, 5)] * 3
    fake.answers = [({"eval_return_mean": 9.0}, 101)]
    assert evaluation.poll() == {"eval_return_mean": 9.0}
    assert kept == [({"eval_return_mean": 9.0}, pending["checkpoint"], 1_234)]
    assert evaluation.idle and trainer._evaluation_in_flight() is None

    # a death between two evaluations shows as a new process id
    evaluation.submit()
    fake.answers = [({"eval_return_mean": 10.0}, 102)]
    assert evaluation.poll() == {"eval_return_mean": 10.0}
    assert trainer.actor_restarts == 2 and kept[-1][2] == trainer.env_steps


def test_a_ray_address_off_loopback_warns_and_usage_statistics_stay_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mzero")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    for address in ("127.0.0.1:6379", "localhost:6379", "[::1]:6379", "ray://127.0.0.1:10001"):
        caplog.clear()
        actors._warn_if_exposed(address)
        assert not caplog.records, address
    for address in ("10.0.0.1:6379", "auto", "head.example.org:6379", "ray://10.0.0.1:10001"):
        caplog.clear()
        actors._warn_if_exposed(address)
        assert "CVE-2023-48022" in caplog.text and "docs/distributed.md" in caplog.text
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # Ray's token authentication is on
    caplog.clear()
    actors._warn_if_exposed("10.0.0.1:6379")
    assert not caplog.records

    # off unless the user chose
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "1")
    actors._usage_stats_off()
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "1"
    monkeypatch.delenv("RAY_USAGE_STATS_ENABLED")
    actors._usage_stats_off()
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _listening(pids: set[int]) -> list[str]:
    """Local addresses of the TCP sockets in LISTEN state that ``pids`` hold."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                addresses.append(fields[1].split(":")[0])
    return addresses


LOOPBACK = {
    "0100007F",  # 127.0.0.1
    "00000000000000000000000001000000",  # ::1
    "0000000000000000FFFF00000100007F",  # ::ffff:127.0.0.1
}


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_a_killed_driver_leaves_no_process_and_a_local_run_listens_on_loopback(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "mzero",
        "train",
        "cartpole",
        "--actors",
        "1",
        "--run-dir",
        str(run_dir),
        "--no-progress",
        "--max-minutes",
        "10",
        "--train.num-envs",
        "8",
        "--search.num-simulations",
        "8",
        "--train.log-interval",
        "5",
        "--train.learner-step",
        "eager",
    ]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        metrics = run_dir / "metrics.jsonl"
        while time.monotonic() < deadline and not (
            metrics.exists() and len(metrics.read_text().splitlines()) >= 2
        ):
            assert driver.poll() is None, "the run ended early"
            time.sleep(0.5)
        processes = _descendants(driver.pid)
        assert len(processes) >= 3  # Ray's services and the actor
        addresses = _listening(processes | {driver.pid})
        assert addresses and set(addresses) <= LOOPBACK, addresses
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        time.sleep(10)
        alive = [pid for pid in processes if Path(f"/proc/{pid}").exists()]
        zombies = [pid for pid in alive if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"]
        assert sorted(set(alive) - set(zombies)) == []
    finally:
        if driver.poll() is None:
            driver.kill()
