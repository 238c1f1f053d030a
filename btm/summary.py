"""The summary of an analysis, computed once and rendered by every output.

:func:`summarize` turns an :class:`~btm.analysis.AnalysisResult` (and the
:class:`~btm.io.ImportResult` it came from) into a :class:`Summary`: the arm and marker order,
the headline (every arm × marker × follow-up visit against its baseline, with the comparison
with control), the trajectories the charts draw, the mixed-model tests, Table 1, the subjects
per visit, the missing visits, the intervals and RCVs used, flag counts, exclusions and the
rejected values grouped by reason. The console table (``btm report``/``btm analyze``), the Excel
workbook, the figures and the web page all render this one object; none of them recomputes a
number, so they cannot disagree.

A :class:`Summary` is plain data: tuples, dicts and DataFrames whose columns are fixed by the
``*_COLUMNS`` constants below; :meth:`Summary.to_dict` gives a JSON-serialisable dict (NaN ->
``None``). Nothing here rounds: display precision (:func:`display_decimals`) is a hint for
renderers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ARM_COLUMNS",
    "HEADLINE_COLUMNS",
    "MIXED_MODEL_COLUMNS",
    "MISSING_COLUMNS",
    "REJECTED_COLUMNS",
    "REJECTED_GROUP_COLUMNS",
    "TRAJECTORY_COLUMNS",
    "VISIT_COLUMNS",
    "Brief",
    "Summary",
    "brief",
    "display_decimals",
    "plain",
    "rejected_groups",
    "rejected_with_subjects",
    "summarize",
]

#: One row per arm: its exercise type, population (and who it is made of), subjects.
ARM_COLUMNS = ["group", "exercise_type", "population", "population_detail", "n_subjects"]
#: One row per arm × marker × follow-up visit; ``visit`` is the position in the arm's own visits
#: (1 = first follow-up); the ``adj_gm_*``, ``pct_*`` and ``between_*`` columns compare the arm
#: with control at that visit; ``expected``/``verdict`` come from the Evidence table (last visit).
HEADLINE_COLUMNS = [
    "group", "exercise_type", "marker", "specimen", "unit", "timepoint_from", "timepoint_to", "visit", "n",
    "gm_pct_change", "gm_pct_ci_low", "gm_pct_ci_high", "test", "p", "p_adj", "d_z", "n_control",
    "adj_gm_group", "adj_gm_group_ci_low", "adj_gm_group_ci_high", "adj_gm_control", "adj_gm_control_ci_low",
    "adj_gm_control_ci_high", "pct_difference", "pct_ci_low", "pct_ci_high", "between_test", "between_p",
    "between_p_adj", "expected", "verdict",
]
#: One row per arm × marker × visit including the baseline (visit 0, change 0): what trajectory charts draw.
TRAJECTORY_COLUMNS = [
    "group", "marker", "specimen", "unit", "timepoint", "visit", "n", "gm_pct_change", "gm_pct_ci_low", "gm_pct_ci_high",
]
#: Mixed-model arm × time tests: ``comparison`` is ``all arms`` or an arm (against control).
MIXED_MODEL_COLUMNS = ["comparison", "control", "marker", "specimen", "unit", "n_subjects", "statistic", "df", "p", "p_adj", "test", "note"]
#: Subjects and results per arm × visit (``visit`` 0 = the arm's baseline).
VISIT_COLUMNS = ["group", "timepoint", "visit", "n_subjects", "n_results"]
#: Which subject lacks which visit (``missing`` = "no sample") or which markers at a visit.
MISSING_COLUMNS = ["subject_id", "group", "timepoint", "missing", "n_missing_markers"]
#: Rejected values with the subject and visit of their row where the row's other values say it.
REJECTED_COLUMNS = ["subject_id", "timepoint", "source_file", "source_sheet", "source_row", "column", "raw_value", "reason"]
#: Rejected values grouped by file × column × reason (the quoted cell text replaced by …).
REJECTED_GROUP_COLUMNS = ["source_file", "column", "reason", "n", "examples"]
INTERVAL_COLUMNS = ["marker", "specimen", "ref_population", "ref_low", "ref_high", "ref_unit", "ref_assay", "ref_source", "n"]
RCV_COLUMNS = ["marker", "specimen", "rcv_down_pct", "rcv_up_pct", "rcv_source", "n"]
FLAG_COLUMNS = ["code", "meaning", "n"]
EXCLUSION_COLUMNS = ["group", "marker", "specimen", "timepoint_from", "timepoint_to", "n", "n_censored_excluded", "n_other_excluded"]
MARKER_UNIT_COLUMNS = ["marker", "specimen", "unit", "decimals"]
GLANCE_COLUMNS = ["item", "value", "detail"]

#: Decimals shown for values of a marker in its canonical unit (a convention: about three
#: significant digits of a typical value; CTX in ng/L as integers, PINP with one decimal).
DECIMALS = {
    ("PINP", "µg/L"): 1, ("CTX1", "ng/L"): 0, ("CTX1", "µg/mmol creatinine"): 1, ("BALP", "µg/L"): 1, ("BALP", "U/L"): 1,
    ("OCN", "µg/L"): 1, ("NTX", "nmol BCE/L"): 1, ("NTX", "nmol BCE/mmol creatinine"): 0, ("TRAP5B", "U/L"): 2,
    ("PYD", "nmol/mmol creatinine"): 1, ("DPD", "nmol/mmol creatinine"): 1, ("ALP", "U/L"): 0,
}
_WORDS = {"flexibility_balance": "flexibility/balance", "children_adolescents": "children and adolescents", "no_change": "no change"}
RATIO_SEPARATOR = "/"


def plain(code: Any) -> str:
    """A code in plain words: ``older_adults`` -> ``older adults``, ``flexibility_balance`` -> ``flexibility/balance``."""
    text = "" if code is None or (isinstance(code, float) and math.isnan(code)) else str(code)
    return _WORDS.get(text, text.replace("_", " "))


def display_decimals(marker: str, unit: str, values: Any = None) -> int:
    """Decimals to show for a marker's values: :data:`DECIMALS`, else three significant digits of the median."""
    if (marker, unit) in DECIMALS:
        return DECIMALS[(marker, unit)]
    v = np.asarray(values if values is not None else [], dtype=float)
    v = np.abs(v[np.isfinite(v) & (v != 0)])
    if not len(v):
        return 2
    return int(min(4, max(0, 2 - math.floor(math.log10(float(np.median(v)))))))


@dataclass(frozen=True)
class Summary:
    """Everything the outputs show about an analysis (columns of each table: the ``*_COLUMNS`` constants)."""

    title: str
    arms: tuple[str, ...]
    markers: tuple[str, ...]
    timepoints: tuple[str, ...]
    baseline: str
    control: str | None
    arm_visits: dict[str, tuple[str, ...]]
    tests: dict[str, str]
    counts: dict[str, int]
    glance: pd.DataFrame
    arm_table: pd.DataFrame
    visits: pd.DataFrame
    headline: pd.DataFrame
    trajectory: pd.DataFrame
    mixed_model: pd.DataFrame
    table1: pd.DataFrame
    table1_p: bool
    missing_visits: pd.DataFrame
    exclusions: pd.DataFrame
    intervals: pd.DataFrame
    rcvs: pd.DataFrame
    flag_counts: pd.DataFrame
    rejected: pd.DataFrame
    rejected_groups: pd.DataFrame
    marker_units: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: tables as lists of records, NaN as ``None``, dates as ISO text."""
        out: dict[str, Any] = {}
        for f in fields(self):
            out[f.name] = _jsonable(getattr(self, f.name))
        return out

    def decimals(self, marker: str, unit: str) -> int:
        """Display decimals of a marker's values (from :attr:`marker_units`)."""
        mu = self.marker_units
        hit = mu[(mu["marker"] == marker) & (mu["unit"] == unit)]
        return int(hit["decimals"].iat[0]) if len(hit) else display_decimals(marker, unit)


def _jsonable(v: Any) -> Any:
    if isinstance(v, pd.DataFrame):
        return [{str(k): _jsonable(x) for k, x in rec.items()} for rec in v.to_dict("records")]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


def _is_ratio(markers: pd.Series) -> pd.Series:
    return markers.astype(str).str.contains(RATIO_SEPARATOR, regex=False)


# ---------------------------------------------------------------------------------------------
# order


def marker_order(markers: Sequence[str]) -> list[str]:
    """Markers present, in catalog order (formation, then resorption), others after them."""
    from .markers import catalog

    present = list(dict.fromkeys(str(m) for m in pd.unique(np.asarray(markers, dtype=object))))
    known = [m for m in catalog() if m in present]
    return known + [m for m in present if m not in known]


def arm_order(a: Any) -> list[str]:
    """Arms in report order: the control arm first, then the others by label."""
    seen = sorted({str(g) for frame in (a.cohort, a.results) if len(frame) and "group" in frame for g in pd.unique(frame["group"])})
    if a.control in seen:
        seen.remove(a.control)
        seen.insert(0, a.control)
    return seen


def _arm_visits(a: Any, arms: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each arm's own timepoints in order, baseline first (arms may have their own visit labels)."""
    orders = getattr(a, "arm_orders", None) or {}
    out = {}
    for g in arms:
        if g in orders:
            o = orders[g]
            out[g] = (o.baseline, *[t for t in o.order if t != o.baseline])
        else:
            present = set(a.results.loc[a.results["group"].astype(str) == g, "timepoint"].astype(str))
            out[g] = tuple(t for t in a.order.order if t in present)
    return out


def _sort(df: pd.DataFrame, arms: Sequence[str], markers: Sequence[str], *extra: str) -> pd.DataFrame:
    if df.empty:
        return df.reset_index(drop=True)
    key = df.assign(
        _a=df["group"].map({g: i for i, g in enumerate(arms)}).fillna(len(arms)),
        _m=df["marker"].map({m: i for i, m in enumerate(markers)}).fillna(len(markers)),
    )
    return key.sort_values(["_a", "_m", *extra], kind="stable").drop(columns=["_a", "_m"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# the headline and what the charts draw


def _headline(a: Any, arms: Sequence[str], markers: Sequence[str], visits: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    c = a.cohort
    if c.empty:
        return _empty(HEADLINE_COLUMNS)
    c = c[~_is_ratio(c["marker"])]
    keys = ["group", "marker", "specimen", "unit", "timepoint_from", "timepoint_to"]
    out = c[[*keys, "n", "gm_pct_change", "gm_pct_ci_low", "gm_pct_ci_high", "test", "p", "p_adj", "d_z"]].copy()
    b = a.between
    if len(b):
        b = b[(b["timepoint_to"].astype(str) != "all timepoints") & ~_is_ratio(b["marker"])]
        b = b[[*keys, *[k for k in HEADLINE_COLUMNS if k.startswith(("adj_gm_", "pct_"))], "n_control", "test", "p", "p_adj"]]
        b = b.rename(columns={"test": "between_test", "p": "between_p", "p_adj": "between_p_adj"}).drop_duplicates(keys)
        out = out.merge(b, on=keys, how="left")
    if len(a.evidence):
        e = a.evidence[["group", "marker", "timepoint_from", "timepoint_to", "expected", "verdict"]].drop_duplicates(keys[:2] + keys[4:])
        out = out.merge(e, on=["group", "marker", "timepoint_from", "timepoint_to"], how="left")
    out["exercise_type"] = out["group"].map(lambda g: a.arm_types.get(g, ""))
    out["visit"] = [visits.get(g, ()).index(t) if t in visits.get(g, ()) else -1 for g, t in zip(out["group"], out["timepoint_to"], strict=True)]
    for col in HEADLINE_COLUMNS:
        if col not in out:
            out[col] = "" if col in ("between_test", "expected", "verdict") else np.nan
    for col in ("between_test", "expected", "verdict"):
        out[col] = out[col].fillna("")
    return _sort(out[HEADLINE_COLUMNS], arms, markers, "specimen", "visit")


def _trajectory(a: Any, head: pd.DataFrame, arms: Sequence[str], markers: Sequence[str]) -> pd.DataFrame:
    if head.empty:
        return _empty(TRAJECTORY_COLUMNS)
    keys = ["group", "marker", "specimen", "unit"]
    follow = head[[*keys, "timepoint_to", "visit", "n", "gm_pct_change", "gm_pct_ci_low", "gm_pct_ci_high"]]
    follow = follow.rename(columns={"timepoint_to": "timepoint"})
    base = head[[*keys, "timepoint_from"]].drop_duplicates(keys).rename(columns={"timepoint_from": "timepoint"})
    r = a.results
    ok = r[(r["censored"].fillna("").astype(str) == "") & pd.to_numeric(r["value"], errors="coerce").gt(0)]
    n0 = ok.groupby([*keys, "timepoint"], sort=False)["subject_id"].nunique().rename("n").reset_index()
    base = base.merge(n0, on=[*keys, "timepoint"], how="left").assign(visit=0, gm_pct_change=0.0, gm_pct_ci_low=np.nan, gm_pct_ci_high=np.nan)
    base["n"] = base["n"].fillna(0).astype(int)
    out = pd.concat([base[TRAJECTORY_COLUMNS], follow[TRAJECTORY_COLUMNS]], ignore_index=True)
    return _sort(out, arms, markers, "specimen", "visit")


def _mixed_model(a: Any, arms: Sequence[str], markers: Sequence[str]) -> pd.DataFrame:
    """By marker: all arms together first, then each arm against control (in arm order)."""
    b = a.between
    if b.empty:
        return _empty(MIXED_MODEL_COLUMNS)
    m = b[b["timepoint_to"].astype(str) == "all timepoints"].rename(columns={"group": "comparison", "n_group": "n_subjects"})
    m = m.assign(_m=m["marker"].map({x: i for i, x in enumerate(markers)}).fillna(len(markers)),
                 _c=m["comparison"].map({x: i for i, x in enumerate(["all arms", *arms])}).fillna(len(arms) + 1))
    return m.sort_values(["_m", "specimen", "_c"], kind="stable")[MIXED_MODEL_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# subjects, visits, exclusions


def _visits(a: Any, arms: Sequence[str], visits: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    r = a.results
    if r.empty:
        return _empty(VISIT_COLUMNS)
    g = r.groupby(["group", "timepoint"], sort=False).agg(n_subjects=("subject_id", "nunique"), n_results=("subject_id", "size"))
    g = g.reset_index()
    g["visit"] = [visits.get(a_, ()).index(t) if t in visits.get(a_, ()) else -1 for a_, t in zip(g["group"], g["timepoint"], strict=True)]
    g = g.assign(_a=g["group"].map({x: i for i, x in enumerate(arms)})).sort_values(["_a", "visit"], kind="stable")
    return g[VISIT_COLUMNS].reset_index(drop=True)


def _missing_visits(a: Any, arms: Sequence[str], visits: dict[str, tuple[str, ...]], markers: Sequence[str]) -> pd.DataFrame:
    """Every subject × visit of its arm with no result, or without some of the arm's markers."""
    from ._groupwise import codes_of, distinct

    r = a.results
    if r.empty:
        return _empty(MISSING_COLUMNS)
    (gc, gn), (sc, sn), (tc, tn), (mc, mn) = (codes_of(r[c]) for c in ("group", "subject_id", "timepoint", "marker"))
    t_of = {t: k for k, t in enumerate(tn)}
    n_t = len(tn) + max((len(v) for v in visits.values()), default=0)  # room for a visit label without results
    have = np.sort(((gc * len(sn) + sc) * n_t + tc) * len(mn) + mc)  # sorted keys: membership by binary search
    rank = {m: i for i, m in enumerate(markers)}
    g_of = {g: k for k, g in enumerate(gn)}
    frames = []
    for g in arms:
        sel = gc == g_of.get(g, -1)
        subj = distinct(sc[sel])
        mk = sorted(pd.unique(mc[sel]).tolist(), key=lambda m: rank.get(mn[m], len(rank)))  # stable: first seen among equals
        vis = [t_of.get(t, len(tn) + j) for j, t in enumerate(visits.get(g, ()))]
        if not len(subj) or not vis or not mk:
            continue
        key = ((g_of[g] * len(sn) + subj[:, None, None]) * n_t + np.array(vis)[None, :, None]) * len(mn) + np.array(mk)[None, None, :]
        at = np.minimum(np.searchsorted(have, key), len(have) - 1)
        gone = have[at] != key
        n_gone = gone.sum(axis=2)
        si, vi = np.nonzero(n_gone)
        if not len(si):
            continue
        bits = (gone[si, vi].astype(np.int64) << np.arange(len(mk))).sum(axis=1) if len(mk) < 63 else None
        pat, pu = pd.factorize(bits if bits is not None else [tuple(x) for x in gone[si, vi]])
        texts = []
        for p in pu:
            miss = [mn[m] for k, m in enumerate(mk) if (p >> k & 1 if bits is not None else p[k])]
            texts.append("no sample" if len(miss) == len(mk) else "no result for " + ", ".join(miss))
        block = pd.DataFrame({"subject_id": sn[subj[si]], "group": g, "timepoint": np.array(visits[g], dtype=object)[vi],
                              "missing": np.asarray(texts, dtype=object)[pat], "n_missing_markers": n_gone[si, vi].astype(np.int64)})
        order = np.lexsort([vi, pd.factorize(block["subject_id"], sort=True)[0]])
        frames.append(block.iloc[order])
    if not frames:
        return _empty(MISSING_COLUMNS)
    return pd.concat(frames, ignore_index=True)[MISSING_COLUMNS]


def _exclusions(a: Any) -> pd.DataFrame:
    c = a.cohort
    if c.empty:
        return _empty(EXCLUSION_COLUMNS)
    c = c[~_is_ratio(c["marker"]) & ((c["n_censored_excluded"] > 0) | (c["n_other_excluded"] > 0))]
    return c[EXCLUSION_COLUMNS].reset_index(drop=True)


def _arm_table(a: Any, arms: Sequence[str]) -> pd.DataFrame:
    r = a.results
    n = r.groupby("group")["subject_id"].nunique() if len(r) else pd.Series(dtype=int)
    return pd.DataFrame({
        "group": list(arms),
        "exercise_type": [a.arm_types.get(g, "") for g in arms],
        "population": [a.populations.get(g, ("", ""))[0] for g in arms],
        "population_detail": [a.populations.get(g, ("", ""))[1] for g in arms],
        "n_subjects": [int(n.get(g, 0)) for g in arms],
    }, columns=ARM_COLUMNS)


# ---------------------------------------------------------------------------------------------
# what was used: intervals, RCVs, flags


def _intervals(res: pd.DataFrame, markers: Sequence[str]) -> pd.DataFrame:
    cols = INTERVAL_COLUMNS[:-1]
    if res.empty or not all(c in res for c in cols):
        return _empty(INTERVAL_COLUMNS)
    used = res.loc[(res["ref_high"].notna() | res["ref_low"].notna()).to_numpy(dtype=bool), cols]  # these columns only: no copy of the table
    iv = used.groupby(cols, dropna=False, sort=False).size().reset_index(name="n")
    iv = iv.assign(_m=iv["marker"].map({m: i for i, m in enumerate(markers)}).fillna(len(markers)))
    return iv.sort_values(["_m", "ref_population", "ref_low"], kind="stable").drop(columns="_m").reset_index(drop=True)


def _rcvs(ch: pd.DataFrame, markers: Sequence[str]) -> pd.DataFrame:
    if ch.empty or "rcv_source" not in ch:
        return _empty(RCV_COLUMNS)
    rc = ch.loc[ch["rcv_up_pct"].notna().to_numpy(dtype=bool), RCV_COLUMNS[:-1]].groupby(RCV_COLUMNS[:-1], sort=False).size().reset_index(name="n")
    rc = rc.assign(_m=rc["marker"].map({m: i for i, m in enumerate(markers)}).fillna(len(markers)))
    return rc.sort_values("_m", kind="stable").drop(columns="_m").reset_index(drop=True)


def _flag_counts(res: pd.DataFrame) -> pd.DataFrame:
    from .interpret import FLAGS

    counts = pd.Series(dtype=int)
    if len(res) and "flags" in res:  # counted once per distinct flags text, in order of first appearance
        texts = res["flags"].fillna("").astype(str).value_counts(sort=False)
        tally: dict[str, int] = {}
        for text, n in texts.items():
            for code in str(text).split(";"):
                if code != "":
                    tally[code] = tally.get(code, 0) + int(n)
        counts = pd.Series(tally, dtype="int64").sort_values(ascending=False) if tally else counts
    known = [(k, v, int(counts.get(k, 0))) for k, v in FLAGS.items()]
    other = [(str(k), "", int(n)) for k, n in counts.items() if k not in FLAGS]
    return pd.DataFrame(known + other, columns=FLAG_COLUMNS)


def _marker_units(res: pd.DataFrame, markers: Sequence[str]) -> pd.DataFrame:
    if res.empty:
        return _empty(MARKER_UNIT_COLUMNS)
    rows = [(m, s, u, display_decimals(str(m), str(u), v.to_numpy(float)))
            for (m, s, u), v in res.groupby(["marker", "specimen", "unit"], sort=False)["value"]]
    out = pd.DataFrame(rows, columns=MARKER_UNIT_COLUMNS)
    out = out.assign(_m=out["marker"].map({m: i for i, m in enumerate(markers)}).fillna(len(markers)))
    return out.sort_values("_m", kind="stable").drop(columns="_m").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# rejected values


def rejected_with_subjects(imported: Any) -> pd.DataFrame:
    """The rejected values, with the subject and visit of their row where the row's loaded values say it.

    In a wide sheet the other cells of a rejected value's row were loaded with a subject and a
    visit; a row whose loaded values span several visits (one row per subject, visits in columns)
    gives the subject only; a row with nothing loaded gives neither.
    """
    if imported is None or imported.rejected.empty:
        return _empty(REJECTED_COLUMNS)
    rej = imported.rejected.copy()
    keys = ["source_file", "source_sheet", "source_row"]
    for k in ("subject_id", "timepoint"):  # an importer that already knows them wins
        if k not in rej:
            rej[k] = pd.NA
    d = imported.data
    if len(d) and all(k in d for k in keys):
        rows = d[[*keys, "subject_id", "timepoint"]].astype({"source_file": str, "source_sheet": str})
        rows = rows.assign(source_row=pd.to_numeric(rows["source_row"], errors="coerce"))
        agg = rows.groupby(keys, dropna=True).agg(
            _sid=("subject_id", "first"), _nsid=("subject_id", "nunique"), _tp=("timepoint", "first"), _ntp=("timepoint", "nunique"))
        agg.loc[agg["_nsid"] != 1, "_sid"] = pd.NA
        agg.loc[agg["_ntp"] != 1, "_tp"] = pd.NA
        look = rej[keys].astype({"source_file": str, "source_sheet": str})
        look = look.assign(source_row=pd.to_numeric(look["source_row"], errors="coerce"))
        found = look.merge(agg[["_sid", "_tp"]].reset_index(), on=keys, how="left")
        rej["subject_id"] = rej["subject_id"].where(rej["subject_id"].notna(), found["_sid"].to_numpy())
        rej["timepoint"] = rej["timepoint"].where(rej["timepoint"].notna(), found["_tp"].to_numpy())
    rej[["subject_id", "timepoint"]] = rej[["subject_id", "timepoint"]].astype(object).where(rej[["subject_id", "timepoint"]].notna(), "")
    return rej[REJECTED_COLUMNS].reset_index(drop=True)


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _examples(raw: pd.Series, *, most: int = 3, width: int = 30) -> str:
    """Up to three distinct texts, each quoted and cut at ``width`` characters."""
    shown = [repr(t if len(t) <= width else t[: width - 1] + "…") for t in pd.unique(raw.astype(str))[:most]]
    return ", ".join(shown)


def rejected_groups(rej: pd.DataFrame) -> pd.DataFrame:
    """One row per file × column × reason (the cell text quoted in a reason replaced by …), largest first."""
    if rej.empty:
        return _empty(REJECTED_GROUP_COLUMNS)
    kind = rej["reason"].astype(str).str.replace(_QUOTED, "…", regex=True)
    g = rej.assign(reason=kind).groupby(["source_file", "column", "reason"], sort=False, dropna=False)
    out = g.agg(n=("raw_value", "size"), examples=("raw_value", _examples)).reset_index()
    return out.sort_values("n", ascending=False, kind="stable")[REJECTED_GROUP_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------


def _tests(a: Any) -> dict[str, str]:
    from .stats import ADJUST, BETWEEN_TESTS, TESTS

    o = a.options
    c, b = a.cohort, a.between
    first = lambda df, col, default: next((str(v) for v in df[col] if str(v)), default) if len(df) and col in df else default  # noqa: E731
    lmm = b[b["timepoint_to"].astype(str) == "all timepoints"] if len(b) else b
    plain_b = b[b["timepoint_to"].astype(str) != "all timepoints"] if len(b) else b
    return {
        "within": first(c, "test", TESTS.get(o.test, o.test)),
        "adjust": first(c, "adjust_method", ADJUST.get(o.adjust, o.adjust)),
        "between": first(plain_b, "test", BETWEEN_TESTS.get(o.between, o.between)) if a.control else "",
        "between_adjust": first(plain_b, "adjust_method", "") if a.control else "",
        "mixed_model": first(lmm, "test", ""),
    }


def _glance(a: Any, imported: Any, s: dict[str, Any]) -> pd.DataFrame:
    res = a.results
    files = [str(x) for x in imported.files["file"]] if imported is not None and len(imported.files) else []
    c = s["counts"]
    rows: list[tuple[str, Any, str]] = [
        ("Input files", len(files), "; ".join(files)),
        ("Subjects", c["subjects"], ""),
        ("Samples (subject × timepoint)", c["samples"], ""),
        ("Results loaded", c["results"], "one row each on the Results sheet"),
        ("Arms", len(s["arms"]), "see the table below"),
        ("Timepoints", len(a.order.order), " → ".join(a.order.order)),
        ("Baseline", a.order.baseline, f"order: {a.order.basis}"),
        ("Markers", len(s["markers"]), ", ".join(s["markers"])),
        ("Control arm", a.control or "none", "every other arm is compared with it" if a.control else "no comparison between arms"),
        ("Rejected values", c["rejected"], "listed on the Rejected sheet" if c["rejected"] else "every value read was loaded"),
        ("Warnings", c["warnings"], "listed on the Warnings sheet"),
        ("Notices, files not read", c["notices"], "listed on the Warnings sheet"),
        ("Flagged results", c["flagged"], "pre-analytical flags (e.g. non-fasting, low eGFR): Results sheet; codes on the Methods sheet"),
        ("Missing visits", c["missing_visits"], "subject × visit without a sample or without some markers: Missing visits sheet"),
        ("Pairs left out", c["pairs_excluded"], "censored or otherwise unusable pairs, counted per arm, marker and visit (Group statistics)"),
    ]
    if len(res) == 0:
        rows = rows[:4]
    return pd.DataFrame(rows, columns=GLANCE_COLUMNS)


def _notes(a: Any, arms: list[str], visits: dict[str, tuple[str, ...]], head: pd.DataFrame) -> tuple[str, ...]:
    """The analysis notes, and one per arm that shares no follow-up visit with control."""
    notes = list(a.notes)
    if a.control and len(head):
        alone = [g for g in arms if g != a.control and head.loc[head["group"] == g, "pct_difference"].isna().all()
                 and (head["group"] == g).any()]
        notes += [f"arm {g!r}: no visit in common with the control arm ({', '.join(visits[g])} vs "
                  f"{', '.join(visits.get(a.control, ()))}): no comparison with control" for g in alone
                  if not set(visits[g][1:]) & set(visits.get(a.control, ())[1:])]
    return tuple(notes)


@dataclass(frozen=True)
class Brief:
    """What the console prints after ``btm analyze``: the notes, the headline and the mixed-model
    tests, as in :class:`Summary` (computed by the same functions, without the rest)."""

    control: str | None
    notes: tuple[str, ...]
    headline: pd.DataFrame
    mixed_model: pd.DataFrame


def brief(a: Any) -> Brief:
    """The :class:`Brief` of an analysis: ``summarize(a)``'s notes, headline and mixed-model table
    without Table 1, trajectories, intervals and counts (a second of work on 400,000 results)."""
    res = a.results
    arms = arm_order(a)
    markers = marker_order(res["marker"]) if len(res) else []
    visits = _arm_visits(a, arms)
    head = _headline(a, arms, markers, visits)
    return Brief(control=a.control, notes=_notes(a, arms, visits, head), headline=head, mixed_model=_mixed_model(a, arms, markers))


def summarize(a: Any, imported: Any = None, *, title: str = "", table1_p: bool = False) -> Summary:
    """The summary of an analysis that every output renders.

    Parameters
    ----------
    a
        An :class:`~btm.analysis.AnalysisResult`.
    imported
        The :class:`~btm.io.ImportResult` it came from (rejected values, warnings, input files),
        or ``None``.
    title
        The study title (renderers fall back to their default).
    table1_p
        Test the baseline differences between arms in Table 1 (off by default: CONSORT advises
        against it for randomised trials).

    Returns
    -------
    Summary
    """
    from .table1 import table_one

    res = a.results
    arms = arm_order(a)
    markers = marker_order(res["marker"]) if len(res) else []
    visits = _arm_visits(a, arms)
    head = _headline(a, arms, markers, visits)
    problems = imported.problems if imported is not None else pd.DataFrame(columns=["severity"])
    sev = problems["severity"].astype(str) if len(problems) else pd.Series([], dtype=str)
    rejected = rejected_with_subjects(imported)
    missing = _missing_visits(a, arms, visits, markers)
    excl = _exclusions(a)
    counts = {
        "files": int(len(imported.files)) if imported is not None else 0,
        "subjects": int(res["subject_id"].nunique()) if len(res) else 0,
        "samples": int(len(res[["subject_id", "timepoint"]].drop_duplicates())) if len(res) else 0,
        "results": int(len(res)),
        "rejected": int((sev == "rejected").sum()),
        "warnings": int((sev == "warning").sum()),
        "notices": int(sev.isin(["notice", "error"]).sum()),
        "flagged": int((res["flags"].fillna("").astype(str) != "").sum()) if "flags" in res else 0,
        "missing_visits": int(len(missing)),
        "pairs_excluded": int(excl["n_censored_excluded"].sum() + excl["n_other_excluded"].sum()) if len(excl) else 0,
    }
    glance = _glance(a, imported, {"counts": counts, "arms": arms, "markers": markers})
    notes = _notes(a, arms, visits, head)
    return Summary(
        title=title, arms=tuple(arms), markers=tuple(markers), timepoints=tuple(a.order.order), baseline=a.order.baseline,
        control=a.control, arm_visits=visits, tests=_tests(a), counts=counts, glance=glance, arm_table=_arm_table(a, arms),
        visits=_visits(a, arms, visits), headline=head, trajectory=_trajectory(a, head, arms, markers),
        mixed_model=_mixed_model(a, arms, markers),
        table1=table_one(res, arms=arms, baselines={g: v[0] for g, v in visits.items() if v}, order=a.order.order,
                         markers=markers, p_values=table1_p),
        table1_p=table1_p, missing_visits=missing, exclusions=excl, intervals=_intervals(res, markers),
        rcvs=_rcvs(a.changes, markers), flag_counts=_flag_counts(res), rejected=rejected,
        rejected_groups=rejected_groups(rejected), marker_units=_marker_units(res, markers), notes=notes,
    )
