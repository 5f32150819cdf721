"""The exceptions Rask raises.

Every one derives from :class:`RaskError` and from the built-in class pandas raises for the
same problem, so ``except FileNotFoundError`` and ``except KeyError`` work as with pandas.
Their message is the one line the ``query`` CLI prints; ``hint`` says what to do, when known.
"""

from __future__ import annotations


class RaskError(Exception):
    """An error from Rask's engine."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class RaskFileNotFoundError(RaskError, FileNotFoundError):
    """An input file, glob, object or bucket that is not there."""


class ColumnNotFoundError(RaskError, KeyError):
    """A column the frame does not have."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return self.message


class SQLSyntaxError(RaskError, ValueError):
    """SQL text that does not parse."""


class PlanError(RaskError, ValueError):
    """A query or operation that cannot be planned: bad arguments, unknown names."""


class RaskTypeError(RaskError, TypeError):
    """A value of the wrong type for an operation."""


class InputError(RaskError, ValueError):
    """An input file that is unreadable or malformed (the message names file and line)."""


class RaskMemoryError(RaskError, MemoryError):
    """A query needing more memory than the limit allows, even after spilling."""


class CancelledError(RaskError):
    """A query that was cancelled."""


__all__ = [
    "RaskError",
    "RaskFileNotFoundError",
    "ColumnNotFoundError",
    "SQLSyntaxError",
    "PlanError",
    "RaskTypeError",
    "InputError",
    "RaskMemoryError",
    "CancelledError",
]
