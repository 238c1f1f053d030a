"""Writing tables for people: CSV that opens cleanly in Excel and cannot attack its reader."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "safe_text", "unescape_text", "write_csv"]

#: Text starting with one of these is read as a formula by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: object) -> object:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def unescape_text(value: object) -> object:
    """Undo :func:`safe_text` when btm reads its own CSV back."""
    if isinstance(value, str) and value.startswith("'") and value[1:2] and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write a table as UTF-8 CSV with a byte-order mark (so Excel shows µ), text cells escaped."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(safe_text)
    if "sample_date" in out and pd.api.types.is_datetime64_any_dtype(out["sample_date"]):
        out["sample_date"] = out["sample_date"].dt.strftime("%Y-%m-%d").fillna("")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
