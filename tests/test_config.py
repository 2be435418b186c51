"""Configs: presets, docstrings, JSON and TOML round trips, command-line overrides,
``mzero config show``, validation."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import mzero
from mzero.cli import main
from mzero.config import (
    PRESETS,
    Config,
    SearchSettings,
    TrainConfig,
    add_override_arguments,
    apply_overrides,
    autocast_dtype,
    field_docs,
    overrides_from_namespace,
    preset,
)
from mzero.config.values import coerce

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SECTIONS = [spec.name for spec in dataclasses.fields(Config)]

# The keyword arguments of mzero.SearchConfig, as docs/design.md fixes them.
SEARCH_CONFIG_FIELDS = {
    "num_simulations",
    "discount",
    "pb_c_init",
    "pb_c_base",
    "dirichlet_alpha",
    "dirichlet_fraction",
    "two_player",
    "algorithm",
    "max_considered_actions",
    "gumbel_scale",
    "c_visit",
    "c_scale",
}


def section_classes() -> list[type]:
    return [type(getattr(Config(), name)) for name in SECTIONS]


@pytest.mark.parametrize("cls", [Config, *section_classes()], ids=lambda c: c.__name__)
def test_every_field_has_a_docstring(cls: type) -> None:
    docs = field_docs(cls)
    for spec in dataclasses.fields(cls):
        assert docs.get(spec.name), f"{cls.__name__}.{spec.name} has no docstring"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid_and_fresh(name: str) -> None:
    a = preset(name)
    b = preset(name)
    assert a == b
    assert a is not b
    a.train.seed = 123
    assert preset(name).train.seed != 123


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(
        mzero.InvalidArgumentError,
        match="2048, atari, cartpole, cartpole-efficient, connect4, minatar, tictactoe, got 'pong'",
    ):
        preset("pong")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_save_load_round_trip_is_readable_json(name: str, tmp_path: Path) -> None:
    config = preset(name)
    path = tmp_path / "config.json"
    config.save(path)
    text = path.read_text()
    assert text.startswith("{\n  ")  # indented, readable
    data = json.loads(text)
    assert set(data) == set(SECTIONS)
    loaded = Config.load(path)
    assert loaded == config
    assert isinstance(loaded.network.hidden, tuple)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_load_keeps_defaults_for_missing_fields(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"search": {"num_simulations": 7}}))
    config = Config.load(path)
    assert config.search.num_simulations == 7
    assert config.train == TrainConfig()


def test_load_rejects_unknown_fields_and_sections(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"search": {"num_simulatons": 7}}))
    with pytest.raises(mzero.InvalidArgumentError, match=r"search\.num_simulatons.*did you mean"):
        Config.load(path)
    path.write_text(json.dumps({"serch": {}}))
    with pytest.raises(mzero.InvalidArgumentError, match="unknown section 'serch'"):
        Config.load(path)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"search": {"num_simulations": 2.5}}, r"search\.num_simulations: expected an integer"),
        ({"search": {"num_simulations": True}}, r"search\.num_simulations: expected an integer"),
        ({"search": {"discount": "0.9"}}, r"search\.discount: expected a number"),
        ({"network": {"hidden": 64}}, r"network\.hidden: expected a list"),
        ({"env": {"id": 3}}, r"env\.id: expected a string"),
        ({"search": []}, "section 'search': expected a mapping"),
    ],
)
def test_load_type_checks_values(data: dict, pattern: str, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    with pytest.raises(mzero.InvalidTypeError, match=pattern):
        Config.load(path)


def test_load_reports_bad_json_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(mzero.CorruptFileError, match="not valid JSON"):
        Config.load(path)
    with pytest.raises(mzero.MZeroIOError, match="cannot read"):
        Config.load(tmp_path / "missing.json")


def test_integers_are_accepted_for_float_fields() -> None:
    config = Config.from_dict({"search": {"discount": 1}})
    assert config.search.discount == 1.0
    assert isinstance(config.search.discount, float)


def test_overrides_parse_strings_to_the_field_types() -> None:
    base = preset("cartpole")
    config = apply_overrides(
        base,
        {
            "search.num-simulations": "25",
            "search.pb_c_init": "2.5",
            "network.hidden": ["128", "32"],
            "train.max-minutes": "none",
            "train.lr-schedule": "cosine",
            "train.augment-symmetries": "yes",
            "train.seed": "-3",
            "replay.capacity": "10_000",
            "env.id": "Acrobot-v1",
        },
    )
    assert config.search.num_simulations == 25
    assert config.search.pb_c_init == 2.5
    assert config.network.hidden == (128, 32)
    assert config.train.max_minutes is None
    assert config.train.lr_schedule == "cosine"
    assert config.train.augment_symmetries is True
    assert config.train.seed == -3
    assert config.replay.capacity == 10_000
    assert config.env.id == "Acrobot-v1"
    # the base is untouched, and everything else is unchanged
    assert base == preset("cartpole")
    assert config.reanalyze == base.reanalyze


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"search.num-simulation": "25"}, r"unknown field search\.num-simulation"),
        ({"serch.num-simulations": "25"}, "unknown section 'serch'"),
        ({"search.num-simulations": "many"}, r"search\.num_simulations: expected an integer"),
        ({"search.discount": "x"}, r"search\.discount: expected a number"),
        ({"search.discount": "nan"}, r"search\.discount: expected a finite number"),
        ({"search.algorithm": "alphazero"}, r"search\.algorithm: expected one of muzero"),
        ({"search.num-simulations": "-1"}, r"search\.num_simulations: expected a positive"),
        ({"search.discount": "1.5"}, r"search\.discount: expected a value in \(0, 1\]"),
        ({"train.temperatures": ["1", "0.5"]}, r"train\.temperatures: expected one more value"),
        ({"train.consistency-weight": "1"}, r"network\.projection_dim: expected > 0 when"),
        ({"train.temperature-moves": "-1"}, r"train\.temperature_moves: expected a value >= 0"),
        ({"train.reward-loss-weight": "-1"}, r"train\.reward_loss_weight: expected a value"),
        # the engine's bounds, named before a buffer or a search is built
        ({"replay.alpha": "4.5"}, r"replay\.alpha: expected in \[0, 4\]"),
        ({"train.unroll-steps": "1025"}, r"train\.unroll_steps: expected at most 1024"),
        ({"env.frame-stack": "1025"}, r"env\.frame_stack: expected at most 1024"),
        ({"search.c-scale": "1e101"}, r"search\.c_scale: expected in \[0, 1e100\]"),
    ],
)
def test_overrides_reject_bad_values_naming_the_field(
    overrides: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(mzero.InvalidArgumentError, match=pattern):
        apply_overrides(Config(), overrides)


def test_unknown_field_suggests_the_closest() -> None:
    with pytest.raises(mzero.InvalidArgumentError, match=r"did you mean search\.num_simulations"):
        apply_overrides(Config(), {"search.num_simulatons": 3})


def test_argparse_options_cover_every_field_and_parse_typed_values() -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False)
    add_override_arguments(parser)
    help_text = parser.format_help()
    for section in SECTIONS:
        cls = type(getattr(Config(), section))
        for spec in dataclasses.fields(cls):
            assert f"--{section}.{spec.name.replace('_', '-')}" in help_text
    assert "Simulations per search" in help_text  # the docstring is the help

    ns = parser.parse_args(["--search.num-simulations", "25", "--network.hidden", "8", "8"])
    overrides = overrides_from_namespace(ns)
    assert overrides == {"search.num_simulations": "25", "network.hidden": ["8", "8"]}
    config = apply_overrides(Config(), overrides)
    assert config.search.num_simulations == 25
    assert config.network.hidden == (8, 8)
    # an optional tuple: names, or none for the default
    ns = parser.parse_args(["--train.eval-opponents", "uct:400", "random"])
    config = apply_overrides(Config(), overrides_from_namespace(ns))
    assert config.train.eval_opponents == ("uct:400", "random")
    ns = parser.parse_args(["--train.eval-opponents", "none"])
    assert apply_overrides(config, overrides_from_namespace(ns)).train.eval_opponents is None
    # underscore spelling reaches the same destination; a negative number is a value
    ns = parser.parse_args(["--search.num_simulations", "7", "--train.seed", "-3"])
    assert overrides_from_namespace(ns) == {"search.num_simulations": "7", "train.seed": "-3"}
    assert overrides_from_namespace(parser.parse_args([])) == {}


def test_bool_values_parse_from_strings() -> None:
    assert coerce("x", bool, "true", parse=True) is True
    assert coerce("x", bool, "No", parse=True) is False
    with pytest.raises(mzero.InvalidArgumentError, match="expected true or false"):
        coerce("x", bool, "maybe", parse=True)
    with pytest.raises(mzero.InvalidTypeError, match="expected true or false"):
        coerce("x", bool, "true", parse=False)


def test_train_help_groups_the_overrides_by_section(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = capsys.readouterr().out
    titles = [line for line in help_text.splitlines() if line.endswith(":") and line[0] != " "]
    assert [title.split(":")[0] for title in titles][-len(SECTIONS) :] == SECTIONS
    assert "\ntrain: self-play, the learner and the run" in help_text
    usage = help_text.split("\n\n")[0]
    assert "[--SECTION.FIELD VALUE]" in usage and "--search.num-simulations" not in usage
    # one line per option: the underscore spelling is accepted but not listed
    assert "--search.num-simulations INT" in help_text
    assert "--search.num_simulations" not in help_text


def _toml_values(data: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``Config.to_dict`` as TOML holds it: no null (``"none"``), arrays for tuples."""
    return {
        section: {
            key: "none" if value is None else list(value) if isinstance(value, tuple) else value
            for key, value in values.items()
        }
        for section, values in data.items()
    }


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_config_show_prints_the_whole_preset(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", name]) == 0
    text = capsys.readouterr().out
    assert tomllib.loads(text) == _toml_values(preset(name).to_dict())
    assert Config.from_text(text, "toml") == preset(name)
    assert main(["config", "show", name, "--format", "json"]) == 0
    assert Config.from_text(capsys.readouterr().out) == preset(name)


def test_toml_keeps_none_apart_from_the_default(tmp_path: Path) -> None:
    # train.grad_clip defaults to 5.0: a key left out would read back as 5.0, not None
    config = apply_overrides(
        Config(),
        {
            "train.grad-clip": "none",
            "train.temperatures": "0.5",
            "train.temperature-milestones": [],
        },
    )
    path = tmp_path / "run.toml"
    config.save(path)
    text = path.read_text()
    assert 'grad_clip = "none"' in text and "temperature_milestones = []" in text
    loaded = Config.load(path)
    assert loaded == config and loaded.train.grad_clip is None
    assert loaded.train.temperature_milestones == ()
    # "none" is None only where None is a value: elsewhere it is a wrong type
    path.write_text('[train]\nlr = "none"\n')
    with pytest.raises(mzero.InvalidTypeError, match=r"train\.lr: expected a number"):
        Config.load(path)
    path.write_text("[train\n")
    with pytest.raises(mzero.CorruptFileError, match="not valid TOML"):
        Config.load(path)


def test_train_reads_a_toml_config_naming_a_bad_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[search]\nnum_simulations = 0\n[train]\nmax_env_steps = "none"\n')
    assert main(["train", "--config", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    assert "config search.num_simulations: expected a positive integer" in capsys.readouterr().err


def test_search_settings_map_onto_search_config_fields() -> None:
    settings = SearchSettings(dirichlet_fraction=0.25)
    kwargs = settings.search_config_kwargs(two_player=True, explore=True)
    assert set(kwargs) == SEARCH_CONFIG_FIELDS
    assert kwargs["two_player"] is True
    assert kwargs["dirichlet_fraction"] == 0.25
    assert settings.search_config_kwargs(two_player=False, explore=False)["dirichlet_fraction"] == 0


def test_search_settings_build_a_search_config() -> None:
    config = SearchSettings(num_simulations=7).to_search_config(two_player=True, explore=False)
    assert config.num_simulations == 7
    assert config.two_player is True
    assert config.dirichlet_fraction == 0.0


def test_eval_simulations_apply_to_greedy_play_only() -> None:
    settings = SearchSettings(num_simulations=7, eval_simulations=30)
    assert settings.to_search_config(two_player=True, explore=False).num_simulations == 30
    assert settings.to_search_config(two_player=True, explore=True).num_simulations == 7
    with pytest.raises(mzero.InvalidArgumentError, match=r"search\.eval_simulations"):
        SearchSettings(eval_simulations=0).validate()


def test_config_builds_its_replay_buffer() -> None:
    config = apply_overrides(
        preset("connect4"),
        {
            "replay.capacity": 1234,
            "replay.alpha": 0.6,
            "replay.beta": 0.4,
            "train.unroll_steps": 3,
            "train.td_steps": 7,
            "search.discount": 0.9,
            "env.frame_stack": 2,
        },
    )
    replay = config.to_replay_buffer((3, 6, 7), 7, two_player=True)
    assert len(replay) == 0
    assert replay.config() == {
        "capacity": 1234,
        "obs_shape": (3, 6, 7),
        "num_actions": 7,
        "unroll_steps": 3,
        "td_steps": 7,
        "discount": pytest.approx(0.9),
        "two_player": True,
        "alpha": pytest.approx(0.6),
        "beta": pytest.approx(0.4),
        "stack": 2,
    }


def test_autocast_dtype_names_the_torch_precision() -> None:
    import torch

    assert autocast_dtype("float32") is None
    assert autocast_dtype("bfloat16") is torch.bfloat16
    assert autocast_dtype("float16") is torch.float16
    with pytest.raises(mzero.InvalidArgumentError, match="precision: expected one of"):
        autocast_dtype("float64")


def test_temperature_schedule_steps_at_the_milestones() -> None:
    train = TrainConfig(temperatures=(1.0, 0.5, 0.0), temperature_milestones=(10, 20))
    assert [train.temperature(s) for s in (0, 9, 10, 19, 20, 10_000)] == [
        1.0,
        1.0,
        0.5,
        0.5,
        0.0,
        0.0,
    ]
