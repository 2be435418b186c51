"""Self-play: B environments stepped together, planned by one batched search per step.

One step of :class:`SelfPlay` (docs/design.md, "Data flow of one self-play step"):

1. stack the B current observations ``[B, stack, *obs_shape]`` and run
   ``initial_inference`` once: root latent, value ``[B]`` and logits ``[B, A]``;
2. call ``mzero.search`` once for the batch. Its ``recurrent_fn(game, parent, action,
   node)`` gathers the parents' latents from one preallocated tensor
   ``latent[num_simulations + 1, B, *latent_shape]`` on the network's device
   (node 0 is the root, simulation k expands node k + 1), runs
   ``recurrent_inference`` and writes the children's latents back;
3. pick the actions. PUCT (``search.algorithm = "muzero"``): sample the visit
   counts with ``mzero.select_action`` at the scheduled temperature, or take the
   most-visited action after ``train.temperature_moves`` moves of a game (Dirichlet
   noise at the root comes from the search config's ``dirichlet_fraction``).
   Gumbel MuZero (``"gumbel"``): play the search's own ``action``, the winner of
   sequential halving among Gumbel-top-k actions (Danihelka et al. 2022; mctx's
   ``gumbel_muzero_policy``). Its Gumbel noise, scaled by ``search.gumbel_scale``,
   is the exploration: temperatures and ``train.temperature_moves`` do not apply;
4. step every environment and record (observation, action, reward, search value,
   search policy); a finished game goes into the replay buffer and its environment
   starts a new one. With ``train.segment_length = L`` a game also goes in every L
   moves as a segment (EfficientZero's game segments): a long game feeds the learner
   while it is played. A segment carries the frames before it that its first stacks
   need and the next ``td_steps + K`` moves after it, so that every target of its L
   positions is the whole game's (docs/design.md, "Segments").

The :class:`Planner` (steps 1-2) is shared by self-play, evaluation and the agent.

Game groups in flight (``train.pipeline = k``): the B games are split into k
contiguous groups, each with its own planner, played on k threads. While one group's
network call runs (a TorchScript call that releases the GIL, ``network.inference =
"trace"``), the other groups' trees advance in Rust (GIL released) and their finished
moves step their environments, so the network, the tree work and the environments
overlap. Every game gets exactly what one search of all B games would give it:
group g searches with the step's seed and ``first_game`` = its first game's index, and
the step's random numbers are drawn in the main thread in the order of one batched
step (the search seed, then PUCT's sampling uniforms for all B games, then the seeds
of the games that restart), whatever the number of groups.
The threads pay off where the network calls are the bottleneck and the tree work
is large (``benches/bench_selfplay.py --pipelines 1 2``): each network call is one
TorchScript call, but the GIL is still taken around it.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import mzero
from mzero.config import Config
from mzero.envs import Environment, make_env_from_config
from mzero.envs.pool import EnvPool, LocalEnvs, contiguous_shares
from mzero.envs.registry import game_class
from mzero.networks import MuZeroNetwork
from mzero.planner import Planner, eval_mode, stack_frame_actions, stack_frames
from mzero.search import select_action_with_uniforms
from mzero.throughput import BusyClock, Throughput

__all__ = ["EpisodeStats", "GameRecord", "Planner", "SelfPlay", "pipeline_groups", "stack_inputs"]

_SEED_BOUND = 2**63


@dataclass
class GameRecord:
    """One game in progress: the arrays ``ReplayBuffer.add_game`` takes, as lists."""

    observations: list[np.ndarray]
    """o_0 .. o_t so far, each ``obs_shape`` in the environment's ``obs_dtype`` (float32,
    or uint8 frames, stored as they are)."""
    legal_mask: np.ndarray
    """bool ``[A]``: legal actions at the latest observation."""
    actions: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    root_values: list[float] = field(default_factory=list)
    policies: list[np.ndarray] = field(default_factory=list)
    legal_masks: list[np.ndarray] = field(default_factory=list)
    """bool ``[A]`` per move: the legal actions where it was chosen (for a reanalysis)."""
    first_move: int = 0
    """Moves dropped from the front once their segments were stored
    (``train.segment_length``): this record holds moves ``first_move``,
    ``first_move + 1``, ... and ``observations[0]`` is the game's observation before
    move ``first_move``."""
    earlier_return: float = 0.0
    """Sum of the rewards of the dropped moves."""
    unstored: int = 0
    """The record's first position not yet stored in a segment."""

    @property
    def moves(self) -> int:
        """Moves played in the whole game so far, dropped moves included."""
        return self.first_move + len(self.actions)

    def ready_segments(self, length: int, carry: int, history: int) -> list[dict[str, Any]]:
        """The ``add_game`` arguments of the segments of ``length`` positions whose next
        ``carry`` moves have been played (and the search value after them, the
        bootstrap where the stored piece is cut, which no sampled target reaches).
        Drops the moves no later segment needs (it keeps ``history`` before the next).
        """
        segments = []
        while self.unstored + length + carry < len(self.actions):
            stop = self.unstored + length
            segments.append(self._piece(self.unstored, stop, stop + carry, history, False, 0.0))
            self.unstored = stop
        self._drop(max(0, self.unstored - history))
        return segments

    def final_segments(
        self,
        length: int | None,
        carry: int,
        history: int,
        terminated: bool,
        bootstrap_value: float,
    ) -> list[dict[str, Any]]:
        """The ``add_game`` arguments of the rest of a finished game: segments of
        ``length`` positions (the whole rest when ``None``) with up to ``carry`` moves
        after each; a piece that reaches the end takes the game's ``terminated`` and
        ``bootstrap_value``."""
        end, segments = len(self.actions), []
        while self.unstored < end:
            stop = end if length is None else min(self.unstored + length, end)
            cut = min(stop + carry, end)
            segments.append(
                self._piece(self.unstored, stop, cut, history, terminated, bootstrap_value)
            )
            self.unstored = stop
        return segments

    def _piece(
        self,
        start: int,
        stop: int,
        cut: int,
        history: int,
        terminated: bool,
        bootstrap_value: float,
    ) -> dict[str, Any]:
        """Positions ``start .. stop-1`` sampled, stored from ``start - history`` (as
        far as the record goes back) to ``cut``; cut before the end of the record, the
        piece bootstraps from the search value at ``cut``."""
        first = max(0, start - history)
        if cut < len(self.actions):
            terminated, bootstrap_value = False, self.root_values[cut]
        whole = start == 0 and stop == cut == len(self.actions)
        return {
            "observations": np.stack(self.observations[first : cut + 1]),
            "actions": np.asarray(self.actions[first:cut], dtype=np.int64),
            "rewards": np.asarray(self.rewards[first:cut], dtype=np.float32),
            "root_values": np.asarray(self.root_values[first:cut], dtype=np.float32),
            "policies": np.stack(self.policies[first:cut]),
            "terminated": terminated,
            "bootstrap_value": float(bootstrap_value),
            "legal_masks": np.stack(self.legal_masks[first:cut]).astype(bool, copy=False),
            "segment": None if whole else (start - first, stop - first),
        }

    def _drop(self, count: int) -> None:
        """Drops the first ``count`` moves (their segments are stored)."""
        if count <= 0:
            return
        self.earlier_return = math.fsum([self.earlier_return, *self.rewards[:count]])
        columns = (self.actions, self.rewards, self.root_values, self.policies, self.legal_masks)
        for column in (*columns, self.observations):
            del column[:count]
        self.first_move += count
        self.unstored -= count

    def stacked(self, stack: int) -> np.ndarray:
        """The last ``stack`` observations ``[stack, *obs_shape]``; frames before o_0 repeat o_0."""
        return stack_frames(self.observations, stack)

    def stacked_actions(self, stack: int) -> np.ndarray:
        """int64 ``[stack]``: the action before each frame of :meth:`stacked` (-1 before o_1)."""
        return stack_frame_actions(self.actions, stack)

    def __len__(self) -> int:
        """Moves the record holds (the dropped ones not counted)."""
        return len(self.actions)


def stack_inputs(
    games: list[GameRecord], stack: int, with_actions: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The network inputs of ``games``: their stacked frames ``[B, stack, *obs_shape]``
    and, for a network that sees them (``with_actions``), the actions before those
    frames, int64 ``[B, stack]`` (else None)."""
    observations = np.stack([game.stacked(stack) for game in games])
    if not with_actions:
        return observations, None
    return observations, np.stack([game.stacked_actions(stack) for game in games])


@dataclass(frozen=True)
class EpisodeStats:
    """A finished self-play game."""

    episode_return: float
    """Sum of rewards; two-player games: the first player's result (+1, 0, -1)."""
    length: int
    """Moves played."""
    terminated: bool
    """False if the episode was truncated (e.g. by a time limit)."""


def pipeline_groups(num_games: int, pipeline: int | None) -> list[range]:
    """The game groups of ``train.pipeline``: k contiguous, near-equal ranges of games.

    ``pipeline=None`` picks what measured fastest on a 2-core CPU with the cartpole
    network (``benches/bench_selfplay.py --pipelines 1 2``): two groups from 256
    games on (1.3x at 256, 1.35x at 512, 1.5x at 1024), one below (at 64 games two
    groups ran at 0.8x to 0.95x: half batches pay the network's per-call overhead
    twice). 128 games gained 1.12x on the host of those figures, but a slower host
    gained only 1.04x at 256, so the threshold is 256, not 128.
    """
    k = pipeline if pipeline is not None else (2 if num_games >= AUTO_PIPELINE_MIN_GAMES else 1)
    return contiguous_shares(num_games, k)


AUTO_PIPELINE_MIN_GAMES = 256
"""``train.pipeline = None`` plays two game groups from this many games on."""


@dataclass
class _Move:
    """The randomness of one self-play step, drawn up front so that no thread draws any."""

    seed: int
    """The search seed of every group (each passes its ``first_game``)."""
    temperature: float
    uniforms: np.ndarray | None
    """float ``[B]``: PUCT's visit-count sampling (``None`` when nothing is sampled)."""


class SelfPlay:
    """B environments (``config.train.num_envs``) played by one network and batched searches.

    The games are played in ``train.pipeline`` groups in flight (module docstring).
    Finished games go to ``replay.add_game`` (an :class:`mzero.ReplayBuffer`), in game
    order; truncated games, and the segments of ``train.segment_length``, bootstrap from
    the network's value of their last observation.
    ``env_factory`` defaults to the config's environment. :attr:`throughput` counts
    where the time goes.
    """

    def __init__(
        self,
        network: MuZeroNetwork,
        config: Config,
        replay: Any,
        seed: int = 0,
        env_factory: Callable[[], Environment] | None = None,
    ) -> None:
        factory = env_factory or functools.partial(make_env_from_config, config.env)
        self.config = config
        self.network = network
        self.replay = replay
        self.num_games = config.train.num_envs
        self.stack = config.env.frame_stack
        self.stack_actions = config.network.stack_actions
        self.groups = pipeline_groups(self.num_games, config.train.pipeline)
        workers = config.env.workers
        if game_class(config.env.id) is not None:
            workers = 0  # board games (built-in, OpenSpiel) step in-process
        self.env_groups: list[LocalEnvs | EnvPool] = []
        try:
            for g, group in enumerate(self.groups):
                if workers > 0:
                    pool = EnvPool(factory, len(group), workers, name=f"group{g}")
                    self.env_groups.append(pool)
                else:
                    self.env_groups.append(LocalEnvs([factory() for _ in group]))
        except BaseException:
            for envs in self.env_groups:
                envs.close()
            raise
        self.two_player = self.env_groups[0].two_player
        search_config = config.search.to_search_config(two_player=self.two_player, explore=True)
        self.network_clock = BusyClock()
        self.planners = [
            Planner(network, search_config, len(group), clock=self.network_clock)
            for group in self.groups
        ]
        self.planner = self.planners[0]
        """The first group's planner (the only one without game groups)."""
        self._pool = (
            ThreadPoolExecutor(len(self.groups), thread_name_prefix="mzero-selfplay")
            if len(self.groups) > 1
            else None
        )
        self.rng = np.random.default_rng(seed)
        self.env_steps = 0
        self.throughput = Throughput()
        self.games: list[GameRecord] = [None] * self.num_games  # type: ignore[list-item]
        self._new_games([(i, self._game_seed()) for i in range(self.num_games)])

    def _game_seed(self) -> int:
        return int(self.rng.integers(_SEED_BOUND))

    @property
    def envs(self) -> list[Environment]:
        """The environments, in game order (only when they step in this process)."""
        if any(isinstance(envs, EnvPool) for envs in self.env_groups):
            raise AttributeError("envs: the environments live in worker processes (env.workers)")
        return [env for envs in self.env_groups for env in envs.envs]  # type: ignore[union-attr]

    def restart(self, rng_state: dict[str, Any], env_steps: int) -> None:
        """Continues a saved run: the generator's saved state and env step count, and a
        new game in every slot (the games in progress when the state was saved are lost)."""
        self.rng.bit_generator.state = rng_state
        self.env_steps = env_steps
        self._new_games([(i, self._game_seed()) for i in range(self.num_games)])

    def _new_games(self, requests: list[tuple[int, int]]) -> None:
        """Starts a new game in slot ``i`` with ``seed`` for each ``(i, seed)``."""
        for g, group in enumerate(self.groups):
            mine = [(i - group.start, seed) for i, seed in requests if i in group]
            if not mine:
                continue
            for (j, _), (obs, mask) in zip(mine, self.env_groups[g].reset(mine), strict=True):
                self.games[group.start + j] = GameRecord(observations=[obs], legal_mask=mask)

    def step(self, temperature: float) -> list[EpisodeStats]:
        """Plays one move in every game; returns the games that finished.

        ``temperature`` is the visit-count temperature of PUCT self-play; Gumbel
        self-play ignores it and plays the search's ``action`` (module docstring, step 3).
        """
        seed = int(self.rng.integers(_SEED_BOUND))
        sampled = self.config.search.algorithm != "gumbel" and temperature != 0
        uniforms = self.rng.random(self.num_games) if sampled else None
        move = _Move(seed=seed, temperature=temperature, uniforms=uniforms)
        start = time.perf_counter()
        with eval_mode(self.network):
            if self._pool is None:
                finished = self._play(0, move)
            else:
                jobs = [self._pool.submit(self._play, g, move) for g in range(len(self.groups))]
                finished = [game for job in jobs for game in job.result()]
        self.env_steps += self.num_games
        stats = self._finish(finished)
        self.throughput.add(
            wall_s=time.perf_counter() - start,
            env_steps=self.num_games,
            simulations=self.num_games * self.config.search.num_simulations,
            network_busy_s=self.network_clock.take(),
        )
        return stats

    def _play(self, g: int, move: _Move) -> list[tuple[int, bool]]:
        """One move of group ``g``'s games (on its own thread when there are several)."""
        group, planner = self.groups[g], self.planners[g]
        games = [self.games[i] for i in group]
        started = time.perf_counter()
        network_before = planner.inference_s
        observations, stack_actions = stack_inputs(games, self.stack, self.stack_actions)
        legal_mask = np.stack([game.legal_mask for game in games])
        out = planner.search(
            observations,
            legal_mask,
            seed=move.seed,
            first_game=group.start,
            stack_actions=stack_actions,
        )
        searched = time.perf_counter()
        network_s = planner.inference_s - network_before
        if self.config.search.algorithm == "gumbel":
            # Gumbel MuZero acts with the sequential-halving winner; the Gumbel noise
            # drawn by the search (gumbel_scale) is its exploration, not a temperature
            actions = np.asarray(out.action, dtype=np.int64)
        else:
            # this group's share of the step's uniforms: the draws of one batched step
            uniforms = None if move.uniforms is None else move.uniforms[group.start : group.stop]
            actions = select_action_with_uniforms(out.visit_counts, move.temperature, uniforms)
            drop = self.config.train.temperature_moves
            if drop is not None:
                # past the first ``drop`` moves of a game: the most-visited action
                greedy = np.array([game.moves >= drop for game in games])
                if greedy.any():
                    actions[greedy] = mzero.select_action(out.visit_counts[greedy], 0.0)

        finished: list[tuple[int, bool]] = []
        steps = self.env_groups[g].step(actions.tolist())
        for j, (i, game, step) in enumerate(zip(group, games, steps, strict=True)):
            action = int(actions[j])
            game.actions.append(action)
            game.rewards.append(step.reward)
            game.root_values.append(float(out.root_value[j]))
            game.policies.append(np.array(out.policy[j], dtype=np.float32))
            game.legal_masks.append(game.legal_mask)
            game.observations.append(step.observation)
            game.legal_mask = step.legal_mask
            if step.terminated or step.truncated:
                finished.append((i, step.terminated))
        self.throughput.add_group(
            inference_s=network_s,
            tree_s=searched - started - network_s,
            env_s=time.perf_counter() - searched,
        )
        return finished

    def _finish(self, finished: list[tuple[int, bool]]) -> list[EpisodeStats]:
        """Stores the finished games and starts new ones; stores the segments of
        ``train.segment_length`` positions whose next ``td_steps + K`` moves are played."""
        length = self.config.train.segment_length
        # a segment carries the moves its targets reach and the frames its stacks need
        # (with the move before the first of them when the network sees the actions)
        carry = self.config.train.td_steps + self.config.train.unroll_steps
        history = self.stack - 1 + int(self.stack_actions)
        truncated = [i for i, terminated in finished if not terminated]
        bootstrap = self._bootstrap_values(truncated)
        stats = []
        restart = []
        for i, terminated in finished:
            game = self.games[i]
            for piece in game.final_segments(
                length, carry, history, terminated, bootstrap.get(i, 0.0)
            ):
                self._store(piece)
            episode_return = self._episode_return(game)
            stats.append(EpisodeStats(episode_return, game.moves, terminated=terminated))
            restart.append((i, self._game_seed()))
        if length is not None:
            done = {i for i, _ in finished}
            for i, game in enumerate(self.games):
                if i not in done:
                    for piece in game.ready_segments(length, carry, history):
                        self._store(piece)
        self._new_games(restart)
        return stats

    def _bootstrap_values(self, slots: list[int]) -> dict[int, float]:
        """The network's value of the latest observation of each game in ``slots``."""
        if not slots:
            return {}
        games = [self.games[i] for i in slots]
        values = self.planner.value(*stack_inputs(games, self.stack, self.stack_actions))
        return dict(zip(slots, values.tolist(), strict=True))

    def _store(self, piece: dict[str, Any]) -> None:
        """``replay.add_game`` of a finished game or of a segment."""
        self.replay.add_game(**piece)

    def _episode_return(self, game: GameRecord) -> float:
        if not self.two_player:
            return math.fsum([game.earlier_return, *game.rewards])
        # the last mover's reward, seen from the first player (who moves at even steps)
        last = game.rewards[-1]
        return last if (game.moves - 1) % 2 == 0 else -last

    def close(self) -> None:
        """Closes every environment (and its workers) and the group threads."""
        if self._pool is not None:
            self._pool.shutdown()
        for envs in self.env_groups:
            envs.close()
