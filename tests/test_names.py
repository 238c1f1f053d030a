"""Real-world names and units: table-driven recognition, look-alikes that must never match.

The tables are tests/vocabulary/marker_names.csv (name, marker, specimen, source) and
tests/vocabulary/unit_strings.csv (text, kind, note). A row with an empty marker or kind must
be refused (unknown), never read as something.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from btm.errors import UnitConversionError, UnitParseError
from btm.markers import catalog, lookalike_of, match_marker
from btm.units import parse_unit, resolve_unit, to_canonical

DATA = Path(__file__).parent / "vocabulary"


def _table(name: str) -> list[dict[str, str]]:
    with open(DATA / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


NAMES = _table("marker_names.csv")
UNITS = _table("unit_strings.csv")


@pytest.mark.parametrize("row", NAMES, ids=[r["name"] for r in NAMES])
def test_marker_names(row):
    m = match_marker(row["name"])
    if not row["marker"]:
        assert m is None, f"{row['name']!r} ({row['source']}) must not match, got {m}"
        return
    assert m is not None and m.marker == row["marker"], (row, m)
    if row["specimen"]:
        assert m.specimen == row["specimen"], (row, m)


def test_name_table_is_broad():
    # every marker and every look-alike family is in the table
    assert {r["marker"] for r in NAMES} >= set(catalog()) | {""}
    assert sum(1 for r in NAMES if r["marker"]) >= 120
    assert sum(1 for r in NAMES if not r["marker"]) >= 40


@pytest.mark.parametrize(
    ("header", "lookalike"),
    [
        ("CTX-II", "CTX-II"), ("uCTX-II", "CTX-II"), ("V00Urine_CTXII_NUMCA", "CTX-II"), ("CartiLaps", "CTX-II"),
        ("ICTP", "ICTP (CTX-MMP)"), ("CTX-MMP", "ICTP (CTX-MMP)"), ("PICP", "PICP (CICP)"), ("CICP", "PICP (CICP)"),
        ("PIIINP", "PIIINP"), ("P3NP", "PIIINP"), ("ucOC", "undercarboxylated osteocalcin"),
        ("Glu-OC", "undercarboxylated osteocalcin"), ("Liver ALP", "ALP isoenzymes other than bone"),
        ("α-CrossLaps", "α-CTX"), ("TRACP 5a", "TRACP 5a"),
    ],
)
def test_lookalikes_are_named(header, lookalike):
    la = lookalike_of(header)
    assert la is not None and la.name == lookalike
    assert la.what and la.source


@pytest.mark.parametrize("header", ["CTX-I", "CTX1", "β-CTX", "PINP", "Osteocalcin", "BALP", "ALP", "TRAP5b", "NTX", "P1NP"])
def test_markers_are_not_lookalikes(header):
    assert lookalike_of(header) is None


def test_every_name_block_has_a_source():
    import tomllib

    from btm._resources import data_path

    with open(data_path("markers.toml"), "rb") as fh:
        raw = tomllib.load(fh)
    blocks = [b for k, v in raw.items() if k != "lookalike" for b in v.get("names", ())]
    assert len(blocks) >= 30
    assert all(b["source"].strip() for b in blocks)
    assert all(la["source"].strip() for la in raw["lookalike"])


@pytest.mark.parametrize("row", UNITS, ids=[r["text"] for r in UNITS])
def test_unit_strings(row):
    if not row["kind"]:
        with pytest.raises(UnitParseError):
            parse_unit(row["text"])
        return
    assert parse_unit(row["text"]).kind == row["kind"], row


def test_unit_table_is_broad():
    assert sum(1 for r in UNITS if r["kind"]) >= 80
    assert sum(1 for r in UNITS if not r["kind"]) >= 12


@pytest.mark.parametrize(
    ("marker", "value", "unit", "expected", "canonical"),
    [
        # UCUM annotations read as their lab spellings
        ("NTX", 45.0, "nmol{BCE}/mmol{creat}", 45.0, "nmol BCE/mmol creatinine"),
        ("NTX", 12.0, "nmol{BCE}/L", 12.0, "nmol BCE/L"),
        ("NTX", 12.0, "nmol BCE", 12.0, "nmol BCE/L"),
        ("ALP", 70.0, "[IU]/L", 70.0, "U/L"),
        ("ALP", 70.0, "m[IU]/mL", 70.0, "U/L"),
        ("ALP", 70.0, "U{37Cel}/L", 70.0, "U/L"),
        ("ALP", 0.07, "kU/L", 70.0, "U/L"),
        ("ALP", 0.07, "U/mL", 70.0, "U/L"),
        ("ALP", 70.0, "UI/L", 70.0, "U/L"),
        ("TRAP5B", 3.5, "IE/l", 3.5, "U/L"),
        ("CTX1", 0.45, "нг/мл", 450.0, "ng/L"),
        # per gram <-> per mmol creatinine with creatinine 113.12 g/mol: 1 µg/g Cr = 0.11312 µg/mmol Cr
        ("CTX1", 100.0, "µg/g Cr", 11.312, "µg/mmol creatinine"),
        ("CTX1", 100.0, "ug/mmol{creat}", 100.0, "µg/mmol creatinine"),
        ("CTX1", 100.0, "mcg/g Cr", 11.312, "µg/mmol creatinine"),
        ("NTX", 100.0, "nmol BCE/g creatinine", 11.312, "nmol BCE/mmol creatinine"),
        # DPD: µg/g Cr x 113.12 / 412.4 (BTM_FACTS §1); mg/g = 1000 µg/g
        ("DPD", 40.0, "ug/g cre", 40 * 113.12 / 412.4, "nmol/mmol creatinine"),
        ("DPD", 0.040, "mg/g{creat}", 40 * 113.12 / 412.4, "nmol/mmol creatinine"),
        ("DPD", 6.0, "umol/mol{creat}", 6.0, "nmol/mmol creatinine"),
        ("PYD", 20.0, "ng/mg{creat}", 20 * 113.12 / 428.4, "nmol/mmol creatinine"),
        ("PYD", 30.0, "umol/mol Cr", 30.0, "nmol/mmol creatinine"),
        # a bare mol/mol ratio is per creatinine for urine crosslinks (markers.toml unit_aliases)
        ("DPD", 6.0, "nmol/mmol", 6.0, "nmol/mmol creatinine"),
        ("NTX", 45.0, "nM BCE/mM Cr", 45.0, "nmol BCE/mmol creatinine"),
    ],
)
def test_conversions_exact(marker, value, unit, expected, canonical):
    r = to_canonical([value], [unit], marker=marker)
    assert r.error[0] == ""
    assert r.unit[0] == canonical
    assert r.value[0] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("marker", "unit", "words"),
    [
        ("BALP", "[IU]/L", None),  # activity: allowed
        ("PINP", "U/L", "different measurements"),
        ("CTX1", "µg/g Cr", None),
        ("CTX1", "nmol/mmol", "name its denominator"),  # CTX has no molar ratio alias
        ("NTX", "nmol/mmol Cr", "bone collagen equivalents"),  # BCE never from a molar ratio
        ("ALP", "U{25Cel}/L", "25 °C"),
        ("PINP", "mm", "not a unit"),
    ],
)
def test_refusals_say_why(marker, unit, words):
    if words is None:
        assert resolve_unit(unit, marker=marker).factor > 0
        return
    with pytest.raises((UnitParseError, UnitConversionError)) as exc:
        resolve_unit(unit, marker=marker)
    assert words in str(exc.value)
