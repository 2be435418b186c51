"""MuZero networks: representation, dynamics and prediction; value transforms; the loss.

* :mod:`~mzero.networks.transforms`: h, h^-1, two-hot encoding on a support;
* :mod:`~mzero.networks.mlp`: MLPs for vector observations;
* :mod:`~mzero.networks.resnet`: a small ResNet for board or image observations;
* :mod:`~mzero.networks.muzero_net`: :class:`MuZeroNetwork` (initial and recurrent inference);
* :mod:`~mzero.networks.loss`: the K-step unrolled loss :func:`muzero_loss`.
"""

from __future__ import annotations

from mzero.networks.loss import LossOutput, TrainingBatch, muzero_loss, unroll
from mzero.networks.muzero_net import MuZeroNetwork, NetworkOutput, min_max_scale, scale_gradient

__all__ = [
    "LossOutput",
    "MuZeroNetwork",
    "NetworkOutput",
    "TrainingBatch",
    "min_max_scale",
    "muzero_loss",
    "scale_gradient",
    "unroll",
]
