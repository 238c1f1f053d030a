"""btm: bone turnover markers from lab spreadsheets to trustworthy interpretations and reports."""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("btm")
except _PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

from .errors import (
    AnalysisError,
    BTMError,
    FileTooLargeError,
    InputFileError,
    MappingError,
    RangesError,
    StrictModeError,
    UnitConversionError,
    UnitError,
    UnitParseError,
    UnknownMarkerError,
)
from .markers import Marker, Measure, catalog, get_marker, match_marker
from .units import CanonicalValues, conversion_factor, convert, parse_unit, resolve_unit, to_canonical

__all__ = [
    "AnalysisError",
    "BTMError",
    "CanonicalValues",
    "FileTooLargeError",
    "InputFileError",
    "MappingError",
    "Marker",
    "Measure",
    "RangesError",
    "StrictModeError",
    "UnitConversionError",
    "UnitError",
    "UnitParseError",
    "UnknownMarkerError",
    "__version__",
    "catalog",
    "conversion_factor",
    "convert",
    "get_marker",
    "match_marker",
    "parse_unit",
    "resolve_unit",
    "to_canonical",
]
