"""Single-game acting: milliseconds per ``mzero.Agent.act`` move, per ``network.act_inference``.

One move of a greedy agent (B = 1) is a root inference and one recurrent network call
per simulation, each paying the per-call overhead that batching hides in self-play;
every evaluation episode and ``mzero play`` move pays it. This times ``Agent.act`` on
CartPole observations from real episodes with the preset's network (its weights do
not change the cost) and search budget, for each ``network.act_inference`` mode, the
modes taking turns within each repeat. The first move, which traces or compiles, is
timed apart.
Medians over repeats; prints a table, saves JSON; nothing is asserted.

    python benches/bench_agent.py                          # cartpole, trace / compile / eager
    python benches/bench_agent.py --modes trace compile --moves 200
    python benches/bench_agent.py --quick --out /tmp/agent.json
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

import gymnasium as gym
import numpy as np
import torch

from bench_learning import cpu_model  # benches/ is the script's folder
from mzero.agent import Agent
from mzero.config import apply_overrides, preset
from mzero.learner import build_network

RESULTS = Path(__file__).parent / "results" / "agent"


def observations(count: int) -> list[np.ndarray]:
    """CartPole observations of uniformly random episodes (reset seeds 0, 1, ...)."""
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(0)
    found: list[np.ndarray] = []
    episode = 0
    while len(found) < count:
        obs, _ = env.reset(seed=episode)
        episode += 1
        done = False
        while not done and len(found) < count:
            found.append(np.asarray(obs, np.float32))
            obs, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
            done = terminated or truncated
    env.close()
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cartpole", help="a preset with a CartPole env")
    parser.add_argument("--modes", nargs="+", default=["trace", "compile", "eager"])
    parser.add_argument("--moves", type=int, default=100, help="timed moves a repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="5 moves, 1 repeat")
    parser.add_argument("--out", type=Path, help="default: results/agent/PRESET-DATE.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.moves, args.repeats = 5, 1
    torch.set_num_threads(1)
    base = preset(args.preset)
    obs = observations(args.moves)
    agents: dict[str, Agent] = {}
    first_move_s: dict[str, float] = {}
    for mode in args.modes:
        config = apply_overrides(base, {"network.act_inference": mode})
        torch.manual_seed(0)
        network = build_network(config, obs[0].shape, 2)
        agents[mode] = Agent(network, config, two_player=False)
        start = time.perf_counter()
        agents[mode].act(obs[0])
        first_move_s[mode] = time.perf_counter() - start
    per_move: dict[str, list[float]] = {mode: [] for mode in args.modes}
    # the work of the last repeat: each move, and the root visits of each search
    actions: dict[str, list[int]] = {}
    visits: dict[str, set[int]] = {}
    for _ in range(args.repeats):
        for mode, agent in agents.items():
            actions[mode], visits[mode] = [], set()
            start = time.perf_counter()
            for o in obs:
                actions[mode].append(agent.act(o))
                visits[mode].add(int(agent.last_search.visit_counts.sum()))
            per_move[mode].append(1e3 * (time.perf_counter() - start) / len(obs))
    rows = [
        {
            "inference": mode,
            "ms_per_move": statistics.median(per_move[mode]),
            "first_move_s": first_move_s[mode],
            "repeats": per_move[mode],
            "actions": actions[mode],
            "root_visits": sorted(visits[mode]),
        }
        for mode in args.modes
    ]
    simulations = base.search.greedy_simulations
    print(f"{args.preset}: Agent.act, B = 1, {simulations} simulations, medians of {args.repeats}")
    print(f"{'inference':>10} {'ms/move':>8} {'1st move s':>10}")
    for row in rows:
        print(f"{row['inference']:>10} {row['ms_per_move']:8.2f} {row['first_move_s']:10.1f}")
    result = {
        "benchmark": "agent",
        "quick": args.quick,
        "preset": args.preset,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "simulations": simulations,
        "moves": args.moves,
        "repeats": args.repeats,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "cpu": cpu_model()},
        "torch": torch.__version__,
        "rows": rows,
    }
    out = args.out or RESULTS / f"{args.preset}-{result['date'][:10]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
