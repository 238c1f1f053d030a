"""Native Excel charts of the Summary sheet, and the 'Chart data' sheet they read.

* One trajectory chart per marker: the geometric mean % change from baseline with its 95 % CI
  at every visit, one line per arm (the arm's baseline at 0 %), from :attr:`Summary.trajectory`.
* The mean balance index (formation z − resorption z) by visit, one line per arm.

Chart titles and series names are cell references, never formula text from the data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._columns import CHART_COLS, MEAN_BALANCE_COL
from ._formats import axis_range, is_missing, text
from ._writer import Writer

CHART_SHEET = "Chart data"
CHART_SIZE = (520, 310)
_GRID = {"visible": True, "line": {"color": "#D9D9D9"}}


def chart_table(summary: Any) -> pd.DataFrame:
    """One row per marker × arm × visit of the marker's charted visits (blank where an arm has no such visit)."""
    t = summary.trajectory
    cols = [c.key for c in CHART_COLS] + ["specimen"]
    if t.empty:
        return pd.DataFrame(columns=cols)
    rank = {tp: i for i, tp in enumerate(summary.timepoints)}
    frames = []
    for (marker, specimen, unit), sub in t.groupby(["marker", "specimen", "unit"], sort=False):
        visits = sorted(pd.unique(sub["timepoint"].astype(str)), key=lambda v: rank.get(v, len(rank)))
        arms = [g for g in summary.arms if (sub["group"] == g).any()]
        grid = pd.DataFrame([(g, v) for g in arms for v in visits], columns=["group", "timepoint"])
        grid = grid.merge(sub, on=["group", "timepoint"], how="left")
        label = marker if specimen in ("", "serum") else f"{marker} ({specimen})"
        grid["title"] = f"{label}: % change from baseline (geometric mean, 95% CI)"
        grid["marker"], grid["specimen"], grid["unit"] = marker, specimen, unit
        frames.append(grid)
    out = pd.concat(frames, ignore_index=True)
    out["err_minus"] = out["gm_pct_change"] - out["gm_pct_ci_low"]
    out["err_plus"] = out["gm_pct_ci_high"] - out["gm_pct_change"]
    return out[cols]


def balance_means(a: Any, summary: Any) -> pd.DataFrame:
    """Mean balance index by timepoint (rows, in order) and arm (columns)."""
    b = a.balance
    if b.empty or b["balance_index"].notna().sum() == 0:
        return pd.DataFrame()
    m = b.groupby(["timepoint", "group"], sort=False)["balance_index"].mean().unstack("group")
    tps = [t for t in summary.timepoints if t in m.index]
    return m.reindex(index=tps, columns=[g for g in summary.arms if g in m.columns])


def _line(w: Writer, title: Any, y_name: str, num_format: str, axis: dict[str, float]) -> Any:
    chart = w.wb.add_chart({"type": "line"})
    chart.set_title({"name": title, "name_font": {"size": 10, "bold": True}})
    chart.set_y_axis({"name": y_name, "num_format": num_format, "name_font": {"size": 9, "bold": False},
                      "num_font": {"size": 8}, "major_gridlines": _GRID, **axis})
    chart.set_x_axis({"label_position": "low", "num_font": {"size": 9}})
    chart.set_legend({"position": "bottom", "font": {"size": 8}})
    chart.show_blanks_as("span")
    chart.set_size({"width": CHART_SIZE[0], "height": CHART_SIZE[1]})
    return chart


def _trajectory_charts(w: Writer, t: pd.DataFrame, colours: dict[str, str]) -> list[Any]:
    from xlsxwriter.utility import quote_sheetname, xl_range_abs

    keys = [c.key for c in CHART_COLS]
    sheet = quote_sheetname(CHART_SHEET)

    def ref(key: str, r0: int, r1: int) -> str:
        j = keys.index(key)
        return f"={sheet}!{xl_range_abs(r0, j, r1, j)}"

    charts = []
    for _key, idx in t.groupby(["marker", "specimen"], sort=False).indices.items() if len(t) else []:
        first = int(idx.min()) + 1
        vals = t.loc[idx, ["gm_pct_ci_low", "gm_pct_ci_high", "gm_pct_change"]].to_numpy(dtype=float)
        lo, hi = float(np.nanmin(np.r_[vals.ravel(), 0.0])), float(np.nanmax(np.r_[vals.ravel(), 0.0]))
        chart = _line(w, [CHART_SHEET, first, keys.index("title")], "% change from baseline (95% CI)", "0", axis_range(lo, hi))
        for arm, rows in t.loc[idx].groupby("group", sort=False).indices.items():
            r0, r1 = int(idx[rows.min()]) + 1, int(idx[rows.max()]) + 1
            colour = colours.get(str(arm), "#4472C4")
            chart.add_series({
                "name": [CHART_SHEET, r0, keys.index("group")],
                "categories": ref("timepoint", r0, r1),
                "values": ref("gm_pct_change", r0, r1),
                "line": {"color": colour, "width": 2.0},
                "marker": {"type": "circle", "size": 5, "fill": {"color": colour}, "border": {"none": True}},
                "y_error_bars": {"type": "custom", "plus_values": ref("err_plus", r0, r1), "minus_values": ref("err_minus", r0, r1),
                                 "end_style": 1, "line": {"color": colour, "width": 0.75}},
            })
        charts.append(chart)
    return charts


def _balance_chart(w: Writer, means: pd.DataFrame, c0: int, colours: dict[str, str]) -> Any:
    from xlsxwriter.utility import quote_sheetname, xl_range_abs

    sheet = quote_sheetname(CHART_SHEET)
    chart = _line(w, "Mean balance index (formation z − resorption z) by arm", "balance index (z units)", "0.0", {})
    r1 = len(means)
    for j, g in enumerate(means.columns, start=1):
        colour = colours.get(str(g), "#4472C4")
        chart.add_series({
            "name": [CHART_SHEET, 0, c0 + j],
            "categories": f"={sheet}!{xl_range_abs(1, c0, r1, c0)}",
            "values": f"={sheet}!{xl_range_abs(1, c0 + j, r1, c0 + j)}",
            "line": {"color": colour, "width": 2.0},
            "marker": {"type": "circle", "size": 5, "fill": {"color": colour}, "border": {"none": True}},
        })
    return chart


def summary_charts(w: Writer, a: Any, summary: Any, colours: dict[str, str]) -> tuple[list[Any], Callable[[], None]]:
    """The Summary charts, and a function that writes the 'Chart data' sheet they read (call it last)."""
    t = chart_table(summary).reset_index(drop=True)
    means = balance_means(a, summary)
    c0 = len(CHART_COLS) + 1  # the balance table sits to the right of the trajectories
    charts = _trajectory_charts(w, t, colours)
    if len(means):
        charts.append(_balance_chart(w, means, c0, colours))

    def write_sheet() -> None:
        s = w.sheet(CHART_SHEET)
        ws = s.ws
        w.table(s, t, CHART_COLS, empty_text="none")
        ws.write_string(0, c0, MEAN_BALANCE_COL.header, w.f["header"])
        ws.set_column(c0, c0, 22)
        s.columns.append(MEAN_BALANCE_COL)
        for i, tp in enumerate(means.index):
            ws.write_string(i + 1, c0, text(tp), w.f["text"])
        for j, g in enumerate(means.columns, start=1):
            ws.write_string(0, c0 + j, text(g), w.f["header"])
            ws.set_column(c0 + j, c0 + j, max(10, min(len(str(g)) + 2, 24)))
            for i, v in enumerate(means[g].tolist()):
                if not is_missing(v) and np.isfinite(v):
                    ws.write_number(i + 1, c0 + j, float(v), w.f["z"])

    return charts, write_sheet


def insert_grid(ws: Any, charts: Sequence[Any], row: int, *, per_row: int = 3) -> int:
    """Place charts in a grid from ``row``; return the first row below them."""
    cw, ch = CHART_SIZE
    for k, chart in enumerate(charts):
        ws.insert_chart(row, 0, chart, {"x_offset": 4 + (k % per_row) * (cw + 12), "y_offset": 4 + (k // per_row) * (ch + 12),
                                        "object_position": 3})
    if not charts:
        return row + 1
    n_rows = -(-len(charts) // per_row)
    return row + -(-n_rows * (ch + 12) // 20) + 2
