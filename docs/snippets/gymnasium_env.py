"""Train mzero on your own gymnasium environment (docs/tutorials/gymnasium-env.md).

tests/test_docs.py runs this file as it is.
"""

# ruff: noqa: E402 (each section imports what it uses, as a reader would)

# --8<-- [start:env]
import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Corridor(gym.Env):
    """Walk right from cell 0 to the exit at the last cell: +1 there, 0 elsewhere."""

    def __init__(self, length: int = 6):
        self.length = length
        self.observation_space = spaces.Box(0.0, 1.0, (length,), np.float32)
        self.action_space = spaces.Discrete(2)  # 0: left, 1: right

    def _observation(self):
        obs = np.zeros(self.length, np.float32)
        obs[self.position] = 1.0  # one-hot position
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0
        return self._observation(), {}

    def step(self, action):
        step = 1 if action == 1 else -1
        self.position = min(max(self.position + step, 0), self.length - 1)
        terminated = self.position == self.length - 1
        return self._observation(), float(terminated), terminated, False, {}


gym.register("Corridor-v0", entry_point=Corridor, max_episode_steps=30)
# --8<-- [end:env]

# --8<-- [start:train]
import mzero
from mzero.config import Config, EnvConfig, NetworkConfig, SearchSettings, TrainConfig
from mzero.train import train

config = Config(
    env=EnvConfig(id="Corridor-v0"),
    network=NetworkConfig(latent_dim=32, hidden=(32,), value_support=5, reward_support=1),
    search=SearchSettings(num_simulations=8, discount=0.97),
    train=TrainConfig(
        num_envs=8,
        batch_size=32,
        min_replay=64,
        max_env_steps=1_000,
        eval_interval=500,
        eval_episodes=4,
        log_interval=10,
    ),
)
metrics = train(config, "runs/corridor", progress=False)
print("env steps:", metrics["env_steps"], "learner steps:", metrics["train_steps"])
# --8<-- [end:train]

# --8<-- [start:act]
env = gym.make("Corridor-v0")
agent = mzero.Agent.load("runs/corridor")  # checkpoints/best.pt
observation, _ = env.reset(seed=0)
episode_return, done = 0.0, False
while not done:
    action = agent.act(observation)  # greedy, with search
    observation, reward, terminated, truncated, _ = env.step(action)
    episode_return += reward
    done = terminated or truncated
print("greedy return:", episode_return)
# --8<-- [end:act]
