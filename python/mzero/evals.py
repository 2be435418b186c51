"""A run's evaluations against named opponents, kept in ``RUN/evals.jsonl``.

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
from pathlib import Path
from typing import Any

from filelock import FileLock

from mzero.checkpoint import atomic_write
from mzero.errors import CorruptFileError, InvalidArgumentError, MZeroIOError

__all__ = ["EVALS_FILE", "kept_checkpoints", "read_evals", "read_jsonl", "record_eval"]

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
