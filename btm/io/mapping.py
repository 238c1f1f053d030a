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

_SHEET_KEYS = {
    "file", "sheet", "header_row", "units_row", "layout", "timepoint", "skip", "columns", "units", "lod", "specimen",
    "marker", "unit", "id", "values",
}
_TOP_KEYS = {"dayfirst", "decimal", "timepoint_order", "sheets", "baseline", "unit_aliases"}
_LAYOUTS = ("wide", "long", "wide_visits")


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
    marker: str | None = None  # layout "wide_visits": the one marker of the sheet
    unit: str | None = None  # layout "wide_visits": its unit
    id: str | None = None  # "row" (ids from row numbers) or the header of the id column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> {code: value}
    unit_aliases: dict[str, str] = field(default_factory=dict)  # from the top-level [unit_aliases]

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
    unit_aliases: dict[str, str] = field(default_factory=dict)

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
    aliases = raw.get("unit_aliases", {})
    if not isinstance(aliases, dict):
        raise MappingError(f"{source}: [unit_aliases] must be a table of unit text = unit")
    for text, unit in aliases.items():
        _check_unit(str(unit), f"{source}: unit_aliases {text!r}")
        m.unit_aliases[str(text)] = str(unit)
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
            if s["layout"] not in _LAYOUTS:
                raise MappingError(f"{where}: layout must be \"wide\", \"long\" or \"wide_visits\"")
            sm.layout = s["layout"]
        _research_keys(s, sm, where, markers)
        sm.unit_aliases = dict(m.unit_aliases)
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


def _check_unit(unit: str, where: str) -> None:
    from ..errors import UnitParseError
    from ..units import parse_unit

    try:
        parse_unit(unit)
    except UnitParseError as exc:
        raise MappingError(f"{where}: {exc}") from None


def _research_keys(s: dict[str, Any], sm: SheetMapping, where: str, markers: dict) -> None:
    """``marker``, ``unit``, ``id`` and ``[sheets.values]`` (research layouts)."""
    if "marker" in s:
        from ..markers import match_marker

        key = str(s["marker"])
        mm = markers.get(key) or markers.get(key.upper())
        mid = mm.id if mm else (match_marker(key).marker if match_marker(key) else None)
        if mid is None:
            raise MappingError(f"{where}: marker {key!r} is not a marker id ({', '.join(markers)}) or name")
        sm.marker = mid
    if "unit" in s:
        _check_unit(str(s["unit"]), f"{where}: unit")
        sm.unit = str(s["unit"])
    if sm.layout == "wide_visits" and not sm.marker:
        raise MappingError(f"{where}: layout \"wide_visits\" needs marker = \"<id>\" (the marker of every visit column)")
    if "id" in s:
        if not isinstance(s["id"], str) or not s["id"].strip():
            raise MappingError(f"{where}: id must be \"row\" (ids from row numbers) or the header of the id column")
        sm.id = s["id"].strip()
    values = s.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise MappingError(f"{where}: [sheets.values] must be tables of code = value, e.g. sex = {{ 1 = \"M\", 2 = \"F\" }}")
    for col, codes in values.items():
        sm.values[str(col)] = {str(k).strip(): str(v) for k, v in codes.items()}


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def mapping_to_toml(entries: list[dict[str, Any]], *, dayfirst: bool | None = None, decimal: str | None = None) -> str:
    """A mapping file drafted from detected layouts (one entry per sheet).

    Every column is listed with its role; a comment says what btm guessed (marker, visit, unit,
    derived value, look-alike, or unknown with candidate markers). A sheet btm could not read gets
    a full draft whose blanks (``marker``, ``unit``) the user fills in.
    """
    lines = [
        "# btm mapping, drafted by 'btm import --write-mapping'. Edit what btm got wrong, fill in the blanks, then run",
        "#   btm import FILES --mapping THIS_FILE",
        "# Keys are explained in the README (section 'Mapping files').",
        "",
    ]
    lines.append(f"dayfirst = {'true' if dayfirst else 'false'}" if dayfirst is not None else "# dayfirst = true   # set when dates like 03/04/2026 are reported as ambiguous")
    lines.append(f"decimal = {_toml_str(decimal)}" if decimal else "# decimal = \",\"    # set when text numbers use a decimal comma")
    lines.append("# [unit_aliases]     # unit text your lab writes = a unit btm reads, e.g. \"Einh./l\" = \"U/L\"")
    lines.append("")
    for e in entries:
        lines.append("[[sheets]]")
        lines.append(f"file = {_toml_str(e['file'])}")
        lines.append(f"sheet = {_toml_str(e['sheet'])}")
        if e.get("skip"):
            lines.append("skip = true    # " + e.get("why", "no marker data"))
            if e.get("columns"):  # a draft of the sheet, for when it does hold results
                lines.append("# to read this sheet, delete 'skip = true' and uncomment:")
                lines.extend("# " + x if x else "#" for x in _sheet_body(e))
            lines.append("")
            continue
        lines.extend(_sheet_body(e))
        lines.append("")
    return "\n".join(lines) + "\n"


def _sheet_body(e: dict[str, Any]) -> list[str]:
    lines = []
    if e.get("draft_of_unread"):
        lines.append(f"# btm could not read this sheet ({e['draft_of_unread']}): every column below is a guess")
    lines.append(f"header_row = {e['header_row']}")
    if e.get("units_row"):
        lines.append(f"units_row = {e['units_row']}")
    wv = e.get("wide_visits")
    if wv is not None:
        lines.append('layout = "wide_visits"    # one marker, one column per visit')
        lines.append(f"marker = {_toml_str(wv['marker'])}" if wv.get("marker") else 'marker = ""    # FILL IN: the marker of every visit column (PINP, CTX1, …)')
        lines.append(f"unit = {_toml_str(wv['unit'])}" if wv.get("unit") else '# unit = ""    # FILL IN if the headers do not say it, e.g. "µg/L"')
    else:
        lines.append(f"layout = {_toml_str(e['layout'])}")
    if e.get("id"):
        lines.append(f"id = {_toml_str(e['id'])}" + ("    # no id column: subject ids from row numbers" if e["id"] == "row" else ""))
    if e.get("timepoint"):
        lines.append(f"timepoint = {_toml_str(e['timepoint'])}")
    if e.get("specimen"):
        lines.append(f"specimen = {_toml_str(e['specimen'])}")
    comments = e.get("comments", {})
    lines += ["", "[sheets.columns]"]
    for header, role in e["columns"].items():
        note = comments.get(header, "")
        lines.append(f"{_toml_str(header)} = {_toml_str(role)}" + (f"    # {note}" if note else ""))
    for header, note in comments.items():
        if header not in e["columns"]:
            lines.append(f"# {_toml_str(header)}: {note}")
    if e.get("units"):
        lines += ["", "[sheets.units]"]
        for header, unit in e["units"].items():
            if unit:
                lines.append(f"{_toml_str(header)} = {_toml_str(unit)}")
            else:
                lines.append(f"# {_toml_str(header)} = \"\"    # no unit found: fill in and uncomment")
    if e.get("values"):
        lines += ["", "[sheets.values]"]
        for col, codes in e["values"].items():
            inner = ", ".join(f"{_toml_str(k)} = {_toml_str(v)}" for k, v in codes.items())
            lines.append(f"{_toml_str(col)} = {{ {inner} }}")
    if e.get("lod"):
        lines += ["", "[sheets.lod]"]
        for marker, lod in e["lod"].items():
            lines.append(f"{marker} = {lod!r}")
    return lines
