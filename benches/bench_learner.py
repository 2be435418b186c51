"""Benchmark of the learner: learner steps/s of a preset, eager against compiled.

One learner step is what :meth:`mzero.learner.Learner.train_step` does in a run:
sample a batch from the replay buffer, augment it by the game's symmetries (when
the preset does), the K-step unroll and its losses, backward, gradient clipping and
the AdamW step. The buffer holds uniformly random games of the preset's environment
(the cost does not depend on the data). Torch runs on the preset's
``train.torch_threads`` unless ``--threads`` says otherwise.

Each variant is a ``train.learner_dtype`` and a ``train.learner_step`` (``eager`` or
``compile``); its first step, which compiles, is timed apart. Repeats take turns
between the variants; the table shows the median steps/s and the median of each
repeat's ratio to the first variant. With ``--profile N`` each variant's N steps also
run under ``torch.profiler`` and the JSON keeps the ops that took most of its time
(self CPU ms a step and share of the step), which says what a compiled step can and
cannot fuse away (convolutions stay library calls). JSON is written (default
``benches/results/learner/PRESET-DATE.json``); nothing is asserted.

    python benches/bench_learner.py                               # connect4, eager vs compile
    python benches/bench_learner.py --preset cartpole
    python benches/bench_learner.py --dtypes float32 bfloat16 --learner-steps eager
    python benches/bench_learner.py --preset tictactoe --threads 1
    python benches/bench_learner.py --quick                       # few steps (smoke test)
    python benches/bench_learner.py --profile 10                  # where a step's time goes
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import mzero
from bench_learning import cpu_model  # benches/ is the script's folder
from mzero.config import Config, apply_overrides, preset
from mzero.envs.registry import make_env_from_config
from mzero.learner import Learner

RESULTS = Path(__file__).parent / "results" / "learner"


def random_games(config: Config, replay: mzero.ReplayBuffer, transitions: int) -> None:
    """Uniformly random legal games of the config's environment until ``transitions``."""
    rng = np.random.default_rng(0)
    env = make_env_from_config(config.env)
    while len(replay) < transitions:
        obs, legal = env.reset(seed=int(rng.integers(2**31)))
        observations, actions, rewards = [obs], [], []
        while True:
            action = int(rng.choice(np.flatnonzero(legal)))
            step = env.step(action)
            observations.append(step.observation)
            actions.append(action)
            rewards.append(step.reward)
            legal = step.legal_mask
            if step.terminated or step.truncated:
                break
        moves = len(actions)
        replay.add_game(
            np.stack(observations).astype(np.float32),
            np.array(actions, np.int64),
            np.array(rewards, np.float32),
            np.zeros(moves, np.float32),
            np.full((moves, env.num_actions), 1.0 / env.num_actions, np.float32),
            terminated=step.terminated,
            bootstrap_value=0.0,
        )
    env.close()


def build_learner(config: Config, transitions: int) -> Learner:
    """A learner of ``config`` on the CPU over a buffer of random games."""
    env = make_env_from_config(config.env)
    obs_shape, num_actions, two_player = env.obs_shape, env.num_actions, env.two_player
    symmetries = env.symmetries if config.train.augment_symmetries else None
    env.close()
    replay = config.to_replay_buffer(obs_shape, num_actions, two_player=two_player)
    random_games(config, replay, transitions)
    rng = np.random.default_rng(0)
    device = torch.device("cpu")
    return Learner(config, obs_shape, num_actions, two_player, device, replay, rng, symmetries)


def steps_per_second(learner: Learner, steps: int) -> float:
    """Learner steps/s over ``steps`` timed steps (after one untimed warm-up step)."""
    learner.train_step()
    start = time.perf_counter()
    for _ in range(steps):
        learner.train_step()
    return steps / (time.perf_counter() - start)


def profile_ops(learner: Learner, steps: int, top: int = 12) -> list[dict[str, object]]:
    """The ``top`` ops by self CPU time over ``steps`` learner steps under
    ``torch.profiler``: name, calls a step, self CPU ms a step and share of the total."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            learner.train_step()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [
        {
            "op": e.key,
            "calls_per_step": e.count / steps,
            "self_ms_per_step": e.self_cpu_time_total / 1e3 / steps,
            "share": e.self_cpu_time_total / total,
        }
        for e in events[:top]
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="connect4")
    parser.add_argument("--dtypes", nargs="+", default=["float32"], help="train.learner_dtype")
    parser.add_argument(
        "--learner-steps", nargs="+", default=["eager", "compile"], help="train.learner_step"
    )
    parser.add_argument("--threads", type=int, default=None, help="default: the preset's")
    parser.add_argument("--steps", type=int, default=20, help="timed learner steps a repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 steps, 1 repeat")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="profile N steps of each variant"
    )
    parser.add_argument("--out", type=Path, help="default: results/learner/PRESET-DATE.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 2, 1
    base = preset(args.preset)
    threads = args.threads or base.train.torch_threads
    torch.set_num_threads(threads)
    variants = [(dtype, step) for dtype in args.dtypes for step in args.learner_steps]
    learners = {}
    compile_s = {}
    for dtype, step in variants:
        torch.manual_seed(0)
        overrides = {"train.learner_dtype": dtype, "train.learner_step": step}
        learner = build_learner(apply_overrides(base, overrides), 4 * base.train.batch_size)
        start = time.perf_counter()
        learner.train_step()  # compiles, when compiling
        compile_s[dtype, step] = time.perf_counter() - start
        learners[dtype, step] = learner
    rates: dict[tuple[str, str], list[float]] = {v: [] for v in variants}
    for _ in range(args.repeats):
        for variant, learner in learners.items():
            rates[variant].append(steps_per_second(learner, args.steps))

    first = variants[0]
    rows = []
    for variant in variants:
        profile = profile_ops(learners[variant], args.profile) if args.profile else None
        ratios = [r / f for r, f in zip(rates[variant], rates[first], strict=True)]
        rows.append(
            {
                "learner_dtype": variant[0],
                "learner_step": variant[1],
                "steps_per_second": statistics.median(rates[variant]),
                "ms_per_step": 1e3 / statistics.median(rates[variant]),
                "ratio_to_first": statistics.median(ratios),
                "first_step_s": compile_s[variant],
                "repeats": rates[variant],
                "learner_steps": learners[variant].train_steps,
            }
        )
        if profile is not None:
            rows[-1]["profile"] = profile
    print(
        f"{args.preset}: batch {base.train.batch_size}, K = {base.train.unroll_steps}, "
        f"{threads} torch threads, medians of {args.repeats} x {args.steps} steps"
    )
    print(f"{'variant':>18} {'steps/s':>8} {'ms/step':>8} {'x first':>8} {'1st step s':>10}")
    for row in rows:
        print(
            f"{row['learner_dtype'] + '/' + row['learner_step']:>18} "
            f"{row['steps_per_second']:8.2f} {row['ms_per_step']:8.1f} "
            f"{row['ratio_to_first']:8.2f} {row['first_step_s']:10.1f}"
        )
    for row in rows:
        for op in row.get("profile", []):
            print(
                f"{row['learner_step']:>8} {op['op'][:48]:<48} "
                f"{op['self_ms_per_step']:7.2f} ms {op['share']:6.1%}"
            )
    result = {
        "benchmark": "learner",
        "quick": args.quick,
        "preset": args.preset,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "batch_size": base.train.batch_size,
        "unroll_steps": base.train.unroll_steps,
        "torch_threads": threads,
        "steps": args.steps,
        "repeats": args.repeats,
        "profile_steps": args.profile,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "cpu": cpu_model()},
        "torch": torch.__version__,
        "rows": rows,
    }
    date = result["date"][:10]
    out = args.out or RESULTS / f"{args.preset}-{date}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
