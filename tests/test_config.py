"""Configs: presets, docstrings, JSON round trip, command-line overrides, validation."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

import mzero
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
    parse_overrides,
    preset,
)

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


def test_preset_picks_the_environment_and_network() -> None:
    assert preset("cartpole").env.id == "CartPole-v1"
    assert preset("cartpole").network.kind == "mlp"
    assert preset("tictactoe").env.id == "tictactoe"
    assert preset("tictactoe").network.kind == "mlp"
    assert preset("tictactoe").train.temperature_moves == 6
    assert preset("tictactoe").train.augment_symmetries
    assert preset("tictactoe").search.discount == 1.0
    efficient = preset("cartpole-efficient")
    assert efficient.reanalyze.enabled and efficient.reanalyze.value
    assert efficient.search.algorithm == "gumbel" and efficient.train.consistency_weight > 0
    assert efficient.train.segment_length == preset("cartpole").train.segment_length == 50
    assert not preset("cartpole").reanalyze.enabled


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(
        mzero.InvalidArgumentError,
        match="cartpole, cartpole-efficient, connect4, tictactoe, got 'pong'",
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


def test_parse_overrides_accepts_dashes_underscores_and_equals() -> None:
    base = preset("cartpole")
    config = parse_overrides(
        base,
        [
            "--search.num-simulations",
            "25",
            "--search.pb_c_init=2.5",
            "--network.hidden",
            "128",
            "32",
            "--train.max-minutes",
            "none",
            "--train.lr-schedule",
            "cosine",
            "--env.id",
            "Acrobot-v1",
        ],
    )
    assert config.search.num_simulations == 25
    assert config.search.pb_c_init == 2.5
    assert config.network.hidden == (128, 32)
    assert config.train.max_minutes is None
    assert config.train.lr_schedule == "cosine"
    assert config.env.id == "Acrobot-v1"
    # the base is untouched
    assert base.search.num_simulations == preset("cartpole").search.num_simulations
    # everything else is unchanged
    assert config.replay == base.replay


def test_parse_overrides_accepts_negative_numbers() -> None:
    # a value beginning with a single dash is a value, not an option
    with pytest.raises(
        mzero.InvalidArgumentError,
        match=r"search\.num_simulations: expected a positive integer, got -1",
    ):
        parse_overrides(Config(), ["--search.num-simulations", "-1"])
    assert parse_overrides(Config(), ["--train.seed", "-3"]).train.seed == -3


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--search.num-simulation", "25"], r"unknown field search\.num-simulation"),
        (["--serch.num-simulations", "25"], "unknown section 'serch'"),
        (["--search.num-simulations", "many"], r"search\.num_simulations: expected an integer"),
        (["--search.discount", "x"], r"search\.discount: expected a number"),
        (["--search.discount", "nan"], r"search\.discount: expected a finite number"),
        (["--search.algorithm", "alphazero"], r"search\.algorithm: expected one of muzero"),
        (["--search.num-simulations"], r"--search\.num-simulations: expected a value"),
        (["25"], "expected --SECTION.FIELD VALUE, got '25'"),
        (["--search.discount", "1.5"], r"search\.discount: expected a value in \(0, 1\]"),
        (["--train.temperatures", "1", "0.5"], r"train\.temperatures: expected one more value"),
        (["--train.consistency-weight", "1"], r"network\.projection_dim: expected > 0 when"),
        (["--train.temperature-moves", "-1"], r"train\.temperature_moves: expected a value >= 0"),
        (["--train.reward-loss-weight", "-1"], r"train\.reward_loss_weight: expected a value >= 0"),
    ],
)
def test_parse_overrides_rejects_bad_input_naming_it(argv: list[str], pattern: str) -> None:
    with pytest.raises(mzero.InvalidArgumentError, match=pattern):
        parse_overrides(Config(), argv)


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
    # underscore spelling reaches the same destination
    ns = parser.parse_args(["--search.num_simulations", "7"])
    assert overrides_from_namespace(ns) == {"search.num_simulations": "7"}
    assert overrides_from_namespace(parser.parse_args([])) == {}


def test_bool_values_parse_from_strings() -> None:
    from mzero.config import _coerce

    assert _coerce("x", bool, "true", parse=True) is True
    assert _coerce("x", bool, "No", parse=True) is False
    with pytest.raises(mzero.InvalidArgumentError, match="expected true or false"):
        _coerce("x", bool, "maybe", parse=True)
    with pytest.raises(mzero.InvalidTypeError, match="expected true or false"):
        _coerce("x", bool, "true", parse=False)


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
