"""Batched MuZero planning: root inference plus ``mzero.search``, latents kept on the device.

:class:`Planner` is shared by self-play, evaluation, the :class:`mzero.Agent` and the
reanalysis: ``initial_inference`` once for the batch, then one ``mzero.search`` whose
``recurrent_fn`` gathers the parents' latents from one preallocated tensor
``latent[num_simulations + 1, B, *latent_shape]`` on the network's device (node 0 is
the root, simulation k expands node k + 1), runs ``recurrent_inference`` and writes
the children's latents back.

A stochastic network (``network.stochastic``) plans with ``mzero.stochastic_search``:
its afterstate step and its chance step (the dynamics from an afterstate and a code;
both :class:`RecurrentStep` kinds) share the same latent store, since a node of the
tree holds either a state or an afterstate.

The steps are small modules (:class:`RootStep`, :class:`RecurrentStep`). With
``network.inference = "trace"`` each is traced once into a TorchScript graph: one call
without Python overhead per op that releases the GIL while it runs, so that self-play's
game groups in flight overlap their network calls with each other's tree work and
environment steps. ``"compile"`` runs them through torch.compile instead: cheaper
calls, but holding the GIL between kernels. On CUDA each planner queues its work on
its own stream (after the default stream, where the learner updates the weights), the
ids go up and the outputs come down through pinned host buffers with ``non_blocking``
copies, and a call waits on the device once.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import mzero
from mzero.config import autocast_dtype
from mzero.errors import InvalidArgumentError
from mzero.networks import MuZeroNetwork
from mzero.throughput import BusyClock

__all__ = [
    "Planner",
    "RecurrentStep",
    "RootStep",
    "stack_frame_actions",
    "stack_frames",
]


def stack_frames(frames: Sequence[np.ndarray], stack: int) -> np.ndarray:
    """The network input of one game: its last ``stack`` observations ``[stack, *obs_shape]``.

    ``frames`` are the game's observations so far, oldest first (at least one); frames
    before the first observation repeat it. Self-play, evaluation and the agent all
    stack with this function.
    """
    last = frames[-stack:] if isinstance(frames, list) else list(frames)[-stack:]
    return np.stack([last[0]] * (stack - len(last)) + last)


def stack_frame_actions(actions: Sequence[int], stack: int) -> np.ndarray:
    """The action before each frame of :func:`stack_frames`'s stack: int64 ``[stack]``.

    ``actions`` are the moves between the game's observations so far (one fewer than
    the observations). Frame ``o_q`` gets ``a_{q-1}``; ``o_0`` and the copies of it
    before the start get -1, as the replay assembles them
    (``SampleBatch.observation_actions``). A record that dropped the front of its game
    must keep ``stack`` moves, so that its first frame is not in the stack.
    """
    before = [-1, *(int(a) for a in actions[-stack:])][-stack:]
    return np.asarray([before[0]] * (stack - len(before)) + before, dtype=np.int64)


class RootStep(nn.Module):
    """``obs [B, stack, *obs_shape]``, ``stack_actions`` int64 ``[B, stack]`` -> (latent
    ``[B, *latent_shape]``, packed ``[B, 1 + A]``).

    ``packed[:, 0]`` is the value, ``packed[:, 1:]`` the policy logits (float32).
    ``stack_actions`` (the action before each frame) is read only by a network with
    ``stack_actions``.
    """

    def __init__(self, network: MuZeroNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, obs: Tensor, stack_actions: Tensor) -> tuple[Tensor, Tensor]:
        out = self.network.initial_inference(obs, stack_actions)
        packed = torch.cat([out.value[:, None], out.policy_logits], dim=1).float()
        return out.latent, packed


class RecurrentStep(nn.Module):
    """One simulation's model call on the flattened latent store.

    ``latent`` is ``[nodes * games, *latent_shape]`` (row ``node * games + game``);
    ``ids`` int64 ``[3, N]`` holds the parent rows, the child rows and the actions.
    Steps the parents with the actions, writes the children's latents into their rows
    and returns packed float32 rows. ``kind`` says which model call:

    * ``"recurrent"``: g then f from a state and an action, ``[N, 2 + A]``: reward,
      value, policy logits;
    * ``"afterstate"`` (a stochastic network): from a state and an action into an
      afterstate, ``[N, 1 + C]``: the afterstate value Q and the chance-code logits;
    * ``"chance"`` (a stochastic network): the dynamics from an afterstate (``ids[0]``)
      and a chance code (``ids[2]``), packed as ``"recurrent"``.
    """

    KINDS = ("recurrent", "afterstate", "chance")

    def __init__(self, network: MuZeroNetwork, kind: str = "recurrent") -> None:
        super().__init__()
        if kind not in self.KINDS:
            raise InvalidArgumentError(f"kind: expected one of {self.KINDS}, got {kind!r}")
        self.network = network
        self.kind = kind

    def forward(self, latent: Tensor, ids: Tensor) -> Tensor:
        parents, actions = latent.index_select(0, ids[0]), ids[2]
        if self.kind == "afterstate":
            after = self.network.afterstate_inference(parents, actions)
            child, heads = after.latent, [after.value[:, None], after.chance_logits]
        else:
            step = (
                self.network.chance_inference
                if self.kind == "chance"
                else self.network.recurrent_inference
            )
            out = step(parents, actions)
            child, heads = out.latent, [out.reward[:, None], out.value[:, None], out.policy_logits]
        latent.index_copy_(0, ids[1], child.to(latent.dtype))
        return torch.cat(heads, dim=1).float()


class _Steps:
    """The steps of one network, traced or not; shared by every planner of the network.

    ``recurrent`` steps a state with an action (a stochastic network: an afterstate
    with a chance code); ``afterstate`` is a stochastic network's step into afterstates
    (``None`` otherwise)."""

    def __init__(self, network: MuZeroNetwork, store: Tensor) -> None:
        self.device = store.device
        self.root: nn.Module = RootStep(network)
        self.recurrent: nn.Module = RecurrentStep(
            network, "chance" if network.stochastic else "recurrent"
        )
        self.afterstate: nn.Module | None = (
            RecurrentStep(network, "afterstate") if network.stochastic else None
        )
        if network.inference_dtype == "float32":
            if network.inference == "trace":
                self._trace(network, store)
            elif network.inference == "compile":
                self._compile(network, store)

    def _trace(self, network: MuZeroNetwork, store: Tensor) -> None:
        games = 2
        obs = torch.zeros((games, network.frame_stack, *network.obs_shape), device=store.device)
        actions = torch.zeros((games, network.frame_stack), dtype=torch.int64, device=store.device)
        scratch = torch.zeros((2 * games, *network.latent_shape), device=store.device)
        ids = torch.tensor([[0, 1], [2, 3], [0, 0]], device=store.device)
        with warnings.catch_warnings():
            # torch.jit.trace is in maintenance mode (a torch.compile call holds the GIL
            # for its Python part, which the game groups feel); the shape checks of the network
            # hold for every batch and are rightly recorded as constants
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            self.root = torch.jit.trace(self.root, (obs, actions), check_trace=False)
            self.recurrent = torch.jit.trace(self.recurrent, (scratch, ids), check_trace=False)
            if self.afterstate is not None:
                self.afterstate = torch.jit.trace(
                    self.afterstate, (scratch, ids), check_trace=False
                )

    def _compile(self, network: MuZeroNetwork, store: Tensor) -> None:
        # Inductor with its C++ wrapper: the kernels are called from compiled C++, not
        # from Python, so a call costs less than a TorchScript one; the kernels release
        # the GIL but the call's Python part (guards, wrappers) holds it. The batch
        # dimension is dynamic: one compilation serves every group size.
        options = {"cpp_wrapper": True}
        self.root = torch.compile(self.root, options=options)
        self.recurrent = torch.compile(self.recurrent, options=options)
        if self.afterstate is not None:
            self.afterstate = torch.compile(self.afterstate, options=options)
        games = 4
        obs = torch.zeros((games, network.frame_stack, *network.obs_shape), device=store.device)
        actions = torch.zeros((games, network.frame_stack), dtype=torch.int64, device=store.device)
        scratch = torch.zeros((2 * games, *network.latent_shape), device=store.device)
        ids = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7], [0, 0, 0, 0]], device=store.device)
        for tensor, dim in ((obs, 0), (actions, 0), (scratch, 0), (ids, 1)):
            torch._dynamo.mark_dynamic(tensor, dim)
        try:
            self.root(obs, actions)
            self.recurrent(scratch, ids)
            if self.afterstate is not None:
                self.afterstate(scratch, ids)
        except Exception as error:  # inductor's errors have no common base class
            raise InvalidArgumentError(
                "network.inference: 'compile' could not compile the network "
                f"(torch.compile needs a working C++ compiler on the CPU): {error}"
            ) from error


_STEPS: weakref.WeakKeyDictionary[MuZeroNetwork, _Steps] = weakref.WeakKeyDictionary()
_STEPS_LOCK = threading.Lock()


def _steps(network: MuZeroNetwork, store: Tensor) -> _Steps:
    """The network's steps, traced (in eval mode) on first use for its device."""
    with _STEPS_LOCK:
        steps = _STEPS.get(network)
        if steps is None or steps.device != store.device:
            was_training = network.training
            network.eval()
            try:
                with torch.inference_mode():
                    steps = _Steps(network, store)
            finally:
                network.train(was_training)
            _STEPS[network] = steps
        return steps


class Planner:
    """Batched MuZero planning: root inference, ``mzero.search``, latents kept on the device.

    ``search_config`` is a :class:`mzero.SearchConfig`; ``max_games`` the largest batch
    :meth:`plan` will see (it sizes the latent tensor). The network's ``inference`` and
    ``inference_dtype`` settings choose how it runs (module docstring).
    :attr:`inference_s` adds up the seconds spent in network calls; ``clock``, when
    given, is told when each call starts and ends (several planners may share one).
    """

    def __init__(
        self,
        network: MuZeroNetwork,
        search_config: Any,
        max_games: int,
        clock: BusyClock | None = None,
    ) -> None:
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
        self._steps = _steps(network, self.latent)
        self.clock = clock or BusyClock()
        self.inference_s = 0.0
        self._no_actions: Tensor | None = None
        """-1 (no action) before every frame, for a network that does not read them."""
        dtype = autocast_dtype(network.inference_dtype)
        self._autocast: Any = (
            (lambda: torch.autocast(self.device.type, dtype=dtype)) if dtype else nullcontext
        )
        self._cuda = self.device.type == "cuda"
        if self._cuda:
            # pinned staging buffers: the non_blocking copies really are asynchronous
            num_actions = network.num_actions
            # the observations' pinned buffer takes their dtype on first use (uint8
            # frames cross to the device as 8 bits)
            self._obs_host: Tensor | None = None
            self._ids_host = torch.empty((3, max_games), dtype=torch.int64, pin_memory=True)
            width = max(2 + num_actions, 1 + network.chance_codes)
            self._out_host = torch.empty((max_games, width), pin_memory=True)
            self._copied = torch.cuda.Event()
            # each planner (self-play's game groups) queues its work on its own stream
            self._stream = torch.cuda.Stream(device=self.device)

    def _on_stream(self) -> Any:
        """The planner's CUDA stream as the current one (nothing on the CPU)."""
        return torch.cuda.stream(self._stream) if self._cuda else nullcontext()

    def _upload(self, array: np.ndarray, host: Tensor | None) -> Tensor:
        """numpy -> tensor on the device (through the pinned buffer ``host`` on CUDA)."""
        if host is None or array.shape[0] > host.shape[0]:
            return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)
        staged = host[tuple(slice(0, n) for n in array.shape)]
        staged.numpy()[...] = array
        return staged.to(self.device, non_blocking=True)

    def _download(self, packed: Tensor) -> np.ndarray:
        """Device tensor ``[N, C]`` -> numpy, with one wait on the device on CUDA."""
        if not self._cuda:
            return packed.numpy()
        if packed.shape[0] > self._out_host.shape[0]:  # more rows than the buffer: a value()
            return packed.cpu().numpy()
        host = self._out_host[: packed.shape[0], : packed.shape[1]]
        host.copy_(packed, non_blocking=True)
        self._copied.record()
        self._copied.synchronize()
        return host.numpy()

    def _obs_buffer(self, observations: np.ndarray) -> Tensor | None:
        """The pinned host buffer for ``observations`` (CUDA only), in their dtype."""
        if not self._cuda:
            return None
        dtype = torch.from_numpy(observations[:0]).dtype
        if self._obs_host is None or self._obs_host.dtype != dtype:
            shape = (self.max_games, self.network.frame_stack, *self.network.obs_shape)
            self._obs_host = torch.empty(shape, dtype=dtype, pin_memory=True)
        return self._obs_host

    def _stack_actions(self, stack_actions: np.ndarray | None, games: int) -> Tensor:
        """``stack_actions`` int64 ``[B, stack]`` on the device; -1 (no action) where the
        network does not read them."""
        expected = (games, self.network.frame_stack)
        if stack_actions is None:
            if self.network.stack_actions:
                raise InvalidArgumentError(
                    f"stack_actions: expected int64 {list(expected)} (the action before each "
                    "stacked frame) for a network with network.stack_actions, got None"
                )
            if self._no_actions is None or self._no_actions.shape[0] < games:
                self._no_actions = torch.full(expected, -1, dtype=torch.int64, device=self.device)
            return self._no_actions[:games]
        if stack_actions.shape != expected:
            raise InvalidArgumentError(
                f"stack_actions: expected shape {list(expected)}, got {list(stack_actions.shape)}"
            )
        return self._upload(stack_actions.astype(np.int64, copy=False), None)

    def _root(
        self, observations: np.ndarray, stack_actions: np.ndarray | None
    ) -> tuple[Tensor, np.ndarray]:
        """Root inference of ``observations`` (float32, or uint8 frames converted to
        float on the device by the network) and their ``stack_actions``."""
        start = self.clock.start()
        if observations.dtype != np.uint8:
            observations = observations.astype(np.float32, copy=False)
        obs = self._upload(observations, self._obs_buffer(observations))
        actions = self._stack_actions(stack_actions, observations.shape[0])
        with self._autocast():
            latent, packed = self._steps.root(obs, actions)
        out = self._download(packed)
        self.inference_s += self.clock.stop(start)
        return latent, out

    def _host(self, name: str) -> Tensor | None:
        return getattr(self, name) if self._cuda else None

    @torch.inference_mode()
    def initial_inference(
        self, observations: np.ndarray, stack_actions: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``observations [B, stack, *obs_shape]`` -> (value float32 ``[B]``, logits ``[B, A]``).

        ``stack_actions`` int64 ``[B, stack]``: the action before each frame (-1 before
        the first; :func:`stack_frame_actions`), needed by a network with
        ``stack_actions``. Also stores the root latents as node 0 of ``self.latent``.
        """
        with self._on_stream():
            latent, packed = self._root(observations, stack_actions)
            self.latent[0, : latent.shape[0]] = latent
        return np.ascontiguousarray(packed[:, 0]), np.ascontiguousarray(packed[:, 1:])

    def _step(
        self,
        step: nn.Module,
        game: np.ndarray,
        parent: np.ndarray,
        action: np.ndarray,
        node: np.ndarray,
    ) -> np.ndarray:
        """Runs ``step`` on the latent store for the ids; returns its packed output."""
        start = self.clock.start()
        with torch.inference_mode(), self._on_stream():
            # rows of latent viewed as [(num_simulations + 1) * max_games, ...]: row
            # node * max_games + game; one host-to-device copy for all the ids
            ids = np.stack([parent * self.max_games + game, node * self.max_games + game, action])
            ids_t = self._upload(ids, self._host("_ids_host"))
            flat = self.latent.view(-1, *self.network.latent_shape)
            with self._autocast():
                packed = self._download(step(flat, ids_t))
        self.inference_s += self.clock.stop(start)
        return packed

    def afterstate_fn(
        self, game: np.ndarray, parent: np.ndarray, action: np.ndarray, node: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """A stochastic network's afterstate callback: ids ``int64 [N]`` -> afterstate
        value ``[N]``, chance-code logits ``[N, C]``."""
        if self._steps.afterstate is None:
            raise InvalidArgumentError("network.stochastic: the network has no afterstates")
        packed = self._step(self._steps.afterstate, game, parent, action, node)
        return np.ascontiguousarray(packed[:, 0]), np.ascontiguousarray(packed[:, 1:])

    def recurrent_fn(
        self, game: np.ndarray, parent: np.ndarray, action: np.ndarray, node: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The callback: ids ``int64 [N]`` -> reward ``[N]``, value ``[N]``, logits ``[N, A]``.

        For a stochastic network this is the dynamics callback: ``parent`` holds an
        afterstate and ``action`` is a chance code."""
        packed = self._step(self._steps.recurrent, game, parent, action, node)
        return (
            np.ascontiguousarray(packed[:, 0]),
            np.ascontiguousarray(packed[:, 1]),
            np.ascontiguousarray(packed[:, 2:]),
        )

    def search(
        self,
        observations: np.ndarray,
        legal_mask: np.ndarray | None = None,
        seed: int = 0,
        first_game: int = 0,
        stack_actions: np.ndarray | None = None,
    ) -> Any:
        """One batched search from ``observations [B, stack, *obs_shape]``, as the network is.

        :meth:`plan` without switching the network to eval mode: for callers that set
        the mode once around several planners running at the same time (self-play's
        game groups). ``first_game`` is passed to ``mzero.search``; ``stack_actions``
        as :meth:`initial_inference`.
        """
        batch = observations.shape[0]
        if not 1 <= batch <= self.max_games:
            raise InvalidArgumentError(
                f"observations: expected 1 to {self.max_games} games, got {batch}"
            )
        if self._cuda:
            # the learner updates the weights on the default stream: see its last update
            self._stream.wait_stream(torch.cuda.default_stream(self.device))
        root_value, root_logits = self.initial_inference(observations, stack_actions)
        if self.network.stochastic:
            return mzero.stochastic_search(
                root_value,
                root_logits,
                self.afterstate_fn,
                self.recurrent_fn,
                self.network.chance_codes,
                self.search_config,
                legal_mask=legal_mask,
                seed=seed,
                first_game=first_game,
            )
        return mzero.search(
            root_value,
            root_logits,
            self.recurrent_fn,
            self.search_config,
            legal_mask=legal_mask,
            seed=seed,
            first_game=first_game,
        )

    def plan(
        self,
        observations: np.ndarray,
        legal_mask: np.ndarray | None = None,
        seed: int = 0,
        stack_actions: np.ndarray | None = None,
    ) -> Any:
        """One batched search from ``observations [B, stack, *obs_shape]``.

        ``legal_mask`` is bool ``[B, A]`` (root only); ``stack_actions`` as
        :meth:`initial_inference`. Returns ``mzero.search``'s output (``visit_counts``,
        ``policy``, ``root_value``, ``q_values``, ``action``). The network runs in eval
        mode; its previous mode is restored afterwards.
        """
        with eval_mode(self.network):
            return self.search(observations, legal_mask, seed, stack_actions=stack_actions)

    @torch.inference_mode()
    def value(
        self, observations: np.ndarray, stack_actions: np.ndarray | None = None
    ) -> np.ndarray:
        """The network's value of ``observations [B, stack, *obs_shape]`` (and their
        ``stack_actions``, as :meth:`initial_inference`): float32 ``[B]``."""
        with eval_mode(self.network), self._on_stream():
            if self._cuda:
                self._stream.wait_stream(torch.cuda.default_stream(self.device))
            _, packed = self._root(observations, stack_actions)
        return np.array(packed[:, 0], dtype=np.float32)


class eval_mode(AbstractContextManager[None]):  # noqa: N801 (used like torch.no_grad)
    """Puts ``module`` in eval mode for the block and restores its previous mode."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __enter__(self) -> None:
        self.was_training = self.module.training
        self.module.eval()

    def __exit__(self, *exc: object) -> None:
        self.module.train(self.was_training)
