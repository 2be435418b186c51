"""Self-play throughput: environment steps per second on CartPole-v1.

For each B (environments stepped together) this runs the cartpole preset's
network and search (``--simulations``, default 50) through :class:`mzero.selfplay.SelfPlay`
into a real :class:`mzero.ReplayBuffer`, and reports the median over repeats of
environment steps per second (each of the B environments counts), plus the share
of wall time spent inside the network callbacks. Prints a table, saves JSON.

    python benches/bench_selfplay.py                 # B in {1, 16, 64}
    python benches/bench_selfplay.py --quick --out /tmp/selfplay.json
    python benches/bench_selfplay.py --batches 16 --searches muzero:50 gumbel:8
                                                     # several searches, one run
"""

from __future__ import annotations

import argparse
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
from mzero.envs import make_env_from_config
from mzero.networks import MuZeroNetwork
from mzero.selfplay import SelfPlay

DEFAULT_OUT = Path(__file__).parent / "results" / "selfplay.json"


def measure(
    batch: int, simulations: int, steps: int, repeats: int, device: str, algorithm: str = "muzero"
) -> dict[str, Any]:
    """Median env steps/s of ``repeats`` runs of ``steps`` self-play steps over ``batch`` games."""
    config = preset("cartpole")
    config.train.num_envs = batch
    config.search.num_simulations = simulations
    config.search.algorithm = algorithm
    env = make_env_from_config(config.env)
    torch.manual_seed(0)
    network = MuZeroNetwork(env.obs_shape, env.num_actions, config.network).to(device)
    replay = mzero.ReplayBuffer(
        config.replay.capacity,
        env.obs_shape,
        env.num_actions,
        unroll_steps=config.train.unroll_steps,
        td_steps=config.train.td_steps,
        discount=config.search.discount,
    )
    play = SelfPlay(network, config, replay, seed=0)

    # time spent in the network (root inference and every recurrent_fn call)
    inside = [0.0]
    planner = play.planner
    for name in ("initial_inference", "recurrent_fn"):
        inner = getattr(planner, name)

        def timed(*args: Any, _inner: Any = inner) -> Any:
            start = time.perf_counter()
            try:
                return _inner(*args)
            finally:
                inside[0] += time.perf_counter() - start

        setattr(planner, name, timed)

    for _ in range(2):  # warm-up
        play.step(temperature=1.0)
    rates, shares = [], []
    for _ in range(repeats):
        inside[0] = 0.0
        start = time.perf_counter()
        for _ in range(steps):
            play.step(temperature=1.0)
        wall = time.perf_counter() - start
        rates.append(steps * batch / wall)
        shares.append(inside[0] / wall)
    play.close()
    return {
        "B": batch,
        "algorithm": algorithm,
        "num_simulations": simulations,
        "steps_per_repeat": steps,
        "env_steps_per_s_median": statistics.median(rates),
        "env_steps_per_s": rates,
        "network_share_median": statistics.median(shares),
        "replay_transitions": len(replay),
    }


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
    parser.add_argument("--steps", type=int, default=20, help="self-play steps per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--quick", action="store_true", help="a few steps at B in {1, 4}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.quick:
        args.batches, args.steps, args.repeats, args.simulations = [1, 4], 2, 2, 8
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
    print(f"{'B':>4} {'algorithm':>9} {'sims':>5} {'env steps/s':>12} {'network share':>14}")
    for batch in args.batches:
        for algorithm, sims in searches:
            row = measure(batch, sims, args.steps, args.repeats, args.device, algorithm)
            results.append(row)
            print(
                f"{batch:>4} {algorithm:>9} {sims:>5} {row['env_steps_per_s_median']:>12.1f} "
                f"{row['network_share_median']:>14.2f}"
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
