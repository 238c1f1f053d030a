"""The ``btm`` command line.

``main(argv)`` returns the exit status: 0 on success, 1 on any :class:`~btm.errors.BTMError`
(one line ``error: ...`` on stderr, no traceback unless ``--debug``), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from . import __version__
from .errors import BTMError

__all__ = ["main"]


def _print_table(df: pd.DataFrame, *, file=None, max_width: int = 48) -> None:
    """Print a DataFrame as an aligned plain-text table (cells cut at ``max_width``)."""
    out = file or sys.stdout
    if df.empty:
        print("(none)", file=out)
        return
    cells = [[str(c) for c in df.columns]]
    for row in df.itertuples(index=False):
        cells.append(["" if (isinstance(v, float) and pd.isna(v)) else _cut(str(v), max_width) for v in row])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    for n, r in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


# ---------------------------------------------------------------------------------------------
# subcommands


def _cmd_markers(args: argparse.Namespace) -> int:
    from .markers import catalog

    rows = []
    for m in catalog().values():
        for meas in m.measures:
            rows.append(
                {
                    "id": m.id,
                    "class": m.marker_class,
                    "specimen": meas.specimen,
                    "kind": meas.kind,
                    "canonical unit": meas.unit,
                    "other units": ", ".join(u for u in meas.units if u != meas.unit),
                    "LOINC": meas.loinc,
                    "MW g/mol": "" if m.molecular_weight is None else f"{m.molecular_weight:g}",
                    "name": m.name,
                    "synonyms": ", ".join(m.synonyms + m.serum_synonyms + m.urine_synonyms),
                }
            )
    df = pd.DataFrame(rows)
    if args.format == "csv":
        df.to_csv(sys.stdout, index=False)
    else:
        if not args.all:
            df = df.drop(columns=["synonyms", "name"])
        _print_table(df, max_width=40)
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from .markers import get_marker
    from .units import convert, resolve_unit

    marker = get_marker(args.marker)
    if args.to:
        (value,) = convert(
            [args.value], args.unit, args.to, marker=marker.id,
            from_variant=args.variant or "", to_variant=args.to_variant or "",
        )
        to_unit = args.to
    else:
        target = resolve_unit(args.unit, marker=marker.id, specimen=args.specimen, variant=args.variant or "")
        value, to_unit = args.value * target.factor, target.unit
    print(f"{args.value:g} {args.unit} {marker.id} = {value:.6g} {to_unit}")
    return 0


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
    p.add_argument("--max-size", type=float, metavar="MB", help="largest input file to read, in MB (default 512; zip content 4x)")


def _import(args: argparse.Namespace, study=None):
    """Read the command's inputs; with a study file, its inputs and settings (the command line wins)."""
    from .io import read_results
    from .io.load import progress_printer
    from .io.mapping import load_mapping
    from .io.readers import Limits

    inputs, mapping_path, dayfirst, decimal = args.inputs, args.mapping, args.dayfirst, args.decimal
    if study is not None:
        inputs, mapping_path = study.inputs, mapping_path or study.mapping
        dayfirst = dayfirst if dayfirst is not None else study.dayfirst
        decimal = decimal or study.decimal
    mapping = load_mapping(mapping_path) if mapping_path else None
    limits = Limits.scaled(args.max_size) if args.max_size else None
    return read_results(inputs, mapping=mapping, dayfirst=dayfirst, decimal=decimal, limits=limits, progress=progress_printer())


def _print_import_summary(result, *, file=None) -> None:
    out = file or sys.stderr
    for r in result.files.itertuples():
        if r.status != "ok":
            print(f"error: {r.file}: {r.status.removeprefix('not read: ')} (the other files were read)", file=out)
            continue
        extra = f", {r.ignored} not bone markers" if r.ignored else ""
        print(f"{r.file}: {r.read} results read, {r.loaded} loaded, {r.rejected} rejected, {r.blank} blank{extra}", file=out)
        _print_unused_columns(result, r.file, out)
    warn = result.problems[result.problems["severity"] == "warning"]
    if len(warn):
        print(f"{len(warn)} warning(s): check the warnings file", file=out)


def _print_unused_columns(result, file: str, out) -> None:
    """Name every column of a file that was not read (unknown, derived values, look-alikes), per sheet."""
    name = Path(file).name
    for rec in result.layouts:
        unused = rec.get("unused") or []
        if rec.get("file") != name or not unused:
            continue
        where = f" [{rec['sheet']}]" if rec.get("sheet") else ""
        kinds = {"unknown": "not recognised", "derived": "derived value", "lookalike": "look-alike"}
        listed = "; ".join(f"{h!r} ({kinds.get(role, role)})" for h, role, _ in unused[:15]) + (" …" if len(unused) > 15 else "")
        print(f"  {len(unused)} column(s) not used{where}: {listed}", file=out)


def _sibling(path: str, suffix: str) -> str:
    p = Path(path)
    return str(p.with_name(p.stem + suffix))


def _write_mapping_draft(args: argparse.Namespace) -> None:
    """Draft a mapping for every sheet of the inputs (every column with its guessed role), read or not."""
    from .io.draft import draft_entries
    from .io.mapping import load_mapping, mapping_to_toml
    from .io.readers import Limits

    used = load_mapping(args.mapping) if args.mapping else None
    dayfirst = args.dayfirst if args.dayfirst is not None else (used.dayfirst if used else None)
    decimal = args.decimal or (used.decimal if used else None)
    limits = Limits.scaled(args.max_size) if args.max_size else None
    entries = draft_entries(args.inputs, mapping=used, limits=limits)
    Path(args.write_mapping).write_text(mapping_to_toml(entries, dayfirst=dayfirst, decimal=decimal), encoding="utf-8")
    print(f"wrote mapping draft {args.write_mapping}", file=sys.stderr)


def _cmd_import(args: argparse.Namespace) -> int:
    from .errors import StrictModeError
    from .io.load import first_rejection
    from .io.write import write_csv

    try:
        result = _import(args)
    except BTMError as exc:
        if not args.write_mapping:
            raise
        # nothing could be read: exactly when a mapping is needed, so the draft is still written
        _write_mapping_draft(args)
        raise BTMError(f"{exc}; wrote mapping draft {args.write_mapping}: fill in its blanks and rerun with --mapping {args.write_mapping}") from None
    unread = result.files[result.files["status"] != "ok"]
    if args.strict and len(unread):
        from .errors import InputFileError

        raise InputFileError(f"{unread.iloc[0]['file']}: {unread.iloc[0]['status']} (--strict)")
    _print_import_summary(result)
    if args.write_mapping:
        _write_mapping_draft(args)
    rejected_path = _sibling(args.output, ".rejected.csv")
    warnings_path = _sibling(args.output, ".warnings.csv")
    write_csv(result.rejected, rejected_path)
    if args.strict and len(result.rejected):
        raise StrictModeError(
            f"{len(result.rejected)} value(s) rejected (--strict); see {rejected_path}. First: "
            + first_rejection(result)
        )
    write_csv(result.data, args.output)
    write_csv(result.warnings, warnings_path)
    print(f"wrote {args.output} ({len(result.data)} results), {rejected_path} ({len(result.rejected)}), {warnings_path} ({len(result.warnings)})", file=sys.stderr)
    return 0


def _cmd_interpret(args: argparse.Namespace) -> int:
    from .interpret import interpret
    from .io.write import write_csv

    result = _import(args)
    _print_import_summary(result)
    it = interpret(result.data, ranges=args.ranges or None)
    write_csv(it.results, args.output)
    bal = str(Path(args.output).with_name("balance.csv"))
    write_csv(it.balance, bal)
    write_csv(result.rejected, _sibling(args.output, ".rejected.csv"))
    counts = it.results["status"].replace("", "no interval").value_counts()
    print("status: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
    print(f"wrote {args.output} ({len(it.results)} results), {bal} ({len(it.balance)} samples)", file=sys.stderr)
    return 0


def _cmd_ranges(args: argparse.Namespace) -> int:
    from .ranges import load_intervals, shipped_intervals

    if args.check:
        df = load_intervals(args.check, origin="user")
        print(f"{args.check}: ok, {len(df)} interval(s) for {', '.join(pd.unique(df['marker']))}")
        return 0
    df = shipped_intervals()
    if args.marker:
        from .markers import get_marker

        df = df[df["marker"] == get_marker(args.marker).id]
    if args.format == "csv":
        cols = ["marker", "specimen", "unit", "sex", "age_min", "age_max", "population", "lower", "upper", "percentiles", "assay", "default", "source", "note"]
        df[cols].to_csv(sys.stdout, index=False)
        return 0
    from .ranges import _band

    view = pd.DataFrame(
        {
            "marker": df["marker"], "specimen": df["specimen"], "sex": df["sex"], "population": df["population"],
            "age": [_band(a, b) for a, b in zip(df["age_min"], df["age_max"], strict=True)],
            "interval": [f"{'' if pd.isna(lo) else f'{lo:g}'}–{hi:g} {u}" for lo, hi, u in zip(df["lower_c"], df["upper_c"], df["unit_c"], strict=True)],
            "assay": df["assay"], "default": df["default"].map({True: "yes", False: ""}),
            "source": df["source"].str.extract(r"^(\[[^\]]+\])", expand=False).fillna(df["source"]),
        }
    )
    _print_table(view, max_width=36)
    return 0


def _analysis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--control", help="label of the control arm (default: the arm whose label says control/CON/usual care)")
    p.add_argument("--baseline", help="label of the baseline timepoint (default: the first in time order)")
    p.add_argument("--timepoints", help="comma-separated timepoint order, e.g. 'pre,week 6,post'")
    p.add_argument("--test", choices=["t", "wilcoxon"], default=None, help="paired test within arms (default t: paired t-test on log values)")
    p.add_argument("--adjust", choices=["holm", "bh"], default=None, help="p adjustment across markers (default holm)")
    p.add_argument("--between", choices=["ancova", "welch", "mannwhitney"], default=None, help="arm vs control (default ancova on log values)")
    p.add_argument("--rcv", choices=["lognormal", "lsc"], default=None, help="individual change criterion (default lognormal RCV)")
    p.add_argument("--ranges", action="append", metavar="CSV", help="your lab's reference intervals (repeatable; take precedence)")
    p.add_argument("--biovar", metavar="CSV", help="your own biological variation figures (same columns as the shipped file)")
    p.add_argument("--arm", action="append", metavar="LABEL=TYPE", help="exercise type of an arm (endurance, resistance, impact, flexibility_balance, combined, control)")
    p.add_argument("--population", help="population of all arms (e.g. postmenopausal_women) for the evidence comparison")
    p.add_argument("--condition", help="clinical condition of the trial's subjects (e.g. osteoporosis, type_2_diabetes); "
                   "evidence from patients is used only when it is named")


def _run_analysis(args: argparse.Namespace):
    """(import result, analysis result, study or None) from files or a study TOML."""
    from .analysis import AnalysisOptions, analyze, load_study

    study = None
    if len(args.inputs) == 1 and args.inputs[0].lower().endswith(".toml"):
        study = load_study(args.inputs[0])
        opts = study.options
    else:
        opts = AnalysisOptions()
    imported = _import(args, study)
    # command-line options override the study file
    for name in ("control", "baseline", "test", "adjust", "between", "rcv", "biovar", "population", "condition"):
        v = getattr(args, name, None)
        if v is not None:
            setattr(opts, name, v)
    if args.ranges:
        opts.ranges = list(args.ranges)
    if args.timepoints:
        opts.timepoint_order = [t.strip() for t in args.timepoints.split(",") if t.strip()]
    for item in args.arm or []:
        if "=" not in item:
            from .errors import AnalysisError

            raise AnalysisError(f"--arm {item!r}: expected LABEL=TYPE, e.g. 'Tai Chi=flexibility_balance'")
        k, v = item.split("=", 1)
        opts.arm_types[k.strip()] = v.strip()
    _print_import_summary(imported)
    return imported, analyze(imported.data, opts), study


def _print_analysis_summary(a, file=None) -> None:
    out = file or sys.stdout
    for n in a.notes:
        print(n, file=out)
    if a.cohort.empty:
        return
    # each arm: baseline -> its last timepoint
    rank = a.order.rank()
    c = a.cohort[~a.cohort["marker"].str.contains("/")]
    last = c.assign(_r=c["timepoint_to"].map(rank)).groupby("group")["_r"].transform("max")
    c = c[c["timepoint_to"].map(rank) == last]
    rows = []
    for r in c.itertuples(index=False):
        vs = a.between[(a.between["group"] == r.group) & (a.between["marker"] == r.marker) & (a.between["timepoint_to"] == r.timepoint_to)] if len(a.between) else pd.DataFrame()
        rows.append({
            "arm": r.group, "marker": r.marker, "n": r.n, "from → to": f"{r.timepoint_from} → {r.timepoint_to}",
            "% change (95% CI)": f"{r.gm_pct_change:+.1f} ({r.gm_pct_ci_low:+.1f}, {r.gm_pct_ci_high:+.1f})" if r.n >= 2 else "",
            "p adj": _fmt_p(r.p_adj),
            "vs control % (95% CI)": f"{vs['pct_difference'].iat[0]:+.1f} ({vs['pct_ci_low'].iat[0]:+.1f}, {vs['pct_ci_high'].iat[0]:+.1f})" if len(vs) and pd.notna(vs['pct_difference'].iat[0]) else "",
            "p adj vs control": _fmt_p(vs["p_adj"].iat[0]) if len(vs) else "",
        })
    print("", file=out)
    _print_table(pd.DataFrame(rows), file=out)


def _fmt_p(p) -> str:
    if p is None or pd.isna(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def write_analysis(a, imported, outdir: str | Path, *, inputs: list[str]) -> list[Path]:
    """Write the analysis CSVs and run information into a folder; return the paths."""
    from . import __version__
    from ._resources import sha256_of
    from .io.write import write_csv

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "results.csv": a.results, "balance.csv": a.balance, "changes.csv": a.changes, "cohort.csv": a.cohort,
        "between_groups.csv": a.between, "evidence.csv": a.evidence, "rejected.csv": imported.rejected,
    }
    written = []
    for name, df in files.items():
        write_csv(df, out / name)
        written.append(out / name)
    lines = [f"btm {__version__}", "", "inputs (SHA-256):"]
    for f in imported.files["file"]:
        try:
            lines.append(f"  {f}  {sha256_of(f)}")
        except OSError:
            lines.append(f"  {f}  (not readable)")
    lines += ["", "timepoint order: " + " → ".join(a.order.order), f"baseline: {a.order.baseline}", f"order basis: {a.order.basis}",
              f"control: {a.control or '(none)'}", "", "options:"]
    lines += [f"  {k}: {v}" for k, v in a.options.describe().items()]
    lines += ["", "notes:"] + [f"  {n}" for n in a.notes]
    (out / "run_info.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(out / "run_info.txt")
    return written


def _cmd_analyze(args: argparse.Namespace) -> int:
    imported, a, _ = _run_analysis(args)
    _print_analysis_summary(a)
    written = write_analysis(a, imported, args.output, inputs=args.inputs)
    print(f"wrote {len(written)} files to {args.output}/: " + ", ".join(p.name for p in written), file=sys.stderr)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import datetime as dt

    from .report import write_report

    imported, a, study = _run_analysis(args)
    _print_analysis_summary(a)
    stamp = None
    if args.timestamp:
        try:
            stamp = dt.datetime.fromisoformat(args.timestamp)
        except ValueError:
            from .errors import BTMError

            raise BTMError(f"--timestamp {args.timestamp!r}: expected an ISO date-time such as 2026-01-31T09:00:00") from None
    title = args.title or (study.title if study else None)
    path = write_report(a, imported, args.output, figures_dir=args.figures, timestamp=stamp, title=title)
    print(f"wrote {path}" + (f" and figures in {args.figures}/" if args.figures else ""), file=sys.stderr)
    return 0


def _cmd_init_study(args: argparse.Namespace) -> int:
    from .analysis import study_toml

    out = Path(args.output)
    if out.exists() and not args.force:
        from .errors import BTMError

        raise BTMError(f"{out} exists; use --force to overwrite it")
    imported = _import(args)
    _print_import_summary(imported)
    out.write_text(study_toml(args.inputs, imported.data, base=out.parent), encoding="utf-8")
    print(f"wrote {out}: check the arms, control and baseline, then run 'btm analyze {out} -o results/'", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        v = float(text.replace(",", "."))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    return v


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="btm",
        description=(
            "btm turns lab spreadsheets of bone turnover markers (PINP, CTX-1, BALP, osteocalcin, NTX, "
            "TRAP-5b, PYD/DPD, ALP) into one clean table, interpretations and an Excel report."
        ),
        epilog="Run 'btm COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"btm {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("markers", help="list the marker catalog", description="List the marker catalog.")
    p.add_argument("--format", choices=["table", "csv"], default="table", help="output format (default: table)")
    p.add_argument("--all", action="store_true", help="also show full names and synonyms")
    p.set_defaults(func=_cmd_markers)

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
    p.set_defaults(func=_cmd_convert)

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
    p.set_defaults(func=_cmd_import)

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
    p.set_defaults(func=_cmd_interpret)

    p = sub.add_parser(
        "ranges",
        help="list the shipped reference intervals, or check a file of your own",
        description="List the reference intervals btm ships (with sources), or validate your lab's interval file.",
        epilog="Example: btm ranges --marker PINP   |   btm ranges --check my_lab_intervals.csv",
    )
    p.add_argument("--check", metavar="CSV", help="validate an interval file (same columns as reference_ranges/intervals.csv)")
    p.add_argument("--marker", help="only this marker")
    p.add_argument("--format", choices=["table", "csv"], default="table")
    p.set_defaults(func=_cmd_ranges)

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
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser(
        "report",
        help="the main job: import, interpret, analyse and write one Excel report",
        description=(
            "Import the inputs, interpret every result, analyse the trial and write one workbook: Summary (with "
            "charts), Results, Balance, Changes, Group statistics, Between groups, Evidence, Rejected and Methods. "
            "INPUT is spreadsheets/folders or one study file (.toml). With no options it detects the control arm, "
            "the baseline and the timepoint order, and uses the shipped reference intervals."
        ),
        epilog="Example: btm report sample_data/trial_exercise.xlsx -o report.xlsx --figures figures/",
    )
    _import_args(p)
    _analysis_args(p)
    p.add_argument("-o", "--output", default="report.xlsx", help="workbook to write (default: report.xlsx)")
    p.add_argument("--figures", metavar="DIR", help="also write PNG figures (needs matplotlib: pip install 'btm[figures]') and embed them")
    p.add_argument("--timestamp", metavar="ISO", help="generation time to print (default: now); fixes it for byte-identical reruns")
    p.add_argument("--title", help="report title (default: the study title or 'Bone turnover marker report')")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "init-study",
        help="draft a study file (TOML) from the inputs",
        description="Draft a study file naming the inputs, arms and their exercise types, control, baseline and statistical options.",
        epilog="Example: btm init-study sample_data/trial_exercise.xlsx -o study.toml",
    )
    _import_args(p)
    p.add_argument("-o", "--output", default="study.toml", help="study file to write (default: study.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=_cmd_init_study)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``btm`` command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BTMError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except MemoryError:
        print("error: out of memory; try fewer or smaller files", file=sys.stderr)
        return 1
    except OSError as exc:  # the file system said no (an output folder that is a file, no permission, a full disk)
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line, and how to see more
        if args.debug:
            raise
        text = (str(exc).strip().splitlines() or [""])[0][:300]  # one line, whatever the exception holds
        print(f"error: internal error ({type(exc).__name__}: {text}); rerun with --debug and report it", file=sys.stderr)
        return 1
