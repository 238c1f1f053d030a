"""The marker catalog and header matching."""

from __future__ import annotations

import pytest

from btm.errors import UnknownMarkerError
from btm.markers import _synonym_index, catalog, get_marker, match_marker, normalize_name

REQUIRED_IDS = ["PINP", "CTX1", "BALP", "OCN", "NTX", "TRAP5B", "PYD", "DPD", "ALP"]


def test_catalog_has_every_marker_with_class_and_canonical_units():
    cat = catalog()
    assert list(cat) == REQUIRED_IDS
    expected = {
        ("PINP", "serum"): "µg/L",
        ("CTX1", "serum"): "ng/L",
        ("BALP", "serum"): "µg/L",
        ("OCN", "serum"): "µg/L",
        ("NTX", "serum"): "nmol BCE/L",
        ("NTX", "urine"): "nmol BCE/mmol creatinine",
        ("TRAP5B", "serum"): "U/L",
        ("PYD", "urine"): "nmol/mmol creatinine",
        ("DPD", "urine"): "nmol/mmol creatinine",
        ("ALP", "serum"): "U/L",
    }
    for (mid, spec), unit in expected.items():
        assert cat[mid].canonical_unit(spec) == unit
    assert {m.marker_class for m in cat.values()} == {"formation", "resorption"}
    assert [k for k, m in cat.items() if m.marker_class == "formation"] == ["PINP", "BALP", "OCN", "ALP"]
    for m in cat.values():
        assert m.sources, m.id
        assert m.name and m.synonyms


def test_balp_activity_is_a_separate_measure():
    kinds = {(m.kind, m.unit) for m in catalog()["BALP"].measures}
    assert kinds == {("mass", "µg/L"), ("activity", "U/L")}


def test_molecular_weights_only_where_molar_units_make_sense():
    cat = catalog()
    assert cat["PINP"].molecular_weight == 35000
    assert cat["PYD"].molecular_weight == pytest.approx(428.4)
    assert cat["DPD"].molecular_weight == pytest.approx(412.4)
    assert cat["CTX1"].molecular_weight is None
    assert cat["NTX"].molecular_weight is None


def test_loinc_codes_from_btm_facts():
    cat = catalog()
    assert cat["PINP"].loinc["serum"] == "77370-5"
    assert cat["CTX1"].loinc["serum"] == "41171-0"
    assert cat["OCN"].loinc["serum"] == "2697-1"
    assert cat["NTX"].loinc == {"serum": "21215-9"}  # urine has two measures: codes per measure (test_science_loinc.py)


def test_no_synonym_names_two_markers():
    for key, entries in _synonym_index().items():
        assert len({e[0] for e in entries}) == 1, (key, entries)


def test_every_synonym_resolves_to_its_marker():
    for m in catalog().values():
        for syn in m.synonyms + m.serum_synonyms + m.urine_synonyms + (m.id,):
            hit = match_marker(syn)
            assert hit is not None and hit.marker == m.id, (m.id, syn, hit)


@pytest.mark.parametrize(
    ("header", "marker", "specimen", "variant"),
    [
        ("P1NP total", "PINP", None, "total"),
        ("total P1NP", "PINP", None, "total"),
        ("intact PINP", "PINP", None, "intact"),
        ("β-CrossLaps", "CTX1", None, ""),
        ("beta-CrossLaps", "CTX1", None, ""),
        ("Bone ALP (Ostase)", "BALP", None, ""),
        ("OC N-MID", "OCN", None, "N-MID"),
        ("N-MID Osteocalcin", "OCN", None, "N-MID"),
        ("uNTx/Cr", "NTX", "urine", ""),
        ("sNTX", "NTX", "serum", ""),
        ("C-Telopeptide,Serum", "CTX1", "serum", ""),
        ("PROCOLLAGEN TYPE 1 N-TERMINAL PROPEPTIDE", "PINP", None, ""),
        ("Serum P1NP (Roche)", "PINP", "serum", ""),
        ("CTX-1", "CTX1", None, ""),
        ("CTX-I", "CTX1", None, ""),
        ("TRAP-5b", "TRAP5B", None, ""),
        ("TRACP 5b", "TRAP5B", None, ""),
        ("Alkaline Phosphatase", "ALP", None, ""),
        ("Bone alkaline phosphatase", "BALP", None, ""),
        ("Deoxypyridinoline", "DPD", None, ""),
        ("urinary CrossLaps", "CTX1", "urine", ""),
        # "bone" rules total ALP out: these name the bone isoenzyme
        ("Bone Specific Alk Phos", "BALP", None, ""),
        ("ALP bone", "BALP", None, ""),
        ("Alk Phos", "ALP", None, ""),
    ],
)
def test_lis_names_match(header, marker, specimen, variant):
    hit = match_marker(header)
    assert hit is not None
    assert (hit.marker, hit.specimen, hit.variant) == (marker, specimen, variant)


@pytest.mark.parametrize(
    "header",
    ["Sample ID", "Age", "Visit", "Comment", "Draw date", "", "CTX-1 reported in ng/L (= pg/mL). TRAP-5b is an activity in U/L."],
)
def test_non_marker_headers_do_not_match(header):
    assert match_marker(header) is None


def test_normalize_name_spells_out_greek():
    assert normalize_name("β-CrossLaps (Serum)") == "beta crosslaps serum"
    assert normalize_name("µg") == "ug"


def test_get_marker_by_id_or_synonym_and_unknown():
    assert get_marker("ctx1").id == "CTX1"
    assert get_marker("β-CrossLaps").id == "CTX1"
    with pytest.raises(UnknownMarkerError, match="unknown marker 'vitamin D'"):
        get_marker("vitamin D")
    with pytest.raises(KeyError):  # UnknownMarkerError is also a KeyError
        get_marker("xyz")
