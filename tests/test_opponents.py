"""mzero.envs.opponents: random, minimax and plain UCT by name; mzero eval --opponent."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import mzero
from mzero.envs import ConnectFourEnv, TicTacToeEnv
from mzero.envs.opponents import AlphaBetaPlayer, UCTPlayer, make_opponent
from mzero.envs.players import MinimaxPlayer, RandomPlayer, optimal_actions, result_for
from test_train import mzero_cli


def _play(first, second, game=ConnectFourEnv) -> int:
    """One game; the result from the first player's view."""
    env = game()
    obs, info = env.reset()
    players, mover = (first, second), 0
    while True:
        action = players[mover].act(obs, info["legal_mask"])
        obs, reward, terminated, _, info = env.step(action)
        if terminated:
            return result_for(reward, mover_is_player=mover == 0)
        mover = 1 - mover


@pytest.mark.parametrize("game", [ConnectFourEnv, TicTacToeEnv])
def test_a_position_is_rebuilt_from_its_observation(game) -> None:
    env = game()
    obs, info = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(5):
        rebuilt = game.from_observation(obs)
        np.testing.assert_array_equal(rebuilt.observation(), obs)
        np.testing.assert_array_equal(rebuilt.legal_mask(), info["legal_mask"])
        obs, _, terminated, _, info = env.step(int(rng.choice(np.flatnonzero(info["legal_mask"]))))
        if terminated:
            break


def test_uct_takes_a_win_in_one_and_blocks_a_loss_in_one() -> None:
    env = ConnectFourEnv()
    env.reset()
    for move in (0, 6, 1, 6, 2):  # X threatens 0-1-2-3 on the bottom row; O to move
        obs, *_ = env.step(move)
    assert UCTPlayer(ConnectFourEnv, 400, seed=0).act(obs) == 3  # block
    env.step(5)
    obs, *_ = env.step(6)  # O threatens column 6 too; X to move can win at once
    assert UCTPlayer(ConnectFourEnv, 400, seed=1).act(obs) == 3  # win


def test_uct_beats_random_moves_at_connect_four() -> None:
    results = [_play(UCTPlayer(ConnectFourEnv, 50, seed=s), RandomPlayer(s)) for s in range(6)]
    results += [-_play(RandomPlayer(s), UCTPlayer(ConnectFourEnv, 50, seed=s)) for s in range(6)]
    assert results.count(1) >= 11, results


def test_uct_draws_tictactoe_against_minimax() -> None:
    # 400 simulations search TicTacToe's whole tree well: no loss against perfect play
    for s in range(3):
        assert _play(UCTPlayer(TicTacToeEnv, 400, seed=s), MinimaxPlayer(s), TicTacToeEnv) == 0
        assert _play(MinimaxPlayer(s), UCTPlayer(TicTacToeEnv, 400, seed=s), TicTacToeEnv) == 0


def test_opponents_by_name() -> None:
    assert isinstance(make_opponent("random", "connect4"), RandomPlayer)
    assert isinstance(make_opponent("minimax", "tictactoe"), MinimaxPlayer)
    uct = make_opponent("uct:25", "connect4", seed=3)
    assert isinstance(uct, UCTPlayer) and uct.simulations == 25
    for name, env_id, match in [
        ("minimax", "connect4", "TicTacToe only"),
        ("uct:0", "connect4", "uct:N or alphabeta:D with N, D >= 1"),
        ("uct:x", "connect4", "uct:N"),
        ("alphabeta", "connect4", "expected random"),
        ("uct:10", "CartPole-v1", "whose position it can copy"),
        ("alphabeta:3", "CartPole-v1", "alphabeta:N needs a board game"),
    ]:
        with pytest.raises(mzero.InvalidArgumentError, match=match):
            make_opponent(name, env_id)


def train_tiny_connect4(run_dir):
    """A 100-env-step Connect Four run with 2 simulations: a run directory to evaluate."""
    from mzero.config import apply_overrides, preset
    from mzero.train import Trainer

    config = apply_overrides(
        preset("tictactoe"),
        {
            "env.id": "connect4",
            "train.num_envs": 4,
            "train.batch_size": 8,
            "train.min_replay": 50,
            "train.max_env_steps": 100,
            "train.eval_interval": 0,
            "search.num_simulations": 2,
        },
    )
    Trainer(config, run_dir, progress=False).run()
    return run_dir


@pytest.fixture(scope="module")
def connect4_run(tmp_path_factory):
    return train_tiny_connect4(tmp_path_factory.mktemp("connect4"))


def test_mzero_eval_scores_against_an_opponent(connect4_run) -> None:
    import json

    tmp_path = connect4_run
    command = ["eval", str(tmp_path), "--checkpoint", "last"]
    out = mzero_cli(*command, "--opponent", "uct:5", "--games", "4")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["opponent"] == "uct:5" and report["games"] == 4
    assert sum(report["first"].values()) == 2 and sum(report["second"].values()) == 2
    for key in ("score_first", "score_second", "score"):
        assert 0.0 <= report[key] <= 1.0
    assert report["score"] == pytest.approx((report["score_first"] + report["score_second"]) / 2)
    bad = mzero_cli("eval", str(tmp_path), "--opponent", "minimax")
    assert bad.returncode == 2 and "TicTacToe only" in bad.stderr


def test_mzero_eval_searches_with_the_simulations_it_is_given(connect4_run, monkeypatch) -> None:
    import mzero.evaluate
    from mzero.cli import main

    searched: list[int] = []
    real = mzero.evaluate.evaluate_against

    def spy(network, config, *args, **kwargs):
        greedy = config.search.to_search_config(two_player=True, explore=False)
        searched.append(greedy.num_simulations)
        return real(network, config, *args, **kwargs)

    monkeypatch.setattr(mzero.evaluate, "evaluate_against", spy)
    command = ["eval", str(connect4_run), "--checkpoint", "last", "--opponent", "random"]
    assert main([*command, "--games", "2", "--num-simulations", "7"]) == 0
    assert searched == [7, 7]  # both sides; the run itself searched with 2
    assert main([*command, "--games", "2"]) == 0
    assert searched[2:] == [2, 2]
    bad = mzero_cli(*command, "--num-simulations", "0")
    assert bad.returncode == 2 and "--num-simulations: expected >= 1, got 0" in bad.stderr


def test_mzero_play_connect_four_shows_the_board_and_the_search(connect4_run) -> None:
    # the human tries every column in turn; full or unknown ones are refused and asked again
    moves = "\n".join(["x", "7", *[str(c) for c in range(7)] * 7]) + "\n"
    out = mzero_cli("play", str(connect4_run), "--checkpoint", "last", stdin=moves)
    assert out.returncode == 0, out.stderr
    assert "0 1 2 3 4 5 6" in out.stdout  # the column numbers under the board
    assert "your move (0-6, q to quit)" in out.stdout
    assert "not a legal move: 'x'" in out.stdout and "not a legal move: '7'" in out.stdout
    assert "agent plays" in out.stdout and "  search: " in out.stdout
    assert out.stdout.rstrip().endswith(("Draw.", "You win!", "The agent wins."))
    first = mzero_cli(
        "play",
        str(connect4_run),
        "--checkpoint",
        "last",
        "--first",
        "agent",
        "--show-search",
        "0",
        stdin="q\n",
    )
    assert first.returncode == 0 and "You are O (second)" in first.stdout
    assert "agent plays" in first.stdout and "search:" not in first.stdout


def _negamax(env, depth: int, horizon: int) -> float:
    """Plain negamax without pruning: the mover's value of the position ``env``."""
    best = -2.0
    for action in np.flatnonzero(env.legal_mask()):
        child = copy.deepcopy(env)
        _, reward, terminated, _, _ = child.step(int(action))
        if terminated:
            value = reward * (1.0 + 0.01 * (depth - 1) / (horizon + 1))
        elif depth == 1:
            value = 0.0
        else:
            value = -_negamax(child, depth - 1, horizon)
        best = max(best, value)
    return best


def test_alphabeta_values_equal_plain_negamax_on_connect_four() -> None:
    rng = np.random.default_rng(0)
    player = AlphaBetaPlayer(ConnectFourEnv, 3)
    for _ in range(6):
        env = ConnectFourEnv()
        _, info = env.reset()
        for _ in range(int(rng.integers(4, 16))):
            _, _, terminated, _, info = env.step(
                int(rng.choice(np.flatnonzero(info["legal_mask"])))
            )
            if terminated:
                break
        if terminated:
            continue
        for action in np.flatnonzero(env.legal_mask()):
            got = player._value_after(env, int(action), 2, -2.0, 2.0)
            child = copy.deepcopy(env)
            _, reward, done, _, _ = child.step(int(action))
            want = reward * (1 + 0.01 * 2 / 4) if done else -_negamax(child, 2, 3)
            assert got == pytest.approx(want)


def test_alphabeta_plays_tictactoe_perfectly_at_full_depth() -> None:
    rng = np.random.default_rng(1)
    player = AlphaBetaPlayer(TicTacToeEnv, 9, seed=0)
    for _ in range(8):
        env = TicTacToeEnv()
        obs, info = env.reset()
        for _ in range(int(rng.integers(0, 5))):
            obs, *_, info = env.step(int(rng.choice(np.flatnonzero(info["legal_mask"]))))
        if info["legal_mask"].any():
            assert player.act(obs) in optimal_actions(obs)


def test_alphabeta_takes_a_win_and_blocks_a_loss_in_one() -> None:
    env = ConnectFourEnv()
    env.reset()
    for move in (0, 6, 1, 6, 2):
        obs, *_ = env.step(move)
    assert make_opponent("alphabeta:2", "connect4").act(obs) == 3  # block
    obs, *_ = env.step(5)  # O lets X complete the row
    assert make_opponent("alphabeta:1", "connect4").act(obs) == 3  # win
    with pytest.raises(mzero.InvalidArgumentError, match="alphabeta:D with N, D >= 1"):
        make_opponent("alphabeta:0", "connect4")
