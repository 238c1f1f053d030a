#!/usr/bin/env python
"""Benchmark of the Excel report on a large synthetic trial.

A tidy table like ``read_results(...).data`` is synthesised directly (default 5,000 subjects x
5 markers x 3 timepoints in 5 arms, one of them Control: 75,000 results), analysed with
:func:`btm.analysis.analyze`, and then:

* ``write_report`` (XlsxWriter, normal mode, every format, chart and glossary; table columns written
  whole by :mod:`btm.report._sheetdata`) is timed, and its peak Python heap measured with
  ``tracemalloc`` in a second run;
* as a floor, openpyxl in ``write_only`` mode writes the same tables (every sheet's table, values
  only, no formats) and is measured the same way.

Usage::

    python benchmarks/report_bench.py            # 5,000 subjects
    python benchmarks/report_bench.py --quick    # 500 subjects
    python benchmarks/report_bench.py --subjects 2000 --no-memory

Timings exclude the analysis (printed separately). ``tracemalloc`` slows Python code down, so
time and memory come from separate runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from btm.analysis import analyze
from btm.evidence import recommendations
from btm.io.load import PROBLEM_COLUMNS, TIDY_COLUMNS, ImportResult
from btm.report import write_report

ARMS = ("Control", "Endurance", "Resistance", "Impact", "Tai Chi")
VISITS = (("Baseline", 0), ("Week 6", 42), ("Week 12", 84))
# marker: (canonical unit, population geometric mean, between-subject log-SD, within-subject log-SD)
MARKERS = {
    "PINP": ("µg/L", 45.0, 0.40, 0.14),
    "CTX1": ("ng/L", 400.0, 0.50, 0.20),
    "BALP": ("µg/L", 15.0, 0.34, 0.09),
    "OCN": ("µg/L", 20.0, 0.40, 0.10),
    "TRAP5B": ("U/L", 3.5, 0.28, 0.10),
}
EFFECT = {"Resistance": {"PINP": 1.18, "OCN": 1.2}, "Impact": {"PINP": 1.15, "BALP": 1.08}, "Tai Chi": {"TRAP5B": 0.92}}


def synthesise(n_subjects: int, seed: int = 20261126) -> pd.DataFrame:
    """A tidy results table (the columns of ``read_results().data``) of a five-arm trial."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:05d}" for i in range(1, n_subjects + 1)], dtype=object)
    arm = np.array(ARMS, dtype=object)[rng.permutation(n_subjects) % len(ARMS)]
    sex = np.where(rng.random(n_subjects) < 0.7, "F", "M").astype(object)
    age = rng.integers(50, 76, n_subjects).astype(float)
    meno = np.where(sex == "F", "post", "").astype(object)
    start = dt.date(2026, 1, 5)
    d0 = np.array([start + dt.timedelta(days=int(k)) for k in rng.integers(0, 60, n_subjects)], dtype=object)
    frames = []
    for marker, (unit, gm, sd_b, sd_w) in MARKERS.items():
        level = np.log(gm) + sd_b * rng.standard_normal(n_subjects)
        for visit, day in VISITS:
            eff = np.array([math.log(EFFECT.get(a, {}).get(marker, 1.0)) * day / 84 for a in arm])
            value = np.round(np.exp(level + eff + sd_w * rng.standard_normal(n_subjects)), 2)
            frames.append(
                pd.DataFrame(
                    {
                        "subject_id": ids,
                        "timepoint": visit,
                        "sample_date": pd.to_datetime([d + dt.timedelta(days=day) for d in d0]),
                        "marker": marker,
                        "specimen": "serum",
                        "value": value,
                        "unit": unit,
                        "censored": "",
                        "raw_value": [f"{v:g}" for v in value],
                        "raw_unit": unit,
                        "source_file": "synthetic_trial.xlsx",
                        "source_sheet": "Data",
                        "source_column": f"{marker} ({unit})",
                        "sex": sex,
                        "age": age,
                        "group": arm,
                        "menopausal_status": meno,
                        "fasting": "yes",
                        "sample_time": "08:00",
                        "egfr": 90.0,
                        "variant": "",
                        "kind": "activity" if unit == "U/L" else "mass",
                        "flags": "",
                    }
                )
            )
    data = pd.concat(frames, ignore_index=True)
    data["source_row"] = pd.array(np.arange(len(data)) % (n_subjects * 3) + 2, dtype="Int64")
    return data[TIDY_COLUMNS]


def imported_for(data: pd.DataFrame) -> ImportResult:
    files = pd.DataFrame(
        [
            {
                "file": "synthetic_trial.xlsx",
                "sheets": 1,
                "read": len(data),
                "loaded": len(data),
                "rejected": 0,
                "blank": 0,
                "ignored": 0,
                "status": "ok",
            }
        ]
    )
    return ImportResult(data=data, problems=pd.DataFrame(columns=PROBLEM_COLUMNS), files=files)


def openpyxl_write_only(a: Any, imported: ImportResult, path: Path) -> Path:
    """The same tables with openpyxl's write-only mode: values only, no formats, charts or glossary."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    tables = {
        "Results": a.results,
        "Balance": a.balance,
        "Changes": a.changes,
        "Group statistics": a.cohort,
        "Between groups": a.between,
        "Evidence": a.evidence,
        "Recommendations": recommendations(),
        "Rejected": imported.rejected,
        "Warnings": imported.warnings,
    }
    for name, df in tables.items():
        ws = wb.create_sheet(name)
        ws.append([str(c) for c in df.columns])
        cols = []
        for c in df.columns:
            s = df[c]
            if pd.api.types.is_datetime64_any_dtype(s):
                cols.append([None if pd.isna(v) else v.to_pydatetime() for v in s])
            elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                arr = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                cols.append([float(v) if math.isfinite(v) else None for v in arr])
            else:
                cols.append(
                    [
                        None if (v is None or (isinstance(v, float) and math.isnan(v)) or v == "") else str(v)
                        for v in s.tolist()
                    ]
                )
        for row in zip(*cols, strict=True):
            ws.append(list(row))
    wb.save(path)
    return path


def measure(fn: Callable[[], Path], *, memory: bool) -> tuple[float, float | None, int]:
    """(seconds, peak MiB or None, file size) of one call; memory from a second, traced call."""
    t0 = time.perf_counter()
    path = fn()
    seconds = time.perf_counter() - t0
    size = path.stat().st_size
    peak = None
    if memory:
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return seconds, peak, size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="500 subjects instead of 5,000")
    ap.add_argument("--subjects", type=int, help="number of subjects (overrides --quick)")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs (halves the run time)")
    args = ap.parse_args(argv)
    n = args.subjects or (500 if args.quick else 5000)

    t0 = time.perf_counter()
    data = synthesise(n)
    imported = imported_for(data)
    t1 = time.perf_counter()
    a = analyze(data)
    t2 = time.perf_counter()
    print(
        f"synthetic trial: {n:,} subjects x {len(MARKERS)} markers x {len(VISITS)} timepoints, {len(ARMS)} arms "
        f"= {len(data):,} results (made in {t1 - t0:.1f} s; analyze {t2 - t1:.1f} s)"
    )
    cells = sum(df.shape[0] * df.shape[1] for df in (a.results, a.balance, a.changes, a.cohort, a.between, a.evidence))
    print(
        f"tables: results {len(a.results):,}, balance {len(a.balance):,}, changes {len(a.changes):,}, "
        f"group statistics {len(a.cohort)}, between groups {len(a.between)}, evidence {len(a.evidence)} rows (~{cells:,} cells)"
    )
    stamp = dt.datetime(2026, 1, 31, 9, 0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rep = measure(lambda: write_report(a, imported, d / "report.xlsx", timestamp=stamp), memory=not args.no_memory)
        opx = measure(lambda: openpyxl_write_only(a, imported, d / "plain.xlsx"), memory=not args.no_memory)
    print()
    print(f"{'writer':<52} {'time (s)':>9} {'peak heap (MiB)':>16} {'file (MiB)':>11}")
    for label, (sec, peak, size) in (
        ("btm write_report (XlsxWriter, formatted, charts)", rep),
        ("openpyxl write_only (same tables, values only)", opx),
    ):
        print(f"{label:<52} {sec:>9.2f} {'-' if peak is None else f'{peak:.0f}':>16} {size / 2**20:>11.1f}")
    ratio_t = rep[0] / opx[0]
    line = f"ratio write_report / openpyxl write_only: time {ratio_t:.2f}x"
    if rep[1] is not None and opx[1] is not None:
        line += f", peak heap {rep[1] / opx[1]:.1f}x"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
