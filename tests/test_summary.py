"""The summary computed once (btm.summary): every visit, Table 1, adjusted means, one object for every output.

Independent computations: Table 1 with numpy/scipy on the raw tidy table; adjusted (estimated
marginal) means with statsmodels OLS predictions; the console and the workbook render the same
Summary object.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from scipy import stats

import btm
from btm.cli import main
from btm.summary import HEADLINE_COLUMNS, TRAJECTORY_COLUMNS, rejected_groups, summarize
from btm.table1 import OVERALL, TABLE1_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
TRIAL = ROOT / "sample_data" / "trial_exercise.xlsx"
HANDTYPED = ROOT / "sample_data" / "handtyped_lab_sheet.xlsx"
OWN = ROOT / "tests" / "data" / "report" / "arms_own_visits.xlsx"
THREE = ROOT / "tests" / "data" / "report" / "three_visits_missing.xlsx"


@pytest.fixture(scope="module")
def trial():
    imported = btm.read_results(TRIAL)
    a = btm.analyze(imported.data)
    return imported, a, summarize(a, imported, table1_p=True)


@pytest.fixture(scope="module")
def own():
    imported = btm.read_results(OWN)
    a = btm.analyze(imported.data)
    return imported, a, summarize(a, imported)


@pytest.fixture(scope="module")
def three():
    imported = btm.read_results(THREE)
    a = btm.analyze(imported.data)
    return imported, a, summarize(a, imported)


# ---------------------------------------------------------------------------------------------
# every visit


def test_headline_has_every_followup_visit_of_every_arm_and_marker(trial):
    _, a, s = trial
    h = s.headline
    assert list(h.columns) == HEADLINE_COLUMNS
    markers = ["PINP", "CTX1", "BALP", "OCN", "TRAP5B"]
    assert list(s.markers) == markers and s.arms[0] == "Control"
    for arm in s.arms:
        for m in markers:
            got = h[(h["group"] == arm) & (h["marker"] == m)]
            assert got["timepoint_to"].tolist() == ["Week 6", "Week 12"], (arm, m)
            assert got["visit"].tolist() == [1, 2]
    # the numbers are the analysis' own, unchanged
    co = a.cohort[~a.cohort["marker"].str.contains("/")]
    assert len(h) == len(co)
    m = h.merge(co, on=["group", "marker", "timepoint_from", "timepoint_to"], suffixes=("", "_c"))
    assert np.allclose(m["gm_pct_change"], m["gm_pct_change_c"]) and np.allclose(m["p_adj"], m["p_adj_c"])


def test_headline_vs_control_at_each_visit_equals_between(trial):
    _, a, s = trial
    h = s.headline.set_index(["group", "marker", "timepoint_to"])
    b = a.between[a.between["timepoint_to"] != "all timepoints"].set_index(["group", "marker", "timepoint_to"])
    for key in [("Resistance", "PINP", "Week 6"), ("Tai Chi", "TRAP5B", "Week 12"), ("Impact", "BALP", "Week 6")]:
        assert h.loc[key, "pct_difference"] == pytest.approx(b.loc[key, "pct_difference"])
        assert h.loc[key, "between_p_adj"] == pytest.approx(b.loc[key, "p_adj"])
        assert h.loc[key, "adj_gm_group"] / h.loc[key, "adj_gm_control"] == pytest.approx(b.loc[key, "estimate"])
    assert h.loc[("Control", "PINP", "Week 6"), ["pct_difference", "adj_gm_group"]].isna().all()


def test_trajectory_starts_at_zero_at_each_arms_baseline(trial, own):
    for _, _, s in (trial, own):
        t = s.trajectory
        assert list(t.columns) == TRAJECTORY_COLUMNS
        base = t[t["visit"] == 0]
        assert (base["gm_pct_change"] == 0).all() and base["gm_pct_ci_low"].isna().all()
        assert len(t) == len(s.headline) + len(base)
    _, _, s = own
    yoga = s.trajectory[(s.trajectory["group"] == "Yoga") & (s.trajectory["marker"] == "PINP")]
    assert yoga["timepoint"].tolist() == ["pre", "mid", "post"]


def test_arms_with_their_own_visit_labels_are_in_the_headline(own):
    imported, a, s = own
    h = s.headline
    yoga = h[h["group"] == "Yoga"]
    assert set(zip(yoga["timepoint_from"], yoga["timepoint_to"], strict=True)) == {("pre", "mid"), ("pre", "post")}
    assert yoga["pct_difference"].isna().all()  # no visit in common with control
    assert any("Yoga" in n and "no visit in common" in n for n in s.notes)
    assert s.arm_visits["Yoga"] == ("pre", "mid", "post") and s.arm_visits["Control"] == ("Baseline", "Week 6", "Week 12")
    # mixed model: no test where arms do not share visits, a test where they do
    mm = s.mixed_model
    assert mm.loc[mm["comparison"] == "Yoga", "p"].isna().all()
    assert mm.loc[mm["comparison"] == "Resistance", "p"].notna().all()
    # Yoga's missing 'mid' visit
    mv = s.missing_visits
    assert ((mv["subject_id"] == "Y03") & (mv["timepoint"] == "mid") & (mv["missing"] == "no sample")).sum() == 1


def _console_rows(out: str) -> list[dict[str, str]]:
    """The headline table printed on the console, cut at the column positions of its dashed rule."""
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("arm ") and "from → to" in line)
    spans, pos = [], 0
    for dashes in lines[head + 1].split("  "):
        spans.append((pos, pos + len(dashes)))
        pos += len(dashes) + 2
    names = [lines[head][a:b].strip() for a, b in spans]
    rows = []
    for line in lines[head + 2:]:
        if not line.strip():
            break
        rows.append({n: line[a:b].strip() for n, (a, b) in zip(names, spans, strict=True)})
    return rows


def _workbook_headline(path: Path) -> pd.DataFrame:
    ws = openpyxl.load_workbook(path)["Summary"]
    h = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "arm" and ws.cell(r, 4).value == "to")
    cols = {ws.cell(h, j).value: j for j in range(1, ws.max_column + 1) if ws.cell(h, j).value}
    rows = []
    r = h + 1
    while ws.cell(r, 1).value is not None:
        rows.append({k: ws.cell(r, j).value for k, j in cols.items()})
        r += 1
    return pd.DataFrame(rows)


@pytest.mark.parametrize("source", [OWN, THREE], ids=["own_visit_labels", "three_visits"])
def test_console_and_workbook_render_the_same_summary_object(source, tmp_path, capsys, monkeypatch):
    import btm.cli as cli
    import btm.summary as summary_module

    made, printed, written = [], [], []
    real_summarize, real_print = summary_module.summarize, cli._print_analysis_summary
    real_write = __import__("btm.report.excel", fromlist=["write_report"]).write_report

    def spy_summarize(*args, **kw):
        made.append(real_summarize(*args, **kw))
        return made[-1]

    monkeypatch.setattr(summary_module, "summarize", spy_summarize)
    monkeypatch.setattr(cli, "_print_analysis_summary", lambda s, file=None: (printed.append(s), real_print(s, file))[1])
    monkeypatch.setattr("btm.report.write_report", lambda *a, **kw: (written.append(kw.get("summary")), real_write(*a, **kw))[1])
    out = tmp_path / "report.xlsx"
    assert main(["report", str(source), "-o", str(out), "--timestamp", "2026-01-31T09:00:00"]) == 0
    assert len(made) == 1 and printed[0] is made[0] and written[0] is made[0]
    # and what each shows agrees row by row
    console = _console_rows(capsys.readouterr().out)
    book = _workbook_headline(out)
    assert len(console) == len(book) == len(made[0].headline)
    for row, (_, b) in zip(console, book.iterrows(), strict=True):
        assert (row["arm"], row["marker"], row["from → to"]) == (b["arm"], b["marker"], f"{b['from']} → {b['to']}")
        assert int(row["n"]) == b["n"]
        assert float(row["% change (95% CI)"].split()[0]) == pytest.approx(b["geometric mean % change"], abs=0.05)
        vs = row["vs control % (95% CI)"]
        assert (vs == "") == pd.isna(b["vs control: % difference"])


def test_the_three_visit_trial_has_every_visit_in_console_workbook_and_charts(three, tmp_path, capsys):
    _, _, s = three
    out = tmp_path / "r.xlsx"
    assert main(["report", str(THREE), "-o", str(out)]) == 0
    book = _workbook_headline(out)
    assert sorted(set(book["to"])) == ["Week 12", "Week 6"]
    cd = openpyxl.load_workbook(out)["Chart data"]
    visits = {cd.cell(r, 4).value for r in range(2, cd.max_row + 1)}
    assert visits == {"Baseline", "Week 6", "Week 12"}


# ---------------------------------------------------------------------------------------------
# Table 1 against an independent computation


def _baseline_subjects(imported: btm.ImportResult) -> pd.DataFrame:
    d = imported.data
    return d[d["timepoint"] == "Baseline"]


def test_table1_numbers_equal_an_independent_computation(trial):
    imported, _, s = trial
    t = s.table1
    assert list(t.columns) == TABLE1_COLUMNS
    d = imported.data
    subj = d.sort_values("timepoint", key=lambda x: x != "Baseline", kind="stable").groupby(["group", "subject_id"]).first()
    for arm in ("Control", "Tai Chi", OVERALL):
        sub = subj if arm == OVERALL else subj.loc[arm]
        row = t[(t["variable"] == "Subjects") & (t["group"] == arm)].iloc[0]
        assert row["estimate"] == len(sub)
        age = sub["age"].astype(float)
        row = t[(t["variable"] == "Age (years)") & (t["group"] == arm)].iloc[0]
        assert row["estimate"] == pytest.approx(age.mean()) and row["spread"] == pytest.approx(np.std(age, ddof=1))
        assert row["n"] == age.notna().sum()
        female = t[(t["variable"] == "Sex") & (t["level"] == "female") & (t["group"] == arm)].iloc[0]
        assert female["estimate"] == (sub["sex"] == "F").sum()
        assert female["spread"] == pytest.approx(100 * (sub["sex"] == "F").mean())
        post = t[(t["variable"] == "Menopausal status (women)") & (t["level"] == "postmenopausal") & (t["group"] == arm)].iloc[0]
        women = sub[sub["sex"] == "F"]
        assert post["estimate"] == (women["menopausal_status"] == "post").sum() and post["n"] == (women["menopausal_status"] != "").sum()
    base = _baseline_subjects(imported)
    for marker in ("PINP", "CTX1", "TRAP5B"):
        for arm in ("Resistance", OVERALL):
            v = base[(base["marker"] == marker) & (base["censored"] == "")]
            v = (v if arm == OVERALL else v[v["group"] == arm])["value"].to_numpy(float)
            gm = t[(t["variable"].str.startswith(marker + " ")) & (t["statistic"].str.startswith("geometric")) & (t["group"] == arm)].iloc[0]
            assert gm["estimate"] == pytest.approx(stats.gmean(v)) and gm["spread"] == pytest.approx(stats.gstd(v))
            assert gm["n"] == len(v)
            med = t[(t["variable"].str.startswith(marker + " ")) & (t["statistic"] == "median [IQR]") & (t["group"] == arm)].iloc[0]
            assert med["estimate"] == pytest.approx(np.median(v))
            assert (med["spread_low"], med["spread_high"]) == pytest.approx(tuple(np.percentile(v, [25, 75])))


def test_table1_p_values_on_request_name_their_tests(trial):
    imported, a, s = trial
    t = s.table1
    age = t[t["variable"] == "Age (years)"].iloc[0]
    subj = imported.data.groupby(["group", "subject_id"])["age"].first().reset_index()
    ref = stats.f_oneway(*[g["age"].to_numpy(float) for _, g in subj.groupby("group")])
    assert age["test"] == "one-way ANOVA" and age["p"] == pytest.approx(ref.pvalue)
    sex = t[t["variable"] == "Sex"].iloc[0]
    ct = pd.crosstab(subj.merge(imported.data.groupby(["group", "subject_id"])["sex"].first().reset_index())["group"],
                     subj.merge(imported.data.groupby(["group", "subject_id"])["sex"].first().reset_index())["sex"])
    assert sex["p"] == pytest.approx(stats.chi2_contingency(ct, correction=False).pvalue)
    assert summarize(a, imported).table1["p"].isna().all()  # off by default


def test_table1_leaves_censored_baseline_values_out_and_says_so(three):
    imported, _, s = three
    t = s.table1
    ctx = t[t["variable"].str.startswith("CTX1") & (t["group"] == "Control") & t["statistic"].str.startswith("geometric")].iloc[0]
    assert ctx["n"] == 9 and "1 censored" in ctx["note"]


def test_table1_workbook_cells_are_numbers_shown_as_tableone_does(tmp_path):
    out = tmp_path / "r.xlsx"
    assert main(["report", str(THREE), "-o", str(out), "--table1-p"]) == 0
    ws = openpyxl.load_workbook(out)["Table 1"]
    labels = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    r = labels["Age (years), mean (SD)"]
    est, sd, n = ws.cell(r, 2), ws.cell(r, 3), ws.cell(r, 5)
    assert est.data_type == "n" and sd.data_type == "n" and n.data_type == "n"
    assert sd.number_format == '" ("0.0")"' and n.number_format == '"n="0'
    r = labels["CTX1 (ng/L), median [IQR]"]
    assert ws.cell(r, 2).number_format == "0" and ws.cell(r, 3).number_format == '" ["0","'
    assert any(ws.cell(1, j).value == "p" for j in range(1, ws.max_column + 1))


# ---------------------------------------------------------------------------------------------
# ANCOVA adjusted means against statsmodels


def test_adjusted_means_equal_statsmodels_predictions(trial):
    smf = pytest.importorskip("statsmodels.formula.api")
    _, a, s = trial
    ch = a.changes
    for arm, marker, visit in [("Resistance", "PINP", "Week 12"), ("Impact", "BALP", "Week 6"), ("Tai Chi", "CTX1", "Week 12")]:
        d = ch[(ch["marker"] == marker) & (ch["timepoint_to"] == visit) & ch["group"].isin([arm, "Control"]) & ch["log_ratio"].notna()]
        d = d.assign(lf=np.log(d["value_from"].astype(float)), lt=np.log(d["value_to"].astype(float)), arm=(d["group"] == arm).astype(float))
        fit = smf.ols("lt ~ lf + arm", data=d).fit()
        new = pd.DataFrame({"lf": [d["lf"].mean()] * 2, "arm": [1.0, 0.0]})
        pred = fit.get_prediction(new).summary_frame(alpha=0.05)
        row = s.headline[(s.headline["group"] == arm) & (s.headline["marker"] == marker) & (s.headline["timepoint_to"] == visit)].iloc[0]
        assert row["adj_gm_group"] == pytest.approx(math.exp(pred["mean"].iloc[0]), rel=1e-9)
        assert row["adj_gm_group_ci_low"] == pytest.approx(math.exp(pred["mean_ci_lower"].iloc[0]), rel=1e-9)
        assert row["adj_gm_group_ci_high"] == pytest.approx(math.exp(pred["mean_ci_upper"].iloc[0]), rel=1e-9)
        assert row["adj_gm_control"] == pytest.approx(math.exp(pred["mean"].iloc[1]), rel=1e-9)
        assert row["adj_gm_control_ci_low"] == pytest.approx(math.exp(pred["mean_ci_lower"].iloc[1]), rel=1e-9)
        assert row["pct_difference"] == pytest.approx((math.exp(fit.params["arm"]) - 1) * 100, rel=1e-9)


def test_r_pre_post_and_effect_size_name_in_arm_statistics(trial):
    imported, a, _ = trial
    d = imported.data
    w = d[(d["group"] == "Impact") & (d["marker"] == "OCN")].pivot(index="subject_id", columns="timepoint", values="value")
    w = w.dropna(subset=["Baseline", "Week 6"])
    row = a.cohort[(a.cohort["group"] == "Impact") & (a.cohort["marker"] == "OCN") & (a.cohort["timepoint_to"] == "Week 6")].iloc[0]
    assert row["r_pre_post"] == pytest.approx(stats.pearsonr(np.log(w["Baseline"]), np.log(w["Week 6"])).statistic)
    assert row["effect_size"] == "Cohen's d_z"


# ---------------------------------------------------------------------------------------------
# other parts of the model


def test_missing_visits_equal_an_independent_count(three):
    imported, _, s = three
    d = imported.data
    have = set(zip(d["subject_id"], d["timepoint"], strict=True))
    expected = {(sid, tp) for sid in set(d["subject_id"]) for tp in ("Baseline", "Week 6", "Week 12") if (sid, tp) not in have}
    mv = s.missing_visits
    assert set(zip(mv.loc[mv["missing"] == "no sample", "subject_id"], mv.loc[mv["missing"] == "no sample", "timepoint"], strict=True)) == expected
    balp = mv[(mv["subject_id"] == "C05") & (mv["timepoint"] == "Week 12")].iloc[0]
    assert balp["missing"] == "no result for BALP" and balp["n_missing_markers"] == 1


def test_rejected_values_carry_subject_and_visit_and_group_by_reason(own):
    imported, _, s = own
    r = s.rejected
    assert len(r) == len(imported.rejected) == 1
    assert (r["subject_id"].iloc[0], r["timepoint"].iloc[0]) == ("R02", "Week 6")
    g = s.rejected_groups
    assert g["n"].sum() == len(r) and g["reason"].iloc[0] == "not a number: …" and "hemolysed" in g["examples"].iloc[0]


def test_rejected_groups_count_each_file_column_and_reason():
    rej = pd.DataFrame({
        "source_file": ["a.csv"] * 4, "column": ["B (PINP)", "B (PINP)", "B (PINP)", "C (CTX)"],
        "raw_value": ["x", "y", "x", "QNS"], "reason": ["not a number: 'x'", "not a number: 'y'", "not a number: 'x'", "not a number: 'QNS'"],
    })
    g = rejected_groups(rej)
    assert g[["column", "reason", "n"]].values.tolist() == [["B (PINP)", "not a number: …", 3], ["C (CTX)", "not a number: …", 1]]
    assert g["examples"].iloc[0] == "'x', 'y'"


def test_summary_is_plain_data_that_serialises_to_json(trial):
    _, _, s = trial
    d = s.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["arms"] == list(s.arms)
    assert len(d["headline"]) == len(s.headline) and set(d["headline"][0]) == set(HEADLINE_COLUMNS)
    assert d["marker_units"][1] == {"marker": "CTX1", "specimen": "serum", "unit": "ng/L", "decimals": 0}


def test_summary_counts_and_glance_of_a_file_with_rejections():
    imported = btm.read_results([TRIAL, HANDTYPED])
    s = summarize(btm.analyze(imported.data), imported)
    glance = dict(zip(s.glance["item"], s.glance["value"], strict=True))
    assert glance["Rejected values"] == s.counts["rejected"] == len(imported.rejected) == 4
    assert s.counts["subjects"] == imported.data["subject_id"].nunique()


def test_console_names_the_top_reasons_and_only_places_that_exist(tmp_path, capsys):
    out = tmp_path / "r.xlsx"
    assert main(["report", str(HANDTYPED), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"4 value(s) rejected, listed in the Rejected sheet of {out}; most common:" in err
    assert "not a number: … — column F (P1NP ng/ml)" in err and "(e.g. '4o.2')" in err
    assert f"1 warning(s): see the Warnings sheet of {out}" in err and "warnings file" not in err
    assert main(["interpret", str(HANDTYPED), "-o", str(tmp_path / "i.csv")]) == 0
    err = capsys.readouterr().err
    assert f"listed in {tmp_path / 'i.rejected.csv'}" in err and (tmp_path / "i.rejected.csv").exists()
    assert "warning(s) (not written to a file by this command" in err and not (tmp_path / "i.warnings.csv").exists()
    assert main(["analyze", str(HANDTYPED), "-o", str(tmp_path / "res")]) == 0
    err = capsys.readouterr().err
    assert f"see {tmp_path / 'res' / 'warnings.csv'}" in err and (tmp_path / "res" / "warnings.csv").exists()
