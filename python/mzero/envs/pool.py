"""Batched environment stepping: in the calling thread, or in a pool of worker processes.

Self-play steps each game group's environments together through one of two classes
with the same methods (``reset``, ``step``, ``close``):

* :class:`LocalEnvs`: the environments live in this process and step one after
  another (built-in board games, and anything fast to step);
* :class:`EnvPool`: the environments live in ``workers`` processes, each holding a
  contiguous share; a step sends every worker its actions first and then collects the
  results, so the workers step in parallel while the calling thread waits without the
  GIL. For environments that are slow to step (physics engines, emulators).

Workers are started with the ``spawn`` method (safe next to torch's threads); each
builds its environments with ``factory()``, so the factory must be picklable (a
module-level function or a ``functools.partial`` of one). A worker whose environment
raises sends the exception back; a worker that dies is reported as a
:class:`RuntimeError` naming it. Workers exit when the pool is closed or when the
process that owns the pool goes away (their end of the pipe closes).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import pickle
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from mzero.envs.gym import Environment, Step
from mzero.errors import InvalidArgumentError

__all__ = ["EnvPool", "LocalEnvs", "contiguous_shares"]


def contiguous_shares(count: int, parts: int) -> list[range]:
    """``0..count`` split into ``min(parts, count)`` contiguous, near-equal ranges."""
    bounds = np.linspace(0, count, max(1, min(parts, count)) + 1).round().astype(int)
    return [range(lo, hi) for lo, hi in itertools.pairwise(bounds)]


class LocalEnvs:
    """Environments stepped one after another in the calling thread."""

    def __init__(self, envs: Sequence[Environment]) -> None:
        self.envs = list(envs)
        first = self.envs[0]
        self.num_actions, self.obs_shape, self.obs_dtype, self.two_player = (
            first.num_actions,
            first.obs_shape,
            first.obs_dtype,
            first.two_player,
        )

    def __len__(self) -> int:
        return len(self.envs)

    def reset(self, requests: Sequence[tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Resets environment ``i`` with ``seed`` for each ``(i, seed)``: (observation, mask)."""
        return [self.envs[i].reset(seed=seed) for i, seed in requests]

    def step(self, actions: Sequence[int]) -> list[Step]:
        """Steps environment i with ``actions[i]``, for every i."""
        return [env.step(int(a)) for env, a in zip(self.envs, actions, strict=True)]

    def close(self) -> None:
        """Closes every environment."""
        for env in self.envs:
            env.close()


def _serve(conn: Connection, factory: Callable[[], Environment], count: int) -> None:
    """A worker: builds ``count`` environments and answers the pool until told to stop."""
    envs: list[Environment] = []
    try:
        envs = [factory() for _ in range(count)]
        first = envs[0]
        spec = (first.num_actions, tuple(first.obs_shape), first.obs_dtype, first.two_player)
        conn.send(("ok", spec))
        while True:
            command, payload = conn.recv()
            if command == "close":
                break
            try:
                if command == "step":
                    result: Any = [env.step(int(a)) for env, a in zip(envs, payload, strict=True)]
                else:  # "reset"
                    result = [envs[i].reset(seed=seed) for i, seed in payload]
                conn.send(("ok", result))
            except Exception as err:
                conn.send(("error", _picklable(err)))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass  # the pool went away
    except Exception as err:
        with contextlib.suppress(OSError):
            conn.send(("error", _picklable(err)))
    finally:
        for env in envs:
            env.close()


def _picklable(err: BaseException) -> BaseException:
    try:
        pickle.dumps(err)
    except Exception:
        return RuntimeError(f"{type(err).__name__}: {err}")
    return err


class EnvPool:
    """``num_envs`` environments built by ``factory`` in ``workers`` processes.

    Environment ``i`` lives in the worker whose contiguous share holds it. Methods and
    results are those of :class:`LocalEnvs`.
    """

    def __init__(
        self, factory: Callable[[], Environment], num_envs: int, workers: int, name: str = "env"
    ) -> None:
        if num_envs < 1:
            raise InvalidArgumentError(f"num_envs: expected >= 1, got {num_envs}")
        if workers < 1:
            raise InvalidArgumentError(f"env.workers: expected >= 1, got {workers}")
        try:
            pickle.dumps(factory)
        except Exception as err:
            raise InvalidArgumentError(
                f"env_factory: worker processes need a picklable factory (a module-level "
                f"function or a functools.partial of one), got {factory!r} ({err})"
            ) from err
        context = multiprocessing.get_context("spawn")
        self.shares = contiguous_shares(num_envs, workers)
        self._conns: list[Connection] = []
        self._processes: list[Any] = []
        try:
            for k, share in enumerate(self.shares):
                parent, child = context.Pipe()
                process = context.Process(
                    target=_serve,
                    args=(child, factory, len(share)),
                    name=f"mzero-{name}-worker-{k}",
                    daemon=True,
                )
                process.start()
                child.close()
                self._conns.append(parent)
                self._processes.append(process)
            specs = self._gather(range(len(self.shares)))
        except BaseException:
            self.close()
            raise
        self.num_actions, self.obs_shape, self.obs_dtype, self.two_player = specs[0]
        self._num_envs = num_envs

    def __len__(self) -> int:
        return self._num_envs

    def _stopped(self, k: int) -> RuntimeError:
        process = self._processes[k]
        process.join(timeout=1)
        return RuntimeError(f"env worker {process.name} stopped (exit code {process.exitcode})")

    def _send(self, k: int, message: tuple[str, Any]) -> None:
        try:
            self._conns[k].send(message)
        except OSError as err:
            raise self._stopped(k) from err

    def _gather(self, workers: Sequence[int]) -> list[Any]:
        """Every worker's answer, in order; then the first error, if any (no answer is
        left unread, so the next request gets its own)."""
        answers: list[Any] = []
        error: BaseException | None = None
        for k in workers:
            try:
                status, payload = self._conns[k].recv()
            except (EOFError, OSError) as err:
                stopped = self._stopped(k)
                stopped.__cause__ = err
                status, payload = "error", stopped
            if status == "error" and error is None:
                error = payload
            answers.append(payload)
        if error is not None:
            raise error
        return answers

    def reset(self, requests: Sequence[tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Resets environment ``i`` with ``seed`` for each ``(i, seed)``: (observation, mask)."""
        per_worker: dict[int, list[tuple[int, int]]] = {}
        order: list[tuple[int, int]] = []
        for i, seed in requests:
            k = self._worker_of(i)
            per_worker.setdefault(k, []).append((i - self.shares[k].start, seed))
            order.append((k, len(per_worker[k]) - 1))
        for k, items in per_worker.items():
            self._send(k, ("reset", items))
        results = dict(zip(per_worker, self._gather(list(per_worker)), strict=True))
        return [results[k][j] for k, j in order]

    def step(self, actions: Sequence[int]) -> list[Step]:
        """Steps environment i with ``actions[i]``, for every i; the workers step in parallel."""
        if len(actions) != self._num_envs:
            raise InvalidArgumentError(
                f"actions: expected {self._num_envs} actions, got {len(actions)}"
            )
        for k, share in enumerate(self.shares):
            self._send(k, ("step", [int(actions[i]) for i in share]))
        return [step for steps in self._gather(range(len(self.shares))) for step in steps]

    def _worker_of(self, i: int) -> int:
        for k, share in enumerate(self.shares):
            if i in share:
                return k
        raise InvalidArgumentError(f"env index: expected 0 to {self._num_envs - 1}, got {i}")

    def close(self) -> None:
        """Stops the workers (their environments are closed) and waits for them."""
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(("close", None))
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
        for conn in self._conns:
            conn.close()
        self._conns, self._processes = [], []
