"""What the exercise literature expects, and whether a trial's arms agree with it.

The table ``btm/data/evidence.csv`` (see ``btm/data/EVIDENCE.md``) lists, per exercise type ×
population × marker, the direction of change reported in the literature, each row with its
citation. Each arm is mapped to an exercise type (from its label, or the study file) and its
subjects to a population; every arm × marker result is then annotated ``consistent``,
``inconsistent``, ``mixed evidence`` or ``no published expectation``.
"""

from __future__ import annotations

import functools
import math
import re

import pandas as pd

from ._resources import data_path

__all__ = [
    "EVIDENCE_COLUMNS",
    "EXERCISE_TYPES",
    "arm_population",
    "compare_with_evidence",
    "evidence_table",
    "exercise_type_of",
    "recommendations",
]

EXERCISE_TYPES = ("endurance", "resistance", "impact", "flexibility_balance", "combined", "control")
POPULATIONS = ("children_adolescents", "young_adults", "premenopausal_women", "postmenopausal_women", "older_adults", "older_men", "any")
ALPHA = 0.05
EVIDENCE_COLUMNS = [
    "group", "exercise_type", "population", "marker", "timepoint_from", "timepoint_to", "n", "gm_pct_change",
    "gm_pct_ci_low", "gm_pct_ci_high", "p_adj", "observed", "vs_control_pct", "vs_control_p", "expected", "verdict",
    "evidence", "citations",
]

_WORDS = {
    "control": r"\b(control|controls|con|ctrl|usual care|kontroll\w*|wait[\s-]?list|sham|no exercise|placebo|stretching control)\b",
    "combined": r"\b(combined|combination|mixed|multi[\s-]?component|multimodal|concurrent|resistance\s*\+\s*impact|kombin\w*)\b",
    "flexibility_balance": r"(tai\s*-?\s*chi|taiji|qigong|yoga|pilates|balance|flexibility|stretch\w*|rhythmic gymnastics|gymnastics|dance)",
    "impact": r"(impact|jump\w*|plyometric\w*|hop\w*|sprint\w*|speed|springen|sprung\w*|ball games?)",
    "resistance": r"(resistance|strength|weight[\s-]?(training|lifting|bearing)?|krafttraining|kraft|squat\w*|power\w*)",
    "endurance": r"(endurance|aerobic|running|runner\w*|jogging|cycling|walking|walk|swim\w*|rowing|ausdauer|lauf\w*|cardio)",
}


def exercise_type_of(label: str) -> str:
    """Exercise type of an arm label (``""`` when the label does not say)."""
    t = str(label).casefold()
    for kind in ("control", "combined", "flexibility_balance", "impact", "resistance", "endurance"):
        if re.search(_WORDS[kind], t):
            if kind in ("impact", "resistance") and re.search(_WORDS["resistance"], t) and re.search(_WORDS["impact"], t):
                return "combined"
            return kind
    return ""


def detect_control(groups: list[str]) -> str | None:
    """The control arm among group labels, when exactly one label says control."""
    hits = [g for g in groups if exercise_type_of(g) == "control"]
    return hits[0] if len(hits) == 1 else None


def _person(sex: str, age: float, meno: str) -> str:
    if not math.isnan(age) and age < 18:
        return "children_adolescents"
    if sex == "F":
        if meno == "post" or (not meno and not math.isnan(age) and age >= 51):
            return "postmenopausal_women"
        if meno in ("pre", "peri") or (not math.isnan(age) and age < 51):
            return "premenopausal_women" if math.isnan(age) or age >= 40 else "young_adults"
        return ""
    if sex == "M":
        if math.isnan(age):
            return ""
        return "older_men" if age >= 50 else "young_adults"
    return ""


def arm_population(data: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Population of each arm's subjects: group -> (population, description of the mix)."""
    cols = [c for c in ("subject_id", "group", "sex", "age", "menopausal_status") if c in data]
    subj = data[cols].drop_duplicates("subject_id")
    out = {}
    for g, s in subj.groupby("group", sort=False):
        kinds = [
            _person(str(r.get("sex", "")), float(r["age"]) if "age" in r and pd.notna(r["age"]) else math.nan, str(r.get("menopausal_status", "")))
            for r in s.to_dict("records")
        ]
        counts = pd.Series([k or "unknown" for k in kinds]).value_counts()
        desc = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
        top, share = counts.index[0], counts.iloc[0] / counts.sum()
        older = counts.get("postmenopausal_women", 0) + counts.get("older_men", 0)
        if top != "unknown" and share >= 2 / 3:
            pop = top
        elif older >= 2 / 3 * counts.sum():
            pop = "older_adults"
        else:
            pop = "any"
        out[str(g)] = (pop, desc)
    return out


@functools.cache
def evidence_table() -> pd.DataFrame:
    """The shipped literature table (``btm/data/evidence.csv``)."""
    return pd.read_csv(data_path("evidence.csv"), dtype=str, keep_default_na=False)


@functools.cache
def recommendations() -> pd.DataFrame:
    """The review's recommended exercise types per population (``btm/data/recommendations.csv``)."""
    return pd.read_csv(data_path("recommendations.csv"), dtype=str, keep_default_na=False)


# populations whose evidence also speaks for a population (sub- and super-sets)
_RELATED = {
    "postmenopausal_women": ["postmenopausal_women", "older_adults"],
    "older_men": ["older_men", "older_adults"],
    "premenopausal_women": ["premenopausal_women", "young_adults"],
    "young_adults": ["young_adults", "premenopausal_women"],
    "older_adults": ["older_adults", "postmenopausal_women", "older_men"],
    "children_adolescents": ["children_adolescents"],
}


def _expectation(exercise: str, population: str, marker: str) -> tuple[str, str, str]:
    """(expected, summaries, citations) from the most specific matching evidence rows."""
    ev = evidence_table()
    ev = ev[(ev["exercise_type"] == exercise) & (ev["marker"] == marker) & (ev["timescale"] == "training")]
    if ev.empty:
        return "", "", ""
    for pops in (_RELATED.get(population, [population]), ["any"]):
        rows = ev[ev["population"].isin(pops)]
        if len(rows):
            break
    else:
        return "", "", ""
    counts = rows["expected"].value_counts()
    expected = counts.index[0] if len(counts) == 1 or counts.iloc[0] > counts.iloc[1] else "mixed"
    summaries = " | ".join(f"{s} [{p.replace('_', ' ')}]" for s, p in zip(rows["summary"], rows["population"], strict=True))
    cites = " | ".join(dict.fromkeys(rows["citation"]))
    return expected, summaries, cites


def compare_with_evidence(
    cohort: pd.DataFrame,
    between: pd.DataFrame,
    *,
    arm_types: dict[str, str],
    populations: dict[str, str],
    timepoints: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Annotate each arm × marker result (baseline -> the arm's last timepoint, ``timepoints``) against the literature.

    ``observed`` is the direction of the geometric mean change when its multiplicity-adjusted p
    is below 0.05 (else ``no_change``). The expectation is the majority direction of the evidence
    rows for the arm's population and related populations (e.g. older adults for postmenopausal
    women), else for any population; rows that disagree give ``mixed evidence``.
    Returns :data:`EVIDENCE_COLUMNS`.
    """
    if cohort.empty:
        return pd.DataFrame(columns=EVIDENCE_COLUMNS)
    fallback = list(dict.fromkeys(cohort["timepoint_to"]))[-1]
    last_of = timepoints or {}
    rows = []
    sel = cohort[[t == last_of.get(g, fallback) for g, t in zip(cohort["group"], cohort["timepoint_to"], strict=True)]]
    for r in sel.itertuples(index=False):
        ex = arm_types.get(r.group, "")
        pop = populations.get(r.group, "any")
        if r.n < 2 or math.isnan(r.p_adj):
            observed = "not estimable"
        elif r.p_adj < ALPHA:
            observed = "increase" if r.gm_pct_change > 0 else "decrease"
        else:
            observed = "no_change"
        vs = between[(between["group"] == r.group) & (between["marker"] == r.marker) & (between["timepoint_to"] == r.timepoint_to)] if len(between) else between
        vs_pct = float(vs["pct_difference"].iat[0]) if len(vs) else math.nan
        vs_p = float(vs["p"].iat[0]) if len(vs) else math.nan
        if ex == "control":
            expected, summ, cites, verdict = "no_change", "control arm: no exercise effect expected", "", "control arm"
        elif not ex:
            expected, summ, cites, verdict = "", "", "", "exercise type unknown (name it in the study file)"
        else:
            expected, summ, cites = _expectation(ex, pop, r.marker)
            if not expected:
                verdict = "no published expectation"
            elif expected == "mixed":
                verdict = "mixed evidence"
            elif observed == "not estimable":
                verdict = "not estimable"
            elif expected == observed:
                verdict = "consistent"
            else:
                verdict = "inconsistent"
        rows.append({
            "group": r.group, "exercise_type": ex, "population": pop, "marker": r.marker, "timepoint_from": r.timepoint_from,
            "timepoint_to": r.timepoint_to, "n": r.n, "gm_pct_change": r.gm_pct_change, "gm_pct_ci_low": r.gm_pct_ci_low,
            "gm_pct_ci_high": r.gm_pct_ci_high, "p_adj": r.p_adj, "observed": observed, "vs_control_pct": vs_pct,
            "vs_control_p": vs_p, "expected": expected, "verdict": verdict, "evidence": summ, "citations": cites,
        })
    return pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)



#: What the comparison with the literature does, in words (quoted by the report's Methods sheet).
METHODS = (
    f"An arm's change is 'observed' as an increase or decrease when its adjusted p < {ALPHA:g}. It is compared with the "
    "majority direction of the published evidence for the arm's exercise type and population (related populations, else "
    "any population); disagreeing sources give 'mixed evidence'. The literature table and its citations are "
    "btm/data/evidence.csv."
)
