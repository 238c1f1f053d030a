"""The ``btm`` command line's parser: every command, option and help text (argparse only).

This module is deliberately light: ``btm --help``, ``btm --version``, ``btm COMMAND --help`` and
usage errors are answered from it alone, without pandas, numpy, scipy, pint or the report code
(the commands themselves live in :mod:`btm.cli` and import what they need when they run). The
allowed values of the analysis options come from :mod:`btm._choices`, the constants that
:class:`~btm._options.AnalysisOptions` checks against.
"""

from __future__ import annotations

import argparse
import math
import sys

from ._choices import ADJUST_CHOICES, BETWEEN_CHOICES, RCV_CHOICES, TEST_CHOICES

__all__ = ["build_parser"]


class _Version(argparse.Action):
    """``--version``: the installed version, looked up only when asked for (the metadata lookup is not free)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help="show program's version number and exit"):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from . import __version__

        parser._print_message(f"btm {__version__}\n", sys.stdout)
        parser.exit()


def _import_args(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that reads spreadsheets."""
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="spreadsheet files (.xlsx .xlsm .xls .ods .csv .tsv .txt) or folders")
    p.add_argument("--mapping", metavar="TOML", help="mapping file for layouts btm cannot detect (see README)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", dest="dayfirst", action="store_const", const=True, default=None,
                       help="read dates like 03/04/2026 as day/month (3 April)")
    order.add_argument("--monthfirst", dest="dayfirst", action="store_const", const=False,
                       help="read dates like 03/04/2026 as month/day (4 March)")
    p.add_argument("--decimal", choices=[".", ","], help="decimal mark of numbers stored as text (default: detected per file)")
    p.add_argument("--max-size", type=_positive_float, metavar="MB", help="largest input file to read, in MB (default 512; zip content 4x)")


def _analysis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--control", help="label of the control arm (default: the arm whose label says control/CON/usual care)")
    p.add_argument("--baseline", help="label of the baseline timepoint (default: the first in time order)")
    p.add_argument("--timepoints", help="comma-separated timepoint order, e.g. 'pre,week 6,post'")
    p.add_argument("--test", choices=TEST_CHOICES, default=None, help="paired test within arms (default t: paired t-test on log values)")
    p.add_argument("--adjust", choices=ADJUST_CHOICES, default=None, help="p adjustment across markers (default holm)")
    p.add_argument("--between", choices=BETWEEN_CHOICES, default=None, help="arm vs control (default ancova on log values)")
    p.add_argument("--rcv", choices=RCV_CHOICES, default=None, help="individual change criterion (default lognormal RCV)")
    p.add_argument("--ranges", action="append", metavar="CSV", help="your lab's reference intervals (repeatable; take precedence)")
    p.add_argument("--biovar", metavar="CSV", help="your own biological variation figures (same columns as the shipped file)")
    p.add_argument("--arm", action="append", metavar="LABEL=TYPE", help="exercise type of an arm (endurance, resistance, impact, flexibility_balance, combined, control)")
    p.add_argument("--population", help="population of all arms (e.g. postmenopausal_women) for the evidence comparison")
    p.add_argument("--condition", help="clinical condition of the trial's subjects (e.g. osteoporosis, type_2_diabetes); "
                   "evidence from patients is used only when it is named")
    p.add_argument("--keep-implausible", action="store_true",
                   help="include values flagged UNIT_MAGNITUDE (about 1000x outside every published interval) in the arm statistics; "
                        "by default they are left out and counted in n_other_excluded")


def _serve_parser(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="a web page for lab staff: upload, check, map, report",
        description=(
            "Start a web page on this computer: upload spreadsheets, preview what btm reads, map columns it does not "
            "recognise, check every rejected value, choose the options and download the Excel report. The first line "
            "printed is the address with its access token; the page and its JSON API need that token."
        ),
        epilog="Example: btm serve   (then open the printed address; Ctrl+C stops it)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--data", metavar="DIR", help="workspace folder for uploads, reports and the catalog (default: btm/workspace in your data folder)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--max-upload", type=_positive_float, default=200.0, metavar="MB", help="largest upload in MB (default 200)")
    p.add_argument("--allow-host", action="append", metavar="NAME", default=[],
                   help="also accept this host name in the address (repeatable); localhost, 127.0.0.1 and [::1] always work")


def _positive_float(text: str) -> float:
    """A positive, finite number (decimal point or comma): what argparse checks options against."""
    try:
        v = float(text.strip().replace(",", "."))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number") from None
    return v


def _add_reference_commands(sub) -> None:
    """Subcommands markers, convert: the catalog and unit conversion."""
    p = sub.add_parser("markers", help="list the marker catalog", description="List the marker catalog.")
    p.add_argument("--format", choices=["table", "csv"], default="table", help="output format (default: table)")
    p.add_argument("--all", action="store_true", help="also show full names and synonyms")

    p = sub.add_parser(
        "convert",
        help="convert one value between units",
        description=(
            "Convert one value of a marker to its canonical unit (or to --to UNIT). Conversions without a "
            "fixed factor are refused: BALP activity <-> mass, BCE <-> mass or molar, creatinine ratios <-> "
            "concentrations, total <-> intact PINP."
        ),
        epilog="Example: btm convert 0.45 ng/mL --marker CTX1   ->   450 ng/L",
    )
    p.add_argument("value", type=_positive_float, help="the number (decimal point or comma)")
    p.add_argument("unit", help="its unit, e.g. ng/mL, 'nM BCE', 'µg/g Cr'")
    p.add_argument("--marker", required=True, help="marker id or synonym, e.g. PINP, CTX1, 'β-CrossLaps'")
    p.add_argument("--to", help="target unit (default: the marker's canonical unit)")
    p.add_argument("--specimen", choices=["serum", "urine"], help="specimen, when the unit does not say")
    p.add_argument("--variant", help="assay variant of the value, e.g. total or intact (PINP)")
    p.add_argument("--to-variant", help="assay variant to convert to (refused when it differs)")


def _add_import_commands(sub) -> None:
    """Subcommands import, interpret, ranges: reading spreadsheets and reference intervals."""
    p = sub.add_parser(
        "import",
        help="read lab spreadsheets into one tidy table",
        description=(
            "Read bone marker results from spreadsheets (every sheet, header anywhere in the first 30 rows, "
            "wide or long layout, units in headers, a units row or a unit column) into one tidy CSV with values "
            "in each marker's canonical unit. Values that cannot be read go to OUTPUT.rejected.csv with file, "
            "sheet, row, column, raw text and reason; warnings (ambiguous dates, duplicates, merged cells, "
            "suspicious magnitudes) go to OUTPUT.warnings.csv."
        ),
        epilog="Example: btm import sample_data/ -o tidy.csv",
    )
    _import_args(p)
    p.add_argument("-o", "--output", default="tidy.csv", help="tidy CSV to write (default: tidy.csv)")
    p.add_argument("--strict", action="store_true", help="exit 1 if any value is rejected or any file cannot be read")
    p.add_argument("--write-mapping", metavar="TOML", help="also write a mapping file drafted from what was detected")

    p = sub.add_parser(
        "interpret",
        help="add reference intervals, status, z-scores and flags; balance per sample",
        description=(
            "Import (spreadsheets or a tidy.csv), choose each result's reference interval by marker, specimen, sex, "
            "age and menopausal status, and add ref_low, ref_high, ref_unit, ref_population, ref_source, status "
            "(low/within/high), z (zlog, Hoffmann 2017) and pre-analytical flags. Writes OUTPUT and balance.csv "
            "(formation/resorption z, balance index, turnover state, ratios per sample) beside it."
        ),
        epilog="Example: btm interpret sample_data/analyser_cobas_export.xlsx -o interpreted.csv",
    )
    _import_args(p)
    p.add_argument("-o", "--output", default="interpreted.csv", help="CSV to write (default: interpreted.csv)")
    p.add_argument("--ranges", action="append", metavar="CSV", help="your lab's reference intervals (repeatable; take precedence)")

    p = sub.add_parser(
        "ranges",
        help="list the shipped reference intervals, or check a file of your own",
        description="List the reference intervals btm ships (with sources), or validate your lab's interval file.",
        epilog="Example: btm ranges --marker PINP   |   btm ranges --check my_lab_intervals.csv",
    )
    p.add_argument("--check", metavar="CSV", help="validate an interval file (same columns as reference_ranges/intervals.csv)")
    p.add_argument("--marker", help="only this marker")
    p.add_argument("--format", choices=["table", "csv"], default="table")


def _add_trial_commands(sub) -> None:
    """Subcommands analyze, report, init-study: trial analysis."""
    p = sub.add_parser(
        "analyze",
        help="trial statistics: per-subject change, per-arm change, arms vs control, evidence",
        description=(
            "Analyse an exercise trial: per-subject change against the reference change value (changes.csv), "
            "per-arm geometric mean change with paired tests and d_z (cohort.csv), each arm against control "
            "(between_groups.csv, ANCOVA on log values; mixed model with 3+ timepoints), and the comparison with "
            "published evidence (evidence.csv). INPUT is spreadsheets/folders or one study file (.toml; see "
            "'btm init-study')."
        ),
        epilog="Example: btm analyze sample_data/trial_exercise.xlsx -o results/",
    )
    _import_args(p)
    _analysis_args(p)
    p.add_argument("-o", "--output", default="results", help="folder for the CSVs (default: results)")

    p = sub.add_parser(
        "report",
        help="the main job: import, interpret, analyse and write one Excel report",
        description=(
            "Import the inputs, interpret every result, analyse the trial and write one workbook: Summary (every "
            "visit against baseline and control, trajectory charts), Table 1, Results, Balance, Changes, Missing visits, "
            "Group statistics, Between groups, Evidence, Rejected, Warnings and Methods. The console prints the same "
            "headline. "
            "INPUT is spreadsheets/folders or one study file (.toml). With no options it detects the control arm, "
            "the baseline and the timepoint order, and uses the shipped reference intervals."
        ),
        epilog="Example: btm report sample_data/trial_exercise.xlsx -o report.xlsx --figures figures/",
    )
    _import_args(p)
    _analysis_args(p)
    p.add_argument("-o", "--output", default="report.xlsx", help="workbook to write (default: report.xlsx)")
    p.add_argument("--figures", metavar="DIR", help="also write figures: PNG (300 dpi), SVG and figures.pdf with every figure "
                   "(needs matplotlib: pip install 'btm[figures]'); the PNGs are embedded in the report")
    p.add_argument("--timestamp", metavar="ISO", help="generation time to print (default: now); fixes it for byte-identical reruns")
    p.add_argument("--title", help="report title (default: the study title or 'Bone turnover marker report')")
    p.add_argument("--table1-p", action="store_true",
                   help="add p-values for baseline differences between arms to Table 1 (off by default, as CONSORT advises)")

    p = sub.add_parser(
        "init-study",
        help="draft a study file (TOML) from the inputs",
        description="Draft a study file naming the inputs, arms and their exercise types, control, baseline and statistical options.",
        epilog="Example: btm init-study sample_data/trial_exercise.xlsx -o study.toml",
    )
    _import_args(p)
    p.add_argument("-o", "--output", default="study.toml", help="study file to write (default: study.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="btm",
        description=(
            "btm turns lab spreadsheets of bone turnover markers (PINP, CTX-1, BALP, osteocalcin, NTX, "
            "TRAP-5b, PYD/DPD, ALP) into one clean table, interpretations and an Excel report."
        ),
        epilog="Run 'btm COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_reference_commands(sub)
    _add_import_commands(sub)
    _add_trial_commands(sub)
    _serve_parser(sub)
    return parser
