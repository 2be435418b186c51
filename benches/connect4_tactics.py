"""Connect Four tactics of a trained run: wins in one taken, single threats blocked.

Random positions (4-29 random moves from the start, the game still going) are
sorted into those where the mover can win at once and those where the opponent
threatens exactly one win; the run's agent (``mzero.Agent.load``, greedy search
with the run's config) plays one move in each. Also the reward head's mean
prediction for winning moves and for the others, from the root latent state.

    python benches/connect4_tactics.py RUN [--checkpoint best] [--positions 100]

Prints and saves JSON (default ``benches/results/connect4_tactics.json``).
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch

from mzero import Agent
from mzero.envs.connect4 import ConnectFourEnv

DEFAULT_OUT = Path(__file__).parent / "results" / "connect4_tactics.json"


def winning_moves(env: ConnectFourEnv) -> list[int]:
    """The moves that win at once for the player to move."""
    wins = []
    for column in np.flatnonzero(env.legal_mask()):
        child = copy.deepcopy(env)
        if child.step(int(column))[1] > 0:
            wins.append(int(column))
    return wins


def threats(env: ConnectFourEnv) -> list[int]:
    """The moves that would win at once for the opponent, were it to move."""
    other = copy.deepcopy(env)
    other.to_play = 1 - other.to_play
    return winning_moves(other)


def random_position(rng: np.random.Generator) -> ConnectFourEnv | None:
    env = ConnectFourEnv()
    env.reset()
    for _ in range(int(rng.integers(4, 30))):
        env.step(int(rng.choice(np.flatnonzero(env.legal_mask()))))
        if env.done:
            return None
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("--positions", type=int, default=100, help="positions of each kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    agent = Agent.load(args.run_dir, checkpoint=args.checkpoint)
    if agent.config.env.id not in ("connect4", "mzero/ConnectFour-v0"):
        raise SystemExit(f"run_dir: expected a connect4 run, got {agent.config.env.id!r}")
    rng = np.random.default_rng(args.seed)
    taken = blocked = wins_seen = threats_seen = 0
    reward_win: list[float] = []
    reward_other: list[float] = []
    while wins_seen < args.positions or threats_seen < args.positions:
        env = random_position(rng)
        if env is None:
            continue
        wins, threatened = winning_moves(env), threats(env)
        if wins and wins_seen < args.positions:
            wins_seen += 1
            agent.reset()
            taken += agent.act(env.observation(), env.legal_mask()) in wins
            with torch.no_grad():
                root = agent.network.initial_inference(torch.from_numpy(env.observation())[None])
                for column in np.flatnonzero(env.legal_mask()):
                    step = agent.network.recurrent_inference(root.latent, torch.tensor([column]))
                    (reward_win if column in wins else reward_other).append(float(step.reward[0]))
        elif not wins and len(threatened) == 1 and threats_seen < args.positions:
            threats_seen += 1
            agent.reset()
            blocked += agent.act(env.observation(), env.legal_mask()) in threatened
    report = {
        "run_dir": str(args.run_dir),
        "checkpoint": str(agent.checkpoint_path),
        "positions": args.positions,
        "wins_in_one_taken": taken,
        "single_threats_blocked": blocked,
        "reward_mean_winning_moves": float(np.mean(reward_win)),
        "reward_mean_other_moves": float(np.mean(reward_other)),
    }
    print(json.dumps(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
