"""SampleToInsertRatio: the learner's samples per insert stay in the band, and the
two sides can never both be refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mzero.errors import InvalidArgumentError
from mzero.ratelimit import SampleToInsertRatio


def test_nothing_is_sampled_before_the_minimum_size() -> None:
    limiter = SampleToInsertRatio(0.25, min_size_to_sample=100, error_buffer=10)
    assert not limiter.can_sample()
    limiter.inserted(99)
    assert not limiter.can_sample() and limiter.can_insert(1)
    limiter.inserted(1)
    # at the minimum size the band is centred: 10 samples of slack either way
    assert limiter.can_sample()
    limiter.sampled(10)
    assert not limiter.can_sample()
    limiter.inserted(4)  # 4 inserts earn 1 sample
    assert limiter.can_sample()


def test_inserts_wait_while_the_learner_is_behind() -> None:
    limiter = SampleToInsertRatio(1.0, min_size_to_sample=10, error_buffer=5)
    limiter.inserted(10)
    assert limiter.can_insert(5) and not limiter.can_insert(6)
    limiter.inserted(5)
    assert not limiter.can_insert(1)
    limiter.sampled(3)
    assert limiter.can_insert(3) and not limiter.can_insert(4)


@settings(max_examples=200, deadline=None)
@given(
    spi=st.sampled_from([0.05, 0.25, 1.0, 4.0]),
    min_size=st.integers(1, 50),
    chunk=st.integers(1, 40),
    ops=st.lists(st.booleans(), min_size=1, max_size=300),
)
def test_the_ratio_stays_in_the_band_and_never_deadlocks(spi, min_size, chunk, ops) -> None:
    # an error buffer of one chunk's worth (what ActorTrainer picks) is enough
    error_buffer = max(1.0, spi * chunk)
    limiter = SampleToInsertRatio(spi, min_size, error_buffer)
    offset = min_size * spi
    for want_sample in ops:
        assert limiter.can_sample() or limiter.can_insert(chunk)
        if want_sample and limiter.can_sample():
            limiter.sampled()
        elif limiter.can_insert(chunk):
            limiter.inserted(chunk)
        if limiter.inserts >= min_size:
            diff = limiter.inserts * spi - limiter.samples - offset
            assert -error_buffer - 1e-9 <= diff <= error_buffer + 1e-9  # float rounding


def test_ratio_counts_samples_per_insert_after_the_minimum() -> None:
    limiter = SampleToInsertRatio(0.5, 10, 4)
    assert limiter.ratio == 0.0
    limiter.inserted(30)
    limiter.sampled(8)
    assert limiter.ratio == 8 / 20


def test_state_round_trips_and_bad_arguments_are_named() -> None:
    limiter = SampleToInsertRatio(0.5, 10, 4)
    limiter.inserted(30)
    limiter.sampled(7)
    again = SampleToInsertRatio(0.5, 10, 4)
    again.load_state_dict(limiter.state_dict())
    assert (again.inserts, again.samples) == (30, 7)
    for kwargs, name in [
        ({"samples_per_insert": 0.0, "min_size_to_sample": 1, "error_buffer": 1}, "samples_per"),
        ({"samples_per_insert": 1.0, "min_size_to_sample": 0, "error_buffer": 1}, "min_size"),
        ({"samples_per_insert": 1.0, "min_size_to_sample": 1, "error_buffer": 0.5}, "error_buff"),
    ]:
        with pytest.raises(InvalidArgumentError, match=name):
            SampleToInsertRatio(**kwargs)


def test_lock_step_catches_up_exactly_and_never_ahead() -> None:
    # the in-process schedule: after each insert the learner is allowed exactly up to
    # ceil(samples_per_insert * inserts) samples (no off-by-one at an integer target)
    limiter = SampleToInsertRatio(0.25, min_size_to_sample=0, error_buffer=None)
    assert limiter.lock_step and not limiter.can_sample()
    for inserts in range(1, 200):
        limiter.inserted()
        assert limiter.can_insert(10**6)  # inserts never wait
        while limiter.can_sample():
            limiter.sampled()
        assert limiter.samples == -(-inserts // 4)  # ceil(inserts / 4)
    # a start with samples taken before (a run continued from the other mode)
    limiter.load_state_dict({"inserts": 40, "samples": 10})
    assert not limiter.can_sample()
    limiter.inserted(8)
    assert limiter.can_sample()
    limiter.sampled(2)
    assert not limiter.can_sample()
    # ratios that are not binary fractions: the product is the loop's own
    limiter = SampleToInsertRatio(0.3, min_size_to_sample=0, error_buffer=None)
    for inserts in range(8, 400, 8):
        limiter.inserted(8)
        while limiter.can_sample():
            limiter.sampled()
        assert limiter.samples == next(n for n in range(400) if not n < 0.3 * inserts)
    with pytest.raises(InvalidArgumentError, match="min_size"):
        SampleToInsertRatio(1.0, min_size_to_sample=-1, error_buffer=None)
