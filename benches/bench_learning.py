"""Benchmark of learning: a preset trained for several seeds, each run's best network scored.

A learning result is a distribution over seeds, not one run. For each seed this runs
what a user runs, in a fresh process::

    mzero train PRESET --seed S --run-dir RUNS/PRESET-sS [--max-minutes M]
        [--train.max-env-steps N] [overrides]
    mzero eval RUNS/PRESET-sS --episodes 20            # single-player: best.pt's return
    mzero eval RUNS/PRESET-sS --opponent NAME --games G  # two players: per opponent

``--parallel`` seeds at a time (2 on a 2-core machine, each run on one torch thread).
The report (JSON, default ``benches/results/learning/PRESET-DATE.json``) holds per
seed the greedy mean and min of the fresh episodes (or the score against each
opponent), the first evaluation during training that reached ``--target`` (env
steps, learner steps, minutes), the run's env steps, learner steps and wall time;
and over the seeds the median, the worst and how many seeds passed (score at least
``--pass-score``), with the host's CPU model and the code's git commit. With
``--random-episodes N`` (single-player presets) it also plays N episodes of a
uniformly random legal policy in the preset's environment and reports their mean
and the median score's ratio to it. Nothing is
asserted: ``tests/test_learning.py`` guards the claims.

    python benches/bench_learning.py cartpole --seeds 0 4 --minutes 10
    python benches/bench_learning.py cartpole-efficient --seeds 0 9 --env-steps 5000 \\
        --pass-score 475
    python benches/bench_learning.py cartpole --seeds 0 4 --minutes 10 -- --train.lr 1e-3
    python benches/bench_learning.py connect4 --seeds 0 0 --minutes 60 \\
        --opponents uct:400 --games 100
    python benches/bench_learning.py 2048 --seeds 0 0 --minutes 60 --random-episodes 200 \\
        -- --network.stochastic false
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from mzero.config import preset
from mzero.envs import make_env_from_config
from mzero.evaluate import opponent_slug

RESULTS = Path(__file__).parent / "results" / "learning"


def cpu_model() -> str:
    """The host CPU's model name (``/proc/cpuinfo``), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """The repository's HEAD commit (with ``+dirty`` when the tree has changes), if any."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The records of ``RUN/metrics.jsonl``."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def first_at_target(records: list[dict[str, Any]], key: str, target: float) -> dict | None:
    """The first evaluation record whose ``key`` reached ``target``: its env steps,
    learner steps and minutes; None if none did."""
    for record in records:
        if key in record and record[key] >= target:
            return {
                "env_steps": record["env_steps"],
                "train_steps": record["train_steps"],
                "minutes": record["wall_s"] / 60.0,
                "score": record[key],
            }
    return None


def run_json(command: list[str], log: Path) -> list[dict[str, Any]]:
    """Runs ``command`` (its stderr into ``log``) and returns the JSON lines it printed."""
    with log.open("a") as err:
        err.write("$ " + shlex.join(command) + "\n")
        err.flush()
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} exited {done.returncode}; see {log}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def one_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Trains ``args.preset`` with ``seed``, evaluates its best network; the seed's row."""
    run_dir = args.runs / f"{args.preset}-s{seed}"
    log = args.runs / f"{args.preset}-s{seed}.log"
    if run_dir.exists():
        raise SystemExit(f"--runs: {run_dir} exists; remove it or pass another --runs")
    mzero = [sys.executable, "-m", "mzero"]
    train = [*mzero, "train", args.preset, "--seed", str(seed), "--run-dir", str(run_dir)]
    train += ["--no-progress"]
    if args.minutes is not None:
        train += ["--max-minutes", str(args.minutes)]
    if args.env_steps is not None:
        train += ["--train.max-env-steps", str(args.env_steps)]
    train += args.overrides
    start = time.perf_counter()
    final = run_json(train, log)[-1]
    wall_s = time.perf_counter() - start
    records = read_metrics(run_dir)
    row: dict[str, Any] = {
        "seed": seed,
        "run_dir": str(run_dir),
        "env_steps": final["env_steps"],
        "train_steps": final["train_steps"],
        "wall_s": wall_s,
    }
    if args.opponents:
        scores = {}
        for name in args.opponents:
            ev = [*mzero, "eval", str(run_dir), "--opponent", name, "--games", str(args.games)]
            result = run_json([*ev, "--seed", str(args.eval_seed)], log)[-1]
            scores[name] = result
        row["eval"] = scores
        row["score"] = scores[args.opponents[0]]["score"]
        key = f"eval_{opponent_slug(args.opponents[0])}_score"
    else:
        ev = [*mzero, "eval", str(run_dir), "--episodes", str(args.episodes)]
        result = run_json([*ev, "--seed", str(args.eval_seed)], log)[-1]
        row["eval"] = result
        row["score"] = result["return_mean"]
        row["min"] = result["return_min"]
        key = "eval_return_mean"
    row["first_at_target"] = first_at_target(records, key, args.target)
    row["passed"] = row["score"] >= args.pass_score
    print(json.dumps(row), flush=True)
    return row


def random_policy(preset_name: str, episodes: int, seed: int) -> dict[str, Any]:
    """Returns of ``episodes`` episodes of a uniformly random legal policy in the preset's
    environment (episode ``i`` reset with ``seed + i``, the moves from ``seed``)."""
    env = make_env_from_config(preset(preset_name).env)
    rng = np.random.default_rng(seed)
    returns = []
    for i in range(episodes):
        _, legal = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            step = env.step(int(rng.choice(np.flatnonzero(legal))))
            total, legal = total + step.reward, step.legal_mask
            done = step.terminated or step.truncated
        returns.append(total)
    return {
        "episodes": episodes,
        "seed": seed,
        "mean": float(np.mean(returns)),
        "min": float(np.min(returns)),
        "max": float(np.max(returns)),
    }


def summary(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Median, worst and passes over the seeds, and the median first env steps at target
    (a seed that never reached the target counts as its whole run)."""
    scores = [row["score"] for row in rows]
    first = [
        row["first_at_target"]["env_steps"] if row["first_at_target"] else row["env_steps"]
        for row in rows
    ]
    return {
        "seeds": len(rows),
        "score_median": statistics.median(scores),
        "score_worst": min(scores),
        "passed": sum(row["passed"] for row in rows),
        "pass_score": args.pass_score,
        "target": args.target,
        "reached_target": sum(row["first_at_target"] is not None for row in rows),
        "first_at_target_env_steps_median": statistics.median(first),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", help="a preset name (mzero train PRESET)")
    parser.add_argument("--seeds", type=int, nargs=2, default=[0, 4], metavar=("A", "B"))
    parser.add_argument("--minutes", type=float, help="stop rule: wall-clock minutes a run")
    parser.add_argument("--env-steps", type=int, help="stop rule: env steps a run")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time")
    parser.add_argument("--episodes", type=int, default=20, help="fresh episodes of best.pt")
    parser.add_argument("--eval-seed", type=int, default=12345, help="mzero eval --seed")
    parser.add_argument("--opponents", nargs="+", help="two players: mzero eval --opponent")
    parser.add_argument("--games", type=int, default=100, help="games against each opponent")
    parser.add_argument(
        "--target", type=float, default=475.0, help="first evaluation in training at this score"
    )
    parser.add_argument("--pass-score", type=float, default=495.0, help="a seed passes here")
    parser.add_argument(
        "--random-episodes",
        type=int,
        default=0,
        help="single-player: also score a uniformly random legal policy on N episodes",
    )
    parser.add_argument("--runs", type=Path, default=Path("runs/bench_learning"))
    parser.add_argument("--out", type=Path, help="default: results/learning/PRESET-DATE.json")
    argv = sys.argv[1:] if argv is None else argv
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    args.overrides = argv[cut + 1 :]  # after --: more mzero train options
    if args.minutes is None and args.env_steps is None:
        parser.error("expected a stop rule: --minutes and/or --env-steps")
    if args.seeds[0] > args.seeds[1]:
        parser.error(f"--seeds: expected A <= B, got {args.seeds}")
    if args.parallel < 1:
        parser.error(f"--parallel: expected >= 1, got {args.parallel}")
    started = datetime.datetime.now(datetime.timezone.utc)
    commit = git_commit()  # now: the runs import the code as it is when they start
    args.runs = args.runs / started.strftime("%Y%m%dT%H%M%S")
    args.runs.mkdir(parents=True, exist_ok=True)
    seeds = range(args.seeds[0], args.seeds[1] + 1)
    with ThreadPoolExecutor(args.parallel) as pool:
        rows = list(pool.map(lambda s: one_seed(args, s), seeds))
    result = {
        "benchmark": "learning",
        "preset": args.preset,
        "date": started.isoformat(timespec="seconds"),
        "commit": commit,
        "host": {
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "node": platform.node(),
        },
        "stop": {"minutes": args.minutes, "env_steps": args.env_steps},
        "parallel": args.parallel,
        "overrides": args.overrides,
        "eval": {"episodes": args.episodes, "seed": args.eval_seed}
        if not args.opponents
        else {"opponents": args.opponents, "games": args.games, "seed": args.eval_seed},
        "rows": rows,
        "summary": summary(rows, args),
    }
    if args.random_episodes > 0:
        baseline = random_policy(args.preset, args.random_episodes, args.eval_seed)
        result["random_policy"] = baseline
        result["summary"]["score_median_over_random"] = (
            result["summary"]["score_median"] / baseline["mean"] if baseline["mean"] else None
        )
    out = args.out or RESULTS / f"{args.preset}-{started.strftime('%Y-%m-%d')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    s = result["summary"]
    print(
        f"{args.preset}: {s['passed']}/{s['seeds']} seeds >= {args.pass_score}, median "
        f"{s['score_median']:.2f}, worst {s['score_worst']:.2f}; first evaluation >= "
        f"{args.target} at {s['first_at_target_env_steps_median']} env steps (median)"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
