"""Units of bone turnover markers, on one package-wide pint registry.

pint is used as a *factor oracle*: each distinct unit string is read once, its factor to the
marker's canonical unit is computed once, and arrays are multiplied by that factor (never one
pint object per value; see ``benchmarks/units_bench.py``).

Unit text from lab exports is first normalised by a small grammar of its own (pint alone would
read ``nm`` as nanometre and ``nM BCE`` not at all)::

    unit       := part [ "/" part ]
    part       := term { annotation }
    term       := [prefix] base        prefix: f p n u(µ μ mc) m c d k
                                       base: g  l  mol  M(=molar)  kat  U  IU ([IU], UI, IE)
    annotation := "BCE" | "Cr" | "creat" | "creatinine" | "cre" | "Kreatinin" | {BCE} | {creat} | {37Cel}

Case is ignored (``NG/ML`` = ``ng/mL``) except for molar ``M``: ``nM``, ``mM``, ``µM`` are molar,
``nm`` and ``mm`` are lengths and refused; in text of one case (``NM BCE/MM CR``) ``M`` is molar
only beside BCE or creatinine (NTX units). ``BCE`` marks the amount as bone collagen equivalents,
``Cr`` marks the denominator as creatinine; both have their own pint dimensions
(``btm/data/units.txt``), and 1 g creatinine = 1/113.12 mol, so per-gram and per-mmol creatinine
ratios convert with the catalog's creatinine molar mass. UCUM annotations other than these are
refused, never dropped; ``{37Cel}`` (or "37 °C") is accepted, an activity measured at another
temperature is refused. Spelled-out words (``micrograms per liter``) and Russian lab units
(``нг/мл``, ``Ед/л``, ``МЕ/л``) are read too. Text a marker's catalog entry declares in
``unit_aliases`` (``nmol/mmol`` for urine DPD: per mmol creatinine) is read as that unit for that
marker only.

Examples
--------
>>> to_canonical([0.45, 450.0, 0.5], ["ng/mL", "pg/mL", "µg/L"], marker="CTX1").value.tolist()
[450.0, 450.0, 500.0]
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from ._resources import data_path
from .errors import UnitConversionError, UnitParseError
from .markers import Marker, Measure, get_marker

__all__ = [
    "CanonicalValues",
    "ParsedUnit",
    "UnitTarget",
    "convert",
    "conversion_factor",
    "parse_unit",
    "registry",
    "resolve_unit",
    "to_canonical",
]

_LOCK = threading.Lock()
_REGISTRY: Any = None


def registry() -> Any:
    """The package-wide pint ``UnitRegistry``, built on first use (about 0.2 s)."""
    global _REGISTRY
    if _REGISTRY is None:
        with _LOCK:
            if _REGISTRY is None:
                import pint

                ureg = pint.UnitRegistry(cache_folder=None)
                ureg.load_definitions(str(data_path("units.txt")))
                _REGISTRY = ureg
    return _REGISTRY


# ---------------------------------------------------------------------------------------------
# Parsing unit text

_TERM = re.compile(r"^(?P<prefix>f|p|n|u|m|c|d|k|)(?P<base>g|l|mol|molar|kat|iu|u)(?P<ann>bce|cr)?$")
_PREFIX = {"f": "f", "p": "p", "n": "n", "u": "u", "m": "m", "c": "c", "d": "d", "k": "k", "": ""}
# creatinine as labs write it (English, German, French, Spanish, Italian, Polish, Czech; accents removed)
_CREAT_WORDS = {
    "cr", "cre", "crea", "creat", "creatinine", "creatinin", "creatinina", "crn", "crt", "kreatinin", "krea", "kreat",
    "kreatyniny", "kreatininu", "kreatinina", "creatinini", "creatininae", "ucr",
}
_BCE_WORDS = {"bce"}
# unit words spelled out, and unit words in other scripts, -> the short symbols the grammar reads
_WORD_UNITS = {
    "microgram": "ug", "micrograms": "ug", "mcg": "ug", "nanogram": "ng", "nanograms": "ng", "picogram": "pg",
    "picograms": "pg", "milligram": "mg", "milligrams": "mg", "gram": "g", "grams": "g", "gramme": "g", "grammes": "g",
    "liter": "l", "litre": "l", "liters": "l", "litres": "l", "milliliter": "ml", "millilitre": "ml", "milliliters": "ml",
    "millilitres": "ml", "deciliter": "dl", "decilitre": "dl", "deciliters": "dl", "decilitres": "dl", "mcl": "ul",
    "mole": "mol", "moles": "mol", "nanomole": "nmol", "nanomoles": "nmol", "micromole": "umol", "micromoles": "umol",
    "millimole": "mmol", "millimoles": "mmol", "picomole": "pmol", "picomoles": "pmol", "unit": "u", "units": "u",
    "katal": "kat", "ui": "iu", "ie": "iu", "e": "u", "mui": "miu", "uui": "uiu", "mie": "miu", "me": "mu", "mcmol": "umol",
    "mckat": "ukat",
    # Russian (Cyrillic) lab units: мкг/л, нг/мл, Ед/л (units), МЕ/л (international units), нмоль/л
    "мкг": "ug", "нг": "ng", "пг": "pg", "мг": "mg", "г": "g", "мл": "ml", "л": "l", "дл": "dl", "мкл": "ul",
    "моль": "mol", "ммоль": "mmol", "мкмоль": "umol", "нмоль": "nmol", "пмоль": "pmol", "ед": "u", "мед": "mu",
    "ме": "iu", "мме": "miu", "кат": "kat", "мккат": "ukat", "нкат": "nkat", "креатинина": "creat",
    "креатинин": "creat", "креат": "creat", "кр": "creat",
}
# UCUM annotations {…} btm reads; anything else in braces is refused, never ignored
_ANNOTATIONS = {
    "bce": " bce ", "creat": " cr ", "creatinine": " cr ", "cr": " cr ", "cre": " cr ", "crea": " cr ", "crt": " cr ",
}
_TEMPERATURE = re.compile(r"(?:\bat\s*)?\b(\d{2})\s*(?:°|º|deg\.?\s*|degrees?\s*)?\s*c(?:el)?\b")
# molar: "nM", "mM", "µM", "M" (upper-case M after a lower-case prefix) -> "nmolar"
_MOLAR = re.compile(r"(?<![A-Za-z])([fpnum]?)M(?![A-Za-z])")
_MOLAR_ANY_CASE = re.compile(r"(?<![A-Za-z])([fpnumFPNUM]?)[mM](?![A-Za-z])")

# kind of a unit, by its pint dimensionality (that of a reference unit of each kind)
_KIND_REFERENCE = {
    "mass": "g / L",
    "molar": "mol / L",
    "activity": "U / L",
    "bce": "molBCE / L",
    "bce_per_creatinine": "molBCE / molCr",
    "per_creatinine": "mol / molCr",
    "mass_per_creatinine": "g / molCr",
}


@functools.cache
def _kinds() -> dict[Any, str]:
    ureg = registry()
    return {ureg.parse_expression(ref).dimensionality: kind for kind, ref in _KIND_REFERENCE.items()}


# ---------------------------------------------------------------------------------------------
# The expressions parse_unit writes, without pint: they use a handful of units whose scale and
# dimensions are exact, so their kind and factors are computed directly (exact fractions, then
# the 12 significant digits pint's factor is cleaned to); pint is built only for an expression
# outside that set. tests/test_units.py checks every expression the grammar writes, and every
# catalog spelling and conversion, against pint.

# dimensions: mass, volume, substance, time, bone collagen equivalents, creatinine
_ALGEBRA_BASES: dict[str, tuple[Fraction, tuple[int, ...]]] = {
    "molBCE": (Fraction(1), (0, 0, 0, 0, 1, 0)),
    "molCr": (Fraction(1), (0, 0, 0, 0, 0, 1)),
    "mol": (Fraction(1), (0, 0, 1, 0, 0, 0)),
    "gCr": (1 / Fraction("113.12"), (0, 0, 0, 0, 0, 1)),  # units.txt: gCr = molCr / 113.12
    "g": (Fraction(1), (1, 0, 0, 0, 0, 0)),
    "L": (Fraction(1), (0, 1, 0, 0, 0, 0)),
    "kat": (Fraction(1), (0, 0, 1, -1, 0, 0)),
    "IU": (Fraction(1, 60_000_000), (0, 0, 1, -1, 0, 0)),  # enzyme unit: 1 µmol/min
    "U": (Fraction(1, 60_000_000), (0, 0, 1, -1, 0, 0)),
}
_ALGEBRA_PREFIX = {"f": Fraction(1, 10**15), "p": Fraction(1, 10**12), "n": Fraction(1, 10**9), "u": Fraction(1, 10**6),
                   "m": Fraction(1, 1000), "c": Fraction(1, 100), "d": Fraction(1, 10), "k": Fraction(1000), "": Fraction(1)}
_ALGEBRA_NAME = re.compile(r"(f|p|n|u|m|c|d|k|)(molBCE|molCr|mol|gCr|g|L|kat|IU|U)")
_ALGEBRA_TOKEN = re.compile(r"\s*([A-Za-z]+|[()/])")
_Algebra = tuple[Fraction, tuple[int, ...]]


@functools.lru_cache(maxsize=1024)
def _algebra(expr: str) -> _Algebra | None:
    """(scale, dimensions) of a parse_unit expression (``"(nmolBCE/L) / mmolCr"``); None when it
    uses anything else (then pint decides)."""
    tokens = _ALGEBRA_TOKEN.findall(expr)
    if "".join(tokens) != re.sub(r"\s+", "", expr):
        return None
    pos = 0

    def factor() -> _Algebra | None:
        nonlocal pos
        if pos >= len(tokens):
            return None
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            inner = division()
            if inner is None or pos >= len(tokens) or tokens[pos] != ")":
                return None
            pos += 1
            return inner
        m = _ALGEBRA_NAME.fullmatch(tok)
        if m is None:
            return None
        scale, dims = _ALGEBRA_BASES[m.group(2)]
        return _ALGEBRA_PREFIX[m.group(1)] * scale, dims

    def division() -> _Algebra | None:
        nonlocal pos
        left = factor()
        while left is not None and pos < len(tokens) and tokens[pos] == "/":
            pos += 1
            right = factor()
            if right is None:
                return None
            left = (left[0] / right[0], tuple(a - b for a, b in zip(left[1], right[1], strict=True)))
        return left

    out = division()
    return out if out is not None and pos == len(tokens) else None


@functools.cache
def _algebra_kinds() -> dict[tuple[int, ...], str]:
    out = {}
    for kind, ref in _KIND_REFERENCE.items():
        a = _algebra(ref)  # (the references are written in the algebra's units)
        if a is not None:
            out[a[1]] = kind
    return out


#: Tests set this to compute every kind and factor with pint, to compare.
_PINT_ONLY = False


def _kind_of(expr: str) -> str | None:
    """The kind of a parse_unit expression (None: not a kind btm reads); pint only outside the algebra.

    Raises whatever pint raises for an expression it cannot read."""
    a = None if _PINT_ONLY else _algebra(expr)
    if a is not None:
        return _algebra_kinds().get(a[1])
    return _kinds().get(registry().parse_expression(expr).dimensionality)


def _algebra_factor(src: str, dst: str, mw: float | None = None) -> float | None:
    """The factor from ``src`` to ``dst`` (same kind, or mass <-> molar through ``mw`` g/mol as the
    btm_molar context of units.txt does), exactly; None outside the algebra."""
    if _PINT_ONLY:
        return None
    a, b = _algebra(src), _algebra(dst)
    if a is None or b is None:
        return None
    f = a[0] / b[0]
    if mw is not None:
        mass_to_molar = a[1][0] == 1 and b[1][0] == 0
        f = f / Fraction(mw) if mass_to_molar else f * Fraction(mw)
    return float(f)


_KIND_WORDS = {
    "mass": "a mass concentration",
    "molar": "a molar concentration",
    "activity": "a catalytic activity",
    "bce": "bone collagen equivalents per volume",
    "bce_per_creatinine": "bone collagen equivalents per creatinine",
    "per_creatinine": "a molar ratio to creatinine",
    "mass_per_creatinine": "a mass ratio to creatinine",
}
_MW_PAIRS = {frozenset({"mass", "molar"}), frozenset({"per_creatinine", "mass_per_creatinine"})}
#: Markers whose mass <-> molar factor holds only for some assay variants; other or unstated variants
#: are refused. PINP: the factor is the trimer's ~35 kDa [CloudClone/Melkko], which intact assays measure;
#: total assays also measure the monomer, which accumulates in CKD [Tridimas21], so no single molecular
#: weight fits total or unspecified PINP. Osteocalcin: ~5800 Da is intact OC (1–49) [Unitslab]; N-MID
#: assays also measure the 1–43 fragment, so the factor is not theirs.
MOLAR_VARIANTS: dict[str, frozenset[str]] = {"PINP": frozenset({"intact"}), "OCN": frozenset({"intact"})}


@dataclass(frozen=True)
class ParsedUnit:
    """A unit read from text: the pint expression and the kind of quantity it measures."""

    text: str
    expression: str
    kind: str


def _annotation(body: str, text: str) -> str:
    a = re.sub(r"[\s.]+", "", body).casefold()
    if a in _ANNOTATIONS:
        return _ANNOTATIONS[a]
    m = re.fullmatch(r"(\d+)cel", a)
    if m:
        return _temperature(m.group(1), text)
    raise UnitParseError(text, f"annotation {{{body}}} is not one btm reads (it reads {{BCE}}, {{creat}}, {{37Cel}})")


def _temperature(degrees: str, text: str) -> str:
    if degrees != "37":
        raise UnitParseError(
            text, f"an enzyme activity measured at {degrees} °C is not comparable with results at 37 °C (IFCC); no factor exists"
        )
    return " "


def _fold_accents(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    return unicodedata.normalize("NFKC", "".join(c for c in s if not ("\u0300" <= c <= "\u036f")))


def _clean_text(text: str) -> str:
    """Unit text -> lower-case words of the grammar (``"nmol{BCE}/mmol{creat}"`` -> ``"nmol bce/mmol cr"``)."""
    s = unicodedata.normalize("NFKC", str(text)).strip()
    s = s.replace("μ", "u").replace("µ", "u")
    s = re.sub(r"\[\s*i\s*u\s*\]", "IU", s, flags=re.I)  # UCUM [IU], [iU]
    s = re.sub(r"\b(?:I\.U\.|U\.I\.)", "IU", s)  # I.U./L, U.I./L
    s = re.sub(r"\{([^{}]*)\}", lambda m: _annotation(m.group(1), str(text)), s)
    s = s.strip("()[] ").rstrip(".")
    letters = [c for c in s if c.isalpha()]
    context = re.search(r"bce|cr|kreat|креат", s, re.I) is not None
    if letters and all(c.isupper() for c in letters) or (letters and all(c.islower() for c in letters)):
        # no case to tell nM (molar) from nm (length): molar only beside BCE or creatinine (NTX units)
        if context:
            s = _MOLAR_ANY_CASE.sub(lambda m: m.group(1).lower() + "molar", s)
    else:
        s = _MOLAR.sub(lambda m: m.group(1) + "molar", s)
    s = _fold_accents(s.casefold())
    s = _TEMPERATURE.sub(lambda m: _temperature(m.group(1), str(text)), s)
    s = re.sub(r"\binternational\s+units?\b", "iu", s)
    s = re.sub(r"\s*\bper\b\s*", "/", s)
    s = re.sub(r"\s*/\s*", "/", s)
    s = re.sub(r"[,;()\[\]]", " ", s)
    s = re.sub(r"(?<=[a-z])\.(?=[a-z\s/]|$)", " ", s)  # "creat." "mg/g cr."
    words = re.split(r"(\s+|/)", s)
    s = "".join(_WORD_UNITS.get(w, w) for w in words)
    s = re.sub(r"\bmicro\s*", "u", s)
    return re.sub(r"\s+", " ", s).strip()


def _term(word: str, text: str) -> tuple[str, str, str]:
    """(prefix, base, annotation) of one unit word."""
    m = _TERM.match(word)
    if not m:
        raise UnitParseError(text, f"{word!r} is not a unit btm knows")
    return m.group("prefix"), m.group("base"), m.group("ann") or ""


def _unit_terms(text: str, parts: list[str]) -> tuple[list[list[tuple[str, str, str]]], bool]:
    """The (prefix, base, creatinine mark) term of each side of 'a/b', and whether BCE qualifies it."""
    bce = False
    creat_words_in_num = False
    built: list[list[tuple[str, str, str]]] = []
    for i, part in enumerate(parts):
        words = part.split()
        terms: list[tuple[str, str, str]] = []
        for w in words:
            if w in _BCE_WORDS:
                bce = True
            elif w in _CREAT_WORDS:
                if i == 0:
                    creat_words_in_num = True
                elif terms:
                    p_, b_, _ = terms[-1]
                    terms[-1] = (p_, b_, "cr")
                else:
                    raise UnitParseError(text, "creatinine must follow a unit")
            else:
                pre, base, ann = _term(w, text)
                if ann in _BCE_WORDS:
                    bce = True
                    ann = ""
                terms.append((pre, base, "cr" if ann else ""))
        if len(terms) != 1:
            raise UnitParseError(text, f"expected one unit in {part.strip()!r}")
        built.append(terms)
    if creat_words_in_num:
        raise UnitParseError(text, "creatinine belongs in the denominator (e.g. 'nmol/mmol creatinine')")
    return built, bce


@functools.lru_cache(maxsize=4096)
def parse_unit(text: str) -> ParsedUnit:
    """Read unit text from a lab export.

    Parameters
    ----------
    text
        e.g. ``"ng/mL"``, ``"µg/l"``, ``"mcg/L"``, ``"nM BCE/mM creatinine"``, ``"U/l"``, ``"µkat/L"``,
        ``"µg/g Cr"``; UCUM codes with annotations as FHIR and LOINC write them: ``"nmol{BCE}/L"``,
        ``"nmol{BCE}/mmol{creat}"``, ``"[IU]/L"``, ``"m[IU]/mL"``, ``"U{37Cel}/L"``, ``"ug/mmol{creat}"``;
        lab spellings: ``"UI/L"``, ``"IE/l"``, ``"kU/L"``, ``"mcg/g Cr"``, ``"ug/g cre"``, ``"нг/мл"``, ``"Ед/л"``.

    Returns
    -------
    ParsedUnit

    Raises
    ------
    UnitParseError
        For empty text, words that are not units, annotations btm does not read, enzyme
        activities measured at another temperature than 37 °C, and units that are not
        concentrations.

    Notes
    -----
    The enzyme units ``U``, ``IU``, ``[IU]``, ``UI`` (French, Spanish, Italian) and ``IE``
    (German) are all read as the IUB enzyme unit (1 µmol/min): they only occur here as activities
    of ALP, BALP and TRAP-5b, where labs write them interchangeably. A bare ``nmol BCE`` is read as
    per litre, as NHANES documents its urine NTx (``URXNT``, "nmol BCE", not creatinine-corrected).
    """
    s = _clean_text(text)
    if not s:
        raise UnitParseError(text, "empty")
    parts = s.split("/")
    if len(parts) > 2 or not all(p.strip() for p in parts):
        raise UnitParseError(text, "expected one unit or one 'a/b' ratio")
    built, bce = _unit_terms(text, parts)

    def render(term: tuple[str, str, str], *, numerator: bool) -> str:
        pre, base, ann = term
        if base == "molar":
            amount = "molBCE" if (bce and numerator) else ("molCr" if ann else "mol")
            return f"({pre}{amount}/L)"
        if base == "mol":
            amount = "molBCE" if (bce and numerator) else ("molCr" if ann else "mol")
            return f"{pre}{amount}"
        if base == "g":
            if bce and numerator:
                raise UnitParseError(text, "BCE is an amount (nmol BCE), not a mass")
            return f"{pre}gCr" if ann else f"{pre}g"
        if ann:
            raise UnitParseError(text, "creatinine must be an amount or mass (mmol, g)")
        if base == "l":
            return f"{pre}L"
        if base == "kat":
            return f"{pre}kat"
        return f"{pre}IU" if base == "iu" else f"{pre}U"

    if len(built) == 2 and built[0][0][1] == "molar" and built[1][0][1] == "l":
        # "nM BCE/L": a redundant spelling of nmol BCE/L, common in NTX reports
        p_, _, a_ = built[0][0]
        built[0][0] = (p_, "mol", a_)
    num = render(built[0][0], numerator=True)
    if bce and "molBCE" not in num:
        raise UnitParseError(text, "BCE must qualify a molar amount (nmol BCE, nM BCE)")
    if len(built) == 1 and bce and built[0][0][1] == "mol":
        num = f"{num} / L"  # "nmol BCE": per litre (NHANES URXNT)
    expr = num if len(built) == 1 else f"{num} / {render(built[1][0], numerator=False)}"
    try:
        kind = _kind_of(expr)
    except Exception as exc:  # pint raises several types; all mean "not a unit"
        raise UnitParseError(text, str(exc)) from None
    if kind is None:
        if len(built) == 2 and built[0][0][1] in ("mol", "molar") and built[1][0][1] in ("mol", "molar") and not built[1][0][2]:
            raise UnitParseError(text, "a ratio of two amounts must name its denominator (e.g. 'nmol/mmol creatinine')")
        raise UnitParseError(text, "not a concentration, activity or creatinine ratio")
    return ParsedUnit(text=str(text), expression=expr, kind=kind)


# ---------------------------------------------------------------------------------------------
# Factors


def _clean_factor(f: float) -> float:
    """Drop float noise of a factor (1000.0000000000001 -> 1000.0): 12 significant digits."""
    if f == 0 or not math.isfinite(f):
        return f
    return float(f"{f:.12g}")


def _refusal(marker: Marker, a: str, b: str) -> str:
    pair = {a, b}
    if "activity" in pair and pair & {"mass", "molar"}:
        return (
            f"{marker.id} activity (U/L) and mass concentration are different measurements "
            "(different methods and calibration); there is no fixed factor"
        )
    if pair & {"bce", "bce_per_creatinine"} and pair - {"bce", "bce_per_creatinine"}:
        if pair <= {"bce", "bce_per_creatinine"}:
            pass
        else:
            return "bone collagen equivalents (BCE) are set by the assay calibrator and have no mass or molar equivalent"
    creat = {"bce_per_creatinine", "per_creatinine", "mass_per_creatinine"}
    if (pair & creat) and (pair - creat):
        return (
            "a creatinine-normalised urine ratio has no fixed factor to a concentration "
            "(it needs each sample's creatinine, and a urine value is never a serum concentration)"
        )
    if pair in _MW_PAIRS:
        return f"{marker.id} has no molecular weight in the catalog: molar units are not in use for it"
    return f"{_KIND_WORDS.get(a, a)} and {_KIND_WORDS.get(b, b)} are different quantities"


def _molar_refusal(marker: Marker, variant: str) -> str:
    allowed = " or ".join(sorted(MOLAR_VARIANTS[marker.id]))
    said = f"{variant} {marker.id}" if variant else f"{marker.id} of unstated assay variant"
    why = {
        "PINP": "total PINP assays also measure the monomer, which accumulates in CKD [Tridimas21]; "
        "the ~35 kDa factor is the intact trimer's [CloudClone/Melkko]",
        "OCN": "the ~5800 Da factor is intact osteocalcin's (1–49) [Unitslab]; N-MID assays also measure the 1–43 fragment",
    }.get(marker.id, "no molecular weight is published for that assay variant")
    return f"no fixed mass/molar factor for {said}: {why}; only {allowed} {marker.id} converts (name the variant)"


def _factor(marker: Marker, src: ParsedUnit, dst: ParsedUnit, variant: str = "") -> float:
    if src.kind == dst.kind:
        f = _algebra_factor(src.expression, dst.expression)
        if f is None:
            f = float(registry().Quantity(1.0, src.expression).to(dst.expression).magnitude)
        return _clean_factor(f)
    pair = frozenset({src.kind, dst.kind})
    if pair in _MW_PAIRS and marker.id in MOLAR_VARIANTS and variant not in MOLAR_VARIANTS[marker.id]:
        raise UnitConversionError(marker.id, src.text, dst.text, _molar_refusal(marker, variant))
    if pair in _MW_PAIRS and marker.molecular_weight:
        f = _algebra_factor(src.expression, dst.expression, marker.molecular_weight)
        if f is None:
            ureg = registry()
            mw = ureg.Quantity(marker.molecular_weight, "g/mol")
            f = float(ureg.Quantity(1.0, src.expression).to(dst.expression, "btm_molar", mw=mw).magnitude)
        return _clean_factor(f)
    raise UnitConversionError(marker.id, src.text, dst.text, _refusal(marker, src.kind, dst.kind))


@functools.lru_cache(maxsize=4096)
def _conversion_factor(marker_id: str, from_unit: str, to_unit: str, variant: str = "") -> float:
    marker = get_marker(marker_id)
    return _factor(marker, parse_unit(from_unit), parse_unit(to_unit), variant)


def conversion_factor(from_unit: str, to_unit: str, *, marker: str, variant: str = "") -> float:
    """Factor that converts values of ``marker`` from ``from_unit`` to ``to_unit``.

    Raises
    ------
    UnitParseError
        When a unit cannot be read.
    UnitConversionError
        When no fixed factor exists: activity <-> mass, BCE <-> mass or molar, creatinine ratios
        <-> concentrations, molar units of a marker without a molecular weight, and mass <-> molar
        for an assay variant without a published factor (:data:`MOLAR_VARIANTS`: PINP and
        osteocalcin convert only when ``variant="intact"``).
    """
    return _conversion_factor(get_marker(marker).id, str(from_unit), str(to_unit), str(variant or "").strip().lower())


def convert(
    values: Any,
    from_unit: str,
    to_unit: str,
    *,
    marker: str,
    from_variant: str = "",
    to_variant: str = "",
) -> np.ndarray:
    """Convert an array of one marker from one unit to another (one factor for the whole array).

    ``from_variant``/``to_variant`` name assay variants (e.g. PINP ``total`` and ``intact``):
    different variants are never converted into each other.

    >>> convert([50.0], "ng/mL", "nmol/L", marker="PINP", from_variant="intact").round(4).tolist()
    [1.4286]
    """
    m = get_marker(marker)
    if from_variant and to_variant and from_variant != to_variant:
        raise UnitConversionError(
            m.id,
            f"{from_unit} ({from_variant})",
            f"{to_unit} ({to_variant})",
            f"{from_variant} and {to_variant} {m.id} assays measure different things; no conversion exists"
            + (f". {m.note}" if m.note else ""),
        )
    factor = conversion_factor(from_unit, to_unit, marker=m.id, variant=from_variant or to_variant)
    return np.asarray(values, dtype=float) * factor


@dataclass(frozen=True)
class UnitTarget:
    """Where values in one unit go: the canonical measure and the factor to reach it."""

    factor: float
    unit: str
    specimen: str
    kind: str


def _alias_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)).replace("μ", "u").replace("µ", "u")).casefold()


def marker_unit_alias(marker: Marker, unit: str, specimen: str | None = None) -> str | None:
    """The unit a marker's catalog says ``unit`` stands for (``unit_aliases`` in markers.toml), or None."""
    key = _alias_key(unit)
    for m in marker.measures:
        if specimen not in (None, m.specimen):
            continue
        for text, target in m.aliases:
            if _alias_key(text) == key:
                return target
    return None


@functools.lru_cache(maxsize=8192)
def _resolve(marker_id: str, unit: str, specimen: str | None, variant: str = "") -> UnitTarget:
    marker = get_marker(marker_id)
    try:
        src = parse_unit(unit)
    except UnitParseError:
        alias = marker_unit_alias(marker, unit, specimen)
        if alias is None:
            raise
        src = dataclasses.replace(parse_unit(alias), text=str(unit))
    measures: Sequence[Measure] = [m for m in marker.measures if specimen in (None, m.specimen)]
    if not measures:
        raise UnitConversionError(
            marker.id, unit, "?", f"{marker.id} is not measured in {specimen} (only {', '.join(marker.specimens)})"
        )
    # exact kind first; then conversions through the molecular weight
    ordered = sorted(measures, key=lambda m: parse_unit(m.unit).kind != src.kind)
    if specimen is None and src.kind in {"bce"}:
        # nmol BCE/L without a specimen is serum NTX unless the header said urine
        ordered = sorted(ordered, key=lambda m: m.specimen != "serum")
    first_error: UnitConversionError | None = None
    for m in ordered:
        try:
            factor = _factor(marker, src, parse_unit(m.unit), variant)
        except UnitConversionError as exc:
            first_error = first_error or exc
            continue
        return UnitTarget(factor=factor, unit=m.unit, specimen=m.specimen, kind=m.kind)
    targets = " or ".join(dict.fromkeys(m.unit for m in measures))
    reason = first_error.reason if first_error else "no matching measure"
    raise UnitConversionError(marker.id, unit, targets, reason)


def resolve_unit(unit: str, *, marker: str, specimen: str | None = None, variant: str = "") -> UnitTarget:
    """The canonical unit, specimen and factor for values of ``marker`` given in ``unit``.

    The measure is chosen by the unit's kind: BALP in U/L stays activity (canonical U/L), BALP in
    ng/mL is mass (canonical µg/L); a creatinine ratio means urine. ``variant`` names the assay
    variant where a molar unit needs one (:data:`MOLAR_VARIANTS`).
    """
    return _resolve(get_marker(marker).id, str(unit), specimen, str(variant or "").strip().lower())


@dataclass(frozen=True)
class CanonicalValues:
    """Result of :func:`to_canonical`: arrays aligned with the input.

    ``error`` holds ``""`` where the value converted, else the reason it could not.
    """

    value: np.ndarray
    unit: np.ndarray
    specimen: np.ndarray
    kind: np.ndarray
    error: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        return self.error == ""


def to_canonical(
    values: Any,
    units: str | Sequence[str] | np.ndarray | pd.Series,
    *,
    marker: str,
    specimen: str | None = None,
    variant: str = "",
) -> CanonicalValues:
    """Convert values of one marker in mixed units to the marker's canonical unit.

    One factor is computed per distinct unit string (cached across calls); the array is
    multiplied once. Values whose unit cannot be read or converted get NaN and a reason in
    ``error``; nothing raises, so an import can report every such row.

    Parameters
    ----------
    values
        Numbers (array-like).
    units
        One unit for all values, or one unit string per value.
    marker
        Catalog id or synonym.
    specimen
        ``"serum"`` or ``"urine"``; ``None`` infers it from the unit.
    variant
        Assay variant (e.g. ``"intact"``) where a molar unit needs one (:data:`MOLAR_VARIANTS`).

    Examples
    --------
    >>> r = to_canonical([50, 0.05], ["ng/mL", "mg/L"], marker="PINP")
    >>> r.value.tolist(), r.unit.tolist()
    ([50.0, 50.0], ['µg/L', 'µg/L'])
    """
    mid = get_marker(marker).id
    vals = np.asarray(values, dtype=float)
    n = vals.shape[0]
    if isinstance(units, str):
        codes = np.zeros(n, dtype=np.intp)
        uniques: Sequence[Any] = [units]
    else:
        codes, uniques = pd.factorize(pd.Series(units, dtype=object), use_na_sentinel=True)
        if len(codes) != n:
            raise ValueError(f"{n} values but {len(codes)} units")
    k = len(uniques)
    factor = np.full(k + 1, np.nan)
    unit_out = np.empty(k + 1, dtype=object)
    spec_out = np.empty(k + 1, dtype=object)
    kind_out = np.empty(k + 1, dtype=object)
    err_out = np.empty(k + 1, dtype=object)
    unit_out[:] = ""
    spec_out[:] = specimen or ""
    kind_out[:] = ""
    err_out[:] = ""
    err_out[k] = "no unit given"  # slot for missing units (code -1)
    for i, u in enumerate(uniques):
        try:
            t = _resolve(mid, str(u), specimen, str(variant or "").strip().lower())
        except (UnitParseError, UnitConversionError) as exc:
            err_out[i] = str(exc)
            continue
        factor[i], unit_out[i], spec_out[i], kind_out[i] = t.factor, t.unit, t.specimen, t.kind
    codes = np.where(codes < 0, k, codes)
    return CanonicalValues(
        value=vals * factor[codes],
        unit=unit_out[codes],
        specimen=spec_out[codes],
        kind=kind_out[codes],
        error=err_out[codes],
    )
