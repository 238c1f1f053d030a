"""Issue #12 item 8: LOINC codes per measure, each with the source it was read from (btm/data/markers.toml).

Long names checked where a copy of LOINC's own name was read: 77370-5, 41171-0, 2697-1 (a LOINC mapping table),
1777-2 (a LOINC table extract), 6768-6 (tx.fhir.org expansion, LOINC 2.82). 17838-4, 21215-9, 14115-0: the code
as printed by the labs named in loinc_source (long name not retrieved).
"""

from __future__ import annotations

from btm.markers import catalog


def _measure(marker, specimen, kind):
    return next(m for m in catalog()[marker].measures if m.specimen == specimen and m.kind == kind)


def test_balp_mass_and_activity_carry_different_codes():
    mass, act = _measure("BALP", "serum", "mass"), _measure("BALP", "serum", "activity")
    assert mass.loinc == "17838-4" and act.loinc == "1777-2"
    assert act.loinc_name == "Alkaline phosphatase.bone [Enzymatic activity/volume] in Serum or Plasma"
    assert "serum" not in catalog()["BALP"].loinc  # two measures in serum: no code per specimen alone


def test_urine_ntx_per_litre_does_not_get_the_per_creatinine_code():
    assert _measure("NTX", "urine", "bce_per_creatinine").loinc == "14115-0"
    assert _measure("NTX", "urine", "bce").loinc == ""


def test_long_names_read_match_the_measure_kind():
    kinds = {"mass": "[Mass/volume]", "activity": "[Enzymatic activity/volume]"}
    for m in catalog().values():
        for meas in m.measures:
            if meas.loinc_name:
                assert kinds[meas.kind] in meas.loinc_name, (m.id, meas.kind, meas.loinc_name)
                assert ("Urine" in meas.loinc_name) == (meas.specimen == "urine")


def test_every_code_has_its_source_and_no_code_is_invented():
    seen = {}
    for m in catalog().values():
        for meas in m.measures:
            if meas.loinc:
                assert meas.loinc_source, (m.id, meas.kind)
                assert meas.loinc not in seen, f"{meas.loinc} used for {seen.get(meas.loinc)} and {m.id} {meas.kind}"
                seen[meas.loinc] = (m.id, meas.specimen, meas.kind)
    assert seen == {
        "77370-5": ("PINP", "serum", "mass"), "41171-0": ("CTX1", "serum", "mass"), "17838-4": ("BALP", "serum", "mass"),
        "1777-2": ("BALP", "serum", "activity"), "2697-1": ("OCN", "serum", "mass"), "21215-9": ("NTX", "serum", "bce"),
        "14115-0": ("NTX", "urine", "bce_per_creatinine"), "6768-6": ("ALP", "serum", "activity"),
    }


def test_markers_command_lists_the_code_per_measure(capsys):
    from btm.cli import main

    assert main(["markers", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "BALP,formation,serum,mass,µg/L" in out and "17838-4" in out and "1777-2" in out
