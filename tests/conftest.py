"""Fixtures shared by the test modules."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mzero.learner import compile_loss as real_compile_loss

BENCHES = Path(__file__).resolve().parents[1] / "benches"
"""The repository's benchmark scripts."""

RunBench = Callable[..., tuple[str, dict[str, Any]]]


@pytest.fixture
def run_bench(tmp_path: Path) -> RunBench:
    """``run_bench(script, *args)`` runs ``benches/<script>`` with ``args`` and ``--out``
    in a temporary folder, in a fresh interpreter; it asserts the script exited 0 and
    returns its stdout and the JSON report it wrote."""

    def run(script: str, *args: str) -> tuple[str, dict[str, Any]]:
        out = tmp_path / f"{Path(script).stem}.json"
        command = [sys.executable, str(BENCHES / script), *args, "--out", str(out)]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
        assert result.returncode == 0, result.stderr
        return result.stdout, json.loads(out.read_text())

    return run


@pytest.fixture(autouse=True, scope="session")
def eager_learner() -> Iterator[None]:
    """Learners run eagerly in tests, whatever ``train.learner_step`` says (module and
    session fixtures included), except in tests marked ``compiled_learner``: compiling
    a learner step takes tens of seconds for every new batch size and network, and
    most tests train tiny configurations of the presets for a few steps. The compiled
    step is checked against the eager one in test_learner.py and trains the presets
    in the learning guards (test_learning.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mzero.learner.compile_loss", lambda loss, device: loss)
        yield


@pytest.fixture(autouse=True)
def compiled_learner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests marked ``compiled_learner`` compile as ``train.learner_step`` says."""
    if request.node.get_closest_marker("compiled_learner") is not None:
        monkeypatch.setattr("mzero.learner.compile_loss", real_compile_loss)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The learning guards run first: the longest tests, in two groups
    (``xdist_group``: the TicTacToe run, then both CartPole runs), so that with two
    pytest-xdist workers (``scripts/test.sh``) each group starts at once on its own
    worker and the other tests fill in around them (``--dist loadgroup`` hands out
    groups in this order)."""

    def group(item: pytest.Item) -> str:
        marker = item.get_closest_marker("xdist_group")
        return "" if marker is None else str(marker.args[0] if marker.args else "")

    learning = sorted(
        (i for i in items if group(i).startswith("learning-")), key=group, reverse=True
    )
    items[:] = learning + [i for i in items if not group(i).startswith("learning-")]
