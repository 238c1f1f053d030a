"""The data sheets of the workbook, one short function each.

Every function renders tables that exist already (the analysis tables and the
:class:`~btm.summary.Summary`); none computes a statistic.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..summary import RATIO_SEPARATOR
from ._columns import (
    BALANCE_COLS,
    BETWEEN_COLS,
    CHANGES_COLS,
    COHORT_COLS,
    EVIDENCE_COLS,
    MISSING_COLS,
    RECOMMENDATION_COLS,
    REJECTED_COLS,
    REJECTED_GROUP_COLS,
    RESULTS_COLS,
    WARNINGS_COLS,
    Col,
    c,
)
from ._formats import fit_rows, height, text
from ._writer import Writer, row_decimals

#: Results columns always shown; the optional ones only when some row has a value.
CORE_RESULTS = {
    "subject_id", "group", "timepoint", "sample_date", "marker", "specimen", "value", "unit", "censored", "status", "z",
    "ref_low", "ref_high", "ref_unit", "ref_population", "ref_source", "flags", "flag_notes", "source_file",
    "source_sheet", "source_row", "source_column", "raw_value", "raw_unit",
}
#: Evidence columns in print order (pages: numbers | within-arm literature | literature against control).
EVIDENCE_ORDER = [
    "group", "marker", "exercise_type", "population", "condition", "timepoint_to", "n", "gm_pct_change", "gm_pct_ci_low",
    "gm_pct_ci_high", "p_adj", "observed", "vs_control_pct", "vs_control_p", "vs_control_p_adj", "observed_vs_control",
    "expected", "verdict", "evidence", "citations",
    "expected_vs_control", "verdict_vs_control", "evidence_vs_control", "citations_vs_control", "context",
]
RATIO_NOTE = (
    "Exploratory ratios of two markers (PINP/CTX1 as in Fisher et al. 2018; the others without a primary citation), "
    "apart from the markers above; their p-values are adjusted among the ratios only."
)


def _has_values(s: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return bool(s.notna().any())
    return bool((s.fillna("").astype(str) != "").any())


def _ordered(df: pd.DataFrame, summary: Any, *, visit: str = "timepoint_to") -> pd.DataFrame:
    """Rows by arm (control first), marker (catalog order) and visit."""
    if df.empty or "group" not in df:
        return df
    arms = {g: i for i, g in enumerate(summary.arms)}
    markers = {m: i for i, m in enumerate(summary.markers)}
    tps = {t: i for i, t in enumerate((*summary.timepoints, "all timepoints"))}
    key = df.assign(_a=df["group"].map(arms).fillna(len(arms)), _m=df["marker"].map(markers).fillna(len(markers)),
                    _t=df[visit].map(tps).fillna(len(tps)) if visit in df else 0)
    return key.sort_values(["_a", "_m", "_t"], kind="stable").drop(columns=["_a", "_m", "_t"]).reset_index(drop=True)


def _split_ratios(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    if df.empty or "marker" not in df:
        return df, df.iloc[0:0]
    ratio = df["marker"].astype(str).str.contains(RATIO_SEPARATOR, regex=False)
    return df[~ratio].reset_index(drop=True), df[ratio].reset_index(drop=True)


def results_sheet(w: Writer, a: Any, summary: Any) -> None:
    s = w.sheet("Results", pages_wide=2, repeat_columns=3)
    df = a.results
    known = {c.key for c in RESULTS_COLS}
    extra = [c(k, k, "general" if pd.api.types.is_numeric_dtype(df[k]) else "text", doc="column of the input") for k in df.columns if k not in known]
    # optional columns that are empty throughout are left out (the core ones always show)
    cols = [x for x in RESULTS_COLS + extra if x.key in CORE_RESULTS or (x.key in df and _has_values(df[x.key]))]
    n = w.table(s, df, cols, freeze_col=1, empty_text="none", decimals=row_decimals(df, summary))
    w.cond_text(s, "status", {"low": "cool", "high": "warm", "undetermined": "grey"}, first_row=1, n=n)


def balance_sheet(w: Writer, a: Any) -> None:
    from ..interpret import RATIOS

    s = w.sheet("Balance", pages_wide=2, repeat_columns=3)
    df = a.balance
    ratio_cols = [
        c(f"ratio_{name}", f"{name} ratio ({spec[4].split(' [')[0].split(' (')[0]})", "stat", doc=f"ratio {spec[4]}")
        for name, spec in RATIOS.items() if f"ratio_{name}" in df and df[f"ratio_{name}"].notna().any()
    ]
    n = w.table(s, df, BALANCE_COLS[:-2] + ratio_cols + BALANCE_COLS[-2:], freeze_col=1, empty_text="none")
    w.cond_text(s, "turnover_state", {"high turnover": "warm", "low turnover": "cool"}, first_row=1, n=n, how="begins")


def changes_sheet(w: Writer, a: Any, summary: Any) -> None:
    s = w.sheet("Changes", pages_wide=2, repeat_columns=3)
    df = a.changes
    n = w.table(s, df, CHANGES_COLS, freeze_col=1, empty_text="none", decimals=row_decimals(df, summary))
    w.cond_text(s, "direction", {"increase": "warm", "decrease": "cool", "undetermined": "grey"}, first_row=1, n=n)
    w.cond_text(s, "responder", {"increase": "warm", "decrease": "cool"}, first_row=1, n=n, how="begins")


def _with_ratio_block(w: Writer, s: Any, df: pd.DataFrame, cols: list[Col], summary: Any, empty: str, *, freeze_col: int = 1) -> int:
    """Marker rows as the sheet's table; ratio rows in a block of their own below it. Returns the marker rows."""
    markers, ratios = _split_ratios(_ordered(df, summary))
    n = w.table(s, markers, cols, freeze_col=freeze_col, empty_text=empty, decimals=row_decimals(markers, summary))
    if len(ratios):
        r = max(n, 1) + 2
        s.ws.write_string(r, 0, "Ratios of markers", w.f["h2"])
        s.ws.write_string(r + 1, 0, RATIO_NOTE, w.f["note"])
        shown = [x for x in cols if x.key in markers] if len(markers.columns) else cols
        ratio_cols = [x for x in shown if x.key in ratios]
        widths = [s.widths[shown.index(x)] if x in shown else 10.0 for x in ratio_cols]
        w.small_table(s.ws, ratios, ratio_cols, r + 2, widths, decimals=row_decimals(ratios, summary))
    return n


def statistics_sheets(w: Writer, a: Any, summary: Any) -> None:
    s = w.sheet("Group statistics", pages_wide=2, repeat_columns=2)
    _with_ratio_block(w, s, a.cohort, COHORT_COLS, summary, "none")
    s = w.sheet("Between groups", pages_wide=2, repeat_columns=2)
    between = a.between if len(a.between.columns) else pd.DataFrame(columns=[x.key for x in BETWEEN_COLS])
    empty = "none: no control arm (name the control arm to compare arms with it)" if not a.control else "none"
    _with_ratio_block(w, s, between, BETWEEN_COLS, summary, empty)


def missing_visits_sheet(w: Writer, summary: Any) -> None:
    s = w.sheet("Missing visits", portrait=True)
    n = w.table(s, summary.missing_visits, MISSING_COLS, freeze_col=1, empty_text="none: every subject has a result for every marker at every visit of its arm")
    w.cond_text(s, "missing", {"no sample": "warm"}, first_row=1, n=n)


def evidence_sheets(w: Writer, a: Any, summary: Any) -> None:
    from ..evidence import recommendations

    # printed three pages across, arm and marker on each: the numbers; the literature on change within the arm;
    # the literature on differences from a control group
    s = w.sheet("Evidence", pages_wide=3, repeat_columns=2)
    by_key = {x.key: x for x in EVIDENCE_COLS}
    cols = [by_key[k] for k in EVIDENCE_ORDER if k in by_key]
    cols += [x for x in EVIDENCE_COLS if x not in cols and x.key != "timepoint_from"]
    n = _with_ratio_block(w, s, a.evidence, cols, summary, "none", freeze_col=2)
    keys = [x.key for x in cols]
    s.ws.set_v_pagebreaks([keys.index(k) for k in ("expected", "expected_vs_control") if k in keys and k in a.evidence])
    w.cond_text(s, "verdict", {"consistent": "good", "inconsistent": "warm"}, first_row=1, n=n)
    s = w.sheet("Recommendations")
    w.table(s, recommendations(), RECOMMENDATION_COLS, empty_text="none")


def problem_sheets(w: Writer, imported: Any, summary: Any) -> None:
    s = w.sheet("Rejected")
    ws = s.ws
    groups, rej = summary.rejected_groups, summary.rejected
    if rej.empty:
        w.table(s, rej, REJECTED_COLS, empty_text="none")
    else:
        widths = [10, 10, 36, 12, 8, 20, 16, 60]
        for j, wd in enumerate(widths):
            ws.set_column(j, j, wd, w.f["wrap"] if j in (2, 7) else None)
        ws.write_string(0, 0, f"Rejected values by file, column and reason ({len(rej)} values)", w.f["h2"])
        _grouped(w, ws, groups, widths)
        r = len(groups) + 4
        ws.write_string(r - 1, 0, "Every rejected value (subject and visit where the row's other values name them)", w.f["h2"])
        s.columns.extend(REJECTED_GROUP_COLS)
        w.table(s, rej, REJECTED_COLS, row=r, widths=widths)
        ws.freeze_panes(r + 1, 0)
    s = w.sheet("Warnings")
    n = w.table(s, imported.warnings if imported is not None else pd.DataFrame(columns=[x.key for x in WARNINGS_COLS]), WARNINGS_COLS, empty_text="none")
    w.cond_text(s, "severity", {"warning": "warm", "error": "warm"}, first_row=1, n=n)


#: where each column of the grouped view sits among the columns of the full list below it
_GROUPED_AT = {"source_file": 2, "n": 4, "column": 5, "examples": 6, "reason": 7}


def _grouped(w: Writer, ws: Any, groups: pd.DataFrame, widths: list[float]) -> None:
    """The grouped rejections, each column placed above the column of the full list that holds the same thing."""
    cols = {x.key: x for x in REJECTED_GROUP_COLS}
    wrapped = []
    for key, j in _GROUPED_AT.items():
        ws.write_string(1, j, cols[key].header, w.f["header"])
        _, texts = w.column(ws, 2, j, groups[key], cols[key])
        wrapped.append((texts, widths[j]))
    for j in range(len(widths)):
        if j not in _GROUPED_AT.values():
            ws.write_blank(1, j, None, w.f["header"])
    ws.set_row(1, height(1, header=True))
    fit_rows(ws, wrapped)


def figures_sheet(w: Writer, figs: list[Any]) -> None:
    s = w.sheet("Figures")
    ws = s.ws
    df = pd.DataFrame([{"n": i, "marker": f.marker, "title": f.title, "file": f.path.name} for i, f in enumerate(figs, start=1)])
    cols = [c("n", "figure", "int", doc="figure number"), c("marker", "marker", doc="marker id"),
            c("title", "shows", doc="what the figure shows", cap=60), c("file", "PNG file", doc="file name in the figures folder")]
    w.table(s, df, cols, empty_text="none", repeat=False)
    ws.set_column(0, 0, 8)
    r = len(df) + 2
    breaks = []
    for i, fig in enumerate(figs, start=1):
        if i == 1 or fig.marker != figs[i - 2].marker:
            breaks.append(r)  # each marker's figures on a page of their own
        ws.write_string(r, 0, text(f"Figure {i}. {fig.title}"), w.f["h2"])
        r += 1
        wpx, hpx, dpi = png_size(fig.path)  # XlsxWriter shows an image at its DPI: width × 96 / dpi screen pixels
        scale = min(1.0, 960 / max(wpx * 96 / dpi, 1))  # a printed landscape page is about 1000 px wide
        ws.insert_image(r, 0, str(fig.path), {"description": text(fig.description)[:255], "object_position": 3,
                                              "x_scale": scale, "y_scale": scale})
        r += math.ceil(hpx * 96 / dpi * scale / 20) + 2
    if breaks:
        ws.set_h_pagebreaks(breaks)


def png_size(path: Path) -> tuple[int, int, float]:
    """(width, height, dpi) of a PNG from its header (96 dpi when it does not say)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return 640, 400, 96.0
    wpx, hpx = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    k = head.find(b"pHYs")
    dpi = int.from_bytes(head[k + 4:k + 8], "big") * 0.0254 if k > 0 else 96.0
    return wpx, hpx, dpi or 96.0


__all__ = [
    "balance_sheet", "changes_sheet", "evidence_sheets", "figures_sheet", "missing_visits_sheet", "png_size",
    "problem_sheets", "results_sheet", "statistics_sheets",
]
