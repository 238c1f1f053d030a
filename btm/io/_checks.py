"""The whole table after every sheet is loaded: one frame in the tidy columns, then the checks
that look across rows and files (values 1000x off, duplicates)."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import numpy as np
import pandas as pd

from .._groupwise import shared_texts
from ._tables import OPTIONAL_COLUMNS, TIDY_COLUMNS, Problems

__all__ = ["finish", "flag_magnitude", "report_duplicates"]


def finish(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    if chunks:
        data = pd.concat(chunks, ignore_index=True, sort=False)
    else:
        data = pd.DataFrame(columns=TIDY_COLUMNS)
    # text columns every chunk has (or that are added whole) hold no missing values: chunks are
    # built from cell text, never None; only a column some chunks lack has NaN to fill
    complete = {c for c in data.columns if all(c in ch.columns for ch in chunks)}
    for c in TIDY_COLUMNS:
        if c not in data:
            data[c] = np.nan if c in ("age", "egfr", "value") else ""
            complete.add(c)
    extra = [c for c in OPTIONAL_COLUMNS if c in data]
    data = data[TIDY_COLUMNS + extra]
    text_cols = [c for c in TIDY_COLUMNS + extra if c not in ("value", "age", "egfr", "source_row", "sample_date")]
    for c in text_cols:
        if c in complete and isinstance(data[c].dtype, pd.StringDtype):
            continue  # already text, nothing missing (filling would scan every cell for nothing)
        data[c] = data[c].fillna("").astype(str)
    for c in text_cols:
        data[c] = shared_texts(data[c])
    data["value"] = data["value"].astype(float)
    data["age"] = pd.to_numeric(data["age"], errors="coerce")
    data["egfr"] = pd.to_numeric(data["egfr"], errors="coerce")
    data["source_row"] = pd.to_numeric(data["source_row"], errors="coerce").astype("Int64")
    data["sample_date"] = _to_datetime(data["sample_date"])
    return data


def _to_datetime(col: pd.Series) -> pd.Series:
    """Dates (datetime.date, text, None) -> datetime64, converting each distinct value once."""
    codes, uniques = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
    conv = pd.to_datetime(pd.Series([_to_ts(d) for d in uniques] + [pd.NaT], dtype="object"), errors="coerce")
    out = conv.iloc[np.where(codes < 0, len(uniques), codes)]
    out.index = col.index
    return out


def _to_ts(d: Any) -> Any:
    if d is None or (isinstance(d, float) and math.isnan(d)) or d == "":
        return pd.NaT
    if isinstance(d, _dt.date):
        return pd.Timestamp(d)
    return d


def flag_magnitude(data: pd.DataFrame, problems: Problems) -> None:
    """Flag values 1000x off: closer (log scale) to every published interval x/÷1000 than to itself."""
    if data.empty:
        return
    from ..ranges import plausible_bounds

    bounds = plausible_bounds()
    marker = data["marker"].to_numpy(dtype=object)
    unit = data["unit"].to_numpy(dtype=object)
    value = data["value"].to_numpy(dtype=float)
    # (marker, unit) pairs in order of first appearance, as groupby(sort=False) gives them
    codes = _group_codes([marker, unit])
    first = np.unique(codes, return_index=True)[1]
    flags = None
    for k in np.argsort(first, kind="stable"):
        m, u = marker[first[k]], unit[first[k]]
        b = bounds.get((m, u))
        if b is None:
            continue
        lo, hi = b
        off = np.flatnonzero((codes == k) & ((value > hi * math.sqrt(1000)) | (value < lo / math.sqrt(1000))))
        if not off.size:
            continue
        if flags is None:
            flags = data["flags"].to_numpy(dtype=object).copy()
            src = [data[c].to_numpy(dtype=object) for c in ("source_file", "source_sheet", "source_row", "source_column", "raw_value")]
        for i in off:
            flags[i] = _add_flag(flags[i], "UNIT_MAGNITUDE")
            problems.add(
                "warning", src[0][i], src[1][i], _row(src[2][i]), src[3][i], src[4][i],
                f"{m} {value[i]:g} {u} is about 1000x outside every published interval ({lo:g}–{hi:g} {u}): is the unit right?",
            )
    if flags is not None:
        data["flags"] = pd.Series(flags, index=data.index, dtype=data["flags"].dtype)


def _row(x: Any) -> int | None:
    """A source row for the problem list: None when the table has none (a tidy table without it)."""
    return None if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)) else int(x)


def _group_codes(columns: list[np.ndarray]) -> np.ndarray:
    """A small non-negative integer per distinct combination of the columns' values (equal rows, equal codes)."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    size = 1
    for col in columns:
        if len(col) and bool((col == col[0]).all()):
            continue  # one value throughout (often specimen, kind): nothing to tell apart
        c, u = pd.factorize(col)
        c = np.where(c < 0, len(u), c)  # missing values are a value of their own
        width = len(u) + 1
        if size * width >= 2**62:
            key, uniq = pd.factorize(key)
            size = len(uniq)
        key = key * width + c
        size *= width
    return pd.factorize(key)[0] if size > 1 else key


def _add_flag(flags: str, code: str) -> str:
    parts = [f for f in flags.split(";") if f]
    if code not in parts:
        parts.append(code)
    return ";".join(parts)


def report_duplicates(data: pd.DataFrame, problems: Problems) -> None:
    """Same subject, timepoint, marker and specimen more than once: report, keep all."""
    if data.empty:
        return
    keys = ["subject_id", "timepoint", "marker", "specimen", "kind"]
    key = _group_codes([data[k].to_numpy(dtype=object) for k in keys])
    dup = np.flatnonzero(np.bincount(key)[key] > 1)
    if not dup.size:
        return
    groups: dict[int, list[int]] = {}
    for i in dup:  # groups in order of first appearance, rows in table order (as groupby(sort=False))
        groups.setdefault(int(key[i]), []).append(int(i))
    col = {c: data[c].to_numpy(dtype=object) for c in ("source_file", "source_sheet", "source_row", "source_column", "raw_value", "subject_id", "timepoint", "marker")}
    value = data["value"].to_numpy(dtype=float)
    flags = data["flags"].to_numpy(dtype=object).copy()
    for rows in groups.values():
        vals = value[rows]
        same = np.allclose(vals, vals[0], rtol=1e-9)
        where = "; ".join(f"{col['source_file'][r]}" + (f" [{col['source_sheet'][r]}]" if col["source_sheet"][r] else "") + f" row {col['source_row'][r]}" for r in rows)
        what = "the same value" if same else "different values " + ", ".join(f"{v:g}" for v in vals)
        for r in rows:
            flags[r] = _add_flag(flags[r], "DUPLICATE")
            problems.add(
                "warning", col["source_file"][r], col["source_sheet"][r], _row(col["source_row"][r]), col["source_column"][r], col["raw_value"][r],
                f"duplicate: subject {col['subject_id'][r]!r}, timepoint {col['timepoint'][r]!r}, {col['marker'][r]} appears {len(rows)} times with {what} ({where}); all kept, none averaged",
            )
    data["flags"] = pd.Series(flags, index=data.index, dtype=data["flags"].dtype)


def harmonise_labels(data: pd.DataFrame, problems: Problems) -> None:
    """Visit and arm labels that differ only in case or spacing (``Week 12``, ``week 12``, ``Week12``)
    are one label: the most frequent spelling is used for all of them, with a notice naming every
    spelling. Otherwise ``week 12`` and ``Week 12`` would be two visits and pairs would vanish."""
    if data.empty:
        return
    for col, what in (("timepoint", "visit"), ("group", "arm")):
        values = data[col]
        labels = pd.unique(values.to_numpy(dtype=object))
        if len(labels) < 2:
            continue
        keys = ["".join(str(v).split()).casefold() for v in labels]  # once per distinct label
        if len(set(keys)) == len(keys):
            continue  # (the usual case: nothing to merge)
        counts = values[values != ""].value_counts(sort=False)
        key = pd.Series(["".join(str(v).split()).casefold() for v in counts.index], index=counts.index)
        groups = key.groupby(key.to_numpy()).groups
        rename: dict[str, str] = {}
        for spellings in groups.values():
            if len(spellings) < 2:
                continue
            c = counts.loc[list(spellings)]
            keep = c.idxmax()  # the most frequent (the first of equals)
            rename.update({s: keep for s in spellings if s != keep})
            problems.add("warning", "", "", None, col, keep,
                         f"{what} labels {', '.join(repr(s) for s in spellings)} differ only in case or spacing: all read as {keep!r}")
        if rename:
            data[col] = values.astype(str).replace(rename).astype(data[col].dtype)


def report_conflicts(data: pd.DataFrame, problems: Problems) -> None:
    """A subject whose sex differs between rows, or whose arm changes between visits: a warning
    naming the subject and the values (the rows are kept as they are). Found by codes, not per row."""
    if data.empty or "subject_id" not in data:
        return
    subject, subjects = pd.factorize(data["subject_id"].to_numpy(dtype=object))
    for col, what in (("sex", "sex"), ("group", "arm")):
        if col not in data:
            continue
        values = data[col].to_numpy(dtype=object)
        code, uniq = pd.factorize(values)
        if len(uniq) < 2:
            continue
        filled = values != ""
        pairs = np.unique(subject[filled].astype(np.int64) * (len(uniq) + 1) + code[filled])
        per_subject = np.bincount(pairs // (len(uniq) + 1), minlength=len(subjects))
        for k in np.flatnonzero(per_subject > 1):
            rows = data.loc[(subject == k) & filled, [col, "timepoint", "source_file"]].drop_duplicates(col)
            sid = subjects[k]
            shown = ", ".join(f"{v!r}" + (f" at {tp!r}" if col == "group" and tp else "") for v, tp in zip(rows[col], rows["timepoint"], strict=True))
            consequence = "; visits in different arms are not paired" if col == "group" else ""
            problems.add("warning", rows["source_file"].iat[0], "", None, col, str(sid),
                         f"subject {sid!r} has more than one {what}: {shown}{consequence}")
