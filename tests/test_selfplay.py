"""Self-play: latent bookkeeping of the planner, game records, replay insertion, bootstrap.

The planner is checked with a contract-following stand-in for ``mzero.search``
that expands a random tree (parents drawn among the existing nodes, different
per game) and compares every callback result with a direct unroll of the
network. Integration tests run the Rust search too.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import mzero
from conftest import RunBench
from mzero.config import Config, NetworkConfig, preset
from mzero.envs import make_env
from mzero.errors import InvalidArgumentError
from mzero.networks import MuZeroNetwork, NetworkOutput
from mzero.selfplay import GameRecord, Planner, SelfPlay

torch.set_num_threads(1)


class RandomTreeSearch:
    """A stand-in for ``mzero.search`` that follows the contract's call pattern.

    Simulation k expands node k + 1 of every game under a random existing node with a
    random action, calling ``recurrent_fn`` once for the batch. It records every call.
    """

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.calls: list[dict[str, np.ndarray]] = []
        self.roots: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []

    def __call__(
        self, root_value, root_logits, recurrent_fn, config, legal_mask=None, seed=0, first_game=0
    ):
        batch, actions = root_logits.shape
        self.roots.append((root_value.copy(), root_logits.copy(), legal_mask))
        game = np.arange(batch, dtype=np.int64)
        for k in range(config.num_simulations):
            parent = self.rng.integers(0, k + 1, size=batch).astype(np.int64)
            action = self.rng.integers(0, actions, size=batch).astype(np.int64)
            node = np.full(batch, k + 1, dtype=np.int64)
            reward, value, logits = recurrent_fn(game, parent, action, node)
            assert reward.dtype == value.dtype == logits.dtype == np.float32
            assert reward.shape == value.shape == (batch,) and logits.shape == (batch, actions)
            self.calls.append(
                {"parent": parent, "action": action, "reward": reward, "value": value}
            )
        mask = np.ones((batch, actions), bool) if legal_mask is None else legal_mask
        visits = np.where(mask, self.rng.integers(1, 10, size=(batch, actions)), 0)
        return SimpleNamespace(
            visit_counts=visits.astype(np.int32),
            policy=(visits / visits.sum(1, keepdims=True)).astype(np.float32),
            root_value=root_value.copy(),
            q_values=np.zeros((batch, actions), np.float32),
            action=visits.argmax(1).astype(np.int64),
        )


def sample_visits(
    visit_counts: np.ndarray, temperature: float, rng: np.random.Generator | None = None
):
    """Stand-in for ``mzero.select_action``: the argmax at temperature 0, else a sample
    proportional to N (any positive temperature)."""
    if temperature == 0:
        return visit_counts.argmax(-1).astype(np.int64)
    p = visit_counts / visit_counts.sum(-1, keepdims=True)
    return np.array([rng.choice(len(row), p=row) for row in p], dtype=np.int64)


class RecordingReplay:
    """Keeps every ``add_game`` call."""

    def __init__(self) -> None:
        self.games: list[dict[str, Any]] = []

    def add_game(self, observations, actions, rewards, root_values, policies, **kwargs):
        self.games.append(
            dict(
                observations=observations,
                actions=actions,
                rewards=rewards,
                root_values=root_values,
                policies=policies,
                **kwargs,
            )
        )
        return len(self.games) - 1


@pytest.fixture
def fake_search(monkeypatch: pytest.MonkeyPatch) -> RandomTreeSearch:
    search = RandomTreeSearch()
    monkeypatch.setattr(mzero, "search", search)
    monkeypatch.setattr(mzero, "select_action", sample_visits)
    return search


def search_settings(num_simulations: int) -> SimpleNamespace:
    return SimpleNamespace(num_simulations=num_simulations)


def cartpole_network(stack: int = 1) -> MuZeroNetwork:
    torch.manual_seed(0)
    config = NetworkConfig(kind="mlp", latent_dim=8, hidden=(16,), value_support=5)
    net = MuZeroNetwork((4,), 2, config, frame_stack=stack)
    with torch.no_grad():  # non-zero value and reward heads, so the checks see real numbers
        for param in net.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return net


def tictactoe_network() -> MuZeroNetwork:
    torch.manual_seed(0)
    config = NetworkConfig(kind="resnet", channels=4, blocks=1, head_channels=2, hidden=(8,))
    return MuZeroNetwork((3, 3, 3), 9, config)


def test_planner_gathers_parent_latents_by_node_and_game(fake_search: RandomTreeSearch) -> None:
    net = cartpole_network()
    sims, batch = 12, 5
    planner = Planner(net, search_settings(sims), max_games=8)
    obs = torch.randn(batch, 1, 4).numpy()
    planner.plan(obs, seed=3)

    # replay the recorded tree with direct network calls, one game at a time
    with torch.no_grad():
        root = net.initial_inference(torch.from_numpy(obs))
        root_value, root_logits, _ = fake_search.roots[0]
        np.testing.assert_allclose(root_value, root.value.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(root_logits, root.policy_logits.numpy(), rtol=1e-5, atol=1e-6)
        for g in range(batch):
            latents = {0: root.latent[g : g + 1]}
            for k, call in enumerate(fake_search.calls):
                parent, action = int(call["parent"][g]), int(call["action"][g])
                out = net.recurrent_inference(latents[parent], torch.tensor([action]))
                latents[k + 1] = out.latent
                assert call["reward"][g] == pytest.approx(out.reward.item(), rel=1e-5, abs=1e-6)
                assert call["value"][g] == pytest.approx(out.value.item(), rel=1e-5, abs=1e-6)
    assert len(fake_search.calls) == sims


def test_planner_restores_the_training_mode_and_checks_the_batch(
    fake_search: RandomTreeSearch,
) -> None:
    net = tictactoe_network().train()
    planner = Planner(net, search_settings(3), max_games=2)
    obs = np.zeros((2, 1, 3, 3, 3), np.float32)
    planner.plan(obs, np.ones((2, 9), bool))
    assert net.training
    with pytest.raises(mzero.InvalidArgumentError, match="observations: expected 1 to 2 games"):
        planner.plan(np.zeros((3, 1, 3, 3, 3), np.float32))


def test_game_record_stacks_frames_repeating_the_first() -> None:
    frames = [np.full(2, i, np.float32) for i in range(3)]
    game = GameRecord(observations=frames[:1], legal_mask=np.ones(2, bool))
    assert game.stacked(3).tolist() == [[0, 0], [0, 0], [0, 0]]
    game.observations += frames[1:]
    assert game.stacked(2).tolist() == [[1, 1], [2, 2]]


def small_config(name: str, num_envs: int, sims: int = 4) -> Config:
    config = preset(name)
    config.train.num_envs = num_envs
    config.search.num_simulations = sims
    return config


def test_cartpole_games_reach_the_replay_whole(fake_search: RandomTreeSearch) -> None:
    config = small_config("cartpole", num_envs=3)
    replay = RecordingReplay()
    play = SelfPlay(cartpole_network(), config, replay, seed=0)
    finished = []
    while len(finished) < 4:
        finished += play.step(temperature=1.0)
    assert play.env_steps % 3 == 0 and play.env_steps >= sum(s.length for s in finished)
    assert len(replay.games) == len(finished)
    for game, stats in zip(replay.games, finished, strict=True):
        length = len(game["actions"])
        assert length == stats.length and stats.terminated and game["terminated"]
        assert game["observations"].shape == (length + 1, 4)
        assert game["observations"].dtype == np.float32
        assert game["actions"].dtype == np.int64
        assert game["rewards"].tolist() == [1.0] * length
        assert stats.episode_return == length
        assert game["policies"].shape == (length, 2)
        np.testing.assert_allclose(game["policies"].sum(1), 1.0, rtol=1e-6)
        assert game["bootstrap_value"] == 0.0
        # the recorded observations are the environment's: replaying the actions from
        # the first observation (CartPole is deterministic given its state) reproduces them
        env = make_env("CartPole-v1")
        env.reset()
        env.env.unwrapped.state = game["observations"][0].astype(np.float64)
        for t, action in enumerate(game["actions"]):
            step = env.step(int(action))
            np.testing.assert_allclose(step.observation, game["observations"][t + 1], rtol=1e-5)
        assert step.terminated


def test_truncated_games_bootstrap_from_the_network_value(fake_search: RandomTreeSearch) -> None:
    config = small_config("cartpole", num_envs=2)
    config.env.max_episode_steps = 3
    replay = RecordingReplay()
    net = cartpole_network()
    play = SelfPlay(net, config, replay, seed=1)
    finished = []
    while not finished:
        finished = play.step(temperature=1.0)
    truncated = [g for g in replay.games if not g["terminated"]]
    assert truncated  # CartPole does not fall within 3 steps
    for game in truncated:
        assert len(game["actions"]) == 3
        with torch.no_grad():
            last = torch.from_numpy(game["observations"][-1][None, None])
            expected = net.eval().initial_inference(last).value.item()
        assert game["bootstrap_value"] == pytest.approx(expected, rel=1e-5, abs=1e-6)
        assert game["bootstrap_value"] != 0.0


def play_games(config: Config, net: MuZeroNetwork, episodes: int, monkeypatch) -> tuple:
    """``episodes`` finished games of one slot's self-play (a fresh stand-in search)."""
    monkeypatch.setattr(mzero, "search", RandomTreeSearch(seed=3))
    replay = RecordingReplay()
    play = SelfPlay(net, config, replay, seed=5)
    finished = []
    while len(finished) < episodes:
        finished += play.step(temperature=1.0)
    return finished, replay.games


def random_game(
    rng: np.random.Generator, moves: int, num_actions: int, terminated: bool
) -> dict[str, Any]:
    """The ``add_game`` arguments of a random game with observations ``[2]``."""
    policies = rng.random((moves, num_actions)).astype(np.float32) + 0.05
    legal = rng.random((moves, num_actions)) < 0.7
    legal[:, 0] = True
    return {
        "observations": rng.normal(size=(moves + 1, 2)).astype(np.float32),
        "actions": rng.integers(0, num_actions, moves),
        "rewards": rng.normal(size=moves).astype(np.float32),
        "root_values": rng.normal(size=moves).astype(np.float32),
        "policies": policies / policies.sum(1, keepdims=True),
        "terminated": terminated,
        "bootstrap_value": 0.0 if terminated else float(rng.normal()),
        "legal_masks": legal,
    }


def cut_like_selfplay(
    whole: dict[str, Any], length: int, carry: int, history: int
) -> list[tuple[int, dict[str, Any]]]:
    """``whole`` played move by move into a :class:`GameRecord` and cut as self-play cuts
    it: each stored piece with the game's position of its first stored position."""
    moves = len(whole["actions"])
    record = GameRecord(observations=[whole["observations"][0]], legal_mask=whole["legal_masks"][0])
    pieces = []

    def keep(cut: list[dict[str, Any]], first_move: int, unstored: int) -> None:
        for i, piece in enumerate(cut):
            start = unstored + i * length  # the record's position of the piece's segment
            offset = 0 if piece["segment"] is None else start - piece["segment"][0]
            pieces.append((first_move + offset, piece))

    for t in range(moves):
        record.actions.append(int(whole["actions"][t]))
        record.rewards.append(float(whole["rewards"][t]))
        record.root_values.append(float(whole["root_values"][t]))
        record.policies.append(whole["policies"][t])
        record.legal_masks.append(whole["legal_masks"][t])
        record.observations.append(whole["observations"][t + 1])
        if t + 1 < moves:
            first_move, unstored = record.first_move, record.unstored
            keep(record.ready_segments(length, carry, history), first_move, unstored)
            assert len(record.actions) <= history + length + carry + 1  # the record stays short
    first_move, unstored = record.first_move, record.unstored
    terminated, bootstrap = whole["terminated"], whole["bootstrap_value"]
    keep(record.final_segments(length, carry, history, terminated, bootstrap), first_move, unstored)
    return pieces


def rows_by_position(batch: Any, offsets: dict[int, int]) -> dict[int, int]:
    """The first row of ``batch`` at each position of the whole game."""
    rows: dict[int, int] = {}
    for b, (game, t) in enumerate(zip(batch.game_id, batch.position, strict=True)):
        rows.setdefault(offsets[int(game)] + int(t), b)
    return rows


@settings(max_examples=80, deadline=None)
@given(
    moves=st.integers(1, 40),
    length=st.integers(1, 9),
    td_steps=st.integers(0, 6),
    unroll_steps=st.integers(0, 4),
    stack=st.integers(1, 3),
    two_player=st.booleans(),
    terminated=st.booleans(),
    discount=st.sampled_from([1.0, 0.9]),
    seed=st.integers(0, 2**16),
)
def test_a_segmented_game_has_the_whole_games_targets(
    moves, length, td_steps, unroll_steps, stack, two_player, terminated, discount, seed
) -> None:
    """Every (t, k) target of every sampled position of the stored segments, with and
    without the reanalysis fields, equals the whole game's (docs/design.md, "Segments")."""
    rng = np.random.default_rng(seed)
    num_actions = 3
    carry, history = td_steps + unroll_steps, stack - 1
    whole = random_game(rng, moves, num_actions, terminated)
    pieces = cut_like_selfplay(whole, length, carry, history)
    kwargs = {
        "capacity": 10_000,
        "obs_shape": (2,),
        "num_actions": num_actions,
        "unroll_steps": unroll_steps,
        "td_steps": td_steps,
        "discount": discount,
        "two_player": two_player,
        "stack": stack,
    }
    reference = mzero.ReplayBuffer(**kwargs)
    reference.add_game(**whole)
    segmented = mzero.ReplayBuffer(**kwargs)
    offsets = {segmented.add_game(**piece): offset for offset, piece in pieces}
    # every position is sampled from exactly one segment, in order
    sampled = [
        range(o + p["segment"][0], o + p["segment"][1])
        if p["segment"]
        else range(o, o + len(p["actions"]))
        for o, p in pieces
    ]
    assert [t for r in sampled for t in r] == list(range(moves))
    assert segmented.positions == moves

    draws = 40 * moves
    for reanalysis in (False, True):
        expected = reference.sample(draws, 0, next_observations=True, reanalysis=reanalysis)
        got = segmented.sample(draws, 1, next_observations=True, reanalysis=reanalysis)
        want = rows_by_position(expected, {0: 0})
        assert sorted(want) == list(range(moves))
        for position, b in rows_by_position(got, offsets).items():
            w = want[position]
            alive = got.mask[b] == 1
            for name in ("target_value", "target_reward", "target_policy", "mask"):
                np.testing.assert_array_equal(getattr(got, name)[b], getattr(expected, name)[w])
            np.testing.assert_array_equal(got.observation[b], expected.observation[w])
            np.testing.assert_array_equal(got.next_observation[b], expected.next_observation[w])
            np.testing.assert_array_equal(
                got.actions[b][alive[:-1]], expected.actions[w][alive[:-1]]
            )
            if not alive.all():  # past the end: absorbing or unknown as the game ended
                assert got.terminated[b] == expected.terminated[w]
            if reanalysis:
                offset = offsets[int(got.game_id[b])]
                bootstrap = got.bootstrap_position[b]
                np.testing.assert_array_equal(
                    np.where(bootstrap >= 0, bootstrap + offset, -1), expected.bootstrap_position[w]
                )
                for name in ("reward_sum", "bootstrap_discount", "legal_mask"):
                    np.testing.assert_array_equal(getattr(got, name)[b], getattr(expected, name)[w])
                np.testing.assert_array_equal(
                    got.bootstrap_observation[b], expected.bootstrap_observation[w]
                )


@pytest.mark.parametrize("name", ["cartpole", "tictactoe"])
def test_segments_hold_the_games_played_whole(
    name: str, fake_search: RandomTreeSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one game slot, so that the replay sees one game's segments in order; CartPole
    # truncated at 11 moves, TicTacToe with the temperature drop after 3 moves (a
    # segment must count the moves of the whole game)
    config = small_config(name, num_envs=1)
    config.train.td_steps, config.train.unroll_steps = 2, 1
    if name == "cartpole":
        config.env.max_episode_steps = 11
        net, length, episodes = cartpole_network(), 4, 6
    else:
        config.train.temperature_moves = 3
        net, length, episodes = tictactoe_network(), 2, 8
    whole_stats, whole = play_games(config, net, episodes, monkeypatch)
    config.train.segment_length = length
    config.validate()
    cut_stats, segments = play_games(config, net, episodes, monkeypatch)

    assert cut_stats == whole_stats  # the same games, returns, lengths and ends
    assert len(segments) > len(whole)
    carry = 3
    start = 0
    for game in whole:
        moves = len(game["actions"])
        pieces = segments[start : start + -(-moves // length)]
        start += len(pieces)
        for i, piece in enumerate(pieces):
            # positions i L .. (i+1) L - 1 sampled, stored up to `carry` moves further
            first, stop = i * length, min((i + 1) * length, moves)
            cut = min(stop + carry, moves)
            assert piece["segment"] in ((0, stop - first), None)
            for key in ("actions", "rewards", "root_values", "policies", "legal_masks"):
                np.testing.assert_array_equal(piece[key], game[key][first:cut])
            np.testing.assert_array_equal(
                piece["observations"], game["observations"][first : cut + 1]
            )
            if cut == moves:  # the piece reaches the end of the game
                assert piece["terminated"] == game["terminated"]
                assert piece["bootstrap_value"] == pytest.approx(game["bootstrap_value"], abs=1e-6)
            else:  # cut where no sampled target reaches: the search value there
                assert not piece["terminated"]
                assert piece["bootstrap_value"] == pytest.approx(game["root_values"][cut])
    assert start == len(segments)


def test_segments_carry_the_frames_their_stacks_need(fake_search: RandomTreeSearch) -> None:
    config = small_config("cartpole", num_envs=1)
    config.env.frame_stack = 3
    config.env.max_episode_steps = 12
    config.train.segment_length, config.train.td_steps, config.train.unroll_steps = 4, 2, 1
    config.validate()
    replay = RecordingReplay()
    play = SelfPlay(cartpole_network(stack=3), config, replay, seed=0)
    while len(replay.games) < 3:
        play.step(temperature=1.0)
    first, second = replay.games[:2]
    assert first["segment"] == (0, 4) and second["segment"] == (2, 6)  # 2 frames before
    np.testing.assert_array_equal(second["observations"][:3], first["observations"][2:5])


def test_segment_length_must_be_positive() -> None:
    config = preset("cartpole")
    config.train.segment_length = 0
    with pytest.raises(InvalidArgumentError, match=r"train\.segment_length"):
        config.validate()
    config.train.segment_length = 50
    config.env.frame_stack = 4
    config.validate()  # segments carry the frames before them


def test_frame_stacking_feeds_the_last_frames(fake_search: RandomTreeSearch) -> None:
    config = small_config("cartpole", num_envs=2)
    config.env.frame_stack = 3
    play = SelfPlay(cartpole_network(stack=3), config, RecordingReplay(), seed=0)
    play.step(1.0)
    play.step(1.0)
    root_value, _, _ = fake_search.roots[-1]
    # the second search saw o_0, o_1: stacked as [o_0, o_0, o_1]
    o = play.games[0].observations
    expected = np.stack([o[0], o[0], o[1]])
    with torch.no_grad():
        value = play.planner.network.initial_inference(torch.from_numpy(expected[None])).value
    assert root_value[0] == pytest.approx(value.item(), rel=1e-5, abs=1e-6)


def test_tictactoe_self_play_respects_legal_moves(fake_search: RandomTreeSearch) -> None:
    config = small_config("tictactoe", num_envs=4)
    replay = RecordingReplay()
    play = SelfPlay(tictactoe_network(), config, replay, seed=0)
    assert play.two_player
    finished = []
    while len(finished) < 6:
        finished += play.step(temperature=1.0)
    for _, _, legal_mask in fake_search.roots:
        assert legal_mask is not None and legal_mask.shape == (4, 9)
    for game, stats in zip(replay.games, finished, strict=True):
        actions = game["actions"].tolist()
        assert len(set(actions)) == len(actions)  # no cell played twice
        assert 5 <= len(actions) <= 9
        assert set(game["rewards"][:-1].tolist()) <= {0.0}
        assert game["rewards"][-1] in (0.0, 1.0)
        if game["rewards"][-1] == 1.0:  # the last mover won
            assert stats.episode_return == (1.0 if len(actions) % 2 == 1 else -1.0)
        assert game["terminated"]
        # a policy never puts mass on an occupied cell
        for t, policy in enumerate(game["policies"]):
            assert policy[actions[:t]].sum() == 0


def test_self_play_with_the_rust_search() -> None:
    config = small_config("tictactoe", num_envs=3, sims=8)
    replay = RecordingReplay()
    play = SelfPlay(tictactoe_network(), config, replay, seed=0)
    finished = []
    while len(finished) < 3:
        finished += play.step(temperature=1.0)
    for game in replay.games:
        actions = game["actions"].tolist()
        assert len(set(actions)) == len(actions)
        np.testing.assert_allclose(game["policies"].sum(1), 1.0, rtol=1e-5)


def test_temperature_moves_plays_the_most_visited_action_after_the_drop() -> None:
    config = small_config("tictactoe", num_envs=4, sims=16)
    config.train.temperature_moves = 2
    replay = RecordingReplay()
    play = SelfPlay(tictactoe_network(), config, replay, seed=0)
    while len(replay.games) < 12:
        play.step(temperature=1.0)
    sampled_off_argmax = 0
    for game in replay.games:
        # the search policy is the visit distribution: its argmax (lowest index on
        # ties) is the most-visited action
        most_visited = game["policies"].argmax(1)
        actions = game["actions"]
        np.testing.assert_array_equal(actions[2:], most_visited[2:])
        sampled_off_argmax += int((actions[:2] != most_visited[:2]).sum())
    assert sampled_off_argmax > 0  # the first two moves are sampled at temperature 1


def test_bench_selfplay_quick_writes_its_json(run_bench: RunBench) -> None:
    _, report = run_bench("bench_selfplay.py", "--quick")
    assert report["benchmark"] == "selfplay" and report["env"] == "CartPole-v1"
    rows = report["results"]
    assert [(row["B"], row["pipeline"]) for row in rows] == [(1, 1), (1, 2), (4, 1), (4, 2)]
    assert [row["groups"] for row in rows] == [1, 1, 1, 2]  # never more groups than games
    for row in rows:
        assert row["env_steps_per_s_median"] > 0
        assert row["simulations_per_s_median"] == pytest.approx(8 * row["env_steps_per_s_median"])
        assert 0 < row["network_busy_median"] <= 1
        # thread-seconds: one group cannot be in the network longer than the wall time
        if row["groups"] == 1:
            assert row["network_busy_median"] == pytest.approx(row["inference_share_median"])
        for share in ("inference_share_median", "tree_share_median", "env_share_median"):
            assert 0 < row[share] <= row["groups"]
        assert row["speedup_over_pipeline_1"] > 0
        assert row["num_simulations"] == 8 and row["steps_per_repeat"] == 2
        assert len(row["env_steps_per_s"]) == 2
        # 2 warm-up + 2 x 2 timed self-play steps: no CartPole game ends that early (a pole
        # pushed one way from the worst start falls after 8 steps), so none reaches the replay
        assert row["replay_transitions"] == 0


def test_self_play_games_train_through_the_rust_replay_buffer(
    fake_search: RandomTreeSearch,
) -> None:
    from mzero.networks import TrainingBatch, muzero_loss

    config = small_config("tictactoe", num_envs=4)
    net = tictactoe_network()
    replay = mzero.ReplayBuffer(
        1000, (3, 3, 3), 9, unroll_steps=3, td_steps=9, discount=1.0, two_player=True
    )
    play = SelfPlay(net, config, replay, seed=0)
    finished = []
    while len(finished) < 4:
        finished += play.step(temperature=1.0)
    assert len(replay) == sum(s.length for s in finished)
    sample = replay.sample(16, 0)
    batch = TrainingBatch.from_sample(sample)
    assert batch.observation.shape == (16, 1, 3, 3, 3)
    out = muzero_loss(net, batch)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert out.priorities.shape == (16,)
    raw = out.priorities.detach().numpy()
    assert np.all(np.isfinite(raw)) and np.all(raw >= 0)  # |v - z|, which may be 0
    priorities = raw + 1e-6  # as the learner does: priorities must be > 0
    replay.update_priorities(sample.index, priorities)
    index, stored = replay.priorities()
    written = dict(zip(sample.index.tolist(), priorities.tolist(), strict=True))  # last wins
    stored_by_index = dict(zip(index.tolist(), stored.tolist(), strict=True))
    for i, p in written.items():
        assert stored_by_index[i] == pytest.approx(p, rel=1e-6)
    # a priority of exactly 0 (a perfect value prediction) is refused, which the epsilon avoids
    with pytest.raises(mzero.InvalidArgumentError, match="priorities"):
        replay.update_priorities(sample.index[:1], np.zeros(1, np.float32))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_self_play_on_cuda_keeps_latents_on_the_device() -> None:
    config = small_config("cartpole", num_envs=4, sims=8)
    net = cartpole_network().to("cuda")
    replay = RecordingReplay()
    play = SelfPlay(net, config, replay, seed=0)
    assert play.planner.latent.device.type == "cuda"
    while not replay.games:
        play.step(temperature=1.0)
    game = replay.games[0]
    assert game["observations"].shape[0] == len(game["actions"]) + 1
    np.testing.assert_allclose(game["policies"].sum(1), 1.0, rtol=1e-5)


# ---------------------------------------------------------------------------
# Game groups in flight (train.pipeline)
# ---------------------------------------------------------------------------


class RowByRow(MuZeroNetwork):
    """Infers each game alone, so that a game's outputs cannot depend on the batch.

    Torch's CPU matrix kernels round differently for different batch sizes (1e-7
    here), and a search can turn such a difference into another visit count: with this
    network, a game group of 3 and the whole batch of 7 see bit-identical model outputs.
    """

    def initial_inference(
        self, obs: torch.Tensor, stack_actions: torch.Tensor | None = None
    ) -> NetworkOutput:
        return _cat(
            [
                MuZeroNetwork.initial_inference(
                    self,
                    obs[i : i + 1],
                    None if stack_actions is None else stack_actions[i : i + 1],
                )
                for i in range(len(obs))
            ]
        )

    def recurrent_inference(self, latent: torch.Tensor, action: torch.Tensor) -> NetworkOutput:
        rows = [
            MuZeroNetwork.recurrent_inference(self, latent[i : i + 1], action[i : i + 1])
            for i in range(len(latent))
        ]
        return _cat(rows)


def _cat(rows: list[NetworkOutput]) -> NetworkOutput:
    return NetworkOutput(
        *(None if parts[0] is None else torch.cat(parts) for parts in zip(*rows, strict=True))
    )


def _row_by_row_network() -> MuZeroNetwork:
    config = NetworkConfig(
        kind="mlp", latent_dim=8, hidden=(16,), value_support=5, inference="eager"
    )
    net = RowByRow((4,), 2, config)
    net.load_state_dict(cartpole_network().state_dict())
    return net


def _play_games(
    config: Config, net: MuZeroNetwork, steps: int, temperature: float
) -> list[dict[str, Any]]:
    replay = RecordingReplay()
    play = SelfPlay(net, config, replay, seed=7)
    for _ in range(steps):
        play.step(temperature=temperature)
    play.close()
    return replay.games


@pytest.mark.parametrize(("algorithm", "temperature"), [("muzero", 1.0), ("gumbel", 1.0)])
def test_game_groups_play_exactly_the_games_of_one_batched_search(algorithm, temperature) -> None:
    # Root noise on (Dirichlet for PUCT, Gumbel for Gumbel MuZero): each game's search
    # depends on the step's seed and on the game's index in the population, which the
    # groups pass as first_game; PUCT samples its moves with its share of one draw.
    config = small_config("cartpole", num_envs=7, sims=8)
    config.search.algorithm = algorithm
    config.search.dirichlet_fraction = 0.25 if algorithm == "muzero" else 0.0
    net = _row_by_row_network()
    reference = None
    for pipeline in (1, 2, 3):
        config.train.pipeline = pipeline
        games = _play_games(config, net, steps=40, temperature=temperature)
        assert len(games) >= 5
        if reference is None:
            reference = games
            continue
        assert len(games) == len(reference)
        for game, ref in zip(games, reference, strict=True):
            np.testing.assert_array_equal(game["actions"], ref["actions"])
            np.testing.assert_array_equal(game["observations"], ref["observations"])
            np.testing.assert_array_equal(game["policies"], ref["policies"])
            np.testing.assert_array_equal(game["root_values"], ref["root_values"])
            assert game["bootstrap_value"] == ref["bootstrap_value"]


def test_pipeline_groups_split_the_games_into_contiguous_ranges() -> None:
    from mzero.selfplay import AUTO_PIPELINE_MIN_GAMES, pipeline_groups

    assert pipeline_groups(7, 1) == [range(0, 7)]
    assert pipeline_groups(7, 2) == [range(0, 4), range(4, 7)]
    assert pipeline_groups(7, 3) == [range(0, 2), range(2, 5), range(5, 7)]
    assert pipeline_groups(2, 4) == [range(0, 1), range(1, 2)]  # never an empty group
    assert len(pipeline_groups(AUTO_PIPELINE_MIN_GAMES - 1, None)) == 1
    assert len(pipeline_groups(AUTO_PIPELINE_MIN_GAMES, None)) == 2


def test_an_error_in_a_game_group_reaches_the_caller() -> None:
    config = small_config("cartpole", num_envs=4, sims=4)
    config.train.pipeline = 2

    class BrokenEnvError(RuntimeError):
        pass

    play = SelfPlay(cartpole_network(), config, RecordingReplay(), seed=0)

    def explode(action: int) -> Any:
        raise BrokenEnvError("env step failed")

    play.envs[3].step = explode  # type: ignore[method-assign]
    with pytest.raises(BrokenEnvError, match="env step failed"):
        play.step(temperature=1.0)
    play.close()


def test_self_play_counts_where_its_time_goes() -> None:
    config = small_config("cartpole", num_envs=6, sims=5)
    config.train.pipeline = 2
    play = SelfPlay(cartpole_network(), config, RecordingReplay(), seed=0)
    for _ in range(3):
        play.step(temperature=1.0)
    counts = play.throughput.take()
    assert counts.env_steps == 18 and counts.simulations == 18 * 5
    assert counts.wall_s > 0 and counts.inference_s > 0 and counts.tree_s > 0
    assert counts.env_s > 0
    # the union of the two groups' network calls: no longer than their sum or the wall
    assert 0 < counts.network_busy_s <= min(counts.inference_s, counts.wall_s) + 1e-9
    assert play.throughput.take().env_steps == 0  # take() starts again from zero
    play.close()
