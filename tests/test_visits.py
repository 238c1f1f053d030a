"""Visit tokens in headers and their order (btm/io/visits.py, btm/timepoints.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from btm.io.visits import split_visit, visit_label
from btm.timepoints import order_timepoints

# (token as written, canonical label)
TOKENS = [
    ("pre", "pre"), ("Pre", "pre"), ("PRE", "pre"), ("post", "post"), ("Post-training", "post"), ("pretest", "pre"),
    ("baseline", "baseline"), ("Baseline", "baseline"), ("BL", "baseline"), ("Basis", "baseline"), ("basal", "baseline"),
    ("Baseline (week 0)", "baseline"),
    ("T0", "T0"), ("T1", "T1"), ("t2", "T2"), ("TP3", "T3"),
    ("V1", "visit 1"), ("v2", "visit 2"), ("visit 2", "visit 2"), ("Visit 10", "visit 10"), ("Visite 3", "visit 3"),
    ("V00", "visit 0"), ("visita 4", "visit 4"),
    ("W0", "week 0"), ("W12", "week 12"), ("week 12", "week 12"), ("wk12", "week 12"), ("Wk 6", "week 6"),
    ("12 weeks", "week 12"), ("12wk", "week 12"), ("Woche 12", "week 12"), ("semaine 8", "week 8"), ("12w", "week 12"),
    ("After 16 weeks", "week 16"), ("nach 12 Wochen", "week 12"), ("at week 24", "week 24"),
    ("M6", "month 6"), ("month 6", "month 6"), ("6 months", "month 6"), ("6mo", "month 6"), ("Monat 3", "month 3"),
    ("mes 6", "month 6"), ("3个月", "month 3"),
    ("D0", "day 0"), ("day 0", "day 0"), ("Day 3", "day 3"), ("Tag 3", "day 3"), ("J7", "day 7"), ("dia 2", "day 2"),
    ("screening", "screening"), ("Screening", "screening"), ("SCR", "screening"),
    ("follow-up", "follow-up"), ("Follow up", "follow-up"), ("FU", "follow-up"), ("FU2", "follow-up 2"),
    ("follow-up 2", "follow-up 2"), ("end", "end"), ("End of study", "end"), ("EOS", "end"), ("final", "end"),
    ("mid", "mid"), ("midpoint", "mid"), ("interim", "mid"),
    ("vor", "pre"), ("nach", "post"), ("vorher", "pre"), ("nachher", "post"),
    ("avant", "pre"), ("après", "post"), ("apres", "post"), ("antes", "pre"), ("después", "post"), ("despues", "post"),
    ("prima", "pre"), ("dopo", "post"), ("voor", "pre"), ("na", "post"), ("przed", "pre"), ("po", "post"),
    ("до", "pre"), ("после", "post"), ("前", "pre"), ("后", "post"), ("後", "post"), ("训练前", "pre"), ("運動後", "post"),
    ("Year 1", "year 1"), ("2h", "hour 2"),
]


@pytest.mark.parametrize(("token", "label"), TOKENS, ids=[t for t, _ in TOKENS])
def test_visit_tokens(token, label):
    assert visit_label(token) == label


NOT_VISITS = ["PINP", "CTX", "1", "12", "m", "v", "t", "total", "intact", "serum", "urine", "ng/mL", "mean", "", "N-MID",
              "post 2", "ID", "Group", "Age", "Sex", "Type 1", "I", "II", "a"]


@pytest.mark.parametrize("token", NOT_VISITS)
def test_not_visit_tokens(token):
    assert visit_label(token) is None


# (header, rest, label)
SPLITS = [
    ("P1NP_pre (ng/mL)", "P1NP (ng/mL)", "pre"),
    ("P1NP_post (ng/mL)", "P1NP (ng/mL)", "post"),
    ("CTX pre (ng/mL)", "CTX (ng/mL)", "pre"),
    ("CTX-post", "CTX", "post"),
    ("PINP_T0", "PINP", "T0"),
    ("PINP.T1", "PINP", "T1"),
    ("BALP visit 2", "BALP", "visit 2"),
    ("wk12 BALP", "BALP", "week 12"),
    ("W12_CTX", "CTX", "week 12"),
    ("M6 osteocalcin", "osteocalcin", "month 6"),
    ("OC day 0", "OC", "day 0"),
    ("PINP [V1]", "PINP", "visit 1"),
    ("PINP (baseline)", "PINP", "baseline"),
    ("Baseline PINP (µg/L)", "PINP (µg/L)", "baseline"),
    ("P1NPpre", "P1NP", "pre"),
    ("CTXpost", "CTX", "post"),
    ("preCTX", "CTX", "pre"),
    ("V00Serum_CTXI_NUM", "Serum_CTXI_NUM", "visit 0"),
    ("CTX vor", "CTX", "pre"),
    ("CTX nach", "CTX", "post"),
    ("PINP avant", "PINP", "pre"),
    ("PINP après", "PINP", "post"),
    ("Osteocalcin N-MID pre", "Osteocalcin N-MID", "pre"),
    ("β-CTX follow-up", "β-CTX", "follow-up"),
    ("PINP 12 weeks", "PINP", "week 12"),
]


@pytest.mark.parametrize(("header", "rest", "label"), SPLITS, ids=[h for h, _, _ in SPLITS])
def test_split_visit(header, rest, label):
    s = split_visit(header)
    assert s is not None
    assert (s.rest, s.label) == (rest, label)


@pytest.mark.parametrize("header", ["CTX1", "CTX-I", "TRAP5b", "OC N-MID", "PINP type 1", "P1NP", "PINP (ng/mL)", "Age", "PINP 1"])
def test_no_split(header):
    assert split_visit(header) is None


@pytest.mark.parametrize(
    ("labels", "order", "baseline"),
    [
        (["post", "pre"], ("pre", "post"), "pre"),
        (["screening", "baseline", "week 12"], ("screening", "baseline", "week 12"), "baseline"),
        (["T2", "T0", "T1"], ("T0", "T1", "T2"), "T0"),
        (["visit 3", "visit 1", "visit 2"], ("visit 1", "visit 2", "visit 3"), "visit 1"),
        (["month 12", "month 0", "month 6"], ("month 0", "month 6", "month 12"), "month 0"),
        (["follow-up", "post", "baseline", "mid"], ("baseline", "mid", "post", "follow-up"), "baseline"),
        (["nach", "vor"], ("vor", "nach"), "vor"),
        (["après", "avant"], ("avant", "après"), "avant"),
        (["week 12", "baseline", "week 6"], ("baseline", "week 6", "week 12"), "baseline"),
        (["24", "0", "12", "3", "6"], ("0", "3", "6", "12", "24"), "0"),
        (["end", "visit 2", "visit 1"], ("visit 1", "visit 2", "end"), "visit 1"),
    ],
)
def test_order_of_canonical_labels(labels, order, baseline):
    o = order_timepoints(pd.DataFrame({"timepoint": labels}))
    assert o.order == order
    assert o.baseline == baseline
