"""Resume after a crash: snapshots, ``Trainer.resume``, ``mzero train --resume``, kill -9."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import mzero
from mzero.config import apply_overrides, preset
from mzero.rundir import RunDirectory
from mzero.train import Trainer, load_checkpoint

torch.set_num_threads(1)

SMALL = {
    "train.num_envs": 8,
    "train.batch_size": 16,
    "train.min_replay": 100,
    "train.log_interval": 10,
    "train.eval_interval": 0,
    "search.num_simulations": 4,
    "train.snapshot_interval": 0.0,
}


def _lines(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _assert_one_run(lines: list[dict]) -> None:
    """No counter ever goes backwards."""
    for key in ("env_steps", "train_steps", "replay_transitions"):
        values = [line[key] for line in lines]
        assert values == sorted(values), (key, values)


def test_a_resumed_run_continues_from_its_snapshot(tmp_path: Path) -> None:
    config = apply_overrides(preset("cartpole"), SMALL | {"train.max_env_steps": 400})
    first = Trainer(config, tmp_path, progress=False)
    first.run()
    snapshot = RunDirectory(tmp_path).latest_snapshot()
    assert snapshot is not None and (snapshot / "replay.bin").exists()
    assert len(list((tmp_path / "snapshots").iterdir())) == 2  # the newest two are kept
    before = _lines(tmp_path)

    resumed = Trainer.resume(tmp_path, {"train.max_env_steps": 640}, progress=False)
    assert (resumed.env_steps, resumed.train_steps) == (first.env_steps, first.train_steps)
    assert len(resumed.replay) == len(first.replay)
    assert resumed.selfplay.env_steps == first.env_steps
    for a, b in zip(
        resumed.network.state_dict().values(), first.network.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    resumed.run()
    lines = _lines(tmp_path)
    assert lines[: len(before)] == before
    after = lines[len(before) :]
    assert after[0]["resumed"] is True and all("resumed" not in line for line in after[1:])
    assert after[0]["env_steps"] > first.env_steps
    assert after[-1]["env_steps"] == 640
    _assert_one_run(lines)


def test_a_crash_during_a_snapshot_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mzero.rundir as rundir

    config = apply_overrides(preset("cartpole"), SMALL | {"train.max_env_steps": 800})
    calls = itertools.count()
    real_replace = os.replace

    def replace(src, dst):
        # the 20th snapshot dies after its files are written, before it is renamed
        if ".tmp" in str(src) and "snapshots" in str(src) and next(calls) == 19:
            raise KeyboardInterrupt("killed mid-snapshot")
        return real_replace(src, dst)

    monkeypatch.setattr(rundir.os, "replace", replace)
    trainer = Trainer(config, tmp_path, progress=False)
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    monkeypatch.undo()
    run = RunDirectory(tmp_path)
    latest = run.latest_snapshot()
    assert latest is not None and int(latest.name) == 18
    assert list(run.snapshots.glob(".*.tmp")), "the dead snapshot's files are left behind"
    written = _lines(tmp_path)

    resumed = Trainer.resume(tmp_path, progress=False)
    state, _ = run.read_snapshot(latest)
    assert resumed.env_steps == state["checkpoint"]["env_steps"] < trainer.env_steps
    resumed.run()
    assert not list(run.snapshots.glob(".*.tmp"))  # cleaned up by the next snapshot
    lines = _lines(tmp_path)
    _assert_one_run(lines)
    # what the dead life logged after its last complete snapshot is gone
    kept = [line for line in lines if "resumed" not in line and line["env_steps"] <= 800]
    assert len(kept) < len(written) or written[-1]["env_steps"] <= resumed.env_steps
    assert lines[-1]["env_steps"] == 800


def test_a_run_directory_that_holds_a_run_is_refused(tmp_path: Path) -> None:
    config = apply_overrides(preset("cartpole"), SMALL | {"train.max_env_steps": 200})
    Trainer(config, tmp_path, progress=False).run()
    with pytest.raises(mzero.InvalidArgumentError, match=r"already holds a run.*--resume"):
        Trainer(config, tmp_path, progress=False).run()


def test_a_run_directory_held_by_another_process_is_refused_until_it_dies(
    tmp_path: Path,
) -> None:
    """A second training process on one run directory fails at once, naming the holder;
    the holder's death (kill -9 included) frees the directory."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom mzero.rundir import RunDirectory\n"
         f"run = RunDirectory({str(tmp_path)!r})\nrun.hold()\nprint('held', flush=True)\n"
         "time.sleep(600)"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        config = apply_overrides(preset("cartpole"), SMALL | {"train.max_env_steps": 200})
        pattern = rf"run_dir: .* is in use by process {holder.pid}\b"
        with pytest.raises(mzero.InvalidArgumentError, match=pattern):
            Trainer(config, tmp_path, progress=False).run()
        assert not RunDirectory(tmp_path).holds_run()  # nothing written
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        holder.stdout.close()
    Trainer(config, tmp_path, progress=False).run()  # a killed holder blocks nothing
    # and the finished run let go: the directory can be held again at once
    rundir = RunDirectory(tmp_path)
    rundir.hold()
    rundir.release()


def test_a_damaged_snapshot_falls_back_to_the_one_before_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # two snapshots: when the run starts, and when it ends
    overrides = {"train.max_env_steps": 200, "train.snapshot_interval": 1e6}
    config = apply_overrides(preset("cartpole"), SMALL | overrides)
    Trainer(config, tmp_path, progress=False).run()
    run = RunDirectory(tmp_path)
    newest, older = run.snapshots_newest_first()
    older_env_steps = run.read_snapshot(older)[0]["checkpoint"]["env_steps"]
    assert older_env_steps < Trainer.resume(tmp_path, progress=False).env_steps
    for name in ("trainer.pt", "replay.bin"):
        damaged, good = newest / name, (newest / name).read_bytes()
        damaged.write_bytes(good[: len(good) // 2])
        caplog.clear()
        assert Trainer.resume(tmp_path, progress=False).env_steps == older_env_steps
        assert f"{newest / name}" in caplog.text and "trying the snapshot before it" in caplog.text
        # both damaged: an error that names each
        other, other_good = older / name, (older / name).read_bytes()
        other.write_bytes(other_good[:10])
        first, second = (re.escape(f"{s.name}/{name}") for s in (newest, older))
        with pytest.raises(
            mzero.CorruptFileError, match=f"every snapshot is damaged: .*{first}.*{second}"
        ):
            Trainer.resume(tmp_path, progress=False)
        damaged.write_bytes(good)
        other.write_bytes(other_good)
    run.config.write_text("{ not json")
    with pytest.raises(mzero.CorruptFileError, match=r"config\.json"):
        Trainer.resume(tmp_path, progress=False)


def test_metrics_are_cut_back_to_a_whole_line(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path)
    run.metrics.write_text('{"env_steps": 1}\n{"env_steps": 2}\n{"env_st')
    run.truncate_metrics(len('{"env_steps": 1}\n{"env_steps": 2}\n{"env_st'))
    assert run.metrics.read_text() == '{"env_steps": 1}\n{"env_steps": 2}\n'
    run.truncate_metrics(len('{"env_steps": 1}\n{"env_'))
    assert run.metrics.read_text() == '{"env_steps": 1}\n'


def test_a_run_killed_before_its_first_interval_snapshot_resumes(tmp_path: Path) -> None:
    """A fresh run writes a snapshot when it starts: a kill at any later moment leaves
    something to resume from."""
    config = apply_overrides(
        preset("cartpole"),
        SMALL | {"train.snapshot_interval": 1e6, "train.max_env_steps": 200},
    )
    trainer = Trainer(config, tmp_path, progress=False)
    trainer._open_run().close()  # as the run starts, before anything is played
    trainer.rundir.release()
    assert len(RunDirectory(tmp_path).snapshots_newest_first()) == 1
    resumed = Trainer.resume(tmp_path, progress=False)
    assert (resumed.env_steps, resumed.train_steps, len(resumed.replay)) == (0, 0, 0)
    resumed.run()
    assert _lines(tmp_path)[-1]["env_steps"] == 200


def test_resume_refuses_changes_to_what_shapes_the_run(tmp_path: Path) -> None:
    config = apply_overrides(preset("cartpole"), SMALL | {"train.max_env_steps": 100})
    Trainer(config, tmp_path, progress=False).run()
    for key, value in [
        ("train.seed", 1),
        ("replay.capacity", 5000),
        ("train.td_steps", 3),
        ("train.unroll_steps", 2),
        ("search.discount", 0.9),
        ("replay.alpha", 0.5),
        ("env.frame_stack", 2),
        ("network.latent_dim", 8),
    ]:
        section, field = key.split(".")
        before = getattr(getattr(config, section), field)
        with pytest.raises(
            mzero.InvalidArgumentError, match=re.escape(f"resume: {key} ({before!r} -> ")
        ):
            Trainer.resume(tmp_path, {key: value}, progress=False)
    # the same value, or a setting that may change, is accepted
    same = {"train.seed": config.train.seed, "train.max_env_steps": 200}
    Trainer.resume(tmp_path, same | {"search.num_simulations": 2}, progress=False).run()
    assert _lines(tmp_path)[-1]["env_steps"] == 200


def test_kept_evaluation_networks_are_weights_only_and_bounded(tmp_path: Path) -> None:
    overrides = {"train.keep_eval_checkpoints": True, "train.max_eval_checkpoints": 4}
    config = apply_overrides(preset("cartpole"), SMALL | overrides)
    trainer = Trainer(config, tmp_path, progress=False)
    for env_steps in range(1, 10):
        trainer.env_steps = env_steps
        trainer._keep_best({"eval_return_mean": float(env_steps)})
        kept = RunDirectory(tmp_path).kept_checkpoints()
        assert len(kept) <= 4 and kept[0] == "env_steps_000000001.pt"
        assert kept[-1] == f"env_steps_{env_steps:09d}.pt"
    # spread over the run: no gap more than twice an even spacing's
    steps = [int(name[10:19]) for name in kept]
    assert len(kept) == 4 and max(b - a for a, b in itertools.pairwise(steps)) <= 2 * 8 / 3
    state = torch.load(tmp_path / "checkpoints" / kept[-1], weights_only=True)
    assert "network" in state and not {"optimizer", "scheduler", "target_network"} & set(state)
    assert "optimizer" in torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=True)
    assert load_checkpoint(tmp_path / "checkpoints" / kept[-1])["env_steps"] == 9


def test_a_failing_run_closes_its_environments_and_lets_go_of_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mzero.selfplay import SelfPlay

    config = apply_overrides(preset("cartpole"), SMALL | {"train.max_env_steps": 400})
    trainer = Trainer(config, tmp_path, progress=False)
    closed = []
    monkeypatch.setattr(SelfPlay, "close", lambda self: closed.append(self))

    def fail(*args: object) -> None:
        raise RuntimeError("the learner failed")

    monkeypatch.setattr(trainer.learner, "train_step", fail)
    with pytest.raises(RuntimeError, match="the learner failed"):
        trainer.run()
    assert closed == [trainer.selfplay] and trainer.log is None
    rundir = RunDirectory(tmp_path)
    rundir.hold()  # released
    rundir.release()


def test_an_environment_failing_mid_run_closes_everything_and_leaves_a_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mzero.envs.pool import LocalEnvs
    from mzero.recorder import RunRecorder

    config = apply_overrides(preset("cartpole"), SMALL | {"train.max_env_steps": 400})
    trainer = Trainer(config, tmp_path, progress=True)
    opened = []
    open_writer = RunRecorder.open_writer
    monkeypatch.setattr(
        RunRecorder, "open_writer", lambda self, steps: opened.append(open_writer(self, steps))
    )
    step, calls = LocalEnvs.step, []

    def failing_step(self: LocalEnvs, actions: list[int]) -> object:
        calls.append(1)
        if len(calls) > 30:  # mid-run: after the learner started
            raise RuntimeError("the environment failed")
        return step(self, actions)

    monkeypatch.setattr(LocalEnvs, "step", failing_step)
    with pytest.raises(RuntimeError, match="the environment failed"):
        trainer.run()
    monkeypatch.setattr(LocalEnvs, "step", step)
    recorder = trainer.recorder
    assert (recorder.log, recorder.writer, recorder.bar) == (None, None, None)
    assert len(opened) == 1 and opened[0].all_writers is None  # the writer was closed
    assert trainer.experience._closed
    rundir = RunDirectory(tmp_path)
    rundir.hold()  # released
    rundir.release()
    # the start-of-run snapshot (snapshot_interval 0: the last one before the failure)
    resumed = Trainer.resume(tmp_path, progress=False)
    assert 0 < resumed.env_steps <= 30 * config.train.num_envs
    resumed.run()
    assert _lines(tmp_path)[-1]["env_steps"] == 400


def test_a_kill_right_after_an_evaluation_rewinds_to_the_snapshot(tmp_path: Path) -> None:
    """A life killed after an evaluation but before its next snapshot: on resume,
    ``best.pt``, the kept checkpoints, ``evals.jsonl``, ``metrics.jsonl`` and ``last.pt``
    are those of the snapshot, and what interrupted writes left is gone."""
    from mzero.evals import read_evals, record_eval

    evaluated = {
        "train.eval_interval": 200,
        "train.eval_episodes": 2,
        "train.keep_eval_checkpoints": True,
        "train.learner_step": "eager",
    }
    config = apply_overrides(preset("cartpole"), SMALL | evaluated | {"train.max_env_steps": 400})
    Trainer(config, tmp_path, progress=False).run()  # evaluations at 200 and 400
    run = RunDirectory(tmp_path)
    snapshot = run.latest_snapshot()
    assert snapshot is not None
    state, _ = run.read_snapshot(snapshot)
    kept = run.kept_checkpoints()
    assert state["kept_checkpoints"] == kept and len(kept) == 2
    best = (snapshot / "best.pt").read_bytes()
    assert best == (run.checkpoints / "best.pt").read_bytes()
    entry = {"opponent": "random", "games": 2, "seed": 0, "num_simulations": 4}
    record_eval(tmp_path, entry | {"env_steps": 400, "checkpoint": kept[-1]})

    # the next life evaluates at 600 and is killed before it takes a snapshot
    life = _mzero(
        tmp_path / "life2.log",
        "--resume",
        str(tmp_path),
        "--train.max-env-steps=100000",
        "--train.snapshot-interval=1000",
    )
    deadline = time.monotonic() + 120
    while len(run.kept_checkpoints()) < 3:
        assert life.poll() is None, (tmp_path / "life2.log").read_text()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(life.pid, signal.SIGKILL)
    life.wait()
    record_eval(tmp_path, entry | {"env_steps": 600, "checkpoint": run.kept_checkpoints()[-1]})
    (run.checkpoints / ".best.pt.dead.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / ".evals.jsonl.dead.tmp").write_text("half a line")
    assert _lines(tmp_path)[-1]["env_steps"] > 400

    resumed = Trainer.resume(tmp_path, progress=False)
    resumed._open_run().close()  # the resumed life starts: the files are rewound
    resumed.rundir.release()
    assert run.kept_checkpoints() == kept
    assert (run.checkpoints / "best.pt").read_bytes() == best
    assert [e["env_steps"] for e in read_evals(tmp_path)] == [400]
    assert _lines(tmp_path)[-1]["env_steps"] == 400
    assert run.metrics.stat().st_size == state["metrics_length"]
    assert load_checkpoint(run.checkpoints / "last.pt")["env_steps"] == 400
    assert not list(tmp_path.glob("**/.*.tmp"))


def test_resume_switches_between_in_process_and_actors(tmp_path: Path) -> None:
    """in-process -> an actor and a reanalyze worker -> in-process: the counters
    continue and the learner keeps its ratio of learner steps per env step."""
    pytest.importorskip("ray")
    from mzero.train import resume

    overrides = SMALL | {
        "train.max_env_steps": 200,
        "train.learner_step": "eager",
        "reanalyze.value": True,
        "reanalyze.num_simulations": 2,
    }
    config = apply_overrides(preset("cartpole"), overrides)
    Trainer(config, tmp_path, progress=False).run()
    first = _lines(tmp_path)[-1]
    actors = {
        "actors.num_actors": 1,
        "actors.reanalyze_workers": 1,
        "actors.steps_per_task": 2,
        "train.max_env_steps": 500,
    }
    second = resume(tmp_path, actors, progress=False)
    assert second["env_steps"] >= 500 and second["train_steps"] > first["train_steps"]
    in_process = {"actors.num_actors": 0, "actors.reanalyze_workers": 0}
    third = resume(tmp_path, in_process | {"train.max_env_steps": 800}, progress=False)
    assert third["env_steps"] == 800
    played = third["env_steps"] - second["env_steps"]
    assert third["train_steps"] - second["train_steps"] >= 0.5 * config.train.train_ratio * played
    lines = _lines(tmp_path)
    _assert_one_run(lines)
    resumed = [line["env_steps"] for line in lines if line.get("resumed")]
    assert len(resumed) == 2 and resumed[0] > first["env_steps"]


def _mzero(log: Path, *args: str) -> subprocess.Popen:
    """``mzero train ARGS`` in its own session, stdout and stderr into ``log``."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mzero", "train", *args, "--no-progress"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.mark.parametrize("actors", [0, 1])
def test_kill_9_at_random_moments_and_resume(tmp_path: Path, actors: int) -> None:
    # Snapshots every 0.2 s: a kill often lands while one is being written. In-process
    # the whole process group is killed; with actors only the driver, and the Ray
    # processes of each killed life must go with it.
    if actors:
        pytest.importorskip("ray")
    from test_actors import _descendants

    run_dir = tmp_path / "run"
    overrides = [f"--{k}={v}" for k, v in SMALL.items() if k != "train.snapshot_interval"]
    overrides += ["--train.snapshot-interval=0.2", "--train.max-env-steps=2400"]
    overrides += ["--train.learner-step=eager"]  # no compiling in every life
    overrides += [f"--actors={actors}"] if actors else []
    rng = random.Random(0)
    process = _mzero(tmp_path / "life1.log", "cartpole", "--run-dir", str(run_dir), *overrides)
    lives = 1
    killed_lives: set[int] = set()
    for _ in range(3):
        # wait for a first snapshot, then kill at a random moment
        deadline = time.monotonic() + 240
        while RunDirectory(run_dir).latest_snapshot() is None:
            assert process.poll() is None, (tmp_path / f"life{lives}.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(rng.uniform(0.5, 3.0))
        if process.poll() is not None:
            break
        if actors:
            killed_lives |= _descendants(process.pid)
            os.kill(process.pid, signal.SIGKILL)
        else:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        lives += 1
        process = _mzero(tmp_path / f"life{lives}.log", "--resume", str(run_dir))
    process.wait(timeout=300)
    out = (tmp_path / f"life{lives}.log").read_text()
    assert process.returncode == 0, out
    lines = _lines(run_dir)
    _assert_one_run(lines)
    # a life's records after its last snapshot are dropped, its "resumed" record too
    # when it died before its next snapshot; the last life's always stays
    resumed = [line for line in lines if line.get("resumed")]
    assert lives > 1 and 1 <= len(resumed) <= lives - 1
    final = json.loads(out.splitlines()[-1])["env_steps"]
    # actors finish the tasks in flight: a few more env steps than the limit
    assert lines[-1]["env_steps"] == final and (final == 2400 or (actors and final > 2400))
    assert not list((run_dir / "snapshots").glob(".*.tmp"))
    if actors:
        assert killed_lives, "no Ray process was seen under a killed driver"
        deadline = time.monotonic() + 15
        while _running(killed_lives) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _running(killed_lives) == []


def _running(pids: set[int]) -> list[int]:
    """The processes of ``pids`` still running (not gone, not zombies)."""
    running = []
    for pid in sorted(pids):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.append(pid)
    return running
