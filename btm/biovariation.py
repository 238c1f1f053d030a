"""Biological variation (CVi, CVa, LSC) per measure: the figures behind each reference change value.

A figure belongs to one *measure*: marker, specimen, kind of measurement (mass, activity, BCE,
creatinine ratio; from the row's unit) and, where the source names it, the assay variant. Urine
NTX per creatinine and urine NTX per litre are different measures, as are BALP mass (µg/L) and
BALP activity (U/L): a figure for one is never used for the other (issue #12). A result with no
matching figure gets no RCV (``direction = "no RCV"``) unless the user's ``--biovar`` file gives one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ._resources import reference_ranges_dir
from .errors import RangesError, UnitError
from .markers import catalog
from .units import resolve_unit

__all__ = ["BV_COLUMNS", "METHODS", "BioVariation", "Key", "find_biovariation", "load_biovariation", "measure_kinds"]

BV_COLUMNS = ["marker", "specimen", "unit", "variant", "cvi_pct", "cva_pct", "lsc_pct", "lsc_z", "default", "source", "note"]
#: (marker, specimen, kind, variant); variant "" = the source does not name one (applies to any variant)
Key = tuple[str, str, str, str]

METHODS: list[tuple[str, str]] = [
    (
        "Reference change value: which figures",
        "Biological-variation figures are looked up by measure: marker, specimen, kind of measurement (mass, catalytic "
        "activity, bone collagen equivalents, creatinine ratio) and assay variant. A figure published for urine NTX per "
        "creatinine is not used for urine NTX per litre, nor a BALP figure for the other BALP kind; a figure that names no "
        "variant applies to every variant of its kind. A shipped figure whose source does not say which kind it measured "
        "is used only where the marker has a single kind in that specimen (the [Scariano01] BALP figure is therefore not "
        "used: its enzyme immunoassay is not said to report mass or activity). No matching figure: 'no RCV', unless your "
        "--biovar file gives one (columns marker, specimen, unit, variant, cvi_pct, cva_pct, lsc_pct, lsc_z, source).",
    ),
]


@dataclass(frozen=True)
class BioVariation:
    """Within-subject and analytical variation of one measure, and where it came from."""

    marker: str
    specimen: str
    cv_total: float  # fraction (0.137 = 13.7 %)
    cvi: float  # fraction or NaN
    cva: float  # fraction or NaN
    basis: str  # how cv_total was obtained
    source: str
    kind: str = ""
    variant: str = ""


def measure_kinds(marker: str, specimen: str) -> dict[str, str]:
    """Kinds of measurement of ``marker`` in ``specimen`` -> canonical unit (catalog order)."""
    return {m.kind: m.unit for m in catalog()[marker].measures if m.specimen == specimen}


def _kind_of(r: dict[str, str], mk: str, spec: str, p: Path, line: int) -> str:
    kinds = measure_kinds(mk, spec)
    unit = r["unit"].strip()
    if unit:
        try:
            return resolve_unit(unit, marker=mk, specimen=spec).kind
        except UnitError as exc:
            raise RangesError(f"{p}, row {line}: unit {unit!r} does not fit {mk} ({spec}): {exc}") from None
    if len(kinds) == 1:
        return next(iter(kinds))
    shown = ", ".join(f"{k} ({u})" for k, u in kinds.items())
    raise RangesError(
        f"{p}, row {line}: {mk} ({spec}) is measured as {shown}: add a 'unit' column saying which measure these "
        "figures belong to (a figure for one is never used for the other)"
    )


def _total(cvi: float, cva: float, lsc: float, z: float, p: Path, line: int, mk: str) -> tuple[float, str]:
    if not math.isnan(cvi) and not math.isnan(cva):
        return math.sqrt(cvi**2 + cva**2), f"CVi {cvi:.1%} and CVa {cva:.1%}"
    if not math.isnan(lsc):
        zz = 1.96 if math.isnan(z) else z
        total = lsc / (zz * math.sqrt(2))
        return total, f"total CV {total:.1%} = published LSC {lsc:.0%} / ({zz:g}·√2)" + (" (z not stated: 1.96 assumed)" if math.isnan(z) else "")
    if not math.isnan(cvi):
        return cvi, f"CVi {cvi:.1%} only (no analytical CV published: the RCV is an underestimate)"
    raise RangesError(f"{p}, row {line}: {mk} needs cvi_pct and cva_pct, or lsc_pct")


def load_biovariation(path: str | Path | None = None) -> dict[Key, BioVariation]:
    """The biological-variation figures per measure (:data:`Key`), the user's file first.

    The total CV is taken from CVa and CVi when both are published; else derived from the
    published LSC as LSC / (z·√2) (z = 1.96 when the source does not state it); else CVi alone
    (an underestimate, said so in ``basis``). Of the shipped rows only ``default=yes`` ones are
    used; every row of the user's file counts (the first for a measure wins).

    A user file written before the ``unit``/``variant`` columns existed still loads: a row
    without a unit applies to the marker's only kind of measurement in that specimen, and is
    refused with a clear message where there are several (BALP serum, NTX urine).
    """
    files = [(reference_ranges_dir() / "biological_variation.csv", "shipped")]
    if path:
        files.insert(0, (Path(path), "user"))
    from .ranges import _num, _read_csv  # one reader and number check for both files (ranges imports this module)

    out: dict[Key, BioVariation] = {}
    markers = catalog()
    for p, origin in files:
        df = _read_csv(p, "biological variation")
        df.columns = [c.strip().lower() for c in df.columns]
        for c in BV_COLUMNS:
            if c not in df.columns:
                if c in ("marker", "specimen"):
                    raise RangesError(f"{p}: missing column {c}; expected {', '.join(BV_COLUMNS)}")
                df[c] = ""
        for i, r in enumerate(df.to_dict("records")):
            line = i + 2
            mk, spec = r["marker"].strip(), (r["specimen"].strip().lower() or "serum")
            if spec == "plasma":
                spec = "serum"
            if mk not in markers:
                raise RangesError(f"{p}, row {line}: unknown marker {mk!r}")
            if spec not in markers[mk].specimens:
                raise RangesError(f"{p}, row {line}: {mk} is not measured in {spec!r} (only {', '.join(markers[mk].specimens)})")
            is_default = origin == "user" or r["default"].strip().lower() in ("yes", "y", "true", "1", "x")
            if not is_default:
                continue
            kind = _kind_of(r, mk, spec, p, line)
            variant = r["variant"].strip().lower()
            if variant and variant not in {v.lower() for v in markers[mk].variants}:
                known = ", ".join(markers[mk].variants) or "none"
                raise RangesError(f"{p}, row {line}: variant {r['variant']!r} is not an assay variant of {mk} (known: {known})")
            key = (mk, spec, kind, variant)
            if key in out:
                continue
            cvi = _num(r["cvi_pct"], p, line, "cvi_pct") / 100
            cva = _num(r["cva_pct"], p, line, "cva_pct") / 100
            lsc = _num(r["lsc_pct"], p, line, "lsc_pct") / 100
            z = _num(r["lsc_z"], p, line, "lsc_z")
            total, basis = _total(cvi, cva, lsc, z, p, line, mk)
            src = r["source"].strip() or f"user file {p.name}"
            out[key] = BioVariation(mk, spec, total, cvi, cva, basis, ("user: " if origin == "user" else "") + src, kind, variant)
    return out


def find_biovariation(bv: dict[Key, BioVariation], marker: str, specimen: str, kind: str, variant: str = "") -> BioVariation | None:
    """The figure for a measure: its own variant's, else one that names no variant, else None."""
    return bv.get((marker, specimen, kind, variant)) or bv.get((marker, specimen, kind, ""))
