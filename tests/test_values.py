"""The cell value parser: every cell ends OK, BLANK or REJECTED with a reason, and never raises."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from btm.io.values import BLANK, OK, REJECTED, cell_text, cell_texts, detect_decimal, parse_cell, parse_values

# ---------------------------------------------------------------------------------------------
# examples: (cell, decimal, lod) -> (status, value, censored, text the reason must contain)

CASES = [
    ("number", 45.3, None, None, (OK, 45.3, "", "")),
    ("integer", 45, None, None, (OK, 45.0, "", "")),
    ("numpy_float", np.float64(12.5), None, None, (OK, 12.5, "", "")),
    ("text_number", "52.1", None, None, (OK, 52.1, "", "")),
    ("text_spaces", " 48.0 ", None, None, (OK, 48.0, "", "")),
    ("decimal_comma", "12,5", None, None, (OK, 12.5, "", "")),
    ("decimal_comma_leading_zero", "0,412", None, None, (OK, 0.412, "", "")),
    ("thousands_comma", "1,234.5", None, None, (OK, 1234.5, "", "")),
    ("thousands_dot", "1.234,5", None, None, (OK, 1234.5, "", "")),
    ("thousands_space", "1 234,5", None, None, (OK, 1234.5, "", "")),
    ("thousands_nbsp", "1\u00a0234", None, None, (OK, 1234.0, "", "")),
    ("three_digits_after_comma_decimal_comma", "1,234", ",", None, (OK, 1.234, "", "")),
    ("three_digits_after_comma_decimal_point", "1,234", ".", None, (OK, 1234.0, "", "")),
    ("three_digits_after_comma_unknown", "1,234", None, None, (REJECTED, math.nan, "", "ambiguous number")),
    ("three_digits_after_point_unknown", "1.234", None, None, (OK, 1.234, "", "")),
    ("exponent", "4.5e2", None, None, (OK, 450.0, "", "")),
    ("lt", "<0.01", None, None, (OK, 0.01, "<", "")),
    ("lt_space", "< 0.01", None, None, (OK, 0.01, "<", "")),
    ("le_sign", "≤0.01", None, None, (OK, 0.01, "<", "")),
    ("le_ascii", "<=0.01", None, None, (OK, 0.01, "<", "")),
    ("lt_decimal_comma", "<0,030", None, None, (OK, 0.03, "<", "")),
    ("gt", ">1500", None, None, (OK, 1500.0, ">", "")),
    ("ge_sign", "≥1500", None, None, (OK, 1500.0, ">", "")),
    ("lod_with_limit", "<LOD", None, 0.01, (OK, 0.01, "<", "")),
    ("lod_words_with_limit", "below detection limit", None, 5.0, (OK, 5.0, "<", "")),
    ("lod_no_limit", "<LOD", None, None, (REJECTED, math.nan, "", "no limit is known")),
    ("blank_none", None, None, None, (BLANK, math.nan, "", "")),
    ("blank_empty", "", None, None, (BLANK, math.nan, "", "")),
    ("blank_spaces", "   ", None, None, (BLANK, math.nan, "", "")),
    ("blank_nan", math.nan, None, None, (BLANK, math.nan, "", "")),
    ("hemolysed", "hemolysed", None, None, (REJECTED, math.nan, "", "hemolysed")),
    ("qns", "QNS", None, None, (REJECTED, math.nan, "", "QNS")),
    ("n_a", "n/a", None, None, (REJECTED, math.nan, "", "n/a")),
    ("see_comment", "see comment", None, None, (REJECTED, math.nan, "", "see comment")),
    ("cancelled", "cancelled", None, None, (REJECTED, math.nan, "", "cancelled")),
    ("typo", "4o.2", None, None, (REJECTED, math.nan, "", "4o.2")),
    ("zero", 0, None, None, (REJECTED, math.nan, "", "zero")),
    ("zero_text", "0", None, None, (REJECTED, math.nan, "", "zero")),
    ("negative", -5.0, None, None, (REJECTED, math.nan, "", "negative")),
    ("negative_text", "-5", None, None, (REJECTED, math.nan, "", "negative")),
    ("infinite", math.inf, None, None, (REJECTED, math.nan, "", "infinite")),
    ("excel_error", "#N/A", None, None, (REJECTED, math.nan, "", "#N/A")),
    ("boolean", True, None, None, (REJECTED, math.nan, "", "logical")),
    ("date", dt.date(2026, 2, 3), None, None, (REJECTED, math.nan, "", "date")),
    ("datetime", dt.datetime(2026, 2, 3, 8, 15), None, None, (REJECTED, math.nan, "", "date")),
    ("separators_misplaced", "1,2,3", None, None, (REJECTED, math.nan, "", "1,2,3")),
    ("nothing_after_separator", "12.", None, None, (REJECTED, math.nan, "", "12.")),
]


@pytest.mark.parametrize(("cell", "decimal", "lod", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_cell(cell, decimal, lod, expected):
    status, value, censored, reason = parse_cell(cell, decimal=decimal, lod=lod)
    want_status, want_value, want_censored, want_reason = expected
    assert status == want_status
    if want_status == OK:
        assert value == pytest.approx(want_value)
    else:
        assert math.isnan(value)
    assert censored == want_censored
    if want_status == REJECTED:
        assert want_reason in reason
    else:
        assert reason == ""


def test_unit_written_in_the_cell_is_returned():
    p = parse_values(["45 ng/mL", "0.45 ng/ml", "12 apples"])
    assert p.status.tolist() == [OK, OK, REJECTED]
    assert p.unit.tolist()[:2] == ["ng/mL", "ng/ml"]
    assert "12 apples" in p.reason[2]


def test_raw_text_is_kept_exactly():
    p = parse_values([" 48.0 ", 45.3, 45.0, None, "<LOD"])
    assert p.raw.tolist() == [" 48.0 ", "45.3", "45", "", "<LOD"]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["12,5", "45,3"], ","),
        (["0,412", "<0,030"], ","),
        (["12.5", "0.412"], "."),
        (["1,234.5"], "."),
        (["1.234,5"], ","),
        (["1,234", "1.234"], None),  # three digits after the mark: no evidence
        (["12.5", "12,5"], None),  # conflicting evidence
        ([45.3, 12.0], None),  # real numbers say nothing about text
    ],
    ids=["comma", "comma_censored", "point", "thousands_comma", "thousands_dot", "three_digits", "conflict", "numbers"],
)
def test_detect_decimal(cells, expected):
    assert detect_decimal(cells) == expected


# ---------------------------------------------------------------------------------------------
# properties

cells = st.one_of(
    st.text(),
    st.text(alphabet="0123456789.,<>=≤≥ -+eE\u00a0'", max_size=12),
    st.floats(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.none(),
    st.booleans(),
    st.dates(),
    st.datetimes(),
)


def _check_state(status, value, censored, reason) -> None:
    assert status in (OK, BLANK, REJECTED)
    if status == OK:
        assert math.isfinite(value) and value > 0
        assert censored in ("", "<", ">")
        assert reason == ""
    elif status == BLANK:
        assert math.isnan(value)
        assert censored == ""
        assert reason == ""
    else:
        assert math.isnan(value)
        assert censored == ""
        assert isinstance(reason, str) and reason.strip()


@settings(deadline=None, max_examples=400)
@given(cell=cells, decimal=st.sampled_from([None, ".", ","]), lod=st.one_of(st.none(), st.floats(min_value=1e-6, max_value=1e6)))
@example(cell="<LOD", decimal=None, lod=None)
@example(cell="1,234", decimal=None, lod=None)
@example(cell="\u2212 5", decimal=None, lod=None)
def test_any_cell_is_ok_blank_or_rejected_with_a_reason(cell, decimal, lod):
    _check_state(*parse_cell(cell, decimal=decimal, lod=lod))


@settings(deadline=None, max_examples=200)
@given(column=st.lists(cells, max_size=30), decimal=st.sampled_from([None, ".", ","]))
def test_a_column_parses_like_its_cells_one_by_one(column, decimal):
    p = parse_values(column, decimal=decimal)
    assert len(p.status) == len(column)
    for k, cell in enumerate(column):
        status, value, censored, reason = parse_cell(cell, decimal=decimal)
        assert (p.status[k], p.censored[k], p.reason[k]) == (status, censored, reason)
        assert p.value[k] == value or (math.isnan(p.value[k]) and math.isnan(value))
        _check_state(int(p.status[k]), float(p.value[k]), p.censored[k], p.reason[k])
        assert p.raw[k] == cell_text(cell) or isinstance(cell, str) and p.raw[k] == cell


positive = st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False)


def _comma_decimal(text: str) -> str:
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


@settings(deadline=None, max_examples=400)
@given(x=positive)
@example(x=0.30000000000000004)
@example(x=1.234)
@example(x=1234.5)
@example(x=5e-324)
@example(x=1.7976931348623157e308)
def test_formatted_numbers_round_trip(x):
    for text, decimal in (
        (str(x), None),
        (str(x), "."),
        (format(x, ","), None),
        (format(x, ","), "."),
        (_comma_decimal(str(x)), ","),
        (_comma_decimal(format(x, ",")), ","),
        (f" {x!r} ", None),
        ("<" + str(x), None),
    ):
        status, value, _, reason = parse_cell(text, decimal=decimal)
        assert (status, reason) == (OK, ""), text
        assert value == x, text


@settings(deadline=None, max_examples=200)
@given(x=positive, cmp=st.sampled_from(["<", "< ", "<=", "≤", ">", "> ", ">=", "≥"]))
def test_censored_numbers_keep_the_limit(x, cmp):
    status, value, censored, _ = parse_cell(cmp + str(x))
    assert status == OK
    assert value == x
    assert censored == ("<" if cmp.strip() in ("<", "<=", "≤") else ">")


@settings(deadline=None, max_examples=200)
@given(column=st.lists(st.one_of(cells, st.sampled_from([1.0, True, 1, np.float64(2.5), np.float32(0.1), " x ", "x"])), max_size=40))
def test_cell_texts_is_cell_text_of_each_cell(column):
    assert cell_texts(column).tolist() == [cell_text(c) for c in column]
    assert cell_texts(column, strip=True).tolist() == [cell_text(c).strip() for c in column]
