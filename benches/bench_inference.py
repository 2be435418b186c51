"""Planning's network calls: the recurrent step per call, traced, compiled and eager.

For each ``network.inference`` mode and each N (games in one call) this times the
planner's recurrent step (gather N parents' latents from the latent store, g, f,
write the children's latents, pack the outputs; :class:`mzero.planner.RecurrentStep`)
on the cartpole preset's network, in milliseconds per call. Then two threads call it
side by side, each as many times as one thread did alone: the wall-time ratio (two
threads over one) is 1.0 when the calls overlap fully and 2.0 when they run one
after the other, which is what a call that holds the GIL does to self-play's game
groups (``train.pipeline``). Medians over repeats; prints a table, saves JSON.

    python benches/bench_inference.py                   # trace, compile, eager; N in {128, 256}
    python benches/bench_inference.py --modes trace compile --games 64 256 1024
    python benches/bench_inference.py --quick --out /tmp/inference.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import mzero
from mzero.config import preset
from mzero.envs import make_env_from_config
from mzero.networks import MuZeroNetwork
from mzero.planner import RecurrentStep, _steps

DEFAULT_OUT = Path(__file__).parent / "results" / "inference.json"
NODES = 51  # a 50-simulation search's latent store: root plus one node per simulation


def _network(mode: str) -> MuZeroNetwork:
    config = preset("cartpole")
    config.network.inference = mode  # type: ignore[assignment]
    env = make_env_from_config(config.env)
    torch.manual_seed(0)
    return MuZeroNetwork(env.obs_shape, env.num_actions, config.network).eval()


def _ids(games: int, rng: np.random.Generator) -> torch.Tensor:
    """``[3, games]``: parents among the first ten nodes, children in node 10, actions."""
    parent = rng.integers(0, 10, games) * games + np.arange(games)
    child = 10 * games + np.arange(games)
    action = rng.integers(0, 2, games)
    return torch.from_numpy(np.stack([parent, child, action]))


def measure(mode: str, games: int, calls: int, repeats: int) -> dict[str, Any]:
    """Per-call milliseconds alone and the two-thread wall ratio for one mode and N."""
    network = _network(mode)
    rng = np.random.default_rng(0)
    with torch.inference_mode():
        stores = [torch.randn(NODES * games, *network.latent_shape) for _ in range(2)]
    recurrent = _steps(network, stores[0]).recurrent  # traced or compiled here, once
    ids = _ids(games, rng)
    # the step timed computes what the plain module computes (outputs and stored latents)
    with torch.inference_mode():
        timed_store, plain_store = stores[0].clone(), stores[0].clone()
        timed = recurrent(timed_store, ids)
        plain = RecurrentStep(network)(plain_store, ids)
        max_abs_diff = max(
            float((timed - plain).abs().max()), float((timed_store - plain_store).abs().max())
        )

    def work(store: torch.Tensor, n: int) -> None:
        with torch.inference_mode():
            for _ in range(n):
                recurrent(store, ids)

    work(stores[0], max(calls // 10, 2))  # warm-up
    alone, ratios = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        work(stores[0], calls)
        one = time.perf_counter() - start
        threads = [threading.Thread(target=work, args=(s, calls)) for s in stores]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        two = time.perf_counter() - start
        alone.append(one / calls * 1e3)
        ratios.append(two / one)
    return {
        "inference": mode,
        "games": games,
        "calls_per_repeat": calls,
        "ms_per_call": alone,
        "ms_per_call_median": statistics.median(alone),
        "two_thread_ratio": ratios,
        "two_thread_ratio_median": statistics.median(ratios),
        "max_abs_diff_to_eager": max_abs_diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--modes", nargs="+", choices=["trace", "compile", "eager"], default=["trace", "compile"]
    )
    parser.add_argument("--games", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--calls", type=int, default=400, help="calls per thread per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--quick", action="store_true", help="N = 8, few calls, trace only")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.quick:
        args.modes, args.games, args.calls, args.repeats = ["trace"], [8], 20, 2
    torch.set_num_threads(args.threads)

    print(f"{'mode':>7} {'N':>5} {'ms/call':>8} {'2 threads / 1':>14}")
    results = []
    for games in args.games:
        for mode in args.modes:
            row = measure(mode, games, args.calls, args.repeats)
            results.append(row)
            print(
                f"{mode:>7} {games:>5} {row['ms_per_call_median']:>8.3f} "
                f"{row['two_thread_ratio_median']:>14.2f}"
            )
    report = {
        "benchmark": "inference",
        "preset": "cartpole",
        "quick": args.quick,
        "torch_threads": args.threads,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "mzero": mzero.__version__,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
