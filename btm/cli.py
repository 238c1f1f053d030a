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
                    "LOINC": m.loinc.get(meas.specimen, ""),
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
        target = resolve_unit(args.unit, marker=marker.id, specimen=args.specimen)
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


def _import(args: argparse.Namespace):
    from .io import read_results
    from .io.load import progress_printer
    from .io.mapping import load_mapping
    from .io.readers import Limits

    mapping = load_mapping(args.mapping) if args.mapping else None
    limits = Limits.scaled(args.max_size) if args.max_size else None
    return read_results(
        args.inputs, mapping=mapping, dayfirst=args.dayfirst, decimal=args.decimal,
        limits=limits, progress=progress_printer(),
    )


def _print_import_summary(result, *, file=None) -> None:
    out = file or sys.stderr
    for r in result.files.itertuples():
        if r.status != "ok":
            print(f"{r.file}: {r.status}", file=out)
            continue
        extra = f", {r.ignored} not bone markers" if r.ignored else ""
        print(f"{r.file}: {r.read} results read, {r.loaded} loaded, {r.rejected} rejected, {r.blank} blank{extra}", file=out)
    warn = result.problems[result.problems["severity"] == "warning"]
    if len(warn):
        print(f"{len(warn)} warning(s): check the warnings file", file=out)


def _sibling(path: str, suffix: str) -> str:
    p = Path(path)
    return str(p.with_name(p.stem + suffix))


def _cmd_import(args: argparse.Namespace) -> int:
    from .errors import StrictModeError
    from .io.mapping import mapping_to_toml
    from .io.write import write_csv

    result = _import(args)
    _print_import_summary(result)
    unread = result.files[result.files["status"] != "ok"]
    if args.strict and len(unread):
        from .errors import InputFileError

        raise InputFileError(f"{unread.iloc[0]['file']}: {unread.iloc[0]['status']} (--strict)")
    if args.write_mapping:
        Path(args.write_mapping).write_text(mapping_to_toml(result.layouts, dayfirst=args.dayfirst, decimal=args.decimal), encoding="utf-8")
        print(f"wrote mapping draft {args.write_mapping}", file=sys.stderr)
    rejected_path = _sibling(args.output, ".rejected.csv")
    warnings_path = _sibling(args.output, ".warnings.csv")
    write_csv(result.rejected, rejected_path)
    if args.strict and len(result.rejected):
        raise StrictModeError(
            f"{len(result.rejected)} value(s) rejected (--strict); see {rejected_path}. First: "
            + _first_rejection_text(result)
        )
    write_csv(result.data, args.output)
    write_csv(result.warnings, warnings_path)
    print(f"wrote {args.output} ({len(result.data)} results), {rejected_path} ({len(result.rejected)}), {warnings_path} ({len(result.warnings)})", file=sys.stderr)
    return 0


def _first_rejection_text(result) -> str:
    r = result.rejected.iloc[0]
    sheet = f", sheet {r.source_sheet!r}" if r.source_sheet else ""
    return f"{r.source_file}{sheet}, row {r.source_row}, column {r.column}: {r.reason} (raw {r.raw_value!r})"


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
    except Exception as exc:  # a bug: still one line, and how to see more
        if args.debug:
            raise
        print(f"error: internal error ({type(exc).__name__}: {exc}); rerun with --debug and report it", file=sys.stderr)
        return 1
