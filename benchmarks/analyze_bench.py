"""Benchmark of ``btm.analysis.analyze``: time and peak memory at 1/4, 1/2 and full size.

Full size: 20,000 subjects x 5 markers x 4 timepoints x 5 arms (400,000 results), as the
issue asks; the printed ratios show whether cost grows about linearly with size.

    python benchmarks/analyze_bench.py            # full run (about a minute)
    python benchmarks/analyze_bench.py --quick    # 1/10 of every size
    python benchmarks/analyze_bench.py --input wide.csv   # the compute of `btm analyze FILE` (read excluded)

``--input`` reads the file once (not timed), then times what ``btm analyze`` computes between
"results table loaded" and "result tables ready to write": :func:`analyze` and :func:`summarize`.
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
import tracemalloc

import numpy as np
import pandas as pd

from btm.analysis import analyze

MARKERS = {"PINP": ("µg/L", 45.0, 0.42), "CTX1": ("ng/L", 400.0, 0.5), "BALP": ("µg/L", 15.0, 0.34), "OCN": ("µg/L", 20.0, 0.4), "TRAP5B": ("U/L", 3.5, 0.28)}
ARMS = ["Control", "Endurance", "Resistance", "Impact", "Tai Chi"]
TIMEPOINTS = ["Baseline", "Week 6", "Week 12", "Week 24"]


def make_trial(n_subjects: int, seed: int = 1) -> pd.DataFrame:
    """A tidy table like ``read_results(...).data`` for a synthetic trial."""
    rng = np.random.default_rng(seed)
    sid = np.array([f"S{i:06d}" for i in range(n_subjects)], dtype=object)
    arm = np.array(ARMS, dtype=object)[np.arange(n_subjects) % len(ARMS)]
    sex = np.where(rng.random(n_subjects) < 0.7, "F", "M").astype(object)
    age = rng.integers(50, 76, n_subjects).astype(float)
    meno = np.where(sex == "F", "post", "").astype(object)
    frames = []
    for m, (unit, gm, sd) in MARKERS.items():
        level = np.log(gm) + rng.normal(0, sd, n_subjects)
        for k, tp in enumerate(TIMEPOINTS):
            effect = 0.05 * k * (arm == "Resistance")
            v = np.exp(level + effect + rng.normal(0, 0.12, n_subjects))
            frames.append(pd.DataFrame({
                "subject_id": sid, "timepoint": tp, "marker": m, "specimen": "serum", "value": np.round(v, 2), "unit": unit,
                "censored": "", "group": arm, "sex": sex, "age": age, "menopausal_status": meno, "variant": "", "kind": "mass" if unit != "U/L" else "activity",
                "flags": "", "fasting": "yes", "sample_time": "08:00", "egfr": 90.0,
            }))
    df = pd.concat(frames, ignore_index=True)
    df["sample_date"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(df["timepoint"].map({t: 42 * i for i, t in enumerate(TIMEPOINTS)}), unit="D")
    return df


def measure(n_subjects: int) -> tuple[float, float, int]:
    data = make_trial(n_subjects)
    gc.collect()
    t0 = time.perf_counter()
    analyze(data)
    seconds = time.perf_counter() - t0
    gc.collect()
    tracemalloc.start()
    analyze(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 1024**2, len(data)


def measure_file(path: str) -> None:
    """In-process time and peak RSS of the compute of ``btm analyze PATH`` (analysis and summary)."""
    import resource

    from btm.io import read_results
    from btm.summary import summarize

    imported = read_results([path])
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    a = analyze(imported.data)
    t1 = time.perf_counter()
    summarize(a, imported)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{path}: {len(imported.data):,} results; analyze {t1 - t0:.2f} s, summarize {t2 - t1:.2f} s, "
          f"total {t2 - t0:.2f} s; peak RSS {peak:.0f} MiB (after reading: {rss0:.0f} MiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1/10 of every size")
    ap.add_argument("--input", metavar="FILE", help="time the compute of `btm analyze FILE` instead of the synthetic sizes")
    args = ap.parse_args()
    if args.input:
        measure_file(args.input)
        return
    full = 2_000 if args.quick else 20_000
    analyze(make_trial(50))  # warm-up: unit registry and reference tables are built once per process
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, {platform.machine()}")
    print(f"{'subjects':>9} {'results':>9} {'time s':>8} {'peak MiB':>9} {'µs/result':>10} {'time ratio vs 1/4':>18}")
    base = None
    for frac in (0.25, 0.5, 1.0):
        n = int(full * frac)
        secs, peak, rows = measure(n)
        base = base or secs
        print(f"{n:>9,} {rows:>9,} {secs:>8.2f} {peak:>9.0f} {secs / rows * 1e6:>10.1f} {secs / base:>18.2f}")
    print("linear growth gives time ratios of about 1, 2 and 4")


if __name__ == "__main__":
    main()
