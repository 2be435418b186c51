"""Fixtures shared by the test modules."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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


@pytest.fixture(autouse=True)
def eager_learner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Learners run eagerly in tests not marked ``compiled_learner``, whatever
    ``train.learner_step`` says: compiling a learner step takes tens of seconds for
    every new batch size and network, and most tests train tiny configurations of the
    presets for a few steps. The compiled step is checked against the eager one in
    test_learner.py and trains the presets in the learning guards (test_learning.py)."""
    if request.node.get_closest_marker("compiled_learner") is None:
        monkeypatch.setattr("mzero.learner.compile_loss", lambda loss, device: loss)
