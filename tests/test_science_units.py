"""Issue #12 item 4: PINP (and osteocalcin) mass <-> molar only where a cited factor exists for the assay variant.

Sources: PINP trimer ~35 kDa [CloudClone/Melkko] (what intact assays measure); total PINP also measures the
monomer, which accumulates in CKD [Tridimas21]; intact osteocalcin (1–49) ~5800 Da [Unitslab].
"""

from __future__ import annotations

import pytest

from btm.errors import UnitConversionError
from btm.units import conversion_factor, convert, resolve_unit, to_canonical


def test_intact_pinp_converts_with_the_trimer_weight_cloudclone_melkko():
    # 1.4286 nmol/L x 35000 g/mol = 50.001 µg/L
    assert convert([1.4286], "nmol/L", "µg/L", marker="PINP", from_variant="intact", to_variant="intact")[0] == pytest.approx(50.001)
    r = to_canonical([1.4286], ["nmol/L"], marker="PINP", variant="intact")
    assert r.error[0] == "" and r.value[0] == pytest.approx(50.001)


@pytest.mark.parametrize("variant", ["total", ""])
def test_total_or_unstated_pinp_is_refused_tridimas21(variant):
    with pytest.raises(UnitConversionError, match=r"total PINP assays also measure the monomer.*\[Tridimas21\]"):
        conversion_factor("nmol/L", "µg/L", marker="PINP", variant=variant)
    with pytest.raises(UnitConversionError):
        convert([1.0], "ng/mL", "nmol/L", marker="PINP", from_variant=variant)
    with pytest.raises(UnitConversionError):
        resolve_unit("nmol/L", marker="PINP", variant=variant)
    r = to_canonical([1.0], ["nmol/L"], marker="PINP", variant=variant)
    assert r.error[0].startswith("PINP: cannot convert 'nmol/L'") and "name the variant" in r.error[0]


def test_osteocalcin_molar_factor_is_intact_oc_only_unitslab():
    assert to_canonical([1.0], ["nmol/L"], marker="OCN", variant="intact").value[0] == pytest.approx(5.8)
    for variant in ("N-MID", ""):
        assert "intact osteocalcin" in to_canonical([1.0], ["nmol/L"], marker="OCN", variant=variant).error[0]


def test_mass_units_of_any_variant_still_convert():
    assert conversion_factor("ng/mL", "µg/L", marker="PINP", variant="total") == 1.0
    assert to_canonical([50.0], ["ng/mL"], marker="PINP").value[0] == 50.0
