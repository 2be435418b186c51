"""h, its inverse and the two-hot encoding: closed forms, round trips, properties."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mzero.networks.transforms import (
    EPS,
    categorical_to_scalar,
    from_two_hot,
    h,
    h_inverse,
    scalar_to_two_hot,
    support,
    two_hot,
)

torch.set_num_threads(1)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def reference_h(x: float) -> float:
    return math.copysign(1.0, x) * (math.sqrt(abs(x) + 1.0) - 1.0) + EPS * x if x else 0.0


def reference_two_hot(y: float, size: int) -> list[float]:
    """Plain-Python two-hot: weight on floor(y) and floor(y) + 1 with expectation y."""
    y = min(max(y, -size), size)
    out = [0.0] * (2 * size + 1)
    low = math.floor(y)
    out[low + size] += 1.0 - (y - low)
    if low < size:
        out[low + size + 1] += y - low
    return out


def test_h_closed_forms() -> None:
    x = torch.tensor([0.0, 3.0, -8.0, 99.0], dtype=torch.float64)
    expected = torch.tensor([0.0, 1.003, -2.008, 9.099], dtype=torch.float64)
    torch.testing.assert_close(h(x), expected)


@given(finite)
def test_h_matches_the_scalar_formula(x: float) -> None:
    got = h(torch.tensor(x, dtype=torch.float64)).item()
    assert got == pytest.approx(reference_h(x), rel=1e-12, abs=1e-12)


@given(finite)
def test_h_inverse_inverts_h_in_float64(x: float) -> None:
    t = torch.tensor(x, dtype=torch.float64)
    assert h_inverse(h(t)).item() == pytest.approx(x, rel=1e-9, abs=1e-9)


@given(st.floats(min_value=-3000.0, max_value=3000.0, allow_nan=False))
def test_h_inverse_inverts_h_in_float32(x: float) -> None:
    t = torch.tensor(x, dtype=torch.float32)
    assert h_inverse(h(t)).item() == pytest.approx(x, rel=1e-5, abs=1e-5)


@given(st.floats(min_value=-50.0, max_value=50.0, allow_nan=False))
def test_h_of_h_inverse_is_identity(y: float) -> None:
    t = torch.tensor(y, dtype=torch.float64)
    assert h(h_inverse(t)).item() == pytest.approx(y, rel=1e-9, abs=1e-9)


def test_h_is_odd_and_strictly_increasing() -> None:
    x = torch.linspace(-1000.0, 1000.0, 20001, dtype=torch.float64)
    y = h(x)
    assert torch.all(y[1:] > y[:-1])
    torch.testing.assert_close(h(-x), -y)


def test_support_atoms() -> None:
    assert support(2).tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]


@given(st.floats(min_value=-12.0, max_value=12.0, allow_nan=False), st.integers(1, 10))
def test_two_hot_matches_the_reference_and_decodes_back(y: float, size: int) -> None:
    encoded = two_hot(torch.tensor(y), size)
    assert encoded.shape == (2 * size + 1,)
    torch.testing.assert_close(encoded, torch.tensor(reference_two_hot(y, size)))
    assert torch.all(encoded >= 0)
    assert encoded.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert int((encoded > 0).sum()) <= 2
    clipped = min(max(y, -size), size)
    assert from_two_hot(encoded, size).item() == pytest.approx(clipped, abs=1e-5)


def test_two_hot_on_a_batch_keeps_leading_shape() -> None:
    y = torch.tensor([[-3.0, -0.25, 0.0], [0.5, 2.0, 7.0]])
    encoded = two_hot(y, 2)
    assert encoded.shape == (2, 3, 5)
    expected_decoded = torch.clamp(y, -2, 2)
    torch.testing.assert_close(from_two_hot(encoded, 2), expected_decoded)
    # the end atoms take all the weight at and past the ends
    assert encoded[0, 0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert encoded[1, 2].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert encoded[0, 1].tolist() == [0.0, 0.25, 0.75, 0.0, 0.0]


@settings(deadline=None)
@given(st.floats(min_value=-300.0, max_value=300.0, allow_nan=False))
def test_scalar_round_trip_through_the_categorical_head(x: float) -> None:
    size = 20  # h(300) ~ 16.7 < 20: no clipping
    target = scalar_to_two_hot(torch.tensor([x]), size)
    logits = torch.log(target)  # softmax(log p) == p, zeros stay zero
    decoded = categorical_to_scalar(logits, size)
    assert decoded.item() == pytest.approx(x, rel=1e-4, abs=2e-3)


def test_scalar_beyond_the_support_saturates() -> None:
    size = 5
    top = h_inverse(torch.tensor(float(size))).item()
    target = scalar_to_two_hot(torch.tensor([10 * top, -10 * top]), size)
    decoded = categorical_to_scalar(torch.log(target), size)
    torch.testing.assert_close(decoded, torch.tensor([top, -top]))


def test_uniform_logits_decode_to_zero() -> None:
    assert categorical_to_scalar(torch.zeros(3, 11), 5).abs().max().item() < 1e-6


def test_without_the_transform_board_outcomes_are_one_hot() -> None:
    target = scalar_to_two_hot(torch.tensor([-1.0, 0.0, 1.0, 0.5]), 1, transform=False)
    assert target.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0.5, 0.5]]
    # with h, a win is a blend of the atoms 0 and 1 (h(1) = sqrt(2) - 1 + eps)
    assert scalar_to_two_hot(torch.tensor([1.0]), 1)[0, 2].item() == pytest.approx(
        math.sqrt(2) - 1 + EPS, rel=1e-6
    )


@given(st.floats(min_value=-3.0, max_value=3.0, allow_nan=False))
def test_round_trip_without_the_transform(x: float) -> None:
    target = scalar_to_two_hot(torch.tensor([x]), 3, transform=False)
    assert target[0].tolist() == pytest.approx(reference_two_hot(x, 3), abs=1e-6)
    decoded = categorical_to_scalar(torch.log(target), 3, transform=False)
    assert decoded.item() == pytest.approx(x, abs=1e-5)
