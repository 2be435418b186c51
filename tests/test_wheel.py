"""The wheel of ``scripts/build_wheel.sh`` installs into a fresh virtual environment and,
with no Rust toolchain on PATH, passes ``scripts/smoke_test.py`` (search, replay, a
short training run): the check CI runs on every wheel it builds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

import mzero

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, **kwargs
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.skipif(shutil.which("cargo") is None, reason="building a wheel needs cargo")
def test_the_wheel_searches_replays_and_trains_without_rust(tmp_path: Path) -> None:
    # maturin from this environment's scripts, else from PATH
    maturin = shutil.which("maturin", path=str(Path(sys.executable).parent)) or "maturin"
    dist = tmp_path / "dist"
    run(ROOT / "scripts" / "build_wheel.sh", dist, env=os.environ | {"MATURIN": maturin})
    (wheel,) = dist.glob("mzero-*.whl")
    assert "abi3" in wheel.name

    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    pip = (sys.executable, "-m", "pip", "--python", python)
    run(*pip, "install", "--no-deps", "--no-index", wheel)
    # the dependencies (torch, gymnasium, ...) come from this test environment, after
    # the fresh site-packages, so mzero itself can only come from the wheel; nothing
    # is downloaded
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    deps = sysconfig.get_paths()["purelib"]
    (Path(site.stdout.strip()) / "deps_from_tests.pth").write_text(deps + "\n")

    no_rust = {"PATH": os.pathsep.join(["/usr/bin", "/bin"]), "HOME": str(tmp_path)}
    probe = (
        "import shutil, mzero, mzero._core as c;"
        "assert shutil.which('cargo') is None and shutil.which('rustc') is None;"
        "print(mzero.__file__); print(mzero.__version__, c.__version__)"
    )
    location, versions = run(python, "-c", probe, env=no_rust, cwd=tmp_path).stdout.splitlines()
    assert Path(location).is_relative_to(env_dir)
    assert versions == f"{mzero.__version__} {mzero.__version__}"
    smoke = run(python, ROOT / "scripts" / "smoke_test.py", env=no_rust, cwd=tmp_path).stdout
    assert f"from {env_dir}" in smoke
    assert smoke.splitlines()[-3:] == ["search: ok", "replay: ok", "training: ok"]
