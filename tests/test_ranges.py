"""Reference intervals: shipped data, sources, validation of user files, selection per subject."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from btm.errors import RangesError
from btm.ranges import (
    INTERVAL_COLUMNS,
    Undetermined,
    intervals_with,
    load_biovariation,
    load_intervals,
    select_interval,
    shipped_intervals,
)

ROOT = Path(__file__).resolve().parents[1]
FACTS = Path("/work/shared/domain/BTM_FACTS.md")


def test_shipped_files_have_the_documented_columns():
    raw = pd.read_csv(ROOT / "reference_ranges" / "intervals.csv", dtype=str, keep_default_na=False)
    assert list(raw.columns) == INTERVAL_COLUMNS
    bv = pd.read_csv(ROOT / "reference_ranges" / "biological_variation.csv", dtype=str, keep_default_na=False)
    assert list(bv.columns) == ["marker", "specimen", "unit", "variant", "cvi_pct", "cva_pct", "lsc_pct", "lsc_z", "default", "source", "note"]


def test_every_shipped_row_has_a_source_that_is_cited():
    readme = (ROOT / "reference_ranges" / "README.md").read_text(encoding="utf-8")
    facts = FACTS.read_text(encoding="utf-8") if FACTS.exists() else ""
    for name in ("intervals.csv", "biological_variation.csv"):
        raw = pd.read_csv(ROOT / "reference_ranges" / name, dtype=str, keep_default_na=False)
        assert (raw["source"].str.strip() != "").all(), name
        for src in raw["source"]:
            key = re.match(r"^\[([^\]]+)\]", src)
            assert key, f"{name}: source without a [key]: {src[:60]}"
            k = key.group(1)
            assert f"[{k}]" in readme or f"[{k}]" in facts or k.split()[0] in facts, f"{name}: source key [{k}] cited nowhere"


def test_shipped_intervals_load_and_cover_the_required_populations():
    iv = shipped_intervals()
    have = {(m, p) for m, p in zip(iv["marker"], iv["population"], strict=True)}
    for m in ("PINP", "CTX1"):
        for p in ("premenopausal", "postmenopausal", "adult", "child"):
            assert (m, p) in have, (m, p)
    for m in ("BALP", "OCN", "NTX"):
        assert (m, "adult") in have or (m, "premenopausal") in have
    assert set(iv.loc[iv["marker"] == "NTX", "specimen"]) == {"serum", "urine"}
    assert {"PYD", "DPD"} <= set(iv["marker"])
    assert (iv["upper_c"] > 0).all()
    assert ((iv["lower_c"] < iv["upper_c"]) | iv["lower_c"].isna()).all()


def test_limits_are_converted_to_canonical_units():
    iv = shipped_intervals()
    row = iv[(iv["marker"] == "CTX1") & (iv["unit"] == "ng/mL") & (iv["population"] == "premenopausal") & (iv["source"].str.startswith("[Michelsen13]"))].iloc[0]
    # Michelsen13 premenopausal CTX 0.05–0.67 ng/mL = 50–670 ng/L
    assert row["unit_c"] == "ng/L"
    assert (row["lower_c"], row["upper_c"]) == pytest.approx((50.0, 670.0))


# ---- selection for each population (limits as published; see reference_ranges/intervals.csv) -------------


@pytest.mark.parametrize(
    ("subject", "low", "high", "population", "source"),
    [
        (dict(marker="PINP", unit="µg/L", sex="F", age=40, menopausal_status="pre"), 19.3, 76.3, "premenopausal women 30–<55 y", "[Michelsen13]"),
        (dict(marker="PINP", unit="µg/L", sex="F", age=60, menopausal_status="post"), 18.2, 102.3, "postmenopausal women 50–<80 y", "[Michelsen13]"),
        (dict(marker="PINP", unit="µg/L", sex="M", age=27), 31.1, 95.9, "men 25–<30 y", "[Michelsen13]"),
        (dict(marker="PINP", unit="µg/L", sex="M", age=60), 15.0, 80.0, "men 25–<70 y", "[Alfred]"),
        (dict(marker="PINP", unit="µg/L", sex="M", age=77), 15.7, 68.1, "men 75–<80 y", "[Michelsen13]"),
        (dict(marker="PINP", unit="µg/L", sex="M", age=85), 15.0, 115.0, "men ≥70 y", "[Alfred]"),
        (dict(marker="PINP", unit="µg/L", sex="M", age=10), 327.0, 1000.0, "boys 10–<11 y", "[Geserick20]"),
        (dict(marker="PINP", unit="µg/L", sex="F", age=14), 120.0, 821.0, "girls 14–<15 y", "[Geserick20]"),
        (dict(marker="PINP", unit="µg/L", sex="M", age=13), 340.0, 1400.0, "boys 12–<15 y", "[Alfred]"),
        (dict(marker="CTX1", unit="ng/L", sex="F", age=40, menopausal_status="pre"), 50.0, 670.0, "premenopausal women 30–<55 y", "[Michelsen13]"),
        (dict(marker="CTX1", unit="ng/L", sex="F", age=65, menopausal_status="post"), 90.0, 1050.0, "postmenopausal women 50–<80 y", "[Michelsen13]"),
        (dict(marker="CTX1", unit="ng/L", sex="M", age=60), 100.0, 600.0, "men 50–<70 y", "[Austin]"),
        (dict(marker="CTX1", unit="ng/L", sex="F", age=8), 700.0, 1900.0, "girls 5–<9 y", "[PathWest]"),
        (dict(marker="BALP", unit="µg/L", sex="F", age=40, menopausal_status="pre"), 6.0, 22.7, "premenopausal women 30–<55 y", "[Michelsen13]"),
        (dict(marker="OCN", unit="µg/L", sex="F", age=60, menopausal_status="post"), 8.0, 40.9, "postmenopausal women 50–<80 y", "[Hannemann13]"),
        (dict(marker="OCN", unit="µg/L", sex="M", age=27), 11.2, 36.7, "men 25–<30 y", "[Hannemann13]"),
        (dict(marker="NTX", unit="nmol BCE/mmol creatinine", specimen="urine", sex="M", age=50), 21.0, 83.0, "men ≥18 y", "[Mayo NTX]"),
        (dict(marker="NTX", unit="nmol BCE/L", sex="F", age=40, menopausal_status="pre"), 6.2, 19.0, "premenopausal women all ages", "[ARUP]"),
        (dict(marker="DPD", unit="nmol/mmol creatinine", specimen="urine", sex="M", age=40), 5.0, 11.0, "adults ≥20 y", "[ARUP]"),
        (dict(marker="NTX", unit="nmol BCE/mmol creatinine", specimen="urine", sex="M", age=13, tanner_stage="II"), 21.0, 423.0, "tanner stage 2 all ages", "[Mayo NTX]"),
    ],
    ids=lambda x: str(x) if not isinstance(x, dict) else f"{x['marker']}-{x.get('sex')}{x.get('age')}{x.get('menopausal_status', '')}{x.get('tanner_stage', '')}",
)
def test_interval_selection_by_population(subject, low, high, population, source):
    subject.setdefault("specimen", "serum")
    r = select_interval(shipped_intervals(), **subject)
    assert not isinstance(r, str), r
    assert (r.low, r.high) == pytest.approx((low, high))
    assert r.population == population
    assert r.source.startswith(source)
    assert r.why == ""


def test_missing_subject_data_still_chooses_and_says_why():
    iv = shipped_intervals()
    r = select_interval(iv, marker="PINP", specimen="serum", unit="µg/L", sex="", age=40)
    assert isinstance(r, Undetermined) and r.startswith("sex unknown")  # never the premenopausal target range
    r = select_interval(iv, marker="PINP", specimen="serum", unit="µg/L", sex="F", age=60)
    assert "postmenopausal assumed from age 60" in r.why
    r = select_interval(iv, marker="PINP", specimen="serum", unit="µg/L", sex="F", age=45)
    assert "premenopausal assumed from age 45" in r.why
    r = select_interval(iv, marker="PINP", specimen="serum", unit="µg/L", sex="F", age=math.nan)
    assert "age unknown" in r.why and "menopausal status and age unknown" in r.why


def test_no_interval_is_said_not_invented():
    assert select_interval(shipped_intervals(), marker="TRAP5B", specimen="serum", unit="U/L", sex="F", age=40) == "no reference interval for TRAP5B (serum, U/L)"


def test_assay_in_the_data_picks_the_matching_platform():
    r = select_interval(shipped_intervals(), marker="PINP", specimen="serum", unit="µg/L", sex="F", age=40, menopausal_status="pre", assay="Roche")
    assert (r.low, r.high) == (22.7, 63.1)
    assert r.assay == "Roche total PINP"


# ---- user files ---------------------------------------------------------------------------------------------


def _write(tmp_path, rows, name="lab.csv"):
    p = tmp_path / name
    df = pd.DataFrame(rows)
    df.to_csv(p, index=False)
    return p


_GOOD = dict(marker="PINP", specimen="serum", unit="ng/mL", sex="F", age_min=25, age_max=50, population="premenopausal", lower=12, upper=60, source="our lab 2025")


def test_user_intervals_take_precedence(tmp_path):
    p = _write(tmp_path, [_GOOD])
    r = select_interval(intervals_with(p), marker="PINP", specimen="serum", unit="µg/L", sex="F", age=40, menopausal_status="pre")
    assert (r.low, r.high, r.source, r.origin) == (12.0, 60.0, "our lab 2025", "user")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(upper=10), "upper 10 is not above lower 12"),
        (dict(marker="VITD"), "unknown marker 'VITD'"),
        (dict(unit="U/L"), "unit not convertible"),
        (dict(unit="furlongs"), "cannot read unit 'furlongs'"),
        (dict(sex="X"), "sex 'X' must be M, F or any"),
        (dict(population="teenagers"), "population 'teenagers' must be one of"),
        (dict(age_max=20), "age_max 20 is not above age_min 25"),
        (dict(upper="abc"), "upper 'abc' is not a number"),
        (dict(specimen="urine"), "PINP is not measured in 'urine'"),
    ],
    ids=["upper<lower", "unknown-marker", "unit-kind", "bad-unit", "sex", "population", "ages", "not-number", "specimen"],
)
def test_invalid_user_files_get_clear_errors(tmp_path, change, message):
    p = _write(tmp_path, [{**_GOOD, **change}])
    with pytest.raises(RangesError) as exc:
        load_intervals(p)
    assert message in str(exc.value)
    assert str(p) in str(exc.value) and "row 2" in str(exc.value)


def test_overlapping_age_bands_are_refused(tmp_path):
    p = _write(tmp_path, [_GOOD, {**_GOOD, "age_min": 45, "age_max": 60, "lower": 10, "upper": 70}])
    with pytest.raises(RangesError, match=r"rows 2 and 3: overlapping age bands for PINP serum sex F premenopausal \(25–<50 y and 45–<60 y\)"):
        load_intervals(p)


def test_missing_columns_are_named(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("marker,lower,upper\nPINP,1,2\n", encoding="utf-8")
    with pytest.raises(RangesError, match="missing column"):
        load_intervals(p)


def test_ranges_check_cli(tmp_path, capsys):
    from btm.cli import main

    good = _write(tmp_path, [_GOOD])
    assert main(["ranges", "--check", str(good)]) == 0
    assert "ok, 1 interval(s) for PINP" in capsys.readouterr().out
    bad = _write(tmp_path, [{**_GOOD, "upper": 1}], "bad.csv")
    assert main(["ranges", "--check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_ranges_listing_cli(capsys):
    from btm.cli import main

    assert main(["ranges", "--marker", "CTX1"]) == 0
    out = capsys.readouterr().out
    assert "[Michelsen13]" in out and "50–670 ng/L" in out
    assert "PINP" not in out.split("\n", 2)[2]


# ---- biological variation -----------------------------------------------------------------------------------


def test_biological_variation_defaults_and_derivation():
    bv = load_biovariation()
    # PINP: LSC 38 % [Scariano01], z not stated -> 1.96 assumed: CVt = 38 / (1.96·√2) = 13.71 %
    assert bv[("PINP", "serum", "mass", "")].cv_total == pytest.approx(0.38 / (1.96 * math.sqrt(2)))
    assert "1.96 assumed" in bv[("PINP", "serum", "mass", "")].basis
    # urine NTX: LSC 31 % at 90 % (z 1.645) [Eastell00]
    assert bv[("NTX", "urine", "bce_per_creatinine", "")].cv_total == pytest.approx(0.31 / (1.645 * math.sqrt(2)))
    assert bv[("CTX1", "serum", "mass", "")].source.startswith("[DiezPerez17]")
    assert ("OCN", "serum", "mass", "") not in bv  # not published in our facts: no number invented


def test_user_biological_variation_overrides(tmp_path):
    p = tmp_path / "bv.csv"
    p.write_text("marker,specimen,cvi_pct,cva_pct,lsc_pct,lsc_z,default,source,note\nOCN,serum,9,4,,,yes,our lab,\n", encoding="utf-8")
    bv = load_biovariation(p)
    assert bv[("OCN", "serum", "mass", "")].cv_total == pytest.approx(math.sqrt(0.09**2 + 0.04**2))
    assert bv[("OCN", "serum", "mass", "")].source == "user: our lab"
    assert bv[("PINP", "serum", "mass", "")].source.startswith("[Scariano01]")
