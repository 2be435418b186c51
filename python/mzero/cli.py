"""The ``mzero`` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import mzero


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; each subcommand registers itself here."""
    parser = argparse.ArgumentParser(
        prog="mzero",
        description="MuZero with a Rust engine: batched MCTS, replay and training.",
    )
    parser.add_argument("--version", action="version", version=f"mzero {mzero.__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    parser.error(f"unknown command {args.command!r}")
    return 2
