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

from ._groupwise import codes_of, counts_per_row, first_of_each, group_codes, joined_in_order, per_unique
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


def _flag_masks(data: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """(code, rows it applies to) for every pre-analytical flag, in the order they are added."""
    n = len(data)
    marker = data["marker"]
    masks: list[tuple[str, np.ndarray]] = []
    circ = per_unique(marker, lambda u: u.isin(list(_CIRCADIAN_MARKERS)).to_numpy(dtype=bool))
    if "fasting" in data:
        masks.append(("NONFASTING", circ & per_unique(data["fasting"], lambda u: (u.astype(str).str.casefold() == "no").to_numpy(dtype=bool))))
    if "sample_time" in data:
        mins = per_unique(data["sample_time"], _clock_minutes)
        masks.append(("LATE_DRAW", circ & (mins > 600)))
    if "egfr" in data:
        egfr = pd.to_numeric(data["egfr"], errors="coerce").to_numpy(dtype=float)
        masks.append(("RENAL", per_unique(marker, lambda u: u.isin(list(_RENAL_MARKERS)).to_numpy(dtype=bool)) & (egfr < 30)))
        not_intact = (per_unique(data["variant"], lambda u: (u.astype(str) != "intact").to_numpy(dtype=bool)) if "variant" in data
                      else np.ones(n, dtype=bool))
        masks.append(("RENAL_PINP", per_unique(marker, lambda u: (u == "PINP").to_numpy(dtype=bool)) & not_intact & (egfr < 45)))
    if "fracture" in data:
        masks.append(("FRACTURE", per_unique(data["fracture"], _truthy)))
    if "pregnancy" in data:
        masks.append(("PREGNANCY", per_unique(data["pregnancy"], lambda u: _truthy(u) | (_pregnancy_states(u) != ""))))
    if "medication" in data:
        for code, words in (("ANTIRESORPTIVE", _ANTIRESORPTIVE), ("ANABOLIC", _ANABOLIC), ("GLUCOCORTICOID", _GLUCOCORTICOID)):
            masks.append((code, per_unique(data["medication"], lambda u, w=words: _contains(u, w))))
    if "last_exercise" in data:
        def recent(u: pd.Series) -> np.ndarray:
            hours = pd.to_numeric(u.astype(str).str.extract(r"^\s*(\d+(?:\.\d+)?)")[0], errors="coerce").to_numpy(dtype=float)
            return (hours < 72) | _truthy(u)

        masks.append(("EXERCISE_72H", per_unique(data["last_exercise"], recent)))
    if "comment" in data:
        masks.append(("HAEMOLYSIS", per_unique(data["comment"], lambda u: _contains(u, ("haemoly", "hemoly", "hämoly", "haemolys", "hemolys")))))
        masks.append(("BIOTIN", per_unique(data["comment"], lambda u: _contains(u, ("biotin",)))))
    return masks


def _flag_texts(data: pd.DataFrame, unit_magnitude: np.ndarray | None = None) -> np.ndarray:
    """The ``flags`` text per row: existing codes, then each new code not yet there (once per distinct combination)."""
    n = len(data)
    existing = data["flags"] if "flags" in data else pd.Series([""] * n, index=data.index)
    ecode, euniq = codes_of(existing)
    masks = _flag_masks(data)
    if unit_magnitude is not None:
        masks.append(("UNIT_MAGNITUDE", unit_magnitude))
    bits = np.zeros(n, dtype=np.int64)
    for k, (_, m) in enumerate(masks):
        bits |= np.asarray(m, dtype=bool).astype(np.int64) << k
    combo, cu = pd.factorize(ecode * (1 << len(masks)) + bits)
    texts = []
    for key in cu:
        e, b = divmod(int(key), 1 << len(masks))
        flags = [f for f in str(euniq[e]).split(";") if f]
        for k, (code, _) in enumerate(masks):
            if b >> k & 1 and code not in flags and code != "UNIT_MAGNITUDE":
                flags.append(code)
        f = ";".join(flags)
        if unit_magnitude is not None and b >> (len(masks) - 1) & 1 and "UNIT_MAGNITUDE" not in f:
            f = (f + ";UNIT_MAGNITUDE").strip(";")
        texts.append(f if unit_magnitude is None else f.strip(";"))
    return np.asarray(texts, dtype=object)[combo]


def flag_results(data: pd.DataFrame) -> pd.Series:
    """Pre-analytical flag codes per result (``;``-separated), from the columns present.

    Existing flags (e.g. ``DUPLICATE`` from the import) are kept. Nothing is dropped.
    """
    return pd.Series(_flag_texts(data), index=data.index, dtype=object)


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
    res = data.copy(deep=False)  # copy-on-write (pandas >= 3): new columns and replaced ones stay in this table
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
    pct = per_unique(res["ref_percentiles"], lambda u: (u.fillna("").astype(str) == "not stated").to_numpy(dtype=bool))
    assumed = pct & ~np.isnan(z)
    if assumed.any():
        note = res["ref_note"].to_numpy(dtype=object).copy()
        note[assumed] = per_unique(pd.Series(note[assumed]), lambda u: np.array(
            [(n + "; " if n else "") + "percentiles not stated by the source: zlog assumes 2.5–97.5" for n in u], dtype=object))
        res["ref_note"] = note
    # probable unit error against the chosen interval: closer to the interval x/÷ 1000 than to itself (log scale)
    k = math.sqrt(1000.0)
    off = (~np.isnan(hi)) & (cens == "") & ((v > hi * k) | (~np.isnan(lo) & (v < lo / k)))
    flags = pd.Series(_flag_texts(res, off), index=res.index)
    res["flags"] = flags
    res["flag_notes"] = per_unique(flags, lambda u: np.array([flag_text(x) for x in u], dtype=object))
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
    gcode, ngroups, first = group_codes(results["subject_id"], results["timepoint"])
    mcode, muniq = codes_of(results["marker"])
    same = gcode * len(muniq) + mcode
    dup = counts_per_row(same) > 1
    kidney = np.zeros(len(results), dtype=bool)
    if "flags" in results:
        for code in BALANCE_EXCLUDING_FLAGS:
            kidney |= per_unique(results["flags"], lambda u, c=code: u.fillna("").astype(str).str.contains(
                rf"(?:^|;){c}(?:;|$)", regex=True).to_numpy(dtype=bool))
    kidney &= ~dup
    z = results["z"].to_numpy(dtype=float)
    usable = ~dup & ~kidney & ~np.isnan(z)
    mclass = np.array([cls.get(m) for m in muniq], dtype=object)[mcode]
    form = usable & (mclass == FORMATION)
    reso = usable & (mclass == RESORPTION)
    marker = np.asarray(muniq, dtype=object)[mcode]
    by = pd.Series(gcode)

    def mean(mask: np.ndarray) -> np.ndarray:
        return pd.Series(np.where(mask, z, np.nan)).groupby(by, sort=True).mean().to_numpy()

    pats = {name: joined_in_order(gcode, ngroups, np.where(mask, marker, ""))
            for name, mask in (("fm", form), ("rm", reso), ("dup", dup), ("kid", kidney), ("noz", ~usable & ~dup & ~kidney))}
    out = pd.DataFrame({"formation_z": mean(form), "resorption_z": mean(reso), "turnover_z": mean(usable)})
    for name, col in (("fm", "formation_markers"), ("rm", "resorption_markers")):
        out[col] = pd.Series(np.asarray(pats[name][1], dtype=object)[pats[name][0]].tolist())
    out["n_markers"] = pd.Series(np.where(usable, z, np.nan)).groupby(by, sort=True).count().to_numpy()
    out["balance_index"] = out["formation_z"] - out["resorption_z"]
    out["balance_basis"] = _balance_basis(pats["fm"], pats["rm"])
    out["turnover_state"] = _states(out["turnover_z"].to_numpy(), out["balance_index"].to_numpy())
    # ratios from uncensored single values (mass BALP only)
    value = results["value"].to_numpy(dtype=float)
    ok = ~dup & (results["censored"].fillna("") == "").to_numpy(dtype=bool) & ~np.isnan(value)
    ok &= ~((marker == "BALP") & (results["kind"] != "mass").to_numpy(dtype=bool))
    firsts: dict[str, np.ndarray] = {}
    for m in {x for r in RATIOS.values() for x in r[:2]}:
        rows = np.flatnonzero(ok & (marker == m))
        if len(rows):
            gs, at = first_of_each(gcode[rows])
            firsts[m] = np.full(ngroups, np.nan)
            firsts[m][gs] = value[rows[at]]
    for name, (a, b, fa, fb, _) in RATIOS.items():
        out[f"ratio_{name}"] = firsts[a] * fa / (firsts[b] * fb) if a in firsts and b in firsts else np.nan
    out["note"] = _balance_notes(pats["dup"], pats["kid"], pats["noz"])
    for c in ("subject_id", "timepoint", "sample_date", "group", "sex", "age"):
        out[c] = results[c].iloc[first].reset_index(drop=True) if c in results else ("" if c != "age" else np.nan)
    return out[BALANCE_COLUMNS]


def _balance_basis(fm: tuple[np.ndarray, list[str]], rm: tuple[np.ndarray, list[str]]) -> np.ndarray:
    """Which markers the balance index of each sample rests on (once per pair of marker lists)."""
    combo, cu = pd.factorize(fm[0] * (len(rm[1]) + 1) + rm[0])
    texts = []
    for key in cu:
        f, r = fm[1][key // (len(rm[1]) + 1)], rm[1][key % (len(rm[1]) + 1)]
        if f == "PINP" and r == "CTX1":
            texts.append("uncoupling index (PINP z − CTX1 z)")
        elif f and r:
            texts.append("mean z of " + f.replace(",", ", ") + " − mean z of " + r.replace(",", ", "))
        else:
            texts.append("needs a formation and a resorption marker")
    return np.asarray(texts, dtype=object)[combo]


def _states(tz: np.ndarray, bi: np.ndarray) -> np.ndarray:
    """:func:`_state` for whole columns."""
    with np.errstate(invalid="ignore"):
        level = np.where(np.isnan(tz), 0, np.where(tz >= TURNOVER_THRESHOLD, 1, np.where(tz <= -TURNOVER_THRESHOLD, 2, 3)))
        dom = np.where(~np.isnan(bi) & (np.abs(bi) >= BALANCE_THRESHOLD), np.where(bi > 0, 1, 2), 0)
    texts = np.array([_state(t, b) for t in (math.nan, 2.0, -2.0, 0.0) for b in (math.nan, 2.0, -2.0)], dtype=object)
    return texts[level * 3 + dom]


def _balance_notes(dups: tuple[np.ndarray, list[str]], kid: tuple[np.ndarray, list[str]], noz: tuple[np.ndarray, list[str]]) -> list[str]:
    """Per sample: the markers left out of its balance and why (once per combination)."""
    combo, cu = pd.factorize((dups[0] * (len(kid[1]) + 1) + kid[0]) * (len(noz[1]) + 1) + noz[0])
    texts = []
    for key in cu:
        rest, nz = divmod(int(key), len(noz[1]) + 1)
        d, kd = divmod(rest, len(kid[1]) + 1)
        d, kd, nz = dups[1][d], kid[1][kd], noz[1][nz]
        parts = []
        if d:
            parts.append("reported twice, not used: " + d.replace(",", ", "))
        if kd:
            parts.append("left out, kidney function (RENAL / RENAL_PINP flag: reads high): " + kd.replace(",", ", "))
        if nz:
            parts.append("no z (censored or no interval): " + nz.replace(",", ", "))
        texts.append("; ".join(parts))
    return np.asarray(texts, dtype=object)[combo].tolist()


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
