"""The documentation: the tutorials' code runs, the generated reference pages are complete,
the README stays short.

The site itself is built by scripts/test.sh (``mkdocs build --strict``); these tests run
what the pages include from ``docs/snippets/`` exactly as a reader would, in an empty
folder, each in a few seconds.
"""

from __future__ import annotations

import dataclasses
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def run_snippet(name: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Runs ``docs/snippets/<name>`` as a script in ``folder``; returns its globals."""
    monkeypatch.chdir(folder)
    return runpy.run_path(str(DOCS / "snippets" / name), run_name="__main__")


def test_the_gymnasium_tutorial_trains_and_acts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = run_snippet("gymnasium_env.py", tmp_path, monkeypatch)
    run = tmp_path / "runs" / "corridor"
    assert (run / "checkpoints" / "best.pt").exists() and (run / "config.json").exists()
    assert names["metrics"]["env_steps"] >= 1_000
    assert names["episode_return"] in (0.0, 1.0)


def test_the_board_game_tutorial_trains_and_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = run_snippet("board_game.py", tmp_path, monkeypatch)
    assert (tmp_path / "runs" / "twentyone" / "checkpoints" / "best.pt").exists()
    assert set(names["results"]) <= {-1, 1}  # no draws in Twenty-one
    assert 0.0 <= names["scores"]["score"] <= 1.0
    # the game keeps the rules every board game shares (mzero.envs.board)
    game = names["TwentyOne"]()
    _, info = game.reset()
    assert info["to_play"] == 0 and info["legal_mask"].tolist() == [True, True, True]
    for _ in range(7):  # action 2 takes 3 stones: the 7th move takes the last
        _, reward, terminated, _, info = game.step(2)
    assert terminated and reward == 1.0 and not info["legal_mask"].any()
    assert info["to_play"] == 1  # the first player moved last and won


@pytest.fixture(scope="module")
def hooks() -> object:
    sys.path.insert(0, str(DOCS))
    try:
        import hooks as module
    finally:
        sys.path.remove(str(DOCS))
    return module


def test_the_configuration_reference_lists_every_field_and_preset(hooks: object) -> None:
    from mzero.config import PRESETS, Config, field_docs

    page = hooks.config_page()
    for section in dataclasses.fields(Config):
        cls = type(getattr(Config(), section.name))
        for spec in dataclasses.fields(cls):
            assert f"| `{section.name}.{spec.name}` |" in page
            assert field_docs(cls)[spec.name][:40] in page, spec.name
    for name in PRESETS:
        assert f"### {name}\n" in page


def test_the_cli_reference_lists_every_command_and_option(hooks: object) -> None:
    from mzero.cli import build_parser

    page = hooks.cli_page()
    for command in ("train", "eval", "plot", "play"):
        assert f"## mzero {command}\n" in page
    for option in ("--resume RUN", "--actors N", "--opponent OPPONENT", "--show-search K"):
        assert f"`{option}`" in page
    assert "--search.num-simulations" not in page  # the overrides live in the config page
    assert build_parser().prog == "mzero"


def test_the_readme_is_short_and_points_to_the_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in ("getting-started.md", "results.md", "design.md"):
        assert f"docs/{page}" in readme and (DOCS / page).exists()
