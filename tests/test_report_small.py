"""The plain-Python paths for short columns in the report writer give what the pandas paths give."""

import numpy as np
import pandas as pd
import pytest

from btm.report import _sheetdata as sd
from btm.report._columns import c
from btm.report._writer import Writer, _small_texts

_POOL = ["", "a", "older_adults", "flexibility_balance", "=1+1", "<r>x</r>", "<r>", "Ω & <b>", " pad ", "x" * 20000, "\x01ctl", "1.5"]


def _series(rng, n, dtype):
    na = [None, np.nan, pd.NA]
    vals = [_POOL[rng.integers(len(_POOL))] if rng.random() > 0.2 else na[rng.integers(3)] for _ in range(n)]
    s = pd.Series(vals, dtype=dtype, index=rng.permutation(n) + 7)
    return s


@pytest.mark.parametrize("dtype", [object, "str", "string", "category"])
@pytest.mark.parametrize("plain", [False, True])
def test_small_texts_equal_frame_path(dtype, plain):
    rng = np.random.default_rng(len(str(dtype)) + plain)
    for n in (0, 1, 5, 40, 256):
        s = _series(rng, n, dtype)
        small = _small_texts(s, plain)
        rows, texts = Writer._texts_frame(s, c("k", "k", wrap=True, plain=plain) if plain else c("k", "k"))
        if small is None:  # only for values that are not str or missing
            assert dtype not in (object, "str", "string")
            continue
        assert small[0] == rows.tolist() and small[1] == texts.tolist()


def test_small_texts_declines_other_values():
    assert _small_texts(pd.Series(["a", 1.5, "b"], dtype=object), False) is None
    assert _small_texts(pd.Series([np.str_("a")], dtype=object), False) is None
    assert _small_texts(pd.Series([1, 2]), False) is None


def test_shared_and_factorize_small_equal_large(monkeypatch):
    rng = np.random.default_rng(5)
    for n in (1, 3, 50, 200):
        texts = np.array([_POOL[1 + rng.integers(len(_POOL) - 1)] + ["", "é", "😀" * 9000][rng.integers(3)] for _ in range(n)], dtype=object)
        small_codes, small_uniques = sd._factorize(texts)
        small_keys = sd._shared(texts)
        with monkeypatch.context() as m:
            m.setattr(sd, "_SMALL", -1)
            codes, uniques = sd._factorize(texts)
            keys = sd._shared(texts)
        assert np.array_equal(small_codes, codes) and small_codes.dtype == codes.dtype
        assert small_uniques.tolist() == uniques.tolist()
        assert small_keys.tolist() == keys.tolist()
