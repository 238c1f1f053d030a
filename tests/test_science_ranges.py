"""Issue #12 items 1, 2 and 7: adolescents, unknown sex, pregnancy/lactation and 'adult' women rows.

Each test names the source of the rule or number it checks (keys as in reference_ranges/README.md).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from btm.interpret import interpret
from btm.ranges import Undetermined, intervals_with, load_intervals, select_interval, shipped_intervals
from btm.selection import pregnancy_state


def _sel(**kw):
    kw.setdefault("specimen", "serum")
    return select_interval(shipped_intervals(), **kw)


def _tidy(rows):
    base = dict(subject_id="S1", timepoint="Baseline", specimen="serum", censored="", kind="mass", variant="", flags="", group="A")
    return pd.DataFrame([{**base, **r} for r in rows])


# ---- item 1: growth-phase bands up to the age their sources cover ------------------------------------------


@pytest.mark.parametrize(
    ("subject", "low", "high", "source"),
    [
        # LIFE Child exact-age 18 y bands [Geserick20] (BTM_FACTS §3d)
        (dict(marker="PINP", unit="µg/L", sex="M", age=18), 97.0, 790.0, "[Geserick20]"),
        (dict(marker="PINP", unit="µg/L", sex="F", age=18.5), 23.0, 152.0, "[Geserick20]"),
        (dict(marker="OCN", unit="µg/L", sex="M", age=18.2), 31.0, 148.0, "[Geserick20]"),
        (dict(marker="CTX1", unit="ng/L", sex="F", age=18), 226.0, 965.0, "[Geserick20]"),
        # Alfred paediatric PINP bands reach 20 y (16–<20 y) [Alfred]
        (dict(marker="PINP", unit="µg/L", sex="M", age=19), 60.0, 720.0, "[Alfred]"),
        (dict(marker="PINP", unit="µg/L", sex="F", age=19.9), 50.0, 280.0, "[Alfred]"),
        # PathWest CTX 19–<20 y (men) and 17–<20 y (women) [PathWest]
        (dict(marker="CTX1", unit="ng/L", sex="M", age=19.5), 400.0, 2000.0, "[PathWest]"),
        (dict(marker="CTX1", unit="ng/L", sex="F", age=19), 400.0, 1200.0, "[PathWest]"),
    ],
    ids=lambda x: x if isinstance(x, str) else (f"{x['marker']}-{x['sex']}{x['age']}" if isinstance(x, dict) else str(x)),
)
def test_adolescents_get_the_growth_band_their_source_publishes(subject, low, high, source):
    r = _sel(**subject)
    assert not isinstance(r, str), r
    assert (r.low, r.high) == pytest.approx((low, high))
    assert r.source.startswith(source)
    assert r.population.startswith(("boys", "girls"))
    if subject["age"] >= 18:
        assert "growth-phase band covers this age" in r.why


def test_adult_intervals_start_where_the_paediatric_bands_end_alfred():
    # [Alfred]: paediatric bands end at 20 y; the adult band 20–<25 y follows
    r = _sel(marker="PINP", unit="µg/L", sex="M", age=20)
    assert (r.low, r.high) == (15.0, 115.0) and r.population == "men 20–<25 y" and r.why == ""


def test_a_child_without_a_fitting_growth_band_gets_no_adult_interval_geserick20():
    # LIFE Child osteocalcin exists only at exact ages 1, 6, 10 … 18 y [Geserick20]: none at 17 y, and no adult band is used
    r = _sel(marker="OCN", unit="µg/L", sex="M", age=17)
    assert isinstance(r, str) and not isinstance(r, Undetermined)


def test_issue_case_18_year_old_man_pinp_300_is_within_the_life_child_band_and_balance_follows():
    """Issue #12 item 1: PINP 300 µg/L at 18 y was 'high' (z 5.5) against the adult 22–87 band [Geserick20]."""
    data = _tidy([
        dict(marker="PINP", value=300.0, unit="µg/L", sex="M", age=18.0),
        dict(marker="CTX1", value=1200.0, unit="ng/L", sex="M", age=18.0),
    ])
    it = interpret(data)
    res = it.results.set_index("marker")
    assert res.loc["PINP", "status"] == "within" and res.loc["PINP", "ref_source"].startswith("[Geserick20]")
    assert abs(res.loc["PINP", "z"]) < 1.96
    assert res.loc["CTX1", "status"] == "within"
    state = it.balance["turnover_state"].iat[0]
    assert state.startswith("normal turnover") and "formation-dominant" not in state


# ---- item 2: sex unknown -----------------------------------------------------------------------------------


def test_unknown_sex_adult_never_borrows_the_premenopausal_target_range_vasikaran11():
    # IOF/IFCC premenopausal range is a treatment target [Vasikaran11]; men's and women's PINP limits differ
    r = _sel(marker="PINP", unit="µg/L", sex="", age=40)
    assert isinstance(r, Undetermined)
    assert "men's" in r and "women's" in r and "differ" in r


def test_unknown_sex_gets_the_interval_published_for_both_sexes_arup_pyd():
    # ARUP 0080342 PYD ≥20 y is published for both sexes together (sex any) [ARUP]
    r = _sel(marker="PYD", specimen="urine", unit="nmol/mmol creatinine", sex="", age=45)
    assert (r.low, r.high) == (20.0, 40.0) and "interval for both sexes" in r.why
    r = _sel(marker="DPD", specimen="urine", unit="nmol/mmol creatinine", sex="", age=12)  # ARUP child 10–<15 y, both sexes
    assert (r.low, r.high) == (13.0, 61.0)


def test_unknown_sex_where_mens_and_womens_limits_agree(tmp_path):
    p = tmp_path / "lab.csv"
    rows = [
        dict(marker="OCN", specimen="serum", unit="µg/L", sex=s, age_min=18, age_max="", population=pop, lower=9, upper=42, source="[Mayo] our copy")
        for s, pop in (("M", "adult"), ("F", "premenopausal"), ("F", "postmenopausal"))
    ]
    pd.DataFrame(rows).to_csv(p, index=False)
    r = select_interval(intervals_with(p), marker="OCN", specimen="serum", unit="µg/L", sex="", age=60)
    assert (r.low, r.high) == (9.0, 42.0) and "same limits" in r.why


def test_unknown_sex_status_is_undetermined_with_a_note_in_results():
    data = _tidy([dict(marker="CTX1", value=300.0, unit="ng/L", sex="", age=45.0)])
    res = interpret(data).results.iloc[0]
    assert res["status"] == "undetermined" and math.isnan(res["z"]) and math.isnan(res["ref_low"])
    assert res["ref_note"].startswith("sex unknown")


def test_menopausal_status_in_the_data_means_a_woman():
    r = _sel(marker="PINP", unit="µg/L", sex="", age=60, menopausal_status="post")
    assert (r.low, r.high) == (18.2, 102.3) and "a woman" in r.why


# ---- item 7: pregnancy / lactation and 'adult' women rows ---------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "state"),
    [("yes", "pregnancy"), ("Pregnant", "pregnancy"), ("2nd trimester", "pregnancy_t2"), ("T1", "pregnancy_t1"),
     ("trimester 3", "pregnancy_t3"), ("third trimester", "pregnancy_t3"), ("lactating", "lactation"),
     ("breastfeeding", "lactation"), ("no", ""), ("", ""), ("24 weeks", "")],
)
def test_pregnancy_cells_are_read_without_guessing_a_trimester(cell, state):
    assert pregnancy_state(cell) == state


def _pregnancy_file(tmp_path):
    p = tmp_path / "preg.csv"
    rows = [
        dict(marker="CTX1", specimen="serum", unit="ng/L", sex="F", population="pregnancy_t2", lower=100, upper=900, source="[More03] lab copy"),
        dict(marker="CTX1", specimen="serum", unit="ng/L", sex="F", population="pregnancy", lower=100, upper=1000, source="[More03] lab copy"),
        dict(marker="CTX1", specimen="serum", unit="ng/L", sex="F", population="lactation", lower=200, upper=1500, source="[Carneiro10] lab copy"),
    ]
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


def test_pregnancy_and_lactation_rows_are_accepted_and_chosen_more03_carneiro10(tmp_path):
    iv = intervals_with(_pregnancy_file(tmp_path))
    kw = dict(marker="CTX1", specimen="serum", unit="ng/L", sex="F", age=30)
    assert select_interval(iv, **kw, pregnancy="2nd trimester").high == 900.0
    assert select_interval(iv, **kw, pregnancy="T3").high == 1000.0  # no T3 row: any-trimester row
    assert select_interval(iv, **kw, pregnancy="yes").high == 1000.0
    r = select_interval(iv, **kw, pregnancy="lactating")
    assert r.high == 1500.0 and r.population.startswith("lactating women")
    assert select_interval(iv, **kw, menopausal_status="pre").high != 900.0  # not pregnant: not a pregnancy row


def test_pregnant_without_a_pregnancy_interval_says_so_more03():
    r = _sel(marker="CTX1", unit="ng/L", sex="F", age=30, pregnancy="yes")
    assert "no pregnancy/lactation interval" in r.why and "[More03]" in r.why


def test_pregnancy_flows_through_interpret(tmp_path):
    data = _tidy([dict(marker="CTX1", value=950.0, unit="ng/L", sex="F", age=30.0, pregnancy="2nd trimester")])
    res = interpret(data, ranges=_pregnancy_file(tmp_path)).results.iloc[0]
    assert res["ref_high"] == 900.0 and res["status"] == "high" and "PREGNANCY" in res["flags"]


def test_a_user_row_for_adult_women_applies_to_a_premenopausal_woman(tmp_path):
    p = tmp_path / "adultF.csv"
    pd.DataFrame([dict(marker="PINP", specimen="serum", unit="µg/L", sex="F", age_min=20, age_max=50, population="adult", lower=16, upper=74, source="our lab 2025")]).to_csv(p, index=False)
    iv = intervals_with(p)
    r = select_interval(iv, marker="PINP", specimen="serum", unit="µg/L", sex="F", age=40, menopausal_status="pre")
    assert (r.low, r.high, r.origin) == (16.0, 74.0, "user") and "all women" in r.why
    # outside its age band the shipped interval is used, and ref_note says why the user's row did not fit
    r = select_interval(iv, marker="PINP", specimen="serum", unit="µg/L", sex="F", age=60, menopausal_status="post")
    assert r.origin == "shipped" and "your interval file's rows for PINP do not fit" in r.why and "20–<50 y" in r.why


def test_user_files_accept_the_new_populations(tmp_path):
    p = tmp_path / "x.csv"
    pd.DataFrame([dict(marker="PINP", specimen="serum", unit="µg/L", sex="F", population=pop, upper=90, source="x")
                  for pop in ("pregnancy", "pregnancy_t1", "lactation")]).to_csv(p, index=False)
    assert len(load_intervals(p)) == 3
