"""Resume after a crash: snapshots, ``Trainer.resume``, ``mzero train --resume``, kill -9."""

from __future__ import annotations

import itertools
import json
import os
import random
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
from mzero.train import Trainer

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
    assert len(list((tmp_path / "snapshots").iterdir())) == 1  # older ones removed
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


def test_damaged_run_files_are_corrupt_file_errors(tmp_path: Path) -> None:
    config = apply_overrides(preset("cartpole"), SMALL | {"train.max_env_steps": 200})
    Trainer(config, tmp_path, progress=False).run()
    run = RunDirectory(tmp_path)
    snapshot = run.latest_snapshot()
    assert snapshot is not None
    for name in ("trainer.pt", "replay.bin"):
        path = snapshot / name
        good = path.read_bytes()
        path.write_bytes(good[: len(good) // 2])
        with pytest.raises(mzero.CorruptFileError, match=name.replace(".", r"\.")):
            Trainer.resume(tmp_path, progress=False)
        path.write_bytes(good)
    run.config.write_text("{ not json")
    with pytest.raises(mzero.CorruptFileError, match=r"config\.json"):
        Trainer.resume(tmp_path, progress=False)


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
