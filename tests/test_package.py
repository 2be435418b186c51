"""The package skeleton: version, public names, stubs, errors, command line."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import mzero
from mzero import _core

PACKAGE_DIR = Path(mzero.__file__).parent


def test_version_comes_from_the_package_metadata() -> None:
    assert mzero.__version__ == version("mzero")
    assert _core.__version__ == mzero.__version__


def test_all_is_sorted_and_every_name_exists() -> None:
    assert list(mzero.__all__) == sorted(mzero.__all__)
    for name in mzero.__all__:
        assert hasattr(mzero, name), name


def test_typing_markers_are_shipped() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()
    assert (PACKAGE_DIR / "_core.pyi").is_file()


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (mzero.InvalidArgumentError, ValueError),
        (mzero.InvalidTypeError, TypeError),
        (mzero.CorruptFileError, ValueError),
        (mzero.MZeroIOError, OSError),
    ],
)
def test_errors_share_one_root_and_the_builtin_of_their_cause(cls: type, builtin: type) -> None:
    assert issubclass(cls, mzero.MZeroError)
    assert issubclass(cls, builtin)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mzero", *args], capture_output=True, text=True, check=False
    )


def test_cli_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"mzero {mzero.__version__}"


def test_cli_help() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mzero")


def test_cli_rejects_an_unknown_command() -> None:
    result = run_cli("fly")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr or "unknown command" in result.stderr
