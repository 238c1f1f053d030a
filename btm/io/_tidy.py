"""btm's own tidy CSV read back (a round trip), validated like any input.

The table comes back as it was written, but nothing in it is trusted: values are parsed again,
units converted to the canonical unit again (a unit btm cannot convert is rejected), and a row
with no subject id, an unknown marker or a censoring mark other than ``<``/``>`` is rejected with
that reason. Rows without a ``source_row`` (a table re-typed or copied from a report) are read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..markers import catalog
from ._base import RawSheet
from ._convert import convert
from ._tables import Counts, Problems, col_label
from .fields import parse_dates
from .layout import ColumnRole, SheetLayout
from .values import BLANK, OK, REJECTED, cell_texts, parse_values
from .write import unescape_texts

__all__ = ["load_tidy"]


def load_tidy(raw: RawSheet, layout: SheetLayout, grid: np.ndarray, problems: Problems,
              row_index: np.ndarray | None = None) -> tuple[pd.DataFrame | None, Counts]:
    """The rows of a tidy table, each value validated again; what became of its values."""
    counts = Counts()
    by_header = {c.header: c for c in layout.columns if c.header}
    value_col = next(c for c in layout.columns if c.role == "result")
    df = pd.DataFrame({h: unescape_texts(cell_texts(grid[:, c.index])) for h, c in by_header.items()})
    df = df.rename(columns={value_col.header: "value"})
    n = len(df)
    p = parse_values(df["value"].to_numpy(dtype=object), decimal=".")
    status, reason, shown = p.status.copy(), p.reason.copy(), p.raw.copy()
    where = np.full(n, col_label(value_col), dtype=object)

    def reject(mask: np.ndarray, why: str | np.ndarray, column: ColumnRole | None, raw_text: np.ndarray | None = None) -> None:
        mask = mask & (status == OK)
        status[mask] = REJECTED
        reason[mask] = why if isinstance(why, str) else why[mask]
        if column is not None:
            where[mask] = col_label(column)
        if raw_text is not None:
            shown[mask] = raw_text[mask]

    text = {k: df[k].str.strip().to_numpy(dtype=object) if k in df else np.full(n, "", dtype=object)
            for k in ("subject_id", "marker", "unit", "censored", "specimen")}
    reject(~np.isin(text["marker"], list(catalog())), np.array([f"unknown marker id {m!r}" for m in text["marker"]], dtype=object),
           by_header.get("marker"), text["marker"])
    reject(text["subject_id"] == "", "no subject id in this row" if "subject_id" in df else "no subject_id column", by_header.get("subject_id"))
    reject(~np.isin(text["censored"], ["", "<", ">"]), "censored must be empty, '<' or '>'", by_header.get("censored"), text["censored"])
    value, unit, kind, specimen = _convert_rows(p.value, text, status, reason, where, by_header.get("unit"))
    for k in np.flatnonzero(status == REJECTED):
        row = k if row_index is None else int(row_index[k])
        problems.add("rejected", raw.source, raw.sheet, layout.data_start + row + 1, where[k], shown[k], reason[k])
    keep = status == OK
    counts.read, counts.blank = n, int((status == BLANK).sum())
    counts.rejected, counts.loaded = int((status == REJECTED).sum()), int(keep.sum())
    out = df.loc[keep].copy()
    out["value"], out["unit"], out["kind"], out["specimen"] = value[keep], unit[keep], kind[keep], specimen[keep]
    out["censored"] = np.where(text["censored"] != "", text["censored"], p.censored)[keep]
    for col in ("subject_id", "marker"):
        out[col] = text[col][keep]
    if "source_row" in out:
        out["source_row"] = pd.to_numeric(out["source_row"], errors="coerce").astype("Int64")
    for col in ("age", "egfr"):
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce")
    if "sample_date" in out:
        out["sample_date"] = parse_dates(out["sample_date"].to_numpy(dtype=object)).date
    return out, counts


def _convert_rows(values, text, status, reason, where, unit_col) -> tuple[np.ndarray, ...]:
    """Every valid row's value in its marker's canonical unit (one conversion per marker and specimen);
    a unit that cannot be converted rejects the row with the reason."""
    n = len(values)
    value = np.full(n, np.nan)
    unit, kind, specimen = (np.full(n, "", dtype=object) for _ in range(3))
    ok = status == OK
    if not ok.any():
        return value, unit, kind, specimen
    groups = pd.DataFrame({"m": text["marker"][ok], "s": text["specimen"][ok]}).drop_duplicates()
    for m, s in groups.itertuples(index=False):
        sel = ok & (text["marker"] == m) & (text["specimen"] == s)
        units = text["unit"][sel].copy()
        units[units == ""] = None
        cv, converted, errors = convert(values[sel], units, m, s if s in ("serum", "urine") else None)
        value[sel], unit[sel], kind[sel], specimen[sel] = converted, cv.unit, cv.kind, cv.specimen
        idx = np.flatnonzero(sel)
        bad = errors != ""
        status[idx[bad]] = REJECTED
        reason[idx[bad]] = [("no unit" if e == "no unit given" else e) for e in errors[bad]]
        if unit_col is not None:
            where[idx[bad]] = col_label(unit_col)
    return value, unit, kind, specimen
