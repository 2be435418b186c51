"""Typed values of config fields: a field's type, its lookup by name, and coercion.

:func:`coerce` turns a value from a file (``parse=False``: the type must already match,
an int being a valid float) or from a command line (``parse=True``: strings are parsed,
``none`` is None, a tuple takes several words) into the field's type, or raises an
error naming the field. :func:`find_section` and :func:`find_field` look a section and
a field up by name, naming the closest one when the name is mistyped. Both
:mod:`mzero.config.schema` (files) and :mod:`mzero.config.overrides` (the command line)
use them.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from functools import cache
from typing import Any, Literal

from mzero.errors import InvalidArgumentError, InvalidTypeError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_EXPECTED = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


@cache
def hints(cls: type) -> dict[str, Any]:
    """Field name -> its resolved type annotation."""
    return typing.get_type_hints(cls)


def is_tuple(tp: Any) -> bool:
    """Whether ``tp`` is ``tuple[X, ...]``."""
    return typing.get_origin(tp) is tuple


def optional_inner(tp: Any) -> Any | None:
    """``X`` for ``X | None``, else None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def describe(value: Any) -> str:
    """``int 3``: a value with its type, for error messages."""
    return f"{type(value).__name__} {value!r}"


def find_section(config: Any, name: str) -> Any:
    """The section ``name`` of ``config``; an unknown name lists the sections."""
    names = [spec.name for spec in dataclasses.fields(config)]
    if name not in names:
        raise InvalidArgumentError(
            f"config: unknown section {name!r}; expected one of {', '.join(names)}"
        )
    return getattr(config, name)


def find_field(section: Any, section_name: str, name: str) -> dataclasses.Field[Any]:
    """The field ``name`` (dashes or underscores) of ``section``, or an error naming the
    closest field."""
    specs = {spec.name: spec for spec in dataclasses.fields(section)}
    key = name.replace("-", "_")
    if key not in specs:
        close = difflib.get_close_matches(key, list(specs), n=1)
        hint = f" (did you mean {section_name}.{close[0]}?)" if close else ""
        raise InvalidArgumentError(
            f"config: unknown field {section_name}.{name}{hint}; "
            f"fields of {section_name}: {', '.join(specs)}"
        )
    return specs[key]


def coerce(label: str, tp: Any, value: Any, *, parse: bool) -> Any:
    """``value`` as type ``tp``; errors name the field ``label``.

    ``parse=True`` (command line): strings are parsed into the field's type.
    ``parse=False`` (files): the type must already match (an int is a valid float).
    """
    inner = optional_inner(tp)
    if inner is not None:
        if parse and isinstance(value, list) and len(value) == 1:
            value = value[0]  # an optional tuple's flag takes one or more words
        if value is None or (parse and isinstance(value, str) and value.lower() == "none"):
            return None
        return coerce(label, inner, value, parse=parse)
    if typing.get_origin(tp) is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise InvalidArgumentError(
                f"config {label}: expected one of {', '.join(map(str, choices))}, got {value!r}"
            )
        return value
    if is_tuple(tp):
        if parse and isinstance(value, str):
            value = value.replace(",", " ").split()
        if not isinstance(value, (list, tuple)):
            raise InvalidTypeError(f"config {label}: expected a list, got {describe(value)}")
        item = typing.get_args(tp)[0]
        return tuple(coerce(label, item, v, parse=parse) for v in value)
    if parse and isinstance(value, str):
        return _parse(label, tp, value)
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _finite(label, float(value))
    if tp is str and isinstance(value, str):
        return value
    raise InvalidTypeError(f"config {label}: expected {_EXPECTED[tp]}, got {describe(value)}")


def _parse(label: str, tp: Any, text: str) -> Any:
    """A command-line string as a bool, int, float or str."""
    if tp is str:
        return text
    if tp is bool:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise InvalidArgumentError(f"config {label}: expected true or false, got {text!r}")
    try:
        number = int(text.replace("_", "")) if tp is int else float(text)
    except ValueError:
        raise InvalidArgumentError(
            f"config {label}: expected {_EXPECTED[tp]}, got {text!r}"
        ) from None
    return number if tp is int else _finite(label, number)


def _finite(label: str, number: float) -> float:
    if not math.isfinite(number):
        raise InvalidArgumentError(f"config {label}: expected a finite number, got {number!r}")
    return number
