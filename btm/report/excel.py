"""The Excel report: one workbook a lab manager or a trial researcher can read without btm.

Sheets (:data:`SHEETS`): Summary (the study at a glance, the headline change of every arm and
marker, its comparison with control, native Excel charts), Figures (only with ``figures_dir``),
Results, Balance, Changes, Group statistics, Between groups, Evidence, Recommendations, Rejected,
Warnings, Methods and Chart data (the cells the charts read).

How it is written
-----------------
* XlsxWriter in normal mode; every data sheet is one rectangular table with a frozen, wrapped
  header row, an autofilter, column widths fitted to the content (long text capped and wrapped),
  landscape A4 printing one page wide with the header row repeated.
* Numbers are number cells holding the computed value; only Excel number formats round them on
  screen (``0.0`` for %, ``[<0.001]"<0.001";0.000`` for p, ``0.00`` for z). Missing values are blank
  cells; dates are Excel dates (``yyyy-mm-dd``).
* Every string is written with ``write_string`` (never ``write``), and the workbook is opened with
  ``strings_to_formulas``, ``strings_to_urls`` and ``strings_to_numbers`` off, so text from the
  data such as ``=HYPERLINK(...)`` or ``+1+1`` stays text. Text longer than Excel's 32,767
  characters is cut with a visible marker. Chart titles and series names from the data are cell
  references, never formula text. No sheet name comes from the data.
* Colour never carries meaning alone: conditional formats colour cells whose text (``low``,
  ``high``, ``increase``, ``decrease``, ``consistent``, ...) stays in the cell.
* Reproducible: the same inputs and options give the same bytes except the generation time, and
  with ``timestamp=`` the same bytes (document ``created`` date = the timestamp; XlsxWriter writes
  fixed zip dates; nothing random or machine-specific is embedded besides software versions).
"""

from __future__ import annotations

import datetime as dt
import math
import platform
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BTMError

__all__ = ["MAX_CELL_CHARS", "SHEETS", "write_report"]

#: Sheets of the report, in order, with what each holds (also printed on the Summary sheet).
SHEETS: dict[str, str] = {
    "Summary": "the study at a glance, the headline change of every arm and marker, the comparison with control, charts",
    "Figures": "PNG figures per marker (only when figures were asked for)",
    "Results": "every result in its canonical unit with reference interval, status, z, flags and where it came from",
    "Balance": "per sample: formation z, resorption z, balance index, turnover state and marker ratios",
    "Changes": "per subject and marker: change from baseline and the verdict against the reference change value (RCV)",
    "Group statistics": "per arm, marker and timepoint: geometric mean % change, 95% CI, paired test, effect size",
    "Between groups": "each arm against the control arm: baseline-adjusted % difference (ANCOVA) and mixed-model tests",
    "Evidence": "per arm and marker: what the exercise literature expects against what was observed, with citations",
    "Recommendations": "the review's recommended exercise types per population",
    "Rejected": "every value that could not be loaded: file, sheet, row, column, raw text and reason",
    "Warnings": "values loaded with a warning (ambiguous dates, duplicates, ...) and notices about the input files",
    "Methods": "software, input files with SHA-256, options, methods in plain words, intervals and RCVs used, glossaries",
    "Chart data": "the numbers the Summary charts show",
}

MAX_CELL_CHARS = 32_767  # Excel's limit for one cell
DEFAULT_TITLE = "Bone turnover marker report"
_CUT = "… [cut: {n:,} characters in all]"

# number formats: display only, the cell keeps the full value
_NUM_FORMATS = {
    "general": "General",
    "pct": "+0.0;-0.0;0.0",
    "p": '[<0.001]"<0.001";0.000',
    "z": "0.00",
    "ratio": "0.000",
    "mean": "0.00",
    "int": "0",
    "int_left": "0",
    "frac": "0%",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}
_NUMERIC = {"general", "pct", "p", "z", "ratio", "mean", "int", "int_left", "frac"}

# colours of conditional formats: (fill, font); warm = up/high, cool = down/low
_WARM = ("#FCE4D6", "#9C3500")
_COOL = ("#DDEBF7", "#1F4E79")
_GOOD = ("#E2EFDA", "#375623")
_GREY = ("#EDEDED", "#404040")


@dataclass(frozen=True)
class Col:
    """One column of a sheet: source column, header shown, display kind and its meaning."""

    key: str
    header: str
    kind: str = "text"  # text | general | pct | p | z | ratio | mean | int | frac | date | datetime | bool
    doc: str = ""
    cap: int = 40  # widest the column gets (characters)
    wrap: bool = False  # wrap long text (else it is cut off on screen; the cell keeps it all)


def _c(key: str, header: str, kind: str = "text", doc: str = "", **kw: Any) -> Col:
    return Col(key, header, kind, doc, **kw)


# --------------------------------------------------------------------------------------------
# column specifications (the column glossary on the Methods sheet is built from the docs)

_SUBJECT = [
    _c("subject_id", "subject", doc="subject id as in the input file"),
    _c("group", "arm", doc="trial arm (group column of the input)"),
]
_PROVENANCE = [
    _c("raw_value", "raw value (as in file)", doc="the cell text as it was in the input file"),
    _c("raw_unit", "raw unit", doc="unit as given in the input (header, units row or unit column)"),
    _c("source_file", "source file", doc="input file the value came from", cap=32),
    _c("source_sheet", "source sheet", doc="sheet of the input file"),
    _c("source_row", "source row", "int", doc="Excel row number in the input sheet (row 1 is the first row)"),
    _c("source_column", "source column", doc="column letter and header in the input sheet"),
]
RESULTS_COLS = [
    *_SUBJECT,
    _c("timepoint", "timepoint", doc="visit label as in the input"),
    _c("sample_date", "sample date", "date", doc="date the sample was drawn"),
    _c("marker", "marker", doc="marker id (PINP, CTX1, BALP, OCN, NTX, TRAP5B, PYD, DPD, ALP)"),
    _c("specimen", "specimen", doc="serum or urine"),
    _c(
        "value",
        "value (canonical unit)",
        "general",
        doc="result in the marker's canonical unit (next column); a censored result holds its limit",
    ),
    _c("unit", "unit", doc="canonical unit of the value"),
    _c(
        "censored",
        "censored (< or >)",
        doc="'<' below or '>' above a limit: the true value lies beyond the value shown",
    ),
    _c(
        "status",
        "status vs interval",
        doc="low / within / high against the reference interval; undetermined when a censored value cannot be placed; blank: no interval",
    ),
    _c(
        "z",
        "z (zlog)",
        "z",
        doc="position in the reference interval on the log scale (Hoffmann 2017): −1.96 at the low limit, +1.96 at the high limit",
    ),
    _c("ref_low", "ref low", "general", doc="lower reference limit (in ref unit)"),
    _c("ref_high", "ref high", "general", doc="upper reference limit (in ref unit)"),
    _c("ref_unit", "ref unit", doc="unit of the reference limits"),
    _c(
        "ref_source",
        "ref source",
        doc="publication or lab the interval comes from (full text on the Methods sheet)",
        cap=28,
    ),
    _c(
        "ref_population",
        "ref population",
        doc="population the reference interval was chosen for (sex, age, menopausal status)",
    ),
    _c("flags", "flag codes", doc="pre-analytical flag codes (see the flag glossary on the Methods sheet)", cap=30),
    _c("flag_notes", "flags explained", doc="the flags in plain language", cap=45, wrap=True),
    _c("sex", "sex", doc="F or M"),
    _c("age", "age (years)", "general", doc="age at sampling, years"),
    _c("menopausal_status", "menopausal status", doc="pre, peri or post"),
    _c("fasting", "fasting", doc="drawn fasting (yes/no)"),
    _c("sample_time", "sample time", doc="clock time of the draw"),
    _c("egfr", "eGFR (mL/min/1.73 m²)", "general", doc="estimated glomerular filtration rate"),
    _c("variant", "assay variant", doc="assay variant, e.g. total or intact PINP"),
    _c(
        "kind",
        "measurement kind",
        doc="mass, activity, per creatinine, ... (values of different kinds are never converted into each other)",
    ),
    _c("sample_id", "sample id", doc="sample id as in the input"),
    _c("assay", "assay", doc="assay or analyser as in the input"),
    _c("comment", "comment", doc="comment as in the input", cap=50, wrap=True),
    _c("tanner_stage", "Tanner stage", doc="pubertal stage as in the input"),
    _c("fracture", "fracture", doc="recent fracture as in the input"),
    _c("pregnancy", "pregnancy", doc="pregnancy or lactation as in the input"),
    _c("medication", "medication", doc="medication as in the input", cap=40, wrap=True),
    _c("last_exercise", "last exercise", doc="time since the last strenuous exercise as in the input"),
    _c("ref_assay", "ref assay", doc="assay the reference interval was established with", cap=22),
    _c("ref_note", "ref note", doc="note on the reference interval", cap=36, wrap=True),
    *_PROVENANCE,
]
BALANCE_COLS = [
    *_SUBJECT[:1],
    _c("group", "arm", doc="trial arm"),
    _c("timepoint", "timepoint", doc="visit label"),
    _c("sample_date", "sample date", "date", doc="date the sample was drawn"),
    _c("sex", "sex", doc="F or M"),
    _c("age", "age (years)", "general", doc="age at sampling, years"),
    _c(
        "formation_z",
        "formation z (mean)",
        "z",
        doc="mean z of the formation markers of the sample (PINP, BALP, OCN, ALP)",
    ),
    _c(
        "resorption_z",
        "resorption z (mean)",
        "z",
        doc="mean z of the resorption markers of the sample (CTX1, NTX, TRAP5B, PYD, DPD)",
    ),
    _c(
        "balance_index",
        "balance index (formation z − resorption z)",
        "z",
        doc="formation z − resorption z; ≥ +1 formation-dominant, ≤ −1 resorption-dominant",
    ),
    _c(
        "balance_index_change",
        "balance index change vs baseline",
        "z",
        doc="balance index minus the subject's baseline balance index",
    ),
    _c(
        "turnover_z",
        "turnover z (mean of all z)",
        "z",
        doc="mean z of all markers of the sample; beyond ±1.96: high or low turnover",
    ),
    _c(
        "turnover_state",
        "turnover state",
        doc="low / normal / high turnover, and formation- or resorption-dominant",
        cap=36,
    ),
    _c("formation_markers", "formation markers used", doc="formation markers with a z in this sample"),
    _c("resorption_markers", "resorption markers used", doc="resorption markers with a z in this sample"),
    _c("balance_basis", "balance basis", doc="how the balance index was formed", cap=30),
    _c("n_markers", "markers with z", "int", doc="number of markers with a z in this sample"),
    _c("note", "note", doc="markers left out of the balance and why", cap=50, wrap=True),
]
CHANGES_COLS = [
    *_SUBJECT,
    _c("marker", "marker", doc="marker id, or a ratio such as PINP/CTX1"),
    _c("specimen", "specimen", doc="serum or urine"),
    _c("unit", "unit", doc="unit of the values"),
    _c("timepoint_from", "from", doc="baseline timepoint"),
    _c("timepoint_to", "to", doc="follow-up timepoint"),
    _c("value_from", "value from (unit)", "general", doc="value at baseline"),
    _c("value_to", "value to (unit)", "general", doc="value at follow-up"),
    _c("censored_from", "censored from", doc="'<' or '>' when the baseline value is a limit"),
    _c("censored_to", "censored to", doc="'<' or '>' when the follow-up value is a limit"),
    _c("change_abs", "change (unit)", "general", doc="value to − value from"),
    _c("change_pct", "% change", "pct", doc="(value to / value from − 1) × 100"),
    _c("log_ratio", "ln(to/from)", "ratio", doc="natural log of value to / value from (the scale of the tests)"),
    _c("rcv_down_pct", "RCV down (%)", "pct", doc="fall needed to exceed measurement noise (reference change value)"),
    _c("rcv_up_pct", "RCV up (%)", "pct", doc="rise needed to exceed measurement noise (reference change value)"),
    _c(
        "rcv_source",
        "RCV source",
        doc="how the RCV was computed and its source (full text on the Methods sheet)",
        cap=28,
    ),
    _c("significant", "beyond RCV", "bool", doc="yes when the % change reaches RCV down or RCV up"),
    _c(
        "direction",
        "direction (RCV verdict)",
        doc="increase / decrease beyond the RCV; none: within the RCV; no RCV: no biological variation data; undetermined: censored",
    ),
    _c("responder", "responder", doc="verdict of the responder rule"),
    _c("responder_rule", "responder rule", doc="rule used (RCV, or a treatment-monitoring threshold)", cap=40),
    _c("note", "note", doc="why no change could be computed, and other remarks", cap=50, wrap=True),
]
_PCT_CI = [
    _c("gm_pct_change", "geometric mean % change", "pct", doc="(geometric mean ratio − 1) × 100"),
    _c("gm_pct_ci_low", "95% CI low (%)", "pct", doc="lower 95% confidence limit of the % change"),
    _c("gm_pct_ci_high", "95% CI high (%)", "pct", doc="upper 95% confidence limit of the % change"),
]
COHORT_COLS = [
    _c("group", "arm", doc="trial arm"),
    _c("marker", "marker", doc="marker id, or a ratio such as PINP/CTX1"),
    _c("specimen", "specimen", doc="serum or urine"),
    _c("unit", "unit", doc="unit of the means and SDs"),
    _c("timepoint_from", "from", doc="baseline timepoint"),
    _c("timepoint_to", "to", doc="follow-up timepoint"),
    _c("n", "n (complete pairs)", "int", doc="subjects with a value at both timepoints"),
    _c("n_censored_excluded", "n censored (excluded)", "int", doc="pairs left out because a value was censored"),
    _c("n_other_excluded", "n other excluded", "int", doc="pairs left out for other reasons"),
    _c("mean_from", "mean from (unit)", "mean", doc="arithmetic mean at baseline of the complete pairs"),
    _c("sd_from", "SD from (unit)", "mean", doc="standard deviation at baseline"),
    _c("mean_to", "mean to (unit)", "mean", doc="arithmetic mean at follow-up"),
    _c("sd_to", "SD to (unit)", "mean", doc="standard deviation at follow-up"),
    _c("gmr", "geometric mean ratio (to/from)", "ratio", doc="exp(mean of ln(to/from))"),
    _c("gmr_ci_low", "GMR 95% CI low", "ratio", doc="lower 95% confidence limit of the geometric mean ratio (t-based)"),
    _c("gmr_ci_high", "GMR 95% CI high", "ratio", doc="upper 95% confidence limit of the geometric mean ratio"),
    *_PCT_CI,
    _c("median_pct_change", "median % change", "pct", doc="median of the subjects' % changes"),
    _c("q1_pct_change", "Q1 % change", "pct", doc="25th percentile of the subjects' % changes"),
    _c("q3_pct_change", "Q3 % change", "pct", doc="75th percentile of the subjects' % changes"),
    _c("test", "test", doc="the test that gave p (next column)", cap=32, wrap=True),
    _c("p", "p", "p", doc="p-value of the test (two-sided)"),
    _c("p_adj", "p adj", "p", doc="p adjusted for multiplicity (method in the next column)"),
    _c("adjust_method", "p adjustment", doc="multiplicity adjustment and the family of tests", cap=30, wrap=True),
    _c("statistic", "test statistic", "mean", doc="t (paired t-test) or W (Wilcoxon)"),
    _c("df", "df", "general", doc="degrees of freedom"),
    _c("d_z", "effect size d_z", "z", doc="Cohen's d_z = mean / SD of ln(to/from)"),
    _c("d_z_ci_low", "d_z 95% CI low", "z", doc="lower 95% confidence limit of d_z (noncentral t)"),
    _c("d_z_ci_high", "d_z 95% CI high", "z", doc="upper 95% confidence limit of d_z"),
    _c("n_rcv", "n judged by RCV", "int", doc="subjects whose change could be judged against the RCV"),
    _c("share_up_rcv", "share rising beyond RCV", "frac", doc="share of those subjects rising beyond the RCV"),
    _c("share_down_rcv", "share falling beyond RCV", "frac", doc="share of those subjects falling beyond the RCV"),
    _c("note", "note", doc="remarks (e.g. exploratory ratio, too few pairs)", cap=40, wrap=True),
]
BETWEEN_COLS = [
    _c("group", "arm", doc="trial arm compared with control"),
    _c("control", "control", doc="the control arm"),
    _c("marker", "marker", doc="marker id, or a ratio"),
    _c("specimen", "specimen", doc="serum or urine"),
    _c("unit", "unit", doc="unit of the values"),
    _c("timepoint_from", "from", doc="baseline timepoint"),
    _c("timepoint_to", "to", doc="follow-up timepoint ('all timepoints' for the mixed model)"),
    _c("n_group", "n arm", "int", doc="subjects of the arm in the comparison"),
    _c("n_control", "n control", "int", doc="subjects of the control arm in the comparison"),
    _c("estimate_label", "estimate", doc="what the estimate is", cap=36, wrap=True),
    _c(
        "estimate",
        "estimate value",
        "ratio",
        doc="the estimate (ANCOVA: ratio of geometric means arm/control adjusted for baseline)",
    ),
    _c("ci_low", "95% CI low", "ratio", doc="lower 95% confidence limit of the estimate"),
    _c("ci_high", "95% CI high", "ratio", doc="upper 95% confidence limit of the estimate"),
    _c(
        "pct_difference",
        "% difference vs control",
        "pct",
        doc="(estimate − 1) × 100: how much higher (or lower) the arm ends than control, adjusted for baseline",
    ),
    _c("pct_ci_low", "95% CI low (%)", "pct", doc="lower 95% confidence limit of the % difference"),
    _c("pct_ci_high", "95% CI high (%)", "pct", doc="upper 95% confidence limit of the % difference"),
    _c("test", "test", doc="the test that gave p (next column)", cap=40, wrap=True),
    _c("p", "p", "p", doc="p-value of the test (two-sided)"),
    _c("p_adj", "p adj", "p", doc="p adjusted for multiplicity (method in the next column)"),
    _c("adjust_method", "p adjustment", doc="multiplicity adjustment and the family of tests", cap=30, wrap=True),
    _c("statistic", "test statistic", "mean", doc="t, U or likelihood-ratio χ² of the test"),
    _c("df", "df", "general", doc="degrees of freedom"),
    _c("note", "note", doc="remarks (mixed model: values, subjects and variance components)", cap=45, wrap=True),
]
EVIDENCE_COLS = [
    _c("group", "arm", doc="trial arm"),
    _c("exercise_type", "exercise type", doc="exercise type of the arm (from its label or the study file)"),
    _c("population", "population", doc="population of the arm's subjects (from sex, age, menopausal status)"),
    _c("marker", "marker", doc="marker id, or a ratio"),
    _c("timepoint_from", "from", doc="baseline timepoint"),
    _c("timepoint_to", "to", doc="last timepoint"),
    _c("n", "n", "int", doc="complete pairs"),
    *_PCT_CI,
    _c("p_adj", "p adj (within arm)", "p", doc="adjusted p of the within-arm test (Group statistics sheet)"),
    _c("observed", "observed", doc="increase / decrease when p adj < 0.05, else no_change"),
    _c(
        "vs_control_pct",
        "% difference vs control",
        "pct",
        doc="baseline-adjusted % difference from control (Between groups sheet)",
    ),
    _c(
        "vs_control_p",
        "p vs control (unadjusted)",
        "p",
        doc="unadjusted p of the comparison with control (Between groups sheet)",
    ),
    _c(
        "expected",
        "literature expects",
        doc="majority direction of the published evidence for this exercise type, population and marker",
    ),
    _c(
        "verdict",
        "verdict",
        doc="consistent / inconsistent with the literature, mixed evidence, or no published expectation",
    ),
    _c("evidence", "what the literature reports", doc="summaries of the published findings", cap=60, wrap=True),
    _c("citations", "citations", doc="the publications", cap=50, wrap=True),
]
RECOMMENDATION_COLS = [
    _c("population", "population", doc="who the recommendation is for", cap=30, wrap=True),
    _c("recommended", "recommended exercise", doc="the review's recommended exercise types", cap=60, wrap=True),
    _c(
        "avoid_or_caution",
        "avoid or use with caution",
        doc="exercise the review advises against or to use with care",
        cap=60,
        wrap=True,
    ),
    _c("citation", "citation", doc="the review", cap=40, wrap=True),
    _c("source", "source (section of the review)", doc="where in the review", cap=30, wrap=True),
]
_PROBLEM = [
    _c("source_file", "source file", doc="input file"),
    _c("source_sheet", "source sheet", doc="sheet of the input file"),
    _c("source_row", "source row", "int", doc="Excel row number in the input sheet"),
    _c("column", "source column", doc="column letter and header in the input sheet"),
    _c("raw_value", "raw text", doc="the cell text as it was in the input", cap=40),
    _c("reason", "reason", doc="why the value was not loaded, or what to check", cap=70, wrap=True),
]
REJECTED_COLS = _PROBLEM
WARNINGS_COLS = [
    _c("severity", "severity", doc="warning (loaded, but check it), notice, or error (a file not read)"),
    *_PROBLEM,
]
CHART_COLS = [
    _c("title", "chart title", doc="title of the Summary chart", cap=62),
    _c("marker", "marker", doc="marker id"),
    _c("group", "arm", doc="trial arm"),
    _c("timepoint_to", "to", doc="last timepoint of the arm"),
    _c("n", "n", "int", doc="complete pairs"),
    *_PCT_CI,
    _c("err_minus", "error bar minus (%)", "pct", doc="% change − CI low (length of the lower error bar)"),
    _c("err_plus", "error bar plus (%)", "pct", doc="CI high − % change (length of the upper error bar)"),
]
_CHART_SIZE = (500, 300)
_MEAN_BALANCE_COL = _c(
    "mean_balance",
    "timepoint (mean balance index by arm)",
    doc="mean balance index of each arm's samples (columns) at each timepoint (rows)",
)
HEADLINE_COLS = [
    _c("group", "arm", doc="trial arm"),
    _c("exercise_type", "exercise type", doc="exercise type of the arm"),
    _c("marker", "marker", doc="marker id"),
    _c("timepoint_to", "to", doc="last timepoint (from the baseline)"),
    _c("n", "n", "int", doc="complete pairs"),
    *_PCT_CI,
    _c("p", "p", "p", doc="p of the within-arm test (named above the table)"),
    _c("p_adj", "p adj", "p", doc="adjusted p of the within-arm test"),
    _c("d_z", "d_z", "z", doc="effect size d_z"),
    _c(
        "pct_difference",
        "vs control: % difference",
        "pct",
        doc="baseline-adjusted % difference from control (test named above the table)",
    ),
    _c("pct_ci_low", "vs control: 95% CI low (%)", "pct", doc="lower 95% confidence limit"),
    _c("pct_ci_high", "vs control: 95% CI high (%)", "pct", doc="upper 95% confidence limit"),
    _c("between_p_adj", "vs control: p adj", "p", doc="adjusted p of the comparison with control"),
    _c("expected", "literature expects", doc="direction the published evidence expects"),
    _c("verdict", "observed vs literature", doc="verdict of the Evidence sheet"),
]


# --------------------------------------------------------------------------------------------
# helpers


def _text(value: Any) -> str:
    """A cell's text, cut at Excel's limit with a visible marker."""
    s = value if isinstance(value, str) else str(value)
    if len(s) > MAX_CELL_CHARS:
        marker = _CUT.format(n=len(s))
        s = s[: MAX_CELL_CHARS - len(marker)] + marker
    return s


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return False


_LINE_PT = 12.75  # height of one line of 10-point text


def _n_lines(text: str, width: float) -> int:
    """Lines a wrapped cell of this width (in characters) needs."""
    wc = max(int((width - 1.5) * 1.22), 3)  # 10-point prose fits about 1.2 characters per width unit
    if len(text) <= wc and "\n" not in text:
        return 1
    return sum(max(1, len(textwrap.wrap(part, wc, break_long_words=True))) for part in text.split("\n"))


def _height(lines: int, *, header: bool = False) -> float:
    return round(lines * _LINE_PT + (4 if header else 3), 2)


def _fit_rows(ws: Any, first: int, wrapped: Sequence[tuple[Sequence[tuple[int, str]], float]]) -> None:
    """Row heights that show every line of the wrapped cells (programs do not always do it)."""
    need: dict[int, int] = {}
    for texts, width in wrapped:
        for r, t in texts:
            k = _n_lines(t, width)
            if k > need.get(r, 1):
                need[r] = k
    for r in sorted(need):
        ws.set_row(r, _height(min(need[r], 30)))


def _pretty(code: str) -> str:
    return str(code).replace("_", " ")


def _versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    for pkg in ("pandas", "numpy", "scipy", "pint", "python-calamine", "xlsxwriter"):
        try:
            parts.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(parts)


def _btm_version() -> str:
    from .. import __version__

    return __version__


@dataclass
class _Sheet:
    """A worksheet and what is known of it (for the glossary and the tests)."""

    ws: Any
    name: str
    columns: list[Col] = field(default_factory=list)


class _Writer:
    def __init__(self, path: Path, *, timestamp: dt.datetime, title: str) -> None:
        import xlsxwriter

        self.path = path
        self.timestamp = timestamp
        self.title = title
        self.wb = xlsxwriter.Workbook(
            str(path),
            {
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "remove_timezone": True,
            },
        )
        self.sheets: dict[str, _Sheet] = {}
        base = {"valign": "top", "font_size": 10}
        self.f: dict[str, Any] = {
            "header": self.wb.add_format({**base, "bold": True, "text_wrap": True, "bg_color": "#D9E1F2", "bottom": 1}),
            "text": self.wb.add_format({**base, "indent": 1}),
            "wrap": self.wb.add_format({**base, "text_wrap": True, "indent": 1}),
            "title": self.wb.add_format({"bold": True, "font_size": 16}),
            "h2": self.wb.add_format({"bold": True, "font_size": 12, "font_color": "#1F4E79"}),
            "label": self.wb.add_format({**base, "bold": True}),
            "note": self.wb.add_format({**base, "italic": True, "font_color": "#404040"}),
            "bool": self.wb.add_format({**base, "align": "center"}),
        }
        self.f["header_nowrap"] = self.wb.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "bottom": 1})
        self.f["datetime_left"] = self.wb.add_format({**base, "num_format": _NUM_FORMATS["datetime"], "align": "left"})
        for kind, num in _NUM_FORMATS.items():
            self.f[kind] = self.wb.add_format(
                {**base, "num_format": num, "align": "left" if kind in ("date", "datetime", "int_left") else "right"}
            )
        self.cf = {
            name: self.wb.add_format({"bg_color": fill, "font_color": font})
            for name, (fill, font) in {"warm": _WARM, "cool": _COOL, "good": _GOOD, "grey": _GREY}.items()
        }

    # -- sheets -------------------------------------------------------------------------------

    def sheet(self, name: str, *, pages_wide: int = 1, repeat_columns: int = 0) -> _Sheet:
        """A new sheet printing landscape on A4, ``pages_wide`` pages across (wide data sheets use 2,
        with their first ``repeat_columns`` columns repeated on every page so each page stays readable)."""
        ws = self.wb.add_worksheet(name)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.set_margins(left=0.4, right=0.4, top=0.55, bottom=0.55)
        ws.fit_to_pages(pages_wide, 0)
        if repeat_columns:
            ws.repeat_columns(0, repeat_columns - 1)
        ws.hide_gridlines(1)  # gridlines on screen, not on paper
        title = self.title.replace("&", "&&")[:120]
        ws.set_footer(f"&L&8{title}&C&8&A&R&8page &P of &N")
        ws.ignore_errors({"number_stored_as_text": "A1:XFD1048576"})
        s = _Sheet(ws, name)
        self.sheets[name] = s
        return s

    def table(
        self,
        s: _Sheet,
        df: pd.DataFrame,
        cols: Sequence[Col],
        *,
        row: int = 0,
        col: int = 0,
        freeze_col: int = 0,
        autofilter: bool = True,
        widths: Sequence[float] | None = None,
        empty_text: str | None = None,
        repeat: bool = True,
    ) -> int:
        """Write a table with its header at ``row``; return the number of data rows written.

        Column widths are fitted to the header (allowed to wrap on up to three lines) and the data,
        capped at each column's ``cap``; wrapped columns get row heights that show all their
        lines. With ``widths`` the sheet's widths are kept (used for the header and row heights).
        """
        ws = s.ws
        cols = [c for c in cols if c.key in df.columns] if len(df.columns) else list(cols)
        s.columns.extend(cols)
        final: list[float] = []
        wrapped: list[tuple[list[tuple[int, str]], float]] = []
        for j, c in enumerate(cols):
            ws.write_string(row, col + j, c.header, self.f["header"])
            data_w, texts = self._column(ws, row + 1, col + j, df[c.key] if c.key in df else None, c)
            if widths is not None:
                w = float(widths[j])
            else:
                words = max((len(x) for x in c.header.split()), default=4)
                head_w = max(words, math.ceil(len(c.header) / 3))
                pad = 2.5 if c.kind in ("text", "bool") else 1.5  # text cells are indented by one character
                w = min(max(data_w, head_w, 4) + pad, c.cap + pad)
                ws.set_column(col + j, col + j, w, self.f["wrap"] if c.wrap else None)
            final.append(w)
            if c.wrap and texts:
                wrapped.append((texts, w))
        n = len(df)
        if n == 0 and empty_text is not None:
            ws.write_string(row + 1, col, empty_text, self.f["label"])
        head_lines = max((_n_lines(c.header, w) for c, w in zip(cols, final, strict=True)), default=1)
        ws.set_row(row, _height(min(head_lines, 5), header=True))
        _fit_rows(ws, row + 1, wrapped)
        last = row + max(n, 1 if empty_text is not None else 0)
        if autofilter and cols:
            ws.autofilter(row, col, last, col + len(cols) - 1)
        if row == 0 and col == 0:
            ws.freeze_panes(1, freeze_col)
            if repeat:
                ws.repeat_rows(0)
        return n

    def _column(self, ws: Any, r0: int, c: int, s: pd.Series | None, col: Col) -> tuple[float, list[tuple[int, str]]]:
        """Write one column below its header: (display width it needs, [(row, text)] of wrapped text)."""
        if s is None or len(s) == 0:
            return 0.0, []
        kind = col.kind
        if kind in _NUMERIC:
            arr = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            fmt = self.f[kind]
            ok = np.flatnonzero(np.isfinite(arr))
            write = ws.write_number
            for i in ok:
                write(r0 + int(i), c, float(arr[i]), fmt)
            if not len(ok):
                return 0.0, []
            if kind == "general":
                mx = float(np.nanmax(np.abs(arr[ok])))
                return float(min(len(f"{mx:.10g}") + 1, 12)), []
            if kind in ("int", "int_left"):
                return float(max(3, len(str(int(np.nanmax(np.abs(arr[ok]))))))), []
            return float({"pct": 6, "p": 6, "z": 6, "ratio": 6, "mean": 8, "frac": 5}[kind]), []
        if kind in ("date", "datetime"):
            ts = pd.to_datetime(s, errors="coerce")
            fmt = self.f[kind]
            for i, v in enumerate(ts):
                if not _is_missing(v):
                    ws.write_datetime(r0 + i, c, v.to_pydatetime(), fmt)
            return (10.0 if kind == "date" else 19.0), []
        if kind == "bool":
            for i, v in enumerate(s.tolist()):
                if _is_missing(v) or v == "":
                    continue
                text = ("yes" if v else "no") if isinstance(v, bool | np.bool_) else _text(v)
                ws.write_string(r0 + i, c, text, self.f["bool"])
            return 4.0, []
        fmt = self.f["wrap"] if col.wrap else self.f["text"]
        width = 0
        texts: list[tuple[int, str]] = []
        for i, v in enumerate(s.tolist()):
            if _is_missing(v):
                continue
            t = v if isinstance(v, str) else str(v)
            if not t:
                continue
            t = _text(t)
            ws.write_string(r0 + i, c, t, fmt)
            if len(t) > width:
                width = len(t)
            if col.wrap and (len(t) > 8 or "\n" in t):
                texts.append((r0 + i, t))
        return float(width), texts

    def cond_text(
        self, s: _Sheet, key: str, rules: dict[str, str], *, first_row: int, n: int, col0: int = 0, how: str = "equal"
    ) -> None:
        """Colour cells of column ``key`` whose text is (or begins with) a value; the text stays."""
        keys = [c.key for c in s.columns]
        if key not in keys or n == 0:
            return
        j = col0 + keys.index(key)
        for value, colour in rules.items():
            if how == "equal":
                opts = {"type": "cell", "criteria": "equal to", "value": f'"{value}"', "format": self.cf[colour]}
            else:
                opts = {"type": "text", "criteria": "begins with", "value": value, "format": self.cf[colour]}
            s.ws.conditional_format(first_row, j, first_row + n - 1, j, opts)

    def close(self) -> None:
        from xlsxwriter.exceptions import FileCreateError

        try:
            self.wb.close()
        except FileCreateError as exc:
            raise BTMError(
                f"{self.path}: cannot write the report ({exc.__cause__ or exc}); is it open in Excel, or is the folder read-only?"
            ) from None


# --------------------------------------------------------------------------------------------
# tables derived for the Summary and the charts


def _marker_order(markers: Sequence[str]) -> list[str]:
    from ..markers import catalog

    present = list(dict.fromkeys(str(m) for m in markers))
    known = [m for m in catalog() if m in present]
    return known + [m for m in present if m not in known]


def headline(a: Any) -> pd.DataFrame:
    """Per arm and marker: change from baseline to the arm's last timepoint, and against control.

    One row per arm × marker (ratios left out), in arm order (control first) and catalog marker
    order; the values are those of ``a.cohort``, ``a.between`` and ``a.evidence`` unchanged.
    """
    from .figures import arm_order

    cols = [c.key for c in HEADLINE_COLS] + ["specimen", "unit", "timepoint_from"]
    if a.cohort.empty:
        return pd.DataFrame(columns=cols)
    rank = a.order.rank()
    c = a.cohort[
        (a.cohort["timepoint_from"] == a.order.baseline)
        & ~a.cohort["marker"].astype(str).str.contains("/", regex=False)
    ]
    c = c[c["timepoint_to"].isin(list(rank))]
    if c.empty:
        return pd.DataFrame(columns=cols)
    c = c.assign(_r=c["timepoint_to"].map(rank))
    keys = ["group", "marker", "specimen", "unit"]
    c = c.loc[c.groupby(keys, sort=False)["_r"].idxmax()].drop(columns="_r")
    out = c[
        [
            "group",
            "marker",
            "specimen",
            "unit",
            "timepoint_from",
            "timepoint_to",
            "n",
            "gm_pct_change",
            "gm_pct_ci_low",
            "gm_pct_ci_high",
            "p",
            "p_adj",
            "d_z",
            "test",
        ]
    ].copy()
    out["exercise_type"] = out["group"].map(lambda g: _pretty(a.arm_types.get(g, "")))
    if len(a.between):
        b = a.between[
            [
                "group",
                "marker",
                "specimen",
                "unit",
                "timepoint_to",
                "pct_difference",
                "pct_ci_low",
                "pct_ci_high",
                "p_adj",
                "test",
            ]
        ]
        b = b.rename(columns={"p_adj": "between_p_adj", "test": "between_test"}).drop_duplicates(
            keys + ["timepoint_to"]
        )
        out = out.merge(b, on=keys + ["timepoint_to"], how="left")
    else:
        for k in ("pct_difference", "pct_ci_low", "pct_ci_high", "between_p_adj", "between_test"):
            out[k] = np.nan if k != "between_test" else ""
    if len(a.evidence):
        e = a.evidence[["group", "marker", "timepoint_to", "expected", "verdict"]].drop_duplicates(
            ["group", "marker", "timepoint_to"]
        )
        out = out.merge(e, on=["group", "marker", "timepoint_to"], how="left")
    else:
        out["expected"] = out["verdict"] = ""
    out["expected"] = out["expected"].fillna("").map(_pretty)
    out["verdict"] = out["verdict"].fillna("")
    arms = arm_order(a)
    markers = _marker_order(out["marker"])
    out["_a"] = out["group"].map({g: i for i, g in enumerate(arms)})
    out["_m"] = out["marker"].map({m: i for i, m in enumerate(markers)})
    return out.sort_values(["_a", "_m", "specimen"], kind="stable").drop(columns=["_a", "_m"]).reset_index(drop=True)


def _axis_range(lo: float, hi: float) -> dict[str, float]:
    """Axis min, max and major unit that show the whole confidence intervals (charts scale to the bars only)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return {}
    raw = (hi - lo) / 6
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return {"min": math.floor(lo / step) * step, "max": math.ceil(hi / step) * step, "major_unit": step}


def _chart_table(a: Any, head: pd.DataFrame) -> pd.DataFrame:
    """The headline rows by marker then arm, with error-bar lengths, for the Summary charts."""
    if head.empty:
        return pd.DataFrame(columns=[c.key for c in CHART_COLS] + ["specimen"])
    t = head.copy()
    t["err_minus"] = t["gm_pct_change"] - t["gm_pct_ci_low"]
    t["err_plus"] = t["gm_pct_ci_high"] - t["gm_pct_change"]
    markers = _marker_order(t["marker"])
    t["_m"] = t["marker"].map({m: i for i, m in enumerate(markers)})
    t = t.sort_values(["_m", "specimen"], kind="stable").drop(columns="_m").reset_index(drop=True)
    spec = t["specimen"].fillna("").astype(str)
    label = t["marker"].astype(str) + np.where(spec.isin(["", "serum"]), "", " (" + spec + ")")
    t["title"] = (
        label + ": % change " + a.order.baseline + " → " + t["timepoint_to"].astype(str) + " (geometric mean, 95% CI)"
    )
    return t


def _balance_means(a: Any, arms: Sequence[str]) -> pd.DataFrame:
    """Mean balance index by timepoint (rows, in order) and arm (columns)."""
    b = a.balance
    if b.empty or b["balance_index"].notna().sum() == 0:
        return pd.DataFrame()
    m = b.groupby(["timepoint", "group"], sort=False)["balance_index"].mean().unstack("group")
    tps = [t for t in a.order.order if t in m.index]
    return m.reindex(index=tps, columns=[g for g in arms if g in m.columns])


# --------------------------------------------------------------------------------------------
# the sheets


#: Column widths of the Summary sheet (its headline table and the blocks above it share them).
_SUMMARY_WIDTHS = [26, 17, 9, 12, 5, 10, 9, 9, 8, 8, 7, 11, 11, 11, 9, 13, 24]


def _summary(w: _Writer, a: Any, imported: Any, *, files: list[str], has_figures: bool) -> Callable[[], None]:
    from .figures import arm_colours, arm_order

    s = w.sheet("Summary")
    ws = s.ws
    f = w.f
    for j, wd in enumerate(_SUMMARY_WIDTHS):
        ws.set_column(j, j, wd)
    ws.write_string(0, 0, _text(w.title), f["title"])
    ws.set_row(0, 24)
    ws.write_string(1, 0, "Generated", f["label"])
    ws.write_datetime(1, 1, w.timestamp, f["datetime_left"])
    ws.write_string(1, 3, f"by btm {_btm_version()}", f["text"])
    ws.freeze_panes(2, 0)

    res = a.results
    r = 3
    ws.write_string(r, 0, "Study at a glance", f["h2"])
    r += 1
    problems = imported.problems if imported is not None else pd.DataFrame(columns=["severity"])
    sev = problems["severity"].astype(str) if len(problems) else pd.Series([], dtype=str)
    n_rejected = int((sev == "rejected").sum())
    flagged = int((res["flags"].astype(str) != "").sum()) if "flags" in res else 0
    markers = _marker_order(res["marker"]) if len(res) else []
    tps = list(a.order.order)
    arms = arm_order(a)
    glance: list[tuple[str, Any, str]] = [
        ("Input files", len(files), "; ".join(files)),
        ("Subjects", int(res["subject_id"].nunique()) if len(res) else 0, ""),
        (
            "Samples (subject × timepoint)",
            int(len(res[["subject_id", "timepoint"]].drop_duplicates())) if len(res) else 0,
            "",
        ),
        ("Results loaded", len(res), "one row each on the Results sheet"),
        ("Arms", len(arms), "see the table below"),
        ("Timepoints", len(tps), " → ".join(tps)),
        ("Baseline", a.order.baseline, f"order: {a.order.basis}"),
        ("Markers", len(markers), ", ".join(markers)),
        (
            "Control arm",
            a.control or "none",
            "every other arm is compared with it" if a.control else "no comparison between arms",
        ),
        (
            "Rejected values",
            n_rejected,
            "listed on the Rejected sheet" if n_rejected else "every value read was loaded",
        ),
        ("Warnings", int((sev == "warning").sum()), "listed on the Warnings sheet"),
        ("Notices, files not read", int(sev.isin(["notice", "error"]).sum()), "listed on the Warnings sheet"),
        (
            "Flagged results",
            flagged,
            "pre-analytical flags (e.g. non-fasting, low eGFR): Results sheet; codes on the Methods sheet",
        ),
    ]
    for label, value, detail in glance:
        ws.write_string(r, 0, label, f["label"])
        if isinstance(value, int | float) and not isinstance(value, bool):
            ws.write_number(r, 1, value, f["int_left"])
        else:
            ws.write_string(r, 1, _text(value), f["text"])
        if detail:
            ws.write_string(r, 2, _text(detail), f["text"])
        r += 1

    r += 1
    ws.write_string(r, 0, "Arms", f["h2"])
    r += 1
    n_subj = res.groupby("group")["subject_id"].nunique() if len(res) else pd.Series(dtype=int)
    arm_rows = pd.DataFrame(
        {
            "group": [g or "(no arm)" for g in arms],
            "exercise_type": [_pretty(a.arm_types.get(g, "")) or "unknown" for g in arms],
            "n": [int(n_subj.get(g, 0)) for g in arms],
            "population": [_pretty(a.populations.get(g, ("", ""))[0]) for g in arms],
            "mix": [a.populations.get(g, ("", ""))[1] for g in arms],
        }
    )
    arm_cols = [
        _c("group", "arm"),
        _c("exercise_type", "exercise type"),
        _c("n", "subjects", "int_left"),
        _c("population", "population"),
        _c("mix", "who (by sex, age and menopausal status)"),
    ]
    _small_table(w, ws, arm_rows, arm_cols, r, _SUMMARY_WIDTHS, nowrap_last=True)
    r += len(arm_rows) + 2

    head = headline(a)
    shown = list(dict.fromkeys(head["timepoint_to"].astype(str))) if len(head) else tps[-1:]
    last = f"the last timepoint ({shown[0]})" if len(shown) == 1 else "each arm's last timepoint (column 'to')"
    ws.write_string(r, 0, _text(f"Headline: change from {a.order.baseline} to {last}, and against control"), f["h2"])
    r += 1
    tests = [t for t in pd.unique(head["test"].astype(str)) if t] if len(head) else []
    btests = (
        [t for t in pd.unique(head["between_test"].fillna("").astype(str)) if t]
        if len(head) and "between_test" in head
        else []
    )
    adj = a.cohort["adjust_method"].iloc[0] if len(a.cohort) else ""
    lines = [
        "Within each arm: geometric mean % change with 95% CI; p from the "
        + ("; ".join(tests) or "paired test")
        + (f"; p adj: {adj}." if adj else "."),
        (
            "Against control ("
            + (a.control or "")
            + "): % difference at the last timepoint adjusted for baseline, from the "
            + ("; ".join(btests) or "comparison with control")
            + "; p adj across the markers of the arm."
        )
        if a.control
        else "No control arm: no comparison between arms (name it with --control).",
        "p below 0.001 shows as <0.001; cells hold unrounded values. Colours repeat the text: consistent (green), inconsistent (orange).",
    ]
    for line in lines:
        ws.write_string(r, 0, _text(line), f["note"])
        r += 1
    head_row = r
    n = w.table(
        s,
        head,
        HEADLINE_COLS,
        row=head_row,
        widths=_SUMMARY_WIDTHS,
        autofilter=True,
        empty_text="no change could be computed (check the timepoints and the baseline)",
    )
    w.cond_text(s, "verdict", {"consistent": "good", "inconsistent": "warm"}, first_row=head_row + 1, n=n)
    r = head_row + max(n, 1) + 2

    # native charts: one per marker (mean % change with 95% CI by arm) and the balance index; on a new page
    ws.set_h_pagebreaks([r])
    ws.write_string(r, 0, "Charts (their numbers are on the 'Chart data' sheet)", f["h2"])
    r += 1
    charts, write_chart_data = _charts(w, a, head, arms, arm_colours(arms, a.control))
    per_row, cw, ch = 3, _CHART_SIZE[0], _CHART_SIZE[1]
    for k, chart in enumerate(charts):
        ws.insert_chart(
            r,
            0,
            chart,
            {
                "x_offset": 4 + (k % per_row) * (cw + 12),
                "y_offset": 4 + (k // per_row) * (ch + 12),
                "object_position": 3,
            },
        )
    n_chart_rows = math.ceil(len(charts) / per_row) if charts else 0
    r += math.ceil(n_chart_rows * (ch + 12) / 20) + 2 if charts else 1

    ws.write_string(r, 0, "Sheets in this workbook", f["h2"])
    r += 1
    for name, what in SHEETS.items():
        if name == "Figures" and not has_figures:
            continue
        ws.write_string(r, 0, name, f["label"])
        ws.write_string(r, 1, what, f["text"])
        r += 1
    return write_chart_data


def _small_table(
    w: _Writer,
    ws: Any,
    df: pd.DataFrame,
    cols: Sequence[Col],
    row: int,
    widths: Sequence[float],
    col: int = 0,
    nowrap_last: bool = False,
) -> None:
    """A small table inside a sheet (no autofilter; the sheet's column widths): header + rows."""
    wrapped = []
    for j, c in enumerate(cols):
        last = nowrap_last and j == len(cols) - 1
        ws.write_string(row, col + j, c.header, w.f["header_nowrap" if last else "header"])
        _, texts = w._column(ws, row + 1, col + j, df[c.key] if c.key in df else None, c)
        if c.wrap and texts:
            wrapped.append((texts, widths[col + j]))
    head = max(
        (_n_lines(c.header, widths[col + j]) for j, c in enumerate(cols) if not (nowrap_last and j == len(cols) - 1)),
        default=1,
    )
    ws.set_row(row, _height(min(head, 4), header=True))
    _fit_rows(ws, row + 1, wrapped)


def _charts(
    w: _Writer, a: Any, head: pd.DataFrame, arms: list[str], colours: dict[str, str]
) -> tuple[list[Any], Callable[[], None]]:
    """The Summary charts, and a function that writes the 'Chart data' sheet they read (called last)."""
    from xlsxwriter.utility import quote_sheetname, xl_range_abs

    name = "Chart data"
    sheet = quote_sheetname(name)
    t = _chart_table(a, head).reset_index(drop=True)
    keys = [c.key for c in CHART_COLS]
    means = _balance_means(a, arms)
    c0 = len(keys) + 1  # the balance table sits to the right of the first table
    charts = []

    def ref(col_key: str, r0: int, r1: int) -> str:
        j = keys.index(col_key)
        return f"={sheet}!{xl_range_abs(r0, j, r1, j)}"

    grid = {"visible": True, "line": {"color": "#D9D9D9"}}
    for _key, idx in t.groupby(["marker", "specimen"], sort=False).indices.items() if len(t) else []:
        r0, r1 = int(idx.min()) + 1, int(idx.max()) + 1
        chart = w.wb.add_chart({"type": "column"})
        points = [
            {"fill": {"color": colours.get(str(t.at[int(i), "group"]), "#4472C4")}, "border": {"none": True}}
            for i in idx
        ]
        chart.add_series(
            {
                "name": [name, r0, keys.index("title")],
                "categories": ref("group", r0, r1),
                "values": ref("gm_pct_change", r0, r1),
                "points": points,
                "gap": 80,
                "y_error_bars": {
                    "type": "custom",
                    "plus_values": ref("err_plus", r0, r1),
                    "minus_values": ref("err_minus", r0, r1),
                    "end_style": 1,
                    "line": {"color": "#404040", "width": 1},
                },
            }
        )
        chart.set_title({"name": [name, r0, keys.index("title")], "name_font": {"size": 10, "bold": True}})
        chart.set_legend({"none": True})
        lo = np.nanmin(np.r_[t.loc[idx, ["gm_pct_ci_low", "gm_pct_change"]].to_numpy(dtype=float).ravel(), 0.0])
        hi = np.nanmax(np.r_[t.loc[idx, ["gm_pct_ci_high", "gm_pct_change"]].to_numpy(dtype=float).ravel(), 0.0])
        axis = _axis_range(float(lo), float(hi))
        chart.set_y_axis(
            {
                "name": "% change (95% CI)",
                "num_format": "0",
                "name_font": {"size": 9, "bold": False},
                "major_gridlines": grid,
                **axis,
            }
        )
        chart.set_x_axis({"label_position": "low", "num_font": {"size": 9}})
        chart.set_size({"width": _CHART_SIZE[0], "height": _CHART_SIZE[1]})
        charts.append(chart)
    if len(means):
        chart = w.wb.add_chart({"type": "line"})
        r1 = len(means)
        for j, g in enumerate(means.columns, start=1):
            colour = colours.get(str(g), "#4472C4")
            chart.add_series(
                {
                    "name": [name, 0, c0 + j],
                    "categories": f"={sheet}!{xl_range_abs(1, c0, r1, c0)}",
                    "values": f"={sheet}!{xl_range_abs(1, c0 + j, r1, c0 + j)}",
                    "line": {"color": colour, "width": 2.25},
                    "marker": {"type": "circle", "size": 6, "fill": {"color": colour}, "border": {"none": True}},
                }
            )
        chart.set_title(
            {"name": "Mean balance index (formation z − resorption z) by arm", "name_font": {"size": 10, "bold": True}}
        )
        chart.set_y_axis(
            {
                "name": "balance index (z units)",
                "num_format": "0.0",
                "name_font": {"size": 9, "bold": False},
                "major_gridlines": grid,
            }
        )
        chart.set_x_axis({"label_position": "low", "num_font": {"size": 9}})
        chart.set_legend({"position": "bottom", "font": {"size": 8}})
        chart.set_size({"width": _CHART_SIZE[0], "height": _CHART_SIZE[1]})
        charts.append(chart)

    def write_sheet() -> None:
        s = w.sheet(name)
        ws = s.ws
        w.table(s, t, CHART_COLS, empty_text="none")
        ws.write_string(0, c0, "timepoint (mean balance index by arm)", w.f["header"])
        ws.set_column(c0, c0, 22)
        s.columns.append(_MEAN_BALANCE_COL)
        for i, tp in enumerate(means.index):
            ws.write_string(i + 1, c0, _text(tp), w.f["text"])
        for j, g in enumerate(means.columns, start=1):
            ws.write_string(0, c0 + j, _text(g), w.f["header"])
            ws.set_column(c0 + j, c0 + j, max(10, min(len(str(g)) + 2, 24)))
            for i, v in enumerate(means[g].tolist()):
                if not _is_missing(v) and math.isfinite(v):
                    ws.write_number(i + 1, c0 + j, float(v), w.f["z"])

    return charts, write_sheet


def _results(w: _Writer, a: Any) -> None:
    s = w.sheet("Results", pages_wide=2, repeat_columns=3)
    df = a.results
    known = {c.key for c in RESULTS_COLS}
    extra = [
        _c(k, k, "general" if pd.api.types.is_numeric_dtype(df[k]) else "text", doc="column of the input")
        for k in df.columns
        if k not in known
    ]
    # optional columns that are empty throughout are left out (the core ones always show)
    cols = [c for c in RESULTS_COLS + extra if c.key in _CORE_RESULTS or (c.key in df and _has_values(df[c.key]))]
    n = w.table(s, df, cols, freeze_col=1, empty_text="none")
    w.cond_text(s, "status", {"low": "cool", "high": "warm", "undetermined": "grey"}, first_row=1, n=n)


_CORE_RESULTS = {
    "subject_id",
    "group",
    "timepoint",
    "sample_date",
    "marker",
    "specimen",
    "value",
    "unit",
    "censored",
    "status",
    "z",
    "ref_low",
    "ref_high",
    "ref_unit",
    "ref_population",
    "ref_source",
    "flags",
    "flag_notes",
    "source_file",
    "source_sheet",
    "source_row",
    "source_column",
    "raw_value",
    "raw_unit",
}


def _has_values(s: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return bool(s.notna().any())
    return bool((s.fillna("").astype(str) != "").any())


def _balance(w: _Writer, a: Any) -> None:
    from ..interpret import RATIOS

    s = w.sheet("Balance", pages_wide=2, repeat_columns=3)
    df = a.balance
    ratio_cols = []
    for name, spec in RATIOS.items():
        key = f"ratio_{name}"
        if key in df and df[key].notna().any():
            ratio_cols.append(
                _c(key, f"{name} ratio ({spec[4].split(' [')[0].split(' (')[0]})", "mean", doc=f"ratio {spec[4]}")
            )
    cols = BALANCE_COLS[:-2] + ratio_cols + BALANCE_COLS[-2:]
    n = w.table(s, df, cols, freeze_col=1, empty_text="none")
    w.cond_text(s, "turnover_state", {"high turnover": "warm", "low turnover": "cool"}, first_row=1, n=n, how="begins")


def _changes(w: _Writer, a: Any) -> None:
    s = w.sheet("Changes", pages_wide=2, repeat_columns=3)
    n = w.table(s, a.changes, CHANGES_COLS, freeze_col=1, empty_text="none")
    w.cond_text(s, "direction", {"increase": "warm", "decrease": "cool", "undetermined": "grey"}, first_row=1, n=n)
    w.cond_text(s, "responder", {"increase": "warm", "decrease": "cool"}, first_row=1, n=n, how="begins")


def _stats(w: _Writer, a: Any) -> None:
    s = w.sheet("Group statistics", pages_wide=2, repeat_columns=2)
    w.table(s, a.cohort, COHORT_COLS, freeze_col=1, empty_text="none")
    s = w.sheet("Between groups", pages_wide=2, repeat_columns=2)
    empty = "none: no control arm (name it with --control)" if not a.control else "none"
    w.table(
        s,
        a.between if len(a.between.columns) else pd.DataFrame(columns=[c.key for c in BETWEEN_COLS]),
        BETWEEN_COLS,
        freeze_col=1,
        empty_text=empty,
    )


def _evidence(w: _Writer, a: Any) -> None:
    from ..evidence import recommendations

    s = w.sheet("Evidence")
    n = w.table(s, a.evidence, EVIDENCE_COLS, freeze_col=1, empty_text="none")
    w.cond_text(s, "verdict", {"consistent": "good", "inconsistent": "warm"}, first_row=1, n=n)
    s = w.sheet("Recommendations")
    w.table(s, recommendations(), RECOMMENDATION_COLS, empty_text="none")


def _problems(w: _Writer, imported: Any) -> None:
    s = w.sheet("Rejected")
    rej = imported.rejected if imported is not None else pd.DataFrame(columns=[c.key for c in REJECTED_COLS])
    w.table(s, rej, REJECTED_COLS, empty_text="none")
    s = w.sheet("Warnings")
    warn = imported.warnings if imported is not None else pd.DataFrame(columns=[c.key for c in WARNINGS_COLS])
    n = w.table(s, warn, WARNINGS_COLS, empty_text="none")
    w.cond_text(s, "severity", {"warning": "warm", "error": "warm"}, first_row=1, n=n)


def _methods_text(a: Any) -> list[tuple[str, str]]:
    from ..change import Z_95
    from ..stats import ADJUST, BETWEEN_TESTS, TESTS

    o = a.options
    adjust = ADJUST.get(o.adjust, o.adjust)
    adj_ref = (
        "Holm 1979, Scand J Stat 6:65" if o.adjust == "holm" else "Benjamini & Hochberg 1995, J R Stat Soc B 57:289"
    )
    rcv = (
        "log-normal, asymmetric reference change value (Fokkema et al. 2006, Clin Chem 52:1602): "
        f"σ = √(ln(CVa² + 1) + ln(CVi² + 1)), RCV up = exp(+z·√2·σ) − 1, RCV down = exp(−z·√2·σ) − 1, z = {Z_95:.2f} (two-sided 95%)"
        if o.rcv == "lognormal"
        else f"symmetric least significant change ± z·√2·CVt, z = {Z_95:.2f}"
    )
    between = {
        "ancova": "ANCOVA on log values (Vickers & Altman 2001, BMJ 323:1123): ln(follow-up) = a + b·ln(baseline) + c·arm, fitted "
        "by ordinary least squares for each arm with the control arm; exp(c) is the ratio of geometric means arm/control "
        "adjusted for baseline, shown as % difference = (exp(c) − 1) × 100 with its 95% CI.",
        "welch": "Welch t-test on ln(follow-up/baseline) between the arm and control; the ratio of geometric mean changes with its 95% CI.",
        "mannwhitney": "Mann-Whitney U test on the % changes of the arm and of control.",
    }.get(o.between, BETWEEN_TESTS.get(o.between, o.between))
    return [
        (
            "Reference intervals",
            "Each result is compared with the reference interval chosen for the subject by marker, specimen, assay, "
            "sex, age and menopausal status (your lab's intervals first when given, else the shipped, published ones). Status: low / within "
            "/ high; a censored result (<x, >x) gets a status only where it is certain.",
        ),
        (
            "z-scores",
            "zlog (Hoffmann et al. 2017, LaboratoriumsMedizin 41:23): z = (ln x − (ln L + ln U)/2) · 3.92 / (ln U − ln L), so "
            "z = −1.96 at the lower and +1.96 at the upper reference limit. Censored values get no z.",
        ),
        (
            "Balance and turnover",
            "Per sample: formation z = mean z of PINP, BALP, OCN, ALP present; resorption z = mean z of CTX1, NTX, "
            "TRAP5B, PYD, DPD present; balance index = formation z − resorption z (≥ 1 formation-dominant, ≤ −1 resorption-dominant); "
            "turnover z = mean of all z, beyond ±1.96 = high or low turnover.",
        ),
        (
            "Change per subject",
            f"Change from baseline to each follow-up per subject and marker, paired by subject id and timepoint. "
            f"% change = (to/from − 1) × 100, judged against the {rcv}. A change is 'beyond RCV' when it reaches the limit.",
        ),
        (
            "Change within an arm",
            f"Geometric mean ratio = exp(mean ln(to/from)) with a t-based 95% CI; % change = (ratio − 1) × 100. "
            f"Test: {TESTS.get(o.test, o.test)} (two-sided). Effect size Cohen's d_z = mean / SD of ln(to/from) (paired differences), "
            "95% CI by inverting the noncentral t distribution.",
        ),
        (
            "Multiple testing",
            f"p-values adjusted with the {adjust} method ({adj_ref}) across the markers of one arm and timepoint "
            "pair (within-arm change) and across the markers of one comparison (arm vs control).",
        ),
        ("Arm against control", between),
        (
            "Repeated measures",
            "With three or more timepoints: a linear mixed model ln(value) ~ arm × timepoint with a random "
            "intercept per subject (maximum likelihood), the arm × time interaction tested by a likelihood-ratio test (rows 'all "
            "timepoints' on the Between groups sheet).",
        ),
        (
            "Comparison with the literature",
            "An arm's change is 'observed' as an increase or decrease when its adjusted p < 0.05. It is "
            "compared with the majority direction of the published evidence for the arm's exercise type and population (related "
            "populations, else any population); disagreeing sources give 'mixed evidence'.",
        ),
        (
            "Values in this workbook",
            "Cells hold unrounded values; number formats only round the display (0.0 for %, 0.00 for z, "
            "0.000 for p with <0.001 below 0.001). Blank cells are missing values. Text from the input is always stored as text.",
        ),
    ]


def _methods(w: _Writer, a: Any, imported: Any, *, files: list[str]) -> None:
    from .._resources import sha256_of
    from ..interpret import FLAGS
    from ..ranges import reference_files_digest

    s = w.sheet("Methods")
    ws = s.ws
    f = w.f
    widths = [30, 68, 11, 11, 11, 11, 36]
    for j, wd in enumerate(widths):
        ws.set_column(j, j, wd, f["wrap"] if j in (0, 1, 6) else None)
    about = pd.DataFrame(
        [
            ("report title", w.title, ""),
            ("generated", w.timestamp, ""),
            ("btm version", _btm_version(), "the software that made this report"),
            ("software", _versions(), ""),
            ("timepoint order", " → ".join(a.order.order), a.order.basis),
            ("baseline", a.order.baseline, ""),
            ("control arm", a.control or "none", ""),
            *[
                (
                    f"arm: {g}",
                    f"{_pretty(a.arm_types.get(g, '')) or 'exercise type unknown'}; population {_pretty(p[0])}",
                    p[1],
                )
                for g, p in a.populations.items()
                if g
            ],
            *[(f"option: {k}", str(v), "") for k, v in a.options.describe().items()],
            *[(f"note {i}", n, "") for i, n in enumerate(a.notes, start=1)],
        ],
        columns=["item", "value", "detail"],
    )
    cols = [
        _c("item", "item", doc="what is described", wrap=True),
        _c("value", "value", doc="its value", wrap=True),
        _c("detail", "detail", doc="more on it"),
    ]
    # the first block is a table with the sheet's frozen header and autofilter
    _small_table(w, ws, about.assign(value=[v if isinstance(v, str) else "" for v in about["value"]]), cols, 0, widths)
    ws.write_datetime(1 + about.index[about["item"] == "generated"][0], 1, w.timestamp, f["datetime_left"])
    ws.freeze_panes(1, 0)  # not repeated on printed pages: the blocks below have their own headers
    ws.autofilter(0, 0, len(about), 2)
    s.columns.extend(cols)
    r = len(about) + 2

    def block(title: str, df: pd.DataFrame, bcols: list[Col], empty: str = "none") -> None:
        nonlocal r
        ws.write_string(r, 0, title, f["h2"])
        r += 1
        _small_table(w, ws, df, bcols, r, widths)
        if df.empty:
            ws.write_string(r + 1, 0, empty, f["label"])
        r += max(len(df), 1) + 2

    # statistical methods in plain words
    block(
        "Statistical and interpretation methods",
        pd.DataFrame(_methods_text(a), columns=["topic", "method"]),
        [_c("topic", "topic", wrap=True), _c("method", "method", wrap=True)],
    )

    # inputs and their hashes
    rows = []
    frame = imported.files if imported is not None and len(imported.files) else pd.DataFrame({"file": files})
    for rec in frame.to_dict("records"):
        fname = str(rec.get("file", ""))
        try:
            digest = sha256_of(fname)
        except OSError:
            digest = "(not readable now)"
        rows.append({**rec, "file": fname, "sha256": digest})
    inputs = pd.DataFrame(rows)
    block(
        "Input files (SHA-256 of each file's bytes)",
        inputs,
        [
            _c("file", "file", wrap=True),
            _c("sha256", "SHA-256"),
            _c("read", "values read", "int"),
            _c("loaded", "loaded", "int"),
            _c("rejected", "rejected", "int"),
            _c("blank", "blank", "int"),
            _c("status", "status", wrap=True),
        ],
    )

    try:
        digest = reference_files_digest()
    except (OSError, BTMError) as exc:
        digest = {"(reference files)": f"not found: {exc}"}
    block(
        "Shipped reference files (SHA-256)",
        pd.DataFrame(list(digest.items()), columns=["file", "sha256"]),
        [_c("file", "file"), _c("sha256", "SHA-256")],
    )

    # reference intervals actually used
    res = a.results
    iv_cols = ["marker", "specimen", "ref_population", "ref_low", "ref_high", "ref_unit", "ref_assay", "ref_source"]
    if len(res) and all(c in res for c in iv_cols):
        used = res[res["ref_high"].notna() | res["ref_low"].notna()]
        iv = used.groupby(iv_cols, dropna=False, sort=False).size().reset_index(name="n")
        order = _marker_order(iv["marker"])
        iv["_m"] = iv["marker"].map({m: i for i, m in enumerate(order)})
        iv = iv.sort_values(["_m", "ref_population", "ref_low"], kind="stable").drop(columns="_m")
        none = sorted(set(res.loc[res["ref_high"].isna() & res["ref_low"].isna(), "marker"].astype(str)))
    else:
        iv, none = pd.DataFrame(columns=[*iv_cols, "n"]), []
    block(
        "Reference intervals used",
        iv,
        [
            _c("marker", "marker"),
            _c("ref_source", "source", wrap=True),
            _c("ref_low", "low", "general"),
            _c("ref_high", "high", "general"),
            _c("ref_unit", "unit"),
            _c("n", "results", "int"),
            _c("ref_population", "population", wrap=True),
        ],
    )
    if none:
        ws.write_string(
            r - 1, 0, _text("No reference interval for: " + ", ".join(none) + " (no status or z for these)."), f["note"]
        )
        r += 1

    # RCV / LSC used
    ch = a.changes
    if len(ch) and "rcv_source" in ch:
        rc = (
            ch[ch["rcv_up_pct"].notna()]
            .groupby(["marker", "specimen", "rcv_down_pct", "rcv_up_pct", "rcv_source"], sort=False)
            .size()
        )
        rc = rc.reset_index(name="n")
        order = _marker_order(rc["marker"])
        rc["_m"] = rc["marker"].map({m: i for i, m in enumerate(order)})
        rc = rc.sort_values("_m", kind="stable").drop(columns="_m")
        no_rcv = sorted(
            set(
                ch.loc[
                    ch["rcv_up_pct"].isna() & ~ch["marker"].astype(str).str.contains("/", regex=False), "marker"
                ].astype(str)
            )
        )
    else:
        rc, no_rcv = pd.DataFrame(columns=["marker", "specimen", "rcv_down_pct", "rcv_up_pct", "rcv_source", "n"]), []
    block(
        "Reference change values (RCV) used",
        rc,
        [
            _c("marker", "marker"),
            _c("rcv_source", "source", wrap=True),
            _c("rcv_down_pct", "RCV down (%)", "pct"),
            _c("rcv_up_pct", "RCV up (%)", "pct"),
            _c("n", "changes judged", "int"),
            _c("specimen", "specimen"),
        ],
    )
    if no_rcv:
        ws.write_string(
            r - 1, 0, _text("No biological variation data (no RCV verdict) for: " + ", ".join(no_rcv) + "."), f["note"]
        )
        r += 1

    # flag glossary
    counts: dict[str, int] = {}
    if len(res) and "flags" in res:
        for v in res["flags"].astype(str):
            for code in v.split(";"):
                if code:
                    counts[code] = counts.get(code, 0) + 1
    fl = pd.DataFrame([(k, v, counts.get(k, 0)) for k, v in FLAGS.items()], columns=["code", "meaning", "n"])
    block(
        "Flag glossary (Results sheet: flag codes, flags explained)",
        fl,
        [_c("code", "flag code"), _c("meaning", "meaning", wrap=True), _c("n", "results flagged", "int")],
    )

    # column glossary
    gl = []
    pending = {"Chart data": [*CHART_COLS, _MEAN_BALANCE_COL]} if "Summary" in w.sheets else {}
    for name, shcols in [*((n, sh.columns) for n, sh in w.sheets.items()), *pending.items()]:
        seen = set()
        for c in shcols:
            if c.header in seen or not c.doc:
                continue
            seen.add(c.header)
            gl.append((c.header, c.doc, name))
    block(
        "Column glossary",
        pd.DataFrame(gl, columns=["column", "meaning", "sheet"]),
        [_c("column", "column", wrap=True), _c("meaning", "meaning", wrap=True), _c("sheet", "sheet")],
    )


def _figures_sheet(w: _Writer, figs: list[Any]) -> None:
    s = w.sheet("Figures")
    ws = s.ws
    df = pd.DataFrame(
        [{"n": i, "marker": f.marker, "title": f.title, "file": f.path.name} for i, f in enumerate(figs, start=1)]
    )
    cols = [
        _c("n", "figure", "int", doc="figure number"),
        _c("marker", "marker", doc="marker id"),
        _c("title", "shows", doc="what the figure shows", cap=60),
        _c("file", "PNG file", doc="file name in the figures folder"),
    ]
    w.table(s, df, cols, empty_text="none", repeat=False)
    ws.set_column(0, 0, 8)
    r = len(df) + 2
    breaks = []
    for i, fig in enumerate(figs, start=1):
        if i == 1 or fig.marker != figs[i - 2].marker:
            breaks.append(r)  # each marker's figures on a page of their own
        ws.write_string(r, 0, f"Figure {i}", w.f["h2"])
        ws.write_string(r, 1, _text(fig.title), w.f["label"])
        r += 1
        ws.insert_image(r, 0, str(fig.path), {"description": _text(fig.description)[:255], "object_position": 3})
        r += math.ceil(_png_height(fig.path) * 0.96 / 20) + 2
    if breaks:
        ws.set_h_pagebreaks(breaks)


def _png_height(path: Path) -> int:
    with open(path, "rb") as fh:
        head = fh.read(24)
    return int.from_bytes(head[20:24], "big") if head[:8] == b"\x89PNG\r\n\x1a\n" else 400


# --------------------------------------------------------------------------------------------


def write_report(
    a: Any,
    imported: Any,
    path: str | Path,
    *,
    figures_dir: str | Path | None = None,
    timestamp: dt.datetime | None = None,
    title: str | None = None,
) -> Path:
    """Write the Excel report of an analysis.

    Parameters
    ----------
    a
        The :class:`~btm.analysis.AnalysisResult` of :func:`btm.analysis.analyze`.
    imported
        The :class:`~btm.io.ImportResult` the analysis was made from (its rejected values,
        warnings and input files go into the report); ``None`` when the table did not come from
        files.
    path
        Workbook to write (``.xlsx``); its folder is created if needed.
    figures_dir
        Also write PNG figures into this folder (needs matplotlib) and embed them on a Figures
        sheet.
    timestamp
        Generation time printed in the report and stored as the document's creation date
        (default: now). The same inputs, options and timestamp give a byte-identical file.
    title
        Report title (default ``"Bone turnover marker report"``).

    Returns
    -------
    Path of the workbook.

    Raises
    ------
    BTMError
        When the file cannot be written, or figures were asked for without matplotlib.

    Examples
    --------
    >>> from btm.io import read_results                      # doctest: +SKIP
    >>> from btm.analysis import analyze                     # doctest: +SKIP
    >>> imp = read_results("sample_data/trial_exercise.xlsx")  # doctest: +SKIP
    >>> write_report(analyze(imp.data), imp, "report.xlsx")  # doctest: +SKIP
    PosixPath('report.xlsx')
    """
    out = Path(path)
    stamp = (timestamp or dt.datetime.now()).replace(microsecond=0)
    if stamp.tzinfo is not None:
        stamp = stamp.replace(tzinfo=None)
    title = title or DEFAULT_TITLE
    figs = []
    if figures_dir is not None:
        from .figures import write_figures

        figs = write_figures(a, figures_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = [str(x) for x in imported.files["file"]] if imported is not None and len(imported.files) else []
    w = _Writer(out, timestamp=stamp, title=title)
    w.wb.set_properties(
        {
            "title": title[:255],
            "subject": "Bone turnover markers: results, interpretation and trial statistics",
            "author": "btm",
            "keywords": "bone turnover markers, PINP, CTX, exercise trial",
            "comments": f"Written by btm {_btm_version()} (https://pypi.org/project/btm/); inputs: "
            + "; ".join(files)[:200],
            "created": stamp,
        }
    )
    w.wb.set_custom_property("btm version", _btm_version())
    write_chart_data = _summary(w, a, imported, files=files, has_figures=bool(figs))
    if figs:
        _figures_sheet(w, figs)
    _results(w, a)
    _balance(w, a)
    _changes(w, a)
    _stats(w, a)
    _evidence(w, a)
    _problems(w, imported)
    _methods(w, a, imported, files=files)
    write_chart_data()
    w.close()
    return out
