"""The 'Table 1' sheet: baseline characteristics per arm and overall (:attr:`Summary.table1`).

Laid out as tableone and gtsummary print it — ``61.1 (7.9)``, ``14 (70.0%)``,
``42.8 [32.2, 60.2]`` — but every number is a number cell: each arm has narrow columns
(estimate, spread, upper quartile, n) and a gap; number formats add the brackets.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ._columns import c
from ._formats import height, n_lines, text, value_format
from ._writer import Writer

_GROUP_WIDTHS = (8.0, 8.0, 7.0, 6.5, 2.0)  # estimate, spread (or Q1), Q3, n, a gap before the next group
_SPAN = len(_GROUP_WIDTHS)
_LABEL_WIDTH = 38
_SHORT = {"geometric mean (geometric SD)": "geometric mean (GSD)"}
_NOTES = (
    "n: subjects with a value in that cell (for n (%): subjects whose value is known). Geometric SD = exp(SD of ln x), "
    "a factor: about two thirds of values lie between GM ÷ GSD and GM × GSD. IQR: 25th to 75th percentile. Baseline "
    "values are each arm's own baseline; censored values (<x, >x) are left out."
)


def _spread_formats(w: Writer, statistic: str, decimals: int) -> tuple[Any, Any, Any]:
    """(estimate, spread, Q3) formats of a row."""
    d = value_format(decimals)
    if statistic == "mean (SD)":
        return w.fmt("0.0"), w.fmt('" ("0.0")"', "left"), None
    if statistic == "n (%)":
        return w.fmt("0"), w.fmt('" ("0.0"%)"', "left"), None
    if statistic.startswith("geometric"):
        return w.fmt(d), w.fmt('" ("0.00")"', "left"), None
    if statistic.startswith("median"):  # "42.8" | "[32.2," | " 60.2]": Q1 right-aligned against Q3
        return w.fmt(d), w.fmt(f'" ["{d}","'), w.fmt(f'" "{d}"]"', "left")
    return w.fmt("0"), None, None


def _label(variable: str, level: str, statistic: str) -> tuple[str, bool]:
    """(row label, is a level row)."""
    if level:
        return f"    {level}", True
    return (f"{variable}, {_SHORT.get(statistic, statistic)}" if statistic != "n" else "Subjects, n"), False


def _header(w: Writer, ws: Any, groups: list[str], with_p: bool) -> None:
    ws.write_string(0, 0, "Characteristic", w.f["header"])
    ws.set_column(0, 0, _LABEL_WIDTH)
    for k, g in enumerate(groups):
        j = 1 + _SPAN * k
        ws.merge_range(0, j, 0, j + _SPAN - 2, text(g), w.f["header_centre"])
        ws.write_blank(0, j + _SPAN - 1, None, w.f["header"])
        for i, wd in enumerate(_GROUP_WIDTHS):
            ws.set_column(j + i, j + i, wd)
    if with_p:
        j = 1 + _SPAN * len(groups)
        ws.write_string(0, j, "p", w.f["header"])
        ws.write_string(0, j + 1, "test", w.f["header"])
        ws.set_column(j, j, 8)
        ws.set_column(j + 1, j + 1, 28)
    ws.set_row(0, 30)


def table1_sheet(w: Writer, summary: Any) -> None:
    t = summary.table1
    groups = list(dict.fromkeys(t["group"])) if len(t) else []
    wide = len(groups) > 4  # more arms print on two pages across, the characteristics repeated on each
    s = w.sheet("Table 1", pages_wide=2 if wide else 1, repeat_columns=1 if wide else 0)
    ws = s.ws
    s.columns.extend([c("characteristic", "Characteristic", doc="baseline characteristic and the statistic shown"),
                      c("table1_n", "n (Table 1)", "int", doc="subjects with a value in that cell")])
    if not groups:
        ws.write_string(0, 0, "Characteristic", w.f["header"])
        ws.write_string(1, 0, "none", w.f["label"])
        ws.freeze_panes(1, 1)
        return
    with_p = bool(summary.table1_p)
    _header(w, ws, groups, with_p)
    ws.freeze_panes(1, 1)
    ws.repeat_rows(0)
    if wide:
        ws.set_v_pagebreaks([1 + _SPAN * ((len(groups) + 1) // 2)])
    n_fmt, p_fmt = w.fmt('"n="0', "left"), w.f["p"]
    r = 1
    for (variable, statistic), block in t.groupby(["variable", "statistic"], sort=False):
        levels = list(dict.fromkeys(block["level"]))
        if levels != [""]:  # a categorical variable: its name on a row of its own, then its levels
            ws.write_string(r, 0, text(f"{variable}, {_SHORT.get(statistic, statistic)}"), w.f["label"])
            r = _p_cells(w, ws, block, r, len(groups), with_p, p_fmt) + 1
        for level in levels:
            rows = block[block["level"] == level].set_index("group")
            label, is_level = _label(variable, level, statistic)
            ws.write_string(r, 0, text(label), w.f["text_plain"] if is_level else w.f["label"])
            dec = summary.decimals(str(rows["marker"].iat[0]), str(rows["unit"].iat[0])) if rows["marker"].iat[0] else 1
            f_est, f_s1, f_s2 = _spread_formats(w, statistic, dec)
            for k, g in enumerate(groups):
                if g in rows.index:
                    _cells(ws, r, 1 + _SPAN * k, rows.loc[g], (f_est, f_s1, f_s2, n_fmt), statistic)
            if not is_level:
                _p_cells(w, ws, block, r, len(groups), with_p, p_fmt)
            r += 1
    notes = [_NOTES, *[f"{m}: {n}" for m, n in dict.fromkeys(zip(t["variable"], t["note"], strict=True)) if n]]
    if with_p:
        notes.append("p: differences between the arms (not Overall), by the test named beside it. CONSORT advises against "
                     "testing baseline differences in randomised trials: chance imbalance is expected.")
    last = _SPAN * min(len(groups), 3)  # notes wrapped across the label and the first groups (one printed page)
    width = _LABEL_WIDTH + sum(_GROUP_WIDTHS) * min(len(groups), 3)
    for k, note in enumerate(notes):
        ws.merge_range(r + 1 + k, 0, r + 1 + k, last, text(note), w.f["note_wrap"])
        ws.set_row(r + 1 + k, height(n_lines(note, width * 1.1)))


def _num(ws: Any, r: int, j: int, v: Any, fmt: Any) -> None:
    if fmt is not None and v is not None and not (isinstance(v, float) and math.isnan(v)) and pd.notna(v):
        ws.write_number(r, j, float(v), fmt)


def _cells(ws: Any, r: int, j: int, row: pd.Series, fmts: tuple[Any, Any, Any, Any], statistic: str) -> None:
    f_est, f_s1, f_s2, f_n = fmts
    if int(row["n"]) > 0 or statistic == "n":
        _num(ws, r, j, row["estimate"], f_est)
    if statistic.startswith("median"):
        _num(ws, r, j + 1, row["spread_low"], f_s1)
        _num(ws, r, j + 2, row["spread_high"], f_s2)
    else:
        _num(ws, r, j + 1, row["spread"], f_s1)
    if statistic != "n":
        _num(ws, r, j + 3, row["n"], f_n)


def _p_cells(w: Writer, ws: Any, block: pd.DataFrame, r: int, n_groups: int, with_p: bool, p_fmt: Any) -> int:
    if with_p:
        j = 1 + _SPAN * n_groups
        p = block["p"].iat[0]
        _num(ws, r, j, p, p_fmt)
        if block["test"].iat[0]:
            ws.write_string(r, j + 1, text(block["test"].iat[0]), w.f["text"])
    return r
