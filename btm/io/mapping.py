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
        raise MappingError(f"{source}: timepoint_order must be a list of labels")
    m.timepoint_order = [str(x) for x in order]
    if "baseline" in raw:
        m.baseline = str(raw["baseline"])
    sheets = raw.get("sheets", [])
    if not isinstance(sheets, list):
        raise MappingError(f"{source}: [[sheets]] must be an array of tables")
    markers = catalog()
    from .fields import FIELD_NAMES

    roles = set(FIELD_NAMES) - {"_ignore"} | {"ignore"}
    for n, s in enumerate(sheets, start=1):
        where = f"{source}: sheets #{n}"
        bad = set(s) - _SHEET_KEYS
        if bad:
            raise MappingError(f"{where}: unknown key(s) {', '.join(sorted(bad))}; expected {', '.join(sorted(_SHEET_KEYS))}")
        sm = SheetMapping(
            file=str(s.get("file", "*")),
            sheet=None if s.get("sheet") is None else str(s.get("sheet")),
            timepoint=None if s.get("timepoint") is None else str(s.get("timepoint")),
            skip=bool(s.get("skip", False)),
            specimen=s.get("specimen"),
        )
        for key in ("header_row", "units_row"):
            if key in s:
                if not isinstance(s[key], int) or s[key] < 1:
                    raise MappingError(f"{where}: {key} must be an Excel row number (1, 2, …)")
                setattr(sm, key, s[key])
        if "layout" in s:
            if s["layout"] not in ("wide", "long"):
                raise MappingError(f"{where}: layout must be \"wide\" or \"long\"")
            sm.layout = s["layout"]
        if sm.specimen is not None and sm.specimen not in ("serum", "urine"):
            raise MappingError(f"{where}: specimen must be \"serum\" or \"urine\"")
        for header, role in dict(s.get("columns", {})).items():
            role = str(role)
            if role not in roles and role not in markers:
                raise MappingError(
                    f"{where}: column {header!r} -> {role!r} is neither a marker id ({', '.join(markers)}) "
                    f"nor a column ({', '.join(sorted(roles))})"
                )
            sm.columns[str(header)] = role
        for key, unit in dict(s.get("units", {})).items():
            from ..errors import UnitParseError
            from ..units import parse_unit

            try:
                parse_unit(str(unit))
            except UnitParseError as exc:
                raise MappingError(f"{where}: units {key!r}: {exc}") from None
            sm.units[str(key)] = str(unit)
        for key, lod in dict(s.get("lod", {})).items():
            if key not in markers:
                raise MappingError(f"{where}: lod {key!r} is not a marker id ({', '.join(markers)})")
            if not isinstance(lod, int | float) or lod <= 0:
                raise MappingError(f"{where}: lod {key} must be a positive number")
            sm.lod[key] = float(lod)
        m.sheets.append(sm)
    return m


def _toml_str(s: str) -> str:
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    # other control characters (a header with a carriage return, a stray \x01) may not stand raw in TOML
    return '"' + "".join(f"\\u{ord(c):04x}" if (ord(c) < 32 and c != "\t") or ord(c) == 127 else c for c in out) + '"'


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
