"""btm's own tidy CSV read back (a round trip): the table as it was written."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..markers import catalog
from ._base import RawSheet
from ._tables import Counts, Problems, col_label
from .fields import parse_dates
from .layout import SheetLayout
from .values import BLANK, OK, REJECTED, cell_text, parse_values
from .write import unescape_text

__all__ = ["load_tidy"]


def load_tidy(raw: RawSheet, layout: SheetLayout, grid: np.ndarray, problems: Problems) -> tuple[pd.DataFrame | None, Counts]:
    """A tidy table written by btm: read it back as it is (round trip)."""
    counts = Counts()
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
        problems.add("rejected", raw.source, raw.sheet, layout.data_start + k + 1, col_label(header["result"]), p.raw[k], p.reason[k])
    counts.rejected = len(bad)
    keep = p.status == OK
    known = set(catalog())
    unknown_marker = keep & ~df["marker"].isin(known).to_numpy()
    for k in np.flatnonzero(unknown_marker):
        problems.add("rejected", raw.source, raw.sheet, layout.data_start + k + 1, col_label(names.get("marker", header.get("marker"))), df["marker"].iat[k], "unknown marker id")
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
