"""Table 1: baseline characteristics per arm and overall, as tableone and gtsummary users expect.

One row per characteristic × level × column (each arm, then ``Overall``), every number unrounded:

* ``Subjects``: n;
* ``Age (years)``: mean (SD), from each subject's baseline sample (else the first sample with an age);
* ``Sex``: n (%) of the subjects whose sex is known;
* ``Menopausal status`` (women): n (%) of the women whose status is known;
* each marker at baseline (its own baseline for an arm with its own visit labels): geometric mean
  (geometric SD = exp(SD of ln x)) and median [Q1, Q3] (linear interpolation, R's type 7), on
  values that are not censored.

``n`` is the number of subjects with a value in that cell. p-values are computed only on request
(``p_values=True``), as CONSORT advises against testing baseline differences in randomised trials:
one-way ANOVA (age; markers on log values), Pearson's chi-squared test (sex, menopausal status)
and Kruskal-Wallis (marker medians), each named in ``test``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._groupwise import group_codes, per_unique

__all__ = ["OVERALL", "TABLE1_COLUMNS", "table_one"]

#: Columns of :func:`table_one`'s result.
TABLE1_COLUMNS = [
    "variable", "level", "statistic", "group", "n", "estimate", "spread", "spread_low", "spread_high",
    "marker", "specimen", "unit", "test", "p", "note",
]
#: The column label of all subjects together.
OVERALL = "Overall"
_SEX = {"F": "female", "M": "male"}
_MENO = {"pre": "premenopausal", "peri": "perimenopausal", "post": "postmenopausal"}


def _blank_to_nan(s: pd.Series) -> pd.Series:
    s = s.astype(object).where(s.notna(), np.nan)
    return s.where(s.astype(str).str.strip() != "", np.nan)


def _blank_to_nan_per_value(s: pd.Series) -> pd.Series:
    """:func:`_blank_to_nan`, computed once per distinct value."""
    return pd.Series(per_unique(s, lambda u: _blank_to_nan(u).to_numpy(dtype=object)), index=s.index, dtype=object)


def _at_baseline(results: pd.DataFrame, baselines: Mapping[str, str]) -> np.ndarray:
    """Rows drawn at their arm's baseline (compared once per distinct arm and timepoint)."""
    codes, _, first = group_codes(results["timepoint"], results["group"])
    pairs = results[["timepoint", "group"]].iloc[first]
    same = (pairs["timepoint"].astype(str) == pairs["group"].map(baselines).astype(str)).to_numpy(dtype=bool)
    return same[codes]


def _subjects(results: pd.DataFrame, baselines: Mapping[str, str], order: Sequence[str]) -> pd.DataFrame:
    """One row per arm × subject: age, sex and menopausal status, baseline sample first."""
    cols = [c for c in ("age", "sex", "menopausal_status") if c in results]
    d = results[["group", "subject_id", "timepoint", *cols]].copy()
    rank = {t: i for i, t in enumerate(order)}
    d["_base"] = ~_at_baseline(d, baselines)  # False (first) at baseline
    d["_rank"] = per_unique(d["timepoint"], lambda u: u.map(rank).fillna(len(rank)).to_numpy(dtype=float))
    for c in cols:
        d[c] = _blank_to_nan_per_value(d[c]) if c != "age" else pd.to_numeric(d[c], errors="coerce")
    d = d.sort_values(["_base", "_rank"], kind="stable")
    first = d.groupby(["group", "subject_id"], sort=False)[cols].first() if cols else d.groupby(["group", "subject_id"]).size().to_frame("_n")
    for c in ("age", "sex", "menopausal_status"):
        if c not in first:
            first[c] = np.nan
    return first.reset_index()


def _baseline_values(results: pd.DataFrame, baselines: Mapping[str, str]) -> tuple[pd.DataFrame, dict[tuple, str]]:
    """One value per arm × subject × marker at the arm's baseline (not censored); notes per marker."""
    at_base = _at_baseline(results, baselines)
    d = results.loc[at_base, ["group", "subject_id", "marker", "specimen", "unit", "value", "censored"]]
    keys = ["marker", "specimen", "unit"]
    notes: dict[tuple, str] = {}
    cens = d["censored"].fillna("").astype(str) != ""
    v = pd.to_numeric(d["value"], errors="coerce")
    ok = ~cens & (v > 0)
    for key, n in d[cens].groupby(keys, sort=False).size().items():
        notes[key] = f"{n} censored baseline value(s) left out"
    d = d.loc[ok].assign(x=v[ok].astype(float), lv=np.log(v[ok].astype(float)))
    per = d.groupby(["group", "subject_id", *keys], sort=False).agg(lv=("lv", "mean"), x=("x", "first"), size=("x", "size"))
    per = per.reset_index()
    dup = per["size"] > 1
    per.loc[dup, "x"] = np.exp(per.loc[dup, "lv"])
    for key, n in per[dup].groupby(keys, sort=False).size().items():
        extra = f"{n} subject(s) with duplicate baseline results: averaged on the log scale"
        notes[key] = f"{notes[key]}; {extra}" if key in notes else extra
    return per.drop(columns="size"), notes


def _with_overall(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, df.assign(group=OVERALL)], ignore_index=True)


def _p_anova(samples: list[np.ndarray]) -> float:
    samples = [s for s in samples if len(s) >= 1]
    if len(samples) < 2 or sum(len(s) for s in samples) - len(samples) < 1:
        return math.nan
    within = sum(float(((s - s.mean()) ** 2).sum()) for s in samples)
    if within <= 0:
        return math.nan
    from scipy import stats

    return float(stats.f_oneway(*samples).pvalue)


def _p_kruskal(samples: list[np.ndarray]) -> float:
    samples = [s for s in samples if len(s) >= 1]
    allv = np.concatenate(samples) if samples else np.array([])
    if len(samples) < 2 or len(np.unique(allv)) < 2:
        return math.nan
    from scipy import stats

    return float(stats.kruskal(*samples).pvalue)


def _p_chi2(table: pd.DataFrame) -> float:
    t = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    if t.shape[0] < 2 or t.shape[1] < 2:
        return math.nan
    from scipy import stats

    return float(stats.chi2_contingency(t.to_numpy(), correction=False).pvalue)


def _continuous(df: pd.DataFrame, value: str, arms: list[str]) -> pd.DataFrame:
    """n, mean, SD, median, Q1, Q3 of ``value`` per group (arms and Overall)."""
    g = _with_overall(df.dropna(subset=[value])).groupby("group", sort=False)[value]
    out = pd.DataFrame({
        "n": g.size(), "mean": g.mean(), "sd": g.std(ddof=1),
        "median": g.median(), "q1": g.quantile(0.25), "q3": g.quantile(0.75),
    })
    return out.reindex([*arms, OVERALL])


def _age_rows(subj: pd.DataFrame, arms: list[str], p_values: bool) -> list[dict]:
    s = _continuous(subj, "age", arms)
    p = _p_anova([subj.loc[subj["group"] == a, "age"].dropna().to_numpy(float) for a in arms]) if p_values else math.nan
    return [
        {"variable": "Age (years)", "level": "", "statistic": "mean (SD)", "group": g, "n": int(s.at[g, "n"]) if pd.notna(s.at[g, "n"]) else 0,
         "estimate": s.at[g, "mean"], "spread": s.at[g, "sd"], "test": "one-way ANOVA" if p_values else "", "p": p}
        for g in s.index
    ]


def _categorical_rows(subj: pd.DataFrame, column: str, variable: str, labels: Mapping[str, str], arms: list[str], p_values: bool) -> list[dict]:
    known = subj.dropna(subset=[column])
    counts = pd.crosstab(_with_overall(known)["group"], _with_overall(known)[column]).reindex([*arms, OVERALL]).fillna(0)
    levels = [k for k in labels if k in counts.columns] + sorted(c for c in counts.columns if c not in labels)
    p = _p_chi2(counts.loc[[a for a in arms if a in counts.index], levels]) if p_values and levels else math.nan
    rows = []
    for level in levels:
        for g in counts.index:
            total = float(counts.loc[g].sum())
            n = float(counts.at[g, level])
            rows.append({"variable": variable, "level": labels.get(level, str(level)), "statistic": "n (%)", "group": g,
                         "n": int(total), "estimate": n, "spread": 100 * n / total if total else math.nan,
                         "test": "Pearson's chi-squared test" if p_values else "", "p": p})
    return rows


def _marker_rows(values: pd.DataFrame, notes: dict, markers: Sequence[str], arms: list[str], p_values: bool) -> list[dict]:
    rows: list[dict] = []
    keys = ["marker", "specimen", "unit"]
    rank = {m: i for i, m in enumerate(markers)}
    present = values[keys].drop_duplicates()
    present = present.assign(_r=present["marker"].map(rank).fillna(len(rank))).sort_values(["_r", "specimen", "unit"], kind="stable")
    for marker, specimen, unit in present[keys].itertuples(index=False):
        sub = values[(values["marker"] == marker) & (values["specimen"] == specimen) & (values["unit"] == unit)]
        s = _continuous(sub, "lv", arms)
        raw = _continuous(sub, "x", arms)
        samples = [sub.loc[sub["group"] == a, "lv"].to_numpy(float) for a in arms]
        p_gm = _p_anova(samples) if p_values else math.nan
        p_med = _p_kruskal(samples) if p_values else math.nan
        label = f"{marker} ({unit})" if specimen in ("", "serum") else f"{marker}, {specimen} ({unit})"
        common = {"variable": label, "level": "", "marker": marker, "specimen": specimen, "unit": unit,
                  "note": notes.get((marker, specimen, unit), "")}
        for g in s.index:
            n = int(s.at[g, "n"]) if pd.notna(s.at[g, "n"]) else 0
            rows.append({**common, "statistic": "geometric mean (geometric SD)", "group": g, "n": n,
                         "estimate": math.exp(s.at[g, "mean"]) if n else math.nan,
                         "spread": math.exp(s.at[g, "sd"]) if n > 1 else math.nan,
                         "test": "one-way ANOVA on log values" if p_values else "", "p": p_gm})
        for g in raw.index:
            n = int(raw.at[g, "n"]) if pd.notna(raw.at[g, "n"]) else 0
            rows.append({**common, "statistic": "median [IQR]", "group": g, "n": n, "estimate": raw.at[g, "median"],
                         "spread_low": raw.at[g, "q1"], "spread_high": raw.at[g, "q3"],
                         "test": "Kruskal-Wallis test" if p_values else "", "p": p_med})
    return rows


def table_one(
    results: pd.DataFrame,
    *,
    arms: Sequence[str],
    baselines: Mapping[str, str],
    order: Sequence[str],
    markers: Sequence[str] = (),
    p_values: bool = False,
) -> pd.DataFrame:
    """Baseline characteristics per arm and overall.

    Parameters
    ----------
    results
        The interpreted tidy table (``analyze(...).results``).
    arms
        Arms in the order of the columns.
    baselines
        Each arm's baseline timepoint.
    order
        All timepoints in order (a subject without a baseline sample gives age and sex from its
        first sample).
    markers
        Marker order (others follow).
    p_values
        Also test the differences between arms (not Overall).

    Returns
    -------
    DataFrame with :data:`TABLE1_COLUMNS`, one row per variable × level × statistic × group
    (the arms, then :data:`OVERALL`):

    * ``n``: subjects with a value in this cell (for n (%) rows: subjects with a known value);
    * ``estimate``: the n, mean, count, geometric mean or median;
    * ``spread``: SD, %, or geometric SD; ``spread_low``/``spread_high``: Q1 and Q3;
    * ``test``, ``p``: only with ``p_values``; ``note``: values left out and why.
    """
    present = {str(g) for g in pd.unique(results["group"])}
    arms = [a for a in arms if a in present]
    if results.empty or not arms:
        return pd.DataFrame(columns=TABLE1_COLUMNS)
    subj = _subjects(results, baselines, order)
    subj = subj[subj["group"].isin(arms)]
    n_subj = subj.groupby("group").size().reindex(arms).fillna(0).astype(int)
    rows: list[dict] = [
        {"variable": "Subjects", "level": "", "statistic": "n", "group": g, "n": int(n), "estimate": float(n)}
        for g, n in [*n_subj.items(), (OVERALL, int(n_subj.sum()))]
    ]
    rows += _age_rows(subj, arms, p_values)
    rows += _categorical_rows(subj, "sex", "Sex", _SEX, arms, p_values)
    women = subj[subj["sex"].astype(str) == "F"]
    rows += _categorical_rows(women, "menopausal_status", "Menopausal status (women)", _MENO, arms, p_values)
    cols = [c for c in ("group", "subject_id", "timepoint", "marker", "specimen", "unit", "value", "censored") if c in results]
    values, notes = _baseline_values(results.loc[results["group"].isin(arms).to_numpy(dtype=bool), cols], baselines)
    rows += _marker_rows(values, notes, markers, arms, p_values)
    out = pd.DataFrame(rows)
    for c in TABLE1_COLUMNS:
        if c not in out:
            out[c] = np.nan if c in ("spread", "spread_low", "spread_high", "p") else ""
    out[["marker", "specimen", "unit", "test", "note", "level"]] = out[["marker", "specimen", "unit", "test", "note", "level"]].fillna("")
    return out[TABLE1_COLUMNS].reset_index(drop=True)
