"""The presets: named, tuned configs that ``mzero train PRESET`` starts from.

Each preset is a function returning a fresh :class:`Config`; its docstring says what
the preset is for and why it is set so (results over seeds: docs/results.md), and the
configuration reference lists the fields it sets (generated from :data:`PRESETS`).
``mzero config show PRESET`` prints the whole resolved config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from mzero.config.schema import (
    Config,
    EnvConfig,
    NetworkConfig,
    ReanalyzeConfig,
    ReplaySettings,
    SearchSettings,
    TrainConfig,
)
from mzero.errors import InvalidArgumentError


def _cartpole() -> Config:
    """CartPole-v1, the main job: small MLPs, PUCT with 50 simulations, 16 environments.

    One learner step per 4 env steps, the learner compiled (``train.learner_step``)
    and single-game acting too (``network.act_inference``). Games go to the replay
    buffer in segments of 50 positions (``train.segment_length``), so that a balancing
    agent's 500-move games reach the learner while they are played. Evaluations play
    50 greedy episodes every 5,000 env steps, so that ``best.pt`` is rarely a network
    that scored 500 by luck on a few start states. Results over seeds and why it is
    set so: docs/results.md.
    """
    return Config(
        env=EnvConfig(id="CartPole-v1"),
        network=NetworkConfig(
            kind="mlp",
            latent_dim=64,
            hidden=(64,),
            value_support=25,
            reward_support=5,
            act_inference="compile",
        ),
        search=SearchSettings(
            num_simulations=50, discount=0.997, dirichlet_alpha=0.25, dirichlet_fraction=0.25
        ),
        replay=ReplaySettings(capacity=100_000, alpha=0.0, beta=1.0),
        train=TrainConfig(
            num_envs=16,
            batch_size=256,
            unroll_steps=5,
            td_steps=50,
            lr=3e-3,
            weight_decay=1e-4,
            grad_clip=5.0,
            train_ratio=0.25,
            min_replay=1000,
            segment_length=50,
            temperatures=(1.0, 0.5, 0.25),
            temperature_milestones=(5_000, 10_000),
            eval_interval=5_000,
            eval_episodes=50,
            learner_step="compile",
        ),
    )


def _cartpole_efficient() -> Config:
    """CartPole-v1 in few environment steps: Gumbel MuZero, Reanalyze, consistency loss.

    The ``cartpole`` network with a 64-wide projection for EfficientZero's latent
    consistency loss (weight 2, as LightZero's CartPole config), Gumbel MuZero with 16
    simulations in 8 environments (self-play plays the search's own action), games
    sent to the replay buffer in segments of 50 moves, one learner step per
    environment step from 400 stored transitions, 50-step value targets bootstrapped
    by the target network when sampled (refreshed every 100 learner steps), and a
    tenth of the sampled positions searched again with 25 simulations for fresh
    policy targets. Evaluations of 20 greedy episodes every 500 env steps pick
    ``best.pt``. Results over seeds and why it is set so: docs/results.md.
    """
    config = _cartpole()
    config.network = dataclasses.replace(config.network, projection_dim=64)
    config.search = dataclasses.replace(
        config.search, algorithm="gumbel", num_simulations=16, dirichlet_fraction=0.0
    )
    config.train = dataclasses.replace(
        config.train,
        num_envs=8,
        train_ratio=1.0,
        min_replay=400,
        td_steps=50,
        segment_length=50,
        consistency_weight=2.0,
        eval_interval=500,
        eval_episodes=20,
    )
    config.reanalyze = ReanalyzeConfig(
        value=True, policy_fraction=0.1, num_simulations=25, target_update_interval=100
    )
    return config


def _tictactoe() -> Config:
    """TicTacToe against itself: MLPs on the 27 board inputs, undiscounted two-player search.

    Each sampled position is mapped by a random one of the board's 8 rotations and
    reflections (``augment_symmetries``). Moves 1-6 of each self-play game (three per
    player) are sampled at temperature 1, later ones greedy, so that value targets
    come from strong play after varied openings. The learning rate decays over about
    the steps of a 20-minute run. Evaluation plays 100 games against minimax and 100
    against random every 2,500 env steps; ``best.pt`` keeps the best. The learner is
    compiled (``train.learner_step``). Results and why it is set so: docs/results.md.
    """
    return Config(
        env=EnvConfig(id="tictactoe"),
        network=NetworkConfig(
            kind="mlp", latent_dim=64, hidden=(128, 128), value_support=1, reward_support=1
        ),
        search=SearchSettings(
            num_simulations=50, discount=1.0, dirichlet_alpha=0.3, dirichlet_fraction=0.25
        ),
        replay=ReplaySettings(capacity=50_000, alpha=0.0, beta=1.0),
        train=TrainConfig(
            num_envs=32,
            batch_size=256,
            unroll_steps=5,
            td_steps=9,
            lr=3e-3,
            lr_schedule="cosine",
            lr_decay_steps=30_000,
            lr_min=3e-4,
            weight_decay=1e-4,
            grad_clip=5.0,
            value_loss_weight=1.0,
            augment_symmetries=True,
            train_ratio=0.5,
            min_replay=500,
            temperatures=(1.0,),
            temperature_milestones=(),
            temperature_moves=6,
            eval_interval=2_500,
            eval_episodes=100,
            learner_step="compile",
        ),
    )


def _connect4() -> Config:
    """Connect Four against itself: a small ResNet on the [3, 6, 7] board planes.

    16 channels, one residual block in each of h and g, 4-channel heads and a
    128-unit hidden layer, small enough for a CPU learner. The dynamics sees move c
    as a plane with ones on column c (``ConnectFourEnv.action_planes``). PUCT with 100
    simulations in self-play and 400 in greedy play (``search.eval_simulations``: the
    agent, ``mzero eval``, the evaluations during training); outcomes in [-1, 1] are
    trained as raw scalars (``value_transform=False``). Each sampled position is
    mirrored at random; moves 1-10 of self-play are sampled at temperature 1, later
    ones greedy. One learner step per 8 env steps (``train_ratio`` 0.125), the value
    loss weighted 0.25 (as in EfficientZero) and the reward loss weighted 4
    (``reward_loss_weight``; the papers use 1): the reward of a winning move is what
    a search over the learned model needs to take a win. The learning rate follows a
    cosine over 30,000 learner steps. Evaluation plays 40 games against uct:100 and 40
    against random every 30,000 env steps and keeps each evaluated network. Results
    and why it is set so: docs/results.md.
    """
    return Config(
        env=EnvConfig(id="connect4"),
        network=NetworkConfig(
            kind="resnet",
            channels=16,
            blocks=1,
            head_channels=4,
            hidden=(128,),
            value_support=1,
            reward_support=1,
            value_transform=False,
        ),
        search=SearchSettings(
            num_simulations=100,
            eval_simulations=400,
            discount=1.0,
            dirichlet_alpha=1.0,
            dirichlet_fraction=0.25,
        ),
        replay=ReplaySettings(capacity=200_000, alpha=0.0, beta=1.0),
        train=TrainConfig(
            num_envs=64,
            batch_size=256,
            unroll_steps=5,
            td_steps=42,
            lr=3e-3,
            lr_schedule="cosine",
            lr_decay_steps=30_000,
            lr_min=3e-4,
            weight_decay=1e-4,
            grad_clip=5.0,
            value_loss_weight=0.25,
            reward_loss_weight=4.0,
            augment_symmetries=True,
            train_ratio=0.125,
            min_replay=2_000,
            temperatures=(1.0,),
            temperature_milestones=(),
            temperature_moves=10,
            eval_interval=30_000,
            eval_episodes=40,
            keep_eval_checkpoints=True,
            torch_threads=2,
        ),
    )


def _game2048() -> Config:
    """2048 with Stochastic MuZero: afterstates, 32 learned chance codes, chance nodes.

    The built-in ``2048`` environment (one-hot exponent planes, reward = the merged
    tiles); MLPs, PUCT with 50 simulations through decision and chance nodes, 32
    environments. ``--network.stochastic false`` trains plain MuZero on the same
    settings for the side-by-side. The discount is 0.99 rather than the paper's 0.999:
    on a CPU budget of an hour the values of a horizon of about 100 moves are learned
    sooner; the supports cover their h-transformed range. Games go to the replay
    buffer in segments of 100 positions, as 2048 games run to hundreds of moves.
    """
    return Config(
        env=EnvConfig(id="2048"),
        network=NetworkConfig(
            kind="mlp",
            latent_dim=128,
            hidden=(128,),
            value_support=100,
            reward_support=60,
            stochastic=True,
            chance_codes=32,
        ),
        search=SearchSettings(
            num_simulations=50, discount=0.99, dirichlet_alpha=0.3, dirichlet_fraction=0.25
        ),
        replay=ReplaySettings(capacity=200_000, alpha=0.0, beta=1.0),
        train=TrainConfig(
            num_envs=32,
            batch_size=256,
            unroll_steps=5,
            td_steps=10,
            lr=3e-3,
            lr_schedule="constant",
            weight_decay=1e-4,
            grad_clip=5.0,
            value_loss_weight=0.25,
            train_ratio=0.1,
            min_replay=2000,
            segment_length=100,
            temperatures=(1.0, 0.5, 0.25),
            temperature_milestones=(2_000, 5_000),
            eval_interval=20_000,
            eval_episodes=16,
            learner_step="compile",
        ),
    )


def _atari() -> Config:
    """Atari 100k (EfficientZero's setting: 100,000 agent steps, 400,000 frames), meant
    for a GPU: ``mzero train atari --env.id ALE/Breakout-v5`` (``pip install
    'mzero[atari]'``; Pong by default).

    Frames as Machado et al. 2018 recommend (sticky actions 0.25, frame skip 4, no life
    loss as a terminal), grayscale 96 x 96, four of them stacked; MuZero's downsampling
    ResNet (64 channels, one residual block a stage, as EfficientZero's small network)
    with 8-bit frames scaled on the device; EfficientZero's choices on: the consistency
    loss on projected latents, Reanalyze of every value and policy target, one learner
    step per env step. Not measured yet.
    """
    return Config(
        env=EnvConfig(id="ALE/Pong-v5", frame_stack=4, atari_screen_size=96),
        network=NetworkConfig(
            kind="resnet",
            channels=64,
            blocks=1,
            head_channels=16,
            hidden=(32,),
            downsample=True,
            input_scale=1 / 255,
            value_support=300,
            reward_support=300,
            projection_dim=256,
        ),
        search=SearchSettings(
            num_simulations=50, discount=0.997, dirichlet_alpha=0.3, dirichlet_fraction=0.25
        ),
        replay=ReplaySettings(capacity=100_000, alpha=0.6, beta=0.4),
        train=TrainConfig(
            num_envs=8,
            batch_size=256,
            unroll_steps=5,
            td_steps=5,
            lr=1e-3,
            lr_schedule="constant",
            weight_decay=1e-4,
            grad_clip=5.0,
            value_loss_weight=0.25,
            consistency_weight=2.0,
            train_ratio=1.0,
            min_replay=2_000,
            max_env_steps=100_000,
            segment_length=100,
            temperatures=(1.0, 0.5, 0.25),
            temperature_milestones=(50_000, 75_000),
            eval_interval=10_000,
            eval_episodes=8,
            learner_step="compile",
        ),
        reanalyze=ReanalyzeConfig(value=True, policy_fraction=1.0),
    )


def _minatar() -> Config:
    """MinAtar from its 10 x 10 channel grids: Breakout by default, any of the five games
    by ``--env.id MinAtar/<Game>-v1`` (``pip install 'mzero[minatar]'``).

    A small ResNet on the uint8 grids (no downsampling: the latent keeps the 10 x 10
    board), 16 channels and one residual block in each of h and g, small enough for a
    CPU learner; PUCT with 25 simulations, 16 environments, the discount 0.99 of
    MinAtar's DQN baselines. Games go to the replay buffer in segments of 50
    positions. Evaluations play 10 greedy episodes every 20,000 env steps.
    """
    return Config(
        env=EnvConfig(id="MinAtar/Breakout-v1"),
        network=NetworkConfig(
            kind="resnet",
            channels=16,
            blocks=1,
            head_channels=4,
            hidden=(128,),
            value_support=20,
            reward_support=5,
        ),
        search=SearchSettings(
            num_simulations=25, discount=0.99, dirichlet_alpha=0.3, dirichlet_fraction=0.25
        ),
        replay=ReplaySettings(capacity=200_000, alpha=0.0, beta=1.0),
        train=TrainConfig(
            num_envs=16,
            batch_size=128,
            unroll_steps=5,
            td_steps=10,
            lr=3e-3,
            lr_schedule="constant",
            weight_decay=1e-4,
            grad_clip=5.0,
            value_loss_weight=0.25,
            train_ratio=0.1,
            min_replay=2000,
            segment_length=50,
            temperatures=(1.0, 0.5, 0.25),
            temperature_milestones=(5_000, 10_000),
            eval_interval=20_000,
            eval_episodes=10,
            learner_step="compile",
        ),
    )


PRESETS: dict[str, Callable[[], Config]] = {
    "2048": _game2048,
    "atari": _atari,
    "cartpole": _cartpole,
    "cartpole-efficient": _cartpole_efficient,
    "connect4": _connect4,
    "minatar": _minatar,
    "tictactoe": _tictactoe,
}
"""Preset name -> factory of a fresh :class:`Config`."""


def preset(name: str) -> Config:
    """A fresh copy of the preset ``name`` (one of :data:`PRESETS`)."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise InvalidArgumentError(
            f"preset: expected one of {', '.join(sorted(PRESETS))}, got {name!r}"
        ) from None
    return factory().validate()
