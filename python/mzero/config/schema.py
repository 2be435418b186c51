"""The config schema: one dataclass per section, their validation, files, runtime objects.

A run is described by one :class:`Config` made of seven sections::

    Config(env=EnvConfig, network=NetworkConfig, search=SearchSettings,
           replay=ReplaySettings, train=TrainConfig, reanalyze=ReanalyzeConfig,
           actors=ActorsConfig)

Every field carries a docstring (the string literal under it), which the command line
shows as the option's help (:func:`mzero.config.field_docs`). Each section's
``validate`` raises :class:`InvalidArgumentError` naming the first out-of-range field.

A config is saved as indented JSON or as TOML (:meth:`Config.save`, by the file's
suffix) and read back with :meth:`Config.load`; both directions check every name and
type. TOML has no null: a ``None`` is written as the string ``"none"``, the command
line's spelling, and read back as ``None`` in an optional field. The runtime objects a
section describes are built here too: :meth:`SearchSettings.to_search_config`,
:meth:`Config.to_replay_buffer`, :func:`autocast_dtype`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mzero.config.values import coerce, describe, find_field, find_section, hints, optional_inner
from mzero.errors import CorruptFileError, InvalidArgumentError, InvalidTypeError, MZeroIOError

if TYPE_CHECKING:
    import torch

    from mzero.replay import ReplayBuffer

FileFormat = Literal["json", "toml"]
"""The formats of a config file: indented JSON (``config.json`` of a run) or TOML."""


@dataclass
class EnvConfig:
    """The environment played by self-play and evaluation."""

    id: str = "CartPole-v1"
    """A gymnasium id (Discrete actions, Box observation) or a built-in game:
    ``tictactoe``, ``connect4``, ``openspiel:GAME``."""

    max_episode_steps: int | None = None
    """Truncate episodes after this many steps; ``None`` keeps the environment's own limit."""

    frame_stack: int = 1
    """Number of most recent observations stacked on a new leading axis as the network input."""

    workers: int = 0
    """Worker processes that step each self-play game group's environments in parallel
    (each holds a share of them); 0 steps them in the group's own thread. For
    environments that are slow to step (physics engines, emulators); built-in board
    games always step in-process."""

    atari_frame_skip: int = 4
    """``ALE/`` ids only: emulator frames per agent step, repeating the action; the
    observation max-pools the last two (Mnih et al. 2015)."""

    atari_sticky_actions: float = 0.25
    """``ALE/`` ids only: probability that the emulator repeats the previous action instead
    of the chosen one, at every frame (sticky actions, Machado et al. 2018)."""

    atari_full_action_space: bool = False
    """``ALE/`` ids only: all 18 joystick actions; False plays the game's minimal set
    (Pong: 6)."""

    atari_max_frames: int | None = 108_000
    """``ALE/`` ids only: truncate an episode after this many emulator frames (108_000:
    30 minutes of play, ale-py's default); ``None`` plays without a cap."""

    atari_noop_max: int = 30
    """``ALE/`` ids only: a reset plays 1 to this many random no-op actions (no-op starts,
    Mnih et al. 2015); 0 plays none."""

    atari_grayscale: bool = True
    """``ALE/`` ids only: grayscale observations [1, H, W]; False gives RGB [3, H, W]."""

    atari_screen_size: int = 84
    """``ALE/`` ids only: observations are resized to this height and width (Mnih et al.
    2015: 84)."""

    episodic_life: bool = False
    """``ALE/`` ids only, for training only: losing a life ends the episode (the next reset
    starts a new game). Evaluation plays whole games and must not use it (Machado et
    al. 2018 advise against it in training too)."""

    def validate(self) -> None:
        """Raises :class:`InvalidArgumentError` naming the first out-of-range field."""
        _check(bool(self.id), "env.id", "a non-empty environment id", self.id)
        _check(self.workers >= 0, "env.workers", ">= 0", self.workers)
        _check_positive("env.max_episode_steps", self.max_episode_steps, optional=True)
        _check_positive("env.frame_stack", self.frame_stack)
        _check(self.frame_stack <= 1024, "env.frame_stack", "at most 1024", self.frame_stack)
        _check_positive("env.atari_frame_skip", self.atari_frame_skip)
        _check(
            0.0 <= self.atari_sticky_actions <= 1.0,
            "env.atari_sticky_actions",
            "a probability in [0, 1]",
            self.atari_sticky_actions,
        )
        _check_positive("env.atari_max_frames", self.atari_max_frames, optional=True)
        _check(self.atari_noop_max >= 0, "env.atari_noop_max", ">= 0", self.atari_noop_max)
        _check_positive("env.atari_screen_size", self.atari_screen_size)


@dataclass
class NetworkConfig:
    """Representation h, dynamics g and prediction f (MuZero paper, section 3)."""

    kind: Literal["mlp", "resnet"] = "mlp"
    """``mlp`` for vector observations, ``resnet`` for board or image observations [C, H, W]."""

    latent_dim: int = 64
    """MLP: size of the latent state s."""

    hidden: tuple[int, ...] = (64,)
    """MLP: hidden layer sizes of each of the representation, dynamics and prediction MLPs."""

    channels: int = 32
    """ResNet: channels of the latent state [channels, H, W] and of every residual block."""

    blocks: int = 2
    """ResNet: residual blocks in each of the representation and dynamics networks."""

    downsample: bool = False
    """ResNet: represent image frames with MuZero's Atari downsampling (stride-2
    convolutions, ``blocks`` residual blocks per stage, average pooling: H x W to
    ceil(H/16) x ceil(W/16), 96 x 96 to 6 x 6); the dynamics and prediction work on
    the downsampled latent. Off: the latent keeps the board's size (board games,
    MinAtar's 10 x 10)."""

    head_channels: int = 16
    """ResNet: channels of the 1x1 convolution that starts each value, reward and policy head."""

    value_support: int = 25
    """S of the categorical value head: logits over the integers [-S, S] of h(value)."""

    reward_support: int = 5
    """S of the categorical reward head: logits over the integers [-S, S] of h(reward)."""

    projection_dim: int = 0
    """Size of the projection of latent states for the consistency loss (EfficientZero:
    a projection MLP, plus a predictor MLP on the dynamics side); 0 builds none."""

    stochastic: bool = False
    """Stochastic MuZero (Antonoglou et al. 2022), for games with chance: an action leads
    to an afterstate (afterstate dynamics), whose value Q and distribution sigma over
    ``chance_codes`` learned chance codes come from the afterstate prediction, and the
    dynamics continues from an afterstate and a code. The codes are learned by an
    encoder of the observations on each side of the chance event (one-hot codes with
    straight-through gradients, VQ-VAE style); the search plans with chance nodes
    (``mzero.stochastic_search``). MLP networks and PUCT search only."""

    chance_codes: int = 32
    """C, the number of chance codes of a stochastic network (the paper and LightZero
    use 32 for 2048: 16 cells times two tiles)."""

    input_scale: float = 1.0
    """Multiplies the observations once they are float on the network's device: 1/255
    for 8-bit image frames (uint8 observations travel as they are through self-play,
    the replay buffer and Ray, and are converted there)."""

    stack_actions: bool = False
    """Show the representation, beside each of the ``env.frame_stack`` frames, the action
    that led to it, as a constant plane (resnet) or one input (mlp) of ``(a + 1) / A``
    and 0 before a game's first frame: MuZero's Atari input (its 32 frames come with the
    32 actions, "encoded as simple bias planes"; the paper scales them a / 18, here 0 is
    kept for "no action"). The replay assembles the actions at sample time from the
    ones it stores; nothing more is stored."""

    value_transform: bool = True
    """Encode h(value) and h(reward) on the supports (MuZero appendix F). False encodes
    the raw scalars: board games with outcomes in [-1, 1] then get one-hot targets."""

    inference: Literal["trace", "compile", "eager"] = "trace"
    """How planning runs the network. ``trace``: the root step and the recurrent step
    (gather the parents' latents, g, f, store the children's) are each traced once with
    torch.jit.trace into one TorchScript call, which runs without Python overhead and
    releases the GIL, so that game groups in flight (``train.pipeline``) overlap.
    ``compile``: the same two steps through torch.compile (Inductor with its C++
    wrapper, the batch dimension dynamic): fused kernels make a call cheaper (about
    1.2x the env steps/s of ``trace`` on 2 CPU cores with ``train.pipeline = 1``), at
    the price of compiling for some seconds on first use and needing a C++ compiler;
    its Python part holds the GIL, so game groups in flight overlap it less (slower
    than ``trace`` with ``train.pipeline = 2`` there). ``eager``: plain module calls.
    All three compute the same numbers."""

    act_inference: Literal["trace", "compile", "eager"] | None = None
    """How single-game acting runs the network (:class:`mzero.Agent`: ``Agent.act``,
    ``mzero play``): one game per call, so the per-call overhead is the whole cost of
    a move, and ``compile`` cuts it most (``benches/bench_agent.py``). ``None``: as
    ``inference``."""

    inference_dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Precision of planning's network calls: ``bfloat16`` or ``float16`` run them under
    torch.autocast (eagerly, whatever ``inference`` says); latents are kept in float32.
    The learner's precision is ``train.learner_dtype``."""

    def validate(self) -> None:
        """Raises :class:`InvalidArgumentError` naming the first out-of-range field."""
        _check_positive("network.latent_dim", self.latent_dim)
        _check(
            len(self.hidden) > 0 and all(h > 0 for h in self.hidden),
            "network.hidden",
            "one or more positive layer sizes",
            self.hidden,
        )
        _check_positive("network.channels", self.channels)
        _check_positive("network.blocks", self.blocks)
        _check_positive("network.head_channels", self.head_channels)
        _check_positive("network.value_support", self.value_support)
        _check_positive("network.reward_support", self.reward_support)
        _check(self.projection_dim >= 0, "network.projection_dim", ">= 0", self.projection_dim)
        _check_positive("network.chance_codes", self.chance_codes)
        _check(
            not self.downsample or self.kind == "resnet",
            "network.downsample",
            "false unless network.kind is 'resnet'",
            self.downsample,
        )
        _check(
            math.isfinite(self.input_scale) and self.input_scale > 0,
            "network.input_scale",
            "a finite number > 0",
            self.input_scale,
        )
        if self.stochastic:
            _check(
                self.kind == "mlp",
                "network.kind",
                "'mlp' when network.stochastic is on",
                self.kind,
            )


@dataclass
class SearchSettings:
    """Monte Carlo Tree Search in self-play; the fields of :class:`mzero.SearchConfig`.

    ``two_player`` is not a field here: it comes from the environment. Some fields
    apply to one ``algorithm`` only, as their docstrings say: PUCT (``muzero``) reads
    pb_c_init, pb_c_base, dirichlet_alpha and dirichlet_fraction; Gumbel MuZero
    (``gumbel``) reads max_considered_actions, gumbel_scale, c_visit and c_scale.
    :meth:`ignored_settings` names those that are set but unused.
    """

    num_simulations: int = 50
    """Simulations per search, i.e. expanded nodes per tree."""

    eval_simulations: int | None = None
    """Simulations per move of greedy play (``explore=False``: evaluation, the
    evaluations during training, :class:`mzero.Agent`, ``mzero play``); ``None``:
    ``num_simulations``. Self-play and Reanalyze search with ``num_simulations``."""

    discount: float = 0.997
    """Discount gamma of rewards and values (1.0 for board games)."""

    pb_c_init: float = 1.25
    """PUCT only: c1 of the PUCT rule (MuZero paper, appendix B)."""

    pb_c_base: float = 19652.0
    """PUCT only: c2 of the PUCT rule (MuZero paper, appendix B)."""

    dirichlet_alpha: float = 0.25
    """PUCT only: concentration of the Dirichlet noise added to the root prior in self-play."""

    dirichlet_fraction: float = 0.25
    """PUCT only: weight of the Dirichlet noise at the root in self-play (evaluation uses
    none). Gumbel MuZero explores with its Gumbel noise (gumbel_scale) instead."""

    algorithm: Literal["muzero", "gumbel"] = "muzero"
    """``muzero`` (PUCT) or ``gumbel`` (Gumbel MuZero, sequential halving at the root)."""

    max_considered_actions: int = 16
    """Gumbel only: actions sampled at the root by Gumbel-top-k."""

    gumbel_scale: float = 1.0
    """Gumbel only: scale of the Gumbel noise in self-play, its exploration (0: a
    deterministic search). Evaluation and acting always use 0."""

    c_visit: float = 50.0
    """Gumbel only: c_visit of sigma(q) = (c_visit + max_b N(b)) * c_scale * q."""

    c_scale: float = 0.1
    """Gumbel only: c_scale of sigma(q) = (c_visit + max_b N(b)) * c_scale * q."""

    def validate(self) -> None:
        """Raises :class:`InvalidArgumentError` naming the first out-of-range field."""
        _check_positive("search.num_simulations", self.num_simulations)
        _check_positive("search.eval_simulations", self.eval_simulations, optional=True)
        _check(0.0 < self.discount <= 1.0, "search.discount", "a value in (0, 1]", self.discount)
        _check(self.pb_c_init >= 0.0, "search.pb_c_init", "a value >= 0", self.pb_c_init)
        _check(self.pb_c_base > 0.0, "search.pb_c_base", "a value > 0", self.pb_c_base)
        _check(
            self.dirichlet_alpha > 0.0,
            "search.dirichlet_alpha",
            "a value > 0",
            self.dirichlet_alpha,
        )
        _check(
            0.0 <= self.dirichlet_fraction <= 1.0,
            "search.dirichlet_fraction",
            "a value in [0, 1]",
            self.dirichlet_fraction,
        )
        _check_positive("search.max_considered_actions", self.max_considered_actions)
        _check(self.gumbel_scale >= 0.0, "search.gumbel_scale", "a value >= 0", self.gumbel_scale)
        # (the engine's bound: past it sigma(q) overflows to inf and the policy to NaN)
        _check(0.0 <= self.c_visit <= 1e100, "search.c_visit", "in [0, 1e100]", self.c_visit)
        _check(0.0 <= self.c_scale <= 1e100, "search.c_scale", "in [0, 1e100]", self.c_scale)

    @property
    def greedy_simulations(self) -> int:
        """Simulations per move of greedy play: ``eval_simulations``, else ``num_simulations``."""
        return self.eval_simulations or self.num_simulations

    def search_config_kwargs(self, *, two_player: bool, explore: bool) -> dict[str, Any]:
        """The keyword arguments of :class:`mzero.SearchConfig`.

        ``explore=True`` (self-play) keeps the settings as they are. ``explore=False``
        (evaluation, :class:`mzero.Agent`) searches with ``eval_simulations`` when it
        is set and turns the exploration noise off: the root Dirichlet noise of PUCT
        (``dirichlet_fraction = 0``) and the Gumbel noise of Gumbel MuZero
        (``gumbel_scale = 0``), so that greedy play is deterministic and its action is
        the sequential-halving winner of the network's own logits.
        """
        kwargs = dataclasses.asdict(self)
        del kwargs["eval_simulations"]
        kwargs["two_player"] = two_player
        if not explore:
            kwargs["dirichlet_fraction"] = 0.0
            kwargs["gumbel_scale"] = 0.0
            kwargs["num_simulations"] = self.greedy_simulations
        return kwargs

    def ignored_settings(self) -> list[str]:
        """One message per field that is set but not read by the chosen ``algorithm``.

        The rule: a PUCT-only field under ``gumbel``, or a Gumbel-only field under
        ``muzero``, is reported when it differs from its default here, except
        ``dirichlet_fraction``, which is reported under ``gumbel`` whenever it is
        > 0: any root noise it asks for is not added (its default 0.25 is PUCT's
        self-play noise, so a PUCT preset switched to Gumbel reports it). Fields that
        both algorithms read (num_simulations, discount) are never reported. The
        messages read e.g. ``"search.dirichlet_fraction = 0.25 is ignored by
        search.algorithm gumbel (Gumbel MuZero explores with Gumbel noise,
        search.gumbel_scale)"``; ``mzero train`` logs them as warnings.
        """
        defaults = SearchSettings()
        if self.algorithm == "gumbel":
            noise = "Gumbel MuZero explores with Gumbel noise, search.gumbel_scale"
            puct = (
                "Gumbel MuZero selects by sequential halving at the root and by its "
                "improved policy below it, not by the PUCT rule"
            )
            unused = {
                "pb_c_init": puct,
                "pb_c_base": puct,
                "dirichlet_alpha": noise,
                "dirichlet_fraction": noise,
            }
        else:
            only = "it applies to search.algorithm gumbel only"
            unused = dict.fromkeys(
                ("max_considered_actions", "gumbel_scale", "c_visit", "c_scale"), only
            )
        messages = []
        for name, reason in unused.items():
            value = getattr(self, name)
            if name == "dirichlet_fraction":
                report = value > 0.0
            else:
                report = value != getattr(defaults, name)
            if report:
                messages.append(_ignored(f"search.{name}", value, self.algorithm, reason))
        return messages

    def to_search_config(self, *, two_player: bool, explore: bool) -> Any:
        """A :class:`mzero.SearchConfig` from these settings (see ``search_config_kwargs``)."""
        import mzero

        return mzero.SearchConfig(
            **self.search_config_kwargs(two_player=two_player, explore=explore)
        )


@dataclass
class ReplaySettings:
    """The Rust :class:`mzero.ReplayBuffer` (prioritised replay, MuZero paper appendix G)."""

    capacity: int = 100_000
    """Transitions kept; the oldest whole games leave first."""

    alpha: float = 0.0
    """Priority exponent: positions are sampled with probability p^alpha (0: uniform)."""

    beta: float = 1.0
    """Importance-sampling exponent of the loss weights (N P(i))^-beta."""

    def validate(self) -> None:
        """Raises :class:`InvalidArgumentError` naming the first out-of-range field."""
        _check_positive("replay.capacity", self.capacity)
        # (the engine's bound: past it p^alpha can overflow to inf)
        _check(0.0 <= self.alpha <= 4.0, "replay.alpha", "in [0, 4]", self.alpha)
        _check(self.beta >= 0.0, "replay.beta", "a value >= 0", self.beta)


@dataclass
class TrainConfig:
    """Self-play actors and the learner, run together in one process."""

    seed: int = 0
    """Seed of the environments, the search, replay sampling and the network initialisation."""

    device: str = "auto"
    """Torch device of the network: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (cuda if present)."""

    num_envs: int = 16
    """B: environments stepped together in self-play, searched as one batch."""

    pipeline: int | None = None
    """Game groups in flight in self-play: the B games are split into this many groups,
    each searched on its own thread, so that one group's network call overlaps the
    others' tree work and environment steps. 1 is one batched search per step. ``None``
    picks what measured fastest on a 2-core CPU: 2 from 256 environments on, else 1."""

    max_minutes: float | None = None
    """Stop after this many minutes of wall-clock time; ``None``: no time limit."""

    max_env_steps: int | None = None
    """Stop after this many environment steps; ``None``: no limit."""

    max_train_steps: int | None = None
    """Stop after this many learner steps; ``None``: no limit."""

    batch_size: int = 256
    """Positions per learner step, each unrolled K steps."""

    unroll_steps: int = 5
    """K: steps the dynamics network is unrolled in the loss."""

    td_steps: int = 10
    """n of the n-step value target z_t."""

    lr: float = 3e-3
    """Peak learning rate of AdamW."""

    lr_schedule: Literal["constant", "cosine", "exponential"] = "constant"
    """Learning rate after warm-up: ``constant``; ``cosine`` decay to ``lr_min`` over
    ``lr_decay_steps``; ``exponential``: lr * lr_decay_rate ** (step / lr_decay_steps)."""

    lr_warmup_steps: int = 0
    """Learner steps of linear warm-up from 0 to ``lr``."""

    lr_decay_steps: int = 10_000
    """Learner steps of the cosine period, or of one ``lr_decay_rate`` factor."""

    lr_decay_rate: float = 0.1
    """Exponential schedule: factor applied to the learning rate every ``lr_decay_steps``."""

    lr_min: float = 0.0
    """Floor of the decayed learning rate."""

    weight_decay: float = 1e-4
    """The weight decay c; ``weight_decay_mode`` says which kind."""

    weight_decay_mode: Literal["decoupled", "l2"] = "decoupled"
    """``l2``: the papers' L2 regularisation, ``c/2 * ||theta||^2`` added to the loss
    (the MuZero pseudocode's ``weight_decay * l2_loss(weights)``, EfficientZero's SGD
    weight decay), so ``c * theta`` joins every gradient before Adam normalises it.
    ``decoupled``: AdamW, which shrinks the weights by ``lr * c`` a step outside the
    gradient (at lr 3e-3 and c 1e-4, 3e-7 a step: far weaker than ``l2``). The
    presets were tuned with ``decoupled``."""

    grad_clip: float | None = 5.0
    """Clip the global gradient norm to this value; ``None``: no clipping."""

    value_loss_weight: float = 0.25
    """Weight of the value cross-entropy (MuZero Reanalyze uses 0.25)."""

    reward_loss_weight: float = 1.0
    """Weight of the reward cross-entropy (the papers use 1; LightZero's
    ``reward_loss_weight``). Each recurrent step's loss is also scaled by 1/K, so the
    reward of the first move, the one a search reads at its root, weighs 1/K of the
    root's policy at 1."""

    consistency_weight: float = 0.0
    """Weight of the latent consistency loss (EfficientZero, Ye et al. 2021): negative
    cosine similarity between the projected dynamics state s^k and the projected
    representation of the real o_{t+k} (no gradient). Needs network.projection_dim."""

    commitment_weight: float = 0.0
    """Stochastic MuZero (``network.stochastic``): weight beta of the encoder's
    commitment loss ``||c - c^e||^2`` between the one-hot chance code c and the
    encoder's softmax c^e. 0 by default: in 2048, beta = 0.25 and 0.02 both collapsed
    the codes to a single one within 200 learner steps (sigma's cross-entropy fell to
    0.001), while the straight-through gradient alone keeps several in use."""

    augment_symmetries: bool = False
    """Map each sampled position by a random symmetry of the game (AlphaGo Zero's
    augmentation; the environment must define ``symmetries``, as TicTacToe does)."""

    absorbing: bool = True
    """Treat states past the end of a game as absorbing (MuZero pseudocode): their value
    and reward are trained towards 0 and only the policy is masked. False: every loss
    term past the end is masked."""

    train_ratio: float = 0.25
    """Learner steps per environment step (counting each of the B environments)."""

    min_replay: int = 1000
    """Positions the replay buffer can sample (``ReplayBuffer.positions``) before the
    learner starts."""

    temperatures: tuple[float, ...] = (1.0, 0.5, 0.25)
    """PUCT only: visit-count temperatures of self-play actions, in order (0: greedy).
    Gumbel self-play plays the search's own action (its noise is search.gumbel_scale)."""

    temperature_milestones: tuple[int, ...] = (10_000, 20_000)
    """PUCT only: learner steps at which self-play moves to the next of ``temperatures``."""

    temperature_moves: int | None = None
    """PUCT only: moves at the start of each self-play game sampled at the scheduled
    temperature; later moves take the most-visited action (AlphaZero's temperature
    drop). ``None``: every move is sampled. Gumbel self-play ignores it."""

    segment_length: int | None = None
    """Positions per segment: self-play sends a game in progress to the replay buffer
    in segments of this many positions, each once the ``td_steps + unroll_steps`` moves
    after it are played; a segment carries those moves and the ``env.frame_stack - 1``
    frames before it, so its targets are the whole game's (EfficientZero's and
    LightZero's game segments, ``game_segment_length``). Without it a long game
    (CartPole at 500 moves) reaches the learner only when it ends, while the learner
    keeps training on the older, shorter games. ``None``: whole games."""

    eval_interval: int = 5_000
    """Environment steps between greedy evaluations; 0 disables evaluation during training."""

    eval_episodes: int = 20
    """Episodes per evaluation; in a two-player game, games against each of the
    ``eval_opponents``, half with the agent moving first."""

    eval_opponents: tuple[str, ...] | None = None
    """Two-player games: the opponents of each evaluation, by name
    (:func:`mzero.envs.opponents.make_opponent`: ``random``, ``minimax``, ``uct:N``).
    ``best.pt`` keeps the checkpoint with the best score (win 1, draw 0.5) against the
    first, ties broken by the next. ``None``: the game's own (``eval_opponents`` of its
    class: TicTacToe minimax then random, Connect Four uct:100 then random; other
    games random)."""

    keep_eval_checkpoints: bool = False
    """Also keep the network of every evaluation as ``checkpoints/env_steps_N.pt`` (N:
    environment steps, 9 digits; the weights, not the optimizer's state), to evaluate
    it afterwards against stronger opponents (``mzero eval RUN --checkpoint FILE``) or
    to watch it play."""

    max_eval_checkpoints: int = 100
    """The most networks ``keep_eval_checkpoints`` keeps: past it, those whose removal
    leaves the smallest gap in env steps are removed, so that the kept ones stay
    spread over the run."""

    checkpoint_interval: int = 1_000
    """Learner steps between checkpoints (written atomically into the run directory)."""

    log_interval: int = 100
    """Learner steps between lines of metrics.jsonl and TensorBoard scalars."""

    snapshot_interval: float = 30.0
    """Wall-clock seconds between snapshots of the whole run (networks, optimizer, replay
    buffer, RNG states, counters) in ``RUN/snapshots/``, for ``mzero train --resume``; a
    killed run loses at most this much, plus its start-up (importing torch, loading the
    snapshot: several seconds). One is also written when the run ends."""

    learner_dtype: Literal["float32", "bfloat16"] = "float32"
    """Precision of the learner's network calls: ``bfloat16`` runs the K-step unroll
    under torch.autocast, so convolutions and matrix products run in bfloat16 (on CPUs
    with AMX or AVX-512 BF16 that is faster; ``benches/bench_learner.py``); weights,
    optimizer state, gradients and the losses stay float32. No float16: it would need
    loss scaling."""

    learner_step: Literal["eager", "compile"] = "eager"
    """How the learner step runs. ``compile``: the K-step unroll and its losses (forward
    and backward, through AOTAutograd) are one torch.compile graph (Inductor, on the
    CPU with its C++ wrapper), and the Adam update is fused: a few fused kernels
    instead of hundreds of small ops, about 2x the learner steps/s of ``eager`` for
    the ``cartpole`` MLP on a 2-core CPU, 1.4x for the ``tictactoe`` MLP, little for
    the ``connect4`` ResNet (``benches/bench_learner.py``).
    The price: compiling on the first step (tens of seconds on a cold machine, a few
    seconds once Inductor's cache under the temp folder holds the graph) and a C++
    compiler (an error names this setting without one). ``eager``: plain PyTorch.
    Both compute the same losses and gradients up to float rounding."""

    torch_threads: int = 1
    """Torch intra-op threads when the network runs on the CPU. The preset networks are
    small: one thread is fastest and leaves the other cores to the search and the
    environments (on 2 cores, 2 threads also learned CartPole worse in every run tried)."""

    def validate(self) -> None:
        """Raises :class:`InvalidArgumentError` naming the first out-of-range field."""
        _check(
            self.device == "auto" or self.device.split(":")[0] in ("cpu", "cuda"),
            "train.device",
            "cpu, cuda, cuda:N or auto",
            self.device,
        )
        _check_positive("train.num_envs", self.num_envs)
        _check(
            self.snapshot_interval >= 0,
            "train.snapshot_interval",
            "a number of seconds >= 0",
            self.snapshot_interval,
        )
        if self.pipeline is not None:
            _check_positive("train.pipeline", self.pipeline)
        _check(
            self.max_minutes is None or self.max_minutes > 0,
            "train.max_minutes",
            "a value > 0 or none",
            self.max_minutes,
        )
        _check_positive("train.max_env_steps", self.max_env_steps, optional=True)
        _check_positive("train.max_train_steps", self.max_train_steps, optional=True)
        _check_positive("train.batch_size", self.batch_size)
        _check_positive("train.unroll_steps", self.unroll_steps)
        _check(self.unroll_steps <= 1024, "train.unroll_steps", "at most 1024", self.unroll_steps)
        _check_positive("train.td_steps", self.td_steps)
        _check(self.lr > 0.0, "train.lr", "a value > 0", self.lr)
        _check(self.lr_warmup_steps >= 0, "train.lr_warmup_steps", ">= 0", self.lr_warmup_steps)
        _check_positive("train.lr_decay_steps", self.lr_decay_steps)
        _check(
            0.0 < self.lr_decay_rate <= 1.0,
            "train.lr_decay_rate",
            "a value in (0, 1]",
            self.lr_decay_rate,
        )
        _check(0.0 <= self.lr_min <= self.lr, "train.lr_min", "a value in [0, lr]", self.lr_min)
        _check(self.weight_decay >= 0.0, "train.weight_decay", "a value >= 0", self.weight_decay)
        _check(
            self.grad_clip is None or self.grad_clip > 0.0,
            "train.grad_clip",
            "a value > 0 or none",
            self.grad_clip,
        )
        _check(
            self.value_loss_weight >= 0.0,
            "train.value_loss_weight",
            "a value >= 0",
            self.value_loss_weight,
        )
        _check(
            self.reward_loss_weight >= 0.0,
            "train.reward_loss_weight",
            "a value >= 0",
            self.reward_loss_weight,
        )
        _check(
            self.consistency_weight >= 0.0,
            "train.consistency_weight",
            "a value >= 0",
            self.consistency_weight,
        )
        _check(
            self.commitment_weight >= 0.0,
            "train.commitment_weight",
            "a value >= 0",
            self.commitment_weight,
        )
        _check(self.train_ratio > 0.0, "train.train_ratio", "a value > 0", self.train_ratio)
        _check(self.min_replay >= 0, "train.min_replay", "a value >= 0", self.min_replay)
        _check_positive("train.segment_length", self.segment_length, optional=True)
        _check(
            len(self.temperatures) == len(self.temperature_milestones) + 1,
            "train.temperatures",
            f"one more value than train.temperature_milestones "
            f"({len(self.temperature_milestones) + 1})",
            self.temperatures,
        )
        _check(
            all(t >= 0.0 for t in self.temperatures),
            "train.temperatures",
            "values >= 0",
            self.temperatures,
        )
        milestones = self.temperature_milestones
        _check(
            all(a < b for a, b in itertools.pairwise(milestones)),
            "train.temperature_milestones",
            "strictly increasing learner steps",
            milestones,
        )
        _check(
            self.temperature_moves is None or self.temperature_moves >= 0,
            "train.temperature_moves",
            "a value >= 0 or none",
            self.temperature_moves,
        )
        _check(self.eval_interval >= 0, "train.eval_interval", "a value >= 0", self.eval_interval)
        _check_positive("train.eval_episodes", self.eval_episodes)
        _check(
            self.eval_opponents is None or len(self.eval_opponents) > 0,
            "train.eval_opponents",
            "one or more opponent names or none",
            self.eval_opponents,
        )
        _check_positive("train.checkpoint_interval", self.checkpoint_interval)
        _check(
            self.max_eval_checkpoints >= 2,
            "train.max_eval_checkpoints",
            "a value >= 2",
            self.max_eval_checkpoints,
        )
        _check_positive("train.log_interval", self.log_interval)
        _check_positive("train.torch_threads", self.torch_threads)

    def temperature(self, train_steps: int) -> float:
        """The self-play visit-count temperature after ``train_steps`` learner steps."""
        index = sum(1 for milestone in self.temperature_milestones if train_steps >= milestone)
        return self.temperatures[index]


@dataclass
class ReanalyzeConfig:
    """Reanalyze: fresh targets from a target network (MuZero Reanalyze, Schrittwieser
    et al. 2021; EfficientZero, Ye et al. 2021). Off by default."""

    value: bool = False
    """Fresh value targets: when a batch is sampled, the bootstrap values v_{t+m} of its
    n-step targets are recomputed by the target network (and written back to the replay
    buffer); the n-step sums keep the stored rewards."""

    policy_fraction: float = 0.0
    """Fresh policy targets: this fraction of a batch's positions t+k inside their game
    is searched again with the target network (the self-play search, batched through
    ``mzero.search``) and the new search policies become the targets (and are written
    back). EfficientZero re-searches 99%; 0 turns it off."""

    num_simulations: int | None = None
    """Simulations of a policy re-search; ``None``: ``search.num_simulations``."""

    target_update_interval: int = 100
    """Learner steps between copies of the network into the target network."""

    def validate(self) -> None:
        """Raises :class:`InvalidArgumentError` naming the first out-of-range field."""
        _check(
            0.0 <= self.policy_fraction <= 1.0,
            "reanalyze.policy_fraction",
            "a value in [0, 1]",
            self.policy_fraction,
        )
        _check_positive("reanalyze.num_simulations", self.num_simulations, optional=True)
        _check_positive("reanalyze.target_update_interval", self.target_update_interval)

    @property
    def enabled(self) -> bool:
        """Whether any target is reanalysed (and a target network is kept)."""
        return self.value or self.policy_fraction > 0.0


@dataclass
class ActorsConfig:
    """Self-play actors on Ray (``mzero train PRESET --actors N``; :mod:`mzero.actors`).

    With ``num_actors = 0`` the run is the in-process loop of :mod:`mzero.train` and
    Ray is never imported. Otherwise N :class:`mzero.actors.SelfPlayActor` processes
    each play ``train.num_envs`` games with their own copy of the network, the driver
    owns the learner and the replay buffer, and a rate limiter keeps the learner steps
    per inserted env step near ``train.train_ratio``.
    """

    num_actors: int = 0
    """Self-play actors (Ray actors); 0 runs self-play in-process."""

    weight_sync_interval: int = 50
    """Learner steps between publications of the weights to the actors, which pick up
    the newest version between their tasks without blocking the learner."""

    steps_per_task: int = 4
    """Self-play steps (moves of all of an actor's games) per actor task: one round
    trip to the driver carries this many steps' finished games."""

    rate_error_buffer: float | None = None
    """Slack of the rate limiter in learner steps (Reverb's ``error_buffer``): learner
    steps per inserted env step stay within ``train.train_ratio`` plus or minus this
    over the inserts; ``None``: one task's worth of every actor, the least that
    cannot stall both sides."""

    actor_cpus: float = 1.0
    """CPUs Ray reserves for each actor (its ``num_cpus``)."""

    reanalyze_workers: int = 0
    """Reanalyze workers (Ray actors, :class:`mzero.actors.ReanalyzeActor`) that compute
    the fresh targets of sampled batches with the target network while the learner
    trains; needs ``reanalyze`` on. 0: the learner reanalyses in its own process."""

    ray_address: str | None = None
    """Join this running Ray cluster (``ray start --head`` prints its address); ``None``
    starts a local Ray instance, listening on 127.0.0.1 only, that stops with the run."""

    def validate(self) -> None:
        """Raises :class:`InvalidArgumentError` naming the first out-of-range field."""
        _check(self.num_actors >= 0, "actors.num_actors", ">= 0", self.num_actors)
        _check_positive("actors.weight_sync_interval", self.weight_sync_interval)
        _check_positive("actors.steps_per_task", self.steps_per_task)
        _check(
            self.rate_error_buffer is None or self.rate_error_buffer > 0,
            "actors.rate_error_buffer",
            "a value > 0 or none",
            self.rate_error_buffer,
        )
        _check(self.actor_cpus >= 0, "actors.actor_cpus", ">= 0", self.actor_cpus)
        _check(
            self.reanalyze_workers >= 0,
            "actors.reanalyze_workers",
            ">= 0",
            self.reanalyze_workers,
        )


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The torch dtype that torch.autocast runs in for a precision setting
    (``network.inference_dtype``, ``train.learner_dtype``); None for ``"float32"``,
    which runs without autocast."""
    import torch

    dtypes: dict[str, torch.dtype | None] = {
        "float32": None,
        "bfloat16": torch.bfloat16,
        "float16": torch.float16,
    }
    try:
        return dtypes[precision]
    except KeyError:
        raise InvalidArgumentError(
            f"precision: expected one of {', '.join(dtypes)}, got {precision!r}"
        ) from None


@dataclass
class Config:
    """Everything that defines a run; saved as ``config.json`` in the run directory."""

    env: EnvConfig = field(default_factory=EnvConfig)
    """The environment."""

    network: NetworkConfig = field(default_factory=NetworkConfig)
    """The MuZero network."""

    search: SearchSettings = field(default_factory=SearchSettings)
    """The tree search of self-play and of greedy play."""

    replay: ReplaySettings = field(default_factory=ReplaySettings)
    """The replay buffer."""

    train: TrainConfig = field(default_factory=TrainConfig)
    """Self-play, the learner and the run (limits, evaluations, checkpoints)."""

    reanalyze: ReanalyzeConfig = field(default_factory=ReanalyzeConfig)
    """Fresh targets from a target network."""

    actors: ActorsConfig = field(default_factory=ActorsConfig)
    """Self-play actors on Ray (0: in-process)."""

    def validate(self) -> Config:
        """Checks every section; returns ``self`` so calls can chain."""
        for spec in dataclasses.fields(self):
            getattr(self, spec.name).validate()
        _check(
            self.train.consistency_weight == 0.0 or self.network.projection_dim > 0,
            "network.projection_dim",
            "> 0 when train.consistency_weight > 0",
            self.network.projection_dim,
        )
        if self.network.stochastic:
            _check(
                self.search.algorithm == "muzero",
                "search.algorithm",
                "'muzero' when network.stochastic is on (chance nodes plan with PUCT)",
                self.search.algorithm,
            )
        if self.actors.reanalyze_workers > 0:
            _check(
                self.actors.num_actors > 0,
                "actors.reanalyze_workers",
                "0 unless actors.num_actors > 0 (reanalyze workers are Ray actors)",
                self.actors.reanalyze_workers,
            )
            _check(
                self.reanalyze.enabled,
                "actors.reanalyze_workers",
                "0 unless reanalyze is on (reanalyze.value or reanalyze.policy_fraction > 0)",
                self.actors.reanalyze_workers,
            )
        return self

    def ignored_settings(self) -> list[str]:
        """:meth:`SearchSettings.ignored_settings`, plus the self-play temperature
        settings of ``train`` when Gumbel self-play (which plays the search's own
        action) would ignore them: ``temperature_moves`` when set, ``temperatures``
        when not the default."""
        messages = self.search.ignored_settings()
        if self.search.algorithm == "gumbel":
            reason = "Gumbel self-play plays the search's own action, not a sampled visit count"
            train = self.train
            if train.temperature_moves is not None:
                messages.append(
                    _ignored("train.temperature_moves", train.temperature_moves, "gumbel", reason)
                )
            if train.temperatures != TrainConfig().temperatures:
                messages.append(
                    _ignored("train.temperatures", train.temperatures, "gumbel", reason)
                )
        return messages

    def to_replay_buffer(
        self,
        obs_shape: tuple[int, ...],
        num_actions: int,
        *,
        two_player: bool,
        obs_dtype: Any = None,
    ) -> ReplayBuffer:
        """An empty :class:`mzero.ReplayBuffer` for an environment of ``obs_shape``,
        ``num_actions``, ``two_player`` and ``obs_dtype`` (float32 or uint8; None:
        float32): ``replay.capacity``, ``replay.alpha`` and ``replay.beta``,
        ``train.unroll_steps`` and ``train.td_steps``, ``search.discount`` and
        ``env.frame_stack``."""
        from mzero.replay import ReplayBuffer

        return ReplayBuffer(
            self.replay.capacity,
            obs_shape,
            num_actions,
            unroll_steps=self.train.unroll_steps,
            td_steps=self.train.td_steps,
            discount=self.search.discount,
            two_player=two_player,
            alpha=self.replay.alpha,
            beta=self.replay.beta,
            stack=self.env.frame_stack,
            obs_dtype=obs_dtype,
        )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Nested plain dict (section -> field -> value; tuples stay tuples), ready for
        ``json.dumps``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Builds and validates a config; missing fields keep their defaults.

        Raises :class:`InvalidArgumentError` for an unknown section or field and
        :class:`InvalidTypeError` for a value of the wrong type.
        """
        if not isinstance(data, Mapping):
            raise InvalidTypeError(f"config: expected a mapping of sections, got {describe(data)}")
        config = cls()
        for section_name, values in data.items():
            section = find_section(config, section_name)
            if not isinstance(values, Mapping):
                raise InvalidTypeError(
                    f"config section {section_name!r}: expected a mapping, got {describe(values)}"
                )
            for name, value in values.items():
                spec = find_field(section, section_name, name)
                tp = hints(type(section))[spec.name]
                setattr(
                    section,
                    spec.name,
                    coerce(f"{section_name}.{spec.name}", tp, value, parse=False),
                )
        return config.validate()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the config atomically (temporary file, then rename): TOML for a
        ``.toml`` file, else indented JSON."""
        path = Path(path)
        text = self.to_text(file_format(path))
        from mzero.checkpoint import atomic_write  # imports torch: only when saving

        try:
            atomic_write(path, lambda f: f.write(text.encode("utf-8")))
        except OSError as err:
            raise MZeroIOError(f"config: cannot write {path}: {err}") from err

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Config:
        """Reads a config written by :meth:`save` (or by hand): TOML for a ``.toml``
        file, else JSON; checks names and types."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise MZeroIOError(f"config: cannot read {path}: {err}") from err
        return cls.from_text(text, file_format(path), source=f"config file {path}")

    def to_text(self, fmt: FileFormat = "json") -> str:
        """The config as the text of a file: indented JSON, or TOML with one table per
        section (``None`` written as ``"none"``)."""
        if fmt == "toml":
            import tomli_w

            return tomli_w.dumps(_nones_to_toml(self.to_dict()))
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_text(cls, text: str, fmt: FileFormat = "json", *, source: str = "config") -> Config:
        """Parses the text of a file written by :meth:`to_text` (or by hand) and builds
        the config with :meth:`from_dict`; ``source`` names it in a parse error."""
        if fmt == "toml":
            tomllib = _tomllib()
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as err:
                raise CorruptFileError(f"{source}: not valid TOML ({err})") from err
            return cls.from_dict(_nones_from_toml(data))
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise CorruptFileError(f"{source}: not valid JSON ({err})") from err
        return cls.from_dict(data)


def section_classes() -> dict[str, type]:
    """Section name -> its dataclass, in the order of :class:`Config`."""
    types_ = hints(Config)
    return {spec.name: types_[spec.name] for spec in dataclasses.fields(Config)}


def file_format(path: str | os.PathLike[str]) -> FileFormat:
    """``toml`` for a ``.toml`` file, else ``json``."""
    return "toml" if Path(path).suffix.lower() == ".toml" else "json"


def _tomllib() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def _nones_to_toml(data: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``None`` -> ``"none"``: TOML has no null, and leaving the key out would mean the
    default, which is not ``None`` for every optional field (``train.grad_clip``)."""
    return {
        name: {key: "none" if value is None else value for key, value in values.items()}
        for name, values in data.items()
    }


def _nones_from_toml(data: Any) -> Any:
    """``"none"`` -> ``None`` in the optional fields of known sections; the rest is left
    for :meth:`Config.from_dict` to check."""
    if not isinstance(data, Mapping):
        return data
    classes = section_classes()
    result: dict[str, Any] = {}
    for name, values in data.items():
        if name not in classes or not isinstance(values, Mapping):
            result[name] = values
            continue
        types_ = hints(classes[name])
        result[name] = {
            key: None
            if isinstance(value, str)
            and value.lower() == "none"
            and optional_inner(types_.get(key.replace("-", "_"))) is not None
            else value
            for key, value in values.items()
        }
    return result


def _ignored(label: str, value: Any, algorithm: str, reason: str) -> str:
    """The warning for a setting that ``search.algorithm`` does not read."""
    return f"{label} = {value} is ignored by search.algorithm {algorithm} ({reason})"


def _check(ok: bool, label: str, expected: str, got: Any) -> None:
    if not ok:
        raise InvalidArgumentError(f"config {label}: expected {expected}, got {got!r}")


def _check_positive(label: str, value: int | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    _check(value is not None and value > 0, label, "a positive integer", value)
