"""Reference intervals and biological variation: load, validate, select.

The shipped tables live in ``reference_ranges/`` (see its README for the columns and the
source of every number). A lab's own intervals, in the same columns, are read with
:func:`load_intervals` (``--ranges FILE``) and take precedence over the shipped ones.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._resources import reference_ranges_dir, sha256_of
from .errors import RangesError, UnitError
from .markers import catalog
from .units import resolve_unit

__all__ = [
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
BV_COLUMNS = ["marker", "specimen", "cvi_pct", "cva_pct", "lsc_pct", "lsc_z", "default", "source", "note"]
POPULATIONS = ("adult", "premenopausal", "postmenopausal", "child", "tanner_1", "tanner_2", "tanner_3", "tanner_4", "tanner_5")
_REQUIRED = ["marker", "specimen", "unit", "sex", "population", "upper"]
MENOPAUSE_AGE = 51  # median age at natural menopause [K]; used only when menopausal status is missing
ADULT_AGE = 18


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


def _band(a: float, b: float) -> str:
    lo = "" if math.isinf(a) or math.isnan(a) else f"{a:g}"
    hi = "" if math.isinf(b) or math.isnan(b) else f"{b:g}"
    if lo and hi:
        return f"{lo}–<{hi} y"
    if lo:
        return f"≥{lo} y"
    if hi:
        return f"<{hi} y"
    return "all ages"


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


# ---------------------------------------------------------------------------------------------
# selection


@dataclass(frozen=True)
class Interval:
    """The reference interval chosen for a result, in the marker's canonical unit."""

    low: float
    high: float
    unit: str
    population: str
    source: str
    assay: str
    percentiles: str
    why: str
    origin: str


_POP_WORDS = {"adult": "adults", "premenopausal": "premenopausal women", "postmenopausal": "postmenopausal women", "child": "children"}


def _describe(row: dict[str, Any]) -> str:
    pop = row["population"]
    who = _POP_WORDS.get(pop, pop.replace("_", " stage "))
    if pop in ("adult", "child") and row["sex"] in ("M", "F"):
        who = {"M": "men", "F": "women"}[row["sex"]] if pop == "adult" else {"M": "boys", "F": "girls"}[row["sex"]]
    return f"{who} {_band(row['age_min'], row['age_max'])}"


def select_interval(
    intervals: pd.DataFrame | list[dict[str, Any]],
    *,
    marker: str,
    specimen: str,
    unit: str,
    sex: str = "",
    age: float = math.nan,
    menopausal_status: str = "",
    assay: str = "",
    tanner_stage: str = "",
) -> Interval | str:
    """The interval for one result, or a string saying why there is none.

    Rule (documented in ``reference_ranges/README.md``): rows of the same marker, specimen and
    unit kind whose sex, population and age fit; then a user row, a row whose assay matches
    the data's, ``default=yes``, the narrowest age band, file order. Missing subject data still
    gets an interval, and ``why`` says which and why.
    """
    records = intervals.to_dict("records") if isinstance(intervals, pd.DataFrame) else intervals
    cand = [r for r in records if r["marker"] == marker and r["specimen"] == specimen and r["unit_c"] == unit]
    if not cand:
        return f"no reference interval for {marker} ({specimen}, {unit})"
    why: list[str] = []
    has_age = age is not None and not (isinstance(age, float) and math.isnan(age))
    sex = sex if sex in ("M", "F") else ""
    any_sex = any(r["sex"] == "any" for r in cand)
    if has_age and age < ADULT_AGE:
        pops = ["child"]
        stage = str(tanner_stage).strip().upper().replace("TANNER", "").strip()
        stage = {"I": "1", "II": "2", "III": "3", "IV": "4", "V": "5"}.get(stage, stage)
        if stage in ("1", "2", "3", "4", "5") and any(r["population"] == f"tanner_{stage}" for r in cand):
            pops = [f"tanner_{stage}"]
    elif sex == "M":
        pops = ["adult"]
    elif sex == "F":
        if menopausal_status == "post":
            pops = ["postmenopausal", "adult"]
        elif menopausal_status == "pre":
            pops = ["premenopausal", "adult"]
        elif menopausal_status == "peri":
            pops = ["premenopausal", "adult"]
            why.append("perimenopausal: no own interval, premenopausal used")
        elif has_age:
            post = age >= MENOPAUSE_AGE
            pops = ["postmenopausal", "adult"] if post else ["premenopausal", "adult"]
            why.append(f"menopausal status unknown: {'post' if post else 'pre'}menopausal assumed from age {age:g} (cut-off {MENOPAUSE_AGE} y)")
        else:
            pops = ["premenopausal", "adult"]
            why.append("menopausal status and age unknown: premenopausal interval used")
    elif any_sex:
        pops = ["adult"]
        why.append("sex unknown: interval for both sexes used")
    else:
        pops = ["premenopausal"]
        why.append("sex unknown: IOF/IFCC reference population (premenopausal women) used")
    chosen = None
    used_pop = ""
    for pop in pops:
        sexes = {sex, "any"} if sex else ({"any", "F"} if pop == "premenopausal" else {"any"})
        pool = [r for r in cand if r["population"] == pop and r["sex"] in sexes]
        if not pool:
            continue
        if has_age:
            fit = [r for r in pool if _lo(r) <= age < _hi(r)]
            if not fit and pop != "child" and age >= ADULT_AGE:
                # nearest band within 5 years, said so; never for children (their levels change fast)
                dist = [(min(abs(_lo(r) - age), abs(age - _hi(r))), i) for i, r in enumerate(pool)]
                d, i = min(dist)
                if d <= 5:
                    fit = [pool[i]]
                    why.append(f"age {age:g} is outside the published {pop} bands; nearest band used")
            pool = fit
        elif pool:
            why.append("age unknown: widest band used")
        if not pool:
            continue
        chosen = _rank(pool, assay=assay, has_age=has_age)
        used_pop = pop
        break
    if chosen is None:
        who = f"{'sex ' + sex + ', ' if sex else ''}{'age ' + format(age, 'g') if has_age else 'age unknown'}"
        return f"no {marker} reference interval for this subject ({who})"
    if used_pop == "adult" and sex == "F" and pops[0] != "adult":
        why.append("no menopause-specific interval: interval for all women used")
    return Interval(
        low=float(chosen["lower_c"]), high=float(chosen["upper_c"]), unit=str(chosen["unit_c"]),
        population=_describe(chosen), source=str(chosen["source"]), assay=str(chosen["assay"]),
        percentiles=str(chosen["percentiles"]), why="; ".join(why), origin=str(chosen["origin"]),
    )


def _lo(r: dict[str, Any]) -> float:
    return -math.inf if math.isnan(r["age_min"]) else r["age_min"]


def _hi(r: dict[str, Any]) -> float:
    return math.inf if math.isnan(r["age_max"]) else r["age_max"]


def _rank(pool: list[dict[str, Any]], *, assay: str, has_age: bool) -> dict[str, Any]:
    a = assay.strip().casefold()

    def key(item: tuple[int, dict[str, Any]]) -> tuple:
        i, r = item
        s = str(r["assay"]).strip().casefold()
        width = _hi(r) - _lo(r)
        return (
            r["origin"] != "user",
            not (a and s and (a in s or s in a)),
            not r["default"],
            width if has_age else -width,
            i,
        )

    return min(enumerate(pool), key=key)[1]


def select_intervals(data: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """:func:`select_interval` for every row of a tidy table (once per distinct subject situation).

    Returns a frame aligned with ``data``: ``ref_low, ref_high, ref_unit, ref_population,
    ref_source, ref_assay, ref_percentiles, ref_note``.
    """
    keys = ["marker", "specimen", "unit", "sex", "age", "menopausal_status", "assay", "tanner_stage"]
    frame = pd.DataFrame({k: (data[k] if k in data else "") for k in keys}, index=data.index)
    frame["age"] = pd.to_numeric(frame["age"], errors="coerce")
    for k in keys:
        if k != "age":
            frame[k] = frame[k].fillna("").astype(str)
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(frame))
    by_marker: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in intervals.to_dict("records"):
        by_marker.setdefault((r["marker"], r["specimen"], r["unit_c"]), []).append(r)
    names = ("ref_low", "ref_high", "ref_unit", "ref_population", "ref_source", "ref_assay", "ref_percentiles", "ref_note")
    cols: dict[str, list[Any]] = {k: [] for k in names}
    for key in uniques:
        d = dict(zip(keys, key, strict=True))
        res = select_interval(
            by_marker.get((d["marker"], d["specimen"], d["unit"]), []), marker=d["marker"], specimen=d["specimen"],
            unit=d["unit"], sex=d["sex"], age=float(d["age"]), menopausal_status=d["menopausal_status"],
            assay=d["assay"], tanner_stage=d["tanner_stage"],
        )
        if isinstance(res, str):
            vals = (np.nan, np.nan, "", "", "", "", "", res)
        else:
            vals = (res.low, res.high, res.unit, res.population, res.source, res.assay, res.percentiles, res.why)
        for k, v in zip(names, vals, strict=True):
            cols[k].append(v)
    return pd.DataFrame(
        {k: np.asarray(v, dtype=float if k in ("ref_low", "ref_high") else object)[codes] for k, v in cols.items()},
        index=data.index,
    )


# ---------------------------------------------------------------------------------------------
# biological variation


@dataclass(frozen=True)
class BioVariation:
    """Within-subject and analytical variation of a marker, and where it came from."""

    marker: str
    specimen: str
    cv_total: float  # fraction (0.137 = 13.7 %)
    cvi: float  # fraction or NaN
    cva: float  # fraction or NaN
    basis: str  # how cv_total was obtained
    source: str


def load_biovariation(path: str | Path | None = None) -> dict[tuple[str, str], BioVariation]:
    """The default biological-variation figures per (marker, specimen), user file first.

    The total CV is taken from CVa and CVi when both are published; else derived from the
    published LSC as LSC / (z·√2) (z = 1.96 when the source does not state it); else CVi alone
    (an underestimate, said so in ``basis``).
    """
    files = [(reference_ranges_dir() / "biological_variation.csv", "shipped")]
    if path:
        files.insert(0, (Path(path), "user"))
    out: dict[tuple[str, str], BioVariation] = {}
    markers = catalog()
    for p, origin in files:
        df = _read_csv(p, "biological variation")
        df.columns = [c.strip().lower() for c in df.columns]
        for c in BV_COLUMNS:
            if c not in df.columns:
                if c in ("marker", "specimen"):
                    raise RangesError(f"{p}: missing column {c}; expected {', '.join(BV_COLUMNS)}")
                df[c] = ""
        for i, r in enumerate(df.to_dict("records")):
            line = i + 2
            mk, spec = r["marker"].strip(), (r["specimen"].strip().lower() or "serum")
            if mk not in markers:
                raise RangesError(f"{p}, row {line}: unknown marker {mk!r}")
            # the user's file is read first and every row of it counts; of the shipped rows, the defaults
            is_default = origin == "user" or r["default"].strip().lower() in ("yes", "y", "true", "1", "x")
            if not is_default or (mk, spec) in out:
                continue
            cvi = _num(r["cvi_pct"], p, line, "cvi_pct") / 100
            cva = _num(r["cva_pct"], p, line, "cva_pct") / 100
            lsc = _num(r["lsc_pct"], p, line, "lsc_pct") / 100
            z = _num(r["lsc_z"], p, line, "lsc_z")
            if not math.isnan(cvi) and not math.isnan(cva):
                total = math.sqrt(cvi**2 + cva**2)
                basis = f"CVi {cvi:.1%} and CVa {cva:.1%}"
            elif not math.isnan(lsc):
                zz = 1.96 if math.isnan(z) else z
                total = lsc / (zz * math.sqrt(2))
                basis = f"total CV {total:.1%} = published LSC {lsc:.0%} / ({zz:g}·√2)" + (" (z not stated: 1.96 assumed)" if math.isnan(z) else "")
            elif not math.isnan(cvi):
                total = cvi
                basis = f"CVi {cvi:.1%} only (no analytical CV published: the RCV is an underestimate)"
            else:
                raise RangesError(f"{p}, row {line}: {mk} needs cvi_pct and cva_pct, or lsc_pct")
            src = r["source"].strip() or f"user file {p.name}"
            out[(mk, spec)] = BioVariation(mk, spec, total, cvi, cva, basis, ("user: " if origin == "user" else "") + src)
    return out


def reference_files_digest() -> dict[str, str]:
    """SHA-256 of the shipped reference files (printed in reports)."""
    d = reference_ranges_dir()
    return {name: sha256_of(d / name) for name in ("intervals.csv", "biological_variation.csv")}



