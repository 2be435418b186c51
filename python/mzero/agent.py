"""A trained agent for programmatic use: ``mzero.Agent.load(run_dir).act(observation)``."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mzero.checkpoint import load_checkpoint
from mzero.config import Config
from mzero.errors import InvalidArgumentError, MZeroIOError
from mzero.learner import build_network, resolve_device
from mzero.planner import Planner, stack_frame_actions, stack_frames

__all__ = ["Agent"]


class Agent:
    """Greedy play with search: the network of a run plans with ``mzero.search``
    and :meth:`act` returns the search's action.

    The search config is built with ``explore=False``: no root Dirichlet noise (PUCT)
    and ``gumbel_scale = 0`` (Gumbel MuZero), so the action does not depend on ``seed``.

    The network runs as ``config.network.act_inference`` says (else as
    ``network.inference``). Observations are those of the environment, ``float32
    obs_shape``; with
    ``env.frame_stack > 1`` the agent stacks the frames it has seen since :meth:`reset`;
    a network with ``network.stack_actions`` also sees the action before each frame
    (the agent's own last action unless :meth:`act` is told another).
    """

    def __init__(
        self,
        network: torch.nn.Module,
        config: Config,
        two_player: bool,
        seed: int = 0,
        checkpoint_path: Path | None = None,
        env_steps: int | None = None,
    ) -> None:
        self.network = network.eval()
        self.config = config
        self.two_player = two_player
        self.checkpoint_path = checkpoint_path
        self.env_steps = env_steps
        """Env steps of training when the checkpoint was written (None when unknown)."""
        self.obs_shape = tuple(network.obs_shape)
        self.num_actions = int(network.num_actions)
        if config.network.act_inference is not None:
            # one game per call: how acting runs the network (before its planner is built)
            self.network.inference = config.network.act_inference
        search_config = config.search.to_search_config(two_player=two_player, explore=False)
        self.planner = Planner(network, search_config, max_games=1)
        self.rng = np.random.default_rng(seed)
        self.stack = config.env.frame_stack
        self.frames: deque[np.ndarray] = deque(maxlen=self.stack)
        self.moves: deque[int] = deque(maxlen=self.stack)
        """The moves between ``frames`` (the last ``stack`` of them)."""
        self._last_action = -1
        self.last_search: Any = None
        """The search output of the last :meth:`act` (``visit_counts``, ``q_values``, ...
        of a batch of one), to show what the agent thought."""

    @classmethod
    def load(
        cls,
        run_dir: str | os.PathLike[str],
        checkpoint: str | os.PathLike[str] = "best",
        device: str = "cpu",
        seed: int = 0,
    ) -> Agent:
        """The agent of a run directory written by ``mzero train``.

        ``checkpoint="best"`` takes ``checkpoints/best.pt`` (the best greedy evaluation
        during training) and falls back to ``checkpoints/last.pt`` when the run never
        evaluated; ``"last"`` takes the final checkpoint. Any other value is a
        checkpoint file: a path, or a file name in ``RUN/checkpoints/`` (such as
        ``env_steps_000100000.pt``, kept with ``train.keep_eval_checkpoints``).
        """
        directory = Path(run_dir) / "checkpoints"
        if checkpoint in ("best", "last"):
            path = directory / f"{checkpoint}.pt"
            if checkpoint == "best" and not path.exists():
                path = directory / "last.pt"
            if not path.exists():
                raise MZeroIOError(f"run_dir: no checkpoint in {directory}")
        else:
            path = Path(checkpoint)
            if not path.exists() and (directory / path).exists():
                path = directory / path
            if not path.is_file():
                raise InvalidArgumentError(
                    f"checkpoint: expected best, last or a checkpoint file, got {str(checkpoint)!r}"
                    f" (no such file, nor in {directory})"
                )
        torch_device = resolve_device(device)
        state = load_checkpoint(path, map_location=torch_device)
        config = Config.from_dict(state["config"])
        network = build_network(config, tuple(state["obs_shape"]), int(state["num_actions"]))
        network.load_state_dict(state["network"])
        network.to(torch_device)
        return cls(
            network,
            config,
            bool(state["two_player"]),
            seed=seed,
            checkpoint_path=path,
            env_steps=state.get("env_steps"),
        )

    def reset(self) -> None:
        """Forgets the stacked frames (call at the start of each episode)."""
        self.frames.clear()
        self.moves.clear()
        self._last_action = -1

    def act(
        self,
        observation: np.ndarray,
        legal_mask: np.ndarray | None = None,
        previous_action: int | None = None,
    ) -> int:
        """The greedy action for ``observation`` (``obs_shape``), searching with
        ``config.search.eval_simulations`` (else ``num_simulations``); ``legal_mask`` is
        bool ``[A]`` or None (all legal). ``previous_action``: the action that led to
        ``observation``, for a network with ``network.stack_actions`` (default: the
        action this agent returned last; none at the first observation after
        :meth:`reset`)."""
        obs = np.asarray(observation)
        if obs.dtype != np.uint8:  # uint8 frames go to the network's device as they are
            obs = obs.astype(np.float32, copy=False)
        if obs.shape != self.obs_shape:
            raise InvalidArgumentError(
                f"observation: expected shape {self.obs_shape}, got {obs.shape}"
            )
        if legal_mask is not None:
            legal_mask = np.asarray(legal_mask, dtype=bool)
            if legal_mask.shape != (self.num_actions,):
                raise InvalidArgumentError(
                    f"legal_mask: expected shape ({self.num_actions},), got {legal_mask.shape}"
                )
            legal_mask = legal_mask[None]
        if previous_action is not None and not 0 <= previous_action < self.num_actions:
            raise InvalidArgumentError(
                f"previous_action: expected an action in [0, {self.num_actions}), "
                f"got {previous_action}"
            )
        if self.frames:
            self.moves.append(
                self._last_action if previous_action is None else int(previous_action)
            )
        self.frames.append(obs)
        stacked = stack_frames(self.frames, self.stack)
        stack_actions = None
        if self.network.stack_actions:
            stack_actions = stack_frame_actions(list(self.moves), self.stack)[None]
        out = self.planner.plan(
            stacked[None],
            legal_mask,
            seed=int(self.rng.integers(2**63)),
            stack_actions=stack_actions,
        )
        self.last_search = out
        self._last_action = int(out.action[0])
        return self._last_action
