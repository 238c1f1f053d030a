"""Cell values: text and numbers from spreadsheets -> number, censoring, or a reason.

Every cell ends in exactly one of three states:

* ``OK``: a number (``value``), maybe censored (``censored`` is ``"<"`` or ``">"``, the value is
  then the limit), maybe with a unit written in the cell (``unit``);
* ``BLANK``: nothing there (empty cell, spaces);
* ``REJECTED``: anything else, with the reason.

Rules (the parser never guesses; it rejects instead):

* Numbers: ``45``, ``45.3``, ``45,3`` (decimal comma), ``1,234.5`` / ``1.234,5`` / ``1 234,5``
  (thousands separators), ``4.5e2``; numbers stored as text, with spaces around.
* A single separator followed by exactly three digits (``1,234`` or ``1.234``) reads two ways. It
  is read by the ``decimal`` mark in force (``"."`` or ``","``): detected per file or sheet by
  :func:`detect_decimal`, or given by the user. With no decimal mark known, ``1.234`` is read with
  the decimal point and ``1,234`` is rejected as ambiguous.
* ``<0.01``, ``< 0.01``, ``≤0.01``, ``<=0.01`` are left-censored at 0.01; ``>1500``, ``≥1500``
  are right-censored at 1500.
* ``<LOD``, ``<LLOQ``, ``below detection limit`` … are left-censored at the limit given for the
  marker (``lod``), else rejected: the limit is unknown.
* Negative numbers, zero, infinities, dates, booleans and Excel errors are rejected: none is a
  concentration.
* Any other text (``hemolysed``, ``QNS``, ``n/a``, ``see comment``, ``cancelled``, typos such as
  ``4o.2``) is rejected with the text in the reason.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import unicodedata
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from ._base import CellIssue

__all__ = [
    "BLANK",
    "OK",
    "REJECTED",
    "ParsedValues",
    "cell_text",
    "cell_texts",
    "detect_decimal",
    "empty_texts",
    "parse_cell",
    "parse_values",
]

OK, BLANK, REJECTED = 0, 1, 2

_CMP = {"<": "<", "<=": "<", "=<": "<", "≤": "<", "⩽": "<", ">": ">", ">=": ">", "=>": ">", "≥": ">", "⩾": ">"}
_VALUE_RE = re.compile(
    r"^(?P<cmp><=|>=|=<|=>|<|>|≤|≥|⩽|⩾)?\s*"
    r"(?P<num>[+-]?(?:[0-9][0-9.,'\u00a0\u202f ]*[0-9]|[0-9])(?:[eE][+-]?[0-9]+)?|[+-]?[.,][0-9]+)"
    r"\s*(?P<unit>[^0-9\s<>=.,+-].*)?$"
)
# at most 15 integer digits: pd.to_numeric reads longer digit runs as Python ints, which overflow
# float (or exceed int's digit limit) and raise; they take the general path (rejected as infinite).
# With a decimal comma a point groups thousands (1.015 is 1015): only whole numbers take the fast path.
_SIMPLE_NUMBER = r"^\s*[0-9]{1,15}(?:\.[0-9]+)?\s*$"
_SIMPLE_INTEGER = r"^\s*[0-9]{1,15}\s*$"
_LOD_RE = re.compile(
    r"^(?:(?:<|<=|≤|less than|below)\s*(?:the\s+)?)?"
    r"(?:lod|lloq|loq|llq|dl|mdl|lld|detection limit|limit of detection|limit of quantitation|"
    r"limit of quantification|detection|quantitation limit|"
    r"not detected|undetectable|non detectable|nondetectable|bld|blq|below lod|below loq)\.?$"
)
_EXCEL_ERRORS = {"#div/0!", "#n/a", "#name?", "#null!", "#num!", "#ref!", "#value!", "#getting_data", "#spill!", "#calc!"}
_THOUSANDS_COMMA = re.compile(r"^[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?$")
_THOUSANDS_DOT = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?$")
_THOUSANDS_SPACE = re.compile(r"^[0-9]{1,3}(?:[ '\u00a0\u202f][0-9]{3})+(?:[.,][0-9]+)?$")


# type -> kind: 0 empty, 1 float (formatted by value), 2 other number, 3 text, 9 anything else
_TYPE_CODES = {type(None): 0, float: 1, np.float64: 1, np.float32: 2, int: 2, np.int64: 2, np.int32: 2, str: 3}


@dataclass
class ParsedValues:
    """Arrays aligned with the input cells (see the module docstring for the states)."""

    value: np.ndarray  # float64, NaN unless OK
    censored: np.ndarray  # object: "", "<", ">"
    status: np.ndarray  # int8: OK, BLANK, REJECTED
    reason: np.ndarray  # object: "" unless REJECTED
    raw: np.ndarray  # object: the cell as text ("" for empty)
    unit: np.ndarray  # object: unit text found inside the cell, or ""


def cell_text(cell: Any) -> str:
    """A cell as the text a person would read (numbers without float noise)."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float):
        if math.isnan(cell):
            return ""
        return str(int(cell)) if cell.is_integer() and abs(cell) < 1e16 else repr(float(cell))  # np.float64 reprs as "np.float64(…)"
    if isinstance(cell, _dt.datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, _dt.date | _dt.time):
        return cell.isoformat()
    return str(cell)


def empty_texts(n: int) -> np.ndarray:
    """``np.full(n, "", dtype=object)``, three times faster (fill() on an empty object array)."""
    out = np.empty(n, dtype=object)
    out.fill("")
    return out


def cell_texts(cells: Any, *, strip: bool = False) -> np.ndarray:
    """``[cell_text(c) for c in cells]`` as an object array, fast for columns of a sheet.

    Text is taken as it is and floats are formatted once per distinct value (lab columns repeat
    values a lot); other cells go through :func:`cell_text` one by one. ``strip`` strips the
    text, once per distinct string.
    """
    arr = np.asarray(cells, dtype=object).reshape(-1)
    n = arr.shape[0]
    out = empty_texts(n)
    if n == 0:
        return out
    if pd.api.types.infer_dtype(arr, skipna=False) == "string":  # all text (a fast C check)
        if strip:  # (what the general path below gives, without its masks)
            codes, uniques = pd.factorize(arr)
            return np.array([u.strip() for u in uniques], dtype=object)[codes]
        out[:] = arr
        is_str = np.ones(n, dtype=bool)
    else:
        kinds = np.fromiter(map(_TEXT_KINDS.get, map(type, arr), repeat(9)), dtype=np.int8, count=n)
        is_str = kinds == 3
        out[is_str] = arr[is_str]
        out[~is_str] = _number_texts(arr[~is_str], kinds[~is_str])
    if strip and is_str.any():
        codes, uniques = pd.factorize(out[is_str])
        out[is_str] = np.array([u.strip() for u in uniques], dtype=object)[codes]
    return out


# type -> kind for cell_texts: 0 empty, 1 a float formatted by value, 3 text, 9 anything else
_TEXT_KINDS = {type(None): 0, float: 1, np.float64: 1, str: 3}


def _number_texts(arr: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """cell_text of cells that are not text: floats (kind 1) once per distinct value, the rest one by one."""
    out = empty_texts(arr.shape[0])
    fl = np.flatnonzero(kinds == 1)
    if fl.size:
        codes, uniques = pd.factorize(arr[fl].astype(float), use_na_sentinel=True)
        texts = np.array([cell_text(float(u)) for u in uniques] + [""], dtype=object)
        out[fl] = texts[codes]  # code -1 (NaN) takes the "" at the end
    for i in np.flatnonzero((kinds != 1) & (kinds != 0)):
        out[i] = cell_text(arr[i])
    return out


def _footnote_mark(s: str) -> str | None:
    """A character that is a number but not a digit (superscript ¹, subscript ₂, ½, ①): NFKC
    would turn ``45¹`` into 451, so a cell holding one is rejected, never read as another number."""
    if s.isascii():
        return None
    return next((ch for ch in s if unicodedata.category(ch) == "No"), None)


def _normalise_text(s: str) -> str:
    s = unicodedata.normalize("NFKC", s)
    return s.replace("\u2212", "-").replace("\u2013", "-").strip()


def detect_decimal(cells: Any) -> str | None:
    """The decimal mark that text numbers in ``cells`` use: ``"."``, ``","`` or ``None``.

    Only unambiguous forms count (``12,5`` or ``0,412`` for a comma; ``12.5`` for a point); a
    separator followed by exactly three digits could be either and is ignored. ``None`` when
    there is no evidence or the evidence conflicts.
    """
    s = pd.Series(cells, dtype=object)
    s = s[s.map(lambda x: isinstance(x, str))].astype(str)
    if s.empty:
        return None
    s = s.str.strip().str.lstrip("<>=≤≥ ")
    comma = s.str.fullmatch(r"[0-9]+,(?:[0-9]{1,2}|[0-9]{4,})|0,[0-9]+|[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+").sum()
    point = s.str.fullmatch(r"[0-9]+\.(?:[0-9]{1,2}|[0-9]{4,})|0\.[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+").sum()
    if comma and not point:
        return ","
    if point and not comma:
        return "."
    return None


def _number(num: str, decimal: str | None) -> tuple[float | None, str]:
    """Read the digits and separators of one number: (value, "") or (None, reason)."""
    sign = ""
    if num[0] in "+-":
        sign, num = num[0], num[1:]
    mantissa, exp = num, ""
    m = re.match(r"^(.*?)([eE][+-]?[0-9]+)$", num)
    if m:
        mantissa, exp = m.group(1), m.group(2)
    if any(c in mantissa for c in " '\u00a0\u202f"):
        if not _THOUSANDS_SPACE.match(mantissa):
            return None, "spaces inside a number"
        mantissa = re.sub(r"[ '\u00a0\u202f]", "", mantissa)
    has_dot, has_comma = "." in mantissa, "," in mantissa
    if has_dot and has_comma:
        if mantissa.rfind(".") > mantissa.rfind(","):
            if not _THOUSANDS_COMMA.match(mantissa):
                return None, "misplaced separators"
            mantissa = mantissa.replace(",", "")
        else:
            if not _THOUSANDS_DOT.match(mantissa):
                return None, "misplaced separators"
            mantissa = mantissa.replace(".", "").replace(",", ".")
    elif has_comma or has_dot:
        sep = "," if has_comma else "."
        parts = mantissa.split(sep)
        if len(parts) > 2:
            pattern = _THOUSANDS_COMMA if sep == "," else _THOUSANDS_DOT
            if not pattern.match(mantissa):
                return None, "misplaced separators"
            mantissa = mantissa.replace(sep, "")
        else:
            whole, frac = parts
            if frac == "":
                return None, "nothing after the decimal separator"
            three = len(frac) == 3 and whole not in ("", "0") and len(whole) <= 3
            if three and decimal != sep:
                if decimal is None and sep == ",":
                    return None, (
                        "ambiguous number: ',' may be a decimal or a thousands separator; "
                        "set the decimal mark (--decimal or the mapping)"
                    )
                if decimal is not None:  # the other mark is the decimal: this one groups thousands
                    mantissa = whole + frac
                else:
                    mantissa = whole + "." + frac
            else:
                mantissa = whole + "." + frac
    try:
        return float(sign + mantissa + exp), ""
    except ValueError:
        return None, "not a number"


def _parse_text(text: str, decimal: str | None, lod: float | None) -> tuple[int, float, str, str, str]:
    """(status, value, censored, reason, unit) of one text cell."""
    mark = _footnote_mark(text)
    if mark is not None:
        return REJECTED, math.nan, "", f"footnote or superscript mark {mark!r} in the value (it is not a digit; read as one it would change the number): {text.strip()!r}", ""
    s = _normalise_text(text)
    if not s:
        return BLANK, math.nan, "", "", ""
    low = s.casefold()
    if low in _EXCEL_ERRORS:
        return REJECTED, math.nan, "", f"Excel error {s}", ""
    if _LOD_RE.match(low):
        if lod is not None:
            return OK, float(lod), "<", "", ""
        return REJECTED, math.nan, "", f"below the detection limit but no limit is known ({s!r}); give the limit (lod) in the mapping", ""
    m = _VALUE_RE.match(s)
    if not m:
        return REJECTED, math.nan, "", f"not a number: {s!r}", ""
    value, why = _number(m.group("num"), decimal)
    if value is None:
        return REJECTED, math.nan, "", f"{why}: {s!r}", ""
    unit = (m.group("unit") or "").strip()
    if unit and not _is_unit(unit):
        return REJECTED, math.nan, "", f"not a number: {s!r}", ""
    censored = _CMP.get(m.group("cmp") or "", "")
    status, reason = _check_value(value)
    if status != OK:
        return status, math.nan, "", f"{reason}: {s!r}", ""
    return OK, value, censored, "", unit


def _is_unit(text: str) -> bool:
    from ..errors import UnitParseError
    from ..units import parse_unit

    try:
        parse_unit(text)
    except UnitParseError:
        return False
    return True


def _check_value(v: float) -> tuple[int, str]:
    if math.isnan(v):
        return REJECTED, "not a number"
    if math.isinf(v):
        return REJECTED, "infinite value"
    if v < 0:
        return REJECTED, "negative value (a concentration cannot be negative)"
    if v == 0:
        return REJECTED, "zero (not a measurable concentration; report '<limit' instead)"
    return OK, ""


def parse_values(cells: Any, *, decimal: str | None = None, lod: float | None = None) -> ParsedValues:
    """Parse a column of cells (numbers, text, dates, empty) in one pass.

    Numeric cells take a vectorised path; text takes one regular expression per distinct text
    (texts repeat a lot in lab exports, so distinct texts are parsed once).

    Parameters
    ----------
    cells
        1-D sequence of cell values as a spreadsheet reader returns them.
    decimal
        ``"."``, ``","`` or ``None`` (see module docstring).
    lod
        Limit of detection for ``<LOD``-style texts, in the column's unit.
    """
    arr = np.asarray(cells, dtype=object)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    n = arr.shape[0]
    value = np.full(n, np.nan)
    censored = empty_texts(n)
    status = np.full(n, BLANK, dtype=np.int8)
    reason = empty_texts(n)
    raw = empty_texts(n)
    unit = empty_texts(n)
    if n == 0:
        return ParsedValues(value, censored, status, reason, raw, unit)

    kinds = np.fromiter(map(_TYPE_CODES.get, map(type, arr), repeat(9)), dtype=np.int8, count=n)
    is_float = kinds == 1
    is_int = kinds == 2
    is_str = kinds == 3
    is_none = kinds == 0

    # numbers
    num_idx = np.flatnonzero(is_float | is_int)
    if num_idx.size:
        v = arr[num_idx].astype(float)
        nan = np.isnan(v)
        value[num_idx] = v
        status[num_idx] = np.where(nan, BLANK, OK)
        bad = ~nan & (~np.isfinite(v) | (v <= 0))
        for i, x in zip(num_idx[bad], v[bad], strict=True):
            _, why = _check_value(float(x))
            status[i], reason[i], value[i] = REJECTED, why, np.nan
        raw[num_idx[~nan]] = _number_texts(arr[num_idx[~nan]], kinds[num_idx[~nan]])  # ints as written, not via float

    # text: each distinct text looked at once (a column of a text file repeats its values a lot)
    str_idx = np.flatnonzero(is_str)
    if str_idx.size:
        texts = arr[str_idx]
        raw[str_idx] = texts
        codes, uniques = pd.factorize(texts)
        utexts = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
        usimple = utexts.str.match(_SIMPLE_INTEGER if decimal == "," else _SIMPLE_NUMBER).to_numpy(dtype=bool)
        simple = usimple[codes]
        if simple.any():
            uvalue = np.full(len(utexts), np.nan)
            uvalue[usimple] = pd.to_numeric(utexts[usimple].str.strip()).to_numpy(dtype=float)
            sv = uvalue[codes[simple]]
            idx = str_idx[simple]
            ok = np.isfinite(sv) & (sv > 0)
            value[idx[ok]] = sv[ok]
            status[idx[ok]] = OK
            for i, x in zip(idx[~ok], sv[~ok], strict=True):
                status[i], reason[i] = REJECTED, f"{_check_value(float(x))[1]}: {arr[i]!r}"
        if not simple.all():
            rest, rcodes = str_idx[~simple], codes[~simple]
            need = np.unique(rcodes)
            parsed = [_parse_text(u, decimal, lod) for u in utexts.to_numpy()[need]]
            at = np.zeros(len(utexts), dtype=np.intp)
            at[need] = np.arange(len(need))
            k = at[rcodes]
            status[rest] = np.array([p[0] for p in parsed], dtype=np.int8)[k]
            value[rest] = np.array([p[1] for p in parsed], dtype=float)[k]
            censored[rest] = np.array([p[2] for p in parsed], dtype=object)[k]
            reason[rest] = np.array([p[3] for p in parsed], dtype=object)[k]
            unit[rest] = np.array([p[4] for p in parsed], dtype=object)[k]

    # everything else: dates, times, booleans, errors, other objects
    other = np.flatnonzero(~(is_float | is_int | is_str | is_none))
    for i in other:
        cell = arr[i]
        raw[i] = cell_text(cell)
        if isinstance(cell, CellIssue):  # the reader could not take the cell as one value (an error cell …)
            status[i], reason[i], raw[i] = REJECTED, cell.reason, str(cell)
        elif isinstance(cell, bool | np.bool_):
            status[i], reason[i] = REJECTED, f"a logical value, not a number: {raw[i]}"
        elif isinstance(cell, _dt.date | _dt.time | _dt.timedelta | pd.Timestamp):
            status[i], reason[i] = REJECTED, f"a date or time, not a number: {raw[i]}"
        elif raw[i] == "":
            status[i] = BLANK
        else:  # e.g. an Excel error object from the reader
            text = raw[i]
            st, v, c, why, u = _parse_text(text, decimal, lod)
            status[i], value[i], censored[i], reason[i], unit[i] = st, v, c, why or f"not a number: {text!r}", u
    return ParsedValues(value, censored, status, reason, raw, unit)


def parse_cell(cell: Any, *, decimal: str | None = None, lod: float | None = None) -> tuple[int, float, str, str]:
    """Parse one cell: ``(status, value, censored, reason)``. Convenience over :func:`parse_values`."""
    p = parse_values([cell], decimal=decimal, lod=lod)
    return int(p.status[0]), float(p.value[0]), str(p.censored[0]), str(p.reason[0])
