"""A sample-to-insert rate limiter, as Reverb's ``SampleToInsertRatio``.

With self-play actors on their own processes, the learner and the actors run at
their own speeds. The limiter keeps the learner's samples per inserted item near a
target ratio, so that learning neither starves (too few samples per insert) nor
overfits a small buffer (too many):

* nothing is sampled before ``min_size_to_sample`` items were inserted;
* with ``diff = inserts * samples_per_insert - samples``, measured from
  ``offset = min_size_to_sample * samples_per_insert``, a sample is allowed while
  ``diff - 1 >= offset - error_buffer`` and an insert of ``n`` items while
  ``diff + n * samples_per_insert <= offset + error_buffer``.

In mzero a sample is one learner step, and ``samples_per_insert`` is
``train.train_ratio``. The training loop (:mod:`mzero.train`) paces its learner with
this limiter in both modes:

* with self-play actors (:class:`mzero.actors.RayExperience`), an item is one
  transition of a finished game (what the learner can sample). Items arrive in tasks
  of many environment steps; an ``error_buffer`` of at least one task's worth keeps
  both sides from waiting on each other;
* in-process (:class:`mzero.experience.InProcessExperience`), an item is one
  environment step, counted from the start of learning, and the limiter runs in
  **lock step** (``error_buffer=None``): a sample is allowed while
  ``samples < inserts * samples_per_insert`` (after each self-play step the learner
  catches up exactly, never ahead), and inserts never wait.
"""

from __future__ import annotations

from mzero.errors import InvalidArgumentError

__all__ = ["SampleToInsertRatio"]


class SampleToInsertRatio:
    """Allows samples and inserts while their ratio stays in the band (module docstring)."""

    def __init__(
        self, samples_per_insert: float, min_size_to_sample: int, error_buffer: float | None
    ) -> None:
        """``error_buffer`` None: lock step (module docstring); ``min_size_to_sample``
        may then be 0."""
        if not samples_per_insert > 0:
            raise InvalidArgumentError(
                f"samples_per_insert: expected a value > 0, got {samples_per_insert}"
            )
        least = 0 if error_buffer is None else 1
        if min_size_to_sample < least:
            raise InvalidArgumentError(
                f"min_size_to_sample: expected >= {least}, got {min_size_to_sample}"
            )
        if error_buffer is not None and error_buffer < 1:
            raise InvalidArgumentError(f"error_buffer: expected >= 1, got {error_buffer}")
        self.samples_per_insert = samples_per_insert
        self.min_size_to_sample = min_size_to_sample
        self.error_buffer = error_buffer
        self.inserts = 0
        self.samples = 0

    @property
    def _diff(self) -> float:
        offset = self.min_size_to_sample * self.samples_per_insert
        return self.inserts * self.samples_per_insert - self.samples - offset

    @property
    def lock_step(self) -> bool:
        """Whether the limiter runs in lock step (``error_buffer`` None)."""
        return self.error_buffer is None

    def can_sample(self) -> bool:
        """Whether one more sample keeps the ratio in the band; in lock step, whether
        the samples are behind ``inserts * samples_per_insert`` (inserts counted from
        ``min_size_to_sample``)."""
        if self.inserts < self.min_size_to_sample:
            return False
        if self.error_buffer is None:
            return self.samples < (self.inserts - self.min_size_to_sample) * self.samples_per_insert
        return self._diff - 1 >= -self.error_buffer

    def can_insert(self, n: int = 1) -> bool:
        """Whether ``n`` more inserts keep the ratio in the band (always before the
        first ``min_size_to_sample``, and in lock step)."""
        if self.error_buffer is None or self.inserts + n <= self.min_size_to_sample:
            return True
        return self._diff + n * self.samples_per_insert <= self.error_buffer

    @property
    def ratio(self) -> float:
        """Samples per insert beyond the first ``min_size_to_sample`` inserts, so far
        (what the band keeps near ``samples_per_insert``); 0 before any."""
        return self.samples / max(1, self.inserts - self.min_size_to_sample)

    def sampled(self, n: int = 1) -> None:
        """Counts ``n`` samples taken."""
        self.samples += n

    def inserted(self, n: int = 1) -> None:
        """Counts ``n`` items inserted."""
        self.inserts += n

    def state_dict(self) -> dict[str, int]:
        """The counts, to continue a run."""
        return {"inserts": self.inserts, "samples": self.samples}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continues from :meth:`state_dict`."""
        self.inserts, self.samples = int(state["inserts"]), int(state["samples"])
