"""The workbook writer: one set of shared formats, and tables written column by column.

* XlsxWriter in normal mode (charts and out-of-order writes need it). Every string is written
  with ``write_string`` and the workbook is opened with ``strings_to_formulas``,
  ``strings_to_urls`` and ``strings_to_numbers`` off: text from the data stays text.
* Numbers are number cells holding the computed value; only number formats round them.
  Missing values are blank cells; dates are Excel dates.
* Text cells are left-aligned with an indent, so they never touch a right-aligned number in the
  column before them, on screen or in print.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BTMError
from ..summary import plain
from ._columns import Col
from ._formats import (
    COLOURS,
    HEADER_FILL,
    MAX_CELL_CHARS,
    NUM_FORMATS,
    NUMERIC,
    fit_rows,
    height,
    lengths_of,
    n_lines,
    text,
    value_format,
)
from ._sheetdata import TableSheet, excel_serial

_WIDTH = {"pct": 6, "p": 6, "z": 6, "ratio": 6, "stat": 7, "gsd": 6, "frac": 5, "pct_plain": 6}


@dataclass
class Sheet:
    """A worksheet and what is known of it (for the glossary and the tests)."""

    ws: Any
    name: str
    columns: list[Col] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)  # of the last table written


def _cut(texts: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Texts cut at Excel's limit with a visible marker (:func:`text`); only the few too long are touched."""
    long = np.flatnonzero((lengths_of(texts) if lengths is None else lengths) > MAX_CELL_CHARS)
    if len(long):
        texts = texts.copy()
        texts[long] = [text(x) for x in texts[long]]
    return texts


_SMALL = 256  # columns up to this many cells take the plain-Python path of :func:`_small_texts`


def _small_texts(s: pd.Series, plain_words: bool) -> tuple[list[int], list[str]] | None:
    """(positions, texts) of the non-empty texts of a short column whose values are all str or missing
    (None, NaN, pd.NA), as :meth:`Writer._texts_frame` finds them; ``None`` for any other value (that path decides)."""
    pos: list[int] = []
    vals: list[str] = []
    words: dict[str, str] = {}
    for i, v in enumerate(s.tolist()):
        if type(v) is not str:
            if v is None or v is pd.NA or (type(v) is float and v != v):
                continue
            return None
        if plain_words:
            v = words[v] if v in words else words.setdefault(v, plain(v))
        if v != "":
            pos.append(i)
            vals.append(v)
    return pos, vals


class Writer:
    """A workbook being written: its formats, sheets and the table writer."""

    def __init__(self, path: Path, *, timestamp: dt.datetime, title: str) -> None:
        import xlsxwriter

        self.path = path
        self.timestamp = timestamp
        self.title = title
        self.wb = xlsxwriter.Workbook(
            str(path),
            {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False, "remove_timezone": True},
        )
        self.sheets: dict[str, Sheet] = {}
        base = {"valign": "top", "font_size": 10}
        left = {**base, "align": "left", "indent": 1}
        add = self.wb.add_format
        head = {**base, "bold": True, "bg_color": HEADER_FILL, "bottom": 1}
        self.f: dict[str, Any] = {
            "header": add({**head, "text_wrap": True}),
            "header_nowrap": add(head),
            "header_centre": add({**head, "align": "center"}),
            "text_plain": add({**base, "align": "left"}),
            "text": add(left),
            "wrap": add({**left, "text_wrap": True}),
            "title": add({"bold": True, "font_size": 16}),
            "h2": add({"bold": True, "font_size": 12, "font_color": "#1F4E79"}),
            "label": add({**base, "bold": True}),
            "label_wrap": add({**base, "bold": True, "text_wrap": True}),
            "note": add({**base, "italic": True, "font_color": "#404040"}),
            "note_wrap": add({**base, "italic": True, "font_color": "#404040", "text_wrap": True}),
            "bool": add({**base, "align": "center"}),
            "datetime_left": add({**base, "num_format": NUM_FORMATS["datetime"], "align": "left"}),
        }
        for kind, num in NUM_FORMATS.items():
            self.f[kind] = add({**base, "num_format": num, "align": "left" if kind in ("date", "datetime", "int_left") else "right"})
        self.cf = {name: add({"bg_color": fill, "font_color": font}) for name, (fill, font) in COLOURS.items()}
        self._base = base
        self._custom: dict[tuple[str, str], Any] = {}

    def fmt(self, num_format: str, align: str = "right") -> Any:
        """A shared number format (made once per format code and alignment)."""
        key = (num_format, align)
        if key not in self._custom:
            self._custom[key] = self.wb.add_format({**self._base, "num_format": num_format, "align": align})
        return self._custom[key]

    # -- sheets -------------------------------------------------------------------------------

    def sheet(self, name: str, *, pages_wide: int = 1, repeat_columns: int = 0, portrait: bool = False) -> Sheet:
        """A new sheet printing on A4 (landscape unless ``portrait``), ``pages_wide`` pages across
        (wide data sheets use 2, their first ``repeat_columns`` columns repeated on every page)."""
        ws = self.wb.add_worksheet(name, worksheet_class=TableSheet)
        if not portrait:
            ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.set_margins(left=0.4, right=0.4, top=0.55, bottom=0.55)
        ws.fit_to_pages(pages_wide, 0)
        if repeat_columns:
            ws.repeat_columns(0, repeat_columns - 1)
        ws.hide_gridlines(1)  # gridlines on screen, not on paper
        title = self.title.replace("&", "&&")[:120]
        ws.set_footer(f"&L&8{title}&C&8&A&R&8page &P of &N")
        ws.ignore_errors({"number_stored_as_text": "A1:XFD1048576"})
        s = Sheet(ws, name)
        self.sheets[name] = s
        return s

    def table(
        self,
        s: Sheet,
        df: pd.DataFrame,
        cols: Sequence[Col],
        *,
        row: int = 0,
        col: int = 0,
        freeze_col: int = 0,
        autofilter: bool = True,
        widths: Sequence[float] | None = None,
        empty_text: str | None = None,
        repeat: bool = True,
        decimals: np.ndarray | None = None,
    ) -> int:
        """Write a table with its header at ``row``; return the number of data rows written.

        Column widths are fitted to the header (up to three lines) and the data, capped at each
        column's ``cap``; wrapped columns get row heights that show all their lines. With
        ``widths`` the sheet's widths are kept. ``decimals`` (one per row) formats ``value`` columns.
        """
        ws = s.ws
        cols = [c for c in cols if c.key in df.columns] if len(df.columns) else list(cols)
        s.columns.extend(cols)
        final: list[float] = []
        wrapped: list[tuple[tuple[np.ndarray, np.ndarray] | None, float]] = []
        for j, c in enumerate(cols):
            ws.write_string(row, col + j, c.header, self.f["header"])
            data_w, texts = self.column(ws, row + 1, col + j, df[c.key] if c.key in df else None, c, decimals)
            if widths is not None:
                w = float(widths[col + j])
            else:
                words = max((len(x) for x in c.header.split()), default=4)
                head_w = max(words, math.ceil(len(c.header) / 3))
                pad = 2.5 if c.kind in ("text", "bool") else 1.5  # text cells are indented by one character
                w = min(max(data_w, head_w, 4) + pad, c.cap + pad)
                ws.set_column(col + j, col + j, w, self.f["wrap"] if c.wrap else None)
            final.append(w)
            if c.wrap and texts is not None:
                wrapped.append((texts, w))
        s.widths = final
        n = len(df)
        if n == 0 and empty_text is not None:
            ws.write_string(row + 1, col, empty_text, self.f["label"])
        head_lines = max((n_lines(c.header, w) for c, w in zip(cols, final, strict=True)), default=1)
        ws.set_row(row, height(min(head_lines, 5), header=True))
        fit_rows(ws, wrapped)
        last = row + max(n, 1 if empty_text is not None else 0)
        if autofilter and cols:
            ws.autofilter(row, col, last, col + len(cols) - 1)
        if row == 0 and col == 0:
            ws.freeze_panes(1, freeze_col)
            if repeat:
                ws.repeat_rows(0)
        return n

    def small_table(self, ws: Any, df: pd.DataFrame, cols: Sequence[Col], row: int, widths: Sequence[float], *,
                    col: int = 0, nowrap_last: bool = False, decimals: np.ndarray | None = None) -> None:
        """A small table inside a sheet (no autofilter; the sheet's column widths): header and rows."""
        wrapped = []
        for j, c in enumerate(cols):
            last = nowrap_last and j == len(cols) - 1
            ws.write_string(row, col + j, c.header, self.f["header_nowrap" if last else "header"])
            _, texts = self.column(ws, row + 1, col + j, df[c.key] if c.key in df else None, c, decimals)
            if c.wrap and texts is not None:
                wrapped.append((texts, widths[col + j]))
        head = max((n_lines(c.header, widths[col + j]) for j, c in enumerate(cols) if not (nowrap_last and j == len(cols) - 1)), default=1)
        ws.set_row(row, height(min(head, 4), header=True))
        fit_rows(ws, wrapped)

    def column(self, ws: Any, r0: int, c: int, s: pd.Series | None, col: Col,
               decimals: np.ndarray | None = None) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
        """Write one column below its header, whole: (display width it needs, (rows, texts) of wrapped text)."""
        if s is None or len(s) == 0:
            return 0.0, None
        if col.kind in NUMERIC:
            return self._numbers(ws, r0, c, s, col.kind, decimals), None
        if col.kind in ("date", "datetime"):
            t = pd.to_datetime(s, errors="coerce")
            serial = excel_serial(t)
            ok = np.flatnonzero(np.isfinite(serial))
            ws.write_numbers(ok + r0, c, serial[ok], [self.f[col.kind]])
            return (10.0 if col.kind == "date" else 19.0), None
        if col.kind == "bool":
            v = s.reset_index(drop=True)
            v = v[v.notna()]
            vals = v.to_numpy(dtype=object)
            flags = v.map(type).isin((bool, np.bool_)).to_numpy(dtype=bool)
            shown = v.astype(str).to_numpy(dtype=object)
            shown[flags] = np.where(vals[flags].astype(bool), "yes", "no")
            keep = flags | (vals != "")
            ws.write_strings(v.index.to_numpy()[keep] + r0, c, _cut(shown[keep]), self.f["bool"])
            return 4.0, None
        return self._texts(ws, r0, c, s, col)

    def _numbers(self, ws: Any, r0: int, c: int, s: pd.Series, kind: str, decimals: np.ndarray | None) -> float:
        arr = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        ok = np.flatnonzero(np.isfinite(arr))
        if not len(ok):
            return 0.0
        if kind == "value" and decimals is not None:
            ds, codes = np.unique(decimals[ok].astype(int), return_inverse=True)
            ws.write_numbers(ok + r0, c, arr[ok], [self.fmt(value_format(int(d))) for d in ds.tolist()], codes.ravel())
            sample = ok[:: max(1, len(ok) // 500)]
            shown = max(len(f"{abs(float(arr[i])):,.{int(decimals[i])}f}") for i in sample.tolist())
            return float(min(shown + 1, 12))
        ws.write_numbers(ok + r0, c, arr[ok], [self.f["general" if kind == "value" else kind]])
        if kind in ("general", "value"):
            return float(min(len(f"{float(np.nanmax(np.abs(arr[ok]))):.10g}") + 1, 12))
        if kind in ("int", "int_left"):
            return float(max(3, len(str(int(np.nanmax(np.abs(arr[ok])))))))
        return float(_WIDTH[kind])

    def _texts(self, ws: Any, r0: int, c: int, s: pd.Series, col: Col) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
        fmt = self.f["wrap"] if col.wrap else self.f["text"]
        small = _small_texts(s, col.plain) if len(s) <= _SMALL else None
        if small is not None:  # a small column of texts: the same cells without the per-call cost of pandas
            pos, vals = small
            if not pos:
                return 0.0, None
            texts = np.array(vals, dtype=object)
            rows = np.array(pos, dtype=np.int64) + r0
        else:
            rows, texts = self._texts_frame(s, col)
            if not len(texts):
                return 0.0, None
        lengths = lengths_of(texts)
        if lengths.max() > MAX_CELL_CHARS:
            texts = _cut(texts, lengths)
            lengths = lengths_of(texts)
        rows = rows + r0 if small is None else rows
        ws.write_strings(rows, c, texts, fmt)
        width = float(lengths.max())
        return width, ((rows, texts) if col.wrap else None)

    @staticmethod
    def _texts_frame(s: pd.Series, col: Col) -> tuple[np.ndarray, np.ndarray]:
        """(positions, texts) of the non-empty texts of a column, whole-column operations."""
        s = s.reset_index(drop=True)
        s = s[s.notna()]
        if not len(s):
            return np.array([], dtype=np.int64), np.array([], dtype=object)
        t = s.astype(str)
        if col.plain:  # once per distinct code
            codes, uniques = pd.factorize(t)
            t = pd.Series(np.array([plain(u) for u in uniques], dtype=object)[codes], index=t.index, dtype=object)
        t = t[t != ""]
        return t.index.to_numpy(), t.to_numpy(dtype=object)

    def cond_text(self, s: Sheet, key: str, rules: dict[str, str], *, first_row: int, n: int, col0: int = 0, how: str = "equal") -> None:
        """Colour cells of column ``key`` whose text is (or begins with) a value; the text stays."""
        keys = [c.key for c in s.columns]
        if key not in keys or n == 0:
            return
        j = col0 + keys.index(key)
        for value, colour in rules.items():
            if how == "equal":
                opts = {"type": "cell", "criteria": "equal to", "value": f'"{value}"', "format": self.cf[colour]}
            else:
                opts = {"type": "text", "criteria": "begins with", "value": value, "format": self.cf[colour]}
            s.ws.conditional_format(first_row, j, first_row + n - 1, j, opts)

    def close(self) -> None:
        from xlsxwriter.exceptions import FileCreateError

        try:
            self.wb.close()
        except FileCreateError as exc:
            raise BTMError(
                f"{self.path}: cannot write the report ({exc.__cause__ or exc}); is it open in Excel, or is the folder read-only?"
            ) from None


def row_decimals(df: pd.DataFrame, summary: Any) -> np.ndarray | None:
    """Display decimals of each row's values, from its marker and unit (``None`` without those columns)."""
    if "marker" not in df or "unit" not in df or not len(df):
        return None
    from ..summary import display_decimals

    mu = summary.marker_units
    known = {(m, u): int(d) for m, u, d in zip(mu["marker"], mu["unit"], mu["decimals"], strict=True)}
    keys = pd.MultiIndex.from_arrays([df["marker"].astype(str), df["unit"].astype(str)])
    out = np.empty(len(df), dtype=int)
    codes, uniq = pd.factorize(keys)
    for k, (m, u) in enumerate(uniq):
        sel = codes == k
        if (m, u) in known:
            out[sel] = known[(m, u)]
        else:
            vals = df["value_from"] if "value_from" in df else (df["mean_from"] if "mean_from" in df else None)
            out[sel] = display_decimals(m, u, None if vals is None else pd.to_numeric(vals[sel], errors="coerce").to_numpy(float))
    return out
