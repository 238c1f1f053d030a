"""What the exercise literature expects, and whether a trial's arms agree with it.

The table ``btm/data/evidence.csv`` (see ``btm/data/EVIDENCE.md``) lists, per exercise type ×
population × clinical condition × marker, the direction of change reported in the literature and
what it was compared with (change within the exercising group, or against a control group), each
row with its citation. Each arm is mapped to an exercise type (from its label, or the study file),
its subjects to a population, and the trial to a clinical condition (none unless the study says);
every arm × marker result is then given a verdict (:data:`VERDICTS`) for its within-arm change and,
where the literature reports one, for its difference from control.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._groupwise import group_codes
from ._resources import data_path

__all__ = [
    "COMPARISONS",
    "CONDITIONS",
    "EVIDENCE_COLUMNS",
    "EXERCISE_TYPES",
    "METHODS",
    "VERDICTS",
    "arm_population",
    "compare_with_evidence",
    "evidence_table",
    "exercise_type_of",
    "recommendations",
    "verdict",
]

EXERCISE_TYPES = ("endurance", "resistance", "impact", "flexibility_balance", "combined", "control")
POPULATIONS = ("children_adolescents", "young_adults", "premenopausal_women", "postmenopausal_women", "older_adults", "older_men", "any")
#: Clinical conditions coded in the evidence table; a trial names its own with ``condition`` (study file,
#: ``--condition``). Rows of a condition apply only to trials in that condition, never to healthy groups.
CONDITIONS = (
    "osteoporosis", "low_bone_mass", "type_1_diabetes", "type_2_diabetes", "breast_cancer_survivors", "patients_unspecified",
)
COMPARISONS = ("within", "vs_control", "cross_sectional", "unclear")
ALPHA = 0.05
EVIDENCE_COLUMNS = [
    "group", "exercise_type", "population", "marker", "timepoint_from", "timepoint_to", "n", "gm_pct_change",
    "gm_pct_ci_low", "gm_pct_ci_high", "p_adj", "observed", "vs_control_pct", "vs_control_p", "expected", "verdict",
    "evidence", "citations", "condition", "vs_control_p_adj", "observed_vs_control", "expected_vs_control",
    "verdict_vs_control", "evidence_vs_control", "citations_vs_control", "context",
]

#: Verdict -> meaning (for the report's glossary and README).
VERDICTS = {
    "consistent": "a significant change (adjusted p < 0.05) in the direction the literature reports, or no detectable "
    "change where the literature reports no significant change",
    "inconsistent": "a significant change against the direction the literature reports",
    "not shown": "the literature reports a change; this arm shows no detectable change (not significant): neither "
    "confirmed nor contradicted",
    "change not reported": "the literature reports no significant change; this arm changed significantly (a null result "
    "does not show equivalence, so this is not called inconsistent)",
    "mixed evidence": "the applicable studies disagree (no majority direction)",
    "no published expectation": "no study of this exercise type, marker, population (or a related one) and condition",
    "not estimable": "fewer than two complete pairs, or no p-value",
    "no control arm": "the literature reports a between-group result, but the trial has no control arm to compare",
    "control arm": "the control arm itself",
}

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
    person = [c for c in ("sex", "age", "menopausal_status") if c in subj]
    if person and len(subj):  # one call per distinct (sex, age, menopausal status)
        codes, _, first = group_codes(*(subj[c] for c in person))
        firsts = subj.iloc[first]
        kind_of = np.array([
            _person(str(r.get("sex", "")), float(r["age"]) if "age" in r and pd.notna(r["age"]) else math.nan, str(r.get("menopausal_status", "")))
            or "unknown" for r in firsts[person].to_dict("records")
        ], dtype=object)[codes]
    else:
        kind_of = np.full(len(subj), _person("", math.nan, "") or "unknown", dtype=object)
    gcode, garms = pd.factorize(subj["group"])
    for k, g in enumerate(garms):
        counts = pd.Series(kind_of[gcode == k].tolist()).value_counts()
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


@dataclass(frozen=True)
class Expectation:
    """What the evidence rows that apply to one arm × marker × comparison lead us to expect."""

    expected: str  # increase / decrease / no_change / mixed / ""
    evidence: str
    citations: str


def _rows_for(exercise: str, population: str, condition: str, marker: str) -> pd.DataFrame:
    """Training rows that may speak for this arm: same exercise type, marker and condition; a
    related population (a clinical condition also accepts rows whose population is not stated)."""
    ev = evidence_table()
    ev = ev[(ev["exercise_type"] == exercise) & (ev["marker"] == marker) & (ev["timescale"] == "training") & (ev["condition"] == condition)]
    pops = _RELATED.get(population, [])
    ok = ev["population"].isin(pops)
    if condition:
        ok |= ev["population"] == "not_stated"
    return ev[ok]


def _summarise(rows: pd.DataFrame) -> tuple[str, str]:
    summaries = " | ".join(
        f"{s} [{p.replace('_', ' ')}{', ' + c.replace('_', ' ') if c else ''}]"
        for s, p, c in zip(rows["summary"], rows["population"], rows["condition"], strict=True)
    )
    return summaries, " | ".join(dict.fromkeys(rows["citation"]))


def _expectation(rows: pd.DataFrame) -> Expectation:
    if rows.empty:
        return Expectation("", "", "")
    counts = rows["expected"].value_counts()
    expected = counts.index[0] if len(counts) == 1 or counts.iloc[0] > counts.iloc[1] else "mixed"
    return Expectation(expected, *_summarise(rows))


def verdict(expected: str, observed: str) -> str:
    """The verdict of one observed change against one expectation (see :data:`VERDICTS`)."""
    if not expected:
        return "no published expectation"
    if expected == "mixed":
        return "mixed evidence"
    if observed == "not estimable":
        return "not estimable"
    if expected in ("increase", "decrease"):
        if observed == expected:
            return "consistent"
        return "not shown" if observed == "no_change" else "inconsistent"
    # the literature reports no significant change
    return "consistent" if observed == "no_change" else "change not reported"


def _observed(p_adj: float, pct: float, n_ok: bool = True) -> str:
    if not n_ok or math.isnan(p_adj) or math.isnan(pct):
        return "not estimable"
    if p_adj < ALPHA:
        return "increase" if pct > 0 else "decrease"
    return "no_change"


def compare_with_evidence(
    cohort: pd.DataFrame,
    between: pd.DataFrame,
    *,
    arm_types: dict[str, str],
    populations: dict[str, str],
    timepoints: dict[str, str] | None = None,
    conditions: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Annotate each arm × marker result (baseline -> the arm's last timepoint, ``timepoints``) against the literature.

    * ``verdict``: the within-arm change (geometric mean, multiplicity-adjusted p) against evidence
      rows that report a change from baseline in the exercising group (``comparison = within``);
    * ``verdict_vs_control``: the arm-vs-control estimate (``between``, adjusted p) against rows
      that report a between-group result (``comparison = vs_control``);
    * cross-sectional rows (athletes vs non-athletes), rows with an unclear comparison and rows whose
      arms also had a co-intervention (drug, supplement) never give a verdict; they are listed in
      ``context``.

    Only rows of the arm's condition apply (``conditions``: group -> condition, ``""`` = no clinical
    condition): a trial in type 2 diabetes or in breast-cancer survivors never sets the expectation
    for healthy arms. Healthy arms use rows of their population or a related one (e.g. older adults
    for postmenopausal women), never rows whose population is not stated. Rules: :data:`METHODS`, words: :data:`VERDICTS`.
    Returns :data:`EVIDENCE_COLUMNS`.
    """
    if cohort.empty:
        return pd.DataFrame(columns=EVIDENCE_COLUMNS)
    fallback = list(dict.fromkeys(cohort["timepoint_to"]))[-1]
    last_of = timepoints or {}
    conds = conditions or {}
    rows = []
    sel = cohort[[t == last_of.get(g, fallback) for g, t in zip(cohort["group"], cohort["timepoint_to"], strict=True)]]
    for r in sel.itertuples(index=False):
        ex = arm_types.get(r.group, "")
        pop = populations.get(r.group, "any")
        cond = conds.get(r.group, "")
        observed = _observed(r.p_adj, r.gm_pct_change, r.n >= 2)
        vs = between[(between["group"] == r.group) & (between["marker"] == r.marker) & (between["timepoint_to"] == r.timepoint_to)] if len(between) else between
        vs_pct = float(vs["pct_difference"].iat[0]) if len(vs) else math.nan
        vs_p = float(vs["p"].iat[0]) if len(vs) else math.nan
        vs_p_adj = float(vs["p_adj"].iat[0]) if len(vs) and "p_adj" in vs else math.nan
        obs_vs = _observed(vs_p_adj, vs_pct) if len(vs) else ""
        within = vsc = Expectation("", "", "")
        context = ""
        if ex == "control":
            within = Expectation("no_change", "control arm: no exercise effect expected", "")
            v, v_vs = "control arm", ""
        elif not ex:
            v, v_vs = "exercise type unknown (name it in the study file)", ""
        else:
            cand = _rows_for(ex, pop, cond, r.marker)
            plain = cand["co_intervention"] == ""
            within = _expectation(cand[plain & (cand["comparison"] == "within")])
            vsc = _expectation(cand[plain & (cand["comparison"] == "vs_control")])
            other = cand[~plain | ~cand["comparison"].isin(["within", "vs_control"])]
            if len(other):
                context = " | ".join(
                    f"({c.replace('_', ' ')}{'; with ' + ci if ci else ''}) {s}"
                    for c, ci, s in zip(other["comparison"], other["co_intervention"], other["summary"], strict=True)
                )
            v = verdict(within.expected, observed)
            v_vs = verdict(vsc.expected, obs_vs) if vsc.expected and obs_vs else ("" if not vsc.expected else "no control arm")
        rows.append({
            "group": r.group, "exercise_type": ex, "population": pop, "marker": r.marker, "timepoint_from": r.timepoint_from,
            "timepoint_to": r.timepoint_to, "n": r.n, "gm_pct_change": r.gm_pct_change, "gm_pct_ci_low": r.gm_pct_ci_low,
            "gm_pct_ci_high": r.gm_pct_ci_high, "p_adj": r.p_adj, "observed": observed, "vs_control_pct": vs_pct,
            "vs_control_p": vs_p, "expected": within.expected, "verdict": v, "evidence": within.evidence,
            "citations": within.citations, "condition": cond, "vs_control_p_adj": vs_p_adj, "observed_vs_control": obs_vs,
            "expected_vs_control": vsc.expected, "verdict_vs_control": v_vs, "evidence_vs_control": vsc.evidence,
            "citations_vs_control": vsc.citations, "context": context,
        })
    return pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)


#: What the comparison with the literature does, in words with its rules (quoted by the report's Methods sheet).
METHODS = (
    "Each arm's change to its last timepoint is compared with btm/data/evidence.csv (the exercise-and-bone review and "
    "published trials, one cited row per finding; btm/data/EVIDENCE.md). Observed: increase or decrease when the "
    "adjusted p < 0.05, else no detectable change. Applicable rows: same exercise type and marker, training (not acute) "
    "studies, the arm's population or a related one (older adults for postmenopausal women or older men; young adults "
    "for premenopausal women), and the same clinical condition: rows from patients (osteoporosis, low bone mass, type 1 "
    "or 2 diabetes, breast-cancer survivors, a meta-analysis against conventional treatment) apply only to a trial that "
    "names that condition, never to healthy groups; rows whose population is not stated apply to no healthy arm. "
    "Expected = the majority direction of the applicable rows; no majority = mixed evidence. "
    "Rows that report change from baseline in the exercising group are compared with the arm's within-arm change "
    "(verdict); rows that report a difference from a control group (e.g. +7 % vs +27 % osteocalcin) are compared with "
    "the arm-vs-control estimate (verdict_vs_control). Cross-sectional comparisons of athletes with non-athletes, rows "
    "whose comparison is unclear, and trials whose arms also received a drug or supplement give no verdict (column "
    "context). Verdicts: "
    "consistent: a significant change in the reported direction, or no detectable change where none was reported; "
    "inconsistent: only a significant change against the reported direction; not shown: no detectable change where a "
    "change was reported (never 'inconsistent'); change not reported: a significant change where studies found none "
    "(a null result is not evidence of no effect)."
)
