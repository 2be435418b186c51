"""Environments: a gymnasium adapter, the built-in TicTacToe, its opponents, a registry.

* :class:`GymAdapter` / :class:`Environment`: the protocol self-play and evaluation use;
* :class:`BoardGameEnv`: the base of two-player board games (the rules they share);
* :class:`TicTacToeEnv`: TicTacToe with the documented [3, 3, 3] encoding;
* :class:`ConnectFourEnv`: Connect Four (bitboards) with the documented [3, 6, 7] encoding;
* :class:`Game2048Env`: single-player 2048 with chance (tile spawns), [16, 4, 4] planes;
* :class:`MinimaxPlayer`, :class:`RandomPlayer`, :func:`play_game`: opponents for evaluation;
* :func:`make_env`: built-in names, aliases and gymnasium ids -> :class:`GymAdapter`.
"""

from __future__ import annotations

from mzero.envs.board import BoardGameEnv
from mzero.envs.connect4 import ConnectFourEnv
from mzero.envs.game2048 import Game2048Env
from mzero.envs.gym import Environment, GymAdapter, Step
from mzero.envs.players import MinimaxPlayer, RandomPlayer, play_game
from mzero.envs.registry import make_env, make_env_from_config
from mzero.envs.tictactoe import TicTacToeEnv

__all__ = [
    "BoardGameEnv",
    "ConnectFourEnv",
    "Environment",
    "Game2048Env",
    "GymAdapter",
    "MinimaxPlayer",
    "RandomPlayer",
    "Step",
    "TicTacToeEnv",
    "make_env",
    "make_env_from_config",
    "play_game",
]
