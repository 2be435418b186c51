"""Command-line overrides: ``--SECTION.FIELD VALUE`` for every field of every section.

:func:`add_override_arguments` adds one option per field to an argparse parser, in one
argument group per section; :func:`overrides_from_namespace` collects the raw strings
given; :func:`apply_overrides` parses them to the fields' types
(:func:`mzero.config.values.coerce`) and returns a validated copy of the config.
:func:`unknown_override` words the error for a mistyped option, with the closest
field. A resumed run takes overrides too, except of the fields in
:data:`FIXED_ON_RESUME`.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import typing
from collections.abc import Mapping
from typing import Any, Literal

from mzero.config.docs import field_docs
from mzero.config.schema import Config, section_classes
from mzero.config.values import (
    coerce,
    find_field,
    find_section,
    hints,
    is_tuple,
    optional_inner,
)

_ROLE = re.compile(r":(?:py:)?[a-z]+:`~?([^`]*)`")


def add_override_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds one ``--SECTION.FIELD`` option per config field, in one argument group per
    section titled ``SECTION: what it holds``.

    FIELD is spelled with dashes; the underscore spelling is accepted too (not listed
    in the help). Options default to "absent" (``argparse.SUPPRESS``), so only the
    fields given on the command line appear in the namespace, under the dest
    ``"SECTION.FIELD"``; pass it to :func:`overrides_from_namespace`. The help text is
    the field's docstring and its default.
    """
    summaries = field_docs(Config)
    for section_name, section_cls in section_classes().items():
        group = parser.add_argument_group(f"{section_name}: {_summary(summaries[section_name])}")
        docs = field_docs(section_cls)
        types = hints(section_cls)
        defaults = section_cls()
        for spec in dataclasses.fields(section_cls):
            tp = types[spec.name]
            options: dict[str, Any] = {
                "dest": f"{section_name}.{spec.name}",
                "default": argparse.SUPPRESS,
                "nargs": "+" if is_tuple(optional_inner(tp) or tp) else None,
                "metavar": _metavar(tp),
            }
            help_text = f"{_plain(docs.get(spec.name, ''))} (default: "
            help_text += f"{_format(getattr(defaults, spec.name))})"
            group.add_argument(
                f"--{section_name}.{spec.name.replace('_', '-')}",
                help=help_text.replace("%", "%%"),
                **options,
            )
            if "_" in spec.name:
                group.add_argument(
                    f"--{section_name}.{spec.name}", help=argparse.SUPPRESS, **options
                )


def unknown_override(option: str) -> str:
    """The error for a command-line option that names no config field, with the closest.

    ``option`` is the token as typed, e.g. ``--search.num-simulatons`` (``=VALUE`` ignored).
    """
    name = option.lstrip("-").split("=", 1)[0]
    known = [
        f"{section}.{spec.name.replace('_', '-')}"
        for section, cls in section_classes().items()
        for spec in dataclasses.fields(cls)
    ]
    close = difflib.get_close_matches(name.replace("_", "-"), known, n=1, cutoff=0.6)
    hint = f"; did you mean --{close[0]}?" if close else ""
    return f"unrecognized option {option.split('=', 1)[0]}{hint}"


def overrides_from_namespace(namespace: argparse.Namespace) -> dict[str, Any]:
    """The ``"SECTION.FIELD" -> raw value`` pairs that :func:`add_override_arguments` parsed."""
    sections = set(section_classes())
    return {
        key: value
        for key, value in vars(namespace).items()
        if "." in key and key.split(".", 1)[0] in sections
    }


def apply_overrides(config: Config, overrides: Mapping[str, Any]) -> Config:
    """A copy of ``config`` with ``"SECTION.FIELD"`` (or ``"SECTION.FIELD-NAME"``) replaced.

    String values (from a command line) are parsed to the field's type; other values
    are type-checked. The result is validated. Unknown names raise
    :class:`InvalidArgumentError` naming them, with the closest known field.
    """
    result = Config.from_dict(config.to_dict())
    for key, raw in overrides.items():
        section_name, _, name = key.lstrip("-").partition(".")
        section = find_section(result, section_name)
        spec = find_field(section, section_name, name)
        label = f"{section_name}.{spec.name}"
        setattr(section, spec.name, coerce(label, hints(type(section))[spec.name], raw, parse=True))
    return result.validate()


FIXED_ON_RESUME: tuple[str, ...] = (
    "env.id",
    "env.frame_stack",
    "env.atari_full_action_space",
    "env.atari_grayscale",
    "env.atari_screen_size",
    "network.kind",
    "network.latent_dim",
    "network.hidden",
    "network.channels",
    "network.blocks",
    "network.head_channels",
    "network.value_support",
    "network.reward_support",
    "network.projection_dim",
    "network.stochastic",
    "network.chance_codes",
    "network.input_scale",
    "network.downsample",
    "network.stack_actions",
    "network.value_transform",
    "replay.capacity",
    "replay.alpha",
    "replay.beta",
    "train.unroll_steps",
    "train.td_steps",
    "train.seed",
    "search.discount",
)
"""The fields a resumed run cannot change: the environment and the network's shape (the
saved weights fit them), what the stored replay was built with, and the seed."""


def changes_fixed_on_resume(saved: Config, config: Config) -> list[str]:
    """The fields of :data:`FIXED_ON_RESUME` that differ between ``saved`` and ``config``
    (``"train.seed (0 -> 1)"``)."""
    changed = []
    for name in FIXED_ON_RESUME:
        section, field_name = name.split(".")
        before = getattr(getattr(saved, section), field_name)
        after = getattr(getattr(config, section), field_name)
        if before != after:
            changed.append(f"{name} ({before!r} -> {after!r})")
    return changed


def _summary(doc: str) -> str:
    """``"The replay buffer."`` -> ``"the replay buffer"``: a group title's second half."""
    doc = doc.rstrip(".")
    return doc[0].lower() + doc[1:] if doc[1:2].islower() else doc


def _plain(doc: str) -> str:
    """A docstring as plain text for ``--help``: ``:class:`x``` and ````x```` -> ``x``."""
    return _ROLE.sub(r"\1", doc).replace("``", "")


def _metavar(tp: Any) -> str:
    inner = optional_inner(tp)
    if inner is not None:
        return f"{_metavar(inner)}|none"
    if typing.get_origin(tp) is Literal:
        return "{" + ",".join(str(a) for a in typing.get_args(tp)) + "}"
    if is_tuple(tp):
        return _metavar(typing.get_args(tp)[0])
    return getattr(tp, "__name__", str(tp)).upper()


def _format(value: Any) -> str:
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return "none" if value is None else str(value)
