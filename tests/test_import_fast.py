"""Fast paths of import: the zip guard's sheet census (every count and finding equals the previous
rule's, whatever the chunking) and the grid of a sheet (the same objects as before)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from btm.io import _xlsx
from btm.io._base import CellIssue, RawSheet
from btm.io._sheet import _grid
from btm.io._xlsx import _C_NO_REF, _ERROR_T, _PREFIXED, _TAIL, SheetCensus, has_formula_tag
from btm.io.layout import ColumnRole, SheetLayout
from btm.io.values import cell_texts


def _old_unusual(window: bytes) -> bool:
    for token in (b"&", b"<!", b"<?"):
        pos, seen = window.find(token), 0
        while pos != -1:
            start, close = window.rfind(b"<v", 0, pos), window.rfind(b"</v>", 0, pos)
            if start > close and window[start + 2 : start + 3] in (b">", b" ", b"\t", b"\n", b"\r"):
                return True
            seen += 1
            if seen > 10_000:
                return True
            pos = window.find(token, pos + 1)
    return False


class _OldCensus(SheetCensus):
    """The census as main b6b01dc took it (the reference)."""

    def feed(self, chunk: bytes, *, narrow: bool = False) -> None:
        tail, window = self._tail, self._tail + chunk

        def count(token: bytes) -> int:
            return window.count(token) - tail.count(token)

        v, is_ = count(b"<v>"), count(b"<is>")
        self.values += v + is_
        if not self.formulas and has_formula_tag(window):
            self.formulas = True
        if not self.errors and (b'"e"' in window or b"'e'" in window) and _ERROR_T.search(window):
            self.errors = True
        if "references, CDATA or comments inside values" not in self.unusual and _old_unusual(window):
            self.unusual.append("references, CDATA or comments inside values")
        if "prefixed or unusually spelled cell elements" not in self.unusual and b":" in window and _PREFIXED.search(window):
            self.unusual.append("prefixed or unusually spelled cell elements")
        if self.plain and (count(b"<v") != v or count(b"<is") != is_ or (not narrow and _C_NO_REF.search(window))):
            self.plain = False
        self._tail = window[-_TAIL:]


_PIECES = [
    b"<v>", b"</v>", b"<v", b"<v ", b"<v/>", b"<is>", b"<is", b"<is/>", b"</is>", b"<i", b"<", b">", b"v", b"is",
    b'"e"', b"'e'", b'"', b"'", b"e", b't="e"', b"t = 'e'", b' t="n"', b"&", b"&amp;", b"<!", b"<![CDATA[", b"<!--",
    b"<?", b"?", b"!", b'<c r="A1">', b'<c r="B2" t="e">', b"<c>", b"<c s=\"1\">", b"</c>", b"<f>", b"<x:f>", b"<x:c ",
    b":v>", b"4", b"12.5", b" ", b"\n", b"\t", b"\x00", b"\xc2\xb5",
]


@st.composite
def _streams(draw):
    data = b"".join(draw(st.lists(st.sampled_from(_PIECES), max_size=120)))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    return data, [c for c in chunks if c] or [data]


def _same(a: SheetCensus, b: SheetCensus) -> None:
    assert (a.values, a.formulas, a.errors, a.unusual, a.plain, a._tail) == (b.values, b.formulas, b.errors, b.unusual, b.plain, b._tail)


@settings(max_examples=400, deadline=None)
@given(_streams(), st.booleans())
def test_census_equals_the_previous_rule(stream, narrow):
    data, chunks = stream
    new, old = SheetCensus(), _OldCensus()
    for c in chunks:
        new.feed(c, narrow=narrow)
        old.feed(c, narrow=narrow)
        _same(new, old)


@settings(max_examples=200, deadline=None)
@given(_streams(), st.integers(0, _TAIL + 8))
def test_counts_at_window_boundaries(stream, start):
    """Tokens cut by the end of the kept tail (start) are counted exactly once."""
    data, _ = stream
    window = b"x" * max(0, start - len(data)) + data  # a tail of any length, tokens across its end
    start = min(start, len(window))
    head = window[:start]
    want = tuple(window.count(t) - head.count(t) for t in (b"<v>", b"<is>", b"<v", b"<is"))
    assert _xlsx._tag_counts(window, start) == want


@given(st.binary(max_size=64), st.lists(st.sampled_from([b'"e"', b"'e'", b'"', b"'", b"e"]), max_size=6))
def test_e_value_test_equals_the_byte_search(noise, pieces):
    window = noise + b"".join(pieces) + noise[::-1]
    assert _xlsx._has_e_value(window) == (b'"e"' in window or b"'e'" in window)


@given(st.lists(st.sampled_from(_PIECES), max_size=60))
def test_unusual_inside_value_equals_the_previous_rule(pieces):
    window = b"".join(pieces)
    assert _xlsx._unusual_inside_value(window) == _old_unusual(window)


def test_a_tail_longer_than_a_chunk_keeps_the_counts():
    data = (b'<c r="A1"><v>1</v></c><c r="A2" t="inlineStr"><is><t>x</t></is></c>' * 400)
    new, old = SheetCensus(), _OldCensus()
    for i in range(0, len(data), 7):
        new.feed(data[i : i + 7])
        old.feed(data[i : i + 7])
    _same(new, old)
    assert new.values == 800


def _old_grid(data: list[list], width: int) -> np.ndarray:
    arr = np.empty((len(data), len(data[0])), dtype=object)
    arr[:] = data
    return arr


_CELLS = st.one_of(
    st.text(max_size=4), st.floats(allow_nan=True), st.integers(), st.booleans(), st.none(), st.dates(), st.datetimes(),
    st.builds(CellIssue, st.text(max_size=3), st.just("Excel error")),
)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6).flatmap(lambda w: st.lists(st.lists(_CELLS, min_size=w, max_size=w), min_size=1, max_size=12)), st.integers(0, 3))
def test_grid_of_a_rectangular_sheet_equals_the_previous_rule(rows, start):
    layout = SheetLayout(header_row=0, units_row=None, data_start=min(start, len(rows) - 1), layout="long",
                         columns=[ColumnRole(index=j, header=str(j), role="") for j in range(len(rows[0]))])
    grid, row_index, n_blank = _grid(RawSheet(source="x", sheet="s", rows=rows), layout)
    want = _old_grid(rows[layout.data_start :], len(rows[0]))
    assert grid.shape == want.shape and grid.dtype == want.dtype and (row_index, n_blank) == (None, 0)
    assert all(a is b for a, b in zip(grid.ravel().tolist(), want.ravel().tolist(), strict=True))


def _old_all_text_strip(arr: np.ndarray) -> np.ndarray:
    """cell_texts(strip=True) of an all-text column as main b6b01dc computed it."""
    out = np.empty(len(arr), dtype=object)
    out[:] = arr
    is_str = np.ones(len(arr), dtype=bool)
    codes, uniques = pd.factorize(out[is_str])
    out[is_str] = np.array([u.strip() for u in uniques], dtype=object)[codes]
    return out


_TEXTS = st.one_of(st.sampled_from(["x", " x", "x ", " ", "", "\t0101\n", "Osteocalcin", "ab"]), st.text(max_size=4),
                   st.builds(CellIssue, st.sampled_from(["#N/A", " #REF! "]), st.just("Excel error")))


@settings(max_examples=200, deadline=None)
@given(st.lists(_TEXTS, min_size=1, max_size=30))
def test_stripped_text_column_equals_the_previous_rule(texts):
    arr = np.empty(len(texts), dtype=object)
    arr[:] = texts
    got, want = cell_texts(arr, strip=True), _old_all_text_strip(arr)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert [(type(x), x) for x in got] == [(type(x), x) for x in want]
    ids = {}  # one object per distinct text, as before
    for g, w in zip(got.tolist(), want.tolist(), strict=True):
        assert ids.setdefault(id(w), id(g)) == id(g)
