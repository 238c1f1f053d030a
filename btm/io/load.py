"""Import: files and folders of lab spreadsheets -> one tidy table of results + every problem.

The tidy table has one row per result, ``value`` in the marker's canonical unit, and the
provenance of each value (file, sheet, Excel row, column, raw text and unit). Nothing is dropped
silently: every cell of a marker column ends loaded, blank, or rejected with its reason
(:data:`ImportResult.problems`), and every file gets a summary row (:data:`ImportResult.files`).
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputFileError, StrictModeError
from ..markers import catalog, match_marker
from ..units import to_canonical
from .fields import normalise_field, parse_dates, time_text
from .layout import ColumnRole, SheetLayout, detect_layout, split_header
from .mapping import Mapping, SheetMapping
from .readers import Limits, RawSheet, iter_spreadsheets, read_file
from .values import BLANK, OK, REJECTED, cell_text, cell_texts, detect_decimal, empty_texts, parse_values
from .write import unescape_text

__all__ = ["ImportResult", "PROBLEM_COLUMNS", "TIDY_COLUMNS", "read_results"]

#: Columns every tidy table has, in this order.
TIDY_COLUMNS = [
    "subject_id", "timepoint", "sample_date", "marker", "specimen", "value", "unit", "censored",
    "raw_value", "raw_unit", "source_file", "source_sheet", "source_row", "source_column",
    "sex", "age", "group", "menopausal_status", "fasting", "sample_time", "egfr", "variant", "kind", "flags",
]
#: Subject and sample columns added when some input has them.
OPTIONAL_COLUMNS = [
    "sample_id", "assay", "comment", "tanner_stage", "fracture", "pregnancy", "medication", "last_exercise",
]
#: Columns of the problem list.
PROBLEM_COLUMNS = ["severity", "source_file", "source_sheet", "source_row", "column", "raw_value", "reason"]

_META_TEXT = ["timepoint", "group", "comment", "assay", "sample_id", "tanner_stage", "fracture", "pregnancy", "medication", "last_exercise"]
_META_NORM = ["sex", "menopausal_status", "fasting", "age", "egfr"]
_MAX_RAW = 200  # raw text longer than this is shortened in the problem list


_MAX_REASON = 600  # a reason quoting a huge cell is cut in the middle (its explanation is at the end)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_RAW else text[:_MAX_RAW] + f"… ({len(text):,} characters)"


def _short_reason(text: str) -> str:
    if len(text) <= _MAX_REASON:
        return text
    return text[:300] + f" … [{len(text) - 450:,} characters cut] … " + text[-150:]


def _col_letter(j: int) -> str:
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _col_label(c: ColumnRole) -> str:
    return f"{_col_letter(c.index)} ({c.header})" if c.header else _col_letter(c.index)


class _Problems:
    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def add(self, severity: str, file: str, sheet: str, row: int | None, column: str, raw: str, reason: str) -> None:
        self.rows.append((severity, file, sheet, row, column, _short(raw), _short_reason(reason)))

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=PROBLEM_COLUMNS)
        df["source_row"] = df["source_row"].astype("Int64")
        return df


@dataclass
class ImportResult:
    """What :func:`read_results` returns.

    Attributes
    ----------
    data
        The tidy table (:data:`TIDY_COLUMNS` plus the optional columns found).
    problems
        Every problem, one row each (:data:`PROBLEM_COLUMNS`); ``severity`` is ``rejected``
        (a value not loaded), ``error`` (a file not read), ``warning`` (loaded, but check it) or
        ``notice`` (e.g. a sheet skipped).
    files
        One row per file: results read, loaded, rejected, blank, ignored, and its status.
    layouts
        What was detected per sheet (used to draft a mapping file).
    """

    data: pd.DataFrame
    problems: pd.DataFrame
    files: pd.DataFrame
    layouts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rejected(self) -> pd.DataFrame:
        """Values that were not loaded: file, sheet, row, column, raw text and reason."""
        cols = ["source_file", "source_sheet", "source_row", "column", "raw_value", "reason"]
        return self.problems.loc[self.problems["severity"] == "rejected", cols].reset_index(drop=True)

    @property
    def warnings(self) -> pd.DataFrame:
        return self.problems.loc[self.problems["severity"] != "rejected"].reset_index(drop=True)


@dataclass
class _Counts:
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    blank: int = 0
    ignored: int = 0

    def add(self, other: _Counts) -> None:
        self.read += other.read
        self.loaded += other.loaded
        self.rejected += other.rejected
        self.blank += other.blank
        self.ignored += other.ignored


def read_results(
    paths: str | Path | Sequence[str | Path],
    *,
    mapping: Mapping | str | Path | None = None,
    dayfirst: bool | None = None,
    decimal: str | None = None,
    strict: bool = False,
    limits: Limits | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> ImportResult:
    """Import bone marker results from spreadsheet files and folders.

    Parameters
    ----------
    paths
        Files (.xlsx, .xlsm, .xls, .ods, .csv, .tsv, .txt) and folders (every spreadsheet inside).
    mapping
        A mapping file (path of its TOML) or a :class:`~btm.io.mapping.Mapping`, for layouts
        synonyms cannot resolve.
    dayfirst
        Order of day and month in dates such as ``03/04/2026``; ``None`` reports them as
        ambiguous instead of guessing.
    decimal
        Decimal mark of text numbers (``"."`` or ``","``); ``None`` detects it per file.
    strict
        Raise on the first unreadable file, and raise :class:`~btm.errors.StrictModeError` if any
        value was rejected.
    limits
        Size bounds (:class:`~btm.io.readers.Limits`).

    Returns
    -------
    ImportResult

    Raises
    ------
    InputFileError
        When no file could be read, or (``strict``) when one could not.
    StrictModeError
        When ``strict`` and some values were rejected.

    Examples
    --------
    >>> res = read_results("sample_data/analyser_cobas_export.xlsx")  # doctest: +SKIP
    >>> res.data[["subject_id", "marker", "value", "unit"]].head(3)  # doctest: +SKIP
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    if isinstance(mapping, str | Path):
        from .mapping import load_mapping

        mapping = load_mapping(mapping)
    mapping = mapping or Mapping()
    if dayfirst is None:
        dayfirst = mapping.dayfirst
    decimal = decimal or mapping.decimal
    limits = limits or Limits()
    problems = _Problems()
    chunks: list[pd.DataFrame] = []
    file_rows: list[dict[str, Any]] = []
    layouts: list[dict[str, Any]] = []
    targets = list(iter_spreadsheets(list(paths)))
    if not targets:
        raise InputFileError("no spreadsheet files found in " + ", ".join(str(p) for p in paths))
    errors: list[InputFileError] = []
    for k, (shown, path) in enumerate(targets):
        if progress:
            progress(k, len(targets), shown)
        counts = _Counts()
        try:
            sheets = read_file(path, limits=limits)
        except InputFileError as exc:
            if strict:
                raise
            errors.append(exc)
            problems.add("error", shown, "", None, "", "", str(exc).removeprefix(f"{shown}: "))
            file_rows.append({"file": shown, "sheets": 0, **vars(counts), "status": f"not read: {str(exc).removeprefix(f'{shown}: ')}"})
            continue
        used_sheets = 0
        sheets_with_data = [s for s in sheets if _has_cells(s)]
        multi = len(sheets_with_data) > 1
        for raw in sheets:
            sm = mapping.for_sheet(shown, raw.sheet)
            if sm is not None and sm.skip:
                problems.add("notice", shown, raw.sheet, None, "", "", "sheet skipped (mapping says skip)")
                layouts.append({"file": Path(shown).name, "sheet": raw.sheet, "skip": True, "why": "mapping says skip"})
                continue
            if not _has_cells(raw):
                if raw.sheet:
                    problems.add("notice", shown, raw.sheet, None, "", "", "sheet skipped: it is empty")
                continue
            layout = detect_layout(raw.rows, sheet=raw.sheet, multi_sheet=multi, mapping=sm)
            if isinstance(layout, str):
                if raw.is_csv and not sheets_with_data[1:]:
                    # a single-table file with no marker data at all
                    exc = InputFileError(layout, path=shown)
                    if strict:
                        raise exc
                    errors.append(exc)
                    problems.add("error", shown, raw.sheet, None, "", "", layout)
                else:
                    problems.add("notice", shown, raw.sheet, None, "", "", f"sheet skipped: {layout}")
                layouts.append({"file": Path(shown).name, "sheet": raw.sheet, "skip": True, "why": layout})
                continue
            used_sheets += 1
            for note in raw.notes:
                problems.add("notice", shown, raw.sheet, None, "", "", note)
            for note in layout.notes:
                problems.add("notice", shown, raw.sheet, None, "", "", note)
            layouts.append(_layout_record(shown, raw, layout, sm))
            chunk, c = _load_sheet(raw, layout, sm, problems, dayfirst=dayfirst, decimal=decimal)
            counts.add(c)
            if chunk is not None and len(chunk):
                chunks.append(chunk)
        if used_sheets == 0:
            prior = next((e for e in errors if e.path == shown), None)
            if prior is None:
                msg = "no bone marker data found in any sheet"
                exc = InputFileError(msg, path=shown)
                if strict:
                    raise exc
                errors.append(exc)
                problems.add("error", shown, "", None, "", "", msg)
            else:  # already reported (a text file with no marker column): not "ok" in the summary
                msg = str(prior).removeprefix(f"{shown}: ")
            file_rows.append({"file": shown, "sheets": len(sheets), **vars(counts), "status": f"not read: {msg}"})
            continue
        file_rows.append({"file": shown, "sheets": used_sheets, **vars(counts), "status": "ok"})
    if progress:
        progress(len(targets), len(targets), "")
    if not chunks and errors and len(errors) == len(targets):
        if len(errors) == 1:
            raise errors[0]
        raise InputFileError(f"none of the {len(errors)} files could be read; first: {errors[0]}")
    data = _finish(chunks)
    _flag_magnitude(data, problems)
    _report_duplicates(data, problems)
    result = ImportResult(data=data, problems=problems.frame(), files=pd.DataFrame(file_rows), layouts=layouts)
    if strict and len(result.rejected):
        raise StrictModeError(f"{len(result.rejected)} value(s) rejected (strict mode); first: " + first_rejection(result))
    return result


def first_rejection(result: ImportResult) -> str:
    """The first rejected value in one line: where, why, and its raw text."""
    r = result.rejected.iloc[0]
    sheet = f", sheet {r.source_sheet!r}" if r.source_sheet else ""
    return f"{r.source_file}{sheet}, row {r.source_row}, column {r.column}: {r.reason} (raw {r.raw_value!r})"


def _has_cells(raw: RawSheet) -> bool:
    return any(any(cell_text(c).strip() for c in row) for row in raw.rows[:2000]) if raw.rows else False


def _layout_record(shown: str, raw: RawSheet, layout: SheetLayout, sm: SheetMapping | None = None) -> dict[str, Any]:
    cols = {}
    units = {}
    for c in layout.columns:
        if not c.header:
            continue
        if c.role == "marker":
            cols[c.header] = c.marker
            if c.unit_column is None:
                units[c.header] = c.unit
        elif c.role.startswith("unit_of_"):
            cols[c.header] = "unit"
        elif c.role:
            cols[c.header] = c.role
        else:
            cols[c.header] = "ignore"
    return {
        "file": Path(shown).name,
        "sheet": raw.sheet,
        "header_row": layout.header_row + 1,
        "units_row": None if layout.units_row is None else layout.units_row + 1,
        "layout": "long" if layout.layout == "tidy" else layout.layout,
        "timepoint": layout.timepoint,
        "columns": cols,
        "units": units,
        # what only a mapping can say is carried into a drafted mapping, so a re-run reads the same
        "lod": dict(sm.lod) if sm else {},
        "specimen": sm.specimen if sm else None,
    }


# ---------------------------------------------------------------------------------------------


def _grid(raw: RawSheet, layout: SheetLayout) -> np.ndarray:
    """The data region as a 2-D object array (ragged rows padded with empty strings)."""
    data = raw.rows[layout.data_start :]
    width = max((c.index for c in layout.columns), default=0) + 1
    if data and all(len(r) == len(data[0]) for r in data) and len(data[0]) >= width:
        arr = np.empty((len(data), len(data[0])), dtype=object)
        arr[:] = data
        return arr
    arr = np.full((len(data), width), "", dtype=object)
    for i, r in enumerate(data):
        m = min(len(r), width)
        arr[i, :m] = r[:m]
    return arr


def _apply_merges(raw: RawSheet, layout: SheetLayout, grid: np.ndarray, problems: _Problems) -> None:
    """Fill subject columns from merged ranges (with a warning per cell); never marker values."""
    if not raw.merged:
        return
    role_of = {c.index: c for c in layout.columns}
    for (r0, c0), (r1, c1) in raw.merged:
        if r1 < layout.data_start:
            continue
        top = raw.rows[r0][c0] if r0 < len(raw.rows) and c0 < len(raw.rows[r0]) else ""
        ref = f"{_col_letter(c0)}{r0 + 1}:{_col_letter(c1)}{r1 + 1}"
        for r in range(max(r0, layout.data_start), r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) == (r0, c0):
                    continue
                gi = r - layout.data_start
                if gi >= grid.shape[0] or c >= grid.shape[1]:
                    continue
                col = role_of.get(c)
                if col is None or not col.role or col.role == "ignore":
                    continue
                if col.role == "marker":
                    problems.add(
                        "warning", raw.source, raw.sheet, r + 1, _col_label(col), cell_text(top),
                        f"cell is part of merged range {ref}; the result is kept once, in its top-left cell",
                    )
                    continue
                grid[gi, c] = top
                problems.add("warning", raw.source, raw.sheet, r + 1, _col_label(col), cell_text(top), f"filled from merged range {ref}")


def _text_column(grid: np.ndarray, j: int) -> np.ndarray:
    return cell_texts(grid[:, j], strip=True)


def _meta(raw: RawSheet, layout: SheetLayout, grid: np.ndarray, problems: _Problems, *, dayfirst: bool | None) -> dict[str, np.ndarray]:
    """Per-row subject and sample columns of a sheet."""
    n = grid.shape[0]
    out: dict[str, np.ndarray] = {}
    first = layout.data_start + 1

    def warn(col: ColumnRole, items: list[tuple[int, str, str]]) -> None:
        for i, text, reason in items:
            problems.add("warning", raw.source, raw.sheet, first + i, _col_label(col), text, reason)

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
    if subj is not None:
        out["subject_id"] = subj
    out.pop("mrn", None)
    return out


def _specimen_word(s: str) -> str:
    t = s.casefold()
    if not t:
        return ""
    if "urin" in t or t in ("u", "ur"):
        return "urine"
    if any(w in t for w in ("serum", "plasma", "blood", "edta", "sst")) or t == "s":
        return "serum"
    return ""


def _load_sheet(
    raw: RawSheet,
    layout: SheetLayout,
    sm: SheetMapping | None,
    problems: _Problems,
    *,
    dayfirst: bool | None,
    decimal: str | None,
) -> tuple[pd.DataFrame | None, _Counts]:
    grid = _grid(raw, layout)
    _apply_merges(raw, layout, grid, problems)
    if layout.layout == "tidy":
        return _load_tidy(raw, layout, grid, problems)
    meta = _meta(raw, layout, grid, problems, dayfirst=dayfirst)
    uncached = {(r - layout.data_start, c): f for r, c, f in raw.uncached_formulas if r >= layout.data_start}
    for (gi, c), f in uncached.items():
        col = next((x for x in layout.columns if x.index == c), None)
        if col is not None and col.role not in ("marker", "result") and col.role:
            problems.add("warning", raw.source, raw.sheet, gi + layout.data_start + 1, _col_label(col), f, "formula without a cached value: read as empty")
    value_cols = layout.marker_columns if layout.layout == "wide" else [layout.by_role("result")]
    texts = []
    for c in value_cols:
        if c is not None:
            col = grid[:, c.index]
            texts.extend(x for x in pd.unique(col) if isinstance(x, str))
    dec = decimal or detect_decimal(texts)  # only whether any text shows a mark counts: distinct texts suffice
    lods = sm.lod if sm else {}
    if layout.layout == "wide":
        return _load_wide(raw, layout, grid, meta, problems, dec, lods, uncached)
    return _load_long(raw, layout, grid, meta, problems, dec, lods, uncached, sm)


def _resolve_values(
    raw: RawSheet,
    layout: SheetLayout,
    rows: np.ndarray,
    cells: np.ndarray,
    units: np.ndarray | str,
    unit_origin: str,
    marker: str,
    specimen: Any,
    variant: Any,
    col_label: np.ndarray | str,
    problems: _Problems,
    decimal: str | None,
    lod: float | None,
    uncached: dict[tuple[int, int], str],
    col_index: np.ndarray | int,
    counts: _Counts,
) -> dict[str, np.ndarray] | None:
    """Parse, convert and account for the cells of one marker; return the loaded part."""
    p = parse_values(cells, decimal=decimal, lod=lod)
    n = len(cells)
    counts.read += n
    status = p.status.copy()
    reason = p.reason.copy()
    if uncached:
        ci = np.broadcast_to(np.asarray(col_index), (n,))
        for k in range(n):
            f = uncached.get((int(rows[k]), int(ci[k])))
            if f is not None:
                status[k], reason[k] = REJECTED, f"formula {f} has no cached value (the file was saved without calculating); open and save it in Excel or LibreOffice"
                p.raw[k] = f
    in_cell = p.unit != ""
    ok = status == OK
    if isinstance(units, str) and units and not in_cell.any():
        # one unit for every cell: convert with it directly (no per-row unit strings to sort out)
        unit_text = np.full(n, units, dtype=object)
        conv_units = units
    else:
        unit_text = np.broadcast_to(np.asarray(units, dtype=object), (n,)).copy()
        unit_text[in_cell] = p.unit[in_cell]
        conv_units = unit_text.copy()
        conv_units[conv_units == ""] = None
    spec = np.broadcast_to(np.asarray(specimen, dtype=object), (n,))
    value = np.full(n, np.nan)
    unit_out = empty_texts(n)
    spec_out = empty_texts(n)
    kind_out = empty_texts(n)
    if not ok.any():
        specimens = []
    elif np.ndim(specimen) == 0:  # one specimen for the whole column (wide): no need to find the distinct ones
        specimens = [specimen]
    else:
        specimens = pd.unique(spec[ok])
    for s in specimens:
        sel = ok & (spec == s) if np.ndim(specimen) else ok
        cv = to_canonical(p.value[sel], conv_units if isinstance(conv_units, str) else conv_units[sel], marker=marker, specimen=s or None)
        value[sel], unit_out[sel], spec_out[sel], kind_out[sel] = cv.value, cv.unit, cv.specimen, cv.kind
        bad = cv.error != ""
        if bad.any():
            idx = np.flatnonzero(sel)[bad]
            errs = cv.error[bad]
            for k, e in zip(idx, errs, strict=True):
                if e == "no unit given":
                    e = f"no unit for {marker} ({unit_origin}): add it to the header, e.g. '{marker} (µg/L)', a units row, or the mapping"
                status[k], reason[k] = REJECTED, e
    labels = np.broadcast_to(np.asarray(col_label, dtype=object), (n,))
    rej = np.flatnonzero(status == REJECTED)
    for k in rej:
        problems.add("rejected", raw.source, raw.sheet, int(rows[k]) + layout.data_start + 1, labels[k], p.raw[k], reason[k])
    counts.rejected += len(rej)
    counts.blank += int((status == BLANK).sum())
    keep = status == OK
    counts.loaded += int(keep.sum())
    if not keep.any():
        return None
    return {
        "_row": rows[keep],
        "marker": np.full(int(keep.sum()), marker, dtype=object),
        "specimen": spec_out[keep],
        "value": value[keep],
        "unit": unit_out[keep],
        "censored": p.censored[keep],
        "raw_value": p.raw[keep],
        "raw_unit": unit_text[keep],
        "source_column": labels[keep],
        "variant": np.broadcast_to(np.asarray(variant, dtype=object), (n,))[keep],
        "kind": kind_out[keep],
    }


def _load_wide(raw, layout, grid, meta, problems, decimal, lods, uncached) -> tuple[pd.DataFrame | None, _Counts]:
    counts = _Counts()
    n = grid.shape[0]
    rows = np.arange(n)
    parts = []
    for c in layout.marker_columns:
        if c.unit_column is not None:
            units = _text_column(grid, c.unit_column)
            units[units == ""] = c.unit
            origin = f"column {_col_label(c)} and its unit column"
        else:
            units = c.unit  # one unit for the whole column
            origin = f"column {_col_label(c)}"
        part = _resolve_values(
            raw, layout, rows, grid[:, c.index], units, origin, c.marker, c.specimen or "", c.variant,
            _col_label(c), problems, decimal, lods.get(c.marker), uncached, c.index, counts,
        )
        if part is not None:
            parts.append(part)
    return _assemble(raw, layout, parts, meta, problems, counts)


def _load_long(raw, layout, grid, meta, problems, decimal, lods, uncached, sm) -> tuple[pd.DataFrame | None, _Counts]:
    counts = _Counts()
    n = grid.shape[0]
    name_col = layout.by_role("test_name") or layout.by_role("marker")
    code_col = layout.by_role("test_code")
    result_col = layout.by_role("result")
    unit_col = layout.by_role("unit")
    names = _text_column(grid, name_col.index) if name_col else np.full(n, "", dtype=object)
    codes = _text_column(grid, code_col.index) if code_col else np.full(n, "", dtype=object)
    keys = pd.Series(names + "\x1f" + codes)
    kcodes, kuniq = pd.factorize(keys)
    marker_of, unit_of, spec_of, var_of = [], [], [], []
    mapped = {k.casefold(): v for k, v in (sm.columns.items() if sm else [])}
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
    marker_arr = np.array(marker_of, dtype=object)[kcodes]
    test_unit = np.array(unit_of, dtype=object)[kcodes]
    spec_arr = np.array(spec_of, dtype=object)[kcodes]
    var_arr = np.array(var_of, dtype=object)[kcodes]
    if "_specimen" in meta:
        has = meta["_specimen"] != ""
        spec_arr = np.where(has, meta["_specimen"], spec_arr)
    if sm and sm.specimen:
        spec_arr[:] = sm.specimen
    units = _text_column(grid, unit_col.index) if unit_col else np.full(n, "", dtype=object)
    units = np.where(units == "", test_unit, units)
    if sm and sm.units:
        by_marker = {k: v for k, v in sm.units.items()}
        for mid, u in by_marker.items():
            units[(marker_arr == mid) & (units == "")] = u
    results = grid[:, result_col.index]
    # results of tests that are not bone markers: counted and listed once per test, not rejected
    not_marker = marker_arr == ""
    if not_marker.any():
        nonblank = cell_texts(results[not_marker], strip=True) != ""
        counts.read += int(not_marker.sum())  # read = loaded + rejected + blank + ignored
        counts.ignored += int(nonblank.sum())
        counts.blank += int((~nonblank).sum())
        label = names[not_marker]
        label = np.where(label == "", codes[not_marker], label)
        vc = pd.Series(label[nonblank]).value_counts()
        if len(vc):
            listed = ", ".join(f"{k} ({v})" for k, v in vc.head(15).items())
            problems.add("notice", raw.source, raw.sheet, None, _col_label(name_col or code_col), "",
                         f"{int(vc.sum())} result(s) of tests that are not bone markers were not imported: {listed}" + (" …" if len(vc) > 15 else ""))
    parts = []
    col_lbl = _col_label(result_col)
    for mid in pd.unique(marker_arr[~not_marker]):
        sel = np.flatnonzero(marker_arr == mid)
        part = _resolve_values(
            raw, layout, sel, results[sel], units[sel], f"row's unit column {_col_label(unit_col) if unit_col else '(none)'}",
            mid, spec_arr[sel], var_arr[sel], col_lbl, problems, decimal, lods.get(mid), uncached, result_col.index, counts,
        )
        if part is not None:
            parts.append(part)
    return _assemble(raw, layout, parts, meta, problems, counts)


def _assemble(raw, layout, parts, meta, problems, counts) -> tuple[pd.DataFrame | None, _Counts]:
    if not parts:
        return None, counts
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    rows = cols.pop("_row").astype(np.int64)
    n = len(rows)
    df = pd.DataFrame(cols)
    subj = meta.get("subject_id")
    if subj is None:
        # no id column at all: every result is rejected with that reason
        for k, r in enumerate(rows):
            problems.add("rejected", raw.source, raw.sheet, int(r) + layout.data_start + 1, df["source_column"].iat[k], df["raw_value"].iat[k],
                         "no subject id column (subject, patient, MRN or sample id); name it in the mapping")
        counts.rejected += n
        counts.loaded -= n
        return None, counts
    sid = subj[rows]
    missing = sid == ""
    if missing.any():
        for k in np.flatnonzero(missing):
            problems.add("rejected", raw.source, raw.sheet, int(rows[k]) + layout.data_start + 1, df["source_column"].iat[k], df["raw_value"].iat[k],
                         "no subject id in this row")
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
            df["timepoint"] = [d.isoformat() if d is not None else "" for d in df["sample_date"]]
        else:
            df["timepoint"] = ""
    elif layout.timepoint:
        df.loc[df["timepoint"] == "", "timepoint"] = layout.timepoint
    df["source_file"] = raw.source
    df["source_sheet"] = raw.sheet
    df["source_row"] = rows + layout.data_start + 1
    df["flags"] = ""
    if missing.any():
        df = df.loc[~missing]
    return df, counts


def _load_tidy(raw, layout, grid, problems) -> tuple[pd.DataFrame | None, _Counts]:
    """A tidy table written by btm: read it back as it is (round trip)."""
    counts = _Counts()
    header = {c.role: c for c in layout.columns if c.role}
    names = {c.header: c for c in layout.columns}
    n = grid.shape[0]
    df = pd.DataFrame({c.header: np.array([cell_text(x) for x in grid[:, c.index]], dtype=object) for c in layout.columns if c.header})
    df = df.apply(lambda col: col.map(unescape_text))
    rename = {header["result"].header: "value"}
    df = df.rename(columns=rename)
    p = parse_values(df["value"].to_numpy(dtype=object), decimal=".")
    counts.read = n
    counts.blank = int((p.status == BLANK).sum())
    bad = np.flatnonzero(p.status == REJECTED)
    for k in bad:
        problems.add("rejected", raw.source, raw.sheet, layout.data_start + k + 1, _col_label(header["result"]), p.raw[k], p.reason[k])
    counts.rejected = len(bad)
    keep = p.status == OK
    known = set(catalog())
    unknown_marker = keep & ~df["marker"].isin(known).to_numpy()
    for k in np.flatnonzero(unknown_marker):
        problems.add("rejected", raw.source, raw.sheet, layout.data_start + k + 1, _col_label(names.get("marker", header.get("marker"))), df["marker"].iat[k], "unknown marker id")
    counts.rejected += int(unknown_marker.sum())
    keep &= ~unknown_marker
    out = df.loc[keep].copy()
    out["value"] = p.value[keep]
    counts.loaded = len(out)
    for col in ("source_row",):
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    for col in ("age", "egfr"):
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce")
    if "sample_date" in out:
        dp = parse_dates(out["sample_date"].to_numpy(dtype=object))
        out["sample_date"] = dp.date
    return out, counts


def _finish(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    if chunks:
        data = pd.concat(chunks, ignore_index=True, sort=False)
    else:
        data = pd.DataFrame(columns=TIDY_COLUMNS)
    # text columns every chunk has (or that are added whole) hold no missing values: chunks are
    # built from cell text, never None; only a column some chunks lack has NaN to fill
    complete = {c for c in data.columns if all(c in ch.columns for ch in chunks)}
    for c in TIDY_COLUMNS:
        if c not in data:
            data[c] = np.nan if c in ("age", "egfr", "value") else ""
            complete.add(c)
    extra = [c for c in OPTIONAL_COLUMNS if c in data]
    data = data[TIDY_COLUMNS + extra]
    text_cols = [c for c in TIDY_COLUMNS + extra if c not in ("value", "age", "egfr", "source_row", "sample_date")]
    for c in text_cols:
        if c in complete and isinstance(data[c].dtype, pd.StringDtype):
            continue  # already text, nothing missing (filling would scan every cell for nothing)
        data[c] = data[c].fillna("").astype(str)
    data["value"] = data["value"].astype(float)
    data["age"] = pd.to_numeric(data["age"], errors="coerce")
    data["egfr"] = pd.to_numeric(data["egfr"], errors="coerce")
    data["source_row"] = pd.to_numeric(data["source_row"], errors="coerce").astype("Int64")
    data["sample_date"] = _to_datetime(data["sample_date"])
    return data


def _to_datetime(col: pd.Series) -> pd.Series:
    """Dates (datetime.date, text, None) -> datetime64, converting each distinct value once."""
    codes, uniques = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
    conv = pd.to_datetime(pd.Series([_to_ts(d) for d in uniques] + [pd.NaT], dtype="object"), errors="coerce")
    out = conv.iloc[np.where(codes < 0, len(uniques), codes)]
    out.index = col.index
    return out


def _to_ts(d: Any) -> Any:
    if d is None or (isinstance(d, float) and math.isnan(d)) or d == "":
        return pd.NaT
    if isinstance(d, _dt.date):
        return pd.Timestamp(d)
    return d


def _flag_magnitude(data: pd.DataFrame, problems: _Problems) -> None:
    """Flag values 1000x off: closer (log scale) to every published interval x/÷1000 than to itself."""
    if data.empty:
        return
    from ..ranges import plausible_bounds

    bounds = plausible_bounds()
    marker = data["marker"].to_numpy(dtype=object)
    unit = data["unit"].to_numpy(dtype=object)
    value = data["value"].to_numpy(dtype=float)
    # (marker, unit) pairs in order of first appearance, as groupby(sort=False) gives them
    codes = _group_codes([marker, unit])
    first = np.unique(codes, return_index=True)[1]
    flags = None
    for k in np.argsort(first, kind="stable"):
        m, u = marker[first[k]], unit[first[k]]
        b = bounds.get((m, u))
        if b is None:
            continue
        lo, hi = b
        off = np.flatnonzero((codes == k) & ((value > hi * math.sqrt(1000)) | (value < lo / math.sqrt(1000))))
        if not off.size:
            continue
        if flags is None:
            flags = data["flags"].to_numpy(dtype=object).copy()
            src = [data[c].to_numpy(dtype=object) for c in ("source_file", "source_sheet", "source_row", "source_column", "raw_value")]
        for i in off:
            flags[i] = _add_flag(flags[i], "UNIT_MAGNITUDE")
            problems.add(
                "warning", src[0][i], src[1][i], int(src[2][i]), src[3][i], src[4][i],
                f"{m} {value[i]:g} {u} is about 1000x outside every published interval ({lo:g}–{hi:g} {u}): is the unit right?",
            )
    if flags is not None:
        data["flags"] = pd.Series(flags, index=data.index, dtype=data["flags"].dtype)


def _group_codes(columns: list[np.ndarray]) -> np.ndarray:
    """A small non-negative integer per distinct combination of the columns' values (equal rows, equal codes)."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    size = 1
    for col in columns:
        if len(col) and bool((col == col[0]).all()):
            continue  # one value throughout (often specimen, kind): nothing to tell apart
        c, u = pd.factorize(col)
        c = np.where(c < 0, len(u), c)  # missing values are a value of their own
        width = len(u) + 1
        if size * width >= 2**62:
            key, uniq = pd.factorize(key)
            size = len(uniq)
        key = key * width + c
        size *= width
    return pd.factorize(key)[0] if size > 1 else key


def _add_flag(flags: str, code: str) -> str:
    parts = [f for f in flags.split(";") if f]
    if code not in parts:
        parts.append(code)
    return ";".join(parts)


def _report_duplicates(data: pd.DataFrame, problems: _Problems) -> None:
    """Same subject, timepoint, marker and specimen more than once: report, keep all."""
    if data.empty:
        return
    keys = ["subject_id", "timepoint", "marker", "specimen", "kind"]
    key = _group_codes([data[k].to_numpy(dtype=object) for k in keys])
    dup = np.flatnonzero(np.bincount(key)[key] > 1)
    if not dup.size:
        return
    groups: dict[int, list[int]] = {}
    for i in dup:  # groups in order of first appearance, rows in table order (as groupby(sort=False))
        groups.setdefault(int(key[i]), []).append(int(i))
    col = {c: data[c].to_numpy(dtype=object) for c in ("source_file", "source_sheet", "source_row", "source_column", "raw_value", "subject_id", "timepoint", "marker")}
    value = data["value"].to_numpy(dtype=float)
    flags = data["flags"].to_numpy(dtype=object).copy()
    for rows in groups.values():
        vals = value[rows]
        same = np.allclose(vals, vals[0], rtol=1e-9)
        where = "; ".join(f"{col['source_file'][r]}" + (f" [{col['source_sheet'][r]}]" if col["source_sheet"][r] else "") + f" row {col['source_row'][r]}" for r in rows)
        what = "the same value" if same else "different values " + ", ".join(f"{v:g}" for v in vals)
        for r in rows:
            flags[r] = _add_flag(flags[r], "DUPLICATE")
            problems.add(
                "warning", col["source_file"][r], col["source_sheet"][r], int(col["source_row"][r]), col["source_column"][r], col["raw_value"][r],
                f"duplicate: subject {col['subject_id'][r]!r}, timepoint {col['timepoint'][r]!r}, {col['marker'][r]} appears {len(rows)} times with {what} ({where}); all kept, none averaged",
            )
    data["flags"] = pd.Series(flags, index=data.index, dtype=data["flags"].dtype)


def progress_printer(stream=None) -> Callable[[int, int, str], None] | None:
    """A one-line progress display on a terminal; ``None`` when the stream is not a terminal."""
    stream = stream or sys.stderr
    if not getattr(stream, "isatty", lambda: False)():
        return None

    def show(k: int, total: int, name: str) -> None:
        if total < 2:
            return
        width = 24
        done = int(width * k / total)
        label = Path(name).name[:40] if name else "done"
        stream.write(f"\r[{'#' * done}{'.' * (width - done)}] {k}/{total} {label:<40}")
        if k >= total:
            stream.write("\n")
        stream.flush()

    return show



