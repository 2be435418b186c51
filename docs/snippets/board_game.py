"""Add a board game to mzero (docs/tutorials/board-game.md).

tests/test_docs.py runs this file as it is.
"""

# ruff: noqa: E402 (each section imports what it uses, as a reader would)

# --8<-- [start:game]
import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mzero.envs import BoardGameEnv


class TwentyOne(BoardGameEnv):
    """Twenty-one stones; the players take 1, 2 or 3 in turn; who takes the last wins.

    Action ``a`` takes ``a + 1`` stones. The observation, from the view of the player
    to move, is the number of stones left, one-hot: float32 ``[22]``.
    """

    STONES = 21

    def __init__(self, render_mode=None):
        super().__init__(render_mode)
        self.observation_space = spaces.Box(0.0, 1.0, (self.STONES + 1,), np.float32)
        self.action_space = spaces.Discrete(3)
        self.stones = self.STONES

    def legal_mask(self):
        if self.done:
            return np.zeros(3, bool)
        return np.arange(1, 4) <= self.stones

    def observation(self):
        obs = np.zeros(self.STONES + 1, np.float32)
        obs[self.stones] = 1.0
        return obs

    def render_text(self):
        return f"{self.stones} stones left, player {self.to_play + 1} to move\n"

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.stones, self.to_play, self.done = self.STONES, 0, False
        return self.observation(), self._info()

    def step(self, action):
        take = self._checked_action(action) + 1  # checks the range and that the game goes on
        if take > self.stones:
            return self._illegal_move()  # the mover loses
        self.stones -= take
        self.done = self.stones == 0
        self.to_play = 1 - self.to_play
        return self._moved(1.0 if self.done else 0.0)  # reward: the mover's view


gym.register("TwentyOne-v0", entry_point=TwentyOne)
# --8<-- [end:game]

# --8<-- [start:check]
from mzero.envs import RandomPlayer, make_env, play_game

env = make_env("TwentyOne-v0")
assert env.two_player and env.num_actions == 3 and env.obs_shape == (22,)
results = [play_game(RandomPlayer(s), RandomPlayer(s + 100), TwentyOne()) for s in range(20)]
print("random against random, first player's results (+1 win, -1 loss):", results)
# --8<-- [end:check]

# --8<-- [start:train]
import mzero
from mzero.config import Config, EnvConfig, NetworkConfig, SearchSettings, TrainConfig
from mzero.evaluate import score_against
from mzero.train import train

config = Config(
    env=EnvConfig(id="TwentyOne-v0"),
    network=NetworkConfig(
        latent_dim=32, hidden=(64,), value_support=1, reward_support=1, value_transform=False
    ),
    search=SearchSettings(num_simulations=16, discount=1.0, dirichlet_alpha=0.5),
    train=TrainConfig(
        num_envs=16,
        batch_size=32,
        min_replay=64,
        td_steps=21,  # Monte Carlo targets: a game lasts at most 21 moves
        train_ratio=0.5,
        max_env_steps=400,  # a smoke run: raise it (or use max_minutes) to learn
        eval_interval=200,
        eval_episodes=10,  # games against each opponent, half moving first
        log_interval=10,
    ),
)
train(config, "runs/twentyone", progress=False)

agent = mzero.Agent.load("runs/twentyone")
scores = score_against(agent.network, agent.config, "random", games=20, seed=1)
print("score against random (win 1, draw 0.5):", scores["score"])
# --8<-- [end:train]
