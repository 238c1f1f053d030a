"""Issue #12 item 6: kidney function never drives the balance; the thresholds are labelled conventions.

Sources: CTX, NTX and OC(1–49) correlate with GFR, TRAP-5b and BALP do not [Yamada08]; total PINP is biased high
from CKD 3b [Tridimas21]; the uncoupling index [Eastell19-ACTIVE]; zlog limits ±1.96 [Hoffmann17/zlog].
"""

from __future__ import annotations

import math

import pandas as pd

from btm import interpret as interp_mod
from btm.interpret import BALANCE_THRESHOLD, METHODS, TURNOVER_THRESHOLD, interpret


def _sample(rows, egfr):
    base = dict(subject_id="K1", timepoint="Baseline", specimen="serum", censored="", kind="mass", flags="", group="A",
                sex="F", age=62.0, menopausal_status="post", egfr=egfr, variant="")
    return pd.DataFrame([{**base, **r} for r in rows])


ROWS = [
    dict(marker="PINP", value=40.0, unit="µg/L", variant="intact"),
    dict(marker="CTX1", value=2500.0, unit="ng/L"),  # far above 90–1050 ng/L: what a failing kidney does to CTX
]


def test_renal_ctx_does_not_make_a_sample_resorption_dominant_yamada08():
    it = interpret(_sample(ROWS, egfr=22))
    res = it.results.set_index("marker")
    assert "RENAL" in res.loc["CTX1", "flags"] and res.loc["CTX1", "status"] == "high"  # the result itself is kept
    b = it.balance.iloc[0]
    assert "resorption-dominant" not in b["turnover_state"]
    assert math.isnan(b["balance_index"]) and b["resorption_markers"] == ""
    assert "kidney function" in b["note"] and "CTX1" in b["note"]
    assert not math.isnan(b["ratio_PINP/CTX1"])  # a raw value ratio: kept (its per-subject change is analysed)
    # the same values with normal kidney function: resorption-dominant, as before
    b = interpret(_sample(ROWS, egfr=85)).balance.iloc[0]
    assert b["turnover_state"].endswith("resorption-dominant") and b["balance_index"] <= -BALANCE_THRESHOLD


def test_renal_ntx_is_replaced_by_the_kidney_independent_trap5b_yamada08():
    rows = [*ROWS[:1], dict(marker="NTX", value=60.0, unit="nmol BCE/L", kind="bce"), dict(marker="TRAP5B", value=3.0, unit="U/L", kind="activity")]
    b = interpret(_sample(rows, egfr=20)).balance.iloc[0]
    assert "NTX" not in b["resorption_markers"] and "NTX" in b["note"]


def test_total_pinp_in_ckd_3b_is_left_out_tridimas21():
    rows = [dict(marker="PINP", value=200.0, unit="µg/L", variant="total"), dict(marker="CTX1", value=400.0, unit="ng/L")]
    it = interpret(_sample(rows, egfr=40))
    b = it.balance.iloc[0]
    assert "RENAL_PINP" in it.results.set_index("marker").loc["PINP", "flags"]
    assert b["formation_markers"] == "" and "formation-dominant" not in b["turnover_state"]


def test_thresholds_are_stated_as_conventions_with_their_sources():
    text = " ".join(METHODS.values())
    assert "btm conventions, not published cut-offs" in text and "[Eastell19-ACTIVE]" in text and "Hoffmann" in text
    assert "[Yamada08]" in text and "[Tridimas21]" in text
    assert "Reference interval: sex unknown" in METHODS and "[Geserick20]" in METHODS["Reference interval: children and adolescents"]
    assert (BALANCE_THRESHOLD, TURNOVER_THRESHOLD) == (1.0, 1.96)
    assert "convention" in interp_mod.BALANCE_COLUMN_NOTES["balance_index"]
