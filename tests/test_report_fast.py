"""The report's column-at-a-time cells (btm.report._sheetdata) against XlsxWriter's own cell-by-cell writing."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from xlsxwriter.utility import _datetime_to_excel_datetime

from btm.report._columns import c
from btm.report._formats import MAX_CELL_CHARS, fit_rows, height, lines_of, n_lines, text, value_format
from btm.report._sheetdata import excel_serial, number_texts
from btm.report._writer import Writer

RICH_LOOKING = ["<r>not rich & raw</r>", "<r><t>x</t></r>"]  # XlsxWriter alone writes these unescaped (a broken file)
NASTY = [
    "=1+1", "+SUM(A1)", "-2", "@cmd", "=HYPERLINK(\"http://x\")", "a & b < c > d \"q\" 'q'", "ctrl\x01\x02\x1fend",
    "tab\there", "line\nbreak\nthree", "cr\rhere", "_x0041_ literal", " leading", "trailing ", "µg/L é ü 中文",
    "astral 𝔘𝔫𝔦 😀", "x" * (MAX_CELL_CHARS + 50), "😀" * 20000,
    "word " * 40, "\ufffe\uffff", "", "plain",
]


def _frame(n: int = 60, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    texts = [[*NASTY, *extra][i % (len(NASTY) + len(extra))] for i in range(n)]
    texts[3] = None
    values = rng.lognormal(3, 2, n) * rng.choice([-1, 1], n)
    values[[1, 5]] = [np.nan, np.inf]
    values[7] = -0.0
    values[8] = 1 / 3
    values[9] = 1e-300
    values[10] = 1.7976931348623157e308
    dates = pd.Series(pd.to_datetime("2026-01-05 08:30:15.123456789") + pd.to_timedelta(rng.integers(-50000, 900, n), unit="D"))
    dates[2] = pd.NaT
    flags = pd.Series([True, False, None, "maybe", "", np.nan] * (n // 6), dtype=object)
    return pd.DataFrame({
        "t": texts, "w": texts, "plain": ["older_adults", "flexibility_balance", None, "x"] * (n // 4),
        "v": values, "p": values / 1e3, "i": np.arange(n, dtype=float), "d": dates, "b": flags,
        "marker": "PINP", "unit": "µg/L",
    })


COLS = [c("t", "text"), c("w", "wrapped", wrap=True, cap=20), c("plain", "plain", plain=True), c("v", "value", "value"),
        c("p", "p", "p"), c("i", "int", "int"), c("d", "date", "date"), c("b", "flag", "bool")]


def _reference(path: Path, df: pd.DataFrame, decimals: np.ndarray) -> None:
    """The cell-by-cell writing of the report before columns were written whole (per cell, XlsxWriter's own)."""
    import xlsxwriter

    from btm.summary import plain

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
                                         "remove_timezone": True})
    base = {"valign": "top", "font_size": 10}
    f_text = wb.add_format({**base, "align": "left", "indent": 1})
    f_wrap = wb.add_format({**base, "align": "left", "indent": 1, "text_wrap": True})
    f_bool = wb.add_format({**base, "align": "center"})
    f_date = wb.add_format({**base, "num_format": "yyyy-mm-dd", "align": "left"})
    f_int = wb.add_format({**base, "num_format": "0", "align": "right"})
    f_p = wb.add_format({**base, "num_format": '[<0.001]"<0.001";0.000', "align": "right"})
    f_val = {d: wb.add_format({**base, "num_format": value_format(d), "align": "right"}) for d in range(4)}
    ws = wb.add_worksheet("T")
    for j, col in enumerate(COLS):
        for i, v in enumerate(df[col.key].tolist()):
            r = i + 1
            if col.kind == "text":
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                s = plain(v) if col.plain else str(v)
                if s:
                    ws.write_string(r, j, text(s), f_wrap if col.wrap else f_text)
            elif col.kind == "bool":
                if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
                    continue
                ws.write_string(r, j, ("yes" if v else "no") if isinstance(v, bool | np.bool_) else text(v), f_bool)
            elif col.kind == "date":
                if not pd.isna(v):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        ws.write_datetime(r, j, v.to_pydatetime(), f_date)
            elif np.isfinite(v):
                fmt = {"value": f_val[int(decimals[i])], "p": f_p, "int": f_int}[col.kind]
                ws.write_number(r, j, v, fmt)
    wb.close()


def _cells(path: Path, first_row: int = 2) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ws = openpyxl.load_workbook(path)["T"]
    out = {}
    for row in ws.iter_rows(min_row=first_row):
        for x in row:
            if x.value is not None:
                out[(x.row, x.column)] = (x.value, x.number_format, x.font.b, x.fill.fgColor.rgb, x.alignment.horizontal,
                                          x.alignment.wrap_text)
    return out


def test_columns_match_cell_by_cell_writing(tmp_path: Path) -> None:
    df = _frame()
    decimals = np.arange(len(df)) % 4
    _reference(tmp_path / "ref.xlsx", df, decimals)
    w = Writer(tmp_path / "fast.xlsx", timestamp=dt.datetime(2026, 1, 1), title="t")
    s = w.sheet("T")
    w.table(s, df, COLS, decimals=decimals)
    w.close()
    ref, fast = _cells(tmp_path / "ref.xlsx"), _cells(tmp_path / "fast.xlsx")
    assert fast == ref
    # known answers: data text is text, never a formula; escaped characters come back as they were
    got = {v[0] for v in fast.values() if isinstance(v[0], str)}
    for t in ("=1+1", "+SUM(A1)", "-2", "@cmd", "a & b < c > d \"q\" 'q'", "astral 𝔘𝔫𝔦 😀", "line\nbreak\nthree", " leading", "trailing ", "older adults", "flexibility/balance", "yes", "no"):
        assert t in got
    assert any(isinstance(t, str) and t.endswith(f"[cut: {MAX_CELL_CHARS + 50:,} characters in all]") for t in got)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wb = openpyxl.load_workbook(tmp_path / "fast.xlsx")
    assert wb["T"]["A2"].data_type == "s" and wb["T"]["A2"].value == "=1+1"


def test_rich_looking_text_stays_text(tmp_path: Path) -> None:
    df = _frame(48, tuple(RICH_LOOKING))
    w = Writer(tmp_path / "rich.xlsx", timestamp=dt.datetime(2026, 1, 1), title="t")
    s = w.sheet("T")
    w.table(s, df, COLS, decimals=np.zeros(len(df), dtype=int))
    s.ws.write_string(0, 10, RICH_LOOKING[0])  # and when written the ordinary way
    w.close()
    got = {v[0] for v in _cells(tmp_path / "rich.xlsx", first_row=1).values()}
    assert set(RICH_LOOKING) <= got


def test_row_heights_of_wrapped_text(tmp_path: Path) -> None:
    df = pd.DataFrame({"w": ["short", "a long sentence that wraps over several lines " * 3, "two\nlines", None, "x" * 90]})
    w = Writer(tmp_path / "h.xlsx", timestamp=dt.datetime(2026, 1, 1), title="t")
    s = w.sheet("T")
    w.table(s, df, [c("w", "wrapped", wrap=True, cap=20)])
    w.close()
    ws = openpyxl.load_workbook(tmp_path / "h.xlsx")["T"]
    width = s.widths[0]
    for i, t in enumerate(df["w"]):
        expected = height(n_lines(t, width)) if isinstance(t, str) and n_lines(t, width) > 1 else None
        got = ws.row_dimensions[i + 2].height
        assert (got is None) if expected is None else got == pytest.approx(int(expected * 4 / 3 + 0.5) * 0.75)


def test_fit_rows_takes_the_most_lines_of_a_row() -> None:
    class Sheet:
        def set_heights(self, rows, points):
            self.got = dict(zip(rows.tolist(), points.tolist(), strict=True))

    ws = Sheet()
    fit_rows(ws, [((np.array([5, 6, 7]), np.array(["a b c d e f g h i j k l m n", "tiny", "x\ny"], dtype=object)), 8.0),
                  ((np.array([5, 7]), np.array(["one", "p\nq\nr"], dtype=object)), 30.0), (None, 10.0)])
    assert ws.got == {5: height(n_lines("a b c d e f g h i j k l m n", 8.0)), 7: height(3)}


def test_lines_of_matches_n_lines() -> None:
    rng = np.random.default_rng(3)
    alphabet = list("abc de-f\n\t\r  xyz—–-") + ["word", "well-known", "2024-01-01", "--", "é", "😀"]
    texts = np.array(["".join(rng.choice(alphabet, rng.integers(0, 60))) for _ in range(400)], dtype=object)
    for width in (4.0, 8.5, 12.0, 30.0, 70.0):
        assert lines_of(texts, width).tolist() == [n_lines(t, width) for t in texts]


def test_number_texts_are_xlsxwriters() -> None:
    rng = np.random.default_rng(11)
    x = np.r_[rng.standard_normal(500) * 10.0 ** rng.integers(-320, 308, 500), [0.0, -0.0, 1 / 3, 0.1 + 0.2, 1e16, 123456789012345678.0,
                                                                               5e-324, 2.0**53 + 1]]
    assert number_texts(x).tolist() == [f"{v:.16G}" for v in x.tolist()]
    assert number_texts(np.array([])).tolist() == []


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_excel_serial_is_xlsxwriters(tz: str | None) -> None:
    rng = np.random.default_rng(5)
    t = pd.Series(pd.to_datetime("1899-12-31") + pd.to_timedelta(rng.integers(0, 80_000 * 86_400_000_000_000, 300), unit="ns"))
    t = pd.concat([t, pd.Series(pd.to_datetime(["1900-01-01 12:00", "1900-02-28 00:00", "1900-03-01 00:00", "1900-03-01 00:00:01", None], format="mixed"))],
                  ignore_index=True)
    if tz:
        t = t.dt.tz_localize(tz, nonexistent="shift_forward", ambiguous="NaT")
    got = excel_serial(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # to_pydatetime drops nanoseconds, as the report always did
        want = [np.nan if pd.isna(v) else _datetime_to_excel_datetime(v.to_pydatetime(), False, True) for v in t]
    np.testing.assert_array_equal(got, np.array(want, dtype=float))
    # and at another resolution
    us = t.astype(f"datetime64[us{', ' + tz if tz else ''}]") if tz else t.astype("datetime64[us]")
    np.testing.assert_array_equal(excel_serial(us), got)
