"""mzero.plot and ``mzero plot``: learning curves from metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mzero
from mzero.cli import main
from mzero.plot import read_curve


def _run(path: Path, records: list[dict]) -> Path:
    path.mkdir(parents=True)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_curves_add_up_the_lives_of_a_resumed_run(tmp_path: Path) -> None:
    run = _run(
        tmp_path / "resumed",
        [
            {"env_steps": 100, "wall_s": 30.0, "return_mean": 9.0},
            {"env_steps": 200, "wall_s": 60.0, "eval_return_mean": 50.0},
            {"resumed": True, "env_steps": 300, "wall_s": 6.0},
            {"env_steps": 400, "wall_s": 120.0, "eval_return_mean": 200.0},
        ],
    )
    curve = read_curve(run)
    assert curve.metric == "eval_return_mean" and curve.label == "resumed"
    assert curve.env_steps == [200.0, 400.0]
    assert curve.returns == [50.0, 200.0]
    assert curve.minutes == [1.0, 3.0]  # 60 s, then 60 s + 120 s of the second life


def test_a_run_never_evaluated_is_drawn_with_its_self_play_return(tmp_path: Path) -> None:
    run = _run(tmp_path / "fresh", [{"env_steps": 8, "wall_s": 1.5, "return_mean": 12.0}])
    curve = read_curve(run)
    assert curve.metric == "return_mean" and curve.label == "fresh (self-play)"
    assert (curve.env_steps, curve.returns) == ([8.0], [12.0])


def test_bad_runs_are_reported(tmp_path: Path) -> None:
    with pytest.raises(mzero.InvalidArgumentError, match=r"no metrics\.jsonl"):
        read_curve(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"env_steps": 1}\n{oops\n')
    with pytest.raises(mzero.CorruptFileError, match="line 2"):
        read_curve(tmp_path)


def test_mzero_plot_writes_an_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [{"env_steps": 100 * i, "wall_s": 10.0 * i, "eval_return_mean": i} for i in range(5)]
    a = _run(tmp_path / "a", records)
    b = _run(tmp_path / "b", records[:3])
    out = tmp_path / "plots" / "curves.png"
    assert main(["plot", str(a), str(b), "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert capsys.readouterr().out.strip() == str(out)
    assert main(["plot", str(tmp_path / "missing"), "-o", str(out)]) == 2
    assert "no metrics.jsonl" in capsys.readouterr().err
