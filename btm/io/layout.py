"""Find the table in a sheet: header row, units row, the role of every column, wide or long.

A header row is the row (among the first 30) whose cells best match marker synonyms and
subject-column names; title lines, blank rows, logos and merged titles above it are skipped.
Units are taken from the header text (``PINP (ng/mL)``, ``CTX [pg/mL]``, ``BALP, µg/L``,
``P1NP ng/ml``), from a units row under the header, or from a ``Unit`` column (per row).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from ..markers import match_marker
from .fields import MAX_HEADER_CHARS, _parse_time, field_for_header
from .mapping import SheetMapping
from .values import cell_text

__all__ = ["ColumnRole", "SheetLayout", "classify_header", "detect_layout", "split_header"]

HEADER_SCAN_ROWS = 30
_GENERIC_SHEET = re.compile(r"^(sheet|tabelle|feuil|hoja|foglio|blad|ark|data|results?|export|report|daten|tabelle\d*)\s*\d*$", re.I)


@dataclass
class ColumnRole:
    index: int
    header: str
    role: str  # "marker", a tidy field name, "ignore" or "" (not recognised)
    marker: str = ""
    specimen: str | None = None
    variant: str = ""
    unit: str = ""
    unit_source: str = ""
    unit_column: int | None = None
    bad_unit: str = ""  # a unit written in the header or units row that cannot be read (its values are rejected)


@dataclass
class SheetLayout:
    header_row: int  # 0-based
    units_row: int | None
    data_start: int
    layout: str  # "wide" | "long" | "tidy"
    columns: list[ColumnRole]
    timepoint: str | None = None
    notes: list[str] = field(default_factory=list)

    def by_role(self, role: str) -> ColumnRole | None:
        for c in self.columns:
            if c.role == role:
                return c
        return None

    @property
    def marker_columns(self) -> list[ColumnRole]:
        return [c for c in self.columns if c.role == "marker"]


@functools.lru_cache(maxsize=32768)  # a header row may have 16,384 distinct cells
def _is_unit(text: str) -> bool:
    from ..errors import UnitParseError
    from ..units import parse_unit

    t = text.strip()
    if not t or len(t) > 40:
        return False
    try:
        parse_unit(t)
    except UnitParseError:
        return False
    return True


@functools.lru_cache(maxsize=32768)  # a header row may have 16,384 distinct cells
def split_header(text: str) -> tuple[str, str]:
    """``(name, unit)`` of a header: ``"PINP (ng/mL)"`` -> ``("PINP", "ng/mL")``; no unit -> ``(text, "")``."""
    t = " ".join(str(text).split())
    if len(t) > MAX_HEADER_CHARS:
        return t, ""
    m = re.match(r"^(.*?)[\s,;]*[\(\[\{]([^\(\)\[\]\{\}]*)[\)\]\}]\s*$", t)
    if m and m.group(1).strip() and _is_unit(m.group(2)):
        return m.group(1).strip(), m.group(2).strip()
    if "," in t:
        name, _, unit = t.rpartition(",")
        if name.strip() and _is_unit(unit):
            return name.strip(), unit.strip()
    words = t.split(" ")
    for k in range(min(5, len(words) - 1), 0, -1):
        unit, name = " ".join(words[-k:]), " ".join(words[:-k])
        if _is_unit(unit) and match_marker(name):
            return name.rstrip(",;:- "), unit
    return t, ""


@dataclass(frozen=True)
class HeaderClass:
    role: str
    marker: str = ""
    specimen: str | None = None
    variant: str = ""
    unit: str = ""
    bad_unit: str = ""


_CONTROL_AS_SPACE = {c: " " for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]}
# what follows a marker name when it is an attempt at a unit: brackets, a slash, "in …"/"per …", a mass or amount
_UNIT_ATTEMPT = re.compile(r"^[\(\[\{]|/|^(?:in|per)\s|^(?:µ|u|mc|m|n|p|f|k)?(?:g|mol|l|iu|u|kat)\b", re.I)


def _marker_with_unreadable_unit(t: str) -> tuple[Any, str]:
    """(marker match, the unit text) when ``t`` is a marker name followed by a unit that cannot be
    read (``CTX ng/dl?``, ``OCN in furlongs``): the column is the marker's, its values are rejected
    for want of a unit instead of the column being dropped. (None, "") otherwise."""
    words = t.split()
    for k in range(min(len(words) - 1, 6), 0, -1):
        rest = " ".join(words[k:]).strip(" ,;:-")
        if rest and _UNIT_ATTEMPT.search(rest):
            mm = match_marker(" ".join(words[:k]).rstrip(",;:- "))
            if mm is not None:
                return mm, rest
    return None, ""


@functools.lru_cache(maxsize=32768)  # a header row may have 16,384 distinct cells
def classify_header(text: str) -> HeaderClass:
    """What a header cell names: a tidy field, a marker (with unit), or nothing."""
    t = str(text).translate(_CONTROL_AS_SPACE).strip()  # a stray CR or bell in a header is no part of its name
    if not t or len(t) > MAX_HEADER_CHARS:
        return HeaderClass("")
    f = field_for_header(t)
    if f == "_ignore":
        return HeaderClass("ignore")
    if f:
        return HeaderClass(f)
    name, unit = split_header(t)
    mm = match_marker(name) if name else None
    if mm is None and unit:
        mm = match_marker(t)
        unit = "" if mm else unit
    if mm is not None:
        return HeaderClass("marker", mm.marker, mm.specimen, mm.variant, unit)
    mm, bad = _marker_with_unreadable_unit(t)
    if mm is not None:
        return HeaderClass("marker", mm.marker, mm.specimen, mm.variant, "", bad)
    if t.casefold() in ("time", "zeit"):
        return HeaderClass("time")  # clock time or timepoint: decided by the values
    return HeaderClass("")


def _row_texts(row: list[Any]) -> list[str]:
    return [c.strip() if isinstance(c, str) else "" for c in row]


def _score(row: list[Any]) -> tuple[int, int, bool]:
    markers, fields = 0, set()
    for t in _row_texts(row):
        if not t or len(t) > 120:
            continue
        hc = classify_header(t)
        if hc.role == "marker":
            markers += 1
        elif hc.role and hc.role not in ("ignore",):
            fields.add(hc.role)
    long_sig = "result" in fields and bool(fields & {"test_name", "test_code", "marker"})
    return markers * 2 + len(fields) + (4 if long_sig else 0), markers, long_sig


def detect_layout(rows: list[list[Any]], *, sheet: str, multi_sheet: bool, mapping: SheetMapping | None = None) -> SheetLayout | str:
    """The layout of a sheet, or a string saying why it holds no marker data."""
    if not rows:
        return "the sheet is empty"
    if mapping and mapping.header_row:
        h = mapping.header_row - 1
        if h >= len(rows):
            return f"the mapping's header_row {mapping.header_row} is beyond the last row ({len(rows)})"
    else:
        best = None
        for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
            if sum(1 for t in _row_texts(row) if t) < 2:
                continue  # a title line or a note, not a header
            score, markers, long_sig = _score(row)
            if (markers or long_sig) and (best is None or score > best[0]):
                best = (score, i)
        mapped = mapping and mapping.columns
        if best is None and not mapped:
            return "no marker column found (no header names a bone marker, and no test/result columns)"
        h = best[1] if best else 0
    header = [cell_text(c).strip() for c in rows[h]]
    columns: list[ColumnRole] = []
    mapped_cols = {k.strip().casefold(): v for k, v in (mapping.columns.items() if mapping else [])}
    for j, text in enumerate(header):
        role_override = mapped_cols.get(text.casefold()) if text else None
        if role_override:
            if role_override == "ignore":
                columns.append(ColumnRole(j, text, "ignore"))
                continue
            from ..markers import catalog

            if role_override in catalog():
                name, unit = split_header(text)
                mm = match_marker(name)
                columns.append(
                    ColumnRole(j, text, "marker", role_override, mm.specimen if mm else None, mm.variant if mm else "", unit, "header" if unit else "")
                )
                continue
            columns.append(ColumnRole(j, text, role_override))
            continue
        hc = classify_header(text) if text else HeaderClass("")
        col = ColumnRole(j, text, hc.role, hc.marker, hc.specimen, hc.variant, hc.unit, "header" if hc.unit else "", bad_unit=hc.bad_unit)
        columns.append(col)

    # "time": clock times or a visit label?
    data_rows = rows[h + 1 : h + 201]
    for c in columns:
        if c.role == "time":
            vals = [cell_text(r[c.index]) for r in data_rows if c.index < len(r) and cell_text(r[c.index]).strip()]
            clock = sum(bool(_parse_time(v)) for v in vals)
            c.role = "sample_time" if vals and clock >= 0.8 * len(vals) else "timepoint"

    # one column per tidy field: later duplicates are ignored, and said so
    notes: list[str] = []
    seen: dict[str, ColumnRole] = {}
    for i, c in enumerate(columns):
        if c.role == "unit" and i > 0 and columns[i - 1].role == "marker":
            continue  # the unit column of the marker before it (wide): one per marker is fine
        if c.role and c.role not in ("marker", "ignore"):
            if c.role in seen:
                notes.append(f"column {c.header!r} ignored: {seen[c.role].header!r} already gives {c.role}")
                c.role = "ignore"
            else:
                seen[c.role] = c

    roles = {c.role for c in columns}
    if mapping and mapping.layout:
        layout = mapping.layout
    elif {"marker", "result", "unit", "censored", "source_file"} <= roles:
        layout = "tidy"
    elif "result" in roles and roles & {"test_name", "test_code", "marker"} and not any(c.role == "marker" for c in columns):
        layout = "long"
    elif any(c.role == "marker" for c in columns):
        layout = "wide"
    else:
        return "no marker column found (headers: " + ", ".join(repr(t) for t in header if t)[:300] + ")"

    # units row under the header
    units_row = None
    if mapping and mapping.units_row:
        units_row = mapping.units_row - 1
    elif layout == "wide" and h + 1 < len(rows):
        nxt = rows[h + 1]
        mcols = [c for c in columns if c.role == "marker"]
        texts = [cell_text(nxt[c.index]).strip() if c.index < len(nxt) else "" for c in mcols]
        unit_like = [t for t in texts if t and _is_unit(t)]
        numbers = [t for t in texts if t and re.match(r"^[<>≤≥]?\s*\d", t)]
        if unit_like and not numbers:
            units_row = h + 1
    if units_row is not None:
        urow = rows[units_row] if units_row < len(rows) else []
        for c in columns:
            if c.role == "marker" and c.index < len(urow):
                u = cell_text(urow[c.index]).strip()
                if u and _is_unit(u):
                    if c.unit and c.unit != u:
                        notes.append(f"column {c.header!r}: unit {u!r} in the units row differs from {c.unit!r} in the header; the units row is used")
                    c.unit, c.unit_source = u, "units row"
                elif u and not c.unit:
                    c.bad_unit = u

    # a Unit column right after a marker column gives that marker's unit per row (wide)
    if layout == "wide":
        for i, c in enumerate(columns):
            if c.role == "unit" and i > 0 and columns[i - 1].role == "marker":
                columns[i - 1].unit_column = c.index
                c.role = "unit_of_" + columns[i - 1].marker

    # units from the mapping (by header text or by marker id)
    if mapping and mapping.units:
        by_key = {k.strip().casefold(): v for k, v in mapping.units.items()}
        for c in columns:
            if c.role == "marker":
                u = by_key.get(c.header.casefold()) or by_key.get(c.marker.casefold())
                if u:
                    c.unit, c.unit_source = u, "mapping"
    if mapping and mapping.specimen:
        for c in columns:
            if c.role == "marker":
                c.specimen = mapping.specimen

    data_start = (units_row if units_row is not None and units_row > h else h) + 1
    timepoint = None
    if mapping and mapping.timepoint:
        timepoint = mapping.timepoint
    elif multi_sheet and "timepoint" not in roles and sheet and not _GENERIC_SHEET.match(sheet.strip()):
        timepoint = sheet.strip()
        notes.append(f"no visit column: timepoint {timepoint!r} taken from the sheet name")
    unknown = [c.header for c in columns if c.role == "" and c.header]
    if unknown:
        notes.append("columns not used: " + ", ".join(repr(u) for u in unknown[:12]) + (" …" if len(unknown) > 12 else ""))
    return SheetLayout(h, units_row, data_start, layout, columns, timepoint, notes)
