"""Column specifications of every table in the workbook, defined once.

Each :class:`Col` names the source column, the header shown, the display kind (which number
format, see :mod:`btm.report._formats`) and its meaning; the column glossary on the Methods sheet
is built from these meanings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Col", "c"]


@dataclass(frozen=True)
class Col:
    """One column of a sheet: source column, header shown, display kind and its meaning.

    ``kind`` is ``text``, ``bool``, ``date``, ``datetime`` or a number kind of
    :data:`~btm.report._formats.NUMERIC`; ``value`` numbers are formatted by their row's marker.
    ``plain`` shows codes in plain words (``older_adults`` -> ``older adults``).
    """

    key: str
    header: str
    kind: str = "text"
    doc: str = ""
    cap: int = 40  # widest the column gets (characters)
    wrap: bool = False  # wrap long text (else it is cut off on screen; the cell keeps it all)
    plain: bool = False


def c(key: str, header: str, kind: str = "text", doc: str = "", **kw: Any) -> Col:
    return Col(key, header, kind, doc, **kw)


# --------------------------------------------------------------------------------------------
# column specifications (the column glossary on the Methods sheet is built from the docs)

_SUBJECT = [
    c("subject_id", "subject", doc="subject id as in the input file"),
    c("group", "arm", doc="trial arm (group column of the input)"),
]
_PROVENANCE = [
    c("raw_value", "raw value (as in file)", doc="the cell text as it was in the input file"),
    c("raw_unit", "raw unit", doc="unit as given in the input (header, units row or unit column)"),
    c("source_file", "source file", doc="input file the value came from", cap=32),
    c("source_sheet", "source sheet", doc="sheet of the input file"),
    c("source_row", "source row", "int", doc="Excel row number in the input sheet (row 1 is the first row)"),
    c("source_column", "source column", doc="column letter and header in the input sheet"),
]
RESULTS_COLS = [
    *_SUBJECT,
    c("timepoint", "timepoint", doc="visit label as in the input"),
    c("sample_date", "sample date", "date", doc="date the sample was drawn"),
    c("marker", "marker", doc="marker id (PINP, CTX1, BALP, OCN, NTX, TRAP5B, PYD, DPD, ALP)"),
    c("specimen", "specimen", doc="serum or urine"),
    c(
        "value",
        "value (canonical unit)",
        "value",
        doc="result in the marker's canonical unit (next column); a censored result holds its limit",
    ),
    c("unit", "unit", doc="canonical unit of the value"),
    c(
        "censored",
        "censored (< or >)",
        doc="'<' below or '>' above a limit: the true value lies beyond the value shown",
    ),
    c(
        "status",
        "status vs interval",
        doc="low / within / high against the reference interval; undetermined when a censored value cannot be placed; blank: no interval",
    ),
    c(
        "z",
        "z (zlog)",
        "z",
        doc="position in the reference interval on the log scale (Hoffmann 2017): −1.96 at the low limit, +1.96 at the high limit",
    ),
    c("ref_low", "ref low", "value", doc="lower reference limit (in ref unit)"),
    c("ref_high", "ref high", "value", doc="upper reference limit (in ref unit)"),
    c("ref_unit", "ref unit", doc="unit of the reference limits"),
    c(
        "ref_source",
        "ref source",
        doc="publication or lab the interval comes from (full text on the Methods sheet)",
        cap=28,
    ),
    c(
        "ref_population",
        "ref population",
        doc="population the reference interval was chosen for (sex, age, menopausal status)",
    ),
    c("flags", "flag codes", doc="pre-analytical flag codes (see the flag glossary on the Methods sheet)", cap=30),
    c("flag_notes", "flags explained", doc="the flags in plain language", cap=45, wrap=True),
    c("sex", "sex", doc="F or M"),
    c("age", "age (years)", "general", doc="age at sampling, years"),
    c("menopausal_status", "menopausal status", doc="pre, peri or post"),
    c("fasting", "fasting", doc="drawn fasting (yes/no)"),
    c("sample_time", "sample time", doc="clock time of the draw"),
    c("egfr", "eGFR (mL/min/1.73 m²)", "general", doc="estimated glomerular filtration rate"),
    c("variant", "assay variant", doc="assay variant, e.g. total or intact PINP"),
    c(
        "kind",
        "measurement kind",
        doc="mass, activity, per creatinine, ... (values of different kinds are never converted into each other)",
    ),
    c("sample_id", "sample id", doc="sample id as in the input"),
    c("assay", "assay", doc="assay or analyser as in the input"),
    c("comment", "comment", doc="comment as in the input", cap=50, wrap=True),
    c("tanner_stage", "Tanner stage", doc="pubertal stage as in the input"),
    c("fracture", "fracture", doc="recent fracture as in the input"),
    c("pregnancy", "pregnancy", doc="pregnancy or lactation as in the input"),
    c("medication", "medication", doc="medication as in the input", cap=40, wrap=True),
    c("last_exercise", "last exercise", doc="time since the last strenuous exercise as in the input"),
    c("ref_assay", "ref assay", doc="assay the reference interval was established with", cap=22),
    c("ref_note", "ref note", doc="note on the reference interval", cap=36, wrap=True),
    *_PROVENANCE,
]
BALANCE_COLS = [
    *_SUBJECT[:1],
    c("group", "arm", doc="trial arm"),
    c("timepoint", "timepoint", doc="visit label"),
    c("sample_date", "sample date", "date", doc="date the sample was drawn"),
    c("sex", "sex", doc="F or M"),
    c("age", "age (years)", "general", doc="age at sampling, years"),
    c(
        "formation_z",
        "formation z (mean)",
        "z",
        doc="mean z of the formation markers of the sample (PINP, BALP, OCN, ALP)",
    ),
    c(
        "resorption_z",
        "resorption z (mean)",
        "z",
        doc="mean z of the resorption markers of the sample (CTX1, NTX, TRAP5B, PYD, DPD)",
    ),
    c(
        "balance_index",
        "balance index (formation z − resorption z)",
        "z",
        doc="formation z − resorption z; ≥ +1 formation-dominant, ≤ −1 resorption-dominant",
    ),
    c(
        "balance_index_change",
        "balance index change vs baseline",
        "z",
        doc="balance index minus the subject's baseline balance index",
    ),
    c(
        "turnover_z",
        "turnover z (mean of all z)",
        "z",
        doc="mean z of all markers of the sample; beyond ±1.96: high or low turnover",
    ),
    c(
        "turnover_state",
        "turnover state",
        doc="low / normal / high turnover, and formation- or resorption-dominant",
        cap=36,
    ),
    c("formation_markers", "formation markers used", doc="formation markers with a z in this sample"),
    c("resorption_markers", "resorption markers used", doc="resorption markers with a z in this sample"),
    c("balance_basis", "balance basis", doc="how the balance index was formed", cap=30),
    c("n_markers", "markers with z", "int", doc="number of markers with a z in this sample"),
    c("note", "note", doc="markers left out of the balance and why", cap=50, wrap=True),
]
CHANGES_COLS = [
    *_SUBJECT,
    c("marker", "marker", doc="marker id, or a ratio such as PINP/CTX1"),
    c("specimen", "specimen", doc="serum or urine"),
    c("unit", "unit", doc="unit of the values"),
    c("timepoint_from", "from", doc="baseline timepoint"),
    c("timepoint_to", "to", doc="follow-up timepoint"),
    c("value_from", "value from (unit)", "value", doc="value at baseline"),
    c("value_to", "value to (unit)", "value", doc="value at follow-up"),
    c("censored_from", "censored from", doc="'<' or '>' when the baseline value is a limit"),
    c("censored_to", "censored to", doc="'<' or '>' when the follow-up value is a limit"),
    c("change_abs", "change (unit)", "value", doc="value to − value from"),
    c("change_pct", "% change", "pct", doc="(value to / value from − 1) × 100"),
    c("log_ratio", "ln(to/from)", "ratio", doc="natural log of value to / value from (the scale of the tests)"),
    c("rcv_down_pct", "RCV down (%)", "pct", doc="fall needed to exceed measurement noise (reference change value)"),
    c("rcv_up_pct", "RCV up (%)", "pct", doc="rise needed to exceed measurement noise (reference change value)"),
    c(
        "rcv_source",
        "RCV source",
        doc="how the RCV was computed and its source (full text on the Methods sheet)",
        cap=28,
    ),
    c("significant", "beyond RCV", "bool", doc="yes when the % change reaches RCV down or RCV up"),
    c(
        "direction",
        "direction (RCV verdict)",
        doc="increase / decrease beyond the RCV; none: within the RCV; no RCV: no biological variation data; undetermined: censored",
    ),
    c("responder", "responder", doc="verdict of the responder rule"),
    c("responder_rule", "responder rule", doc="rule used (RCV, or a treatment-monitoring threshold)", cap=40),
    c("note", "note", doc="why no change could be computed, and other remarks", cap=50, wrap=True),
]
_PCT_CI = [
    c("gm_pct_change", "geometric mean % change", "pct", doc="(geometric mean ratio − 1) × 100"),
    c("gm_pct_ci_low", "95% CI low (%)", "pct", doc="lower 95% confidence limit of the % change"),
    c("gm_pct_ci_high", "95% CI high (%)", "pct", doc="upper 95% confidence limit of the % change"),
]
COHORT_COLS = [
    c("group", "arm", doc="trial arm"),
    c("marker", "marker", doc="marker id, or a ratio such as PINP/CTX1"),
    c("specimen", "specimen", doc="serum or urine"),
    c("unit", "unit", doc="unit of the means and SDs"),
    c("timepoint_from", "from", doc="baseline timepoint"),
    c("timepoint_to", "to", doc="follow-up timepoint"),
    c("n", "n (complete pairs)", "int", doc="subjects with a value at both timepoints"),
    c("n_censored_excluded", "n censored (excluded)", "int", doc="pairs left out because a value was censored"),
    c("n_other_excluded", "n other excluded", "int", doc="pairs left out for other reasons"),
    c("mean_from", "mean from (unit)", "value", doc="arithmetic mean at baseline of the complete pairs"),
    c("sd_from", "SD from (unit)", "value", doc="standard deviation at baseline"),
    c("mean_to", "mean to (unit)", "value", doc="arithmetic mean at follow-up"),
    c("sd_to", "SD to (unit)", "value", doc="standard deviation at follow-up"),
    c("gmr", "geometric mean ratio (to/from)", "ratio", doc="exp(mean of ln(to/from))"),
    c("gmr_ci_low", "GMR 95% CI low", "ratio", doc="lower 95% confidence limit of the geometric mean ratio (t-based)"),
    c("gmr_ci_high", "GMR 95% CI high", "ratio", doc="upper 95% confidence limit of the geometric mean ratio"),
    *_PCT_CI,
    c("median_pct_change", "median % change", "pct", doc="median of the subjects' % changes"),
    c("q1_pct_change", "Q1 % change", "pct", doc="25th percentile of the subjects' % changes"),
    c("q3_pct_change", "Q3 % change", "pct", doc="75th percentile of the subjects' % changes"),
    c("test", "test", doc="the test that gave p (next column)", cap=32, wrap=True),
    c("p", "p", "p", doc="p-value of the test (two-sided)"),
    c("p_adj", "p adj", "p", doc="p adjusted for multiplicity (method in the next column)"),
    c("adjust_method", "p adjustment", doc="multiplicity adjustment and the family of tests", cap=50, wrap=True),
    c("statistic", "test statistic", "stat", doc="t (paired t-test) or W (Wilcoxon)"),
    c("df", "df", "general", doc="degrees of freedom"),
    c("effect_size", "effect size", doc="name of the effect size in the next columns", cap=14, wrap=True),
    c("d_z", "effect size d_z", "z", doc="Cohen's d_z = mean / SD of ln(to/from) (paired differences, not d_av)"),
    c("d_z_ci_low", "d_z 95% CI low", "z", doc="lower 95% confidence limit of d_z (noncentral t)"),
    c("d_z_ci_high", "d_z 95% CI high", "z", doc="upper 95% confidence limit of d_z"),
    c("r_pre_post", "r(pre, post)", "z", doc="Pearson correlation of ln(from) and ln(to): converts d_z to other paired effect sizes"),
    c("n_rcv", "n judged by RCV", "int", doc="subjects whose change could be judged against the RCV"),
    c("share_up_rcv", "share rising beyond RCV", "frac", doc="share of those subjects rising beyond the RCV"),
    c("share_down_rcv", "share falling beyond RCV", "frac", doc="share of those subjects falling beyond the RCV"),
    c("note", "note", doc="remarks (e.g. exploratory ratio, too few pairs)", cap=40, wrap=True),
]
BETWEEN_COLS = [
    c("group", "arm", doc="trial arm compared with control"),
    c("control", "control", doc="the control arm"),
    c("marker", "marker", doc="marker id, or a ratio"),
    c("specimen", "specimen", doc="serum or urine"),
    c("unit", "unit", doc="unit of the values"),
    c("timepoint_from", "from", doc="baseline timepoint"),
    c("timepoint_to", "to", doc="follow-up timepoint ('all timepoints' for the mixed model)"),
    c("n_group", "n arm", "int", doc="subjects of the arm in the comparison"),
    c("n_control", "n control", "int", doc="subjects of the control arm in the comparison"),
    c("adj_gm_group", "adjusted GM arm (unit)", "value", doc="ANCOVA adjusted (estimated marginal) geometric mean of the arm at the mean log baseline of arm and control"),
    c("adj_gm_group_ci_low", "arm 95% CI low", "value", doc="lower 95% confidence limit of the arm's adjusted geometric mean"),
    c("adj_gm_group_ci_high", "arm 95% CI high", "value", doc="upper 95% confidence limit of the arm's adjusted geometric mean"),
    c("adj_gm_control", "adjusted GM control (unit)", "value", doc="ANCOVA adjusted geometric mean of control (same model); arm ÷ control = the ratio"),
    c("adj_gm_control_ci_low", "control 95% CI low", "value", doc="lower 95% confidence limit of control's adjusted geometric mean"),
    c("adj_gm_control_ci_high", "control 95% CI high", "value", doc="upper 95% confidence limit of control's adjusted geometric mean"),
    c("estimate_label", "estimate", doc="what the estimate is", cap=60, wrap=True),
    c(
        "estimate",
        "estimate value",
        "ratio",
        doc="the estimate (ANCOVA: ratio of geometric means arm/control adjusted for baseline)",
    ),
    c("ci_low", "95% CI low", "ratio", doc="lower 95% confidence limit of the estimate"),
    c("ci_high", "95% CI high", "ratio", doc="upper 95% confidence limit of the estimate"),
    c(
        "pct_difference",
        "% difference vs control",
        "pct",
        doc="(estimate − 1) × 100: how much higher (or lower) the arm ends than control, adjusted for baseline",
    ),
    c("pct_ci_low", "95% CI low (%)", "pct", doc="lower 95% confidence limit of the % difference"),
    c("pct_ci_high", "95% CI high (%)", "pct", doc="upper 95% confidence limit of the % difference"),
    c("test", "test", doc="the test that gave p (next column)", cap=40, wrap=True),
    c("p", "p", "p", doc="p-value of the test (two-sided)"),
    c("p_adj", "p adj", "p", doc="p adjusted for multiplicity (method in the next column)"),
    c("adjust_method", "p adjustment", doc="multiplicity adjustment and the family of tests", cap=50, wrap=True),
    c("statistic", "test statistic", "stat", doc="t, U or likelihood-ratio χ² of the test"),
    c("df", "df", "general", doc="degrees of freedom"),
    c("note", "note", doc="remarks (mixed model: values, subjects and variance components)", cap=45, wrap=True),
]
EVIDENCE_COLS = [
    c("group", "arm", doc="trial arm"),
    c("exercise_type", "exercise type", doc="exercise type of the arm (from its label or the study file)", plain=True, cap=14, wrap=True),
    c("population", "population", doc="population of the arm's subjects (from sex, age, menopausal status)", plain=True, cap=14, wrap=True),
    c("marker", "marker", doc="marker id, or a ratio"),
    c("timepoint_from", "from", doc="baseline timepoint"),
    c("timepoint_to", "to", doc="last timepoint"),
    c("n", "n", "int", doc="complete pairs"),
    *_PCT_CI,
    c("p_adj", "p adj (within arm)", "p", doc="adjusted p of the within-arm test (Group statistics sheet)"),
    c("observed", "observed", doc="increase / decrease when p adj < 0.05, else no change", plain=True),
    c(
        "vs_control_pct",
        "% difference vs control",
        "pct",
        doc="baseline-adjusted % difference from control (Between groups sheet)",
    ),
    c(
        "vs_control_p",
        "p vs control (unadjusted)",
        "p",
        doc="unadjusted p of the comparison with control (Between groups sheet)",
    ),
    c(
        "expected",
        "literature expects",
        doc="majority direction of the published evidence for this exercise type, population and marker",
        plain=True, cap=14, wrap=True,
    ),
    c(
        "verdict",
        "verdict",
        doc="consistent / inconsistent with the literature, mixed evidence, or no published expectation",
        plain=True, cap=24, wrap=True,
    ),
    c("evidence", "what the literature reports", doc="summaries of the published findings", cap=60, wrap=True),
    c("citations", "citations", doc="the publications", cap=34, wrap=True),
    c("vs_control_p_adj", "p adj vs control", "p", doc="adjusted p of the comparison with control (Between groups sheet)"),
    c("observed_vs_control", "observed vs control", doc="higher / lower than control when p adj vs control < 0.05", plain=True, cap=14, wrap=True),
    c("expected_vs_control", "literature expects vs control", doc="what between-group studies report against a control group", plain=True, cap=14, wrap=True),
    c("verdict_vs_control", "verdict vs control", doc="the arm-vs-control estimate against between-group studies", plain=True, cap=24, wrap=True),
    c("evidence_vs_control", "what between-group studies report", doc="summaries of the between-group findings", cap=46, wrap=True),
    c("citations_vs_control", "citations (vs control)", doc="the between-group publications", cap=28, wrap=True),
    c("condition", "clinical condition", doc="clinical condition of the trial's subjects used to choose the studies", plain=True, cap=12, wrap=True),
    c("context", "context", doc="why some studies give no verdict (cross-sectional, unclear comparison, drug or supplement arms)", cap=30, wrap=True),
]
RECOMMENDATION_COLS = [
    c("population", "population", doc="who the recommendation is for", cap=26, wrap=True, plain=True),
    c("recommended", "recommended exercise", doc="the review's recommended exercise types", cap=50, wrap=True),
    c(
        "avoid_or_caution",
        "avoid or use with caution",
        doc="exercise the review advises against or to use with care",
        cap=50,
        wrap=True,
    ),
    c("citation", "citation", doc="the review", cap=34, wrap=True),
    c("source", "source (section of the review)", doc="where in the review", cap=22, wrap=True),
]
_PROBLEM = [
    c("source_file", "source file", doc="input file"),
    c("source_sheet", "source sheet", doc="sheet of the input file"),
    c("source_row", "source row", "int", doc="Excel row number in the input sheet"),
    c("column", "source column", doc="column letter and header in the input sheet"),
    c("raw_value", "raw text", doc="the cell text as it was in the input", cap=40),
    c("reason", "reason", doc="why the value was not loaded, or what to check", cap=70, wrap=True),
]
REJECTED_COLS = [
    c("subject_id", "subject", doc="subject of the value's row, where the row's loaded values name one"),
    c("timepoint", "visit", doc="visit of the value's row, where the row's loaded values name one"),
    *_PROBLEM,
]
REJECTED_GROUP_COLS = [
    c("source_file", "source file", doc="input file", cap=36, wrap=True),
    c("column", "source column", doc="column letter and header in the input sheet", cap=28, wrap=True),
    c("reason", "reason (… = the cell's text)", doc="why the values were not loaded", cap=60, wrap=True),
    c("n", "values", "int", doc="how many values were rejected for this reason in this column"),
    c("examples", "examples", doc="up to three of the texts", cap=36, wrap=True),
]
MISSING_COLS = [
    c("subject_id", "subject", doc="subject id"),
    c("group", "arm", doc="trial arm"),
    c("timepoint", "visit", doc="a visit of the arm"),
    c("missing", "what is missing", doc="no sample at this visit, or the markers of the arm without a result", cap=50, wrap=True),
    c("n_missing_markers", "markers missing", "int", doc="how many of the arm's markers have no result at this visit"),
]
WARNINGS_COLS = [
    c("severity", "severity", doc="warning (loaded, but check it), notice, or error (a file not read)"),
    *_PROBLEM,
]
CHART_COLS = [
    c("title", "chart title", doc="title of the Summary chart", cap=48),
    c("marker", "marker", doc="marker id"),
    c("group", "arm", doc="trial arm (one line per arm)"),
    c("timepoint", "visit", doc="visit (the arm's baseline has change 0)"),
    c("n", "n", "int", doc="subjects with values at baseline and this visit"),
    c("gm_pct_change", "geometric mean % change", "pct", doc="(geometric mean ratio − 1) × 100 from the arm's baseline"),
    c("gm_pct_ci_low", "95% CI low (%)", "pct", doc="lower 95% confidence limit of the % change"),
    c("gm_pct_ci_high", "95% CI high (%)", "pct", doc="upper 95% confidence limit of the % change"),
    c("err_minus", "error bar minus (%)", "pct", doc="% change − CI low (length of the lower error bar)"),
    c("err_plus", "error bar plus (%)", "pct", doc="CI high − % change (length of the upper error bar)"),
]
MEAN_BALANCE_COL = c(
    "mean_balance",
    "timepoint (mean balance index by arm)",
    doc="mean balance index of each arm's samples (columns) at each timepoint (rows)",
)
HEADLINE_COLS = [
    c("group", "arm", doc="trial arm", cap=16),
    c("marker", "marker", doc="marker id"),
    c("timepoint_from", "from", doc="the arm's baseline", cap=12),
    c("timepoint_to", "to", doc="follow-up visit (every visit of the arm)", cap=12),
    c("n", "n", "int", doc="subjects with a value at both visits"),
    c("gm_pct_change", "geometric mean % change", "pct", doc="(geometric mean ratio − 1) × 100"),
    c("gm_pct_ci_low", "95% CI low (%)", "pct", doc="lower 95% confidence limit of the % change"),
    c("gm_pct_ci_high", "95% CI high (%)", "pct", doc="upper 95% confidence limit of the % change"),
    c("p", "p", "p", doc="p of the within-arm test (named above the table)"),
    c("p_adj", "p adj", "p", doc="adjusted p of the within-arm test"),
    c("d_z", "d_z", "z", doc="effect size Cohen's d_z"),
    c("pct_difference", "vs control: % difference", "pct", doc="baseline-adjusted % difference from control (test named above the table)"),
    c("pct_ci_low", "vs control: 95% CI low (%)", "pct", doc="lower 95% confidence limit"),
    c("pct_ci_high", "vs control: 95% CI high (%)", "pct", doc="upper 95% confidence limit"),
    c("between_p_adj", "vs control: p adj", "p", doc="adjusted p of the comparison with control"),
    c("expected", "literature expects", doc="direction the published evidence expects (last visit)", plain=True, cap=13, wrap=True),
    c("verdict", "observed vs literature", doc="verdict of the Evidence sheet (last visit)", plain=True, cap=16, wrap=True),
]
ARM_COLS = [
    c("group", "arm", doc="trial arm"),
    c("exercise_type", "exercise type", doc="exercise type of the arm", plain=True),
    c("n_subjects", "subjects", "int_left", doc="subjects with any result"),
    c("population", "population", doc="population used for the evidence comparison", plain=True),
    c("population_detail", "who (by sex, age and menopausal status)", doc="the arm's subjects"),
]
MIXED_COLS = [
    c("marker", "marker", doc="marker id"),
    c("comparison", "arms compared", doc="all arms together, or an arm against control"),
    c("n_subjects", "subjects", "int", doc="subjects in the model"),
    c("statistic", "χ² (likelihood ratio)", "stat", doc="likelihood-ratio statistic of the arm × time interaction"),
    c("df", "df", "int", doc="degrees of freedom of the test"),
    c("p", "p", "p", doc="p of the arm × time interaction"),
    c("p_adj", "p adj", "p", doc="p adjusted across the markers of the comparison"),
    c("note", "note", doc="values, subjects and variance components; why no test"),
]
