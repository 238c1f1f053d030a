"""The CSV writer's vectorised escaping against the scalar rule it replaces (:func:`safe_text`,
one cell at a time, as main wrote it), on generated text of all of Unicode."""

from __future__ import annotations

import csv
import re
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from btm.io import write as w
from btm.io.write import csv_text, escape_texts, safe_text, unescape_text, unescape_texts, write_csv_file


def _reference_escape(col: pd.Series) -> pd.Series:
    """main's escape_texts: every text cell through :func:`safe_text` (categoricals as their values)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    if not (col.dtype == object or pd.api.types.is_string_dtype(col)):
        return col
    if pd.api.types.infer_dtype(col, skipna=True) not in ("string", "empty", "mixed", "mixed-integer"):
        return col
    return pd.Series([safe_text(x) for x in col], index=col.index, name=col.name, dtype=object)


def _reference_csv(df: pd.DataFrame) -> str:
    """main's csv_text (a full copy, each column escaped by the scalar rule)."""
    out = df.copy()
    for c in out.columns:
        out[c] = _reference_escape(out[c])
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d").fillna("")
    return out.to_csv(index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)


# text that often starts like a formula, a quote or whitespace, and otherwise anything at all
_LEADS = st.sampled_from(["", "'", "''", "=", "+", "-", "@", "\t", "\r", "\n", " ", "  =", "\u3000+", "\xa0-", "\x1c@",
                          "\u2028=", "\x85", " x", "\u200b=", "-1", "µ", "é"])
TEXTS = st.builds(lambda a, b: a + b, _LEADS, st.text(max_size=8))
CELLS = st.one_of(TEXTS, st.none(), st.just(np.nan), st.integers(-5, 5), st.floats(allow_nan=False), st.booleans())


def test_the_space_table_is_what_the_regular_expression_calls_whitespace():
    spaces = {chr(c) for c in range(sys.maxunicode + 1) if re.match(r"\s", chr(c))}
    assert set(w._SPACES) == spaces


@settings(max_examples=400, deadline=None)
@given(st.lists(TEXTS, max_size=30))
def test_escaping_text_columns_matches_the_scalar_rule(texts):
    col = pd.Series(texts, dtype=object)
    assert escape_texts(col).tolist() == [safe_text(x) for x in texts]
    assert escape_texts(pd.Series(texts, dtype="str")).tolist() == [safe_text(x) for x in texts]


@settings(max_examples=400, deadline=None)
@given(st.lists(CELLS, max_size=30))
def test_escaping_mixed_columns_matches_the_scalar_rule(cells):
    col = pd.Series(cells, dtype=object)
    got, want = escape_texts(col), _reference_escape(col)
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a is b or a == b or (a != a and b != b), (a, b)


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXTS, max_size=20))
def test_unescaping_undoes_escaping_and_matches_the_scalar_rule(texts):
    escaped = escape_texts(pd.Series(texts, dtype=object)).to_numpy(dtype=object)
    assert unescape_texts(escaped).tolist() == texts
    raw = np.array(texts, dtype=object)
    assert unescape_texts(raw).tolist() == [unescape_text(x) for x in texts]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(TEXTS, CELLS, st.sampled_from(["a", "=b", " -c", None])), max_size=25))
def test_csv_text_is_byte_identical_to_the_scalar_writer(rows):
    df = pd.DataFrame(rows, columns=["text", "mixed", "few"])
    df["n"] = np.arange(len(df), dtype=float) / 3
    df["cat"] = df["few"].astype("category")
    df["when"] = pd.to_datetime(pd.Series(["2026-01-05", None] * len(df), dtype=object)[: len(df)].to_numpy())
    assert csv_text(df) == _reference_csv(df)


def test_a_categorical_column_is_escaped_like_its_values():
    col = pd.Series(["=1+1", "ok", "=1+1", None, "'x"], dtype="category")
    got = escape_texts(col)
    assert isinstance(got.dtype, pd.CategoricalDtype)
    assert got.astype(object).tolist()[:3] == ["'=1+1", "ok", "'=1+1"] and got.astype(object).tolist()[4] == "''x"


def test_the_streamed_file_is_the_text_with_a_byte_order_mark(tmp_path):
    df = pd.DataFrame({"s": ["=x", "µ", "a\r\nb"] * 50_000, "v": np.arange(150_000) / 7})
    write_csv_file(df, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes() == ("\ufeff" + _reference_csv(df)).encode("utf-8")


def test_the_writer_leaves_its_input_unchanged():
    df = pd.DataFrame({"s": ["=x", "y"], "d": pd.to_datetime(["2026-01-01", None])})
    before = df.copy()
    csv_text(df)
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("cells", [[], [None, None], [np.nan], ["", ""]], ids=["none", "nones", "nan", "empty"])
def test_columns_with_nothing_to_escape_come_back_as_they_were(cells):
    col = pd.Series(cells, dtype=object)
    assert escape_texts(col) is col


# ---- the column-wise CSV encoder against pandas' to_csv ----------------------------------------

ANY_TEXT = st.one_of(TEXTS, st.text(alphabet=st.sampled_from(',"\r\n ab\x00é\u2028'), max_size=6), st.text(max_size=6))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.1, 1e-5, 1e16, 123456789.125, -0.0]))


@st.composite
def _tables(draw):
    n = draw(st.integers(0, 12))
    texts = draw(st.lists(st.one_of(ANY_TEXT, st.none()), min_size=n, max_size=n))
    floats = draw(st.lists(FLOATS, min_size=n, max_size=n))
    ints = draw(st.lists(st.integers(-10**15, 10**15), min_size=n, max_size=n))
    few = draw(st.lists(st.sampled_from(["x", "y,z", 'q"', None]), min_size=n, max_size=n))
    dates = draw(st.lists(st.one_of(st.dates(), st.none()), min_size=n, max_size=n))
    df = pd.DataFrame({"text": pd.Series(texts, dtype=object), "f": np.array(floats, dtype=float), "i": np.array(ints, dtype=np.int64),
                       "few": pd.Series(few, dtype="str"), "date": pd.Series(dates, dtype=object)})
    df["cat"] = df["few"].astype("category")
    df["nullable"] = pd.array([None if k % 3 == 0 else v for k, v in enumerate(ints)], dtype="Int64")
    df["flag"] = np.array([v % 2 == 0 for v in ints], dtype=bool)
    df["t,x"] = df["text"]
    df["maybe"] = pd.Series([None if k % 3 == 0 else v % 2 == 0 for k, v in enumerate(ints)], dtype=object)
    df["intobj"] = pd.Series([None if k % 4 == 0 else v for k, v in enumerate(ints)], dtype=object)
    cols = draw(st.lists(st.sampled_from(list(df.columns)), min_size=2, max_size=8, unique=True))
    return df[cols]


@settings(max_examples=300, deadline=None)
@given(_tables())
def test_the_column_wise_encoder_writes_what_pandas_writes(df):
    from btm.io._csvout import _encoders

    prepared = w._prepared(df)
    want = prepared.to_csv(index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    assert csv_text(df) == want
    assert _encoders(df, w._escape_distinct) is not None  # (every column here is encoded, none falls back to pandas)


def test_chunks_join_into_the_same_text(monkeypatch):
    import btm.io._csvout as out

    df = pd.DataFrame({"s": [f"a{k % 7}" if k % 5 else "=x,y" for k in range(1000)], "v": np.arange(1000) / 3})
    whole = csv_text(df)
    monkeypatch.setattr(out, "CHUNK_ROWS", 7)
    assert csv_text(df) == whole == _reference_csv(df)


def test_repeated_numbers_are_formatted_once_and_written_as_pandas_writes_them():
    vals = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 0.1, 1e16, 2.5e-7, 45.0] * 40)
    df = pd.DataFrame({"v": vals, "s": ["a", "b,c", "=d"] * 120, "b": pd.Series([True, None, False] * 120, dtype=object)})
    assert csv_text(df) == _reference_csv(df)
    assert "-0.0" in csv_text(df)


@st.composite
def _repetitive_tables(draw):
    """Many rows drawn from few distinct cells per column, so neighbouring coded columns merge."""
    n = draw(st.integers(16, 300))
    pick = st.lists(st.integers(0, 2), min_size=n, max_size=n)
    texts = draw(st.lists(st.one_of(ANY_TEXT, st.none()), min_size=3, max_size=3))
    floats = draw(st.lists(FLOATS, min_size=3, max_size=3))
    few = draw(st.lists(st.sampled_from(["x", "y,z", 'q"', "=1", None]), min_size=3, max_size=3))
    df = pd.DataFrame({"text": pd.Series([texts[k] for k in draw(pick)], dtype=object),
                       "f": np.array([floats[k] for k in draw(pick)], dtype=float),
                       "few": pd.Series([few[k] for k in draw(pick)], dtype="str"),
                       "g": np.array([floats[k] for k in draw(pick)], dtype=float)})
    df["cat"] = pd.Series([few[k] for k in draw(pick)], dtype="str").astype("category")
    df["many"] = np.arange(n) / 7  # (distinct numbers: not coded, breaks a run)
    cols = draw(st.permutations(list(df.columns)))
    return df[cols]


@settings(max_examples=200, deadline=None)
@given(_repetitive_tables(), st.sampled_from([5, 64, 20_000]))
def test_merged_neighbouring_columns_write_what_pandas_writes(df, chunk):
    import btm.io._csvout as out

    want = w._prepared(df).to_csv(index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    old = out.CHUNK_ROWS
    out.CHUNK_ROWS = chunk
    try:
        assert csv_text(df) == want
    finally:
        out.CHUNK_ROWS = old


def test_neighbouring_coded_columns_are_merged():
    from btm.io._csvout import _encoders, _merged

    df = pd.DataFrame({"a": ["x", "y,z"] * 500, "b": [0.5, np.nan] * 500, "c": pd.Series(['q"', None] * 500, dtype="str"), "d": np.arange(1000) / 7.0})
    encs = _encoders(df, w._escape_distinct)
    assert len(_merged(encs, len(df))) == 2
    assert csv_text(df) == _reference_csv(df)
