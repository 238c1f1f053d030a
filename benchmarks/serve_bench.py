"""btm serve: time from upload to report for the sample trial, beside the command line in the same run.

    python benchmarks/serve_bench.py            # 5 uploads
    python benchmarks/serve_bench.py --runs 10

It starts ``btm serve --port 0`` (127.0.0.1, a free port) in a subprocess, waits for its first
line (the address with the token), then for each run:

* ``POST /api/studies`` with ``sample_data/trial_exercise.xlsx`` (import, counts, commit), and
* ``GET /api/studies/{id}/report.xlsx`` (analysis and the Excel report, built on request),

and prints the upload-to-report time (first run: workers just started; then the median of the
rest), beside two baselines measured in the same run: the whole command ``btm report FILE -o
report.xlsx`` as a user runs it (Python start-up and imports included), and the library calls
``read_results`` → ``analyze`` → ``write_report`` in one warm process (what a worker does). The
server is stopped by its own process id. A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIAL = ROOT / "sample_data" / "trial_exercise.xlsx"
TARGET_S = 3.0


def _multipart(path: Path) -> tuple[bytes, str]:
    b = "btmbench"
    body = (
        f'--{b}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + path.read_bytes() + f"\r\n--{b}--\r\n".encode()
    return body, f"multipart/form-data; boundary={b}"


def _request(port: int, token: str, method: str, path: str, body: bytes | None = None, ctype: str | None = None):
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Bearer {token}"}
    if ctype:
        headers["Content-Type"] = ctype
    con.request(method, path, body=body, headers=headers)
    r = con.getresponse()
    data = r.read()
    con.close()
    return r.status, data


def _start(data: Path) -> tuple[subprocess.Popen, int, str]:
    proc = subprocess.Popen([sys.executable, "-m", "btm", "serve", "--port", "0", "--no-browser", "--data", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line: list[str] = []
    t = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(120)
    if not line or "?token=" not in line[0]:
        proc.kill()
        raise SystemExit(f"btm serve did not print its address: {line!r}")
    url = line[0].strip()
    port = int(url.split(":")[2].split("/")[0])
    return proc, port, url.split("token=")[1]


def upload_to_report(port: int, token: str) -> tuple[float, float, float]:
    body, ctype = _multipart(TRIAL)
    t0 = time.perf_counter()
    status, data = _request(port, token, "POST", "/api/studies", body, ctype)
    t1 = time.perf_counter()
    if status != 201:
        raise SystemExit(f"upload failed: {status} {data[:300]!r}")
    sid = json.loads(data)["id"]
    status, report = _request(port, token, "GET", f"/api/studies/{sid}/report.xlsx")
    t2 = time.perf_counter()
    if status != 200 or report[:2] != b"PK":
        raise SystemExit(f"report failed: {status} {report[:300]!r}")
    return t2 - t0, t1 - t0, t2 - t1


def cli_baseline(tmp: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "btm", "report", str(TRIAL), "-o", str(tmp / "cli_report.xlsx")],
                   check=True, capture_output=True)
    return time.perf_counter() - t0


def library_baseline(tmp: Path, runs: int) -> float:
    code = (
        "import time, sys\n"
        "from btm.io import read_results\nfrom btm.analysis import analyze\nfrom btm.report import write_report\n"
        "best = []\n"
        f"for k in range({runs} + 1):\n"
        "    t0 = time.perf_counter()\n"
        f"    r = read_results({str(TRIAL)!r}); a = analyze(r.data); write_report(a, r, {str(tmp / 'lib.xlsx')!r})\n"
        "    best.append(time.perf_counter() - t0)\n"
        "import statistics; print(statistics.median(best[1:]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="uploads to time (default 5)")
    args = ap.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, file {TRIAL.name} ({TRIAL.stat().st_size / 1024:.0f} KB)")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        t_start = time.perf_counter()
        proc, port, token = _start(tmp / "workspace")
        started = time.perf_counter() - t_start
        try:
            rows = [upload_to_report(port, token) for _ in range(max(2, args.runs))]
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        cli = statistics.median(cli_baseline(tmp) for _ in range(3))
        lib = library_baseline(tmp, 3)
    first, rest = rows[0], rows[1:]
    med = statistics.median(r[0] for r in rest)
    up = statistics.median(r[1] for r in rest)
    rep = statistics.median(r[2] for r in rest)
    print(f"btm serve start (address printed):                 {started:6.2f} s")
    print(f"upload -> report, first after start:               {first[0]:6.2f} s  (upload {first[1]:.2f} s + report {first[2]:.2f} s)")
    print(f"upload -> report, median of {len(rest)}:                    {med:6.2f} s  (upload {up:.2f} s + report {rep:.2f} s)"
          f"  target < {TARGET_S:g} s: {'met' if med < TARGET_S else 'NOT met'}")
    print(f"baseline: 'btm report FILE' whole command, median of 3: {cli:6.2f} s  -> serve is {cli / med:.2f}x faster")
    print(f"baseline: read_results+analyze+write_report, warm:  {lib:6.2f} s  -> serve overhead {med - lib:+.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
