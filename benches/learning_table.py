"""Markdown tables of learning results, generated from ``bench_learning.py``'s JSON.

The learning results of the README and of the documentation's results page are not
typed by hand: each sits between the markers

    <!-- learning-table: results/learning/PRESET-DATE.json -->
    ...
    <!-- /learning-table -->

and this script renders the named JSON file (relative to ``benches/``) in between.

    python benches/learning_table.py --write README.md docs/results.md   # regenerate
    python benches/learning_table.py --check README.md docs/results.md   # exit 1 if stale
    python benches/learning_table.py results/learning/cartpole-2026-12-07.json
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

BENCHES = Path(__file__).resolve().parent
BLOCK = re.compile(
    r"(<!-- learning-table: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /learning-table -->)",
    re.DOTALL,
)


def command(report: dict[str, Any]) -> str:
    """The ``bench_learning.py`` command line that measured ``report``."""
    seeds = [row["seed"] for row in report["rows"]]
    parts = ["python", "benches/bench_learning.py", report["preset"]]
    parts += ["--seeds", str(min(seeds)), str(max(seeds))]
    if report["stop"]["minutes"] is not None:
        parts += ["--minutes", f"{report['stop']['minutes']:g}"]
    if report["stop"]["env_steps"] is not None:
        parts += ["--env-steps", str(report["stop"]["env_steps"])]
    summary = report["summary"]
    parts += ["--target", f"{summary['target']:g}", "--pass-score", f"{summary['pass_score']:g}"]
    if report.get("parallel", 2) != 2:
        parts += ["--parallel", str(report["parallel"])]
    if "opponents" in report["eval"]:
        parts += ["--opponents", *report["eval"]["opponents"]]
        parts += ["--games", str(report["eval"]["games"])]
    if "random_policy" in report:
        parts += ["--random-episodes", str(report["random_policy"]["episodes"])]
    if report["overrides"]:
        parts += ["--", *report["overrides"]]
    return shlex.join(parts)


def render(report: dict[str, Any]) -> str:
    """The table of one report: a row per seed, then the summary over the seeds."""
    summary = report["summary"]
    two_player = "opponents" in report["eval"]
    if two_player:
        score = f"score vs {report['eval']['opponents'][0]} ({report['eval']['games']} games)"
    else:
        score = f"greedy mean (min), {report['eval']['episodes']} fresh episodes"
    lines = [
        f"`{command(report)}`",
        "",
        f"| seed | {score} | first evaluation >= {summary['target']:g} "
        "(env steps, minutes) | env steps | learner steps | minutes |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        result = f"{row['score']:.2f}"
        if not two_player:
            result += f" ({row['min']:g})"
        first = row["first_at_target"]
        reached = (
            "not reached" if first is None else f"{first['env_steps']:,}, {first['minutes']:.1f}"
        )
        lines.append(
            f"| {row['seed']} | {result} | {reached} | {row['env_steps']:,} | "
            f"{row['train_steps']:,} | {row['wall_s'] / 60:.1f} |"
        )
    host = report["host"]
    first_median = summary["first_at_target_env_steps_median"]
    commit = (report["commit"] or "unknown")[:12]
    lines += [
        "",
        f"{summary['passed']} of {summary['seeds']} seeds >= {summary['pass_score']:g}; "
        f"median {summary['score_median']:.2f}, worst {summary['score_worst']:.2f}; first "
        f"evaluation >= {summary['target']:g} at {first_median:,.0f} "
        f"env steps (median; a seed that never reached it counts its whole run). "
        f"{report['parallel']} runs at a time on {host['cpus']} cores ({host['cpu']}), "
        f"{report['date'][:10]}, commit {commit}.",
        "",
    ]
    if "random_policy" in report:
        baseline = report["random_policy"]
        lines[-1:] = [
            f"A uniformly random legal policy: mean {baseline['mean']:.2f} over "
            f"{baseline['episodes']} episodes; the median above is "
            f"{summary['score_median_over_random']:.2f} times it.",
            "",
        ]
    return "\n".join(lines)


def regenerate(text: str) -> str:
    """``text`` with every marked table rendered anew from its JSON file."""

    def block(match: re.Match[str]) -> str:
        report = json.loads((BENCHES / match["path"]).read_text())
        return match.group(1) + render(report) + match.group(4)

    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--write", type=Path, nargs="+", metavar="MARKDOWN", help="regenerate in place"
    )
    group.add_argument(
        "--check", type=Path, nargs="+", metavar="MARKDOWN", help="exit 1 if one is stale"
    )
    group.add_argument("report", type=Path, nargs="?", help="print one JSON file's table")
    args = parser.parse_args(argv)
    if args.report is not None:
        print(render(json.loads(args.report.read_text())), end="")
        return 0
    stale = 0
    for path in args.write or args.check:
        text = path.read_text()
        fresh = regenerate(text)
        if args.write:
            path.write_text(fresh)
        elif fresh != text:
            print(f"{path}: a learning table differs from its JSON; run --write", file=sys.stderr)
            stale = 1
    return stale


if __name__ == "__main__":
    raise SystemExit(main())
