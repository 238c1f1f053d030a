"""Worksheet cells written a whole column at a time, and their ``<sheetData>`` rendered with array operations.

XlsxWriter keeps one Python object per cell and writes each with a few Python calls, which makes
a 75,000-row Results sheet cost tens of seconds. :class:`TableSheet` is an XlsxWriter worksheet
that also takes whole columns (:meth:`~TableSheet.write_strings`, :meth:`~TableSheet.write_numbers`,
:meth:`~TableSheet.set_heights`) and keeps them as arrays: distinct values once, and codes.

* Strings go into the workbook's shared-string table like XlsxWriter's own, so XlsxWriter
  escapes them (``& < >``, control characters as ``_xHHHH_``) exactly as for any other cell; a
  text that XlsxWriter would take for rich-string XML (``<r>...</r>``) is stored as one escaped
  run, so it stays the same text (XlsxWriter itself would write it unescaped).
* Numbers are written with XlsxWriter's ``%.16G``, formatted once per distinct value.
* At close, the sheet's rows are rendered a block of rows at a time: every cell of the block is
  an XML fragment built by element-wise string operations, the fragments are sorted by row and
  column (cells written the ordinary way are merged in), row tags added, and the block joined.
  There is no Python step per cell or per row of the column-written cells.
* Charts read their cached values from these columns as from ordinary cells.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from io import StringIO
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
from xlsxwriter.utility import _preserve_whitespace, _utf16_len, _utf16_truncate, xl_col_to_name
from xlsxwriter.worksheet import CellNumberTuple, CellStringTuple, Worksheet

__all__ = ["TableSheet", "excel_serial", "number_texts"]

_BLOCK = 8192  # rows rendered at a time
_STRMAX = 32767  # Excel's string limit in UTF-16 units
_SMALL = 256  # columns up to this many cells are handled in plain Python (pandas' per-call cost dominates)


def _texts_of(values: Any) -> np.ndarray:
    """``str`` of each item, as an object array (``map`` runs in C)."""
    return np.array(list(map(str, values)), dtype=object)


def number_texts(values: np.ndarray) -> np.ndarray:
    """``%.16G`` of each float (as XlsxWriter writes a number), in one C-level formatting call."""
    if not len(values):
        return np.array([], dtype=object)
    joined = ("%.16G\x00" * len(values)) % tuple(values.tolist())
    return np.array(joined.split("\x00")[:-1], dtype=object)


def rich_safe(s: str) -> str:
    """A plain text that XlsxWriter would write as rich-string XML, as one escaped run of the same text."""
    t = Worksheet._escape_control_characters(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if _preserve_whitespace(t) else ""
    return f"<r><t{space}>{t}</t></r>"


def _shared_one(x: str) -> str:
    """:func:`_shared` of one text."""
    if len(x) > _STRMAX // 2 and _utf16_len(x) > _STRMAX:
        x = _utf16_truncate(x, _STRMAX)
    return rich_safe(x) if x.startswith("<r>") and x.endswith("</r>") else x


def _factorize(texts: Any) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of non-missing texts (codes in order of first appearance, uniques)."""
    if len(texts) > _SMALL:
        codes, uniques = pd.factorize(np.asarray(texts, dtype=object))
        return codes, np.asarray(uniques, dtype=object)
    seen: dict[str, int] = {}
    codes = [seen.setdefault(x, len(seen)) for x in (texts.tolist() if isinstance(texts, np.ndarray) else list(texts))]
    return np.array(codes, dtype=np.intp), np.array(list(seen), dtype=object)


def _shared(texts: np.ndarray) -> np.ndarray:
    """Shared-string keys of distinct texts: cut at Excel's limit in UTF-16 units, rich-looking ones made safe."""
    if len(texts) <= _SMALL:  # the same keys, one Python step per text (cheaper than pandas for a few)
        return np.array([_shared_one(x) for x in texts.tolist()], dtype=object)
    s = pd.Series(texts, dtype=object)
    long = np.fromiter(map(len, texts.tolist()), dtype=np.int64, count=len(texts)) > _STRMAX // 2
    if long.any():
        s[long] = [x if _utf16_len(x) <= _STRMAX else _utf16_truncate(x, _STRMAX) for x in s[long]]
    rich = (s.str.startswith("<r>") & s.str.endswith("</r>")).to_numpy()
    if rich.any():
        s[rich] = [rich_safe(x) for x in s[rich]]
    return s.to_numpy(dtype=object)


@dataclass
class _Column:
    """Cells of one column: sheet rows (ascending), and per cell a code into ``values`` and into ``mids``."""

    col: int
    rows: np.ndarray
    codes: np.ndarray
    values: np.ndarray  # XML text of each distinct value (SST index or number)
    mids: np.ndarray  # '" s="7" t="s"><v>' per style
    mid_codes: np.ndarray | None  # per cell (None: all cells use mids[0])
    numbers: np.ndarray | None  # distinct numbers (None: strings; values are SST indices)
    sst: np.ndarray | None


class TableSheet(Worksheet):
    """An XlsxWriter worksheet that also takes whole columns of cells (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._columns: list[_Column] = []
        self._heights: dict[int, int] = {}  # row -> height in pixels (wrapped rows of column-written tables)

    # -- writing ---------------------------------------------------------------------------------

    def _add(self, rows: np.ndarray, col: int, **kw: Any) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return
        order = np.argsort(rows, kind="stable")
        if not (order == np.arange(len(rows))).all():
            rows = rows[order]
            kw["codes"] = kw["codes"][order]
            if kw["mid_codes"] is not None:
                kw["mid_codes"] = kw["mid_codes"][order]
        self._check_dimensions(int(rows[0]), col)
        self._check_dimensions(int(rows[-1]), col)
        self._columns.append(_Column(col=col, rows=rows, **kw))

    def write_strings(self, rows: np.ndarray, col: int, texts: Any, cell_format: Any) -> None:
        """Text cells: ``texts[i]`` (non-empty str) at ``rows[i]``, column ``col``."""
        codes, uniques = _factorize(texts)
        sst = self._sst(_shared(uniques))
        self.str_table.count += len(codes)
        mid = f'" s="{cell_format._get_xf_index()}" t="s"><v>'
        self._add(rows, col, codes=codes, values=_texts_of(sst.tolist()), mids=np.array([mid], dtype=object),
                  mid_codes=None, numbers=None, sst=sst)

    def write_numbers(self, rows: np.ndarray, col: int, values: np.ndarray, formats: list[Any],
                      format_codes: np.ndarray | None = None) -> None:
        """Number cells (finite floats) at ``rows``; cell ``i`` has ``formats[format_codes[i]]`` (or ``formats[0]``)."""
        uniques, codes = np.unique(np.asarray(values, dtype=float), return_inverse=True)
        mids = np.array([f'" s="{f._get_xf_index()}"><v>' for f in formats], dtype=object)
        self._add(rows, col, codes=codes.ravel(), values=number_texts(uniques), mids=mids,
                  mid_codes=None if format_codes is None else np.asarray(format_codes), numbers=uniques, sst=None)

    def set_heights(self, rows: np.ndarray, points: np.ndarray) -> None:
        """Row heights (points) of rows holding column-written cells, as ``set_row`` would set them."""
        px = (np.asarray(points, dtype=float) * 4.0 / 3.0 + 0.5).astype(np.int64).tolist()
        rows = np.asarray(rows, dtype=np.int64).tolist()
        self._heights.update(zip(rows, px, strict=True))
        self.row_sizes.update(zip(rows, zip(px, repeat(False)), strict=True))  # images and charts are placed by these

    def _sst(self, keys: np.ndarray) -> np.ndarray:
        """Shared-string indices of distinct keys, adding the new ones (dictionary work done in C)."""
        table = self.str_table.string_table
        new = keys[~np.fromiter(map(table.__contains__, keys.tolist()), dtype=bool, count=len(keys))]
        start = self.str_table.unique_count
        table.update(zip(new.tolist(), range(start, start + len(new)), strict=True))
        self.str_table.unique_count += len(new)
        return np.fromiter(map(table.__getitem__, keys.tolist()), dtype=np.int64, count=len(keys))

    def _write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> Any:
        if string.startswith("<r>") and string.endswith("</r>"):  # plain text, not rich-string XML
            if self._check_dimensions(row, col):
                return -1
            string = rich_safe(_utf16_truncate(string, _STRMAX) if _utf16_len(string) > _STRMAX else string)
            self.table[row][col] = CellStringTuple(self.str_table._get_shared_string_index(string), cell_format)
            return 0
        return super()._write_string(row, col, string, cell_format)

    # -- chart data ------------------------------------------------------------------------------

    def _get_range_data(self, row_start: int, col_start: int, row_end: int, col_end: int) -> Any:
        saved = self.table
        table: defaultdict[int, dict[int, Any]] = defaultdict(dict)
        for r in range(row_start, row_end + 1):  # a chart's range: a few cells
            if r in saved:
                table[r] = dict(saved[r])
        for c in self._columns:
            if col_start <= c.col <= col_end:
                lo, hi = np.searchsorted(c.rows, [row_start, row_end + 1])
                for r, k in zip(c.rows[lo:hi].tolist(), c.codes[lo:hi].tolist(), strict=True):
                    table[r][c.col] = (CellStringTuple(int(c.sst[k]), None) if c.numbers is None
                                       else CellNumberTuple(float(c.numbers[k]), None))
        self.table = table
        try:
            return super()._get_range_data(row_start, col_start, row_end, col_end)
        finally:
            self.table = saved

    # -- rendering -------------------------------------------------------------------------------

    def _write_sheet_data(self) -> None:
        if not self._columns or self.dim_rowmin is None:
            super()._write_sheet_data()
            return
        self._xml_start_tag("sheetData")
        ordinary = np.array(sorted({r for r, cells in self.table.items() if cells} | set(self.row_info) | set(self.comments)),
                            dtype=np.int64)
        heights = (np.array(sorted(self._heights), dtype=np.int64),)
        heights += (np.array([self._heights[r] for r in heights[0].tolist()], dtype=np.int64),)
        for lo in range(self.dim_rowmin, self.dim_rowmax + 1, _BLOCK):
            hi = min(lo + _BLOCK, self.dim_rowmax + 1)
            self.fh.write(self._block(lo, hi, ordinary[(ordinary >= lo) & (ordinary < hi)], heights))
        self._xml_end_tag("sheetData")

    def _block(self, lo: int, hi: int, ordinary: np.ndarray, heights: tuple[np.ndarray, np.ndarray]) -> str:
        """The XML of rows ``lo`` to ``hi - 1``."""
        numbers = _texts_of(range(lo + 1, hi + 1))  # row numbers as shown
        rows, cols, frags = [], [], []
        for c in self._columns:
            i0, i1 = np.searchsorted(c.rows, [lo, hi])
            if i1 > i0:
                r = c.rows[i0:i1]
                mid = c.mids[0] if c.mid_codes is None else c.mids[c.mid_codes[i0:i1]]
                frags.append(f'<c r="{xl_col_to_name(c.col)}' + numbers[r - lo] + mid + c.values[c.codes[i0:i1]] + "</v></c>")
                rows.append(r)
                cols.append(np.full(len(r), c.col, dtype=np.int64))
        written = np.unique(np.concatenate(rows)) if rows else np.array([], dtype=np.int64)
        own_open: dict[int, str] = {}
        whole = np.isin(ordinary, written, invert=True)
        for r in ordinary.tolist():  # cells written the ordinary way (titles, headers, notes): few
            xml, opening = self._ordinary(r, r not in written)
            if opening is not None:
                own_open[r] = opening
            if xml:
                rows.append(np.full(len(xml), r, dtype=np.int64))
                cols.append(np.array([c for c, _ in xml], dtype=np.int64))
                frags.append(np.array([x for _, x in xml], dtype=object))
        if not rows:
            return ""
        row, col, frag = np.concatenate(rows), np.concatenate(cols), np.concatenate(frags)
        order = np.lexsort((col, row))
        row, col, frag = row[order], col[order], frag[order]
        first = np.r_[True, row[1:] != row[:-1]]
        last = np.r_[row[1:] != row[:-1], True]
        tagged = ~np.isin(row, ordinary[whole])  # rows rendered whole by XlsxWriter carry their own tags
        start, end = np.flatnonzero(first & tagged), np.flatnonzero(last & tagged)
        frag[start] = self._openings(row[start], numbers[row[start] - lo], own_open, heights) + frag[start]
        frag[end] = frag[end] + "</row>"
        return "".join(frag.tolist())

    def _openings(self, rows: np.ndarray, shown: np.ndarray, own: dict[int, str], heights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """``<row ...>`` tags: the row number and, for wrapped rows, the custom height."""
        attrs = np.full(len(rows), "", dtype=object)
        hr, hp = heights
        if len(hr):
            k = np.clip(np.searchsorted(hr, rows), 0, len(hr) - 1)
            has = hr[k] == rows
            px = hp[k[has]]
            kinds, inv = np.unique(px, return_inverse=True)
            text = np.array([
                f' ht="{h * 0.75:.16g}" customHeight="1"' if (h != self.original_row_height or h != self.default_row_height) else ""
                for h in kinds.tolist()
            ], dtype=object)
            attrs[has] = text[inv.ravel()]
        tags = '<row r="' + shown + '"' + attrs + ">"
        for i in np.flatnonzero(np.isin(rows, np.fromiter(own, dtype=np.int64, count=len(own)))).tolist():
            tags[i] = own[int(rows[i])]
        return tags

    def _ordinary(self, row: int, whole: bool) -> tuple[list[tuple[int, str]], str | None]:
        """XML of a row's ordinary cells ``[(col, xml)]`` (the whole row at column -1 when ``whole``), and its own
        opening tag (from ``set_row``) when it also holds column-written cells."""
        saved, out = self.fh, StringIO()
        self.fh = out
        try:
            info = self.row_info.get(row)
            cells = self.table[row] if row in self.table else {}
            if whole:
                if cells:
                    self._write_row(row, None, info)
                    for c in sorted(cells):
                        self._write_cell(row, c, cells[c])
                    self._xml_end_tag("row")
                else:
                    self._write_empty_row(row, None, info)
                return [(-1, out.getvalue())], None
            xml = []
            for c in sorted(cells):
                out.seek(0)
                out.truncate()
                self._write_cell(row, c, cells[c])
                xml.append((c, out.getvalue()))
            opening = None
            if info is not None:
                out.seek(0)
                out.truncate()
                self._write_row(row, None, info)
                opening = out.getvalue()
            return xml, opening
        finally:
            self.fh = saved


def excel_serial(t: pd.Series) -> np.ndarray:
    """Excel serial dates of datetimes (NaN for NaT), computed as XlsxWriter's ``write_datetime`` does.

    Time zones are dropped keeping the wall time; nanoseconds are dropped (as ``to_pydatetime``)."""
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_localize(None)
    a = t.to_numpy()
    unit, count = np.datetime_data(a.dtype)
    per_us = {"s": -1_000_000, "ms": -1000, "us": 1, "ns": 1000}[unit] * count
    i8 = a.view(np.int64)
    us = i8 * -per_us if per_us < 0 else i8 // per_us
    day = 86_400_000_000
    delta = us - (np.datetime64("1899-12-31", "us") - np.datetime64("1970-01-01", "us")).astype(np.int64)
    days = delta // day
    rem = delta - days * day
    serial = days + ((rem // 1_000_000).astype(float) + (rem % 1_000_000).astype(float) / 1e6) / 86400
    serial = np.where(days == 1, serial - 1, serial)  # XlsxWriter: 1900-01-01 is day 1 of Excel's calendar
    serial = np.where(serial > 59, serial + 1, serial)  # Excel's 1900 leap year
    return np.where(np.isnat(a), np.nan, serial)
