"""The ``btm`` command line.

``main(argv)`` returns the exit status: 0 on success, 1 on any :class:`~btm.errors.BTMError`
(one line ``error: ...`` on stderr, no traceback unless ``--debug``), 2 on usage errors.

The parser (every option and help text) is :mod:`btm._parser`; this module holds the commands.
Each command imports what it needs when it runs: ``btm --help``, ``--version`` and usage errors
load neither pandas nor the scientific stack (tests/test_cli.py checks it in a fresh process).
"""

from __future__ import annotations

import argparse
import sys

from . import _parser
from .errors import BTMError

TYPE_CHECKING = False  # (pandas, pathlib and typing are imported by the commands that use them: see the docstring)
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence
    from pathlib import Path

    import pandas as pd

__all__ = ["main"]


def _print_table(df: pd.DataFrame, *, file=None, max_width: int = 48) -> None:
    """Print a DataFrame as an aligned plain-text table (cells cut at ``max_width``)."""
    import pandas as pd

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
    import pandas as pd

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
    progress = progress_printer(getattr(sys.stderr, "stream", sys.stderr))  # (the bar's \r goes to the terminal itself)
    return read_results(inputs, mapping=mapping, dayfirst=dayfirst, decimal=decimal, limits=limits, progress=progress)


def _print_import_summary(result, *, rejected_to: str | None = None, warnings_to: str | None = None, file=None) -> None:
    """Per file: read, loaded, rejected, blank; then the commonest reasons for rejection, and where the
    rejected values and the warnings are listed (only a file or sheet this command writes)."""
    out = file or sys.stderr
    for r in result.files.itertuples():
        if r.status != "ok":
            print(f"error: {r.file}: {r.status.removeprefix('not read: ')} (the other files were read)", file=out)
            continue
        extra = f", {r.ignored} not bone markers" if r.ignored else ""
        print(f"{r.file}: {r.read} results read, {r.loaded} loaded, {r.rejected} rejected, {r.blank} blank{extra}", file=out)
        _print_unused_columns(result, r.file, out)
    skipped = result.problems[(result.problems["severity"] == "notice") & result.problems["reason"].str.startswith("skipped: btm's")]
    if len(skipped):
        print(f"skipped {len(skipped)} file(s) written by btm in the folder(s): " + ", ".join(skipped["source_file"].head(5))
              + (" …" if len(skipped) > 5 else "") + " (give a file by name to read it)", file=out)
    _print_rejections(result, rejected_to, file=out)
    warn = result.problems[result.problems["severity"] == "warning"]
    if len(warn):
        if warnings_to:
            print(f"{len(warn)} warning(s): see {warnings_to}", file=out)
        else:
            top = warn["reason"].astype(str).str.replace(r"'[^']*'", "…", regex=True).value_counts().head(3)
            print(f"{len(warn)} warning(s) (not written to a file by this command; 'btm import' writes them): "
                  + "; ".join(f"{n} × {reason}" for reason, n in top.items()), file=out)


def _print_rejections(result, rejected_to: str | None, *, file, top: int = 3) -> None:
    from .summary import rejected_groups

    n = len(result.rejected)
    if not n:
        return
    where = f", listed in {rejected_to}" if rejected_to else " (not written to a file by this command)"
    print(f"{n} value(s) rejected{where}; most common:", file=file)
    for g in rejected_groups(result.rejected).head(top).itertuples(index=False):
        print(_cut(f"  {g.n} × {g.reason} — column {g.column} of {g.source_file} (e.g. {g.examples})", 240), file=file)


def _print_unused_columns(result, file: str, out) -> None:
    """Name every column of a file that was not read (unknown, derived values, look-alikes), per sheet."""
    from pathlib import Path

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
    from pathlib import Path

    p = Path(path)
    return str(p.with_name(p.stem + suffix))


def _write_mapping_draft(args: argparse.Namespace, out=None) -> None:
    """Draft a mapping for every sheet of the inputs (every column with its guessed role), read or not."""
    from .io.draft import draft_entries
    from .io.mapping import load_mapping, mapping_to_toml
    from .io.readers import Limits

    used = load_mapping(args.mapping) if args.mapping else None
    dayfirst = args.dayfirst if args.dayfirst is not None else (used.dayfirst if used else None)
    decimal = args.decimal or (used.decimal if used else None)
    limits = Limits.scaled(args.max_size) if args.max_size else None
    entries = draft_entries(args.inputs, mapping=used, limits=limits)
    text = mapping_to_toml(entries, dayfirst=dayfirst, decimal=decimal)
    if out is not None:  # staged with the command's other outputs
        out.text(args.write_mapping, text, "mapping file")
        return
    from .io.outputs import OutputSet

    with OutputSet(_guard(args, [args.write_mapping])) as staged:
        staged.text(args.write_mapping, text, "mapping file")
        staged.commit()
    print(f"wrote mapping draft {args.write_mapping}", file=sys.stderr)


def _cmd_import(args: argparse.Namespace) -> int:
    from .errors import StrictModeError
    from .io.load import first_rejection
    from .io.outputs import OutputSet

    rejected_path = _sibling(args.output, ".rejected.csv")
    warnings_path = _sibling(args.output, ".warnings.csv")
    guard = _guard(args, [args.output, rejected_path, warnings_path, args.write_mapping])
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

        raise InputFileError(f"{unread.iloc[0]['file']}: {unread.iloc[0]['status']} (--strict; nothing written)")
    strict_fails = args.strict and len(result.rejected)
    _print_import_summary(result, rejected_to=None if strict_fails else rejected_path, warnings_to=None if strict_fails else warnings_path)
    if strict_fails:
        raise StrictModeError(
            f"{len(result.rejected)} value(s) rejected (--strict); nothing written (rerun without --strict for "
            f"{rejected_path}). First: " + first_rejection(result)
        )
    with OutputSet(guard) as out:
        if args.write_mapping:
            _write_mapping_draft(args, out)
        out.csv(args.output, result.data)
        out.csv(rejected_path, result.rejected)
        out.csv(warnings_path, result.warnings)
        out.commit()
    if args.write_mapping:
        print(f"wrote mapping draft {args.write_mapping}", file=sys.stderr)
    print(f"wrote {args.output} ({len(result.data)} results), {rejected_path} ({len(result.rejected)}), {warnings_path} ({len(result.warnings)})", file=sys.stderr)
    return 0


def _guard(args: argparse.Namespace, outputs: list, study=None):
    """The command's inputs (files, folders, mapping, intervals, study file and its inputs); an
    output among them is refused here, before anything is read."""
    from .io.outputs import InputGuard

    inputs = [*args.inputs, *(x for x in (args.mapping, getattr(args, "biovar", None)) if x), *(getattr(args, "ranges", None) or [])]
    if study is not None:
        inputs += [*study.inputs, *(x for x in (study.mapping, study.options.biovar) if x), *study.options.ranges]
    guard = InputGuard(inputs)
    for o in outputs:
        if o:
            guard.check(o)
    return guard


def _cmd_interpret(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .interpret import interpret
    from .io.outputs import OutputSet

    bal = str(Path(args.output).with_name("balance.csv"))
    rejected = _sibling(args.output, ".rejected.csv")
    guard = _guard(args, [args.output, bal, rejected])
    result = _import(args)
    _print_import_summary(result, rejected_to=rejected)
    it = interpret(result.data, ranges=args.ranges or None)
    with OutputSet(guard) as out:
        out.csv(args.output, it.results)
        out.csv(bal, it.balance)
        out.csv(rejected, result.rejected)
        out.commit()
    counts = it.results["status"].replace("", "no interval").value_counts()
    print("status: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
    print(f"wrote {args.output} ({len(it.results)} results), {bal} ({len(it.balance)} samples)", file=sys.stderr)
    return 0


def _cmd_ranges(args: argparse.Namespace) -> int:
    import pandas as pd

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


#: analysis parameter -> the command-line flag that sets it (the library names parameters, the CLI flags)
_FLAGS = {"timepoint_order": "--timepoints", "arm_types": "--arm"}


def _options_from_args(args: argparse.Namespace, base):
    """The study file's (or the default) options with the command line's changes, validated once."""
    from dataclasses import replace

    from .errors import OptionError

    changes = {name: getattr(args, name) for name in ("control", "baseline", "test", "adjust", "between", "rcv", "biovar", "population", "condition")
               if getattr(args, name, None) is not None}
    if args.ranges:
        changes["ranges"] = list(args.ranges)
    if getattr(args, "keep_implausible", False):
        changes["keep_implausible"] = True
    if args.timepoints:
        changes["timepoint_order"] = [t.strip() for t in args.timepoints.split(",") if t.strip()]
    if args.arm:
        arm_types = dict(base.arm_types)
        for item in args.arm:
            if "=" not in item:
                raise OptionError("--arm", item, reason="expected LABEL=TYPE, e.g. 'Tai Chi=flexibility_balance'")
            k, v = item.split("=", 1)
            arm_types[k.strip()] = v.strip()
        changes["arm_types"] = arm_types
    try:
        return replace(base, **changes)
    except OptionError as exc:  # name the flag, not the parameter
        name = exc.parameter.split("[")[0]
        flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
        value = exc.value
        if name == "arm_types" and exc.parameter != name:  # arm_types['Tai Chi'] -> --arm 'Tai Chi=yoga'
            value = f"{exc.parameter[len(name) + 2:-2]}={exc.value}"
        raise OptionError(flag, value, exc.allowed, exc.reason) from None


def _run_analysis(args: argparse.Namespace, *, rejected_to: str, warnings_to: str):
    """(import result, analysis result, study or None) from files or a study TOML."""
    from ._memory import fix_mmap_threshold
    from .analysis import AnalysisOptions, analyze, load_study
    from .io.load import release_cell_texts

    fix_mmap_threshold()  # freed columns go back to the system, not into heap holes (see btm._memory)
    study = None
    if len(args.inputs) == 1 and args.inputs[0].lower().endswith(".toml"):
        study = load_study(args.inputs[0])
    opts = _options_from_args(args, study.options if study else AnalysisOptions())
    imported = _import(args, study)
    _print_import_summary(imported, rejected_to=rejected_to, warnings_to=warnings_to)
    release_cell_texts(imported)  # the analysis runs in the memory the files' cells held
    return imported, analyze(imported.data, opts), study


def _print_analysis_summary(summary, file=None) -> None:
    """The notes and the headline of a :class:`~btm.summary.Summary` or :class:`~btm.summary.Brief`: every arm, marker and visit."""
    import pandas as pd

    out = file or sys.stdout
    for n in summary.notes:
        print(n, file=out)
    h = summary.headline
    if h.empty:
        return
    ci = lambda e, lo, hi: f"{e:+.1f} ({lo:+.1f}, {hi:+.1f})" if pd.notna(e) and pd.notna(lo) else (f"{e:+.1f}" if pd.notna(e) else "")  # noqa: E731
    rows = pd.DataFrame({
        "arm": h["group"], "marker": h["marker"], "from → to": h["timepoint_from"] + " → " + h["timepoint_to"], "n": h["n"],
        "% change (95% CI)": [ci(*v) if n >= 2 else "" for *v, n in zip(h["gm_pct_change"], h["gm_pct_ci_low"], h["gm_pct_ci_high"], h["n"], strict=True)],
        "p adj": h["p_adj"].map(_fmt_p),
        "vs control % (95% CI)": [ci(*v) for v in zip(h["pct_difference"], h["pct_ci_low"], h["pct_ci_high"], strict=True)],
        "p adj vs control": h["between_p_adj"].map(_fmt_p),
    })
    print("", file=out)
    _print_table(rows, file=out)
    m = summary.mixed_model
    m = m[m["p_adj"].notna()] if len(m) else m
    if len(m):
        print("\narm × time over all visits (linear mixed model), p adj:", file=out)
        for marker, sub in m.groupby("marker", sort=False):
            vs = [cmp if cmp == "all arms" else f"{cmp} vs {summary.control}" for cmp in sub["comparison"]]
            print(f"  {marker}: " + "; ".join(f"{c} {_fmt_p(p)}" for c, p in zip(vs, sub["p_adj"], strict=True)), file=out)


def _fmt_p(p) -> str:
    import pandas as pd

    if p is None or pd.isna(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


ANALYSIS_FILES = ("results.csv", "balance.csv", "changes.csv", "cohort.csv", "between_groups.csv", "evidence.csv", "rejected.csv",
                  "warnings.csv", "run_info.txt")


def write_analysis(a, imported, outdir: str | Path, *, inputs: list[str], outputs=None) -> list[Path]:
    """Write the analysis CSVs and run information into a folder; return the paths.

    The files are staged in ``outputs`` (an :class:`~btm.io.outputs.OutputSet`, committed by the
    caller); without one, they are written together here, each atomically."""
    from pathlib import Path

    from . import __version__
    from ._resources import sha256_of
    from .io.outputs import OutputSet

    out = Path(outdir)
    if out.exists() and not out.is_dir():
        from .errors import BTMError

        raise BTMError(f"output folder {out} is a file, not a folder")
    own = outputs is None
    staged = OutputSet() if own else outputs
    files = {
        "results.csv": a.results, "balance.csv": a.balance, "changes.csv": a.changes, "cohort.csv": a.cohort,
        "between_groups.csv": a.between, "evidence.csv": a.evidence, "rejected.csv": imported.rejected,
        "warnings.csv": imported.warnings,
    }
    written = []
    for name, df in files.items():
        staged.csv(out / name, df)
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
    staged.text(out / "run_info.txt", "\n".join(lines) + "\n")
    written.append(out / "run_info.txt")
    if own:
        with staged:
            staged.commit()
    return written


def _cmd_analyze(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .io.outputs import OutputSet
    from .summary import brief

    out = Path(args.output)
    guard = _guard(args, [out / name for name in ANALYSIS_FILES], _study_of(args))
    imported, a, _ = _run_analysis(args, rejected_to=str(out / "rejected.csv"), warnings_to=str(out / "warnings.csv"))
    _print_analysis_summary(brief(a))
    with OutputSet(guard) as staged:
        written = write_analysis(a, imported, args.output, inputs=args.inputs, outputs=staged)
        staged.commit()
    print(f"wrote {len(written)} files to {args.output}/: " + ", ".join(p.name for p in written), file=sys.stderr)
    return 0


def _study_of(args: argparse.Namespace):
    """The study file named as the only input, or None (read again by the analysis; it is small)."""
    if len(args.inputs) == 1 and args.inputs[0].lower().endswith(".toml"):
        from .analysis import load_study

        return load_study(args.inputs[0])
    return None


def _cmd_report(args: argparse.Namespace) -> int:
    import datetime as dt

    from .io.outputs import OutputSet
    from .report import write_report
    from .summary import summarize

    guard = _guard(args, [args.output], _study_of(args))
    stamp = None
    if args.timestamp:
        try:
            stamp = dt.datetime.fromisoformat(args.timestamp)
        except ValueError:
            raise BTMError(f"--timestamp {args.timestamp!r}: expected an ISO date-time such as 2026-01-31T09:00:00") from None
    imported, a, study = _run_analysis(args, rejected_to=f"the Rejected sheet of {args.output}",
                                       warnings_to=f"the Warnings sheet of {args.output}")
    title = args.title or (study.title if study else None)
    summary = summarize(a, imported, title=title or "", table1_p=args.table1_p)  # computed once: printed and written
    _print_analysis_summary(summary)
    with OutputSet(guard) as out:
        figures = out.folder(args.figures, "figures folder") if args.figures else None
        write_report(a, imported, out.file(args.output, "report"), summary=summary, figures_dir=figures, timestamp=stamp, title=title)
        out.commit()
    print(f"wrote {args.output}" + (f" and figures in {args.figures}/" if args.figures else ""), file=sys.stderr)
    return 0


def _cmd_init_study(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .analysis import study_toml
    from .io.outputs import OutputSet

    out = Path(args.output)
    if out.exists() and not args.force:
        raise BTMError(f"{out} exists; use --force to overwrite it")
    guard = _guard(args, [out])
    imported = _import(args)
    _print_import_summary(imported)  # nothing but the study file is written: the reasons are printed
    with OutputSet(guard) as staged:
        staged.text(out, study_toml(args.inputs, imported.data, base=out.parent), "study file")
        staged.commit()
    print(f"wrote {out}: check the arms, control and baseline, then run 'btm analyze {out} -o results/'", file=sys.stderr)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    try:  # the web stack is imported only when 'serve' runs, so other commands stay fast
        from .web.server import serve
    except ImportError as exc:
        from .errors import BTMError

        raise BTMError(f"btm serve needs {exc.name or 'its web packages'}: reinstall btm (pip install btm)") from None
    return serve(host=args.host, port=args.port, data=args.data, open_browser=not args.no_browser,
                 max_upload_mb=args.max_upload, allow_hosts=args.allow_host)


#: subcommand -> the function that runs it (the parser, :mod:`btm._parser`, only names them)
_COMMANDS = {
    "markers": _cmd_markers, "convert": _cmd_convert, "import": _cmd_import, "interpret": _cmd_interpret,
    "ranges": _cmd_ranges, "analyze": _cmd_analyze, "report": _cmd_report, "init-study": _cmd_init_study,
    "serve": _cmd_serve,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``btm`` argument parser (every command and option; see :mod:`btm._parser`)."""
    return _parser.build_parser()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``btm`` command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.func = _COMMANDS.get(args.command)
    if args.func is None:
        parser.print_help()
        return 2
    from ._console import command_environment

    with command_environment():  # data-born control characters escaped; SIGTERM cleans up like Ctrl-C
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from ._console import Terminated

    try:
        return int(args.func(args) or 0)
    except BTMError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Terminated:
        print("error: terminated (SIGTERM); outputs are written whole or not at all", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; outputs are written whole or not at all", file=sys.stderr)
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
