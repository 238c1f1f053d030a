#!/usr/bin/env python
"""Whole-command benchmark: btm commands timed as users run them, each beside a yardstick process.

Every measurement is a fresh process (``btm ...`` from this interpreter's environment, or a
``python -c`` yardstick), so interpreter start-up, imports, reading, computing and writing are all
counted. The btm command and its yardstick alternate within one run, so a busy machine slows both
alike; the median of the runs is shown, with the peak resident memory of the process (ru_maxrss
from ``os.wait4``).

    python benchmarks/commands_bench.py              # full sizes (several minutes)
    python benchmarks/commands_bench.py --quick      # 1/10 sizes, 2 runs
    python benchmarks/commands_bench.py --only help,import --runs 5
    python benchmarks/commands_bench.py --keep DIR   # keep the generated inputs and outputs

| id | btm command | yardstick (same run) | target |
|---|---|---|---|
| help | ``btm --help`` | ``python -c "import argparse"`` | <= 4x |
| version | ``btm --version`` | ``python -c "import argparse"`` | (as help) |
| usage | ``btm report trial.xlsx --bogus`` (a usage error: exit 2) | ``python -c "import argparse"`` | (as help) |
| import | ``btm import long.xlsx -o tidy.csv`` (200,000 results, LIS layout) | ``pandas.read_excel(engine="calamine")`` | <= 1.3x |
| analyze | ``btm analyze wide.csv -o out/`` (20,000 subjects x 4 visits x 5 markers) | pandas: read the CSV, melt to 400,000 rows, write them | <= 8x |
| report | ``btm report trial.csv -o report.xlsx`` (5,000 subjects x 5 markers x 3 visits) | openpyxl write-only of the same tables' cells (read from ``btm analyze``'s CSVs) | <= 0.4x |
| main | README main job: ``btm report sample_data/trial_exercise.xlsx -o report.xlsx`` | none | <= 2 s |
| figures | the README's figures line: the same with ``--figures figures`` (PNG 300 dpi, SVG, figures.pdf) | none | - |

``--only help`` also runs version and usage (the light commands). Only the inputs the chosen cases
read are generated. Memory targets: analyze under 400 MiB peak, import under 300 MiB.
A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

ARMS = ("Control", "Endurance", "Resistance", "Impact", "Tai Chi")
# header, population geometric mean, log-SD between subjects, decimals
WIDE_MARKERS = (
    ("PINP (µg/L)", 45.0, 0.42, 1),
    ("CTX-1 (ng/L)", 400.0, 0.50, 0),
    ("BALP (µg/L)", 15.0, 0.34, 1),
    ("Osteocalcin (µg/L)", 20.0, 0.40, 1),
    ("TRAP-5b (U/L)", 3.5, 0.28, 2),
)


# ---------------------------------------------------------------------------------------------
# inputs


def make_wide_csv(path: Path, n_subjects: int, visits: list[tuple[str, int]], seed: int) -> int:
    """One row per subject and visit, a column per marker; returns the number of results."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:06d}" for i in range(1, n_subjects + 1)], dtype=object)
    arm = np.array(ARMS, dtype=object)[rng.permutation(n_subjects) % len(ARMS)]
    sex = np.where(rng.random(n_subjects) < 0.7, "F", "M")
    age = rng.integers(50, 76, n_subjects)
    start = dt.date(2026, 1, 5)
    d0 = rng.integers(0, 60, n_subjects)
    levels = [np.log(gm) + sd * rng.standard_normal(n_subjects) for _, gm, sd, _ in WIDE_MARKERS]
    effect = {"Resistance": 0.16, "Impact": 0.12, "Tai Chi": -0.08}
    arm_eff = np.array([effect.get(a, 0.0) for a in arm])
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Subject ID", "Group", "Visit", "Draw date", "Sex", "Age", *[m[0] for m in WIDE_MARKERS]])
        for visit, day in visits:
            frac = day / max(d for _, d in visits)
            vals = [
                np.round(np.exp(lv + arm_eff * frac + 0.12 * rng.standard_normal(n_subjects)), nd)
                for lv, (_, _, _, nd) in zip(levels, WIDE_MARKERS, strict=True)
            ]
            dates = [(start + dt.timedelta(days=int(k) + day)).isoformat() for k in d0]
            for i in range(n_subjects):
                w.writerow([ids[i], arm[i], visit, dates[i], sex[i], age[i], *[v[i] for v in vals]])
            n += n_subjects * len(WIDE_MARKERS)
    return n


def make_inputs(folder: Path, scale: float, wanted: set[str] | None = None) -> dict[str, Path]:
    """The generated inputs (only those the wanted cases read; None: all)."""
    from import_bench import make_long

    files = {
        "long": folder / "long.xlsx",
        "wide": folder / "wide.csv",
        "trial": folder / "trial.csv",
    }
    need = lambda key: wanted is None or key in wanted  # noqa: E731
    t0 = time.perf_counter()
    if need("import"):
        make_long(files["long"], int(200_000 * scale))
    visits4 = [("Baseline", 0), ("Week 6", 42), ("Week 12", 84), ("Week 24", 168)]
    if need("analyze"):
        make_wide_csv(files["wide"], int(20_000 * scale), visits4, seed=11)
    if need("report"):
        make_wide_csv(files["trial"], int(5_000 * scale), visits4[:3], seed=12)
    if any(map(need, ("import", "analyze", "report"))):
        print(f"inputs written in {time.perf_counter() - t0:.1f} s to {folder}")
    return files


# ---------------------------------------------------------------------------------------------
# yardsticks (run as `python -c`)

YARD_IMPORT = """
import sys, pandas as pd
pd.read_excel(sys.argv[1], engine="calamine")
"""

YARD_ANALYZE = """
import sys, pandas as pd
df = pd.read_csv(sys.argv[1])
long = df.melt(id_vars=list(df.columns[:6]), var_name="marker", value_name="value")
long.to_csv(sys.argv[2], index=False)
"""

YARD_REPORT = """
import sys, pathlib, pandas as pd
from openpyxl import Workbook
wb = Workbook(write_only=True)
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.csv")):
    df = pd.read_csv(f, keep_default_na=False, low_memory=False)
    ws = wb.create_sheet(f.stem[:31])
    ws.append([str(c) for c in df.columns])
    for row in df.itertuples(index=False, name=None):
        ws.append(list(row))
wb.save(sys.argv[2])
"""


# ---------------------------------------------------------------------------------------------
# running


@dataclass
class Run:
    seconds: float
    peak_mib: float
    returncode: int


def run(cmd: list[str], cwd: Path, log: Path) -> Run:
    """Wall time and peak resident memory of one fresh process."""
    with open(log, "ab") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(seconds, usage.ru_maxrss / 1024, proc.returncode)


@dataclass
class Case:
    key: str
    label: str
    btm: list[str]
    yard: list[str] | None
    yard_label: str
    target: str
    prepare: list[list[str]] | None = None  # commands run once before (not timed)
    exit_code: int = 0  # what the btm command must exit with (2: a usage error)


def btm_exe() -> str:
    exe = Path(sys.executable).with_name("btm")
    if not exe.exists():
        sys.exit(f"error: no btm command beside {sys.executable}; install btm into this environment first")
    return str(exe)


def cases(files: dict[str, Path], work: Path) -> list[Case]:
    btm, py = btm_exe(), sys.executable
    argparse_only = [py, "-c", "import argparse"]
    sample = str(ROOT / "sample_data" / "trial_exercise.xlsx")
    return [
        Case("help", "btm --help", [btm, "--help"], argparse_only, 'python -c "import argparse"', "<= 4x"),
        Case("version", "btm --version", [btm, "--version"], argparse_only, 'python -c "import argparse"', "<= 4x"),
        Case("usage", "btm report trial.xlsx --bogus", [btm, "report", "trial.xlsx", "--bogus"], argparse_only,
             'python -c "import argparse"', "<= 4x", exit_code=2),
        Case(
            "import", f"btm import {files['long'].name} -o tidy.csv", [btm, "import", str(files["long"]), "-o", str(work / "tidy.csv")],
            [py, "-c", YARD_IMPORT, str(files["long"])], "pandas.read_excel(engine='calamine')", "<= 1.3x",
        ),
        Case(
            "analyze", f"btm analyze {files['wide'].name} -o analyze_out/",
            [btm, "analyze", str(files["wide"]), "-o", str(work / "analyze_out")],
            [py, "-c", YARD_ANALYZE, str(files["wide"]), str(work / "melted.csv")], "pandas read_csv + melt + to_csv", "<= 8x",
        ),
        Case(
            "report", f"btm report {files['trial'].name} -o report.xlsx", [btm, "report", str(files["trial"]), "-o", str(work / "report.xlsx")],
            [py, "-c", YARD_REPORT, str(work / "report_tables"), str(work / "plain.xlsx")], "openpyxl write-only, same tables", "<= 0.4x",
            prepare=[[btm, "analyze", str(files["trial"]), "-o", str(work / "report_tables")]],
        ),
        Case(
            "main", "btm report sample_data/trial_exercise.xlsx -o report.xlsx",
            [btm, "report", sample, "-o", str(work / "main_report.xlsx")], None, "-", "<= 2 s",
        ),
        Case(
            "figures", "btm report sample_data/trial_exercise.xlsx -o report.xlsx --figures figures",
            [btm, "report", sample, "-o", str(work / "figures_report.xlsx"), "--figures", str(work / "main_figures")], None, "-", "-",
        ),
    ]


def _bytecode_note() -> str:
    """Whether btm's modules start from compiled bytecode: a pip install writes it; an editable install
    under PYTHONDONTWRITEBYTECODE=1 compiles every module at every start (~0.15-0.5 s per command)."""
    import importlib.util

    spec = importlib.util.find_spec("btm")
    pkg = Path(spec.origin).parent if spec and spec.origin else None
    cached = pkg is not None and any((pkg / "__pycache__").glob("cli.*.pyc"))
    where = f"btm from {pkg}" if pkg else "btm not found"
    if cached:
        return f"{where}: bytecode compiled (as a pip install leaves it)"
    off = " (PYTHONDONTWRITEBYTECODE is set)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""
    return f"{where}: NO compiled bytecode{off}: every command compiles btm's modules; `python -m compileall btm` first to measure as installed"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1/10 sizes and 2 runs")
    ap.add_argument("--runs", type=int, help="runs of each command (median shown; default 5, 2 with --quick)")
    ap.add_argument("--only", help="comma-separated case ids: help,version,usage,import,analyze,report,main,figures "
                    "(help also runs version and usage)")
    ap.add_argument("--keep", metavar="DIR", help="write inputs and outputs here and keep them")
    args = ap.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    scale = 0.1 if args.quick else 1.0

    print(f"{dt.date.today()} · python {platform.python_version()}, pandas {version('pandas')}, numpy {np.__version__}, "
          f"btm {version('btm')} · {platform.machine()}, {os.cpu_count()} cpus · median of {runs} runs")
    print(_bytecode_note())
    tmp = None
    if args.keep:
        work = Path(args.keep).resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory()
        work = Path(tmp.name)
    try:
        wanted = set(args.only.split(",")) if args.only else None
        if wanted and "help" in wanted:
            wanted |= {"version", "usage"}
        files = make_inputs(work, scale, wanted)
        log = work / "commands.log"
        rows = []
        for case in cases(files, work):
            if wanted and case.key not in wanted:
                continue
            for cmd in case.prepare or []:
                r = run(cmd, work, log)
                if r.returncode:
                    print(f"{case.key}: preparation failed (exit {r.returncode}); see {log}")
            b_runs, y_runs = [], []
            for _ in range(runs):
                b_runs.append(run(case.btm, work, log))
                if case.yard:
                    y_runs.append(run(case.yard, work, log))
            bad = [r.returncode for r in b_runs if r.returncode != case.exit_code] + [r.returncode for r in y_runs if r.returncode]
            b = statistics.median(r.seconds for r in b_runs)
            bm = max(r.peak_mib for r in b_runs)
            y = statistics.median(r.seconds for r in y_runs) if y_runs else None
            ym = max(r.peak_mib for r in y_runs) if y_runs else None
            rows.append((case, b, bm, y, ym, bad))
            ratio = f"{b / y:.2f}x" if y else "-"
            print(f"  {case.key:<8} btm {b:7.2f} s {bm:7.0f} MiB | yardstick {'-' if y is None else f'{y:6.2f} s'}"
                  f" {'' if ym is None else f'{ym:5.0f} MiB'} | ratio {ratio} (target {case.target})"
                  + (f"  EXIT CODES {bad}" if bad else ""), flush=True)
        print()
        print("| command | btm | peak MiB | yardstick | yardstick time | ratio | target |")
        print("|---|---|---|---|---|---|---|")
        for case, b, bm, y, _ym, _bad in rows:
            ratio = f"{b / y:.2f}×" if y else "—"
            print(f"| `{case.label}` | {b:.2f} s | {bm:.0f} | {case.yard_label} | {'—' if y is None else f'{y:.2f} s'} | {ratio} | {case.target} |")
        return 1 if any(bad for *_, bad in rows) else 0
    finally:
        if tmp is not None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
