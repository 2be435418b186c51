"""The exception hierarchy of mzero.

Every error raised by mzero derives from :class:`MZeroError`. Errors caused by
bad input also derive from :class:`ValueError` (or :class:`TypeError` for a
wrong dtype or type), so ``except ValueError`` keeps working. The Rust core's one
error type is mapped onto these classes by the bindings.
"""

from __future__ import annotations

__all__ = [
    "CorruptFileError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "MZeroError",
    "MZeroIOError",
]


class MZeroError(Exception):
    """Base class of every error mzero raises."""


class InvalidArgumentError(MZeroError, ValueError):
    """An argument has the wrong shape, length or value; the message names it."""


class InvalidTypeError(MZeroError, TypeError, ValueError):
    """An argument has the wrong dtype or type; the message names it.

    Also a :class:`ValueError`, so that ``except ValueError`` catches every bad
    argument (a wrong dtype included), as the replay contract asks.
    """


class CorruptFileError(MZeroError, ValueError):
    """A saved file is truncated, corrupt or of another format version."""


class MZeroIOError(MZeroError, OSError):
    """The operating system refused a read or a write."""
