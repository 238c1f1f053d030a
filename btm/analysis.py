"""The analysis of an exercise trial, end to end: interpret -> change -> statistics -> evidence.

:func:`analyze` takes a tidy table (from :func:`btm.read_results`) and returns every result
table as a DataFrame; :func:`run_study` does the same from a study file (TOML) that names the
inputs, the arms' exercise types, the control arm, the baseline and the statistical options, so
that an analysis can be rerun exactly.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .change import CHANGE_COLUMNS, changes, rcv_limits
from .errors import AnalysisError, MappingError
from .evidence import (
    CONDITIONS,
    EXERCISE_TYPES,
    POPULATIONS,
    arm_population,
    compare_with_evidence,
    detect_control,
    exercise_type_of,
)
from .interpret import RATIOS, interpret
from .ranges import load_biovariation
from .stats import between_groups, cohort_stats, mixed_model_tests
from .timepoints import TimepointOrder, order_timepoints, sequence_dates

__all__ = ["AnalysisOptions", "AnalysisResult", "analyze", "load_study", "run_study", "study_toml"]


@dataclass
class AnalysisOptions:
    """Options of an analysis (all optional; defaults do the right thing for a typical trial)."""

    control: str | None = None
    baseline: str | None = None
    timepoint_order: list[str] = field(default_factory=list)
    test: str = "t"  # "t" or "wilcoxon"
    adjust: str = "holm"  # "holm" or "bh"
    between: str = "ancova"  # "ancova", "welch" or "mannwhitney"
    rcv: str = "lognormal"  # "lognormal" or "lsc"
    ranges: list[str] = field(default_factory=list)
    biovar: str | None = None
    arm_types: dict[str, str] = field(default_factory=dict)
    population: str | None = None
    condition: str | None = None  # clinical condition of the trial's subjects (btm.evidence.CONDITIONS); None = none

    def describe(self) -> dict[str, str]:
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
        }


@dataclass
class AnalysisResult:
    """Every table of an analysis, as DataFrames (columns documented in README)."""

    results: pd.DataFrame
    balance: pd.DataFrame
    changes: pd.DataFrame
    cohort: pd.DataFrame
    between: pd.DataFrame
    evidence: pd.DataFrame
    order: TimepointOrder
    control: str | None
    arm_types: dict[str, str]
    populations: dict[str, tuple[str, str]]
    options: AnalysisOptions
    notes: list[str] = field(default_factory=list)


def _ratio_changes(balance: pd.DataFrame, order: TimepointOrder) -> pd.DataFrame:
    """Per-subject change of the exercise-study ratios, in the changes-table columns."""
    frames = []
    base = balance[balance["timepoint"] == order.baseline]
    for name in RATIOS:
        col = f"ratio_{name}"
        b = base[["subject_id", "group", col]].dropna().rename(columns={col: "value_from"})
        for tp in order.followups:
            f = balance[balance["timepoint"] == tp][["subject_id", col]].dropna().rename(columns={col: "value_to"})
            m = b.merge(f, on="subject_id")
            if m.empty:
                continue
            m["marker"], m["specimen"], m["unit"] = name, "", "ratio"
            m["timepoint_from"], m["timepoint_to"] = order.baseline, tp
            frames.append(m)
    if not frames:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["censored_from"] = out["censored_to"] = ""
    out["change_abs"] = out["value_to"] - out["value_from"]
    out["change_pct"] = (out["value_to"] / out["value_from"] - 1) * 100
    out["log_ratio"] = np.log(out["value_to"] / out["value_from"])
    out["direction"] = "no RCV"
    for c in CHANGE_COLUMNS:
        if c not in out:
            out[c] = np.nan if c in ("rcv_up_pct", "rcv_down_pct") else ""
    return out[CHANGE_COLUMNS]


NO_GROUP = "(no group)"


def _changes_per_arm(
    results: pd.DataFrame, order: TimepointOrder, limits: dict, *, fixed_baseline: bool, notes: list[str]
) -> tuple[pd.DataFrame, dict[str, TimepointOrder]]:
    """Changes of each arm from its baseline: the given baseline, or the arm's first timepoint.

    Arms (or files) with their own visit labels, e.g. pre/post beside Baseline/Week 12, are each
    paired within their own timepoints, never across label sets.
    """
    frames, orders = [], {}
    for g, sub in results.groupby("group", sort=False):
        present = set(sub["timepoint"])
        labels = tuple(t for t in order.order if t in present)
        base = order.baseline if fixed_baseline else (labels[0] if labels else "")
        if len(labels) < 2 or base not in labels:
            notes.append(f"arm {g!r}: no change computed (timepoints {', '.join(labels) or 'none'}; baseline {base!r})")
            continue
        if base != order.baseline:
            notes.append(f"arm {g!r}: baseline {base!r} (its first timepoint)")
        o = TimepointOrder(labels, base, order.basis)
        orders[str(g)] = o
        frames.append(changes(sub, o, limits))
    if not frames:
        return pd.DataFrame(columns=CHANGE_COLUMNS), orders
    out = pd.concat(frames, ignore_index=True)
    rank = order.rank()
    out["_tp"] = out["timepoint_to"].map(rank)
    out = out.sort_values(["marker", "_tp", "group", "subject_id"], kind="stable").drop(columns="_tp")
    return out.reset_index(drop=True), orders


def _balance_change(balance: pd.DataFrame, order: TimepointOrder) -> pd.DataFrame:
    b = balance.copy()
    base = b[b["timepoint"] == order.baseline].drop_duplicates("subject_id").set_index("subject_id")["balance_index"]
    b["balance_index_change"] = b["balance_index"] - b["subject_id"].map(base)
    b.loc[b["timepoint"] == order.baseline, "balance_index_change"] = np.where(
        b.loc[b["timepoint"] == order.baseline, "balance_index"].notna(), 0.0, np.nan
    )
    rank = order.rank()
    b["_r"] = b["timepoint"].map(rank)
    return b.sort_values(["subject_id", "_r"], kind="stable").drop(columns="_r").reset_index(drop=True)


def analyze(data: pd.DataFrame, options: AnalysisOptions | None = None) -> AnalysisResult:
    """Analyse a trial from its tidy table.

    Parameters
    ----------
    data
        A tidy table (``read_results(...).data``) with ``group`` and ``timepoint`` columns.
    options
        :class:`AnalysisOptions`.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    AnalysisError
        When the data has no timepoints, only one timepoint, an unknown baseline or control.
    """
    opts = options or AnalysisOptions()
    notes: list[str] = []
    if data.empty:
        raise AnalysisError("no results to analyse")
    if "group" not in data or (data["group"].astype(str) == "").all():
        data = data.copy()
        data["group"] = "all subjects"
        notes.append("no group column: all subjects analysed as one arm")
    elif (data["group"].astype(str) == "").any():
        data = data.copy()
        data.loc[data["group"].astype(str) == "", "group"] = NO_GROUP
        notes.append(f"results without a group label are analysed as the arm {NO_GROUP!r}")
    # arms whose only timepoints are draw dates (no visit labels): samples numbered in date order
    parts = []
    for g, sub in data.groupby("group", sort=False):
        sub, note = sequence_dates(sub)
        if note:
            notes.append(f"arm {g!r}: {note}")
        parts.append(sub)
    data = pd.concat(parts).loc[data.index] if len(parts) > 1 else parts[0]
    order = order_timepoints(data, explicit=opts.timepoint_order or None, baseline=opts.baseline)
    if len(order.order) < 2:
        raise AnalysisError(f"only one timepoint ({order.order[0]!r}): a change needs two; check the visit column or the mapping")
    notes.append(f"timepoint order: {' → '.join(order.order)} ({order.basis}); baseline {order.baseline!r}")
    interp = interpret(data, ranges=opts.ranges or None)
    bv = load_biovariation(opts.biovar)
    limits = rcv_limits(bv, method=opts.rcv)
    ch, arm_orders = _changes_per_arm(interp.results, order, limits, fixed_baseline=opts.baseline is not None, notes=notes)
    groups = [g for g in pd.unique(interp.results["group"].astype(str)) if g]
    control = opts.control
    if control is not None and control not in groups:
        raise AnalysisError(f"control arm {control!r} is not a group of the data ({', '.join(groups)})")
    if control is None:
        control = detect_control(groups)
        if control:
            notes.append(f"control arm detected from its label: {control!r}")
        elif len(groups) > 1:
            notes.append("no control arm detected (name it with --control): no between-arm comparison")
    arm_types = {g: (opts.arm_types.get(g) or exercise_type_of(g)) for g in groups}
    if control:
        arm_types[control] = "control"
    for g, t in arm_types.items():
        if t and t not in EXERCISE_TYPES:
            raise AnalysisError(f"arm {g!r}: exercise type {t!r} must be one of {', '.join(EXERCISE_TYPES)}")
    populations = arm_population(interp.results)
    if opts.population:
        if opts.population not in POPULATIONS:
            raise AnalysisError(f"population {opts.population!r} must be one of {', '.join(POPULATIONS)}")
        populations = {g: (opts.population, "as given") for g in populations}
    if opts.condition and opts.condition not in CONDITIONS:
        raise AnalysisError(f"condition {opts.condition!r} must be one of {', '.join(CONDITIONS)}")
    ratio_ch = pd.concat([_ratio_changes(interp.balance[interp.balance["group"] == g], o) for g, o in arm_orders.items()] or [pd.DataFrame(columns=CHANGE_COLUMNS)], ignore_index=True)
    both = pd.concat([ch, ratio_ch], ignore_index=True) if len(ratio_ch) else ch
    cohort = cohort_stats(both, test=opts.test, adjust=opts.adjust)
    if len(cohort):
        cohort["_tp"] = cohort["timepoint_to"].map(order.rank())
        cohort = cohort.sort_values(["_tp", "group", "marker"], kind="stable").drop(columns="_tp").reset_index(drop=True)
    between = pd.DataFrame()
    if control:
        between = between_groups(both, control=control, method=opts.between, adjust=opts.adjust)
        if len(order.order) > 2:
            lmm = mixed_model_tests(interp.results, order=list(order.order), control=control, adjust=opts.adjust)
            between = pd.concat([between, lmm], ignore_index=True)
    ev = compare_with_evidence(
        cohort, between, arm_types=arm_types, populations={g: p for g, (p, _) in populations.items()},
        timepoints={g: o.order[-1] for g, o in arm_orders.items()},
        conditions={g: opts.condition or "" for g in groups},
    )
    n_pairs = int(ch["log_ratio"].notna().sum()) if len(ch) else 0
    notes.append(f"{n_pairs} complete subject × marker pairs (baseline → follow-up), formed by subject id and timepoint")
    return AnalysisResult(
        results=interp.results, balance=_balance_change(interp.balance, order), changes=ch, cohort=cohort,
        between=between, evidence=ev, order=order, control=control, arm_types=arm_types,
        populations=populations, options=opts, notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# study files

_STUDY_KEYS = {"title", "inputs", "mapping", "ranges", "biovar", "control", "baseline", "timepoint_order", "population", "condition", "dayfirst", "decimal"}
_STAT_KEYS = {"test", "adjust", "between", "rcv"}


@dataclass
class Study:
    path: Path
    title: str
    inputs: list[str]
    mapping: str | None
    dayfirst: bool | None
    decimal: str | None
    options: AnalysisOptions


def load_study(path: str | Path) -> Study:
    """Read a study TOML file (paths inside are relative to the file).

    Raises
    ------
    MappingError
        For invalid TOML, unknown keys or values.
    """
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"{p}: study file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{p}: not valid TOML ({exc})") from None
    unknown = set(raw) - {"study", "arms", "statistics"}
    if unknown:
        raise MappingError(f"{p}: unknown section(s) {', '.join(sorted(unknown))}; expected [study], [arms], [statistics]")
    st = raw.get("study", {})
    bad = set(st) - _STUDY_KEYS
    if bad:
        raise MappingError(f"{p}: [study] has unknown key(s) {', '.join(sorted(bad))}; expected {', '.join(sorted(_STUDY_KEYS))}")
    stat = raw.get("statistics", {})
    bad = set(stat) - _STAT_KEYS
    if bad:
        raise MappingError(f"{p}: [statistics] has unknown key(s) {', '.join(sorted(bad))}; expected {', '.join(sorted(_STAT_KEYS))}")
    base = p.parent

    def rel(x: str) -> str:
        q = Path(x)
        return str(q if q.is_absolute() else base / q)

    inputs = st.get("inputs", [])
    if isinstance(inputs, str):
        inputs = [inputs]
    if not inputs:
        raise MappingError(f"{p}: [study] inputs is empty; list the files or folders to read")
    ranges = st.get("ranges", [])
    ranges = [ranges] if isinstance(ranges, str) else list(ranges)
    arms = {str(k): str(v) for k, v in raw.get("arms", {}).items()}
    for k, v in arms.items():
        if v not in EXERCISE_TYPES:
            raise MappingError(f"{p}: [arms] {k!r} = {v!r}: exercise type must be one of {', '.join(EXERCISE_TYPES)}")
    checks = {"test": ("t", "wilcoxon"), "adjust": ("holm", "bh"), "between": ("ancova", "welch", "mannwhitney"), "rcv": ("lognormal", "lsc")}
    for k, allowed in checks.items():
        if k in stat and stat[k] not in allowed:
            raise MappingError(f"{p}: [statistics] {k} = {stat[k]!r} must be one of {', '.join(allowed)}")
    opts = AnalysisOptions(
        control=st.get("control"), baseline=st.get("baseline"), timepoint_order=list(st.get("timepoint_order", [])),
        test=stat.get("test", "t"), adjust=stat.get("adjust", "holm"), between=stat.get("between", "ancova"),
        rcv=stat.get("rcv", "lognormal"), ranges=[rel(r) for r in ranges],
        biovar=rel(st["biovar"]) if st.get("biovar") else None, arm_types=arms, population=st.get("population") or None,
        condition=st.get("condition") or None,
    )
    return Study(
        path=p, title=str(st.get("title", p.stem)), inputs=[rel(i) for i in inputs],
        mapping=rel(st["mapping"]) if st.get("mapping") else None, dayfirst=st.get("dayfirst"), decimal=st.get("decimal"),
        options=opts,
    )


def run_study(path: str | Path) -> tuple[Study, Any, AnalysisResult]:
    """Import the study's inputs and analyse them: (study, import result, analysis result)."""
    from .io import load_mapping, read_results

    study = load_study(path)
    mapping = load_mapping(study.mapping) if study.mapping else None
    imported = read_results(study.inputs, mapping=mapping, dayfirst=study.dayfirst, decimal=study.decimal)
    return study, imported, analyze(imported.data, study.options)


def _q(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def study_toml(inputs: Sequence[str], data: pd.DataFrame, *, base: Path | None = None) -> str:
    """A study file drafted from the inputs and what their data shows."""
    groups = [g for g in pd.unique(data.get("group", pd.Series(dtype=str)).astype(str)) if g]
    control = detect_control(groups)
    try:
        order = order_timepoints(data)
        tps, baseline = list(order.order), order.baseline
    except AnalysisError:
        tps, baseline = [], ""
    pops = arm_population(data) if groups else {}
    lines = [
        "# btm study file, drafted by 'btm init-study'. Check every line, then run:",
        "#   btm analyze THIS_FILE -o results/     and     btm report THIS_FILE -o report.xlsx",
        "",
        "[study]",
        'title = "Exercise trial"',
        "inputs = [" + ", ".join(_q(_relative(i, base)) for i in inputs) + "]",
        "# mapping = \"mapping.toml\"      # for layouts btm cannot detect (btm import --write-mapping)",
        "# ranges = [\"my_lab_intervals.csv\"]   # your lab's reference intervals (take precedence)",
        f"control = {_q(control)}" if control else "# control = \"Control\"   # no arm label says control: name it",
        f"baseline = {_q(baseline)}" if baseline else "# baseline = \"Baseline\"",
        "timepoint_order = [" + ", ".join(_q(t) for t in tps) + "]",
    ]
    if pops:
        mix = "; ".join(f"{g}: {d}" for g, (_, d) in pops.items())
        lines.append(f"# population = \"postmenopausal_women\"   # detected per arm from sex/age/menopause ({mix})")
    lines.append(f"# condition = \"osteoporosis\"   # clinical condition of the subjects, if any: {', '.join(CONDITIONS)}")
    lines += ["", "[arms]   # exercise type of each arm: " + ", ".join(EXERCISE_TYPES)]
    for g in groups:
        t = "control" if g == control else exercise_type_of(g)
        lines.append(f"{_q(g)} = {_q(t)}" if t else f"# {_q(g)} = \"\"   # type unknown from the label: fill in")
    lines += [
        "",
        "[statistics]",
        'test = "t"            # paired test: "t" (on log values) or "wilcoxon"',
        'adjust = "holm"       # across markers: "holm" or "bh"',
        'between = "ancova"    # arm vs control: "ancova", "welch" or "mannwhitney"',
        'rcv = "lognormal"     # individual change: "lognormal" (Fokkema 2006) or "lsc" (symmetric)',
        "",
    ]
    return "\n".join(lines)


def _relative(path: str, base: Path | None) -> str:
    if base is None:
        return path
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(Path(path).resolve())


