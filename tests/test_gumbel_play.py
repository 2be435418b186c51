"""Gumbel MuZero in self-play and evaluation (Danihelka et al. 2022; mctx's
``gumbel_muzero_policy``).

* self-play acts with the search's own ``action`` (the sequential-halving winner,
  with Gumbel noise), not a sample of the visit counts;
* the stored policy target is the search's improved ``policy``;
* evaluation and :class:`mzero.Agent` search with ``gumbel_scale = 0``: deterministic;
* :meth:`SearchSettings.ignored_settings` names the settings the chosen algorithm
  does not read (e.g. Dirichlet noise under Gumbel).

The self-play setting is CartPole (2 actions) with 8 simulations: sequential halving
over the 2 considered actions visits each 4 times, so a sample of the visit counts
picks the search's action only half the time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import mzero
from mzero.agent import Agent
from mzero.cli import main as cli_main
from mzero.config import PRESETS, Config, NetworkConfig, SearchSettings, apply_overrides, preset
from mzero.evaluate import evaluate_returns
from mzero.networks import MuZeroNetwork
from mzero.planner import Planner
from mzero.selfplay import SelfPlay

torch.set_num_threads(1)

SIMS = 8


def cartpole_network() -> MuZeroNetwork:
    torch.manual_seed(0)
    config = NetworkConfig(kind="mlp", latent_dim=8, hidden=(16,), value_support=5)
    net = MuZeroNetwork((4,), 2, config)
    with torch.no_grad():  # non-zero value and reward heads: Q values differ between actions
        for param in net.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return net


def gumbel_config(num_envs: int = 4, c_scale: float = 0.1) -> Config:
    """CartPole under Gumbel MuZero with 8 simulations.

    With 2 actions the completed Q values rescale to 0 and 1, so the default c_scale
    0.1 makes sigma(q) differ by (50 + 4) * 0.1 = 5.4 between them: more than the
    Gumbel noise usually moves. ``c_scale=0.02`` (a gap of 1.08) lets the noise change
    the search's action, as the tests of noise need.
    """
    return apply_overrides(
        preset("cartpole"),
        {
            "search.algorithm": "gumbel",
            "search.num_simulations": SIMS,
            "search.c_scale": c_scale,
            "train.num_envs": num_envs,
            "network.act_inference": None,  # agents act as self-play does: no compiling
        },
    )


def search_config(config: Config, gumbel_scale: float) -> Any:
    kwargs = config.search.search_config_kwargs(two_player=False, explore=True)
    return mzero.SearchConfig(**(kwargs | {"gumbel_scale": gumbel_scale}))


class RecordingReplay:
    def __init__(self) -> None:
        self.games: list[dict[str, Any]] = []

    def add_game(self, observations, actions, rewards, root_values, policies, **kwargs):
        self.games.append(dict(actions=actions, root_values=root_values, policies=policies))
        return len(self.games) - 1


class SelfPlayRecorder:
    """Self-play with the search outputs and the actions sent to each environment recorded."""

    def __init__(self, config: Config, seed: int = 0) -> None:
        self.replay = RecordingReplay()
        self.play = SelfPlay(cartpole_network(), config, self.replay, seed=seed)
        self.outs: list[Any] = []
        self.env_actions: list[list[int]] = [[] for _ in self.play.envs]
        search = self.play.planner.search

        def recording_search(*args: Any, **kwargs: Any) -> Any:
            out = search(*args, **kwargs)
            self.outs.append(out)
            return out

        self.play.planner.search = recording_search  # type: ignore[method-assign]
        for i, env in enumerate(self.play.envs):
            env_step = env.step

            def recording_step(action: int, i: int = i, env_step: Any = env_step) -> Any:
                self.env_actions[i].append(action)
                return env_step(action)

            env.step = recording_step  # type: ignore[method-assign]

    def run(self, steps: int, temperature: float) -> None:
        for _ in range(steps):
            self.play.step(temperature=temperature)


def test_gumbel_self_play_acts_with_the_search_action() -> None:
    steps = 25
    recorder = SelfPlayRecorder(gumbel_config(num_envs=4))
    recorder.run(steps, temperature=1.0)
    assert len(recorder.outs) == steps
    visits = np.stack([out.visit_counts for out in recorder.outs])  # [steps, B, 2]
    # 2 considered actions, 8 simulations: sequential halving visits each 4 times, so
    # a sample of the visit counts at temperature 1 would be a coin flip
    assert (visits == SIMS // 2).all()
    search_actions = np.stack([out.action for out in recorder.outs]).T  # [B, steps]
    # 100 moves: the old rule (sampling the visits) matches all with probability 2^-100
    np.testing.assert_array_equal(np.array(recorder.env_actions), search_actions)
    # the games keep the actions played, in order
    for i, game in enumerate(recorder.play.games):
        assert game.actions == recorder.env_actions[i][steps - len(game) :]
    played = sum(len(g["actions"]) for g in recorder.replay.games)
    assert played + sum(len(g) for g in recorder.play.games) == steps * 4


def test_gumbel_self_play_ignores_temperatures_and_temperature_moves() -> None:
    config = gumbel_config(num_envs=4, c_scale=0.02)
    config.train.temperature_moves = 3
    recorder = SelfPlayRecorder(config, seed=1)
    recorder.run(15, temperature=0.0)
    search_actions = np.stack([out.action for out in recorder.outs]).T
    np.testing.assert_array_equal(np.array(recorder.env_actions), search_actions)
    # greedy by visits would play action 0 (lowest index of the 4/4 tie) every time
    assert search_actions.any()


def test_gumbel_self_play_stores_the_improved_policy_as_target() -> None:
    steps = 25
    recorder = SelfPlayRecorder(gumbel_config(num_envs=4), seed=2)
    recorder.run(steps, temperature=1.0)
    policies = np.stack([out.policy for out in recorder.outs]).transpose(1, 0, 2)  # [B, T, A]
    values = np.stack([out.root_value for out in recorder.outs]).T
    visit_policy = np.stack([out.visit_counts for out in recorder.outs]) / SIMS
    # the improved policy softmax(logits + sigma(completed q)) is not the visit distribution
    assert np.abs(policies - visit_policy.transpose(1, 0, 2)).max() > 1e-3
    # games in progress hold the last len(game) searches of their environment
    for i, game in enumerate(recorder.play.games):
        n = len(game)
        stored = np.array(game.policies).reshape(n, 2)
        np.testing.assert_array_equal(stored, policies[i, steps - n :])
        np.testing.assert_array_equal(np.array(game.root_values), values[i, steps - n :])
    # finished games: every stored policy row is one of the search's policy rows
    rows = {row.tobytes() for row in policies.reshape(-1, 2).astype(np.float32)}
    assert recorder.replay.games
    for game in recorder.replay.games:
        for row in np.asarray(game["policies"], dtype=np.float32):
            assert row.tobytes() in rows


def test_search_config_without_exploration_has_no_gumbel_noise() -> None:
    settings = SearchSettings(algorithm="gumbel", gumbel_scale=1.0, dirichlet_fraction=0.25)
    play = settings.search_config_kwargs(two_player=False, explore=True)
    assert (play["gumbel_scale"], play["dirichlet_fraction"]) == (1.0, 0.25)
    greedy = settings.search_config_kwargs(two_player=False, explore=False)
    assert (greedy["gumbel_scale"], greedy["dirichlet_fraction"]) == (0.0, 0.0)


class SearchSpy:
    """Wraps ``mzero.search``: for every call it also searches the same roots with
    gumbel_scale 0 (another seed) and with gumbel_scale 1 (other seeds)."""

    def __init__(self, search: Any, deterministic: Any, noisy: Any) -> None:
        self.search = search
        self.deterministic = deterministic
        self.noisy = noisy
        self.scales: list[float] = []
        self.actions: list[np.ndarray] = []
        self.reference: list[np.ndarray] = []
        self.noisy_actions: list[np.ndarray] = []

    def __call__(
        self, root_value, root_logits, recurrent_fn, config, legal_mask=None, seed=0, first_game=0
    ):
        def run(search_config: Any, seed: int) -> Any:
            return self.search(
                root_value,
                root_logits,
                recurrent_fn,
                search_config,
                legal_mask=legal_mask,
                seed=seed,
                first_game=first_game,
            )

        out = run(config, seed)
        # later searches overwrite only the latents of nodes that this one has finished with
        ref = run(self.deterministic, seed + 1)
        for s in (seed + 2, seed + 3):
            noisy = run(self.noisy, s)
            self.noisy_actions.append(noisy.action)
            self.reference.append(ref.action)
        self.scales.append(config.gumbel_scale)
        self.actions.append(out.action)
        return out


def test_gumbel_evaluation_is_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gumbel_config(c_scale=0.02)
    spy = SearchSpy(mzero.search, search_config(config, 0.0), search_config(config, 1.0))
    monkeypatch.setattr(mzero, "search", spy)
    net = cartpole_network()
    returns = evaluate_returns(net, config, episodes=6, seed=0)
    assert len(returns) == 6
    assert set(spy.scales) == {0.0}
    played = np.concatenate(spy.actions)
    reference = np.concatenate(spy.reference[::2])
    np.testing.assert_array_equal(played, reference)
    # with Gumbel noise some of these searches choose another action
    noisy = np.concatenate(spy.noisy_actions)
    assert (noisy != np.concatenate(spy.reference)).any()


def test_gumbel_agent_acts_deterministically() -> None:
    config = gumbel_config(c_scale=0.02)
    net = cartpole_network()
    rng = np.random.default_rng(0)
    observations = (rng.standard_normal((48, 4)) * [1.0, 1.0, 0.1, 1.0]).astype(np.float32)
    agents = [Agent(net, config, two_player=False, seed=seed) for seed in range(3)]
    assert agents[0].planner.search_config.gumbel_scale == 0.0
    acted = np.array([[agent.act(obs) for obs in observations] for agent in agents])
    assert (acted == acted[0]).all()  # the same action whatever the agent's seed
    deterministic = Planner(net, search_config(config, 0.0), max_games=len(observations))
    noisy = Planner(net, search_config(config, 1.0), max_games=len(observations))
    batch = observations[:, None]
    reference = deterministic.plan(batch, seed=123).action
    np.testing.assert_array_equal(acted[0], reference)
    # Gumbel noise would change some of these actions (so an agent with noise fails above)
    noisy_actions = np.stack([noisy.plan(batch, seed=s).action for s in range(3)])
    assert (noisy_actions != reference).any()


def test_ignored_settings_name_the_other_algorithms_fields() -> None:
    gumbel = SearchSettings(algorithm="gumbel", dirichlet_fraction=0.25)
    assert gumbel.ignored_settings() == [
        "search.dirichlet_fraction = 0.25 is ignored by search.algorithm gumbel "
        "(Gumbel MuZero explores with Gumbel noise, search.gumbel_scale)"
    ]
    assert SearchSettings(algorithm="gumbel", dirichlet_fraction=0.0).ignored_settings() == []
    changed = SearchSettings(algorithm="gumbel", dirichlet_fraction=0.0, pb_c_init=2.0)
    assert [m.split(" is ")[0] for m in changed.ignored_settings()] == ["search.pb_c_init = 2.0"]
    # Gumbel's own settings are read under gumbel
    assert (
        SearchSettings(
            algorithm="gumbel", dirichlet_fraction=0.0, c_visit=10.0, gumbel_scale=0.5
        ).ignored_settings()
        == []
    )
    muzero = SearchSettings(algorithm="muzero", c_visit=10.0, max_considered_actions=4)
    messages = muzero.ignored_settings()
    assert [m.split(" is ")[0] for m in messages] == [
        "search.max_considered_actions = 4",
        "search.c_visit = 10.0",
    ]
    assert all("ignored by search.algorithm muzero" in m for m in messages)
    # PUCT's own settings (noise included) are read under muzero
    assert SearchSettings(dirichlet_fraction=0.5, pb_c_init=2.0).ignored_settings() == []


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_as_they_are_ignore_nothing(name: str) -> None:
    config = preset(name)
    assert config.ignored_settings() == []
    if config.network.stochastic:
        # chance nodes plan with PUCT only: a switch to Gumbel is refused
        with pytest.raises(mzero.InvalidArgumentError, match=r"search\.algorithm"):
            apply_overrides(config, {"search.algorithm": "gumbel"})
    elif config.search.algorithm == "muzero":
        # switched to Gumbel, the preset's Dirichlet noise is reported
        switched = apply_overrides(config, {"search.algorithm": "gumbel"})
        assert any("search.dirichlet_fraction" in m for m in switched.search.ignored_settings())


def test_cli_train_warns_about_ignored_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    args = ["train", "cartpole", "--search.algorithm", "gumbel", "--search.num-simulations"]
    args += ["8", "--seed", "0", "--max-minutes", "10", "--run-dir", str(tmp_path / "run")]
    args += ["--no-progress", "--train.max-env-steps", "16", "--train.num-envs", "4"]
    args += ["--train.eval-interval", "0"]
    with caplog.at_level(logging.WARNING, logger="mzero"):
        assert cli_main(args) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("search.dirichlet_fraction = 0.25 is ignored") for m in warned)
    assert "mzero: warning: search.dirichlet_fraction = 0.25 is ignored" in capsys.readouterr().err


def test_gumbel_self_play_reports_the_temperature_settings_it_ignores() -> None:
    # tictactoe samples its first 6 moves (temperature_moves): Gumbel plays its own action
    config = apply_overrides(preset("tictactoe"), {"search.algorithm": "gumbel"})
    messages = config.ignored_settings()
    assert any(m.startswith("train.temperature_moves = 6 is ignored") for m in messages)
    assert config.search.ignored_settings() == messages[: len(config.search.ignored_settings())]
    lower = apply_overrides(
        config, {"train.temperatures": [0.5], "train.temperature_milestones": []}
    )
    assert any(m.startswith("train.temperatures = (0.5,)") for m in lower.ignored_settings())
    assert not any(m.startswith("train.") for m in preset("tictactoe").ignored_settings())
