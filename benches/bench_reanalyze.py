"""Benchmark of the reanalysis (mzero.reanalyze.Reanalyzer): its cost per learner batch.

The ``cartpole-efficient`` preset's network (untrained; the cost does not depend on
the weights) reanalyses batches of 256 positions unrolled K = 5 steps, sampled from a
buffer of random CartPole games, with one torch thread:

* ``values``: the target network's value of every bootstrap observation (1,536 rows);
* ``values + policies f @ n``: also a re-search of a fraction f of the positions with
  n simulations, batched through ``mzero.search``.

Each timing includes ``ReplayBuffer.sample(..., reanalysis=True)`` and the
write-back. Prints a table of medians and writes JSON (default
``benches/results/reanalyze.json``); nothing is asserted.

    python benches/bench_reanalyze.py            # full run
    python benches/bench_reanalyze.py --quick    # few repeats (smoke test)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

import mzero
from mzero.config import apply_overrides, preset
from mzero.envs import make_env
from mzero.reanalyze import Reanalyzer
from mzero.train import build_network

BATCH_SIZE = 256
SETTINGS = [  # (label, value, policy_fraction, num_simulations)
    ("values", True, 0.0, None),
    ("values + policies 0.1 @ 25", True, 0.1, 25),
    ("values + policies 0.25 @ 50", True, 0.25, 50),
    ("values + policies 1.0 @ 50", True, 1.0, 50),
]


def random_games(buf: mzero.ReplayBuffer, transitions: int, seed: int = 0) -> None:
    """Random CartPole games (uniform policies) until ``transitions`` are stored."""
    rng = np.random.default_rng(seed)
    env = make_env("CartPole-v1")
    while len(buf) < transitions:
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        observations, actions, rewards = [obs], [], []
        while True:
            action = int(rng.integers(2))
            step = env.step(action)
            observations.append(step.observation)
            actions.append(action)
            rewards.append(step.reward)
            if step.terminated or step.truncated:
                break
        steps = len(actions)
        buf.add_game(
            np.stack(observations).astype(np.float32),
            np.array(actions, np.int64),
            np.array(rewards, np.float32),
            rng.normal(size=steps).astype(np.float32),
            np.full((steps, 2), 0.5, np.float32),
            terminated=step.terminated,
            bootstrap_value=0.0,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benches/results/reanalyze.json"))
    parser.add_argument("--quick", action="store_true", help="few repeats")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 20
    torch.set_num_threads(1)
    torch.manual_seed(0)

    base = preset("cartpole-efficient")
    env = make_env(base.env.id)
    buf = base.to_replay_buffer(env.obs_shape, env.num_actions, two_player=False)
    random_games(buf, 2_000 if args.quick else 20_000)
    network = build_network(base, env.obs_shape, env.num_actions).eval()
    rng = np.random.default_rng(0)
    results = []
    for label, value, fraction, sims in SETTINGS:
        config = apply_overrides(
            base,
            {
                "reanalyze.value": value,
                "reanalyze.policy_fraction": fraction,
                "reanalyze.num_simulations": sims,
            },
        )
        reanalyzer = Reanalyzer(network, config, two_player=False)
        seconds, searched = [], 0
        for r in range(repeats + 1):
            start = time.perf_counter()
            sample = buf.sample(BATCH_SIZE, r, reanalysis=True)
            out = reanalyzer(sample, rng)
            out.write_back(buf)
            if r > 0:  # the first call sizes the planner
                seconds.append(time.perf_counter() - start)
            searched = len(out.policy)
        results.append(
            {
                "setting": label,
                "policy_fraction": fraction,
                "num_simulations": sims,
                "positions_searched": searched,
                "median_ms": float(np.median(seconds) * 1e3),
                "repeats": repeats,
            }
        )
    report = {
        "benchmark": "reanalyze",
        "mzero_version": mzero.__version__,
        "quick": args.quick,
        "batch_size": BATCH_SIZE,
        "unroll_steps": base.train.unroll_steps,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'setting':<30} {'positions searched':>18} {'median ms per batch':>20}")
    for r in results:
        print(f"{r['setting']:<30} {r['positions_searched']:>18} {r['median_ms']:>20.1f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
