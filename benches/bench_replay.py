"""Benchmark of mzero.ReplayBuffer: add_game throughput and sample latency.

Scenarios (batch 256, K = 5 unroll steps):

* ``cartpole``: float32 observations ``[4]``, A = 2, 100,000 stored transitions,
  prioritized (alpha = 0.6, beta = 0.4) and uniform (alpha = 0).
* ``frames``: uint8 96x96 frames stacked 4 deep, so each sampled observation is
  ``4x96x96`` uint8 (``[256, 4, 96, 96]`` per batch), A = 18, prioritized; and 84x84
  frames, 100,000 of them, stacked 4 deep, uniform.

Each scenario reports the bytes the buffer holds per stored transition
(``bytes_per_transition``, frames included; one frame is stored once per step).

n-step targets are computed when a batch is sampled (td_steps 10; one CartPole
scenario with 50, the ``cartpole`` preset's). Besides ``sample`` it times
``sample(..., reanalysis=True)`` (the bootstrap observation stacks, positions, reward
sums and legal masks a reanalysis needs) and ``update_values`` of 256 x (K+1) values.

Prints a table of medians and writes JSON (default ``benches/results/replay.json``).
Timings are wall-clock on whatever machine runs it; nothing is asserted.

    python benches/bench_replay.py            # full run
    python benches/bench_replay.py --quick    # small buffers, few repeats (smoke test)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import mzero
from mzero import ReplayBuffer

BATCH_SIZE = 256
UNROLL_STEPS = 5


@dataclass(frozen=True)
class Scenario:
    name: str
    obs_shape: tuple[int, ...]
    dtype: str
    num_actions: int
    stack: int
    alpha: float
    capacity: int
    game_length: int
    td_steps: int = 10


def scenarios(quick: bool) -> list[Scenario]:
    scale = 20 if quick else 1
    return [
        Scenario("cartpole_prioritized", (4,), "float32", 2, 1, 0.6, 100_000 // scale, 200),
        Scenario("cartpole_uniform", (4,), "float32", 2, 1, 0.0, 100_000 // scale, 200),
        Scenario(
            "cartpole_prioritized_td50", (4,), "float32", 2, 1, 0.6, 100_000 // scale, 200, 50
        ),
        Scenario("frames_4x96x96_prioritized", (96, 96), "uint8", 18, 4, 0.6, 20_000 // scale, 500),
        # the pixel issue's floor: 84x84 grayscale, 100,000 stored frames, stacks of 4
        Scenario("frames_4x84x84_uniform", (84, 84), "uint8", 18, 4, 0.0, 100_000 // scale, 500),
    ]


def make_games(s: Scenario, count: int, rng: np.random.Generator) -> list[tuple]:
    """`count` random games of `s.game_length` steps (made before timing starts)."""
    t = s.game_length
    games = []
    for _ in range(count):
        if s.dtype == "uint8":
            obs = rng.integers(0, 256, (t + 1, *s.obs_shape), dtype=np.uint8)
        else:
            obs = rng.normal(size=(t + 1, *s.obs_shape)).astype(np.float32)
        policies = rng.random((t, s.num_actions)).astype(np.float32) + 0.01
        games.append(
            (
                obs,
                rng.integers(0, s.num_actions, t, dtype=np.int64),
                rng.normal(size=t).astype(np.float32),
                rng.normal(size=t).astype(np.float32),
                policies / policies.sum(axis=1, keepdims=True),
                rng.uniform(0.1, 2.0, t).astype(np.float32),
            )
        )
    return games


def percentile_ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(seconds, q) * 1e3)


def run(s: Scenario, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(
        s.capacity,
        s.obs_shape,
        s.num_actions,
        unroll_steps=UNROLL_STEPS,
        td_steps=s.td_steps,
        alpha=s.alpha,
        beta=0.4,
        stack=s.stack,
        obs_dtype=s.dtype,
    )
    num_games = s.capacity // s.game_length
    # Generate a pool of games once and cycle through it (frames are big).
    pool = make_games(s, min(num_games, 50), rng)
    add_seconds = []
    for i in range(num_games):
        obs, actions, rewards, values, policies, priorities = pool[i % len(pool)]
        start = time.perf_counter()
        buf.add_game(obs, actions, rewards, values, policies, False, 0.0, priorities)
        add_seconds.append(time.perf_counter() - start)
    assert len(buf) == num_games * s.game_length

    buf.sample(BATCH_SIZE, 0)  # warm up
    sample_seconds = []
    for seed in range(repeats):
        start = time.perf_counter()
        batch = buf.sample(BATCH_SIZE, seed)
        sample_seconds.append(time.perf_counter() - start)
        if seed == 0:
            index = batch.index
    update_seconds = []
    for _ in range(repeats):
        new = rng.uniform(0.1, 2.0, BATCH_SIZE).astype(np.float32)
        start = time.perf_counter()
        buf.update_priorities(index, new)
        update_seconds.append(time.perf_counter() - start)
    reanalysis_seconds = []
    for seed in range(repeats):
        start = time.perf_counter()
        re = buf.sample(BATCH_SIZE, seed, reanalysis=True)
        reanalysis_seconds.append(time.perf_counter() - start)
    rows = re.bootstrap_position >= 0
    game_id = np.broadcast_to(re.game_id[:, None], rows.shape)[rows]
    position, values = re.bootstrap_position[rows], rng.normal(size=int(rows.sum()))
    values_seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        buf.update_values(game_id, position, values.astype(np.float32))
        values_seconds.append(time.perf_counter() - start)
    return {
        "scenario": asdict(s),
        "stored_transitions": len(buf),
        "nbytes": buf.nbytes,
        "bytes_per_transition": buf.nbytes / max(len(buf), 1),
        "batch_size": BATCH_SIZE,
        "unroll_steps": UNROLL_STEPS,
        "observation_shape": list(batch.observation.shape),
        "add_game": {
            "games": num_games,
            "median_ms_per_game": percentile_ms(add_seconds, 50),
            "transitions_per_s": float(num_games * s.game_length / sum(add_seconds)),
        },
        "sample": {
            "repeats": repeats,
            "median_ms": percentile_ms(sample_seconds, 50),
            "p90_ms": percentile_ms(sample_seconds, 90),
        },
        "update_priorities": {
            "repeats": repeats,
            "median_ms": percentile_ms(update_seconds, 50),
        },
        "sample_reanalysis": {
            "repeats": repeats,
            "median_ms": percentile_ms(reanalysis_seconds, 50),
            "p90_ms": percentile_ms(reanalysis_seconds, 90),
        },
        "update_values": {
            "repeats": repeats,
            "values": int(rows.sum()),
            "median_ms": percentile_ms(values_seconds, 50),
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benches/results/replay.json"))
    parser.add_argument("--quick", action="store_true", help="small buffers, few repeats")
    parser.add_argument("--repeats", type=int, default=None, help="samples timed per scenario")
    args = parser.parse_args(argv)
    repeats = args.repeats or (10 if args.quick else 300)

    results = [run(s, repeats) for s in scenarios(args.quick)]
    report = {
        "benchmark": "replay",
        "mzero_version": mzero.__version__,
        "quick": args.quick,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    header = (
        f"{'scenario':<28} {'stored':>8} {'add tr/s':>11} {'add ms/game':>11} "
        f"{'sample med ms':>13} {'p90 ms':>8} {'update ms':>9} {'MiB':>7} "
        f"{'reanalysis sample ms':>20} {'update_values ms':>16}"
    )
    print(header)
    for r in results:
        print(
            f"{r['scenario']['name']:<28} {r['stored_transitions']:>8} "
            f"{r['add_game']['transitions_per_s']:>11.0f} "
            f"{r['add_game']['median_ms_per_game']:>11.3f} "
            f"{r['sample']['median_ms']:>13.3f} {r['sample']['p90_ms']:>8.3f} "
            f"{r['update_priorities']['median_ms']:>9.3f} {r['nbytes'] / 2**20:>7.1f} "
            f"{r['sample_reanalysis']['median_ms']:>20.3f} {r['update_values']['median_ms']:>16.3f}"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
