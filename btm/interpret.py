"""Interpretation of each result and each sample.

Per result: the reference interval chosen for the subject (:mod:`btm.ranges`), ``status``
(low / within / high / undetermined), ``z`` on the log scale and pre-analytical ``flags``.
Per sample (subject × timepoint): formation and resorption z, their balance, turnover state and
the ratios used in exercise studies.

Formulas
--------
zlog (Hoffmann et al. 2017, LaboratoriumsMedizin 41:23), for limits L and U at the 2.5th and
97.5th percentiles::

    z = (ln x − (ln L + ln U) / 2) · 3.92 / (ln U − ln L)

so z = −1.96 at L and +1.96 at U. Censored values get no z (a limit is not a value), and a status
only where it is certain: ``<10`` against L = 15 is low, ``<20`` is undetermined.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .markers import FORMATION, RESORPTION, catalog
from .ranges import intervals_with, select_intervals
from .selection import METHODS as SELECTION_METHODS
from .selection import pregnancy_states

__all__ = [
    "BALANCE_COLUMNS",
    "BALANCE_COLUMN_NOTES",
    "BALANCE_EXCLUDING_FLAGS",
    "METHODS",
    "FLAGS",
    "INTERPRETED_COLUMNS",
    "RATIOS",
    "Interpretation",
    "balance",
    "flag_results",
    "interpret",
    "status_of",
    "zlog",
]

#: Columns added to the tidy table by :func:`interpret`.
INTERPRETED_COLUMNS = [
    "ref_low", "ref_high", "ref_unit", "ref_population", "ref_source", "ref_assay", "ref_note",
    "status", "z", "flags", "flag_notes",
]

#: Flag code -> plain-language text (also listed in README).
FLAGS: dict[str, str] = {
    "NONFASTING": "drawn non-fasting: CTX/NTX fall after food (NBHA: overnight fast)",
    "LATE_DRAW": "drawn after 10:00: CTX/NTX are lower later in the day (circadian rhythm; NBHA: before 10:00)",
    "RENAL": "eGFR below 30: renally cleared marker (CTX, NTX, osteocalcin) reads high",
    "RENAL_PINP": "eGFR below 45 with total (or unspecified) PINP: the monomer accumulates in CKD 3b; use intact PINP",
    "FRACTURE": "recent fracture: bone markers rise for months after a fracture",
    "PREGNANCY": "pregnancy or lactation: all bone markers rise",
    "ANTIRESORPTIVE": "antiresorptive drug: lowers resorption (and later formation) markers",
    "ANABOLIC": "anabolic drug (e.g. teriparatide): raises PINP and other formation markers",
    "GLUCOCORTICOID": "glucocorticoid: lowers osteocalcin within days",
    "EXERCISE_72H": "drawn within 72 h of strenuous exercise: markers may be transiently changed",
    "HAEMOLYSIS": "haemolysis noted: CTX (Roche) reads low; labs reject gross haemolysis for CTX, PINP, BALP",
    "BIOTIN": "biotin noted: Roche immunoassays read falsely low with high-dose biotin",
    "UNIT_MAGNITUDE": "about 1000x outside the reference interval: probable unit error",
    "DUPLICATE": "the same subject, timepoint and marker appear more than once",
}

_RENAL_MARKERS = {"CTX1", "NTX", "OCN"}
_CIRCADIAN_MARKERS = {"CTX1", "NTX"}
_ANTIRESORPTIVE = (
    "alendron", "risedron", "ibandron", "zoledron", "pamidron", "etidron", "bisphosph", "denosumab", "prolia",
    "xgeva", "fosamax", "actonel", "aclasta", "reclast", "boniva", "raloxifen", "bazedoxifen", "calcitonin",
)
_ANABOLIC = ("teriparatid", "forteo", "forsteo", "abaloparatid", "tymlos", "romosozumab", "evenity", "pth 1-34")
_GLUCOCORTICOID = ("prednis", "dexamethason", "hydrocortison", "methylprednis", "glucocorticoid", "cortison")
_YES = {"yes", "y", "true", "1", "ja", "x"}

#: Ratios reported per sample: (numerator, denominator, numerator factor, denominator factor, unit note)
RATIOS = {
    # PINP µg/L ÷ CTX µg/L (CTX ng/L ÷ 1000), as in Fisher 2018
    "PINP/CTX1": ("PINP", "CTX1", 1.0, 1e-3, "PINP µg/L ÷ CTX µg/L [Fisher18]"),
    "BALP/TRAP5B": ("BALP", "TRAP5B", 1.0, 1.0, "BALP µg/L ÷ TRAP-5b U/L (exploratory: no primary citation)"),
    "BALP/PYD": ("BALP", "PYD", 1.0, 1.0, "BALP µg/L ÷ PYD nmol/mmol creatinine (exploratory)"),
    "OCN/CTX1": ("OCN", "CTX1", 1.0, 1e-3, "osteocalcin µg/L ÷ CTX µg/L (exploratory)"),
}

#: Columns of the per-sample balance table.
BALANCE_COLUMNS = [
    "subject_id", "timepoint", "sample_date", "group", "sex", "age", "formation_z", "resorption_z", "balance_index",
    "turnover_z", "turnover_state", "formation_markers", "resorption_markers", "balance_basis",
    *[f"ratio_{k}" for k in RATIOS], "n_markers", "note",
]

#: |balance_index| ≥ 1: formation- or resorption-dominant. A btm convention (one z unit between the
#: formation and resorption means); no published cut-off was found. The index itself is the modern
#: uncoupling index when the pair is PINP and CTX1 [Eastell19-ACTIVE].
BALANCE_THRESHOLD = 1.0
#: mean z beyond ±1.96: high or low turnover. ±1.96 is where a single zlog crosses its reference
#: limit (P2.5/P97.5, Hoffmann 2017); applying it to the mean z of several markers is a btm convention.
TURNOVER_THRESHOLD = 1.96

#: Flags that keep a marker out of the balance and turnover of its sample: a renally cleared marker
#: reads high when eGFR < 30 (CTX, NTX, OC(1–49) correlate with GFR [Yamada08]; apparent CTX rises as
#: GFR falls [Mayo CTX]); total PINP is biased high from CKD 3b [Tridimas21]. Left in, they would drive
#: "resorption-dominant" (or "formation-dominant") by kidney function, not bone.
BALANCE_EXCLUDING_FLAGS = {"RENAL": "eGFR < 30: renally cleared, reads high", "RENAL_PINP": "eGFR < 45 with total PINP: monomer accumulates"}

#: Plain-language notes for the balance columns (for the report's column glossary).
BALANCE_COLUMN_NOTES = {
    "balance_index": "formation z − resorption z; |index| ≥ 1 is called dominant by btm convention (no published cut-off)",
    "turnover_state": "low / normal / high turnover when the mean z is beyond ∓1.96 (btm convention: the single-result "
    "reference limit applied to a mean), plus formation-/resorption-dominant when |balance index| ≥ 1 (btm convention)",
    "note": "markers left out of the balance and why (reported twice, no z, or a RENAL / RENAL_PINP flag)",
}


def zlog(x: np.ndarray | float, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
    """zlog of Hoffmann 2017: position of x against limits at P2.5/P97.5 on the log scale.

    >>> round(float(zlog(15.0, 15.0, 90.0)), 6), round(float(zlog(90.0, 15.0, 90.0)), 6)
    (-1.96, 1.96)
    """
    x, lo, hi = (np.asarray(a, dtype=float) for a in (x, low, high))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.log(x) - (np.log(lo) + np.log(hi)) / 2) * 3.92 / (np.log(hi) - np.log(lo))


def status_of(value: np.ndarray, censored: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """low / within / high, or undetermined (censored and not certain) or "" (no interval)."""
    v = np.asarray(value, dtype=float)
    c = np.asarray(censored, dtype=object)
    lo = np.asarray(low, dtype=float)
    hi = np.asarray(high, dtype=float)
    has_lo = ~np.isnan(lo)
    has = ~np.isnan(hi)
    out = np.full(v.shape, "", dtype=object)
    plain = c == ""
    below = has_lo & (v < lo)
    above = v > hi
    out[has & plain] = "within"
    out[has & plain & below] = "low"
    out[has & plain & above] = "high"
    less = has & (c == "<")
    out[less] = "undetermined"
    out[less & has_lo & (v <= lo)] = "low"  # true value < v <= L
    more = has & (c == ">")
    out[more] = "undetermined"
    out[more & (v >= hi)] = "high"  # true value > v >= U
    return out


def _truthy(s: pd.Series) -> np.ndarray:
    t = s.fillna("").astype(str).str.strip().str.casefold()
    return t.isin(_YES).to_numpy() | t.str.match(r"^(yes|pregnan|lactat|breast)").to_numpy()


def _pregnancy_states(s: pd.Series) -> np.ndarray:
    return pregnancy_states(s.fillna("").astype(str)).to_numpy(dtype=object)


def _contains(s: pd.Series, words: Sequence[str]) -> np.ndarray:
    t = s.fillna("").astype(str).str.casefold()
    out = np.zeros(len(t), dtype=bool)
    for w in words:
        out |= t.str.contains(w, regex=False).to_numpy()
    return out


def _clock_minutes(s: pd.Series) -> np.ndarray:
    parts = s.fillna("").astype(str).str.extract(r"^(\d{1,2}):(\d{2})")
    h = pd.to_numeric(parts[0], errors="coerce")
    m = pd.to_numeric(parts[1], errors="coerce")
    return (h * 60 + m).to_numpy(dtype=float)


def flag_results(data: pd.DataFrame) -> pd.Series:
    """Pre-analytical flag codes per result (``;``-separated), from the columns present.

    Existing flags (e.g. ``DUPLICATE`` from the import) are kept. Nothing is dropped.
    """
    n = len(data)
    flags: list[list[str]] = [[f for f in str(x).split(";") if f] for x in data.get("flags", pd.Series([""] * n, index=data.index))]
    marker = data["marker"].to_numpy()

    def add(mask: np.ndarray, code: str) -> None:
        for i in np.flatnonzero(mask):
            if code not in flags[i]:
                flags[i].append(code)

    circ = np.isin(marker, list(_CIRCADIAN_MARKERS))
    if "fasting" in data:
        add(circ & (data["fasting"].astype(str).str.casefold() == "no").to_numpy(), "NONFASTING")
    if "sample_time" in data:
        mins = _clock_minutes(data["sample_time"])
        add(circ & (mins > 600), "LATE_DRAW")
    if "egfr" in data:
        egfr = pd.to_numeric(data["egfr"], errors="coerce").to_numpy(dtype=float)
        add(np.isin(marker, list(_RENAL_MARKERS)) & (egfr < 30), "RENAL")
        variant = data["variant"].astype(str).to_numpy() if "variant" in data else np.full(n, "", dtype=object)
        add((marker == "PINP") & (variant != "intact") & (egfr < 45), "RENAL_PINP")
    if "fracture" in data:
        add(_truthy(data["fracture"]), "FRACTURE")
    if "pregnancy" in data:
        add(_truthy(data["pregnancy"]) | (_pregnancy_states(data["pregnancy"]) != ""), "PREGNANCY")
    if "medication" in data:
        add(_contains(data["medication"], _ANTIRESORPTIVE), "ANTIRESORPTIVE")
        add(_contains(data["medication"], _ANABOLIC), "ANABOLIC")
        add(_contains(data["medication"], _GLUCOCORTICOID), "GLUCOCORTICOID")
    if "last_exercise" in data:
        hours = pd.to_numeric(data["last_exercise"].astype(str).str.extract(r"^\s*(\d+(?:\.\d+)?)")[0], errors="coerce").to_numpy(dtype=float)
        add((hours < 72) | _truthy(data["last_exercise"]), "EXERCISE_72H")
    if "comment" in data:
        add(_contains(data["comment"], ("haemoly", "hemoly", "hämoly", "haemolys", "hemolys")), "HAEMOLYSIS")
        add(_contains(data["comment"], ("biotin",)), "BIOTIN")
    return pd.Series([";".join(f) for f in flags], index=data.index, dtype=object)


def flag_text(codes: str) -> str:
    """Plain-language text of ``;``-separated flag codes."""
    return "; ".join(FLAGS.get(c, c) for c in str(codes).split(";") if c)


@dataclass
class Interpretation:
    """Result of :func:`interpret`: per-result table and per-sample balance table."""

    results: pd.DataFrame
    balance: pd.DataFrame


def interpret(data: pd.DataFrame, *, ranges: str | Path | Sequence[str | Path] | None = None) -> Interpretation:
    """Reference interval, status, z and flags per result; balance per sample.

    Parameters
    ----------
    data
        A tidy table (``btm.read_results(...).data``).
    ranges
        A lab's own interval file(s) (same columns as ``reference_ranges/intervals.csv``);
        their rows take precedence.

    Returns
    -------
    Interpretation
        ``results``: ``data`` plus :data:`INTERPRETED_COLUMNS`; ``balance``: :data:`BALANCE_COLUMNS`.
    """
    intervals = intervals_with(ranges)
    res = data.copy()
    if res.empty:
        for c in INTERPRETED_COLUMNS:
            res[c] = pd.Series(dtype=float if c in ("ref_low", "ref_high", "z") else object)
        return Interpretation(res, pd.DataFrame(columns=BALANCE_COLUMNS))
    ref = select_intervals(res, intervals)
    for c in ref.columns:
        res[c] = ref[c]
    v = res["value"].to_numpy(dtype=float)
    cens = res["censored"].fillna("").astype(str).to_numpy(dtype=object)
    lo, hi = res["ref_low"].to_numpy(dtype=float), res["ref_high"].to_numpy(dtype=float)
    status = status_of(v, cens, lo, hi)
    status[res["ref_undetermined"].to_numpy(dtype=bool)] = "undetermined"  # e.g. sex unknown and the sexes' limits differ
    res["status"] = status
    z = zlog(v, lo, hi)
    z[cens != ""] = np.nan
    z[np.isnan(lo)] = np.nan  # one-sided limits: no z
    res["z"] = z
    pct = res["ref_percentiles"].fillna("").astype(str)
    assumed = (pct == "not stated") & ~np.isnan(z)
    res.loc[assumed, "ref_note"] = [
        (n + "; " if n else "") + "percentiles not stated by the source: zlog assumes 2.5–97.5" for n in res.loc[assumed, "ref_note"]
    ]
    flags = flag_results(res)
    # probable unit error against the chosen interval: closer to the interval x/÷ 1000 than to itself (log scale)
    k = math.sqrt(1000.0)
    off = (~np.isnan(hi)) & (cens == "") & ((v > hi * k) | (~np.isnan(lo) & (v < lo / k)))
    flags = pd.Series(
        [(f + ";UNIT_MAGNITUDE" if o and "UNIT_MAGNITUDE" not in f else f).strip(";") for f, o in zip(flags, off, strict=True)],
        index=res.index,
    )
    res["flags"] = flags
    res["flag_notes"] = flags.map(flag_text)
    res = res.drop(columns=["ref_percentiles", "ref_undetermined"])
    return Interpretation(results=res, balance=balance(res))


def balance(results: pd.DataFrame) -> pd.DataFrame:
    """Formation/resorption balance per sample (subject × timepoint).

    * ``formation_z``: mean z of the formation markers present (PINP, BALP, OCN, ALP);
    * ``resorption_z``: mean z of the resorption markers present (CTX1, NTX, TRAP5B, PYD, DPD);
    * ``balance_index = formation_z − resorption_z`` (the modern uncoupling index when the pair is
      PINP and CTX1 [Eastell19-ACTIVE]); ``balance_basis`` records which;
    * ``turnover_z``: mean of all z; ``turnover_state``: low / normal / high turnover (mean z beyond
      ∓1.96, the reference limits), and formation- or resorption-dominant when |balance_index| ≥ 1;
    * ratios (:data:`RATIOS`) when both markers were measured without censoring.

    A marker reported twice in one sample is left out of that sample's balance (never averaged), and
    so is a result flagged RENAL or RENAL_PINP (:data:`BALANCE_EXCLUDING_FLAGS`): kidney function,
    not bone, would drive its z. The thresholds are conventions (:data:`METHODS`).
    """
    if results.empty:
        return pd.DataFrame(columns=BALANCE_COLUMNS)
    cls = {m.id: m.marker_class for m in catalog().values()}
    keys = ["subject_id", "timepoint"]
    df = results[keys + ["marker", "z", "value", "censored", "kind"]].copy()
    df["_class"] = df["marker"].map(cls)
    n_same = df.groupby(keys + ["marker"], sort=False)["marker"].transform("size")
    dup = (n_same > 1).to_numpy()
    flags = results["flags"].fillna("").astype(str) if "flags" in results else pd.Series("", index=results.index)
    kidney = np.zeros(len(df), dtype=bool)
    for code in BALANCE_EXCLUDING_FLAGS:
        kidney |= flags.str.contains(rf"(?:^|;){code}(?:;|$)", regex=True).to_numpy()
    kidney &= ~dup
    usable = ~dup & ~kidney & df["z"].notna().to_numpy()
    form = usable & (df["_class"] == FORMATION).to_numpy()
    reso = usable & (df["_class"] == RESORPTION).to_numpy()
    z = df["z"].to_numpy(dtype=float)
    df["_fz"] = np.where(form, z, np.nan)
    df["_rz"] = np.where(reso, z, np.nan)
    df["_z"] = np.where(usable, z, np.nan)
    df["_fm"] = np.where(form, df["marker"], "")
    df["_rm"] = np.where(reso, df["marker"], "")
    df["_dup"] = np.where(dup, df["marker"], "")
    df["_kid"] = np.where(kidney, df["marker"], "")
    df["_noz"] = np.where(~usable & ~dup & ~kidney, df["marker"], "")
    g = df.groupby(keys, sort=False)

    gcode = g.ngroup().to_numpy()

    def joined(col: str) -> pd.Series:
        acc: list[dict[str, None]] = [{} for _ in range(g.ngroups)]
        for k, x in zip(gcode, df[col].to_numpy(), strict=True):
            if x:
                acc[k][x] = None
        index = g.size().index
        return pd.Series([",".join(a) for a in acc], index=index)

    out = pd.DataFrame(
        {
            "formation_z": g["_fz"].mean(),
            "resorption_z": g["_rz"].mean(),
            "turnover_z": g["_z"].mean(),
            "formation_markers": joined("_fm"),
            "resorption_markers": joined("_rm"),
            "n_markers": g["_z"].count(),
            "_dups": joined("_dup"),
            "_kid": joined("_kid"),
            "_noz": joined("_noz"),
        }
    )
    out["balance_index"] = out["formation_z"] - out["resorption_z"]
    pair = (out["formation_markers"] == "PINP") & (out["resorption_markers"] == "CTX1")
    both = (out["formation_markers"] != "") & (out["resorption_markers"] != "")
    out["balance_basis"] = np.where(
        pair, "uncoupling index (PINP z − CTX1 z)",
        np.where(
            both,
            "mean z of " + out["formation_markers"].str.replace(",", ", ") + " − mean z of " + out["resorption_markers"].str.replace(",", ", "),
            "needs a formation and a resorption marker",
        ),
    )
    out["turnover_state"] = [_state(t, b) for t, b in zip(out["turnover_z"], out["balance_index"], strict=True)]
    # ratios from uncensored single values (mass BALP only)
    ok = ~dup & (df["censored"].fillna("") == "").to_numpy() & ~((df["marker"] == "BALP") & (df["kind"] != "mass")).to_numpy()
    wide = df.loc[ok].pivot_table(index=keys, columns="marker", values="value", aggfunc="first", sort=False)
    wide = wide.reindex(out.index)
    for name, (a, b, fa, fb, _) in RATIOS.items():
        if a in wide and b in wide:
            out[f"ratio_{name}"] = wide[a] * fa / (wide[b] * fb)
        else:
            out[f"ratio_{name}"] = np.nan
    notes = []
    for d, kd, nz in zip(out["_dups"], out["_kid"], out["_noz"], strict=True):
        parts = []
        if d:
            parts.append("reported twice, not used: " + d.replace(",", ", "))
        if kd:
            parts.append("left out, kidney function (RENAL / RENAL_PINP flag: reads high): " + kd.replace(",", ", "))
        if nz:
            parts.append("no z (censored or no interval): " + nz.replace(",", ", "))
        notes.append("; ".join(parts))
    out["note"] = notes
    first = results.drop_duplicates(keys).set_index(keys)
    for c in ("sample_date", "group", "sex", "age"):
        out[c] = first[c].reindex(out.index) if c in first else ("" if c != "age" else np.nan)
    out = out.reset_index()
    return out[BALANCE_COLUMNS]


def _state(turnover_z: float, bi: float) -> str:
    if math.isnan(turnover_z):
        return ""
    if turnover_z >= TURNOVER_THRESHOLD:
        base = "high turnover"
    elif turnover_z <= -TURNOVER_THRESHOLD:
        base = "low turnover"
    else:
        base = "normal turnover"
    if not math.isnan(bi) and abs(bi) >= BALANCE_THRESHOLD:
        base += ", formation-dominant" if bi > 0 else ", resorption-dominant"
    return base


#: What interpretation does, in words with its sources (quoted by the report's Methods sheet): topic -> text.
#: The reference-interval rules come from :mod:`btm.selection`, next to the code that applies them.
METHODS: dict[str, str] = {
    **dict(SELECTION_METHODS),
    "z-scores": (
        "zlog (Hoffmann et al. 2017, LaboratoriumsMedizin 41:23): z = (ln x − (ln L + ln U)/2) · 3.92 / (ln U − ln L), so "
        "z = −1.96 at the lower and +1.96 at the upper reference limit. Censored values and one-sided limits get no z; where "
        "the source does not state its percentiles, P2.5–P97.5 is assumed and ref_note says so."
    ),
    "Balance and turnover": (
        "Per sample: formation z = mean z of PINP, BALP, OCN, ALP present; resorption z = mean z of CTX1, NTX, TRAP5B, PYD, "
        "DPD present; balance index = formation z − resorption z (the uncoupling index when the pair is PINP and CTX1 "
        f"[Eastell19-ACTIVE]); turnover z = mean of all z. Thresholds are btm conventions, not published cut-offs: "
        f"|balance index| ≥ {BALANCE_THRESHOLD:g} = formation- or resorption-dominant; turnover z beyond "
        f"±{TURNOVER_THRESHOLD:g} (the z of a single result at its reference limit) = high or low turnover."
    ),
    "Balance: kidney function": (
        "A result flagged RENAL (eGFR < 30; CTX, NTX, osteocalcin are renally cleared and read high [Yamada08][Mayo CTX]) or "
        "RENAL_PINP (eGFR < 45 with total PINP [Tridimas21]) is left out of its sample's formation, resorption and turnover "
        "z, and the balance note says so; a sample whose index would need it gets none. The ratios are raw value ratios "
        "and keep it (their change per subject is analysed like any marker's)."
    ),
}
