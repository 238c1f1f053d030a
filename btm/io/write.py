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

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["FORMULA_PREFIXES", "escape_texts", "safe_text", "unescape_text", "unescape_texts", "write_csv"]

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


def escape_texts(col: pd.Series) -> pd.Series:
    """A column with every text cell escaped as :func:`safe_text` does, by whole-column operations."""
    if not (col.dtype == object or pd.api.types.is_string_dtype(col)):
        return col
    kind = pd.api.types.infer_dtype(col, skipna=True)
    if kind in ("string", "empty"):
        texts = col
    elif kind in ("mixed", "mixed-integer"):  # text among other values: only the text can be escaped
        texts = col[[isinstance(x, str) for x in col]]
    else:  # numbers, booleans, dates: nothing a spreadsheet would run
        return col
    mask = texts.str.match(_NEEDS_ESCAPE, na=False)
    if not mask.any():
        return col
    out = col.astype(object).copy()
    hit = mask.index[mask.to_numpy(dtype=bool)]
    out.loc[hit] = "'" + texts.loc[hit].astype(str)
    return out


def unescape_texts(texts: np.ndarray) -> np.ndarray:
    """An array of cell texts with btm's escape undone (the inverse of :func:`escape_texts`)."""
    s = pd.Series(texts, dtype=object)
    mask = s.str.match(_ESCAPED, na=False).to_numpy(dtype=bool)
    out = np.asarray(texts, dtype=object).copy()
    if mask.any():
        out[mask] = s[mask].str.slice(1).to_numpy(dtype=object)
    return out


def csv_text(df: pd.DataFrame) -> str:
    """The CSV text btm writes for a table (escaped, CRLF rows, ISO dates)."""
    out = df.copy()
    for c in out.columns:
        out[c] = escape_texts(out[c])
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d").fillna("")
    return out.to_csv(index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write a table as UTF-8 CSV with a byte-order mark (so Excel shows µ), text cells escaped,
    atomically (a temporary file beside ``path``, moved into place when complete)."""
    from .outputs import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(csv_text(df), encoding="utf-8-sig", newline="")
