"""The units' exact algebra (kinds and factors without building pint) against pint itself: every
expression the unit grammar can write, every catalog spelling, every conversion to a canonical
unit, with each marker's molecular weight."""

from __future__ import annotations

import itertools

import pytest

import btm.units as u
from btm.errors import UnitConversionError, UnitParseError
from btm.markers import catalog

PREFIXES = ["", "f", "p", "n", "µ", "m", "c", "d", "k"]
NUMERATORS = [p + b for p, b in itertools.product(PREFIXES, ["g", "l", "mol", "M", "kat", "U", "IU"])]
NUMERATORS += [p + b + " BCE" for p, b in itertools.product(PREFIXES, ["mol", "M", "g"])]
DENOMINATORS = [p + b for p, b in itertools.product(PREFIXES, ["l", "L", "mol", "g", "M", "U"])]
DENOMINATORS += [p + b + " Cr" for p, b in itertools.product(PREFIXES, ["mol", "g", "M", "l"])]


def _texts() -> list[str]:
    return [*NUMERATORS, *(f"{n}/{d}" for n in NUMERATORS for d in DENOMINATORS)]


def _parse(text: str, *, pint: bool, monkeypatch) -> tuple:
    monkeypatch.setattr(u, "_PINT_ONLY", pint)
    try:
        pu = u.parse_unit.__wrapped__(text)
    except UnitParseError as exc:
        return ("error", str(exc))
    return (pu.expression, pu.kind)


def test_every_expression_of_the_grammar_has_the_kind_pint_gives(monkeypatch):
    texts = _texts()
    assert len(texts) > 5000
    fast = [_parse(t, pint=False, monkeypatch=monkeypatch) for t in texts]
    slow = [_parse(t, pint=True, monkeypatch=monkeypatch) for t in texts]
    diff = [(t, a, b) for t, a, b in zip(texts, fast, slow, strict=True) if a != b]
    assert not diff, diff[:5]
    assert sum(1 for f in fast if f[0] != "error") > 1000  # (most of them read)


def _factor(marker, src, dst, variant, *, pint: bool, monkeypatch):
    monkeypatch.setattr(u, "_PINT_ONLY", pint)
    try:
        return u._factor(marker, src, dst, variant)
    except UnitConversionError as exc:
        return ("error", str(exc))


def _sources(monkeypatch) -> list[u.ParsedUnit]:
    monkeypatch.setattr(u, "_PINT_ONLY", False)
    out = []
    for text in [*NUMERATORS, *(f"{n}/{d}" for n in NUMERATORS for d in DENOMINATORS if "BCE" in n or "Cr" in d or d.endswith(("l", "L")))]:
        try:
            out.append(u.parse_unit.__wrapped__(text))
        except UnitParseError:
            pass
    return out


def test_every_factor_to_a_canonical_unit_is_pints_to_the_last_digit(monkeypatch):
    sources = _sources(monkeypatch)
    checked = 0
    for marker in catalog().values():
        targets = {m.unit for m in marker.measures}
        spelled = [s for m in marker.measures for s in (m.unit, *getattr(m, "units", ()))]
        variants = ["", "intact", "total"] if marker.molecular_weight else [""]
        dst_units = [u.parse_unit(t) for t in sorted(targets)]
        extra = []
        for text in spelled:
            try:
                extra.append(u.parse_unit.__wrapped__(text))
            except UnitParseError:
                pass
        for src, dst, variant in itertools.product([*sources, *extra], dst_units, variants):
            if not marker.molecular_weight and src.kind != dst.kind:
                continue  # refused without arithmetic: nothing to compare
            fast = _factor(marker, src, dst, variant, pint=False, monkeypatch=monkeypatch)
            slow = _factor(marker, src, dst, variant, pint=True, monkeypatch=monkeypatch)
            assert fast == slow, (marker.id, src.text, dst.text, variant, fast, slow)
            checked += 1
    assert checked > 5000


@pytest.mark.parametrize("mid", sorted(catalog()))
def test_every_catalog_spelling_resolves_as_with_pint(mid, monkeypatch):
    marker = catalog()[mid]
    for m in marker.measures:
        for text in (m.unit, *getattr(m, "units", ()), *(a for a, _ in m.aliases)):
            for spec, variant in itertools.product([None, *marker.specimens], ["", "intact"]):
                got = []
                for pint in (False, True):
                    monkeypatch.setattr(u, "_PINT_ONLY", pint)
                    u.parse_unit.cache_clear()
                    try:
                        got.append(u._resolve.__wrapped__(mid, text, spec, variant))
                    except (UnitParseError, UnitConversionError) as exc:
                        got.append(str(exc))
                assert got[0] == got[1], (mid, text, spec, variant)
    u.parse_unit.cache_clear()


def test_the_import_path_never_builds_pint(monkeypatch):
    monkeypatch.setattr(u, "registry", lambda: pytest.fail("pint was built"))
    u.parse_unit.cache_clear()
    u._resolve.cache_clear()
    try:
        r = u.to_canonical([1.0, 2.0, 3.0, 4.0], ["ng/mL", "pg/mL", "µg/L", "mg/dL"], marker="PINP")
        assert r.ok.all() and r.unit.tolist() == ["µg/L"] * 4
        assert u.to_canonical([10.0], ["nmol/L"], marker="PINP", variant="intact").ok.all()
        assert u.to_canonical([1.0], ["µkat/L"], marker="BALP").ok.all()
    finally:
        u.parse_unit.cache_clear()
        u._resolve.cache_clear()
