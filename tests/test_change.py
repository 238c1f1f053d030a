"""Per-subject change: pairing, RCV verdicts, censored values, responders; timepoint order."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from btm.change import RCV, changes, rcv
from btm.errors import AnalysisError
from btm.timepoints import order_timepoints, sequence_dates

LIMITS = {("PINP", "serum", "mass", ""): RCV(*rcv(0.137), "lognormal", "test"), ("CTX1", "serum", "mass", ""): RCV(*rcv(0.202), "lognormal", "test")}


def _results(rows):
    base = dict(specimen="serum", censored="", group="A", variant="", flags="")
    units = {"PINP": "µg/L", "CTX1": "ng/L", "OCN": "µg/L"}
    df = pd.DataFrame([{**base, **r} for r in rows])
    df["unit"] = df["marker"].map(units)
    return df


def _order(*labels, baseline=None):
    return order_timepoints(pd.DataFrame({"timepoint": list(labels)}), baseline=baseline)


def test_rcv_values_for_the_default_markers():
    up, down = rcv(0.137)
    sigma = math.sqrt(math.log(1 + 0.137**2))
    assert up == pytest.approx(math.exp(1.959964 * math.sqrt(2) * sigma) - 1, rel=1e-6)
    assert down == pytest.approx(math.exp(-1.959964 * math.sqrt(2) * sigma) - 1, rel=1e-6)
    # with CVa and CVi separately: σ² = ln(CVa²+1) + ln(CVi²+1)
    up2, _ = rcv(cva=0.05, cvi=0.124)
    s2 = math.sqrt(math.log(1.0025) + math.log(1 + 0.124**2))
    assert up2 == pytest.approx(math.exp(1.959964 * math.sqrt(2) * s2) - 1, rel=1e-6)


def test_changes_verdicts_against_the_rcv():
    up = LIMITS[("PINP", "serum", "mass", "")].up  # about +45 %
    rows = [
        dict(subject_id="a", marker="PINP", timepoint="pre", value=40.0), dict(subject_id="a", marker="PINP", timepoint="post", value=40.0 * (1 + up) * 1.01),
        dict(subject_id="b", marker="PINP", timepoint="pre", value=40.0), dict(subject_id="b", marker="PINP", timepoint="post", value=44.0),
        dict(subject_id="c", marker="PINP", timepoint="pre", value=40.0), dict(subject_id="c", marker="PINP", timepoint="post", value=20.0),
        dict(subject_id="d", marker="OCN", timepoint="pre", value=20.0), dict(subject_id="d", marker="OCN", timepoint="post", value=30.0),
    ]
    ch = changes(_results(rows), _order("pre", "post"), LIMITS).set_index("subject_id")
    assert (ch.loc["a", "direction"], ch.loc["a", "significant"]) == ("increase", True)
    assert (ch.loc["b", "direction"], ch.loc["b", "significant"]) == ("none", False)
    assert ch.loc["b", "change_pct"] == pytest.approx(10.0)
    assert ch.loc["b", "change_abs"] == pytest.approx(4.0)
    assert ch.loc["b", "log_ratio"] == pytest.approx(math.log(1.1))
    assert ch.loc["c", "direction"] == "decrease"  # −50 % < −31 %
    assert ch.loc["c", "responder"] == "decrease beyond RCV" and ch.loc["c", "responder_rule"] == "change beyond RCV"
    assert ch.loc["d", "direction"] == "no RCV"  # no biological variation for OCN: not judged
    assert ch.loc["a", "rcv_up_pct"] == pytest.approx(up * 100)


def test_pairs_are_formed_by_id_and_timepoint_not_row_order():
    rows = [dict(subject_id=s, marker="PINP", timepoint=t, value=v)
            for s, t, v in [("x", "pre", 30.0), ("y", "pre", 50.0), ("x", "post", 60.0), ("y", "post", 55.0), ("z", "post", 99.0)]]
    df = _results(rows)
    a = changes(df, _order("pre", "post"), LIMITS)
    b = changes(df.sample(frac=1, random_state=3), _order("pre", "post"), LIMITS)
    pd.testing.assert_frame_equal(a, b)
    assert a.set_index("subject_id").loc["x", "change_pct"] == pytest.approx(100.0)
    assert "z" not in set(a["subject_id"])  # no baseline: no pair


def test_censored_values_never_give_a_computed_change():
    rows = [
        dict(subject_id="a", marker="CTX1", timepoint="pre", value=100.0, censored="<"), dict(subject_id="a", marker="CTX1", timepoint="post", value=400.0),
        dict(subject_id="b", marker="CTX1", timepoint="pre", value=300.0), dict(subject_id="b", marker="CTX1", timepoint="post", value=250.0, censored="<"),
        dict(subject_id="c", marker="CTX1", timepoint="pre", value=300.0), dict(subject_id="c", marker="CTX1", timepoint="post", value=100.0, censored="<"),
    ]
    ch = changes(_results(rows), _order("pre", "post"), LIMITS).set_index("subject_id")
    for s in "abc":
        assert math.isnan(ch.loc[s, "change_pct"]) and math.isnan(ch.loc[s, "log_ratio"])
    # a: true baseline < 100, follow-up 400: ratio > 4 -> certainly above +RCV
    assert ch.loc["a", "direction"] == "increase"
    # b: follow-up < 250 against 300: anywhere from −100 % to −17 %: undetermined
    assert ch.loc["b", "direction"] == "undetermined"
    # c: follow-up < 100 against 300: at most −67 %, beyond the −RCV for any true value
    assert ch.loc["c", "direction"] == "decrease"
    assert "censored" in ch.loc["b", "note"]


def test_assay_variant_change_is_not_compared():
    rows = [dict(subject_id="a", marker="PINP", timepoint="pre", value=40.0, variant="total"),
            dict(subject_id="a", marker="PINP", timepoint="post", value=60.0, variant="intact")]
    ch = changes(_results(rows), _order("pre", "post"), LIMITS).iloc[0]
    assert ch["direction"] == "undetermined" and "total → intact" in ch["note"]
    assert math.isnan(ch["change_pct"])


def test_duplicates_are_not_paired():
    rows = [dict(subject_id="a", marker="PINP", timepoint="pre", value=40.0), dict(subject_id="a", marker="PINP", timepoint="pre", value=42.0),
            dict(subject_id="a", marker="PINP", timepoint="post", value=60.0)]
    assert changes(_results(rows), _order("pre", "post"), LIMITS).empty


def test_published_responder_rules_apply_on_treatment():
    rows = [dict(subject_id="t", marker="PINP", timepoint="pre", value=40.0, flags="ANABOLIC"), dict(subject_id="t", marker="PINP", timepoint="post", value=52.0, flags="ANABOLIC"),
            dict(subject_id="u", marker="PINP", timepoint="pre", value=40.0, flags="ANABOLIC"), dict(subject_id="u", marker="PINP", timepoint="post", value=48.0, flags="ANABOLIC"),
            dict(subject_id="b", marker="CTX1", timepoint="pre", value=500.0, flags="ANTIRESORPTIVE"), dict(subject_id="b", marker="CTX1", timepoint="post", value=200.0)]
    ch = changes(_results(rows), _order("pre", "post"), LIMITS).set_index("subject_id")
    assert ch.loc["t", "responder"] == "responder"  # +12 µg/L > 10 [Krege14]
    assert ch.loc["u", "responder"] == "non-responder"  # +8 µg/L
    assert "[Krege14]" in ch.loc["t", "responder_rule"]
    assert ch.loc["b", "responder"] == "responder" and "[DiezPerez17]" in ch.loc["b", "responder_rule"]  # −60 % <= −56 %


def test_followups_all_against_baseline():
    rows = [dict(subject_id="a", marker="PINP", timepoint=t, value=v) for t, v in [("Week 0", 40.0), ("Week 6", 44.0), ("Week 12", 50.0)]]
    ch = changes(_results(rows), _order("Week 12", "Week 0", "Week 6"), LIMITS)
    assert ch[["timepoint_from", "timepoint_to"]].values.tolist() == [["Week 0", "Week 6"], ["Week 0", "Week 12"]]


# ---- timepoint order ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["Week 12", "Baseline", "Week 6"], ["Baseline", "Week 6", "Week 12"]),
        (["post", "pre"], ["pre", "post"]),
        (["V2", "V10", "V1"], ["V1", "V2", "V10"]),
        (["6 months", "W12", "week 0"], ["week 0", "W12", "6 months"]),
        (["post", "mid", "pre", "follow-up"], ["pre", "mid", "post", "follow-up"]),
        (["post", "W6", "screening"], ["screening", "W6", "post"]),
        (["12", "0", "6"], ["0", "6", "12"]),
    ],
)
def test_timepoint_order_from_labels(labels, expected):
    assert list(order_timepoints(pd.DataFrame({"timepoint": labels})).order) == expected


def test_timepoint_order_from_dates_and_explicit_and_baseline():
    df = pd.DataFrame({"timepoint": ["late", "early", "late", "early"], "sample_date": pd.to_datetime(["2026-05-01", "2026-01-01", "2026-05-03", "2026-01-02"])})
    o = order_timepoints(df)
    assert o.order == ("early", "late") and "sample date" in o.basis
    o = order_timepoints(df, explicit=["late", "early"])
    assert o.order == ("late", "early") and o.baseline == "late"
    o = order_timepoints(df, baseline="late")
    assert o.baseline == "late" and o.followups == ("early",)
    with pytest.raises(AnalysisError, match="baseline 'nope' is not a timepoint"):
        order_timepoints(df, baseline="nope")


def test_dates_as_timepoints_become_a_sequence_per_subject():
    df = pd.DataFrame({"subject_id": ["a", "a", "b", "b"], "timepoint": ["2026-03-01", "2026-01-05", "2026-02-01", "2026-06-01"]})
    out, note = sequence_dates(df)
    assert out["timepoint"].tolist() == ["sample 2", "sample 1", "sample 1", "sample 2"]
    assert "date order" in note


def test_rcv_rejects_unknown_method():
    with pytest.raises(ValueError):
        rcv(0.1, method="magic")
    assert np.isfinite(rcv(0.1)[0])
