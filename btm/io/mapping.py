"""Mapping files (TOML): how to read layouts that synonyms cannot resolve.

A mapping names, per file (glob on the file name) and sheet, the header row, the role of each
column, units, a fixed timepoint, limits of detection, the date order and the decimal mark.
``btm import FILE --write-mapping map.toml`` drafts one from what was detected::

    # settings for every file
    dayfirst = true            # 03/04/2026 is 3 April (false: 4 March); omit to report ambiguity
    decimal = ","              # decimal mark of text numbers; omit to detect
    timepoint_order = ["V1", "V2", "V3"]

    [[sheets]]
    file = "trial_*.xlsx"      # glob on the file name (default "*")
    sheet = "Data"             # sheet name (default: every sheet); "" for CSV files
    header_row = 5             # Excel row number of the header (1-based)
    units_row = 6              # Excel row of a units row under the header (optional)
    layout = "wide"            # "wide" or "long" (optional)
    timepoint = "Baseline"     # every row of this sheet is this timepoint (optional)
    skip = false               # true: do not read this sheet

    [sheets.columns]           # header text -> tidy column or marker id ("ignore" to drop)
    "Pat-Nr" = "subject_id"
    "Zeitpunkt" = "timepoint"
    "P1NP" = "PINP"

    [sheets.units]             # header text or marker id -> unit
    "P1NP" = "µg/L"

    [sheets.lod]               # marker id -> limit used for '<LOD' texts, in the column's unit
    CTX1 = 10
"""

from __future__ import annotations

import fnmatch
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MappingError
from ..markers import catalog

__all__ = ["Mapping", "SheetMapping", "load_mapping", "mapping_to_toml"]

_SHEET_KEYS = {"file", "sheet", "header_row", "units_row", "layout", "timepoint", "skip", "columns", "units", "lod", "specimen"}
_TOP_KEYS = {"dayfirst", "decimal", "timepoint_order", "sheets", "baseline"}


@dataclass
class SheetMapping:
    file: str = "*"
    sheet: str | None = None
    header_row: int | None = None
    units_row: int | None = None
    layout: str | None = None
    timepoint: str | None = None
    skip: bool = False
    columns: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    lod: dict[str, float] = field(default_factory=dict)
    specimen: str | None = None

    def matches(self, path: str, sheet: str) -> bool:
        name = Path(path).name
        if not (fnmatch.fnmatch(name, self.file) or fnmatch.fnmatch(str(path), self.file)):
            return False
        return self.sheet is None or self.sheet == sheet


@dataclass
class Mapping:
    dayfirst: bool | None = None
    decimal: str | None = None
    timepoint_order: list[str] = field(default_factory=list)
    baseline: str | None = None
    sheets: list[SheetMapping] = field(default_factory=list)
    path: str = ""

    def for_sheet(self, path: str, sheet: str) -> SheetMapping | None:
        """The first sheet entry that matches, or None."""
        for s in self.sheets:
            if s.matches(path, sheet):
                return s
        return None


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping TOML file.

    Raises
    ------
    MappingError
        With the file name and the offending key.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise MappingError(f"{p}: mapping file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{p}: not valid TOML ({exc})") from None
    return mapping_from_dict(raw, source=str(p))


def mapping_from_dict(raw: dict[str, Any], *, source: str = "mapping") -> Mapping:
    """A :class:`Mapping` from the parsed TOML; every key is checked, with one clear message."""
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise MappingError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(_TOP_KEYS))}")
    m = Mapping(path=source)
    if "dayfirst" in raw:
        if not isinstance(raw["dayfirst"], bool):
            raise MappingError(f"{source}: dayfirst must be true or false")
        m.dayfirst = raw["dayfirst"]
    if "decimal" in raw:
        if raw["decimal"] not in (".", ","):
            raise MappingError(f"{source}: decimal must be \".\" or \",\"")
        m.decimal = raw["decimal"]
    order = raw.get("timepoint_order", [])
    if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
        raise MappingError(f"{source}: timepoint_order must be a list of labels, e.g. [\"Baseline\", \"Week 12\"]")
    m.timepoint_order = [str(x) for x in order]
    if "baseline" in raw:
        m.baseline = _text(raw["baseline"], f"{source}: baseline")
    sheets = raw.get("sheets", [])
    if not isinstance(sheets, list) or not all(isinstance(s, dict) for s in sheets):
        raise MappingError(f"{source}: sheets must be tables, written [[sheets]] (one per sheet), not {_shown(sheets)}")
    m.sheets = [_sheet_mapping(s, f"{source}: sheets #{n}") for n, s in enumerate(sheets, start=1)]
    return m


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise MappingError(f"{where} must be text in quotes, not {_shown(value)}")
    return value


def _table(s: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = s.get(key, {})
    if not isinstance(value, dict):
        raise MappingError(f"{where}: {key} must be a table ([sheets.{key}] with one \"header\" = \"...\" per line), not {_shown(value)}")
    return value


def _row_number(s: dict[str, Any], key: str, where: str) -> int | None:
    if key not in s:
        return None
    value = s[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MappingError(f"{where}: {key} must be an Excel row number (1, 2, …), not {_shown(value)}")
    return value


def _sheet_mapping(s: dict[str, Any], where: str) -> SheetMapping:
    bad = set(s) - _SHEET_KEYS
    if bad:
        raise MappingError(f"{where}: unknown key(s) {', '.join(sorted(bad))}; expected {', '.join(sorted(_SHEET_KEYS))}")
    if "skip" in s and not isinstance(s["skip"], bool):
        raise MappingError(f"{where}: skip must be true or false")
    sm = SheetMapping(
        file=_text(s.get("file", "*"), f"{where}: file"),
        sheet=None if s.get("sheet") is None else _text(s["sheet"], f"{where}: sheet"),
        timepoint=None if s.get("timepoint") is None else _text(s["timepoint"], f"{where}: timepoint"),
        skip=bool(s.get("skip", False)),
        specimen=None if s.get("specimen") is None else _text(s["specimen"], f"{where}: specimen"),
        header_row=_row_number(s, "header_row", where),
        units_row=_row_number(s, "units_row", where),
    )
    if sm.header_row is not None and sm.units_row is not None and sm.units_row not in (sm.header_row + 1, sm.header_row - 1):
        raise MappingError(
            f"{where}: units_row {sm.units_row} must be the row right under (or above) header_row {sm.header_row}: "
            + ("it is the header row itself" if sm.units_row == sm.header_row else "the rows between would not be read")
        )
    if "layout" in s:
        if s["layout"] not in ("wide", "long"):
            raise MappingError(f"{where}: layout must be \"wide\" or \"long\"")
        sm.layout = s["layout"]
    if sm.specimen is not None and sm.specimen not in ("serum", "urine"):
        raise MappingError(f"{where}: specimen must be \"serum\" or \"urine\"")
    _sheet_columns(s, sm, where)
    return sm


def _sheet_columns(s: dict[str, Any], sm: SheetMapping, where: str) -> None:
    """The [sheets.columns], [sheets.units] and [sheets.lod] tables of one sheet entry."""
    from ..errors import UnitParseError
    from ..units import parse_unit
    from .fields import FIELD_NAMES

    markers = catalog()
    roles = set(FIELD_NAMES) - {"_ignore"} | {"ignore"}
    for header, role in _table(s, "columns", where).items():
        if not isinstance(role, str) or (role not in roles and role not in markers):
            raise MappingError(
                f"{where}: column {header!r} -> {_shown(role)} is neither a marker id ({', '.join(markers)}) "
                f"nor a column ({', '.join(sorted(roles))})"
            )
        sm.columns[str(header)] = role
    for key, unit in _table(s, "units", where).items():
        try:
            parse_unit(_text(unit, f"{where}: units {key!r}"))
        except UnitParseError as exc:
            raise MappingError(f"{where}: units {key!r}: {exc}") from None
        sm.units[str(key)] = unit
    for key, lod in _table(s, "lod", where).items():
        if key not in markers:
            raise MappingError(f"{where}: lod {key!r} is not a marker id ({', '.join(markers)})")
        if isinstance(lod, bool) or not isinstance(lod, int | float) or not math.isfinite(lod) or lod <= 0:
            raise MappingError(f"{where}: lod {key} must be a positive number, not {_shown(lod)}")
        sm.lod[key] = float(lod)


_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(s: str) -> str:
    """``s`` as a TOML basic string: quotes and backslashes escaped, every control character
    (CR, LF, tab, ESC, DEL …) written as an escape, so any header or label gives valid TOML."""
    out = []
    for ch in s:
        code = ord(ch)
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_toml_str = toml_string


def mapping_to_toml(entries: list[dict[str, Any]], *, dayfirst: bool | None = None, decimal: str | None = None) -> str:
    """A mapping file drafted from detected layouts (one entry per sheet)."""
    lines = [
        "# btm mapping, drafted by 'btm import --write-mapping'. Edit what btm got wrong, then run",
        "#   btm import FILES --mapping THIS_FILE",
        "# Keys are explained in the README (section 'Mapping files').",
        "",
    ]
    lines.append(f"dayfirst = {'true' if dayfirst else 'false'}" if dayfirst is not None else "# dayfirst = true   # set when dates like 03/04/2026 are reported as ambiguous")
    lines.append(f"decimal = {_toml_str(decimal)}" if decimal else "# decimal = \",\"    # set when text numbers use a decimal comma")
    lines.append("")
    for e in entries:
        lines.append("[[sheets]]")
        lines.append(f"file = {_toml_str(e['file'])}")
        lines.append(f"sheet = {_toml_str(e['sheet'])}")
        if e.get("skip"):
            lines.append("skip = true    # " + e.get("why", "no marker data"))
            lines.append("")
            continue
        lines.append(f"header_row = {e['header_row']}")
        if e.get("units_row"):
            lines.append(f"units_row = {e['units_row']}")
        lines.append(f"layout = {_toml_str(e['layout'])}")
        if e.get("timepoint"):
            lines.append(f"timepoint = {_toml_str(e['timepoint'])}")
        if e.get("specimen"):
            lines.append(f"specimen = {_toml_str(e['specimen'])}")
        lines.append("")
        lines.append("[sheets.columns]")
        for header, role in e["columns"].items():
            lines.append(f"{_toml_str(header)} = {_toml_str(role)}")
        if e.get("units"):
            lines.append("")
            lines.append("[sheets.units]")
            for header, unit in e["units"].items():
                if unit:
                    lines.append(f"{_toml_str(header)} = {_toml_str(unit)}")
                else:
                    lines.append(f"# {_toml_str(header)} = \"\"    # no unit found: fill in and uncomment")
        if e.get("lod"):
            lines.append("")
            lines.append("[sheets.lod]")
            for marker, lod in e["lod"].items():
                lines.append(f"{marker} = {lod!r}")
        lines.append("")
    return "\n".join(lines) + "\n"
