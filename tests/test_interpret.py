"""Interpretation: zlog, status (incl. censored values), flags and the per-sample balance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from btm.interpret import FLAGS, balance, flag_results, interpret, status_of, zlog


def _tidy(rows: list[dict]) -> pd.DataFrame:
    base = dict(subject_id="S1", timepoint="pre", specimen="serum", censored="", sex="F", age=60.0, menopausal_status="post",
                group="", variant="", kind="mass", flags="", assay="", tanner_stage="")
    df = pd.DataFrame([{**base, **r} for r in rows])
    units = {"PINP": "µg/L", "CTX1": "ng/L", "BALP": "µg/L", "OCN": "µg/L", "TRAP5B": "U/L"}
    if "unit" not in df:
        df["unit"] = df["marker"].map(units)
    return df


def test_zlog_formula_hand_computed():
    # Hoffmann 2017: z = (ln x − (ln L + ln U)/2) · 3.92 / (ln U − ln L)
    # PINP 45 µg/L against postmenopausal 18.2–102.3 [Michelsen13]:
    # ln 45 = 3.806662, ln 18.2 = 2.901422, ln 102.3 = 4.627910
    # (3.806662 − 3.764666) · 3.92 / 1.726488 = 0.09535
    assert float(zlog(45, 18.2, 102.3)) == pytest.approx(0.09535, abs=5e-5)
    assert float(zlog(18.2, 18.2, 102.3)) == pytest.approx(-1.96)
    assert float(zlog(102.3, 18.2, 102.3)) == pytest.approx(1.96)
    assert float(zlog(math.sqrt(18.2 * 102.3), 18.2, 102.3)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("value", "censored", "low", "high", "expected"),
    [
        (10, "", 15, 90, "low"),
        (15, "", 15, 90, "within"),
        (90, "", 15, 90, "within"),
        (91, "", 15, 90, "high"),
        (10, "<", 15, 90, "low"),  # the example: <10 against L = 15 is low
        (15, "<", 15, 90, "low"),  # true value < 15 = L
        (20, "<", 15, 90, "undetermined"),  # the example
        (1500, ">", 15, 1000, "high"),
        (500, ">", 15, 1000, "undetermined"),
        (50, "", np.nan, np.nan, ""),
        (25, "", np.nan, 20, "high"),  # upper limit only (e.g. Mayo BAP men <=20)
        (5, "", np.nan, 20, "within"),
        (5, "<", np.nan, 20, "undetermined"),
    ],
)
def test_status_including_censored_values(value, censored, low, high, expected):
    assert status_of(np.array([value], float), np.array([censored], object), np.array([low], float), np.array([high], float))[0] == expected


def test_interpret_adds_interval_status_z_and_source():
    df = _tidy([dict(marker="PINP", value=45.0), dict(marker="CTX1", value=1200.0), dict(marker="CTX1", value=10.0, censored="<", subject_id="S2")])
    res = interpret(df).results
    pinp = res[res["marker"] == "PINP"].iloc[0]
    assert (pinp["ref_low"], pinp["ref_high"], pinp["ref_unit"]) == (18.2, 102.3, "µg/L")
    assert pinp["ref_population"] == "postmenopausal women 50–<80 y"
    assert pinp["ref_source"].startswith("[Michelsen13]")
    assert pinp["status"] == "within"
    assert pinp["z"] == pytest.approx(0.09535, abs=5e-5)
    high = res[(res["marker"] == "CTX1") & (res["subject_id"] == "S1")].iloc[0]
    assert high["status"] == "high"  # 1200 > 1050 ng/L
    cens = res[res["subject_id"] == "S2"].iloc[0]
    assert cens["status"] == "low"  # <10 ng/L against a lower limit of 90 ng/L
    assert math.isnan(cens["z"])  # never from a substituted limit


def test_percentiles_not_stated_are_said():
    df = _tidy([dict(marker="PINP", value=40.0, sex="M", age=60.0, menopausal_status="")])
    res = interpret(df).results.iloc[0]
    assert res["ref_source"].startswith("[Alfred]")
    assert "percentiles not stated" in res["ref_note"]


def test_flags_from_the_columns_present():
    df = _tidy([
        dict(marker="CTX1", value=300.0, fasting="no", sample_time="11:20"),
        dict(marker="PINP", value=40.0, fasting="no", sample_time="11:20"),  # PINP: no food/circadian effect
        dict(marker="CTX1", value=300.0, egfr=25.0, subject_id="S2", fasting="yes", sample_time="08:00"),
        dict(marker="PINP", value=40.0, egfr=40.0, variant="total", subject_id="S2", fasting="yes", sample_time="08:00"),
        dict(marker="PINP", value=40.0, egfr=40.0, variant="intact", subject_id="S3", fasting="yes", sample_time="08:00"),
        dict(marker="BALP", value=12.0, egfr=25.0, subject_id="S2", fasting="yes", sample_time="08:00"),
    ])
    df["comment"] = ["haemolysed sample", "", "", "", "biotin 10 mg", ""]
    df["medication"] = ["alendronate 70 mg weekly", "", "teriparatide", "", "", "prednisolone"]
    df["fracture"] = ["", "yes", "", "", "", ""]
    df["pregnancy"] = ["", "", "", "", "lactating", ""]
    df["last_exercise"] = ["24", "", "96", "", "", ""]
    f = flag_results(df).tolist()
    assert f[0].split(";") == ["NONFASTING", "LATE_DRAW", "ANTIRESORPTIVE", "EXERCISE_72H", "HAEMOLYSIS"]
    assert f[1].split(";") == ["FRACTURE"]
    assert f[2].split(";") == ["RENAL", "ANABOLIC"]
    assert f[3].split(";") == ["RENAL_PINP"]
    assert f[4].split(";") == ["PREGNANCY", "BIOTIN"]  # intact PINP: no renal flag at eGFR 40
    assert f[5].split(";") == ["GLUCOCORTICOID"]  # BALP is not renally cleared
    for code in FLAGS:
        assert FLAGS[code] and code.isupper()


def test_probable_unit_error_is_flagged_against_the_chosen_interval():
    # CTX entered in ng/mL but labelled ng/L: 0.45 ng/L is ~1000x below 90–1050 ng/L
    df = _tidy([dict(marker="CTX1", value=0.45), dict(marker="CTX1", value=450.0, subject_id="S2")])
    res = interpret(df).results
    assert "UNIT_MAGNITUDE" in res.iloc[0]["flags"]
    assert "probable unit error" in res.iloc[0]["flag_notes"]
    assert res.iloc[1]["flags"] == ""


def test_balance_is_the_uncoupling_index_for_pinp_and_ctx():
    df = _tidy([dict(marker="PINP", value=45.0), dict(marker="CTX1", value=400.0)])
    it = interpret(df)
    b = it.balance.iloc[0]
    z = it.results.set_index("marker")["z"]
    assert b["balance_index"] == pytest.approx(z["PINP"] - z["CTX1"])
    assert b["formation_z"] == pytest.approx(z["PINP"])
    assert b["turnover_z"] == pytest.approx((z["PINP"] + z["CTX1"]) / 2)
    assert b["balance_basis"] == "uncoupling index (PINP z − CTX1 z)"
    # PINP/CTX1 with both in µg/L (Fisher 2018): 45 / 0.400 = 112.5
    assert b["ratio_PINP/CTX1"] == pytest.approx(112.5)
    assert math.isnan(b["ratio_BALP/TRAP5B"])


def test_balance_with_several_markers_and_states():
    df = _tidy([dict(marker="PINP", value=45.0), dict(marker="OCN", value=20.0), dict(marker="CTX1", value=1040.0), dict(marker="BALP", value=12.0), dict(marker="TRAP5B", value=3.0)])
    it = interpret(df)
    z = it.results.set_index("marker")["z"]
    b = it.balance.iloc[0]
    assert b["formation_z"] == pytest.approx((z["PINP"] + z["OCN"] + z["BALP"]) / 3)
    assert b["resorption_z"] == pytest.approx(z["CTX1"])  # TRAP5B has no interval: no z
    assert b["formation_markers"] == "PINP,OCN,BALP"
    assert "TRAP5B" in b["note"]
    assert b["ratio_BALP/TRAP5B"] == pytest.approx(4.0)
    assert b["ratio_OCN/CTX1"] == pytest.approx(20.0 / 1.040)
    # CTX 1040 ng/L sits near the upper limit (z ≈ 1.9), formation near the middle: resorption-dominant
    assert b["balance_index"] < -1
    assert b["turnover_state"] == "normal turnover, resorption-dominant"


@pytest.mark.parametrize(
    ("pinp", "ctx", "state"),
    [(45.0, 400.0, "normal turnover"), (200.0, 2000.0, "high turnover"), (8.0, 40.0, "low turnover"),
     (100.0, 150.0, "normal turnover, formation-dominant"), (20.0, 1000.0, "normal turnover, resorption-dominant")],
)
def test_turnover_states(pinp, ctx, state):
    b = interpret(_tidy([dict(marker="PINP", value=pinp), dict(marker="CTX1", value=ctx)])).balance.iloc[0]
    assert b["turnover_state"] == state


def test_duplicate_marker_in_a_sample_is_not_averaged_into_the_balance():
    df = _tidy([dict(marker="PINP", value=45.0), dict(marker="PINP", value=60.0), dict(marker="CTX1", value=400.0)])
    b = balance(interpret(df).results).iloc[0]
    assert math.isnan(b["formation_z"])
    assert "reported twice, not used: PINP" in b["note"]


def test_interpret_sample_files_end_to_end():
    from btm.io import read_results

    res = interpret(read_results("sample_data/analyser_cobas_export.xlsx").data).results
    # H15 <0.010 ng/mL = <10 ng/L for a 71-year-old woman: below 90 ng/L -> low, no z
    s309 = res[(res["subject_id"] == "S309") & (res["marker"] == "CTX1")].iloc[0]
    assert (s309["value"], s309["censored"], s309["status"]) == (10.0, "<", "low")
    assert math.isnan(s309["z"])
    # G30 >1200 µg/L PINP in a 78-year-old man: above 68.1 -> high
    s324 = res[(res["subject_id"] == "S324") & (res["marker"] == "PINP")].iloc[0]
    assert (s324["censored"], s324["status"]) == (">", "high")
    assert set(res["status"]) <= {"low", "within", "high", "undetermined", ""}
