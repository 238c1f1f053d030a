"""Group-wise helpers for the compute path: work once per distinct value or group, never per row.

Tidy tables repeat a few texts (markers, visits, flags, notes) over hundreds of thousands of rows;
these helpers factorize a column once, apply a function to its distinct values and spread the
answer back with one ``take``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["codes_of", "count_distinct", "counts_per_row", "distinct", "first_of_each", "group_codes", "groups_of", "joined_in_order", "narrow_codes",
           "per_unique", "repack_texts", "shared_texts"]


def distinct(codes: np.ndarray) -> np.ndarray:
    """Sorted distinct values of non-negative integer codes (``np.unique``, by counting: no hashing)."""
    return np.flatnonzero(np.bincount(codes)) if len(codes) else np.zeros(0, dtype=np.int64)


def count_distinct(codes: np.ndarray) -> int:
    """How many distinct non-negative integer codes."""
    return int(np.count_nonzero(np.bincount(codes))) if len(codes) else 0


def counts_per_row(keys: np.ndarray) -> np.ndarray:
    """For each row, how many rows share its non-negative integer key."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    if int(keys.max()) <= 8 * len(keys) + 1024:
        return np.bincount(keys)[keys]
    _, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inv]


def first_of_each(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct keys, position of each one's first row): ``np.unique(keys, return_index=True)`` by a stable sort."""
    order = np.argsort(keys, kind="stable")
    s = keys[order]
    head = np.r_[True, s[1:] != s[:-1]] if len(s) else np.zeros(0, dtype=bool)
    return s[head], order[head]


def narrow_codes(codes: np.ndarray, size: int) -> np.ndarray:
    """Codes in ``[0, size)`` in the smallest unsigned type that holds them: one byte per row for a
    column of a few distinct texts (for codes held across a long step)."""
    for t in (np.uint8, np.uint16, np.uint32):
        if size <= np.iinfo(t).max + 1:
            return codes.astype(t, copy=False)
    return codes.astype(np.int64, copy=False)


def per_unique(s: pd.Series, fn: Callable[[pd.Series], Any]) -> np.ndarray:
    """``fn`` applied to the distinct values of ``s`` (NaN included), spread back to every row.

    ``fn`` must work element by element (a vectorised string method, a comparison): then the
    answer equals ``np.asarray(fn(s))``.
    """
    codes, uniq = pd.factorize(s, use_na_sentinel=False)
    res = np.asarray(fn(pd.Series(uniq)))
    return res[codes]


def codes_of(s: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values) in order of first appearance; NaN is a value of its own."""
    codes, uniq = pd.factorize(s, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), np.asarray(uniq, dtype=object)


def group_codes(*columns: pd.Series | np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Codes of the distinct combinations of ``columns`` in order of first appearance.

    Returns (codes per row, number of groups, index of each group's first row); the numbering is
    that of ``DataFrame.groupby(columns, sort=False).ngroup()`` when no key is missing.
    """
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        c, u = pd.factorize(col, use_na_sentinel=False)
        m = max(len(u), 1)
        if (int(key.max(initial=0)) + 1) * m >= 2**62:  # keep the mixed-radix key exact
            key = pd.factorize(key)[0].astype(np.int64)
        key = key * m + c
    codes, uniq = pd.factorize(key)
    n = len(uniq)
    first = np.full(n, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
    return codes.astype(np.int64, copy=False), n, first


def joined_in_order(gcode: np.ndarray, ngroups: int, values: np.ndarray, sep: str = ",") -> tuple[np.ndarray, list[str]]:
    """Per group: its distinct non-empty ``values`` in row order, joined by ``sep``.

    Returns (pattern code per group, text per pattern code): groups sharing the same sequence of
    values share a code, so callers can derive further text once per pattern.
    """
    vcode, vuniq = pd.factorize(values, use_na_sentinel=True)
    keep = np.flatnonzero((vcode >= 0) & (np.asarray(values, dtype=object) != ""))
    g, v = gcode[keep], vcode[keep]
    # first occurrence of each (group, value), in row order
    pair = g * (len(vuniq) + 1) + v
    _, first = first_of_each(pair)
    first.sort()
    g, v = g[first], v[first]
    order = np.argsort(g, kind="stable")
    g, v = g[order], v[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1] if len(g) else np.zeros(0, dtype=np.int64)
    rank = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    base = len(vuniq) + 1
    width = int(rank.max(initial=-1)) + 1
    seqs: np.ndarray
    if width and base ** width < 2**62:
        key = np.zeros(ngroups, dtype=np.int64)
        np.add.at(key, g, (v + 1) * base ** rank)
        pat, pu = pd.factorize(key)
        texts = []
        for k in pu:
            parts = []
            while k:
                k, d = divmod(int(k), base)
                parts.append(str(vuniq[d - 1]))
            texts.append(sep.join(parts))
        return pat.astype(np.int64), texts
    seqs = np.empty(ngroups, dtype=object)
    seqs[:] = ""
    for gi, vi in zip(g, v, strict=True):  # pragma: no cover - more distinct values than an int64 key holds
        seqs[gi] = (seqs[gi] + sep if seqs[gi] else "") + str(vuniq[vi])
    pat, pu = pd.factorize(seqs)
    return pat.astype(np.int64), [str(x) for x in pu]


def groups_of(frame: pd.DataFrame, keys: Sequence[str]) -> list[tuple[tuple[Any, ...], np.ndarray]]:
    """(key values, row positions) per group, like ``frame.groupby(keys, sort=False, dropna=False)``:
    groups in order of first appearance, rows in table order."""
    if not len(frame):
        return []
    codes, n, first = group_codes(*(frame[k] for k in keys))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n + 1))
    values = [frame[k].iloc[first].to_numpy(dtype=object) for k in keys]
    return [(tuple(v[i] for v in values), order[bounds[i]:bounds[i + 1]]) for i in range(n)]


def shared_texts(col: pd.Series) -> pd.Series:
    """``col`` with one text object per distinct value. Columns built cell by cell (a marker name
    repeated on 400,000 rows) hold a separate string per cell, ~55 bytes each; sharing them keeps
    the table's memory to its pointers. Judged on the first 2,048 cells, so a column that is
    already shared, or all distinct, costs nothing. Values and dtype are unchanged."""
    arr = col.to_numpy(dtype=object)
    head = arr[:2048]
    if len(set(map(id, head))) <= 2 * len(set(head)):
        return col
    codes, uniques = pd.factorize(arr, use_na_sentinel=False)
    return pd.Series(np.asarray(uniques, dtype=object)[codes], index=col.index, dtype=col.dtype, name=col.name)


def repack_texts(frames: Sequence[pd.DataFrame], release: Callable[[], None] = lambda: None) -> None:
    """Give the text columns of ``frames`` new string objects, made after the old ones are freed.

    Reading a file makes a string per cell; the few that live on (subject ids, raw values,
    labels) sit scattered among the freed ones, and each keeps its block of the interpreter's
    small-object memory (1 MiB arenas) from being returned: after a 400,000-result import about
    60 MiB stays held for some 2 MiB of live text. Here each column's distinct texts are packed
    into one string (held outside those arenas), the columns and then ``release`` (caches keyed by
    cell text) drop the old objects, and the texts are cut out again, side by side. Values,
    dtypes and column order are unchanged; columns that hold anything but ``str`` are left alone.
    """
    packed = []
    for frame in frames:
        for j in range(frame.shape[1]):
            col = frame.iloc[:, j]
            if not (col.dtype == object or isinstance(col.dtype, pd.StringDtype)) or not len(col):
                continue
            codes, uniques = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=False)
            if not all(type(u) is str for u in uniques):
                continue
            lengths = np.fromiter(map(len, uniques), dtype=np.int64, count=len(uniques))
            packed.append((frame, j, col.dtype, narrow_codes(codes, len(uniques)), "".join(uniques) + "\n", lengths))  # (longer than any one text: every cut is a new string)
            del codes, uniques, col
    placeholder = {}
    for frame, j, *_ in packed:  # the old objects go with the columns (a one-byte column holds the place)
        n = len(frame)
        if n not in placeholder:
            placeholder[n] = np.zeros(n, dtype=np.int8)
        frame.isetitem(j, placeholder[n])
    release()
    for frame, j, dtype, codes, text, lengths in packed:
        ends = np.cumsum(lengths)
        texts = np.empty(len(lengths), dtype=object)
        texts[:] = [text[a:b] for a, b in zip((ends - lengths).tolist(), ends.tolist(), strict=True)]
        frame.isetitem(j, pd.Series(texts[codes], index=frame.index, dtype=dtype))
