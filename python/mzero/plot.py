"""Learning curves of one or more runs: ``mzero plot RUN [RUN ...] -o curves.png``.

Two panels, every run overlaid: the evaluation return (``eval_return_mean``) against
environment steps and against wall-clock minutes. A run without evaluations is drawn
with its self-play return (``return_mean``) instead, and says so in the legend. With
``--opponent NAME`` (repeatable) the panels draw instead each run's score against
that opponent (win 1, draw 0.5) from ``RUN/evals.jsonl``, which ``mzero eval RUN
--opponent NAME --checkpoint all`` fills from the networks kept during training
(:mod:`mzero.evals`). A curve holds the evaluations of one search budget, the
agent's own by default (``search.eval_simulations``, else ``search.num_simulations``
of ``RUN/config.json``; ``--num-simulations`` picks another); where one network was
scored more than once with it, the evaluations are pooled (their scores weighted by
games). The wall-clock axis adds up the lives of a resumed run
(each life's ``wall_s`` starts at 0 again after a ``"resumed": true`` record), so the
time a killed run was down is not counted. Needs matplotlib (``pip install
mzero[plot]``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mzero.checkpoint import atomic_write
from mzero.errors import InvalidArgumentError
from mzero.evals import read_evals, read_jsonl

__all__ = ["Curve", "agent_simulations", "plot_runs", "read_curve", "read_score_curve"]


@dataclass(frozen=True)
class Curve:
    """One run's learning curve."""

    label: str
    env_steps: list[float]
    minutes: list[float]
    returns: list[float]
    metric: str
    """``eval_return_mean`` or, for a run never evaluated, ``return_mean``."""


def _metrics(run_dir: str | os.PathLike[str]) -> list[dict]:
    try:
        return read_jsonl(Path(run_dir) / "metrics.jsonl")
    except FileNotFoundError as err:
        raise InvalidArgumentError(f"run: {run_dir} has no metrics.jsonl") from err


def _minutes(records: list[dict]) -> list[float]:
    """Wall-clock minutes of each record, the lives of a resumed run added up."""
    minutes = []
    offset, previous = 0.0, 0.0
    for record in records:
        if record.get("resumed"):
            offset += previous  # the killed life's time up to its last kept record
        previous = float(record.get("wall_s", 0.0))
        minutes.append((offset + previous) / 60.0)
    return minutes


def read_curve(run_dir: str | os.PathLike[str]) -> Curve:
    """The curve of ``run_dir/metrics.jsonl`` (see the module docstring)."""
    records = _metrics(run_dir)
    metric = "eval_return_mean" if any("eval_return_mean" in r for r in records) else "return_mean"
    env_steps, minutes, returns = [], [], []
    for record, minute in zip(records, _minutes(records), strict=True):
        if metric in record:
            env_steps.append(float(record["env_steps"]))
            minutes.append(minute)
            returns.append(float(record[metric]))
    if not returns:
        raise InvalidArgumentError(f"run: {run_dir} has no evaluation or self-play return yet")
    label = Path(run_dir).name + ("" if metric == "eval_return_mean" else " (self-play)")
    return Curve(label, env_steps, minutes, returns, metric)


def agent_simulations(run_dir: str | os.PathLike[str]) -> int:
    """Simulations per move of the run's agent: ``search.eval_simulations`` of
    ``RUN/config.json``, else its ``search.num_simulations``."""
    from mzero.config import Config
    from mzero.rundir import RunDirectory

    return Config.load(RunDirectory(run_dir).config).search.greedy_simulations


def read_score_curve(
    run_dir: str | os.PathLike[str], opponent: str, num_simulations: int | None = None
) -> Curve:
    """The scores of ``run_dir``'s networks against ``opponent`` (``RUN/evals.jsonl``),
    by env steps, from the evaluations with ``num_simulations`` (default: the agent's,
    :func:`agent_simulations`), pooled per network; the minutes are those of the first
    metrics record at or after them."""
    if num_simulations is not None and num_simulations < 1:
        raise InvalidArgumentError(f"--num-simulations: expected >= 1, got {num_simulations}")
    simulations = agent_simulations(run_dir) if num_simulations is None else num_simulations
    games: dict[int, int] = {}
    points: dict[int, float] = {}  # sum of score * games
    for entry in read_evals(run_dir):
        if entry.get("opponent") != opponent or entry.get("num_simulations") != simulations:
            continue
        steps = int(entry["env_steps"])
        games[steps] = games.get(steps, 0) + int(entry["games"])
        points[steps] = points.get(steps, 0.0) + float(entry["score"]) * int(entry["games"])
    if not games:
        raise InvalidArgumentError(
            f"--opponent: {run_dir} has no evaluation against {opponent!r} with "
            f"{simulations} simulations; make them with mzero eval {run_dir} --opponent "
            f"{opponent} --checkpoint all --num-simulations {simulations}"
        )
    records = _metrics(run_dir)
    steps_of = [float(r.get("env_steps", 0)) for r in records]
    timeline = list(zip(steps_of, _minutes(records), strict=True))
    env_steps = sorted(games)
    minutes = [
        next((m for s, m in timeline if s >= steps), timeline[-1][1] if timeline else 0.0)
        for steps in env_steps
    ]
    scores = [points[steps] / games[steps] for steps in env_steps]
    label = f"{Path(run_dir).name} vs {opponent} ({simulations} simulations)"
    return Curve(label, [float(s) for s in env_steps], minutes, scores, f"score vs {opponent}")


def plot_runs(
    run_dirs: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    opponents: tuple[str, ...] = (),
    num_simulations: int | None = None,
) -> Path:
    """Draws the runs' curves into the image ``out`` (written atomically); returns its path.

    ``opponents``: draw each run's score against each of them instead of its return,
    from the evaluations with ``num_simulations`` (default: each run's agent's)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise InvalidArgumentError(
            "plot: needs matplotlib; install it with pip install 'mzero[plot]'"
        ) from err
    if opponents:
        curves = [
            read_score_curve(run, name, num_simulations) for run in run_dirs for name in opponents
        ]
    else:
        curves = [read_curve(run) for run in run_dirs]
    out = Path(out)
    figure, (by_steps, by_time) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for curve in curves:
        by_steps.plot(curve.env_steps, curve.returns, marker=".", label=curve.label)
        by_time.plot(curve.minutes, curve.returns, marker=".", label=curve.label)
    by_steps.set_xlabel("environment steps")
    by_steps.set_ylabel(
        "score (win 1, draw 0.5)" if opponents else "evaluation return (greedy mean)"
    )
    if opponents:
        by_steps.set_ylim(-0.02, 1.02)  # scores on their whole range, runs comparable
    by_time.set_xlabel("wall-clock minutes")
    for axes in (by_steps, by_time):
        axes.grid(alpha=0.3)
    by_time.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    try:
        fmt = out.suffix.lstrip(".") or None
        atomic_write(out, lambda f: figure.savefig(f, dpi=110, format=fmt))
    finally:
        plt.close(figure)
    return out
