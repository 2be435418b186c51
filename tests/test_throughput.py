"""mzero.throughput: the union clock of network calls and the self-play counters."""

from __future__ import annotations

import pytest

import mzero.throughput as throughput
from mzero.throughput import BusyClock, Throughput


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture
def clock_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(throughput.time, "perf_counter", fake.perf_counter)
    return fake


def test_busy_clock_counts_overlapping_calls_once(clock_time: FakeTime) -> None:
    clock = BusyClock()
    a = clock.start()  # t = 0
    clock_time.now = 1.0
    b = clock.start()
    clock_time.now = 2.0
    assert clock.stop(a) == 2.0  # a ran 0..2
    clock_time.now = 3.0
    assert clock.stop(b) == 2.0  # b ran 1..3
    clock_time.now = 5.0
    c = clock.start()
    clock_time.now = 5.5
    clock.stop(c)
    # busy 0..3 and 5..5.5, idle 3..5
    assert clock.take() == pytest.approx(3.5)
    assert clock.take() == 0.0


def test_busy_clock_take_counts_a_call_in_progress_up_to_now(clock_time: FakeTime) -> None:
    clock = BusyClock()
    start = clock.start()
    clock_time.now = 2.0
    assert clock.take() == pytest.approx(2.0)
    clock_time.now = 3.0
    clock.stop(start)
    assert clock.take() == pytest.approx(1.0)  # only the part after the last take


def test_throughput_rates_and_take() -> None:
    counts = Throughput()
    counts.add(wall_s=2.0, env_steps=100, simulations=5000, network_busy_s=1.5)
    counts.add_group(inference_s=1.0, tree_s=0.25, env_s=0.5)
    counts.add_group(inference_s=1.0, tree_s=0.25, env_s=0.5)
    rates = counts.rates()
    assert rates == {
        "env_steps_per_s": 50.0,
        "simulations_per_s": 2500.0,
        "network_busy": 0.75,
        "inference_share": 1.0,
        "tree_share": 0.25,
        "env_share": 0.5,
    }
    assert counts.rates(wall_s=4.0)["env_steps_per_s"] == 25.0
    taken = counts.take()
    assert taken.env_steps == 100 and counts.env_steps == 0 and counts.rates() == {}
