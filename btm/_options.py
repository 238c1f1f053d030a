"""The options of an analysis, validated once where they enter.

This module is deliberately light (no pandas, numpy or scipy). The allowed values live in
:mod:`btm._choices` (lighter still: the command line's parser builds its ``choices`` from the same
constants the :class:`AnalysisOptions` dataclass checks against, and ``btm --help`` must not pay for
the scientific stack, nor for dataclasses).

The library names parameters (``control=``, ``test=``); only the command line names flags
(``--control``, ``--test``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._choices import ADJUST_CHOICES, BETWEEN_CHOICES, RCV_CHOICES, TEST_CHOICES
from .errors import OptionError

__all__ = ["ADJUST_CHOICES", "BETWEEN_CHOICES", "RCV_CHOICES", "TEST_CHOICES", "AnalysisOptions"]

_CHOICES = {"test": TEST_CHOICES, "adjust": ADJUST_CHOICES, "between": BETWEEN_CHOICES, "rcv": RCV_CHOICES}


def _text_tuple(name: str, value: Any) -> tuple[str, ...]:
    """A list of labels or paths; a bare string is refused (it would be split into letters)."""
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise OptionError(name, value, reason=f"must be a list of texts, not a {type(value).__name__}")
    out = tuple(str(v) for v in value)
    if any(not v.strip() for v in out):
        raise OptionError(name, list(out), reason="has an empty entry")
    return out


def _optional_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise OptionError(name, value, reason=f"must be a text, not a {type(value).__name__}")
    return value


@dataclass(frozen=True)
class AnalysisOptions:
    """Options of an analysis; every one is optional and the defaults suit a typical trial.

    The values are checked when the object is made (an invalid one raises
    :class:`~btm.errors.OptionError` naming the parameter and the allowed values); change one
    with :func:`dataclasses.replace`, which checks again.

    Parameters
    ----------
    control
        Label of the control arm (default: the arm whose label says control, CON, usual care).
    baseline
        Label of the baseline timepoint (default: the first timepoint in order).
    timepoint_order
        Timepoint labels in order (default: detected from the labels or the sample dates).
    test
        Paired test within arms: one of :data:`TEST_CHOICES`.
    adjust
        p-value adjustment across markers: one of :data:`ADJUST_CHOICES`.
    between
        Each arm against control: one of :data:`BETWEEN_CHOICES`.
    rcv
        Individual change criterion: one of :data:`RCV_CHOICES`.
    ranges
        Your lab's reference-interval files (CSV; they take precedence).
    biovar
        Your own biological-variation file (CSV).
    arm_types
        Exercise type of each arm label (default: from the label), e.g. ``{"Tai Chi": "flexibility_balance"}``.
    population
        Population of every arm for the evidence comparison (default: from the subjects).
    condition
        Clinical condition of the trial's subjects (one of ``btm.evidence.CONDITIONS``) for the
        evidence comparison; ``None``: a healthy population.
    keep_implausible
        Include values flagged ``UNIT_MAGNITUDE`` (about 1000x outside every published interval:
        a unit error) in the arm statistics; by default they are left out and counted in
        ``n_other_excluded``.
    """

    control: str | None = None
    baseline: str | None = None
    timepoint_order: tuple[str, ...] = ()
    test: str = "t"
    adjust: str = "holm"
    between: str = "ancova"
    rcv: str = "lognormal"
    ranges: tuple[str, ...] = ()
    biovar: str | None = None
    arm_types: Mapping[str, str] = field(default_factory=dict)
    population: str | None = None
    condition: str | None = None
    keep_implausible: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.keep_implausible, bool):
            raise OptionError("keep_implausible", self.keep_implausible, reason="must be true or false")
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise OptionError(name, value, allowed)
        for name in ("control", "baseline", "biovar", "population", "condition"):
            object.__setattr__(self, name, _optional_text(name, getattr(self, name)) or None)
        object.__setattr__(self, "timepoint_order", _text_tuple("timepoint_order", self.timepoint_order))
        object.__setattr__(self, "ranges", _text_tuple("ranges", self.ranges))
        if not isinstance(self.arm_types, Mapping):
            raise OptionError("arm_types", self.arm_types, reason="must map arm labels to exercise types")
        arm_types = {str(k): str(v) for k, v in self.arm_types.items()}
        from .evidence import CONDITIONS, EXERCISE_TYPES, POPULATIONS  # the allowed values live with the evidence table

        for arm, kind in arm_types.items():
            if kind not in EXERCISE_TYPES:
                raise OptionError(f"arm_types[{arm!r}]", kind, EXERCISE_TYPES, f"exercise type must be one of {', '.join(EXERCISE_TYPES)}")
        object.__setattr__(self, "arm_types", arm_types)
        if self.population is not None and self.population not in POPULATIONS:
            raise OptionError("population", self.population, POPULATIONS)
        if self.condition is not None and self.condition not in CONDITIONS:
            raise OptionError("condition", self.condition, CONDITIONS)

    def describe(self) -> dict[str, str]:
        """The options in words (for run_info.txt and the report's Methods sheet)."""
        return {
            "control": self.control or "(detected)",
            "baseline": self.baseline or "(first timepoint)",
            "timepoint order": ", ".join(self.timepoint_order) or "(detected)",
            "paired test": self.test,
            "p adjustment": self.adjust,
            "between-arm method": self.between,
            "change criterion": "log-normal RCV" if self.rcv == "lognormal" else "symmetric LSC",
            "user reference intervals": ", ".join(self.ranges) or "(none)",
            "user biological variation": self.biovar or "(none)",
            "arm exercise types": ", ".join(f"{k}={v}" for k, v in self.arm_types.items()) or "(from labels)",
            "population": self.population or "(from subjects)",
            "clinical condition": self.condition or "(none)",
            "values flagged UNIT_MAGNITUDE": "included (--keep-implausible)" if self.keep_implausible else "left out of the arm statistics",
        }
