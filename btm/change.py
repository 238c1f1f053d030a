"""Per-subject change from baseline, judged against measurement noise (RCV / LSC).

Formulas (BTM_FACTS §4)
-----------------------
Log-normal, asymmetric reference change value (Fokkema et al. 2006, Clin Chem 52:1602)::

    σ = √( ln(CVa² + 1) + ln(CVi² + 1) )        (or √ln(CVt² + 1) from a total CV)
    RCV_up   = exp(+z·√2·σ) − 1
    RCV_down = exp(−z·√2·σ) − 1                  z = 1.96 (two-sided 95 %)

Symmetric LSC (option ``method="lsc"``): ``± z·√2·CVt``. Worked example: CVt = 20 % gives
+73 % / −42 % (log-normal) and ±55 % (symmetric).

A change is ``significant`` when the % change reaches RCV_up or RCV_down. Censored values
(``<x``, ``>x``) never get a computed change: the direction is given only where it is certain
for any true value behind the limit, else the change is ``undetermined``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._groupwise import counts_per_row, group_codes, per_unique, shared_texts
from .biovariation import METHODS as BIOVARIATION_METHODS
from .biovariation import BioVariation, Key
from .timepoints import TimepointOrder

__all__ = ["CHANGE_COLUMNS", "RCV", "changes", "describe_rcv", "rcv", "rcv_limits", "sort_changes"]

CHANGE_COLUMNS = [
    "subject_id", "group", "marker", "specimen", "unit", "timepoint_from", "timepoint_to", "value_from", "value_to",
    "censored_from", "censored_to", "change_abs", "change_pct", "log_ratio", "rcv_down_pct", "rcv_up_pct",
    "significant", "direction", "responder", "responder_rule", "rcv_source", "note",
]

Z_95 = 1.959963984540054  # two-sided 95 %

@dataclass(frozen=True)
class RCV:
    """Reference change limits as fractions (0.73 = +73 %) and their basis."""

    up: float
    down: float
    method: str
    source: str


def rcv(cv_total: float | None = None, *, cva: float | None = None, cvi: float | None = None, z: float = Z_95, method: str = "lognormal") -> tuple[float, float]:
    """(up, down) reference change limits as fractions.

    >>> [round(x, 3) for x in rcv(0.20)]
    [0.732, -0.422]
    >>> [round(x, 3) for x in rcv(0.20, method="lsc")]
    [0.554, -0.554]
    """
    if cva is not None and cvi is not None and not (math.isnan(cva) or math.isnan(cvi)):
        sigma2 = math.log(cva**2 + 1) + math.log(cvi**2 + 1)
        cvt = math.sqrt(cva**2 + cvi**2)
    elif cv_total is not None and not math.isnan(cv_total):
        sigma2 = math.log(cv_total**2 + 1)
        cvt = cv_total
    else:
        raise ValueError("rcv needs a total CV, or both CVa and CVi")
    if method == "lognormal":
        s = z * math.sqrt(2) * math.sqrt(sigma2)
        return math.exp(s) - 1, math.exp(-s) - 1
    if method == "lsc":
        d = z * math.sqrt(2) * cvt
        return d, -d
    raise ValueError(f"unknown RCV method {method!r}; use 'lognormal' or 'lsc'")


def rcv_limits(bv: dict[Key, BioVariation], *, method: str = "lognormal", z: float = Z_95) -> dict[Key, RCV]:
    """RCV per measure (marker, specimen, kind, variant) from biological variation figures."""
    out = {}
    for key, b in bv.items():
        up, down = rcv(b.cv_total, cva=b.cva, cvi=b.cvi, z=z, method=method)
        name = "log-normal RCV (Fokkema 2006)" if method == "lognormal" else "symmetric LSC"
        out[key] = RCV(up, down, method, f"{name}, z {z:.2f}, {b.basis}; {b.source}")
    return out


def _rcv_for(limits: dict[Key, RCV], marker: str, specimen: str, unit: str, variant: str) -> tuple[float, float, str]:
    """(up %, down %, source) of a measure; NaN and the reason when no figure fits it."""
    kind = _kind_of_unit(marker, specimen, unit)
    r = limits.get((marker, specimen, kind, variant)) or limits.get((marker, specimen, kind, ""))
    if r is not None:
        return r.up * 100, r.down * 100, r.source
    words = {"mass": "mass", "activity": "activity", "bce": "BCE per litre", "bce_per_creatinine": "BCE per creatinine",
             "per_creatinine": "per creatinine", "mass_per_creatinine": "per creatinine", "molar": "molar"}
    what = f"{marker} ({specimen}, {words.get(kind, kind or unit)}{', ' + variant if variant else ''})"
    return math.nan, math.nan, f"no biological variation figures for {what}: no RCV (give them with --biovar)"


def _kind_of_unit(marker: str, specimen: str, unit: str) -> str:
    from .markers import catalog

    m = catalog().get(marker)
    if m is None:
        return ""
    for meas in m.measures:
        if meas.specimen == specimen and meas.unit == unit:
            return meas.kind
    return ""


# responder rules from BTM_FACTS §6 (treatment monitoring); exercise arms use the RCV
_RULES = {
    ("ANABOLIC", "PINP"): ("abs_up", 10.0, "PINP rise > 10 µg/L on anabolic treatment [Krege14]"),
    ("ANTIRESORPTIVE", "PINP"): ("pct_down", -38.0, "PINP fall > 38 % on oral bisphosphonate [DiezPerez17]"),
    ("ANTIRESORPTIVE", "CTX1"): ("pct_down", -56.0, "CTX fall > 56 % on oral bisphosphonate [DiezPerez17]"),
    ("ANTIRESORPTIVE", "NTX"): ("pct_down", -30.0, "uNTX fall >= 30 % on antiresorptive treatment [UCSF][ARUP]"),
}


def changes(
    results: pd.DataFrame,
    order: TimepointOrder,
    limits: dict[Key, RCV],
    *,
    sort: bool = True,
) -> pd.DataFrame:
    """Change of each subject's marker from baseline to every follow-up timepoint.

    Pairs are formed by subject id and timepoint, never by row order. Rows reported twice for the
    same subject, timepoint and marker are not paired (the change would depend on which is used).
    ``sort=False`` leaves the rows in pairing order (for a caller that sorts several tables at once).

    Returns
    -------
    DataFrame with :data:`CHANGE_COLUMNS`.
    """
    if results.empty:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    out = _pairs(results, order)
    if out.empty:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    for c in ("censored_from", "censored_to", "variant_from", "variant_to", "flags_from", "flags_to", "group", "group_to"):
        if c not in out:
            out[c] = ""
        out[c] = out[c].fillna("").astype(str)
    a = out["value_from"].to_numpy(dtype=float)
    b = out["value_to"].to_numpy(dtype=float)
    cf, ct = out["censored_from"].to_numpy(dtype=object), out["censored_to"].to_numpy(dtype=object)
    plain = (cf == "") & (ct == "")
    ratio = b / a
    out["change_abs"] = np.where(plain, b - a, np.nan)
    out["change_pct"] = np.where(plain, (ratio - 1) * 100, np.nan)
    out["log_ratio"] = np.where(plain, np.log(ratio), np.nan)
    # the figures of each distinct measure (marker, specimen, unit -> kind, assay variant when both visits agree)
    var = np.where(out["variant_from"] == out["variant_to"], out["variant_from"], "")
    meas = pd.MultiIndex.from_arrays([out["marker"].astype(str), out["specimen"].astype(str), out["unit"].astype(str), var])
    codes, uniques = pd.factorize(meas)
    found = [_rcv_for(limits, *u) for u in uniques]
    out["rcv_up_pct"] = np.array([f[0] for f in found], dtype=float)[codes]
    out["rcv_down_pct"] = np.array([f[1] for f in found], dtype=float)[codes]
    out["rcv_source"] = np.array([f[2] for f in found], dtype=object)[codes]
    up, down = out["rcv_up_pct"].to_numpy(dtype=float), out["rcv_down_pct"].to_numpy(dtype=float)
    has_rcv = ~np.isnan(up)
    # bounds of the true ratio to/from when a value is censored (equal to the ratio otherwise)
    lo, hi = _ratio_bounds(a, b, cf, ct)
    pct_lo, pct_hi = (lo - 1) * 100, (hi - 1) * 100
    inc = has_rcv & (pct_lo >= up)
    dec = has_rcv & (pct_hi <= down)
    none_ = has_rcv & (pct_lo > down) & (pct_hi < up)
    direction = np.where(inc, "increase", np.where(dec, "decrease", np.where(none_, "none", "undetermined")))
    direction = np.where(has_rcv, direction, np.where(plain, "no RCV", "undetermined"))
    out["direction"] = direction
    out["significant"] = np.where(inc | dec, True, np.where(none_, False, None))
    notes = np.full(len(out), "", dtype=object)
    cens_note = ~plain
    notes[cens_note & (direction != "undetermined")] = "censored value: direction certain for any true value behind the limit; change not computed"
    notes[cens_note & (direction == "undetermined")] = "censored value: change cannot be determined"
    vf, vt = out["variant_from"].to_numpy(dtype=object), out["variant_to"].to_numpy(dtype=object)
    mixed = (vf != "") & (vt != "") & (vf != vt)
    if mixed.any():
        for c in ("change_abs", "change_pct", "log_ratio"):
            out.loc[mixed, c] = np.nan
        out.loc[mixed, "direction"] = "undetermined"
        out.loc[mixed, "significant"] = None
        notes[mixed] = [f"assay variant changed ({x} → {y}): not comparable" for x, y in zip(vf[mixed], vt[mixed], strict=True)]
    moved = (out["group_to"] != "") & (out["group"] != "") & (out["group_to"] != out["group"])
    notes[moved.to_numpy()] = [n + ("; " if n else "") + "group label differs between timepoints" for n in notes[moved.to_numpy()]]
    out["note"] = notes
    resp, rule = _responders(out)
    out["responder"], out["responder_rule"] = resp, rule
    for c in ("direction", "responder", "responder_rule", "rcv_source"):  # texts made by np.where: one object per cell
        out[c] = shared_texts(out[c])
    return sort_changes(out[CHANGE_COLUMNS], order) if sort else out[CHANGE_COLUMNS]


_PAIR_KEYS = ["subject_id", "marker", "specimen", "unit"]


def _pairs(results: pd.DataFrame, order: TimepointOrder) -> pd.DataFrame:
    """Baseline rows joined to each follow-up's row of the same subject and measure (an inner join on
    subject, marker, specimen and unit, in the order of the baseline rows), one block per follow-up."""
    cols = _PAIR_KEYS + ["group", "value", "censored", "variant", "flags"]
    df = results.loc[results["timepoint"].isin(order.order).to_numpy(dtype=bool), [c for c in [*cols, "timepoint"] if c in results]]
    if "group" not in df:
        df["group"] = ""
    key, n_keys, _ = group_codes(*(df[k] for k in _PAIR_KEYS))
    tcode = per_unique(df["timepoint"], lambda u: u.map({t: i for i, t in enumerate(order.order)}).to_numpy(dtype=float)).astype(np.int64)
    single = counts_per_row(key * len(order.order) + tcode) == 1  # duplicates were reported by the import; pairing them would be a guess
    base_rows = np.flatnonzero(single & (tcode == order.order.index(order.baseline)))
    kept = [c for c in cols if c in df]
    frames = []
    for tp in order.followups:
        fu_rows = np.flatnonzero(single & (tcode == order.order.index(tp)))
        at = np.full(n_keys, -1, dtype=np.int64)
        at[key[fu_rows]] = fu_rows
        match = at[key[base_rows]]
        left = df.iloc[base_rows[match >= 0]][kept].rename(
            columns={"value": "value_from", "censored": "censored_from", "variant": "variant_from", "flags": "flags_from"})
        right = df.iloc[match[match >= 0]][[c for c in kept if c not in _PAIR_KEYS]].rename(
            columns={"value": "value_to", "censored": "censored_to", "variant": "variant_to", "flags": "flags_to", "group": "group_to"})
        m = pd.concat([left.reset_index(drop=True), right.reset_index(drop=True)], axis=1)
        m["timepoint_from"], m["timepoint_to"] = order.baseline, tp
        frames.append(m)
    if not frames:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def sort_changes(out: pd.DataFrame, order: TimepointOrder) -> pd.DataFrame:
    """Rows sorted by marker, follow-up (in visit order), group and subject (stable), index reset."""
    if out.empty:
        return out.reset_index(drop=True)
    rank = order.rank()
    tp = per_unique(out["timepoint_to"], lambda u: u.map(rank).to_numpy(dtype=float))
    keys = [pd.factorize(out[c], sort=True)[0] for c in ("subject_id", "group")] + [tp, pd.factorize(out["marker"], sort=True)[0]]
    idx = np.lexsort(keys)
    return out.iloc[idx].reset_index(drop=True)


def _ratio_bounds(a: np.ndarray, b: np.ndarray, cf: np.ndarray, ct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest possible true ratio to/from given censoring of either value.

    ``<a`` at baseline: true from in (0, a) -> ratio in (b/a, inf); ``>a``: from in (a, inf) -> (0, b/a).
    ``<b`` at follow-up: to in (0, b) -> ratio in (0, b/from); ``>b``: (b/from, inf).
    """
    less_f, more_f, less_t, more_t = cf == "<", cf == ">", ct == "<", ct == ">"
    f_lo = np.where(less_f, 0.0, a)
    f_hi = np.where(less_f, a, np.where(more_f, math.inf, a))
    t_lo = np.where(less_t, 0.0, b)
    t_hi = np.where(less_t, b, np.where(more_t, math.inf, b))
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(f_hi > 0, t_lo / f_hi, 0.0)
        hi = np.where(f_lo == 0, math.inf, t_hi / f_lo)
    return lo, hi


def _responders(out: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Published responder rules where a treatment flag applies, else the RCV verdict."""
    d = out["direction"].to_numpy(dtype=object)
    words = {"increase": "increase beyond RCV", "decrease": "decrease beyond RCV", "none": "no change beyond RCV"}
    resp = per_unique(pd.Series(d, dtype=object), lambda u: np.array([words.get(x, x) for x in u], dtype=object))
    rule = np.full(len(out), "change beyond RCV", dtype=object)
    combo, _, first = group_codes(out["flags_from"], out["flags_to"], out["marker"])
    rules: list[tuple[str, float, str] | None] = []
    for i in first:  # the rule of each distinct (flags, flags, marker): a treatment flag with a published rule
        ff, ft, marker = out["flags_from"].iat[i], out["flags_to"].iat[i], out["marker"].iat[i]
        chosen = None
        if any(t in ff or t in ft for t in ("ANABOLIC", "ANTIRESORPTIVE")):
            flags = set(str(ff).split(";")) | set(str(ft).split(";"))
            chosen = next((_RULES[(t, marker)] for t in ("ANABOLIC", "ANTIRESORPTIVE") if t in flags and (t, marker) in _RULES), None)
        rules.append(chosen)
    if not any(rules):
        return resp, rule
    abs_ = out["change_abs"].to_numpy(dtype=float)
    pct = out["change_pct"].to_numpy(dtype=float)
    for k, chosen in enumerate(rules):
        if chosen is None:
            continue
        rows = np.flatnonzero(combo == k)
        kind, thr, text = chosen
        hit = abs_[rows] > thr if kind == "abs_up" else pct[rows] <= thr
        resp[rows] = np.where(np.isnan(abs_[rows]), "undetermined", np.where(hit, "responder", "non-responder"))
        rule[rows] = text
    return resp, rule


def describe_rcv(method: str = "lognormal") -> str:
    """The change criterion in words, with formulas and sources (quoted by the report's Methods sheet)."""
    if method == "lsc":
        crit = f"the symmetric least significant change ± z·√2·CVt, z = {Z_95:.2f}"
    else:
        crit = (
            "the log-normal, asymmetric reference change value (Fokkema et al. 2006, Clin Chem 52:1602): "
            "σ = √(ln(CVa² + 1) + ln(CVi² + 1)), RCV up = exp(+z·√2·σ) − 1, RCV down = exp(−z·√2·σ) − 1, "
            f"z = {Z_95:.2f} (two-sided 95%)"
        )
    return (
        "Change per subject and measure from baseline to each follow-up, paired by subject id and timepoint: % change = "
        f"(to/from − 1) × 100, judged against {crit}. Total CV from CVi and CVa, else the published LSC / (z·√2) with the "
        "source's z (1.96 when not stated). A change is 'beyond RCV' when it reaches the limit; censored values give a "
        "direction only where it is certain; a change of assay variant between visits is not compared. "
        + " ".join(text for _, text in BIOVARIATION_METHODS)
        + " Where a treatment flag applies, published responder rules replace the RCV: PINP rise > 10 µg/L on anabolic "
        "treatment [Krege14]; PINP fall > 38 % or CTX fall > 56 % on oral bisphosphonate [DiezPerez17]; uNTX fall ≥ 30 % "
        "on antiresorptive treatment [UCSF][ARUP]."
    )
