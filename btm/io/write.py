"""Writing tables for people: CSV that opens cleanly in Excel and cannot attack its reader.

* Text that a spreadsheet program would run as a formula (OWASP "CSV injection"): a cell that
  starts with ``=``, ``+``, ``-`` or ``@`` (also after leading spaces, tabs or line breaks), or
  with a tab or carriage return, gets a leading apostrophe, and so does text that really starts
  with an apostrophe, so that reading btm's own CSV back (:func:`unescape_texts`) restores every
  value exactly. Whole columns are escaped at once (no per-cell Python).
* Rows end with CRLF (RFC 4180), so a cell holding a line break of either kind is quoted and never
  splits its row; every row has the header's width.
* The file is written to a temporary file beside the target and moved into place when complete
  (:func:`btm.io.outputs.atomic_path`): an interrupted run leaves the previous file whole.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["FORMULA_PREFIXES", "csv_text", "escape_texts", "safe_text", "unescape_text", "unescape_texts", "write_csv", "write_csv_file"]

#: Text starting with one of these is read as a formula by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# escaped: an apostrophe first (so the escape can be undone exactly), a formula character after
# any leading whitespace, or a tab or carriage return first
_NEEDS_ESCAPE = re.compile(r"^(?:'|\s*[=+\-@]|[\t\r])")
_ESCAPED = re.compile(r"^'(?:'|\s*[=+\-@]|[\t\r])")


def safe_text(value: object) -> object:
    """One value as :func:`escape_texts` writes it."""
    if isinstance(value, str) and _NEEDS_ESCAPE.match(value):
        return "'" + value
    return value


def unescape_text(value: object) -> object:
    """Undo :func:`safe_text` when btm reads its own CSV back."""
    if isinstance(value, str) and _ESCAPED.match(value):
        return value[1:]
    return value


# the first characters that can start an escaped cell: the formula and quote characters, and every
# character Python's ``\s`` matches (whitespace before a formula character); tests/test_write.py
# checks _SPACES against the regular expression over all of Unicode
_DEFINITE = "'\t\r=+-@"
_SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_DEFINITE_CODES = np.array(sorted(map(ord, _DEFINITE)), dtype=np.uint32)
_SPACE_CODES = np.array(sorted(set(map(ord, _SPACES)) - set(map(ord, _DEFINITE))), dtype=np.uint32)


def _first_codes(values: np.ndarray) -> np.ndarray:
    """The code point of each cell's first character (0 for an empty text), in one numpy pass."""
    return values.astype("U1").view(np.uint32)


def _escape_mask(values: np.ndarray, *, all_text: bool) -> np.ndarray:
    """Which cells :func:`safe_text` escapes, vectorised: a cell starting with a formula or quote
    character is escaped outright; only cells starting with whitespace (rare) and, in columns that
    mix text with other values, the candidates are checked one by one against the rule itself."""
    try:
        codes = _first_codes(values)
    except Exception:  # an object numpy cannot turn into text: the rule, cell by cell
        return np.fromiter((safe_text(x) is not x for x in values), dtype=bool, count=len(values))
    definite = np.isin(codes, _DEFINITE_CODES)
    spaced = np.isin(codes, _SPACE_CODES)
    check = np.flatnonzero(spaced | definite) if not all_text else np.flatnonzero(spaced)
    mask = definite if all_text else np.zeros(len(values), dtype=bool)
    for k in check:
        x = values[k]
        mask[k] = isinstance(x, str) and _NEEDS_ESCAPE.match(x) is not None
    return mask


def _escaped_array(values: np.ndarray, *, all_text: bool) -> np.ndarray | None:
    """``values`` (object array) with the cells :func:`safe_text` escapes escaped; None when none is."""
    mask = _escape_mask(values, all_text=all_text)
    if not mask.any():
        return None
    out = values.copy()
    out[mask] = np.add("'", values[mask].astype(object))
    return out


def escape_texts(col: pd.Series) -> pd.Series:
    """A column with every text cell escaped as :func:`safe_text` does, by whole-column operations.

    A categorical column has its categories escaped (the escape is one-to-one, so categories stay
    distinct); numbers, booleans and dates are returned as they are."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories
        if cats.dtype == object or pd.api.types.is_string_dtype(cats.dtype):
            new = _escaped_array(np.asarray(cats, dtype=object), all_text=pd.api.types.infer_dtype(cats) == "string")
            if new is not None:
                return col.cat.rename_categories(pd.Index(new, dtype=object))
        return col
    if not (col.dtype == object or pd.api.types.is_string_dtype(col)):
        return col
    kind = pd.api.types.infer_dtype(col, skipna=True)
    if kind not in ("string", "empty", "mixed", "mixed-integer"):  # numbers, booleans, dates: nothing a spreadsheet would run
        return col
    new = _escaped_array(col.to_numpy(dtype=object), all_text=kind in ("string", "empty"))
    if new is None:
        return col
    return pd.Series(new, index=col.index, name=col.name, dtype=object)


def unescape_texts(texts: np.ndarray) -> np.ndarray:
    """An array of cell texts with btm's escape undone (the inverse of :func:`escape_texts`)."""
    out = np.asarray(texts, dtype=object).copy()
    if not len(out):
        return out
    try:
        cand = np.flatnonzero(_first_codes(out) == ord("'"))  # every escaped cell starts with an apostrophe
    except Exception:
        cand = np.arange(len(out))
    for k in cand:
        out[k] = unescape_text(out[k])
    return out


def _escape_distinct(texts: np.ndarray) -> np.ndarray:
    """Distinct texts (an object array of str) escaped as :func:`safe_text` does."""
    out = _escaped_array(texts, all_text=True)
    return texts if out is None else out


def _prepared(df: pd.DataFrame) -> pd.DataFrame:
    """The table as written: text cells escaped, dates as ISO text. Columns that change are
    replaced in a shallow copy (no copy of the other columns' data)."""
    out = df.copy(deep=False)
    for j in range(df.shape[1]):
        col = df.iloc[:, j]
        new = escape_texts(col)
        if pd.api.types.is_datetime64_any_dtype(new):
            new = new.dt.strftime("%Y-%m-%d").fillna("")
        if new is not col:
            out.isetitem(j, new)
    return out


def csv_text(df: pd.DataFrame) -> str:
    """The CSV text btm writes for a table (escaped, CRLF rows, ISO dates)."""
    from ._csvout import write_table

    buf = io.StringIO()
    write_table(df, buf, escape=_escape_distinct, prepare=_prepared)
    return buf.getvalue()


def write_csv_file(df: pd.DataFrame, path: str | Path) -> None:
    """Write the CSV text of :func:`csv_text` to ``path`` (UTF-8 with a byte-order mark), streamed
    in chunks of rows: the text of the whole table is never held in memory."""
    from ._csvout import write_table

    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        write_table(df, fh, escape=_escape_distinct, prepare=_prepared)


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write a table as UTF-8 CSV with a byte-order mark (so Excel shows µ), text cells escaped,
    atomically (a temporary file beside ``path``, moved into place when complete)."""
    from .outputs import atomic_path

    with atomic_path(path) as tmp:
        write_csv_file(df, tmp)
