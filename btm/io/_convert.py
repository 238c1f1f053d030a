"""Values to the marker's canonical unit, as the import does it: one factor per distinct unit,
12 significant digits kept, overflow and underflow refused."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..units import CanonicalValues, to_canonical

__all__ = ["SIGNIFICANT_DIGITS", "convert", "round_significant"]


def convert(values: np.ndarray, units: Any, marker: str, specimen: str | None, *, variant: str = "") -> tuple[CanonicalValues, np.ndarray, np.ndarray]:
    """(the conversion, the values converted and rounded, the error per value: "" when converted)."""
    with np.errstate(over="ignore", under="ignore"):  # an overflow is refused below, with its reason
        cv = to_canonical(values, units, marker=marker, specimen=specimen, variant=variant)
    value, error = _checked_conversion(np.asarray(values, dtype=float), cv.value, cv.error, cv.unit)
    return cv, value, error


#: Significant digits a converted value keeps: 1025.36 ng/mL -> 1025360 ng/L, not 1025359.9999999999.
SIGNIFICANT_DIGITS = 12


def round_significant(x: np.ndarray, digits: int = SIGNIFICANT_DIGITS) -> np.ndarray:
    """``x`` rounded to ``digits`` significant digits (vectorised; one rounding per distinct magnitude).

    The result is the double nearest to the decimal a person would write: ``round`` scales by an
    exact power of ten, rounds to an integer below 2**53 and divides by the same power of ten.
    """
    x = np.asarray(x, dtype=float)
    out = x.copy()
    ok = np.isfinite(x) & (x != 0)
    if not ok.any():
        return out
    decimals = digits - 1 - np.floor(np.log10(np.abs(x[ok]))).astype(int)
    vals = x[ok]
    res = np.empty_like(vals)
    for d in np.unique(decimals):
        sel = decimals == d
        if -22 <= d <= 22:  # 10**d is exact: one vectorised rounding
            res[sel] = np.round(vals[sel], int(d))
        else:  # very large or small magnitudes (rare): through the decimal text, once per distinct value
            uniq, inv = np.unique(vals[sel], return_inverse=True)
            res[sel] = np.array([float(f"{u:.{digits}g}") for u in uniq])[inv]
    out[ok] = res
    return out


def _checked_conversion(raw: np.ndarray, value: np.ndarray, error: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Converted values rounded to :data:`SIGNIFICANT_DIGITS` (only those the conversion changed), and
    every conversion that overflows to infinity or underflows to zero refused with a reason."""
    value = np.asarray(value, dtype=float).copy()
    error = np.asarray(error, dtype=object).copy()
    changed = (error == "") & (value != raw)
    if changed.any():
        value[changed] = round_significant(value[changed])
    overflow = (error == "") & ~np.isfinite(value)
    underflow = (error == "") & (value == 0)
    for mask, what in ((overflow, "overflows to infinity"), (underflow, "underflows to zero")):
        for k in np.flatnonzero(mask):
            error[k] = f"the value {raw[k]:g} {what} when converted to {unit[k]}: not a measurable concentration"
            value[k] = np.nan
    return value, error
