"""Value and reward transforms: the invertible squashing h and two-hot categorical encoding.

MuZero (Schrittwieser et al. 2020, appendix F) predicts values and rewards as
categorical distributions over the integers ``[-S, S]`` of a squashed scale:

* ``h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x`` with ``eps = 0.001``
  (Pohlen et al. 2018, "Observe and look further"), and its exact inverse;
* a scalar y on that scale becomes the two-hot vector that puts weight on the two
  neighbouring integers ``floor(y)`` and ``floor(y) + 1`` so that its expectation
  is exactly y (y is clipped to ``[-S, S]`` first);
* a predicted distribution decodes to ``h^-1(sum_i p_i i)``.

Board games with outcomes in ``[-1, 1]`` can skip h (``transform=False``, the
``network.value_transform`` setting), so that a win is the one-hot target ``+1``
rather than a two-hot blend of ``0`` and ``1``.

All functions are element-wise over any leading shape ``[...]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "EPS",
    "categorical_to_scalar",
    "from_two_hot",
    "h",
    "h_inverse",
    "scalar_to_two_hot",
    "support",
    "two_hot",
]

EPS = 0.001
"""The eps of h: keeps h^-1 Lipschitz (MuZero uses 0.001)."""


def h(x: Tensor, eps: float = EPS) -> Tensor:
    """The squashing ``h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x``; shape of ``x``."""
    return torch.sign(x) * (torch.sqrt(torch.abs(x) + 1.0) - 1.0) + eps * x


def h_inverse(y: Tensor, eps: float = EPS) -> Tensor:
    """The exact inverse of :func:`h`; shape and dtype of ``y``.

    Solving ``eps u^2 + u - (|y| + 1 + eps) = 0`` for ``u = sqrt(|x| + 1)`` gives
    ``u = 1 + 2|y| / d`` with ``d = 1 + 2 eps + sqrt(1 + 4 eps (|y| + 1 + eps))``, so
    ``h^-1(y) = sign(y) (u^2 - 1) = sign(y) 4 r (1 + r)`` with ``r = |y| / d``. This
    form has no cancellation, so it is accurate in float32 near 0 too (the textbook
    ``((sqrt(...) - 1) / (2 eps))^2 - 1`` loses about 1e-4 there).
    """
    a = torch.abs(y)
    d = torch.sqrt(a * (4.0 * eps) + (1.0 + 4.0 * eps * (1.0 + eps))) + (1.0 + 2.0 * eps)
    r = a / d
    return torch.copysign(4.0 * r * (1.0 + r), y)


def support(size: int, device: torch.device | str | None = None) -> Tensor:
    """The atoms ``[-S, ..., S]`` of a support of half-width ``S = size``: float32 ``[2S + 1]``."""
    return torch.arange(-size, size + 1, dtype=torch.float32, device=device)


def two_hot(y: Tensor, size: int) -> Tensor:
    """Two-hot encoding of ``y [...]`` on the support ``[-S, S]``: ``[..., 2S + 1]``.

    ``y`` is clipped to ``[-S, S]``; the weight ``y - floor(y)`` goes to the atom
    above and the rest to the atom below, so ``from_two_hot(two_hot(y)) == y``.
    """
    y = torch.clamp(y.float(), -size, size)
    below = torch.floor(y)
    upper_weight = y - below
    index = (below + size).long()  # in [0, 2S]
    out = torch.zeros((*y.shape, 2 * size + 1), dtype=torch.float32, device=y.device)
    out.scatter_(-1, index.unsqueeze(-1), (1.0 - upper_weight).unsqueeze(-1))
    # at y == S the upper atom would be 2S + 1; its weight is 0 there, so clamp the index
    upper = torch.clamp(index + 1, max=2 * size).unsqueeze(-1)
    out.scatter_add_(-1, upper, torch.where(index < 2 * size, upper_weight, 0.0).unsqueeze(-1))
    return out


def from_two_hot(probs: Tensor, size: int) -> Tensor:
    """The expectation ``sum_i p_i i`` of ``probs [..., 2S + 1]`` over ``[-S, S]``: ``[...]``."""
    return probs @ support(size, probs.device).to(probs.dtype)


def scalar_to_two_hot(x: Tensor, size: int, transform: bool = True) -> Tensor:
    """Target of a categorical head: ``two_hot(h(x))``; ``x [...]`` -> ``[..., 2S + 1]``.

    ``transform=False`` encodes ``x`` itself (no h): for small bounded scalars such as
    board-game outcomes in ``[-1, 1]``, whose targets then are one-hot.
    """
    x = x.float()
    return two_hot(h(x) if transform else x, size)


def categorical_to_scalar(logits: Tensor, size: int, transform: bool = True) -> Tensor:
    """Scalar of a categorical head: ``h^-1(E[softmax(logits)])``; ``[..., 2S+1] -> [...]``.

    ``transform=False``: the expectation itself (the inverse of ``scalar_to_two_hot``'s).
    """
    expectation = from_two_hot(torch.softmax(logits.float(), dim=-1), size)
    return h_inverse(expectation) if transform else expectation
