"""The vectorised compute paths against the slow reference they replace (bit for bit where outputs are printed in full)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from btm._groupwise import group_codes, joined_in_order, per_unique
from btm.change import _ratio_bounds, sort_changes
from btm.interpret import _flag_texts, _state, _states, flag_results
from btm.stats import _design, dz_confidence_interval, t_ppf, t_sf, ttest_rel
from btm.timepoints import TimepointOrder

RNG = np.random.default_rng(20261202)


# ---------------------------------------------------------------------------------------------
# scipy.special in place of scipy.stats: the same numbers


def test_t_functions_equal_scipy_stats_over_many_inputs():
    for _ in range(2000):
        df = float(RNG.integers(1, 5000)) if RNG.random() < 0.8 else float(RNG.uniform(0.5, 50))
        x = float(RNG.normal(0, 10) * RNG.choice([1e-3, 1, 10]))
        q = float(RNG.uniform(1e-6, 1 - 1e-6))
        assert t_sf(x, df) == float(stats.t.sf(x, df))
        assert t_ppf(q, df) == float(stats.t.ppf(q, df))
    assert t_ppf(0.975, 10) == float(stats.t.ppf(0.975, 10))
    assert math.isnan(t_sf(math.nan, 5)) and math.isnan(float(stats.t.sf(math.nan, 5)))


def test_paired_t_test_equals_scipy_ttest_rel_bit_for_bit():
    for _ in range(500):
        n = int(RNG.integers(2, 400))
        a = RNG.lognormal(3, 0.5, n)
        b = a * RNG.lognormal(RNG.normal(0, 0.1), 0.2, n)
        r = stats.ttest_rel(np.log(b), np.log(a))
        assert ttest_rel(np.log(b), np.log(a)) == (float(r.statistic), float(r.pvalue))


def test_dz_interval_unchanged_against_scipy_noncentral_t():
    from scipy import optimize

    def reference(dz: float, n: int) -> tuple[float, float]:  # the former implementation: scipy.stats.nct.cdf
        df, t_obs = n - 1, dz * math.sqrt(n)
        spread = 10 * math.sqrt(1 + t_obs**2 / (2 * df))

        def cdf(nc: float) -> float:
            v = float(stats.nct.cdf(t_obs, df, nc))
            return v if math.isfinite(v) else (1.0 if nc < t_obs else 0.0)

        def solve(target: float) -> float:
            lo, hi = t_obs - spread, t_obs + spread
            if cdf(lo) < target or cdf(hi) > target:
                return math.nan
            return optimize.brentq(lambda nc: cdf(nc) - target, lo, hi, xtol=1e-12)

        alpha = 1 - 0.95
        return solve(1 - alpha / 2) / math.sqrt(n), solve(alpha / 2) / math.sqrt(n)

    for _ in range(60):
        dz, n = float(RNG.normal(0, 1.5)), int(RNG.integers(2, 3000))
        got, want = dz_confidence_interval(dz, n), reference(dz, n)
        assert got == want or all(math.isnan(g) and math.isnan(w) for g, w in zip(got, want, strict=True))


# ---------------------------------------------------------------------------------------------
# mixed-model design from codes = pandas get_dummies design (values and memory order)


def _design_reference(df: pd.DataFrame, *, interaction: bool) -> np.ndarray:
    g = pd.get_dummies(df["group"].astype(str), drop_first=True, dtype=float)
    t = pd.get_dummies(df["timepoint"].astype(str), drop_first=True, dtype=float)
    parts = [np.ones((len(df), 1)), g.to_numpy(), t.to_numpy()]
    if interaction and g.shape[1] and t.shape[1]:
        parts.append(np.column_stack([g.to_numpy()[:, [i]] * t.to_numpy()[:, [j]] for i in range(g.shape[1]) for j in range(t.shape[1])]))
    return np.hstack(parts)


@pytest.mark.parametrize("n_arms,n_tps", [(1, 3), (2, 3), (5, 4), (3, 1)], ids=["one-arm", "two-arms", "five-arms", "one-visit"])
@pytest.mark.parametrize("interaction", [True, False], ids=["full", "reduced"])
def test_design_equals_get_dummies(n_arms, n_tps, interaction):
    arms = np.array(["Zeta", "alpha", "Beta", "Tai Chi", "Control"][:n_arms], dtype=object)
    tps = np.array(["Week 6", "Baseline", "Week 12", "Week 24"][:n_tps], dtype=object)
    df = pd.DataFrame({"group": arms[RNG.integers(0, n_arms, 200)], "timepoint": tps[RNG.integers(0, n_tps, 200)]})
    got, want = _design(df, interaction=interaction), _design_reference(df, interaction=interaction)
    assert got.shape == want.shape and np.array_equal(got, want)
    assert got.flags["C_CONTIGUOUS"] == want.flags["C_CONTIGUOUS"]  # BLAS sums follow the memory order


# ---------------------------------------------------------------------------------------------
# group-wise helpers


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["S1", "S2", "S3", "S10"]), st.sampled_from(["pre", "post", "w6"]),
                          st.sampled_from(["", "PINP", "CTX1", "BALP", "OCN"])), min_size=1, max_size=60))
def test_group_codes_and_joined_markers_equal_pandas(rows):
    df = pd.DataFrame(rows, columns=["subject_id", "timepoint", "marker"])
    codes, n, first = group_codes(df["subject_id"], df["timepoint"])
    g = df.groupby(["subject_id", "timepoint"], sort=False)
    assert codes.tolist() == g.ngroup().tolist() and n == g.ngroups
    assert first.tolist() == [int(ix[0]) for ix in g.indices.values()] or sorted(first.tolist()) == sorted(int(ix[0]) for ix in g.indices.values())
    pat, texts = joined_in_order(codes, n, df["marker"].to_numpy(dtype=object))
    want = [",".join(dict.fromkeys(m for m in sub["marker"] if m)) for _, sub in g]
    assert [texts[p] for p in pat] == want


def test_per_unique_keeps_missing_values_apart():
    s = pd.Series(["a", None, "b", "a", np.nan], dtype=object)
    got = per_unique(s, lambda u: u.fillna("").astype(str).str.upper().to_numpy(dtype=object))
    assert got.tolist() == ["A", "", "B", "A", ""]


# ---------------------------------------------------------------------------------------------
# interpretation and change


def _flag_reference(data: pd.DataFrame, off: np.ndarray) -> list[str]:
    """The former per-row flag builder (then UNIT_MAGNITUDE appended as interpret did)."""
    from btm import interpret as I

    n = len(data)
    flags = [[f for f in str(x).split(";") if f] for x in data.get("flags", pd.Series([""] * n, index=data.index))]
    for code, mask in I._flag_masks(data):
        for i in np.flatnonzero(mask):
            if code not in flags[i]:
                flags[i].append(code)
    joined = [";".join(f) for f in flags]
    return [(f + ";UNIT_MAGNITUDE" if o and "UNIT_MAGNITUDE" not in f else f).strip(";") for f, o in zip(joined, off, strict=True)]


def test_flags_once_per_combination_equal_row_by_row():
    n = 400
    pick = lambda xs: np.array(xs, dtype=object)[RNG.integers(0, len(xs), n)]  # noqa: E731
    data = pd.DataFrame({
        "marker": pick(["CTX1", "PINP", "NTX", "OCN", "BALP"]), "fasting": pick(["no", "yes", "", None]),
        "sample_time": pick(["08:00", "11:30", "", "9:15"]), "egfr": RNG.choice([25.0, 40.0, 90.0, np.nan], n),
        "variant": pick(["", "intact", "total"]), "medication": pick(["", "alendronate", "Forteo", "prednisolone 5 mg"]),
        "comment": pick(["", "haemolysed", "biotin 10 mg"]), "last_exercise": pick(["", "24 h", "100", "yes"]),
        "pregnancy": pick(["", "no", "T2", "lactating"]), "fracture": pick(["", "yes", "no"]),
        "flags": pick(["", "DUPLICATE", "RENAL", "DUPLICATE;UNIT_MAGNITUDE", None]),
    })
    off = RNG.random(n) < 0.2
    assert _flag_texts(data, off).tolist() == _flag_reference(data, off)
    assert flag_results(data).tolist() == _flag_reference(data, np.zeros(n, dtype=bool))


def test_turnover_states_equal_the_scalar_rule():
    tz = np.array([np.nan, 2.5, -2.5, 0.3, 1.96, -1.96, 0.0, 3.0, np.nan])
    bi = np.array([1.5, np.nan, -1.2, 1.0, -1.0, 0.99, np.nan, 0.2, np.nan])
    assert _states(tz, bi).tolist() == [_state(t, b) for t, b in zip(tz, bi, strict=True)]


def test_ratio_bounds_equal_the_scalar_rule():
    a = RNG.uniform(0.1, 10, 300)
    b = RNG.uniform(0.1, 10, 300)
    cf = np.array(["", "<", ">"], dtype=object)[RNG.integers(0, 3, 300)]
    ct = np.array(["", "<", ">"], dtype=object)[RNG.integers(0, 3, 300)]
    lo, hi = _ratio_bounds(a, b, cf, ct)
    for i in range(300):
        f_lo, f_hi = (0.0, a[i]) if cf[i] == "<" else (a[i], math.inf) if cf[i] == ">" else (a[i], a[i])
        t_lo, t_hi = (0.0, b[i]) if ct[i] == "<" else (b[i], math.inf) if ct[i] == ">" else (b[i], b[i])
        assert lo[i] == (t_lo / f_hi if f_hi > 0 else 0.0)
        assert hi[i] == (math.inf if f_lo == 0 else t_hi / f_lo)


def test_sort_changes_equals_sort_values():
    n = 300
    pick = lambda xs: np.array(xs, dtype=object)[RNG.integers(0, len(xs), n)]  # noqa: E731
    df = pd.DataFrame({"marker": pick(["PINP", "CTX1", "BALP/TRAP5B"]), "timepoint_to": pick(["Week 6", "Week 12", "Week 24"]),
                       "group": pick(["Control", "Tai Chi", "Impact"]), "subject_id": pick([f"S{i}" for i in range(40)]),
                       "x": np.arange(n)})
    order = TimepointOrder(("Baseline", "Week 6", "Week 12", "Week 24"), "Baseline", "given")
    want = df.assign(_tp=df["timepoint_to"].map(order.rank())).sort_values(["marker", "_tp", "group", "subject_id"], kind="stable")
    assert sort_changes(df, order)["x"].tolist() == want["x"].tolist()


def test_arm_population_once_per_person_equals_per_subject():
    from btm.evidence import _person, arm_population

    n = 300
    pick = lambda xs: np.array(xs, dtype=object)[RNG.integers(0, len(xs), n)]  # noqa: E731
    data = pd.DataFrame({"subject_id": [f"S{i}" for i in range(n)], "group": pick(["Control", "Impact", "Tai Chi"]),
                         "sex": pick(["F", "M", "", None]), "age": RNG.choice([25.0, 55.0, 70.0, np.nan], n),
                         "menopausal_status": pick(["", "post", "pre"])})
    got = arm_population(data)
    for g, sub in data.groupby("group", sort=False):
        kinds = [_person(str(r["sex"]), float(r["age"]) if pd.notna(r["age"]) else math.nan, str(r["menopausal_status"])) or "unknown"
                 for r in sub.to_dict("records")]
        counts = pd.Series(kinds).value_counts()
        assert got[g][1] == ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())


def _missing_reference(r: pd.DataFrame, arms, visits, markers) -> pd.DataFrame:
    """The former merge-based listing of missing visits (summary._missing_visits before vectorising)."""
    have = r[["group", "subject_id", "timepoint", "marker"]].drop_duplicates()
    subjects = have[["group", "subject_id"]].drop_duplicates()
    expect_v = pd.DataFrame([(g, t) for g in arms for t in visits.get(g, ())], columns=["group", "timepoint"])
    arm_markers = have[["group", "marker"]].drop_duplicates()
    grid = subjects.merge(expect_v, on="group").merge(arm_markers, on="group")
    grid = grid.merge(have.assign(_have=True), on=["group", "subject_id", "timepoint", "marker"], how="left")
    gone = grid[grid["_have"].isna()]
    rank = {m: i for i, m in enumerate(markers)}
    gone = gone.assign(_m=gone["marker"].map(rank).fillna(len(rank))).sort_values("_m", kind="stable")
    per = gone.groupby(["group", "subject_id", "timepoint"], sort=False)["marker"].agg(list).reset_index()
    n_arm = arm_markers.groupby("group").size()
    per["n_missing_markers"] = per["marker"].map(len)
    per["missing"] = np.where(per["n_missing_markers"] == per["group"].map(n_arm), "no sample", "no result for " + per["marker"].map(", ".join))
    per["_v"] = [visits[g].index(t) for g, t in zip(per["group"], per["timepoint"], strict=True)]
    per["_a"] = per["group"].map({g: i for i, g in enumerate(arms)})
    per = per.sort_values(["_a", "subject_id", "_v"], kind="stable")
    return per[["subject_id", "group", "timepoint", "missing", "n_missing_markers"]].reset_index(drop=True)


def test_missing_visits_by_codes_equal_the_merges():
    from types import SimpleNamespace

    from btm.summary import _missing_visits

    rows = [(f"S{s:02d}", ["Control", "Impact", "Tai Chi"][s % 3], t, m) for s in range(30) for t in ("Baseline", "Week 6", "Week 12")
            for m in ("PINP", "CTX1", "BALP", "XYZ")]
    r = pd.DataFrame(rows, columns=["subject_id", "group", "timepoint", "marker"])
    r = r[RNG.random(len(r)) > 0.15].reset_index(drop=True)
    r = r[~((r["group"] == "Impact") & (r["marker"] == "BALP"))]
    arms = ["Control", "Impact", "Tai Chi"]
    visits = {"Control": ("Baseline", "Week 6", "Week 12"), "Impact": ("Baseline", "Week 6", "Week 12", "Week 24"), "Tai Chi": ("Baseline", "Week 12")}
    got = _missing_visits(SimpleNamespace(results=r), arms, visits, ["CTX1", "PINP", "BALP"])
    pd.testing.assert_frame_equal(got, _missing_reference(r, arms, visits, ["CTX1", "PINP", "BALP"]))


@pytest.mark.parametrize("high", [5, 1000, 10**9], ids=["few", "many", "sparse"])
def test_counting_helpers_equal_numpy_unique(high):
    from btm._groupwise import count_distinct, counts_per_row, distinct, first_of_each

    keys = RNG.integers(0, high, 5000)
    u, first, inv, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    assert first_of_each(keys)[0].tolist() == u.tolist() and first_of_each(keys)[1].tolist() == first.tolist()
    assert counts_per_row(keys).tolist() == counts[inv].tolist()
    if high < 10**9:
        assert distinct(keys).tolist() == u.tolist() and count_distinct(keys) == len(u)
    assert len(first_of_each(np.zeros(0, dtype=np.int64))[0]) == 0 and counts_per_row(np.zeros(0, dtype=np.int64)).size == 0


@pytest.mark.parametrize("dtype", [object, "str"])
def test_shared_texts_keeps_values_and_dtype_and_shares_objects(dtype):
    from btm._groupwise import shared_texts

    cells = ["".join(["PI", "NP"]) for _ in range(3000)] + ["CTX1", "", "PINP"]  # a new object per cell
    col = pd.Series(cells, dtype=dtype, name="marker", index=range(10, 3013))
    out = shared_texts(col)
    pd.testing.assert_series_equal(out, col)
    arr = out.to_numpy(dtype=object)
    assert len({id(x) for x in arr}) == 3
    distinct = pd.Series([str(i) for i in range(3000)], dtype=dtype)
    assert shared_texts(distinct) is distinct  # all distinct: left alone
