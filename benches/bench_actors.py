"""Actor-learner throughput: env steps/s and learner steps/s, in-process vs Ray actors.

Each mode trains a preset (``--preset``, default cartpole) for ``--seconds`` of wall
time into a fresh run directory: in-process (mode ``0``: self-play and learning take
turns), with N self-play actors on a local Ray instance (mode ``N``: the learner in
this process, the rate limiter at ``train.train_ratio``), or with N actors and M
reanalyze workers (mode ``N+M``, for presets with reanalysis). Start-up (Ray, the actor
processes) is not timed: the rates are read off ``metrics.jsonl`` between the first
line after learning started and the last line. Repeats take turns between the modes;
the table shows medians, and JSON is saved.

    python benches/bench_actors.py                       # modes 0 1 2, 60 s, 3 repeats
    python benches/bench_actors.py --actors 0 2 --seconds 30 --repeats 1
    python benches/bench_actors.py --preset cartpole-efficient --actors 0 1 1+1
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


def parse_mode(mode: str) -> tuple[int, int]:
    """``"N"`` or ``"N+M"`` -> (actors, reanalyze workers)."""
    actors, _, workers = mode.partition("+")
    if not actors.isdigit() or (workers and not workers.isdigit()):
        raise SystemExit(f"--actors: expected N or N+M, got {mode!r}")
    return int(actors), int(workers or 0)


def run_mode(
    name: str, mode: str, seconds: float, seed: int, learner_step: str | None = None
) -> dict[str, float]:
    """One timed run; rates between the first learning line and the last line."""
    actors, workers = parse_mode(mode)
    overrides: dict[str, Any] = {
        "train.seed": seed,
        "train.max_minutes": seconds / 60,
        "train.max_env_steps": None,
        "train.eval_interval": 0,
        "actors.num_actors": actors,
        "actors.reanalyze_workers": workers,
    }
    if learner_step is not None:
        overrides["train.learner_step"] = learner_step
    config = apply_overrides(preset(name), overrides)
    with tempfile.TemporaryDirectory() as tmp:
        train(config, Path(tmp) / "run", progress=False)
        lines = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").open()]
    learning = [line for line in lines if line["train_steps"] > 0]
    first, last = learning[0], lines[-1]
    wall = last["wall_s"] - first["wall_s"]
    if wall <= 0:
        raise SystemExit(
            f"--seconds: {seconds:g} s left no metrics line after the first learner steps "
            "(a compiled learner spends its first seconds compiling); run longer"
        )
    return {
        "env_steps_per_s": (last["env_steps"] - first["env_steps"]) / wall,
        "train_steps_per_s": (last["train_steps"] - first["train_steps"]) / wall,
        "train_steps_per_env_step": last["train_steps"] / max(1, last["env_steps"]),
        "timed_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cartpole")
    parser.add_argument(
        "--actors", nargs="+", default=["0", "1", "2"], help="modes: N actors, N+M with M workers"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="wall time per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--learner-step", choices=["eager", "compile"], help="default: the preset's"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    for mode in args.actors:
        parse_mode(mode)
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in args.actors}
    for repeat in range(args.repeats):
        for mode in args.actors:
            runs[mode].append(run_mode(args.preset, mode, args.seconds, repeat, args.learner_step))
    rows: list[dict[str, Any]] = []
    for mode, results in runs.items():
        actors, workers = parse_mode(mode)
        row: dict[str, Any] = {
            "mode": mode,
            "actors": actors,
            "reanalyze_workers": workers,
            "repeats": len(results),
        }
        for key in results[0]:
            row[key] = statistics.median(r[key] for r in results)
        rows.append(row)
    base = rows[0]["env_steps_per_s"]
    print(
        f"{args.preset}, cores: {os.cpu_count()}, {args.seconds:.0f} s a run, "
        f"medians of {args.repeats}"
    )
    print("| actors | env steps/s | learner steps/s | learner/env steps | vs first |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['mode']} | {row['env_steps_per_s']:.0f} | {row['train_steps_per_s']:.1f} "
            f"| {row['train_steps_per_env_step']:.3f} | {row['env_steps_per_s'] / base:.2f} |"
        )
    report = {
        "preset": args.preset,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "seconds": args.seconds,
        "rows": rows,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
