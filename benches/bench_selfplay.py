"""Self-play throughput: environment steps per second on CartPole-v1.

For each B (environments stepped together) and each ``train.pipeline`` (game groups
in flight) this runs the cartpole preset's network and search (``--simulations``,
default 50) through :class:`mzero.selfplay.SelfPlay` into a real
:class:`mzero.ReplayBuffer`. It reports medians over repeats of environment steps per
second (each of the B environments counts) and simulations per second, the share of
wall time with the network busy, and the thread-seconds per wall second in network
calls, tree work and environment steps (summed over groups: with several groups in
flight they overlap). Each pipeline > 1 gets its speed-up over pipeline 1 at the same
B, measured in the same run. Prints a table, saves JSON.

    python benches/bench_selfplay.py                 # B in {1, 16, 64}, pipeline 1
    python benches/bench_selfplay.py --batches 64 256 1024 --pipelines 1 2
    python benches/bench_selfplay.py --batches 16 --env-workers 0 2 --env-step-ms 1
                                                     # a slow simulator, stepped in workers
    python benches/bench_selfplay.py --quick --out /tmp/selfplay.json
    python benches/bench_selfplay.py --batches 16 --searches muzero:50 gumbel:8
                                                     # several searches, one run
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import mzero
from mzero.config import preset
from mzero.envs import make_env, make_env_from_config
from mzero.networks import MuZeroNetwork
from mzero.selfplay import SelfPlay

DEFAULT_OUT = Path(__file__).parent / "results" / "selfplay.json"


class SlowCartPole:
    """CartPole whose every step also burns ``step_ms`` of CPU: a stand-in for a physics
    engine or an emulator (a busy loop, not a sleep, so that workers compete for cores)."""

    def __init__(self, step_ms: float) -> None:
        self.env = make_env("cartpole")
        self.step_ms = step_ms
        self.num_actions, self.obs_shape, self.two_player = 2, (4,), False

    def reset(self, seed: int | None = None) -> Any:
        return self.env.reset(seed=seed)

    def step(self, action: int) -> Any:
        until = time.perf_counter() + self.step_ms / 1000
        while time.perf_counter() < until:
            pass
        return self.env.step(action)

    def close(self) -> None:
        self.env.close()


def _self_play(
    batch: int,
    simulations: int,
    device: str,
    algorithm: str,
    variant: tuple[int, int, str],
    env_step_ms: float,
) -> tuple[SelfPlay, mzero.ReplayBuffer]:
    pipeline, env_workers, inference = variant
    config = preset("cartpole")
    config.train.num_envs = batch
    config.train.pipeline = pipeline
    config.env.workers = env_workers
    config.search.num_simulations = simulations
    config.search.algorithm = algorithm
    config.network.inference = inference  # type: ignore[assignment]
    env = make_env_from_config(config.env)
    torch.manual_seed(0)
    network = MuZeroNetwork(env.obs_shape, env.num_actions, config.network).to(device)
    replay = config.to_replay_buffer(env.obs_shape, env.num_actions, two_player=False)
    factory = functools.partial(SlowCartPole, env_step_ms) if env_step_ms > 0 else None
    return SelfPlay(network, config, replay, seed=0, env_factory=factory), replay


def measure(
    batch: int,
    simulations: int,
    steps: int,
    repeats: int,
    device: str,
    algorithm: str = "muzero",
    variants: tuple[tuple[int, int, str], ...] = ((1, 0, "trace"),),
    env_step_ms: float = 0.0,
) -> list[dict[str, Any]]:
    """Medians of ``repeats`` runs of ``steps`` self-play steps over ``batch`` games, per
    variant ``(train.pipeline, env.workers, network.inference)``.

    The variants take turns within each repeat, so that a slow spell of a shared
    machine hits them alike.
    """
    plays = [
        _self_play(batch, simulations, device, algorithm, variant, env_step_ms)
        for variant in variants
    ]
    for play, _ in plays:
        for _ in range(2):  # warm-up
            play.step(temperature=1.0)
    runs: list[list[dict[str, float]]] = [[] for _ in plays]
    for _ in range(repeats):
        for (play, _), out in zip(plays, runs, strict=True):
            play.throughput.take()
            start = time.perf_counter()
            for _ in range(steps):
                play.step(temperature=1.0)
            wall = time.perf_counter() - start
            out.append(play.throughput.take().rates(wall))
    rows = []
    for variant, (play, replay), out in zip(variants, plays, runs, strict=True):
        pipeline, env_workers, inference = variant
        play.close()
        row: dict[str, Any] = {
            "B": batch,
            "pipeline": pipeline,
            "env_workers": env_workers,
            "env_step_ms": env_step_ms,
            "groups": len(play.groups),
            "algorithm": algorithm,
            "num_simulations": simulations,
            "inference": inference,
            "steps_per_repeat": steps,
            "env_steps_per_s": [r["env_steps_per_s"] for r in out],
            "replay_transitions": len(replay),
        }
        for key in out[0]:
            row[f"{key}_median"] = statistics.median(r[key] for r in out)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--simulations", type=int, default=50)
    parser.add_argument(
        "--searches",
        nargs="+",
        default=None,
        metavar="ALG:N",
        help="searches to compare in one run, e.g. muzero:50 gumbel:8 "
        "(default: muzero with --simulations)",
    )
    parser.add_argument(
        "--pipelines", type=int, nargs="+", default=[1], help="train.pipeline values to compare"
    )
    parser.add_argument(
        "--env-workers", type=int, nargs="+", default=[0], help="env.workers values to compare"
    )
    parser.add_argument(
        "--env-step-ms",
        type=float,
        default=0.0,
        help="CPU milliseconds added to every CartPole step (a slow simulator)",
    )
    parser.add_argument(
        "--inference",
        choices=["trace", "compile", "eager"],
        nargs="+",
        default=["trace"],
        help="network.inference values to compare",
    )
    parser.add_argument("--steps", type=int, default=20, help="self-play steps per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument(
        "--quick", action="store_true", help="a few steps at B in {1, 4}, pipelines 1 and 2"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.quick:
        args.batches, args.steps, args.repeats, args.simulations = [1, 4], 2, 2, 8
        args.pipelines = [1, 2]
    torch.set_num_threads(args.threads)

    searches = [("muzero", args.simulations)]
    if args.searches:
        searches = []
        for spec in args.searches:
            algorithm, _, sims = spec.partition(":")
            if algorithm not in ("muzero", "gumbel") or not sims.isdigit():
                parser.error(f"--searches: expected ALG:N with ALG muzero or gumbel, got {spec}")
            searches.append((algorithm, int(sims)))

    results = []
    print(
        f"{'B':>5} {'pipeline':>8} {'workers':>7} {'mode':>7} {'algorithm':>9} {'sims':>5} "
        f"{'env steps/s':>12} "
        f"{'sims/s':>9} {'speed-up':>8} {'net busy':>8} {'infer':>6} {'tree':>6} {'env':>6}"
    )
    for batch in args.batches:
        for algorithm, sims in searches:
            variants = tuple(
                (p, w, i) for i in args.inference for w in args.env_workers for p in args.pipelines
            )
            rows = measure(
                batch,
                sims,
                args.steps,
                args.repeats,
                args.device,
                algorithm,
                variants,
                args.env_step_ms,
            )
            for row in rows:
                base = next(
                    (
                        r
                        for r in rows
                        if r["pipeline"] == 1
                        and r["env_workers"] == row["env_workers"]
                        and r["inference"] == row["inference"]
                    ),
                    None,
                )
                if base is not None:
                    # per repeat, then the median: the pipelines ran side by side
                    pairs = zip(row["env_steps_per_s"], base["env_steps_per_s"], strict=True)
                    ratios = [a / b for a, b in pairs]
                    row["speedup_over_pipeline_1"] = statistics.median(ratios)
                results.append(row)
                speedup = row.get("speedup_over_pipeline_1")
                print(
                    f"{batch:>5} {row['pipeline']:>8} {row['env_workers']:>7} "
                    f"{row['inference']:>7} "
                    f"{algorithm:>9} {sims:>5} "
                    f"{row['env_steps_per_s_median']:>12.1f} "
                    f"{row['simulations_per_s_median']:>9.0f} "
                    + (f"{speedup:>8.2f} " if speedup is not None else f"{'':>8} ")
                    + f"{row['network_busy_median']:>8.2f} {row['inference_share_median']:>6.2f} "
                    f"{row['tree_share_median']:>6.2f} {row['env_share_median']:>6.2f}"
                )
    report = {
        "benchmark": "selfplay",
        "env": "CartPole-v1",
        "preset": "cartpole",
        "device": args.device,
        "torch_threads": args.threads,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "mzero": mzero.__version__,
        "numpy": np.__version__,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
