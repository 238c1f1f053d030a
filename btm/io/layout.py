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
    timepoint: str | None = None  # the visit of a marker × visit column ("P1NP_pre", a band row)
    reason: str = ""  # why a column is not used (derived value, look-alike)
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
    id_from_row: bool = False  # subject ids are the Excel row numbers (mapping: id = "row")
    header_kind: str = ""  # "visits over markers", "markers over visits" or "" (one header row)

    @property
    def unused(self) -> list[ColumnRole]:
        """Columns with a header that are not read: unknown, derived values and look-alikes."""
        return [c for c in self.columns if c.header and c.role in ("", "derived", "lookalike")]

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
    role: str  # a tidy field, "marker", "derived", "lookalike", "ignore", "time" or ""
    marker: str = ""
    specimen: str | None = None
    variant: str = ""
    unit: str = ""
    timepoint: str | None = None
    reason: str = ""
    bad_unit: str = ""  # a unit after the marker name that cannot be read


_CONTROL_AS_SPACE = {c: " " for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]}
# what follows a marker name when it is an attempt at a unit: brackets, a slash, "in …"/"per …", a mass or amount
_UNIT_ATTEMPT = re.compile(r"^[\(\[\{]|/|^(?:in|per)\s|^(?:µ|u|mc|m|n|p|f|k)?(?:g|mol|l|iu|u|kat)\b", re.I)


def _marker_with_unreadable_unit(t: str) -> HeaderClass | None:
    """A marker name followed by a unit that cannot be read (``CTX ng/dl?``, ``OCN in furlongs``):
    the column is the marker's and its values are rejected for want of a unit, instead of the
    column being dropped unseen."""
    words = t.split()
    for k in range(min(len(words) - 1, 6), 0, -1):
        rest = " ".join(words[k:]).strip(" ,;:-")
        if rest and _UNIT_ATTEMPT.search(rest):
            mm = match_marker(" ".join(words[:k]).rstrip(",;:- "), exact=True)
            if mm is not None:
                return HeaderClass("marker", mm.marker, mm.specimen, mm.variant, "", bad_unit=rest)
    return None


def _marker_class(text: str, *, exact: bool) -> HeaderClass | None:
    name, unit = split_header(text)
    mm = match_marker(name, exact=exact) if name else None
    if mm is None and unit:
        mm = match_marker(text, exact=exact)
        unit = "" if mm else unit
    if mm is None and not unit:
        # "ALP (Einh./l)": a unit btm does not read (a mapping's unit_aliases may); the name before it is the marker
        m = re.match(r"^(.*?)\s*[\(\[\{][^\(\)\[\]\{\}]*/[^\(\)\[\]\{\}]*[\)\]\}]\s*$", text)
        mm = match_marker(m.group(1), exact=True) if m and m.group(1) else None
    if mm is None:
        return None
    return HeaderClass("marker", mm.marker, mm.specimen, mm.variant, unit)


@functools.lru_cache(maxsize=32768)  # a header row may have 16,384 distinct cells
def classify_header(text: str) -> HeaderClass:
    """What a header cell names: a tidy field, a marker (with unit and visit), a derived value,
    a look-alike, or nothing.

    In order: a subject/sample column name; a derived value (``% change``, ``Δ``, ``post/pre``,
    ``mean``, ``SD``, ``z``, ``AUC`` …); a look-alike (CTX-II, ICTP, PICP, PIIINP, ucOC …); a marker
    name (exactly); a marker name with a visit token before or after it (``P1NP_pre``, ``wk12
    BALP``), the token becoming the timepoint; a marker name inside a longer header.
    """
    t = str(text).translate(_CONTROL_AS_SPACE).strip()  # a stray CR or bell in a header is no part of its name
    if not t or len(t) > MAX_HEADER_CHARS or _PLAIN_NUMBER.fullmatch(t):
        return HeaderClass("")  # (a number names nothing: the many distinct values of a text file cost no matching)
    return _classify(t)


# a plain decimal number, as the values of a text file are written (tests/test_layout_fast.py: each one
# classifies as nothing by the full rules too)
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)")


def _classify(t: str) -> HeaderClass:
    """:func:`classify_header` of a stripped, non-empty text of at most :data:`MAX_HEADER_CHARS`."""
    from ..markers import lookalike_of
    from .headers import derived_reason
    from .visits import split_visit

    f = field_for_header(t)
    if f == "_ignore":
        return HeaderClass("ignore")
    if f:
        return HeaderClass(f)
    why = derived_reason(t)
    if why:
        return HeaderClass("derived", reason=why)
    la = lookalike_of(t)
    if la is not None:
        return HeaderClass("lookalike", reason=f"{la.name}: {la.what}")
    hc = _marker_class(t, exact=True)
    if hc is None:
        vs = split_visit(t)
        if vs is not None and vs.rest:
            inner = _marker_class(vs.rest, exact=False)
            if inner is not None:
                return HeaderClass("marker", inner.marker, inner.specimen, inner.variant, inner.unit, vs.label)
        hc = _marker_class(t, exact=False)
    if hc is not None:
        return hc
    hc = _marker_with_unreadable_unit(t)
    if hc is not None:
        return hc
    if t.casefold() in ("time", "zeit"):
        return HeaderClass("time")  # clock time or timepoint: decided by the values
    return HeaderClass("")


def _row_texts(row: list[Any]) -> list[str]:
    return [c.strip() if isinstance(c, str) else "" for c in row]


SCORE_CELLS = 512  # texts of a row that score it as a header: a forged row of 16,384 distinct names costs no more


def _score(row: list[Any]) -> tuple[int, int, bool]:
    markers, fields, seen = 0, set(), 0
    for t in _row_texts(row):
        if not t or len(t) > 120:
            continue
        seen += 1
        if seen > SCORE_CELLS:
            break
        hc = classify_header(t)
        if hc.role == "marker":
            markers += 1
        elif hc.role and hc.role not in ("ignore",):
            fields.add(hc.role)
    long_sig = "result" in fields and bool(fields & {"test_name", "test_code", "marker"})
    return markers * 2 + len(fields) + (4 if long_sig else 0), markers, long_sig


def _header_row(rows: list[list[Any]], mapping: SheetMapping | None) -> int | str:
    """0-based header row: the mapping's, else the best-scored of the first rows; or why there is none."""
    if mapping and mapping.header_row:
        h = mapping.header_row - 1
        if h >= len(rows):
            return f"the mapping's header_row {mapping.header_row} is beyond the last row ({len(rows)})"
        return h
    if mapping and mapping.layout == "wide_visits":
        return next((i for i, r in enumerate(rows[:HEADER_SCAN_ROWS]) if any(_row_texts([cell_text(c) for c in r]))), 0)
    best = None
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if sum(1 for t in _row_texts(row) if t) < 2:
            continue  # a title line or a note, not a header
        score, markers, long_sig = _score(row)
        if (markers or long_sig) and (best is None or score > best[0]):
            best = (score, i)
    if best is None and not (mapping and mapping.columns):
        return "no marker column found (no header names a bone marker, and no test/result columns)"
    return best[1] if best else 0


def _mapped_column(j: int, text: str, role: str) -> ColumnRole:
    from ..markers import catalog

    if role in catalog():
        name, unit = split_header(text)
        mm = match_marker(name)
        return ColumnRole(j, text, "marker", role, mm.specimen if mm else None, mm.variant if mm else "", unit, "header" if unit else "")
    return ColumnRole(j, text, role)


def _visit_column(j: int, text: str, mapping: SheetMapping) -> ColumnRole:
    """A column of a ``wide_visits`` sheet: a subject column by name, else a visit of the mapping's marker."""
    from .visits import canonical_label

    if mapping.id and mapping.id != "row" and text.casefold() == mapping.id.strip().casefold():
        return ColumnRole(j, text, "subject_id")
    f = field_for_header(text)
    if f and f not in ("timepoint", "test_name", "result", "marker", "test_code"):
        return ColumnRole(j, text, "ignore" if f == "_ignore" else f)
    name, unit = split_header(text)
    label = canonical_label(name)
    return ColumnRole(j, text, "marker", str(mapping.marker), mapping.specimen, "", unit or mapping.unit or "",
                      ("header" if unit else "mapping") if (unit or mapping.unit) else "", timepoint=label)


def _columns(rows: list[list[Any]], h: int, mapping: SheetMapping | None, merged) -> tuple[list[ColumnRole], int, str]:
    """The role of every column, the (last) header row and the kind of header (one row, or two)."""
    from .headers import two_row_header

    mapped_cols = {k.strip().casefold(): v for k, v in (mapping.columns.items() if mapping else [])}
    if mapping and mapping.layout == "wide_visits":
        cols = []
        for j, c in enumerate(rows[h]):
            text = cell_text(c).strip()
            if not text:
                continue
            role = mapped_cols.get(text.casefold())
            cols.append(_mapped_column(j, text, role) if role else _visit_column(j, text, mapping))
        return cols, h, ""
    two = two_row_header(rows, h, classify_header, merged)
    if two is not None:
        texts, shown, visits, h = two.texts, two.shown, two.visits, two.bottom
    else:
        texts = [cell_text(c).strip() for c in rows[h]]
        shown, visits = texts, [None] * len(texts)
    columns: list[ColumnRole] = []
    for j, text in enumerate(texts):
        role = (mapped_cols.get(shown[j].casefold()) or mapped_cols.get(text.casefold())) if text else None
        if role:
            col = _mapped_column(j, shown[j], role)
            if col.role == "marker":  # a mapped marker × visit column keeps the visit of its header or band
                col.timepoint = visits[j] or classify_header(text).timepoint
                if not col.unit:
                    col.unit = classify_header(text).unit
                    col.unit_source = "header" if col.unit else ""
            columns.append(col)
            continue
        hc = classify_header(text) if text else HeaderClass("")
        columns.append(
            ColumnRole(j, shown[j], hc.role, hc.marker, hc.specimen, hc.variant, hc.unit, "header" if hc.unit else "",
                       timepoint=hc.timepoint or visits[j], reason=hc.reason, bad_unit=hc.bad_unit)
        )
    return columns, h, two.kind if two is not None else ""


def detect_layout(
    rows: list[list[Any]],
    *,
    sheet: str,
    multi_sheet: bool,
    mapping: SheetMapping | None = None,
    merged: list[tuple[tuple[int, int], tuple[int, int]]] | None = None,
) -> SheetLayout | str:
    """The layout of a sheet, or a string saying why it holds no marker data.

    ``merged`` are the sheet's merged ranges (a band row of visits or markers above the header).
    """
    if not rows:
        return "the sheet is empty"
    h = _header_row(rows, mapping)
    if isinstance(h, str):
        return h
    columns, h, header_kind = _columns(rows, h, mapping, merged)
    header = [c.header for c in columns]

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
        if c.role and c.role not in ("marker", "ignore", "derived", "lookalike"):
            if c.role in seen:
                notes.append(f"column {c.header!r} ignored: {seen[c.role].header!r} already gives {c.role}")
                c.role = "ignore"
            else:
                seen[c.role] = c

    roles = {c.role for c in columns}
    if mapping and mapping.layout:
        layout = "wide" if mapping.layout == "wide_visits" else mapping.layout
    elif {"marker", "result", "unit", "censored", "source_file"} <= roles:
        layout = "tidy"
    elif "result" in roles and roles & {"test_name", "test_code", "marker"} and not any(c.role == "marker" for c in columns):
        layout = "long"
    elif any(c.role == "marker" for c in columns):
        layout = "wide"
    else:
        return "no marker column found (headers: " + ", ".join(repr(t) for t in header if t)[:300] + ")"

    units_row = _units_row(rows, h, columns, layout, mapping, notes)

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
    if mapping and mapping.unit_aliases:
        _apply_unit_aliases(columns, mapping.unit_aliases)

    data_start = (units_row if units_row is not None and units_row > h else h) + 1
    timepoint = None
    if mapping and mapping.timepoint:
        timepoint = mapping.timepoint
    elif multi_sheet and "timepoint" not in roles and sheet and not _GENERIC_SHEET.match(sheet.strip()):
        timepoint = sheet.strip()
        notes.append(f"no visit column: timepoint {timepoint!r} taken from the sheet name")
    notes.extend(_unused_notes(columns))
    if header_kind:
        notes.append(f"two header rows ({header_kind}, rows {h}–{h + 1}): each marker column's visit is read from the band row")
    visits = sorted({c.timepoint for c in columns if c.role == "marker" and c.timepoint})
    if visits and not header_kind and not (mapping and mapping.layout == "wide_visits"):
        notes.append("marker × visit columns: the visit is read from each header (" + ", ".join(map(repr, visits[:12])) + ")")
    id_from_row = bool(mapping and mapping.id == "row")
    if id_from_row:
        notes.append("subject ids are the sheet's Excel row numbers ('row N'), as the mapping says (id = \"row\")")
    return SheetLayout(h, units_row, data_start, layout, columns, timepoint, notes, id_from_row, header_kind)


def _units_row(rows: list[list[Any]], h: int, columns: list[ColumnRole], layout: str, mapping: SheetMapping | None,
               notes: list[str]) -> int | None:
    """The units row under the header (from the mapping, or a row of unit texts and no numbers), its units applied."""
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
    return units_row


def _unused_notes(columns: list[ColumnRole]) -> list[str]:
    """One notice each for derived columns, look-alikes and unknown columns (named, so nothing is silently unused)."""
    notes = []
    derived = [c for c in columns if c.role == "derived"]
    if derived:
        notes.append(
            f"{len(derived)} derived column(s) ignored (changes, ratios and summaries are not results; btm computes its own): "
            + "; ".join(f"{c.header!r} ({c.reason.split(':')[0]})" for c in derived[:12]) + (" …" if len(derived) > 12 else "")
        )
    for c in columns:
        if c.role == "lookalike":
            notes.append(f"column {c.header!r} not used: it names {c.reason}")
    unknown = [c.header for c in columns if c.role == "" and c.header]
    if unknown:
        notes.append("columns not used: " + ", ".join(repr(u) for u in unknown[:12]) + (" …" if len(unknown) > 12 else ""))
    return notes


def _apply_unit_aliases(columns: list[ColumnRole], aliases: dict[str, str]) -> None:
    """Units a mapping declares (``[unit_aliases]``): a column unit, or a bracketed header part, that is an alias."""
    keys = {" ".join(k.split()).casefold(): v for k, v in aliases.items()}
    for c in columns:
        if c.role != "marker":
            continue
        if c.unit and c.unit.casefold() in keys:
            c.unit = keys[c.unit.casefold()]
            continue
        m = re.search(r"[\(\[\{]([^\(\)\[\]\{\}]*)[\)\]\}]\s*$", c.header)
        if not c.unit and m and " ".join(m.group(1).split()).casefold() in keys:
            c.unit, c.unit_source = keys[" ".join(m.group(1).split()).casefold()], "mapping alias"
