"""Issue #12 item 3: the RCV is looked up by measure (marker, specimen, kind, variant), never by marker alone.

Sources: [Eastell00] (urine NTX, second-morning spot urine, keyed per creatinine), [Scariano01] (its bAP
assay is not said to report mass or activity), [Fokkema06] (log-normal RCV).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from btm.biovariation import find_biovariation, load_biovariation
from btm.change import changes, rcv, rcv_limits
from btm.errors import RangesError
from btm.timepoints import order_timepoints


def _pair(marker, unit, a, b, specimen="serum", variant=""):
    base = dict(subject_id="s1", censored="", group="A", variant=variant, flags="", marker=marker, unit=unit, specimen=specimen)
    return pd.DataFrame([{**base, "timepoint": "pre", "value": a}, {**base, "timepoint": "post", "value": b}])


def _order():
    return order_timepoints(pd.DataFrame({"timepoint": ["pre", "post"]}))


def _change(data, biovar=None):
    return changes(data, _order(), rcv_limits(load_biovariation(biovar))).iloc[0]


def test_urine_ntx_per_litre_gets_no_rcv_from_the_per_creatinine_figure_eastell00():
    """Issue case: 434 → 300 nmol BCE/L (not divided by creatinine) was called a significant fall."""
    c = _change(_pair("NTX", "nmol BCE/L", 434.0, 300.0, specimen="urine"))
    assert c["direction"] == "no RCV" and c["significant"] is None
    assert math.isnan(c["rcv_down_pct"]) and "BCE per litre" in c["rcv_source"]
    # the same numbers per creatinine are judged with the [Eastell00] urine figure (LSC 31 % at z 1.645)
    c = _change(_pair("NTX", "nmol BCE/mmol creatinine", 434.0, 300.0, specimen="urine"))
    assert c["rcv_source"].endswith("[Eastell00] Eastell R et al. 2000. Biological variability of serum and urinary N-telopeptides of type I collagen in postmenopausal women. JBMR 15:594.")
    up, down = rcv(0.31 / (1.645 * math.sqrt(2)))
    assert c["rcv_down_pct"] == pytest.approx(down * 100) and c["direction"] == "decrease"


def test_balp_mass_and_activity_never_share_a_figure_scariano01(tmp_path):
    # shipped: the [Scariano01] bAP figure names no kind -> used for neither
    for unit in ("µg/L", "U/L"):
        assert _change(_pair("BALP", unit, 20.0, 30.0))["direction"] == "no RCV"
    # a user figure for the activity assay applies to U/L only
    p = tmp_path / "bv.csv"
    p.write_text("marker,specimen,unit,cvi_pct,cva_pct,source\nBALP,serum,U/L,8,3,[MyLab] activity assay\n", encoding="utf-8")
    assert _change(_pair("BALP", "U/L", 20.0, 30.0), p)["rcv_source"].endswith("user: [MyLab] activity assay")
    assert _change(_pair("BALP", "µg/L", 20.0, 30.0), p)["direction"] == "no RCV"


def test_old_user_files_without_a_unit_still_load_where_the_measure_is_unambiguous(tmp_path):
    p = tmp_path / "old.csv"
    p.write_text("marker,specimen,cvi_pct,cva_pct,lsc_pct,lsc_z,default,source,note\nOCN,serum,9,4,,,yes,our lab,\n", encoding="utf-8")
    b = find_biovariation(load_biovariation(p), "OCN", "serum", "mass")
    assert b is not None and b.cv_total == pytest.approx(math.sqrt(0.09**2 + 0.04**2))


@pytest.mark.parametrize(("marker", "specimen"), [("BALP", "serum"), ("NTX", "urine")])
def test_ambiguous_user_rows_get_a_clear_error(tmp_path, marker, specimen):
    p = tmp_path / "old.csv"
    p.write_text(f"marker,specimen,cvi_pct,cva_pct,source\n{marker},{specimen},9,4,our lab\n", encoding="utf-8")
    with pytest.raises(RangesError, match=r"row 2: .* is measured as .*add a 'unit' column"):
        load_biovariation(p)


def test_a_figure_for_one_assay_variant_applies_to_that_variant_only(tmp_path):
    p = tmp_path / "bv.csv"
    p.write_text("marker,specimen,unit,variant,cvi_pct,cva_pct,source\nPINP,serum,µg/L,intact,5,2,[MyLab] intact PINP\n", encoding="utf-8")
    assert "intact PINP" in _change(_pair("PINP", "µg/L", 40.0, 50.0, variant="intact"), p)["rcv_source"]
    # total PINP keeps the shipped figure, which names no variant [Scariano01]
    assert "[Scariano01]" in _change(_pair("PINP", "µg/L", 40.0, 50.0, variant="total"), p)["rcv_source"]
    bad = tmp_path / "bad.csv"
    bad.write_text("marker,specimen,unit,variant,cvi_pct,cva_pct,source\nPINP,serum,µg/L,hyper,5,2,x\n", encoding="utf-8")
    with pytest.raises(RangesError, match="variant 'hyper' is not an assay variant of PINP"):
        load_biovariation(bad)


def test_a_unit_that_does_not_fit_the_marker_is_refused(tmp_path):
    p = tmp_path / "bv.csv"
    p.write_text("marker,specimen,unit,cvi_pct,cva_pct,source\nCTX1,serum,U/L,5,2,x\n", encoding="utf-8")
    with pytest.raises(RangesError, match="unit 'U/L' does not fit CTX1"):
        load_biovariation(p)
