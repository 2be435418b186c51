"""Where a run's games come from: the experience sources of the training loop.

The loop of :class:`mzero.train.Trainer` asks an :class:`ExperienceSource` for games
and paces its learner with the source's :class:`mzero.ratelimit.SampleToInsertRatio`.
One interface, two sources:

* :class:`InProcessExperience`: :class:`mzero.selfplay.SelfPlay` in the training
  process. One :meth:`~ExperienceSource.step` plays one move in each of the
  ``train.num_envs`` games (the finished games go into the replay buffer); its
  limiter runs in lock step on environment steps, so that after each step the learner
  catches up to ``train_ratio * (env_steps - E_0)`` learner steps, ``E_0`` the
  environment steps when ``train.min_replay`` was reached;
* :class:`mzero.actors.RayExperience`: self-play actors on Ray and the reanalyze
  workers; a step hands idle actors tasks and inserts the games of the tasks that
  finished, its limiter counting transitions in a band.

A source also publishes the learner's weights (in-process self-play plays with the
learner's network itself), reports its throughput counters and extra metrics, and
saves and restores its own state in snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from mzero.ratelimit import SampleToInsertRatio
from mzero.selfplay import EpisodeStats, SelfPlay
from mzero.throughput import Throughput

if TYPE_CHECKING:
    from mzero.config import Config
    from mzero.learner import Learner
    from mzero.networks import MuZeroNetwork

__all__ = ["Experience", "ExperienceSource", "InProcessExperience", "learn_paced", "learning_start"]


@dataclass
class Experience:
    """What one :meth:`ExperienceSource.step` brought."""

    episodes: list[EpisodeStats] = field(default_factory=list)
    """The games that finished."""
    env_steps: int = 0
    """Environment steps played."""


class ExperienceSource(Protocol):
    """The interface of the training loop's sources of games (module docstring)."""

    limiter: SampleToInsertRatio
    """Paces the learner (and, with actors, the actors)."""
    replay: Any
    """The replay buffer the games go into (replaced when a run resumes)."""

    def start(self) -> None:
        """Starts what runs beside the loop (Ray, actors); called when the run starts."""

    def step(self, temperature: float, learner_busy: bool) -> Experience:
        """Plays (or collects) more games; ``learner_busy``: the learner took steps
        since the last call (a source that waits for games waits less)."""

    def begin_learning(self, env_steps: int, learning_start: int, train_steps: int) -> None:
        """The replay holds ``train.min_replay`` transitions: learning starts, with
        ``train_steps`` taken so far and ``learning_start`` the env steps ``E_0``."""

    def learn(self, learner: Learner, more: Callable[[], bool]) -> tuple[int, dict[str, float]]:
        """Learner steps while the limiter allows and ``more()``; returns the steps
        taken and the last step's losses (empty if none)."""

    def publish(self, train_steps: int, network: MuZeroNetwork) -> None:
        """The learner's weights after ``train_steps`` steps, for the games to come."""

    def take_counts(self) -> Throughput:
        """Self-play's throughput counters since the last call."""

    def metrics(self) -> dict[str, float]:
        """The source's own metrics for a metrics line."""

    def state_dict(self) -> dict[str, Any]:
        """The source's state for a snapshot (merged into it)."""

    def load_state_dict(self, state: dict[str, Any], env_steps: int) -> None:
        """Continues from a snapshot's state (of either source) at ``env_steps``."""

    def stop(self) -> None:
        """Stops playing (the run ends); what is in flight is dropped."""

    def close(self) -> None:
        """Releases everything (environments, threads, actors, Ray); idempotent."""


def learn_paced(
    limiter: SampleToInsertRatio,
    learner: Learner,
    more: Callable[[], bool],
    most: int | None = None,
) -> tuple[int, dict[str, float]]:
    """Learner steps while ``limiter`` allows, ``more()`` and (``most`` not None) fewer
    than ``most``; returns the steps taken and the last losses (empty if none)."""
    steps, losses = 0, {}
    while (most is None or steps < most) and limiter.can_sample() and more():
        losses = learner.train_step()
        limiter.sampled()
        steps += 1
    return steps, losses


class InProcessExperience:
    """:class:`mzero.selfplay.SelfPlay` in this process, paced in lock step (module
    docstring). ``network`` is the learner's: self-play always plays the newest weights."""

    def __init__(self, network: MuZeroNetwork, config: Config, replay: Any) -> None:
        self.config = config
        self.selfplay = SelfPlay(network, config, replay, seed=config.train.seed)
        self.limiter = SampleToInsertRatio(config.train.train_ratio, 0, error_buffer=None)
        self._closed = False

    @property
    def replay(self) -> Any:
        return self.selfplay.replay

    @replay.setter
    def replay(self, replay: Any) -> None:
        self.selfplay.replay = replay

    def start(self) -> None:
        pass

    def step(self, temperature: float, learner_busy: bool) -> Experience:
        finished = self.selfplay.step(temperature)
        steps = self.selfplay.num_games
        self.limiter.inserted(steps)  # counted from the start of learning (begin_learning)
        return Experience(finished, steps)

    def begin_learning(self, env_steps: int, learning_start: int, train_steps: int) -> None:
        self.limiter.load_state_dict(
            {"inserts": env_steps - learning_start, "samples": train_steps}
        )

    def learn(self, learner: Learner, more: Callable[[], bool]) -> tuple[int, dict[str, float]]:
        return learn_paced(self.limiter, learner, more)  # catches up in full

    def publish(self, train_steps: int, network: MuZeroNetwork) -> None:
        pass  # self-play plays with the learner's network itself

    def take_counts(self) -> Throughput:
        return self.selfplay.throughput.take()

    def metrics(self) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"selfplay_rng": self.selfplay.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any], env_steps: int) -> None:
        rng_state = state["selfplay_rng"]
        if rng_state is None:  # an actor run, continued in-process: new games
            seed = [self.config.train.seed, env_steps]
            rng_state = np.random.default_rng(seed).bit_generator.state
        self.selfplay.restart(rng_state, env_steps=env_steps)

    def stop(self) -> None:
        pass  # nothing in flight between two steps

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.selfplay.close()


def learning_start(env_steps: int, train_steps: int, train_ratio: float) -> int:
    """``E_0``, the env steps from which ``train_ratio`` learner steps per env step are
    counted: so that the target starts at the ``train_steps`` taken so far (none in a
    fresh run; a run continued in another mode keeps its steps)."""
    return env_steps - round(train_steps / train_ratio if train_ratio > 0 else 0)
