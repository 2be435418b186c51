"""Connect Four: the fixed encoding, the rules against a plain array reference, the mirror."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mzero
from mzero.envs import ConnectFourEnv, make_env
from mzero.envs.connect4 import COLUMNS, ROWS


def reference_winner(board: np.ndarray) -> int:
    """+1 or -1 if that player has four in a row on ``board`` ([6, 7], any orientation), else 0."""
    for r in range(ROWS):
        for c in range(COLUMNS):
            v = board[r, c]
            if v == 0:
                continue
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + k * dr, c + k * dc) for k in range(4)]
                if all(0 <= rr < ROWS and 0 <= cc < COLUMNS for rr, cc in cells) and all(
                    board[rr, cc] == v for rr, cc in cells
                ):
                    return int(v)
    return 0


def test_the_encoding_of_a_position() -> None:
    env = ConnectFourEnv()
    obs, info = env.reset()
    assert obs.shape == (3, 6, 7) and obs.dtype == np.float32
    assert not obs[:2].any() and obs[2].all() and info["to_play"] == 0
    assert info["legal_mask"].tolist() == [True] * 7
    obs, reward, terminated, truncated, info = env.step(3)
    # the second player moves: its own plane is empty, the first player's stone is in
    # plane 1 at the bottom row (row 5) of column 3
    assert (reward, terminated, truncated, info["to_play"]) == (0.0, False, False, 1)
    assert not obs[0].any() and obs[1].sum() == 1 and obs[1, 5, 3] == 1 and not obs[2].any()
    obs, *_ = env.step(3)  # lands on top of it, in row 4
    assert obs[0, 5, 3] == 1 and obs[1, 4, 3] == 1 and obs[2].all()
    assert env.board()[4:, 3].tolist() == [-1, 1]


def test_a_full_column_is_illegal_and_playing_it_loses() -> None:
    env = ConnectFourEnv()
    env.reset()
    for _ in range(6):
        *_, info = env.step(0)
    assert info["legal_mask"].tolist() == [False] + [True] * 6
    _, reward, terminated, _, info = env.step(0)
    assert (reward, terminated, info["illegal_move"]) == (-1.0, True, True)
    assert not info["legal_mask"].any()
    with pytest.raises(mzero.InvalidArgumentError, match="game is over"):
        env.step(1)
    for bad in (7, -1, 1.0, True):
        env.reset()
        with pytest.raises(mzero.InvalidArgumentError, match="action"):
            env.step(bad)


@pytest.mark.parametrize(
    ("moves", "line"),
    [
        ([0, 0, 1, 1, 2, 2, 3], "horizontal"),
        ([6, 5, 6, 5, 6, 5, 6], "vertical"),
        ([0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3], "rising diagonal"),
        ([6, 5, 5, 4, 4, 3, 4, 3, 3, 0, 3], "falling diagonal"),
    ],
)
def test_four_in_a_row_wins_for_the_mover(moves, line) -> None:
    env = ConnectFourEnv()
    env.reset()
    for move in moves[:-1]:
        _, reward, terminated, *_ = env.step(move)
        assert (reward, terminated) == (0.0, False), line
    _, reward, terminated, _, info = env.step(moves[-1])
    assert (reward, terminated) == (1.0, True), line
    assert reference_winner(env.board()) == 1 and not info["legal_mask"].any()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, COLUMNS - 1), min_size=1, max_size=60))
def test_random_games_follow_a_plain_array_reference(choices) -> None:
    # The bitboard rules against an independent transcription on a [6, 7] array;
    # each choice picks among the legal columns, so every game is legal to its end.
    env = ConnectFourEnv()
    _, info = env.reset()
    board = np.zeros((ROWS, COLUMNS), dtype=np.int8)
    sign = 1
    for choice in choices:
        legal = np.flatnonzero(info["legal_mask"])
        col = int(legal[choice % len(legal)])
        row = ROWS - 1 - int((board[:, col] != 0).sum())
        board[row, col] = sign
        obs, reward, terminated, _, info = env.step(col)
        np.testing.assert_array_equal(env.board(), board)
        won = reference_winner(board) == sign
        full = not (board == 0).any()
        assert reward == (1.0 if won else 0.0)
        assert terminated == (won or full)
        # the mover's view: the next player to move sees its stones in plane 0
        np.testing.assert_array_equal(obs[0], board == -sign)
        np.testing.assert_array_equal(obs[1], board == sign)
        if terminated:
            break
        assert info["legal_mask"].tolist() == (board[0] == 0).tolist()
        sign = -sign


def test_the_mirror_maps_a_game_onto_its_mirror_image() -> None:
    sym = ConnectFourEnv.symmetries
    assert sym.size == 2
    moves = [3, 2, 2, 6, 0, 1, 5]
    a, b = ConnectFourEnv(), ConnectFourEnv()
    a.reset()
    b.reset()
    for move in moves:
        obs_a, *_ = a.step(move)
        obs_b, *_ = b.step(COLUMNS - 1 - move)
    mirrored = obs_a.reshape(-1)[sym.observation[1]].reshape(obs_a.shape)
    np.testing.assert_array_equal(mirrored, obs_b)
    policy = np.arange(COLUMNS, dtype=np.float32)
    assert policy[sym.policy[1]].tolist() == policy[::-1].tolist()
    assert [int(sym.action[1][m]) for m in moves] == [COLUMNS - 1 - m for m in moves]


def test_make_env_gives_the_built_in_game() -> None:
    env = make_env("connect4")
    assert (env.obs_shape, env.num_actions, env.two_player) == ((3, 6, 7), 7, True)
    assert env.symmetries is ConnectFourEnv.symmetries
    _, mask = env.reset(seed=0)
    assert mask.all()
    step = env.step(3)
    assert step.legal_mask.all() and step.observation[1, 5, 3] == 1
    assert make_env("mzero/ConnectFour-v0").num_actions == 7
    text = ConnectFourEnv(render_mode="ansi")
    text.reset()
    text.step(2)
    assert text.render().splitlines()[-2:] == [". . X . . . .", "0 1 2 3 4 5 6"]


def test_a_short_connect_four_run_trains_and_evaluates_against_its_opponents(tmp_path) -> None:
    import json

    from mzero.agent import Agent
    from mzero.config import apply_overrides, preset
    from mzero.train import Trainer
    from test_train import mzero_cli

    config = apply_overrides(
        preset("connect4"),
        {
            "network.channels": 8,
            "network.blocks": 1,
            "train.num_envs": 8,
            "train.batch_size": 16,
            "train.min_replay": 100,
            "train.max_env_steps": 400,
            "train.eval_interval": 200,
            "train.eval_episodes": 4,
            "train.eval_opponents": ("uct:3", "random"),
            "train.keep_eval_checkpoints": True,
            "train.log_interval": 10,
            "search.num_simulations": 4,
            "search.eval_simulations": 4,  # the preset's 400 at play: most of a minute
        },
    )
    metrics = Trainer(config, tmp_path, progress=False).run()
    assert metrics["eval_return_mean"] == pytest.approx(2 * metrics["eval_uct3_score"] - 1)
    assert 0.0 <= metrics["eval_random_win_rate"] <= 1.0
    assert "eval_minimax_losses" not in metrics
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("env_steps_*.pt"))
    assert kept == ["env_steps_000000200.pt", "env_steps_000000400.pt"]
    early = Agent.load(tmp_path, checkpoint=kept[0])
    assert early.checkpoint_path == tmp_path / "checkpoints" / kept[0]
    with pytest.raises(mzero.InvalidArgumentError, match="checkpoint: expected best, last"):
        Agent.load(tmp_path, checkpoint="env_steps_1.pt")

    result = mzero_cli("eval", str(tmp_path), "--checkpoint", kept[0], "--episodes", "4")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["checkpoint"].endswith(kept[0])
    assert report["env_steps"] == 200  # the header names the point of training it scores
    assert sum(report["vs_random_first"].values()) == sum(report["vs_random_second"].values()) == 2
    assert sum(report["vs_uct3_first"].values()) == 2
    assert "every_optimal_line_first" not in report  # TicTacToe's walk only
