"""Several tables on one sheet: a second header row and batch under the first (a re-run, a second
plate), or a first table above the header that scored best.

Every table is read with its own header, so a batch whose columns are in another order is never
read with the first table's columns, and no row above the best header is lost. A row is taken as
a header when at least half of the named columns of the table before it (and at least two cells)
are column names or marker names, one of them a marker (or a test/result pair).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from ._base import RawSheet
from .layout import SCORE_CELLS, SheetLayout, classify_header, detect_layout
from .mapping import SheetMapping

__all__ = ["split_tables"]

MAX_TABLES = 1000  # per sheet; beyond it the rest is read as data of the last table (header cells rejected)
HEADER_CELLS_BUDGET = 20_000  # header cells of further tables looked at, per sheet (each costs a header detection)
_DETECT_ROWS = 250  # rows a header detection looks at (the header among 30, a column's values among 200)


def split_tables(raw: RawSheet, layout: SheetLayout, sm: SheetMapping | None, *, multi_sheet: bool) -> list[tuple[SheetLayout, int | None]]:
    """(layout, end row or None) of every table on the sheet, top to bottom: ``[(layout, None)]``
    for a sheet with one table. A mapping that names the header row keeps the sheet one table."""
    if (sm is not None and sm.header_row) or layout.layout == "tidy":
        return [(layout, None)]
    need = _min_names(layout)
    tables: list[tuple[SheetLayout, int | None]] = []
    above = next((i for i in range(layout.header_row) if _is_header(raw.rows[i], 2)), None)
    if above is not None:
        first = _layout_at(raw, above, layout.header_row, sm, multi_sheet)
        if first is not None and first.data_start <= layout.header_row:
            tables.append((first, layout.header_row))
    current = layout
    budget = HEADER_CELLS_BUDGET
    for start in _header_rows_below(raw, layout, need):
        if len(tables) >= MAX_TABLES - 1 or budget <= 0:
            break  # the rest is read as data of the last table: its header cells are rejected, counted
        if start <= current.data_start - 1:
            continue
        budget -= sum(1 for c in raw.rows[start] if isinstance(c, str) and c.strip())
        nxt = _layout_at(raw, start, None, sm, multi_sheet)
        if nxt is None or nxt.header_row != start:
            continue
        tables.append((current, start))
        current = nxt
    tables.append((current, None))
    return tables


def _min_names(layout: SheetLayout) -> int:
    named = sum(1 for c in layout.columns if c.role and c.role != "ignore")
    return max(2, math.ceil(named / 2))


def _is_header(row: list[Any], need: int) -> bool:
    """At least ``need`` names, one a marker (or a test/result pair); decided from the first texts
    (a row of thousands of distinct texts costs no more than :data:`SCORE_CELLS` of them)."""
    names, markers, fields, seen = 0, 0, set(), 0
    for c in row:
        if not isinstance(c, str):
            continue
        t = c.strip()
        if not t or len(t) > 120:
            continue
        seen += 1
        if seen > SCORE_CELLS + need:
            break
        hc = classify_header(t)
        if hc.role == "marker":
            names, markers = names + 1, markers + 1
        elif hc.role and hc.role != "ignore":
            names += 1
            fields.add(hc.role)
        if names >= need and (markers or ("result" in fields and fields & {"test_name", "test_code", "marker"})):
            return True
    return False


def _header_rows_below(raw: RawSheet, layout: SheetLayout, need: int) -> list[int]:
    """Rows under the table's data start whose cells in the table's value columns hold a column or
    marker name, confirmed as header rows (found by distinct texts per column: no per-cell work)."""
    data = raw.rows[layout.data_start :]
    if not data:
        return []
    if raw.is_csv:  # (blank text rows: none)
        keep: Sequence[int] = [i for i, r in enumerate(data) if any(r)]
        data = [data[i] for i in keep]
    else:
        keep = range(len(data))
    if not data:
        return []
    candidates: set[int] = set()
    for c in layout.columns:
        if c.role != ("marker" if layout.layout == "wide" else "result"):
            continue  # the value columns: a header there is text among numbers (found by distinct texts, once each)
        col = _column(data, c.index)
        texts = [x for x in pd.unique(col) if isinstance(x, str) and x.strip() and len(x) <= 120]
        names = {x for x in texts if classify_header(x.strip()).role not in ("", "ignore")}
        if names:
            candidates.update(np.flatnonzero(pd.Series(col, dtype=object).isin(names).to_numpy()).tolist())
    return [layout.data_start + keep[i] for i in sorted(candidates) if _is_header(data[i], need)]


def _column(data: list[list[Any]], j: int) -> np.ndarray:
    """Column ``j`` of the rows as an object array ("" where a row is shorter)."""
    if min(map(len, data)) > j:
        return np.array(list(map(itemgetter(j), data)), dtype=object)
    return np.array([r[j] if j < len(r) else "" for r in data], dtype=object)


def _layout_at(raw: RawSheet, start: int, stop: int | None, sm: SheetMapping | None, multi_sheet: bool) -> SheetLayout | None:
    """The layout of the table whose header is at (or just under) row ``start``, in sheet rows."""
    end = start + _DETECT_ROWS if stop is None else min(stop, start + _DETECT_ROWS)
    found = detect_layout(raw.rows[start:end], sheet=raw.sheet, multi_sheet=multi_sheet, mapping=sm)
    if isinstance(found, str):
        return None
    shift = dataclasses.replace(
        found,
        header_row=found.header_row + start,
        units_row=None if found.units_row is None else found.units_row + start,
        data_start=found.data_start + start,
        notes=list(found.notes),
    )
    return shift
