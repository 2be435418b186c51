"""mzero.ReplayBuffer against a plain-Python transcription of the Replay contract."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field, fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mzero
from mzero import ReplayBuffer, SampleBatch

# --------------------------------------------------------------------------- #
# Games and the reference implementation                                      #
# --------------------------------------------------------------------------- #


@dataclass
class Game:
    """One game as the test keeps it (the arguments of add_game)."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    root_values: np.ndarray
    policies: np.ndarray
    terminated: bool = True
    bootstrap_value: float = 0.0
    priorities: np.ndarray | None = None
    legal_masks: np.ndarray | None = None

    @property
    def steps(self) -> int:
        return len(self.actions)

    def add_to(self, buf: ReplayBuffer) -> int:
        return buf.add_game(
            self.observations,
            self.actions,
            self.rewards,
            self.root_values,
            self.policies,
            terminated=self.terminated,
            bootstrap_value=self.bootstrap_value,
            priorities=self.priorities,
            legal_masks=self.legal_masks,
        )


def action_before(game: Game, frame: int) -> int:
    """The action that led to ``o_frame``: ``a_{frame-1}``, -1 for ``o_0``."""
    return -1 if frame == 0 else int(game.actions[frame - 1])


def make_game(
    rng: np.random.Generator,
    steps: int,
    obs_shape: tuple[int, ...] = (4,),
    num_actions: int = 2,
    dtype: str = "float32",
    terminated: bool = True,
    bootstrap_value: float = 0.0,
    priorities: np.ndarray | None = None,
) -> Game:
    shape = (steps + 1, *obs_shape)
    if dtype == "uint8":
        observations = rng.integers(0, 256, size=shape, dtype=np.uint8)
    else:
        observations = rng.normal(size=shape).astype(np.float32)
    policies = rng.random((steps, num_actions)) + 0.01
    return Game(
        observations=observations,
        actions=rng.integers(0, num_actions, size=steps, dtype=np.int64),
        rewards=rng.normal(size=steps).astype(np.float32),
        root_values=rng.normal(size=steps).astype(np.float32),
        policies=(policies / policies.sum(axis=1, keepdims=True)).astype(np.float32),
        terminated=terminated,
        bootstrap_value=bootstrap_value,
        priorities=priorities,
    )


@dataclass
class Reference:
    """The Replay contract in plain Python: storage, eviction, priorities, targets."""

    capacity: int
    num_actions: int
    unroll_steps: int = 5
    td_steps: int = 10
    discount: float = 0.997
    two_player: bool = False
    alpha: float = 0.0
    beta: float = 1.0
    stack: int = 1
    games: dict[int, Game] = field(default_factory=dict)
    first: dict[int, int] = field(default_factory=dict)
    stored: deque[int] = field(default_factory=deque)
    priority: dict[int, float] = field(default_factory=dict)
    next_index: int = 0

    @property
    def max_priority(self) -> float:
        """The largest stored priority (EfficientZero), 1 when empty."""
        return max(self.priority.values(), default=1.0)

    def add(self, game_id: int, game: Game) -> None:
        while sum(self.games[g].steps for g in self.stored) + game.steps > self.capacity:
            old = self.stored.popleft()
            for i in range(self.first[old], self.first[old] + self.games[old].steps):
                del self.priority[i]
        given = game.priorities
        default = self.max_priority
        for t in range(game.steps):
            p = float(given[t]) if given is not None else default
            self.priority[self.next_index + t] = p
        self.games[game_id] = game
        self.first[game_id] = self.next_index
        self.stored.append(game_id)
        self.next_index += game.steps

    def value_at(self, game: Game, p: int) -> float:
        """v_p: the root value, the bootstrap value at the end of a truncated game, else 0."""
        if p < game.steps:
            return float(game.root_values[p])
        return 0.0 if game.terminated else float(game.bootstrap_value)

    def value(self, game: Game, t: int) -> float:
        """z_t as the return of the game cut n steps after t, computed backwards.

        The cut game ends at c = min(t + n, T) with the terminal value v_c; its return
        from t is G_t = u_{t+1} + g G_{t+1}, G_c = v_c (no closed form, no powers).
        """
        g = -self.discount if self.two_player else self.discount
        cut = min(t + self.td_steps, game.steps)
        ret = self.value_at(game, cut)
        for j in range(cut - 1, t - 1, -1):
            ret = float(game.rewards[j]) + g * ret
        return ret

    def probability(self, index: int) -> float:
        masses = {i: p**self.alpha for i, p in self.priority.items()}
        return masses[index] / sum(masses.values())

    def check(self, batch: SampleBatch, batch_size: int) -> None:
        """Asserts that every row of `batch` follows the contract."""
        k_steps, a = self.unroll_steps, self.num_actions
        obs_shape = self.games[self.stored[0]].observations.shape[1:]
        obs_dtype = self.games[self.stored[0]].observations.dtype
        expected_shapes = {
            "observation": (batch_size, self.stack, *obs_shape),
            "actions": (batch_size, k_steps),
            "target_value": (batch_size, k_steps + 1),
            "target_reward": (batch_size, k_steps + 1),
            "target_policy": (batch_size, k_steps + 1, a),
            "mask": (batch_size, k_steps + 1),
            "terminated": (batch_size,),
            "weight": (batch_size,),
            "game_id": (batch_size,),
            "position": (batch_size,),
            "index": (batch_size,),
        }
        dtypes = {"observation": obs_dtype, "actions": np.int64, "game_id": np.int64}
        dtypes |= {"position": np.int64, "index": np.int64, "next_observation": obs_dtype}
        dtypes |= {"terminated": np.bool_, "bootstrap_observation": obs_dtype}
        dtypes |= {"bootstrap_position": np.int64, "legal_mask": np.bool_}
        expected_shapes["next_observation"] = (batch_size, k_steps, self.stack, *obs_shape)
        expected_shapes["bootstrap_observation"] = (batch_size, k_steps + 1, self.stack, *obs_shape)
        for name in ("bootstrap_position", "reward_sum", "bootstrap_discount"):
            expected_shapes[name] = (batch_size, k_steps + 1)
        expected_shapes["legal_mask"] = (batch_size, k_steps + 1, a)
        expected_shapes["observation_actions"] = (batch_size, self.stack)
        expected_shapes["next_observation_actions"] = (batch_size, k_steps, self.stack)
        expected_shapes["bootstrap_observation_actions"] = (batch_size, k_steps + 1, self.stack)
        for name in ("observation_actions", "next_observation_actions"):
            dtypes[name] = np.int64
        dtypes["bootstrap_observation_actions"] = np.int64
        reanalysis = batch.bootstrap_position is not None
        for f in fields(SampleBatch):
            array = getattr(batch, f.name)
            if array is None and f.default is None:
                continue
            assert array.shape == expected_shapes[f.name], f.name
            assert array.dtype == dtypes.get(f.name, np.float32), f.name
            assert array.flags.c_contiguous and array.flags.writeable, f.name

        n = len(self.priority)
        raw = []
        for b in range(batch_size):
            gid, t = int(batch.game_id[b]), int(batch.position[b])
            assert gid in self.stored, f"row {b}: game {gid} is not stored"
            game = self.games[gid]
            steps = game.steps
            assert 0 <= t < steps
            assert batch.index[b] == self.first[gid] + t
            assert batch.terminated[b] == game.terminated
            for k in range(k_steps + 1):
                alive = t + k < steps
                if reanalysis:
                    self.check_reanalysis(batch, b, k, game, t)
                assert batch.mask[b, k] == (1.0 if alive else 0.0)
                value = self.value(game, t + k) if alive else 0.0
                assert math.isclose(batch.target_value[b, k], value, rel_tol=1e-5, abs_tol=1e-5), (
                    f"row {b} k {k}: {batch.target_value[b, k]} vs {value}"
                )
                reward = game.rewards[t + k - 1] if k >= 1 and t + k <= steps else 0.0
                assert batch.target_reward[b, k] == reward
                policy = game.policies[t + k] if alive else np.zeros(a, np.float32)
                np.testing.assert_array_equal(batch.target_policy[b, k], policy)
            for k in range(k_steps):
                if t + k < steps:
                    assert batch.actions[b, k] == game.actions[t + k]
                else:
                    assert 0 <= batch.actions[b, k] < a
            for s in range(self.stack):
                frame = max(0, t - (self.stack - 1 - s))
                np.testing.assert_array_equal(batch.observation[b, s], game.observations[frame])
                assert batch.observation_actions[b, s] == action_before(game, frame)
            if batch.next_observation is not None:
                for k in range(1, k_steps + 1):
                    end = min(t + k, steps)  # o_T past the end
                    for s in range(self.stack):
                        frame = max(0, end - (self.stack - 1 - s))
                        np.testing.assert_array_equal(
                            batch.next_observation[b, k - 1, s], game.observations[frame]
                        )
                        before = action_before(game, frame)
                        assert batch.next_observation_actions[b, k - 1, s] == before
            raw.append((n * self.probability(int(batch.index[b]))) ** -self.beta)
        np.testing.assert_allclose(batch.weight, np.array(raw) / max(raw), rtol=1e-5)

    def check_reanalysis(self, batch: SampleBatch, b: int, k: int, game: Game, t: int) -> None:
        """Row (b, k) of the reanalysis fields: the cut, its stack, the parts of z."""
        steps, position = game.steps, t + k
        cut = min(position + self.td_steps, steps)
        bootstraps = position < steps and (cut < steps or not game.terminated)
        assert batch.bootstrap_position[b, k] == (cut if bootstraps else -1)
        v = self.value_at(game, cut) if bootstraps else 0.0
        recombined = batch.reward_sum[b, k] + batch.bootstrap_discount[b, k] * v
        expected = self.value(game, position) if position < steps else 0.0
        assert math.isclose(recombined, expected, rel_tol=1e-5, abs_tol=1e-5), (b, k)
        end = cut if bootstraps else steps
        for s in range(self.stack):
            frame = max(0, end - (self.stack - 1 - s))
            np.testing.assert_array_equal(
                batch.bootstrap_observation[b, k, s], game.observations[frame]
            )
            assert batch.bootstrap_observation_actions[b, k, s] == action_before(game, frame)
        legal = (
            game.legal_masks[position]
            if game.legal_masks is not None and position < steps
            else True
        )
        np.testing.assert_array_equal(
            batch.legal_mask[b, k], np.broadcast_to(legal, batch.legal_mask[b, k].shape)
        )


# --------------------------------------------------------------------------- #
# Targets                                                                     #
# --------------------------------------------------------------------------- #


@st.composite
def setups(draw: st.DrawFn) -> tuple[dict, list[dict], int]:
    lengths = draw(st.lists(st.integers(1, 12), min_size=1, max_size=6))
    config = {
        "capacity": draw(st.integers(max(lengths), sum(lengths) + 3)),
        "obs_shape": draw(st.sampled_from([(), (3,), (2, 2)])),
        "num_actions": draw(st.integers(1, 4)),
        "unroll_steps": draw(st.integers(0, 5)),
        "td_steps": draw(st.integers(0, 6)),
        "discount": draw(st.sampled_from([1.0, 0.997, 0.5, 0.0])),
        "two_player": draw(st.booleans()),
        "alpha": draw(st.sampled_from([0.0, 0.6, 1.0])),
        "beta": draw(st.sampled_from([0.0, 0.4, 1.0])),
        "stack": draw(st.integers(1, 4)),
    }
    games = [
        {
            "steps": steps,
            "terminated": draw(st.booleans()),
            "bootstrap_value": draw(st.floats(-5, 5, width=32)),
            "prioritized": draw(st.booleans()),
            "legal": draw(st.booleans()),
        }
        for steps in lengths
    ]
    return config, games, draw(st.integers(0, 2**32))


@settings(max_examples=150, deadline=None)
@given(setup=setups(), dtype=st.sampled_from(["float32", "uint8"]))
def test_every_sampled_target_follows_the_formulas(setup, dtype: str) -> None:
    config, specs, seed = setup
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(**config)
    ref = Reference(**{k: v for k, v in config.items() if k != "obs_shape"})
    for i, spec in enumerate(specs):
        steps = spec["steps"]
        priorities = rng.uniform(0.1, 5, steps).astype(np.float32) if spec["prioritized"] else None
        game = make_game(
            rng,
            steps,
            config["obs_shape"],
            config["num_actions"],
            dtype,
            spec["terminated"],
            spec["bootstrap_value"],
            priorities,
        )
        if spec["legal"]:
            legal = rng.random((steps, config["num_actions"])) < 0.5
            legal[np.arange(steps), game.actions] = True
            game.legal_masks = legal
        assert game.add_to(buf) == i
        ref.add(i, game)
        assert len(buf) == len(ref.priority) <= config["capacity"]
        assert buf.num_games == len(ref.stored)
    batch = buf.sample(48, seed)
    ref.check(batch, 48)
    ref.check(buf.sample(48, seed, next_observations=True), 48)
    ref.check(buf.sample(48, seed, reanalysis=True), 48)
    index, priorities = buf.priorities()
    np.testing.assert_array_equal(index, sorted(ref.priority))
    np.testing.assert_array_equal(priorities, [ref.priority[i] for i in sorted(ref.priority)])


def test_hand_computed_two_player_targets() -> None:
    """A 3-ply game with n = 2, g = -0.5, truncated: every number by hand."""
    buf = ReplayBuffer(10, (1,), 2, unroll_steps=3, td_steps=2, discount=0.5, two_player=True)
    obs = np.arange(4, dtype=np.float32).reshape(4, 1)
    buf.add_game(
        obs,
        np.array([1, 0, 1], np.int64),
        np.array([1.0, 2.0, 4.0], np.float32),
        np.array([10.0, 20.0, 40.0], np.float32),
        np.array([[1, 0], [0.5, 0.5], [0, 1]], np.float32),
        terminated=False,
        bootstrap_value=8.0,
    )
    batch = buf.sample(64, 0)
    row = int(np.argmax(batch.position == 0))
    assert batch.position[row] == 0
    # z_0 = 1 - 0.5 * 2 + 0.25 * 40 = 10; z_1 = 2 - 0.5 * 4 + 0.25 * 8 = 2;
    # z_2 reaches o_3 after one ply: 4 - 0.5 * 8 = 0 (the old rule, 4 + 0.25 * 8 = 6,
    # discounted by g^n and so gave the opponent's value the mover's sign)
    np.testing.assert_allclose(batch.target_value[row], [10, 2, 0, 0])
    np.testing.assert_array_equal(batch.terminated, np.zeros(64, bool))
    np.testing.assert_array_equal(batch.target_reward[row], [0, 1, 2, 4])
    np.testing.assert_array_equal(batch.mask[row], [1, 1, 1, 0])
    np.testing.assert_array_equal(batch.actions[row], [1, 0, 1])
    np.testing.assert_array_equal(batch.target_policy[row, 3], [0, 0])


# --------------------------------------------------------------------------- #
# Sampling                                                                    #
# --------------------------------------------------------------------------- #

# Upper critical values of the chi-square distribution at p = 0.001.
CHI2_CRITICAL_0_001 = {9: 27.877, 11: 31.264}


def chi_square(counts: np.ndarray, probabilities: np.ndarray) -> float:
    expected = counts.sum() * probabilities
    return float(((counts - expected) ** 2 / expected).sum())


def sample_counts(buf: ReplayBuffer, draws: int, size: int) -> np.ndarray:
    index, _ = buf.priorities()
    counts = np.zeros(size, np.int64)
    for seed in range(draws // 1000):
        np.add.at(counts, buf.sample(1000, seed).index - index[0], 1)
    return counts


def test_sampling_frequencies_follow_priorities_to_the_alpha() -> None:
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(100, (2,), 3, alpha=0.7)
    priorities = np.array([0.2, 1, 3, 0.5, 8, 2, 1, 0.1, 4, 6], np.float32)
    make_game(rng, 4, (2,), 3, priorities=priorities[:4]).add_to(buf)
    make_game(rng, 6, (2,), 3, priorities=priorities[4:]).add_to(buf)
    counts = sample_counts(buf, 60_000, 10)
    masses = priorities.astype(np.float64) ** 0.7
    assert chi_square(counts, masses / masses.sum()) < CHI2_CRITICAL_0_001[9], counts
    # The test has power: the uniform hypothesis is rejected by far.
    assert chi_square(counts, np.full(10, 0.1)) > 100 * CHI2_CRITICAL_0_001[9]


def test_updated_priorities_change_the_frequencies() -> None:
    rng = np.random.default_rng(1)
    buf = ReplayBuffer(100, (2,), 2, alpha=1.0)
    make_game(rng, 12, (2,), 2).add_to(buf)  # every transition at the default priority 1
    new = np.arange(1, 13, dtype=np.float32)
    buf.update_priorities(np.arange(12, dtype=np.int64), new)
    counts = sample_counts(buf, 60_000, 12)
    assert chi_square(counts, new / new.sum()) < CHI2_CRITICAL_0_001[11], counts


def test_alpha_zero_samples_uniformly_with_unit_weights() -> None:
    rng = np.random.default_rng(2)
    buf = ReplayBuffer(100, (2,), 2, alpha=0.0)
    make_game(rng, 10, (2,), 2, priorities=np.geomspace(0.01, 100, 10).astype(np.float32)).add_to(
        buf
    )
    counts = sample_counts(buf, 50_000, 10)
    assert chi_square(counts, np.full(10, 0.1)) < CHI2_CRITICAL_0_001[9], counts
    assert np.all(buf.sample(256, 0).weight == 1.0)


def test_new_games_default_to_the_largest_priority_stored() -> None:
    rng = np.random.default_rng(3)
    buf = ReplayBuffer(100, (2,), 2, alpha=0.5)
    make_game(rng, 3, (2,), 2).add_to(buf)
    assert buf.max_priority == 1.0
    make_game(rng, 2, (2,), 2, priorities=np.array([7.0, 0.5], np.float32)).add_to(buf)
    buf.update_priorities(np.array([0], np.int64), np.array([9.0], np.float32))
    make_game(rng, 2, (2,), 2).add_to(buf)
    _, priorities = buf.priorities()
    np.testing.assert_array_equal(priorities, [9, 1, 1, 7, 0.5, 9, 9])
    assert buf.max_priority == 9.0
    # the errors drop: new games follow them down (a running maximum would keep 9)
    index, _ = buf.priorities()
    buf.update_priorities(index, np.full(len(index), 0.5, np.float32))
    make_game(rng, 2, (2,), 2).add_to(buf)
    np.testing.assert_array_equal(buf.priorities()[1][-2:], [0.5, 0.5])
    assert buf.max_priority == 0.5


def test_the_same_seed_gives_the_same_batch() -> None:
    rng = np.random.default_rng(4)
    buf = ReplayBuffer(1000, (3,), 4, alpha=0.6, beta=0.4, stack=2)
    for _ in range(20):
        steps = int(rng.integers(1, 30))
        make_game(
            rng, steps, (3,), 4, priorities=rng.uniform(0.1, 2, steps).astype(np.float32)
        ).add_to(buf)
    first, again, other = buf.sample(128, 99), buf.sample(128, 99), buf.sample(128, 100)
    first, again = buf.sample(128, 99, True), buf.sample(128, 99, True)
    for f in fields(SampleBatch):
        np.testing.assert_array_equal(getattr(first, f.name), getattr(again, f.name))
        assert not np.shares_memory(getattr(first, f.name), getattr(again, f.name))
    assert not np.array_equal(first.index, other.index)


def test_batches_convert_to_torch_without_copies() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    buf = ReplayBuffer(100, (2, 3), 2, stack=2)
    make_game(rng, 10, (2, 3), 2, dtype="uint8").add_to(buf)
    batch = buf.sample(8, 0)
    frames = torch.from_numpy(batch.observation)
    assert frames.dtype == torch.uint8 and tuple(frames.shape) == (8, 2, 2, 3)
    assert frames.data_ptr() == batch.observation.ctypes.data


# --------------------------------------------------------------------------- #
# Capacity and memory                                                         #
# --------------------------------------------------------------------------- #


def test_oldest_whole_games_leave_first() -> None:
    rng = np.random.default_rng(6)
    buf = ReplayBuffer(10, (1,), 2)
    ids = [make_game(rng, steps, (1,), 2).add_to(buf) for steps in (4, 3, 2)]
    assert ids == [0, 1, 2] and len(buf) == 9
    assert make_game(rng, 6, (1,), 2).add_to(buf) == 3  # 9 + 6 > 10: evicts games 0 and 1
    assert (len(buf), buf.num_games) == (8, 2)
    index, _ = buf.priorities()
    np.testing.assert_array_equal(index, np.arange(7, 15))
    assert set(buf.sample(500, 0).game_id.tolist()) == {2, 3}


def test_memory_stays_bounded_at_capacity() -> None:
    rng = np.random.default_rng(7)
    capacity = 2_000
    buf = ReplayBuffer(capacity, (16,), 4, alpha=0.6, obs_dtype=np.uint8)
    per_transition = 16 + 8 + 4 * 4 + 4 * 4  # frame, action, 4 floats, policy
    history = []
    for _ in range(400):
        steps = int(rng.integers(1, 60))
        make_game(rng, steps, (16,), 4, dtype="uint8").add_to(buf)
        history.append(buf.nbytes)
    assert len(buf) <= capacity
    data = capacity * per_transition
    assert data < max(history) < 3 * data, (max(history), data)
    # Once full, adding games no longer grows the memory held.
    assert history[-1] <= history[len(history) // 2] * 1.1


# --------------------------------------------------------------------------- #
# Validation before mutation                                                  #
# --------------------------------------------------------------------------- #


def good_game() -> Game:
    return make_game(np.random.default_rng(8), 5, (3,), 3)


def _set(name: str, value):
    def change(g: Game) -> None:
        setattr(g, name, value)

    return change


def _edit(name: str, index, value):
    def change(g: Game) -> None:
        array = getattr(g, name).copy()
        array[index] = value
        setattr(g, name, array)

    return change


g0 = good_game()
BAD_GAMES = {
    "observations shape": ("observations", _set("observations", g0.observations[:-1])),
    "observations obs_shape": ("observations", _set("observations", np.zeros((6, 4), np.float32))),
    "observations NaN": ("observations", _edit("observations", (2, 1), np.nan)),
    "observations inf": ("observations", _edit("observations", (5, 0), np.inf)),
    "observations float64": ("observations", _set("observations", g0.observations.astype(float))),
    "observations list": ("observations", _set("observations", g0.observations.tolist())),
    "observations other dtype": ("observations", _set("observations", np.zeros((6, 3), np.uint8))),
    "actions length": ("observations", _set("actions", g0.actions[:-1])),
    "actions range": ("actions", _edit("actions", 1, 3)),
    "actions negative": ("actions", _edit("actions", 0, -1)),
    "actions int32": ("actions", _set("actions", g0.actions.astype(np.int32))),
    "actions 2-D": ("actions", _set("actions", g0.actions.reshape(5, 1))),
    "empty game": ("actions", lambda g: g.__init__(*empty_game_arrays())),
    "game longer than capacity": ("actions", lambda g: g.__init__(*long_game_arrays())),
    "rewards length": ("rewards", _set("rewards", g0.rewards[:-1])),
    "rewards NaN": ("rewards", _edit("rewards", 3, np.nan)),
    "rewards float64": ("rewards", _set("rewards", g0.rewards.astype(np.float64))),
    "root_values length": ("root_values", _set("root_values", np.zeros(6, np.float32))),
    "root_values inf": ("root_values", _edit("root_values", 0, -np.inf)),
    "policies sum": ("policies", _edit("policies", (2, 0), 0.9)),
    "policies negative": (
        "policies",
        _set("policies", np.tile([1.5, -0.5, 0], (5, 1)).astype("f4")),
    ),
    "policies shape": ("policies", _set("policies", np.full((5, 2), 0.5, np.float32))),
    "policies NaN": ("policies", _edit("policies", (0, 0), np.nan)),
    "bootstrap_value NaN": ("bootstrap_value", _set("bootstrap_value", float("nan"))),
    "bootstrap_value type": ("bootstrap_value", _set("bootstrap_value", "1.0")),
    "terminated type": ("terminated", _set("terminated", "yes")),
    "priorities length": ("priorities", _set("priorities", np.ones(4, np.float32))),
    "priorities zero": ("priorities", _set("priorities", np.array([1, 1, 0, 1, 1], np.float32))),
    "priorities negative": ("priorities", _set("priorities", np.full(5, -1, np.float32))),
    "priorities NaN": ("priorities", _set("priorities", np.full(5, np.nan, np.float32))),
    "priorities type str": ("priorities", _set("priorities", np.array(list("abcde")))),
    "priorities overflow": ("priorities", _set("priorities", np.full(5, 1e300))),
}


def empty_game_arrays() -> tuple:
    return (
        np.zeros((1, 3), np.float32),
        np.zeros(0, np.int64),
        np.zeros(0, np.float32),
        np.zeros(0, np.float32),
        np.zeros((0, 3), np.float32),
    )


def long_game_arrays() -> tuple:
    game = make_game(np.random.default_rng(9), 41, (3,), 3)
    return game.observations, game.actions, game.rewards, game.root_values, game.policies


def snapshot(buf: ReplayBuffer) -> tuple:
    batch = buf.sample(32, 1234, reanalysis=True)
    index, priorities = buf.priorities()
    return (
        len(buf),
        buf.num_games,
        buf.nbytes,
        buf.max_priority,
        index.tolist(),
        priorities.tolist(),
        [getattr(batch, f.name).tolist() for f in fields(SampleBatch)],
    )


@pytest.fixture
def filled() -> ReplayBuffer:
    rng = np.random.default_rng(10)
    buf = ReplayBuffer(40, (3,), 3, alpha=0.5)
    for steps in (10, 20, 8):
        make_game(rng, steps, (3,), 3, priorities=rng.uniform(1, 2, steps).astype("f4")).add_to(buf)
    return buf


@pytest.mark.parametrize("case", list(BAD_GAMES))
def test_a_bad_game_names_its_argument_and_changes_nothing(filled, case: str) -> None:
    name, break_it = BAD_GAMES[case]
    game = good_game()
    break_it(game)
    before = snapshot(filled)
    with pytest.raises(ValueError, match=rf"^{name}: expected") as caught:
        game.add_to(filled)
    assert isinstance(caught.value, mzero.MZeroError)
    wrong_type = any(word in case for word in ("float64", "int32", "type", "list"))
    assert isinstance(caught.value, mzero.InvalidTypeError) == wrong_type, caught.value
    assert snapshot(filled) == before
    assert good_game().add_to(filled) == 3  # the failed call did not use an id


BAD_UPDATES = {
    "never issued": ("index", np.array([38], np.int64), np.ones(1, np.float32)),
    "negative": ("index", np.array([5, -1], np.int64), np.ones(2, np.float32)),
    "float index": ("index", np.array([5.0]), np.ones(1, np.float32)),
    "2-D index": ("index", np.array([[5]], np.int64), np.ones(1, np.float32)),
    "length": ("priorities", np.array([5, 6], np.int64), np.ones(3, np.float32)),
    "zero": ("priorities", np.array([5, 6], np.int64), np.array([1, 0], np.float32)),
    "NaN": ("priorities", np.array([5], np.int64), np.array([np.nan], np.float32)),
    "overflow": ("priorities", np.array([5], np.int64), np.array([1e300])),
    "strings": ("priorities", np.array([5], np.int64), np.array(["1"])),
}


@pytest.mark.parametrize("case", list(BAD_UPDATES))
def test_a_bad_update_names_its_argument_and_changes_nothing(filled, case: str) -> None:
    name, index, priorities = BAD_UPDATES[case]
    before = snapshot(filled)
    with pytest.raises(ValueError, match=rf"^{name}: expected"):
        filled.update_priorities(index, priorities)
    assert snapshot(filled) == before


def test_priorities_and_indices_of_any_real_dtype_are_cast(filled) -> None:
    filled.update_priorities([3, 4], [2.5, 3])  # lists: int64 and float64
    filled.update_priorities(np.array([5], np.int32), np.array([4.0], np.float64))
    _, priorities = filled.priorities()
    np.testing.assert_array_equal(priorities[3:6], [2.5, 3, 4])
    game = good_game()
    game.priorities = np.arange(1, 6)  # int64
    game.add_to(filled)
    np.testing.assert_array_equal(filled.priorities()[1][-5:], [1, 2, 3, 4, 5])


def test_updates_of_evicted_transitions_are_skipped(filled) -> None:
    # Capacity 40 held games of 10, 20, 8; a game of 5 evicts game 0 (indices 0..9).
    make_game(np.random.default_rng(11), 5, (3,), 3).add_to(filled)
    index, before = filled.priorities()
    assert index[0] == 10
    filled.update_priorities(np.array([3, 12, 12], np.int64), np.array([50, 2, 3], np.float32))
    index, after = filled.priorities()
    expected = before.copy()
    expected[2] = 3.0
    np.testing.assert_array_equal(after, expected)
    assert filled.max_priority < 50


@pytest.mark.parametrize(
    ("kwargs", "name", "error"),
    [
        ({"capacity": 0}, "capacity", mzero.InvalidArgumentError),
        ({"capacity": -5}, "capacity", mzero.InvalidArgumentError),
        ({"capacity": 10.0}, "capacity", mzero.InvalidTypeError),
        ({"obs_shape": (4, 0)}, "obs_shape", mzero.InvalidArgumentError),
        ({"obs_shape": "4"}, "obs_shape", mzero.InvalidTypeError),
        ({"num_actions": 0}, "num_actions", mzero.InvalidArgumentError),
        ({"unroll_steps": -1}, "unroll_steps", mzero.InvalidArgumentError),
        ({"td_steps": -1}, "td_steps", mzero.InvalidArgumentError),
        ({"discount": 1.1}, "discount", mzero.InvalidArgumentError),
        ({"discount": float("nan")}, "discount", mzero.InvalidArgumentError),
        ({"alpha": -0.1}, "alpha", mzero.InvalidArgumentError),
        ({"beta": float("inf")}, "beta", mzero.InvalidArgumentError),
        ({"stack": 0}, "stack", mzero.InvalidArgumentError),
        ({"two_player": "no"}, "two_player", mzero.InvalidTypeError),
        ({"obs_dtype": np.float64}, "obs_dtype", mzero.InvalidTypeError),
    ],
)
def test_bad_constructor_arguments_are_named(kwargs: dict, name: str, error: type) -> None:
    args = {"capacity": 10, "obs_shape": (4,), "num_actions": 2} | kwargs
    with pytest.raises(error, match=rf"^{name}: expected"):
        ReplayBuffer(**args)


def test_bad_sample_arguments_are_named(filled) -> None:
    with pytest.raises(mzero.InvalidArgumentError, match=r"^batch_size: expected"):
        filled.sample(0, 0)
    with pytest.raises(mzero.InvalidArgumentError, match=r"^seed: expected"):
        filled.sample(4, -1)
    with pytest.raises(mzero.InvalidArgumentError, match=r"^seed: expected"):
        filled.sample(4, 2**64)
    with pytest.raises(mzero.InvalidTypeError, match=r"^seed: expected"):
        filled.sample(4, 1.5)
    with pytest.raises(mzero.InvalidArgumentError, match=r"^buffer: expected"):
        ReplayBuffer(10, (4,), 2).sample(4, 0)
    assert filled.sample(4, 2**64 - 1).index.shape == (4,)


def test_obs_dtype_is_kept_and_enforced() -> None:
    rng = np.random.default_rng(12)
    buf = ReplayBuffer(50, (2, 2), 2, obs_dtype="uint8")
    assert buf.obs_dtype == np.uint8
    with pytest.raises(mzero.InvalidTypeError, match=r"^observations: expected dtype uint8"):
        make_game(rng, 3, (2, 2), 2).add_to(buf)
    assert len(buf) == 0
    make_game(rng, 3, (2, 2), 2, dtype="uint8").add_to(buf)
    assert buf.sample(4, 0).observation.dtype == np.uint8
    free = ReplayBuffer(50, 3, 2)  # an int obs_shape means (3,)
    assert free.obs_dtype is None
    make_game(rng, 3, (3,), 2).add_to(free)
    assert free.obs_dtype == np.float32
    assert free.config()["obs_shape"] == (3,)


def test_non_contiguous_inputs_are_read_in_logical_order() -> None:
    rng = np.random.default_rng(13)
    game = make_game(rng, 6, (3,), 2)
    buf = ReplayBuffer(50, (3,), 2, unroll_steps=0)
    wide = np.zeros((7, 6), np.float32)
    wide[:, ::2] = game.observations
    game.observations = wide[:, ::2]
    assert not game.observations.flags.c_contiguous
    game.add_to(buf)
    batch = buf.sample(20, 0)
    for b in range(20):
        np.testing.assert_array_equal(batch.observation[b, 0], game.observations[batch.position[b]])


def test_fortran_ordered_inputs_are_read_in_logical_order() -> None:
    # contiguous, but column-major: the memory order is not the row-major order
    rng = np.random.default_rng(14)
    game = make_game(rng, 6, (3,), 4)
    game.observations = np.asfortranarray(game.observations)
    game.policies = np.asfortranarray(game.policies)
    assert game.observations.flags.f_contiguous and not game.observations.flags.c_contiguous
    assert game.policies.flags.f_contiguous and not game.policies.flags.c_contiguous
    buf = ReplayBuffer(50, (3,), 4, unroll_steps=0)
    game.add_to(buf)
    batch = buf.sample(20, 0)
    for b in range(20):
        np.testing.assert_array_equal(batch.observation[b, 0], game.observations[batch.position[b]])
        np.testing.assert_array_equal(batch.target_policy[b, 0], game.policies[batch.position[b]])


# --------------------------------------------------------------------------- #
# Threads                                                                     #
# --------------------------------------------------------------------------- #


def test_concurrent_adds_samples_and_updates_lose_nothing() -> None:
    buf = ReplayBuffer(100_000, (2,), 3, alpha=0.6, stack=2)
    added: list[tuple[int, int, int]] = []  # (game id, writer, game number)
    lock = threading.Lock()
    errors: list[BaseException] = []
    writers_done = threading.Event()

    def writer(w: int) -> None:
        rng = np.random.default_rng(100 + w)
        for n in range(100):
            steps = int(rng.integers(1, 25))
            game = make_game(rng, steps, (2,), 3)
            # Tag every frame with (writer, game number, t) to detect mixing.
            game.observations[:, 0] = w * 1000 + n
            game.observations[:, 1] = np.arange(steps + 1)
            gid = game.add_to(buf)
            with lock:
                added.append((gid, w, n, steps))

    def reader(r: int) -> None:
        seed = r
        while not writers_done.is_set():
            if len(buf) == 0:
                continue
            batch = buf.sample(64, seed)
            buf.update_priorities(batch.index, np.full(64, 1.0 + r, np.float32))
            # Frames of one row come from one game, positions t-1 (clamped) and t.
            np.testing.assert_array_equal(batch.observation[:, 1, 1], batch.position)
            np.testing.assert_array_equal(batch.observation[:, 0, 0], batch.observation[:, 1, 0])
            seed += 10

    def guarded(fn, arg):
        def run() -> None:
            try:
                fn(arg)
            except BaseException as err:  # reported by the main thread
                errors.append(err)

        return threading.Thread(target=run)

    writers = [guarded(writer, w) for w in range(4)]
    readers = [guarded(reader, r) for r in range(3)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join()
    writers_done.set()
    for t in readers:
        t.join()
    assert not errors, errors
    ids = sorted(gid for gid, *_ in added)
    assert ids == list(range(400))
    total = sum(steps for *_, steps in added)
    assert (len(buf), buf.num_games) == (total, 400)
    index, _ = buf.priorities()
    np.testing.assert_array_equal(index, np.arange(total))
    # Every game is intact: its rows carry its own tag.
    tag = {gid: w * 1000 + n for gid, w, n, _ in added}
    batch = buf.sample(5000, 7)
    expected = [tag[int(g)] for g in batch.game_id]
    np.testing.assert_array_equal(batch.observation[:, 1, 0], expected)


def test_the_gil_is_released_while_saving(tmp_path) -> None:
    """Python code runs while a save is in progress: its temporary file is seen."""
    rng = np.random.default_rng(14)
    buf = ReplayBuffer(8_000, (64, 64), 2, obs_dtype=np.uint8)
    for _ in range(40):
        make_game(rng, 200, (64, 64), 2, dtype="uint8").add_to(buf)
    saving = threading.Thread(target=buf.save, args=(tmp_path / "big.bin",))
    seen_mid_save = False
    saving.start()
    while saving.is_alive() and not seen_mid_save:
        seen_mid_save = any(tmp_path.glob(".big.bin.*.tmp"))
    saving.join()
    assert seen_mid_save
    assert not any(tmp_path.glob("*.tmp"))
    assert len(ReplayBuffer.load(tmp_path / "big.bin")) == 8_000


def test_next_observations_are_the_stacks_ending_at_t_plus_k() -> None:
    # one game whose frames are their own index: o_i = [i, i]
    steps, k_steps, stack = 5, 3, 2
    buf = ReplayBuffer(100, (2,), 2, unroll_steps=k_steps, td_steps=2, stack=stack)
    game = make_game(np.random.default_rng(0), steps, (2,), 2)
    game.observations = np.repeat(np.arange(steps + 1, dtype=np.float32)[:, None], 2, axis=1)
    game.add_to(buf)
    plain = buf.sample(64, 7)
    batch = buf.sample(64, 7, next_observations=True)
    assert plain.next_observation is None
    for f in fields(SampleBatch):
        if not f.name.startswith("next_observation"):  # the same rows and targets
            np.testing.assert_array_equal(getattr(batch, f.name), getattr(plain, f.name))
    assert batch.next_observation.shape == (64, k_steps, stack, 2)
    assert batch.next_observation.dtype == np.float32
    for row, t in enumerate(batch.position):
        for k in range(1, k_steps + 1):
            end = min(t + k, steps)  # o_T stands in past the end
            expected = [max(end - 1, 0), end]
            assert batch.next_observation[row, k - 1, :, 0].tolist() == expected


def test_next_observations_must_be_a_bool(filled) -> None:
    with pytest.raises(mzero.InvalidTypeError, match=r"^next_observations: expected a bool"):
        filled.sample(4, 0, next_observations=1)


# --------------------------------------------------------------------------- #
# Reanalysis: write-backs by (game id, position)                              #
# --------------------------------------------------------------------------- #


def test_written_back_values_and_policies_are_the_next_targets(tmp_path) -> None:
    rng = np.random.default_rng(5)
    config = {"capacity": 100, "num_actions": 3, "unroll_steps": 2, "td_steps": 3}
    buf = ReplayBuffer(obs_shape=(2,), discount=0.9, **config)
    ref = Reference(discount=0.9, **config)
    games = [
        make_game(rng, 7, (2,), 3, terminated=False, bootstrap_value=1.5),
        make_game(rng, 4, (2,), 3, terminated=True),
    ]
    for i, game in enumerate(games):
        game.add_to(buf)
        ref.add(i, game)
    fresh = rng.normal(size=12).astype(np.float32)
    buf.update_values(
        np.array([0] * 8 + [1] * 4), np.r_[np.arange(8), np.arange(4)], fresh.astype(np.float64)
    )
    games[0].root_values, games[0].bootstrap_value = fresh[:7], float(fresh[7])
    games[1].root_values = fresh[8:]
    policy = np.array([[0.2, 0.3, 0.5]], np.float32)
    buf.update_policies(np.array([1]), np.array([2]), policy)
    games[1].policies = games[1].policies.copy()
    games[1].policies[2] = policy[0]
    ref.check(buf.sample(64, 1, reanalysis=True), 64)
    # the write-backs persist through a snapshot
    buf.save(tmp_path / "r.bin")
    ref.check(ReplayBuffer.load(tmp_path / "r.bin").sample(64, 2, reanalysis=True), 64)


@pytest.mark.parametrize(
    ("method", "args", "name"),
    [
        ("update_values", ([9], [0], [1.0]), "game_id"),
        ("update_values", ([0], [99], [1.0]), "position"),
        ("update_values", ([0], [0, 1], [1.0]), "position"),
        ("update_values", ([0], [0], [float("inf")]), "values"),
        ("update_values", ([0], [0], ["x"]), "values"),
        ("update_policies", ([0], [0], [[0.7, 0.7, 0.0]]), "policies"),
        ("update_policies", ([0], [0], [[1.0, 0.0, 0.0, 0.0, 0.0]]), "policies"),
    ],
)
def test_a_bad_write_back_names_its_argument_and_changes_nothing(
    filled, method: str, args: tuple, name: str
) -> None:
    before = snapshot(filled)
    with pytest.raises((mzero.InvalidArgumentError, mzero.InvalidTypeError), match=name):
        getattr(filled, method)(*(np.asarray(a) for a in args))
    assert snapshot(filled) == before


def test_legal_masks_are_checked() -> None:
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(100, (4,), 2)
    game = make_game(rng, 3)
    game.legal_masks = np.array([[True, False], [False, False], [True, True]])
    with pytest.raises(mzero.InvalidArgumentError, match="legal_masks"):
        game.add_to(buf)
    game.legal_masks = np.ones((3, 2), np.float32)
    with pytest.raises(mzero.InvalidTypeError, match="legal_masks"):
        game.add_to(buf)
    game.legal_masks = np.ones((2, 2), bool)
    with pytest.raises(mzero.InvalidArgumentError, match="legal_masks"):
        game.add_to(buf)
    assert len(buf) == 0


def test_a_buffer_a_panic_left_half_updated_is_never_used_again() -> None:
    """A panic in the engine while it held the buffer for writing (a bug) poisons its
    lock: every later call raises mzero.MZeroError instead of using the buffer."""
    buffer = mzero.ReplayBuffer(100, (2,), 2)
    with pytest.raises(BaseException, match="a panic while the buffer is held"):
        buffer._core._panic_while_writing()
    calls = [
        lambda: len(buffer),
        lambda: buffer.positions,
        lambda: buffer.sample(4, seed=0),
        lambda: buffer.priorities(),
        lambda: buffer.update_priorities(np.zeros(1, np.int64), np.ones(1, np.float32)),
        lambda: buffer.add_game(
            observations=np.zeros((3, 2), np.float32),
            actions=np.zeros(2, np.int64),
            rewards=np.zeros(2, np.float32),
            root_values=np.zeros(2, np.float32),
            policies=np.full((2, 2), 0.5, np.float32),
        ),
    ]
    for call in calls:
        with pytest.raises(mzero.MZeroError, match="an earlier call panicked"):
            call()
