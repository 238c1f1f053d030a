"""btm: bone turnover markers from lab spreadsheets to trustworthy interpretations and reports.

The workflow, in the order a user meets it::

    import btm
    imported = btm.read_results(["trial.xlsx"], mapping="mapping.toml")  # files -> tidy table + problems
    a = btm.analyze(imported.data, control="Control")                     # interpret, change, statistics
    btm.write_report(a, imported, "report.xlsx")                           # one Excel workbook

``btm.interpret`` interprets a tidy table without a trial analysis, ``btm.load_study`` reads a
study file, ``btm.summarize`` gives the headline numbers every renderer shows.

Names are imported on first use (``import btm`` does not load pandas, scipy or the report code;
``btm.__version__`` reads the installed metadata when first asked for).
``btm.interpret`` is both the module ``btm/interpret.py`` (``btm.interpret.FLAGS``,
``import btm.interpret as m``) and, called, its function: ``btm.interpret(data)`` is
``btm.interpret.interpret(data)``.
"""

import importlib as _importlib
import sys as _sys
import types as _types

from .errors import (
    AnalysisError,
    BTMError,
    FileTooLargeError,
    InputFileError,
    MappingError,
    OptionError,
    RangesError,
    StrictModeError,
    UnitConversionError,
    UnitError,
    UnitParseError,
    UnknownMarkerError,
)

_TYPE_CHECKING = False  # (typing is not imported at run time: ``btm --help`` imports this module)
if _TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from typing import Any as _Any

    from ._options import AnalysisOptions
    from .analysis import AnalysisResult, analyze, load_study
    from .interpret import interpret
    from .io import ImportResult, load_mapping, read_results
    from .markers import Marker, Measure, catalog, get_marker, match_marker
    from .report import write_report
    from .summary import Summary, summarize
    from .units import CanonicalValues, conversion_factor, convert, parse_unit, resolve_unit, to_canonical

#: public name -> module that defines it (imported on first use)
_LAZY = {
    "AnalysisOptions": "._options",
    "AnalysisResult": ".analysis",
    "analyze": ".analysis",
    "load_study": ".analysis",
    "interpret": ".interpret",
    "ImportResult": ".io",
    "load_mapping": ".io",
    "read_results": ".io",
    "Marker": ".markers",
    "Measure": ".markers",
    "catalog": ".markers",
    "get_marker": ".markers",
    "match_marker": ".markers",
    "write_report": ".report",
    "Summary": ".summary",
    "summarize": ".summary",
    "CanonicalValues": ".units",
    "conversion_factor": ".units",
    "convert": ".units",
    "parse_unit": ".units",
    "resolve_unit": ".units",
    "to_canonical": ".units",
}

__all__ = [
    "AnalysisError",
    "AnalysisOptions",
    "AnalysisResult",
    "BTMError",
    "CanonicalValues",
    "FileTooLargeError",
    "ImportResult",
    "InputFileError",
    "MappingError",
    "Marker",
    "Measure",
    "OptionError",
    "RangesError",
    "StrictModeError",
    "Summary",
    "UnitConversionError",
    "UnitError",
    "UnitParseError",
    "UnknownMarkerError",
    "__version__",
    "analyze",
    "catalog",
    "conversion_factor",
    "convert",
    "get_marker",
    "interpret",
    "load_mapping",
    "load_study",
    "match_marker",
    "parse_unit",
    "read_results",
    "resolve_unit",
    "summarize",
    "to_canonical",
    "write_report",
]


def _installed_version() -> str:
    """The installed distribution's version, looked up on first use (``btm --version`` asks for it).

    The ``Version:`` line of the first ``btm-*.dist-info/METADATA`` on ``sys.path``, where
    ``importlib.metadata`` looks too (importing that costs more than the rest of ``btm --version``);
    anything unusual (a zip on the path, no such file) falls back to ``importlib.metadata``."""
    import os

    for entry in _sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith("btm-") and name.endswith(".dist-info"):  # (normalised: "btm_x-..." is another project)
                try:
                    with open(os.path.join(entry or ".", name, "METADATA"), encoding="utf-8") as fh:
                        for line in fh:
                            if line.startswith("Version:"):
                                return line.partition(":")[2].strip()
                            if not line.strip():  # end of the headers
                                break
                except OSError:
                    pass
                return _metadata_version()
    return _metadata_version()


def _metadata_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("btm")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


def __getattr__(name: str) -> "_Any":
    if name == "__version__":
        globals()[name] = value = _installed_version()
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'btm' has no attribute {name!r}")
    loaded = _importlib.import_module(module, __name__)
    if name in _CALLABLE_MODULES:
        return loaded  # the import bound it as btm.<name>, made callable (_Package.__setattr__)
    value = getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


#: submodules that are also called as their function of the same name (``btm.interpret(data)``)
_CALLABLE_MODULES = frozenset({"interpret"})


class _CallableModule(_types.ModuleType):
    """A module that, called, calls its function of the same name."""

    def __call__(self, *args: "_Any", **kwargs: "_Any") -> "_Any":
        return getattr(self, self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Package(_types.ModuleType):
    """The ``btm`` module: when a submodule named in :data:`_CALLABLE_MODULES` is imported (and bound
    as an attribute of the package), it becomes callable as its function."""

    def __setattr__(self, name: str, value: "_Any") -> None:
        if name in _CALLABLE_MODULES and type(value) is _types.ModuleType:
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
