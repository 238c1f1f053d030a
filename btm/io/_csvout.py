"""CSV text of a table, byte for byte what ``DataFrame.to_csv(index=False, lineterminator="\\r\\n")``
writes (QUOTE_MINIMAL), without its per-cell work.

pandas formats every cell and hands each row to the csv module, which scans every field for
characters to quote. Here each column is encoded once, by whole-column operations:

* text, categorical, date, boolean and integer object columns: the distinct values are found (a hash pass), each one is
  quoted as the csv module would (a field holding ``,``, ``"``, CR or LF is quoted, quotes
  doubled), and the rows take their value's encoding (no new string per cell);
* float columns: numpy's text of the numbers (what pandas writes), NaN empty; integer and
  nullable-integer columns likewise.

Neighbouring columns of few distinct cells are merged into one (their cells joined once per
distinct combination), so each row joins fewer fields. Rows are joined in chunks (``",".join`` over the columns, in C) and written as they are made, so
the text of a whole table is never held. A table this module does not handle (a column of mixed
objects, a single column, column labels that are not plain text) is written by pandas. tests/test_write.py compares
the two on generated tables.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import IO

import numpy as np
import pandas as pd

from .._groupwise import narrow_codes

__all__ = ["write_table"]

CHUNK_ROWS = 20_000
_OPTIONS = {"index": False, "lineterminator": "\r\n", "quoting": csv.QUOTE_MINIMAL}
_QUOTE_CHARS = (",", '"', "\r", "\n")

Encoder = Callable[[int, int], np.ndarray]  # rows [i, j) -> the cells' CSV text (object array of str)
Escape = Callable[[np.ndarray], np.ndarray]  # distinct texts -> the same, escaped for spreadsheets


def write_table(df: pd.DataFrame, fh: IO[str], *, escape: Escape, prepare: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Write ``df`` as CSV text to the text stream ``fh``: its text cells through ``escape`` (applied
    to distinct texts), dates as ISO text. A table the encoders do not handle is written by pandas
    after ``prepare`` (which must escape and format the same way)."""
    plain = df.shape[1] > 1 and not isinstance(df.columns, pd.MultiIndex) and all(isinstance(c, str) for c in df.columns)
    encoders = _encoders(df, escape) if plain else None
    if encoders is None:
        prepare(df).to_csv(fh, **_OPTIONS)
        return
    head = io.StringIO()
    csv.writer(head, lineterminator="\r\n").writerow(list(df.columns))
    fh.write(head.getvalue())
    n = len(df)
    encoders = _merged(encoders, n)
    for i in range(0, n, CHUNK_ROWS):
        j = min(n, i + CHUNK_ROWS)
        cells = [enc(i, j) for enc in encoders]
        fh.write("\r\n".join(map(",".join, zip(*cells, strict=True))))
        fh.write("\r\n")


def _encoders(df: pd.DataFrame, escape: Escape) -> list[Encoder] | None:
    out = []
    for k in range(df.shape[1]):
        enc = _encoder(df.iloc[:, k], escape)
        if enc is None:
            return None
        out.append(enc)
    return out


def _encoder(col: pd.Series, escape: Escape) -> Encoder | None:
    """The encoder of one column, or None when pandas must write the table."""
    dtype = col.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return _float_encoder(col.to_numpy())
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        values = col.to_numpy()
        return lambda i, j: values[i:j].astype(str).astype(object)
    if isinstance(dtype, pd.Int64Dtype | pd.Int32Dtype | pd.Int16Dtype | pd.Int8Dtype):
        data, mask = col.array._data, col.array._mask
        return _masked(lambda i, j: data[i:j].astype(str).astype(object), mask)
    if pd.api.types.is_datetime64_any_dtype(dtype):  # ISO dates, as text (never escaped)
        return _texts_encoder(col.dt.strftime("%Y-%m-%d").to_numpy(dtype=object), "string", None)
    if isinstance(dtype, pd.CategoricalDtype):
        cats = np.asarray(col.cat.categories, dtype=object)
        kind = pd.api.types.infer_dtype(cats, skipna=True)
        if kind not in ("string", "empty", "date"):
            return None
        texts = escape(cats) if kind == "string" else np.array([str(x) for x in cats], dtype=object)
        return _coded(col.cat.codes.to_numpy(), _quoted(texts))
    if (isinstance(dtype, np.dtype) and dtype.kind == "O") or pd.api.types.is_string_dtype(dtype):
        kind = pd.api.types.infer_dtype(col, skipna=True)
        if kind not in ("string", "empty", "date", "boolean", "integer"):
            return None  # floats or mixed objects: pandas decides how each is written
        return _texts_encoder(col.to_numpy(dtype=object), kind, escape)
    return None


def _texts_encoder(values: np.ndarray, kind: str, escape: Escape | None) -> Encoder:
    """Text (escaped when ``escape`` is given), dates, booleans or integers held as objects: each
    distinct value encoded once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.asarray(uniques, dtype=object)
    if kind != "string":
        texts = np.array([str(x) for x in texts], dtype=object)  # (one per distinct value, as the csv module does)
    elif escape is not None:
        texts = escape(texts)
    return _coded(codes, _quoted(texts))


def _float_encoder(values: np.ndarray) -> Encoder:
    """numpy's text of each number (what pandas writes), NaN empty; each distinct number (by its
    bits: -0.0 is not 0.0) formatted once when at most half the numbers are distinct."""
    bits = values.view(np.int64) if values.dtype == np.float64 else None
    if bits is not None:
        codes, uniq = pd.factorize(bits)
        if len(uniq) * 2 <= len(values):
            u = uniq.view(np.float64)
            texts = u.astype(str).astype(object)
            texts[np.isnan(u)] = ""
            return _coded(codes, texts)

    def enc(i: int, j: int) -> np.ndarray:
        v = values[i:j]
        out = v.astype(str).astype(object)
        out[np.isnan(v)] = ""
        return out

    return enc


def _masked(enc: Encoder, mask: np.ndarray) -> Encoder:
    def masked(i: int, j: int) -> np.ndarray:
        out = enc(i, j)
        out[mask[i:j]] = ""
        return out

    return masked


class _Coded:
    """Rows take the encoded text of their code (``codes`` index ``table``)."""

    def __init__(self, codes: np.ndarray, table: np.ndarray) -> None:
        self.codes, self.table = codes, table

    def __call__(self, i: int, j: int) -> np.ndarray:
        return self.table[self.codes[i:j]]


def _coded(codes: np.ndarray, texts: np.ndarray) -> Encoder:
    """Rows take the encoded text of their code; code -1 (missing) is empty."""
    table = np.append(texts, "").astype(object)
    return _Coded(narrow_codes(np.where(codes < 0, len(texts), codes), len(table)), table)


def _merged(encoders: list[Encoder], n: int) -> list[Encoder]:
    """Neighbouring coded columns joined into one coded column (their cells joined by ``,`` once
    per distinct combination) while the combinations stay few (at most ``n // 8``): fewer fields
    for the row joins, the same text."""
    out: list[Encoder] = []
    for enc in encoders:
        last = out[-1] if out else None
        if isinstance(enc, _Coded) and isinstance(last, _Coded) and len(last.table) * len(enc.table) < 2**62:
            both = last.codes.astype(np.int64) * len(enc.table) + enc.codes
            codes, uniq = _factorized(both, len(last.table) * len(enc.table))
            if len(uniq) <= n // 8:
                texts = map(",".join, zip(last.table[uniq // len(enc.table)], enc.table[uniq % len(enc.table)], strict=True))
                out[-1] = _Coded(narrow_codes(codes, len(uniq)), np.fromiter(texts, dtype=object, count=len(uniq)))
                continue
        out.append(enc)
    return out


def _factorized(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes in ``[0, size)`` renumbered ``0..k-1`` over the values present, and those values."""
    if size > 4 * len(codes) + 1024:
        return pd.factorize(codes)
    present = np.zeros(size, dtype=bool)
    present[codes] = True
    return (np.cumsum(present) - 1)[codes], np.flatnonzero(present)


def _quoted(texts: np.ndarray) -> np.ndarray:
    """Each text as the csv module writes a field (QUOTE_MINIMAL, the default dialect): quoted, its
    quotes doubled, when it holds a delimiter, a quote or a line break (vectorised)."""
    out = texts.copy()
    if not len(texts):
        return out
    try:
        s = texts.astype(np.dtypes.StringDType())
    except (UnicodeError, ValueError, TypeError):  # (text numpy cannot hold, such as lone surrogates)
        need = np.fromiter((any(ch in t for ch in _QUOTE_CHARS) for t in texts), dtype=bool, count=len(texts))
        out[need] = ['"' + t.replace('"', '""') + '"' for t in texts[need]]
        return out
    need = np.zeros(len(texts), dtype=bool)
    for ch in _QUOTE_CHARS:
        need |= np.strings.find(s, ch) >= 0
    if need.any():
        q = np.strings.add(np.strings.add('"', np.strings.replace(s[need], '"', '""')), '"')
        out[need] = q.astype(object)
    return out
