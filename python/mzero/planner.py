"""Batched MuZero planning: root inference plus ``mzero.search``, latents kept on the device.

:class:`Planner` is shared by self-play, evaluation, the :class:`mzero.Agent` and the
reanalysis: ``initial_inference`` once for the batch, then one ``mzero.search`` whose
``recurrent_fn`` gathers the parents' latents from one preallocated tensor
``latent[num_simulations + 1, B, *latent_shape]`` on the network's device (node 0 is
the root, simulation k expands node k + 1), runs ``recurrent_inference`` and writes
the children's latents back.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import mzero
from mzero.errors import InvalidArgumentError
from mzero.networks import MuZeroNetwork

__all__ = ["Planner"]


class Planner:
    """Batched MuZero planning: root inference, ``mzero.search``, latents kept on the device.

    ``search_config`` is a :class:`mzero.SearchConfig`; ``max_games`` the largest batch
    :meth:`plan` will see (it sizes the latent tensor).
    """

    def __init__(self, network: MuZeroNetwork, search_config: Any, max_games: int) -> None:
        if max_games < 1:
            raise InvalidArgumentError(f"max_games: expected >= 1, got {max_games}")
        self.network = network
        self.search_config = search_config
        self.max_games = max_games
        self.device = network.device
        with torch.inference_mode():
            self.latent = torch.empty(
                (search_config.num_simulations + 1, max_games, *network.latent_shape),
                device=self.device,
            )

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device, non_blocking=True)

    @torch.inference_mode()
    def initial_inference(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``observations [B, stack, *obs_shape]`` -> (value float32 ``[B]``, logits ``[B, A]``).

        Also stores the root latents as node 0 of ``self.latent``.
        """
        batch = observations.shape[0]
        root = self.network.initial_inference(self._to_device(observations))
        self.latent[0, :batch] = root.latent
        packed = torch.cat([root.value[:, None], root.policy_logits], dim=1).float().cpu()
        packed_np = packed.numpy()
        return np.ascontiguousarray(packed_np[:, 0]), np.ascontiguousarray(packed_np[:, 1:])

    def recurrent_fn(
        self, game: np.ndarray, parent: np.ndarray, action: np.ndarray, node: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The callback: ids ``int64 [N]`` -> reward ``[N]``, value ``[N]``, logits ``[N, A]``."""
        with torch.inference_mode():
            # rows of latent viewed as [(num_simulations + 1) * max_games, ...]: row
            # node * max_games + game; one host-to-device copy for all the ids
            ids = np.stack([parent * self.max_games + game, node * self.max_games + game, action])
            parent_row, node_row, action_t = self._to_device(ids.astype(np.int64, copy=False))
            flat = self.latent.view(-1, *self.network.latent_shape)
            out = self.network.recurrent_inference(flat.index_select(0, parent_row), action_t)
            flat.index_copy_(0, node_row, out.latent)
            packed = torch.cat([out.reward[:, None], out.value[:, None], out.policy_logits], dim=1)
            packed_np = packed.float().cpu().numpy()
        return (
            np.ascontiguousarray(packed_np[:, 0]),
            np.ascontiguousarray(packed_np[:, 1]),
            np.ascontiguousarray(packed_np[:, 2:]),
        )

    def plan(
        self, observations: np.ndarray, legal_mask: np.ndarray | None = None, seed: int = 0
    ) -> Any:
        """One batched search from ``observations [B, stack, *obs_shape]``.

        ``legal_mask`` is bool ``[B, A]`` (root only). Returns ``mzero.search``'s output
        (``visit_counts``, ``policy``, ``root_value``, ``q_values``, ``action``). The
        network runs in eval mode; its previous mode is restored afterwards.
        """
        batch = observations.shape[0]
        if not 1 <= batch <= self.max_games:
            raise InvalidArgumentError(
                f"observations: expected 1 to {self.max_games} games, got {batch}"
            )
        was_training = self.network.training
        self.network.eval()
        try:
            root_value, root_logits = self.initial_inference(observations)
            return mzero.search(
                root_value,
                root_logits,
                self.recurrent_fn,
                self.search_config,
                legal_mask=legal_mask,
                seed=seed,
            )
        finally:
            self.network.train(was_training)

    @torch.inference_mode()
    def value(self, observations: np.ndarray) -> np.ndarray:
        """The network's value of ``observations [B, stack, *obs_shape]``: float32 ``[B]``."""
        was_training = self.network.training
        self.network.eval()
        try:
            out = self.network.initial_inference(self._to_device(observations))
        finally:
            self.network.train(was_training)
        return out.value.float().cpu().numpy()
