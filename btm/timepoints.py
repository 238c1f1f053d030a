"""The order of timepoints: baseline first, then follow-ups.

Order comes from (1) an explicit list (mapping or study file), else (2) numbers in the labels
(``week 0``, ``W12``, ``6 months``, ``V2``, ``day 3``), else (3) the median sample date of each
label. ``pre``/``baseline``/``screening`` sort first, ``mid`` between them and numbered visits,
``post`` after any numbered visit, ``follow-up`` last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ._groupwise import per_unique
from .errors import AnalysisError

__all__ = ["TimepointOrder", "order_timepoints"]

_DAYS = {
    "d": 1, "day": 1, "days": 1, "tag": 1, "tage": 1,
    "w": 7, "wk": 7, "wks": 7, "week": 7, "weeks": 7, "woche": 7, "wochen": 7,
    "m": 30.4375, "mo": 30.4375, "mon": 30.4375, "month": 30.4375, "months": 30.4375, "monat": 30.4375, "monate": 30.4375,
    "y": 365.25, "yr": 365.25, "year": 365.25, "years": 365.25, "jahr": 365.25,
    "h": 1 / 24, "hr": 1 / 24, "hour": 1 / 24, "hours": 1 / 24,
    "min": 1 / 1440, "minute": 1 / 1440, "minutes": 1 / 1440,
}
_VISIT = {"v", "visit", "t", "tp", "time", "timepoint", "session", "s", "visite", "besuch", "phase", "p"}
_FIRST = re.compile(r"^(screen(ing)?|baseline|base|pre|pre[\s_-]?(training|test|intervention|exercise)?|before|bl|t0|vor|prä|prae|start)$")
_MID = re.compile(r"^(mid|midpoint|mid[\s_-]?(training|study|point|term)|interim|halfway|zwischen)$")
_POST = re.compile(r"^(post|post[\s_-]?(training|test|intervention|exercise)?|after|end|end of (study|training)|final|nach|ende)$")
_FOLLOW = re.compile(r"^(follow[\s_-]?up|fu|f/u|retention|detraining|washout)(\s*\d+.*)?$")


@dataclass(frozen=True)
class TimepointOrder:
    """Timepoints in order, the baseline, and how the order was decided."""

    order: tuple[str, ...]
    baseline: str
    basis: str

    @property
    def followups(self) -> tuple[str, ...]:
        return tuple(t for t in self.order if t != self.baseline)

    def rank(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.order)}


def _label_key(label: str) -> tuple[float, float, str] | None:
    """(phase, days or number, "time"/"number"/"") from a label; None when it says nothing about order.

    Labels in other languages and abbreviations (``vor``, ``après``, ``BL``, ``wk12``, ``M6``) are
    read as their canonical visit label first (:func:`btm.io.visits.visit_label`).
    """
    from .io.visits import visit_label

    t = (visit_label(label) or label).strip().casefold()
    if t.startswith("screen"):
        return (-1, 0, "")  # screening comes before the baseline visit
    if _FIRST.match(t):
        return (0, 0, "")
    if _MID.match(t):
        return (1.5, 0, "")
    if _POST.match(t):
        return (3, 0, "")
    if _FOLLOW.match(t):
        m = re.search(r"(\d+(?:[.,]\d+)?)", t)
        return (4, float(m.group(1).replace(",", ".")) if m else 0, "")
    m = re.match(r"^([a-zäöü]*)[\s_.-]*(\d+(?:[.,]\d+)?)[\s_.-]*([a-zäöü]*)$", t)
    if not m:
        return None
    pre, num, post = m.group(1), float(m.group(2).replace(",", ".")), m.group(3)
    for unit in (post, pre):
        if unit in _DAYS:
            return (2, num * _DAYS[unit], "time")
    if pre in _VISIT or (not pre and not post):
        return (2, num, "number")
    return None


def order_timepoints(
    data: pd.DataFrame,
    *,
    explicit: Sequence[str] | None = None,
    baseline: str | None = None,
) -> TimepointOrder:
    """Order the timepoint labels of a tidy table.

    Raises
    ------
    AnalysisError
        When ``baseline`` (or a label of ``explicit``) is not a timepoint of the data.
    """
    labels = [t for t in pd.unique(data["timepoint"].astype(str)) if t != ""]
    if not labels:
        raise AnalysisError("the data has no timepoints (no visit column, sheet names or sample dates)")
    if explicit:
        missing = [t for t in labels if t not in explicit]
        if missing:
            raise AnalysisError(f"timepoint(s) {', '.join(map(repr, missing))} are not in the given order {list(explicit)}")
        order = [t for t in explicit if t in labels]
        basis = "given order"
    else:
        keys = {t: _label_key(t) for t in labels}
        unit_kinds = {k[2] for k in keys.values() if k is not None and k[2]}
        if all(k is not None for k in keys.values()) and len(unit_kinds) <= 1:
            order = sorted(labels, key=lambda t: (keys[t], t))
            basis = "numbers and words in the labels (pre/baseline first, post after numbered visits)"
        elif "sample_date" in data and data["sample_date"].notna().any():
            med = data.assign(_d=pd.to_datetime(data["sample_date"], errors="coerce")).groupby("timepoint")["_d"].median()
            order = sorted(labels, key=lambda t: (pd.isna(med.get(t)), med.get(t) if not pd.isna(med.get(t)) else pd.Timestamp.max, t))
            basis = "median sample date of each timepoint"
        else:
            order = sorted(labels)
            basis = "alphabetical (no numbers in labels and no sample dates: give an order in the study or mapping file)"
    if baseline is not None:
        if baseline not in order:
            raise AnalysisError(f"baseline {baseline!r} is not a timepoint of the data ({', '.join(order)})")
        base = baseline
        basis += f"; baseline {baseline!r} as given"
    else:
        base = _named_baseline(order) or order[0]
        if base != order[0]:
            basis += f"; baseline {base!r} (named so), not the earlier {order[0]!r}"
    return TimepointOrder(tuple(order), base, basis)


def _named_baseline(order: Sequence[str]) -> str | None:
    """The one label that says "baseline" (baseline, BL, Basis, T0 …) when an earlier label is a screening visit."""
    from .io.visits import visit_label

    if not order or not str(visit_label(order[0]) or order[0]).casefold().startswith("screen"):
        return None
    named = [t for t in order if visit_label(t) == "baseline" or str(t).strip().casefold() == "t0"]
    return named[0] if len(named) == 1 else None


#: A timepoint that is a draw date (ISO), not a visit label.
DATE_LABEL = r"^\d{4}-\d{2}-\d{2}$"


def sequence_dates(data: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """When every timepoint is a date (no visit labels), number each subject's samples in date order.

    Returns the table with ``timepoint`` replaced by ``sample 1``, ``sample 2`` … and a note.
    """
    tp = data["timepoint"]
    if len(tp) == 0 or not per_unique(tp, lambda u: u.astype(str).str.match(DATE_LABEL).to_numpy(dtype=bool)).all():
        return data, ""
    out = data.copy()
    dates = pd.to_datetime(tp.astype(str))
    rank = dates.groupby(out["subject_id"]).rank(method="dense").astype(int)
    out["timepoint"] = "sample " + rank.astype(str)
    return out, "no visit labels: each subject's samples are numbered in date order (sample 1 = first draw)"


