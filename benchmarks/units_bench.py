"""Unit conversion: the vectorised path (one pint factor per distinct unit string) vs naive pint.

    python benchmarks/units_bench.py            # 1,000,000 values, naive sample of 5,000
    python benchmarks/units_bench.py --quick    # 100,000 values, naive sample of 1,000

Prints wall time, cost per value and peak memory (tracemalloc) of each path, and their ratio.
The issue asks the vectorised path to be at least 50x cheaper per value. This is a script that
prints figures, not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import tracemalloc
from importlib.metadata import version

import numpy as np

from btm.units import parse_unit, registry, to_canonical

# 12 spellings of CTX-1 units seen in lab exports
SPELLINGS = ["ng/mL", "ng/ml", "pg/mL", "pg/ml", "ng/L", "ng/l", "µg/L", "μg/L", "ug/L", "mcg/L", "NG/ML", "[pg/mL]"]
MARKER = "CTX1"
TARGET = "ng/L"
REQUIRED_RATIO = 50.0


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        model = ""
    return f"{model or platform.processor() or 'cpu ?'}, {os.cpu_count()} cpus"


def _measure(fn):
    """(seconds, peak bytes, result) of one call; tracemalloc on for the peak only."""
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak, out


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller run (100,000 values, naive sample 1,000)")
    ap.add_argument("-n", type=int, help="number of values (default 1,000,000; --quick 100,000)")
    ap.add_argument("--sample", type=int, help="naive pint sample size (default 5,000; --quick 1,000)")
    args = ap.parse_args(argv)
    n = args.n or (100_000 if args.quick else 1_000_000)
    sample = args.sample or (1_000 if args.quick else 5_000)

    rng = np.random.default_rng(20261126)
    values = rng.lognormal(np.log(0.4), 0.5, n)
    units = np.array(SPELLINGS, dtype=object)[rng.integers(0, len(SPELLINGS), n)]

    print(f"python {platform.python_version()} ({platform.python_implementation()}), numpy {np.__version__}, "
          f"pint {version('pint')}, pandas {version('pandas')}")
    print(f"machine: {platform.machine()}, {platform.system()} {platform.release()}, {_cpu()}")
    print(f"{n:,} {MARKER} values in {len(SPELLINGS)} unit spellings: {', '.join(SPELLINGS)}")
    print()

    # warm the registry and caches once, as an import does before the first file
    registry()
    to_canonical(values[:10], units[:10], marker=MARKER)

    vec_s = _time(lambda: to_canonical(values, units, marker=MARKER))
    _, vec_peak, result = _measure(lambda: to_canonical(values, units, marker=MARKER))
    assert (result.unit == TARGET).all() and result.ok.all()

    ureg = registry()
    idx = rng.choice(n, size=min(sample, n), replace=False)

    def naive():
        return [ureg.Quantity(float(values[i]), parse_unit(str(units[i])).expression).to(TARGET).magnitude for i in idx]

    naive_s = _time(naive, repeat=1)
    _, naive_peak, naive_out = _measure(naive)
    # same numbers both ways (the vectorised factors drop float noise beyond 12 digits)
    assert np.allclose(naive_out, result.value[idx], rtol=1e-9)

    vec_per = vec_s / n
    naive_per = naive_s / len(idx)
    ratio = naive_per / vec_per
    print(f"{'path':<34}{'values':>11}{'time':>11}{'per value':>14}{'peak memory':>14}")
    print(f"{'vectorised to_canonical':<34}{n:>11,}{vec_s:>10.3f}s{vec_per * 1e9:>11.1f} ns{vec_peak / 1024**2:>11.1f} MB")
    print(f"{'naive pint Quantity per value':<34}{len(idx):>11,}{naive_s:>10.3f}s{naive_per * 1e9:>11.1f} ns{naive_peak / 1024**2:>11.1f} MB")
    print(f"{'naive, extrapolated to all':<34}{n:>11,}{naive_per * n:>10.1f}s")
    print()
    verdict = "meets" if ratio >= REQUIRED_RATIO else "DOES NOT meet"
    print(f"vectorised is {ratio:,.0f}x faster per value ({verdict} the >= {REQUIRED_RATIO:g}x requirement)")
    print()
    _startup()
    return 0 if ratio >= REQUIRED_RATIO else 1


_FIRST_USE = """
import sys, time
t0 = time.perf_counter()
import btm.units as u
t1 = time.perf_counter()
u._PINT_ONLY = sys.argv[1] == "pint"
r = u.to_canonical([1.0, 2.0], ["ng/mL", "µkat/L" if sys.argv[2] == "BALP" else "pg/mL"], marker=sys.argv[2])
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {'pint' in sys.modules}")
"""


def _startup(runs: int = 3) -> None:
    """Start-up as a command pays it: a fresh process importing btm.units and converting its first
    values, with the exact algebra (pint never imported) and with pint's registry built (as before)."""
    import statistics
    import subprocess

    print("first conversion in a fresh process (median of 3): import btm.units | first to_canonical | pint imported")
    for how in ("algebra", "pint"):
        rows = [subprocess.run([sys.executable, "-c", _FIRST_USE, how, "PINP"], capture_output=True, text=True, check=True).stdout.split()
                for _ in range(runs)]
        imp = statistics.median(float(r[0]) for r in rows)
        first = statistics.median(float(r[1]) for r in rows)
        print(f"  {how:<8} {imp:6.3f} s | {first:6.3f} s | {rows[0][2]}")


if __name__ == "__main__":
    sys.exit(main())
