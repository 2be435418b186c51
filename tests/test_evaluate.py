"""Greedy evaluation loops, checked with stand-in searches whose moves are known."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import mzero
from mzero.config import NetworkConfig, preset
from mzero.envs import MinimaxPlayer, RandomPlayer, play_game
from mzero.evaluate import evaluate_against, evaluate_returns
from mzero.networks import MuZeroNetwork

torch.set_num_threads(1)


def lowest_legal_search(
    root_value, root_logits, recurrent_fn, config, legal_mask=None, seed=0, first_game=0
):
    """Stand-in for ``mzero.search`` whose action is the lowest legal index (no simulations)."""
    batch, actions = root_logits.shape
    mask = np.ones((batch, actions), bool) if legal_mask is None else legal_mask
    action = mask.argmax(1).astype(np.int64)
    visits = np.zeros((batch, actions), np.int32)
    visits[np.arange(batch), action] = config.num_simulations
    return SimpleNamespace(
        visit_counts=visits,
        policy=visits / config.num_simulations,
        root_value=root_value,
        q_values=np.zeros((batch, actions), np.float32),
        action=action,
    )


@pytest.fixture(autouse=True)
def fake_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mzero, "search", lowest_legal_search)


def lowest_legal(observation: np.ndarray, legal_mask: np.ndarray) -> int:
    return int(np.flatnonzero(legal_mask)[0])


def network(name: str) -> MuZeroNetwork:
    torch.manual_seed(0)
    if name == "cartpole":
        return MuZeroNetwork((4,), 2, NetworkConfig(kind="mlp", latent_dim=8, hidden=(8,)))
    config = NetworkConfig(kind="resnet", channels=4, blocks=1, head_channels=2, hidden=(8,))
    return MuZeroNetwork((3, 3, 3), 9, config)


def test_cartpole_returns_are_the_episode_lengths() -> None:
    config = preset("cartpole")
    config.search.num_simulations = 2
    returns = evaluate_returns(network("cartpole"), config, episodes=3, seed=0)
    # always pushing left (action 0): the pole falls within a few dozen steps
    assert len(returns) == 3
    assert all(5 <= r <= 60 and r == int(r) for r in returns)
    assert returns == evaluate_returns(network("cartpole"), config, episodes=3, seed=0)


def test_cartpole_time_limit_ends_every_episode() -> None:
    config = preset("cartpole")
    config.env.max_episode_steps = 4
    assert evaluate_returns(network("cartpole"), config, episodes=5) == [4.0] * 5


@pytest.mark.parametrize("agent_first", [True, False])
def test_results_against_an_opponent_match_a_plain_game(agent_first: bool) -> None:
    config = preset("tictactoe")
    for seed in range(5):
        got = evaluate_against(
            network("tictactoe"), config, RandomPlayer(seed), games=1, agent_first=agent_first
        )
        if agent_first:
            expected = play_game(lowest_legal, RandomPlayer(seed))
        else:
            expected = -play_game(RandomPlayer(seed), lowest_legal)
        assert got == [expected]


def test_a_naive_agent_never_beats_minimax_and_loses_some() -> None:
    config = preset("tictactoe")
    net = network("tictactoe")
    results = evaluate_against(net, config, MinimaxPlayer(0), games=6, agent_first=True)
    results += evaluate_against(net, config, MinimaxPlayer(1), games=6, agent_first=False)
    assert len(results) == 12
    assert max(results) <= 0
    assert min(results) == -1


def test_wrong_kind_of_game_is_refused() -> None:
    with pytest.raises(mzero.InvalidArgumentError, match="evaluate_against"):
        evaluate_returns(network("tictactoe"), preset("tictactoe"), episodes=1)
    with pytest.raises(mzero.InvalidArgumentError, match="expected a two-player game"):
        evaluate_against(network("cartpole"), preset("cartpole"), RandomPlayer(), 1, True)
    with pytest.raises(mzero.InvalidArgumentError, match="episodes: expected >= 1"):
        evaluate_returns(network("cartpole"), preset("cartpole"), episodes=0)


def test_each_game_has_its_own_evaluation_opponents() -> None:
    from mzero.evaluate import Evaluator

    assert Evaluator(preset("tictactoe"), True).opponents == ("minimax", "random")
    assert Evaluator(preset("connect4"), True).opponents == ("uct:100", "random")
    assert Evaluator(preset("cartpole"), False).opponents == ()
    config = preset("connect4")
    config.train.eval_opponents = ("random", "uct:5")
    assert Evaluator(config, True).opponents == ("random", "uct:5")
    config.train.eval_opponents = ("minimax",)
    with pytest.raises(mzero.InvalidArgumentError, match=r"train\.eval_opponents: .*TicTacToe"):
        Evaluator(config, True)
    config.train.eval_opponents = ("uct:0",)
    with pytest.raises(mzero.InvalidArgumentError, match=r"train\.eval_opponents"):
        Evaluator(config, True)
    config.train.eval_opponents = None
    config.train.eval_episodes = 1
    with pytest.raises(mzero.InvalidArgumentError, match=r"train\.eval_episodes: expected >= 2"):
        Evaluator(config, True)


def test_scores_against_each_opponent_add_up_and_order_the_checkpoints() -> None:
    from mzero.evaluate import Evaluator

    config = preset("tictactoe")
    config.train.eval_episodes = 6
    evaluator = Evaluator(config, True)
    metrics = evaluator(network("tictactoe"), seed=3)
    for name in ("minimax", "random"):
        n = 6
        wins, losses = metrics[f"eval_{name}_win_rate"] * n, metrics[f"eval_{name}_losses"]
        score = (wins + 0.5 * (n - wins - losses)) / n
        assert metrics[f"eval_{name}_score"] == pytest.approx(score)
        halves = metrics[f"eval_{name}_score_first"] + metrics[f"eval_{name}_score_second"]
        assert metrics[f"eval_{name}_score"] == pytest.approx(halves / 2)
    # the lowest legal move never beats perfect play, and loses some games
    assert metrics["eval_minimax_win_rate"] == 0.0 and metrics["eval_minimax_losses"] >= 1
    assert metrics["eval_return_mean"] == pytest.approx(2 * metrics["eval_minimax_score"] - 1)
    assert evaluator.key(metrics) == (metrics["eval_minimax_score"], metrics["eval_random_score"])
    better = metrics | {"eval_minimax_score": 0.5, "eval_random_score": 0.0}
    assert evaluator.key(better) > evaluator.key(metrics)
