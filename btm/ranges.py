"""Reference intervals and biological variation: load, validate, select.

The shipped tables live in ``reference_ranges/`` (see its README for the columns and the
source of every number). A lab's own intervals, in the same columns, are read with
:func:`load_intervals` (``--ranges FILE``) and take precedence over the shipped ones.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ._resources import reference_ranges_dir, sha256_of
from .biovariation import BV_COLUMNS, BioVariation, load_biovariation
from .errors import RangesError, UnitError
from .markers import catalog
from .selection import (
    ADULT_AGE,
    GROWTH_POPULATIONS,
    MENOPAUSE_AGE,
    PREGNANCY_POPULATIONS,
    Interval,
    Undetermined,
    _band,
    select_interval,
    select_intervals,
)
from .units import resolve_unit

__all__ = [
    "ADULT_AGE",
    "MENOPAUSE_AGE",
    "Undetermined",
    "INTERVAL_COLUMNS",
    "BV_COLUMNS",
    "Interval",
    "BioVariation",
    "POPULATIONS",
    "load_biovariation",
    "load_intervals",
    "plausible_bounds",
    "select_interval",
    "select_intervals",
    "shipped_intervals",
]

INTERVAL_COLUMNS = [
    "marker", "specimen", "unit", "sex", "age_min", "age_max", "population",
    "lower", "upper", "percentiles", "assay", "default", "source", "note",
]
POPULATIONS = ("adult", "premenopausal", "postmenopausal", *GROWTH_POPULATIONS, *PREGNANCY_POPULATIONS)
_REQUIRED = ["marker", "specimen", "unit", "sex", "population", "upper"]


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise RangesError(f"{path}: {what} file not found") from None
    except UnicodeDecodeError:
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="cp1252")
        except Exception as exc:
            raise RangesError(f"{path}: cannot read {what} file ({exc})") from None
    except Exception as exc:
        raise RangesError(f"{path}: cannot read {what} file ({exc})") from None


def _num(text: str, path: Path, row: int, col: str, *, required: bool = False) -> float:
    t = str(text).strip().replace(",", ".")
    if not t:
        if required:
            raise RangesError(f"{path}, row {row}: {col} is empty")
        return math.nan
    try:
        v = float(t)
    except ValueError:
        raise RangesError(f"{path}, row {row}: {col} {text!r} is not a number") from None
    if not math.isfinite(v) or v < 0:
        raise RangesError(f"{path}, row {row}: {col} {text!r} must be a number >= 0")
    return v


def load_intervals(path: str | Path, *, origin: str = "user", require_source: bool | None = None) -> pd.DataFrame:
    """Read and validate a reference-interval CSV; limits are converted to canonical units.

    Returns the rows with the file's columns plus ``lower_c``, ``upper_c`` (canonical unit),
    ``unit_c``, ``kind``, ``origin``, ``file``, ``row`` (CSV line number).

    Raises
    ------
    RangesError
        Naming the file and row: missing columns, unknown marker, a unit that does not convert
        to the marker's canonical unit, upper < lower, bad ages, and overlapping age bands for
        the same marker, specimen, sex, population, assay and source.
    """
    p = Path(path)
    df = _read_csv(p, "reference interval")
    df.columns = [c.strip().lower() for c in df.columns]
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise RangesError(f"{p}: missing column(s) {', '.join(missing)}; expected {', '.join(INTERVAL_COLUMNS)}")
    for c in INTERVAL_COLUMNS:
        if c not in df.columns:
            df[c] = ""
    if require_source is None:
        require_source = origin == "shipped"
    markers = catalog()
    rows = []
    for i, r in enumerate(df.to_dict("records")):
        line = i + 2
        mk = r["marker"].strip()
        if mk not in markers:
            raise RangesError(f"{p}, row {line}: unknown marker {mk!r}; expected one of {', '.join(markers)}")
        spec = r["specimen"].strip().lower() or "serum"
        if spec == "plasma":
            spec = "serum"
        if spec not in markers[mk].specimens:
            raise RangesError(f"{p}, row {line}: {mk} is not measured in {spec!r} (only {', '.join(markers[mk].specimens)})")
        try:
            tgt = resolve_unit(r["unit"].strip(), marker=mk, specimen=spec)
        except UnitError as exc:
            raise RangesError(f"{p}, row {line}: unit not convertible: {exc}") from None
        sex = r["sex"].strip().upper() or "ANY"
        sex = {"ANY": "any", "M": "M", "F": "F", "MALE": "M", "FEMALE": "F", "BOTH": "any", "ALL": "any"}.get(sex)
        if sex is None:
            raise RangesError(f"{p}, row {line}: sex {r['sex']!r} must be M, F or any")
        pop = r["population"].strip().lower() or "adult"
        if pop not in POPULATIONS:
            raise RangesError(f"{p}, row {line}: population {r['population']!r} must be one of {', '.join(POPULATIONS)}")
        lower = _num(r["lower"], p, line, "lower")
        upper = _num(r["upper"], p, line, "upper", required=True)
        if not math.isnan(lower) and upper <= lower:
            raise RangesError(f"{p}, row {line}: upper {upper:g} is not above lower {lower:g}")
        amin = _num(r["age_min"], p, line, "age_min")
        amax = _num(r["age_max"], p, line, "age_max")
        if not math.isnan(amin) and not math.isnan(amax) and amax <= amin:
            raise RangesError(f"{p}, row {line}: age_max {amax:g} is not above age_min {amin:g}")
        source = r["source"].strip()
        if require_source and not source:
            raise RangesError(f"{p}, row {line}: source is empty; every interval needs its citation")
        rows.append(
            {
                **{k: r[k].strip() for k in INTERVAL_COLUMNS},
                "marker": mk, "specimen": spec, "sex": sex, "population": pop,
                "age_min": amin, "age_max": amax, "lower": lower, "upper": upper,
                "default": r["default"].strip().lower() in ("yes", "y", "true", "1", "x"),
                "source": source or f"user file {p.name}",
                "lower_c": lower * tgt.factor, "upper_c": upper * tgt.factor,
                "unit_c": tgt.unit, "kind": tgt.kind, "origin": origin, "file": str(p), "row": line,
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        raise RangesError(f"{p}: no intervals in the file")
    _check_overlaps(out, p)
    return out


def _check_overlaps(df: pd.DataFrame, p: Path) -> None:
    keys = ["marker", "specimen", "kind", "sex", "population", "assay", "source"]
    for _, g in df.groupby(keys, sort=False):
        if len(g) < 2:
            continue
        bands = sorted(
            ((-math.inf if math.isnan(a) else a, math.inf if math.isnan(b) else b, r) for a, b, r in zip(g["age_min"], g["age_max"], g["row"], strict=True)),
        )
        for (a1, b1, r1), (a2, b2, r2) in zip(bands, bands[1:], strict=False):
            if a2 < b1:
                first = g.loc[g["row"] == r1].iloc[0]
                raise RangesError(
                    f"{p}, rows {r1} and {r2}: overlapping age bands for {first['marker']} {first['specimen']} "
                    f"sex {first['sex']} {first['population']} ({_band(a1, b1)} and {_band(a2, b2)})"
                )


@functools.cache
def shipped_intervals() -> pd.DataFrame:
    """The intervals shipped with btm (``reference_ranges/intervals.csv``), validated."""
    return load_intervals(reference_ranges_dir() / "intervals.csv", origin="shipped")


def intervals_with(user: str | Path | Sequence[str | Path] | None) -> pd.DataFrame:
    """Shipped intervals plus user files (user rows first)."""
    frames = []
    if user:
        for u in [user] if isinstance(user, str | Path) else user:
            frames.append(load_intervals(u, origin="user"))
    frames.append(shipped_intervals())
    return pd.concat(frames, ignore_index=True)


@functools.cache
def plausible_bounds() -> dict[tuple[str, str], tuple[float, float]]:
    """(marker, canonical unit) -> (lowest lower limit, highest upper limit) over all shipped intervals."""
    df = shipped_intervals()
    out = {}
    for (m, u), g in df.groupby(["marker", "unit_c"]):
        lo = g["lower_c"].min(skipna=True)
        hi = g["upper_c"].max(skipna=True)
        if not math.isnan(hi):
            out[(m, u)] = (float(lo) if not math.isnan(lo) else float(hi) / 100, float(hi))
    return out


def reference_files_digest() -> dict[str, str]:
    """SHA-256 of the shipped reference files (printed in reports)."""
    d = reference_ranges_dir()
    return {name: sha256_of(d / name) for name in ("intervals.csv", "biological_variation.csv")}



