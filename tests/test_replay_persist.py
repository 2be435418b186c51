"""ReplayBuffer.save / load: identical round trips, corrupt files refused, crash safety."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

import mzero
from mzero import ReplayBuffer, SampleBatch


def filled_buffer(dtype: str, alpha: float) -> ReplayBuffer:
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(60, (2, 3), 4, unroll_steps=3, td_steps=4, two_player=True, alpha=alpha,
                       beta=0.5, stack=3)  # fmt: skip
    for i in range(12):
        steps = int(rng.integers(1, 15))
        shape = (steps + 1, 2, 3)
        if dtype == "uint8":
            obs = rng.integers(0, 256, shape, dtype=np.uint8)
        else:
            obs = rng.normal(size=shape).astype(np.float32)
        policies = rng.random((steps, 4)).astype(np.float32) + 0.1
        buf.add_game(
            obs,
            rng.integers(0, 4, steps, dtype=np.int64),
            rng.normal(size=steps).astype(np.float32),
            rng.normal(size=steps).astype(np.float32),
            policies / policies.sum(axis=1, keepdims=True),
            terminated=bool(i % 2),
            bootstrap_value=float(i),
            priorities=rng.uniform(0.5, 3, steps).astype(np.float32) if i % 3 else None,
            # every fourth game a segment: positions 1 .. T-1 sampled
            segment=(1, steps) if i % 4 == 3 and steps > 1 else None,
        )
    index, _ = buf.priorities()
    buf.update_priorities(index[:5], np.linspace(1, 9, 5, dtype=np.float32))
    return buf


def assert_same(a: ReplayBuffer, b: ReplayBuffer) -> None:
    assert (len(a), a.positions, a.num_games, a.nbytes, a.max_priority) == (
        len(b),
        b.positions,
        b.num_games,
        b.nbytes,
        b.max_priority,
    )
    assert a.config() == b.config() and a.obs_dtype == b.obs_dtype
    for x, y in zip(a.priorities(), b.priorities(), strict=True):
        np.testing.assert_array_equal(x, y)
    for seed in range(4):
        sa, sb = a.sample(100, seed), b.sample(100, seed)
        for f in fields(SampleBatch):
            np.testing.assert_array_equal(getattr(sa, f.name), getattr(sb, f.name))


@pytest.mark.parametrize(("dtype", "alpha"), [("float32", 0.0), ("uint8", 0.6)])
def test_save_then_load_gives_an_identical_buffer(tmp_path: Path, dtype: str, alpha: float) -> None:
    buf = filled_buffer(dtype, alpha)
    buf.save(tmp_path / "replay.bin")
    loaded = ReplayBuffer.load(tmp_path / "replay.bin")
    assert_same(buf, loaded)
    # The loaded buffer carries on exactly like the original.
    rng = np.random.default_rng(1)
    game = (
        rng.integers(0, 9, (4, 2, 3)).astype(dtype),
        np.array([0, 1, 2], np.int64),
        np.ones(3, np.float32),
        np.ones(3, np.float32),
        np.full((3, 4), 0.25, np.float32),
    )
    assert buf.add_game(*game) == loaded.add_game(*game) == 12
    assert_same(buf, loaded)


def test_an_empty_buffer_round_trips(tmp_path: Path) -> None:
    buf = ReplayBuffer(10, (4,), 2, obs_dtype="uint8")
    buf.save(str(tmp_path / "empty.bin"))
    loaded = ReplayBuffer.load(str(tmp_path / "empty.bin"))
    assert len(loaded) == 0 and loaded.obs_dtype == np.uint8
    assert loaded.config() == buf.config()


def test_saving_replaces_the_previous_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "replay.bin"
    filled_buffer("float32", 0.0).save(path)
    small = ReplayBuffer(10, (1,), 2)
    small.save(path)
    assert len(ReplayBuffer.load(path)) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["replay.bin"]


@pytest.fixture(scope="module")
def snapshot_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("snap") / "replay.bin"
    filled_buffer("uint8", 0.6).save(path)
    return path.read_bytes()


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.01, 0.3, 0.5, 0.9, 0.999])
def test_a_truncated_file_is_refused(
    tmp_path: Path, snapshot_bytes: bytes, fraction: float
) -> None:
    cut = int(len(snapshot_bytes) * fraction)
    with pytest.raises(mzero.CorruptFileError, match=r"bad\.bin"):
        ReplayBuffer.load(write(tmp_path, snapshot_bytes[:cut]))
    with pytest.raises(mzero.CorruptFileError):
        ReplayBuffer.load(write(tmp_path, snapshot_bytes[:-1]))


def test_every_flipped_byte_is_detected(tmp_path: Path, snapshot_bytes: bytes) -> None:
    rng = np.random.default_rng(2)
    positions = list(range(64)) + rng.choice(len(snapshot_bytes), 200, replace=False).tolist()
    for i in positions:
        corrupt = bytearray(snapshot_bytes)
        corrupt[i] ^= 1 << int(rng.integers(8))
        with pytest.raises(mzero.CorruptFileError):
            ReplayBuffer.load(write(tmp_path, bytes(corrupt)))


def test_trailing_bytes_are_refused(tmp_path: Path, snapshot_bytes: bytes) -> None:
    with pytest.raises(mzero.CorruptFileError):
        ReplayBuffer.load(write(tmp_path, snapshot_bytes + b"\0"))


def test_another_format_version_is_refused_by_name(tmp_path: Path, snapshot_bytes: bytes) -> None:
    body = bytearray(snapshot_bytes[:-4])
    assert body[:8] == b"MZREPLAY"
    assert struct.unpack("<I", body[8:12]) == (3,)
    body[8:12] = struct.pack("<I", 4)
    resealed = bytes(body) + struct.pack("<I", zlib.crc32(body))
    with pytest.raises(mzero.CorruptFileError, match="format version 4"):
        ReplayBuffer.load(write(tmp_path, resealed))


def test_a_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(mzero.CorruptFileError, match="magic"):
        ReplayBuffer.load(write(tmp_path, b"PK\x03\x04" + bytes(100)))


def test_a_missing_file_is_an_io_error(tmp_path: Path) -> None:
    with pytest.raises(mzero.MZeroIOError):
        ReplayBuffer.load(tmp_path / "missing.bin")
    with pytest.raises(mzero.MZeroIOError):
        ReplayBuffer(10, (1,), 2).save(tmp_path / "no-such-dir" / "x.bin")


CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from mzero import ReplayBuffer

    path = sys.argv[1]
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(40_000, (96, 96), 2, obs_dtype=np.uint8)
    for n in range(1, 1000):
        steps = 4_000 if n > 1 else 10
        obs = rng.integers(0, 256, (steps + 1, 96, 96), dtype=np.uint8)
        buf.add_game(obs, np.zeros(steps, np.int64), np.zeros(steps, np.float32),
                     np.zeros(steps, np.float32), np.full((steps, 2), 0.5, np.float32))
        print("saving", n, len(buf), flush=True)
        buf.save(path)
        print("saved", n, len(buf), flush=True)
    """
)


def test_a_crash_mid_save_leaves_the_previous_snapshot(tmp_path: Path) -> None:
    """SIGKILL a process while it writes its second snapshot: the first one survives."""
    path = tmp_path / "replay.bin"
    mid_save_kills = 0
    for _attempt in range(3):
        path.unlink(missing_ok=True)
        for leftover in tmp_path.glob("*.tmp"):
            leftover.unlink()
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        try:
            lengths = {}
            for line in child.stdout:
                word, n, length = line.split()
                lengths[(word, int(n))] = int(length)
                if word == "saving" and int(n) == 2:
                    break
            assert ("saved", 1) in lengths
            deadline = time.monotonic() + 60
            while not any(tmp_path.glob(".replay.bin.*.tmp")) and child.poll() is None:
                assert time.monotonic() < deadline
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        loaded = ReplayBuffer.load(path)
        if any(tmp_path.glob(".replay.bin.*.tmp")):
            # Killed before the rename: the first snapshot is still in place, whole.
            assert len(loaded) == lengths[("saved", 1)] == 10
            mid_save_kills += 1
            break
        # The rename won the race: the second snapshot is in place, whole.
        assert len(loaded) == lengths[("saving", 2)]
    assert mid_save_kills == 1, "never managed to kill the child mid-save"
