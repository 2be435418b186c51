"""A small ResNet representation, dynamics and prediction for board or image observations.

Shapes (``C`` channels of the latent state, board ``H x W``):

* representation ``h``: observation ``[B, C_in, H, W]`` -> latent ``[B, C, H, W]``;
* dynamics ``g``: (latent ``[B, C, H, W]``, action ``[B]``) -> next latent
  ``[B, C, H, W]``; reward logits ``[B, 2R + 1]`` from the (scaled) next latent;
* prediction ``f``: latent -> policy logits ``[B, A]``, value logits ``[B, 2S + 1]``.

As in the MuZero paper's board-game networks (appendix F, after AlphaZero): 3x3
convolutions with batch normalisation, residual blocks, and heads that start with
a 1x1 convolution. The action enters the dynamics as extra input planes (the paper
encodes Go's moves as a plane with the stone, chess moves as from and to planes):
the game's own ``action_planes`` ``[A, P, H, W]`` when it has them (Connect Four:
the column), else one plane with a 1 on the action's cell when the actions are the
``H * W`` cells (TicTacToe), else ``A`` constant one-hot planes.

For image observations, :class:`DownsampleRepresentation` is MuZero's Atari
representation (appendix F): stride-2 convolutions, residual blocks and average
pooling take ``H x W`` frames down to ``ceil(H / 16) x ceil(W / 16)`` (96 x 96 to
6 x 6), where the dynamics and prediction then work.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from mzero.errors import InvalidArgumentError
from mzero.networks.mlp import mlp

__all__ = [
    "DownsampleRepresentation",
    "ResNetDynamics",
    "ResNetPrediction",
    "ResNetRepresentation",
    "ResidualBlock",
    "downsampled",
]


def conv_bn(in_channels: int, out_channels: int, kernel: int = 3) -> nn.Sequential:
    """Convolution (same padding, no bias) followed by batch normalisation."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class ResidualBlock(nn.Module):
    """``x -> relu(x + bn(conv(relu(bn(conv(x))))))``; shape ``[B, C, H, W]`` preserved."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = conv_bn(channels, channels)
        self.second = conv_bn(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, H, W]`` -> ``[B, C, H, W]``."""
        return torch.relu(x + self.second(torch.relu(self.first(x))))


class Head(nn.Module):
    """1x1 conv -> BN -> ReLU -> flatten -> MLP: ``[B, C, H, W]`` -> ``[B, out]``."""

    def __init__(
        self,
        channels: int,
        head_channels: int,
        board: tuple[int, int],
        hidden: Sequence[int],
        out: int,
        *,
        zero_last: bool = False,
    ) -> None:
        super().__init__()
        self.conv = conv_bn(channels, head_channels, kernel=1)
        self.mlp = mlp(head_channels * board[0] * board[1], hidden, out, zero_last=zero_last)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, H, W]`` -> ``[B, out]``."""
        return self.mlp(torch.relu(self.conv(x)).flatten(1))


class ResNetRepresentation(nn.Module):
    """h: observation ``[B, C_in, H, W]`` -> latent ``[B, C, H, W]`` (before scaling)."""

    def __init__(self, in_channels: int, channels: int, blocks: int) -> None:
        super().__init__()
        self.stem = conv_bn(in_channels, channels)
        self.blocks = nn.Sequential(*(ResidualBlock(channels) for _ in range(blocks)))

    def forward(self, obs: Tensor) -> Tensor:
        """``obs [B, C_in, H, W]`` -> ``[B, C, H, W]``."""
        return self.blocks(torch.relu(self.stem(obs)))


def downsampled(size: int) -> int:
    """The side of :class:`DownsampleRepresentation`'s output for an input side ``size``:
    four halvings, each rounding up (96 -> 6, 84 -> 6)."""
    for _ in range(4):
        size = (size + 1) // 2
    return size


class DownsampleRepresentation(nn.Module):
    """h for frames: ``[B, C_in, H, W]`` -> latent ``[B, C, ceil(H/16), ceil(W/16)]``.

    MuZero's Atari representation, with the width ``C`` and the depth ``blocks``
    chosen by the caller (the paper: 256 channels; 2, 3 and 3 residual blocks)::

        conv 3x3 stride 2 -> C/2 channels, blocks x residual(C/2)
        conv 3x3 stride 2 -> C channels,   blocks x residual(C)
        avg pool 3x3 stride 2,             blocks x residual(C)
        avg pool 3x3 stride 2
    """

    def __init__(self, in_channels: int, channels: int, blocks: int) -> None:
        super().__init__()
        half = max(1, channels // 2)

        def residual(width: int) -> nn.Sequential:
            return nn.Sequential(*(ResidualBlock(width) for _ in range(blocks)))

        def stride2(cin: int, cout: int) -> nn.Sequential:
            conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False)
            return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU())

        pool = nn.AvgPool2d(3, stride=2, padding=1)
        self.net = nn.Sequential(
            stride2(in_channels, half),
            residual(half),
            stride2(half, channels),
            residual(channels),
            pool,
            residual(channels),
            pool,
        )

    def forward(self, obs: Tensor) -> Tensor:
        """``obs [B, C_in, H, W]`` -> ``[B, C, ceil(H/16), ceil(W/16)]``."""
        return self.net(obs)


class ResNetDynamics(nn.Module):
    """g: (latent ``[B, C, H, W]``, action ``[B]``) -> next latent; plus its reward head.

    ``next = blocks(relu(s + bn(conv([s, action planes]))))``. The caller min-max
    scales it and reads the reward logits ``[B, 2R + 1]`` with :meth:`reward`.
    """

    def __init__(
        self,
        channels: int,
        num_actions: int,
        board: tuple[int, int],
        blocks: int,
        head_channels: int,
        hidden: Sequence[int],
        reward_support: int,
        action_planes: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.num_actions = num_actions
        self.board = board
        self.cell_actions = num_actions == board[0] * board[1]
        self.action_table: Tensor | None
        if action_planes is None:
            self.action_table = None
            planes = 1 if self.cell_actions else num_actions
        else:
            table = torch.as_tensor(np.asarray(action_planes, dtype=np.float32))
            if table.dim() != 4 or table.shape[0] != num_actions or table.shape[2:] != board:
                raise InvalidArgumentError(
                    f"action_planes: expected [{num_actions}, P, {board[0]}, {board[1]}], "
                    f"got {list(table.shape)}"
                )
            # not in the state dict: it belongs to the game, and is rebuilt from it
            self.register_buffer("action_table", table, persistent=False)
            planes = table.shape[1]
        self.transition = conv_bn(channels + planes, channels)
        self.blocks = nn.Sequential(*(ResidualBlock(channels) for _ in range(blocks)))
        self.reward_head = Head(
            channels, head_channels, board, hidden, 2 * reward_support + 1, zero_last=True
        )

    def action_planes(self, action: Tensor, dtype: torch.dtype) -> Tensor:
        """``action int64 [B]`` -> ``[B, P, H, W]`` (the game's planes), ``[B, 1, H, W]``
        (cell actions) or ``[B, A, H, W]``."""
        height, width = self.board
        if self.action_table is not None:
            return self.action_table[action].to(dtype)
        if self.cell_actions:
            onehot = nn.functional.one_hot(action, self.num_actions).to(dtype)
            return onehot.view(-1, 1, height, width)
        onehot = nn.functional.one_hot(action, self.num_actions).to(dtype)
        return onehot[:, :, None, None].expand(-1, -1, height, width)

    def forward(self, latent: Tensor, action: Tensor) -> Tensor:
        """``latent [B, C, H, W]``, ``action int64 [B]`` -> next latent (before scaling)."""
        planes = self.action_planes(action, latent.dtype)
        x = torch.relu(latent + self.transition(torch.cat([latent, planes], dim=1)))
        return self.blocks(x)

    def reward(self, next_latent: Tensor) -> Tensor:
        """``next_latent [B, C, H, W]`` -> reward logits ``[B, 2R + 1]``."""
        return self.reward_head(next_latent)


class ResNetPrediction(nn.Module):
    """f: latent ``[B, C, H, W]`` -> (policy logits ``[B, A]``, value logits ``[B, 2S + 1]``)."""

    def __init__(
        self,
        channels: int,
        num_actions: int,
        board: tuple[int, int],
        head_channels: int,
        hidden: Sequence[int],
        value_support: int,
    ) -> None:
        super().__init__()
        self.policy_head = Head(channels, head_channels, board, hidden, num_actions, zero_last=True)
        self.value_head = Head(
            channels, head_channels, board, hidden, 2 * value_support + 1, zero_last=True
        )

    def forward(self, latent: Tensor) -> tuple[Tensor, Tensor]:
        """``latent [B, C, H, W]`` -> (policy logits ``[B, A]``, value logits ``[B, 2S + 1]``)."""
        return self.policy_head(latent), self.value_head(latent)
