"""The analysis end to end on the bundled sample trial, the study file, evidence and the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from btm.analysis import AnalysisOptions, analyze, load_study, run_study, study_toml
from btm.cli import main
from btm.errors import AnalysisError, MappingError
from btm.evidence import arm_population, exercise_type_of
from btm.io import read_results

TRIAL = "sample_data/trial_exercise.xlsx"


@pytest.fixture(scope="module")
def trial():
    imported = read_results(TRIAL)
    return imported, analyze(imported.data)


def test_order_control_and_pairs(trial):
    _, a = trial
    assert a.order.order == ("Baseline", "Week 6", "Week 12")
    assert a.control == "Control"
    assert a.arm_types == {"Tai Chi": "flexibility_balance", "Endurance": "endurance", "Impact": "impact", "Control": "control", "Resistance": "resistance"}
    assert any("complete subject × marker pairs" in n for n in a.notes)


def test_cohort_n_counts_pairs_by_subject(trial):
    imported, a = trial
    d = imported.data
    for arm in ("Resistance", "Control"):
        for marker in ("PINP", "BALP"):
            base = set(d[(d.group == arm) & (d.marker == marker) & (d.timepoint == "Baseline") & (d.censored == "")].subject_id)
            post = set(d[(d.group == arm) & (d.marker == marker) & (d.timepoint == "Week 12") & (d.censored == "")].subject_id)
            row = a.cohort[(a.cohort.group == arm) & (a.cohort.marker == marker) & (a.cohort.timepoint_to == "Week 12")].iloc[0]
            assert row["n"] == len(base & post)


def test_cohort_statistic_equals_scipy_on_the_same_pairs(trial):
    imported, a = trial
    d = imported.data
    sel = d[(d.group == "Resistance") & (d.marker == "PINP")]
    w = sel.pivot(index="subject_id", columns="timepoint", values="value").dropna(subset=["Baseline", "Week 12"])
    ref = stats.ttest_rel(np.log(w["Week 12"]), np.log(w["Baseline"]))
    row = a.cohort[(a.cohort.group == "Resistance") & (a.cohort.marker == "PINP") & (a.cohort.timepoint_to == "Week 12")].iloc[0]
    assert row["p"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert row["gm_pct_change"] == pytest.approx((math.exp(np.log(w["Week 12"] / w["Baseline"]).mean()) - 1) * 100)


def test_designed_effects_are_found(trial):
    _, a = trial
    c = a.cohort[a.cohort.timepoint_to == "Week 12"].set_index(["group", "marker"])
    # the sample trial was generated with resistance PINP +18 % and OCN +20 % (sample_data/README.md)
    assert c.loc[("Resistance", "PINP"), "p_adj"] < 0.01 and c.loc[("Resistance", "PINP"), "gm_pct_change"] > 10
    assert c.loc[("Resistance", "OCN"), "p_adj"] < 0.01
    assert c.loc[("Control", "PINP"), "p_adj"] > 0.05
    b = a.between[(a.between.timepoint_to == "Week 12") & a.between.test.str.startswith("ANCOVA")].set_index(["group", "marker"])
    assert b.loc[("Resistance", "OCN"), "p_adj"] < 0.01 and b.loc[("Resistance", "OCN"), "estimate"] > 1
    lmm = a.between[a.between.timepoint_to == "all timepoints"]
    assert set(lmm["group"]) == {"all arms", "Tai Chi", "Endurance", "Impact", "Resistance"}


def test_evidence_annotations(trial):
    _, a = trial
    ev = a.evidence.set_index(["group", "marker"])
    from btm.evidence import VERDICTS

    assert set(ev["verdict"]) <= set(VERDICTS)
    assert ev.loc[("Impact", "BALP"), "verdict"] != "inconsistent"  # issue #12: a 2-week trial in young women does not apply
    assert ev.loc[("Resistance", "OCN"), "verdict"] == "consistent"
    assert ev.loc[("Resistance", "OCN"), "citations"]
    assert ev.loc[("Control", "PINP"), "verdict"] == "control arm"


def test_balance_change_per_subject(trial):
    _, a = trial
    b = a.balance
    s = b[b.subject_id == "S001"].set_index("timepoint")
    assert s.loc["Baseline", "balance_index_change"] == 0
    assert s.loc["Week 12", "balance_index_change"] == pytest.approx(s.loc["Week 12", "balance_index"] - s.loc["Baseline", "balance_index"])


def test_options_change_the_methods(trial):
    imported, _ = trial
    a = analyze(imported.data, AnalysisOptions(test="wilcoxon", adjust="bh", between="welch", rcv="lsc", baseline="Week 6"))
    assert set(a.cohort["test"]) == {"Wilcoxon signed-rank test on log ratios"}
    assert a.cohort["adjust_method"].str.startswith("Benjamini").all()
    assert a.order.baseline == "Week 6" and set(a.changes["timepoint_to"]) == {"Baseline", "Week 12"}
    assert (a.changes["rcv_up_pct"].dropna() == -a.changes["rcv_down_pct"].dropna()).all()
    assert a.between["test"].str.startswith("Welch").any()


def test_bad_options_are_clear_errors(trial):
    imported, _ = trial
    with pytest.raises(AnalysisError, match="control arm 'Placebo' is not a group"):
        analyze(imported.data, AnalysisOptions(control="Placebo"))
    with pytest.raises(AnalysisError, match="baseline 'Week 99' is not a timepoint"):
        analyze(imported.data, AnalysisOptions(baseline="Week 99"))
    one = imported.data[imported.data.timepoint == "Baseline"]
    with pytest.raises(AnalysisError, match="only one timepoint"):
        analyze(one)


@pytest.mark.parametrize(
    ("label", "kind"),
    [("Tai Chi", "flexibility_balance"), ("Resistance training", "resistance"), ("Jumping", "impact"), ("Control", "control"),
     ("CON", "control"), ("usual care", "control"), ("Krafttraining", "resistance"), ("Kontrolle", "control"),
     ("Endurance running", "endurance"), ("resistance + impact", "combined"), ("Pilates", "flexibility_balance"), ("Arm A", "")],
)
def test_exercise_type_from_labels(label, kind):
    assert exercise_type_of(label) == kind


def test_arm_population():
    df = pd.DataFrame({"subject_id": ["a", "b", "c", "d"], "group": "G", "sex": ["F", "F", "F", "M"], "age": [60.0, 62.0, 70.0, 30.0], "menopausal_status": ["post", "post", "", ""]})
    assert arm_population(df)["G"][0] == "postmenopausal_women"


def test_study_file_round_trip(tmp_path, trial):
    imported, a = trial
    text = study_toml([str(Path(TRIAL).resolve())], imported.data, base=tmp_path)
    study = tmp_path / "study.toml"
    study.write_text(text, encoding="utf-8")
    s = load_study(study)
    assert s.options.control == "Control" and s.options.timepoint_order == ["Baseline", "Week 6", "Week 12"]
    assert s.options.arm_types["Tai Chi"] == "flexibility_balance"
    _, _, again = run_study(study)
    pd.testing.assert_frame_equal(again.cohort, a.cohort)


def test_study_file_errors(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[study]\ninputs = ["x.xlsx"]\n[arms]\n"A" = "yoga"\n', encoding="utf-8")
    with pytest.raises(MappingError, match="exercise type must be one of"):
        load_study(p)
    p.write_text('[study]\ninputs = ["x.xlsx"]\nwhatever = 1\n', encoding="utf-8")
    with pytest.raises(MappingError, match="unknown key"):
        load_study(p)
    p.write_text("[study\n", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid TOML"):
        load_study(p)


def test_analyze_cli_writes_every_csv(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["analyze", TRIAL, "-o", str(out)]) == 0
    for name in ("results.csv", "balance.csv", "changes.csv", "cohort.csv", "between_groups.csv", "evidence.csv", "rejected.csv", "run_info.txt"):
        assert (out / name).stat().st_size > 0, name
    printed = capsys.readouterr().out
    assert "timepoint order: Baseline → Week 6 → Week 12" in printed
    assert "Resistance  PINP" in printed
    info = (out / "run_info.txt").read_text(encoding="utf-8")
    assert "trial_exercise.xlsx" in info and "baseline: Baseline" in info
    cohort = pd.read_csv(out / "cohort.csv")
    assert {"gmr", "p_adj", "d_z", "test"} <= set(cohort.columns)


def test_init_study_then_analyze_cli(tmp_path, capsys):
    study = tmp_path / "study.toml"
    assert main(["init-study", TRIAL, "-o", str(study)]) == 0
    assert main(["init-study", TRIAL, "-o", str(study)]) == 1  # refuses to overwrite
    assert "exists" in capsys.readouterr().err
    assert main(["analyze", str(study), "-o", str(tmp_path / "r"), "--adjust", "bh"]) == 0
    assert pd.read_csv(tmp_path / "r" / "cohort.csv")["adjust_method"].str.startswith("Benjamini").all()


def test_control_flag_and_arm_types_from_cli(tmp_path):
    assert main(["analyze", TRIAL, "-o", str(tmp_path / "r"), "--control", "Endurance", "--arm", "Tai Chi=flexibility_balance"]) == 0
    b = pd.read_csv(tmp_path / "r" / "between_groups.csv")
    assert set(b["control"]) == {"Endurance"}
    assert main(["analyze", TRIAL, "-o", str(tmp_path / "r"), "--arm", "nonsense"]) == 1
