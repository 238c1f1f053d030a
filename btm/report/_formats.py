"""Display rules of the workbook: number formats, colours, text limits and row heights.

This is the only place that decides how a number looks; the cells always hold the unrounded value.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

MAX_CELL_CHARS = 32_767  # Excel's limit for one cell
CUT = "… [cut: {n:,} characters in all]"

#: Number formats by the kind of quantity (display only; ``value`` formats come from the marker).
NUM_FORMATS = {
    "general": "General",
    "pct": "+0.0;-0.0;0.0",
    "p": '[<0.001]"<0.001";0.000',
    "z": "0.00",
    "ratio": "0.000",
    "stat": "0.00",
    "gsd": "0.00",
    "int": "0",
    "int_left": "0",
    "frac": "0%",
    "pct_plain": "0.0",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}
#: Kinds written as numbers (``value`` is formatted per row by the marker's decimals).
NUMERIC = {"general", "pct", "p", "z", "ratio", "stat", "gsd", "int", "int_left", "frac", "pct_plain", "value"}

# colours of conditional formats: (fill, font); warm = up/high, cool = down/low
COLOURS = {
    "warm": ("#FCE4D6", "#9C3500"),
    "cool": ("#DDEBF7", "#1F4E79"),
    "good": ("#E2EFDA", "#375623"),
    "grey": ("#EDEDED", "#404040"),
}
HEADER_FILL = "#D9E1F2"
LINE_PT = 12.75  # height of one line of 10-point text


def value_format(decimals: int) -> str:
    """The number format of a value shown with ``decimals`` decimals (``0``, ``0.0``, ``0.00`` ...)."""
    return "0" if decimals <= 0 else "0." + "0" * decimals


def text(value: Any) -> str:
    """A cell's text, cut at Excel's limit with a visible marker."""
    s = value if isinstance(value, str) else str(value)
    if len(s) > MAX_CELL_CHARS:
        marker = CUT.format(n=len(s))
        s = s[: MAX_CELL_CHARS - len(marker)] + marker
    return s


def is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def n_lines(s: str, width: float) -> int:
    """Lines a wrapped cell of this width (in characters) needs."""
    wc = max(int((width - 2.5) * 1.2), 3)  # 10-point prose fits about 1.2 characters per width unit; the indent takes one
    if len(s) <= wc and "\n" not in s:
        return 1
    return sum(max(1, len(textwrap.wrap(part, wc, break_long_words=True))) for part in s.split("\n"))


def height(lines: int, *, header: bool = False) -> float:
    return round(lines * LINE_PT + (4 if header else 3), 2)


def lengths_of(texts: np.ndarray) -> np.ndarray:
    """``len`` of each str (``map`` runs in C)."""
    return np.fromiter(map(len, texts.tolist()), dtype=np.int64, count=len(texts))


def lines_of(texts: np.ndarray, width: float) -> np.ndarray:
    """:func:`n_lines` of each text: one line without counting for those that fit, the rest once per distinct text."""
    t = pd.Series(texts, dtype=object)
    wc = max(int((width - 2.5) * 1.2), 3)
    out = np.ones(len(t), dtype=np.int64)
    todo = (lengths_of(t.to_numpy(dtype=object)) > wc) | t.str.contains("\n", regex=False).to_numpy(dtype=bool)
    if todo.any():
        codes, uniques = pd.factorize(t[todo])
        out[todo] = np.array([n_lines(u, width) for u in uniques], dtype=np.int64)[codes]
    return out


def fit_rows(ws: Any, wrapped: Sequence[tuple[tuple[np.ndarray, np.ndarray] | None, float]], *, most: int = 30) -> None:
    """Row heights that show every line of the wrapped cells (programs do not always do it).

    ``wrapped``: ((rows, texts), column width) of each wrapped column; texts of up to 8 characters
    without a line break never set a height."""
    rows, lines = [], []
    for col, width in wrapped:
        if col is None:
            continue
        r, texts = col
        t = pd.Series(texts, dtype=object)
        long = (lengths_of(t.to_numpy(dtype=object)) > 8) | t.str.contains("\n", regex=False).to_numpy(dtype=bool)
        rows.append(np.asarray(r)[long])
        lines.append(lines_of(np.asarray(texts, dtype=object)[long], width))
    if not rows:
        return
    need = pd.Series(np.concatenate(lines)).groupby(np.concatenate(rows)).max()
    need = need[need > 1]
    if len(need):
        kinds, inv = np.unique(np.minimum(need.to_numpy(), most), return_inverse=True)
        ws.set_heights(need.index.to_numpy(), np.array([height(int(k)) for k in kinds])[inv.ravel()])


def axis_range(lo: float, hi: float) -> dict[str, float]:
    """Axis min, max and major unit that show whole confidence intervals (charts scale to the bars only)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return {}
    raw = (hi - lo) / 6
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return {"min": math.floor(lo / step) * step, "max": math.ceil(hi / step) * step, "major_unit": step}


#: Arm colours (control is always grey); colour-blind safe (Okabe & Ito 2008).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
CONTROL_COLOUR = "#7F7F7F"


def arm_colours(arms: Sequence[str], control: str | None) -> dict[str, str]:
    """One colour per arm, in arm order; the control arm grey."""
    out, k = {}, 0
    for g in arms:
        if g == control:
            out[g] = CONTROL_COLOUR
        else:
            out[g] = PALETTE[k % len(PALETTE)]
            k += 1
    return out
