"""Checkpoint files and the one atomic write of mzero.

:func:`atomic_write` writes a file beside its target, flushes it to disk and renames it
into place, so that a crash at any moment leaves the old file or the new one, never a
part; the run directory, checkpoints, the config, ``evals.jsonl`` and plots all write
through it. A checkpoint (:func:`save_checkpoint`) is a ``torch.save`` dictionary of
format :data:`CHECKPOINT_VERSION`: ``network`` (the weights), ``config``,
``obs_shape``, ``num_actions``, ``two_player``, ``env_steps``, ``train_steps``, and,
to continue training, ``optimizer``, ``scheduler`` and ``target_network``;
:func:`load_checkpoint` reads it with ``weights_only=True``.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mzero.errors import CorruptFileError, MZeroIOError

__all__ = [
    "CHECKPOINT_VERSION",
    "atomic_write",
    "fsync_directory",
    "load_checkpoint",
    "read_torch_file",
    "save_checkpoint",
]

CHECKPOINT_VERSION = 1
"""Format version of the checkpoint dictionaries written by :func:`save_checkpoint`."""


def fsync_directory(path: Path) -> None:
    """Flushes a directory entry (a rename or a new file) to disk, where the OS allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[Any], None], mode: str = "wb"
) -> None:
    """Calls ``write(file)`` on a temporary file beside ``path`` (``.NAME.*.tmp``, open
    in ``mode``), flushes it to disk and renames it over ``path``. The new file has the
    permissions the umask gives. Raises ``OSError``; the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes the file private
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def save_checkpoint(path: str | os.PathLike[str], checkpoint: dict[str, Any]) -> None:
    """Writes ``checkpoint`` with ``torch.save``, atomically: a crash leaves the old file."""
    try:
        atomic_write(path, lambda f: torch.save(checkpoint, f))
    except OSError as err:
        raise MZeroIOError(f"checkpoint: cannot write {path}: {err}") from err


def read_torch_file(
    path: str | os.PathLike[str], label: str, map_location: torch.device | str = "cpu"
) -> Any:
    """``torch.load(path, weights_only=True)``; a damaged or foreign file raises
    :class:`mzero.CorruptFileError` (``label: cannot read PATH: ...``). A missing file
    raises ``FileNotFoundError`` for the caller to report."""
    try:
        with warnings.catch_warnings():
            # torch.save writes protocol 2; another protocol means a foreign or damaged
            # file, which the except clause reports as such
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, ValueError) as err:
        raise CorruptFileError(f"{label}: cannot read {path}: {err}") from err


def load_checkpoint(
    path: str | os.PathLike[str], map_location: torch.device | str = "cpu"
) -> dict[str, Any]:
    """Reads a checkpoint of :func:`save_checkpoint`; checks its format version."""
    try:
        checkpoint = read_torch_file(path, "checkpoint", map_location)
    except FileNotFoundError as err:
        raise MZeroIOError(f"checkpoint: {path} does not exist") from err
    version = checkpoint.get("version") if isinstance(checkpoint, dict) else None
    if version != CHECKPOINT_VERSION:
        raise CorruptFileError(
            f"checkpoint: {path} has format version {version!r}, expected {CHECKPOINT_VERSION}"
        )
    return checkpoint
