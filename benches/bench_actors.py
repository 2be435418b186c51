"""Actor-learner throughput: env steps/s and learner steps/s, in-process vs Ray actors.

Each mode trains the cartpole preset (seed 0) for ``--seconds`` of wall time into a
fresh run directory: in-process (``--actors 0``: self-play and learning take turns)
and with N self-play actors on a local Ray instance (``--actors N``: the learner in
this process, the rate limiter at ``train.train_ratio``). Start-up (Ray, the actor
processes) is not timed: the rates are read off ``metrics.jsonl`` between the first
line after learning started and the last line. Repeats take turns between the modes;
the table shows medians, and JSON is saved.

    python benches/bench_actors.py                       # modes 0 1 2, 60 s, 3 repeats
    python benches/bench_actors.py --actors 0 2 --seconds 30 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path
from typing import Any

from mzero.config import apply_overrides, preset
from mzero.train import train

DEFAULT_OUT = Path(__file__).parent / "results" / "actors.json"


def run_mode(actors: int, seconds: float, seed: int) -> dict[str, float]:
    """One timed run; rates between the first learning line and the last line."""
    config = apply_overrides(
        preset("cartpole"),
        {
            "train.seed": seed,
            "train.max_minutes": seconds / 60,
            "train.eval_interval": 0,
            "actors.num_actors": actors,
        },
    )
    with tempfile.TemporaryDirectory() as tmp:
        train(config, Path(tmp) / "run", progress=False)
        lines = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").open()]
    learning = [line for line in lines if line["train_steps"] > 0]
    first, last = learning[0], lines[-1]
    wall = last["wall_s"] - first["wall_s"]
    return {
        "env_steps_per_s": (last["env_steps"] - first["env_steps"]) / wall,
        "train_steps_per_s": (last["train_steps"] - first["train_steps"]) / wall,
        "train_steps_per_env_step": last["train_steps"] / max(1, last["env_steps"]),
        "timed_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actors", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seconds", type=float, default=60.0, help="wall time per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    runs: dict[int, list[dict[str, float]]] = {n: [] for n in args.actors}
    for repeat in range(args.repeats):
        for n in args.actors:
            runs[n].append(run_mode(n, args.seconds, seed=repeat))
    rows: list[dict[str, Any]] = []
    for n, results in runs.items():
        row: dict[str, Any] = {"actors": n, "repeats": len(results)}
        for key in results[0]:
            row[key] = statistics.median(r[key] for r in results)
        rows.append(row)
    base = rows[0]["env_steps_per_s"]
    print(f"cores: {os.cpu_count()}, {args.seconds:.0f} s a run, medians of {args.repeats}")
    print("| actors | env steps/s | learner steps/s | learner/env steps | vs first |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['actors']} | {row['env_steps_per_s']:.0f} | {row['train_steps_per_s']:.1f} "
            f"| {row['train_steps_per_env_step']:.3f} | {row['env_steps_per_s'] / base:.2f} |"
        )
    report = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "seconds": args.seconds,
        "rows": rows,
        "runs": {str(n): results for n, results in runs.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
