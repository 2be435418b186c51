"""Self-play actors on Ray: a real two-node cluster, an actor killed with SIGKILL, a
driver killed with SIGKILL, and what a local run listens on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from mzero.actors import ActorTrainer  # noqa: E402
from mzero.config import apply_overrides, preset  # noqa: E402
from mzero.errors import InvalidArgumentError  # noqa: E402
from mzero.reanalyze import Reanalysis, Reanalyzer  # noqa: E402
from mzero.train import _postfix, resume  # noqa: E402

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


def test_actors_on_two_nodes_survive_a_killed_actor(cluster, tmp_path: Path) -> None:
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
    assert trainer.selfplay is None
    outcome: dict[str, object] = {}
    thread = threading.Thread(target=lambda: outcome.update(metrics=trainer.run()))
    thread.start()
    deadline = time.monotonic() + 240
    while not trainer.actor_places and time.monotonic() < deadline:
        time.sleep(0.2)
    places = dict(trainer.actor_places)
    assert len(places) == 2
    # SPREAD scheduling: one actor on each node
    assert len({node for node, _ in places.values()}) == 2
    while trainer.env_steps < 600 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(places[0][1], signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()
    metrics = outcome["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["actor_restarts"] == 1
    assert metrics["env_steps"] >= 2_500
    assert metrics["train_steps"] > 0 and "eval_return_mean" in metrics
    # the rate limiter kept the learner near train_ratio learner steps per env step
    assert 0.5 * 0.25 <= metrics["samples_per_insert"] <= 1.5 * 0.25
    # the progress bar shows the actor fields and the throughput too
    assert {"env/s", "learner/s", "spi", "restarts"} <= set(_postfix(metrics))
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    lags = [line["weight_lag"] for line in lines if "weight_lag" in line]
    assert lags and min(lags) >= 0
    assert (tmp_path / "checkpoints" / "best.pt").exists()
    assert trainer.rundir.latest_snapshot() is not None
    assert ray.is_initialized() is False  # the trainer disconnected what it connected

    # resumed with actors: replay, counters and the limiter continue from the snapshot
    before = len(lines)
    again = resume(tmp_path, {"train.max_env_steps": 4_000}, progress=False)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    first = lines[before]
    assert first["resumed"] is True and first["env_steps"] >= metrics["env_steps"]
    assert first["train_steps"] >= metrics["train_steps"]
    assert first["replay_transitions"] >= metrics["replay_transitions"]
    assert again["env_steps"] >= 4_000
    assert again["actor_restarts"] == metrics["actor_restarts"]  # counted over the lives


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
            "train.max_env_steps": 1_600,
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
