"""Benchmark of mzero.search: simulations per second and the share of time in recurrent_fn.

Grid: B in {1, 16, 256} x num_simulations in {50, 200} x A in {2, 9, 18} x
algorithm in {muzero, gumbel} x callback in {constant, mlp}:

- ``constant``: a numpy callback returning preallocated zeros (reward, value, logits);
  the search's own overhead.
- ``mlp``: a small torch MLP dynamics/prediction model (latent 64, one hidden layer
  of 128) that keeps ``latent[node, game]`` and gathers the parents, as self-play
  does; torch runs on one thread.

Chance trees (``mzero.stochastic_search``, Stochastic MuZero): rows with algorithm
``stochastic`` time our search with a tabular chance model in numpy (afterstate and
dynamics callbacks gathering from tables, latents kept per node) and, next to them,
rows with algorithm ``stochastic-mctx`` time ``mctx.stochastic_muzero_policy`` jitted
on the same tables (CPU, compile excluded, dirichlet_fraction 0), at B = 256,
num_simulations = 50, A = 9, C = 6 (``--quick``: B = 16, no mctx). The ``ratio`` field of
the ``stochastic`` row is its simulations/s over mctx's.

Each configuration runs whole searches repeatedly, the two algorithms alternating
repeat by repeat; the medians over the repeats are reported. Results go to JSON
(``--out``, default ``benches/results/search.json``).

    python benches/bench_search.py            # the full grid (about a minute)
    python benches/bench_search.py --quick    # a smoke run
    python benches/bench_search.py --callbacks none   # only the chance-tree rows
    python benches/bench_search.py --callbacks mlp --device cuda --batches 256 1024 4096 \
        --simulations 50 --actions 9             # the model on a GPU (benches/gpu_check.sh)
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

import mzero


class Constant:
    """``recurrent_fn`` returning the same zero arrays every call."""

    def __init__(self, batch: int, num_actions: int) -> None:
        self.out = (
            np.zeros(batch, np.float32),
            np.zeros(batch, np.float32),
            np.zeros((batch, num_actions), np.float32),
        )
        self.seconds = 0.0
        self.calls = 0

    def reset(self, num_simulations: int) -> None:
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, game, parent, action, node):
        t = time.perf_counter()
        out = self.out
        self.calls += 1
        self.seconds += time.perf_counter() - t
        return out


class Mlp:
    """A small torch model: dynamics MLP on (latent, one-hot action), linear heads."""

    def __init__(
        self,
        batch: int,
        num_actions: int,
        latent: int = 64,
        hidden: int = 128,
        device: str = "cpu",
    ) -> None:
        import torch

        torch.manual_seed(0)
        self.torch = torch
        self.device = torch.device(device)
        self.num_actions = num_actions
        self.batch = batch
        self.latent_dim = latent
        self.dynamics = torch.nn.Sequential(
            torch.nn.Linear(latent + num_actions, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, latent),
            torch.nn.Tanh(),
        )
        self.heads = torch.nn.Linear(latent, 2 + num_actions)
        self.dynamics.to(self.device)
        self.heads.to(self.device)
        self.latent = torch.zeros(0)
        self.seconds = 0.0
        self.calls = 0

    def reset(self, num_simulations: int) -> None:
        torch = self.torch
        self.latent = torch.randn(
            num_simulations + 1, self.batch, self.latent_dim, device=self.device
        )
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, game, parent, action, node):
        t = time.perf_counter()
        torch = self.torch
        with torch.inference_mode():
            ids = torch.from_numpy(np.stack([game, parent, action, node])).to(self.device)
            g, p, a, n = ids
            h = self.latent[p, g]
            onehot = torch.nn.functional.one_hot(a, self.num_actions)
            nxt = self.dynamics(torch.cat([h, onehot.to(h.dtype)], dim=1))
            self.latent[n, g] = nxt
            out = self.heads(nxt).cpu().numpy()
        result = (out[:, 0].copy(), out[:, 1].copy(), out[:, 2:].copy())
        self.calls += 1
        self.seconds += time.perf_counter() - t
        return result


def measure(
    callback: str,
    batch: int,
    num_simulations: int,
    num_actions: int,
    min_seconds: float,
    min_repeats: int,
    algorithms: tuple[str, ...] = ("muzero", "gumbel"),
    device: str = "cpu",
) -> list[dict[str, Any]]:
    """Times whole searches, alternating the algorithms repeat by repeat so that a
    change in machine load affects them alike; returns one row per algorithm."""
    rng = np.random.default_rng(0)
    root_value = rng.normal(size=batch).astype(np.float32)
    root_logits = rng.normal(size=(batch, num_actions)).astype(np.float32)
    model = (
        Constant(batch, num_actions)
        if callback == "constant"
        else Mlp(batch, num_actions, device=device)
    )
    configs = {
        a: mzero.SearchConfig(num_simulations=num_simulations, algorithm=a) for a in algorithms
    }
    walls: dict[str, list[float]] = {a: [] for a in algorithms}
    shares: dict[str, list[float]] = {a: [] for a in algorithms}
    # what one timed search did: callback calls, and visits per root (min and max)
    work: dict[str, tuple[int, int, int]] = {}
    for config in configs.values():  # warm-up
        model.reset(num_simulations)
        mzero.search(root_value, root_logits, model, config)
    start = time.perf_counter()
    repeats = 0
    while repeats < min_repeats or time.perf_counter() - start < min_seconds:
        for algorithm, config in configs.items():
            model.reset(num_simulations)
            t = time.perf_counter()
            out = mzero.search(root_value, root_logits, model, config, seed=repeats)
            wall = time.perf_counter() - t
            walls[algorithm].append(wall)
            shares[algorithm].append(model.seconds / wall)
            visits = out.visit_counts.sum(axis=1)
            work[algorithm] = (model.calls, int(visits.min()), int(visits.max()))
        repeats += 1
    rows = []
    for algorithm in algorithms:
        median = statistics.median(walls[algorithm])
        rows.append(
            {
                "algorithm": algorithm,
                "callback": callback,
                "device": device,
                "batch": batch,
                "num_simulations": num_simulations,
                "num_actions": num_actions,
                "repeats": repeats,
                "median_seconds": median,
                "median_sims_per_s": batch * num_simulations / median,
                "median_callback_share": statistics.median(shares[algorithm]),
                "callback_calls": work[algorithm][0],
                "root_visits": [work[algorithm][1], work[algorithm][2]],
            }
        )
    return rows


def measure_stochastic(
    batch: int,
    num_simulations: int,
    num_actions: int,
    num_codes: int,
    min_seconds: float,
    min_repeats: int,
    with_mctx: bool,
) -> list[dict[str, Any]]:
    """Chance trees: our stochastic search with a numpy tabular model, and mctx's
    ``stochastic_muzero_policy`` jitted on the same tables; one row each."""
    from mzero.testing import StochasticTabularModel

    rng = np.random.default_rng(0)
    model = StochasticTabularModel.random(rng, 64, num_actions, num_codes)
    roots = rng.integers(0, 64, size=batch)
    config = mzero.SearchConfig(num_simulations=num_simulations)

    def ours() -> None:
        v, lg = model.reset(roots)
        mzero.stochastic_search(v, lg, model.afterstate, model.dynamics, num_codes, config)

    runners = {"stochastic": ours}
    if with_mctx:
        runners["stochastic-mctx"] = _mctx_stochastic(model, roots, num_simulations)
    walls: dict[str, list[float]] = {k: [] for k in runners}
    for run in runners.values():  # warm-up (and mctx's compilation)
        run()
    start = time.perf_counter()
    repeats = 0
    while repeats < min_repeats or time.perf_counter() - start < min_seconds:
        for name, run in runners.items():
            t = time.perf_counter()
            run()
            walls[name].append(time.perf_counter() - t)
        repeats += 1
    rows = []
    for name in runners:
        median = statistics.median(walls[name])
        rows.append(
            {
                "algorithm": name,
                "callback": "tabular",
                "device": "cpu",
                "batch": batch,
                "num_simulations": num_simulations,
                "num_actions": num_actions,
                "num_chance_outcomes": num_codes,
                "repeats": repeats,
                "median_seconds": median,
                "median_sims_per_s": batch * num_simulations / median,
                "median_callback_share": 0.0,
            }
        )
    if with_mctx:
        rows[0]["ratio"] = rows[0]["median_sims_per_s"] / rows[1]["median_sims_per_s"]
    return rows


def _mctx_stochastic(model: Any, roots: np.ndarray, num_simulations: int) -> Any:
    """A no-argument callable running jitted mctx on ``model``'s tables (blocking)."""
    import jax

    from mzero.testing.mctx_reference import mctx_stochastic_policy, mctx_tables

    run = mctx_stochastic_policy(num_simulations, model.num_actions)
    tables = [jax.numpy.asarray(x) for x in mctx_tables(model, roots)]
    invalid = jax.numpy.zeros((roots.shape[0], model.num_actions), dtype=bool)
    key = jax.random.PRNGKey(0)
    discount, pb_c_init = np.float32(0.997), np.float32(1.25)
    return lambda: run(*tables, invalid, key, discount, pb_c_init)[0].block_until_ready()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benches/results/search.json"))
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--callbacks", default="constant,mlp")
    parser.add_argument("--device", default="cpu", help="torch device of the mlp callback")
    parser.add_argument("--batches", type=int, nargs="+", help="B values (default: the grid's)")
    parser.add_argument("--simulations", type=int, nargs="+", help="num_simulations values")
    parser.add_argument("--actions", type=int, nargs="+", help="A values")
    parser.add_argument(
        "--no-mctx", action="store_true", help="chance trees: skip the mctx comparison"
    )
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    if args.quick:
        batches, sims, actions, min_seconds, min_repeats = [1, 16], [50], [9], 0.0, 2
    else:
        batches, sims, actions, min_seconds, min_repeats = (
            [1, 16, 256],
            [50, 200],
            [2, 9, 18],
            0.5,
            5,
        )
    batches = args.batches or batches
    sims = args.simulations or sims
    actions = args.actions or actions
    results = []
    columns = ("algorithm", "callback", "B", "n", "A", "Msims/s", "cb share")
    widths = (9, 8, 4, 4, 3, 8, 8)
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for callback in [c for c in args.callbacks.split(",") if c and c != "none"]:
        for batch in batches:
            for n in sims:
                for a in actions:
                    rows = measure(
                        callback, batch, n, a, min_seconds, min_repeats, device=args.device
                    )
                    for r in rows:
                        results.append(r)
                        rate = r["median_sims_per_s"] / 1e6
                        share = r["median_callback_share"]
                        print(
                            f"{r['algorithm']:>9} {callback:>8} {batch:>4} {n:>4} {a:>3} "
                            f"{rate:>8.3f} {share:>8.1%}"
                        )
    # Chance trees next to mctx (jax on CPU; skipped without it or with --quick).
    with_mctx = not (args.quick or args.no_mctx)
    if with_mctx:
        try:
            import mctx  # noqa: F401
        except ImportError:
            with_mctx = False
    b = 16 if args.quick else 256
    for r in measure_stochastic(b, 50, 9, 6, min_seconds, min_repeats, with_mctx):
        results.append(r)
        rate = r["median_sims_per_s"] / 1e6
        ratio = f"  {r['ratio']:.1f}x mctx" if "ratio" in r else ""
        print(
            f"{r['algorithm']:>9} {r['callback']:>8} {b:>4} {50:>4} {9:>3} {rate:>8.3f} "
            f"{'-':>8}{ratio}"
        )
    report = {
        "benchmark": "search",
        "quick": args.quick,
        "meta": {
            "mzero": mzero.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "rayon_num_threads": os.environ.get("RAYON_NUM_THREADS"),
            "torch_threads": 1,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
