"""The ``mzero`` command line: ``train``, ``eval``, ``plot``, ``play`` and ``config show``.

mzero train cartpole --seed 0 --run-dir runs/cartpole-0 --max-minutes 10
mzero train --resume runs/cartpole-0 --max-minutes 5
mzero train tictactoe --search.num-simulations 25 --train.num-envs 64
mzero config show cartpole > cartpole.toml; mzero train --config cartpole.toml
mzero eval runs/cartpole-0 --episodes 20
mzero play runs/tictactoe-0
mzero plot runs/cartpole-0 runs/cartpole-1 -o curves.png
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import mzero
from mzero.errors import InvalidArgumentError, MZeroError

logger = logging.getLogger("mzero")


class _StderrHandler(logging.Handler):
    """Writes ``mzero: warning: MESSAGE`` lines to ``sys.stderr`` as it is when called."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"mzero: {record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)
        except Exception:
            self.handleError(record)


def _log_to_stderr() -> None:
    """Shows the ``mzero`` logger's warnings on stderr (once per process)."""
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())


class _OverridesHelpFormatter(argparse.HelpFormatter):
    """Shows the ``--SECTION.FIELD`` overrides in their groups below, and as one
    ``[--SECTION.FIELD VALUE]`` in the usage line instead of a line each."""

    _PLACEHOLDER = argparse.Action(["--SECTION.FIELD"], dest="overrides", metavar="VALUE")

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: Any = None) -> None:
        actions = [a for a in actions if "." not in a.dest] + [self._PLACEHOLDER]
        super().add_usage(usage, actions, groups, prefix)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with its subcommands."""
    from mzero.config import PRESETS, add_override_arguments

    parser = argparse.ArgumentParser(
        prog="mzero",
        description="MuZero with a Rust engine: batched MCTS, replay and training.",
    )
    parser.add_argument("--version", action="version", version=f"mzero {mzero.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="train an agent from a preset",
        description="Self-play and learning, in one process or with --actors N on Ray. "
        "Any config field can be overridden as --SECTION.FIELD VALUE (dashes or "
        "underscores in FIELD; listed below by section; docs: configuration reference).",
        formatter_class=_OverridesHelpFormatter,
    )
    train.add_argument(
        "preset",
        nargs="?",
        choices=sorted(PRESETS),
        help="the preset config to start from (not with --resume)",
    )
    train.add_argument(
        "--resume",
        type=Path,
        metavar="RUN",
        help="continue the run in RUN from its latest snapshot, with its saved config; "
        "limits and overrides given here replace the saved ones, and --max-minutes "
        "counts from the resume",
    )
    train.add_argument("--seed", type=int, help="seed of the run (train.seed)")
    train.add_argument(
        "--run-dir", type=Path, help="run directory (default: runs/PRESET-seedS-TIME)"
    )
    train.add_argument("--max-minutes", type=float, help="wall-clock budget (train.max_minutes)")
    train.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="start from this config file, not a preset: JSON (a run's config.json) or, "
        "named *.toml, TOML (as mzero config show writes)",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument(
        "--actors",
        type=int,
        metavar="N",
        help="self-play in N Ray actors, the learner in this process (actors.num_actors; "
        "0: all in-process, Ray not imported)",
    )
    train.add_argument(
        "--reanalyze-workers",
        type=int,
        metavar="M",
        help="with --actors: reanalyse sampled batches in M Ray actors "
        "(actors.reanalyze_workers; needs reanalyze on)",
    )
    train.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="join this Ray cluster (actors.ray_address); default: a local Ray on 127.0.0.1",
    )
    add_override_arguments(train)

    evaluate = commands.add_parser(
        "eval",
        help="greedy evaluation of a trained run",
        description="Single-player: mean return over fresh episodes. Two players: "
        "results against each of the run's evaluation opponents (train.eval_opponents, "
        "else the game's: minimax and random for TicTacToe, uct:100 and random for "
        "Connect Four and OpenSpiel), half the games first; for TicTacToe also every "
        "game against every optimal opponent line and every legal one (every_*_line_*).",
    )
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--episodes", type=int, default=20, help="episodes (games) to play")
    evaluate.add_argument(
        "--checkpoint",
        default="best",
        help="best, last, a checkpoint file (a path or a file name in RUN/checkpoints), or "
        "all: with --opponent, every network kept during training in turn (a curve)",
    )
    evaluate.add_argument("--seed", type=int, default=12345, help="seed of the episodes")
    evaluate.add_argument(
        "--opponent",
        help="two-player runs: play only this opponent (random, minimax for tictactoe, "
        "uct:N, alphabeta:D) "
        "and print the score (win 1, draw 0.5) as first player, as second and overall",
    )
    evaluate.add_argument(
        "--games", type=int, default=100, help="games against --opponent, half moving first"
    )
    evaluate.add_argument(
        "--num-simulations",
        type=int,
        help="simulations per move of the agent's search (default: the run's "
        "search.eval_simulations, else search.num_simulations)",
    )

    plot = commands.add_parser(
        "plot",
        help="draw learning curves of runs",
        description="Evaluation return (with --opponent: the score against it) against "
        "environment steps and against wall-clock minutes, the runs overlaid (needs "
        "matplotlib: pip install 'mzero[plot]').",
    )
    plot.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN")
    plot.add_argument("-o", "--out", type=Path, default=Path("curves.png"), help="image file")
    plot.add_argument(
        "--opponent",
        action="append",
        default=[],
        metavar="NAME",
        help="draw the score against NAME from RUN/evals.jsonl instead (mzero eval RUN "
        "--opponent NAME --checkpoint all records it); repeat for several",
    )
    plot.add_argument(
        "--num-simulations",
        type=int,
        default=None,
        help="with --opponent: the evaluations of this many simulations per move "
        "(default: the run's agent's, search.eval_simulations else search.num_simulations)",
    )

    play = commands.add_parser(
        "play",
        help="play a board game (tictactoe, connect4, openspiel:GAME) against a trained "
        "agent, or watch it play a one-player game (2048, openspiel:2048); chance "
        "outcomes (tiles that spawn, dice) are shown as they happen",
    )
    play.add_argument("run_dir", type=Path)
    play.add_argument("--first", choices=("human", "agent"), default="human")
    play.add_argument(
        "--checkpoint",
        default="best",
        help="best, last, or a checkpoint file (a path or a file name in RUN/checkpoints)",
    )
    play.add_argument(
        "--show-search",
        type=int,
        default=3,
        metavar="K",
        help="after each agent move, its K most visited moves with visits and Q (0: none)",
    )

    config = commands.add_parser(
        "config",
        help="print a preset's config as a file (mzero config show PRESET)",
        description="Configs as files: start from one with mzero train --config FILE.",
    )
    config_commands = config.add_subparsers(dest="config_command", metavar="COMMAND")
    config_commands.required = True
    show = config_commands.add_parser(
        "show",
        help="print a preset's whole config, every field with its value",
        description="The preset as mzero train PRESET would start from it, defaults "
        "included, in TOML (one table per section; TOML has no null, so None is written "
        'as "none", as on the command line) or in JSON (as a run\'s config.json). Save '
        "it, edit it and train from it: mzero train --config FILE.toml.",
    )
    show.add_argument("preset", choices=sorted(PRESETS), help="the preset to print")
    show.add_argument("--format", choices=("toml", "json"), default="toml", help="the file format")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the process exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        from mzero.config import unknown_override

        options = [token for token in unknown if token.startswith("--")]
        if args.command == "train" and options:
            # a mistyped --SECTION.FIELD names the closest field (argparse would not)
            parser.error(unknown_override(options[0]))
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 0
    _log_to_stderr()
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "eval":
            return _eval(args)
        if args.command == "config":
            from mzero.config import preset

            print(preset(args.preset).to_text(args.format), end="")
            return 0
        if args.command == "plot":
            from mzero.plot import plot_runs

            print(plot_runs(args.run_dirs, args.out, tuple(args.opponent), args.num_simulations))
            return 0
        return _play(args, sys.stdin, sys.stdout)
    except MZeroError as err:
        print(f"mzero {args.command}: error: {err}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    from mzero.config import Config, apply_overrides, overrides_from_namespace, preset
    from mzero.train import resume, train

    overrides: dict[str, Any] = overrides_from_namespace(args)
    if args.seed is not None:
        overrides["train.seed"] = args.seed
    if args.max_minutes is not None:
        overrides["train.max_minutes"] = args.max_minutes
    if args.actors is not None:
        overrides["actors.num_actors"] = args.actors
    if args.reanalyze_workers is not None:
        overrides["actors.reanalyze_workers"] = args.reanalyze_workers
    if args.ray_address is not None:
        overrides["actors.ray_address"] = args.ray_address
    if args.resume is not None:
        if args.preset is not None or args.config is not None or args.run_dir is not None:
            raise InvalidArgumentError(
                "--resume: the run's own config and directory are used; "
                "give no preset, --config or --run-dir with it"
            )
        print(f"mzero train: resuming {args.resume}", file=sys.stderr)
        metrics = resume(args.resume, overrides, progress=not args.no_progress)
        print(json.dumps(metrics))
        return 0
    if args.preset is None and args.config is None:
        raise InvalidArgumentError("preset: expected a preset name, --config FILE or --resume RUN")
    if args.preset is not None and args.config is not None:
        raise InvalidArgumentError(
            f"--config: starts from its own config; give it or the preset {args.preset!r}, not both"
        )
    config = Config.load(args.config) if args.config else preset(args.preset)
    config = apply_overrides(config, overrides)
    train_config = config.train
    if (
        train_config.max_minutes is None
        and train_config.max_env_steps is None
        and train_config.max_train_steps is None
    ):
        config = apply_overrides(config, {"train.max_minutes": 10.0})
    name = args.preset or Path(args.config).stem
    run_dir = args.run_dir or Path("runs") / (
        f"{name}-seed{config.train.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    print(f"mzero train {name}: run directory {run_dir}", file=sys.stderr)
    metrics = train(config, run_dir, progress=not args.no_progress)
    print(json.dumps(metrics))
    return 0


def _eval(args: argparse.Namespace) -> int:
    """``mzero eval``: one JSON line per evaluated network (:mod:`mzero.evals`)."""
    from mzero.evals import evaluate_checkpoint, evaluate_kept_checkpoints

    if args.num_simulations is not None and args.num_simulations < 1:
        raise InvalidArgumentError(f"--num-simulations: expected >= 1, got {args.num_simulations}")
    if args.checkpoint == "all":
        if args.opponent is None:
            raise InvalidArgumentError("--checkpoint all: expected --opponent NAME as well")
        for result in evaluate_kept_checkpoints(
            args.run_dir, args.opponent, args.games, args.seed, args.num_simulations
        ):
            print(json.dumps(result), flush=True)
        return 0
    result = evaluate_checkpoint(
        args.run_dir,
        args.checkpoint,
        opponent=args.opponent,
        games=args.games,
        episodes=args.episodes,
        seed=args.seed,
        num_simulations=args.num_simulations,
    )
    print(json.dumps(result))
    return 0


def _play(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from mzero.agent import Agent
    from mzero.envs.registry import make_playable_game

    agent = Agent.load(args.run_dir, checkpoint=args.checkpoint)
    env = make_playable_game(agent.config.env.id)
    if env is None:
        print(f"mzero play: {args.run_dir} is a {agent.config.env.id!r} run, not a board game")
        return 2
    observation, info = env.reset()
    if not agent.two_player:
        return _watch(agent, env, observation, info, args.show_search, stdout)
    human_turn = args.first == "human"
    stdout.write("You are X (first)\n" if human_turn else "You are O (second)\n")
    while True:
        stdout.write("\n" + env.render_text())
        if human_turn:
            action = _read_move(stdin, stdout, info["legal_mask"])
            if action is None:
                return 0
        else:
            action = agent.act(observation, info["legal_mask"])
            stdout.write(f"agent plays {action}\n")
            if args.show_search > 0:
                stdout.write(_search_summary(agent.last_search, args.show_search))
        observation, reward, terminated, _, info = env.step(action)
        stdout.write(_chance_summary(info))
        if terminated:
            stdout.write("\n" + env.render_text())
            if reward == 0:
                stdout.write("Draw.\n")
            else:
                stdout.write("You win!\n" if human_turn else "The agent wins.\n")
            return 0
        human_turn = not human_turn


def _watch(
    agent: Any, env: Any, observation: Any, info: dict[str, Any], show_search: int, stdout: TextIO
) -> int:
    """The agent plays a one-player game to its end, each move shown with the chance
    outcome that followed it."""
    stdout.write(_chance_summary(info))
    moves, score, done = 0, 0.0, False
    while not done:
        stdout.write("\n" + env.render_text())
        action = agent.act(observation, info["legal_mask"])
        names = getattr(env, "action_names", None)
        stdout.write(f"agent plays {action}" + (f" ({names[action]})" if names else "") + "\n")
        if show_search > 0:
            stdout.write(_search_summary(agent.last_search, show_search))
        observation, reward, terminated, truncated, info = env.step(action)
        stdout.write(f"reward {reward:g}\n" + _chance_summary(info))
        moves, score, done = moves + 1, score + reward, terminated or truncated
    stdout.write("\n" + env.render_text())
    stdout.write(f"Game over after {moves} moves: score {score:g}.\n")
    return 0


def _chance_summary(info: dict[str, Any]) -> str:
    """The chance outcomes of the last step (``info["chance"]``) as a line, or nothing:
    2048's spawns ``(cell, value)`` as tiles and cells, OpenSpiel's outcome strings as
    they are."""
    outcomes = info.get("chance") or []
    parts = []
    for outcome in outcomes:
        if isinstance(outcome, tuple) and len(outcome) == 2:
            cell, value = (int(x) for x in outcome)
            parts.append(f"a {value} appeared at row {cell // 4}, column {cell % 4}")
        else:
            parts.append(str(outcome))
    return "  chance: " + "; ".join(parts) + "\n" if parts else ""


def _search_summary(out: Any, k: int) -> str:
    """The search's ``k`` most visited root moves: visits and Q (the mover's view)."""
    visits, q = out.visit_counts[0], out.q_values[0]
    order = sorted(range(len(visits)), key=lambda a: (-int(visits[a]), a))[:k]
    parts = [f"{a}: {int(visits[a])} visits, Q {float(q[a]):+.2f}" for a in order if visits[a]]
    return "  search: " + "; ".join(parts) + "\n"


def _read_move(stdin: TextIO, stdout: TextIO, legal_mask: Any) -> int | None:
    """A legal move from the human (a cell or a column number); None at end of input."""
    last = len(legal_mask) - 1
    while True:
        stdout.write(f"your move (0-{last}, q to quit): ")
        stdout.flush()
        line = stdin.readline()
        if not line or line.strip().lower() in ("q", "quit"):
            return None
        text = line.strip()
        if text.isdigit() and 0 <= int(text) <= last and legal_mask[int(text)]:
            return int(text)
        stdout.write(f"not a legal move: {text!r}\n")
