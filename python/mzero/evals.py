"""Evaluating a run's networks (``mzero eval``), and the scores against named
opponents kept in ``RUN/evals.jsonl``.

:func:`evaluate_checkpoint` makes the report of one network and
:func:`evaluate_kept_checkpoints` that of every network kept during training.
``mzero eval RUN --opponent NAME`` records each score it prints here, one JSON line
per evaluated network: the ``env_steps`` of the checkpoint, its file name
(``checkpoint``), ``opponent``, ``games``, ``seed``, ``num_simulations``, ``score_first``,
``score_second`` and ``score`` (win 1, draw 0.5). A later evaluation of the same
network against the same opponent with the same games, seed and simulations replaces
the earlier line. ``--checkpoint all`` evaluates every network kept during training
(``train.keep_eval_checkpoints``), which makes a curve: ``mzero plot RUN --opponent
NAME`` draws it against env steps and wall-clock minutes.

The file is rewritten whole and atomically, so a killed evaluation leaves the lines of
the previous one, and under a lock (``RUN/evals.jsonl.lock``), so that evaluations
running side by side each keep their lines.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock

from mzero.checkpoint import atomic_write
from mzero.errors import CorruptFileError, InvalidArgumentError, MZeroIOError

__all__ = [
    "EVALS_FILE",
    "evaluate_checkpoint",
    "evaluate_kept_checkpoints",
    "kept_checkpoints",
    "read_evals",
    "read_jsonl",
    "record_eval",
]

EVALS_FILE = "evals.jsonl"
_KEPT = re.compile(r"env_steps_(\d+)\.pt")
_KEY = ("env_steps", "opponent", "games", "seed", "num_simulations")


def kept_checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The networks kept at each training evaluation, ``RUN/checkpoints/env_steps_N.pt``,
    in the order of N."""
    directory = Path(run_dir) / "checkpoints"
    kept = [
        (int(match.group(1)), path)
        for path in directory.glob("env_steps_*.pt")
        if (match := _KEPT.fullmatch(path.name))
    ]
    if not kept:
        raise InvalidArgumentError(
            f"--checkpoint all: {directory} has no env_steps_N.pt "
            "(networks are kept when the run trains with train.keep_eval_checkpoints)"
        )
    return [path for _, path in sorted(kept)]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of ``path``, one per line. A missing file raises
    ``FileNotFoundError``; an unreadable one :class:`MZeroIOError`; a line that is not
    JSON :class:`CorruptFileError`, naming the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except OSError as err:
        raise MZeroIOError(f"run: cannot read {path}: {err}") from err
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise CorruptFileError(f"{path}: line {number} is not JSON ({err})") from err
    return entries


def read_evals(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The lines of ``RUN/evals.jsonl`` (an empty list when the run has none)."""
    try:
        return read_jsonl(Path(run_dir) / EVALS_FILE)
    except FileNotFoundError:
        return []


def record_eval(run_dir: str | os.PathLike[str], entry: dict[str, Any]) -> None:
    """Adds ``entry`` to ``RUN/evals.jsonl``, replacing a line with the same network,
    opponent, games, seed and simulations; rewrites the file atomically."""
    missing = [key for key in _KEY if key not in entry]
    if missing:
        raise InvalidArgumentError(f"entry: expected the keys {', '.join(missing)}")
    key = tuple(entry[k] for k in _KEY)
    path = Path(run_dir) / EVALS_FILE
    try:
        with FileLock(f"{path}.lock"):
            kept = [e for e in read_evals(run_dir) if tuple(e.get(k) for k in _KEY) != key]
            lines = "".join(json.dumps(e) + "\n" for e in [*kept, entry])
            atomic_write(path, lambda f: f.write(lines), mode="w")
    except OSError as err:
        raise MZeroIOError(f"run: cannot write {path}: {err}") from err


# -- evaluating a run's networks (``mzero eval``) -------------------------------------------


def evaluate_checkpoint(
    run_dir: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str] = "best",
    *,
    opponent: str | None = None,
    games: int = 100,
    episodes: int = 20,
    seed: int = 0,
    num_simulations: int | None = None,
) -> dict[str, Any]:
    """The report of ``mzero eval`` for one network of ``run_dir`` (``checkpoint`` as
    :meth:`mzero.Agent.load` takes it): the scores of ``games`` games against
    ``opponent`` (kept in ``evals.jsonl``); else, for a single-player game, the greedy
    returns of ``episodes`` episodes; else the tallies against the run's evaluation
    opponents (and every line of play, where the game walks them)."""
    from mzero.evaluate import evaluate_returns

    agent, result = _load_agent(run_dir, checkpoint, num_simulations)
    if opponent is not None:
        result |= _score_against(agent, opponent, games, seed)
        _record(run_dir, agent, result, seed)
    elif not agent.two_player:
        returns = evaluate_returns(agent.network, agent.config, episodes, seed=seed)
        result |= {
            "episodes": episodes,
            "return_mean": sum(returns) / len(returns),
            "return_min": min(returns),
            "return_max": max(returns),
        }
    else:
        result |= _against_eval_opponents(agent, episodes, seed)
    return result


def evaluate_kept_checkpoints(
    run_dir: str | os.PathLike[str],
    opponent: str,
    games: int,
    seed: int = 0,
    num_simulations: int | None = None,
) -> Iterator[dict[str, Any]]:
    """``mzero eval --checkpoint all``: each kept network against ``opponent``, in the
    order of env steps, each score kept in ``evals.jsonl`` as it is made."""
    for path in kept_checkpoints(run_dir):
        agent, result = _load_agent(run_dir, path, num_simulations)
        result |= _score_against(agent, opponent, games, seed)
        _record(run_dir, agent, result, seed)
        yield result


def _load_agent(
    run_dir: str | os.PathLike[str], checkpoint: Any, num_simulations: int | None
) -> tuple[Any, dict[str, Any]]:
    """The agent of ``checkpoint`` with ``num_simulations`` applied, and its report header."""
    from mzero.agent import Agent

    agent = Agent.load(run_dir, checkpoint=checkpoint)
    if num_simulations is not None:
        agent.config.search.eval_simulations = num_simulations
    header = {
        "run_dir": str(run_dir),
        "checkpoint": str(agent.checkpoint_path),
        "env_steps": agent.env_steps,
        "num_simulations": agent.config.search.greedy_simulations,
    }
    return agent, header


def _record(run_dir: str | os.PathLike[str], agent: Any, result: dict[str, Any], seed: int) -> None:
    """Keeps a score against an opponent in ``RUN/evals.jsonl``."""
    if agent.env_steps is None or Path(run_dir).resolve() not in (
        Path(agent.checkpoint_path).resolve().parents
    ):
        return  # a checkpoint from elsewhere: not a point of this run's curve
    record_eval(
        run_dir,
        {
            "env_steps": agent.env_steps,
            "checkpoint": Path(agent.checkpoint_path).name,
            "opponent": result["opponent"],
            "games": result["games"],
            "seed": seed,
            "num_simulations": result["num_simulations"],
            "score_first": result["score_first"],
            "score_second": result["score_second"],
            "score": result["score"],
        },
    )


def _score_against(agent: Any, name: str, games: int, seed: int) -> dict[str, Any]:
    """Scores (win 1, draw 0.5) of ``games`` games against the opponent ``name``."""
    from mzero.evaluate import score_against

    if not agent.two_player:
        raise InvalidArgumentError("--opponent: the run is not a two-player game")
    if games < 2:
        raise InvalidArgumentError(f"--games: expected >= 2 (half moving first), got {games}")
    scores = score_against(agent.network, agent.config, name, games, seed=seed)
    return {
        "opponent": name,
        "games": games,
        "score_first": scores["score_first"],
        "score_second": scores["score_second"],
        "score": scores["score"],
        "first": _tally(scores["first"]),
        "second": _tally(scores["second"]),
    }


def _against_eval_opponents(agent: Any, games: int, seed: int) -> dict[str, Any]:
    """Tallies of ``games`` games (half first) against each evaluation opponent of the
    run, and for games walked whole (``every_line_report``) every line of play."""
    from mzero.envs.registry import game_class
    from mzero.evaluate import eval_opponent_names, opponent_slug

    config = agent.config
    result: dict[str, Any] = {}
    for name in eval_opponent_names(config):
        scores = _score_against(agent, name, max(games, 2), seed)
        slug = opponent_slug(name)
        result[f"vs_{slug}_first"] = scores["first"]
        result[f"vs_{slug}_second"] = scores["second"]
        result[f"vs_{slug}_score"] = scores["score"]
    every_line_report = getattr(game_class(config.env.id), "every_line_report", None)
    if every_line_report is not None and config.env.frame_stack == 1:

        def move(observation: Any, legal_mask: Any) -> int:
            agent.reset()  # one frame: the move depends on the position alone
            return int(agent.act(observation, legal_mask))

        result |= {key: _tally(results) for key, results in every_line_report(move).items()}
    return result


def _tally(results: list[int]) -> dict[str, int]:
    return {"wins": results.count(1), "draws": results.count(0), "losses": results.count(-1)}
