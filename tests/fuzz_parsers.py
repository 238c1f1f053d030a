"""Fuzzing entry point for btm's text parsers: cell values, units, headers, dates.

Each target takes one input and checks the parser's contract (never an exception other than the
documented ones, and a well-formed result). Inputs come from a seeded generator that mixes lab-like
fragments (digits, separators, comparators, unit words, µ/μ, Greek letters) with arbitrary
Unicode, so that near-misses of valid input are common.

CI runs a bounded pass through ``tests/test_fuzz.py``; run longer by hand::

    python tests/fuzz_parsers.py --seconds 600 [--seed 7]

With atheris installed (``pip install atheris``), ``--atheris`` runs coverage-guided fuzzing of the
same targets instead.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable

from btm.errors import UnitConversionError, UnitParseError
from btm.io.fields import parse_dates
from btm.io.layout import classify_header, split_header
from btm.io.values import BLANK, OK, REJECTED, parse_values
from btm.markers import match_marker
from btm.units import parse_unit, to_canonical

FRAGMENTS = [
    "0", "1", "12", "0.5", "12,5", "1,234", "1.234,5", "1 234", "1e3", "-", "+", ".", ",", "<", ">", "≤", "≥", "<=", ">=",
    " ", "  ", "\t", "\u00a0", "LOD", "LLOQ", "n/a", "QNS", "hemolysed", "#N/A", "#DIV/0!", "=", "@", "'", '"',
    "ng/mL", "µg/L", "μg/L", "ug/l", "mcg/L", "pg/mL", "nmol", "BCE", "nM BCE", "/mmol Cr", "creatinine", "U/L", "IU", "µkat",
    "kat", "mol", "g", "L", "M", "m", "/", "//", "(", ")", "[", "]", "PINP", "P1NP", "CTX", "β", "beta", "CrossLaps", "OC",
    "N-MID", "total", "intact", "serum", "urine", "03/04/2026", "2026-02-03", "14.02.26", "31/12/1899", "Feb", "07:45",
    "\x00", "\r", "\n", "𝟙", "٣", "Ⅻ", "ﬁ", "e", "E", "inf", "nan", "NaN", "Infinity", "0x1A", "1_000",
]


def generate(rng: random.Random) -> str:
    mode = rng.random()
    if mode < 0.7:
        return "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 6)))
    if mode < 0.9:
        return "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(0, 12)))
    return "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(0, 8))).encode("utf-8", "replace").decode("utf-8", "replace")


def target_value(text: str) -> None:
    for decimal in (None, ".", ","):
        p = parse_values([text, float(len(text)) - 3.0], decimal=decimal, lod=5.0)
        for k in range(2):
            st = int(p.status[k])
            assert st in (OK, BLANK, REJECTED)
            if st == OK:
                assert math.isfinite(p.value[k]) and p.value[k] > 0, (text, p.value[k])
                assert p.censored[k] in ("", "<", ">")
            elif st == REJECTED:
                assert p.reason[k], text
                assert math.isnan(p.value[k])
            else:
                assert math.isnan(p.value[k]) and p.reason[k] == ""


def target_unit(text: str) -> None:
    try:
        parsed = parse_unit(text)
    except UnitParseError:
        parsed = None
    if parsed is not None:
        assert parsed.kind in {"mass", "molar", "activity", "bce", "bce_per_creatinine", "per_creatinine", "mass_per_creatinine"}
    for marker in ("PINP", "CTX1", "NTX", "PYD", "BALP"):
        r = to_canonical([1.0], [text], marker=marker)
        assert (r.error[0] == "") == math.isfinite(r.value[0])
        if r.error[0] == "":
            assert r.value[0] > 0 and r.unit[0]


def target_header(text: str) -> None:
    name, unit = split_header(text)
    assert isinstance(name, str) and isinstance(unit, str)
    hc = classify_header(text)
    assert hc.role in {"", "marker", "ignore", "time"} or hc.role.islower()
    m = match_marker(text)
    assert m is None or m.marker in {"PINP", "CTX1", "BALP", "OCN", "NTX", "TRAP5B", "PYD", "DPD", "ALP"}


def target_date(text: str) -> None:
    for dayfirst in (None, True, False):
        d = parse_dates([text], dayfirst=dayfirst)
        assert len(d.date) == 1 and len(d.time) == 1
        for _, _raw, reason in d.problems:
            assert reason  # unreadable or ambiguous text is reported, never guessed


TARGETS: dict[str, Callable[[str], None]] = {"value": target_value, "unit": target_unit, "header": target_header, "date": target_date}


def run(seconds: float, seed: int = 0, *, max_inputs: int | None = None) -> int:
    """Run every target on generated inputs for ``seconds``; return the number of inputs tried."""
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline and (max_inputs is None or n < max_inputs):
        text = generate(rng)
        for name, target in TARGETS.items():
            try:
                target(text)
            except (UnitParseError, UnitConversionError) as exc:  # documented errors are fine
                assert str(exc)
            except Exception as exc:
                raise AssertionError(f"fuzz target {name!r} failed on {text!r}: {type(exc).__name__}: {exc}") from exc
        n += 1
    return n


def _atheris(seconds: float) -> None:
    import atheris  # type: ignore[import-not-found]

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        text = fdp.ConsumeUnicodeNoSurrogates(64)
        for target in TARGETS.values():
            try:
                target(text)
            except (UnitParseError, UnitConversionError):
                pass

    atheris.Setup([sys.argv[0], f"-max_total_time={int(seconds)}"], one)
    atheris.Fuzz()


def main() -> None:
    ap = argparse.ArgumentParser(description="Fuzz btm's cell, unit, header and date parsers.")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--atheris", action="store_true", help="coverage-guided fuzzing with atheris (must be installed)")
    args = ap.parse_args()
    if args.atheris:
        _atheris(args.seconds)
        return
    n = run(args.seconds, args.seed)
    print(f"{n} inputs, {len(TARGETS)} targets, no contract violation ({args.seconds:g} s, seed {args.seed})")


if __name__ == "__main__":
    main()
