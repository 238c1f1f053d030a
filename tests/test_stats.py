"""Statistics, cross-checked against scipy called directly, statsmodels, R output and published results."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from btm.change import rcv
from btm.stats import (
    adjust_pvalues,
    ancova,
    between_groups,
    cohort_stats,
    dz_confidence_interval,
    lmm_random_intercept,
    mixed_model_tests,
    t_test_from_summary,
)

# Student's sleep data (Cushny & Peebles 1905), R's `sleep` data set.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def _changes(lr_by_group: dict[str, list[float]], marker: str = "PINP", base: float = 50.0) -> pd.DataFrame:
    rows = []
    for g, lrs in lr_by_group.items():
        for i, lr in enumerate(lrs):
            a = base * (1 + 0.01 * i)
            b = a * math.exp(lr)
            rows.append(dict(subject_id=f"{g}{i}", group=g, marker=marker, specimen="serum", unit="µg/L",
                             timepoint_from="pre", timepoint_to="post", value_from=a, value_to=b, censored_from="", censored_to="",
                             change_abs=b - a, change_pct=(b / a - 1) * 100, log_ratio=math.log(b / a), direction="none"))
    return pd.DataFrame(rows)


def test_paired_t_on_logs_matches_r_sleep_example():
    # R 4.x: with(sleep, t.test(extra[group == 2], extra[group == 1], paired = TRUE))
    #   t = 4.0621, df = 9, p-value = 0.002833
    #   95 percent confidence interval: 0.7001142 2.4598858 ; mean difference 1.58
    # Feeding exp(values) makes the log ratios equal the sleep differences.
    df = pd.DataFrame(dict(subject_id=[f"s{i}" for i in range(10)], group="A", marker="PINP", specimen="serum", unit="µg/L",
                           timepoint_from="pre", timepoint_to="post", value_from=np.exp(SLEEP_1), value_to=np.exp(SLEEP_2),
                           censored_from="", censored_to="", direction="none"))
    df["log_ratio"] = np.log(df["value_to"] / df["value_from"])
    df["change_pct"] = (df["value_to"] / df["value_from"] - 1) * 100
    r = cohort_stats(df).iloc[0]
    assert r["statistic"] == pytest.approx(4.0621, abs=1e-4)
    assert r["df"] == 9
    assert r["p"] == pytest.approx(0.002833, abs=1e-6)
    assert math.log(r["gmr"]) == pytest.approx(1.58, abs=1e-12)
    assert math.log(r["gmr_ci_low"]) == pytest.approx(0.7001142, abs=1e-7)
    assert math.log(r["gmr_ci_high"]) == pytest.approx(2.4598858, abs=1e-7)
    # d_z = mean / sd of the differences = 1.58 / 1.229995
    assert r["d_z"] == pytest.approx(1.58 / 1.229995, abs=1e-6)
    assert r["test"] == "paired t-test on log values"


def test_cohort_matches_scipy_called_directly():
    rng = np.random.default_rng(7)
    lr = {"A": list(rng.normal(0.15, 0.2, 15)), "B": list(rng.normal(0.0, 0.2, 12))}
    df = _changes(lr)
    out = cohort_stats(df).set_index("group")
    for g in ("A", "B"):
        sel = df[df["group"] == g]
        ref = stats.ttest_rel(np.log(sel["value_to"]), np.log(sel["value_from"]))
        assert out.loc[g, "statistic"] == pytest.approx(ref.statistic, rel=1e-12)
        assert out.loc[g, "p"] == pytest.approx(ref.pvalue, rel=1e-12)
        ci = ref.confidence_interval()
        assert math.log(out.loc[g, "gmr_ci_low"]) == pytest.approx(ci.low, rel=1e-10)
        assert out.loc[g, "n"] == len(sel)
        assert out.loc[g, "median_pct_change"] == pytest.approx(np.median(sel["change_pct"]))
    w = cohort_stats(df, test="wilcoxon").set_index("group")
    ref = stats.wilcoxon(df.loc[df["group"] == "A", "log_ratio"])
    assert w.loc["A", "statistic"] == ref.statistic and w.loc["A", "p"] == pytest.approx(ref.pvalue)
    assert w.loc["A", "test"] == "Wilcoxon signed-rank test on log ratios"


def test_censored_pairs_are_counted_and_excluded():
    df = _changes({"A": [0.1, 0.2, 0.15, 0.05]})
    df.loc[0, "censored_from"] = "<"
    df.loc[0, ["change_pct", "log_ratio"]] = np.nan
    r = cohort_stats(df).iloc[0]
    assert (r["n"], r["n_censored_excluded"]) == (3, 1)


def test_holm_and_bh_match_r_and_statsmodels():
    p = [0.01, 0.02, 0.03, 0.04, 0.05]
    # R: p.adjust(c(.01,.02,.03,.04,.05), "holm") -> 0.05 0.08 0.09 0.09 0.09
    assert adjust_pvalues(p, "holm").tolist() == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])
    # R: p.adjust(..., "BH") -> 0.05 0.05 0.05 0.05 0.05
    assert adjust_pvalues(p, "bh").tolist() == pytest.approx([0.05] * 5)
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    q = rng.uniform(0, 0.2, 9)
    assert adjust_pvalues(q, "holm") == pytest.approx(multipletests(q, method="holm")[1])
    assert adjust_pvalues(q, "bh") == pytest.approx(multipletests(q, method="fdr_bh")[1])
    with_nan = adjust_pvalues([0.01, np.nan, 0.04], "holm")
    assert with_nan[0] == pytest.approx(0.02) and math.isnan(with_nan[1]) and with_nan[2] == pytest.approx(0.04)


def test_dz_interval_inverts_the_noncentral_t():
    lo, hi = dz_confidence_interval(0.5, 20)
    # defining property: the observed t sits at the 97.5th / 2.5th percentile of nct(df, λ·√n)
    t = 0.5 * math.sqrt(20)
    assert stats.nct.cdf(t, 19, lo * math.sqrt(20)) == pytest.approx(0.975, abs=1e-9)
    assert stats.nct.cdf(t, 19, hi * math.sqrt(20)) == pytest.approx(0.025, abs=1e-9)
    assert lo < 0.5 < hi


def test_dz_interval_coverage_by_simulation():
    rng = np.random.default_rng(11)
    true_dz, n, hits, runs = 0.6, 15, 0, 600
    for _ in range(runs):
        x = rng.normal(true_dz, 1.0, n)
        lo, hi = dz_confidence_interval(x.mean() / x.std(ddof=1), n)
        hits += lo <= true_dz <= hi
    assert 0.92 <= hits / runs <= 0.98


def test_ancova_matches_statsmodels_ols():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(5)
    n = 40
    pre = np.exp(rng.normal(3.8, 0.4, n))
    arm = np.r_[np.ones(n // 2), np.zeros(n // 2)]
    post = np.exp(0.3 + 0.9 * np.log(pre) + 0.15 * arm + rng.normal(0, 0.15, n))
    mine = ancova(np.log(post), np.log(pre), arm)
    df = pd.DataFrame({"post": post, "pre": pre, "arm": arm})
    fit = smf.ols("np.log(post) ~ np.log(pre) + arm", df).fit()
    assert mine["coef"] == pytest.approx(fit.params["arm"], rel=1e-10)
    assert mine["p"] == pytest.approx(fit.pvalues["arm"], rel=1e-8)
    ci = fit.conf_int().loc["arm"]
    assert (mine["lo"], mine["hi"]) == pytest.approx((ci[0], ci[1]), rel=1e-10)
    assert mine["df"] == fit.df_resid


def test_between_groups_methods_against_scipy():
    rng = np.random.default_rng(9)
    df = _changes({"Resistance": list(rng.normal(0.2, 0.2, 14)), "Control": list(rng.normal(0.0, 0.2, 13))})
    w = between_groups(df, control="Control", method="welch").iloc[0]
    x = df.loc[df["group"] == "Resistance", "log_ratio"]
    y = df.loc[df["group"] == "Control", "log_ratio"]
    ref = stats.ttest_ind(x, y, equal_var=False)
    assert w["p"] == pytest.approx(ref.pvalue) and w["statistic"] == pytest.approx(ref.statistic)
    assert math.log(w["estimate"]) == pytest.approx(x.mean() - y.mean())
    m = between_groups(df, control="Control", method="mannwhitney").iloc[0]
    ref = stats.mannwhitneyu(df.loc[df["group"] == "Resistance", "change_pct"], df.loc[df["group"] == "Control", "change_pct"])
    assert m["p"] == pytest.approx(ref.pvalue)
    a = between_groups(df, control="Control").iloc[0]
    assert a["test"].startswith("ANCOVA") and a["estimate_label"].startswith("ratio of geometric means")
    assert a["pct_difference"] == pytest.approx((a["estimate"] - 1) * 100)
    assert (a["n_group"], a["n_control"]) == (14, 13)


def _panel(seed: int = 1, n: int = 45, missing: float = 0.1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        g = ["Control", "Resistance", "Impact"][s % 3]
        u = rng.normal(0, 0.3)
        for k, t in enumerate(["pre", "mid", "post"]):
            if k and rng.random() < missing:
                continue
            eff = 0.15 * k * (g == "Resistance")
            rows.append(dict(subject_id=f"s{s}", group=g, timepoint=t, marker="PINP", specimen="serum", unit="µg/L", censored="",
                             value=math.exp(3.8 + eff + u + rng.normal(0, 0.15))))
    return pd.DataFrame(rows)


def test_random_intercept_lmm_matches_statsmodels_mixedlm():
    import statsmodels.formula.api as smf

    from btm.stats import _design

    df = _panel()
    y = np.log(df["value"].to_numpy())
    for inter, formula in ((True, "y ~ C(group) * C(timepoint)"), (False, "y ~ C(group) + C(timepoint)")):
        mine = lmm_random_intercept(y, _design(df, interaction=inter), df["subject_id"].to_numpy())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = smf.mixedlm(formula, df.assign(y=y), groups=df["subject_id"]).fit(reml=False)
        assert mine["llf"] == pytest.approx(ref.llf, abs=1e-6)
        assert mine["sigma2"] == pytest.approx(ref.scale, rel=1e-4)
        assert mine["tau2"] == pytest.approx(float(ref.cov_re.iloc[0, 0]), rel=1e-3)


def test_group_by_time_test_detects_an_effect_and_not_noise():
    res = mixed_model_tests(_panel(seed=2, n=90), order=["pre", "mid", "post"], control="Control")
    by = res.set_index("group")
    assert by.loc["Resistance", "p"] < 0.01
    assert by.loc["Resistance", "df"] == 2
    assert "random intercept" in by.loc["all arms", "test"]
    null = _panel(seed=4, n=90)
    null["value"] = np.exp(3.8 + np.random.default_rng(4).normal(0, 0.2, len(null)))
    p_null = mixed_model_tests(null, order=["pre", "mid", "post"], control="Control").set_index("group").loc["Impact", "p"]
    assert p_null > 0.01


# ---- published results and worked examples ---------------------------------------------------------------


def test_rcv_worked_example_btm_facts():
    # BTM_FACTS §4: total CV 20 %, z 1.96: log-normal +73 % / −42 %; symmetric ±55 %
    up, down = rcv(0.20)
    assert (round(up * 100), round(down * 100)) == (73, -42)
    up, down = rcv(0.20, method="lsc")
    assert round(up * 100) == 55 and round(down * 100) == -55


def test_one_sample_t_on_published_pct_change():
    # published_results.md entry 1 (IJERPH 2021;18:9860), n = 26:
    # P1NP +12.9 % (SD 9.1 %) -> t = 12.9 / (9.1/√26) ≈ 7.2, reported p < 0.001
    r = t_test_from_summary(12.9, 9.1, 26)
    assert r["t"] == pytest.approx(7.23, abs=0.01) and r["df"] == 25 and r["p"] < 0.001
    # CTX at 2 min: −12.9 % (SD 13.7 %) -> t ≈ −4.8, p < 0.001
    r = t_test_from_summary(-12.9, 13.7, 26)
    assert r["t"] == pytest.approx(-4.80, abs=0.01) and r["p"] < 0.001
    # CTX at 75 min: +15.5 % (SD 36.0 %) -> t ≈ 2.2, p ≈ 0.04: a plain t cannot give the
    # reported p < 0.001, so the authors used another model (the discrepancy the file notes)
    r = t_test_from_summary(15.5, 36.0, 26)
    assert r["t"] == pytest.approx(2.195, abs=0.001)
    assert 0.03 < r["p"] < 0.05


def test_se_is_converted_to_sd():
    # published_results.md entry 3 (Menkes 1993): osteocalcin +19 ± 6 % (SE), n = 11 -> SD = 6·√11
    r = t_test_from_summary(19, 6, 11, dispersion_type="se")
    assert r["sd"] == pytest.approx(6 * math.sqrt(11))
    assert r["t"] == pytest.approx(19 / 6) and r["p"] < 0.05  # reported p < 0.05
