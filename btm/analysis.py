"""The analysis of an exercise trial, end to end: interpret -> change -> statistics -> evidence.

:func:`analyze` takes a tidy table (from :func:`btm.read_results`) and returns every result
table as a DataFrame; :func:`run_study` does the same from a study file (TOML) that names the
inputs, the arms' exercise types, the control arm, the baseline and the statistical options, so
that an analysis can be rerun exactly.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._groupwise import per_unique
from ._options import ADJUST_CHOICES, BETWEEN_CHOICES, RCV_CHOICES, TEST_CHOICES, AnalysisOptions
from .change import CHANGE_COLUMNS, changes, rcv_limits, sort_changes
from .errors import AnalysisError, MappingError
from .evidence import (
    CONDITIONS,
    EXERCISE_TYPES,
    arm_population,
    compare_with_evidence,
    detect_control,
    exercise_type_of,
)
from .interpret import RATIOS, interpret
from .ranges import load_biovariation
from .stats import between_groups, cohort_stats, mixed_model_tests
from .timepoints import DATE_LABEL, TimepointOrder, order_timepoints, sequence_dates

__all__ = ["AnalysisOptions", "AnalysisResult", "Study", "analyze", "load_study", "run_study", "study_toml"]


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
    #: each arm's own timepoints and baseline (arms may have their own visit labels)
    arm_orders: dict[str, TimepointOrder] = field(default_factory=dict)


def _ratio_changes(balance: pd.DataFrame, order: TimepointOrder) -> pd.DataFrame:
    """Per-subject change of the exercise-study ratios, in the changes-table columns."""
    frames = []
    base = balance[balance["timepoint"] == order.baseline]
    followups = {tp: balance[balance["timepoint"] == tp] for tp in order.followups}
    # where each baseline subject sits at each follow-up (one balance row per subject and timepoint)
    at = {tp: pd.Index(f["subject_id"]).get_indexer(base["subject_id"]) if pd.Index(f["subject_id"]).is_unique else None
          for tp, f in followups.items()}
    for name in RATIOS:
        col = f"ratio_{name}"
        keep = base[["subject_id", "group", col]].notna().all(axis=1).to_numpy()
        b = base.loc[keep, ["subject_id", "group", col]].rename(columns={col: "value_from"})
        for tp, f in followups.items():
            if at[tp] is None:  # not one row per subject: join as pandas does
                m = b.merge(f[["subject_id", col]].dropna().rename(columns={col: "value_to"}), on="subject_id")
            else:
                pos = at[tp][keep]
                to = np.where(pos >= 0, f[col].to_numpy(dtype=float)[np.maximum(pos, 0)], np.nan) if len(f) else np.full(len(pos), np.nan)
                hit = (pos >= 0) & ~np.isnan(to) & f["subject_id"].notna().to_numpy()[np.maximum(pos, 0)] if len(f) else pos >= 0
                m = b.iloc[np.flatnonzero(hit)].reset_index(drop=True)
                m["value_to"] = to[hit]
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
    used = [c for c in ("subject_id", "marker", "specimen", "unit", "timepoint", "group", "value", "censored", "variant", "flags") if c in results]
    gcode, garms = pd.factorize(results["group"])
    tcode, tps = pd.factorize(results["timepoint"])
    seen = np.zeros((len(garms) + 1, len(tps) + 1), dtype=bool)  # (code -1, a missing label: the extra row or column)
    seen[gcode, tcode] = True
    for k, g in enumerate(garms):
        present = {t for t, s in zip(tps, seen[k], strict=False) if s}
        labels = tuple(t for t in order.order if t in present)
        base = order.baseline if fixed_baseline else (labels[0] if labels else "")
        if len(labels) < 2 or base not in labels:
            notes.append(f"arm {g!r}: no change computed (timepoints {', '.join(labels) or 'none'}; baseline {base!r})")
            continue
        if base != order.baseline:
            notes.append(f"arm {g!r}: baseline {base!r} (its first timepoint)")
        o = TimepointOrder(labels, base, order.basis)
        orders[str(g)] = o
        frames.append(changes(results.loc[gcode == k, used], o, limits, sort=False))
    if not frames:
        return pd.DataFrame(columns=CHANGE_COLUMNS), orders
    both = pd.concat(frames, ignore_index=True)
    del frames
    return sort_changes(both, order), orders


IMPLAUSIBLE = "UNIT_MAGNITUDE"
# the columns of the changes table that the arm statistics (cohort_stats, between_groups) and
# _implausible_left_out read
STAT_COLUMNS = ["subject_id", "group", "marker", "specimen", "unit", "timepoint_from", "timepoint_to", "value_from", "value_to",
                "censored_from", "censored_to", "change_pct", "log_ratio", "direction"]


def _implausible_left_out(parts: list[pd.DataFrame], results: pd.DataFrame, keep: bool, notes: list[str]) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """Changes (in parts: markers, ratios) and results for the arm statistics: pairs with a value
    flagged UNIT_MAGNITUDE (about 1000x outside every published interval: a unit error, not a
    biological change) get no log ratio, so they count in ``n_other_excluded``; results with the
    flag leave the mixed model. ``keep`` (``--keep-implausible``) includes them."""
    rows = (results["flags"].astype(str).str.contains(IMPLAUSIBLE, regex=False).to_numpy(dtype=bool)
            if "flags" in results and len(results) else np.zeros(len(results), dtype=bool))
    if not rows.any():
        return parts, results
    bad = set((results.loc[rows, "subject_id"].astype(str) + "\x1f" + results.loc[rows, "marker"].astype(str) + "\x1f"
               + results.loc[rows, "timepoint"].astype(str)).tolist())
    flagged = []
    for table in parts:
        pairs = np.zeros(len(table), dtype=bool)
        if len(table):
            sid = table["subject_id"].astype(str)
            for tp in ("timepoint_from", "timepoint_to"):
                for part in table["marker"].astype(str).str.split("/", expand=True).T.to_numpy():  # a ratio: either component
                    key = sid + "\x1f" + pd.Series(part, index=table.index).fillna("") + "\x1f" + table[tp].astype(str)
                    pairs |= key.isin(bad).to_numpy()
        flagged.append(pairs)
    n = int(sum(int(p.sum()) for p in flagged))
    if keep:
        notes.append(f"{n} pair(s) with a value flagged {IMPLAUSIBLE} are included in the arm statistics (--keep-implausible)")
        return parts, results
    notes.append(
        f"{n} pair(s) with a value flagged {IMPLAUSIBLE} (about 1000x outside every published interval: "
        "probably a unit error) are left out of the arm statistics and counted in n_other_excluded; "
        "--keep-implausible includes them"
    )
    out = [c.assign(log_ratio=np.where(p, np.nan, c["log_ratio"].to_numpy(dtype=float))) if p.any() else c for c, p in zip(parts, flagged, strict=True)]
    return out, results.loc[~rows]


def _stat_parts(ch: pd.DataFrame, ratio_ch: pd.DataFrame) -> list[pd.DataFrame]:
    """The changes the arm statistics read: the markers' and the ratios' (in :data:`STAT_COLUMNS`),
    as two tables rather than one joined copy. Their p-value families are apart (a ratio's name
    holds "/"), so the statistics of each equal those of the two joined; a marker named with "/"
    would share the ratios' family, and is then joined with them."""
    parts = [p for p in (ch[STAT_COLUMNS], ratio_ch[STAT_COLUMNS]) if len(p)] or [ch[STAT_COLUMNS]]
    if len(parts) > 1 and per_unique(ch["marker"], lambda u: u.astype(str).str.contains("/", regex=False)).any():
        parts = [pd.concat(parts, ignore_index=True)]
    return parts


def _joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The rows of the non-empty frames, in order (the first frame when all are empty)."""
    full = [f for f in frames if len(f)]
    return frames[0] if not full else full[0] if len(full) == 1 else pd.concat(full, ignore_index=True)


def _unpaired_notes(data: pd.DataFrame) -> list[str]:
    """Why subjects drop out of the pairs: a result reported twice, or an arm that changes between visits."""
    notes = []
    keys = [k for k in ("subject_id", "timepoint", "marker", "specimen") if k in data]
    dup = data.duplicated(keys, keep=False).to_numpy() if len(keys) == 4 else np.zeros(len(data), dtype=bool)
    if dup.any():
        subjects = pd.unique(data.loc[dup, "subject_id"].astype(str))
        notes.append(f"{int(dup.sum())} result(s) reported more than once for the same subject, timepoint and marker "
                     f"(flag DUPLICATE) are not paired, since the change would depend on which one is used: subject(s) "
                     + ", ".join(subjects[:10]) + (" …" if len(subjects) > 10 else ""))
    if "group" in data and "subject_id" in data:
        arms = data.groupby(data["subject_id"].astype(str))["group"].nunique()
        moved = arms.index[arms.to_numpy() > 1].tolist()
        if moved:
            notes.append(f"subject(s) {', '.join(moved[:10])}{' …' if len(moved) > 10 else ''} change arm between visits: "
                         "a change is computed only within one arm, so their visits in different arms are not paired")
    return notes


def _sequence_dated_arms(data: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Arms whose only timepoints are draw dates get their samples numbered (:func:`sequence_dates`); others stay as
    they are (and the table is not copied when no arm needs it)."""
    dated = per_unique(data["timepoint"], lambda u: u.astype(str).str.match(DATE_LABEL).to_numpy(dtype=bool))
    gcode, arms = pd.factorize(data["group"])
    all_dated = np.ones(len(arms), dtype=bool)
    np.logical_and.at(all_dated, gcode[gcode >= 0], dated[gcode >= 0])
    if not all_dated.any():
        return data
    parts = []
    for g, sub in data.groupby("group", sort=False):
        sub, note = sequence_dates(sub)
        if note:
            notes.append(f"arm {g!r}: {note}")
        parts.append(sub)
    return pd.concat(parts).loc[data.index] if len(parts) > 1 else parts[0]


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


def analyze(data: pd.DataFrame, options: AnalysisOptions | None = None, **changes: Any) -> AnalysisResult:
    """Analyse a trial from its tidy table.

    Parameters
    ----------
    data
        A tidy table (``read_results(...).data``) with ``group`` and ``timepoint`` columns.
    options
        :class:`AnalysisOptions` (default: all defaults).
    **changes
        Options to change, by name (``control="Control"``, ``test="wilcoxon"``): applied with
        :func:`dataclasses.replace`, so they are validated like the options themselves.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    AnalysisError
        When the data has no timepoints, only one timepoint, an unknown baseline or control.
    """
    opts = replace(options or AnalysisOptions(), **changes) if changes else (options or AnalysisOptions())
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
    data = _sequence_dated_arms(data, notes)
    order = order_timepoints(data, explicit=opts.timepoint_order or None, baseline=opts.baseline)
    if len(order.order) < 2:
        raise AnalysisError(f"only one timepoint ({order.order[0]!r}): a change needs two; check the visit column or the mapping")
    notes.append(f"timepoint order: {' → '.join(order.order)} ({order.basis}); baseline {order.baseline!r}")
    notes += _unpaired_notes(data)
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
            notes.append("no control arm detected (name it with the control option): no between-arm comparison")
    arm_types = {g: (opts.arm_types.get(g) or exercise_type_of(g)) for g in groups}
    if control:
        arm_types[control] = "control"
    populations = arm_population(interp.results)
    if opts.population:  # validated by AnalysisOptions
        populations = {g: (opts.population, "as given") for g in populations}
    ratio_ch = pd.concat([_ratio_changes(interp.balance[interp.balance["group"] == g], o) for g, o in arm_orders.items()] or [pd.DataFrame(columns=CHANGE_COLUMNS)], ignore_index=True)
    parts = _stat_parts(ch, ratio_ch)
    del ratio_ch
    parts, lmm_results = _implausible_left_out(parts, interp.results, opts.keep_implausible, notes)
    cohort = _joined([cohort_stats(p, test=opts.test, adjust=opts.adjust) for p in parts])
    if len(cohort):
        cohort["_tp"] = cohort["timepoint_to"].map(order.rank())
        cohort = cohort.sort_values(["_tp", "group", "marker"], kind="stable").drop(columns="_tp").reset_index(drop=True)
    between = pd.DataFrame()
    if control:
        arms = list(dict.fromkeys(str(g) for p in parts for g in pd.unique(p["group"])))
        between = _joined([between_groups(p, control=control, method=opts.between, adjust=opts.adjust, arms=arms) for p in parts])
        if len(order.order) > 2:
            lmm = mixed_model_tests(lmm_results, order=list(order.order), control=control, adjust=opts.adjust)
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
        populations=populations, options=opts, notes=notes, arm_orders=arm_orders,
    )


# ---------------------------------------------------------------------------------------------
# study files

_STUDY_KEYS = {"title", "inputs", "mapping", "ranges", "biovar", "control", "baseline", "timepoint_order", "population", "condition", "dayfirst", "decimal"}
_STAT_KEYS = {"test", "adjust", "between", "rcv", "keep_implausible"}


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
    for section in ("study", "arms", "statistics"):
        if not isinstance(raw.get(section, {}), dict):
            raise MappingError(f"{p}: {section} must be a table ([{section}] on a line of its own), not {raw[section]!r:.60}")
    st = raw.get("study", {})
    bad = set(st) - _STUDY_KEYS
    if bad:
        raise MappingError(f"{p}: [study] has unknown key(s) {', '.join(sorted(bad))}; expected {', '.join(sorted(_STUDY_KEYS))}")
    stat = raw.get("statistics", {})
    bad = set(stat) - _STAT_KEYS
    if bad:
        raise MappingError(f"{p}: [statistics] has unknown key(s) {', '.join(sorted(bad))}; expected {', '.join(sorted(_STAT_KEYS))}")
    _check_study_types(p, st, stat, raw.get("arms", {}))
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
    checks = {"test": TEST_CHOICES, "adjust": ADJUST_CHOICES, "between": BETWEEN_CHOICES, "rcv": RCV_CHOICES}
    for k, allowed in checks.items():
        if k in stat and stat[k] not in allowed:
            raise MappingError(f"{p}: [statistics] {k} = {stat[k]!r} must be one of {', '.join(allowed)}")
    try:
        opts = AnalysisOptions(
            control=st.get("control"), baseline=st.get("baseline"), timepoint_order=st.get("timepoint_order", ()),
            test=stat.get("test", "t"), adjust=stat.get("adjust", "holm"), between=stat.get("between", "ancova"),
            rcv=stat.get("rcv", "lognormal"), ranges=[rel(r) for r in ranges],
            biovar=rel(st["biovar"]) if st.get("biovar") else None, arm_types=arms, population=st.get("population") or None,
            condition=st.get("condition") or None, keep_implausible=stat.get("keep_implausible", False),
        )
    except AnalysisError as exc:  # the study file's words: [study] / [statistics] keys
        raise MappingError(f"{p}: {exc}") from None
    return Study(
        path=p, title=str(st.get("title", p.stem)), inputs=[rel(i) for i in inputs],
        mapping=rel(st["mapping"]) if st.get("mapping") else None, dayfirst=st.get("dayfirst"), decimal=st.get("decimal"),
        options=opts,
    )


def _check_study_types(p: Path, st: dict[str, Any], stat: dict[str, Any], arms: Any) -> None:
    """One clear line for a value of the wrong kind (a number where a path belongs, a label where a list belongs)."""
    def fail(key: str, want: str, value: Any) -> None:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise MappingError(f"{p}: {key} must be {want}, not {shown}")

    def texts(x: Any) -> bool:
        return isinstance(x, list) and all(isinstance(i, str) for i in x)

    for key in ("title", "mapping", "biovar", "control", "baseline", "population", "condition"):
        if key in st and not isinstance(st[key], str):
            fail(f"[study] {key}", "text in quotes", st[key])
    for key in ("inputs", "ranges"):
        if key in st and not (isinstance(st[key], str) or texts(st[key])):
            fail(f"[study] {key}", 'a path in quotes or a list of them, e.g. ["trial.xlsx"]', st[key])
    if "dayfirst" in st and not isinstance(st["dayfirst"], bool):
        fail("[study] dayfirst", "true or false", st["dayfirst"])
    if "decimal" in st and st["decimal"] not in (".", ","):
        fail("[study] decimal", '"." or ","', st["decimal"])
    if not isinstance(arms, dict) or not all(isinstance(v, str) for v in arms.values()):
        fail("[arms]", 'a table of "arm label" = "exercise type"', arms)
    if "keep_implausible" in stat and not isinstance(stat["keep_implausible"], bool):
        fail("[statistics] keep_implausible", "true or false", stat["keep_implausible"])
    for key in ("test", "adjust", "between", "rcv"):
        if key in stat and not isinstance(stat[key], str):
            fail(f"[statistics] {key}", "text in quotes", stat[key])


def run_study(path: str | Path) -> tuple[Study, Any, AnalysisResult]:
    """Import the study's inputs and analyse them: (study, import result, analysis result)."""
    from .io import load_mapping, read_results

    study = load_study(path)
    mapping = load_mapping(study.mapping) if study.mapping else None
    imported = read_results(study.inputs, mapping=mapping, dayfirst=study.dayfirst, decimal=study.decimal)
    return study, imported, analyze(imported.data, study.options)


def _q(s: str) -> str:
    from .io.mapping import toml_string

    return toml_string(str(s))


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
        mix = "; ".join(f"{_q(g)}: {d}" for g, (_, d) in pops.items())  # (quoted: a label's control characters stay escaped)
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


