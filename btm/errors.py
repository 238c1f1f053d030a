"""Errors raised by btm.

Every error btm raises on purpose derives from :class:`BTMError`, and also from the
builtin exception that fits (as pint does), so callers may catch either::

    BTMError
    ├── UnknownMarkerError(BTMError, KeyError)        marker id or synonym not in the catalog
    ├── UnitError(BTMError, ValueError)
    │   ├── UnitParseError                            unit text that cannot be read
    │   └── UnitConversionError                       no fixed factor between two units
    ├── InputFileError(BTMError, ValueError)          a file that cannot be read at all
    │   └── FileTooLargeError                         a bound on size was exceeded
    ├── MappingError(BTMError, ValueError)            an invalid mapping or study TOML file
    ├── RangesError(BTMError, ValueError)             an invalid reference-interval file
    ├── StrictModeError(BTMError, ValueError)         --strict and some values were rejected
    └── AnalysisError(BTMError, ValueError)           the data cannot support the analysis asked for
        └── OptionError                               an option value that is not allowed

The command line catches ``BTMError`` only in ``btm.cli.main``, prints one line
``error: <message>`` and exits with status 1.

Every error survives a process boundary (worker pools and the web app pickle exceptions):
:meth:`BTMError.__reduce__` rebuilds it with its message and its fields (``path``, ``marker``,
...) without calling ``__init__`` again, whatever that ``__init__``'s signature is.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing and pathlib are not imported at run time: ``btm --help`` imports this module)
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any

__all__ = [
    "AnalysisError",
    "BTMError",
    "FileTooLargeError",
    "InputFileError",
    "MappingError",
    "OptionError",
    "RangesError",
    "StrictModeError",
    "UnitConversionError",
    "UnitError",
    "UnitParseError",
    "UnknownMarkerError",
]


def _rebuild(cls: type[BTMError], args: tuple[Any, ...], state: dict[str, Any]) -> BTMError:
    """Unpickle an error: the same class, message (``args``) and fields, without ``__init__``."""
    err = cls.__new__(cls)
    BaseException.__init__(err, *args)
    err.__dict__.update(state)
    return err


class BTMError(Exception):
    """Base class of every error raised by btm on purpose."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that.
        return str(self.args[0]) if self.args else self.__class__.__name__

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class UnknownMarkerError(BTMError, KeyError):
    """A marker id or synonym that the marker catalog does not know."""

    def __init__(self, name: str, *, known: list[str] | None = None) -> None:
        self.name = name
        hint = f" (known markers: {', '.join(known)})" if known else ""
        super().__init__(f"unknown marker {name!r}{hint}")


class UnitError(BTMError, ValueError):
    """Base class of unit problems."""


class UnitParseError(UnitError):
    """Unit text that btm cannot read."""

    def __init__(self, text: str, reason: str = "") -> None:
        self.text = text
        self.reason = reason
        msg = f"cannot read unit {text!r}"
        super().__init__(f"{msg}: {reason}" if reason else msg)


class UnitConversionError(UnitError):
    """A conversion between two units for which no fixed factor exists."""

    def __init__(self, marker: str, from_unit: str, to_unit: str, reason: str) -> None:
        self.marker = marker
        self.from_unit = from_unit
        self.to_unit = to_unit
        self.reason = reason
        super().__init__(f"{marker}: cannot convert {from_unit!r} to {to_unit!r}: {reason}")


class InputFileError(BTMError, ValueError):
    """A file (or one sheet of it) that cannot be read at all."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.sheet = sheet
        self.row = row
        self.column = column
        where = []
        if self.path is not None:
            where.append(self.path)
        if sheet is not None:
            where.append(f"sheet {sheet!r}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class FileTooLargeError(InputFileError):
    """A file exceeds a size bound (for example a zip bomb)."""


class MappingError(BTMError, ValueError):
    """An invalid mapping or study file."""


class RangesError(BTMError, ValueError):
    """An invalid reference-interval or biological-variation file."""


class StrictModeError(BTMError, ValueError):
    """Values were rejected and ``strict`` was asked for."""


class AnalysisError(BTMError, ValueError):
    """The data cannot support the requested analysis."""


class OptionError(AnalysisError):
    """An option value that is not one of the allowed values (named by its parameter)."""

    def __init__(self, parameter: str, value: Any, allowed: Sequence[str] = (), reason: str = "") -> None:
        self.parameter = parameter
        self.value = value
        self.allowed = tuple(allowed)
        self.reason = reason or (f"must be one of {', '.join(self.allowed)}" if self.allowed else "is not allowed")
        named = f"{parameter} {value!r}" if parameter.startswith("-") else f"{parameter}={value!r}"  # a flag, or a parameter
        super().__init__(f"{named}: {self.reason}")
