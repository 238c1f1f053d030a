"""One sheet's table -> tidy rows: every cell of a marker column loaded, blank, or rejected with its reason.

:func:`load_sheet` builds a :class:`SheetContext` (the sheet, its layout, the data region as a
grid, the subject columns, the decimal mark) once, then loads a wide table (a column per marker)
or a long one (one row per result).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from ..markers import catalog, match_marker
from ._base import RawSheet
from ._convert import convert
from ._tables import Counts, Problems, col_label, col_letter
from ._tidy import load_tidy
from .fields import normalise_field, parse_dates, time_text
from .layout import ColumnRole, SheetLayout, split_header
from .mapping import SheetMapping
from .values import BLANK, OK, REJECTED, cell_text, cell_texts, detect_decimal, empty_texts, parse_values

__all__ = ["SheetContext", "load_sheet"]

_META_TEXT = ["timepoint", "group", "comment", "assay", "sample_id", "tanner_stage", "fracture", "pregnancy", "medication", "last_exercise"]
_META_NORM = ["sex", "menopausal_status", "fasting", "age", "egfr"]


@dataclass(frozen=True)
class SheetContext:
    """What every step of loading one sheet reads. Frozen: only ``problems`` and ``counts`` accumulate."""

    raw: RawSheet
    layout: SheetLayout
    mapping: SheetMapping | None
    problems: Problems
    counts: Counts
    grid: np.ndarray  # the data region: grid row i is Excel row layout.data_start + i + 1
    meta: dict[str, np.ndarray]  # subject and sample columns, one value per grid row
    decimal: str | None  # decimal mark of text numbers: given, or detected from this sheet
    lods: dict[str, float]  # marker -> limit for '<LOD' texts (mapping)
    uncached: dict[tuple[int, int], str]  # (grid row, column) -> formula without a cached value
    row_index: np.ndarray | None = None  # grid row -> row under data_start (text files: blank rows are left out)

    def excel_row(self, grid_row: int) -> int:
        offset = int(grid_row) if self.row_index is None else int(self.row_index[int(grid_row)])
        return offset + self.layout.data_start + 1

    def problem(self, severity: str, grid_row: int | None, column: str, raw: str, reason: str) -> None:
        row = None if grid_row is None else self.excel_row(grid_row)
        self.problems.add(severity, self.raw.source, self.raw.sheet, row, column, raw, reason)


@dataclass(frozen=True)
class _Values:
    """The cells of one marker to parse: from one column (wide) or from the rows naming it (long)."""

    rows: np.ndarray  # grid rows
    cells: np.ndarray
    units: np.ndarray | str  # per cell, or one unit for all
    unit_origin: str  # where the unit comes from, for the message when there is none
    marker: str
    specimen: Any  # per cell, or one for all
    variant: Any
    label: np.ndarray | str  # column label(s) for the problem list
    col_index: np.ndarray | int


def load_sheet(
    raw: RawSheet,
    layout: SheetLayout,
    sm: SheetMapping | None,
    problems: Problems,
    *,
    dayfirst: bool | None,
    decimal: str | None,
    end: int | None = None,
) -> tuple[pd.DataFrame | None, Counts]:
    """The tidy rows of one table of a sheet (its data rows up to ``end``, exclusive, or the last)
    and what became of its values."""
    grid, row_index, n_blank = _grid(raw, layout, end)
    _apply_merges(raw, layout, grid, problems)
    if layout.layout == "tidy":
        df, counts = load_tidy(raw, layout, grid, problems, row_index)
        counts.read, counts.blank = counts.read + n_blank, counts.blank + n_blank
        return df, counts
    stop = layout.data_start + grid.shape[0]
    uncached = {(r - layout.data_start, c): f for r, c, f in raw.uncached_formulas if layout.data_start <= r < stop}
    ctx = SheetContext(
        raw=raw, layout=layout, mapping=sm, problems=problems, counts=Counts(), grid=grid,
        meta=_meta(raw, layout, _with_codes(raw, layout, grid, sm, problems), problems, dayfirst=dayfirst, row_index=row_index),
        decimal=decimal or _detect_decimal(layout, grid),
        lods=dict(sm.lod) if sm else {}, uncached=uncached, row_index=row_index,
    )
    _warn_uncached_outside_values(ctx)
    parts = _load_wide(ctx) if layout.layout == "wide" else _load_long(ctx)
    blank_cells = n_blank * (len(layout.marker_columns) if layout.layout == "wide" else 1)
    ctx.counts.read, ctx.counts.blank = ctx.counts.read + blank_cells, ctx.counts.blank + blank_cells
    return _assemble(ctx, parts), ctx.counts


def _detect_decimal(layout: SheetLayout, grid: np.ndarray) -> str | None:
    """The decimal mark the sheet's text numbers show (only whether any text shows a mark counts:
    distinct texts suffice)."""
    value_cols = layout.marker_columns if layout.layout == "wide" else [layout.by_role("result")]
    texts = []
    for c in value_cols:
        if c is not None:
            texts.extend(x for x in pd.unique(grid[:, c.index]) if isinstance(x, str))
    return detect_decimal(texts)


def _warn_uncached_outside_values(ctx: SheetContext) -> None:
    for (gi, c), f in ctx.uncached.items():
        col = next((x for x in ctx.layout.columns if x.index == c), None)
        if col is not None and col.role not in ("marker", "result") and col.role:
            ctx.problem("warning", gi, col_label(col), f, "formula without a cached value: read as empty")


# ---------------------------------------------------------------------------------------------
# the grid and the subject columns


def _grid(raw: RawSheet, layout: SheetLayout, end: int | None = None) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(the data region as a 2-D object array, grid row -> row under data_start or None, blank rows
    left out). A text file's blank rows (one shared object) are left out and only counted, so a
    file of millions of empty lines costs no grid."""
    data = raw.rows[layout.data_start : end]
    row_index = None
    n_blank = 0
    if raw.is_csv and data:
        blank = _blank_row(raw)
        keep = [i for i, r in enumerate(data) if r is not blank] if blank is not None else None
        if keep is not None and len(keep) < len(data):
            n_blank = len(data) - len(keep)
            row_index = np.asarray(keep, dtype=np.int64)
            data = [data[i] for i in keep]
    width = max((c.index for c in layout.columns), default=0) + 1
    if data and len(set(map(len, data))) == 1 and len(data[0]) >= width:  # rectangular: one flat pass
        cells = np.fromiter(chain.from_iterable(data), dtype=object, count=len(data) * len(data[0]))
        return cells.reshape(len(data), len(data[0])), row_index, n_blank
    arr = np.full((len(data), width), "", dtype=object)
    for i, r in enumerate(data):
        m = min(len(r), width)
        arr[i, :m] = r[:m]
    return arr, row_index, n_blank


def _blank_row(raw: RawSheet) -> list[Any] | None:
    """The one object a text file uses for every blank row (see :func:`btm.io._csv.read_csv`)."""
    for r in raw.rows:
        if r and not any(r):
            return r
    return None


def _apply_merges(raw: RawSheet, layout: SheetLayout, grid: np.ndarray, problems: Problems) -> None:
    """Fill subject columns from merged ranges (with a warning per cell); never marker values.

    Only the part of a range inside the grid is touched, and at most :data:`_MERGE_WARNINGS`
    warnings are listed per range and column (then one line for the rest): a forged range such as
    A1:XFD1048576 costs no more than the grid itself."""
    if not raw.merged:
        return
    role_of = {c.index: c for c in layout.columns}
    ds, (n, width) = layout.data_start, grid.shape
    for (r0, c0), (r1, c1) in raw.merged:
        if r1 < ds or r0 >= ds + n or c0 >= width:
            continue
        top = raw.rows[r0][c0] if 0 <= r0 < len(raw.rows) and 0 <= c0 < len(raw.rows[r0]) else ""
        ref = f"{col_letter(c0)}{r0 + 1}:{col_letter(c1)}{r1 + 1}"
        if r0 < ds:  # a range from the header (or above) into the data: its top-left is no subject's value
            problems.add("warning", raw.source, raw.sheet, r0 + 1, col_letter(c0), cell_text(top),
                         f"merged range {ref} starts above the data and covers data rows; nothing is filled from it")
            continue
        for c in range(max(c0, 0), min(c1, width - 1) + 1):
            col = role_of.get(c)
            if col is None or not col.role or col.role == "ignore":
                continue
            cells = [r for r in range(max(r0, ds), min(r1, ds + n - 1) + 1) if (r, c) != (r0, c0)]
            if col.role == "marker":
                why = f"cell is part of merged range {ref}; the result is kept once, in its top-left cell"
            else:
                grid[[r - ds for r in cells], c] = top
                why = f"filled from merged range {ref}"
            for r in cells[:_MERGE_WARNINGS]:
                problems.add("warning", raw.source, raw.sheet, r + 1, col_label(col), cell_text(top), why)
            if len(cells) > _MERGE_WARNINGS:
                problems.add("warning", raw.source, raw.sheet, None, col_label(col), cell_text(top),
                             f"{why} (and {len(cells) - _MERGE_WARNINGS:,} more cells of this column, not listed one by one)")


_MERGE_WARNINGS = 100


def _text_column(grid: np.ndarray, j: int) -> np.ndarray:
    return cell_texts(grid[:, j], strip=True)
def _meta(raw: RawSheet, layout: SheetLayout, grid: np.ndarray, problems: Problems, *, dayfirst: bool | None,
          row_index: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-row subject and sample columns of a sheet."""
    n = grid.shape[0]
    out: dict[str, np.ndarray] = {}
    first = layout.data_start + 1

    def warn(col: ColumnRole, items: list[tuple[int, str, str]]) -> None:
        for i, text, reason in items:
            problems.add("warning", raw.source, raw.sheet, first + (i if row_index is None else int(row_index[i])), col_label(col), text, reason)

    for name in ("subject_id", "mrn", "sample_id"):
        c = layout.by_role(name)
        if c is not None:
            out[name] = _text_column(grid, c.index)
    for name in _META_TEXT:
        c = layout.by_role(name)
        if c is not None and name not in out:
            out[name] = _text_column(grid, c.index)
    for name in _META_NORM:
        c = layout.by_role(name)
        if c is not None:
            vals, probs = normalise_field(name, grid[:, c.index])
            out[name] = vals
            warn(c, probs)
    c = layout.by_role("sample_date")
    if c is not None:
        dp = parse_dates(grid[:, c.index], dayfirst=dayfirst, date1904=raw.date1904)
        out["sample_date"] = dp.date
        out["_time_from_date"] = dp.time
        warn(c, dp.problems)
    c = layout.by_role("sample_time")
    if c is not None:
        times = np.array([time_text(x) for x in grid[:, c.index]], dtype=object)
        bad = [(i, cell_text(x), f"time {cell_text(x)!r} not understood (expected HH:MM)") for i, (x, t) in enumerate(zip(grid[:, c.index], times, strict=True)) if not t and cell_text(x).strip()]
        warn(c, bad)
        out["sample_time"] = times
    elif "_time_from_date" in out:
        out["sample_time"] = out["_time_from_date"]
    c = layout.by_role("dob")
    if c is not None and "age" not in out:
        dp = parse_dates(grid[:, c.index], dayfirst=dayfirst, date1904=raw.date1904, two_digit_years=False)
        warn(c, dp.problems)
        ages = np.full(n, np.nan)
        sd = out.get("sample_date")
        for i in range(n):
            b = dp.date[i]
            d = sd[i] if sd is not None else None
            if b is not None and d is not None:
                years = d.year - b.year - ((d.month, d.day) < (b.month, b.day))
                if 0 <= years < 130:
                    ages[i] = years
        out["age"] = ages
    c = layout.by_role("specimen")
    if c is not None:
        spec = _text_column(grid, c.index)
        out["_specimen"] = np.array([_specimen_word(s) for s in spec], dtype=object)
    out.pop("_time_from_date", None)
    # the subject: subject id, else MRN, else the lab's sample id
    subj = out.get("subject_id")
    for fallback in ("mrn", "sample_id"):
        alt = out.get(fallback)
        if alt is None:
            continue
        if subj is None:
            subj = alt.copy()
            if fallback == "sample_id":
                problems.add("notice", raw.source, raw.sheet, None, "", "", "no subject or patient id column: the sample id is used as the subject id")
        else:
            empty = subj == ""
            subj[empty] = alt[empty]
    if subj is None and layout.id_from_row:
        subj = ("row " + pd.Series(np.arange(n) + first).astype(str)).to_numpy(dtype=object)
    if subj is not None:
        out["subject_id"] = subj
    out.pop("mrn", None)
    return out


def _with_codes(raw: RawSheet, layout: SheetLayout, grid: np.ndarray, sm: SheetMapping | None, problems: Problems) -> np.ndarray:
    """The grid with the mapping's code maps applied (``[sheets.values] sex = { 1 = "M", 2 = "F" }``).

    A code the map does not list is kept as written and warned about once per code.
    """
    if sm is None or not sm.values:
        return grid
    for key, codes in sm.values.items():
        col = layout.by_role(key) or next((c for c in layout.columns if c.header.casefold() == key.strip().casefold()), None)
        if col is None:
            problems.add("warning", raw.source, raw.sheet, None, key, "", f"[sheets.values] {key!r}: no such column in this sheet")
            continue
        texts = pd.Series(_text_column(grid, col.index))
        mapped = texts.map(codes)
        grid[:, col.index] = np.where(mapped.notna(), mapped, texts).astype(object)
        missing = texts[mapped.isna() & (texts != "")]
        for code, k in missing.value_counts().items():
            problems.add("warning", raw.source, raw.sheet, None, col_label(col), str(code),
                         f"code {code!r} is not in the mapping's values for {key!r} ({k} row(s)); kept as written")
    return grid


def _specimen_word(s: str) -> str:
    t = s.casefold()
    if not t:
        return ""
    if "urin" in t or t in ("u", "ur"):
        return "urine"
    if any(w in t for w in ("serum", "plasma", "blood", "edta", "sst")) or t == "s":
        return "serum"
    return ""


# ---------------------------------------------------------------------------------------------
# values


def _resolve_values(ctx: SheetContext, v: _Values, lod: float | None) -> dict[str, np.ndarray] | None:
    """Parse, convert and account for the cells of one marker; return the loaded part."""
    p = parse_values(v.cells, decimal=ctx.decimal, lod=lod)
    n = len(v.cells)
    ctx.counts.read += n
    status = p.status.copy()
    reason = p.reason.copy()
    if not ctx.raw.is_csv:  # readers give empty cells as "": a NaN is a cell that held "NaN" (or its bits)
        nan = _nan_cells(v.cells)
        if nan.any():
            status[nan], reason[nan], p.raw[nan] = REJECTED, "not a number: NaN", "NaN"
    if ctx.uncached:
        ci = np.broadcast_to(np.asarray(v.col_index), (n,))
        for k in range(n):
            f = ctx.uncached.get((int(v.rows[k]), int(ci[k])))
            if f is not None:
                status[k], reason[k] = REJECTED, f"formula {f} has no cached value (the file was saved without calculating); open and save it in Excel or LibreOffice"
                p.raw[k] = f
    in_cell = p.unit != ""
    ok = status == OK
    if isinstance(v.units, str) and v.units and not in_cell.any():
        # one unit for every cell: convert with it directly (no per-row unit strings to sort out)
        unit_text = np.full(n, v.units, dtype=object)
        conv_units = v.units
    else:
        unit_text = np.broadcast_to(np.asarray(v.units, dtype=object), (n,)).copy()
        unit_text[in_cell] = p.unit[in_cell]
        conv_units = unit_text.copy()
        conv_units[conv_units == ""] = None
    spec = np.broadcast_to(np.asarray(v.specimen, dtype=object), (n,))
    value = np.full(n, np.nan)
    unit_out = empty_texts(n)
    spec_out = empty_texts(n)
    kind_out = empty_texts(n)
    if not ok.any():
        specimens = []
    elif np.ndim(v.specimen) == 0:  # one specimen for the whole column (wide): no need to find the distinct ones
        specimens = [v.specimen]
    else:
        specimens = pd.unique(spec[ok])
    var = np.broadcast_to(np.asarray(v.variant, dtype=object), (n,))
    for s in specimens:
        in_s = ok & (spec == s) if np.ndim(v.specimen) else ok
        # the assay variant decides some conversions (molar PINP/OCN only for the intact form)
        for w in (pd.unique(var[in_s]) if np.ndim(v.variant) else [v.variant]):
            sel = in_s & (var == w) if np.ndim(v.variant) else in_s
            units_sel = conv_units if isinstance(conv_units, str) else conv_units[sel]
            cv, converted, errors = convert(p.value[sel], units_sel, v.marker, s or None, variant=w if isinstance(w, str) else "")
            value[sel], unit_out[sel], spec_out[sel], kind_out[sel] = converted, cv.unit, cv.specimen, cv.kind
            bad = errors != ""
            if bad.any():
                idx = np.flatnonzero(sel)[bad]
                errs = errors[bad]
                for k, e in zip(idx, errs, strict=True):
                    if e == "no unit given":
                        e = f"no unit for {v.marker} ({v.unit_origin}): add it to the header, e.g. '{v.marker} (µg/L)', a units row, or the mapping"
                    status[k], reason[k] = REJECTED, e
    labels = np.broadcast_to(np.asarray(v.label, dtype=object), (n,))
    rej = np.flatnonzero(status == REJECTED)
    for k in rej:
        ctx.problem("rejected", v.rows[k], labels[k], p.raw[k], reason[k])
    ctx.counts.rejected += len(rej)
    ctx.counts.blank += int((status == BLANK).sum())
    keep = status == OK
    ctx.counts.loaded += int(keep.sum())
    if not keep.any():
        return None
    return {
        "_row": v.rows[keep],
        "marker": np.full(int(keep.sum()), v.marker, dtype=object),
        "specimen": spec_out[keep],
        "value": value[keep],
        "unit": unit_out[keep],
        "censored": p.censored[keep],
        "raw_value": p.raw[keep],
        "raw_unit": unit_text[keep],
        "source_column": labels[keep],
        "variant": np.broadcast_to(np.asarray(v.variant, dtype=object), (n,))[keep],
        "kind": kind_out[keep],
    }


def _nan_cells(cells: np.ndarray) -> np.ndarray:
    """Cells that are a float NaN (not None, not text), vectorised."""
    arr = np.asarray(cells, dtype=object)
    return pd.isna(arr) & np.not_equal(arr, None)


def _load_wide(ctx: SheetContext) -> list[dict[str, np.ndarray]]:
    """A column per marker: each column's cells, with its unit (header, units row, unit column)."""
    grid = ctx.grid
    rows = np.arange(grid.shape[0])
    parts = []
    for c in ctx.layout.marker_columns:
        if c.unit_column is not None:
            units = _text_column(grid, c.unit_column)
            units[units == ""] = c.unit
            origin = f"column {col_label(c)} and its unit column"
        else:
            units = c.unit  # one unit for the whole column
            origin = f"column {col_label(c)}" + (f"; its unit {c.bad_unit!r} cannot be read" if c.bad_unit else "")
        values = _Values(rows, grid[:, c.index], units, origin, c.marker, c.specimen or "", c.variant, col_label(c), c.index)
        part = _resolve_values(ctx, values, ctx.lods.get(c.marker))
        if part is not None:
            part["_visit"] = np.full(len(part["_row"]), c.timepoint or "", dtype=object)  # marker × visit column
            parts.append(part)
    return parts


def _long_markers(ctx: SheetContext, names: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, ...]:
    """(marker, unit, specimen, variant) per row, from the test name or code (each distinct pair once)."""
    kcodes, kuniq = pd.factorize(pd.Series(names + "\x1f" + codes))
    marker_of, unit_of, spec_of, var_of = [], [], [], []
    mapped = {k.casefold(): v for k, v in (ctx.mapping.columns.items() if ctx.mapping else [])}
    for key in kuniq:
        name, code = key.split("\x1f")
        m_id, unit, spec, var = "", "", "", ""
        for text in (name, code):
            if not text:
                continue
            override = mapped.get(text.casefold())
            if override in catalog():
                m_id = override
                break
            base, u = split_header(text)
            mm = match_marker(base)
            if mm is None:
                mm, u = match_marker(text), ""  # the whole name matched: the split-off part was not a unit
            if mm:
                m_id, spec, var, unit = mm.marker, mm.specimen or "", mm.variant, u
                break
        marker_of.append(m_id)
        unit_of.append(unit)
        spec_of.append(spec)
        var_of.append(var)
    return tuple(np.array(x, dtype=object)[kcodes] for x in (marker_of, unit_of, spec_of, var_of))


def _load_long(ctx: SheetContext) -> list[dict[str, np.ndarray]]:
    """One row per result: the marker from the test name or code, the unit from the unit column."""
    grid, layout, sm, meta = ctx.grid, ctx.layout, ctx.mapping, ctx.meta
    n = grid.shape[0]
    name_col = layout.by_role("test_name") or layout.by_role("marker")
    code_col = layout.by_role("test_code")
    result_col = layout.by_role("result")
    unit_col = layout.by_role("unit")
    names = _text_column(grid, name_col.index) if name_col else np.full(n, "", dtype=object)
    codes = _text_column(grid, code_col.index) if code_col else np.full(n, "", dtype=object)
    marker_arr, test_unit, spec_arr, var_arr = _long_markers(ctx, names, codes)
    if "_specimen" in meta:
        has = meta["_specimen"] != ""
        spec_arr = np.where(has, meta["_specimen"], spec_arr)
    if sm and sm.specimen:
        spec_arr[:] = sm.specimen
    units = _text_column(grid, unit_col.index) if unit_col else np.full(n, "", dtype=object)
    units = np.where(units == "", test_unit, units)
    if sm and sm.units:
        for mid, u in sm.units.items():
            units[(marker_arr == mid) & (units == "")] = u
    results = grid[:, result_col.index]
    # results of tests that are not bone markers: counted and listed once per test, not rejected
    not_marker = marker_arr == ""
    if not_marker.any():
        _count_other_tests(ctx, results[not_marker], np.where(names[not_marker] == "", codes[not_marker], names[not_marker]), name_col or code_col)
    parts = []
    col_lbl = col_label(result_col)
    origin = f"row's unit column {col_label(unit_col) if unit_col else '(none)'}"
    for mid in pd.unique(marker_arr[~not_marker]):
        sel = np.flatnonzero(marker_arr == mid)
        values = _Values(sel, results[sel], units[sel], origin, mid, spec_arr[sel], var_arr[sel], col_lbl, result_col.index)
        part = _resolve_values(ctx, values, ctx.lods.get(mid))
        if part is not None:
            parts.append(part)
    return parts


def _count_other_tests(ctx: SheetContext, results: np.ndarray, label: np.ndarray, name_col: ColumnRole) -> None:
    """Results of tests that are not bone markers: counted as ignored (blank when empty) and listed once per test."""
    nonblank = cell_texts(results, strip=True) != ""
    ctx.counts.read += len(results)  # read = loaded + rejected + blank + ignored
    ctx.counts.ignored += int(nonblank.sum())
    ctx.counts.blank += int((~nonblank).sum())
    vc = pd.Series(label[nonblank]).value_counts()
    if len(vc):
        listed = ", ".join(f"{k} ({v})" for k, v in vc.head(15).items())
        ctx.problem("notice", None, col_label(name_col), "",
                    f"{int(vc.sum())} result(s) of tests that are not bone markers were not imported: {listed}" + (" …" if len(vc) > 15 else ""))


def _assemble(ctx: SheetContext, parts: list[dict[str, np.ndarray]]) -> pd.DataFrame | None:
    """The loaded parts as tidy rows with the subject and sample columns of their rows."""
    if not parts:
        return None
    layout, meta, counts = ctx.layout, ctx.meta, ctx.counts
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    rows = cols.pop("_row").astype(np.int64)
    visit = cols.pop("_visit", None)
    n = len(rows)
    df = pd.DataFrame(cols)
    subj = meta.get("subject_id")
    if subj is None:
        # no id column at all: every result is rejected with that reason
        for k, r in enumerate(rows):
            ctx.problem("rejected", r, df["source_column"].iat[k], df["raw_value"].iat[k],
                        "no subject id column (subject, patient, MRN or sample id); name it in the mapping")
        counts.rejected += n
        counts.loaded -= n
        return None
    sid = subj[rows]
    missing = sid == ""
    if missing.any():
        for k in np.flatnonzero(missing):
            ctx.problem("rejected", rows[k], df["source_column"].iat[k], df["raw_value"].iat[k], "no subject id in this row")
        counts.rejected += int(missing.sum())
        counts.loaded -= int(missing.sum())
    df["subject_id"] = sid
    for name in ("timepoint", "group", "sex", "menopausal_status", "fasting", "sample_time", "comment", "assay", "sample_id",
                 "tanner_stage", "fracture", "pregnancy", "medication", "last_exercise"):
        if name in meta:
            df[name] = meta[name][rows]
    for name in ("age", "egfr"):
        if name in meta:
            df[name] = meta[name][rows].astype(float)
    if "sample_date" in meta:
        df["sample_date"] = meta["sample_date"][rows]
    if "timepoint" not in df:
        if layout.timepoint:
            df["timepoint"] = layout.timepoint
        elif "sample_date" in df:
            df["timepoint"] = _iso_dates(df["sample_date"].to_numpy(dtype=object))
        else:
            df["timepoint"] = ""
    elif layout.timepoint:
        df.loc[df["timepoint"] == "", "timepoint"] = layout.timepoint
    if visit is not None and (visit != "").any():  # the visit of a marker × visit column is the timepoint
        tp = df["timepoint"].to_numpy(dtype=object).copy()
        tp[visit != ""] = visit[visit != ""]
        df["timepoint"] = tp
    df["source_file"] = ctx.raw.source
    df["source_sheet"] = ctx.raw.sheet
    df["source_row"] = (rows if ctx.row_index is None else ctx.row_index[rows]) + layout.data_start + 1
    df["flags"] = ""
    if missing.any():
        df = df.loc[~missing]
    return df


def _iso_dates(dates: np.ndarray) -> np.ndarray:
    """``d.isoformat()`` of each date ("" for None), once per distinct date."""
    codes, uniques = pd.factorize(dates, use_na_sentinel=True)
    texts = np.array([d.isoformat() for d in uniques] + [""], dtype=object)
    return texts[codes]
