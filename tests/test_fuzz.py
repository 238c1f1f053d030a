"""A bounded fuzzing pass over the text parsers (run longer by hand: python tests/fuzz_parsers.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("fuzz_parsers", Path(__file__).with_name("fuzz_parsers.py"))
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bounded_fuzz_pass(seed):
    n = fuzz.run(seconds=3.0, seed=seed, max_inputs=4000)
    assert n > 100  # the pass really ran


@pytest.mark.parametrize(
    "text",
    ["", " ", "<", "<<1", "1..2", "1,2,3", "≥", "\x00", "1e999", "1e-999", "-0", "+0", "0,000", "nan", "inf", "nM BCE/", "/", "µ", "BCE BCE",
     "03/04/26", "31/02/2026", "00/00/0000", "9999-99-99", "=1+1", "@SUM(A1)", "Ⅻ", "١٢٣", "𝟙𝟚"],
)
def test_known_edge_inputs(text):
    for target in fuzz.TARGETS.values():
        try:
            target(text)
        except (fuzz.UnitParseError, fuzz.UnitConversionError):
            pass
