"""Shared helpers of the btm serve tests: apps, clients, and spreadsheets made for them."""

from __future__ import annotations

import http.client
import os
import random
import re
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

TOKEN = "test-token-0123456789abcdefghijklmnopqrstuv"
BASE = "http://127.0.0.1:8765"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[1]
TRIAL = ROOT / "sample_data" / "trial_exercise.xlsx"
HANDTYPED = ROOT / "sample_data" / "handtyped_lab_sheet.xlsx"


def test_client(app, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # older Starlette: "use httpx2"
        from starlette.testclient import TestClient
    return TestClient(app, base_url=kw.pop("base_url", BASE), **kw)


test_client.__test__ = False  # not a test


def make_app(data_dir, **kw):
    from btm.web.app import create_app

    kw.setdefault("workers", 1)
    return create_app(data_dir, token=TOKEN, **kw)


UNKNOWN_HEADER = "In-house assay 7 (µg/L)"


def trial_with_unknown_column(path: Path, *, seed: int = 7, subjects: int = 12) -> Path:
    """A small two-arm, two-visit trial whose PINP column has a header btm cannot recognise."""
    from openpyxl import Workbook

    rng = random.Random(seed)
    wb = Workbook()
    ws = wb.active
    ws.title = "Results"
    ws.append(["Subject", "Arm", "Visit", "CTX-1 (ng/L)", UNKNOWN_HEADER])
    for i in range(1, subjects + 1):
        arm = "Control" if i % 2 else "Resistance"
        base_ctx, base_pinp = rng.uniform(250, 500), rng.uniform(35, 70)
        for visit, f in (("Baseline", 1.0), ("Week 12", 1.25 if arm == "Resistance" else 1.0)):
            ws.append([f"S{i:03d}", arm, visit, round(base_ctx * rng.uniform(0.9, 1.1), 1), round(base_pinp * f * rng.uniform(0.93, 1.07), 1)])
    ws.append(["S099", "Control", "Baseline", "haemolysed", 41.0])  # one value to reject, cell D26
    wb.save(path)
    return path


XSS = "<script>alert('x')</script>"


def xss_csv(path: Path) -> Path:
    """A CSV whose ids, comments, a header and a rejected value carry markup."""
    rows = ["Subject ID,Visit,PINP (µg/L),Comment,<img src=x onerror=alert(1)>"]
    for i, visit in enumerate(["pre", "post", "pre", "post"]):
        sid = XSS if i < 2 else "S2"
        rows.append(f'"{sid}",{visit},{40 + i},"<b onmouseover=alert(2)>note</b>",x')
    rows.append(f'S3,pre,"{XSS}",,')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def multipart(fields: dict[str, str], files: list[tuple[str, bytes, bytes]], boundary: str = "btmtestboundary7") -> tuple[bytes, str]:
    """A multipart/form-data body with file names given as raw bytes (NUL, '../', very long, …)."""
    out = bytearray()
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    for field, filename, content in files:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="'.encode() + filename + b'"\r\n'
        out += b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


URL_LINE = re.compile(r"^http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{40,})$")


class Server:
    """``btm serve --port 0`` in a subprocess; stopped by its pid."""

    def __init__(self, data: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "btm", "serve", "--port", "0", "--no-browser", "--data", str(data), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        line = _readline(self.proc.stdout, timeout=60)
        m = URL_LINE.match(line.strip())
        assert m, f"first line is not the address with its token: {line!r}; stderr: {self._stderr()}"
        self.url, self.port, self.token = line.strip(), int(m.group(1)), m.group(2)

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read()

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 300):
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = {"Authorization": f"Bearer {self.token}", **(headers or {})}
            con.request(method, path, body=body, headers=h)
            r = con.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            con.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


def _readline(stream, timeout: float) -> str:
    out: list[str] = []
    t = threading.Thread(target=lambda: out.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return out[0] if out else ""
