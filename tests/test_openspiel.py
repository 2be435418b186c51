"""OpenSpiel games through make_env("openspiel:GAME"): the same rules as the built-ins,
refusals, chance nodes (2048, backgammon), search opponents, training, mzero eval and
mzero play."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

pytest.importorskip("pyspiel")

from mzero.config import apply_overrides, preset
from mzero.envs import ConnectFourEnv, TicTacToeEnv, make_env
from mzero.envs.openspiel import OpenSpielEnv
from mzero.envs.opponents import UCTPlayer, make_opponent
from mzero.envs.players import RandomPlayer, result_for
from mzero.errors import InvalidArgumentError
from mzero.train import Trainer
from test_train import mzero_cli


def _board(builtin: object) -> np.ndarray:
    """The built-in's board: +1 for the first player's stones, -1 for the second's."""
    board = builtin.board  # type: ignore[attr-defined]
    return np.asarray(board() if callable(board) else board)


def _first_player_board(env: OpenSpielEnv, builtin: object) -> np.ndarray:
    """OpenSpiel's text of the position as :func:`_board` of the built-in."""
    text = str(env.state).strip().splitlines()
    rows = [line.replace(" ", "") for line in text if line and line[0] in ".xo"]
    board = np.array([[{".": 0, "x": 1, "o": -1}[c] for c in row] for row in rows])
    return board.reshape(_board(builtin).shape)


@pytest.mark.parametrize(
    ("game", "builtin", "empty_plane", "bottom_row_first"),
    [("tic_tac_toe", TicTacToeEnv, 0, False), ("connect_four", ConnectFourEnv, 2, True)],
)
def test_openspiel_games_agree_with_the_built_in_ones(
    game: str, builtin: type, empty_plane: int, bottom_row_first: bool
) -> None:
    """Random games played move for move in both: the same legal moves, rewards, ends
    and boards, and the player-to-move's observation holds the same stones."""
    rng = np.random.default_rng(0)
    for _ in range(30):
        spiel, ours = make_env(f"openspiel:{game}"), builtin()
        _, mask = spiel.reset()
        _, info = ours.reset()
        while True:
            np.testing.assert_array_equal(mask, info["legal_mask"])
            action = int(rng.choice(np.flatnonzero(mask)))
            step = spiel.step(action)
            _, reward, terminated, truncated, info = ours.step(action)
            assert (step.reward, step.terminated, step.truncated) == (reward, terminated, truncated)
            board = _first_player_board(spiel.env.unwrapped, ours)
            np.testing.assert_array_equal(board, _board(ours))
            # OpenSpiel's observation has a plane of the empty cells (Connect Four's
            # rows from the bottom up)
            occupied = 1.0 - step.observation[empty_plane]
            if bottom_row_first:
                occupied = occupied[::-1]
            np.testing.assert_array_equal(occupied, np.abs(_board(ours)).reshape(occupied.shape))
            mask = step.legal_mask
            if terminated:
                assert not mask.any()
                break


def test_a_hex_game_ends_with_the_winner_rewarded_and_uct_beats_random() -> None:
    env = make_env("openspiel:hex(board_size=4)")
    assert env.obs_shape == (9, 4, 4) and env.num_actions == 16 and env.two_player
    rng = np.random.default_rng(1)
    _, mask = env.reset()
    moves = 0
    while True:
        step = env.step(int(rng.choice(np.flatnonzero(mask))))
        moves += 1
        mask = step.legal_mask
        if step.terminated:
            assert step.reward == 1.0  # hex has no draws: the last mover connected
            break
        assert step.reward == 0.0 and mask.sum() == 16 - moves
    wins = 0
    for seed in range(4):
        for uct_first in (True, False):
            uct = UCTPlayer(None, 100, seed=seed)
            game = OpenSpielEnv("hex(board_size=4)")
            obs, info = game.reset()
            mover_is_uct = uct_first
            while True:
                if mover_is_uct:
                    action = uct.act(obs, info["legal_mask"], state=game)
                else:
                    action = RandomPlayer(seed).act(obs, info["legal_mask"])
                obs, reward, terminated, _, info = game.step(action)
                if terminated:
                    wins += result_for(reward, mover_is_player=mover_is_uct) == 1
                    break
                mover_is_uct = not mover_is_uct
    assert wins >= 7, wins


def test_a_copy_plays_on_without_touching_the_original() -> None:
    env = OpenSpielEnv("connect_four")
    env.reset()
    env.step(3)
    clone = copy.deepcopy(env)
    clone.step(4)
    assert str(env.state) != str(clone.state)
    np.testing.assert_array_equal(env.legal_mask(), np.ones(7, dtype=bool))
    assert env.to_play == 1 and clone.to_play == 0


def test_an_illegal_move_loses() -> None:
    env = make_env("openspiel:tic_tac_toe")
    env.reset()
    env.step(4)
    step = env.step(4)  # occupied
    assert (step.reward, step.terminated) == (-1.0, True) and not step.legal_mask.any()
    with pytest.raises(InvalidArgumentError, match="game is over"):
        env.step(0)
    with pytest.raises(InvalidArgumentError, match=r"action: expected an integer in 0\.\.8"):
        make_env("openspiel:tic_tac_toe").step(9)


@pytest.mark.parametrize(
    ("game", "reason"),
    [
        ("kuhn_poker", "perfect information"),
        ("stones_and_gems", "chance events .*explicit outcomes, it has .*SAMPLED"),
        ("negotiation", "zero-sum"),
        ("goofspiel", "sequential moves"),
        ("matching_pennies_3p", "2 players"),
        ("conect_four", "did you mean connect_four"),
        ("hex(board_sze=5)", "cannot load"),
    ],
)
def test_games_outside_the_class_are_refused(game: str, reason: str) -> None:
    with pytest.raises(InvalidArgumentError, match=reason):
        make_env(f"openspiel:{game}")


def test_a_player_moving_twice_is_refused_at_that_move() -> None:
    env = make_env("openspiel:dots_and_boxes(num_rows=1,num_cols=2)")
    env.reset()
    for action in (0, 2, 4):  # the top, bottom and left lines of the left box
        env.step(action)
    with pytest.raises(InvalidArgumentError, match="player 1 moved twice in a row"):
        env.step(5)  # its right line closes it: its player moves again


def test_opponents_by_name_for_openspiel_games() -> None:
    assert isinstance(make_opponent("uct:10", "openspiel:connect_four"), UCTPlayer)
    with pytest.raises(InvalidArgumentError, match="TicTacToe only"):
        make_opponent("minimax", "openspiel:tic_tac_toe")
    uct = make_opponent("uct:10", "openspiel:connect_four")
    with pytest.raises(InvalidArgumentError, match="pass its environment"):
        uct.act(np.zeros((3, 6, 7), dtype=np.float32))


def test_an_openspiel_run_trains_evaluates_and_plays(tmp_path) -> None:
    config = apply_overrides(
        preset("tictactoe"),
        {
            "env.id": "openspiel:tic_tac_toe",
            "train.num_envs": 8,
            "train.batch_size": 16,
            "train.min_replay": 100,
            "train.max_env_steps": 300,
            "train.eval_interval": 300,
            "train.eval_episodes": 4,
            "train.log_interval": 10,
            "train.augment_symmetries": False,  # OpenSpiel games declare none
            "search.num_simulations": 4,
        },
    )
    metrics = Trainer(config, tmp_path, progress=False).run()
    # the default opponents of OpenSpiel games: uct:100, then random; 2 games a side
    for opponent in ("uct100", "random"):
        first, second = (metrics[f"eval_{opponent}_score_{s}"] for s in ("first", "second"))
        assert {first, second} <= {0.0, 0.25, 0.5, 0.75, 1.0}
        assert metrics[f"eval_{opponent}_score"] == pytest.approx((first + second) / 2)
        assert metrics[f"eval_{opponent}_losses"] in range(5)
    out = mzero_cli("eval", str(tmp_path), "--opponent", "uct:5", "--games", "4")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert sum(report["first"].values()) == 2 and 0.0 <= report["score"] <= 1.0
    play = mzero_cli("play", str(tmp_path), stdin="\n".join(map(str, range(9))) * 5 + "\n")
    assert play.returncode == 0, play.stderr
    assert play.stdout.rstrip().endswith(("Draw.", "You win!", "The agent wins."))


def _random_episode(env_id: str, seed: int, max_moves: int | None = None) -> list[tuple]:
    """(observation bytes, reward, terminated, info) of random legal moves from a seeded
    reset, to the end or ``max_moves``; the reset's info first."""
    env = OpenSpielEnv(env_id)
    _, info = env.reset(seed=seed)
    trace: list[tuple] = [(None, 0.0, False, info)]
    rng = np.random.default_rng(seed)
    while max_moves is None or len(trace) <= max_moves:
        obs, reward, terminated, _, info = env.step(
            int(rng.choice(np.flatnonzero(info["legal_mask"])))
        )
        trace.append((obs.tobytes(), reward, terminated, info))
        if terminated:
            break
    return trace


def test_openspiel_2048_plays_its_own_chance_to_the_end_reproducibly() -> None:
    env = make_env("openspiel:2048")
    assert (env.obs_shape, env.num_actions, env.two_player) == ((4, 4), 4, False)
    trace = _random_episode("2048", seed=3)
    first = trace[0][3]["chance"]
    assert len(first) == 2 and all("added to row" in c for c in first)  # the first tiles
    assert trace[-1][2] and not trace[-1][3]["legal_mask"].any()
    for _, reward, _, info in trace[1:]:
        assert info["to_play"] == 0 and reward >= 0 and reward % 4 == 0
        assert len(info["chance"]) == 1  # a tile after each move (the last one: then stuck)
    assert sum(r for _, r, _, _ in trace) > 0

    def fingerprint(t: list[tuple]) -> list[tuple]:
        return [(o, r, d, i["chance"]) for o, r, d, i in t]

    assert fingerprint(trace) == fingerprint(_random_episode("2048", seed=3))
    assert fingerprint(trace) != fingerprint(_random_episode("2048", seed=4))


def test_openspiel_2048_illegal_moves_end_the_episode_without_a_loss() -> None:
    env = OpenSpielEnv("2048")
    _, info = env.reset(seed=0)
    illegal = int(np.flatnonzero(~info["legal_mask"])[0]) if not info["legal_mask"].all() else None
    if illegal is None:  # every move legal at this seed's start: play one first
        _, _, _, _, info = env.step(0)
        illegal = int(np.flatnonzero(~info["legal_mask"])[0])
    _, reward, terminated, _, info = env.step(illegal)
    assert (reward, terminated, info["illegal_move"], info["to_play"]) == (0.0, True, True, 0)


def test_backgammon_rolls_its_dice_and_reports_them() -> None:
    env = make_env("openspiel:backgammon")
    assert env.two_player and env.num_actions == 1352
    trace = _random_episode("backgammon", seed=0, max_moves=40)
    assert len(trace) == 41
    (opening,) = trace[0][3]["chance"]
    assert "starts" in opening and "roll" in opening  # who starts, and the first roll
    movers = [trace[0][3]["to_play"]]
    for _, reward, terminated, info in trace[1:]:
        assert reward == 0.0 and not terminated
        if info.get("moved_again"):
            # the second half of a double: the same player again, no new roll
            assert info["chance"] == [] and info["to_play"] == movers[-1]
        else:
            (roll,) = info["chance"]
            assert "roll" in roll and info["to_play"] == 1 - movers[-1]
        movers.append(info["to_play"])
    assert any(i.get("moved_again") for *_, i in trace)  # a double in 40 moves

    def rolls(t: list[tuple]) -> list[list[str]]:
        return [i["chance"] for *_, i in t]

    assert rolls(trace) == rolls(_random_episode("backgammon", seed=0, max_moves=40))
    assert rolls(trace) != rolls(_random_episode("backgammon", seed=1, max_moves=40))


def test_a_copy_draws_its_own_chance_and_leaves_the_original_its_own() -> None:
    def next_tiles(copies: int) -> list[list[str]]:
        env = OpenSpielEnv("2048")
        _, info = env.reset(seed=7)
        tiles = []
        for _ in range(10):
            for _ in range(copies):
                clone = copy.deepcopy(env)
                clone.step(int(np.flatnonzero(clone.legal_mask())[0]))
            _, _, _, _, info = env.step(int(np.flatnonzero(info["legal_mask"])[0]))
            tiles.append(info["chance"])
        return tiles

    assert next_tiles(0) == next_tiles(3)
