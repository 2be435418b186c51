"""The learner, the run directory, checkpoints, mzero.Agent and the command line."""

from __future__ import annotations

import copy
import dataclasses
import io
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

import mzero
from mzero.config import Config, TrainConfig, apply_overrides, preset
from mzero.networks.loss import muzero_loss
from mzero.train import (
    Trainer,
    learning_rate_factor,
    load_checkpoint,
    save_checkpoint,
    train,
)

torch.set_num_threads(1)


def small(name: str, **overrides: object) -> Config:
    """A preset shrunk so that a run takes seconds."""
    base = {
        "train.num_envs": 8,
        "train.batch_size": 32,
        "train.min_replay": 100,
        "train.log_interval": 10,
        "train.checkpoint_interval": 20,
        "train.eval_episodes": 2,
        "search.num_simulations": 8,
    }
    return apply_overrides(preset(name), base | overrides)


@pytest.fixture(scope="module")
def cartpole_trainer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Trainer, dict[str, float]]:
    run_dir = tmp_path_factory.mktemp("cartpole")
    # acting as the run trained (traced), not compiled: a compile per agent made
    overrides = {"train.max_env_steps": 600, "train.eval_interval": 400}
    config = small("cartpole", **overrides, **{"network.act_inference": None})
    trainer = Trainer(config, run_dir, progress=False)
    return trainer, trainer.run()


@pytest.fixture(scope="module")
def cartpole_run(
    cartpole_trainer: tuple[Trainer, dict[str, float]],
) -> tuple[Path, dict[str, float]]:
    trainer, last = cartpole_trainer
    return trainer.run_dir, last


def test_a_run_directory_holds_config_metrics_tensorboard_and_checkpoints(
    cartpole_run: tuple[Path, dict[str, float]],
) -> None:
    run_dir, last = cartpole_run
    assert Config.load(run_dir / "config.json").train.max_env_steps == 600
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) >= 3
    for line in lines:
        assert {"env_steps", "train_steps", "wall_s"} <= line.keys()
    # where the time went since the previous line
    for prev, line in itertools.pairwise(lines):
        if line["env_steps"] == prev["env_steps"]:  # the closing evaluation: no self-play
            assert line["env_steps_per_s"] == 0
            continue
        assert line["env_steps_per_s"] > 0 and line["simulations_per_s"] > 0
        assert 0 < line["network_busy"] <= 1 and line["inference_share"] > 0
        assert line["tree_share"] > 0 and line["env_share"] > 0
        assert line["learner_share"] >= 0 and line["train_steps_per_s"] >= 0
        assert line["simulations_per_s"] == pytest.approx(8 * line["env_steps_per_s"], rel=1e-3)
    assert any(line["learner_share"] > 0 for line in lines)
    steps = [line["env_steps"] for line in lines]
    assert steps == sorted(steps)
    assert last["env_steps"] == 600  # 75 self-play steps of B = 8 environments
    evaluated = [line for line in lines if "eval_return_mean" in line]
    assert evaluated, "an evaluation at 400 env steps and one at the end"
    assert all(1 <= line["eval_return_mean"] <= 500 for line in evaluated)
    assert any(
        p.name.startswith("events.out.tfevents") for p in (run_dir / "tensorboard").iterdir()
    )
    for name in ("last.pt", "best.pt"):
        checkpoint = load_checkpoint(run_dir / "checkpoints" / name)
        assert checkpoint["num_actions"] == 2
        assert checkpoint["obs_shape"] == [4]
    final = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert (final["env_steps"], final["train_steps"]) == (last["env_steps"], last["train_steps"])
    assert not list((run_dir / "checkpoints").glob("*.tmp"))


def test_the_learner_ramps_in_at_train_ratio_once_min_replay_is_stored(
    cartpole_trainer: tuple[Trainer, dict[str, float]],
) -> None:
    trainer, last = cartpole_trainer
    train_config = trainer.config.train
    ratio, batch, min_replay = (
        train_config.train_ratio,
        train_config.num_envs,
        train_config.min_replay,
    )
    start = trainer.learning_start_env_steps
    # learning starts after a self-play step (B env steps each), once min_replay is stored
    assert start % batch == 0 and 0 < start < last["env_steps"]
    rows = [
        json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()
    ]
    assert any(row["env_steps"] < start for row in rows)
    assert any(start <= row["env_steps"] < last["env_steps"] for row in rows)
    for row in rows:
        if row["env_steps"] < start:
            assert row["replay_transitions"] < min_replay
            assert row["train_steps"] == 0
        elif row["env_steps"] < last["env_steps"]:
            # mid-run the learner has caught up exactly: learner steps ramp in from the
            # start of learning, train_ratio per env step (no catch-up on env steps before)
            assert row["replay_transitions"] >= min_replay
            assert row["train_steps"] == math.ceil(ratio * (row["env_steps"] - start)), row
    # the run stops as the last self-play step reaches max_env_steps: the learner is at most
    # that one self-play step (B env steps) behind
    assert (last["env_steps"], trainer.env_steps) == (600, 600)
    expected = ratio * (last["env_steps"] - start)
    assert expected - ratio * batch <= last["train_steps"] <= math.ceil(expected)
    assert trainer.train_steps == last["train_steps"]


def test_agent_loads_the_best_checkpoint_and_plays_cartpole(
    cartpole_run: tuple[Path, dict[str, float]],
) -> None:
    run_dir, _ = cartpole_run
    agent = mzero.Agent.load(run_dir)
    assert agent.checkpoint_path == run_dir / "checkpoints" / "best.pt"
    assert mzero.Agent.load(run_dir, checkpoint="last").checkpoint_path.name == "last.pt"
    env = gymnasium.make("CartPole-v1")
    observation, _ = env.reset(seed=3)
    steps, done = 0, False
    while not done and steps < 50:
        action = agent.act(observation)
        visits = agent.last_search.visit_counts[0]
        assert visits[action] == visits.max()  # greedy: the most visited root action
        observation, _, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
        steps += 1
    assert type(action) is int  # a plain int for env.step, not a numpy or torch scalar


def _greedy_actions(agent: mzero.Agent, observations: np.ndarray) -> list[int]:
    actions = []
    for observation in observations:
        agent.reset()
        actions.append(agent.act(observation))
    return actions


@pytest.mark.parametrize("algorithm", ["muzero", "gumbel"])
def test_agent_is_greedy_and_deterministic(
    cartpole_run: tuple[Path, dict[str, float]], algorithm: str
) -> None:
    run_dir, _ = cartpole_run
    observations = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    loaded = mzero.Agent.load(run_dir)
    reference = _greedy_actions(loaded, observations)
    for seed in (1, 2, 3):  # the agent of the run, under other seeds
        assert _greedy_actions(mzero.Agent.load(run_dir, seed=seed), observations) == reference

    # The same network with strong self-play noise configured: full Dirichlet noise at the
    # root (muzero) or Gumbel noise of scale 10 (gumbel), enough to move the trained
    # network's search on these positions. The agent must turn it off.
    config = copy.deepcopy(loaded.config)
    config.search.algorithm = algorithm
    config.search.dirichlet_fraction = 1.0
    config.search.gumbel_scale = 10.0

    def agent(seed: int, explore: bool = False) -> mzero.Agent:
        made = mzero.Agent(loaded.network, config, two_player=False, seed=seed)
        if explore:  # the self-play search: the noise left on
            made.planner.search_config = config.search.to_search_config(
                two_player=False, explore=True
            )
        return made

    greedy = agent(0)
    reference = _greedy_actions(greedy, observations)
    # the same positions again (the agent's seed stream has moved on) and under other seeds
    assert _greedy_actions(greedy, observations) == reference
    for seed in (1, 2, 3):
        assert _greedy_actions(agent(seed), observations) == reference, seed
    # the check can fail: with the noise on, the seeds do change actions on these positions
    noisy = [_greedy_actions(agent(seed, explore=True), observations) for seed in range(4)]
    assert any(actions != reference for actions in noisy)


def test_agent_acts_with_act_inference(cartpole_run: tuple[Path, dict[str, float]]) -> None:
    loaded = mzero.Agent.load(cartpole_run[0])
    assert loaded.config.network.act_inference is None
    assert loaded.network.inference == loaded.config.network.inference == "trace"
    observations = np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32)
    reference = _greedy_actions(loaded, observations)
    config = copy.deepcopy(loaded.config)
    config.network.act_inference = "eager"
    network = copy.deepcopy(loaded.network)
    agent = mzero.Agent(network, config, two_player=False)
    assert agent.network.inference == "eager"
    assert _greedy_actions(agent, observations) == reference  # the same numbers


def test_agent_searches_with_eval_simulations(cartpole_run: tuple[Path, dict[str, float]]) -> None:
    loaded = mzero.Agent.load(cartpole_run[0])
    observation = np.zeros(4, np.float32)
    loaded.act(observation)
    trained = loaded.config.search.num_simulations
    assert loaded.last_search.visit_counts.sum() == trained
    config = copy.deepcopy(loaded.config)
    config.search.eval_simulations = trained + 5
    agent = mzero.Agent(loaded.network, config, two_player=False)
    agent.act(observation)
    assert agent.last_search.visit_counts.sum() == trained + 5


def test_agent_rejects_bad_input(cartpole_run: tuple[Path, dict[str, float]]) -> None:
    run_dir, _ = cartpole_run
    agent = mzero.Agent.load(run_dir)
    with pytest.raises(mzero.InvalidArgumentError, match="observation"):
        agent.act(np.zeros(5, np.float32))
    with pytest.raises(mzero.InvalidArgumentError, match="legal_mask"):
        agent.act(np.zeros(4, np.float32), legal_mask=np.ones(3, bool))
    with pytest.raises(mzero.InvalidArgumentError, match="checkpoint"):
        mzero.Agent.load(run_dir, checkpoint="first")  # type: ignore[arg-type]
    with pytest.raises(mzero.MZeroIOError, match="run_dir"):
        mzero.Agent.load(run_dir / "missing")


def test_agent_respects_the_legal_mask(cartpole_run: tuple[Path, dict[str, float]]) -> None:
    agent = mzero.Agent.load(cartpole_run[0])
    for allowed in (0, 1):
        mask = np.zeros(2, bool)
        mask[allowed] = True
        assert agent.act(np.zeros(4, np.float32), legal_mask=mask) == allowed


def test_tictactoe_smoke_run_and_agent(tmp_path: Path) -> None:
    config = small(
        "tictactoe",
        **{
            "train.max_env_steps": 300,
            "train.eval_interval": 200,
            "network.kind": "mlp",
            "network.hidden": (32,),
            "network.latent_dim": 16,
        },
    )
    last = train(config, tmp_path, progress=False)
    assert {"eval_return_mean", "eval_minimax_losses", "eval_random_win_rate"} <= last.keys()
    # best.pt is the network of the latest evaluation with the best scores against
    # minimax, then random (ties: the later one)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evaluated = [line for line in lines if "eval_minimax_score" in line]
    key = [(line["eval_minimax_score"], line["eval_random_score"]) for line in evaluated]
    best = max(i for i, k in enumerate(key) if k == max(key))
    assert len(evaluated) >= 2
    assert (
        load_checkpoint(tmp_path / "checkpoints" / "best.pt")["env_steps"]
        == (evaluated[best]["env_steps"])
    )
    agent = mzero.Agent.load(tmp_path)
    assert agent.two_player
    env = mzero.envs.TicTacToeEnv()
    observation, info = env.reset()
    done = False
    while not done:
        action = agent.act(observation, info["legal_mask"])
        assert info["legal_mask"][action]
        observation, _, done, _, info = env.step(action)


def test_checkpoints_are_atomic_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"version": 1, "x": torch.arange(3)})
    assert torch.equal(load_checkpoint(path)["x"], torch.arange(3))
    save_checkpoint(path, {"version": 1, "x": torch.arange(4)})
    assert torch.equal(load_checkpoint(path)["x"], torch.arange(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(mzero.CorruptFileError, match=r"c\.pt"):
        load_checkpoint(path)
    save_checkpoint(path, {"version": 99})
    with pytest.raises(mzero.CorruptFileError, match="version"):
        load_checkpoint(path)
    with pytest.raises(mzero.MZeroIOError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


def test_learning_rate_schedules() -> None:
    warm = learning_rate_factor(TrainConfig(lr=1.0, lr_warmup_steps=4))
    assert [warm(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    cosine = learning_rate_factor(
        TrainConfig(lr=1.0, lr_schedule="cosine", lr_decay_steps=10, lr_min=0.1)
    )
    assert cosine(0) == pytest.approx(1.0)
    assert cosine(5) == pytest.approx(0.1 + 0.9 * 0.5)
    assert cosine(10) == pytest.approx(0.1)
    assert cosine(1000) == pytest.approx(0.1)
    exponential = learning_rate_factor(
        TrainConfig(lr=1.0, lr_schedule="exponential", lr_decay_steps=10, lr_decay_rate=0.5)
    )
    assert exponential(10) == pytest.approx(0.5)
    assert exponential(20) == pytest.approx(0.25)
    assert math.isclose(exponential(5), 0.5**0.5)


def test_a_run_needs_a_limit(tmp_path: Path) -> None:
    config = small("cartpole")
    with pytest.raises(mzero.InvalidArgumentError, match="max_minutes"):
        Trainer(config, tmp_path, progress=False).run()


def mzero_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mzero", *args],
        capture_output=True,
        text=True,
        input=stdin,
        check=False,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )


def test_cli_train_eval_and_play(tmp_path: Path) -> None:
    run_dir = tmp_path / "ttt"
    result = mzero_cli(
        "train",
        "tictactoe",
        "--seed",
        "3",
        "--run-dir",
        str(run_dir),
        "--no-progress",
        "--train.max-env-steps",
        "200",
        "--train.min-replay",
        "50",
        "--train.num-envs",
        "8",
        "--train.batch-size",
        "16",
        "--search.num-simulations",
        "4",
        "--network.kind",
        "mlp",
        "--train.eval-episodes",
        "2",
        "--train.learner-step",
        "eager",  # a fresh process: compiling would take most of the test's time
    )
    assert result.returncode == 0, result.stderr
    saved = Config.load(run_dir / "config.json")
    assert (saved.train.seed, saved.search.num_simulations, saved.network.kind) == (3, 4, "mlp")
    assert json.loads(result.stdout.splitlines()[-1])["env_steps"] >= 200

    evaluation = mzero_cli("eval", str(run_dir), "--episodes", "4")
    assert evaluation.returncode == 0, evaluation.stderr
    tallies = json.loads(evaluation.stdout)
    # each evaluation opponent of the game (minimax, random): half the games first
    for opponent in ("minimax", "random"):
        for side in ("first", "second"):
            assert sum(tallies[f"vs_{opponent}_{side}"].values()) == 2
        assert 0.0 <= tallies[f"vs_{opponent}_score"] <= 1.0
    assert tallies["vs_minimax_first"]["wins"] == tallies["vs_minimax_second"]["wins"] == 0
    # every game against every optimal line (nobody beats minimax) and every legal line
    for side in ("first", "second"):
        optimal, legal = tallies[f"every_optimal_line_{side}"], tallies[f"every_legal_line_{side}"]
        assert optimal["wins"] == 0 and sum(optimal.values()) >= 1
        assert sum(legal.values()) > sum(optimal.values())

    # the human plays every cell in order; illegal ones are refused and asked again
    moves = "\n".join(["x", "9", *[str(c) for c in range(9)] * 2]) + "\n"
    play = mzero_cli("play", str(run_dir), stdin=moves)
    assert play.returncode == 0, play.stderr
    assert "not a legal move: 'x'" in play.stdout
    assert "not a legal move: '9'" in play.stdout
    assert play.stdout.rstrip().endswith(("Draw.", "You win!", "The agent wins."))


def test_cli_reports_bad_overrides_and_missing_runs(tmp_path: Path) -> None:
    bad = mzero_cli(
        "train", "cartpole", "--search.num-simulations", "0", "--run-dir", str(tmp_path)
    )
    assert bad.returncode == 2
    assert "search.num_simulations" in bad.stderr
    missing = mzero_cli("eval", str(tmp_path / "nothing"))
    assert missing.returncode == 2
    assert "no checkpoint" in missing.stderr
    mistyped = mzero_cli("train", "cartpole", "--search.num-simulatons", "25")
    assert mistyped.returncode == 2
    assert "did you mean --search.num-simulations?" in mistyped.stderr
    wrong_section = mzero_cli("train", "cartpole", "--serch.num-simulations=25")
    assert wrong_section.returncode == 2
    assert "did you mean --search.num-simulations?" in wrong_section.stderr
    both = mzero_cli("train", "cartpole", "--config", str(tmp_path / "config.json"))
    assert both.returncode == 2
    assert "--config: starts from its own config; give it or the preset 'cartpole'" in both.stderr


def test_a_damaged_checkpoint_is_a_corrupt_file_error(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    garbage = run_dir / "checkpoints" / "best.pt"
    garbage.write_bytes(b"\x80\x04not a checkpoint at all" * 10)
    with pytest.raises(mzero.CorruptFileError, match=r"best\.pt"):
        load_checkpoint(garbage)
    with pytest.raises(mzero.CorruptFileError, match=r"best\.pt"):
        mzero.Agent.load(run_dir)
    result = mzero_cli("eval", str(run_dir))
    assert result.returncode == 2
    assert "best.pt" in result.stderr and "Traceback" not in result.stderr


def test_play_reads_moves_from_its_input() -> None:
    from mzero.cli import _read_move

    out = io.StringIO()
    mask = np.array([False, True] + [False] * 7)
    assert _read_move(io.StringIO("0\n1\n"), out, mask) == 1
    assert "not a legal move: '0'" in out.getvalue()
    assert _read_move(io.StringIO(""), out, mask) is None


def test_consistency_loss_trains_through_the_replay_next_observations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = small(
        "tictactoe",
        **{
            "network.projection_dim": 16,
            "train.consistency_weight": 2.0,
            "train.max_train_steps": 30,
            "train.eval_interval": 0,
            "train.augment_symmetries": False,  # the batch as sampled
            "train.learner_step": "eager",
        },
    )
    trainer = Trainer(config, tmp_path, progress=False)
    learner = trainer.learner
    samples: list = []
    sample = learner.sample
    learner.sample = lambda: samples.append(sample()) or samples[-1]
    checked = []

    def loss(network, batch, *args, **kwargs):
        # the batch's next observations are the sampled ones, and the term follows them:
        # paired with another position's next observations it changes
        expected = torch.from_numpy(np.asarray(samples[-1].next_observation))
        assert torch.equal(batch.next_observation, expected)
        real = muzero_loss(network, batch, *args, **kwargs)
        rolled = dataclasses.replace(batch, next_observation=batch.next_observation.roll(1, 0))
        other = muzero_loss(network, rolled, *args, **kwargs)
        checked.append(float(real.consistency) != float(other.consistency))
        return real

    monkeypatch.setattr("mzero.learner.muzero_loss", loss)
    metrics = trainer.run()
    assert trainer.train_steps == 30 and len(checked) == 30 and all(checked)
    assert metrics["loss_consistency"] != 0.0
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all("loss_consistency" in row for row in rows if "loss" in row)
