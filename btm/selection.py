"""Which reference interval applies to one subject: the selection rule, with its sources.

The rows come from :mod:`btm.ranges` (shipped ``reference_ranges/intervals.csv`` and the user's
``--ranges`` files, already converted to canonical units). :func:`select_interval` chooses one
row for a result, or says why there is none; :func:`select_intervals` does it for a tidy table.
The rules are stated in :data:`METHODS` (rendered by the report) and in
``reference_ranges/README.md``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._groupwise import group_codes

__all__ = [
    "ADULT_AGE",
    "GROWTH_POPULATIONS",
    "Interval",
    "METHODS",
    "MENOPAUSE_AGE",
    "PREGNANCY_POPULATIONS",
    "Undetermined",
    "pregnancy_state",
    "pregnancy_states",
    "select_interval",
    "select_intervals",
]

MENOPAUSE_AGE = 51  # median age at natural menopause [K]; used only when menopausal status is missing
#: Below this age a subject is always in the growth phase (never given an adult interval). From this
#: age on, a source's paediatric/adolescent band still applies where it covers the age (LIFE Child to
#: 18 y [Geserick20], Alfred to 20 y, PathWest to 20 y): markers stay high until the growth plates
#: close ([Alfred]: "values can be higher before growth-plate closure").
ADULT_AGE = 18
GROWTH_POPULATIONS = ("child", "tanner_1", "tanner_2", "tanner_3", "tanner_4", "tanner_5")
PREGNANCY_POPULATIONS = ("pregnancy", "pregnancy_t1", "pregnancy_t2", "pregnancy_t3", "lactation")

#: The selection rules in plain words with their sources: (topic, text) pairs for the report's Methods.
METHODS: list[tuple[str, str]] = [
    (
        "Reference interval: which row",
        "Rows of the result's marker, specimen and kind of measurement (mass, activity, BCE, creatinine ratio) whose sex "
        "('any' fits both), population and age band (age_min ≤ age < age_max) fit the subject. Among them: a row of your "
        "own interval file first, then the more specific population (e.g. premenopausal before 'adult' women), a row whose "
        "assay matches the data's, default=yes, the narrowest age band, file order (reference_ranges/README.md).",
    ),
    (
        "Reference interval: children and adolescents",
        f"Under {ADULT_AGE} y only growth-phase intervals are used (children/adolescents, or Tanner stage when given); a "
        "growth-phase band also applies from 18 y on wherever a source's paediatric band covers the age (LIFE Child to 18 y "
        "[Geserick20]; Alfred PINP and PathWest CTX to 20 y), because markers stay high until the growth plates close "
        "([Alfred]: values can be higher before growth-plate closure). Adult intervals apply after the paediatric bands end. "
        "A child without a fitting growth band gets no interval (adult limits are never used for a growing skeleton).",
    ),
    (
        "Reference interval: sex unknown",
        "An interval is given only where the source publishes one for both sexes together (sex 'any'), or where the men's "
        "and the women's interval chosen for the subject have the same limits. Otherwise the status is 'undetermined' and "
        "ref_note says why: the IOF/IFCC premenopausal-women range is a treatment target, not a population interval for "
        "people of unknown sex [Vasikaran11]. A menopausal status or a pregnancy in the data means a woman.",
    ),
    (
        "Reference interval: women",
        f"Postmenopausal, premenopausal (perimenopausal women: premenopausal) or, without menopausal status, from age "
        f"(≥ {MENOPAUSE_AGE} y postmenopausal: a convention at the median age of natural menopause); ref_note says which. "
        "A row for 'adult' women (sex F) applies to women of any menopausal status when no row of the same file is "
        "more specific; your own file's rows come before the shipped ones.",
    ),
    (
        "Reference interval: pregnancy and lactation",
        "Interval files may hold rows for the populations pregnancy, pregnancy_t1/_t2/_t3 (trimester) and lactation; they "
        "are chosen for subjects whose pregnancy column says so (a trimester when stated as 1st/2nd/3rd, T1–T3 or "
        "'trimester N'). No such interval is shipped: without one the non-pregnant interval is used and ref_note says so, "
        "because all bone markers rise in pregnancy and stay raised in lactation [More03][Carneiro10].",
    ),
]

_POP_WORDS = {
    "adult": "adults", "premenopausal": "premenopausal women", "postmenopausal": "postmenopausal women",
    "child": "children", "pregnancy": "pregnant women", "pregnancy_t1": "pregnant women, 1st trimester",
    "pregnancy_t2": "pregnant women, 2nd trimester", "pregnancy_t3": "pregnant women, 3rd trimester",
    "lactation": "lactating women",
}


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


class Undetermined(str):
    """Why there is no interval, when the status must read ``undetermined`` (not merely 'no interval')."""

    __slots__ = ()


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


def _describe(row: dict[str, Any]) -> str:
    pop = row["population"]
    who = _POP_WORDS.get(pop, pop.replace("_", " stage "))
    if pop in ("adult", "child") and row["sex"] in ("M", "F"):
        who = {"M": "men", "F": "women"}[row["sex"]] if pop == "adult" else {"M": "boys", "F": "girls"}[row["sex"]]
    return f"{who} {_band(row['age_min'], row['age_max'])}"


def _lo(r: dict[str, Any]) -> float:
    return -math.inf if math.isnan(r["age_min"]) else r["age_min"]


def _hi(r: dict[str, Any]) -> float:
    return math.inf if math.isnan(r["age_max"]) else r["age_max"]


_ORDINALS = {"1": "1", "2": "2", "3": "3", "first": "1", "second": "2", "third": "3", "1st": "1", "2nd": "2", "3rd": "3", "i": "1", "ii": "2", "iii": "3"}


def pregnancy_state(text: Any) -> str:
    """``pregnancy``, ``pregnancy_t1``…``_t3``, ``lactation`` or ``""`` from a pregnancy cell.

    Only what the cell says: a trimester when it names one (``T2``, ``2nd trimester``,
    ``trimester 3``); gestational weeks are not turned into a trimester.

    >>> [pregnancy_state(x) for x in ("yes", "2nd trimester", "T3", "lactating", "no", "")]
    ['pregnancy', 'pregnancy_t2', 'pregnancy_t3', 'lactation', '', '']
    """
    t = str(text if text is not None else "").strip().casefold()
    if not t or t in ("nan", "no", "n", "false", "0", "nein", "none", "-"):
        return ""
    if re.search(r"lactat|breast|stillend|nursing", t):
        return "lactation"
    m = re.search(r"\bt\s*([123])\b|\b(first|second|third|1st|2nd|3rd|[123]|i{1,3})\s*(?:\.|st|nd|rd)?\s*trim|trim\w*\s*(?:\.|:)?\s*([123]|i{1,3})\b", t)
    if m:
        word = next(g for g in m.groups() if g)
        return f"pregnancy_t{_ORDINALS[word]}"
    if t in ("yes", "y", "true", "1", "ja", "x") or re.match(r"^(pregnan|schwanger|gravid)", t):
        return "pregnancy"
    return ""


def _rank_key(pop_index: int, r: dict[str, Any], i: int, *, assay: str, has_age: bool) -> tuple:
    s = str(r["assay"]).strip().casefold()
    width = _hi(r) - _lo(r)
    return (
        r["origin"] != "user",
        pop_index,
        not (assay and s and (assay in s or s in assay)),
        not r["default"],
        width if has_age else -width,
        i,
    )


def _growth_covers(cand: list[dict[str, Any]], sexes: set[str], age: float) -> float | None:
    """The upper age of a paediatric band (population ``child``) covering ``age``, else None."""
    tops = [_hi(r) for r in cand if r["population"] == "child" and r["sex"] in sexes and not math.isnan(r["age_max"]) and _lo(r) <= age < _hi(r)]
    return max(tops) if tops else None


def _select_for_sex(
    cand: list[dict[str, Any]], *, marker: str, sex: str, age: float, menopausal_status: str, assay: str,
    tanner_stage: str, pregnancy: str,
) -> Interval | str:
    """The rule for a subject of known sex (``sex=""``: rows for both sexes only)."""
    why: list[str] = []
    has_age = not math.isnan(age)
    sexes = {sex, "any"} if sex else {"any"}
    stage = str(tanner_stage).strip().upper().replace("TANNER", "").strip()
    stage = {"I": "1", "II": "2", "III": "3", "IV": "4", "V": "5"}.get(stage, stage)
    tanner_rows = stage in ("1", "2", "3", "4", "5") and any(r["population"] == f"tanner_{stage}" and r["sex"] in sexes for r in cand)
    growth_top = _growth_covers(cand, sexes, age) if has_age and age >= ADULT_AGE else None
    growth = (has_age and age < ADULT_AGE) or growth_top is not None or (not has_age and tanner_rows)
    pregnant: list[str] = []
    if growth:
        pops = [f"tanner_{stage}"] if tanner_rows else ["child"]
        if growth_top is not None:
            why.append(
                f"age {age:g}: a growth-phase band covers this age (to {growth_top:g} y): paediatric interval used, "
                "adult intervals start after it"
            )
    elif sex == "M" or not sex:
        pops = ["adult"]
    else:
        if pregnancy.startswith("pregnancy"):
            pregnant = ([pregnancy] if pregnancy != "pregnancy" else []) + ["pregnancy"]
        elif pregnancy == "lactation":
            pregnant = ["lactation"]
        if menopausal_status == "post":
            pops = ["postmenopausal", "adult"]
        elif menopausal_status == "pre":
            pops = ["premenopausal", "adult"]
        elif menopausal_status == "peri":
            pops = ["premenopausal", "adult"]
            why.append("perimenopausal: no own interval, premenopausal used")
        elif pregnant:
            pops = ["premenopausal", "adult"]
        elif has_age:
            post = age >= MENOPAUSE_AGE
            pops = ["postmenopausal", "adult"] if post else ["premenopausal", "adult"]
            why.append(f"menopausal status unknown: {'post' if post else 'pre'}menopausal assumed from age {age:g} (cut-off {MENOPAUSE_AGE} y)")
        else:
            pops = ["premenopausal", "adult"]
            why.append("menopausal status and age unknown: premenopausal interval used")
        pops = pregnant + pops
    a = assay.strip().casefold()
    ranked: list[tuple[tuple, dict[str, Any], str]] = []
    age_notes: dict[str, str] = {}
    for k, pop in enumerate(pops):
        pool = [r for r in cand if r["population"] == pop and r["sex"] in sexes]
        if not pool:
            continue
        if has_age:
            fit = [r for r in pool if _lo(r) <= age < _hi(r)]
            if not fit and not growth and pop not in PREGNANCY_POPULATIONS and age >= ADULT_AGE:
                # nearest band within 5 years, said so; never for children (their levels change fast)
                d, i = min((min(abs(_lo(r) - age), abs(age - _hi(r))), i) for i, r in enumerate(pool))
                if d <= 5:
                    fit = [pool[i]]
                    age_notes[pop] = f"age {age:g} is outside the published {pop} bands; nearest band used"
            pool = fit
        for i, r in enumerate(pool):
            ranked.append((_rank_key(k, r, i, assay=a, has_age=has_age), r, pop))
    if not ranked:
        who = f"{'sex ' + sex + ', ' if sex else ''}{'age ' + format(age, 'g') if has_age else 'age unknown'}"
        return f"no {marker} reference interval for this subject ({who})"
    _, chosen, used_pop = min(ranked, key=lambda t: t[0])
    if used_pop in age_notes:
        why.append(age_notes[used_pop])
    if not has_age:
        why.append("age unknown: widest band used")
    if pregnant and used_pop not in PREGNANCY_POPULATIONS:
        state = "lactating" if pregnant == ["lactation"] else "pregnant"
        src = "[Carneiro10]" if state == "lactating" else "[More03]"
        why.append(f"{state}: no pregnancy/lactation interval in the interval files; the non-pregnant interval is used (bone markers are higher {src})")
    if used_pop == "adult" and sex == "F" and pops[-1] == "adult" and pops.index("adult") > 0:
        why.append("no more specific row: interval for all women used")
    if chosen["origin"] != "user":
        mine = [r for r in cand if r["origin"] == "user"]
        if mine:
            shown = "; ".join(f"{_describe(r)} ({r['population']}, sex {r['sex']})" for r in mine[:3])
            why.append(f"your interval file's rows for {marker} do not fit this subject: {shown}")
    return Interval(
        low=float(chosen["lower_c"]), high=float(chosen["upper_c"]), unit=str(chosen["unit_c"]),
        population=_describe(chosen), source=str(chosen["source"]), assay=str(chosen["assay"]),
        percentiles=str(chosen["percentiles"]), why="; ".join(why), origin=str(chosen["origin"]),
    )


def _same_limits(a: Interval, b: Interval) -> bool:
    def eq(x: float, y: float) -> bool:
        return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9, abs_tol=0.0)

    return a.unit == b.unit and eq(a.low, b.low) and eq(a.high, b.high)


def _limits_text(iv: Interval) -> str:
    lo = "" if math.isnan(iv.low) else f"{iv.low:g}"
    return f"{lo}–{iv.high:g} {iv.unit}" if lo else f"≤{iv.high:g} {iv.unit}"


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
    pregnancy: str = "",
) -> Interval | str:
    """The interval for one result, or a string saying why there is none.

    The string is an :class:`Undetermined` when the status must read ``undetermined`` (sex
    unknown and the sexes' limits differ). The rules are in :data:`METHODS`; ``pregnancy`` is a
    state from :func:`pregnancy_state` or the raw cell.
    """
    records = intervals.to_dict("records") if isinstance(intervals, pd.DataFrame) else intervals
    cand = [r for r in records if r["marker"] == marker and r["specimen"] == specimen and r["unit_c"] == unit]
    if not cand:
        return f"no reference interval for {marker} ({specimen}, {unit})"
    try:
        age = float(age)
    except (TypeError, ValueError):
        age = math.nan
    state = pregnancy if pregnancy in PREGNANCY_POPULATIONS else pregnancy_state(pregnancy)
    sex = sex if sex in ("M", "F") else ""
    inferred = ""
    if not sex and (menopausal_status in ("pre", "peri", "post") or state):
        sex, inferred = "F", ("menopausal status" if menopausal_status in ("pre", "peri", "post") else "pregnancy") + " given: a woman"
    kw = dict(marker=marker, age=age, menopausal_status=menopausal_status, assay=assay, tanner_stage=tanner_stage, pregnancy=state)
    if sex:
        res = _select_for_sex(cand, sex=sex, **kw)
        if inferred and isinstance(res, Interval):
            res = Interval(**{**res.__dict__, "why": "; ".join(x for x in (f"sex unknown, {inferred}", res.why) if x)})
        return res
    both = _select_for_sex(cand, sex="", **kw)
    if isinstance(both, Interval):
        return Interval(**{**both.__dict__, "why": "; ".join(x for x in ("sex unknown: interval for both sexes used", both.why) if x)})
    men = _select_for_sex(cand, sex="M", **kw)
    women = _select_for_sex(cand, sex="F", **kw)
    if isinstance(men, Interval) and isinstance(women, Interval) and _same_limits(men, women):
        note = f"sex unknown: the men's and the women's intervals have the same limits ({_limits_text(men)})"
        return Interval(**{**men.__dict__, "why": "; ".join(x for x in (note, men.why) if x)})
    if isinstance(men, Interval) and isinstance(women, Interval):
        return Undetermined(
            f"sex unknown: no {marker} interval for both sexes, and the men's ({_limits_text(men)}) and women's "
            f"({_limits_text(women)}) limits differ"
        )
    if isinstance(men, Interval) or isinstance(women, Interval):
        has = "men" if isinstance(men, Interval) else "women"
        return Undetermined(f"sex unknown: a {marker} interval exists only for {has}")
    return f"no {marker} reference interval for this subject (sex unknown)"


_KEYS = ["marker", "specimen", "unit", "sex", "age", "menopausal_status", "assay", "tanner_stage", "pregnancy"]
_OUT = ("ref_low", "ref_high", "ref_unit", "ref_population", "ref_source", "ref_assay", "ref_percentiles", "ref_note", "ref_undetermined")


def select_intervals(data: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """:func:`select_interval` for every row of a tidy table (once per distinct subject situation).

    Returns a frame aligned with ``data``: ``ref_low, ref_high, ref_unit, ref_population,
    ref_source, ref_assay, ref_percentiles, ref_note`` and ``ref_undetermined`` (True where the
    status must read ``undetermined`` for want of an interval, e.g. sex unknown).
    """
    # each column converted once per distinct value; the rule runs once per distinct combination
    col_codes, converted = [], {}
    for k in _KEYS:
        raw = data[k] if k in data else pd.Series("", index=data.index)
        c, u = pd.factorize(raw, use_na_sentinel=False)
        u = pd.Series(np.asarray(u, dtype=object))
        if k == "age":
            conv = pd.to_numeric(u, errors="coerce")
        else:
            conv = u.fillna("").astype(str)
            if k == "pregnancy":
                conv = pregnancy_states(conv)
        col_codes.append(c)
        converted[k] = conv.to_numpy(dtype=float if k == "age" else object)
    codes, _, first = group_codes(*col_codes)
    uniques = [tuple(converted[k][cc[i]] for k, cc in zip(_KEYS, col_codes, strict=True)) for i in first]
    by_marker: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in intervals.to_dict("records"):
        by_marker.setdefault((r["marker"], r["specimen"], r["unit_c"]), []).append(r)
    cols: dict[str, list[Any]] = {k: [] for k in _OUT}
    for key in uniques:
        d = dict(zip(_KEYS, key, strict=True))
        res = select_interval(
            by_marker.get((d["marker"], d["specimen"], d["unit"]), []), marker=d["marker"], specimen=d["specimen"],
            unit=d["unit"], sex=d["sex"], age=float(d["age"]), menopausal_status=d["menopausal_status"],
            assay=d["assay"], tanner_stage=d["tanner_stage"], pregnancy=d["pregnancy"],
        )
        if isinstance(res, str):
            vals = (np.nan, np.nan, "", "", "", "", "", str(res), isinstance(res, Undetermined))
        else:
            vals = (res.low, res.high, res.unit, res.population, res.source, res.assay, res.percentiles, res.why, False)
        for k, v in zip(_OUT, vals, strict=True):
            cols[k].append(v)
    dtypes = {"ref_low": float, "ref_high": float, "ref_undetermined": bool}
    return pd.DataFrame({k: np.asarray(v, dtype=dtypes.get(k, object))[codes] for k, v in cols.items()}, index=data.index)


def pregnancy_states(s: pd.Series) -> pd.Series:
    """Pregnancy state per row (one call per distinct cell text)."""
    codes, uniques = pd.factorize(s)
    mapped = np.array([pregnancy_state(u) for u in uniques] + [""], dtype=object)
    return pd.Series(mapped[np.where(codes < 0, len(uniques), codes)], index=s.index)
