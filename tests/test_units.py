"""The units layer: parsing lab unit text, canonical conversion, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import btm
from btm.errors import UnitConversionError, UnitParseError
from btm.markers import catalog
from btm.units import conversion_factor, convert, parse_unit, registry, resolve_unit, to_canonical

# (text, kind) of unit spellings seen in real exports
SPELLINGS = [
    ("ng/mL", "mass"), ("ng/ml", "mass"), ("NG/ML", "mass"), ("µg/L", "mass"), ("μg/L", "mass"), ("ug/L", "mass"),
    ("mcg/L", "mass"), ("pg/mL", "mass"), ("ng/L", "mass"), ("µg/l", "mass"), ("(ng/mL)", "mass"), ("[pg/mL]", "mass"),
    ("ng / mL", "mass"), ("ng per mL", "mass"),
    ("nmol/L", "molar"), ("pmol/L", "molar"), ("nM", "molar"),
    ("nM BCE", "bce"), ("nmol BCE/L", "bce"), ("nmolBCE/L", "bce"),
    ("nmol BCE/mmol Cr", "bce_per_creatinine"), ("nM BCE/mM creatinine", "bce_per_creatinine"),
    ("nmol BCE/mmol creatinine", "bce_per_creatinine"), ("nM BCE/mM Cr", "bce_per_creatinine"),
    ("U/L", "activity"), ("IU/L", "activity"), ("U/l", "activity"), ("µkat/L", "activity"), ("ukat/L", "activity"),
    ("mU/mL", "activity"),
    ("µg/g Cr", "mass_per_creatinine"), ("ug/g creatinine", "mass_per_creatinine"), ("µg/mmol creatinine", "mass_per_creatinine"),
    ("nmol/mmol Cr", "per_creatinine"), ("µmol/mol creatinine", "per_creatinine"), ("nmol/mmol creatinine", "per_creatinine"),
]


@pytest.mark.parametrize(("text", "kind"), SPELLINGS, ids=[s for s, _ in SPELLINGS])
def test_unit_spellings_parse(text, kind):
    assert parse_unit(text).kind == kind


@pytest.mark.parametrize("text", ["", "%", "g", "foo", "1/L", "ng/mm", "mg/dL/min", "ng BCE/L", "mmol creatinine/L", "bce"])
def test_bad_units_are_refused_with_the_text(text):
    with pytest.raises(UnitParseError) as exc:
        parse_unit(text)
    assert repr(text) in str(exc.value)


def test_every_catalog_unit_resolves_to_its_own_measure():
    for m in catalog().values():
        for meas in m.measures:
            for u in (meas.unit, *meas.units):
                t = resolve_unit(u, marker=m.id, specimen=meas.specimen)
                assert t.unit == meas.unit or parse_unit(t.unit).kind != parse_unit(meas.unit).kind, (m.id, u)
                assert t.factor > 0


@pytest.mark.parametrize(
    ("marker", "value", "unit", "expected", "canonical"),
    [
        ("CTX1", 0.45, "ng/mL", 450.0, "ng/L"),
        ("CTX1", 450, "pg/mL", 450.0, "ng/L"),
        ("CTX1", 0.5, "µg/L", 500.0, "ng/L"),
        ("PINP", 50, "ng/mL", 50.0, "µg/L"),
        ("PINP", 0.05, "mg/L", 50.0, "µg/L"),
        # PINP and osteocalcin nmol/L convert only for the intact variant: tests/test_science_units.py
        # 20 µg/g Cr x 113.12/428.4 = 5.281 nmol/mmol (BTM_FACTS §1: factor 0.264)
        ("PYD", 20, "µg/g Cr", 20 * 113.12 / 428.4, "nmol/mmol creatinine"),
        ("DPD", 40, "µg/g creatinine", 40 * 113.12 / 412.4, "nmol/mmol creatinine"),
        ("NTX", 45, "nmol BCE/mmol Cr", 45, "nmol BCE/mmol creatinine"),
        ("NTX", 12, "nM BCE", 12, "nmol BCE/L"),
        ("ALP", 1.0, "µkat/L", 60.0, "U/L"),  # 1 µkat = 60 µmol/min = 60 U
        ("ALP", 70, "IU/L", 70, "U/L"),
        ("BALP", 20, "U/L", 20, "U/L"),  # activity stays activity
        ("BALP", 15, "ng/mL", 15, "µg/L"),
        ("TRAP5B", 3.5, "U/L", 3.5, "U/L"),
    ],
)
def test_to_canonical_known_values(marker, value, unit, expected, canonical):
    r = to_canonical([value], [unit], marker=marker)
    assert r.error[0] == ""
    assert r.unit[0] == canonical
    assert r.value[0] == pytest.approx(expected, rel=1e-4)


def test_mixed_units_array_readme_example():
    # the README's Python example
    r = btm.to_canonical([0.45, 450.0, 0.5], ["ng/mL", "pg/mL", "µg/L"], marker="CTX1")
    assert r.value.tolist() == [450.0, 450.0, 500.0]
    assert r.unit.tolist() == ["ng/L"] * 3


def test_factors_have_no_float_noise():
    assert conversion_factor("ng/mL", "µg/L", marker="PINP") == 1.0
    assert conversion_factor("ng/mL", "ng/L", marker="CTX1") == 1000.0
    assert to_canonical([50.0], "ng/mL", marker="PINP").value[0] == 50.0


@pytest.mark.parametrize(
    ("marker", "src", "dst", "words"),
    [
        ("BALP", "U/L", "µg/L", "different measurements"),
        ("BALP", "µg/L", "U/L", "different measurements"),
        ("NTX", "nmol BCE/L", "nmol/L", "bone collagen equivalents"),
        ("NTX", "nmol BCE/L", "ng/mL", "bone collagen equivalents"),
        ("NTX", "nmol BCE/mmol Cr", "nmol BCE/L", "creatinine-normalised"),
        ("NTX", "nmol BCE/mmol Cr", "%", "cannot read unit"),
        ("DPD", "nmol/mmol Cr", "nmol/L", "creatinine-normalised"),
        ("CTX1", "ng/mL", "nmol/L", "no molecular weight"),
        ("TRAP5B", "U/L", "ng/mL", "different measurements"),
    ],
)
def test_refused_conversions_name_marker_and_both_units(marker, src, dst, words):
    with pytest.raises((UnitConversionError, UnitParseError)) as exc:
        convert([1.0], src, dst, marker=marker)
    msg = str(exc.value)
    assert words in msg
    if isinstance(exc.value, UnitConversionError):
        assert msg.startswith(f"{marker}: cannot convert {src!r} to {dst!r}")


def test_total_and_intact_pinp_are_never_converted():
    with pytest.raises(UnitConversionError, match="total and intact PINP assays measure different things"):
        convert([50.0], "µg/L", "µg/L", marker="PINP", from_variant="total", to_variant="intact")
    # the same variant converts
    assert convert([50.0], "ng/mL", "µg/L", marker="PINP", from_variant="total", to_variant="total")[0] == 50.0


def test_creatinine_ratio_never_becomes_dimensionless():
    ureg = registry()
    q = ureg.Quantity(1.0, parse_unit("nmol BCE/mmol creatinine").expression)
    assert not q.dimensionless
    q2 = ureg.Quantity(1.0, parse_unit("nmol/mmol creatinine").expression)
    assert not q2.dimensionless
    import pint

    with pytest.raises(pint.DimensionalityError):
        q2.to("percent")


def test_to_canonical_reports_errors_per_row_without_raising():
    r = to_canonical([20.0, 15.0, 3.0, 4.0], ["nM BCE", "nmol BCE/mmol Cr", "nmol/L", None], marker="NTX")
    assert r.ok.tolist() == [True, True, False, False]
    assert "bone collagen equivalents" in r.error[2]
    assert r.error[3] == "no unit given"
    assert math.isnan(r.value[2])
    assert r.specimen.tolist()[:2] == ["serum", "urine"]


def test_specimen_contradiction_is_refused():
    r = to_canonical([45.0], ["nmol BCE/mmol Cr"], marker="NTX", specimen="serum")
    assert "creatinine-normalised" in r.error[0]


def test_registry_is_built_once():
    assert registry() is registry()


# ---- property tests ---------------------------------------------------------------------------

_MASS = ["ng/mL", "µg/L", "pg/mL", "ng/L", "mg/L", "mcg/L", "ug/L"]


@given(
    values=st.lists(st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False), min_size=1, max_size=50),
    src=st.sampled_from(_MASS),
    dst=st.sampled_from(_MASS),
    marker=st.sampled_from(["PINP", "CTX1", "OCN", "BALP"]),
)
@settings(max_examples=200, deadline=None)
def test_conversion_round_trips(values, src, dst, marker):
    there = convert(values, src, dst, marker=marker)
    back = convert(there, dst, src, marker=marker)
    np.testing.assert_allclose(back, values, rtol=1e-12)


@given(
    v=st.floats(min_value=1e-3, max_value=1e6, allow_nan=False),
    src=st.sampled_from(["µg/g Cr", "nmol/mmol Cr", "µmol/mol creatinine", "ug/g creatinine"]),
)
@settings(max_examples=100, deadline=None)
def test_molar_mass_round_trip_through_molecular_weight(v, src):
    there = convert([v], src, "nmol/mmol creatinine", marker="PYD")
    back = convert(there, "nmol/mmol creatinine", src, marker="PYD")
    assert back[0] == pytest.approx(v, rel=1e-10)


@given(
    src=st.sampled_from(["U/L", "IU/L", "µkat/L"]),
    dst=st.sampled_from(["µg/L", "ng/mL", "nmol/L"]),
    marker=st.sampled_from(["BALP", "TRAP5B", "ALP"]),
)
def test_activity_to_mass_stays_refused(src, dst, marker):
    with pytest.raises(UnitConversionError):
        convert([1.0], src, dst, marker=marker)


@given(
    src=st.sampled_from(["nmol BCE/L", "nM BCE", "nmol BCE/mmol Cr"]),
    dst=st.sampled_from(["nmol/L", "ng/mL", "µg/L", "nmol/mmol Cr", "µg/g Cr"]),
)
def test_bce_stays_refused(src, dst):
    with pytest.raises(UnitConversionError):
        convert([1.0], src, dst, marker="NTX")


@given(st.text(max_size=30))
@settings(max_examples=500, deadline=None)
def test_unit_parser_never_crashes(text):
    try:
        p = parse_unit(text)
    except UnitParseError:
        return
    assert p.kind in {"mass", "molar", "activity", "bce", "bce_per_creatinine", "per_creatinine", "mass_per_creatinine"}
