"""parse_values over a whole column (distinct texts parsed once) against the same function one cell
at a time: every output array must be the same, whatever the repetition and mix of cells."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from btm.io.values import parse_values

TEXTS = st.one_of(
    st.sampled_from(["45", " 45 ", "45.0", "12,5", "1.234", "1,234", "<50", "> 3", "hemolysed", "", " ", "0", "-3", "1e3", "45 ng/mL",
                     "9999999999999999", "123456789012345", "<LOD", "#N/A", "NaN", "inf", "1 234", "45¹", "0.000"]),
    st.from_regex(r"\s?[0-9]{1,17}(\.[0-9]{0,3})?\s?", fullmatch=True),
    st.text(max_size=6),
)
CELLS = st.one_of(TEXTS, st.floats(allow_nan=True), st.integers(-5, 10**6), st.none())


def _fields(p):
    return [p.value, p.censored, p.status, p.reason, p.raw, p.unit]


@settings(max_examples=300, deadline=None)
@given(st.lists(CELLS, max_size=40), st.sampled_from([None, ".", ","]), st.sampled_from([None, 0.5]))
def test_a_column_parses_as_its_cells_one_by_one(cells, decimal, lod):
    whole = _fields(parse_values(np.array(cells + [None], dtype=object)[:-1], decimal=decimal, lod=lod))
    one = [_fields(parse_values(np.array([c, None], dtype=object)[:1], decimal=decimal, lod=lod)) for c in cells]
    for k, col in enumerate(whole):
        want = np.array([o[k][0] for o in one], dtype=col.dtype) if cells else col[:0]
        if col.dtype.kind == "f":
            np.testing.assert_array_equal(col, want)
        else:
            assert col.tolist() == want.tolist()
