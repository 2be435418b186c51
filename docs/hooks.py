"""MkDocs hooks (``hooks:`` in mkdocs.yml): the generated reference pages.

* ``reference/config.md``: every config section and field, from the dataclasses of
  :mod:`mzero.config` and their field docstrings (``field_docs``), and the fields each
  preset sets;
* ``reference/cli.md``: every ``mzero`` subcommand and option, from the argparse
  parser of :mod:`mzero.cli` (``build_parser``);
* on every page, the Sphinx roles of the docstrings (``:class:`x```) rendered as code.

Both pages are written at build time, never by hand, so they cannot drift from the code.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj):<code>(~?)([^<]*)</code>")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Adds the generated pages to the site."""
    for src_uri, render in (("reference/config.md", config_page), ("reference/cli.md", cli_page)):
        files.append(File.generated(config, src_uri, content=render()))
    return files


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """``:class:`mzero.Agent``` (as Markdown renders it) -> ``mzero.Agent`` in code;
    ``:class:`~mzero.errors.CorruptFileError``` -> ``CorruptFileError``."""

    def code(match: re.Match[str]) -> str:
        name = match[2].rsplit(".", 1)[-1] if match[1] else match[2]
        return f"<code>{name}</code>"

    return _ROLE.sub(code, html)


# ---------------------------------------------------------------------------------------------
# The configuration reference


def _words(tp: Any) -> str:
    """A field's type as the command line takes it, in words."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        text = " or ".join(_words(a) for a in inner)
        return f"{text} or `none`" if len(inner) < len(args) else text
    if origin is tuple:
        return f"{_words(args[0])} ... (one or more)"
    return getattr(tp, "__name__", str(tp))


def _value(value: Any) -> str:
    """A value as typed on the command line (``--SECTION.FIELD VALUE``)."""
    if value is None:
        return "`none`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return "`" + " ".join(str(v) for v in value) + "`" if value else "`()`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_page() -> str:
    """Markdown of ``reference/config.md``."""
    from mzero import config as cfg

    hints = typing.get_type_hints(cfg.Config)
    lines = [
        "# Configuration reference",
        "",
        "A run is one `mzero.config.Config`: the sections below, each a dataclass. "
        "This page is generated from their field docstrings when the site is built.",
        "",
        "Every field can be set on the command line as `--SECTION.FIELD VALUE` (dashes "
        "or underscores in FIELD, e.g. `--search.num-simulations 25`; tuple fields take "
        "several values, `--network.hidden 128 128`; optional fields take `none`), in "
        "Python with `mzero.config.apply_overrides(config, {'search.num_simulations': 25})`, "
        "or in a config file, JSON (a run's `config.json`) or TOML (`mzero train --config "
        "FILE.toml`; `mzero config show PRESET` prints a preset's whole config as TOML, "
        'where `None` is written `"none"`). A mistyped name is refused '
        "with the closest field. The defaults are those of the dataclasses; "
        "[the presets](#presets) change some of them.",
        "",
    ]
    for section in dataclasses.fields(cfg.Config):
        cls = hints[section.name]
        docs = cfg.field_docs(cls)
        defaults = cls()
        field_hints = typing.get_type_hints(cls)
        lines += [
            f"## {section.name} {{#{section.name}}}",
            "",
            f"`{cls.__name__}`: {inspect.getdoc(cls)}",
            "",
            "| field | type | default | description |",
            "| --- | --- | --- | --- |",
        ]
        for spec in dataclasses.fields(cls):
            lines.append(
                f"| `{section.name}.{spec.name}` | {_cell(_words(field_hints[spec.name]))} | "
                f"{_cell(_value(getattr(defaults, spec.name)))} | "
                f"{_cell(docs.get(spec.name, ''))} |"
            )
        lines.append("")
    lines += [
        "## Fixed on resume",
        "",
        "`mzero train --resume RUN` takes the run's own `config.json` and accepts "
        "overrides, except of these fields, which shape the stored games and networks: "
        + ", ".join(f"`{name}`" for name in cfg.FIXED_ON_RESUME)
        + ".",
        "",
        "## Presets {#presets}",
        "",
        "`mzero train PRESET` starts from one of these (`mzero.config.preset(name)`); "
        "each table lists the fields the preset sets to other values than the defaults.",
        "",
    ]
    default = cfg.Config()
    for name, factory in sorted(cfg.PRESETS.items()):
        config = factory()
        summary = (inspect.getdoc(factory) or "").split("\n\n")[0].replace("\n", " ")
        lines += [f"### {name}", "", summary, "", "| field | value |", "| --- | --- |"]
        for section in dataclasses.fields(cfg.Config):
            ours, theirs = getattr(config, section.name), getattr(default, section.name)
            for spec in dataclasses.fields(ours):
                value = getattr(ours, spec.name)
                if value != getattr(theirs, spec.name):
                    lines.append(f"| `{section.name}.{spec.name}` | {_cell(_value(value))} |")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The command-line reference


def _is_override(action: argparse.Action) -> bool:
    return "." in action.dest


def _usage(parser: argparse.ArgumentParser, actions: list[argparse.Action]) -> str:
    formatter = argparse.HelpFormatter(prog=parser.prog, width=88)
    formatter.add_usage(parser.usage, actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _option_rows(parser: argparse.ArgumentParser) -> list[str]:
    formatter = argparse.HelpFormatter(prog=parser.prog)
    rows = ["| argument | description | default |", "| --- | --- | --- |"]
    for action in parser._actions:
        if _is_override(action) or action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._SubParsersAction):
            commands = ", ".join(f"[`{name}`](#{_anchor(parser, name)})" for name in action.choices)
            rows.append(f"| `COMMAND` | one of {commands} | |")
            continue
        if action.option_strings:
            metavar = (
                formatter._format_args(action, action.dest.upper()) if action.nargs != 0 else ""
            )
            name = ", ".join(
                f"`{flag}{' ' + metavar if metavar else ''}`" for flag in action.option_strings
            )
        else:
            name = f"`{action.metavar or action.dest}`"
        text = formatter._expand_help(action) if action.help else ""
        if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
            text += " (one of " + ", ".join(f"`{c}`" for c in action.choices) + ")"
        default = action.default
        shown = (
            ""
            if default in (None, argparse.SUPPRESS, False, [])
            or isinstance(action, (argparse._HelpAction, argparse._VersionAction))
            else f"`{default}`"
        )
        rows.append(f"| {name} | {_cell(text)} | {shown} |")
    return rows


def _anchor(parser: argparse.ArgumentParser, name: str) -> str:
    """The heading id of the subcommand ``name`` of ``parser``: ``mzero-config-show``."""
    return f"{parser.prog} {name}".replace(" ", "-")


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _command_section(sub: argparse.ArgumentParser, summary: str, *, level: int) -> list[str]:
    """The section of one subcommand, then those of its own subcommands a level down."""
    actions = [a for a in sub._actions if not _is_override(a)]
    overrides = [a for a in sub._actions if _is_override(a)]
    lines = [f"{'#' * level} {sub.prog}", "", f"{summary.capitalize()}."]
    if sub.description:
        lines += ["", sub.description]
    lines += ["", "```text", _usage(sub, actions), "```", "", *_option_rows(sub), ""]
    if overrides:
        fields = len({a.dest for a in overrides})
        lines += [
            f"Any of the {fields} config fields can be given as `--SECTION.FIELD VALUE` "
            "(dashes or underscores in FIELD), listed with their types, defaults and "
            "docstrings in the [configuration reference](config.md).",
            "",
        ]
    commands = _subcommands(sub)
    if commands is not None:
        summaries = {choice.dest: choice.help for choice in commands._choices_actions}
        for child, parser in commands.choices.items():
            lines += _command_section(parser, summaries[child], level=level + 1)
    return lines


def cli_page() -> str:
    """Markdown of ``reference/cli.md``."""
    from mzero.cli import build_parser

    parser = build_parser()
    commands = _subcommands(parser)
    assert commands is not None
    summaries = {choice.dest: choice.help for choice in commands._choices_actions}
    lines = [
        "# Command-line reference",
        "",
        "The `mzero` command (`python -m mzero` does the same). This page is generated "
        "from its argparse parser when the site is built; `mzero COMMAND --help` prints "
        "the same options.",
        "",
        "```text",
        _usage(parser, parser._actions),
        "```",
        "",
        *_option_rows(parser),
        "",
        "Exit status: 0 on success, 2 on a usage error or an mzero error (a damaged file, "
        "a bad value: one line on stderr, no traceback).",
        "",
    ]
    for name, sub in commands.choices.items():
        lines += _command_section(sub, summaries[name], level=2)
    return "\n".join(lines)
