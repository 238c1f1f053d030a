"""Fast paths of header classification against the full rules they skip."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from btm.io.layout import _PLAIN_NUMBER, HeaderClass, _classify, classify_header

NUMBERS = st.one_of(
    st.from_regex(_PLAIN_NUMBER, fullmatch=True),
    st.integers(-10**12, 10**12).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.3f}"),
    st.floats(0, 1e5, allow_nan=False).map(lambda x: f"{x:.2f}".replace(".", ",")),
)


@settings(max_examples=500, deadline=None)
@given(NUMBERS)
def test_a_plain_number_classifies_as_nothing_by_the_full_rules(text):
    assert _PLAIN_NUMBER.fullmatch(text)
    assert _classify(text) == HeaderClass("") == classify_header(text)


def test_numbers_with_words_or_units_are_still_classified():
    assert classify_header("PINP (µg/L)").role == "marker"
    assert _PLAIN_NUMBER.fullmatch("12 PINP") is None and _PLAIN_NUMBER.fullmatch("1e5") is None
