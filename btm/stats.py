"""Group statistics for exercise trials: within-arm change and each arm against control.

All tests run on the log scale (bone markers are right-skewed; BTM_FACTS §7) and every p-value
names its test. Functions take and return tidy DataFrames; nothing here rounds.

Within an arm (:func:`cohort_stats`), per marker and timepoint pair:

* geometric mean ratio GMR = exp(mean ln(to/from)) with a t-based 95 % CI; % change = (GMR − 1)·100;
* paired t-test on log values (default) or Wilcoxon signed-rank on the log ratios;
* Cohen's d_z = mean(ln ratio) / SD(ln ratio) (the paired-differences version, not d_av), 95 % CI by
  inverting the noncentral t distribution;
* p adjusted across the markers of one arm and timepoint pair: Holm (default) or Benjamini–Hochberg.

Between arms (:func:`between_groups`), each arm against control per marker and follow-up:

* ANCOVA (Vickers & Altman 2001): ln(follow-up) = a + b·ln(baseline) + c·arm → ratio of geometric
  means exp(c) with 95 % CI and p (ordinary least squares);
* Welch t-test on ln ratios, or Mann–Whitney U on % change, as options;
* with more than one follow-up: a linear mixed model with a random intercept per subject,
  ln(value) ~ arm × timepoint, group × time tested by a likelihood-ratio test (ML fits;
  :func:`lmm_random_intercept`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

# t, chi-squared and noncentral t by the functions scipy.stats calls (importing scipy.stats is slow)
from scipy import special as sc

from ._groupwise import (
    codes_of,
    count_distinct,
    counts_per_row,
    distinct,
    first_of_each,
    group_codes,
    groups_of,
    per_unique,
)
from ._roots import brentq, minimize_bounded
from .errors import AnalysisError

__all__ = [
    "BETWEEN_COLUMNS",
    "COHORT_COLUMNS",
    "adjust_pvalues",
    "ancova",
    "between_groups",
    "cohort_stats",
    "describe_methods",
    "dz_confidence_interval",
    "lmm_random_intercept",
    "mixed_model_tests",
    "pearson_r",
    "t_test_from_summary",
]

COHORT_COLUMNS = [
    "group", "marker", "specimen", "unit", "timepoint_from", "timepoint_to", "n", "n_censored_excluded", "n_other_excluded",
    "mean_from", "sd_from", "mean_to", "sd_to", "gmr", "gmr_ci_low", "gmr_ci_high", "gm_pct_change", "gm_pct_ci_low",
    "gm_pct_ci_high", "median_pct_change", "q1_pct_change", "q3_pct_change", "test", "statistic", "df", "p",
    "effect_size", "d_z", "d_z_ci_low", "d_z_ci_high", "r_pre_post", "p_adj", "adjust_method", "n_rcv", "share_up_rcv",
    "share_down_rcv", "note",
]
BETWEEN_COLUMNS = [
    "group", "control", "marker", "specimen", "unit", "timepoint_from", "timepoint_to", "n_group", "n_control",
    "adj_gm_group", "adj_gm_group_ci_low", "adj_gm_group_ci_high", "adj_gm_control", "adj_gm_control_ci_low",
    "adj_gm_control_ci_high", "test", "estimate_label", "estimate", "ci_low", "ci_high", "pct_difference", "pct_ci_low",
    "pct_ci_high", "statistic", "df", "p", "p_adj", "adjust_method", "note",
]
TESTS = {"t": "paired t-test on log values", "wilcoxon": "Wilcoxon signed-rank test on log ratios"}
BETWEEN_TESTS = {
    "ancova": "ANCOVA: ln(follow-up) ~ ln(baseline) + arm (Vickers & Altman 2001)",
    "welch": "Welch t-test on ln(follow-up/baseline)",
    "mannwhitney": "Mann-Whitney U test on % change",
}
ADJUST = {"holm": "Holm", "bh": "Benjamini-Hochberg"}
EFFECT_SIZE = "Cohen's d_z"

# What each method does, in words, next to the code that does it (the report's Methods sheet quotes these).
METHODS = {
    "within": (
        "Geometric mean ratio = exp(mean ln(to/from)) over the subjects with a value at both timepoints, with a "
        "t-based 95% CI; % change = (ratio − 1) × 100. Test: {test} (two-sided)."
    ),
    "effect_size": (
        "Effect size Cohen's d_z = mean / SD of ln(to/from) (the paired-differences d, not d_av), 95% CI by inverting "
        "the noncentral t distribution. r(pre, post) = Pearson correlation of ln(from) and ln(to), reported so that "
        "d_z can be converted to other paired effect sizes (d_av = d_z·√(2(1 − r)) when the SDs are equal; Lakens 2013, "
        "Front Psychol 4:863)."
    ),
    "adjust": (
        "p-values adjusted with the {adjust} method ({adjust_source}) across the markers of one arm and timepoint pair "
        "(within-arm change) and across the markers of one comparison (arm vs control); ratios form their own family."
    ),
    "ancova": (
        "ANCOVA on log values (Vickers & Altman 2001, BMJ 323:1123): ln(follow-up) = a + b·ln(baseline) + c·arm, fitted by "
        "ordinary least squares for each arm with the control arm; exp(c) is the ratio of geometric means arm/control "
        "adjusted for baseline, shown as % difference = (exp(c) − 1) × 100 with its 95% CI. Adjusted (estimated marginal) "
        "geometric means of the arm and of control = exp(a + b·mean ln(baseline) [+ c]) at the mean log baseline of the two "
        "arms, each with its 95% CI; their quotient is the ratio."
    ),
    "welch": "Welch t-test on ln(follow-up/baseline) between the arm and control; the ratio of geometric mean changes with its 95% CI.",
    "mannwhitney": "Mann-Whitney U test on the % changes of the arm and of control; the difference in median % change (no CI).",
    "mixed_model": (
        "With three or more timepoints: a linear mixed model ln(value) ~ arm × timepoint with a random intercept per "
        "subject, fitted by maximum likelihood; the arm × time interaction is tested by a likelihood-ratio test, for all "
        "arms together and for each arm against control (rows 'all timepoints' on the Between groups sheet). Arms that do "
        "not share their visit labels get no test."
    ),
}
ADJUST_SOURCES = {"holm": "Holm 1979, Scand J Stat 6:65", "bh": "Benjamini & Hochberg 1995, J R Stat Soc B 57:289"}


def describe_methods(*, test: str = "t", adjust: str = "holm", between: str = "ancova") -> dict[str, str]:
    """The statistical methods of an analysis in words: within arm, effect size, adjustment, between arms, mixed model."""
    return {
        "Change within an arm": METHODS["within"].format(test=TESTS.get(test, test)),
        "Effect size": METHODS["effect_size"],
        "Multiple testing": METHODS["adjust"].format(adjust=ADJUST.get(adjust, adjust), adjust_source=ADJUST_SOURCES.get(adjust, "")),
        "Arm against control": METHODS.get(between, BETWEEN_TESTS.get(between, between)),
        "Repeated measures": METHODS["mixed_model"],
    }


def adjust_pvalues(p: Sequence[float], method: str = "holm") -> np.ndarray:
    """Adjusted p-values (NaN stays NaN and does not count as a test).

    >>> adjust_pvalues([0.01, 0.04, 0.03], "holm").round(4).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = len(q)
    if m == 0:
        return out
    if method == "holm":
        order = np.argsort(q, kind="stable")
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
        res = np.empty(m)
        res[order] = adj
    elif method == "bh":
        from scipy import stats

        res = stats.false_discovery_control(q, method="bh")
    else:
        raise AnalysisError(f"unknown p-value adjustment {method!r}; use holm or bh")
    out[ok] = res
    return out


def t_sf(x: float, df: float) -> float:
    """``scipy.stats.t.sf(x, df)``: the survival function of Student's t (the special function it calls)."""
    return float(sc.stdtr(df, -x))


def t_ppf(q: float, df: float) -> float:
    """``scipy.stats.t.ppf(q, df)`` for 0 < q < 1 (the special function it calls)."""
    return float(sc.stdtrit(df, q))


def ttest_rel(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(t, two-sided p) of ``scipy.stats.ttest_rel(a, b)`` for 1-D arrays without NaN, step by step as scipy
    computes it (mean and variance of the differences, ``stdtr``), without importing scipy.stats."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(d)
    mean = np.mean(d)
    v = np.mean((d - np.mean(d, keepdims=True)) ** 2)
    v *= np.float64(n) / np.float64(n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.divide(mean - 0.0, np.sqrt(v / n))
    p = 2 * sc.stdtr(np.float64(n - 1), -np.abs(t))
    return float(t), float(p)


def dz_confidence_interval(dz: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """CI of Cohen's d_z by inverting the noncentral t distribution (t = d_z·√n, df = n − 1)."""
    if n < 2 or not math.isfinite(dz):
        return math.nan, math.nan
    df = n - 1
    t_obs = dz * math.sqrt(n)
    alpha = 1 - level

    # the noncentrality lies within a few approximate SEs of t (Hedges & Olkin: SE ≈ √(1 + t²/2df))
    spread = 10 * math.sqrt(1 + t_obs**2 / (2 * df))

    def cdf(nc: float) -> float:
        v = float(sc.nctdtr(df, nc, t_obs))  # = scipy.stats.nct.cdf(t_obs, df, nc)
        return v if math.isfinite(v) else (1.0 if nc < t_obs else 0.0)

    def solve(target: float) -> float:
        lo, hi = t_obs - spread, t_obs + spread
        if cdf(lo) < target or cdf(hi) > target:
            return math.nan
        return brentq(lambda nc: cdf(nc) - target, lo, hi, xtol=1e-12)  # = scipy.optimize.brentq, step by step

    return solve(1 - alpha / 2) / math.sqrt(n), solve(alpha / 2) / math.sqrt(n)


def t_test_from_summary(mean: float, dispersion: float, n: int, *, dispersion_type: str = "sd", mu: float = 0.0) -> dict[str, float]:
    """One-sample t-test from a published summary (mean, SD or SE, n), e.g. a mean % change.

    Lets a published result be checked: 'P1NP +12.9 % (SD 9.1 %), n = 26' gives t = 7.23 (df 25).
    With ``dispersion_type="se"`` the SE is converted to SD = SE·√n.

    >>> round(t_test_from_summary(12.9, 9.1, 26)["t"], 2)
    7.23
    """
    if n < 2:
        raise AnalysisError("a t-test needs n >= 2")
    if dispersion_type not in ("sd", "se"):
        raise AnalysisError("dispersion_type must be 'sd' or 'se'")
    se = dispersion if dispersion_type == "se" else dispersion / math.sqrt(n)
    sd = se * math.sqrt(n)
    df = n - 1
    t = (mean - mu) / se
    half = t_ppf(0.975, df) * se
    return {"t": t, "df": float(df), "p": float(2 * t_sf(abs(t), df)), "se": se, "sd": sd, "ci_low": float(mean - half), "ci_high": float(mean + half)}


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if len(x) > 1 else math.nan


def pearson_r(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation (NaN with fewer than 3 pairs or no spread).

    >>> round(pearson_r(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 5])), 4)
    0.8
    """
    if len(x) < 3:
        return math.nan
    dx, dy = x - x.mean(), y - y.mean()
    den = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return float(dx @ dy) / den if den > 0 else math.nan


def cohort_stats(changes: pd.DataFrame, *, test: str = "t", adjust: str = "holm") -> pd.DataFrame:
    """Within-arm statistics per marker and timepoint pair from a changes table.

    Parameters
    ----------
    changes
        :func:`btm.change.changes` output (ratios may be appended with the same columns).
    test
        ``"t"`` (paired t-test on log values) or ``"wilcoxon"``.
    adjust
        ``"holm"`` or ``"bh"``: across the markers of one arm and timepoint pair.

    Returns
    -------
    DataFrame with :data:`COHORT_COLUMNS`. Censored pairs are counted in ``n_censored_excluded``
    and left out; ``n`` counts the paired complete cases.
    """
    if test not in TESTS:
        raise AnalysisError(f"unknown test {test!r}; use 't' or 'wilcoxon'")
    if adjust not in ADJUST:
        raise AnalysisError(f"unknown p-value adjustment {adjust!r}; use holm or bh")
    if changes.empty:
        return pd.DataFrame(columns=COHORT_COLUMNS)
    keys = ["group", "marker", "specimen", "unit", "timepoint_from", "timepoint_to"]
    rows = []
    blank = lambda u: (u.astype(str) != "").to_numpy(dtype=bool)  # noqa: E731
    cens_all = per_unique(changes["censored_from"], blank) | per_unique(changes["censored_to"], blank)
    lr_rows, vf, vt = (changes[c].to_numpy(dtype=float) for c in ("log_ratio", "value_from", "value_to"))
    verdict = (per_unique(changes["direction"], lambda u: u.astype(str).map({"increase": 1, "decrease": 2, "none": 3}).fillna(0).to_numpy(dtype=int))
               if "direction" in changes else np.zeros(len(changes), dtype=int))
    for key, idx in groups_of(changes, keys):
        cens = cens_all[idx]
        complete = np.isfinite(lr_rows[idx])
        other = int((~complete & ~cens).sum())
        sel = idx[complete]
        lr, a, b = lr_rows[sel], vf[sel], vt[sel]
        n = len(lr)
        row = dict(zip(keys, key, strict=True))
        row.update(n=n, n_censored_excluded=int(cens.sum()), n_other_excluded=other)
        row.update(mean_from=float(a.mean()) if n else math.nan, sd_from=_sd(a), mean_to=float(b.mean()) if n else math.nan, sd_to=_sd(b))
        notes = []
        if n >= 2:
            mean, sd = float(lr.mean()), _sd(lr)
            tcrit = t_ppf(0.975, n - 1)
            half = tcrit * sd / math.sqrt(n)
            row.update(gmr=math.exp(mean), gmr_ci_low=math.exp(mean - half), gmr_ci_high=math.exp(mean + half))
            pct = (np.exp(lr) - 1) * 100
            row.update(median_pct_change=float(np.median(pct)), q1_pct_change=float(np.percentile(pct, 25)), q3_pct_change=float(np.percentile(pct, 75)))
            if test == "t":
                if sd > 0:
                    t, p = ttest_rel(np.log(b), np.log(a))
                    row.update(statistic=t, df=float(n - 1), p=p)
                else:
                    row.update(statistic=math.nan, df=float(n - 1), p=math.nan)
                    notes.append("all changes identical: no test")
            else:
                if np.any(lr != 0):
                    from scipy import stats

                    r = stats.wilcoxon(lr)
                    row.update(statistic=float(r.statistic), df=math.nan, p=float(r.pvalue))
                else:
                    row.update(statistic=math.nan, df=math.nan, p=math.nan)
                    notes.append("no non-zero change: no test")
            dz = mean / sd if sd > 0 else math.nan
            lo, hi = dz_confidence_interval(dz, n)
            row.update(effect_size=EFFECT_SIZE, d_z=dz, d_z_ci_low=lo, d_z_ci_high=hi, r_pre_post=pearson_r(np.log(a), np.log(b)))
        else:
            notes.append("fewer than 2 complete pairs: no statistics")
            row.update(gmr=math.nan, gmr_ci_low=math.nan, gmr_ci_high=math.nan, median_pct_change=math.nan,
                       q1_pct_change=math.nan, q3_pct_change=math.nan, statistic=math.nan, df=math.nan, p=math.nan,
                       effect_size="", d_z=math.nan, d_z_ci_low=math.nan, d_z_ci_high=math.nan, r_pre_post=math.nan)
        for k in ("gmr", "gmr_ci_low", "gmr_ci_high"):
            row[k.replace("gmr", "gm_pct_change") if k == "gmr" else k.replace("gmr", "gm_pct")] = (row[k] - 1) * 100
        row["test"] = TESTS[test]
        d = verdict[idx]
        n_rcv = int((d > 0).sum())
        row.update(
            n_rcv=n_rcv,
            share_up_rcv=float((d == 1).sum() / n_rcv) if n_rcv else math.nan,
            share_down_rcv=float((d == 2).sum() / n_rcv) if n_rcv else math.nan,
        )
        if "/" in str(row["marker"]):
            notes.append("exploratory ratio")
        row["note"] = "; ".join(notes)
        rows.append(row)
    out = pd.DataFrame(rows)
    out["family"] = np.where(out["marker"].astype(str).str.contains("/"), "ratio", "marker")
    out["p_adj"] = np.nan
    for _, idx in out.groupby(["group", "timepoint_from", "timepoint_to", "family"], sort=False).groups.items():
        out.loc[idx, "p_adj"] = adjust_pvalues(out.loc[idx, "p"].to_numpy(dtype=float), adjust)
    out["adjust_method"] = ADJUST[adjust] + " across markers of the arm and timepoint pair"
    return out[COHORT_COLUMNS]


# ---------------------------------------------------------------------------------------------
# between arms


def ancova(log_to: np.ndarray, log_from: np.ndarray, arm: np.ndarray) -> dict[str, float]:
    """OLS of ln(follow-up) on ln(baseline) and an arm indicator: the arm coefficient and its inference.

    Also the estimated marginal means (emmeans' "adjusted means") of the arm (indicator 1) and of
    control (0) at the mean ln(baseline) of both, on the log scale with t-based 95 % CIs:
    ``emm_group``, ``emm_group_lo``, ``emm_group_hi``, ``emm_control``, ... (exp gives geometric means).
    """
    n = len(log_to)
    X = np.column_stack([np.ones(n), log_from, arm.astype(float)])
    df = n - X.shape[1]
    nan = {"coef": math.nan, "se": math.nan, "t": math.nan, "df": float(df), "p": math.nan, "lo": math.nan, "hi": math.nan,
           **{f"emm_{k}{e}": math.nan for k in ("group", "control") for e in ("", "_lo", "_hi")}}
    if df < 1 or np.linalg.matrix_rank(X) < X.shape[1]:  # e.g. every baseline value the same: no slope to adjust by
        return {**nan, "note": "the baseline values do not vary (singular design): no ANCOVA estimate"}
    beta, *_ = np.linalg.lstsq(X, log_to, rcond=None)
    resid = log_to - X @ beta
    s2 = float(resid @ resid) / df
    if not s2 > 0:  # every value fitted exactly (identical values): no variance to test against
        return {**nan, "coef": float(beta[2]), "note": "no residual variation (identical values): no test"}
    cov = s2 * np.linalg.inv(X.T @ X)
    se = math.sqrt(cov[2, 2])
    t = beta[2] / se
    p = 2 * t_sf(abs(t), df)
    tcrit = t_ppf(0.975, df)
    half = tcrit * se
    out = {"coef": float(beta[2]), "se": se, "t": float(t), "df": float(df), "p": float(p), "lo": float(beta[2] - half), "hi": float(beta[2] + half)}
    mean_from = float(np.mean(log_from))
    for name, indicator in (("group", 1.0), ("control", 0.0)):
        x = np.array([1.0, mean_from, indicator])
        est, se_x = float(x @ beta), math.sqrt(float(x @ cov @ x))
        out.update({f"emm_{name}": est, f"emm_{name}_lo": est - tcrit * se_x, f"emm_{name}_hi": est + tcrit * se_x})
    return out


_ADJ_GM = [c for c in BETWEEN_COLUMNS if c.startswith("adj_gm_")]


def between_groups(
    changes: pd.DataFrame,
    *,
    control: str,
    method: str = "ancova",
    adjust: str = "holm",
    arms: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Each arm against ``control``, per marker and follow-up timepoint.

    ``arms`` are the arms of the study, in order (default: those with rows in ``changes``, in order
    of appearance); each is compared on every marker and timepoint, with a note where it has
    fewer than two complete pairs.

    Returns
    -------
    DataFrame with :data:`BETWEEN_COLUMNS`: ``estimate`` is the ratio of geometric means
    (arm / control, baseline-adjusted) for ANCOVA, the ratio of geometric mean ratios for Welch,
    and the difference in median % change for Mann–Whitney. For ANCOVA also the adjusted
    (estimated marginal) geometric means of the arm and of control with 95 % CIs
    (``adj_gm_group``, ``adj_gm_control`` and their ``_ci_low``/``_ci_high``), at the mean log
    baseline of the two arms: ``adj_gm_group / adj_gm_control == estimate``.
    """
    if method not in BETWEEN_TESTS:
        raise AnalysisError(f"unknown between-arm method {method!r}; use ancova, welch or mannwhitney")
    if changes.empty:
        return pd.DataFrame(columns=BETWEEN_COLUMNS)
    arms_present = [str(g) for g in pd.unique(changes["group"])] if arms is None else [str(g) for g in arms]
    groups = [g for g in dict.fromkeys(arms_present) if g != control]
    if control not in set(arms_present):
        raise AnalysisError(f"control arm {control!r} has no paired data")
    rows = []
    keys = ["marker", "specimen", "unit", "timepoint_from", "timepoint_to"]
    ok = np.isfinite(changes["log_ratio"].to_numpy(dtype=float))
    gcode, gnames = codes_of(changes["group"])
    arm_of = {str(n): k for k, n in enumerate(gnames)}
    cols = {c: changes[c].to_numpy(dtype=float) for c in ("value_from", "value_to", "log_ratio", "change_pct")}
    # the complete pairs of each key, keys in order of their first complete pair (no copy of the rows)
    complete = [(key, idx[ok[idx]]) for key, idx in groups_of(changes, keys)]
    complete = sorted(((k, i) for k, i in complete if len(i)), key=lambda ki: ki[1][0])
    for key, idx in complete:
        ctrl_rows = idx[gcode[idx] == arm_of.get(control, -1)]
        for arm in groups:
            tr_rows = idx[gcode[idx] == arm_of.get(arm, -1)]
            row = {"group": arm, "control": control, **dict(zip(keys, key, strict=True)), "n_group": len(tr_rows), "n_control": len(ctrl_rows)}
            row["test"] = BETWEEN_TESTS[method]
            if len(tr_rows) < 2 or len(ctrl_rows) < 2:
                row.update(estimate_label="", estimate=math.nan, ci_low=math.nan, ci_high=math.nan, statistic=math.nan, df=math.nan, p=math.nan,
                           note="fewer than 2 complete pairs in an arm")
                rows.append(row)
                continue
            tr = {c: v[tr_rows] for c, v in cols.items()}
            ctrl = {c: v[ctrl_rows] for c, v in cols.items()}
            if method == "ancova":
                r = ancova(np.log(np.concatenate([tr["value_to"], ctrl["value_to"]])), np.log(np.concatenate([tr["value_from"], ctrl["value_from"]])),
                           np.r_[np.ones(len(tr_rows), dtype=bool), np.zeros(len(ctrl_rows), dtype=bool)])
                row.update(estimate_label="ratio of geometric means, arm/control, adjusted for baseline", estimate=math.exp(r["coef"]),
                           ci_low=math.exp(r["lo"]), ci_high=math.exp(r["hi"]), statistic=r["t"], df=r["df"], p=r["p"], note=r.get("note", ""))
                row.update({f"adj_gm_{k}{s}": math.exp(r[f"emm_{k}{e}"]) for k in ("group", "control")
                            for s, e in (("", ""), ("_ci_low", "_lo"), ("_ci_high", "_hi"))})
            elif method == "welch":
                x, y = tr["log_ratio"], ctrl["log_ratio"]
                from scipy import stats

                r = stats.ttest_ind(x, y, equal_var=False)
                ci = r.confidence_interval(0.95)
                row.update(estimate_label="ratio of geometric mean ratios, arm/control", estimate=math.exp(x.mean() - y.mean()),
                           ci_low=math.exp(ci.low), ci_high=math.exp(ci.high), statistic=float(r.statistic), df=float(r.df), p=float(r.pvalue), note="")
            else:
                x, y = tr["change_pct"], ctrl["change_pct"]
                from scipy import stats

                r = stats.mannwhitneyu(x, y, alternative="two-sided")
                row.update(estimate_label="difference in median % change, arm − control", estimate=float(np.median(x) - np.median(y)),
                           ci_low=math.nan, ci_high=math.nan, statistic=float(r.statistic), df=math.nan, p=float(r.pvalue), note="no CI for this test")
            rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=BETWEEN_COLUMNS)
    for c in _ADJ_GM:
        out[c] = out[c].astype(float) if c in out else np.nan
    ratio = out["estimate_label"].str.startswith("ratio")
    for a, b in (("estimate", "pct_difference"), ("ci_low", "pct_ci_low"), ("ci_high", "pct_ci_high")):
        out[b] = np.where(ratio, (out[a] - 1) * 100, np.nan)
    out["p_adj"] = np.nan
    family = np.where(out["marker"].astype(str).str.contains("/"), "ratio", "marker")
    for _, idx in out.groupby([out["group"], out["timepoint_to"], family], sort=False).groups.items():
        out.loc[idx, "p_adj"] = adjust_pvalues(out.loc[idx, "p"].to_numpy(dtype=float), adjust)
    out["adjust_method"] = ADJUST[adjust] + " across markers of the arm and timepoint"
    return out[BETWEEN_COLUMNS]


# ---------------------------------------------------------------------------------------------
# linear mixed model with a random intercept (ML), fitted by profiling


def lmm_random_intercept(y: np.ndarray, X: np.ndarray, groups: np.ndarray) -> dict[str, float | np.ndarray]:
    """Maximum-likelihood fit of y = Xβ + u_group + e, u ~ N(0, τ²), e ~ N(0, σ²).

    The covariance of a subject's values is σ²(I + γJ) with γ = τ²/σ². For a given γ the GLS
    estimate of β is OLS on data transformed within subject as z − θ·mean(z), θ = 1 − (1 + nγ)^−½
    (Fuller & Battese 1973); σ² and β are profiled out and γ is found by a bounded 1-D search.
    The log-likelihood equals statsmodels' ``MixedLM(...).fit(reml=False).llf`` (tests check this).

    Returns a dict with ``llf``, ``beta``, ``sigma2``, ``tau2``, ``n_obs``, ``n_groups``.
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    codes, uniq = pd.factorize(pd.Series(groups))
    n_i = np.bincount(codes).astype(float)
    N = len(y)
    # sufficient statistics: with z* = z − θ·z̄ within subject,
    #   Σ z*w* = Σ zw − Σ_i (2θ_i − θ_i²)·n_i·z̄_i·w̄_i
    # θ_i depends on n_i only, so the subject sums are pooled once per distinct n (a few values):
    # each step of the search then costs O(p²) per distinct n, not O(subjects · p²)
    ybar = np.bincount(codes, weights=y) / n_i
    Xbar = np.column_stack([np.bincount(codes, weights=X[:, j]) / n_i for j in range(X.shape[1])])
    XtX, Xty, yty = X.T @ X, X.T @ y, float(y @ y)
    sizes, size_of = np.unique(n_i, return_inverse=True)  # one entry per subject (not per value)
    M, v, s, cnt = [], [], [], []
    for k in range(len(sizes)):
        sel = size_of == k
        Xn = Xbar[sel] * n_i[sel, None]
        M.append(Xn.T @ Xbar[sel])
        v.append(Xn.T @ ybar[sel])
        s.append(float(n_i[sel] @ ybar[sel] ** 2))
        cnt.append(float(sel.sum()))
    M_k, v_k, s_k, cnt_k = np.stack(M), np.stack(v), np.asarray(s), np.asarray(cnt)

    def profile(log_gamma: float) -> tuple[float, np.ndarray, float]:
        gamma = math.exp(log_gamma)
        theta = 1 - 1 / np.sqrt(1 + sizes * gamma)
        c = 2 * theta - theta**2
        A = XtX - np.tensordot(c, M_k, axes=1)
        b = Xty - c @ v_k
        beta = np.linalg.lstsq(A, b, rcond=None)[0]
        rss = yty - float(c @ s_k) - float(beta @ b)
        s2 = max(rss, 1e-300) / N
        llf = -0.5 * N * math.log(2 * math.pi * s2) - 0.5 * float(cnt_k @ np.log1p(sizes * gamma)) - 0.5 * N
        return llf, beta, s2

    # = scipy.optimize.minimize_scalar(..., method="bounded", options={"xatol": 1e-8}), step by step
    x, fun = minimize_bounded(lambda lg: -profile(lg)[0], -20.0, 12.0, xatol=1e-8)
    best = x if -fun >= profile(-20.0)[0] else -20.0  # gamma -> 0 (no subject variance) is the boundary
    llf, beta, s2 = profile(best)
    return {"llf": llf, "beta": beta, "sigma2": s2, "tau2": s2 * math.exp(best), "n_obs": N, "n_groups": len(uniq)}


def _dummies(codes: np.ndarray, names: np.ndarray) -> np.ndarray:
    """``pd.get_dummies(names[codes], drop_first=True)`` as floats: one column per present label but the first in sort order."""
    present = distinct(codes)
    labels = sorted(str(names[c]) for c in present)
    col = {lab: k for k, lab in enumerate(labels)}
    rank = np.full(len(names), -1, dtype=np.int64)
    for c in present:
        rank[c] = col[str(names[c])]
    r = rank[codes]
    out = np.zeros((len(codes), max(len(labels) - 1, 0)))
    rows = np.flatnonzero(r > 0)
    out[rows, r[rows] - 1] = 1.0
    return np.asfortranarray(out)  # the memory order of DataFrame.to_numpy(): the fits' sums follow it bit for bit


def _design(df: pd.DataFrame | tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], *, interaction: bool) -> np.ndarray:
    """Design of ln(value) ~ arm + timepoint (+ arm × timepoint): intercept, treatment-coded dummies, products.

    ``df`` is a frame with ``group`` and ``timepoint`` or (group codes, group labels, timepoint codes, labels)."""
    if isinstance(df, pd.DataFrame):
        gc, gn = codes_of(df["group"].astype(str))
        tc, tn = codes_of(df["timepoint"].astype(str))
    else:
        gc, gn, tc, tn = df
    g, t = _dummies(gc, gn), _dummies(tc, tn)
    parts = [np.ones((len(gc), 1)), g, t]
    if interaction and g.shape[1] and t.shape[1]:
        parts.append(np.column_stack([g[:, [i]] * t[:, [j]] for i in range(g.shape[1]) for j in range(t.shape[1])]))
    return np.hstack(parts)


def _lmm_row(y: np.ndarray, design: tuple[np.ndarray, ...], subjects: np.ndarray) -> dict[str, Any]:
    """The group × time likelihood-ratio test of one comparison (statistic, df, p, note)."""
    if np.ptp(y) == 0:  # every value the same: the likelihood has no maximum to compare (and no test means anything)
        return dict(statistic=math.nan, df=math.nan, p=math.nan, note="all values identical: no model fitted")
    X_full, X_red = _design(design, interaction=True), _design(design, interaction=False)
    try:
        full = lmm_random_intercept(y, X_full, subjects)
        red = lmm_random_intercept(y, X_red, subjects)
    except np.linalg.LinAlgError:  # a design the data cannot identify (e.g. every arm at one timepoint only)
        return dict(statistic=math.nan, df=math.nan, p=math.nan, note="singular design: no model fitted")
    dof = X_full.shape[1] - X_red.shape[1]
    lr = max(0.0, 2 * (float(full["llf"]) - float(red["llf"])))
    return dict(statistic=lr, df=float(dof), p=float(sc.chdtrc(dof, lr)),
                note=f"{full['n_obs']} values from {full['n_groups']} subjects; subject SD {math.sqrt(float(full['tau2'])):.3g}, "
                f"residual SD {math.sqrt(float(full['sigma2'])):.3g} (log scale)")


def _lmm_data(results: pd.DataFrame, order: Sequence[str]) -> dict[str, Any]:
    """The uncensored results at the ordered timepoints, as codes: subject, arm, timepoint, measure."""
    keep = ((results["censored"].fillna("") == "") & results["timepoint"].isin(order) & (results["group"].astype(str) != "")).to_numpy(dtype=bool)
    rows = np.flatnonzero(keep)  # the columns are coded whole and the kept rows' codes renumbered: no copy of the rows

    def kept(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The kept rows' codes, renumbered in order of first appearance among them, and the old code of each."""
        sub, old = pd.factorize(codes[rows])
        return sub.astype(np.int64, copy=False), old

    d: dict[str, Any] = {"value": results["value"].to_numpy(dtype=float)[rows]}
    for c in ("subject_id", "group", "timepoint"):
        codes, names = codes_of(results[c])
        d[c], old = kept(codes)
        d[c + "_names"] = names[old]
    full, _, _ = group_codes(results["marker"], results["specimen"], results["unit"])
    d["measure"], old = kept(full)
    d["n_measures"] = len(old)
    first = rows[first_of_each(d["measure"])[1]]
    d["measure_keys"] = list(zip(*(results[c].to_numpy(dtype=object)[first] for c in ("marker", "specimen", "unit")), strict=True))
    return d


def mixed_model_tests(results: pd.DataFrame, *, order: Sequence[str], control: str | None = None, adjust: str = "holm") -> pd.DataFrame:
    """Group × time likelihood-ratio tests from a random-intercept LMM on ln(value), per marker.

    One row for all arms together and, when ``control`` is given, one per arm against control.
    Censored values are left out (a limit is not a value).
    """
    rows = []
    if len(order) < 3:
        return pd.DataFrame(columns=BETWEEN_COLUMNS)
    d = _lmm_data(results, order)
    gnames = d["group_names"]
    ctrl = [k for k, g in enumerate(gnames) if g == control]
    name = "linear mixed model ln(value) ~ arm × timepoint, random intercept per subject (ML): group × time likelihood-ratio test"
    for m in range(d["n_measures"]):
        idx = np.flatnonzero(d["measure"] == m)
        subj, grp, tp = d["subject_id"][idx], d["group"][idx], d["timepoint"][idx]
        pair = subj * len(d["timepoint_names"]) + tp
        single = counts_per_row(pair) == 1
        idx, subj, grp, tp = idx[single], subj[single], grp[single], tp[single]
        comparisons = [("all arms", np.ones(len(idx), dtype=bool))]
        if control is not None:
            comparisons += [(str(gnames[a]), np.isin(grp, [a, *ctrl])) for a in pd.unique(grp) if gnames[a] != control]
        key = d["measure_keys"][m]
        for label, sel in comparisons:
            s_subj, s_grp, s_tp = subj[sel], grp[sel], tp[sel]
            row = {"group": label, "control": control or "", "marker": key[0], "specimen": key[1], "unit": key[2],
                   "timepoint_from": order[0], "timepoint_to": "all timepoints", "test": name,
                   "n_group": count_distinct(s_subj), "n_control": count_distinct(s_subj[np.isin(s_grp, ctrl)]) if control else 0,
                   "estimate_label": "", "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan}
            rows.append(row)
            arms = pd.unique(s_grp)
            if len(arms) < 2 or count_distinct(s_tp) < 2:
                row.update(statistic=math.nan, df=math.nan, p=math.nan, note="needs two arms and two timepoints")
                continue
            visits = {a: frozenset(distinct(s_tp[s_grp == a]).tolist()) for a in arms}
            if len(set(visits.values())) > 1:  # an arm × time interaction needs the same visits in every arm
                own = "; ".join(f"{gnames[a]}: {', '.join(t for t in order if t in {d['timepoint_names'][k] for k in v})}" for a, v in visits.items())
                row.update(statistic=math.nan, df=math.nan, p=math.nan, note=f"arms do not have the same visits ({own}): no test")
                continue
            y = np.log(d["value"][idx[sel]])
            row.update(_lmm_row(y, (s_grp, gnames, s_tp, d["timepoint_names"]), s_subj))
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=BETWEEN_COLUMNS)
    for c in ("pct_difference", "pct_ci_low", "pct_ci_high", *_ADJ_GM):
        out[c] = np.nan
    out["p_adj"] = np.nan
    for _, idx in out.groupby("group", sort=False).groups.items():
        out.loc[idx, "p_adj"] = adjust_pvalues(out.loc[idx, "p"].to_numpy(dtype=float), adjust)
    out["adjust_method"] = ADJUST[adjust] + " across markers of the comparison"
    return out[BETWEEN_COLUMNS]
