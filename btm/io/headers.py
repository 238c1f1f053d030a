"""Header words that are not results, and headers of two rows.

* :func:`derived_reason` says why a column holds a derived value (``% change``, ``Δ``, ``post/pre``,
  ``ratio``, ``mean``, ``SD``, ``z``, ``AUC`` …) rather than a marker result.
* :func:`two_row_header` reads a band row above the header: visits over marker columns
  (``Baseline`` merged over ``PINP | CTX | BALP``, ``After 16 weeks`` over the same markers again),
  or markers over visit columns (``PINP (µg/L)`` merged over ``pre | post``). Band cells are merged
  or repeated; a blank band cell right of a band cell continues it (a merge saved without its
  range). Subject columns may have their header in either row.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from ..markers import _LOINC_PROPERTY, _synonym_index, normalize_name
from .values import cell_text
from .visits import split_visit, visit_label

__all__ = ["DERIVED_WORDS", "TwoRowHeader", "derived_reason", "two_row_header"]

#: Words that make a column a derived value, in English and a few lab languages.
DERIVED_WORDS = frozenset(
    {
        "change", "changes", "chg", "delta", "diff", "difference", "differenz", "differenza", "diferencia", "verschil",
        "ratio", "fold", "mean", "means", "average", "avg", "median", "sd", "sem", "se", "stdev", "std", "z", "zscore",
        "score", "auc", "iauc", "log", "ln", "log10", "lg", "percent", "pct", "rel", "relative", "veranderung",
        "aenderung", "anderung", "variation", "cambio", "variazione", "variacao", "mittelwert", "moyenne", "media",
        "promedio", "gemiddelde", "maximum", "minimum", "iqr", "cv", "slope", "rank", "percentile", "residual",
        "residuals", "sum", "responder", "response", "flag", "category", "tertile", "quartile", "tscore",
        "изменение", "变化", "変化", "変化率",
    }
)
_SYMBOLS = ("%", "Δ", "∆", "‰")
_OPERATOR = re.compile(r"/|−|–|—|÷|→|\bvs\.?\b|\bversus\b|\bminus\b|\bto\b|\s-\s|(?<=\w)-(?=\w)", re.IGNORECASE)


@functools.lru_cache(maxsize=32768)
def derived_reason(header: str) -> str:
    """Why a header names a derived value, or ``""`` when it does not.

    >>> derived_reason("P1NP % change")
    "'%': a derived value, not a result"
    >>> derived_reason("CTX post/pre")
    'compares two visits (post, pre): a derived value, not a result'
    >>> derived_reason("PINP (ng/mL)")
    ''
    """
    text = _LOINC_PROPERTY.sub(" ", str(header)).strip()
    if not text or len(text) > 200:
        return ""
    for sym in _SYMBOLS:
        if sym in text:
            return f"{sym!r}: a derived value, not a result"
    tokens = normalize_name(text).split()
    words = [t for t in tokens if t in DERIVED_WORDS]
    if words:
        if _mentions_marker_or_visit(text, tokens) or all(t in DERIVED_WORDS or t.isdigit() for t in tokens):
            return f"{words[0]!r}: a derived value, not a result"
        return ""
    visits = _visits_in(text)
    if len(visits) >= 2 and _OPERATOR.search(text):
        return f"compares two visits ({', '.join(visits)}): a derived value, not a result"
    markers = _markers_in(tokens)
    if len(markers) >= 2:
        return f"names two markers ({', '.join(sorted(markers))}): a ratio or combination, not a result"
    return ""


def _visits_in(text: str) -> list[str]:
    pieces = [p for p in re.split(r"[\s_/\-−–—:;,()\[\]{}|→÷]+", text) if p]
    found = []
    i = 0
    while i < len(pieces):
        two = " ".join(pieces[i : i + 2])
        if i + 1 < len(pieces) and visit_label(two):
            found.append(visit_label(two))
            i += 2
            continue
        lab = visit_label(pieces[i])
        if lab and not (pieces[i].casefold() == "mid" and i > 0 and pieces[i - 1].casefold() == "n"):
            found.append(lab)
        i += 1
    return found


def _markers_in(tokens: list[str]) -> set[str]:
    """Markers named by runs of 1–4 words, leaving out a name inside a longer name of another marker
    ("ALP" in "Bone ALP" is BALP only)."""
    index = _synonym_index()
    hits = []
    for size in (1, 2, 3, 4):
        for i in range(len(tokens) - size + 1):
            key = "".join(tokens[i : i + size])
            if len(key) >= 2:
                hits.extend((i, i + size, e[0]) for e in index.get(key, ()))
    return {
        m for (a, b, m) in hits
        if not any(m2 != m and a2 <= a and b <= b2 and (b2 - a2) > (b - a) for (a2, b2, m2) in hits)
    }


def _mentions_marker_or_visit(text: str, tokens: list[str]) -> bool:
    return bool(_markers_in(tokens)) or bool(_visits_in(text)) or split_visit(text) is not None


# ---------------------------------------------------------------------------------------------
# two-row headers


@dataclass(frozen=True)
class TwoRowHeader:
    """A header of two rows, read as one: per column, its text, visit and the row it sits in."""

    top: int  # 0-based row of the upper header row
    bottom: int  # 0-based row of the lower header row (data or units follow it)
    texts: list[str]  # per column: the header text to classify (marker part, or the subject header)
    shown: list[str]  # per column: how the column is named in problems and notes ("Baseline · PINP")
    visits: list[str | None]  # per column: the visit label from the band, or None
    kind: str  # "visits over markers" or "markers over visits"


def _texts(row: list[Any], width: int) -> list[str]:
    out = [cell_text(c).strip() if i < len(row) else "" for i, c in enumerate(row[:width])]
    return out + [""] * (width - len(out))


def _filled(texts: list[str], row: int, merged: list[tuple[tuple[int, int], tuple[int, int]]] | None, keep) -> list[str]:
    """Band texts with merged ranges spread over their columns, and blanks continuing the band cell left of them
    while ``keep(j)`` says the column below belongs to a band (a marker or visit column)."""
    out = list(texts)
    for (r0, c0), (r1, c1) in merged or ():
        if r0 <= row <= r1 and c0 < len(out):
            top = texts[c0] if r0 == row else out[c0]
            for c in range(c0, min(c1, len(out) - 1) + 1):
                if not out[c]:
                    out[c] = top
    last = ""
    for j, t in enumerate(out):
        if t:
            last = t
        elif last and keep(j):
            out[j] = last
        else:
            last = ""
    return out


def _visit_of(text: str) -> str | None:
    if not text:
        return None
    lab = visit_label(text)
    if lab:
        return lab
    from .layout import split_header

    name, unit = split_header(text)
    return visit_label(name) if unit else None


def two_row_header(
    rows: list[list[Any]],
    h: int,
    classify,
    merged: list[tuple[tuple[int, int], tuple[int, int]]] | None = None,
) -> TwoRowHeader | None:
    """A two-row header around the header row ``h``, or ``None``.

    ``classify(text)`` is :func:`btm.io.layout.classify_header`.
    """
    width = max((len(r) for r in rows[max(0, h - 1) : h + 2]), default=0)
    if width == 0:
        return None
    here = _texts(rows[h], width)
    roles = [classify(t).role if t else "" for t in here]
    # 1. visits above markers: the band is row h-1
    if h >= 1:
        above = _texts(rows[h - 1], width)
        band = _filled(above, h - 1, merged, lambda j: roles[j] in ("marker", "derived", ""))
        visits = [_visit_of(b) if roles[j] in ("marker", "derived") else None for j, b in enumerate(band)]
        marked = [j for j, r in enumerate(roles) if r == "marker"]
        if marked and sum(visits[j] is not None for j in marked) >= max(1, len(marked) // 2) and any(visits[j] for j in marked):
            texts, shown = [], []
            for j in range(width):
                if roles[j] in ("marker", "derived"):
                    texts.append(here[j])
                    shown.append(f"{band[j]} · {here[j]}" if visits[j] else here[j])
                else:
                    t = here[j] or (above[j] if not visit_label(above[j]) else "")
                    texts.append(t)
                    shown.append(t)
            return TwoRowHeader(h - 1, h, texts, shown, visits, "visits over markers")
    # 2. markers above visits: the band is row h, the visits are row h+1
    if h + 1 < len(rows):
        below = _texts(rows[h + 1], width)
        below_visits = [_visit_of(t) for t in below]
        band = _filled(here, h, merged, lambda j: below_visits[j] is not None)
        band_roles = [classify(b).role if b else "" for b in band]
        cols = [j for j in range(width) if band_roles[j] == "marker" and below_visits[j]]
        if len(cols) >= 2 and len({band[j] for j in cols}) < len(cols):
            texts, shown, visits = [], [], []
            for j in range(width):
                if j in cols:
                    from .layout import split_header

                    _, unit = split_header(below[j])
                    texts.append(f"{band[j]} ({unit})" if unit and not split_header(band[j])[1] else band[j])
                    shown.append(f"{band[j]} · {below[j]}")
                    visits.append(below_visits[j])
                else:
                    t = below[j] or (here[j] if band_roles[j] != "marker" else "")
                    texts.append(t)
                    shown.append(t)
                    visits.append(None)
            return TwoRowHeader(h, h + 1, texts, shown, visits, "markers over visits")
    return None
